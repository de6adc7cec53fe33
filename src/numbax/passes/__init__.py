"""jaxpr -> jaxpr optimisation passes, each semantics-preserving.

* `fold_constants` (fold.py): equations on known values evaluated now;
* `simplify_jaxpr` (simplify.py): algebraic identities, exact in IEEE arithmetic except two
  documented ulp-level rewrites (`exp(log x)`, `log(exp x)`) that `exact=True` leaves out;
* `cse_jaxpr` (cse.py): common-subexpression elimination;
* `dce_jaxpr` (dce.py): dead-code elimination.

`optimize_jaxpr` runs them all, inside nested jaxprs too (cond branches, loop bodies, custom
derivative and checkpoint calls), to a fixed point.
"""
from __future__ import annotations

from ..jaxpr import Jaxpr, JaxprEqn
from ._engine import run_rules
from .cse import cse_jaxpr
from .dce import dce_jaxpr
from .fold import fold_constants, fold_rule
from .simplify import algebra_rule, simplify_jaxpr

#: rounds of (fold + simplify + CSE, DCE) at most; one suffices for most programs
MAX_ROUNDS = 6


def map_subjaxprs(jaxpr: Jaxpr, fn, memo: dict | None = None) -> Jaxpr:
    """jaxpr with fn applied to every jaxpr its equations hold as params (one level down; fn
    recurses if it wants to). A sub-jaxpr object shared by several equations is rewritten once
    (memo, keyed by id), so equal equations stay equal for CSE. Returns jaxpr itself when fn
    changed nothing."""
    memo = {} if memo is None else memo
    eqns, changed = [], False

    def sub(j):
        got = memo.get(id(j))
        if got is None:
            got = memo[id(j)] = (j, fn(j))    # keep j alive while its id is a key
        return got[1]

    for e in jaxpr.eqns:
        params = None
        for k, p in e.params.items():
            if isinstance(p, Jaxpr):
                q = sub(p)
            elif isinstance(p, tuple) and any(isinstance(x, Jaxpr) for x in p):
                q = tuple(sub(x) if isinstance(x, Jaxpr) else x for x in p)
                q = p if all(a is b for a, b in zip(p, q)) else q
            else:
                continue
            if q is not p:
                params = dict(e.params) if params is None else params
                params[k] = q
        if params is not None:
            e = JaxprEqn(e.primitive, e.invars, params, e.outvars)
            changed = True
        eqns.append(e)
    if not changed:
        return jaxpr
    return Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns, jaxpr.consts)


_RULES = [fold_rule, algebra_rule]


def _optimize(jaxpr: Jaxpr, exact: bool, top: bool, memo: dict) -> Jaxpr:
    jaxpr = map_subjaxprs(jaxpr, lambda j: _optimize(j, exact, False, memo), memo)
    for _ in range(MAX_ROUNDS):
        # one forward walk folds, simplifies and merges common subexpressions (each equation
        # sees its operands already rewritten), so a second walk is only needed where a rule
        # emitted equations no rule has looked at yet (splats, inlined branches)
        simplified, again = run_rules(jaxpr, _RULES, top=top, exact=exact, cse=True)
        jaxpr = dce_jaxpr(simplified)
        if not again:
            break
    return jaxpr


def optimize_jaxpr(jaxpr: Jaxpr, *, exact: bool = False) -> Jaxpr:
    """Constant folding and algebraic simplification, then CSE, then DCE, repeated until nothing
    changes (at most MAX_ROUNDS rounds), in jaxpr and in every jaxpr nested in it. The inputs
    and the outputs' types stay the same. `exact=True` keeps to rewrites that are exact in IEEE
    arithmetic (leaving out `exp(log x)` and `log(exp x)`, see simplify.py)."""
    return _optimize(jaxpr, exact, True, {})


__all__ = ["cse_jaxpr", "dce_jaxpr", "fold_constants", "map_subjaxprs", "optimize_jaxpr",
           "simplify_jaxpr"]
