"""The examples this library exists for, from autodiff tutorials, as regression tests."""
from fractions import Fraction

import numpy as np
import pytest
import scipy.optimize

import numbax
import numbax.numpy as jnp
from numbax import grad, jvp, make_jaxpr, value_and_grad, vjp, vmap
from numbax.jaxpr import count_eqns
from numbax.passes import optimize_jaxpr


def cube(x):
    return x ** 3


def test_nested_grad_of_cube():
    d1 = grad(cube)
    d2 = grad(d1)
    d3 = grad(d2)
    d4 = grad(d3)
    assert [d(4.0) for d in (d1, d2, d3, d4)] == [48.0, 24.0, 6.0, 0.0]
    # a weakly typed input gives weakly typed derivatives (Python floats), the zero one too
    assert [type(d(4.0)) for d in (d1, d2, d3, d4)] == [float] * 4
    assert type(d4(np.float64(4.0))) is np.float64


def test_grad_of_log_ratio():
    f = lambda x: jnp.log(1 + x ** 2) / x
    assert grad(f)(1.0) == pytest.approx(0.3068528194400547, rel=1e-15)


def test_logistic_map_python_loop():
    def f(v):
        for _ in range(4):
            v = 4 * v * (1 - v)
        return v
    assert grad(f)(0.25) == pytest.approx(-16.0, abs=1e-12)


def test_partials_of_two_variable_functions():
    f = lambda x, y: y * x ** 2
    g = lambda x, y: (x ** 2 + 2 * y ** 2) / (x * y)
    assert grad(f, argnums=(0, 1))(1.0, 1.0) == (2.0, 1.0)
    assert grad(g, argnums=(0, 1))(1.0, 1.0) == pytest.approx((-1.0, 1.0))


def test_jvp_and_vjp_of_product_plus():
    f = lambda x1, x2: x1 * x2 + x2
    assert jvp(f, (2.0, 4.0), (1.0, 0.0)) == (12.0, 4.0)
    assert jvp(f, (2.0, 4.0), (0.0, 1.0)) == (12.0, 3.0)
    out, f_vjp = vjp(f, 2.0, 4.0)
    assert out == 12.0 and f_vjp(1.0) == (4.0, 3.0)


def piecewise(x):
    if x > 2:
        return x ** 2
    return x ** 3


@pytest.mark.parametrize("x, d1, d2", [(3.0, 6.0, 2.0), (1.0, 3.0, 6.0)])
def test_python_control_flow_under_grad(x, d1, d2):
    assert grad(piecewise)(x) == d1
    assert grad(grad(piecewise))(x) == d2


def test_vmap_of_third_derivative_over_linspace():
    f = lambda x: jnp.sin(x) * x ** 2
    xs = np.linspace(-2, 2, 9)
    got = vmap(grad(grad(grad(f))))(xs)
    # d3/dx3 [x^2 sin x] = -x^2 cos x - 6x sin x + 6 cos x
    np.testing.assert_allclose(got, -xs ** 2 * np.cos(xs) - 6 * xs * np.sin(xs) + 6 * np.cos(xs),
                               rtol=1e-12, atol=1e-12)


def test_least_squares_with_scipy_bfgs_matches_closed_form():
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(30), rng.standard_normal((30, 2))])
    y = X @ np.array([0.5, -1.0, 2.0]) + 0.1 * rng.standard_normal(30)

    def loss(w):
        r = X @ w - y
        return jnp.sum(r * r)
    res = scipy.optimize.minimize(loss, np.zeros(3), jac=grad(loss), method="BFGS", tol=1e-12)
    np.testing.assert_allclose(res.x, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-7)


def test_binned_poisson_likelihood_grid_with_vmap():
    signal = np.array([5.0, 10.0, 3.0])
    background = np.array([50.0, 52.0, 48.0])
    observed = np.array([53.0, 65.0, 50.0])

    def logpdf(params, data):
        mu, scale = params[0], params[1]
        rate = mu * signal + scale * background
        return jnp.sum(data * jnp.log(rate) - rate)  # up to a parameter-free constant
    mus, scales = np.meshgrid(np.linspace(0.1, 3, 101), np.linspace(0.8, 1.2, 101))
    grid = np.stack([mus.ravel(), scales.ravel()], axis=1)
    values, grads = vmap(value_and_grad(logpdf), in_axes=(0, None))(grid, observed)
    assert values.shape == (101 * 101,) and grads.shape == (101 * 101, 2)
    rate = grid[:, :1] * signal + grid[:, 1:] * background
    np.testing.assert_allclose(values, (observed * np.log(rate) - rate).sum(1), rtol=1e-12)
    dmu = ((observed / rate - 1) * signal).sum(1)
    dscale = ((observed / rate - 1) * background).sum(1)
    np.testing.assert_allclose(grads, np.stack([dmu, dscale], 1), rtol=1e-10, atol=1e-10)


def quadmap(x):
    return x ** 2 + 3 * x + 4


def quadmap6(x):
    for _ in range(6):
        x = quadmap(x)
    return x


def test_derivative_programs_grow_about_linearly_per_order():
    sizes = []
    f = quadmap6
    for _ in range(5):
        f = grad(f)
        sizes.append(count_eqns(optimize_jaxpr(make_jaxpr(f)(0.5))))
    steps = np.diff(sizes)
    # each order adds a similar amount of work (growing slowly, as Leibniz's rule needs), where a
    # symbolic expression explodes: sympy's 5th derivative of quadmap^6 has thousands of operations
    assert sizes[-1] < 6 * sizes[0], sizes
    assert max(steps) < 2.5 * min(steps), sizes
    print(make_jaxpr(f)(0.5))


def _exact_poly_derivative_at(order: int, x: Fraction) -> float:
    """quadmap^6 is a degree-64 integer polynomial: differentiate and evaluate it exactly."""
    def mul(p, q):
        out = [0] * (len(p) + len(q) - 1)
        for i, a in enumerate(p):
            for j, b in enumerate(q):
                out[i + j] += a * b
        return out

    p = [0, 1]
    for _ in range(6):
        sq = mul(p, p)
        lin = [3 * c for c in p] + [0] * (len(sq) - len(p))
        p = [a + b for a, b in zip(sq, lin)]
        p[0] += 4
    for _ in range(order):
        p = [i * c for i, c in enumerate(p)][1:]
    return float(sum(c * x ** i for i, c in enumerate(p)))


@pytest.mark.parametrize("x", [Fraction(-7, 5), Fraction(-3, 2)])
def test_fifth_derivative_of_quadmap6_is_exact(x):
    f = quadmap6
    for _ in range(5):
        f = grad(f)
    assert f(float(x)) == pytest.approx(_exact_poly_derivative_at(5, x), rel=1e-9, abs=1e-6)
