"""Indexing primitives: dynamic slices and updates, gather, and the scatter family.

They live apart from shape.py because, unlike every shape primitive, they take *index operands*
that may be traced: which elements are read or written is data, only the result shapes are
static. So their rules differ in kind: the indices are never differentiated (they are integer
operands, passed through untouched by jvp and transposition), out-of-bounds indices need a policy
(clamping, filling or dropping), and batching over indices cannot be expressed by moving axes:
a batched start index turns `dynamic_slice` into a `gather` and `dynamic_update_slice` into a
`scatter`, and batched gather/scatter indices gain a leading column that indexes the batch axis.

Gather/scatter convention (simpler than XLA's dimension numbers; numbax.numpy's advanced indexing
transposes the indexed axes to the front first): `indices` is an integer array of shape
batch_shape + (k,) with k <= operand.ndim, and

    gather:  out[b..., r...] = operand[indices[b..., 0], ..., indices[b..., k-1], r...]
             (out.shape == batch_shape + operand.shape[k:])
    scatter: operand[indices[b..., 0], ..., indices[b..., k-1], r...] <op>= updates[b..., r...]
             (updates.shape == batch_shape + operand.shape[k:])

Negative indices are *not* normalised here: they are out of bounds (numbax.numpy wraps them).
Modes: gather "clip" clamps each index into [0, dim - 1] (JAX's default for retrieval), "fill"
returns `fill_value` for rows with any out-of-bounds index; scatter "drop" (the default) ignores
such rows, "clip" clamps them. dynamic_slice/dynamic_update_slice clamp every start index into
[0, dim - size] so the window is always in bounds (XLA's semantics), after the wrappers wrap
negative starts once (as lax.dynamic_slice does unless allow_negative_indices=False).
"""
from __future__ import annotations

import builtins
from functools import partial

import numpy as np

from .. import dtypes
from ..core import Primitive, ShapedArray, Tracer, get_aval
from ..interpreters import ad, batching
from ..interpreters.ad import Zero, instantiate
from ..interpreters.batching import not_mapped
from .elementwise import (add, convert_element_type, div, eq, lt, select_n)
from .elementwise import max as _max
from .elementwise import min as _min
from .shape import (_checked_impl, _fresh, broadcast_in_dim, broadcasted_iota, concatenate, full,
                    iota, reshape, squeeze)

_INDEX_DTYPE = dtypes.int64


# --------------------------------------------------------------------------- helpers

def _scalar(dtype, v):
    return np.array(v, dtype)[()]


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


def _as_indices(name, indices):
    if not isinstance(indices, Tracer):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"{name}: indices must be an integer array, got dtype "
                            f"{indices.dtype} (shape {indices.shape})")
    return indices


def _match_dtype(x, dtype):
    """Weakly typed values (Python scalars, weak tracers) adopt `dtype`; a strong dtype mismatch
    is left for abstract evaluation to report."""
    aval = get_aval(x)
    if not aval.weak_type:
        return x
    if not isinstance(x, Tracer):
        return np.asarray(x, dtype)[()]
    return convert_element_type(x, dtype)


def _prepend_batch_iota(indices):
    """indices (B, ..., k) -> (B, ..., k + 1) whose first column is the batch position."""
    aval = get_aval(indices)
    col = broadcasted_iota(aval.dtype, aval.shape[:-1] + (1,), 0)
    return concatenate([col, indices], aval.ndim - 1)


def _to_axis(x, d, dst, axis_size):
    """x with its batch axis at `dst`, broadcasting an unbatched x."""
    if d is not_mapped:
        return batching.broadcast_batch(x, axis_size, dst)
    return batching.moveaxis(x, d, dst)


def _check_undefined_indices(name, *idx):
    if any(ad.is_undefined_primal(i) for i in idx):
        raise NotImplementedError(f"{name}: cannot transpose with respect to the indices (they are "
                                  "integers and enter non-linearly)")


# --------------------------------------------------------------------------- start indices

