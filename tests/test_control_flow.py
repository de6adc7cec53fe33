"""Structured control flow x transformations (DESIGN.md §5).

Every construct -- cond, switch, while_loop, fori_loop with static and with traced bounds, scan
(forward, reverse, pytree carries/xs/ys) and map (with and without batch_size) -- under eager,
jit, jvp, grad (jacfwd where reverse mode is impossible, and then the reverse-mode error),
vjp/jvp adjoint, vmap, vmap of grad, grad of jit and jit of grad, each against a plain-Python
reference (Python `if` / `for` / `while` on numpy values), eager results, or central finite
differences of that reference. Then: exact higher derivatives of polynomial loops and the
chaotic logistic map, where reverse mode, forward mode and the analytic product must agree.

The construct-specific behaviour (batched predicates, clamping, type errors, scan shapes) is in
test_control_flow_cond.py, test_control_flow_loops.py and test_control_flow_scan.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import numbax.numpy as jnp
from numbax import grad, hessian, jacfwd, jacrev, jit, jvp, linearize, value_and_grad, vjp, vmap
from numbax import lax

from cf_helpers import assert_same_dtype, fd_grad, fd_jac
from checks import assert_allclose, check_jvp, check_vjp_adjoint, check_vmap

C = np.array([0.5, -1.2, 2.0])
M = np.array([0.3, -0.7, 1.1, 0.2])
Z = np.array([[0.9, -0.4], [0.3, 1.1], [-0.6, 0.8]])
W2 = np.array([0.25, -0.5])

# --------------------------------------------------------------------------- the constructs


def f_cond(x):
    return lax.cond(jnp.sum(x) > 0, lambda v: jnp.sin(v) * v * C, lambda v: jnp.cos(v) - v ** 2,
                    x)


def r_cond(x):
    if np.sum(x) > 0:
        return np.sin(x) * x * C
    return np.cos(x) - x ** 2


def f_switch(x):
    idx = jnp.floor(x[0]).astype(jnp.int32)  # out of range on purpose: clamped to [0, 2]
    return lax.switch(idx, [lambda v: jnp.sin(v), lambda v: v ** 3 - v,
                            lambda v: jnp.exp(v) * C], x)


def r_switch(x):
    i = int(min(max(np.floor(x[0]), 0), 2))
    if i == 0:
        return np.sin(x)
    if i == 1:
        return x ** 3 - x
    return np.exp(x) * C


def f_while(x):
    def cond_fun(c):
        i, v = c
        return jnp.logical_and(i < 12, jnp.sum(v ** 2) < 20.0)

    def body_fun(c):
        i, v = c
        return i + 1, v * 1.4 + 0.3 * jnp.sin(v)
    return lax.while_loop(cond_fun, body_fun, (0, x))[1]


def r_while(x):
    i, v = 0, np.array(x, np.float64)
    while i < 12 and np.sum(v ** 2) < 20.0:
        i, v = i + 1, v * 1.4 + 0.3 * np.sin(v)
    return v


def f_fori(x):
    return lax.fori_loop(2, 6, lambda i, v: jnp.sin(v) * x + 0.1 * i * v, x)


def r_fori(x):
    v = np.array(x, np.float64)
    for i in range(2, 6):
        v = np.sin(v) * x + 0.1 * i * v
    return v


@jit
def _fori_dynamic(x, n):
    # n is an argument of a jitted function: the bound is traced, so this is a while loop
    return lax.fori_loop(1, n, lambda i, v: jnp.sin(v) * x + 0.1 * i * v, x)


def f_fori_traced(x):
    return _fori_dynamic(x, jnp.sum(x > 0) + 2)


def r_fori_traced(x):
    v = np.array(x, np.float64)
    for i in range(1, int(np.sum(x > 0)) + 2):
        v = np.sin(v) * x + 0.1 * i * v
    return v


def _scan_step(x):
    def step(c, xi):
        c2 = jnp.sin(c) * xi + c * x[1]  # closes over the (traced) input
        return c2, c2 * xi
    return step


def f_scan(x):
    c, ys = lax.scan(_scan_step(x), x[0], x)
    return jnp.concatenate([jnp.reshape(c, (1,)), ys])


def f_scan_rev(x):
    c, ys = lax.scan(_scan_step(x), x[0], x, reverse=True)
    return jnp.concatenate([jnp.reshape(c, (1,)), ys])


def _r_scan(x, reverse):
    c, ys = x[0], np.zeros_like(x)
    order = range(len(x) - 1, -1, -1) if reverse else range(len(x))
    for i in order:
        c = np.sin(c) * x[i] + c * x[1]
        ys[i] = c * x[i]
    return np.concatenate([[c], ys])


def r_scan(x):
    return _r_scan(x, False)


def r_scan_rev(x):
    return _r_scan(x, True)


def f_scan_tree(x):
    def step(carry, inp):
        a, b = carry["a"], carry["b"]
        xi, (zi, wi) = inp
        a2 = a * jnp.cos(xi) + 0.1 * jnp.sum(b)
        b2 = b * zi + wi * a
        return {"a": a2, "b": b2}, {"p": a2 * b2, "q": (xi * a,)}
    carry, ys = lax.scan(step, {"a": x[0], "b": x[1:]}, (x, (Z, x[:, None] * W2)))
    return jnp.concatenate([jnp.reshape(carry["a"], (1,)), carry["b"],
                            jnp.reshape(ys["p"], (6,)), ys["q"][0]])


def r_scan_tree(x):
    a, b = x[0], x[1:].copy()
    wis = x[:, None] * W2
    ps, qs = [], []
    for i in range(3):
        a2 = a * np.cos(x[i]) + 0.1 * np.sum(b)
        b2 = b * Z[i] + wis[i] * a
        ps.append(a2 * b2)
        qs.append(x[i] * a)
        a, b = a2, b2
    return np.concatenate([[a], b, np.concatenate(ps), qs])


def _map_row(r):
    return jnp.sin(r) * jnp.sum(r ** 2)


def f_map(x):
    return jnp.reshape(lax.map(_map_row, x[:, None] * M), (12,))


def f_map_batched(x):
    return jnp.reshape(lax.map(_map_row, x[:, None] * M, batch_size=2), (12,))


def r_map(x):
    rows = x[:, None] * M
    return np.concatenate([np.sin(r) * np.sum(r ** 2) for r in rows])


@dataclass
class Case:
    name: str
    fun: Callable
    ref: Callable
    inputs: list  # points away from branch / trip-count boundaries
    batch: np.ndarray  # rows for vmap: different branches / trip counts per lane
    reverse: bool = True  # False: reverse mode must raise (while loops)
    jitted: Callable = field(default=None, repr=False)


def _rows(*rows):
    return np.array(rows, np.float64)


CASES = [
    Case("cond", f_cond, r_cond, [_rows(0.3, 1.1, -0.4), _rows(-0.9, 0.2, -0.5)],
         _rows([0.3, 1.1, -0.4], [-0.9, 0.2, -0.5], [0.7, -0.2, 0.1], [-0.1, -0.3, 0.25])),
    Case("switch", f_switch, r_switch,
         [_rows(-1.5, 0.4, 0.8), _rows(0.5, -0.3, 0.9), _rows(1.5, 0.2, -0.6),
          _rows(2.5, 0.1, 0.3), _rows(5.5, -0.2, 0.4)],
         _rows([-1.5, 0.4, 0.8], [0.5, -0.3, 0.9], [1.5, 0.2, -0.6], [2.5, 0.1, 0.3],
               [5.5, -0.2, 0.4])),
    Case("while_loop", f_while, r_while, [_rows(0.3, -0.2, 0.5), _rows(1.5, 2.0, -1.0)],
         _rows([0.3, -0.2, 0.5], [1.5, 2.0, -1.0], [0.05, 0.02, -0.04], [3.1, 0.1, 0.2]),
         reverse=False),
    Case("fori_loop", f_fori, r_fori, [_rows(0.3, -0.7, 1.2), _rows(-1.1, 0.4, 0.9)],
         _rows([0.3, -0.7, 1.2], [-1.1, 0.4, 0.9], [0.5, 0.5, -0.2])),
    Case("fori_loop_traced", f_fori_traced, r_fori_traced,
         [_rows(0.3, -0.7, 1.2), _rows(-1.1, -0.4, -0.9), _rows(0.6, 0.4, 0.9)],
         _rows([0.3, -0.7, 1.2], [-1.1, -0.4, -0.9], [0.6, 0.4, 0.9], [0.5, -0.5, -0.2]),
         reverse=False),
    Case("scan", f_scan, r_scan, [_rows(0.3, -0.7, 1.2), _rows(-1.1, 0.4, 0.9)],
         _rows([0.3, -0.7, 1.2], [-1.1, 0.4, 0.9], [0.5, 0.5, -0.2])),
    Case("scan_reverse", f_scan_rev, r_scan_rev, [_rows(0.3, -0.7, 1.2), _rows(-1.1, 0.4, 0.9)],
         _rows([0.3, -0.7, 1.2], [-1.1, 0.4, 0.9], [0.5, 0.5, -0.2])),
    Case("scan_pytree", f_scan_tree, r_scan_tree, [_rows(0.3, -0.7, 1.2), _rows(-1.1, 0.4, 0.9)],
         _rows([0.3, -0.7, 1.2], [-1.1, 0.4, 0.9], [0.5, 0.5, -0.2])),
    Case("map", f_map, r_map, [_rows(0.3, -0.7, 1.2)],
         _rows([0.3, -0.7, 1.2], [-1.1, 0.4, 0.9], [0.5, 0.5, -0.2])),
    Case("map_batch_size", f_map_batched, r_map, [_rows(0.3, -0.7, 1.2)],
         _rows([0.3, -0.7, 1.2], [-1.1, 0.4, 0.9], [0.5, 0.5, -0.2])),
]
for _c in CASES:
    _c.jitted = jit(_c.fun)  # shared by every test below: one compile per program
CASE_BY_NAME = {c.name: c for c in CASES}
POINTS = [(c.name, k) for c in CASES for k in range(len(c.inputs))]
NAMES = [c.name for c in CASES]
REVERSE = [c.name for c in CASES if c.reverse]
FORWARD_ONLY = [c.name for c in CASES if not c.reverse]


def _loss(f):
    """A scalar of f's output that weighs every component differently."""
    def loss(x):
        y = f(x)
        return jnp.sum(jnp.sin(y) * jnp.cos(jnp.arange(y.shape[0]) * 0.7))
    return loss


