"""Cholesky factorisations and triangular solves as CUDA kernels: one thread per matrix (or per
right-hand side), the same loops as the CPU's `linalg_loops` (so results agree with its native
loops bit for bit, and with LAPACK to rounding).

These serve many small systems at once (a Newton step of every lane of `vmap(minimize)`, a
batched multivariate normal), not one large one: a single n x n factorisation runs on one
thread. Sizes are baked into the source; the batch dimensions are unravelled from a flat
index, so operands are read in their own shapes.
"""
from __future__ import annotations

import math

from ...jaxpr import JaxprEqn
from .codegen import HEADER, CudaKernelSpec, Launch, _unravel


def _kernel(params: list[str], body: list[str], description: str) -> str:
    src = [f"# numbax CUDA kernel: {description}", HEADER,
           f"def kernel_py({', '.join(params)}):"]
    src += ["    " + ln for ln in body]
    src += ["", "", "kernel = cuda.jit(kernel_py)"]
    return "\n".join(src) + "\n"


def _batch(shape: tuple, per: int, lines: list[str]) -> tuple[list[str], list[str]]:
    """A grid-stride loop over the batch dims and `per` items of each matrix: the loop header,
    and the batch index names (the item index is `c`)."""
    names = [f"b{d}" for d in range(len(shape))]
    total = math.prod(shape) * per
    lines.append(f"for f in range(cuda.grid(1), {total}, cuda.gridsize(1)):")
    inner = [f"c = f % {per}", f"q = f // {per}"]
    _unravel("q", names, [str(n) for n in shape], inner)
    return inner, names


def cholesky_kernel(eqn: JaxprEqn, launch: Launch) -> CudaKernelSpec:
    """L with a = L L^T from a's lower triangle; all NaN where a is not positive definite."""
    a, out = eqn.invars[0], eqn.outvars[0]
    *batch, n, _ = a.aval.shape
    lines: list[str] = []
    inner, names = _batch(tuple(batch), 1, lines)
    at = ", ".join(names + [""])

    def ix(i, j):
        return f"[{at}{i}, {j}]"
    inner += [f"for i in range({n}):", f"    for j in range({n}):", f"        o0{ix('i', 'j')} = 0",
              "ok = True", f"for j in range({n}):", f"    s = a0{ix('j', 'j')}",
              "    for k in range(j):", f"        s -= o0{ix('j', 'k')} * o0{ix('j', 'k')}",
              "    if not s > 0:", "        ok = False", "        break",
              "    d = math.sqrt(s)", f"    o0{ix('j', 'j')} = d",
              f"    for i in range(j + 1, {n}):", f"        t = a0{ix('i', 'j')}",
              "        for k in range(j):", f"            t -= o0{ix('i', 'k')} * o0{ix('j', 'k')}",
              f"        o0{ix('i', 'j')} = t / d",
              "if not ok:", f"    for i in range({n}):", f"        for j in range({n}):",
              f"            o0{ix('i', 'j')} = math.nan"]
    lines += ["    " + ln for ln in inner]
    description = f"cholesky of {math.prod(batch)} {n}x{n} matrices (a thread each)"
    return CudaKernelSpec(_kernel(["a0", "o0"], lines, description), [], [a],
                          [(out, out.aval.shape, out.aval.dtype)],
                          launch.grid(math.prod(batch)), launch.block, description)


def triangular_solve_kernel(eqn: JaxprEqn, launch: Launch) -> CudaKernelSpec:
    """x with op(a) x = b (left_side) or x op(a) = b, one thread per column (row) of x."""
    a, b = eqn.invars
    out = eqn.outvars[0]
    p = eqn.params
    *batch, m, _ = a.aval.shape
    left = p["left_side"]
    # x op(a) = b is op(a)^T x^T = b^T: each row of x solves the transposed system
    transpose = p["transpose_a"] if left else not p["transpose_a"]
    forward = p["lower"] != transpose
    rhs = b.aval.shape[-1] if left else b.aval.shape[-2]
    lines: list[str] = []
    inner, names = _batch(tuple(batch), rhs, lines)
    at = ", ".join(names + [""])

    def x(name, i):   # element i of this thread's vector of x (or b)
        return f"{name}[{at}{i}, c]" if left else f"{name}[{at}c, {i}]"

    def coef(i, k):
        return f"a0[{at}{k}, {i}]" if transpose else f"a0[{at}{i}, {k}]"
    ks = "range(i)" if forward else f"range(i + 1, {m})"
    inner += [f"for step in range({m}):", "    i = step" if forward else f"    i = {m - 1} - step",
              f"    t = {x('a1', 'i')}", f"    for k in {ks}:",
              f"        t -= {coef('i', 'k')} * {x('o0', 'k')}"]
    if not p["unit_diagonal"]:
        inner.append(f"    t = t / a0[{at}i, i]")
    inner.append(f"    {x('o0', 'i')} = t")
    lines += ["    " + ln for ln in inner]
    side = "left" if left else "right"
    description = (f"triangular_solve ({side}, {'lower' if p['lower'] else 'upper'}"
                   f"{', transposed' if p['transpose_a'] else ''}) of {math.prod(batch)} "
                   f"{m}x{m} systems, {rhs} right-hand side(s) each (a thread each)")
    return CudaKernelSpec(_kernel(["a0", "a1", "o0"], lines, description), [], [a, b],
                          [(out, out.aval.shape, out.aval.dtype)],
                          launch.grid(math.prod(batch) * rhs), launch.block, description)


