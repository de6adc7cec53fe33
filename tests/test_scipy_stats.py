"""numbax.scipy.stats against scipy.stats: every function over grids of values, parameters and
edge cases (outside the support, 0, inf, NaN, invalid parameters), eagerly and under jit;
derivatives against central differences (second order for the likelihood terms); vmap against a
loop; the Poisson continuous extension; multivariate normal shapes and errors."""
import itertools

import numpy as np
import pytest
import scipy.special as ss
import scipy.stats as sst

import numbax
import numbax.numpy as jnp
import numbax.scipy.stats as st
from checks import assert_allclose, assert_same, check_vmap, grid, jitted

INF, NAN = np.inf, np.nan

# --------------------------------------------------------------------------- values

X_POS = [-1, 0, 0.3, 2, 50, INF, -INF, NAN]
SCALES = [1, 2, 0, -1]
# distribution -> (function names, grid axes)
CASES = {
    "norm": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
             [[-INF, -40, -3, 0, 0.5, 40, INF, NAN], [0, 1.5], [1, 2.5, 0, -1, NAN]]),
    "norm_q": (["ppf", "isf"], [[0, 1e-300, 0.01, 0.5, 0.975, 1, -0.1, 1.1, NAN], [0, 1.5],
                                [1, 2.5, 0, -1]]),
    "gamma": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
              [X_POS, [0.5, 1, 2.5, 30, 0, -1, NAN], [0, 0.2], SCALES]),
    "chi2": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
             [X_POS, [1, 2, 3, 0, -1, NAN], [0, 0.2], SCALES]),
    "beta": (["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
             [[-1, 0, 0.3, 0.9, 1, 2, INF, NAN], [0.5, 1, 2.5, 0, -1, NAN], [0.7, 1, 3, 0, NAN],
              [0, 0.1], SCALES]),
    "poisson": (["logpmf", "pmf", "cdf", "sf"],
                [[-1, 0, 1, 5, 30, INF, -INF, NAN], [0, 1e-10, 0.5, 3, 100, -1, NAN], [0, 2]]),
}
PARAMS = [(d, f) for d, (fs, _) in CASES.items() for f in fs]


def _reference(dist, fname, args):
    ref_dist = getattr(sst, dist.split("_")[0])
    with np.errstate(all="ignore"):
        want = np.asarray(getattr(ref_dist, fname)(*args), np.float64)
    if dist in ("gamma", "chi2") and fname in ("logpdf", "pdf"):
        # deliberate: the density's limit at x = inf for valid parameters (scipy: inf - inf = NaN)
        at_inf = (args[0] == INF) & (args[1] > 0) & (args[3] > 0)
        want[at_inf] = -INF if fname == "logpdf" else 0.0
    return want


@pytest.mark.parametrize("dist, fname", PARAMS, ids=[f"{d}.{f}" for d, f in PARAMS])
def test_values_match_scipy(dist, fname):
    fn = getattr(getattr(st, dist.split("_")[0]), fname)
    args = grid(*CASES[dist][1])
    want = _reference(dist, fname, args)
    # atol: scipy flushes some results below ~1e-308 to 0 where the jit kernels keep subnormals
    assert_same(fn(*args), want, rtol=1e-12, atol=1e-300, err_msg=f"{dist}.{fname} eager")
    assert_same(jitted(f"{dist}.{fname}", fn)(*args), want, rtol=1e-12, atol=1e-300,
                err_msg=f"{dist}.{fname} jit")


def test_defaults_broadcasting_and_dtypes():
    x = np.linspace(-2, 2, 5)
    assert_allclose(st.norm.logpdf(x), sst.norm.logpdf(x), rtol=1e-15)
    assert_allclose(st.norm.cdf(x[:, None], np.array([0.0, 1.0]), 2.0),
                    sst.norm.cdf(x[:, None], np.array([0.0, 1.0]), 2.0), rtol=1e-15)
    assert_allclose(st.gamma.cdf(x + 2, 2.0), sst.gamma.cdf(x + 2, 2.0), rtol=1e-14)
    assert np.asarray(st.poisson.logpmf(3, 2)).dtype == np.float64
    x32 = x.astype(np.float32)
    assert st.norm.logpdf(x32, 0.5, 2.0).dtype == np.float32
    assert jitted("norm.logpdf", st.norm.logpdf)(x32, 0.5, 2.0).dtype == np.float32
    assert jitted("gamma.cdf32", st.gamma.cdf)(x32 + 2, np.float32(2.0)).dtype == np.float32


