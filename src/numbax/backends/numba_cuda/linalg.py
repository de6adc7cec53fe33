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


KERNELS = {"cholesky": cholesky_kernel, "triangular_solve": triangular_solve_kernel}

__all__ = ["KERNELS", "cholesky_kernel", "triangular_solve_kernel"]
