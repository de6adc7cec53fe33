"""The tracing core: abstract values, primitives, traces and tracers.

numbax uses the *stackless* design of modern JAX (autodidax2): there is one current trace, held
per thread. `Primitive.bind` hands the operation to it; a trace unpacks the arguments that are its
own tracers, treats everything else as a constant, and runs its rule with its *parent* trace
current, so the rule's own binds go to the parent. The bottom trace is `EvalTrace`, which calls
the primitive's numpy implementation.
"""
from __future__ import annotations

import itertools
import threading
from typing import Callable

import numpy as np

from . import dtypes
from .errors import (ConcretizationTypeError, TracerArrayConversionError,
                     TracerBoolConversionError, TracerIntegerConversionError,
                     UnexpectedTracerError)


# --------------------------------------------------------------------------- abstract values

class ShapedArray:
    """The abstract value of an array: shape, dtype and weak type (Python-scalar-ness)."""
    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: tuple[int, ...], dtype, weak_type: bool = False):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> "ShapedArray":
        return ShapedArray(self.shape, self.dtype) if self.weak_type else self

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __eq__(self, other):
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self):
        return f"ShapedArray({self.str_short()}{', weak_type=True' if self.weak_type else ''})"


_F64_WEAK = ShapedArray((), dtypes.float64, True)
_I64_WEAK = ShapedArray((), dtypes.int64, True)
_BOOL_SCALAR = ShapedArray((), dtypes.bool_, False)
_aval_cache: dict = {}


#: array types that live on an accelerator (registered by a backend when it loads); anything
#: with `__cuda_array_interface__` counts too. Their shape and dtype are read without a copy.
DEVICE_ARRAY_TYPES: tuple = ()


def register_device_array_type(types: tuple) -> None:
    global DEVICE_ARRAY_TYPES
    DEVICE_ARRAY_TYPES = tuple(dict.fromkeys(DEVICE_ARRAY_TYPES + tuple(types)))


def get_aval(x) -> ShapedArray:
    """The abstract value of a tracer, a numpy value or a Python scalar."""
    if isinstance(x, Tracer):
        return x.aval
    t = type(x)
    if t is float:
        return _F64_WEAK
    if t is int:
        if not -2**63 <= x < 2**63:
            raise OverflowError(f"Python int {x} is too large to convert to int64")
        return _I64_WEAK
    if t is bool:
        return _BOOL_SCALAR
    if isinstance(x, (np.ndarray, np.generic)):
        key = (x.shape, x.dtype)
        aval = _aval_cache.get(key)
        if aval is None:
            dtypes.check_supported(x.dtype)
            aval = _aval_cache[key] = ShapedArray(x.shape, x.dtype)
        return aval
    if isinstance(x, complex):
        dtypes.check_supported(np.complex128)
    if isinstance(x, DEVICE_ARRAY_TYPES) or hasattr(x, "__cuda_array_interface__"):
        dtypes.check_supported(np.dtype(x.dtype))
        return ShapedArray(tuple(x.shape), np.dtype(x.dtype))
    if hasattr(x, "__array__") and not isinstance(x, (list, tuple)):
        return get_aval(np.asarray(x))
    raise TypeError(f"Value {x!r} of type {type(x).__name__} is not a valid numbax array: pass a "
                    "numpy array, a Python/numpy scalar, or a pytree of them.")


def is_concrete(x) -> bool:
    return not isinstance(x, Tracer) or x.to_concrete_value() is not None


def concrete_value(x):
    """x as a numpy value if known at trace time, else None."""
    return x.to_concrete_value() if isinstance(x, Tracer) else x


# --------------------------------------------------------------------------- primitives

_PRIMITIVES: dict[str, "Primitive"] = {}


def primitive_named(name: str) -> "Primitive":
    """The primitive called name (all of numbax's are registered once numbax is imported)."""
    if name not in _PRIMITIVES:
        import numbax  # noqa: F401  (defines every primitive)
    try:
        return _PRIMITIVES[name]
    except KeyError:
        raise ValueError(f"no numbax primitive is named {name!r} in this process (was the "
                         f"program pickled by a different version of numbax?)") from None


class Primitive:
    """A named operation. Arrays are positional arguments of `bind`; params are hashable keywords.

    `impl` computes with numpy, `abstract_eval` maps avals to avals. Transformation rules live in
    registries of the interpreters and are registered next to each primitive's definition.
    """
    multiple_results = False

    def __init__(self, name: str, multiple_results: bool = False):
        if name in _PRIMITIVES:
            raise ValueError(f"a primitive named {name!r} exists already")
        self.name = name
        self.multiple_results = multiple_results
        self.impl: Callable | None = None
        self.abstract_eval: Callable | None = None
        _PRIMITIVES[name] = self

    def __reduce__(self):
        # by name: a pickled jaxpr names its primitives, the receiving process has their rules
        return primitive_named, (self.name,)

    def bind(self, *args, **params):
        return _state.trace.process_primitive(self, args, params)

    def def_impl(self, fn):
        self.impl = fn
        return fn

    def def_abstract_eval(self, fn):
        self.abstract_eval = fn
        return fn

    def __repr__(self):
        return self.name


