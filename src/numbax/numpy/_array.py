"""The array interface: numpy-like operators and methods on tracers, numpy-protocol dispatch
(`np.sin(tracer)` runs `jnp.sin`), and `Array`, the numpy subclass that adds `.at` eagerly."""
from __future__ import annotations

import numpy as np

from ..core import Tracer
from ._indexing import IndexUpdateHelper, getitem


def _jnp():
    from .. import numpy
    return numpy


class Array(np.ndarray):
    """A numpy array with JAX's functional update syntax, `x.at[idx].set(v)`.

    numbax's creation functions (`jnp.zeros`, `jnp.array`, `jnp.asarray`, ...) return this
    subclass so that code written for JAX works unchanged outside transformations; everything
    else treats it as a plain `numpy.ndarray`. Eager results computed from plain numpy arrays are
    plain arrays without `.at`: wrap them with `jnp.asarray(x)`. Its other methods are numpy's,
    so `x.sort()` sorts in place eagerly (on a traced value it returns a sorted copy)."""

    @property
    def at(self) -> IndexUpdateHelper:
        """`x.at[idx].set(v)` (also `add`, `subtract`, `multiply`/`mul`, `divide`, `min`,
        `max`, `get`): a new array with x[idx] updated, x unchanged. Repeated indices accumulate
        for `add`, the last write wins for `set`; `power` raises NotImplementedError."""
        return IndexUpdateHelper(np.asarray(self))

    def __getitem__(self, idx):
        # a constant indexed by a traced value (`jnp.arange(5)[i]` under jit) stages a gather
        if isinstance(idx, Tracer) or (type(idx) is tuple and
                                       any(isinstance(i, Tracer) for i in idx)):
            return getitem(np.asarray(self), idx)
        return super().__getitem__(idx)


def as_array(x):
    return x.view(Array) if type(x) is np.ndarray else x


# --------------------------------------------------------------------------- tracer methods

def _binop(name, swap=False):
    def op(self, other):
        fn = getattr(_jnp(), name)
        try:
            return fn(other, self) if swap else fn(self, other)
        except TypeError as e:
            if "requires ndarray or scalar arguments" in str(e):
                return NotImplemented
            raise
    op.__name__ = f"__{'r' if swap else ''}{name}__"
    return op


def _setitem(self, idx, value):
    raise TypeError(f"'{type(self).__name__}' object does not support item assignment. numbax "
                    "arrays are immutable. Instead of ``x[idx] = y``, use ``x = x.at[idx].set(y)``"
                    " or another .at[] method.")


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return _jnp().reshape(self, shape, order=order)


def _transpose(self, *axes):
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
        axes = axes[0]
    return _jnp().transpose(self, axes or None)


def _astype(self, dtype, copy=False):
    from .. import dtypes
    from ._promote import cast_to
    return cast_to(self, dtypes.check_supported(dtype))


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    if method != "__call__" or kwargs.get("out") is not None:
        raise NotImplementedError(f"numpy.{ufunc.__name__}.{method} is not supported on traced "
                                  "values; use numbax.numpy")
    kwargs.pop("out", None)
    name = {"true_divide": "divide", "conjugate": "conj"}.get(ufunc.__name__, ufunc.__name__)
    fn = getattr(_jnp(), name, None)
    if fn is None:
        raise NotImplementedError(f"numpy.{ufunc.__name__} is not supported by numbax on traced "
                                  "values")
    return fn(*inputs, **kwargs)


def _array_function(self, func, types, args, kwargs):
    jnp = _jnp()
    module = func.__module__ or ""
    ns = jnp.linalg if "linalg" in module else jnp
    fn = getattr(ns, func.__name__, None)
    if fn is None:
        raise NotImplementedError(f"numpy.{func.__name__} is not supported by numbax on traced "
                                  f"values; use numbax.numpy")
    return fn(*args, **kwargs)


def _method(name):
    def m(self, *args, **kwargs):
        return getattr(_jnp(), name)(self, *args, **kwargs)
    m.__name__ = name
    return m


def install_tracer_methods() -> None:
    ops = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
           "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
           "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor", "divmod": "divmod"}
    for dunder, fn in ops.items():
        setattr(Tracer, f"__{dunder}__", _binop(fn))
        setattr(Tracer, f"__r{dunder}__", _binop(fn, swap=True))
    for dunder, fn in {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                       "gt": "greater", "ge": "greater_equal"}.items():
        setattr(Tracer, f"__{dunder}__", _binop(fn))
    for dunder, fn in {"neg": "negative", "pos": "positive", "abs": "absolute",
                       "invert": "invert"}.items():
        setattr(Tracer, f"__{dunder}__", _method(fn))
    Tracer.__getitem__ = lambda self, idx: getitem(self, idx)
    Tracer.__setitem__ = _setitem
    Tracer.__array_ufunc__ = _array_ufunc
    Tracer.__array_function__ = _array_function
    Tracer.at = property(lambda self: IndexUpdateHelper(self))
    Tracer.T = property(lambda self: _jnp().transpose(self))
    Tracer.mT = property(lambda self: _jnp().matrix_transpose(self))
    Tracer.real = property(lambda self: self)
    Tracer.reshape = _reshape
    Tracer.transpose = _transpose
    Tracer.astype = _astype
    for name in ("sum", "mean", "max", "min", "prod", "any", "all", "argmax", "argmin", "cumsum",
                 "cumprod", "var", "std", "squeeze", "ravel", "dot", "clip", "round", "swapaxes",
                 "take", "sort", "argsort", "diagonal", "trace", "ptp", "conj", "conjugate",
                 "repeat", "nonzero"):
        setattr(Tracer, name, _method(name))
    Tracer.flatten = _method("ravel")
    Tracer.copy = lambda self: self
