"""Plain numpy helpers that exported Python (and the numpy fallbacks of exported Numba) code
calls: each is copied, by source, into the exported file that needs it, so this module must not
import numbax, and each function may only use `np`, the helpers it names in `DEPENDS`, and
modules it imports itself (scipy, lazily).

Each one mirrors the `impl` of the primitive it stands for (src/numbax/primitives/*.py), so
exported code computes what eager numbax computes.
"""
from __future__ import annotations

import numpy as np


def _trunc_div(x, y):
    """Integer division rounding toward zero (C's `/`); x / 0 gives x (the `div` primitive)."""
    x, y = np.asarray(x), np.asarray(y)
    safe = np.where(y == 0, 1, y).astype(y.dtype)
    q = np.floor_divide(x, safe)
    return np.where((np.remainder(x, safe) != 0) & ((x < 0) != (y < 0)), q + 1, q)[()]


def _trunc_rem(x, y):
    """The remainder of `_trunc_div`, with the sign of x; x % 0 gives x (the `rem` primitive)."""
    x, y = np.asarray(x), np.asarray(y)
    return (x - _trunc_div(x, y) * y)[()]


def _round_away(x):
    """Round half away from zero (lax.round's default)."""
    return (np.sign(x) * np.floor(np.abs(x) + np.asarray(0.5, np.asarray(x).dtype)))[()]


def _pad(x, padding_value, padding_config):
    """lax.pad: low/high padding (negative crops) and interior padding per axis."""
    x = np.asarray(x)
    big = [max(lo, 0) + max(hi, 0) + d + max(d - 1, 0) * interior
           for d, (lo, hi, interior) in zip(x.shape, padding_config)]
    out = np.full(big, padding_value, x.dtype)
    inner = tuple(slice(max(lo, 0), max(lo, 0) + d + max(d - 1, 0) * interior, interior + 1)
                  for d, (lo, hi, interior) in zip(x.shape, padding_config))
    out[inner] = x
    crop = tuple(slice(-min(lo, 0), b + min(hi, 0)) for b, (lo, hi, _) in zip(big, padding_config))
    return np.array(out[crop])[()]


def _clamped_starts(starts, shape, sizes):
    return [min(max(int(s), 0), d - n) for s, d, n in zip(starts, shape, sizes)]


def _dynamic_slice(x, starts, sizes):
    """The window of `sizes` at `starts`, each start clamped so the window is in bounds."""
    x = np.asarray(x)
    begin = _clamped_starts(starts, x.shape, sizes)
    return np.array(x[tuple(slice(b, b + n) for b, n in zip(begin, sizes))])[()]


def _dynamic_update_slice(x, update, starts):
    """A copy of x with `update` written at the clamped `starts`."""
    out = np.array(x, copy=True)
    update = np.asarray(update)
    begin = _clamped_starts(starts, out.shape, update.shape)
    out[tuple(slice(b, b + n) for b, n in zip(begin, update.shape))] = update
    return out[()]


def _clip_and_mask(indices, dims):
    """int64 indices clamped into [0, dim - 1] per column, and the mask of in-bounds rows."""
    indices = np.asarray(indices)
    if indices.dtype.kind == "u":
        ind = np.minimum(indices.astype(np.uint64), np.uint64(2**62)).astype(np.int64)
    else:
        ind = indices.astype(np.int64)
    dims_arr = np.array(dims, np.int64)
    inb = np.all((ind >= 0) & (ind < dims_arr), axis=-1)
    return np.clip(ind, 0, np.maximum(dims_arr - 1, 0)), inb


def _gather(operand, indices, mode, fill_value):
    """out[b..., r...] = operand[indices[b..., 0], ..., indices[b..., k-1], r...]; mode "clip"
    clamps indices, "fill" gives fill_value for rows with an out-of-bounds index."""
    operand, indices = np.asarray(operand), np.asarray(indices)
    k = indices.shape[-1]
    batch, dims, trailing = indices.shape[:-1], operand.shape[:k], operand.shape[k:]
    out_shape = batch + trailing
    if k == 0:
        return np.array(np.broadcast_to(operand, out_shape))[()]
    if any(d == 0 for d in dims):
        return np.full(out_shape, fill_value if mode == "fill" else 0, operand.dtype)[()]
    ind, inb = _clip_and_mask(indices, dims)
    out = operand[tuple(ind[..., j] for j in range(k))]
    if mode == "fill":
        out = np.where(inb.reshape(batch + (1,) * len(trailing)), out,
                       np.array(fill_value, operand.dtype))
    return np.array(out)[()]


def _scatter(ufunc, operand, indices, updates, mode):
    """A copy of operand with the rows of updates written (ufunc None) or combined with ufunc
    at indices; mode "drop" skips out-of-bounds rows, "clip" clamps them. With duplicate
    indices the last write wins."""
    operand, indices, updates = np.asarray(operand), np.asarray(indices), np.asarray(updates)
    out = np.array(operand, copy=True)
    k = indices.shape[-1]
    dims, trailing = operand.shape[:k], operand.shape[k:]
    upd = updates.reshape((-1,) + trailing)
    if k == 0:
        if upd.shape[0]:
            out[...] = upd[-1] if ufunc is None else ufunc(out, ufunc.reduce(upd, axis=0))
        return out[()]
    if any(d == 0 for d in dims):
        return out
    ind, inb = _clip_and_mask(indices.reshape(-1, k), dims)
    if mode == "drop":
        ind, upd = ind[inb], upd[inb]
    if ind.shape[0]:
        if ufunc is None:
            lin = np.ravel_multi_index(tuple(ind.T), dims)
            _, first_of_reversed = np.unique(lin[::-1], return_index=True)
            last = len(lin) - 1 - first_of_reversed
            out[tuple(ind[last].T)] = upd[last]
        else:
            ufunc.at(out, tuple(ind.T), upd)
    return out[()]


