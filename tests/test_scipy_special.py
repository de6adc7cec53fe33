"""numbax.scipy.special against scipy.special: values eagerly and under jit (edge cases: 0, inf,
NaN, outside the domain), derivatives against central differences to second order, vmap against
a loop, float32 kernels, and NotImplementedError for the shape-parameter derivatives of the
incomplete gamma and beta functions."""
import math

import numpy as np
import pytest
import scipy.special as ss
from hypothesis import given, settings, strategies as st

import numbax
import numbax.numpy as jnp
import numbax.scipy.special as sp
from checks import assert_allclose, assert_same, check_vmap, grid, jitted

INF, NAN = np.inf, np.nan
SETTINGS = settings(max_examples=20, deadline=None)

# --------------------------------------------------------------------------- values

UNARY = {
    "gammaln": (sp.gammaln, ss.gammaln, [-2.5, -1, 0, 0.5, 1, 2, 10.5, 170, 1e300, INF, NAN]),
    "digamma": (sp.digamma, ss.digamma, [-2.5, -1, 0, 0.5, 1, 7.3, 1e10, INF, NAN]),
    "erf": (sp.erf, ss.erf, [-INF, -30, -1, 0, 0.3, 5, 30, INF, NAN]),
    "erfc": (sp.erfc, ss.erfc, [-INF, -30, -1, 0, 0.3, 5, 26, INF, NAN]),
    "erfinv": (sp.erfinv, ss.erfinv, [-1, -0.999, -0.3, 0, 0.5, 1, 1.5, NAN]),
    "expit": (sp.expit, ss.expit, [-800, -30, -1, 0, 2, 40, 800, INF, -INF, NAN]),
    "logit": (sp.logit, ss.logit, [0, 1e-300, 0.2, 0.5, 0.9, 1, -0.5, 1.5, NAN]),
    "ndtr": (sp.ndtr, ss.ndtr, [-INF, -38, -37.5, -10, -1, -0.5, 0, 0.3, 1, 8, 40, INF, NAN]),
    "ndtri": (sp.ndtri, ss.ndtri, [0, 5e-324, 1e-310, 1e-300, 1e-20, 0.01, 0.3, 0.5, 0.75, 0.99,
                                   1 - 2 ** -53, 1, -0.1, 1.1, NAN]),
    "log_ndtr": (sp.log_ndtr, ss.log_ndtr, [-INF, -1e5, -60, -40, -37.5, -37, -20, -1, 0, 1, 8,
                                            8.5, 30, INF, NAN]),
    "entr": (sp.entr, ss.entr, [-1, 0, 1e-300, 0.5, 1, 3, INF, NAN]),
    "polygamma1": (lambda x: sp.polygamma(1, x), lambda x: ss.polygamma(1, x),
                   [0.3, 1, 2.5, 10, -1.5, NAN]),
}
# ndtr(x) has condition number ~x^2 (x / sqrt 2 is rounded): 1e-13 near -37 (and log_ndtr's
# asymptotic series, order 3, is good to ~4e-14 at its switch point -37)
UNARY_RTOL = {"log_ndtr": 2e-13, "ndtr": 2e-13}
# scipy's erfc flushes results below ~1e-308 to 0; libm's (under jit) returns the subnormal
UNARY_ATOL = {"ndtr": 1e-300}


@pytest.mark.parametrize("name", UNARY)
def test_unary_values(name):
    fn, ref, xs = UNARY[name]
    x = np.array(xs, np.float64)
    with np.errstate(all="ignore"):
        want = ref(x)
    rtol, atol = UNARY_RTOL.get(name, 1e-14), UNARY_ATOL.get(name, 0.0)
    assert_same(fn(x), want, rtol=rtol, atol=atol, err_msg=f"{name} eager")
    assert_same(jitted(name, fn)(x), want, rtol=rtol, atol=atol, err_msg=f"{name} jit")