def test_poisson_continuous_extension():
    """Non-integer k: k log(mu) - mu - gammaln(k + 1) (scipy says -inf there); integers as
    scipy; mu = 0, k = 0 gives log 1 with a finite gradient and Hessian."""
    k = np.array([0.0, 0.3, 1.5, 2.5, 7.25, 40.5])
    mu = np.array([0.7, 2.0, 3.0, 0.1, 7.0, 38.0])
    want = ss.xlogy(k, mu) - mu - ss.gammaln(k + 1)
    assert_allclose(st.poisson.logpmf(k, mu), want, rtol=1e-14)
    assert_allclose(jitted("poisson.logpmf", st.poisson.logpmf)(k, mu, 0.0), want, rtol=1e-14)
    assert_allclose(st.poisson.pmf(k, mu), np.exp(want), rtol=1e-13)
    ki = np.arange(6.0)
    assert_allclose(st.poisson.logpmf(ki, 2.5), sst.poisson.logpmf(ki, 2.5), rtol=1e-14)
    assert st.poisson.logpmf(0.0, 0.0) == 0.0
    d = numbax.grad(st.poisson.logpmf, argnums=1)
    assert d(0.0, 0.0) == -1.0
    assert numbax.jit(d)(0.0, 0.0) == -1.0
    assert numbax.grad(d, argnums=1)(0.0, 0.0) == 0.0
    # below the support the log-pmf is -inf; its masked branch leaks no NaN into the gradient
    gm = numbax.grad(lambda mu: jnp.sum(st.poisson.logpmf(np.array([-1.0, 0.0]), mu)))
    assert_allclose(gm(np.zeros(2)), [0.0, -1.0])
    # an Asimov-style binned fit: expected counts as data, some bins empty, some mu zero
    n = np.array([0.0, 2.5, 0.0, 4.0])

    def nll(mu):
        return -jnp.sum(st.poisson.logpmf(n, mu))
    m = np.array([0.0, 2.0, 1.5, 4.5])
    g = numbax.jit(numbax.grad(nll))(m)
    assert_allclose(g, 1 - np.divide(n, m, out=np.zeros(4), where=n != 0), rtol=1e-14)
    h = numbax.hessian(nll)(m)
    assert_allclose(h, np.diag(np.divide(n, m ** 2, out=np.zeros(4), where=n != 0)), rtol=1e-14)


# --------------------------------------------------------------------------- derivatives

def fd_partial(f, args, i, h=1e-6):
    """Central difference of f (numpy, elementwise) in argument i, step relative to it."""
    a = [np.asarray(v, np.float64) for v in args]
    step = h * np.where(a[i] != 0, np.abs(a[i]), 1.0)
    plus, minus = list(a), list(a)
    plus[i], minus[i] = a[i] + step, a[i] - step
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * step)


def grad_elementwise(f, i):
    """The partial derivative in argument i of an elementwise function (gradient of the sum)."""
    return numbax.grad(lambda *a: jnp.sum(f(*a)), argnums=i)


