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