BINARY = {
    "xlogy": (sp.xlogy, ss.xlogy, [0, -0.0, 1, 2.5, -3, INF, NAN],
              [0, 1e-300, 0.5, 1, 3, INF, -1, NAN], 1e-15),
    "xlog1py": (sp.xlog1py, ss.xlog1py, [0, -0.0, 1, 2.5, -3, INF, NAN],
                [-1, -0.5, 0, 1e-20, 3, INF, -2, NAN], 1e-15),
    "gammainc": (sp.gammainc, ss.gammainc, [0, 1e-3, 0.5, 1, 3.7, 25, 150, INF, -1, NAN],
                 [0, 1e-5, 0.3, 1, 1.05, 2, 10, 30, 200, INF, -1, NAN], 5e-13),
    "gammaincc": (sp.gammaincc, ss.gammaincc, [0, 1e-3, 0.5, 1, 3.7, 25, 150, INF, -1, NAN],
                  [0, 1e-5, 0.3, 1, 1.05, 2, 10, 30, 200, INF, -1, NAN], 5e-13),
    "betaln": (sp.betaln, ss.betaln, [0, 1e-3, 0.5, 1, 2.5, 30, 1e5, -0.5, -20.5, NAN],
               [1e-3, 0.5, 1, 2.5, 30, 1e5], 1e-13),
    "rel_entr": (sp.rel_entr, ss.rel_entr, [0, 0.5, 2, -1, INF, NAN], [0, 0.5, 3, -1, INF, NAN],
                 1e-15),
    "kl_div": (sp.kl_div, ss.kl_div, [0, 0.5, 2, -1, INF, NAN], [0, 0.5, 3, -1, INF, NAN], 1e-15),
}


@pytest.mark.parametrize("name", BINARY)
def test_binary_values(name):
    fn, ref, xs, ys, rtol = BINARY[name]
    x, y = grid(xs, ys)
    with np.errstate(all="ignore"):
        want = ref(x, y)
    if name == "betaln":  # scipy's own betaln loses ~1e-10 when one argument is huge
        big = (np.maximum(x, y) >= 1e5) & (np.minimum(x, y) < 1e5) & (np.minimum(x, y) != 0)
        want[big] = [float(_mp_betaln(a, b)) for a, b in zip(x[big], y[big])]
    assert_same(fn(x, y), want, rtol=rtol, err_msg=f"{name} eager")
    assert_same(jitted(name, fn)(x, y), want, rtol=rtol, err_msg=f"{name} jit")


def _mp_betaln(a, b):
    import mpmath
    with mpmath.workdps(40):
        return mpmath.log(abs(mpmath.beta(a, b))) if np.isfinite(a) else NAN


def test_betainc_values():
    a, b, x = grid([0, 1e-3, 0.5, 2, 30, INF, -1, NAN], [0, 0.5, 2, 30, INF, -1],
                   [0, 0.2, 0.5, 0.97, 1, -0.1, 1.1, NAN])
    rng = np.random.default_rng(0)
    ra, rb = 10 ** rng.uniform(-2, 2, (2, 200))
    a, b = np.concatenate([a, ra]), np.concatenate([b, rb])
    x = np.concatenate([x, rng.uniform(0, 1, 200)])
    with np.errstate(all="ignore"):
        want = ss.betainc(a, b, x)
    assert_same(sp.betainc(a, b, x), want, rtol=1e-15, err_msg="eager")
    assert_same(jitted("betainc", sp.betainc)(a, b, x), want, rtol=5e-13, atol=1e-300,
                err_msg="jit")


@SETTINGS
@given(a=st.floats(1e-2, 200), x=st.floats(0, 400))
def test_gammainc_hypothesis(a, x):
    f = jitted("gammainc_pair", lambda a, x: (sp.gammainc(a, x), sp.gammaincc(a, x)))
    p, q = f(a, x)
    np.testing.assert_allclose([p, q], [ss.gammainc(a, x), ss.gammaincc(a, x)], rtol=1e-12,
                               atol=1e-300)


