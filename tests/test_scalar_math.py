"""numbax.backends.numba_cpu.scalar_math against the numpy/scipy reference numbax's eager mode
uses: bit-for-bit where the reference is exact arithmetic (integer division, rounding, sign,
nextafter), to a few ulp where it is a special function; NaN/inf/signed-zero edges included, for
float64 and float32 (and every integer width). The jitted functions are called from Python."""
import math

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings, strategies as st

from numbax.backends.numba_cpu import scalar_math as sm
from numbax.primitives.elementwise import _round_impl, _trunc_div, _trunc_rem

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
SETTINGS = settings(max_examples=60, deadline=None)
FLOATS = (np.float64, np.float32)
INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
# relative tolerance for special functions (measured: digamma/polygamma are bit-exact,
# erf_inv within 3 ulp of scipy, float32 within 3 float32 ulp)
RTOL = {np.float64: 1e-14, np.float32: 1e-6}
# float32 variants that the code generator emits for float32 operands
F32 = {"digamma": sm.digamma_f32, "erf_inv": sm.erf_inv_f32,
       "cbrt": sm.cbrt_f32, "round_away": sm.round_away_f32, "round_even": sm.round_even_f32,
       "sign": sm.sign_f32}

EDGE = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5,
        0.49999999999999994, -0.49999999999999994, 2.0 ** 52 + 1, -(2.0 ** 52 + 1), 2.0 ** 53,
        5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, -1e-300, 1e300, -1e300,
        1.7976931348623157e308, -1.7976931348623157e308, -2.0, -3.0, -100.0, -1e15, 1e17, 1e8,
        -0.504083008264455409, 1.4616321449683623, -0.3, 10.0, 11.0]


def as_dtype(dtype, v):
    with np.errstate(over="ignore"):  # float32(1e300) is inf
        return dtype(v)


def floats(dtype, **kw):
    return st.one_of(st.sampled_from(EDGE), st.floats(width=32 if dtype == np.float32 else 64, **kw)
                     ).map(lambda v: as_dtype(dtype, v))


def same_bits(actual, desired, dtype):
    """Equal values, NaN where NaN, equal sign of zero."""
    a, d = np.asarray(actual, dtype), np.asarray(desired, dtype)
    assert a.shape == d.shape
    np.testing.assert_array_equal(a, d)
    np.testing.assert_array_equal(np.signbit(a), np.signbit(d))


def call(fn, xs, *args):
    return np.array([fn(*args, x) for x in xs])


def result_type(fn, *argtypes):
    for sig in fn.nopython_signatures:
        if tuple(sig.args) == argtypes:
            return sig.return_type
    raise AssertionError(f"{fn} has no signature {argtypes}")


def test_jit_options():
    for name in ("trunc_div_int", "trunc_rem_int", "sign", "round_away", "round_even", "cbrt",
                 "nextafter", "erf_inv", "digamma", "polygamma"):
        for fn in (getattr(sm, name), getattr(sm, name + "_f32", None)):
            if fn is not None:
                opts = fn.targetoptions
                assert opts["nogil"] and opts["error_model"] == "numpy", name
                assert fn._cache.__class__.__name__ != "NullCache", name


# --------------------------------------------------------------------------- integers

def _int_edges(dtype):
    info = np.iinfo(dtype)
    return [info.min, info.min + 1, info.max, info.max - 1, 0, 1, -1, 2, -2, 7, -7, 3, -3] \
        if info.min < 0 else [0, 1, 2, 3, 7, info.max, info.max - 1]


