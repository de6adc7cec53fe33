"""Dead-code elimination."""
from __future__ import annotations

from typing import Sequence

from ..jaxpr import Jaxpr, Literal
from ._engine import is_effectful


def dce_jaxpr(jaxpr: Jaxpr, used_outputs: Sequence[bool] | None = None) -> Jaxpr:
    """Drop equations whose results are not needed for the (used) outputs, and unused constants.
    Equations with effects (`debug_print`, or a cond/loop/call whose jaxprs print) are always
    kept. One level: nested jaxprs are left as they are (optimize_jaxpr visits them)."""
    outvars = jaxpr.outvars if used_outputs is None else \
        [v for v, u in zip(jaxpr.outvars, used_outputs) if u]
    live = {v for v in outvars if type(v) is not Literal}
    eqns = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive.name == "scan" and any(v in live for v in eqn.outvars):
            from .loops import prune_scan
            eqn = prune_scan(eqn, [v in live for v in eqn.outvars]) or eqn
        if any(v in live for v in eqn.outvars) or is_effectful(eqn):
            eqns.append(eqn)
            live.update(v for v in eqn.invars if type(v) is not Literal)
    eqns.reverse()
    keep = [i for i, v in enumerate(jaxpr.constvars) if v in live]
    if len(eqns) == len(jaxpr.eqns) and all(a is b for a, b in zip(eqns, jaxpr.eqns)) and \
            len(keep) == len(jaxpr.constvars) and used_outputs is None:
        return jaxpr
    return Jaxpr([jaxpr.constvars[i] for i in keep], jaxpr.invars, outvars, eqns,
                 [jaxpr.consts[i] for i in keep])