def _lu_lines(at: str, n: int, rhs: int | None) -> list[str]:
    """LU with partial pivoting of the scratch copy `lu`, in place, as LAPACK's getrf pivots
    (the largest magnitude in the column; the first on ties). Sets `ok` (no zero pivot), `nan`
    (a NaN met), `sign` (of the row permutation) and applies the row swaps and eliminations to
    the right-hand sides `o0` when rhs is given."""
    def ix(i, j):
        return f"[{at}{i}, {j}]"
    lines = ["ok = True", "nan = False", "sign = 1.0", f"for j in range({n}):",
             "    p = j", f"    big = abs(lu{ix('j', 'j')})", "    nan = nan or big != big",
             f"    for i in range(j + 1, {n}):", f"        v = abs(lu{ix('i', 'j')})",
             "        nan = nan or v != v", "        if v > big:", "            big = v",
             "            p = i", "    if not big > 0:", "        ok = False", "        break",
             "    if p != j:", "        sign = -sign", f"        for c in range({n}):",
             f"            t = lu{ix('j', 'c')}", f"            lu{ix('j', 'c')} = lu{ix('p', 'c')}",
             f"            lu{ix('p', 'c')} = t"]
    if rhs is not None:
        lines += [f"        for c in range({rhs}):", f"            t = o0{ix('j', 'c')}",
                  f"            o0{ix('j', 'c')} = o0{ix('p', 'c')}", f"            o0{ix('p', 'c')} = t"]
    lines += [f"    d = lu{ix('j', 'j')}", f"    for i in range(j + 1, {n}):",
              f"        g = lu{ix('i', 'j')} / d", f"        lu{ix('i', 'j')} = g",
              f"        for c in range(j + 1, {n}):",
              f"            lu{ix('i', 'c')} -= g * lu{ix('j', 'c')}"]
    if rhs is not None:
        lines += [f"        for c in range({rhs}):", f"            o0{ix('i', 'c')} -= g * o0{ix('j', 'c')}"]
    return lines


def _copy_lines(dst: str, src: str, at: str, rows: int, cols: int) -> list[str]:
    return [f"for i in range({rows}):", f"    for j in range({cols}):",
            f"        {dst}[{at}i, j] = {src}[{at}i, j]"]


def solve_kernel(eqn: JaxprEqn, launch: Launch) -> CudaKernelSpec:
    """x with a x = b: LU with partial pivoting, one thread per system; NaN where a is
    singular (numpy raises there; numbax's eager solve gives NaN too)."""
    (a, b), out = eqn.invars, eqn.outvars[0]
    *batch, n, _ = a.aval.shape
    k = b.aval.shape[-1]
    lines: list[str] = []
    inner, names = _batch(tuple(batch), 1, lines)
    at = ", ".join(names + [""])
    inner += _copy_lines("lu", "a0", at, n, n) + _copy_lines("o0", "a1", at, n, k)
    inner += _lu_lines(at, n, k)
    inner += ["if ok:", f"    for c in range({k}):", f"        for step in range({n}):",
              f"            i = {n - 1} - step", f"            t = o0[{at}i, c]",
              f"            for q in range(i + 1, {n}):",
              f"                t -= lu[{at}i, q] * o0[{at}q, c]",
              f"            o0[{at}i, c] = t / lu[{at}i, i]",
              "else:", f"    for i in range({n}):", f"        for c in range({k}):",
              f"            o0[{at}i, c] = math.nan"]
    lines += ["    " + ln for ln in inner]
    description = f"solve of {math.prod(batch)} {n}x{n} systems, {k} right-hand side(s) (LU, a thread each)"
    return CudaKernelSpec(_kernel(["a0", "a1", "o0", "lu"], lines, description), [], [a, b],
                          [(out, out.aval.shape, out.aval.dtype),
                           (None, a.aval.shape, a.aval.dtype)],
                          launch.grid(math.prod(batch)), launch.block, description)


def slogdet_kernel(eqn: JaxprEqn, launch: Launch) -> CudaKernelSpec:
    """(sign, log|det a|) from an LU factorisation: (0, -inf) for a singular matrix, NaN for
    one holding NaN."""
    a = eqn.invars[0]
    sign_v, logdet_v = eqn.outvars
    *batch, n, _ = a.aval.shape
    lines: list[str] = []
    inner, names = _batch(tuple(batch), 1, lines)
    at = ", ".join(names + [""])
    here = f"[{', '.join(names)}]" if names else "[0]"
    inner += _copy_lines("lu", "a0", at, n, n) + _lu_lines(at, n, None)
    inner += ["logdet = 0.0", "if ok:", f"    for i in range({n}):", f"        d = lu[{at}i, i]",
              "        if d < 0:", "            sign = -sign", "        logdet += math.log(abs(d))",
              "elif nan:", "    sign = math.nan", "    logdet = math.nan",
              "else:", "    sign = 0.0", "    logdet = -math.inf",
              f"o0{here} = sign", f"o1{here} = logdet"]
    lines += ["    " + ln for ln in inner]
    description = f"slogdet of {math.prod(batch)} {n}x{n} matrices (LU, a thread each)"
    shape = tuple(batch) or (1,)
    return CudaKernelSpec(_kernel(["a0", "o0", "o1", "lu"], lines, description), [], [a],
                          [(sign_v, shape, sign_v.aval.dtype), (logdet_v, shape, logdet_v.aval.dtype),
                           (None, a.aval.shape, a.aval.dtype)],
                          launch.grid(math.prod(batch)), launch.block, description)


KERNELS = {"cholesky": cholesky_kernel, "triangular_solve": triangular_solve_kernel,
           "solve": solve_kernel, "slogdet": slogdet_kernel}

__all__ = ["KERNELS"]