@pytest.mark.parametrize("dtype", INTS, ids=lambda t: t.__name__)
def test_trunc_div_rem_edges(dtype):
    edges = _int_edges(dtype)
    with np.errstate(all="ignore"):
        for a in edges:
            for b in edges:
                x, y = dtype(a), dtype(b)
                assert sm.trunc_div_int(x, y) == _trunc_div(x, y), (a, b)
                assert sm.trunc_rem_int(x, y) == _trunc_rem(x, y), (a, b)
    import numba
    nb = numba.from_dtype(np.dtype(dtype))
    assert result_type(sm.trunc_div_int, nb, nb) == nb
    assert result_type(sm.trunc_rem_int, nb, nb) == nb
    if np.iinfo(dtype).min < 0:  # documented edge semantics of the reference
        lo = dtype(np.iinfo(dtype).min)
        assert sm.trunc_div_int(lo, dtype(-1)) == lo and sm.trunc_rem_int(lo, dtype(-1)) == 0
        assert sm.trunc_div_int(dtype(-7), dtype(2)) == -3 and sm.trunc_rem_int(dtype(-7), dtype(2)) == -1
    assert sm.trunc_div_int(dtype(5), dtype(0)) == 5 and sm.trunc_rem_int(dtype(5), dtype(0)) == 5


@pytest.mark.parametrize("dtype", INTS, ids=lambda t: t.__name__)
@SETTINGS
@given(data=st.data())
def test_trunc_div_rem(dtype, data):
    info = np.iinfo(dtype)
    ints = st.one_of(st.sampled_from(_int_edges(dtype)), st.integers(int(info.min), int(info.max)))
    x, y = dtype(data.draw(ints)), dtype(data.draw(ints))
    with np.errstate(all="ignore"):
        assert sm.trunc_div_int(x, y) == _trunc_div(x, y)
        assert sm.trunc_rem_int(x, y) == _trunc_rem(x, y)


@pytest.mark.parametrize("dtype", INTS, ids=lambda t: t.__name__)
def test_sign_int(dtype):
    import numba
    for v in _int_edges(dtype):
        assert sm.sign(dtype(v)) == np.sign(dtype(v))
    nb = numba.from_dtype(np.dtype(dtype))
    assert result_type(sm.sign, nb) == nb


# --------------------------------------------------------------------------- exact float ops

@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
def test_exact_float_ops_edges(dtype):
    xs = np.array([as_dtype(dtype, v) for v in EDGE], dtype)
    # round: the eager reference, including its quirks (round_away(-0.0) is +0.0,
    # round_away(0.49999999999999994) is 1.0, 2**52 + 1 rounds to 2**52 + 2)
    same_bits(call(sm.round_away, xs), [_round_impl(x, rounding_method=0) for x in xs], dtype)
    same_bits(call(sm.round_even, xs), [_round_impl(x, rounding_method=1) for x in xs], dtype)
    same_bits(call(sm.sign, xs), np.sign(xs), dtype)
    for y in (np.inf, -np.inf, 0.0, -0.0, 1.0, np.nan):
        same_bits([sm.nextafter(x, dtype(y)) for x in xs], np.nextafter(xs, dtype(y)), dtype)
    if dtype == np.float32:
        for name in ("round_away", "round_even", "sign"):
            same_bits(call(F32[name], xs), call(getattr(sm, name), xs), dtype)
        same_bits([sm.nextafter_f32(x, dtype(1)) for x in xs], np.nextafter(xs, dtype(1)), dtype)
    # f32 arithmetic stays f32: 0.49999997f + 0.5f rounds up to 1 in float32
    if dtype == np.float32:
        assert sm.round_away(np.float32(0.49999997)) == 1.0 == sm.round_away_f32(np.float32(0.49999997))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
@SETTINGS
@given(data=st.data())
def test_exact_float_ops(dtype, data):
    x, y = data.draw(floats(dtype)), data.draw(floats(dtype))
    same_bits(sm.round_away(x), _round_impl(x, rounding_method=0), dtype)
    same_bits(sm.round_even(x), _round_impl(x, rounding_method=1), dtype)
    same_bits(sm.sign(x), np.sign(x), dtype)
    same_bits(sm.nextafter(x, y), np.nextafter(x, y), dtype)
    if dtype == np.float32:
        same_bits(sm.round_away_f32(x), _round_impl(x, rounding_method=0), dtype)
        same_bits(sm.round_even_f32(x), np.round(x), dtype)
        same_bits(sm.sign_f32(x), np.sign(x), dtype)
        same_bits(sm.nextafter_f32(x, y), np.nextafter(x, y), dtype)


# --------------------------------------------------------------------------- cbrt

