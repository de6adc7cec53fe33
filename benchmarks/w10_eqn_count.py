"""W10: expression swell of f_k = grad^k(quadmap^6), quadmap(x) = 4*x*(1-x), k = 1..6.

Columns: numbax's make_jaxpr before and after its jaxpr passes (optimize_jaxpr: constant folding,
algebraic simplification, CSE, DCE), counted with count_eqns (nested jaxprs included); JAX's
make_jaxpr after JAX's own DCE (when jax is installed); the issue's reference counts for JAX; and
sympy's operation count (`sympy.count_ops`) of the same derivative, `sympy.diff(expr, x, k)`
without simplification, and after `sympy.cse` (the operations of the replacements plus those of
the reduced expression), when sympy is installed.

sympy.count_ops walks the expression as a tree, so it takes minutes on these derivatives (a
million operations at k = 5); `count_ops_tree` computes the same number (checked against
count_ops for k <= 2 on every run) memoised on shared subexpressions. sympy.diff itself is the
slow part (15 s at k = 3, 70 s at k = 4, 4.5 min at k = 5, 17 min at k = 6), so the run
differentiates up to order NUMBAX_W10_SYMPY_MAX_K (default 3; 2 with --quick) and reports the higher orders from
SYMPY_MEASURED (taken with sympy 1.14.0 the same way, marked *).
Target: numbax no more equations than JAX, for every k.
"""
import os
import sys
import time

from _harness import Result, Row, Target, loud, optional_jax

TITLE = "W10 eqns of grad^k(quadmap^6)"
KS = (1, 2, 3, 4, 5, 6)
ISSUE_REFERENCE = {1: 44, 2: 93, 3: 207, 4: 484, 5: 1182}
#: (count_ops of diff(quadmap^6, x, k), count_ops after sympy.cse), sympy 1.14.0
SYMPY_MEASURED = {1: (2096, 93), 2: (14718, 350), 3: (75067, 877), 4: (304417, 1700),
                  5: (1036858, 2933), 6: (3067863, 4214)}


def quadmap6(x):
    for _ in range(6):
        x = 4 * x * (1 - x)
    return x


def numbax_counts():
    import numbax as nb
    from numbax.jaxpr import count_eqns
    from numbax.passes import optimize_jaxpr
    raw, opt, secs, f = {}, {}, {}, quadmap6
    for k in KS:
        f = nb.grad(f)
        jaxpr = nb.make_jaxpr(f)(0.3)          # a numbax.jaxpr.Jaxpr (no ClosedJaxpr wrapper)
        raw[k] = count_eqns(jaxpr)
        t0 = time.perf_counter()
        opt[k] = count_eqns(optimize_jaxpr(jaxpr))
        secs[k] = time.perf_counter() - t0
    return raw, opt, secs


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


# --------------------------------------------------------------------------- sympy

def count_ops_tree(expr, memo=None) -> int:
    """sympy.count_ops(expr) (visual=False), memoised on shared subexpressions: the same walk
    (sympy/core/function.py), each node's own operations plus those of the nodes it pushes."""
    import sympy
    from sympy import S
    from sympy.core.function import _coeff_isneg
    from sympy.core.operations import LatticeOp
    from sympy.simplify.radsimp import fraction
    memo = {} if memo is None else memo

    def rest(a):
        if a.is_Pow and a.exp is S.NegativeOne:
            return 1, [a.base]
        if a == S.Exp1:
            return 1, []
        if a.is_Pow and a.base == S.Exp1:
            return 1, [a.exp]
        n = 0
        if a.is_Mul or isinstance(a, LatticeOp):
            n = len(a.args) - 1
        elif a.args and (a.is_Pow or a.is_Function):
            n = 1
        return n, ([] if a.is_Symbol else list(a.args))

    def local(a):
        if a.is_Rational:
            if a is not S.One:
                return int(a.p < 0) + int(a.q != 1), []
        elif a.is_Mul:
            neg = 0
            if _coeff_isneg(a):
                neg = 1
                a = a.as_two_terms()[1] if a.args[0] is S.NegativeOne else -a
            num, den = fraction(a)
            if num.is_Integer:
                return neg + 1 + int(num < 0), [den]
            if den is not S.One:
                return neg + 1, ([] if den.is_Integer else [den]) + [num]
            n, kids = rest(a)
            return neg + n, kids
        elif a.is_Add:
            kids, negs = [], 0
            for ai in a.args:
                if _coeff_isneg(ai):
                    negs += 1
                    kids.append(-ai)
                else:
                    kids.append(ai)
            return len(a.args) - 1 + int(negs == len(a.args)), kids
        return rest(a)

    def total(a):
        got = memo.get(a)
        if got is None:
            n, kids = local(a)
            got = memo[a] = n + sum(total(k) for k in kids)
        return got

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        return total(sympy.sympify(expr))
    finally:
        sys.setrecursionlimit(limit)


