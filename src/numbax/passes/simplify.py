"""Algebraic simplification and scalar constant folding.

Only rewrites that are exact in IEEE arithmetic (NaN, inf and the sign of zero included):
`x * 1`, `1 * x`, `x / 1`, `x - 0`, integer `x + 0`, `integer_pow[y=1]`, `neg (neg x)`, a
conversion to the dtype x already has (it only drops weak typing) are x; `x * -1` is `neg x`;
`a + neg b` is `a - b` and `a - neg b` is `a + b` (IEEE defines a - b as a + (-b)); a
dot_general with a scalar operand is a mul; an
elementwise equation on scalar literals is folded into a literal. Commutative operands are put in
a canonical order so that CSE sees `a * b` and `b * a` as the same expression.
"""
from __future__ import annotations

import numpy as np

from ..jaxpr import Jaxpr, JaxprEqn, Literal
from ..primitives.elementwise import add_p, mul_p, neg_p, sub_p

_COMMUTATIVE = frozenset(["add", "mul", "max", "min", "eq", "ne", "and", "or", "xor"])
_FOLDABLE = frozenset(["add", "sub", "mul", "div", "neg", "max", "min", "integer_pow", "pow",
                       "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "logistic", "abs",
                       "sign", "log1p", "expm1", "convert_element_type", "eq", "ne", "lt", "le",
                       "gt", "ge", "select_n"])


def _is_lit(v, value) -> bool:
    return type(v) is Literal and np.asarray(v.val).item() == value and \
        not (value == 0 and np.signbit(np.asarray(v.val, np.float64)))


def _identity_operand(eqn: JaxprEqn):
    """The operand an equation reduces to, or None."""
    name, ins, out = eqn.primitive.name, eqn.invars, eqn.outvars[0]

    def same_type(v):
        return v.aval == out.aval
    if name == "mul":
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _is_lit(b, 1) and same_type(a):
                return a
    elif name == "div" and _is_lit(ins[1], 1) and same_type(ins[0]):
        return ins[0]
    elif name == "sub" and _is_lit(ins[1], 0) and same_type(ins[0]):
        return ins[0]
    elif name == "add" and out.aval.dtype.kind in "iu":
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _is_lit(b, 0) and same_type(a):
                return a
    elif name == "integer_pow" and eqn.params["y"] == 1:
        return ins[0]
    elif name == "convert_element_type" and ins[0].aval.dtype == out.aval.dtype and \
            ins[0].aval.shape == out.aval.shape:
        return ins[0]
    return None


def _rewrite(eqn: JaxprEqn, producer: dict) -> JaxprEqn:
    """eqn as a cheaper equation of the same count: `x * -1` -> `neg x`, `a + neg b` -> `a - b`,
    `a - neg b` -> `a + b`, `dot_general(scalar, x)` -> `scalar * x`."""
    name, ins, out = eqn.primitive.name, eqn.invars, eqn.outvars[0]

    def fits(v):   # weak typing aside, v has the result's type
        return v.aval.dtype == out.aval.dtype and v.aval.shape == out.aval.shape

    def negated(v):
        p = producer.get(v)
        return p.invars[0] if p is not None and p.primitive is neg_p and fits(p.invars[0]) \
            else None
    if name == "mul":
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _is_lit(b, -1) and type(a) is not Literal and fits(a):
                return JaxprEqn(neg_p, [a], {}, eqn.outvars)
    elif name == "add":
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            nb = negated(b)
            if nb is not None and fits(a):
                return JaxprEqn(sub_p, [a, nb], {}, eqn.outvars)
    elif name == "sub":
        nb = negated(ins[1])
        if nb is not None and fits(ins[0]):
            return JaxprEqn(add_p, [ins[0], nb], {}, eqn.outvars)
    elif name == "dot_general" and any(v.aval.ndim == 0 for v in ins) and \
            all(v.aval.dtype == out.aval.dtype for v in ins):
        # a product with a scalar operand contracts nothing: it is an elementwise product
        # (transposing a dot with a scalar cotangent makes these), which fuses
        other = ins[1] if ins[0].aval.ndim == 0 else ins[0]
        if other.aval.shape == out.aval.shape:
            return JaxprEqn(mul_p, list(ins), {}, eqn.outvars)
    return eqn


def simplify_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
    subst: dict = {}
    producer: dict = {}
    order = {v: i for i, v in enumerate(jaxpr.constvars + jaxpr.invars)}
    eqns = []
    changed = False

    def read(v):
        return v if type(v) is Literal else subst.get(v, v)

    for eqn in jaxpr.eqns:
        invars = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name in _COMMUTATIVE and len(invars) == 2:
            invars.sort(key=lambda v: (1, 0) if type(v) is Literal else (0, order.get(v, -1)))
        if invars != eqn.invars:
            eqn = JaxprEqn(eqn.primitive, invars, eqn.params, eqn.outvars)
        if name in _FOLDABLE and all(type(v) is Literal for v in invars) and \
                not eqn.primitive.multiple_results:
            with np.errstate(all="ignore"):
                val = eqn.primitive.impl(*[v.val for v in invars], **eqn.params)
            out = eqn.outvars[0]
            subst[out] = Literal(np.asarray(val, out.aval.dtype)[()], out.aval)
            changed = True
            continue
        if not eqn.outvars:  # an effect (debug_print): nothing to fold or rewrite
            eqns.append(eqn)
            continue
        rewritten = _rewrite(eqn, producer)
        if rewritten is not eqn:
            eqn, name, changed = rewritten, rewritten.primitive.name, True
        same = _identity_operand(eqn)
        if same is None and name == "neg":
            inner = producer.get(invars[0])
            if inner is not None and inner.primitive.name == "neg":
                same = inner.invars[0]
        if same is not None:
            subst[eqn.outvars[0]] = same
            changed = True
            continue
        for v in eqn.outvars:
            order[v] = len(order)
            producer[v] = eqn
        eqns.append(eqn)
    if not changed:
        return jaxpr
    outvars = [read(v) for v in jaxpr.outvars]
    return Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, eqns, jaxpr.consts)

