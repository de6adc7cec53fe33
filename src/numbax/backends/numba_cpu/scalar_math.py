"""Scalar helpers that generated Numba kernels call as ``_sm.<name>(...)``.

They exist because numba's ``math``/``np`` scalar support either lacks the operation (digamma,
polygamma, erfinv) or has semantics that differ from the numpy/scipy reference numbax's
eager mode uses: numba promotes small integers to int64 and its ``//`` gives 0 for INT_MIN // -1,
``np.sign(-0.0)`` keeps the sign bit, ``np.cbrt`` is libm's (off by up to 3 ulp), and int literals
promote float32 arithmetic to float64. The special functions port the algorithms scipy 1.17 uses
(cephes psi and Hurwitz zeta, as wrapped by xsf) so results agree with scipy to an ulp or two,
NaN/inf/pole behaviour included. Each float function accepts float32 or float64 and returns the
argument's type; ``<name>_f32`` variants force float32 (what the code generator emits for float32
operands).
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)

_INF = math.inf
_NAN = math.nan


# --------------------------------------------------------------------------- type plumbing

@intrinsic
def _as_type_of(typingctx, value, like):
    """``value`` converted (C-style: wrapping ints, round-to-nearest floats) to ``like``'s type."""
    to = types.unliteral(like)
    sig = to(types.unliteral(value), to)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], signature.return_type)
    return sig, codegen


@intrinsic
def _float_of(typingctx, value, like):
    """``value`` as float32 when ``like`` is float32, else as float64."""
    to = types.float32 if types.unliteral(like) == types.float32 else types.float64
    sig = to(types.unliteral(value), types.unliteral(like))

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], signature.return_type)
    return sig, codegen


# --------------------------------------------------------------------------- integer division

@_jit
def trunc_div_int(a, b):
    """C-style (truncating) integer division in ``a``'s type (``b`` is converted to it first);
    ``a / 0 -> a`` and wrapping ``INT_MIN / -1 -> INT_MIN``, as numbax's eager reference does."""
    d = _as_type_of(b, a)
    if d == 0:
        return a
    if d == -1:  # never true for unsigned d; avoids the INT_MIN / -1 trap (numba's // gives 0)
        return _as_type_of(-a, a)
    q = a // d  # floor division, computed by numba in (u)int64
    if (a % d != 0) and ((a < 0) != (d < 0)):
        q = q + _as_type_of(1, q)
    return _as_type_of(q, a)


@_jit
def trunc_rem_int(a, b):
    """``a - trunc_div_int(a, b) * b`` wrapped to ``a``'s type: sign of ``a``, ``a % 0 -> a``,
    ``INT_MIN % -1 -> 0``."""
    d = _as_type_of(b, a)
    if d == 0:
        return a
    q = trunc_div_int(a, d)
    return _as_type_of(a - q * d, a)


# --------------------------------------------------------------------------- sign, rounding

@_jit
def sign(x):
    """np.sign: -1/0/+1 in x's type; NaN -> NaN; -0.0 -> +0.0 (numpy drops the sign of zero)."""
    if x > 0:
        return _as_type_of(1, x)
    if x < 0:
        return _as_type_of(-1, x)
    if x == 0:
        return _as_type_of(0, x)
    return x  # NaN


@_jit
def sign_f32(x):
    return sign(np.float32(x))


@_jit
def round_away(x):
    """lax.round's default (half away from zero), computed exactly like the eager reference
    ``np.sign(x) * np.floor(np.abs(x) + 0.5)`` in x's float type."""
    return sign(x) * np.floor(np.abs(x) + _as_type_of(0.5, x))


@_jit
def round_away_f32(x):
    return round_away(np.float32(x))


@_jit
def round_even(x):
    """np.round (half to even, sign of zero kept)."""
    return _as_type_of(np.rint(x), x)


@_jit
def round_even_f32(x):
    return round_even(np.float32(x))


# --------------------------------------------------------------------------- cbrt, nextafter

@_jit
def _two_prod(a, b):
    """a * b == p + e exactly (Dekker; no FMA needed)."""
    p = a * b
    t = 134217729.0 * a
    ah = t - (t - a)
    al = a - ah
    t = 134217729.0 * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@_jit
def _cbrt64(x):
    if x == 0.0 or not math.isfinite(x):
        return x
    ax = abs(x)
    scale = 1.0
    if ax < 2.0 ** -600:
        ax *= 2.0 ** 900
        scale = 2.0 ** -300
    elif ax > 2.0 ** 600:
        ax *= 2.0 ** -900
        scale = 2.0 ** 300
    y = np.cbrt(ax)  # libm: within a few ulp
    # one Newton step on y**3 = ax with a (nearly) exact residual -> (nearly) correctly rounded
    p, e = _two_prod(y, y)
    q, f = _two_prod(p, y)
    r = (ax - q) - (f + e * y)
    y = y + r / (3.0 * p)
    return math.copysign(y * scale, x)


