"""numbax.optimize: minimize (bfgs, newton, scipy:<name>), fit_uncertainties, profile.

Each distinct objective compiles a whole fit (a few seconds cold), so the tests share a handful
of module-level objectives and pass data through `args`.
"""
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

import numbax
import numbax.numpy as jnp
from numbax.optimize import OptimizeResult, fit_uncertainties, minimize, profile

SIGMA = 0.1


def rosen(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def gaussian_nll(p, X, y):
    """Linear regression with known noise SIGMA: the covariance of (w, b) is exactly
    SIGMA^2 (A^T A)^-1 with A = [X, 1]."""
    return jnp.sum((y - X @ p["w"] - p["b"]) ** 2) / (2 * SIGMA ** 2)


def poisson_nll(p, n, s, b):
    """A binned counting model: Poisson main terms, unit-Gaussian constraints on theta."""
    lam = p["mu"] * s + b * (1.0 + 0.1 * p["theta"])
    return jnp.sum(lam - n * jnp.log(lam)) + 0.5 * jnp.sum(p["theta"] ** 2)


def quadratic(x, A, c):
    return 0.5 * x @ (A @ x) - c @ x


RNG = np.random.default_rng(7)
X = RNG.normal(size=(20, 3))
W_TRUE = np.array([1.0, -2.0, 0.5])
Y = X @ W_TRUE + 0.3 + SIGMA * RNG.normal(size=20)
A_DESIGN = np.hstack([X, np.ones((20, 1))])
COV = SIGMA ** 2 * np.linalg.inv(A_DESIGN.T @ A_DESIGN)
PERM = [3, 0, 1, 2]  # raveled order of {"b", "w"}: b first (sorted dict keys)
P0 = {"w": np.zeros(3), "b": 0.0}

S = np.linspace(5.0, 15.0, 6)
B = np.linspace(100.0, 50.0, 6)


def asimov(mu, theta):
    return mu * S + B * (1.0 + 0.1 * theta)


# --------------------------------------------------------------------------- minimize

@pytest.mark.parametrize("method", ["bfgs", "newton"])
def test_rosenbrock(method):
    r = minimize(rosen, np.array([-1.2, 1.0]), method=method)
    assert isinstance(r, OptimizeResult)
    assert r.success and r.status == 0, r.message
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-5)
    assert np.max(np.abs(r.jac)) <= 1e-5
    assert r.nit > 0 and r.nfev >= r.nit and r.njev == r.nfev
    ref = scipy.optimize.minimize(scipy.optimize.rosen, [-1.2, 1.0], jac=scipy.optimize.rosen_der,
                                  method="BFGS")
    assert r.nit <= 2 * ref.nit  # the same algorithm as scipy's, not a slower one
    if method == "bfgs":
        assert r.hess_inv.shape == (2, 2) and r.hess is None
        np.testing.assert_allclose(r.hess_inv, np.linalg.inv(
            scipy.optimize.rosen_hess([1.0, 1.0])), rtol=0.2)
    else:
        assert r.hess_inv is None
        np.testing.assert_allclose(r.hess, scipy.optimize.rosen_hess(r.x), rtol=1e-10)


@pytest.mark.parametrize("method", ["bfgs", "newton"])
def test_pytree_parameters_and_linear_least_squares(method):
    r = minimize(gaussian_nll, P0, args=(X, Y), method=method)
    assert r.success, r.message
    assert set(r.x) == {"w", "b"} and r.x["w"].shape == (3,) and np.shape(r.x["b"]) == ()
    assert set(r.jac) == {"w", "b"}
    lstsq = np.linalg.lstsq(A_DESIGN, Y, rcond=None)[0]
    np.testing.assert_allclose(r.x["w"], lstsq[:3], atol=1e-7)
    np.testing.assert_allclose(r.x["b"], lstsq[3], atol=1e-7)
    if method == "newton":
        assert r.nit == 1  # a quadratic: one exact Newton step


