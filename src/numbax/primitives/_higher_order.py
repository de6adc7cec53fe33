"""Shared machinery of the higher-order primitives (cond, while, scan): tracing user callables
into closed jaxprs, and small surgeries on jaxprs (reordering, padding, dependency queries).

A jaxpr held by a control-flow primitive keeps its concrete constants; constants that are
tracers of enclosing transformations are hoisted into leading inputs, so every interpreter
sees them as ordinary operands of the equation.
"""
from __future__ import annotations

from typing import Callable, Sequence

from ..core import ShapedArray
from ..interpreters.partial_eval import convert_constvars, trace_to_jaxpr
from ..jaxpr import Jaxpr, Literal
from ..passes.dce import dce_jaxpr
from ..tree_util import PyTreeDef, tree_flatten, tree_unflatten


def fun_name(fun) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def trace_callable(fun: Callable, in_tree: PyTreeDef, in_avals: Sequence[ShapedArray],
                   name: str, transform: str) -> tuple[Jaxpr, list, PyTreeDef]:
    """Trace fun(*unflatten(in_tree, leaves)) -> (jaxpr with hoisted tracer consts as leading
    inputs, those consts, the output tree)."""
    store: dict = {}

    def flat_fun(*leaves):
        out_leaves, store["tree"] = tree_flatten(fun(*tree_unflatten(in_tree, leaves)))
        return out_leaves

    jaxpr = trace_to_jaxpr(flat_fun, list(in_avals), fun_name=name, transform=transform)
    jaxpr, consts = convert_constvars(jaxpr)
    return dce_jaxpr(jaxpr), consts, store["tree"]


def stage_fun(fun: Callable, in_avals: Sequence[ShapedArray], name: str) -> Jaxpr:
    """A jaxpr for a flat function built by a rule (no hoisting: rules close over nothing)."""
    return dce_jaxpr(trace_to_jaxpr(fun, list(in_avals), fun_name=name, transform=name))


def permute_invars(jaxpr: Jaxpr, order: Sequence[int]) -> Jaxpr:
    """The same program with inputs taken in the order `order` (indices into the old ones)."""
    return Jaxpr(jaxpr.constvars, [jaxpr.invars[i] for i in order], jaxpr.outvars, jaxpr.eqns,
                 jaxpr.consts)


def permute_outvars(jaxpr: Jaxpr, order: Sequence[int]) -> Jaxpr:
    return Jaxpr(jaxpr.constvars, jaxpr.invars, [jaxpr.outvars[i] for i in order], jaxpr.eqns,
                 jaxpr.consts)


def drop_invars(jaxpr: Jaxpr, keep: Sequence[bool]) -> Jaxpr:
    """The program without the inputs where keep is False (they must be unused)."""
    return Jaxpr(jaxpr.constvars, [v for v, k in zip(jaxpr.invars, keep) if k], jaxpr.outvars,
                 jaxpr.eqns, jaxpr.consts)


def drop_effects(jaxpr: Jaxpr) -> Jaxpr:
    """jaxpr without its effects, for a copy staged only to recompute values (remat, the
    unknown half of a while loop), so its prints happen once, in the forward pass."""
    from ..jaxpr import JaxprEqn, has_effects
    if not has_effects(jaxpr):
        return jaxpr
    eqns = []
    for e in jaxpr.eqns:
        if getattr(e.primitive, "effectful", False):
            continue
        params = {k: drop_effects(v) if isinstance(v, Jaxpr) else
                  tuple(drop_effects(q) if isinstance(q, Jaxpr) else q for q in v)
                  if isinstance(v, tuple) else v for k, v in e.params.items()}
        eqns.append(JaxprEqn(e.primitive, e.invars, params, e.outvars))
    return dce_jaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns, jaxpr.consts))


def input_dependence(jaxpr: Jaxpr) -> list[frozenset[int]]:
    """For each output, the indices of the inputs it depends on."""
    deps: dict = {v: frozenset([i]) for i, v in enumerate(jaxpr.invars)}
    empty = frozenset()
    for eqn in jaxpr.eqns:
        d = empty.union(*[deps.get(v, empty) for v in eqn.invars if type(v) is not Literal])
        for v in eqn.outvars:
            deps[v] = d
    return [empty if type(v) is Literal else deps.get(v, empty) for v in jaxpr.outvars]


def split_list(xs: Sequence, sizes: Sequence[int]) -> list[list]:
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


def avals_str(avals: Sequence[ShapedArray]) -> str:
    return "(" + ", ".join(a.str_short() for a in avals) + ")"
