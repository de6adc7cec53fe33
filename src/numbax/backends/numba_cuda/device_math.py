"""Device functions that generated CUDA kernels call as ``_dm.<name>(...)``.

They cover what neither ``math.*`` on the CUDA target nor the CPU helpers of
``numba_cpu.scalar_math`` (numpy ufuncs such as ``np.floor`` do not compile for CUDA) provide:
signed truncating integer division, floor/ceil/rint/cbrt/nextafter, and digamma/polygamma
(scalar_math's cephes port with ``math.floor``/``math.trunc``, which return floats on CUDA).

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
# scalar_math's algorithms (cephes psi and Hurwitz zeta, as scipy 1.17 wraps them), with
# math.trunc/math.floor where scalar_math uses numpy ufuncs. Its tables, and its leaf helpers'
# Python functions (math.* only), are used as they are.

_ZETA_A = _sm._ZETA_A
_NEGROOT_ZETA = _sm._NEGROOT_ZETA
_GAMMA_INT = _sm._GAMMA_INT
_NEGROOT, _NEGROOTVAL, _EULER, _MACHEP = _sm._NEGROOT, _sm._NEGROOTVAL, _sm._EULER, _sm._MACHEP
_digamma_imp_1_2 = _device(_sm._digamma_imp_1_2.py_func)
_psi_asy = _device(_sm._psi_asy.py_func)


@_device
def _hurwitz_zeta(x, q):
    """scalar_math._hurwitz_zeta: cephes zeta(x, q) for x >= 1."""
    if x == 1.0:
        return math.inf
    if x < 1.0:
        return math.nan
    if q <= 0.0:
        if q == math.floor(q):
            return math.inf
        if x != math.floor(x):
            return math.nan
    if q > 1e8:
        return (1.0 / (x - 1.0) + 1.0 / (2.0 * q)) * q ** (1.0 - x)
    s = q ** -x
    a = q
    i = 0
    b = 0.0
    while i < 9 or a <= 9.0:
        i += 1
        a += 1.0
        b = a ** -x
        s += b
        if abs(b / s) < _MACHEP:
            return s
    w = a
    s += b * w / (x - 1.0)
    s -= 0.5 * b
    a = 1.0
    k = 0.0
    for j in range(12):
        a *= x + k
        b /= w
        t = a * b / _ZETA_A[j]
        s = s + t
        if abs(t / s) < _MACHEP:
            return s
        k += 1.0
        a *= x + k
        b /= w
        k += 1.0
    return s


@_device
def _psi(x):
    """scalar_math._psi: cephes psi."""
    y = 0.0
    if x != x:
        return x
    if x == math.inf:
        return x
    if x == -math.inf:
        return math.nan
    if x == 0.0:
        return math.copysign(math.inf, -x)
    if x < 0.0:
        r = x - math.trunc(x)
        if r == 0.0:
            return math.nan
        y = -math.pi / math.tan(math.pi * r)
        x = 1.0 - x
    if x <= 10.0 and x == math.floor(x):
        n = int(x)
        for i in range(1, n):
            y += 1.0 / i
        y -= _EULER
        return y
    if x < 1.0:
        y -= 1.0 / x
        x += 1.0
    elif x < 10.0:
        while x > 2.0:
            x -= 1.0
            y += 1.0 / x
    if 1.0 <= x <= 2.0:
        y += _digamma_imp_1_2(x)
        return y
    y += _psi_asy(x)
    return y


@_device
def _digamma64(x):
    if abs(x - _NEGROOT) < 0.3:  # xsf: Taylor series about the negative zero
        res = _NEGROOTVAL
        coeff = -1.0
        z = x - _NEGROOT
        for n in range(1, 100):
            coeff *= -z
            term = coeff * _NEGROOT_ZETA[n - 1]
            res += term
            if abs(term) < 2.220446049250313e-16 * abs(res):
                break
        return res
    return _psi(x)


@_device
def digamma(x):
    """scipy.special.digamma, in float64 (the caller casts float32 results)."""
    return _digamma64(np.float64(x))


@_device
def polygamma(m, x):
    """scipy.special.polygamma(m, x) for integer m, in float64."""
    x = np.float64(x)
    if m == 0:
        return _digamma64(x)
    if m < 0:
        return math.nan
    fac = _GAMMA_INT[m] if m <= 170 else math.inf
    if m % 2 == 0:
        fac = -fac
    return fac * _hurwitz_zeta(m + 1.0, x)
