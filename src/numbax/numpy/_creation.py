"""Array creation. Eagerly these return numpy arrays; inside a trace they become constants or,
for `*_like` of traced values and `linspace` with traced end points, staged operations."""
from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from ..core import Tracer, get_aval
from ..primitives import shape as sh
from ._array import Array, as_array
from ._promote import cast_to


def _dtype(dtype, default=None):
    if dtype is None:
        return default
    return dtypes.check_supported(dtype)


def _has_tracer(obj) -> bool:
    if isinstance(obj, Tracer):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_tracer(o) for o in obj)
    return False


def array(object, dtype=None, copy=True, order=None, ndmin=0):  # noqa: A002
    """An `Array` (numpy's array plus `.at`), always a copy; traced input, alone or nested in
    lists, gives a traced array (stacked). Object and complex data raise."""
    if isinstance(object, Tracer):
        out = object if dtype is None else cast_to(object, _dtype(dtype))
    elif isinstance(object, (list, tuple)) and _has_tracer(object):
        from ._shapes import stack
        from ._promote import promote_dtypes
        items = [array(o) for o in object]
        out = stack(promote_dtypes("array", *items)) if items else np.array([], dtype)
        if dtype is not None:
            out = cast_to(out, _dtype(dtype))
    else:
        out = np.array(object, dtype=dtype, copy=True)
        if out.dtype.kind == "O":
            raise TypeError(f"numbax cannot make an array of Python objects of type "
                            f"{type(object).__name__}")
        dtypes.check_supported(out.dtype, "array")
        out = out.view(Array)
    if ndmin and get_aval(out).ndim < ndmin:
        out = sh.reshape(out, (1,) * (ndmin - get_aval(out).ndim) + get_aval(out).shape)
    return out


def asarray(a, dtype=None, order=None, copy=None):
    """An `Array` view of a (no copy when the dtype already matches), so `.at` works on numpy
    input; traced values pass through."""
    if isinstance(a, np.ndarray) and (dtype is None or a.dtype == dtype):
        return as_array(a)
    return array(a, dtype, copy=False)


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"Shapes must be 1D sequences of concrete values of integer type, got "
                        f"{shape!r}. If using `jit`, try using `static_argnums`.") from None


def zeros(shape, dtype=None):
    return as_array(np.zeros(_shape(shape), _dtype(dtype, dtypes.float64)))


def ones(shape, dtype=None):
    return as_array(np.ones(_shape(shape), _dtype(dtype, dtypes.float64)))


def empty(shape, dtype=None):
    """zeros(shape, dtype): numbax never hands out uninitialised memory."""
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    """As numpy.full (shape static); a traced fill_value is broadcast."""
    shape = _shape(shape)
    if isinstance(fill_value, Tracer):
        aval = get_aval(fill_value)
        from ._promote import broadcast_to
        v = cast_to(fill_value, _dtype(dtype, aval.dtype))
        return broadcast_to(v, shape)
    return as_array(np.full(shape, fill_value, _dtype(dtype)))


def _like(a, value, dtype, shape):
    aval = get_aval(a)
    dtype = _dtype(dtype, aval.dtype)
    shape = aval.shape if shape is None else _shape(shape)
    if isinstance(value, Tracer):
        return full(shape, value, dtype)
    return as_array(np.full(shape, value, dtype))


def zeros_like(a, dtype=None, shape=None):
    return _like(a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None):
    return _like(a, 1, dtype, shape)


def empty_like(a, dtype=None, shape=None):
    """zeros_like(a, dtype, shape): numbax never hands out uninitialised memory."""
    return _like(a, 0, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None):
    return _like(a, fill_value, dtype, shape)


def eye(N, M=None, k=0, dtype=None):
    return as_array(np.eye(operator.index(N), None if M is None else operator.index(M),
                           operator.index(k), dtype=_dtype(dtype, dtypes.float64)))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    return as_array(np.tri(N, M, k, dtype=_dtype(dtype, dtypes.float64)))


def _concrete(name, v):
    if isinstance(v, Tracer):
        c = v.to_concrete_value()
        if c is None:
            from ..errors import ConcretizationTypeError
            raise ConcretizationTypeError(
                v._desc(), f"jnp.{name} needs concrete bounds: the output shape depends on them.\n")
        return c
    return v


def arange(start, stop=None, step=None, dtype=None):
    """As numpy.arange; the bounds must be concrete (they fix the length), so a traced bound
    raises ConcretizationTypeError under jit."""
    start = _concrete("arange", start)
    stop = _concrete("arange", stop)
    step = _concrete("arange", step)
    if stop is None:
        out = np.arange(start, dtype=dtype)
    else:
        out = np.arange(start, stop, 1 if step is None else step, dtype=dtype)
    dtypes.check_supported(out.dtype, "arange")
    return as_array(out)


def linspace(start, stop, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype=None, axis: int = 0):
    """Evenly spaced values; start/stop may be traced (num may not)."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    if not isinstance(start, Tracer) and not isinstance(stop, Tracer):
        out = np.linspace(start, stop, num, endpoint, retstep, _dtype(dtype), axis)
        return (as_array(out[0]), out[1]) if retstep else as_array(out)
    if np.ndim(start) or np.ndim(stop) or axis != 0:
        raise NotImplementedError("jnp.linspace with traced array end points is not supported")
    from . import _ufuncs as uf
    div = (num - 1) if endpoint else num
    step = uf.divide(uf.subtract(stop, start), div) if div > 0 else uf.subtract(stop, stop)
    t = np.arange(num, dtype=np.float64)
    out = uf.add(start, uf.multiply(t, step))
    if endpoint and num > 1:
        from ._indexing import at_update
        out = at_update(out, -1, stop, "set")
    if dtype is not None:
        out = cast_to(out, _dtype(dtype))
    return (out, step) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    from . import _ufuncs as uf
    return uf.power(base, linspace(start, stop, num, endpoint, dtype=None, axis=axis)) \
        if dtype is None else cast_to(uf.power(base, linspace(start, stop, num, endpoint)),
                                      _dtype(dtype))


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """As numpy.meshgrid, but returns a list (as JAX) where numpy returns a tuple."""
    from ._shapes import broadcast_to, reshape
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    xi = [reshape(array(x), (-1,)) for x in xi]
    n = len(xi)
    shapes = [get_aval(x).shape[0] for x in xi]
    if indexing == "xy" and n > 1:
        shapes[0], shapes[1] = shapes[1], shapes[0]
    out = []
    for i, x in enumerate(xi):
        pos = i
        if indexing == "xy" and n > 1 and i < 2:
            pos = 1 - i
        s = [1] * n
        s[pos] = get_aval(x).shape[0]
        v = reshape(x, tuple(s))
        out.append(v if sparse else broadcast_to(v, tuple(shapes)))
    return out