@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
def test_cbrt(dtype):
    rng = np.random.default_rng(0)
    lo, hi = (-320, 308) if dtype == np.float64 else (-45, 38)
    xs = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.uniform(lo, hi, 3000),
                         np.array(EDGE)]).astype(dtype)
    got = call(sm.cbrt, xs).astype(dtype)
    # numpy's cbrt is 0.5 ulp (float64) to ~2 ulp (float32) off, ours is correctly rounded
    np.testing.assert_allclose(got, np.cbrt(xs), rtol=4.5e-16 if dtype == np.float64 else 3e-7,
                               atol=0)
    same_bits(got[xs == 0], xs[xs == 0], dtype)  # cbrt(-0.0) is -0.0
    ref = np.cbrt(xs.astype(np.longdouble))  # extended precision: check correct rounding
    fin = np.isfinite(xs) & (xs != 0)
    err = np.abs((got[fin].astype(np.longdouble) - ref[fin]) / np.spacing(np.abs(got[fin])))
    assert err.max() <= 0.5 + 1e-6
    if dtype == np.float64:  # exact cubes give exact roots (libm's cbrt(27.0) is 3.0000000000000004)
        np.testing.assert_array_equal(call(sm.cbrt, [27.0, -8.0, 64.0, 0.125, 2.0 ** 300, 1e-300]),
                                      [3.0, -2.0, 4.0, 0.5, 2.0 ** 100, 1e-100])
    if dtype == np.float32:
        same_bits(call(sm.cbrt_f32, xs), got, dtype)


# --------------------------------------------------------------------------- erf_inv

