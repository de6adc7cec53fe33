"""Device functions that generated CUDA kernels call as ``_dm.<name>(...)``.

They cover what neither ``math.*`` on the CUDA target nor the CPU helpers of
``numba_cpu.scalar_math`` (numpy ufuncs such as ``np.floor`` do not compile for CUDA) provide:
signed truncating integer division, floor/ceil/rint/cbrt/nextafter, and digamma/polygamma
(scalar_math's own cephes code, compiled for CUDA with ``np.floor``/``np.trunc`` bound to
``math.floor``/``math.trunc``, which return floats there).

Every function is ``cuda.jit(device=True, inline="always")``: numba inlines it into the kernel's
IR before typing, so one definition serves float32 and float64 (and every integer width), and
``cuda.compile_ptx`` works without a GPU (an ordinary device function makes numba-cuda 0.30 ask
the driver for the current device's compute capability, even when ``cc=`` is given).

Under the simulator (``NUMBA_ENABLE_CUDASIM=1``) the same functions run as Python, with ``math``
and ``libdevice`` bound to :data:`simulator_math`: numpy versions with libdevice's semantics
(IEEE results instead of Python's ValueError/OverflowError, float32 stays float32, floor returns
a float), so that simulated kernels compute what the GPU computes up to libdevice's last ulp.
"""
from __future__ import annotations

import math as _pymath
import types as _types

import numpy as np
from numba import config, cuda

from ..numba_cpu import scalar_math as _sm

_SIM = bool(config.ENABLE_CUDASIM)


# --------------------------------------------------------------------------- simulator stand-ins

def _np(ufunc):
    def fn(*args):
        with np.errstate(all="ignore"):
            return ufunc(*args)
    fn.__name__ = ufunc.__name__
    return fn


def _like(x, value):
    """value as x's numpy float type (float32 stays float32, as libdevice's *f functions)."""
    return type(x)(value) if isinstance(x, np.floating) else np.float64(value)


def _erf(x):
    return _like(x, _pymath.erf(x))


def _erfc(x):
    return _like(x, _pymath.erfc(x))


def _lgamma(x):
    """libdevice's lgamma: +inf at the poles and at +-inf (Python raises ValueError)."""
    if x != x:
        return x
    if _pymath.isinf(x) or (x <= 0 and x == _pymath.floor(x)):
        return _like(x, _pymath.inf)
    try:
        return _like(x, _pymath.lgamma(x))
    except OverflowError:
        return _like(x, _pymath.inf)


#: A stand-in for ``math`` (and numba.cuda's ``libdevice``) in simulated kernels: what the CUDA
#: target computes, not what Python's ``math`` does (it raises on log(0), sqrt(-1), exp(1000),
#: sin(inf), and its floor/ceil/trunc return ints). Bind it as ``math`` in kernel globals.
simulator_math = _types.SimpleNamespace(
    pi=_pymath.pi, e=_pymath.e, inf=_pymath.inf, nan=_pymath.nan, tau=_pymath.tau,
    isnan=_pymath.isnan, isinf=_pymath.isinf, isfinite=_pymath.isfinite,
    erf=_erf, erfc=_erfc, lgamma=_lgamma,
    **{name: _np(getattr(np, ufunc)) for name, ufunc in [
        ("sin", "sin"), ("cos", "cos"), ("tan", "tan"), ("asin", "arcsin"),
        ("acos", "arccos"), ("atan", "arctan"), ("sinh", "sinh"), ("cosh", "cosh"),
        ("tanh", "tanh"), ("asinh", "arcsinh"), ("acosh", "arccosh"), ("atanh", "arctanh"),
        ("exp", "exp"), ("exp2", "exp2"), ("expm1", "expm1"), ("log", "log"), ("log2", "log2"),
        ("log10", "log10"), ("log1p", "log1p"), ("sqrt", "sqrt"), ("fabs", "fabs"),
        ("floor", "floor"), ("ceil", "ceil"), ("trunc", "trunc"), ("rint", "rint"),
        ("cbrt", "cbrt"), ("atan2", "arctan2"), ("hypot", "hypot"), ("copysign", "copysign"),
        ("fmod", "fmod"), ("pow", "power"), ("nextafter", "nextafter")]})

if _SIM:
    math = libdevice = simulator_math
else:
    import math  # noqa: F811 (numba's CUDA target lowers math.* to libdevice)

    from numba.cuda import libdevice


def _device(fn):
    return cuda.jit(device=True, inline="always")(fn)


# --------------------------------------------------------------------------- exact operations

@_device
def floor(x):
    """np.floor: on CUDA ``math.floor`` of a float is libdevice's floor, a float of x's type
    (-0.0, inf and NaN kept); in Python it would be an int."""
    return math.floor(x)


@_device
def ceil(x):
    return math.ceil(x)


@_device
def rint(x):
    """np.rint (half to even, sign of zero kept), as float64: exact for float32 arguments too."""
    return libdevice.rint(x)


@_device
def nextafter(x, y):
    """np.nextafter in x's type (libdevice nextafter/nextafterf; Python's is float64 only)."""
    return math.nextafter(x, y)


@_device
def trunc_div(a, b):
    """C-style (truncating) division of signed integers, as numbax's eager reference:
    ``a / 0 -> a`` and ``INT_MIN / -1`` wraps (after the caller's cast) to INT_MIN."""
    if b == 0:
        return a
    if b == -1:  # a // -1 would overflow for INT_MIN
        return -a
    q = a // b  # floor division
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q += 1
    return q


@_device
def trunc_rem(a, b):
    """``a - trunc_div(a, b) * b``: the sign of a, ``a % 0 -> a``, ``INT_MIN % -1 -> 0``."""
    if b == 0:
        return a
    if b == -1:
        return a - a
    r = a % b  # floor modulo: the sign of b
    if (r != 0) and ((a < 0) != (b < 0)):
        r -= b
    return r


# --------------------------------------------------------------------------- cbrt

@_device
def cbrt(x):
    """np.cbrt as float64 (libdevice cbrt, within 1 ulp; float32 arguments round once more)."""
    return libdevice.cbrt(x)


# --------------------------------------------------------------------------- digamma, polygamma

def _retarget(dispatcher):
    """A scalar_math function compiled for the CUDA target: the same Python code, with `np`
    bound to what the CUDA target has (math.floor and math.trunc return floats there; under
    the simulator, where they would return ints, numpy's own), and the scalar_math functions
    it calls retargeted too."""
    done = _RETARGETED.get(dispatcher)
    if done is not None:
        return done
    fn = dispatcher.py_func
    env = dict(fn.__globals__, np=np if _SIM else _CUDA_NP, math=math)
    for name in fn.__code__.co_names:
        value = env.get(name)
        if hasattr(value, "py_func") and value is not dispatcher:
            env[name] = _retarget(value)
    done = _RETARGETED[dispatcher] = _device(
        _types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__))
    return done


_RETARGETED: dict = {}
_CUDA_NP = _types.ModuleType("numpy_on_cuda")
_CUDA_NP.floor, _CUDA_NP.trunc, _CUDA_NP.float64 = math.floor, math.trunc, np.float64
_digamma64 = _retarget(_sm._digamma64)
_polygamma64 = _retarget(_sm._polygamma64)


@_device
def digamma(x):
    """scipy.special.digamma, in float64 (the caller casts float32 results)."""
    return _digamma64(np.float64(x))


@_device
def polygamma(m, x):
    """scipy.special.polygamma(m, x) for integer m, in float64."""
    return _polygamma64(m, np.float64(x))
