"""Reductions with numpy's axis/keepdims/dtype conventions, and cumulative reductions."""
from __future__ import annotations

import builtins
import operator

import numpy as np

from .. import dtypes
from ..core import get_aval
from ..primitives import elementwise as ew
from ..primitives import reductions as red
from ..primitives.shape import reshape
from ._promote import asarray_arg, cast_to, check_arraylike


def canonicalize_axis(axis, ndim: int, name: str = "axis") -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < builtins.max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise np.exceptions.AxisError(f"{name} {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim if ndim else 0


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(canonicalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"duplicate value in 'axis': {axis}")
        return axes
    return (canonicalize_axis(axis, ndim),)


def _keepdims(out, in_shape, axes):
    shape = tuple(1 if i in axes else d for i, d in enumerate(in_shape))
    return reshape(out, shape)


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    if dtype.kind == "b" or (dtype.kind == "i" and dtype.itemsize < 8):
        return dtypes.int64
    if dtype.kind == "u" and dtype.itemsize < 8:
        return dtypes.uint64
    return dtype


def _prep(name, a, dtype, where):
    a = asarray_arg(a)
    check_arraylike(name, a)
    if where is not None:
        raise NotImplementedError(f"jnp.{name}(where=...) is not supported; use jnp.where on the "
                                  "input instead")
    if dtype is not None:
        a = cast_to(a, dtypes.check_supported(dtype))
    return a


def _reduction(name, reduce_fn, accum_dtype=None, bool_ok=True, identity=None):
    def fn(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        if out is not None:
            raise NotImplementedError(f"jnp.{name}(out=...) is not supported: arrays are immutable")
        a = _prep(name, a, dtype, where)
        aval = get_aval(a)
        if dtype is None and accum_dtype is not None:
            a = cast_to(a, accum_dtype(aval.dtype), aval.weak_type)
        axes = _axes(axis, aval.ndim)
        if identity is None and builtins.any(aval.shape[i] == 0 for i in axes):
            raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
        result = reduce_fn(a, axes)
        if initial is not None:
            result = _combine_initial(name, result, initial)
        return _keepdims(result, aval.shape, axes) if keepdims else result
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"numpy.{name} over `axis` (None: all axes), traceable and differentiable; "
                  "`out=` and `where=` raise NotImplementedError.")
    return fn


def _combine_initial(name, result, initial):
    from . import _ufuncs as uf
    combine = {"sum": uf.add, "prod": uf.multiply, "max": uf.maximum, "min": uf.minimum}[name]
    return combine(result, initial)


def _reduce_sum(a, axes):
    if get_aval(a).dtype.kind == "b":
        a = cast_to(a, dtypes.int64)
    return red.reduce_sum(a, axes)


def _reduce_max(a, axes):
    return red.reduce_or(a, axes) if get_aval(a).dtype.kind == "b" else red.reduce_max(a, axes)


def _reduce_min(a, axes):
    return red.reduce_and(a, axes) if get_aval(a).dtype.kind == "b" else red.reduce_min(a, axes)


sum = _reduction("sum", _reduce_sum, _sum_dtype, identity=0)  # noqa: A001
prod = _reduction("prod", lambda a, axes: red.reduce_prod(a, axes), _sum_dtype, identity=1)
max = _reduction("max", _reduce_max)  # noqa: A001
min = _reduction("min", _reduce_min)  # noqa: A001
amax, amin = max, min


def _to_bool_array(a):
    aval = get_aval(a)
    return a if aval.dtype.kind == "b" else ew.ne(a, np.array(0, aval.dtype)[()])


def _logical_reduction(name, prim_fn):
    def fn(a, axis=None, out=None, keepdims=False, *, where=None):
        a = _prep(name, a, None, where)
        aval = get_aval(a)
        axes = _axes(axis, aval.ndim)
        r = prim_fn(_to_bool_array(a), axes)
        return _keepdims(r, aval.shape, axes) if keepdims else r
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"numpy.{name} over `axis` (None: all axes); `where=` raises NotImplementedError."
    return fn


any = _logical_reduction("any", red.reduce_or)  # noqa: A001
all = _logical_reduction("all", red.reduce_and)  # noqa: A001


def _count(shape, axes) -> int:
    return int(np.prod([shape[i] for i in axes], dtype=np.int64))


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """As numpy.mean (integers and bools average in float64); `where=` raises
    NotImplementedError and `out=` is ignored."""
    a = _prep("mean", a, dtype, where)
    aval = get_aval(a)
    if aval.dtype.kind != "f":
        a = cast_to(a, dtypes.float64, aval.weak_type)
    axes = _axes(axis, aval.ndim)
    n = _count(aval.shape, axes)
    total = red.reduce_sum(a, axes)
    r = ew.div(total, np.array(n, get_aval(total).dtype)[()])
    return _keepdims(r, aval.shape, axes) if keepdims else r


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """Variance via the centred two-pass formula (numerically stable, like numpy); `where=`
    raises NotImplementedError and `out=` is ignored."""
    if correction is not None:
        ddof = correction
    a = _prep("var", a, dtype, where)
    aval = get_aval(a)
    if aval.dtype.kind != "f":
        a = cast_to(a, dtypes.float64, aval.weak_type)
    axes = _axes(axis, aval.ndim)
    from ._ufuncs import subtract
    centred = subtract(a, mean(a, axes, keepdims=True))
    sq = ew.mul(centred, centred)
    n = _count(aval.shape, axes) - ddof
    r = ew.div(red.reduce_sum(sq, axes), np.array(n, get_aval(sq).dtype)[()])
    return _keepdims(r, aval.shape, axes) if keepdims else r


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """sqrt(var(...)): as numpy.std; `where=` raises NotImplementedError and `out=` is ignored."""
    return ew.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, correction=correction))