@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
def test_erf_inv_grid(dtype):
    rng = np.random.default_rng(1)
    tiny = 1e-15 if dtype == np.float64 else 1e-7
    c = 10.0 ** -rng.uniform(0, 16, 1500)
    xs = np.concatenate([
        rng.uniform(-1, 1, 1500), 1 - c, -(1 - c), 10.0 ** -rng.uniform(0, 320, 500),
        1 - np.arange(1, 300) * 2.0 ** -53, [1, -1, 1.5, -1.5, np.inf, -np.inf, np.nan, 0.5, -0.5,
                                            np.nextafter(0.5, 1), np.nextafter(0.5, 0), 1 - tiny],
    ]).astype(dtype)
    got = call(sm.erf_inv, xs).astype(dtype)
    with np.errstate(all="ignore"):
        ref = sp.erfinv(xs)
    # atol: subnormal results differ in the last subnormal bit
    np.testing.assert_allclose(got, ref, rtol=1e-15 if dtype == np.float64 else 3e-7,
                               atol=1e-306 if dtype == np.float64 else 1e-37)
    same_bits(call(sm.erf_inv, np.array([0.0, -0.0, 1.0, -1.0], dtype)), [0.0, 0.0, np.inf, -np.inf], dtype)
    # round trip through erfc near +-1, where erf itself cannot resolve the result
    near = xs[(np.abs(xs) > 0.9) & (np.abs(xs) < 1)].astype(np.float64)
    y = np.array([sm.erf_inv(v) for v in near])
    np.testing.assert_allclose(sp.erfc(np.abs(y)), 1 - np.abs(near), rtol=2e-14)
    if dtype == np.float32:
        same_bits(call(sm.erf_inv_f32, xs), got, dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
@SETTINGS
@given(data=st.data())
def test_erf_inv(dtype, data):
    x = data.draw(floats(dtype))
    with np.errstate(all="ignore"):
        ref = sp.erfinv(x)
    np.testing.assert_allclose(np.asarray(sm.erf_inv(x), dtype), ref,
                               rtol=1e-15 if dtype == np.float64 else 3e-7,
                               atol=1e-306 if dtype == np.float64 else 1e-37)


# --------------------------------------------------------------------------- digamma, polygamma

@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
def test_digamma_grid(dtype):
    rng = np.random.default_rng(2)
    xs = np.concatenate([np.linspace(-30, 30, 2401), rng.uniform(-0.9, -0.1, 500),
                         rng.standard_normal(1500) * 10.0 ** rng.uniform(-300, 300, 1500),
                         -np.arange(0.0, 50.0), np.array(EDGE)]).astype(dtype)
    got = call(sm.digamma, xs)
    with np.errstate(all="ignore"):
        ref = sp.digamma(xs)
    np.testing.assert_allclose(got.astype(dtype), ref, rtol=RTOL[dtype], atol=0)
    # poles: digamma(+-0) = -+inf, nan at negative integers and at -inf
    same_bits(call(sm.digamma, np.array([0.0, -0.0, -1.0, -7.0, -np.inf, np.inf, np.nan], dtype)),
              [-np.inf, np.inf, np.nan, np.nan, np.nan, np.inf, np.nan], dtype)
    if dtype == np.float32:
        same_bits(call(sm.digamma_f32, xs), got, dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
@SETTINGS
@given(data=st.data())
def test_digamma(dtype, data):
    x = data.draw(floats(dtype))
    with np.errstate(all="ignore"):
        ref = sp.digamma(x)
    np.testing.assert_allclose(np.asarray(sm.digamma(x), dtype), ref, rtol=RTOL[dtype], atol=0)


MS = (0, 1, 2, 3, 4, 7, 20, 60, 170, 171)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
def test_polygamma_grid(dtype):
    rng = np.random.default_rng(3)
    # negative non-integer x is summed directly (O(|x|) terms) as scipy does: keep |x| modest
    xs = np.concatenate([np.linspace(-20, 20, 401), rng.uniform(-0.9, 0.9, 100),
                         10.0 ** rng.uniform(-300, 300, 200), -np.arange(0.0, 5.0),
                         [0.0, -0.0, np.inf, -np.inf, np.nan, 1e8, 1.5e8, 1e17, 1e-300]]).astype(dtype)
    with np.errstate(all="ignore"):
        for m in MS:
            got = call(sm.polygamma, xs, m)
            ref = sp.polygamma(m, xs.astype(np.float64)).astype(dtype)  # scipy computes in float64
            np.testing.assert_allclose(got.astype(dtype), ref, rtol=RTOL[dtype], atol=0, err_msg=f"m={m}")
            if dtype == np.float32:
                same_bits(call(sm.polygamma_f32, xs, m), got, dtype)
    # poles: (-1)**(m+1) * inf at non-positive integers and -inf; m < 0 is nan
    same_bits([sm.polygamma(m, dtype(x)) for m in (1, 2) for x in (0.0, -0.0, -3.0, -np.inf)],
              [np.inf] * 4 + [-np.inf] * 4, dtype)
    assert np.isnan(sm.polygamma(-1, dtype(2.0)))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
@SETTINGS
@given(data=st.data())
def test_polygamma(dtype, data):
    m = data.draw(st.sampled_from(MS))
    x = data.draw(st.one_of(floats(dtype, min_value=-200.0), st.sampled_from([-np.inf, -1e300]).map(dtype)))
    with np.errstate(all="ignore"):
        ref = dtype(sp.polygamma(m, np.float64(x)))
    np.testing.assert_allclose(np.asarray(sm.polygamma(m, x), dtype), ref, rtol=RTOL[dtype], atol=0)


# --------------------------------------------------------------------------- result types

def test_float_result_types():
    import numba
    f32, f64 = numba.float32, numba.float64
    for name in ("digamma", "erf_inv", "cbrt", "round_away", "round_even", "sign"):
        fn = getattr(sm, name)
        fn(np.float32(0.25))
        fn(np.float64(0.25))
        assert result_type(fn, f32) == f32 and result_type(fn, f64) == f64, name
        F32[name](np.float32(0.25))
        assert result_type(F32[name], f32) == f32, name
    sm.nextafter(np.float32(1), np.float32(2))
    assert result_type(sm.nextafter, f32, f32) == f32
    sm.polygamma(2, np.float32(1.5))
    assert result_type(sm.polygamma, numba.int64, f32) == f32
    sm.polygamma_f32(2, np.float32(1.5))
    assert result_type(sm.polygamma_f32, numba.int64, f32) == f32


# --------------------------------------------------------------------------- igamma, betainc, ndtri

def _rel_err(got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    both_nan = np.isnan(got) & np.isnan(ref)
    with np.errstate(all="ignore"):
        err = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)
    return np.where(both_nan | (got == ref), 0.0, err)


def test_special_kernels_jit_options():
    for name in ("igamma", "igammac", "betainc", "ndtri"):
        for fn in (getattr(sm, name), getattr(sm, name + "_f32")):
            opts = fn.targetoptions
            assert opts["nogil"] and opts["error_model"] == "numpy", name
            assert fn._cache.__class__.__name__ != "NullCache", name


def test_igamma_edges():
    a_vals = [0.0, 1e-300, 0.5, 1.0, np.inf, -1.0, np.nan]
    x_vals = [0.0, 0.5, 2.0, np.inf, -1.0, np.nan]
    for a in a_vals:
        for x in x_vals:
            for fn, ref in ((sm.igamma, sp.gammainc), (sm.igammac, sp.gammaincc)):
                want = ref(a, x)
                if a == 1e-300 and x == 0.5 and fn is sm.igamma:
                    want = 1.0  # scipy says 1.0000000000000233
                got = fn(a, x)
                assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, rel=1e-14), \
                    (fn, a, x, got, want)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
def test_igamma_grid(dtype):
    """1e-13 (relative) agreement with scipy for a in [1e-3, 100] and x around a."""
    rng = np.random.default_rng(5)
    a = 10 ** rng.uniform(-3, 2, 3000)
    x = a * np.exp(rng.normal(0, 1, 3000) * rng.choice([0.01, 0.1, 0.5, 1, 3], 3000))
    x = np.concatenate([x, rng.uniform(0, 1.2, 200)])
    a = np.concatenate([a, 10 ** rng.uniform(-3, 1, 200)])
    a, x = a.astype(dtype), x.astype(dtype)
    a64, x64 = a.astype(np.float64), x.astype(np.float64)
    for fn, f32, ref in ((sm.igamma, sm.igamma_f32, sp.gammainc),
                         (sm.igammac, sm.igammac_f32, sp.gammaincc)):
        got = np.array([fn(u, v) for u, v in zip(a, x)])
        want = ref(a64, x64)
        tiny = np.abs(want) < 1e-290  # scipy flushes some subnormal results to 0
        err = _rel_err(got, want)[~tiny]
        if dtype == np.float64:
            assert err.max() < 5e-13 and np.quantile(err, 0.99) < 1e-13, (fn, err.max())
        else:
            np.testing.assert_allclose(got[~tiny], want.astype(dtype)[~tiny], rtol=RTOL[dtype])
            same_bits(np.array([f32(u, v) for u, v in zip(a, x)]), got, dtype)


def test_igamma_large_a_against_mpmath():
    """Large a near x, where the series/fraction need O(sqrt(a)) terms (scipy switches to an
    asymptotic expansion there, and is itself only good to ~1e-11 in the tails)."""
    import mpmath
    pts = [(5869.725279855734, 3510.1756893885367), (7538.044890494453, 11033.966038526323),
           (2.0e4, 2.0e4 + 30.0), (1.0e5, 1.0e5 - 500.0), (500.0, 480.0)]
    with mpmath.workdps(40):
        for a, x in pts:
            p = float(mpmath.gammainc(a, 0, x, regularized=True))
            q = float(mpmath.gammainc(a, x, mpmath.inf, regularized=True))
            assert sm.igamma(a, x) == pytest.approx(p, rel=5e-13), (a, x)
            assert sm.igammac(a, x) == pytest.approx(q, rel=5e-13), (a, x)


def test_betainc_edges():
    vals = [0.0, 0.5, 2.0, np.inf, -1.0, np.nan]
    for a in vals:
        for b in vals:
            for x in [0.0, 0.3, 1.0, -0.1, 1.1, np.nan]:
                want, got = sp.betainc(a, b, x), sm.betainc(a, b, x)
                assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, rel=1e-14), \
                    (a, b, x, got, want)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
