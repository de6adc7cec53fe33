"""Staging to jaxprs, and partial evaluation (known values computed now, unknown ones staged).

`StagingTrace` records every primitive into a jaxpr (make_jaxpr, jit). `PartialEvalTrace` records
only operations that touch its tracers (the *unknowns*) and hands the rest to its parent: under
`linearize` the primal computation runs eagerly (so Python control flow on primal values keeps
working) while the tangent computation becomes a linear jaxpr, whose constants are the residuals.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..core import ShapedArray, Trace, Tracer, call_on, current_trace, get_aval, new_trace
from ..jaxpr import Jaxpr, JaxprEqn, Var, eval_jaxpr, is_scalar_literal_value, to_literal

#: Primitives that need more than "stage the whole equation" under partial evaluation
#: (higher-order primitives split their inner jaxpr): rule(trace, args, params) -> outputs.
partial_eval_rules: dict = {}


class JaxprTracer(Tracer):
    __slots__ = ("var",)

    def __init__(self, trace: "StagingTrace", var: Var):
        self._trace = trace
        self.var = var

    @property
    def aval(self):
        return self.var.aval


class StagingTrace(Trace):
    """Records primitives into a jaxpr; outer tracers and arrays it meets become constants."""

    def __init__(self, parent: Trace | None, fun_name: str = "<fun>", transform: str = "jit"):
        super().__init__(parent)
        self.eqns: list[JaxprEqn] = []
        self.constvars: list[Var] = []
        self.consts: list = []
        self._const_ids: dict[int, Var] = {}
        self.arg_names: dict[Var, str] = {}
        self.fun_name = fun_name
        self.transform = transform

    def new_arg(self, aval: ShapedArray, name: str | None = None) -> JaxprTracer:
        v = Var(aval)
        if name is not None:
            self.arg_names[v] = name
        return JaxprTracer(self, v)

    def to_var(self, x):
        if isinstance(x, JaxprTracer) and x._trace is self:
            return x.var
        if isinstance(x, Tracer):
            self.check_foreign(x)
        elif is_scalar_literal_value(x):
            return to_literal(x)
        v = self._const_ids.get(id(x))
        if v is None:
            v = self._const_ids[id(x)] = Var(get_aval(x).strip_weak_type()
                                             if isinstance(x, np.ndarray) else get_aval(x))
            self.constvars.append(v)
            self.consts.append(x)
        return v

    def stage(self, prim, args, params):
        invars = [self.to_var(x) for x in args]
        out_avals = prim.abstract_eval(*[v.aval for v in invars], **params)
        if not prim.multiple_results:
            v = Var(out_avals)
            self.eqns.append(JaxprEqn(prim, invars, params, [v]))
            return JaxprTracer(self, v)
        outvars = [Var(a) for a in out_avals]
        self.eqns.append(JaxprEqn(prim, invars, params, outvars))
        return [JaxprTracer(self, v) for v in outvars]

    process_primitive = stage

    def to_jaxpr(self, in_tracers: Sequence[JaxprTracer], outs: Sequence) -> Jaxpr:
        outvars = [self.to_var(x) for x in outs]
        return Jaxpr(self.constvars, [t.var for t in in_tracers], outvars, self.eqns, self.consts)

    # -- error provenance
    def concretization_context(self, tracer) -> str:
        deps = _input_dependencies(self.eqns, tracer.var)
        names = [self.arg_names[v] for v in self.arg_names if v in deps]
        where = f"while tracing the function {self.fun_name} for {self.transform}"
        if names:
            return (f"The error occurred {where}. This concrete value was not available in Python "
                    f"because it depends on the value of the argument{'s' if len(names) > 1 else ''} "
                    f"{', '.join(repr(n) for n in names)}.\n")
        return f"The error occurred {where}.\n"


def _input_dependencies(eqns: list[JaxprEqn], var: Var) -> set:
    needed = {var}
    for eqn in reversed(eqns):
        if any(v in needed for v in eqn.outvars):
            needed.update(v for v in eqn.invars if type(v) is Var)
    return needed


class PartialEvalTrace(StagingTrace):
    """Stages only operations on unknowns (its tracers); known operations go to the parent."""

    def __init__(self, parent: Trace, fun_name: str = "<fun>", transform: str = "linearize"):
        super().__init__(parent, fun_name, transform)

    def is_unknown(self, x) -> bool:
        return isinstance(x, JaxprTracer) and x._trace is self

    def process_primitive(self, prim, args, params):
        for x in args:
            if isinstance(x, JaxprTracer) and x._trace is self:
                break
        else:
            return call_on(self.parent, prim.bind, *args, **params)
        rule = partial_eval_rules.get(prim)
        if rule is not None:
            return rule(self, args, params)
        return self.stage(prim, args, params)

    def concretization_context(self, tracer) -> str:
        return ("The value is an unknown (tangent) value in a linearized computation; only "
                "primal values are concrete under grad/vjp/linearize.\n")


# --------------------------------------------------------------------------- entry points

def trace_to_jaxpr(flat_fun: Callable, in_avals: Sequence[ShapedArray],
                   arg_names: Sequence[str] | None = None, fun_name: str = "<fun>",
                   transform: str = "jit") -> Jaxpr:
    """Stage `flat_fun` (a function of flat arrays returning a flat list) into a jaxpr."""
    trace = StagingTrace(current_trace(), fun_name, transform)
    names = arg_names or [None] * len(in_avals)
    with new_trace(trace):
        tracers = [trace.new_arg(a, n) for a, n in zip(in_avals, names)]
        outs = flat_fun(*tracers)
        return trace.to_jaxpr(tracers, outs)


def convert_constvars(jaxpr: Jaxpr, keep_concrete: bool = True) -> tuple[Jaxpr, list]:
    """Move constants that are tracers of outer traces into leading inputs (closure conversion),
    so a higher-order primitive receives them as arguments its outer traces can see."""
    traced = [i for i, c in enumerate(jaxpr.consts) if isinstance(c, Tracer) or not keep_concrete]
    if not traced:
        return jaxpr, []
    traced_set = set(traced)
    moved = [jaxpr.constvars[i] for i in traced]
    kept = [i for i in range(len(jaxpr.consts)) if i not in traced_set]
    new = Jaxpr([jaxpr.constvars[i] for i in kept], moved + jaxpr.invars, jaxpr.outvars, jaxpr.eqns,
                [jaxpr.consts[i] for i in kept])
    return new, [jaxpr.consts[i] for i in traced]


def partial_eval_jaxpr(jaxpr: Jaxpr, in_unknowns: Sequence[bool], instantiate: bool | Sequence[bool]
                       = False) -> tuple[Jaxpr, Jaxpr, list[bool], int]:
    """Split `jaxpr` into known: known_ins -> known_outs + residuals and
    unknown: residuals + unknown_ins -> unknown_outs."""
    in_avals = jaxpr.in_avals
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * len(jaxpr.outvars)
    known_trace = StagingTrace(current_trace(), "partial_eval", "partial evaluation")
    with new_trace(known_trace):
        known_in = [known_trace.new_arg(a) for a, u in zip(in_avals, in_unknowns) if not u]
        unknown_trace = PartialEvalTrace(known_trace)
        with new_trace(unknown_trace):
            unknown_in = [unknown_trace.new_arg(a) for a, u in zip(in_avals, in_unknowns) if u]
            kit, uit = iter(known_in), iter(unknown_in)
            args = [next(uit) if u else next(kit) for u in in_unknowns]
            outs = eval_jaxpr(jaxpr, *args)
            out_unknowns = [unknown_trace.is_unknown(o) or inst for o, inst in zip(outs, instantiate)]
            unknown_jaxpr = unknown_trace.to_jaxpr(unknown_in,
                                                   [o for o, u in zip(outs, out_unknowns) if u])
        residuals = unknown_jaxpr.consts
        known_outs = [o for o, u in zip(outs, out_unknowns) if not u]
        known_jaxpr = known_trace.to_jaxpr(known_in, known_outs + list(residuals))
    unknown_jaxpr = Jaxpr([], unknown_jaxpr.constvars + unknown_jaxpr.invars, unknown_jaxpr.outvars,
                          unknown_jaxpr.eqns)
    return known_jaxpr, unknown_jaxpr, out_unknowns, len(residuals)


__all__ = ["JaxprTracer", "StagingTrace", "PartialEvalTrace", "trace_to_jaxpr",
           "convert_constvars", "partial_eval_jaxpr", "partial_eval_rules"]