def _arg_reduction(name, prim_fn):
    def fn(a, axis=None, out=None, keepdims=False):
        a = asarray_arg(a)
        check_arraylike(name, a)
        aval = get_aval(a)
        if axis is None:
            if aval.size == 0:
                raise ValueError(f"attempt to get {name} of an empty sequence")
            r = prim_fn(reshape(a, (aval.size,)), 0, dtypes.int64)
            return reshape(r, (1,) * aval.ndim) if keepdims else r
        ax = canonicalize_axis(axis, aval.ndim)
        if aval.shape[ax] == 0:
            raise ValueError(f"attempt to get {name} of an empty sequence")
        r = prim_fn(a, ax, dtypes.int64)
        return _keepdims(r, aval.shape, (ax,)) if keepdims else r
    fn.__name__ = fn.__qualname__ = name
    return fn


argmax = _arg_reduction("argmax", red.argmax)
argmin = _arg_reduction("argmin", red.argmin)


def _cumulative(name, prim_fn, accum_dtype=None):
    def fn(a, axis=None, dtype=None, out=None):
        a = _prep(name, a, dtype, None)
        aval = get_aval(a)
        if dtype is None and accum_dtype is not None:
            a = cast_to(a, accum_dtype(aval.dtype), aval.weak_type)
        if axis is None:
            a = reshape(a, (aval.size,))
            axis = 0
        ax = canonicalize_axis(axis, get_aval(a).ndim)
        if get_aval(a).ndim == 0:
            a = reshape(a, (1,))
        return prim_fn(a, ax)
    fn.__name__ = fn.__qualname__ = name
    return fn


cumsum = _cumulative("cumsum", red.cumsum, _sum_dtype)
cumprod = _cumulative("cumprod", red.cumprod, _sum_dtype)
cumsum.__doc__ = cumprod.__doc__ = (
    "As numpy's, along `axis` (None: the flattened array). `cumulative_sum`/`cumulative_prod` are "
    "the same functions, so unlike numpy's they flatten when axis is None and take no "
    "`include_initial`.")
cumulative_sum, cumulative_prod = cumsum, cumprod


def ptp(a, axis=None, keepdims=False):
    return ew.sub(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def count_nonzero(a, axis=None, keepdims=False):
    return sum(_to_bool_array(asarray_arg(a)), axis, keepdims=keepdims)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """As numpy.average, but weights must have a's rank (numpy also takes 1-D weights along
    axis)."""
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        n = np.array(get_aval(asarray_arg(a)).size / np.prod(np.shape(avg) or (1,)))
        return (avg, n) if returned else avg
    from . import _ufuncs as uf
    wsum = sum(weights, axis, keepdims=keepdims) if np.ndim(weights) == np.ndim(a) else None
    if wsum is None:
        raise NotImplementedError("jnp.average with weights of a different rank than `a`")
    avg = uf.divide(sum(uf.multiply(a, weights), axis, keepdims=keepdims), wsum)
    return (avg, wsum) if returned else avg


def nansum(a, axis=None, dtype=None, keepdims=False):
    from . import _ufuncs as uf
    return sum(uf.where(uf.isnan(a), 0, a), axis, dtype, keepdims=keepdims)


def nanmean(a, axis=None, keepdims=False):
    from . import _ufuncs as uf
    a = asarray_arg(a)
    count = sum(uf.logical_not(uf.isnan(a)), axis, keepdims=keepdims)
    return uf.divide(nansum(a, axis, keepdims=keepdims), count)
