"""Constant folding: an equation whose operands are all known is evaluated now, with the
primitive's own `impl` (the numpy implementation eager evaluation uses), so the folded value is
the value evaluation would have computed, bit for bit.

Known operands are literals, the jaxpr's array constants, *splats* (`broadcast_in_dim` of a
literal: a constant-valued array kept as a broadcast, which fused code turns into a scalar
constant) and small `iota`s. Results become

* a literal, for a rank-0 result;
* a splat, when an elementwise or data-movement equation has only literal or splat operands
  (`exp(broadcast 0.0)` is `broadcast 1.0`): no array is ever materialised for those;
* a new array constant of the jaxpr, for other array results of at most `MAX_ELEMENTS`
  elements (top-level jaxprs only: nested jaxprs get no new constants).

Never folded: primitives with effects (`debug_print`), higher-order primitives (they hold
jaxprs or functions), results larger than `MAX_ELEMENTS` or computed from more than
`MAX_INPUT_ELEMENTS` known elements (folding must stay cheap: it runs on every jit), weakly
typed array results, and equations whose `impl` raises.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..core import ShapedArray
from ..jaxpr import Jaxpr, JaxprEqn, Literal
from ._engine import ELEMENTWISE, MOVEMENT, holds_code, is_effectful, make_literal, run_rules

MAX_ELEMENTS = 4096
MAX_INPUT_ELEMENTS = 1 << 16


def _splat(w, value, out):
    """`out = broadcast_in_dim value` (or the literal itself for a rank-0 out)."""
    from ..primitives.shape import broadcast_in_dim_p
    lit = make_literal(value, ShapedArray((), out.aval.dtype, out.aval.weak_type))
    if out.aval.ndim == 0:
        return lit
    return [JaxprEqn(broadcast_in_dim_p, [lit],
                     {"shape": out.aval.shape, "broadcast_dimensions": ()}, [out])]


def known_value(w, v):
    """v's value when known at compile time (and small), else None."""
    if type(v) is Literal:
        return v.val
    x = w.known.get(v)
    if x is not None:
        return x
    e = w.producer.get(v)
    if e is None:
        return None
    name = e.primitive.name
    if name == "broadcast_in_dim" and not e.params["broadcast_dimensions"] and \
            type(e.invars[0]) is Literal and v.aval.size <= MAX_INPUT_ELEMENTS:
        return np.full(v.aval.shape, e.invars[0].val, v.aval.dtype)
    if name == "iota" and v.aval.size <= MAX_INPUT_ELEMENTS:
        x = e.primitive.impl(**e.params)
        w.known[v] = x
        return x
    return None


def _call(prim, args, params):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prim.impl(*args, **params)


def fold_rule(w, eqn):
    prim = eqn.primitive
    if not eqn.invars or prim.impl is None:
        return None
    # cheap rejection first: every operand must be a literal, a constant, a splat or an iota
    splats = True
    producer, known = w.producer, w.known
    for v in eqn.invars:
        if type(v) is Literal:
            continue
        if v in known:
            splats = False
            continue
        e = producer.get(v)
        if e is None:
            return None
        pname = e.primitive.name
        if pname == "iota":
            splats = False
        elif pname != "broadcast_in_dim" or e.params["broadcast_dimensions"] or \
                type(e.invars[0]) is not Literal:
            return None
    if holds_code(eqn) or is_effectful(eqn):
        return None
    name = prim.name
    outs = eqn.outvars
    # literal and splat operands only: elementwise and data movement stay splats
    if splats and len(outs) == 1 and (name in ELEMENTWISE or name in MOVEMENT):
        lits = [w.splat_literal(v) for v in eqn.invars]
        out = outs[0]
        if name in MOVEMENT:
            if name == "broadcast_in_dim" and type(eqn.invars[0]) is Literal and \
                    not eqn.params["broadcast_dimensions"]:
                return None     # already a splat
            return _splat(w, lits[0].val, out)
        try:
            val = _call(prim, [lit.val for lit in lits], eqn.params)
            if np.ndim(val) != 0:
                return None
            return _splat(w, val, out)
        except Exception:  # noqa: BLE001 (an impl that rejects these values, or a value
            return None    # out of the result type's range, e.g. a huge Python int: keep it)
    n_in = 0
    for v in eqn.invars:
        n_in += v.aval.size
    if n_in > MAX_INPUT_ELEMENTS:
        return None
    for out in outs:
        if out.aval.ndim and (not w.top or out.aval.size > MAX_ELEMENTS or out.aval.weak_type):
            return None
    args = []
    for v in eqn.invars:
        x = known_value(w, v)
        if x is None:
            return None
        args.append(x)
    try:
        vals = _call(prim, args, eqn.params)
    except Exception:  # noqa: BLE001
        return None
    if not prim.multiple_results:
        vals = [vals]
    if len(vals) != len(outs):
        return None
    results = []
    try:
        for out, val in zip(outs, vals):
            val = np.asarray(val)
            if val.shape != out.aval.shape:
                return None
            if out.aval.ndim == 0:
                results.append(make_literal(val, out.aval))
            else:
                results.append(np.ascontiguousarray(val.astype(out.aval.dtype, copy=False)))
    except (OverflowError, ValueError, TypeError):
        return None
    results = [r if type(r) is Literal else w.new_const(r, out.aval)
               for r, out in zip(results, outs)]
    return tuple(results) if prim.multiple_results else results[0]


fold_rule.splat_constants = MAX_INPUT_ELEMENTS


def fold_constants(jaxpr: Jaxpr) -> Jaxpr:
    """Constant folding alone (see the module docstring); optimize_jaxpr runs it together with
    the algebraic simplifications in one walk. Constant arrays whose elements are all equal
    become splats."""
    return run_rules(jaxpr, [fold_rule])[0]