def _canonical_starts(name, start_indices, shape, allow_negative_indices):
    starts = list(start_indices)
    if len(starts) != len(shape):
        raise TypeError(f"{name}: got {len(starts)} start indices for an operand of shape {shape}")
    out = []
    for s, dim in zip(starts, shape):
        if isinstance(s, np.ndarray) and s.ndim == 0:
            s = s[()]
        if isinstance(s, (bool, np.bool_)):
            raise TypeError(f"{name}: start indices must be integer scalars, got a bool")
        if isinstance(s, (int, np.integer)):
            s = int(s)
            if allow_negative_indices and s < 0:
                s += dim
            out.append(np.int64(s))
            continue
        aval = get_aval(s)
        if aval.shape != () or aval.dtype.kind not in "iu":
            raise TypeError(f"{name}: start indices must be integer scalars, got "
                            f"{aval.str_short()} (operand shape {tuple(shape)})")
        if allow_negative_indices and aval.dtype.kind == "i":
            dt = aval.dtype
            s = select_n(lt(s, _scalar(dt, 0)), s, add(s, _scalar(dt, dim)))
        out.append(s)
    return out


def _check_starts(name, x, starts, sizes):
    if len(starts) != x.ndim:
        raise TypeError(f"{name}: got {len(starts)} start indices for an operand of shape "
                        f"{x.shape}")
    for s in starts:
        if s.shape != () or s.dtype.kind not in "iu":
            raise TypeError(f"{name}: start indices must be integer scalars, got "
                            f"{s.str_short()} (operand shape {x.shape})")
    if len(sizes) != x.ndim or any(not 0 <= sz <= d for sz, d in zip(sizes, x.shape)):
        raise TypeError(f"{name}: slice sizes {tuple(sizes)} must be one per axis with "
                        f"0 <= size <= dim, for an operand of shape {x.shape}")


def _clamped(starts, shape, sizes):
    return [builtins.min(builtins.max(int(s), 0), d - sz) for s, d, sz in zip(starts, shape, sizes)]


def _window_indices(axis_size, starts, sdims, shape, sizes):
    """int64 indices of shape (B, *sizes, n): the clamped start of each batch element plus the
    offset of each element of the window (for lowering batched starts to gather/scatter)."""
    grid = (axis_size,) + tuple(sizes)
    cols = []
    for d, (s, sd) in enumerate(zip(starts, sdims)):
        s = convert_element_type(s, _INDEX_DTYPE)
        s = _max(_min(s, np.int64(shape[d] - sizes[d])), np.int64(0))
        s = broadcast_in_dim(s, grid, () if sd is not_mapped else (0,))
        col = add(s, broadcasted_iota(_INDEX_DTYPE, grid, d + 1))
        cols.append(reshape(col, grid + (1,)))
    return concatenate(cols, len(grid))


# --------------------------------------------------------------------------- dynamic_slice

dynamic_slice_p = Primitive("dynamic_slice")


def dynamic_slice(x, start_indices, slice_sizes, *, allow_negative_indices=True):
    """The window of `slice_sizes` at `start_indices` (scalars, possibly traced). Negative starts
    are wrapped once (unless allow_negative_indices=False); then each start is clamped into
    [0, dim - size], so the window is always in bounds."""
    aval = get_aval(x)
    sizes = tuple(int(s) for s in slice_sizes)
    starts = _canonical_starts("dynamic_slice", start_indices, aval.shape, allow_negative_indices)
    if sizes == aval.shape:
        return x  # every start clamps to 0
    return dynamic_slice_p.bind(x, *starts, slice_sizes=sizes)