def sympy_counts(max_k: int):
    """{k: (count_ops of the k-th derivative, count_ops after cse, measured live?)}, or None."""
    try:
        import sympy
    except ImportError:
        return None
    x = sympy.Symbol("x")
    expr = quadmap6(x)
    out = {}
    for k in KS:
        if k > max_k:
            if k in SYMPY_MEASURED:
                out[k] = (*SYMPY_MEASURED[k], False)
            continue
        # (differentiating the (k-1)-th derivative once more is much faster, but gives a
        # different, larger expression: diff(expr, x, k) differentiates k times at once)
        d = sympy.diff(expr, x, k)
        n = count_ops_tree(d)
        if k <= 2:
            assert n == sympy.count_ops(d), "count_ops_tree disagrees with sympy.count_ops"
        reps, reduced = sympy.cse(d)
        memo: dict = {}
        n_cse = sum(count_ops_tree(r, memo) for _, r in reps) + \
            sum(count_ops_tree(r, memo) for r in reduced)
        out[k] = (n, n_cse, True)
    return out


def cases(quick=False):
    return {"numbax": numbax_counts, "jax": jax_counts}


def run(quick=False) -> Result:
    try:
        nb_raw, nb_opt, nb_secs = numbax_counts()
        err = None
    except Exception as e:  # noqa: BLE001
        nb_raw = nb_opt = nb_secs = None
        err = f"{type(e).__name__}: {e}"
        loud(f"ERROR W10 / numbax: {err}")
    jx_raw, jx_dce = jax_counts()
    max_k = int(os.environ.get("NUMBAX_W10_SYMPY_MAX_K", 2 if quick else 3))
    try:
        sy = sympy_counts(max_k)
    except Exception as e:  # noqa: BLE001
        sy = None
        loud(f"ERROR W10 / sympy: {type(e).__name__}: {e}")
    lines = ["| k | numbax make_jaxpr | numbax optimize_jaxpr | passes (ms) | JAX make_jaxpr "
             "| JAX after DCE | issue reference (JAX) | numbax opt / JAX DCE "
             "| sympy count_ops(diff) | sympy after cse |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def cell(d, k):
        return str(d[k]) if d and k in d else "—"
    for k in KS:
        s = sy.get(k) if sy else None
        star = "" if s is None or s[2] else "*"
        cells = [str(k), cell(nb_raw, k), cell(nb_opt, k),
                 f"{1e3 * nb_secs[k]:.1f}" if nb_secs else "—",
                 cell(jx_raw, k), cell(jx_dce, k), cell(ISSUE_REFERENCE, k),
                 f"{nb_opt[k] / jx_dce[k]:.2f}×" if nb_opt and jx_dce else "—",
                 f"{s[0]}{star}" if s else "—", f"{s[1]}{star}" if s else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    if sy and any(not v[2] for v in sy.values()):
        lines.append(f"\n\\* sympy numbers for k > {max_k} measured once with sympy 1.14.0 "
                     "(sympy.diff takes minutes there; set NUMBAX_W10_SYMPY_MAX_K to redo).")
    rows = [Row(TITLE, "numbax", status="ERROR", error=err)] if err else []
    tg = []
    if nb_opt is None:
        tg.append(Target("W10 numbax eqns ≤ JAX (after DCE), k=1..6", False, err))
    elif jx_dce:
        over = [k for k in KS if nb_opt[k] > jx_dce[k]]
        tg.append(Target("W10 numbax eqns ≤ JAX (after DCE, this jax), k=1..6", not over,
                         f"over at k={over}" if over else "all k"))
    else:
        tg.append(Target("W10 numbax eqns ≤ JAX (after DCE), k=1..6", None, "jax not installed"))
    if nb_opt is not None:
        over = [k for k in ISSUE_REFERENCE if nb_opt[k] > ISSUE_REFERENCE[k]]
        tg.append(Target("W10 numbax eqns ≤ issue's JAX reference (44, 93, 207, 484, 1182)",
                         not over, f"over at k={over}" if over else "all k"))
    data = dict(numbax_raw=nb_raw, numbax_optimized=nb_opt, numbax_pass_seconds=nb_secs,
                jax_raw=jx_raw, jax_dce=jx_dce, issue_reference=ISSUE_REFERENCE,
                sympy={k: dict(count_ops=v[0], after_cse=v[1], live=v[2])
                       for k, v in (sy or {}).items()})
    return Result(rows, tg, extra=f"### {TITLE}\n\n" + "\n".join(lines), data=data)
