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
def _erf_guess(w, ax, c):
    """_erfinv_guess given w = -log(1 - ax^2) and c = 1 - ax, which erfcinv knows exactly."""
    if w > 16.0:
        t = -math.log(c)
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
def _erfinv_guess(ax):
    """M. Giles' single-precision erfinv approximation (rel err < ~4e-7 while 1 - ax > ~6e-8),
    and past that (where Giles' polynomial is extrapolating) the erfc asymptotics
    erfc(y) ~ exp(-y^2) / (y sqrt(pi)) (1 - 1/(2 y^2)) solved by fixed-point iteration."""
    return _erf_guess(-math.log((1.0 - ax) * (1.0 + ax)), ax, 1.0 - ax)


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


# --------------------------------------------------------------------------- ndtri

_SQRT2 = 1.4142135623730950488


@_jit
def _erfcinv_tail(c):
    """y > 0 with erfc(y) = c for 0 < c < 0.5: Giles' guess from the exact c, then Halley steps
    on erfc (whose relative accuracy survives in the tail, where 1 - c would round to 1).
    Below 1e-290, where erfc(y) would be subnormal, the asymptotic series of log erfc instead."""
    if c < 1e-290:
        t = -math.log(c)
        y = math.sqrt(t)
        for _ in range(8):  # contracts by ~1 / (2 y^2) < 1e-3 per step
            r = 0.5 / (y * y)
            ser = 1.0 - r * (1.0 - 3.0 * r * (1.0 - 5.0 * r * (1.0 - 7.0 * r * (1.0 - 9.0 * r))))
            y = math.sqrt(t - math.log(y * 1.7724538509055160273) + math.log(ser))
        return y
    y = _erf_guess(-math.log(c * (2.0 - c)), 1.0 - c, c)
    for _ in range(8):
        u = (math.erfc(y) - c) / (-_TWO_SQRTPI * math.exp(-y * y))
        d = u / (1.0 + y * u)
        y -= d
        if abs(d) <= 1e-17 * y:
            break
    return y


@_jit
def _ndtri64(p):
    if p != p or p < 0.0 or p > 1.0:
        return _NAN
    if p == 0.0:
        return -_INF
    if p == 1.0:
        return _INF
    if p < 0.25:
        return -_SQRT2 * _erfcinv_tail(2.0 * p)
    if p > 0.75:
        return _SQRT2 * _erfcinv_tail(2.0 * (1.0 - p))  # 1 - p is exact for p >= 0.5
    return _SQRT2 * _erfinv64(2.0 * p - 1.0)  # 2p - 1 is exact on [0.25, 0.75]


@_jit
def ndtri(p):
    """scipy.special.ndtri, the standard normal quantile: 0 -> -inf, 1 -> inf, outside -> nan."""
    return _float_of(_ndtri64(np.float64(p)), p)


@_jit
def ndtri_f32(p):
    return np.float32(_ndtri64(np.float64(p)))


# --------------------------------------------------------------------------- incomplete gamma

_MAXITER = 100000  # the series and fractions need O(sqrt(a)) terms where x is close to a
_FPMIN = 1e-300
_LOG_SQRT_2PI = 0.91893853320467274178  # log(sqrt(2 pi))
_EULER_GAMMA = 0.57721566490153286061


def _zeta_int_table():
    # zeta(n), n = 2..42, for the Taylor series of lgamma(1 + x) about 0
    return np.array([_hurwitz_zeta.py_func(float(n), 1.0) for n in range(2, 43)])


_ZETA_INT = _zeta_int_table()


@_jit
def _lgam1p_taylor(x):
    if x == 0.0:
        return 0.0
    res = -_EULER_GAMMA * x
    xfac = -x
    for n in range(2, 42):
        xfac *= -x
        coeff = _ZETA_INT[n - 2] * xfac / n
        res += coeff
        if abs(coeff) < _MACHEP * abs(res):
            break
    return res


@_jit
def _lgam1p(x):
    """lgamma(1 + x), accurate for small x (cephes lgam1p)."""
    if abs(x) <= 0.5:
        return _lgam1p_taylor(x)
    if abs(x - 1.0) < 0.5:
        return math.log(x) + _lgam1p_taylor(x - 1.0)
    return math.lgamma(x + 1.0)