def test_betainc_grid(dtype):
    rng = np.random.default_rng(6)
    n = 3000
    a, b = 10 ** rng.uniform(-3, 2, (2, n))
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    x = np.where(rng.uniform(size=n) < 0.5, rng.uniform(0, 1, n),
                 np.clip(mean + sd * rng.normal(0, 2, n), 0, 1))
    a, b, x = a.astype(dtype), b.astype(dtype), x.astype(dtype)
    got = np.array([sm.betainc(u, v, w) for u, v, w in zip(a, b, x)])
    want = sp.betainc(a.astype(np.float64), b.astype(np.float64), x.astype(np.float64))
    tiny = np.abs(want) < 1e-290
    if dtype == np.float64:
        err = _rel_err(got, want)[~tiny]
        assert err.max() < 5e-13 and np.quantile(err, 0.99) < 5e-14, err.max()
    else:
        np.testing.assert_allclose(got[~tiny], want.astype(dtype)[~tiny], rtol=RTOL[dtype])
        same_bits(np.array([sm.betainc_f32(u, v, w) for u, v, w in zip(a, b, x)]), got, dtype)


def test_betainc_large_parameters_against_mpmath():
    """Stirling-series prefactor: scipy loses ~1e-12 here, the kernel stays near 1e-13."""
    import mpmath

    def ref(a, b, x):  # the same continued fraction in 40 digits
        a, b, x = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(x)
        if x > (a + 1) / (a + b + 2):
            return 1 - ref(b, a, 1 - x)
        c, d = mpmath.mpf(1), 1 / (1 - (a + b) * x / (a + 1))
        h = d
        for m in range(1, 100000):
            for aa in (m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m)),
                       -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m))):
                d = 1 / (1 + aa * d)
                c = 1 + aa / c
                h *= d * c
            if abs(d * c - 1) < mpmath.mpf(10) ** -35:
                break
        lp = a * mpmath.log(x) + b * mpmath.log(1 - x) - mpmath.log(mpmath.beta(a, b))
        return mpmath.exp(lp) * h / a
    with mpmath.workdps(40):
        for a, b, x in [(9725.939253311219, 9514.019636136478, 0.40336602586075576),
                        (422.85511078947354, 35.24224102006289, 0.1712337881377799),
                        (77.28029016586514, 2.1343523378429823, 0.018965335140983197),
                        (0.5, 1e5, 2e-6), (1e5, 0.5, 0.99999)]:
            assert sm.betainc(a, b, x) == pytest.approx(float(ref(a, b, x)), rel=3e-13), (a, b, x)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda t: t.__name__)
