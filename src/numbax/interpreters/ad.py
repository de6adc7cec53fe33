"""Automatic differentiation: forward mode (jvp), linearize, and reverse mode by transposition.

Tangents may be the symbolic `Zero(aval)`, which rules skip and which is never materialised unless
a primitive truly needs an array. Reverse mode is linearize (jvp under partial evaluation, which
stages only the tangent computation into a linear jaxpr) followed by `backward_pass`, which walks
that jaxpr backwards using the transpose rules of the linear primitives.
"""
from __future__ import annotations

import weakref
from typing import Callable, Sequence

import numpy as np

from .. import dtypes
from ..core import (ShapedArray, Trace, Tracer, call_on, concrete_value, current_trace, get_aval,
                    new_trace)
from ..jaxpr import Jaxpr, Literal, eval_jaxpr
from .partial_eval import PartialEvalTrace, trace_to_jaxpr

#: rule(primals, tangents, **params) -> (primal_out, tangent_out); lists for multiple results.
primitive_jvps: dict = {}
#: rule(cts, *invals, **params) -> list of cotangents (None for non-linear inputs), where
#: invals holds `UndefPrimal` for the linear inputs.
primitive_transposes: dict = {}


# --------------------------------------------------------------------------- symbolic zeros

class Zero:
    """A tangent or cotangent known to be zero, never materialised unless needed."""
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


_tangent_avals: dict = {}


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    t = _tangent_avals.get(aval)
    if t is None:
        t = _tangent_avals[aval] = (ShapedArray(aval.shape, aval.dtype) if aval.dtype.kind == "f"
                                    else ShapedArray(aval.shape, dtypes.float0))
    return t


def zero_of(x) -> Zero:
    return Zero(tangent_aval(get_aval(x)))


def zeros_like_aval(aval: ShapedArray):
    if aval.dtype == dtypes.float0:
        return np.zeros(aval.shape, dtypes.float0)
    from ..primitives.shape import full
    return full(aval.shape, 0, aval.dtype)


def instantiate(t):
    return zeros_like_aval(t.aval) if type(t) is Zero else t


def add_tangents(a, b):
    if type(a) is Zero:
        return b
    if type(b) is Zero:
        return a
    from ..primitives.elementwise import add_p
    return add_p.bind(a, b)


# --------------------------------------------------------------------------- forward mode

class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace: "JVPTrace", primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self):
        return get_aval(self.primal)

    def to_concrete_value(self):
        return concrete_value(self.primal)


class JVPTrace(Trace):
    def process_primitive(self, prim, args, params):
        primals, tangents = [], []
        nonzero = False
        for x in args:
            if type(x) is JVPTracer and x._trace is self:
                primals.append(x.primal)
                tangents.append(x.tangent)
                nonzero = True
            else:
                if isinstance(x, Tracer):
                    self.check_foreign(x)
                primals.append(x)
                tangents.append(zero_of(x))
        if not nonzero:
            return call_on(self.parent, prim.bind, *args, **params)
        rule = primitive_jvps.get(prim)
        if rule is None:
            raise NotImplementedError(f"Differentiation rule for '{prim.name}' not implemented")
        primal_out, tangent_out = call_on(self.parent, rule, primals, tangents, **params)
        if prim.multiple_results:
            return [self.pure_or_tracer(p, t) for p, t in zip(primal_out, tangent_out)]
        return self.pure_or_tracer(primal_out, tangent_out)

    def pure_or_tracer(self, primal, tangent):
        return primal if type(tangent) is Zero else JVPTracer(self, primal, tangent)

    def unpack(self, x):
        if type(x) is JVPTracer and x._trace is self:
            return x.primal, x.tangent
        if isinstance(x, Tracer):
            self.check_foreign(x)
        return x, zero_of(x)