def dynamic_slice_in_dim(x, start, size, axis=0, *, allow_negative_indices=True):
    aval = get_aval(x)
    axis = int(axis) % aval.ndim
    starts = [np.int64(0)] * aval.ndim
    sizes = list(aval.shape)
    starts[axis], sizes[axis] = start, int(size)
    return dynamic_slice(x, starts, sizes, allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(x, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    out = dynamic_slice_in_dim(x, index, 1, axis, allow_negative_indices=allow_negative_indices)
    return out if keepdims else squeeze(out, (int(axis) % get_aval(x).ndim,))


@_checked_impl(dynamic_slice_p)
def _dynamic_slice_impl(x, *starts, slice_sizes):
    x = np.asarray(x)
    begin = _clamped(starts, x.shape, slice_sizes)
    return _fresh(x[tuple(builtins.slice(b, b + sz) for b, sz in zip(begin, slice_sizes))])


@dynamic_slice_p.def_abstract_eval
def _dynamic_slice_abstract_eval(x, *starts, slice_sizes):
    _check_starts("dynamic_slice", x, starts, slice_sizes)
    return ShapedArray(tuple(slice_sizes), x.dtype, x.weak_type)


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    out = dynamic_slice_p.bind(x, *starts, slice_sizes=slice_sizes)
    if type(tangents[0]) is Zero:
        return out, ad.zero_of(out)
    return out, dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, x, *starts, slice_sizes):
    _check_undefined_indices("dynamic_slice", *starts)
    if type(ct) is Zero:
        return [None] * (1 + len(starts))
    zeros = full(x.aval.shape, 0, get_aval(ct).dtype)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


def _dynamic_slice_batch(axis_size, vals, dims, *, slice_sizes):
    x, *starts = vals
    xd, *sds = dims
    if all(d is not_mapped for d in sds):
        starts.insert(xd, np.int64(0))
        sizes = list(slice_sizes)
        sizes.insert(xd, axis_size)
        return dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(sizes)), xd
    shape = get_aval(x).shape
    if xd is not not_mapped:
        shape = shape[:xd] + shape[xd + 1:]
    idx = _window_indices(axis_size, starts, sds, shape, slice_sizes)
    if xd is not not_mapped:
        x = batching.moveaxis(x, xd, 0)
        idx = _prepend_batch_iota(idx)
    return gather_p.bind(x, idx, mode="clip", fill_value=None), 0


ad.primitive_jvps[dynamic_slice_p] = _dynamic_slice_jvp
ad.primitive_transposes[dynamic_slice_p] = _dynamic_slice_transpose
batching.primitive_batchers[dynamic_slice_p] = _dynamic_slice_batch


# --------------------------------------------------------------------------- dynamic_update_slice

dynamic_update_slice_p = Primitive("dynamic_update_slice")


def dynamic_update_slice(x, update, start_indices, *, allow_negative_indices=True):
    """x with the window at `start_indices` replaced by `update`; starts are wrapped and clamped as
    in `dynamic_slice`, so the whole update is always written."""
    aval = get_aval(x)
    update = _match_dtype(update, aval.dtype)
    starts = _canonical_starts("dynamic_update_slice", start_indices, aval.shape,
                               allow_negative_indices)
    return dynamic_update_slice_p.bind(x, update, *starts)


def dynamic_update_slice_in_dim(x, update, start, axis=0, *, allow_negative_indices=True):
    aval = get_aval(x)
    axis = int(axis) % aval.ndim
    starts = [np.int64(0)] * aval.ndim
    starts[axis] = start
    return dynamic_update_slice(x, update, starts, allow_negative_indices=allow_negative_indices)


@_checked_impl(dynamic_update_slice_p)
def _dynamic_update_slice_impl(x, update, *starts):
    out = np.array(x, copy=True)
    update = np.asarray(update)
    begin = _clamped(starts, out.shape, update.shape)
    out[tuple(builtins.slice(b, b + sz) for b, sz in zip(begin, update.shape))] = update
    return out[()] if out.ndim == 0 else out


