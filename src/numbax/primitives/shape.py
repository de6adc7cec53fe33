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