# (name, numbax function, scipy reference, args, differentiable argnums)
_x = np.array([-1.3, 0.2, 2.5])
DERIV = [
    ("norm.logpdf", st.norm.logpdf, sst.norm.logpdf, (_x, 0.4, np.array([0.5, 1.0, 3.0])), (0, 1, 2)),
    ("norm.cdf", st.norm.cdf, sst.norm.cdf, (_x, 0.4, np.array([0.5, 1.0, 3.0])), (0, 1, 2)),
    ("norm.logcdf", st.norm.logcdf, sst.norm.logcdf, (np.array([-45.0, -3.0, 2.0]), 0.0, 1.0), (0,)),
    ("norm.logsf", st.norm.logsf, sst.norm.logsf, (np.array([-2.0, 3.0, 45.0]), 0.0, 1.0), (0,)),
    ("norm.ppf", st.norm.ppf, sst.norm.ppf, (np.array([0.01, 0.4, 0.95]), 1.0, 2.0), (0, 1, 2)),
    ("poisson.logpmf", st.poisson.logpmf, lambda k, mu: ss.xlogy(k, mu) - mu - ss.gammaln(k + 1),
     (np.array([0.0, 3.0, 2.5]), np.array([0.5, 2.0, 4.0])), (1,)),
    ("poisson.cdf", st.poisson.cdf, sst.poisson.cdf, (np.array([0.0, 3.0, 7.0]), np.array([0.5, 2.0, 4.0])), (1,)),
    ("gamma.logpdf", st.gamma.logpdf, sst.gamma.logpdf,
     (np.array([0.3, 2.0, 7.0]), np.array([0.5, 2.5, 8.0]), 0.1, 1.5), (0, 1, 2, 3)),
    ("gamma.cdf", st.gamma.cdf, sst.gamma.cdf,
     (np.array([0.3, 2.0, 7.0]), np.array([0.5, 2.5, 8.0]), 0.1, 1.5), (0, 2, 3)),
    ("gamma.logsf", st.gamma.logsf, sst.gamma.logsf,
     (np.array([0.3, 2.0, 30.0]), np.array([0.5, 2.5, 8.0])), (0,)),
    ("chi2.logpdf", st.chi2.logpdf, sst.chi2.logpdf, (np.array([0.3, 2.0, 7.0]), np.array([1.0, 3.0, 5.5])), (0, 1)),
    ("chi2.cdf", st.chi2.cdf, sst.chi2.cdf, (np.array([0.3, 2.0, 7.0]), np.array([1.0, 3.0, 5.5])), (0,)),
    ("beta.logpdf", st.beta.logpdf, sst.beta.logpdf,
     (np.array([0.1, 0.5, 0.95]), np.array([0.5, 2.0, 12.0]), np.array([3.0, 0.8, 15.0])), (0, 1, 2)),
    ("beta.cdf", st.beta.cdf, sst.beta.cdf,
     (np.array([0.1, 0.5, 0.95]), np.array([0.5, 2.0, 12.0]), np.array([3.0, 0.8, 15.0]), -0.1, 1.2),
     (0, 3, 4)),
]


@pytest.mark.parametrize("case", DERIV, ids=[c[0] for c in DERIV])
def test_first_derivatives_vs_central_differences(case):
    name, fn, ref, args, argnums = case
    for i in argnums:
        want = fd_partial(ref, args, i)
        if np.ndim(args[i]) == 0:
            want = np.sum(want)
        got = grad_elementwise(fn, i)(*args)
        assert_allclose(got, want, rtol=2e-7, atol=1e-9, err_msg=f"{name} d/darg{i}")
    got = jitted(f"d{argnums[-1]}_{name}", grad_elementwise(fn, argnums[-1]))(*args)
    assert_allclose(got, grad_elementwise(fn, argnums[-1])(*args), rtol=1e-13, atol=1e-15)


SECOND = [("norm.logpdf", (0, 1, 2)), ("poisson.logpmf", (1,)), ("gamma.logpdf", (0, 1)),
          ("beta.logpdf", (1, 2)), ("norm.logcdf", (0,)), ("gamma.cdf", (0,)), ("chi2.logpdf", (1,))]


@pytest.mark.parametrize("name, argnums", SECOND, ids=[s[0] for s in SECOND])
def test_second_derivatives_vs_differences_of_the_first(name, argnums):
    _, fn, _, args, _ = next(c for c in DERIV if c[0] == name)
    arrays = [i for i in argnums if np.ndim(args[i])]  # scalar loc: see the hessian test below
    for i, j in itertools.product(arrays, repeat=2):
        d1 = grad_elementwise(fn, i)
        d2 = grad_elementwise(d1, j)
        want = fd_partial(lambda *a: np.asarray(d1(*a)), args, j, h=1e-5)
        assert_allclose(d2(*args), want, rtol=1e-6, atol=1e-8, err_msg=f"{name} d{i}d{j}")


def test_norm_hessian_in_loc_and_scale():
    x = np.array([-1.0, 0.5, 2.0])

    def nll(theta):
        return -jnp.sum(st.norm.logpdf(x, theta[0], theta[1]))
    theta = np.array([0.3, 1.7])
    h = numbax.hessian(nll)(theta)
    hj = numbax.jit(numbax.hessian(nll))(theta)
    r = x - theta[0]
    s = theta[1]
    want = np.array([[3 / s ** 2, 2 * r.sum() / s ** 3],
                     [2 * r.sum() / s ** 3, -3 / s ** 2 + 3 * np.sum(r ** 2) / s ** 4]])
    assert_allclose(h, want, rtol=1e-13)
    assert_allclose(hj, want, rtol=1e-13)