@_jit
def cbrt(x):
    """np.cbrt, correctly rounded but for rare near-halfway cases (numpy's own is 0.5-3 ulp
    depending on the build/CPU)."""
    return _float_of(_cbrt64(np.float64(x)), x)


@_jit
def cbrt_f32(x):
    return np.float32(_cbrt64(np.float64(x)))


@_jit
def nextafter(x, y):
    """np.nextafter in x's float type."""
    return _as_type_of(np.nextafter(x, _as_type_of(y, x)), x)


@_jit
def nextafter_f32(x, y):
    return np.nextafter(np.float32(x), np.float32(y))


# --------------------------------------------------------------------------- erf_inv

_SQRTPI_2 = 0.88622692545275801365  # sqrt(pi) / 2
_TWO_SQRTPI = 1.1283791670955125739  # 2 / sqrt(pi)


@_jit
def _erfinv_guess(ax):
    """M. Giles' single-precision erfinv approximation (rel err < ~4e-7 while 1 - ax > ~6e-8),
    and past that (where Giles' polynomial is extrapolating) the erfc asymptotics
    erfc(y) ~ exp(-y^2) / (y sqrt(pi)) (1 - 1/(2 y^2)) solved by fixed-point iteration."""
    w = -math.log((1.0 - ax) * (1.0 + ax))
    if w > 16.0:
        t = -math.log(1.0 - ax)
        y = math.sqrt(t)
        for _ in range(3):
            y = math.sqrt(t - math.log(y * 1.7724538509055160273) + math.log1p(-0.5 / (y * y)))
        return y
    if w < 5.0:
        w = w - 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    return p * ax


@_jit
def _erfinv64(x):
    if x != x:
        return x
    ax = abs(x)
    if ax >= 1.0:
        return math.copysign(_INF, x) if ax == 1.0 else _NAN
    if ax == 0.0:
        return 0.0  # scipy returns +0.0 for -0.0 too
    if ax < 2.0 ** -28:  # erfinv(x) = sqrt(pi)/2 x (1 + pi/12 x^2 + ...): next term < ulp/4
        return math.copysign(_SQRTPI_2 * ax, x)
    y = _erfinv_guess(ax)
    # Halley steps on erf(y) = ax, or on erfc(y) = 1 - ax (exact) away from 0 so that the
    # residual keeps its relative accuracy as ax -> 1. For both, f''/f' = -2y.
    if ax <= 0.5:
        for _ in range(6):
            u = (math.erf(y) - ax) / (_TWO_SQRTPI * math.exp(-y * y))
            d = u / (1.0 + y * u)
            y -= d
            if abs(d) <= 1e-17 * y:
                break
    else:
        c = 1.0 - ax
        for _ in range(6):
            u = (math.erfc(y) - c) / (-_TWO_SQRTPI * math.exp(-y * y))
            d = u / (1.0 + y * u)
            y -= d
            if abs(d) <= 1e-17 * y:
                break
    return math.copysign(y, x)


@_jit
def erf_inv(x):
    """scipy.special.erfinv: +-1 -> +-inf, |x| > 1 -> nan, -0.0 -> +0.0."""
    return _float_of(_erfinv64(np.float64(x)), x)


@_jit
def erf_inv_f32(x):
    return np.float32(_erfinv64(np.float64(x)))


# --------------------------------------------------------------------------- Hurwitz zeta

_MACHEP = 1.1102230246251565404236316680908203125e-16  # 2**-53
# (2k)! / B_2k, cephes zeta.c
_ZETA_A = np.array([
    12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
    -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
    1.8152105401943546773e17, -7.1661652561756670113e18])


@_jit
def _hurwitz_zeta(x, q):
    """cephes zeta(x, q) (scipy.special.zeta(x, q)), x >= 1. Negative non-integer q are summed
    directly up to q + n > 9, as cephes does (only meaningful for integer x)."""
    if x == 1.0:
        return _INF
    if x < 1.0:
        return _NAN
    if q <= 0.0:
        if q == np.floor(q):
            return _INF
        if x != np.floor(x):
            return _NAN
    if q > 1e8:  # https://dlmf.nist.gov/25.11#E43
        return (1.0 / (x - 1.0) + 1.0 / (2.0 * q)) * q ** (1.0 - x)
    # Euler-Maclaurin summation
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


# --------------------------------------------------------------------------- digamma

_EULER = 0.577215664901532860606512090082402431
_NEGROOT = -0.504083008264455409  # first negative zero of digamma (xsf)
_NEGROOTVAL = 7.2897639029768949e-17
_PSI_Y = 0.99558162689208984375  # float(0.99558162689208984f)
_PSI_ROOT1 = 1569415565.0 / 1073741824.0
_PSI_ROOT2 = (381566830.0 / 1073741824.0) / 1073741824.0
_PSI_ROOT3 = 0.9016312093258695918615325266959189453125e-19


