"""Shape primitives: broadcasting, reshaping, transposition and friends, beside their rules."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..core import Primitive, ShapedArray, get_aval
from ..interpreters import ad, batching
from ..interpreters.ad import Zero


def _copy(x):
    """A fresh writable array: eager results may be mutated by users, views must not leak."""
    out = np.empty(x.shape, x.dtype)
    np.copyto(out, x)
    return out


def _linear_transpose(fn):
    """Transpose rule for a unary linear primitive: fn(ct, aval_of_operand, **params)."""
    def rule(ct, x, **params):
        if type(ct) is Zero:
            return [None]
        return [fn(ct, x.aval, **params)]
    return rule


# --------------------------------------------------------------------------- broadcast_in_dim

broadcast_in_dim_p = Primitive("broadcast_in_dim")


def broadcast_in_dim(x, shape, broadcast_dimensions):
    shape, bdims = tuple(int(d) for d in shape), tuple(int(d) for d in broadcast_dimensions)
    if get_aval(x).shape == shape and bdims == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bdims)


def full(shape, fill_value, dtype=None):
    """An array of `shape` filled with `fill_value` (a scalar, possibly traced)."""
    shape = tuple(int(d) for d in shape)
    if dtype is not None:
        dtype = dtypes.check_supported(dtype)
        aval = get_aval(fill_value)
        if aval.dtype != dtype or aval.weak_type:
            from .elementwise import convert_element_type
            if isinstance(fill_value, (int, float, bool, np.generic, np.ndarray)):
                fill_value = np.array(fill_value, dtype)[()]
            else:
                fill_value = convert_element_type(fill_value, dtype)
    if get_aval(fill_value).shape != ():
        raise TypeError(f"full: fill_value must be a scalar, got shape {get_aval(fill_value).shape}")
    if not shape:
        return fill_value
    return broadcast_in_dim_p.bind(fill_value, shape=shape, broadcast_dimensions=())


@broadcast_in_dim_p.def_impl
def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    x = np.asarray(x)
    if x.ndim == 0:
        return np.full(shape, x, x.dtype)
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return _copy(np.broadcast_to(x.reshape(expanded), shape))


@broadcast_in_dim_p.def_abstract_eval
def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim or len(set(broadcast_dimensions)) != x.ndim or \
            any(not 0 <= d < len(shape) for d in broadcast_dimensions) or \
            list(broadcast_dimensions) != sorted(broadcast_dimensions):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} are invalid "
                        f"for an operand of shape {x.shape} and result shape {shape}")
    for i, d in enumerate(broadcast_dimensions):
        if x.shape[i] not in (1, shape[d]):
            raise TypeError(f"broadcast_in_dim: operand shape {x.shape} cannot be broadcast to "
                            f"{shape} along dimensions {broadcast_dimensions}")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_transpose(ct, aval, *, shape, broadcast_dimensions):
    from .reductions import reduce_sum
    new_dims = tuple(d for d in range(len(shape)) if d not in broadcast_dimensions)
    expanded = tuple(d for i, d in enumerate(broadcast_dimensions)
                     if aval.shape[i] == 1 and shape[d] != 1)
    out = reduce_sum(ct, tuple(sorted(new_dims + expanded)))
    return reshape(out, aval.shape) if expanded else out


def _broadcast_in_dim_batch(axis_size, vals, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = vals, dims
    x = batching.moveaxis(x, d, 0)
    return broadcast_in_dim_p.bind(x, shape=(axis_size,) + shape,
                                   broadcast_dimensions=(0,) + tuple(b + 1 for b in
                                                                     broadcast_dimensions)), 0


ad.deflinear(broadcast_in_dim_p, _linear_transpose(_broadcast_in_dim_transpose))
batching.primitive_batchers[broadcast_in_dim_p] = _broadcast_in_dim_batch


# --------------------------------------------------------------------------- reshape

reshape_p = Primitive("reshape")


def reshape(x, new_sizes):
    new_sizes = tuple(int(d) for d in new_sizes)
    if get_aval(x).shape == new_sizes:
        return x
    return reshape_p.bind(x, new_sizes=new_sizes)


@reshape_p.def_impl
def _reshape_impl(x, *, new_sizes):
    return np.reshape(x, new_sizes)


@reshape_p.def_abstract_eval
def _reshape_abstract_eval(x, *, new_sizes):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size or any(d < 0 for d in new_sizes):
        raise TypeError(f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) "
                        f"into shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_batch(axis_size, vals, dims, *, new_sizes):
    x = batching.moveaxis(vals[0], dims[0], 0)
    return reshape_p.bind(x, new_sizes=(axis_size,) + new_sizes), 0


ad.deflinear(reshape_p, _linear_transpose(lambda ct, aval, new_sizes: reshape(ct, aval.shape)))
batching.primitive_batchers[reshape_p] = _reshape_batch


# --------------------------------------------------------------------------- transpose

transpose_p = Primitive("transpose")


def transpose(x, permutation):
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


@transpose_p.def_impl
def _transpose_impl(x, *, permutation):
    return np.transpose(x, permutation)


@transpose_p.def_abstract_eval
def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose: permutation {permutation} is not a permutation of the axes "
                        f"of an array of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def _transpose_batch(axis_size, vals, dims, *, permutation):
    (x,), (d,) = vals, dims
    perm = [p if p < d else p + 1 for p in permutation]
    perm.insert(0, d)
    return transpose_p.bind(x, permutation=tuple(perm)), 0


ad.deflinear(transpose_p, _linear_transpose(
    lambda ct, aval, permutation: transpose(ct, tuple(np.argsort(permutation)))))
batching.primitive_batchers[transpose_p] = _transpose_batch


# --------------------------------------------------------------------------- helpers (shared)

import builtins as _builtins  # noqa: E402  (`slice` below shadows the builtin in this module)


def _fresh(x):
    """A fresh result: a copied array, or a numpy scalar for rank 0."""
    out = np.array(x, copy=True)
    return out[()] if out.ndim == 0 else out


def _canonical_dims(name, dims, ndim):
    """Axes normalised to [0, ndim), sorted, without duplicates (TypeError otherwise)."""
    if isinstance(dims, (int, np.integer)):
        dims = (dims,)
    out = []
    for d in dims:
        d = int(d)
        if not -ndim <= d < ndim:
            raise TypeError(f"{name}: axis {d} is out of range for an array of rank {ndim}")
        out.append(d % ndim)
    if len(set(out)) != len(out):
        raise TypeError(f"{name}: repeated axes in {tuple(dims)}")
    return tuple(sorted(out))


def _shift_dims(dims, bd):
    """Axes of the unbatched value, renumbered for a value with a batch axis at `bd`."""
    return tuple(d + 1 if d >= bd else d for d in dims)


def _scalar_of(dtype, v):
    return np.array(v, dtype)[()]


def _checked_impl(prim):
    """Register an impl that first runs the abstract evaluation, so eager calls raise the same
    TypeErrors as staged ones (the eval trace calls impls directly)."""
    def register(fn):
        def impl(*args, **params):
            prim.abstract_eval(*[get_aval(a) for a in args], **params)
            return fn(*args, **params)
        prim.def_impl(impl)
        return fn
    return register


# --------------------------------------------------------------------------- squeeze, expand_dims

squeeze_p = Primitive("squeeze")


def squeeze(x, dimensions):
    """Remove the size-1 axes `dimensions`."""
    aval = get_aval(x)
    dims = _canonical_dims("squeeze", dimensions, aval.ndim)
    if not dims:
        return x
    return squeeze_p.bind(x, dimensions=dims)


@_checked_impl(squeeze_p)
def _squeeze_impl(x, *, dimensions):
    return _fresh(np.squeeze(np.asarray(x), axis=dimensions))


@squeeze_p.def_abstract_eval
def _squeeze_abstract_eval(x, *, dimensions):
    if any(not 0 <= d < x.ndim or x.shape[d] != 1 for d in dimensions) or \
            len(set(dimensions)) != len(dimensions):
        raise TypeError(f"squeeze: dimensions {dimensions} must be distinct axes of size 1 of the "
                        f"operand, whose shape is {x.shape}")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dimensions), x.dtype,
                       x.weak_type)


def _squeeze_batch(axis_size, vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    new_dims = tuple(a if a < d else a + 1 for a in dimensions)
    return squeeze_p.bind(x, dimensions=new_dims), d - sum(a < d for a in dimensions)


ad.deflinear(squeeze_p, _linear_transpose(lambda ct, aval, dimensions: reshape(ct, aval.shape)))
batching.primitive_batchers[squeeze_p] = _squeeze_batch


def expand_dims(x, dimensions):
    """Insert size-1 axes at `dimensions` (positions in the result, negative counted from its end);
    a reshape, so no primitive of its own."""
    aval = get_aval(x)
    if isinstance(dimensions, (int, np.integer)):
        dimensions = (dimensions,)
    dims = _canonical_dims("expand_dims", dimensions, aval.ndim + len(tuple(dimensions)))
    shape = list(aval.shape)
    for d in dims:
        shape.insert(d, 1)
    return reshape(x, shape)


# --------------------------------------------------------------------------- concatenate

concatenate_p = Primitive("concatenate")


def concatenate(operands, dimension):
    """Join arrays of equal rank and dtype along `dimension` (their other axes must agree)."""
    operands = list(operands)
    if not operands:
        raise TypeError("concatenate: needs at least one operand")
    ndim = get_aval(operands[0]).ndim
    if ndim == 0:
        raise TypeError("concatenate: operands must have rank >= 1, got a scalar")
    (dimension,) = _canonical_dims("concatenate", (dimension,), ndim)
    if len(operands) == 1:
        return operands[0]
    return concatenate_p.bind(*operands, dimension=dimension)


@_checked_impl(concatenate_p)
def _concatenate_impl(*operands, dimension):
    return np.concatenate([np.asarray(o) for o in operands], axis=dimension)


@concatenate_p.def_abstract_eval
def _concatenate_abstract_eval(*operands, dimension):
    shapes = ", ".join(str(o.shape) for o in operands)
    if not operands:
        raise TypeError("concatenate: needs at least one operand")
    first = operands[0]
    if not 0 <= dimension < first.ndim:
        raise TypeError(f"concatenate: dimension {dimension} is out of range for operands of "
                        f"shapes {shapes}")
    for o in operands:
        if o.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(o.shape, first.shape))
                                       if i != dimension):
            raise TypeError(f"concatenate: operands must have equal shapes except along dimension "
                            f"{dimension}, got shapes {shapes}")
        if o.dtype != first.dtype:
            raise TypeError("concatenate: operands must have the same dtype, got "
                            + ", ".join(dtypes.short_name(a.dtype) for a in operands))
    shape = list(first.shape)
    shape[dimension] = sum(o.shape[dimension] for o in operands)
    return ShapedArray(tuple(shape), first.dtype, all(o.weak_type for o in operands))


def _concatenate_transpose(ct, *operands, dimension):
    if type(ct) is Zero:
        return [None] * len(operands)
    outs, start = [], 0
    ct_shape = get_aval(ct).shape
    for o in operands:
        size = (o.aval if ad.is_undefined_primal(o) else get_aval(o)).shape[dimension]
        if ad.is_undefined_primal(o):
            starts = [0] * len(ct_shape)
            limits = list(ct_shape)
            starts[dimension], limits[dimension] = start, start + size
            outs.append(slice(ct, starts, limits))
        else:
            outs.append(None)
        start += size
    return outs


def _concatenate_batch(axis_size, vals, dims, *, dimension):
    vals = [batching.bdim_at_front(v, d, axis_size) for v, d in zip(vals, dims)]
    return concatenate_p.bind(*vals, dimension=dimension + 1), 0


ad.deflinear(concatenate_p, _concatenate_transpose)
batching.primitive_batchers[concatenate_p] = _concatenate_batch


# --------------------------------------------------------------------------- pad

pad_p = Primitive("pad")


def _canonical_padding_config(config, ndim):
    try:
        config = tuple((int(lo), int(hi), int(interior)) for lo, hi, interior in config)
    except (TypeError, ValueError):
        raise TypeError(f"pad: padding_config must be a sequence of (low, high, interior) triples, "
                        f"got {config!r}") from None
    if len(config) != ndim:
        raise TypeError(f"pad: padding_config has {len(config)} entries for an operand of rank "
                        f"{ndim}")
    return config


def pad(x, padding_value, padding_config):
    """Pad `x` with the scalar `padding_value`: (low, high, interior) per axis, as lax.pad; low and
    high may be negative (they then remove elements)."""
    aval = get_aval(x)
    config = _canonical_padding_config(padding_config, aval.ndim)
    pv_aval = get_aval(padding_value)
    if pv_aval.dtype != aval.dtype or pv_aval.weak_type:
        if isinstance(padding_value, (int, float, bool, np.generic, np.ndarray)):
            padding_value = np.array(padding_value, aval.dtype)[()]
        elif pv_aval.weak_type or pv_aval.dtype != aval.dtype:
            from .elementwise import convert_element_type
            padding_value = convert_element_type(padding_value, aval.dtype)
    if all(c == (0, 0, 0) for c in config):
        return x
    return pad_p.bind(x, padding_value, padding_config=config)


def _pad_shape(shape, config):
    return tuple(lo + hi + d + max(d - 1, 0) * interior
                 for d, (lo, hi, interior) in zip(shape, config))


@_checked_impl(pad_p)
def _pad_impl(x, padding_value, *, padding_config):
    x = np.asarray(x)
    big = [max(lo, 0) + max(hi, 0) + d + max(d - 1, 0) * interior
           for d, (lo, hi, interior) in zip(x.shape, padding_config)]
    out = np.full(big, padding_value, x.dtype)
    inner = tuple(_builtins.slice(max(lo, 0), max(lo, 0) + d + max(d - 1, 0) * interior,
                                  interior + 1)
                  for d, (lo, hi, interior) in zip(x.shape, padding_config))
    out[inner] = x
    crop = tuple(_builtins.slice(-min(lo, 0), b + min(hi, 0))
                 for b, (lo, hi, _) in zip(big, padding_config))
    return _fresh(out[crop])


@pad_p.def_abstract_eval
def _pad_abstract_eval(x, padding_value, *, padding_config):
    if padding_value.shape != ():
        raise TypeError(f"pad: padding_value must be a scalar, got shape {padding_value.shape} "
                        f"(operand shape {x.shape})")
    if padding_value.dtype != x.dtype:
        raise TypeError(f"pad: padding_value dtype {dtypes.short_name(padding_value.dtype)} must "
                        f"equal the operand dtype {dtypes.short_name(x.dtype)}")
    if len(padding_config) != x.ndim or any(len(c) != 3 for c in padding_config):
        raise TypeError(f"pad: padding_config {padding_config} must have one (low, high, interior) "
                        f"triple per axis of the operand, whose shape is {x.shape}")
    if any(interior < 0 for _, _, interior in padding_config):
        raise TypeError(f"pad: interior padding must be >= 0, got {padding_config}")
    shape = _pad_shape(x.shape, padding_config)
    if any(d < 0 for d in shape):
        raise TypeError(f"pad: padding_config {padding_config} applied to shape {x.shape} gives "
                        f"the negative shape {shape}")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _pad_transpose(ct, x, padding_value, *, padding_config):
    if type(ct) is Zero:
        return [None, None]
    from .elementwise import sub
    from .reductions import reduce_sum
    ct_aval = get_aval(ct)
    zero = _scalar_of(ct_aval.dtype, 0)
    unpad = tuple((-lo, -hi, 0) for lo, hi, _ in padding_config)
    unpadded = pad(ct, zero, unpad)
    u_shape = get_aval(unpadded).shape
    t_x = slice(unpadded, (0,) * len(u_shape), u_shape,
                tuple(interior + 1 for _, _, interior in padding_config))
    t_pv = None
    if ad.is_undefined_primal(padding_value):
        t_pv = sub(reduce_sum(ct, tuple(range(ct_aval.ndim))),
                   reduce_sum(t_x, tuple(range(ct_aval.ndim))))
    return [t_x if ad.is_undefined_primal(x) else None, t_pv]


def _pad_batch(axis_size, vals, dims, *, padding_config):
    (x, pv), (xd, pvd) = vals, dims
    if pvd is batching.not_mapped:
        config = list(padding_config)
        config.insert(xd, (0, 0, 0))
        return pad_p.bind(x, pv, padding_config=tuple(config)), xd
    # a batched padding value: pad with zeros, then select the padding value where the mask says
    from .elementwise import select_n
    x = batching.bdim_at_front(x, xd, axis_size)
    pv = batching.moveaxis(pv, pvd, 0)
    x_aval = get_aval(x)
    padded = pad_p.bind(x, _scalar_of(x_aval.dtype, 0),
                        padding_config=((0, 0, 0),) + tuple(padding_config))
    out_shape = get_aval(padded).shape
    mask = pad(full(x_aval.shape[1:], True, dtypes.bool_), False, padding_config)
    mask = broadcast_in_dim(mask, out_shape, tuple(range(1, len(out_shape))))
    pv_b = broadcast_in_dim(pv, out_shape, (0,))
    return select_n(mask, pv_b, padded), 0


ad.deflinear(pad_p, _pad_transpose)
batching.primitive_batchers[pad_p] = _pad_batch


# --------------------------------------------------------------------------- rev

rev_p = Primitive("rev")


def rev(x, dimensions):
    """Reverse the order of elements along `dimensions`."""
    dims = _canonical_dims("rev", dimensions, get_aval(x).ndim)
    if not dims:
        return x
    return rev_p.bind(x, dimensions=dims)


@_checked_impl(rev_p)
def _rev_impl(x, *, dimensions):
    return _fresh(np.flip(np.asarray(x), axis=dimensions))


@rev_p.def_abstract_eval
def _rev_abstract_eval(x, *, dimensions):
    if any(not 0 <= d < x.ndim for d in dimensions) or len(set(dimensions)) != len(dimensions):
        raise TypeError(f"rev: dimensions {dimensions} are not distinct axes of an operand of "
                        f"shape {x.shape}")
    return x


def _rev_batch(axis_size, vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    return rev_p.bind(x, dimensions=_shift_dims(dimensions, d)), d


ad.deflinear(rev_p, _linear_transpose(lambda ct, aval, dimensions: rev(ct, dimensions)))
batching.primitive_batchers[rev_p] = _rev_batch


# --------------------------------------------------------------------------- iota

iota_p = Primitive("iota")


def broadcasted_iota(dtype, shape, dimension):
    """An array of `shape` whose values count 0, 1, ... along `dimension`."""
    dtype = dtypes.check_supported(dtype)
    shape = tuple(int(d) for d in shape)
    (dimension,) = _canonical_dims("broadcasted_iota", (dimension,), len(shape))
    return iota_p.bind(dtype=dtype, shape=shape, dimension=dimension)


def iota(dtype, size):
    """[0, 1, ..., size - 1] as a rank-1 array of `dtype`."""
    return broadcasted_iota(dtype, (int(size),), 0)


@_checked_impl(iota_p)
def _iota_impl(*, dtype, shape, dimension):
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return _copy(np.broadcast_to(np.arange(shape[dimension], dtype=dtype).reshape(expanded), shape))


@iota_p.def_abstract_eval
def _iota_abstract_eval(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape) or any(d < 0 for d in shape):
        raise TypeError(f"iota: dimension {dimension} is invalid for shape {shape}")
    if dtype.kind not in "iuf":
        raise TypeError(f"iota: dtype must be numeric, got {dtype}")
    return ShapedArray(shape, dtype)


ad.defjvp_zero(iota_p)
# iota has no operands, so a batch trace never processes it; this rule is only for completeness
batching.primitive_batchers[iota_p] = lambda axis_size, vals, dims, **params: (
    iota_p.bind(**params), batching.not_mapped)


# --------------------------------------------------------------------------- slice

slice_p = Primitive("slice")


def slice(x, start_indices, limit_indices, strides=None):  # noqa: A001 (lax's name)
    """x[start:limit:stride] along every axis (static bounds, as lax.slice)."""
    aval = get_aval(x)
    start = tuple(int(s) for s in start_indices)
    limit = tuple(int(s) for s in limit_indices)
    strides = None if strides is None else tuple(int(s) for s in strides)
    if strides is not None and all(s == 1 for s in strides):
        strides = None
    if strides is None and start == (0,) * aval.ndim and limit == aval.shape:
        return x
    return slice_p.bind(x, start_indices=start, limit_indices=limit, strides=strides)


def _slice_shape(start, limit, strides):
    strides = strides or (1,) * len(start)
    return tuple(max(0, -(-(hi - lo) // st)) for lo, hi, st in zip(start, limit, strides))


@_checked_impl(slice_p)
def _slice_impl(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * len(start_indices)
    idx = tuple(_builtins.slice(lo, hi, st)
                for lo, hi, st in zip(start_indices, limit_indices, strides))
    return _fresh(np.asarray(x)[idx])


@slice_p.def_abstract_eval
def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
    n = x.ndim
    if len(start_indices) != n or len(limit_indices) != n or \
            (strides is not None and len(strides) != n):
        raise TypeError(f"slice: start_indices {start_indices}, limit_indices {limit_indices} and "
                        f"strides {strides} must have one entry per axis of the operand, whose "
                        f"shape is {x.shape}")
    if any(not 0 <= lo <= hi <= d for lo, hi, d in zip(start_indices, limit_indices, x.shape)):
        raise TypeError(f"slice: need 0 <= start <= limit <= dim on every axis, got start_indices "
                        f"{start_indices} and limit_indices {limit_indices} for an operand of "
                        f"shape {x.shape}")
    if strides is not None and any(s < 1 for s in strides):
        raise TypeError(f"slice: strides must be >= 1, got {strides} (operand shape {x.shape})")
    return ShapedArray(_slice_shape(start_indices, limit_indices, strides), x.dtype, x.weak_type)


def _slice_transpose(ct, aval, *, start_indices, limit_indices, strides):
    ct_shape = get_aval(ct).shape
    if strides is None:
        config = tuple((lo, d - hi, 0) for lo, hi, d in zip(start_indices, limit_indices,
                                                             aval.shape))
    else:
        real_limits = [lo + (0 if n == 0 else 1 + (n - 1) * st)
                       for lo, n, st in zip(start_indices, ct_shape, strides)]
        config = tuple((lo, d - hi, st - 1) for lo, hi, d, st in zip(start_indices, real_limits,
                                                                      aval.shape, strides))
    return pad(ct, _scalar_of(get_aval(ct).dtype, 0), config)


def _slice_batch(axis_size, vals, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = vals, dims
    start, limit = list(start_indices), list(limit_indices)
    start.insert(d, 0)
    limit.insert(d, axis_size)
    if strides is not None:
        strides = list(strides)
        strides.insert(d, 1)
        strides = tuple(strides)
    return slice_p.bind(x, start_indices=tuple(start), limit_indices=tuple(limit),
                        strides=strides), d


ad.deflinear(slice_p, _linear_transpose(_slice_transpose))
batching.primitive_batchers[slice_p] = _slice_batch


def _normalize_in_dim(index, size):
    index = int(index)
    return index + size if index < 0 else index


def slice_in_dim(x, start, limit, stride=1, axis=0):
    """x[start:limit:stride] along `axis` (None bounds mean the ends; negative ones count from the
    end, as lax.slice_in_dim)."""
    aval = get_aval(x)
    (axis,) = _canonical_dims("slice_in_dim", (axis,), aval.ndim)
    size = aval.shape[axis]
    start = 0 if start is None else _normalize_in_dim(start, size)
    limit = size if limit is None else _normalize_in_dim(limit, size)
    starts, limits, strides = [0] * aval.ndim, list(aval.shape), [1] * aval.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, int(stride)
    return slice(x, starts, limits, strides)


def index_in_dim(x, index, axis=0, keepdims=True):
    """x[index] along `axis` (a static index; negative counts from the end), keeping the axis with
    size 1 unless keepdims is False."""
    aval = get_aval(x)
    (axis,) = _canonical_dims("index_in_dim", (axis,), aval.ndim)
    size = aval.shape[axis]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {size}")
    index %= size
    out = slice_in_dim(x, index, index + 1, 1, axis)
    return out if keepdims else squeeze(out, (axis,))