def _dot_general(lhs, rhs, dimension_numbers, preferred_element_type=None):
    """lax.dot_general: batch dimensions first, then lhs free, then rhs free dimensions."""
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    (lc, rc), (lb, rb) = dimension_numbers
    lf = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rf = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    bshape = tuple(lhs.shape[i] for i in lb)
    lfs, rfs = tuple(lhs.shape[i] for i in lf), tuple(rhs.shape[i] for i in rf)
    B, M, N = int(np.prod(bshape)), int(np.prod(lfs)), int(np.prod(rfs))
    K = int(np.prod([lhs.shape[i] for i in lc]))
    l3 = np.transpose(lhs, tuple(lb) + tuple(lf) + tuple(lc)).reshape(B, M, K)
    r3 = np.transpose(rhs, tuple(rb) + tuple(rc) + tuple(rf)).reshape(B, K, N)
    out = np.matmul(l3, r3).reshape(bshape + lfs + rfs)
    if preferred_element_type is not None:
        out = out.astype(preferred_element_type)
    return out[()]


def _cumulative(ufunc, x, axis, reverse):
    """cumsum / cumprod / cummax / cummin along axis, from the end when reverse."""
    x = np.asarray(x)
    if reverse:
        return np.flip(ufunc.accumulate(np.flip(x, axis), axis=axis, dtype=x.dtype), axis).copy()
    return ufunc.accumulate(x, axis=axis, dtype=x.dtype)


def _cholesky(a):
    """The lower Cholesky factor; all NaN for a matrix that is not positive definite."""
    a = np.asarray(a)
    wdt = np.promote_types(a.dtype, np.float32)
    try:
        return np.linalg.cholesky(a.astype(wdt)).astype(a.dtype)
    except np.linalg.LinAlgError:
        out = np.full(a.shape, np.nan, a.dtype)
        for idx in np.ndindex(a.shape[:-2]):
            try:
                out[idx] = np.linalg.cholesky(a[idx].astype(wdt))
            except np.linalg.LinAlgError:
                pass
        return out


def _triangular_solve(a, b, left_side, lower, transpose_a, unit_diagonal):
    """x with op(a) x = b (left_side) or x op(a) = b, a triangular (batched)."""
    import scipy.linalg
    a, b = np.asarray(a), np.asarray(b)
    out = np.empty(b.shape, b.dtype)
    if out.size == 0:
        return out
    wdt = np.promote_types(a.dtype, np.float32)
    for idx in np.ndindex(a.shape[:-2]):
        ai, bi = a[idx].astype(wdt), b[idx].astype(wdt)
        if left_side:
            x = scipy.linalg.solve_triangular(ai, bi, trans=1 if transpose_a else 0, lower=lower,
                                              unit_diagonal=unit_diagonal, check_finite=False)
        else:
            x = scipy.linalg.solve_triangular(ai, bi.T, trans=0 if transpose_a else 1,
                                              lower=lower, unit_diagonal=unit_diagonal,
                                              check_finite=False).T
        out[idx] = x
    return out


def _solve(a, b):
    """x with a x = b (batched); NaN for singular matrices."""
    a, b = np.asarray(a), np.asarray(b)
    wdt = np.promote_types(a.dtype, np.float32)
    if b.size == 0:
        return np.zeros(b.shape, b.dtype)
    try:
        return np.linalg.solve(a.astype(wdt), b.astype(wdt)).astype(b.dtype)
    except np.linalg.LinAlgError:
        out = np.full(b.shape, np.nan, b.dtype)
        for idx in np.ndindex(a.shape[:-2]):
            try:
                out[idx] = np.linalg.solve(a[idx].astype(wdt), b[idx].astype(wdt))
            except np.linalg.LinAlgError:
                pass
        return out


def _slogdet(a):
    """(sign, log|det a|) (batched)."""
    a = np.asarray(a)
    sign, logabsdet = np.linalg.slogdet(a.astype(np.promote_types(a.dtype, np.float32)))
    return np.asarray(sign, a.dtype)[()], np.asarray(logabsdet, a.dtype)[()]


def _sort(operands, dimension, num_keys):
    """All operands permuted by the stable sort of the first num_keys (NaNs last)."""
    operands = [np.asarray(o) for o in operands]
    keys = operands[:num_keys]
    if len(keys) == 1:
        perm = np.argsort(keys[0], axis=dimension, kind="stable")
    else:
        perm = np.lexsort(keys[::-1], axis=dimension)
    return tuple(np.take_along_axis(o, perm, axis=dimension) for o in operands)


#: the helpers each helper calls
DEPENDS = {"_trunc_rem": ["_trunc_div"], "_dynamic_slice": ["_clamped_starts"],
           "_dynamic_update_slice": ["_clamped_starts"], "_gather": ["_clip_and_mask"],
           "_scatter": ["_clip_and_mask"]}