@SETTINGS
@given(a=st.floats(1e-2, 200), b=st.floats(1e-2, 200), x=st.floats(0, 1))
def test_betainc_hypothesis(a, b, x):
    got = jitted("betainc", sp.betainc)(a, b, x)
    np.testing.assert_allclose(got, ss.betainc(a, b, x), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_new_kernels_float32_and_float64(dtype):
    """igamma/igammac/betainc/ndtri are specialised per dtype: float32 in, float32 out."""
    fn = jitted("kernels", lambda a, b, x, p: (sp.gammainc(a, x), sp.gammaincc(a, x),
                                               sp.betainc(a, b, p), sp.ndtri(p)))
    a = np.array([0.5, 2.0, 7.5], dtype)
    b = np.array([3.0, 0.7, 12.0], dtype)
    x = np.array([0.2, 3.0, 6.0], dtype)
    p = np.array([0.01, 0.5, 0.9], dtype)
    got = fn(a, b, x, p)
    eager = (sp.gammainc(a, x), sp.gammaincc(a, x), sp.betainc(a, b, p), sp.ndtri(p))
    a64, b64, x64, p64 = (v.astype(np.float64) for v in (a, b, x, p))
    ref = (ss.gammainc(a64, x64), ss.gammaincc(a64, x64), ss.betainc(a64, b64, p64), ss.ndtri(p64))
    rtol = 2e-7 if dtype == np.float32 else 1e-14
    for g, e, r in zip(got, eager, ref):
        assert np.asarray(g).dtype == dtype and np.asarray(e).dtype == dtype
        np.testing.assert_allclose(g, r, rtol=rtol)
        np.testing.assert_allclose(e, r, rtol=rtol)


def test_int_arguments_promote_to_float64():
    assert sp.gammainc(2, 3).dtype == np.float64
    assert np.asarray(sp.xlogy(np.array([0, 1, 2]), 3)).dtype == np.float64
    assert jitted("gammaln", sp.gammaln)(np.array([1, 2, 3])).dtype == np.float64
    assert sp.gammaln(np.float32(2.5)).dtype == np.float32


# --------------------------------------------------------------------------- logsumexp, softmax

def test_logsumexp_matches_scipy():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 4)) * 10
    b = rng.uniform(0.1, 2, (3, 4))
    for axis in (None, 0, 1, -1, (0, 1)):
        for keepdims in (False, True):
            assert_allclose(sp.logsumexp(a, axis=axis, keepdims=keepdims),
                            ss.logsumexp(a, axis=axis, keepdims=keepdims), rtol=1e-14)
            assert_allclose(sp.logsumexp(a, axis=axis, b=b, keepdims=keepdims),
                            ss.logsumexp(a, axis=axis, b=b, keepdims=keepdims), rtol=1e-14)
    bs = b * np.where(rng.uniform(size=b.shape) < 0.5, -1, 1)
    out, sign = sp.logsumexp(a, axis=1, b=bs, return_sign=True)
    ref_out, ref_sign = ss.logsumexp(a, axis=1, b=bs, return_sign=True)
    assert_allclose(out, ref_out, rtol=1e-13)
    assert_allclose(sign, ref_sign)
    with np.errstate(invalid="ignore"):
        assert_same(sp.logsumexp(a, axis=1, b=bs), ss.logsumexp(a, axis=1, b=bs), rtol=1e-13)
    mask = a > 0
    assert_allclose(sp.logsumexp(a, axis=1, where=mask),
                    np.log(np.sum(np.where(mask, np.exp(a), 0), axis=1)), rtol=1e-13)
    assert_allclose(jitted("lse", lambda a, b: sp.logsumexp(a, axis=0, b=b))(a, b),
                    ss.logsumexp(a, axis=0, b=b), rtol=1e-14)
    assert sp.logsumexp(np.array([-INF, -INF])) == -INF


def test_logsumexp_gradient_is_softmax():
    a = np.array([[1.0, 2.0, -3.0], [0.5, 700.0, 699.0]])
    g = numbax.grad(lambda a: jnp.sum(sp.logsumexp(a, axis=1)))(a)
    assert_allclose(g, ss.softmax(a, axis=1), rtol=1e-13)