@pytest.mark.parametrize("method", ["bfgs", "newton"])
def test_asimov_data_recovers_parameters(method):
    """Fitting the expected counts themselves (non-integer) returns the true parameters."""
    theta = np.array([0.5, -1.0, 0.0, 0.3, 0.2, -0.4])
    n = asimov(1.7, theta)
    r = minimize(poisson_nll, {"mu": 1.0, "theta": np.zeros(6)}, args=(n, S, B), method=method,
                 tol=1e-9)
    assert r.success, r.message
    # the constraint term pulls theta towards 0: the exact minimum solves grad = 0, which for
    # Asimov data means lam == n only when theta's constraint is balanced; check the gradient
    # condition and that the main term is exactly stationary
    lam = r.x["mu"] * S + B * (1 + 0.1 * r.x["theta"])
    np.testing.assert_allclose(np.sum((1 - n / lam) * S), 0.0, atol=1e-8)
    np.testing.assert_allclose((1 - n / lam) * B * 0.1 + r.x["theta"], 0.0, atol=1e-8)


@pytest.mark.parametrize("method", ["bfgs", "newton"])
def test_asimov_without_constraints_is_exact(method):
    n = asimov(1.7, np.zeros(6))
    r = minimize(poisson_nll, {"mu": 1.0, "theta": np.zeros(6)}, args=(n, S, B), method=method,
                 tol=1e-10)
    # with the constraint at its centre, theta = 0 and mu = 1.7 is the exact minimum
    np.testing.assert_allclose(r.x["mu"], 1.7, rtol=1e-9)
    np.testing.assert_allclose(r.x["theta"], 0.0, atol=1e-9)


def test_newton_handles_indefinite_hessian():
    """Starting where the Hessian is indefinite, the damped Newton step still descends."""
    r = minimize(rosen, np.array([0.0, 1.0]), method="newton")
    assert r.success
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2 ** 31 - 1))
def test_random_quadratics(seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(4, 4))
    A = M @ M.T + 0.5 * np.eye(4)
    c = rng.normal(size=4)
    expected = np.linalg.solve(A, c)
    for method in ("bfgs", "newton"):
        r = minimize(quadratic, np.zeros(4), args=(A, c), method=method, tol=1e-10)
        assert r.success, (method, r.message)
        np.testing.assert_allclose(r.x, expected, rtol=1e-7, atol=1e-8)


def test_integer_start_is_promoted():
    r = minimize(rosen, np.array([0, 0]))
    assert r.x.dtype == np.float64 and r.success


def test_maxiter_reported():
    r = minimize(rosen, np.array([-1.2, 1.0]), options={"maxiter": 3})
    assert not r.success and r.status == 1 and r.nit == 3
    assert "iterations" in r.message


# --------------------------------------------------------------------------- transformations

FIT_QUADRATIC = numbax.jit(lambda A, c: minimize(quadratic, jnp.zeros(4), args=(A, c)).x)