def _loss_np(r):
    def loss(x):
        y = r(x)
        return float(np.sum(np.sin(y) * np.cos(np.arange(y.shape[0]) * 0.7)))
    return loss


LOSSES = {c.name: _loss(c.fun) for c in CASES}
GRAD_OF_JIT = {c.name: grad(jit(LOSSES[c.name])) for c in CASES if c.reverse}
JIT_OF_GRAD = {c.name: jit(grad(LOSSES[c.name])) for c in CASES if c.reverse}
JIT_OF_VMAP = {c.name: jit(vmap(c.fun)) for c in CASES}


def _trip_margin_ok(case, x):
    """The finite differences below must not straddle a branch/trip-count boundary."""
    eps = 1e-5
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        for y in (case.ref(x + e), case.ref(x - e)):
            assert np.allclose(y, case.ref(x), rtol=1e-3, atol=1e-3), "input too near a boundary"


# --------------------------------------------------------------------------- value tests

@pytest.mark.parametrize("name,k", POINTS)
def test_eager_matches_python_reference(name, k):
    case = CASE_BY_NAME[name]
    x = case.inputs[k]
    got = case.fun(x)
    assert isinstance(got, np.ndarray)
    assert_allclose(got, case.ref(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,k", POINTS)
def test_jit_matches_eager(name, k):
    case = CASE_BY_NAME[name]
    x = case.inputs[k]
    got, ref = case.jitted(x), case.fun(x)
    assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    assert_same_dtype(got, ref)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_matches_python_loop(name):
    case = CASE_BY_NAME[name]
    check_vmap(case.fun, [case.batch], rtol=1e-12, atol=1e-14)
    ref = np.stack([case.ref(x) for x in case.batch])
    assert_allclose(JIT_OF_VMAP[name](case.batch), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_out_axes_1(name):
    case = CASE_BY_NAME[name]
    got = vmap(case.fun, out_axes=1)(case.batch)
    ref = np.stack([case.ref(x) for x in case.batch], axis=1)
    assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_in_axes_1(name):
    case = CASE_BY_NAME[name]
    got = vmap(case.fun, in_axes=1)(np.ascontiguousarray(case.batch.T))
    ref = np.stack([case.ref(x) for x in case.batch])
    assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- forward mode

@pytest.mark.parametrize("name,k", POINTS)
def test_jvp_matches_finite_differences(name, k):
    case = CASE_BY_NAME[name]
    x = case.inputs[k]
    _trip_margin_ok(case, x)
    check_jvp(case.fun, [x], rtol=1e-6, atol=1e-8)
    # jacfwd against the central-difference Jacobian of the Python reference
    assert_allclose(jacfwd(case.fun)(x), fd_jac(case.ref, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_jvp_of_jit_matches_jvp(name):
    case = CASE_BY_NAME[name]
    x = case.inputs[0]
    t = np.array([0.3, -1.0, 0.6])
    y, ty = jvp(case.jitted, (x,), (t,))
    y_ref, ty_ref = jvp(case.fun, (x,), (t,))
    assert_allclose(y, y_ref, rtol=1e-12, atol=1e-14)
    assert_allclose(ty, ty_ref, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- reverse mode

@pytest.mark.parametrize("name,k", [p for p in POINTS if p[0] in REVERSE])
def test_grad_matches_finite_differences(name, k):
    case = CASE_BY_NAME[name]
    x = case.inputs[k]
    _trip_margin_ok(case, x)
    g = grad(LOSSES[name])(x)
    assert_allclose(g, fd_grad(_loss_np(case.ref), x), rtol=1e-6, atol=1e-8)
    v, g2 = value_and_grad(LOSSES[name])(x)
    assert_allclose(v, _loss_np(case.ref)(x), rtol=1e-12, atol=1e-14)
    assert_allclose(g2, g, rtol=0, atol=0)
    # the full Jacobian by reverse mode equals forward mode
    assert_allclose(jacrev(case.fun)(x), jacfwd(case.fun)(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,k", [p for p in POINTS if p[0] in FORWARD_ONLY])
def test_forward_only_constructs_reject_reverse_mode(name, k):
    case = CASE_BY_NAME[name]
    x = case.inputs[k]
    _trip_margin_ok(case, x)
    with pytest.raises(ValueError, match="lax.scan"):
        grad(LOSSES[name])(x)  # a vector input: really reverse mode
    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work"):
        _, f_vjp = vjp(case.fun, x)
        f_vjp(np.ones(3))
    # the gradient by forward mode works, and matches finite differences
    assert_allclose(jacfwd(LOSSES[name])(x), fd_grad(_loss_np(case.ref), x), rtol=1e-6,
                    atol=1e-8)


@pytest.mark.parametrize("name,k", [p for p in POINTS if p[0] in REVERSE])
def test_vjp_jvp_adjoint_identity(name, k):
    case = CASE_BY_NAME[name]
    check_vjp_adjoint(case.fun, [case.inputs[k]], rtol=1e-10, atol=1e-12)
    check_vjp_adjoint(case.jitted, [case.inputs[k]], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", REVERSE)
def test_grad_of_jit_and_jit_of_grad(name):
    case = CASE_BY_NAME[name]
    for x in case.inputs:
        ref = grad(LOSSES[name])(x)
        assert_allclose(GRAD_OF_JIT[name](x), ref, rtol=1e-11, atol=1e-13)
        assert_allclose(JIT_OF_GRAD[name](x), ref, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", FORWARD_ONLY)
def test_forward_gradient_of_jit(name):
    case = CASE_BY_NAME[name]
    x = case.inputs[0]
    with pytest.raises(ValueError, match="lax.scan"):
        grad(jit(LOSSES[name]))(x)
    assert_allclose(jacfwd(jit(LOSSES[name]))(x), jacfwd(LOSSES[name])(x), rtol=1e-11,
                    atol=1e-13)
    assert_allclose(jit(jacfwd(LOSSES[name]))(x), jacfwd(LOSSES[name])(x), rtol=1e-11,
                    atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_of_gradient_matches_loop(name):
    case = CASE_BY_NAME[name]
    d = grad if case.reverse else jacfwd
    g = d(LOSSES[name])
    got = vmap(g)(case.batch)
    ref = np.stack([g(x) for x in case.batch])
    assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    fd = np.stack([fd_grad(_loss_np(case.ref), x) for x in case.batch])
    assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", REVERSE)
def test_grad_of_vmap_matches_loop(name):
    case = CASE_BY_NAME[name]
    weights = np.arange(1.0, len(case.batch) + 1)
    got = grad(lambda xs: jnp.sum(vmap(LOSSES[name])(xs) * weights))(case.batch)
    ref = np.stack([w * grad(LOSSES[name])(x) for w, x in zip(weights, case.batch)])
    assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", REVERSE)
def test_linearize_equals_jvp(name):
    case = CASE_BY_NAME[name]
    x = case.inputs[0]
    y, f_jvp = linearize(case.fun, x)
    assert_allclose(y, case.fun(x), rtol=1e-13, atol=1e-15)
    for t in (np.array([1.0, 0.0, 0.0]), np.array([0.3, -1.0, 0.6])):
        assert_allclose(f_jvp(t), jvp(case.fun, (x,), (t,))[1], rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- higher derivatives

def cube_fori(x):
    return lax.fori_loop(0, 3, lambda i, c: c * x, 1.0)


def cube_scan(x):
    return lax.scan(lambda c, _: (c * x, None), 1.0, None, length=3)[0]


def cube_while(x):
    return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * x), (0, 1.0))[1]


@pytest.mark.parametrize("fun", [cube_fori, cube_scan, cube_while])
@pytest.mark.parametrize("x", [-3.0, -1.3, 0.0, 0.5, 2.0])
def test_loop_of_products_has_exact_derivatives(fun, x):
    x = float(x)
    # dyadic inputs make every product exact: then the derivatives are equal, not just close
    tol = dict(rtol=0, atol=0) if x != -1.3 else dict(rtol=2e-16, atol=0)
    assert_allclose(fun(x), x * x * x, **tol)
    assert_allclose(grad(fun)(x), 3 * x ** 2, **tol)       # scalar input: forward mode inside
    assert_allclose(grad(grad(fun))(x), 6 * x, **tol)
    assert_allclose(grad(grad(grad(fun)))(x), 6.0, **tol)
    assert_allclose(jacfwd(jacfwd(fun))(x), 6 * x, **tol)
    assert_allclose(jit(grad(grad(fun)))(x), 6 * x, **tol)
    if fun is not cube_while:  # reverse mode, twice
        assert_allclose(hessian(lambda v: fun(v[0]))(np.array([x])), [[6 * x]], **tol)
        assert_allclose(jacrev(jacrev(lambda v: fun(v[0])))(np.array([x])), [[6 * x]], **tol)
        assert_allclose(jacrev(jacfwd(lambda v: fun(v[0])))(np.array([x])), [[6 * x]], **tol)


def poly_fori(v):
    # v0 v1^2 v2^3, one factor per iteration, indexed by the (traced) loop counter
    v = jnp.asarray(v)
    return lax.fori_loop(0, 3, lambda i, c: c * v[i] ** (i + 1), 1.0)


def test_hessian_of_polynomial_loop_exact():
    v = np.array([1.5, -0.5, 2.0])
    a, b, c = v
    ref = np.array([[0, 2 * b * c ** 3, 3 * b ** 2 * c ** 2],
                    [2 * b * c ** 3, 2 * a * c ** 3, 6 * a * b * c ** 2],
                    [3 * b ** 2 * c ** 2, 6 * a * b * c ** 2, 6 * a * b ** 2 * c]])
    assert poly_fori(v) == a * b ** 2 * c ** 3
    assert_allclose(hessian(poly_fori)(v), ref, rtol=1e-15, atol=0)
    assert_allclose(jacfwd(jacrev(poly_fori))(v), ref, rtol=1e-15, atol=0)
    assert_allclose(jit(hessian(poly_fori))(v), ref, rtol=1e-15, atol=0)


def test_hessian_of_scan_polynomial_vs_closed_form():
    # carry c -> c * x + x: after n steps c_n = sum_{k=1..n} x^k (from c_0 = 0)
    def f(v):
        return lax.scan(lambda c, _: (c * v[0] + v[0], None), 0.0, None, length=4)[0]
    x = 0.7
    H = hessian(f)(np.array([x]))
    assert_allclose(H, [[2 + 6 * x + 12 * x ** 2]], rtol=1e-14, atol=0)


# --------------------------------------------------------------------------- logistic map

def _logistic_reference(x0, n=20):
    v, dv = x0, 1.0
    for _ in range(n):
        dv *= 4 * (1 - 2 * v)
        v = 4 * v * (1 - v)
    return v, dv


def logistic_fori(x0):
    return lax.fori_loop(0, 20, lambda i, v: 4 * v * (1 - v), x0)


def logistic_scan(x0):
    return lax.scan(lambda v, _: (4 * v * (1 - v), v), x0, None, length=20)[0]


@pytest.mark.parametrize("fun", [logistic_fori, logistic_scan])
def test_logistic_map_reverse_equals_forward(fun):
    x0 = 0.3
    v_ref, d_ref = _logistic_reference(x0)
    assert abs(d_ref) > 1e4  # chaotic: the derivative is huge, compare relatively
    assert_allclose(fun(x0), v_ref, rtol=1e-10)
    # forward mode
    v, d_fwd = jvp(fun, (x0,), (1.0,))
    assert_allclose(v, v_ref, rtol=1e-10)
    # reverse mode, three ways that all really run backwards
    _, f_vjp = vjp(fun, x0)
    (d_vjp,) = f_vjp(1.0)
    d_jacrev = jacrev(lambda a: fun(a[0]))(np.array([x0]))[0]
    d_two = grad(lambda a, b: fun(a) + 0.0 * b, argnums=(0, 1))(x0, 1.0)[0]
    d_jit = jit(grad(lambda a: fun(a[0])))(np.array([x0]))[0]
    for d in (d_vjp, d_jacrev, d_two, d_jit):
        assert_allclose(d, d_fwd, rtol=1e-9, atol=0)
    # and both against the analytic product of 4 (1 - 2 v_k) along the trajectory
    assert_allclose(d_fwd, d_ref, rtol=1e-7, atol=0)
    assert_allclose(d_vjp, d_ref, rtol=1e-7, atol=0)


def test_logistic_trajectory_scan_ys_and_gradient_of_ys():
    x0 = 0.3

    def traj(a):
        return lax.scan(lambda v, _: (4 * v * (1 - v), v), a[0], None, length=20)[1]
    ys = traj(np.array([x0]))
    ref, v = [], x0
    for _ in range(20):
        ref.append(v)
        v = 4 * v * (1 - v)
    assert_allclose(ys, ref, rtol=1e-10, atol=0)
    J_rev, J_fwd = jacrev(traj)(np.array([x0])), jacfwd(traj)(np.array([x0]))
    assert J_rev.shape == (20, 1)
    d_ref = [_logistic_reference(x0, n)[1] for n in range(20)]
    assert_allclose(J_rev[:, 0], J_fwd[:, 0], rtol=1e-9, atol=0)
    assert_allclose(J_fwd[:, 0], d_ref, rtol=1e-7, atol=0)