def test_softmax_defaults_to_all_axes():
    x = np.random.default_rng(2).normal(size=(2, 3))
    assert_allclose(sp.softmax(x), ss.softmax(x), rtol=1e-14)
    assert_allclose(sp.log_softmax(x), ss.log_softmax(x), rtol=1e-14)
    assert_allclose(sp.softmax(x, axis=1), ss.softmax(x, axis=1), rtol=1e-14)
    assert_allclose(sp.log_softmax(x, axis=0), ss.log_softmax(x, axis=0), rtol=1e-14)


def test_polygamma_multigammaln():
    x = np.array([0.7, 1.5, 4.0])
    n = np.array([0, 1, 3])
    assert_allclose(sp.polygamma(n, x), ss.polygamma(n, x), rtol=1e-14)
    assert_allclose(sp.polygamma(2, x), ss.polygamma(2, x), rtol=1e-14)
    a = np.array([3.0, 4.5, 10.0])
    for d in (1, 2, 3):
        assert_allclose(sp.multigammaln(a, d), ss.multigammaln(a, d), rtol=1e-14)
    assert_allclose(jitted("mgl", lambda a: sp.multigammaln(a, 3))(a), ss.multigammaln(a, 3),
                    rtol=1e-14)
    with pytest.raises(TypeError, match="concrete"):
        numbax.jit(lambda n, x: sp.polygamma(n, x))(1, 2.0)


# --------------------------------------------------------------------------- derivatives

def fd(f, x, h=1e-6):
    """Central difference of an elementwise numpy function, with a step relative to |x|."""
    x = np.asarray(x, np.float64)
    step = h * np.where(x != 0, np.abs(x), 1.0)
    return (f(x + step) - f(x - step)) / (2 * step)


def grad_elementwise(f):
    """The elementwise derivative of an elementwise function (the gradient of its sum)."""
    return numbax.grad(lambda x: jnp.sum(f(x)))


# (name, numbax function of one array, scipy reference, points)
DERIV = {
    "gammaln": (sp.gammaln, ss.gammaln, [0.3, 1.7, 5.5, -0.5, 40.0]),
    "digamma": (sp.digamma, ss.digamma, [0.7, 3.2, -1.5]),
    "erf": (sp.erf, ss.erf, [-1.5, 0.2, 2.0]),
    "erfc": (sp.erfc, ss.erfc, [-1.5, 0.2, 2.0]),
    "erfinv": (sp.erfinv, ss.erfinv, [-0.7, 0.1, 0.9]),
    "expit": (sp.expit, ss.expit, [-3.0, 0.5, 4.0]),
    "logit": (sp.logit, ss.logit, [0.1, 0.5, 0.93]),
    "ndtr": (sp.ndtr, ss.ndtr, [-5.0, -0.3, 2.0]),
    "ndtri": (sp.ndtri, ss.ndtri, [1e-3, 0.2, 0.7, 0.99]),
    "log_ndtr": (sp.log_ndtr, ss.log_ndtr, [-45.0, -36.0, -5.0, 0.3, 9.0]),
    "entr": (sp.entr, ss.entr, [0.2, 1.5]),
    "xlogy_x": (lambda x: sp.xlogy(x, 2.5), lambda x: ss.xlogy(x, 2.5), [0.0, 0.5, -2.0]),
    "xlogy_y": (lambda y: sp.xlogy(1.5, y), lambda y: ss.xlogy(1.5, y), [0.3, 3.0]),
    "xlog1py_x": (lambda x: sp.xlog1py(x, 0.5), lambda x: ss.xlog1py(x, 0.5), [0.0, 0.5, -2.0]),
    "xlog1py_y": (lambda y: sp.xlog1py(1.5, y), lambda y: ss.xlog1py(1.5, y), [-0.3, 3.0]),
    "gammainc_x": (lambda x: sp.gammainc(np.array([0.5, 2.5, 30.0]), x),
                   lambda x: ss.gammainc(np.array([0.5, 2.5, 30.0]), x), [0.3, 2.0, 29.0]),
    "gammaincc_x": (lambda x: sp.gammaincc(np.array([0.5, 2.5, 30.0]), x),
                    lambda x: ss.gammaincc(np.array([0.5, 2.5, 30.0]), x), [0.3, 2.0, 29.0]),
    "betainc_x": (lambda x: sp.betainc(np.array([0.5, 2.5, 30.0]), np.array([3.0, 0.8, 20.0]), x),
                  lambda x: ss.betainc(np.array([0.5, 2.5, 30.0]), np.array([3.0, 0.8, 20.0]), x),
                  [0.3, 0.9, 0.6]),
    "betaln_a": (lambda a: sp.betaln(a, np.array([20.0, 0.5, 3.0, 12.0])),
                 lambda a: ss.betaln(a, np.array([20.0, 0.5, 3.0, 12.0])), [0.5, 20.0, 4.0, 12.0]),
    "betaln_b": (lambda b: sp.betaln(np.array([20.0, 0.5, 3.0, 12.0]), b),
                 lambda b: ss.betaln(np.array([20.0, 0.5, 3.0, 12.0]), b), [0.5, 20.0, 4.0, 12.0]),
    "multigammaln": (lambda a: sp.multigammaln(a, 3), lambda a: ss.multigammaln(a, 3), [2.5, 7.0]),
    "rel_entr_p": (lambda p: sp.rel_entr(p, 0.7), lambda p: ss.rel_entr(p, 0.7), [0.2, 1.5]),
    "kl_div_q": (lambda q: sp.kl_div(0.4, q), lambda q: ss.kl_div(0.4, q), [0.2, 1.5]),
}