def test_shape_parameter_derivatives_of_cdfs_raise():
    cases = [(lambda a: st.gamma.cdf(1.5, a), "gammainc derivative with respect to a"),
             (lambda a: st.gamma.sf(1.5, a), "gammaincc derivative with respect to a"),
             (lambda df: st.chi2.cdf(1.5, df), "gammainc derivative with respect to a"),
             (lambda a: st.beta.cdf(0.3, a, 2.0), "betainc derivative with respect to a"),
             (lambda b: st.beta.cdf(0.3, 2.0, b), "betainc derivative with respect to b")]
    for f, what in cases:
        with pytest.raises(NotImplementedError, match=what):
            numbax.grad(f)(2.0)
        with pytest.raises(NotImplementedError, match=what):
            numbax.jit(numbax.grad(f))(2.0)
    # the Poisson cdf's shape argument is floor(k) + 1: no derivative is asked for
    assert numbax.grad(st.poisson.cdf, argnums=0)(3.0, 2.0) == 0.0


# --------------------------------------------------------------------------- multivariate normal

COV = np.array([[2.0, 0.3, -0.2], [0.3, 1.0, 0.1], [-0.2, 0.1, 0.5]])
MEAN = np.array([0.1, -0.2, 0.4])
XS = np.random.default_rng(0).normal(size=(5, 3))


def test_mvn_values():
    mvn, ref = st.multivariate_normal, sst.multivariate_normal
    assert_allclose(mvn.logpdf(XS, MEAN, COV), ref.logpdf(XS, MEAN, COV), rtol=1e-14)
    assert_allclose(mvn.logpdf(XS[0], MEAN, COV), ref.logpdf(XS[0], MEAN, COV), rtol=1e-14)
    assert_allclose(mvn.pdf(XS, MEAN, COV), ref.pdf(XS, MEAN, COV), rtol=1e-13)
    assert_allclose(jitted("mvn", mvn.logpdf)(XS, MEAN, COV), ref.logpdf(XS, MEAN, COV), rtol=1e-14)
    x3 = XS.reshape(5, 1, 3) + np.zeros((5, 2, 3))
    assert_allclose(mvn.logpdf(x3, MEAN, COV), ref.logpdf(x3, MEAN, COV), rtol=1e-14)
    diag = np.array([2.0, 1.0, 0.5])
    assert_allclose(mvn.logpdf(XS, MEAN, diag), ref.logpdf(XS, MEAN, diag), rtol=1e-14)
    assert_allclose(mvn.logpdf(XS, MEAN, 1.7), ref.logpdf(XS, MEAN, 1.7), rtol=1e-14)
    assert_allclose(mvn.logpdf(XS[:, 0], 0.3, 2.0), ref.logpdf(XS[:, 0], 0.3, 2.0), rtol=1e-14)
    covs = np.stack([COV * s for s in (1.0, 2.0, 0.5, 3.0, 1.5)])
    want = [ref.logpdf(XS[i], MEAN, covs[i]) for i in range(5)]
    assert_allclose(mvn.logpdf(XS, MEAN, covs), want, rtol=1e-14)
    assert_allclose(jitted("mvn", mvn.logpdf)(XS, MEAN, covs), want, rtol=1e-14)
    assert np.isnan(mvn.logpdf(XS[0], MEAN, -COV))  # not positive definite


def test_mvn_errors():
    with pytest.raises(NotImplementedError, match="allow_singular"):
        st.multivariate_normal.logpdf(XS, MEAN, COV, allow_singular=True)
    with pytest.raises(ValueError, match="cov of shape"):
        st.multivariate_normal.logpdf(XS, MEAN, np.eye(2))
    with pytest.raises(TypeError, match="incompatible shapes"):
        st.multivariate_normal.logpdf(XS[:, :2], MEAN, COV)


def _mvn_ref_sym(x, mean, cov):
    return sst.multivariate_normal.logpdf(x, mean, (cov + cov.T) / 2)