# --------------------------------------------------------------------------- traces

class Trace:
    """Processes primitives applied to its tracers; `parent` receives everything it emits."""
    _counter = itertools.count()

    def __init__(self, parent: "Trace | None"):
        self.parent = parent
        self.alive = True
        self.id = next(Trace._counter)

    def process_primitive(self, prim: Primitive, args: tuple, params: dict):
        raise NotImplementedError

    def invalidate(self):
        self.alive = False

    def check_foreign(self, x: "Tracer"):
        """x is a tracer of another trace: fine if that trace is alive (an ancestor)."""
        if not x._trace.alive:
            raise UnexpectedTracerError(
                f"Encountered an unexpected tracer {x.aval.str_short()} from a "
                f"{type(x._trace).__name__} that has already finished.")

    def concretization_context(self, tracer: "Tracer") -> str:
        return ""


class EvalTrace(Trace):
    """The bottom of every trace chain: evaluates primitives with numpy."""

    def process_primitive(self, prim, args, params):
        for a in args:
            if isinstance(a, Tracer):
                raise UnexpectedTracerError(
                    f"Encountered an unexpected tracer {a.aval.str_short()} in primitive "
                    f"'{prim.name}' outside of any transformation.")
        return prim.impl(*args, **params)


eval_trace = EvalTrace(None)


class _State(threading.local):
    def __init__(self):
        self.trace = eval_trace


_state = _State()


def current_trace() -> Trace:
    return _state.trace


class set_current_trace:
    """Context manager making `trace` current (rules use it to run on their parent)."""
    __slots__ = ("trace", "prev")

    def __init__(self, trace: Trace):
        self.trace = trace

    def __enter__(self):
        self.prev = _state.trace
        _state.trace = self.trace
        return self.trace

    def __exit__(self, *exc):
        _state.trace = self.prev


class new_trace(set_current_trace):
    """Make `trace` current for a transformation's body; it dies (for leak detection) on exit."""
    __slots__ = ()

    def __exit__(self, *exc):
        _state.trace = self.prev
        self.trace.invalidate()


def call_on(trace: Trace, fn, *args, **kwargs):
    prev = _state.trace
    _state.trace = trace
    try:
        return fn(*args, **kwargs)
    finally:
        _state.trace = prev


# --------------------------------------------------------------------------- tracers

class Tracer:
    """A value being traced. Operators and methods are installed by `numbax.numpy`."""
    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    def to_concrete_value(self):
        """The numpy value if known at trace time, else None."""
        return None

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: len(self.aval.shape))
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.aval.shape[0]

    def _desc(self):
        return self.aval.str_short()

    def __reduce__(self):
        raise TypeError(
            f"cannot pickle a traced value ({self._desc()}): a function that closes over a "
            f"value of a transformation being traced cannot be sent to another process. Pass the "
            f"value as an argument instead.")

    def _concrete_or(self, err_cls):
        v = self.to_concrete_value()
        if v is None:
            raise err_cls(self._desc(), self._trace.concretization_context(self))
        return v

    def __bool__(self):
        v = self._concrete_or(TracerBoolConversionError)
        return bool(v)

    def __int__(self):
        return int(self._concrete_or(TracerIntegerConversionError))

    def __index__(self):
        v = self._concrete_or(TracerIntegerConversionError)
        if np.ndim(v) != 0 or np.asarray(v).dtype.kind not in "iub":
            raise TypeError(f"Only integer scalar arrays can be used as an index, got {self._desc()}")
        return int(v)

    def __float__(self):
        return float(self._concrete_or(ConcretizationTypeError))

    def __complex__(self):
        return complex(self._concrete_or(ConcretizationTypeError))

    def __array__(self, dtype=None, copy=None):
        raise TracerArrayConversionError(self._desc(), self._trace.concretization_context(self))

    def __hash__(self):
        raise TypeError(f"unhashable type: {type(self).__name__} (traced arrays are not hashable; "
                        "pass hashable values through `static_argnums`)")

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.aval.shape[0]))

    def __repr__(self):
        return f"{type(self).__name__}<{self.aval.str_short()}>"

    __array_ufunc__ = None  # replaced by numbax.numpy with dispatch to jnp

    def item(self):
        return self._concrete_or(ConcretizationTypeError).item()

    def tolist(self):
        return np.asarray(self._concrete_or(ConcretizationTypeError)).tolist()


def typecheck_aval(prim_name: str, expected: ShapedArray, got: ShapedArray):
    if expected.shape != got.shape or expected.dtype != got.dtype:
        raise TypeError(f"{prim_name}: expected {expected.str_short()}, got {got.str_short()}")

