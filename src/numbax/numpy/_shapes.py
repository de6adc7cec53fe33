"""Array manipulation with numpy's names: reshape, transpose, join, split, flip, tile, ..."""
from __future__ import annotations

import builtins
import operator

import numpy as np

from .. import dtypes
from ..core import get_aval
from ..primitives import shape as sh
from ._promote import asarray_arg, broadcast_shapes, broadcast_to as _broadcast_to, \
    check_arraylike, promote_dtypes
from ._reductions import canonicalize_axis


def _arr(name, a):
    a = asarray_arg(a)
    check_arraylike(name, a)
    return a


def shape(a):
    return get_aval(asarray_arg(a)).shape


def ndim(a):
    return get_aval(asarray_arg(a)).ndim


def size(a, axis=None):
    s = shape(a)
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]


def _resolve_shape(newshape, size_: int, old_shape) -> tuple:
    if isinstance(newshape, (int, np.integer)):
        newshape = (newshape,)
    newshape = [operator.index(d) for d in newshape]
    unknown = [i for i, d in enumerate(newshape) if d == -1]
    if len(unknown) > 1:
        raise ValueError("can only specify one unknown dimension")
    if unknown:
        known = int(np.prod([d for d in newshape if d != -1], dtype=np.int64))
        if known == 0 or size_ % known:
            raise TypeError(f"cannot reshape array of shape {old_shape} (size {size_}) into shape "
                            f"{tuple(newshape)}")
        newshape[unknown[0]] = size_ // known
    return tuple(newshape)


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    """As numpy.reshape (shape static); only order='C' (others raise NotImplementedError)."""
    if order != "C":
        raise NotImplementedError(f"jnp.reshape(order={order!r}): only C order is supported")
    if shape is None:
        shape = newshape
    a = _arr("reshape", a)
    aval = get_aval(a)
    return sh.reshape(a, _resolve_shape(shape, aval.size, aval.shape))


def ravel(a, order="C"):
    """As numpy.ravel; only order='C' (others raise NotImplementedError)."""
    a = _arr("ravel", a)
    if order != "C":
        raise NotImplementedError(f"jnp.ravel(order={order!r}): only C order is supported")
    return sh.reshape(a, (get_aval(a).size,))


def transpose(a, axes=None):
    a = _arr("transpose", a)
    nd = get_aval(a).ndim
    if axes is None:
        axes = tuple(range(nd))[::-1]
    axes = tuple(canonicalize_axis(ax, nd) for ax in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"axes {axes} don't match array of dimension {nd}")
    return sh.transpose(a, axes)


def permute_dims(a, axes):
    return transpose(a, axes)


def matrix_transpose(a):
    a = _arr("matrix_transpose", a)
    nd = get_aval(a).ndim
    if nd < 2:
        raise ValueError(f"matrix_transpose requires at least 2 dimensions, got {nd}")
    return sh.transpose(a, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def swapaxes(a, axis1, axis2):
    a = _arr("swapaxes", a)
    nd = get_aval(a).ndim
    perm = list(range(nd))
    i, j = canonicalize_axis(axis1, nd), canonicalize_axis(axis2, nd)
    perm[i], perm[j] = perm[j], perm[i]
    return sh.transpose(a, perm)


def moveaxis(a, source, destination):
    a = _arr("moveaxis", a)
    nd = get_aval(a).ndim
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of "
                         "elements")
    src = [canonicalize_axis(s, nd, "source") for s in src]
    dst = [canonicalize_axis(d, nd, "destination") for d in dst]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return sh.transpose(a, order)


def squeeze(a, axis=None):
    a = _arr("squeeze", a)
    aval = get_aval(a)
    if axis is None:
        dims = tuple(i for i, d in enumerate(aval.shape) if d == 1)
    else:
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        dims = tuple(canonicalize_axis(ax, aval.ndim) for ax in axes)
        for d in dims:
            if aval.shape[d] != 1:
                raise ValueError("cannot select an axis to squeeze out which has size not equal to "
                                 f"one: axis {d} of shape {aval.shape}")
    return sh.squeeze(a, dims) if dims else a


def expand_dims(a, axis):
    a = _arr("expand_dims", a)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    nd = get_aval(a).ndim + len(axes)
    dims = tuple(sorted(canonicalize_axis(ax, nd) for ax in axes))
    if len(set(dims)) != len(dims):
        raise ValueError(f"repeated axis in expand_dims: {axis}")
    return sh.expand_dims(a, dims)


def broadcast_to(array, shape):
    array = _arr("broadcast_to", array)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _broadcast_to(array, shape)


