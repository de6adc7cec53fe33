"""W10: equation count of f_k = grad^k(quadmap^6), quadmap(x) = 4*x*(1-x), k = 1..5: numbax's
make_jaxpr after its jaxpr passes (optimize_jaxpr: simplify, CSE, DCE), counted with count_eqns
(nested jaxprs included), against JAX's make_jaxpr after JAX's own DCE (nested jaxprs included),
and the issue's reference counts. Target: numbax no more equations than JAX, for every k."""
from _harness import Result, Row, Target, loud, optional_jax

TITLE = "W10 eqns of grad^k(quadmap^6)"
KS = (1, 2, 3, 4, 5)
ISSUE_REFERENCE = {1: 44, 2: 93, 3: 207, 4: 484, 5: 1182}


def quadmap6(x):
    for _ in range(6):
        x = 4 * x * (1 - x)
    return x


def numbax_counts():
    import numbax as nb
    from numbax.jaxpr import count_eqns
    from numbax.passes import optimize_jaxpr
    raw, opt, f = {}, {}, quadmap6
    for k in KS:
        f = nb.grad(f)
        jaxpr = nb.make_jaxpr(f)(0.3)          # a numbax.jaxpr.Jaxpr (no ClosedJaxpr wrapper)
        raw[k] = count_eqns(jaxpr)
        opt[k] = count_eqns(optimize_jaxpr(jaxpr))
    return raw, opt


def _jax_count(jaxpr) -> int:
    n = 0
    for eqn in jaxpr.eqns:
        n += 1
        for p in eqn.params.values():
            for q in (p if isinstance(p, (tuple, list)) else (p,)):
                if hasattr(q, "jaxpr") and hasattr(q, "consts"):     # ClosedJaxpr
                    n += _jax_count(q.jaxpr)
                elif hasattr(q, "eqns"):                              # Jaxpr
                    n += _jax_count(q)
    return n


def jax_counts():
    jax = optional_jax()
    if jax is None:
        return None, None
    try:
        from jax._src.interpreters.partial_eval import dce_jaxpr
    except ImportError:
        dce_jaxpr = None
    raw, dce, f = {}, {}, quadmap6
    for k in KS:
        f = jax.grad(f)
        closed = jax.make_jaxpr(f)(0.3)
        raw[k] = _jax_count(closed.jaxpr)
        if dce_jaxpr is not None:
            dce[k] = _jax_count(dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))[0])
        else:
            dce[k] = raw[k]
    return raw, dce


def cases(quick=False):
    return {"numbax": numbax_counts, "jax": jax_counts}


def run(quick=False) -> Result:
    try:
        nb_raw, nb_opt = numbax_counts()
        err = None
    except Exception as e:  # noqa: BLE001
        nb_raw = nb_opt = None
        err = f"{type(e).__name__}: {e}"
        loud(f"ERROR W10 / numbax: {err}")
    jx_raw, jx_dce = jax_counts()
    lines = ["| k | numbax make_jaxpr | numbax optimize_jaxpr | JAX make_jaxpr | JAX after DCE "
             "| issue reference (JAX) | numbax opt / JAX DCE |", "|---|---|---|---|---|---|---|"]
    for k in KS:
        cells = [str(k),
                 str(nb_raw[k]) if nb_raw else "ERROR", str(nb_opt[k]) if nb_opt else "ERROR",
                 str(jx_raw[k]) if jx_raw else "—", str(jx_dce[k]) if jx_dce else "—",
                 str(ISSUE_REFERENCE[k]),
                 f"{nb_opt[k] / jx_dce[k]:.2f}×" if nb_opt and jx_dce else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    rows = [Row(TITLE, "numbax", status="ERROR", error=err)] if err else []
    tg = []
    if nb_opt is None:
        tg.append(Target("W10 numbax eqns ≤ JAX (after DCE), k=1..5", False, err))
    elif jx_dce:
        over = [k for k in KS if nb_opt[k] > jx_dce[k]]
        tg.append(Target("W10 numbax eqns ≤ JAX (after DCE, this jax), k=1..5", not over,
                         f"over at k={over}" if over else "all k"))
    else:
        tg.append(Target("W10 numbax eqns ≤ JAX (after DCE), k=1..5", None, "jax not installed"))
    if nb_opt is not None:
        over = [k for k in KS if nb_opt[k] > ISSUE_REFERENCE[k]]
        tg.append(Target("W10 numbax eqns ≤ issue's JAX reference (44, 93, 207, 484, 1182)",
                         not over, f"over at k={over}" if over else "all k"))
    data = dict(numbax_raw=nb_raw, numbax_optimized=nb_opt, jax_raw=jx_raw, jax_dce=jx_dce,
                issue_reference=ISSUE_REFERENCE)
    return Result(rows, tg, extra=f"### {TITLE}\n\n" + "\n".join(lines), data=data)