def jvp_flat(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[list, list]:
    """Forward mode on flat lists; tangents may be Zero. Returns (primals_out, tangents_out)."""
    trace = JVPTrace(current_trace())
    with new_trace(trace):
        ins = [p if type(t) is Zero else JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = f(*ins)
        pairs = [trace.unpack(o) for o in outs]
    return [p for p, _ in pairs], [t for _, t in pairs]


# --------------------------------------------------------------------------- linearize

def linearize_flat(f: Callable, primals: Sequence, fun_name: str = "<fun>"):
    """Returns (primals_out, linear_jaxpr, in_mask, out_nonzero): the jaxpr maps the tangents of
    the inputs with in_mask[i] (float inputs) to the nonzero tangents of the outputs."""
    pe = PartialEvalTrace(current_trace(), fun_name, "linearize")
    with new_trace(pe):
        in_mask = [get_aval(p).dtype.kind == "f" for p in primals]
        t_in = [pe.new_arg(tangent_aval(get_aval(p))) for p, m in zip(primals, in_mask) if m]
        jvp_trace = JVPTrace(pe)
        with new_trace(jvp_trace):
            it = iter(t_in)
            ins = [JVPTracer(jvp_trace, p, next(it)) if m else p for p, m in zip(primals, in_mask)]
            outs = f(*ins)
            pairs = [jvp_trace.unpack(o) for o in outs]
        primals_out = [p for p, _ in pairs]
        for p in primals_out:
            if pe.is_unknown(p):
                raise NotImplementedError("linearize: a primal output depends on tangents")
        out_nonzero = [type(t) is not Zero for _, t in pairs]
        jaxpr = pe.to_jaxpr(t_in, [t for _, t in pairs if type(t) is not Zero])
    from ..passes.dce import dce_jaxpr
    return primals_out, dce_jaxpr(jaxpr), in_mask, out_nonzero


# --------------------------------------------------------------------------- transposition

class UndefPrimal:
    """Marks a linear input of a transpose rule: only its abstract value is known."""
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"UndefPrimal({self.aval.str_short()})"


def is_undefined_primal(x) -> bool:
    return type(x) is UndefPrimal


def backward_pass(jaxpr: Jaxpr, args: Sequence, cts_out: Sequence) -> list:
    """Transpose `jaxpr` with respect to its `UndefPrimal` args, given output cotangents (which may
    be Zero). Equations without linear inputs are evaluated forward first."""
    primal_env: dict = dict(zip(jaxpr.constvars, jaxpr.consts))
    linear = set()
    for v, x in zip(jaxpr.invars, args):
        if type(x) is UndefPrimal:
            linear.add(v)
        else:
            primal_env[v] = x

    def read_primal(v):
        if type(v) is Literal:
            return v.val
        return UndefPrimal(v.aval) if v in linear else primal_env[v]

    linear_eqns = []
    for eqn in jaxpr.eqns:
        if any(type(v) is not Literal and v in linear for v in eqn.invars):
            linear_eqns.append(eqn)
            linear.update(eqn.outvars)
        else:
            outs = eqn.primitive.bind(*[read_primal(v) for v in eqn.invars], **eqn.params)
            for v, o in zip(eqn.outvars, outs if eqn.primitive.multiple_results else [outs]):
                primal_env[v] = o

    ct_env: dict = {}

    def write_ct(v, ct):
        if type(ct) is Zero or ct is None or type(v) is Literal or v not in linear:
            return
        prev = ct_env.get(v)
        ct_env[v] = ct if prev is None else add_tangents(prev, ct)

    for v, ct in zip(jaxpr.outvars, cts_out):
        write_ct(v, ct)
    for eqn in reversed(linear_eqns):
        cts = [ct_env.pop(v, None) for v in eqn.outvars]
        if all(c is None for c in cts):
            continue
        cts = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outvars, cts)]
        rule = primitive_transposes.get(eqn.primitive)
        if rule is None:
            raise NotImplementedError(
                f"Transpose rule (for reverse-mode differentiation) for '{eqn.primitive.name}' not "
                "implemented: the primitive is not linear in its tangent inputs.")
        invals = [read_primal(v) for v in eqn.invars]
        cts_in = rule(cts if eqn.primitive.multiple_results else cts[0], *invals, **eqn.params)
        for v, ct in zip(eqn.invars, cts_in):
            write_ct(v, ct)
    return [ct_env.get(v, Zero(v.aval)) if type(x) is UndefPrimal else None
            for v, x in zip(jaxpr.invars, args)]


def vjp_flat(f: Callable, primals: Sequence, fun_name: str = "<fun>"):
    """Returns (primals_out, f_vjp) where f_vjp(cts_out) gives one cotangent per primal input
    (Zero for non-float inputs and for inputs the outputs do not depend on)."""
    primals_out, jaxpr, in_mask, out_nonzero = linearize_flat(f, primals, fun_name)
    in_avals = [tangent_aval(get_aval(p)) for p in primals]

    def f_vjp(cts_out):
        cts = [c for c, nz in zip(cts_out, out_nonzero) if nz]
        res = backward_pass(jaxpr, [UndefPrimal(v.aval) for v in jaxpr.invars], cts)
        it = iter(res)
        return [next(it) if m else Zero(a) for m, a in zip(in_mask, in_avals)]

    return primals_out, f_vjp


# --------------------------------------------------------------------------- jaxpr-level transforms