def broadcast_arrays(*args):
    args = [_arr("broadcast_arrays", a) for a in args]
    shape_ = broadcast_shapes("broadcast_arrays", *(get_aval(a).shape for a in args))
    return [_broadcast_to(a, shape_) for a in args]


def atleast_1d(*arys):
    out = [reshape(a, (1,)) if ndim(a) == 0 else asarray_arg(a) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    out = []
    for a in arys:
        a = asarray_arg(a)
        nd = ndim(a)
        out.append(reshape(a, (1, 1)) if nd == 0 else reshape(a, (1, shape(a)[0])) if nd == 1
                   else a)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    out = []
    for a in arys:
        a = asarray_arg(a)
        s = shape(a)
        out.append(reshape(a, (1, 1, 1)) if len(s) == 0 else reshape(a, (1, s[0], 1))
                   if len(s) == 1 else reshape(a, s + (1,)) if len(s) == 2 else a)
    return out[0] if len(out) == 1 else out


# --------------------------------------------------------------------------- joining

def concatenate(arrays, axis: int | None = 0, dtype=None):
    if not isinstance(arrays, (list, tuple)) and not hasattr(arrays, "shape"):
        raise TypeError("jnp.concatenate expects a sequence of arrays")
    arrays = [asarray_arg(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    arrays = promote_dtypes("concatenate", *arrays)
    if dtype is not None:
        from ._promote import cast_to
        arrays = [cast_to(a, dtypes.check_supported(dtype)) for a in arrays]
    nd = get_aval(arrays[0]).ndim
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    ax = canonicalize_axis(axis, nd)
    for a in arrays:
        s0, s = get_aval(arrays[0]).shape, get_aval(a).shape
        if len(s) != nd or any(x != y for i, (x, y) in enumerate(zip(s0, s)) if i != ax):
            raise TypeError(f"concatenate: all input arrays must have the same shape except on "
                            f"axis {ax}, got {[get_aval(b).shape for b in arrays]}")
    arrays = [a if not isinstance(a, (int, float, bool)) else np.asarray(a) for a in arrays]
    if len(arrays) == 1:
        return arrays[0]
    return sh.concatenate(arrays, ax)


def stack(arrays, axis: int = 0, dtype=None):
    arrays = [asarray_arg(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {get_aval(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"all input arrays must have the same shape, got {sorted(shapes)}")
    nd = len(shapes.pop()) + 1
    ax = canonicalize_axis(axis, nd)
    return concatenate([expand_dims(a, ax) for a in arrays], ax, dtype)


def vstack(tup):
    return concatenate([atleast_2d(a) for a in tup], 0)


def hstack(tup):
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, 0 if ndim(arrs[0]) == 1 else 1)


def dstack(tup):
    return concatenate([atleast_3d(a) for a in tup], 2)


def column_stack(tup):
    arrs = [reshape(a, (-1, 1)) if ndim(a) < 2 else asarray_arg(a) for a in tup]
    return concatenate(arrs, 1)


# --------------------------------------------------------------------------- splitting

def split(ary, indices_or_sections, axis: int = 0):
    return _split("split", ary, indices_or_sections, axis, strict=True)


def array_split(ary, indices_or_sections, axis: int = 0):
    return _split("array_split", ary, indices_or_sections, axis, strict=False)


def _split(name, ary, sections, axis, strict):
    ary = _arr(name, ary)
    aval = get_aval(ary)
    ax = canonicalize_axis(axis, aval.ndim)
    n = aval.shape[ax]
    if isinstance(sections, (int, np.integer)):
        k = int(sections)
        if k <= 0:
            raise ValueError("number sections must be larger than 0.")
        if strict and n % k:
            raise ValueError("array split does not result in an equal division")
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        bounds = list(np.cumsum([0] + sizes))
    else:
        bounds = [0] + [builtins.min(builtins.max(int(i) if i >= 0 else n + int(i), 0), n)
                        for i in sections] + [n]
    return [sh.slice_in_dim(ary, lo, builtins.max(lo, hi), axis=ax)
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 0)


def hsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 1 if ndim(ary) > 1 else 0)


# --------------------------------------------------------------------------- rearranging

def flip(m, axis=None):
    m = _arr("flip", m)
    nd = get_aval(m).ndim
    axes = range(nd) if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))
    return sh.rev(m, tuple(sorted(canonicalize_axis(a, nd) for a in axes)))


def flipud(m):
    return flip(m, 0)


def fliplr(m):
    return flip(m, 1)


def roll(a, shift, axis=None):
    a = _arr("roll", a)
    aval = get_aval(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), aval.shape)
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    for s, ax in zip(shifts, axes):
        ax = canonicalize_axis(ax, aval.ndim)
        n = aval.shape[ax]
        if n == 0:
            continue
        s = operator.index(s) % n
        if s:
            a = sh.concatenate([sh.slice_in_dim(a, n - s, n, axis=ax),
                                sh.slice_in_dim(a, 0, n - s, axis=ax)], ax)
    return a


def tile(A, reps):
    A = _arr("tile", A)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    aval = get_aval(A)
    nd = builtins.max(len(reps), aval.ndim)
    A = reshape(A, (1,) * (nd - aval.ndim) + aval.shape)
    reps = (1,) * (nd - len(reps)) + reps
    s = get_aval(A).shape
    # broadcast to (r0, s0, r1, s1, ...) then merge pairs
    big = sh.broadcast_in_dim(A, tuple(x for pair in zip(reps, s) for x in pair),
                              tuple(range(1, 2 * nd, 2)))
    return sh.reshape(big, tuple(r * d for r, d in zip(reps, s)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    """As numpy.repeat; repeats must be concrete (an int or a numpy array), since they fix
    the output shape: traced repeats raise NotImplementedError. total_repeat_length (JAX's) is
    accepted and ignored."""
    a = _arr("repeat", a)
    if axis is None:
        a, axis = ravel(a), 0
    aval = get_aval(a)
    ax = canonicalize_axis(axis, aval.ndim)
    if isinstance(repeats, (int, np.integer)):
        r = int(repeats)
        expanded = sh.broadcast_in_dim(a, aval.shape[:ax + 1] + (r,) + aval.shape[ax + 1:],
                                       tuple(i if i <= ax else i + 1 for i in range(aval.ndim)))
        return sh.reshape(expanded, aval.shape[:ax] + (aval.shape[ax] * r,) + aval.shape[ax + 1:])
    if hasattr(repeats, "_trace"):
        raise NotImplementedError("jnp.repeat with traced repeats is not supported (the output "
                                  "shape would depend on traced values)")
    idx = np.repeat(np.arange(aval.shape[ax]), np.asarray(repeats))
    from ._indexing import take
    return take(a, idx, axis=ax)


def diagonal(a, offset=0, axis1=0, axis2=1):
    a = _arr("diagonal", a)
    aval = get_aval(a)
    i1, i2 = canonicalize_axis(axis1, aval.ndim), canonicalize_axis(axis2, aval.ndim)
    rest = [i for i in range(aval.ndim) if i not in (i1, i2)]
    a = sh.transpose(a, rest + [i1, i2])
    n, m = aval.shape[i1], aval.shape[i2]
    rows = np.arange(builtins.max(0, -offset), builtins.min(n, m - offset))
    idx = (Ellipsis, rows, rows + offset)
    from ._indexing import getitem
    return getitem(a, idx)


def diag(v, k=0):
    v = _arr("diag", v)
    aval = get_aval(v)
    if aval.ndim == 1:
        n = aval.shape[0] + abs(k)
        from ._creation import zeros
        rows = np.arange(aval.shape[0]) + builtins.max(0, -k)
        from ._indexing import at_update
        return at_update(zeros((n, n), aval.dtype), (rows, rows + k), v, "set")
    if aval.ndim == 2:
        return diagonal(v, k)
    raise ValueError("Input must be 1- or 2-d.")


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    from ._reductions import sum as _sum
    return _sum(diagonal(a, offset, axis1, axis2), -1, dtype=dtype)


def _tri_mask(shape_, k, lower):
    n, m = shape_[-2], shape_[-1]
    return np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)


def tril(m, k=0):
    m = _arr("tril", m)
    from ._ufuncs import where
    return where(_tri_mask(get_aval(m).shape, k, True), m, np.zeros((), get_aval(m).dtype))


def triu(m, k=0):
    m = _arr("triu", m)
    from ._ufuncs import where
    return where(_tri_mask(get_aval(m).shape, k, False), m, np.zeros((), get_aval(m).dtype))


def pad(array, pad_width, mode="constant", *, constant_values=0):
    """As numpy.pad with mode='constant' and one scalar constant_values; other modes and
    per-axis values raise NotImplementedError."""
    array = _arr("pad", array)
    aval = get_aval(array)
    if mode != "constant":
        raise NotImplementedError(f"jnp.pad(mode={mode!r}): only mode='constant' is supported")
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (aval.ndim, 2))
    if (pw < 0).any():
        raise ValueError("index can't contain negative values")
    from ._promote import cast_to
    value = cast_to(asarray_arg(constant_values), aval.dtype)
    if get_aval(value).shape != ():
        raise NotImplementedError("jnp.pad with per-axis constant_values is not supported")
    return sh.pad(array, value, tuple((int(lo), int(hi), 0) for lo, hi in pw))
