"""Sorting and order statistics (value semantics: sorted copies, never in place)."""
from __future__ import annotations

import numpy as np

from ..core import get_aval
from ..primitives import sorting as so
from ._promote import asarray_arg, check_arraylike
from ._reductions import canonicalize_axis


def _prep(name, a, axis):
    a = asarray_arg(a)
    check_arraylike(name, a)
    if axis is None:
        from ._shapes import ravel
        return ravel(a), 0
    return a, canonicalize_axis(axis, get_aval(a).ndim)


def sort(a, axis: int | None = -1, *, kind=None, order=None, stable=True, descending=False):
    """A sorted copy along axis (None: flattened), stable, NaNs last; `descending=True` (JAX's)
    reverses it (NaNs first). `kind` and `stable` are ignored. Value semantics: on a traced value
    the method `x.sort()` returns this copy and leaves x alone, where numpy sorts in place and
    returns None, so write `x = jnp.sort(x)`."""
    if order is not None:
        raise NotImplementedError("jnp.sort(order=...) is not supported")
    a, ax = _prep("sort", a, axis)
    if get_aval(a).ndim == 0:
        return a
    out = so.sort1(a, ax)
    if descending:
        from ._shapes import flip
        out = flip(out, ax)
    return out


def argsort(a, axis: int | None = -1, *, kind=None, order=None, stable=True, descending=False):
    """Stable argsort along axis (None: flattened), NaNs last. `descending=True` (JAX's) sorts
    the negated values, so it keeps ties in order and NaNs last, but needs a signed integer or
    float dtype: unsigned input gives a wrong order and bool raises TypeError."""
    a, ax = _prep("argsort", a, axis)
    if descending:
        from ._ufuncs import negative
        a = negative(a)
    return so.argsort(a, ax)


def quantile(a, q, axis=None, method="linear", keepdims=False):
    """Quantiles by sorting and linear interpolation. q must be concrete and only
    method='linear' is supported. NaNs are sorted last, not propagated: numpy returns NaN for
    data containing one, numbax interpolates between the smaller values."""
    from . import _ufuncs as uf
    from ._indexing import take
    from ._shapes import expand_dims, stack
    if method != "linear":
        raise NotImplementedError(f"jnp.quantile(method={method!r}): only 'linear' is supported")
    a, ax = _prep("quantile", a, axis)
    qs = np.asarray(q, np.float64)
    if ((qs < 0) | (qs > 1)).any():
        raise ValueError("Quantiles must be in the range [0, 1]")
    s = sort(a, ax)
    n = get_aval(s).shape[ax]
    outs = []
    for qi in qs.reshape(-1):
        pos = qi * (n - 1)
        lo, hi = int(np.floor(pos)), int(np.ceil(pos))
        frac = pos - lo
        lo_v, hi_v = take(s, lo, axis=ax), take(s, hi, axis=ax)
        v = uf.add(uf.multiply(lo_v, 1.0 - frac), uf.multiply(hi_v, frac))
        if keepdims:
            v = expand_dims(v, ax)
        outs.append(v)
    if qs.ndim == 0:
        return outs[0]
    from ._shapes import reshape
    out = stack(outs)
    return reshape(out, qs.shape + get_aval(out).shape[1:])


def percentile(a, q, axis=None, method="linear", keepdims=False):
    """quantile(a, q / 100): q concrete, method='linear' only, NaNs not propagated."""
    return quantile(a, np.asarray(q) / 100.0, axis, method, keepdims)


def median(a, axis=None, keepdims=False):
    """quantile(a, 0.5): NaNs are not propagated (numpy returns NaN)."""
    return quantile(a, 0.5, axis, keepdims=keepdims)


def searchsorted(a, v, side="left", sorter=None):
    """Insertion points into the sorted 1-D `a` (by counting comparisons: O(len(a) * len(v))).
    side='left' or 'right' (any other value counts as 'right'); `sorter=` raises
    NotImplementedError."""
    from . import _ufuncs as uf
    from ._reductions import sum as _sum
    from ._shapes import expand_dims
    if sorter is not None:
        raise NotImplementedError("jnp.searchsorted(sorter=...) is not supported")
    a, v = asarray_arg(a), asarray_arg(v)
    if get_aval(a).ndim != 1:
        raise ValueError("searchsorted: a must be 1-D")
    cmp = uf.less if side == "left" else uf.less_equal
    return _sum(cmp(a, expand_dims(v, -1)), axis=-1)


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           size=None, fill_value=None):
    """As numpy.unique, for concrete input only: under jit or vmap it raises
    ConcretizationTypeError (`size=` is not supported yet). The result is a constant, so under
    grad its gradient is zero, not an error."""
    from ._indexing import _concrete_value
    if size is not None:
        raise NotImplementedError("jnp.unique(size=...) is not supported yet")
    return np.unique(_concrete_value("unique", ar), return_index, return_inverse, return_counts,
                     axis)