@pytest.mark.parametrize("name", DERIV)
def test_first_derivative_vs_central_differences(name):
    fn, ref, pts = DERIV[name]
    x = np.array(pts)
    want = fd(ref, x)
    assert_allclose(grad_elementwise(fn)(x), want, rtol=2e-7, atol=1e-9, err_msg=name)
    assert_allclose(jitted(f"d_{name}", grad_elementwise(fn))(x), want, rtol=2e-7, atol=1e-9,
                    err_msg=f"{name} jit")


SECOND = ["gammaln", "xlogy_x", "xlogy_y", "xlog1py_y", "logit", "expit", "ndtri", "log_ndtr",
          "gammainc_x", "betainc_x", "betaln_a", "betaln_b", "erfinv", "ndtr"]


@pytest.mark.parametrize("name", SECOND)
def test_second_derivative_vs_differences_of_the_first(name):
    fn, _, pts = DERIV[name]
    x = np.array(pts)
    d1 = grad_elementwise(fn)
    d2 = grad_elementwise(d1)
    want = fd(lambda v: np.asarray(d1(v)), x, h=1e-5)
    assert_allclose(d2(x), want, rtol=1e-6, atol=1e-8, err_msg=name)
    assert_allclose(jitted(f"d2_{name}", d2)(x), want, rtol=1e-6, atol=1e-8, err_msg=f"{name} jit")


def test_known_second_derivatives():
    x = np.array([0.4, 2.0, 9.0])
    assert_allclose(grad_elementwise(grad_elementwise(sp.gammaln))(x), ss.polygamma(1, x),
                    rtol=1e-14)
    y = np.array([0.5, 2.0])  # d2/dy2 x log y = -x / y^2
    assert_allclose(grad_elementwise(grad_elementwise(lambda y: sp.xlogy(3.0, y)))(y), -3.0 / y ** 2,
                    rtol=1e-14)
    # d/dx log_ndtr(x) ~ -x in the far left tail, where pdf and cdf both underflow
    g = grad_elementwise(sp.log_ndtr)(np.array([-1e3, -60.0]))
    assert_allclose(g, [1e3 * (1 + 1e-6 - 2e-12), 60.0 * (1 + 1 / 3600 - 2 / 3600 ** 2)],
                    rtol=1e-9)