def test_jit_of_minimize_matches_eager():
    A, c = np.diag([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(FIT_QUADRATIC(A, c), [1.0, 0.5, 1 / 3, 0.25], rtol=1e-6)
    np.testing.assert_allclose(FIT_QUADRATIC(A, c), minimize(quadratic, np.zeros(4),
                                                             args=(A, c)).x, rtol=1e-12)


def _toys(k):
    rng = np.random.default_rng(3)
    return rng.poisson(asimov(1.0, np.zeros(6)), size=(k, 6)).astype(float)


@pytest.mark.parametrize("method", ["bfgs", "newton"])
def test_vmap_of_fits_equals_loop(method):
    toys = _toys(5)
    x0 = {"mu": 1.0, "theta": np.zeros(6)}

    def fit(n):
        return minimize(poisson_nll, x0, args=(n, S, B), method=method)

    batched = numbax.jit(numbax.vmap(fit))(toys)  # one compiled loop per lane
    for i, n in enumerate(toys):
        single = fit(n)
        np.testing.assert_allclose(batched.x["mu"][i], single.x["mu"], rtol=1e-10)
        np.testing.assert_allclose(batched.x["theta"][i], single.x["theta"], rtol=1e-8,
                                   atol=1e-12)
        assert batched.nit[i] == single.nit and batched.status[i] == single.status
    assert batched.success.all()
    assert list(batched.message) == ["Optimization terminated successfully."] * 5


def test_eager_vmap_of_fit_equals_loop():
    """Eagerly the lanes advance together (masked); the results are the same."""
    A = np.diag([1.0, 2.0, 3.0, 4.0])
    cs = np.array([[1.0, 1.0, 1.0, 1.0], [2.0, 0.0, -1.0, 4.0]])
    batched = numbax.vmap(lambda c: minimize(quadratic, np.zeros(4), args=(A, c)).x)(cs)
    np.testing.assert_allclose(batched, cs / np.diag(A), rtol=1e-6)


# --------------------------------------------------------------------------- scipy methods

@pytest.mark.parametrize("name", ["BFGS", "L-BFGS-B", "CG", "trust-exact", "Newton-CG",
                                  "Nelder-Mead"])
def test_scipy_methods(name):
    opts = {"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000} if name == "Nelder-Mead" else None
    r = minimize(gaussian_nll, P0, args=(X, Y), method=f"scipy:{name}", options=opts)
    assert r.success, r.message
    lstsq = np.linalg.lstsq(A_DESIGN, Y, rcond=None)[0]
    np.testing.assert_allclose(r.x["w"], lstsq[:3], atol=1e-4)
    assert r.scipy_result.success and isinstance(r.message, str)


def test_scipy_bounds_as_pytrees_and_pairs():
    lower = {"w": np.array([1.5, -5.0, -5.0]), "b": None}
    r = minimize(gaussian_nll, {"w": np.full(3, 2.0), "b": 0.0}, args=(X, Y),
                 method="scipy:L-BFGS-B", bounds=(lower, None))
    assert r.success and r.x["w"][0] == pytest.approx(1.5)
    pairs = [(None, None), (1.5, None), (None, None), (None, None)]  # raveled: b, w0, w1, w2
    r2 = minimize(gaussian_nll, {"w": np.full(3, 2.0), "b": 0.0}, args=(X, Y),
                  method="scipy:L-BFGS-B", bounds=pairs)
    np.testing.assert_allclose(r2.x["w"], r.x["w"], atol=1e-5)
    with pytest.raises(TypeError, match="do not match the structure"):
        minimize(gaussian_nll, P0, args=(X, Y), method="scipy:L-BFGS-B",
                 bounds=({"w": np.zeros(3)}, None))


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("method", ["bfgs", "newton", "scipy:BFGS"])
def test_nonfinite_objective_at_x0_raises(method):
    with pytest.raises(ValueError, match=r"not finite at x0: fun\(x0\) = nan"):
        minimize(rosen, np.array([np.nan, 1.0]), method=method)


def test_nonfinite_gradient_at_x0_names_parameter():
    with pytest.raises(ValueError, match=r"gradient is not finite with respect to x\[0\]"):
        minimize(lambda x: jnp.sum(jnp.sqrt(x)), np.array([0.0, 1.0]))


def nan_beyond_two(x):
    return jnp.where(x[0] < 2.0, (x[0] - 3.0) ** 2 + x[1] ** 2, jnp.nan)


def test_nan_mid_fit_reports_failure():
    r = minimize(nan_beyond_two, np.array([0.0, 1.0]))
    assert not r.success and r.status == 3
    assert "NaN" in r.message
    assert np.all(np.isfinite(r.x)) and r.x[0] < 2.0  # the last finite point, not garbage
    traced = numbax.jit(lambda x0: minimize(nan_beyond_two, x0).status)(np.array([0.0, 1.0]))
    assert traced == 3


def test_bad_arguments():
    with pytest.raises(TypeError, match="must return a scalar"):
        minimize(lambda x: x ** 2, np.ones(2))
    with pytest.raises(ValueError, match="unknown method"):
        minimize(rosen, np.ones(2), method="lbfgs")
    with pytest.raises(TypeError, match="unknown option"):
        minimize(rosen, np.ones(2), options={"max_iter": 3})
    with pytest.raises(NotImplementedError, match="scipy:L-BFGS-B"):
        minimize(rosen, np.ones(2), bounds=[(0, 1), (0, 1)])
    with pytest.raises(TypeError, match="bounds must be"):
        minimize(gaussian_nll, P0, args=(X, Y), method="scipy:L-BFGS-B", bounds=[(0, 1)] * 3)
    with pytest.raises(TypeError, match="method must be a string"):
        minimize(rosen, np.ones(2), method=None)


# --------------------------------------------------------------------------- uncertainties

def test_fit_uncertainties_linear_gaussian_exact():
    r = minimize(gaussian_nll, P0, args=(X, Y))
    u = fit_uncertainties(gaussian_nll, r, args=(X, Y))
    assert u.names == ("b", "w[0]", "w[1]", "w[2]")
    expected = COV[np.ix_(PERM, PERM)]
    np.testing.assert_allclose(u.cov, expected, rtol=1e-10)
    np.testing.assert_allclose(u.std["w"], np.sqrt(np.diag(COV))[:3], rtol=1e-10)
    np.testing.assert_allclose(u.std["b"], np.sqrt(COV[3, 3]), rtol=1e-10)
    d = np.sqrt(np.diag(expected))
    np.testing.assert_allclose(u.corr, expected / np.outer(d, d), rtol=1e-10)
    np.testing.assert_allclose(np.diag(u.corr), 1.0)
    # the parameters alone (not an OptimizeResult) work too, and so does tracing
    u2 = fit_uncertainties(gaussian_nll, r.x, args=(X, Y))
    np.testing.assert_allclose(u2.cov, u.cov, rtol=1e-12)
    cov_jit = numbax.jit(lambda p: fit_uncertainties(gaussian_nll, p, args=(X, Y)).cov)(r.x)
    np.testing.assert_allclose(cov_jit, u.cov, rtol=1e-9)


def degenerate(p):
    return (p["a"] + p["b"] - 1.0) ** 2 + (p["c"] - 2.0) ** 2


def test_singular_hessian_names_parameters():
    with pytest.raises(np.linalg.LinAlgError, match="singular.*a, b") as e:
        fit_uncertainties(degenerate, {"a": 0.5, "b": 0.5, "c": 2.0})
    assert "c" not in str(e.value).split("combination of")[1]
    assert isinstance(e.value, ValueError)


def test_not_a_minimum():
    with pytest.raises(np.linalg.LinAlgError, match=r"not positive definite.*x\[1\]"):
        fit_uncertainties(lambda x: x[0] ** 2 - x[1] ** 2, np.zeros(2))


# --------------------------------------------------------------------------- profile

def test_profile_of_linear_gaussian_is_exact_parabola():
    r = minimize(gaussian_nll, P0, args=(X, Y))
    values = r.x["w"][0] + np.linspace(-0.05, 0.05, 5)
    pr = profile(gaussian_nll, r, "w[0]", values, args=(X, Y))
    assert pr.success.all()
    np.testing.assert_allclose(pr.q, ((values - r.x["w"][0]) / np.sqrt(COV[0, 0])) ** 2,
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(pr.x["w"][:, 0], values)
    # by index (raveled position 1 is w[0]) the same
    pr2 = profile(gaussian_nll, r, 1, values, args=(X, Y))
    np.testing.assert_allclose(pr2.fun, pr.fun, rtol=1e-10)
    with pytest.raises(KeyError, match="no parameter named 'mu'"):
        profile(gaussian_nll, r, "mu", values, args=(X, Y))
    with pytest.raises(IndexError):
        profile(gaussian_nll, r, 4, values, args=(X, Y))
