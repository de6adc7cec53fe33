"""Common-subexpression elimination: an equation equal to an earlier one (same primitive, same
inputs after substitution, same params) reuses the earlier results.

Nested differentiation repeats work symmetrically (the k-th jvp of a scalar function computes
the same mixed partials many times); CSE folds those copies, which is what keeps derivative
programs growing about linearly per order instead of geometrically.
"""
from __future__ import annotations

import numpy as np

from ..jaxpr import Jaxpr, JaxprEqn, Literal


def _literal_key(lit: Literal):
    return ("lit", lit.aval.dtype, lit.aval.weak_type, np.asarray(lit.val).item())


def _param_key(params: dict):
    items = []
    for k in sorted(params):
        v = params[k]
        try:
            hash(v)
        except TypeError:
            return None
        items.append((k, v if not isinstance(v, Jaxpr) else ("jaxpr", id(v))))
    return tuple(items)


def cse_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
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
        pkey = None if getattr(eqn.primitive, "effectful", False) else _param_key(eqn.params)
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