def test_xlogy_at_zero_zero():
    """xlogy(0, 0) = 0 with finite derivatives of every order; d/dy = 0 where x == 0."""
    assert sp.xlogy(0.0, 0.0) == 0.0 and sp.xlog1py(0.0, -1.0) == 0.0
    assert np.isnan(sp.xlogy(0.0, NAN)) and np.isnan(sp.xlog1py(0.0, NAN))
    dy = numbax.grad(sp.xlogy, argnums=1)
    dx = numbax.grad(sp.xlogy, argnums=0)
    assert dy(0.0, 0.0) == 0.0 and dy(0.0, 2.0) == 0.0
    assert numbax.jit(dy)(0.0, 0.0) == 0.0
    assert dx(0.0, 0.0) == 0.0  # the function jumps at (0, 0); 0 is the convention, not NaN
    assert dx(0.0, 2.0) == pytest.approx(math.log(2.0), rel=1e-15)  # d/dx is log y at x == 0
    assert numbax.grad(dy, argnums=1)(0.0, 0.0) == 0.0
    hess = numbax.hessian(sp.xlogy, argnums=(0, 1))(0.0, 0.0)
    assert np.all(np.isfinite(np.asarray(hess, dtype=np.float64)))
    assert numbax.jit(numbax.grad(dy, argnums=1))(0.0, 0.0) == 0.0
    d1py = numbax.grad(sp.xlog1py, argnums=1)
    assert d1py(0.0, -1.0) == 0.0 and numbax.grad(d1py, argnums=1)(0.0, -1.0) == 0.0
    # vectorised, under jit, with the data carrying zeros: a Poisson term n log(mu)
    n = np.array([0.0, 0.0, 3.0])
    g = numbax.jit(numbax.grad(lambda mu: jnp.sum(sp.xlogy(n, mu))))(np.array([0.0, 2.0, 2.0]))
    assert_allclose(g, [0.0, 0.0, 1.5])


def test_shape_parameter_derivatives_raise():
    for f, what in ((lambda a: sp.gammainc(a, 1.5), "gammainc derivative with respect to a"),
                    (lambda a: sp.gammaincc(a, 1.5), "gammaincc derivative with respect to a"),
                    (lambda a: sp.betainc(a, 2.0, 0.3), "betainc derivative with respect to a"),
                    (lambda b: sp.betainc(2.0, b, 0.3), "betainc derivative with respect to b")):
        with pytest.raises(NotImplementedError, match=what):
            numbax.grad(f)(2.0)
        with pytest.raises(NotImplementedError, match=what):
            numbax.jit(numbax.grad(f))(2.0)
        with pytest.raises(NotImplementedError, match=what):
            numbax.jvp(f, (2.0,), (1.0,))
    # a traced but undifferentiated shape parameter is fine
    g = numbax.jit(numbax.grad(lambda a, x: sp.gammainc(a, x), argnums=1))(2.5, 1.5)
    assert g == pytest.approx(1.5 ** 1.5 * math.exp(-1.5) / math.gamma(2.5), rel=1e-14)
    h = numbax.grad(lambda x: sp.betainc(numbax.lax.stop_gradient(x), 2.0, 0.3 * x))(1.5)
    assert np.isfinite(h)


# --------------------------------------------------------------------------- vmap

def test_vmap_matches_loop():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 5, (4, 3))
    x = rng.uniform(0.1, 6, (4, 3))
    p = rng.uniform(0.05, 0.95, (4, 3))
    check_vmap(sp.gammainc, [a, x])
    check_vmap(sp.gammaincc, [a, x[0]], in_axes=(0, None))
    check_vmap(sp.betainc, [a[0], a, p], in_axes=(None, 0, 0))
    check_vmap(sp.xlogy, [np.where(p > 0.5, 0.0, p), x.T], in_axes=(0, 1))
    check_vmap(sp.log_ndtr, [-10 * x])
    check_vmap(sp.ndtri, [p])
    check_vmap(lambda v: sp.logsumexp(v), [x])
    check_vmap(grad_elementwise(lambda x: sp.gammainc(2.5, x)), [x])