def _negroot_zeta_table():
    # zeta(n + 1, NEGROOT), n = 1..99, for xsf's Taylor series of digamma about its negative
    # zero; cephes zeta summed in plain Python is bit-identical to the jitted one.
    return np.array([_hurwitz_zeta.py_func(n + 1.0, _NEGROOT) for n in range(1, 100)])


@_jit
def _digamma_imp_1_2(x):
    """Boost's rational approximation on [1, 2] (via cephes psi.c)."""
    g = x - _PSI_ROOT1
    g -= _PSI_ROOT2
    g -= _PSI_ROOT3
    t = x - 1.0
    p = ((((-0.0020713321167745952 * t - 0.045251321448739056) * t - 0.28919126444774784) * t
          - 0.65031853770896507) * t - 0.32555031186804491) * t + 0.25479851061131551
    qq = (((((-0.55789841321675513e-6 * t + 0.0021284987017821144) * t + 0.054151797245674225) * t
            + 0.43593529692665969) * t + 1.4606242909763515) * t + 2.0767117023730469) * t + 1.0
    r = p / qq
    return g * _PSI_Y + g * r


@_jit
def _psi_asy(x):
    if x < 1.0e17:
        z = 1.0 / (x * x)
        y = z * ((((((8.33333333333333333333E-2 * z - 2.10927960927960927961E-2) * z
                     + 7.57575757575757575758E-3) * z - 4.16666666666666666667E-3) * z
                   + 3.96825396825396825397E-3) * z - 8.33333333333333333333E-3) * z
                 + 8.33333333333333333333E-2)
    else:
        y = 0.0
    return math.log(x) - (0.5 / x) - y


@_jit
def _psi(x):
    """cephes psi (scipy 1.17's digamma away from the negative root)."""
    y = 0.0
    if x != x:
        return x
    if x == _INF:
        return x
    if x == -_INF:
        return _NAN
    if x == 0.0:
        return math.copysign(_INF, -x)
    if x < 0.0:
        r = x - np.trunc(x)
        if r == 0.0:
            return _NAN
        y = -math.pi / math.tan(math.pi * r)
        x = 1.0 - x
    if x <= 10.0 and x == np.floor(x):
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


_NEGROOT_ZETA = _negroot_zeta_table()


@_jit
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


@_jit
def digamma(x):
    """scipy.special.digamma: digamma(+-0) = -+inf, nan at negative integers and -inf."""
    return _float_of(_digamma64(np.float64(x)), x)


@_jit
def digamma_f32(x):
    return np.float32(_digamma64(np.float64(x)))


# --------------------------------------------------------------------------- polygamma

def _cephes_gamma_of_int(x):
    """cephes Gamma(x) (scipy.special.gamma) for integer-valued 1 <= x <= 171, in plain Python:
    a descending product up to 33, Stirling's formula beyond (so not the correctly rounded
    (x-1)! for some x > 24)."""
    if x > 33.0:
        w = 1.0 / x
        w = 1.0 + w * ((((7.87311395793093628397E-4 * w - 2.29549961613378126380E-4) * w
                         - 2.68132617805781232825E-3) * w + 3.47222221605458667310E-3) * w
                       + 8.33333333333482257126E-2)
        y = math.exp(x)
        if x > 143.01608:  # avoid overflow in pow
            v = x ** (0.5 * x - 0.25)
            y = v * (v / y)
        else:
            y = x ** (x - 0.5) / y
        return 2.506628274631000502415765284811045253007 * y * w
    z = 1.0
    while x >= 3.0:
        x -= 1.0
        z *= x
    return z


def _gamma_int_table():
    # Gamma(k + 1), k = 0..170, as scipy.special.polygamma multiplies by it
    return np.array([_cephes_gamma_of_int(k + 1.0) for k in range(171)])


_GAMMA_INT = _gamma_int_table()


@_jit
def _polygamma64(m, x):
    if m == 0:
        return _digamma64(x)
    if m < 0:
        return _NAN  # scipy: zeta(m + 1 < 1, x) is nan
    fac = _GAMMA_INT[m] if m <= 170 else _INF
    if m % 2 == 0:
        fac = -fac
    return fac * _hurwitz_zeta(m + 1.0, x)


@_jit
def polygamma(m, x):
    """scipy.special.polygamma(m, x) = (-1)**(m+1) m! zeta(m+1, x) for integer m >= 1,
    digamma for m = 0: +-inf at non-positive integers, nan for m < 0."""
    return _float_of(_polygamma64(m, np.float64(x)), x)


@_jit
def polygamma_f32(m, x):
    return np.float32(_polygamma64(m, np.float64(x)))
