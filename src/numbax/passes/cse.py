"""Common-subexpression elimination: an equation equal to an earlier one (same primitive, same
inputs after substitution, same params) reuses the earlier results.

Nested differentiation repeats work symmetrically (the k-th jvp of a scalar function computes
the same mixed partials many times); CSE folds those copies, which is what keeps derivative
programs growing about linearly per order instead of geometrically.

Equations with effects (also through their nested jaxprs) are never merged. One level: nested
jaxprs are left as they are (optimize_jaxpr visits them).
"""
from __future__ import annotations

from ..jaxpr import Jaxpr, JaxprEqn, Literal
from ._engine import is_effectful, literal_key as _literal_key, param_key as _param_key


def cse_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
    """jaxpr with each equation that repeats an earlier one (same primitive, inputs and params;
    no effects) dropped and its outputs read from the earlier one. One level only: nested jaxprs
    are left alone. Returns jaxpr itself when nothing repeats."""
    subst: dict = {}
    seen: dict = {}
    eqns = []
    changed = False

    def read(v):
        return v if type(v) is Literal else subst.get(v, v)

    for eqn in jaxpr.eqns:
        invars = [read(v) for v in eqn.invars]
        if any(a is not b for a, b in zip(invars, eqn.invars)):
            eqn = JaxprEqn(eqn.primitive, invars, eqn.params, eqn.outvars)
        pkey = None if is_effectful(eqn) else _param_key(eqn.params)
        if pkey is not None:
            key = (eqn.primitive, tuple(_literal_key(v) if type(v) is Literal else v
                                        for v in invars), pkey)
            prev = seen.get(key)
            if prev is not None:
                subst.update(zip(eqn.outvars, prev))
                changed = True
                continue
            seen[key] = eqn.outvars
        eqns.append(eqn)
    if not changed:
        return jaxpr
    return Jaxpr(jaxpr.constvars, jaxpr.invars, [read(v) for v in jaxpr.outvars], eqns,
                 jaxpr.consts)