@_jit
def _lgamma_corr(z):
    """lgamma(z) - ((z - 1/2) log z - z + log sqrt(2 pi)): Stirling's series, for z >= 10."""
    r = 1.0 / z
    r2 = r * r
    return r * (1.0 / 12.0 + r2 * (-1.0 / 360.0 + r2 * (1.0 / 1260.0 + r2 * (
        -1.0 / 1680.0 + r2 * (1.0 / 1188.0 + r2 * (-691.0 / 360360.0 + r2 * (
            1.0 / 156.0 + r2 * (-3617.0 / 122400.0))))))))


@_jit
def _log1pmx_ratio(x, x0):
    """log(x / x0) - (x - x0) / x0, i.e. log1p(d) - d for d = x / x0 - 1, without the
    cancellation near x0 (series) and without rounding 1 + d when x << x0 (log of the ratio)."""
    d = (x - x0) / x0
    if abs(d) < 0.25:
        s = 0.0
        p = d
        for n in range(2, 60):
            p *= -d
            t = p / n
            s += t
            if abs(t) <= _MACHEP * abs(s):
                break
        return s
    return math.log(x / x0) - d


@_jit
def _igam_fac(a, x):
    """x**a exp(-x) / Gamma(a). For large a through Stirling's series, so that a log x, x and
    lgamma(a) do not cancel (their rounding errors would grow like a eps)."""
    if a < 10.0:
        return math.exp(a * math.log(x) - x - math.lgamma(a))
    return math.exp(a * _log1pmx_ratio(x, a) - _lgamma_corr(a)) * math.sqrt(a / (2.0 * math.pi))


@_jit
def _igam_series(a, x):
    """P(a, x) = x**a e**-x / Gamma(a + 1) * sum_n x**n / ((a + 1)...(a + n))."""
    fac = _igam_fac(a, x)
    if fac == 0.0:
        return 0.0
    r = a
    c = 1.0
    s = 1.0
    for _ in range(_MAXITER):
        r += 1.0
        c *= x / r
        s += c
        if c <= _MACHEP * s:
            break
    return s * fac / a


@_jit
def _igamc_series(a, x):
    """Q(a, x) for x <= 1.1, from the power series of gamma(a, x) (cephes)."""
    fac = 1.0
    s = 0.0
    for n in range(1, 2000):
        fac *= -x / n
        term = fac / (a + n)
        s += term
        if abs(term) <= _MACHEP * abs(s):
            break
    logx = math.log(x)
    return -math.expm1(a * logx - _lgam1p(a)) - math.exp(a * logx - math.lgamma(a)) * s