@dynamic_update_slice_p.def_abstract_eval
def _dynamic_update_slice_abstract_eval(x, update, *starts):
    if update.ndim != x.ndim:
        raise TypeError(f"dynamic_update_slice: update of shape {update.shape} must have the rank "
                        f"of the operand, whose shape is {x.shape}")
    _check_starts("dynamic_update_slice", x, starts, update.shape)
    if update.dtype != x.dtype:
        raise TypeError(f"dynamic_update_slice: update dtype {dtypes.short_name(update.dtype)} "
                        f"must equal the operand dtype {dtypes.short_name(x.dtype)}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *starts = primals
    tx, tu = tangents[:2]
    out = dynamic_update_slice_p.bind(x, update, *starts)
    if type(tx) is Zero and type(tu) is Zero:
        return out, ad.zero_of(out)
    return out, dynamic_update_slice_p.bind(instantiate(tx), instantiate(tu), *starts)


def _dynamic_update_slice_transpose(ct, x, update, *starts):
    _check_undefined_indices("dynamic_update_slice", *starts)
    if type(ct) is Zero:
        return [None] * (2 + len(starts))
    u_aval = update.aval if ad.is_undefined_primal(update) else get_aval(update)
    dt = get_aval(ct).dtype
    ct_x = (dynamic_update_slice_p.bind(ct, full(u_aval.shape, 0, dt), *starts)
            if ad.is_undefined_primal(x) else None)
    ct_u = (dynamic_slice_p.bind(ct, *starts, slice_sizes=u_aval.shape)
            if ad.is_undefined_primal(update) else None)
    return [ct_x, ct_u] + [None] * len(starts)


def _dynamic_update_slice_batch(axis_size, vals, dims):
    x, update, *starts = vals
    xd, ud, *sds = dims
    x = batching.bdim_at_front(x, xd, axis_size)
    update = batching.bdim_at_front(update, ud, axis_size)
    if all(d is not_mapped for d in sds):
        return dynamic_update_slice_p.bind(x, update, np.int64(0), *starts), 0
    shape, sizes = get_aval(x).shape[1:], get_aval(update).shape[1:]
    idx = _prepend_batch_iota(_window_indices(axis_size, starts, sds, shape, sizes))
    # the window indices are in bounds and unique within each batch element: scatter is exact
    return scatter_p.bind(x, idx, update, mode="clip"), 0


ad.primitive_jvps[dynamic_update_slice_p] = _dynamic_update_slice_jvp
ad.primitive_transposes[dynamic_update_slice_p] = _dynamic_update_slice_transpose
batching.primitive_batchers[dynamic_update_slice_p] = _dynamic_update_slice_batch


# --------------------------------------------------------------------------- gather

gather_p = Primitive("gather")

_GATHER_MODES = {"clip": "clip", "fill": "fill", "drop": "fill"}
_SCATTER_MODES = {"drop": "drop", "fill": "drop", "clip": "clip"}


def default_fill_value(dtype):
    """JAX's fill for out-of-bounds gathers: NaN for floats, the minimum of signed integers, the
    maximum of unsigned integers, True for bool."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return float("nan")
    if dtype.kind == "i":
        return int(np.iinfo(dtype).min)
    if dtype.kind == "u":
        return int(np.iinfo(dtype).max)
    return True


def gather(operand, indices, mode="clip", fill_value=None):
    """out[b..., r...] = operand[indices[b..., 0], ..., indices[b..., k-1], r...] where
    indices.shape == batch_shape + (k,). mode "clip" clamps indices into bounds; "fill" returns
    `fill_value` (default: `default_fill_value(dtype)`) for rows with an out-of-bounds index."""
    aval = get_aval(operand)
    if mode not in _GATHER_MODES:
        raise ValueError(f"gather: unknown mode {mode!r}; use 'clip' or 'fill'")
    mode = _GATHER_MODES[mode]
    indices = _as_indices("gather", indices)
    if mode == "fill":
        fill_value = (default_fill_value(aval.dtype) if fill_value is None
                      else np.array(fill_value, aval.dtype).item())
    else:
        fill_value = None
    return gather_p.bind(operand, indices, mode=mode, fill_value=fill_value)


@_checked_impl(gather_p)
def _gather_impl(operand, indices, *, mode, fill_value):
    operand, indices = np.asarray(operand), np.asarray(indices)
    k = indices.shape[-1]
    batch, dims, trailing = indices.shape[:-1], operand.shape[:k], operand.shape[k:]
    out_shape = batch + trailing
    if k == 0:
        return _fresh(np.broadcast_to(operand, out_shape))
    if any(d == 0 for d in dims):  # nothing can be read
        return _fresh(np.full(out_shape, fill_value if mode == "fill" else 0, operand.dtype))
    ind, inb = _clip_and_mask(indices, dims)
    out = operand[tuple(ind[..., j] for j in range(k))]
    if mode == "fill":
        out = np.where(inb.reshape(batch + (1,) * len(trailing)), out,
                       np.array(fill_value, operand.dtype))
    return _fresh(out)


def _check_indices(name, operand, indices):
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got {indices.str_short()} (operand "
                        f"shape {operand.shape})")
    if indices.ndim < 1 or indices.shape[-1] > operand.ndim:
        raise TypeError(f"{name}: indices of shape {indices.shape} must have a last axis of size "
                        f"k <= {operand.ndim}, the rank of the operand, whose shape is "
                        f"{operand.shape}")
    return indices.shape[-1]


@gather_p.def_abstract_eval
def _gather_abstract_eval(operand, indices, *, mode, fill_value):
    k = _check_indices("gather", operand, indices)
    if mode not in ("clip", "fill"):
        raise TypeError(f"gather: unknown mode {mode!r}")
    return ShapedArray(indices.shape[:-1] + operand.shape[k:], operand.dtype, operand.weak_type)


def _gather_jvp(primals, tangents, *, mode, fill_value):
    operand, indices = primals
    out = gather_p.bind(operand, indices, mode=mode, fill_value=fill_value)
    t = tangents[0]
    if type(t) is Zero:
        return out, ad.zero_of(out)
    # filled entries are constants: their tangent is 0
    return out, gather_p.bind(t, indices, mode=mode, fill_value=0.0 if mode == "fill" else None)


def _gather_transpose(ct, operand, indices, *, mode, fill_value):
    _check_undefined_indices("gather", indices)
    if type(ct) is Zero or not ad.is_undefined_primal(operand):
        return [None, None]
    zeros = full(operand.aval.shape, 0, get_aval(ct).dtype)
    return [scatter_add_p.bind(zeros, indices, ct, mode="drop" if mode == "fill" else "clip"),
            None]


def _gather_batch(axis_size, vals, dims, *, mode, fill_value):
    (operand, indices), (od, idd) = vals, dims
    if idd is not_mapped:
        ia = get_aval(indices)
        operand = batching.moveaxis(operand, od, ia.shape[-1])
        return gather_p.bind(operand, indices, mode=mode, fill_value=fill_value), ia.ndim - 1
    if od is not_mapped:
        nd = get_aval(indices).ndim
        if idd == nd - 1:  # keep the index vector axis last
            indices = batching.moveaxis(indices, idd, nd - 2)
            idd = nd - 2
        return gather_p.bind(operand, indices, mode=mode, fill_value=fill_value), idd
    operand = batching.moveaxis(operand, od, 0)
    indices = _prepend_batch_iota(batching.moveaxis(indices, idd, 0))
    return gather_p.bind(operand, indices, mode=mode, fill_value=fill_value), 0


ad.primitive_jvps[gather_p] = _gather_jvp
ad.primitive_transposes[gather_p] = _gather_transpose
batching.primitive_batchers[gather_p] = _gather_batch


def _gather_like_scatter(x, indices, mode):
    """Read back what a scatter with `mode` touches: out-of-bounds rows read 0 (mode "drop")."""
    if mode == "drop":
        return gather_p.bind(x, indices, mode="fill",
                             fill_value=np.array(0, get_aval(x).dtype).item())
    return gather_p.bind(x, indices, mode="clip", fill_value=None)


# --------------------------------------------------------------------------- scatter family

def _scatter_impl(ufunc, operand, indices, updates, *, mode):
    operand, indices, updates = np.asarray(operand), np.asarray(indices), np.asarray(updates)
    out = np.array(operand, copy=True)
    k = indices.shape[-1]
    dims, trailing = operand.shape[:k], operand.shape[k:]
    upd = updates.reshape((-1,) + trailing)
    if k == 0:
        if upd.shape[0]:
            out[...] = upd[-1] if ufunc is None else ufunc(out, ufunc.reduce(upd, axis=0))
        return out[()] if out.ndim == 0 else out
    if any(d == 0 for d in dims):  # nothing can be written
        return out
    ind, inb = _clip_and_mask(indices.reshape(-1, k), dims)
    if mode == "drop":
        ind, upd = ind[inb], upd[inb]
    if ind.shape[0]:
        if ufunc is None:  # set: with duplicate indices the last write wins, deterministically
            lin = np.ravel_multi_index(tuple(ind.T), dims)
            _, first_of_reversed = np.unique(lin[::-1], return_index=True)
            last = len(lin) - 1 - first_of_reversed
            out[tuple(ind[last].T)] = upd[last]
        else:
            ufunc.at(out, tuple(ind.T), upd)
    return out[()] if out.ndim == 0 else out


def _scatter_abstract_eval(name, operand, indices, updates, *, mode):
    k = _check_indices(name, operand, indices)
    expected = indices.shape[:-1] + operand.shape[k:]
    if updates.shape != expected:
        raise TypeError(f"{name}: updates of shape {updates.shape} must have shape {expected} "
                        f"(indices batch shape + operand shape after the {k} indexed axes) for an "
                        f"operand of shape {operand.shape} and indices of shape {indices.shape}")
    if updates.dtype != operand.dtype:
        raise TypeError(f"{name}: updates dtype {dtypes.short_name(updates.dtype)} must equal the "
                        f"operand dtype {dtypes.short_name(operand.dtype)}")
    if name in ("scatter_add", "scatter_mul") and operand.dtype.kind == "b":
        raise TypeError(f"{name} does not accept dtype bool; convert to an integer first")
    if mode not in ("drop", "clip"):
        raise TypeError(f"{name}: unknown mode {mode!r}")
    return ShapedArray(operand.shape, operand.dtype, operand.weak_type)


def _scatter_batch(prim):
    def rule(axis_size, vals, dims, *, mode):
        (operand, indices, updates), (od, idd, ud) = vals, dims
        if idd is not_mapped:
            ia = get_aval(indices)
            k, nb = ia.shape[-1], ia.ndim - 1
            operand = _to_axis(operand, od, k, axis_size)
            updates = _to_axis(updates, ud, nb, axis_size)
            return prim.bind(operand, indices, updates, mode=mode), k
        operand = batching.bdim_at_front(operand, od, axis_size)
        indices = _prepend_batch_iota(batching.moveaxis(indices, idd, 0))
        updates = batching.bdim_at_front(updates, ud, axis_size)
        return prim.bind(operand, indices, updates, mode=mode), 0
    return rule


def _make_scatter(name, ufunc):
    prim = Primitive(name)
    _checked_impl(prim)(partial(_scatter_impl, ufunc))
    prim.def_abstract_eval(partial(_scatter_abstract_eval, name))
    batching.primitive_batchers[prim] = _scatter_batch(prim)
    return prim


scatter_p = _make_scatter("scatter", None)
scatter_add_p = _make_scatter("scatter_add", np.add)
scatter_mul_p = _make_scatter("scatter_mul", np.multiply)
scatter_min_p = _make_scatter("scatter_min", np.minimum)
scatter_max_p = _make_scatter("scatter_max", np.maximum)


def _scatter_bind(prim, operand, indices, updates, mode):
    if mode not in _SCATTER_MODES:
        raise ValueError(f"{prim.name}: unknown mode {mode!r}; use 'drop' or 'clip'")
    aval = get_aval(operand)
    indices = _as_indices(prim.name, indices)
    updates = _match_dtype(updates, aval.dtype)
    ia = get_aval(indices)
    if ia.ndim >= 1 and ia.shape[-1] <= aval.ndim and get_aval(updates).shape == ():
        expected = ia.shape[:-1] + aval.shape[ia.shape[-1]:]
        if expected != ():
            updates = full(expected, updates)  # a scalar update broadcasts
    return prim.bind(operand, indices, updates, mode=_SCATTER_MODES[mode])


def scatter(operand, indices, updates, mode="drop"):
    """operand with the rows at `indices` set to `updates`; with duplicate indices the last write
    wins (as numpy's x[idx] = v). Out-of-bounds rows are dropped (mode "drop") or clamped
    ("clip")."""
    return _scatter_bind(scatter_p, operand, indices, updates, mode)


def scatter_add(operand, indices, updates, mode="drop"):
    """operand with `updates` added at `indices` (duplicates accumulate, as np.add.at)."""
    return _scatter_bind(scatter_add_p, operand, indices, updates, mode)


def scatter_mul(operand, indices, updates, mode="drop"):
    """operand multiplied by `updates` at `indices` (duplicates accumulate)."""
    return _scatter_bind(scatter_mul_p, operand, indices, updates, mode)


def scatter_min(operand, indices, updates, mode="drop"):
    """The elementwise minimum of operand and the `updates` scattered to `indices`."""
    return _scatter_bind(scatter_min_p, operand, indices, updates, mode)


def scatter_max(operand, indices, updates, mode="drop"):
    """The elementwise maximum of operand and the `updates` scattered to `indices`."""
    return _scatter_bind(scatter_max_p, operand, indices, updates, mode)


# -- scatter_add and scatter (set) are linear in (operand, updates)

def _linear_scatter_jvp(prim):
    def rule(primals, tangents, *, mode):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = prim.bind(operand, indices, updates, mode=mode)
        if type(t_op) is Zero and type(t_up) is Zero:
            return out, ad.zero_of(out)
        return out, prim.bind(instantiate(t_op), indices, instantiate(t_up), mode=mode)
    return rule


def _scatter_add_transpose(ct, operand, indices, updates, *, mode):
    _check_undefined_indices("scatter_add", indices)
    if type(ct) is Zero:
        return [None, None, None]
    ct_op = ct if ad.is_undefined_primal(operand) else None
    ct_up = _gather_like_scatter(ct, indices, mode) if ad.is_undefined_primal(updates) else None
    return [ct_op, None, ct_up]


def _scatter_winners(indices, operand_shape, mode):
    """bool[batch_shape]: whether each index row is the one whose write survives in `scatter` (the
    last of its duplicates, in bounds under mode "drop")."""
    ia = get_aval(indices)
    batch, k = ia.shape[:-1], ia.shape[-1]
    ids = reshape(iota(_INDEX_DTYPE, int(np.prod(batch, dtype=np.int64))), batch)
    target = full(operand_shape[:k], -1, _INDEX_DTYPE)
    winners = scatter_p.bind(target, indices, ids, mode=mode)
    if mode == "drop":
        back = gather_p.bind(winners, indices, mode="fill", fill_value=-1)
    else:
        back = gather_p.bind(winners, indices, mode="clip", fill_value=None)
    return eq(back, ids)


def _scatter_transpose(ct, operand, indices, updates, *, mode):
    """Exact also with duplicate indices (JAX's rule is exact only for unique ones): an update
    overwritten by a later duplicate gets a zero cotangent, since it does not reach the output."""
    _check_undefined_indices("scatter", indices)
    if type(ct) is Zero:
        return [None, None, None]
    u_aval = updates.aval if ad.is_undefined_primal(updates) else get_aval(updates)
    op_shape = operand.aval.shape if ad.is_undefined_primal(operand) else get_aval(operand).shape
    dt = get_aval(ct).dtype
    ct_op = ct_up = None
    if ad.is_undefined_primal(operand):
        ct_op = scatter_p.bind(ct, indices, full(u_aval.shape, 0, dt), mode=mode)
    if ad.is_undefined_primal(updates):
        g = _gather_like_scatter(ct, indices, mode)
        nb = get_aval(indices).ndim - 1
        mask = broadcast_in_dim(_scatter_winners(indices, op_shape, mode), u_aval.shape,
                                tuple(range(nb)))
        ct_up = select_n(mask, _scalar(dt, 0), g)
    return [ct_op, None, ct_up]


for _p, _t in ((scatter_add_p, _scatter_add_transpose), (scatter_p, _scatter_transpose)):
    ad.primitive_jvps[_p] = _linear_scatter_jvp(_p)
    ad.primitive_transposes[_p] = _t


# -- scatter_mul: linear in the operand only

_SCATTER_MUL_UPDATES_MSG = ("scatter_mul: differentiation with respect to the updates is not "
                            "implemented (as in JAX without unique_indices)")


def _scatter_mul_jvp(primals, tangents, *, mode):
    operand, indices, updates = primals
    t_op, _, t_up = tangents
    if type(t_up) is not Zero:
        raise NotImplementedError(_SCATTER_MUL_UPDATES_MSG)
    out = scatter_mul_p.bind(operand, indices, updates, mode=mode)
    if type(t_op) is Zero:
        return out, ad.zero_of(out)
    return out, scatter_mul_p.bind(t_op, indices, updates, mode=mode)


def _scatter_mul_transpose(ct, operand, indices, updates, *, mode):
    _check_undefined_indices("scatter_mul", indices)
    if ad.is_undefined_primal(updates):
        raise NotImplementedError(_SCATTER_MUL_UPDATES_MSG)
    if type(ct) is Zero:
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, mode=mode), None, None]


ad.primitive_jvps[scatter_mul_p] = _scatter_mul_jvp
ad.primitive_transposes[scatter_mul_p] = _scatter_mul_transpose


# -- scatter_min / scatter_max

def _scatter_extremal_jvp(prim):
    """The tangent at each output element is the average of the tangents of the contributors (the
    operand element and the updates scattered there) whose value equals the result: ties are split
    evenly, as for max/min. Where the result is NaN no contributor matches and the tangent is 0.
    Linear in (t_operand, t_updates), so reverse mode works through the linear primitives used."""
    def rule(primals, tangents, *, mode):
        operand, indices, updates = primals
        t_op, _, t_up = tangents
        out = prim.bind(operand, indices, updates, mode=mode)
        if type(t_op) is Zero and type(t_up) is Zero:
            return out, ad.zero_of(out)
        out_aval = get_aval(out)
        dt = out_aval.dtype
        zero, one = _scalar(dt, 0), _scalar(dt, 1)
        if mode == "drop":  # out-of-bounds updates read NaN, so they never match
            out_at = gather_p.bind(out, indices, mode="fill", fill_value=float("nan"))
        else:
            out_at = gather_p.bind(out, indices, mode="clip", fill_value=None)
        up_win = eq(updates, out_at)
        op_win = eq(operand, out)
        zeros = full(out_aval.shape, 0, dt)
        count = add(convert_element_type(op_win, dt),
                    scatter_add_p.bind(zeros, indices, convert_element_type(up_win, dt), mode=mode))
        numer = None
        if type(t_op) is not Zero:
            numer = select_n(op_win, zero, t_op)
        if type(t_up) is not Zero:
            contrib = scatter_add_p.bind(zeros, indices, select_n(up_win, zero, t_up), mode=mode)
            numer = contrib if numer is None else add(numer, contrib)
        return out, div(numer, _max(count, one))
    return rule


for _p in (scatter_min_p, scatter_max_p):
    ad.primitive_jvps[_p] = _scatter_extremal_jvp(_p)


__all__ = ["dynamic_slice", "dynamic_slice_in_dim", "dynamic_index_in_dim", "dynamic_update_slice",
           "dynamic_update_slice_in_dim", "gather", "scatter", "scatter_add", "scatter_mul",
           "scatter_min", "scatter_max", "default_fill_value", "dynamic_slice_p",
           "dynamic_update_slice_p", "gather_p", "scatter_p", "scatter_add_p", "scatter_mul_p",
           "scatter_min_p", "scatter_max_p"]
