"""Cholesky and triangular solves as plain loops, for native control-flow bodies (``_la.<name>``).

At the top level of a program these run through LAPACK between kernels. Inside a loop body
that would need a Python round trip per iteration; these loops keep the whole loop in one
numba function (a Newton fit's damped solve, a Kalman filter's update). They match the
primitives' semantics: the Cholesky factor reads the lower triangle and is all NaN when the
matrix is not positive definite; only the triangle chosen by `lower` of a triangular matrix is
read. Sums run in index order, so results can differ from LAPACK's in the last bits.
"""
from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)


@_jit
def cholesky(a):
    """The lower factor L of a = L L^T (a square, C-contiguous); all NaN if a is not positive
    definite (or has NaNs)."""
    n = a.shape[0]
    L = np.zeros((n, n), a.dtype)
    for j in range(n):
        s = a[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0:
            L[:, :] = np.nan
            return L
        d = math.sqrt(s)
        L[j, j] = d
        for i in range(j + 1, n):
            t = a[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / d
    return L


@_jit
def _solve_left_in_place(a, x, lower, transpose, unit_diagonal):
    """x <- op(a)^-1 x, op(a) = a^T if transpose, reading a's lower or upper triangle."""
    m, n = x.shape
    forward = lower != transpose  # op(a) is lower triangular: substitute from the top
    for step in range(m):
        i = step if forward else m - 1 - step
        lo, hi = (0, i) if forward else (i + 1, m)
        for k in range(lo, hi):
            coef = a[k, i] if transpose else a[i, k]
            for c in range(n):
                x[i, c] -= coef * x[k, c]
        if not unit_diagonal:
            d = a[i, i]
            for c in range(n):
                x[i, c] /= d


@_jit
def triangular_solve(a, b, left_side, lower, transpose_a, unit_diagonal):
    """x with op(a) x = b (left_side) or x op(a) = b, as the triangular_solve primitive."""
    if left_side:
        x = b.copy()
        _solve_left_in_place(a, x, lower, transpose_a, unit_diagonal)
        return x
    # x op(a) = b  <=>  op(a)^T x^T = b^T
    xt = np.ascontiguousarray(b.T)
    _solve_left_in_place(a, xt, lower, not transpose_a, unit_diagonal)
    return np.ascontiguousarray(xt.T)