def test_ndtri_grid(dtype):
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.uniform(0, 1, 2000), 10 ** rng.uniform(-300, 0, 1000),
                        1 - 10 ** rng.uniform(-16, 0, 500),
                        [0.0, 1.0, -0.5, 1.5, np.nan, 0.5, 0.25, 0.75, 5e-324, 1e-310]])
    with np.errstate(over="ignore", under="ignore"):
        p = p.astype(dtype)
    got = np.array([sm.ndtri(v) for v in p])
    with np.errstate(all="ignore"):
        want = sp.ndtri(p.astype(np.float64))
    if dtype == np.float64:
        assert _rel_err(got, want).max() < 1e-15
    else:
        np.testing.assert_allclose(got, want.astype(dtype), rtol=RTOL[dtype])
        same_bits(np.array([sm.ndtri_f32(v) for v in p]), got, dtype)
    same_bits([sm.ndtri(dtype(v)) for v in (0.0, 1.0, -0.1, 1.1, np.nan)],
              [-np.inf, np.inf, np.nan, np.nan, np.nan], dtype)


def test_special_kernel_result_types():
    import numba
    f32, f64 = numba.float32, numba.float64
    for name, n in (("igamma", 2), ("igammac", 2), ("betainc", 3), ("ndtri", 1)):
        fn = getattr(sm, name)
        fn(*[np.float32(0.25)] * n)
        fn(*[0.25] * n)
        assert result_type(fn, *[f32] * n) == f32 and result_type(fn, *[f64] * n) == f64, name
        getattr(sm, name + "_f32")(*[np.float32(0.25)] * n)
        assert result_type(getattr(sm, name + "_f32"), *[f32] * n) == f32, name