def test_mvn_gradients():
    mvn = st.multivariate_normal.logpdf
    x = XS[0]
    gx = numbax.grad(mvn, argnums=0)(x, MEAN, COV)
    gm = numbax.grad(mvn, argnums=1)(x, MEAN, COV)
    prec = np.linalg.inv(COV)
    assert_allclose(gx, -prec @ (x - MEAN), rtol=1e-13)
    assert_allclose(gm, prec @ (x - MEAN), rtol=1e-13)
    fd_mean = [(_mvn_ref_sym(x, MEAN + e * 1e-6, COV) - _mvn_ref_sym(x, MEAN - e * 1e-6, COV)) / 2e-6
               for e in np.eye(3)]
    assert_allclose(gm, fd_mean, rtol=1e-7)
    gc = numbax.grad(lambda c: jnp.sum(mvn(XS, MEAN, c)))(COV)
    gcj = jitted("mvn_dcov", numbax.grad(lambda c: jnp.sum(mvn(XS, MEAN, c))))(COV)
    assert_allclose(gcj, gc, rtol=1e-13)
    for i, j in itertools.product(range(3), repeat=2):  # symmetric directions E_ij + E_ji
        e = np.zeros((3, 3))
        e[i, j] += 1e-6
        e[j, i] += 1e-6
        want = (np.sum(_mvn_ref_sym(XS, MEAN, COV + e)) - np.sum(_mvn_ref_sym(XS, MEAN, COV - e))) / 2e-6
        assert abs(np.sum(gc * e) / 1e-6 - want) < 1e-6 * max(1.0, abs(want)), (i, j)
    # closed form: d/dC sum_k logpdf = (P S P - K P) / 2 with S the scatter matrix
    d = XS - MEAN
    want = 0.5 * (prec @ (d.T @ d) @ prec - len(XS) * prec)
    assert_allclose(gc, want, rtol=1e-12)


def test_mvn_hessian_in_mean():
    h = numbax.hessian(st.multivariate_normal.logpdf, argnums=1)(XS[0], MEAN, COV)
    assert_allclose(h, -np.linalg.inv(COV), rtol=1e-13)
    hj = jitted("mvn_hess", numbax.hessian(st.multivariate_normal.logpdf, argnums=1))(XS[0], MEAN, COV)
    assert_allclose(hj, -np.linalg.inv(COV), rtol=1e-13)
    g = numbax.grad(st.multivariate_normal.logpdf, argnums=1)
    fd = np.array([(np.asarray(g(XS[0], MEAN + e * 1e-5, COV)) - np.asarray(g(XS[0], MEAN - e * 1e-5, COV))) / 2e-5
                   for e in np.eye(3)])
    assert_allclose(h, fd, rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- vmap

def test_vmap_matches_loop():
    rng = np.random.default_rng(4)
    x = rng.uniform(0.1, 3, (4, 3))
    p = rng.uniform(0.5, 3, (4, 3))
    check_vmap(st.norm.logpdf, [x, p[:, 0], p], in_axes=(0, 0, 0))
    check_vmap(lambda k, mu: st.poisson.logpmf(k, mu), [np.floor(x), p], in_axes=(None, 0))
    check_vmap(st.gamma.cdf, [x, p], in_axes=(0, 0))
    check_vmap(st.beta.logpdf, [x / 4, p, p.T], in_axes=(0, 0, 1))
    check_vmap(st.chi2.sf, [x, p[0]], in_axes=(0, None))
    check_vmap(st.multivariate_normal.logpdf, [XS, MEAN, COV], in_axes=(0, None, None))
    check_vmap(st.multivariate_normal.logpdf, [XS, np.stack([MEAN] * 5) + XS * 0.1, COV],
               in_axes=(None, 0, None))
    check_vmap(st.multivariate_normal.logpdf, [XS[0], MEAN, np.stack([COV * (1 + i) for i in range(3)])],
               in_axes=(None, None, 0))
    check_vmap(numbax.grad(lambda mu: jnp.sum(st.poisson.logpmf(np.array([0.0, 2.0]), mu))),
               [p[:, :2]])


def test_numbax_scipy_is_an_attribute_of_numbax():
    """`import numbax` is enough to reach numbax.scipy and numbax.optimize, as with jax.scipy."""
    import subprocess
    import sys
    code = ("import numbax; print(float(numbax.scipy.stats.norm.cdf(0.0)), "
            "float(numbax.scipy.special.xlogy(0, 0)), callable(numbax.optimize.minimize))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0.5", "0.0", "True"]