_jvp_jaxpr_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def jvp_jaxpr(jaxpr: Jaxpr, nonzeros: Sequence[bool], instantiate_outs: bool | Sequence[bool] = False
              ) -> tuple[Jaxpr, list[bool]]:
    """A jaxpr (primals, nonzero tangents) -> (primals_out, nonzero tangents_out)."""
    nonzeros = tuple(nonzeros)
    inst = ((instantiate_outs,) * len(jaxpr.outvars) if isinstance(instantiate_outs, bool)
            else tuple(instantiate_outs))
    cache = _jvp_jaxpr_cache.setdefault(jaxpr, {})
    hit = cache.get((nonzeros, inst))
    if hit is not None:
        return hit
    n = len(jaxpr.invars)
    t_avals = [tangent_aval(a) for a, nz in zip(jaxpr.in_avals, nonzeros) if nz]
    out_nz: list = []

    def fun(*args):
        primals, tangents = list(args[:n]), iter(args[n:])
        ts = [next(tangents) if nz else zero_of(p) for p, nz in zip(primals, nonzeros)]
        po, to = jvp_flat(lambda *a: eval_jaxpr(jaxpr, *a), primals, ts)
        out_nz[:] = [type(t) is not Zero or i for t, i in zip(to, inst)]
        return po + [instantiate(t) for t, nz in zip(to, out_nz) if nz]

    new = trace_to_jaxpr(fun, jaxpr.in_avals + t_avals, fun_name="jvp", transform="jvp")
    cache[(nonzeros, inst)] = result = (new, list(out_nz))
    return result


_transpose_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def transpose_jaxpr(jaxpr: Jaxpr, linear: Sequence[bool]) -> Jaxpr:
    """A jaxpr (non-linear inputs, cotangents of outputs) -> cotangents of the linear inputs
    (materialised zeros where there is no dependence)."""
    linear = tuple(linear)
    cache = _transpose_cache.setdefault(jaxpr, {})
    if linear in cache:
        return cache[linear]
    nonlin_avals = [a for a, l in zip(jaxpr.in_avals, linear) if not l]
    n_nonlin = len(nonlin_avals)

    def fun(*args):
        nonlin, cts = iter(args[:n_nonlin]), args[n_nonlin:]
        ins = [UndefPrimal(a) if l else next(nonlin) for a, l in zip(jaxpr.in_avals, linear)]
        res = backward_pass(jaxpr, ins, list(cts))
        return [instantiate(c) for c, l in zip(res, linear) if l]

    new = trace_to_jaxpr(fun, nonlin_avals + [tangent_aval(a) for a in jaxpr.out_avals],
                         fun_name="transpose", transform="transpose")
    cache[linear] = new
    return new


# --------------------------------------------------------------------------- rule combinators

def _broadcast_to_out(ct, out_aval):
    shape = get_aval(ct).shape
    if shape == out_aval.shape:
        return ct
    from ..primitives.shape import broadcast_in_dim_p
    return broadcast_in_dim_p.bind(ct, shape=out_aval.shape,
                                   broadcast_dimensions=tuple(range(len(shape))) if shape else ())


def defjvp(prim, *jvprules):
    """Per-argument jvp rules `rule(g, *primals, **params)`, summed; None marks non-differentiable
    arguments. Contributions from rank-0 operands are broadcast to the output shape."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        t_out = None
        for r, t in zip(jvprules, tangents):
            if r is not None and type(t) is not Zero:
                c = r(t, *primals, **params)
                t_out = c if t_out is None else add_tangents(t_out, c)
        if t_out is None:
            return out, zero_of(out)
        return out, _broadcast_to_out(t_out, get_aval(out))
    primitive_jvps[prim] = rule


def defjvp2(prim, *jvprules):
    """Like defjvp, but rules receive the primal output: `rule(g, ans, *primals, **params)`."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        t_out = None
        for r, t in zip(jvprules, tangents):
            if r is not None and type(t) is not Zero:
                c = r(t, out, *primals, **params)
                t_out = c if t_out is None else add_tangents(t_out, c)
        if t_out is None:
            return out, zero_of(out)
        return out, _broadcast_to_out(t_out, get_aval(out))
    primitive_jvps[prim] = rule


def defjvp_zero(prim):
    """Outputs with no derivative (comparisons, integer results, argmax)."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if prim.multiple_results:
            return out, [zero_of(o) for o in out]
        return out, zero_of(out)
    primitive_jvps[prim] = rule


def deflinear(prim, transpose_rule):
    """A primitive linear in all its array inputs: its jvp is itself applied to the tangents."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if all(type(t) is Zero for t in tangents):
            return out, zero_of(out)
        return out, prim.bind(*[instantiate(t) for t in tangents], **params)
    primitive_jvps[prim] = rule
    primitive_transposes[prim] = transpose_rule


def unbroadcast(aval: ShapedArray, ct):
    """Sum a cotangent down to the shape of a rank-0 operand of an elementwise primitive."""
    if type(ct) is Zero:
        return ct
    ct_aval = get_aval(ct)
    if ct_aval.shape != aval.shape:
        from ..primitives.reductions import reduce_sum_p
        ct = reduce_sum_p.bind(ct, axes=tuple(range(len(ct_aval.shape))))
    if aval.dtype.kind == "f" and get_aval(ct).dtype != aval.dtype:
        from ..primitives.elementwise import convert_element_type_p
        ct = convert_element_type_p.bind(ct, new_dtype=aval.dtype, weak_type=False)
    return ct