@_jit
def _igamc_cf(a, x):
    """Q(a, x) for x > 1.1, x >= a: Legendre's continued fraction by the modified Lentz method."""
    fac = _igam_fac(a, x)
    if fac == 0.0:
        return 0.0
    b = x + 1.0 - a
    c = 1.0 / _FPMIN
    d = 1.0 / b
    h = d
    for i in range(1, _MAXITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = b + an / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= _MACHEP:
            break
    return fac * h


@_jit
def _igam_edge(a, x, lower):
    """P (lower) or Q at the edges scipy defines (NaN included); elsewhere -1, which neither
    function takes."""
    if a != a or x != x or a < 0.0 or x < 0.0:
        return _NAN
    if a == 0.0:
        if x > 0.0:
            return 1.0 if lower else 0.0
        return _NAN
    if x == 0.0:
        return 0.0 if lower else 1.0
    if a == _INF:
        if x == _INF:
            return _NAN
        return 0.0 if lower else 1.0
    if x == _INF:
        return 1.0 if lower else 0.0
    return -1.0


@_jit
def _igamc64(a, x):
    e = _igam_edge(a, x, False)
    if e != -1.0:
        return e
    # cephes' choice of method (without its uniform asymptotic expansion for large a ~ x)
    if x > 1.1:
        if x < a:
            return 1.0 - _igam_series(a, x)
        return _igamc_cf(a, x)
    if x <= 0.5:
        if -0.4 / math.log(x) < a:
            return 1.0 - _igam_series(a, x)
        return _igamc_series(a, x)
    if x * 1.1 < a:
        return 1.0 - _igam_series(a, x)
    return _igamc_series(a, x)


@_jit
def _igam64(a, x):
    e = _igam_edge(a, x, True)
    if e != -1.0:
        return e
    if x > 1.0 and x > a:
        return 1.0 - _igamc64(a, x)
    return _igam_series(a, x)


@_jit
def igamma(a, x):
    """scipy.special.gammainc(a, x), the regularised lower incomplete gamma function P(a, x):
    nan for a < 0, x < 0, (0, 0) and (inf, inf); P(0, x > 0) = 1."""
    return _float_of(_igam64(np.float64(a), np.float64(x)), x)


@_jit
def igamma_f32(a, x):
    return np.float32(_igam64(np.float64(a), np.float64(x)))


@_jit
def igammac(a, x):
    """scipy.special.gammaincc(a, x) = Q(a, x) = 1 - P(a, x), accurate where it is small."""
    return _float_of(_igamc64(np.float64(a), np.float64(x)), x)


@_jit
def igammac_f32(a, x):
    return np.float32(_igamc64(np.float64(a), np.float64(x)))


# --------------------------------------------------------------------------- incomplete beta

@_jit
def _log_beta_power(a, b, x, y):
    """log(x**a y**b / B(a, b)) for y = 1 - x. Large parameters go through Stirling's series so
    that lgamma(a) + lgamma(b) - lgamma(a + b) does not cancel against a log x + b log y; logs
    come from whichever of x, y is exact (the one not computed as 1 - the other)."""
    lx = math.log(x) if x <= 0.5 else math.log1p(-y)
    ly = math.log(y) if y <= 0.5 else math.log1p(-x)
    s = a + b
    if a >= 10.0 and b >= 10.0:
        return (a * _log1pmx_ratio(x, a / s) + b * _log1pmx_ratio(y, b / s)
                + 0.5 * math.log(a / s * b) - _LOG_SQRT_2PI
                - (_lgamma_corr(a) + _lgamma_corr(b) - _lgamma_corr(s)))
    if b >= 10.0:  # a small: lgamma(b) - lgamma(a + b) by Stirling
        return (a * (lx + math.log(s)) + b * ly + (b - 0.5) * math.log1p(a / b) - a
                - math.lgamma(a) - _lgamma_corr(b) + _lgamma_corr(s))
    if a >= 10.0:
        return (b * (ly + math.log(s)) + a * lx + (a - 0.5) * math.log1p(b / a) - b
                - math.lgamma(b) - _lgamma_corr(a) + _lgamma_corr(s))
    return a * lx + b * ly - math.lgamma(a) - math.lgamma(b) + math.lgamma(s)


@_jit
def _betacf(a, b, x, y, maxiter):
    """The continued fraction of I_x(a, b) (Numerical Recipes' betacf, modified Lentz), and
    whether it converged within maxiter steps. y = 1 - x."""
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = (a * y + 1.0 - b * x) / qap  # 1 - qab x / qap, which cancels near the switch point
    if abs(d) < _FPMIN:
        d = _FPMIN
    d = 1.0 / d
    h = d
    for m in range(1, maxiter):
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = 1.0 + aa / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = 1.0 + aa / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= _MACHEP:
            return h, True
    return h, False


@_jit
def _betainc64(a, b, x):
    if a != a or b != b or x != x or a < 0.0 or b < 0.0 or x < 0.0 or x > 1.0:
        return _NAN
    if (a == 0.0 and b == 0.0) or (a == _INF and b == _INF):
        return _NAN
    if x == 0.0:
        return 0.0
    if x == 1.0:
        return 1.0
    if a == 0.0 or b == _INF:
        return 1.0
    if b == 0.0 or a == _INF:
        return 0.0
    y = 1.0 - x
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast on the other side
        r = 1.0 - math.exp(_log_beta_power(b, a, y, x)) * _betacf(b, a, y, x, _MAXITER)[0] / b
        # 1 - v loses ~log10(1/r) digits (small b). This side's fraction, where it converges,
        # loses ~log10(a) (measured against mpmath): take it when that is the smaller loss
        if r < 0.2 and a * r < 1.0:
            h, ok = _betacf(a, b, x, y, 500)
            if ok:
                return math.exp(_log_beta_power(a, b, x, y)) * h / a
        return r
    return math.exp(_log_beta_power(a, b, x, y)) * _betacf(a, b, x, y, _MAXITER)[0] / a


@_jit
def betainc(a, b, x):
    """scipy.special.betainc(a, b, x), the regularised incomplete beta function I_x(a, b):
    nan outside 0 <= x <= 1, for negative a or b and for a = b = 0 or a = b = inf."""
    return _float_of(_betainc64(np.float64(a), np.float64(b), np.float64(x)), x)


@_jit
def betainc_f32(a, b, x):
    return np.float32(_betainc64(np.float64(a), np.float64(b), np.float64(x)))
