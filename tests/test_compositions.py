"""Every pair of transformations (DESIGN.md §5): grad/vmap/jit/jacfwd/jacrev/hessian/jvp/vjp
composed with each other, nested to depth 4, against Python loops, eager results, analytic values
and finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbax
import numbax.numpy as jnp
from numbax import (eval_shape, grad, hessian, jacfwd, jacrev, jit, jvp, linear_transpose,
                    linearize, make_jaxpr, value_and_grad, vjp, vmap)
from numbax.tree_util import tree_map, tree_structure

from checks import assert_allclose, check_vjp_adjoint
from cf_helpers import fd_grad

RNG = np.random.default_rng(1234)

# --------------------------------------------------------------------------- test functions

A = RNG.standard_normal((4, 3))


def f_elem(x):
    return jnp.sum(jnp.tanh(x) * jnp.exp(-x ** 2))


def f_mat(x):
    return jnp.sum(jnp.log1p((A @ x) ** 2))


def f_red(x):
    # differentiable almost everywhere: the tests use inputs with distinct values/differences
    return jnp.max(x[1:] - x[:-1]) + x[jnp.argmin(x)]


def f_red_grad_ref(x):
    """Analytic gradient of f_red at a point with a unique max difference and unique argmin."""
    x = np.asarray(x)
    g = np.zeros_like(x)
    k = int(np.argmax(x[1:] - x[:-1]))
    g[k + 1] += 1.0
    g[k] -= 1.0
    g[int(np.argmin(x))] += 1.0
    return g


SCALAR_FUNS = {"elem": f_elem, "mat": f_mat, "red": f_red}


def vec_elem(x):
    return jnp.tanh(x) * jnp.exp(-x ** 2)


def vec_mat(x):
    return jnp.log1p((A @ x) ** 2)


def vec_red(x):
    return jnp.concatenate([x[1:] - x[:-1], jnp.cumsum(x) * x[jnp.argmin(x)]])


VECTOR_FUNS = {"elem": vec_elem, "mat": vec_mat, "red": vec_red}


def init_params(rng, d_in=3, d_hidden=5, d_out=2):
    return {"W1": rng.standard_normal((d_in, d_hidden)) * 0.5,
            "b1": rng.standard_normal(d_hidden) * 0.1,
            "W2": rng.standard_normal((d_hidden, d_out)) * 0.5,
            "b2": rng.standard_normal(d_out) * 0.1}


def mlp(params, x):
    h = jnp.tanh(x @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def mlp_loss(params, x, y):
    return jnp.mean((mlp(params, x) - y) ** 2)


def mlp_loss_np(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return np.mean((h @ params["W2"] + params["b2"] - y) ** 2)


PARAMS = init_params(np.random.default_rng(7))
XB = np.random.default_rng(8).standard_normal((6, 3))
YB = np.random.default_rng(9).standard_normal((6, 2))


def distinct_vector(n=5, seed=0):
    """A vector whose entries and successive differences are all well separated."""
    rng = np.random.default_rng(seed)
    while True:
        x = rng.standard_normal(n)
        d = np.diff(x)
        if np.min(np.abs(np.subtract.outer(x, x)[~np.eye(n, dtype=bool)])) > 0.05 and \
                (n < 3 or np.sort(d)[-1] - np.sort(d)[-2] > 0.05):
            return x


def fd_jac(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    cols = []
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


# --------------------------------------------------------------------------- sanity: gradients

@pytest.mark.parametrize("name", sorted(SCALAR_FUNS))
def test_grad_matches_finite_differences(name):
    f = SCALAR_FUNS[name]
    x = distinct_vector(seed=1) if name != "mat" else RNG.standard_normal(3)
    assert_allclose(grad(f)(x), fd_grad(lambda v: f(v), x), rtol=1e-6, atol=1e-7)
    if name == "red":
        assert_allclose(grad(f)(x), f_red_grad_ref(x), rtol=0, atol=0)


# --------------------------------------------------------------------------- grad and vmap

@pytest.mark.parametrize("name", sorted(SCALAR_FUNS))
def test_vmap_of_grad_matches_loop(name):
    f = SCALAR_FUNS[name]
    xs = np.stack([distinct_vector(seed=s)[:3] if name == "mat" else distinct_vector(seed=s)
                   for s in range(4)])
    got = vmap(grad(f))(xs)
    ref = np.stack([grad(f)(x) for x in xs])
    assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(SCALAR_FUNS))
def test_grad_of_vmap_matches_loop(name):
    f = SCALAR_FUNS[name]
    xs = np.stack([distinct_vector(seed=s)[:3] if name == "mat" else distinct_vector(seed=s)
                   for s in range(4)])
    weights = np.arange(1.0, 5.0)
    got = grad(lambda v: jnp.sum(vmap(f)(v) * weights))(xs)
    ref = np.stack([w * grad(f)(x) for w, x in zip(weights, xs)])
    assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_grad_of_vmap_mlp_equals_mean_of_per_example_grads():
    def batch_loss(p):
        return jnp.mean(vmap(mlp_loss, in_axes=(None, 0, 0))(p, XB, YB))
    got = grad(batch_loss)(PARAMS)
    per = [grad(mlp_loss)(PARAMS, x, y) for x, y in zip(XB, YB)]
    ref = tree_map(lambda *gs: np.mean(np.stack(gs), axis=0), *per)
    assert tree_structure(got) == tree_structure(PARAMS)
    assert_allclose(got, ref, rtol=1e-10, atol=1e-13)


def test_per_example_gradients():
    per_ex = vmap(grad(mlp_loss), in_axes=(None, 0, 0))(PARAMS, XB, YB)
    assert tree_structure(per_ex) == tree_structure(PARAMS)
    for k in PARAMS:
        assert per_ex[k].shape == (len(XB),) + PARAMS[k].shape
    for i, (x, y) in enumerate(zip(XB, YB)):
        g = grad(mlp_loss)(PARAMS, x, y)
        for k in PARAMS:
            assert_allclose(per_ex[k][i], g[k], rtol=1e-12, atol=1e-14)
    # and one of them against finite differences
    g0 = per_ex["b2"][0]
    fd = fd_grad(lambda b: mlp_loss_np({**PARAMS, "b2": b}, XB[0], YB[0]), PARAMS["b2"])
    assert_allclose(g0, fd, rtol=1e-6, atol=1e-8)


def test_mlp_grad_vs_finite_differences():
    g = grad(mlp_loss)(PARAMS, XB, YB)
    for k in PARAMS:
        fd = fd_grad(lambda v: mlp_loss_np({**PARAMS, k: v}, XB, YB), PARAMS[k])
        assert_allclose(g[k], fd, rtol=1e-6, atol=1e-8, err_msg=k)


# --------------------------------------------------------------------------- grad and jit

@pytest.mark.parametrize("name", sorted(SCALAR_FUNS))
def test_jit_of_grad_and_grad_of_jit(name):
    f = SCALAR_FUNS[name]
    x = distinct_vector(seed=3)[:3] if name == "mat" else distinct_vector(seed=3)
    ref = grad(f)(x)
    assert_allclose(jit(grad(f))(x), ref, rtol=1e-13, atol=1e-15)
    assert_allclose(grad(jit(f))(x), ref, rtol=1e-13, atol=1e-15)
    assert_allclose(jit(grad(jit(f)))(x), ref, rtol=1e-13, atol=1e-15)
    v, g = value_and_grad(jit(f))(x)
    assert_allclose(v, f(x), rtol=1e-13)
    assert_allclose(g, ref, rtol=1e-13, atol=1e-15)


def test_jit_grad_mlp_pytree():
    ref = grad(mlp_loss)(PARAMS, XB, YB)
    got1 = jit(grad(mlp_loss))(PARAMS, XB, YB)
    got2 = grad(jit(mlp_loss))(PARAMS, XB, YB)
    for got in (got1, got2):
        assert tree_structure(got) == tree_structure(PARAMS)
        assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- jacobians, hessians

@pytest.mark.parametrize("name", sorted(VECTOR_FUNS))
def test_jacfwd_equals_jacrev(name):
    f = VECTOR_FUNS[name]
    x = distinct_vector(seed=4)[:3] if name == "mat" else distinct_vector(seed=4)
    jf, jr = jacfwd(f)(x), jacrev(f)(x)
    assert np.shape(jf) == np.shape(f(x)) + x.shape
    assert_allclose(jf, jr, rtol=1e-12, atol=1e-14)
    assert_allclose(jf, fd_jac(lambda v: np.asarray(f(v)), x), rtol=1e-6, atol=1e-8)
    assert_allclose(numbax.jacobian(f)(x), jr, rtol=0, atol=0)


def test_jacfwd_jacrev_pytree_params():
    jf = jacfwd(mlp)(PARAMS, XB[0])
    jr = jacrev(mlp)(PARAMS, XB[0])
    assert tree_structure(jf) == tree_structure(PARAMS)
    for k in PARAMS:
        assert jf[k].shape == (2,) + PARAMS[k].shape
        assert_allclose(jf[k], jr[k], rtol=1e-12, atol=1e-14)


def test_jacobian_argnums_tuple():
    f = lambda x, y: jnp.sin(x) * y[0] + y[1:]
    x, y = RNG.standard_normal(2), RNG.standard_normal(3)
    for jac in (jacfwd, jacrev):
        jx, jy = jac(f, argnums=(0, 1))(x, y)
        assert jx.shape == (2, 2) and jy.shape == (2, 3)
        assert_allclose(jx, np.diag(np.cos(x) * y[0]), rtol=1e-13, atol=1e-15)
        ref_y = np.zeros((2, 3))
        ref_y[:, 0] = np.sin(x)
        ref_y[0, 1] = ref_y[1, 2] = 1.0
        assert_allclose(jy, ref_y, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", sorted(SCALAR_FUNS))
def test_hessian_symmetric_and_consistent(name):
    f = SCALAR_FUNS[name]
    x = distinct_vector(seed=5)[:3] if name == "mat" else distinct_vector(seed=5)
    H = hessian(f)(x)
    assert H.shape == x.shape * 2
    assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    assert_allclose(jacfwd(jacrev(f))(x), H, rtol=1e-10, atol=1e-12)
    assert_allclose(jacrev(jacfwd(f))(x), H, rtol=1e-10, atol=1e-12)
    assert_allclose(jacrev(jacrev(f))(x), H, rtol=1e-10, atol=1e-12)
    assert_allclose(jacfwd(jacfwd(f))(x), H, rtol=1e-10, atol=1e-12)
    g = grad(f)
    assert_allclose(H, fd_jac(lambda v: np.asarray(g(v)), x), rtol=1e-5, atol=1e-7)
    if name == "red":  # piecewise linear: zero curvature
        assert_allclose(H, np.zeros_like(H), rtol=0, atol=0)


def test_hessian_of_mlp_loss_wrt_bias():
    f = lambda b: mlp_loss({**PARAMS, "b1": b}, XB, YB)
    H = hessian(f)(PARAMS["b1"])
    assert_allclose(H, H.T, rtol=1e-10, atol=1e-13)
    fd = fd_jac(lambda b: np.asarray(grad(f)(b)), PARAMS["b1"])
    assert_allclose(H, fd, rtol=1e-5, atol=1e-7)


def test_hessian_pytree_input():
    f = lambda p: jnp.sum(p["a"] ** 2 * p["b"][0]) + jnp.sin(p["b"][1])
    p = {"a": np.array([1.0, 2.0]), "b": (np.array(3.0), np.array(0.5))}
    H = hessian(f)(p)
    # H[out_path][in_path]
    assert_allclose(H["a"]["a"], 2 * 3.0 * np.eye(2), rtol=1e-14)
    assert_allclose(H["a"]["b"][0], 2 * p["a"], rtol=1e-14)
    assert_allclose(H["b"][1]["b"][1], -np.sin(0.5), rtol=1e-14)
    assert_allclose(H["b"][0]["b"][0], 0.0, atol=0)


# --------------------------------------------------------------------------- jvp / vjp adjoint

@pytest.mark.parametrize("name", sorted(SCALAR_FUNS))
def test_adjoint_identity_on_composed_functions(name):
    f = SCALAR_FUNS[name]
    n = 3 if name == "mat" else 5
    x = distinct_vector(n, seed=6)
    xs = np.stack([distinct_vector(n, seed=s) for s in range(3)])
    check_vjp_adjoint(grad(f), [x])                         # vjp of grad: a Hessian product
    check_vjp_adjoint(vmap(f), [xs])
    check_vjp_adjoint(jit(vmap(grad(f))), [xs])
    check_vjp_adjoint(VECTOR_FUNS[name], [x])
    check_vjp_adjoint(jit(VECTOR_FUNS[name]), [x])


def test_jvp_of_grad_is_hessian_vector_product():
    x = RNG.standard_normal(3)
    v = RNG.standard_normal(3)
    g, hv = jvp(grad(f_mat), (x,), (v,))
    assert_allclose(g, grad(f_mat)(x), rtol=1e-14)
    assert_allclose(hv, hessian(f_mat)(x) @ v, rtol=1e-11, atol=1e-13)
    # reverse-over-reverse HVP
    hv2 = grad(lambda y: jnp.vdot(grad(f_mat)(y), v))(x)
    assert_allclose(hv2, hv, rtol=1e-11, atol=1e-13)


def test_vjp_pytree_mlp_adjoint():
    x = XB[0]
    out, pullback = vjp(mlp, PARAMS, x)
    tp = tree_map(lambda a: RNG.standard_normal(np.shape(a)), PARAMS)
    tx = RNG.standard_normal(x.shape)
    _, jv = jvp(mlp, (PARAMS, x), (tp, tx))
    u = RNG.standard_normal(np.shape(out))
    ctp, ctx = pullback(u)
    lhs = float(np.vdot(u, jv))
    rhs = sum(float(np.vdot(ctp[k], tp[k])) for k in PARAMS) + float(np.vdot(ctx, tx))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


# --------------------------------------------------------------------------- vmap axes

def test_vmap_in_axes_none():
    xs = RNG.standard_normal((4, 3))
    got = vmap(lambda a, x: a @ x, in_axes=(None, 0))(A, xs)
    assert_allclose(got, np.stack([A @ x for x in xs]), rtol=1e-13)
    got = vmap(lambda x, a: jnp.sum(a * x), in_axes=(0, None))(xs, np.array([1.0, 2.0, 3.0]))
    assert_allclose(got, xs @ np.array([1.0, 2.0, 3.0]), rtol=1e-13)


def test_vmap_in_axes_1_and_out_axes_1():
    xs = RNG.standard_normal((3, 5))
    f = lambda x: jnp.sin(x) * jnp.sum(x)
    got = vmap(f, in_axes=1)(xs)
    assert got.shape == (5, 3)
    assert_allclose(got, np.stack([np.sin(xs[:, k]) * np.sum(xs[:, k]) for k in range(5)]),
                    rtol=1e-13)
    got = vmap(f, in_axes=1, out_axes=1)(xs)
    assert got.shape == (3, 5)
    assert_allclose(got, np.stack([np.sin(xs[:, k]) * np.sum(xs[:, k]) for k in range(5)],
                                  axis=1), rtol=1e-13)
    got = vmap(f, in_axes=0, out_axes=-1)(xs)
    assert got.shape == (5, 3)


def test_vmap_out_axes_none_for_unmapped_output():
    xs = RNG.standard_normal(4)
    c, ys = vmap(lambda x, a: (a * 2.0, x * a), in_axes=(0, None), out_axes=(None, 0))(xs, 3.0)
    assert np.shape(c) == () and float(c) == 6.0
    assert_allclose(ys, 3.0 * xs, rtol=1e-15)


def test_nested_vmap_matches_double_loop():
    xs = RNG.standard_normal((3, 4, 5))
    ys = RNG.standard_normal((4, 5))
    f = lambda x, y: jnp.sum(jnp.tanh(x) * y) + x[0]
    got = vmap(vmap(f, in_axes=(0, 0)), in_axes=(0, None))(xs, ys)
    ref = np.array([[np.sum(np.tanh(xs[i, j]) * ys[j]) + xs[i, j, 0] for j in range(4)]
                    for i in range(3)])
    assert got.shape == (3, 4)
    assert_allclose(got, ref, rtol=1e-13)
    # mapping the inner vmap over a different axis of the outer argument
    got2 = vmap(vmap(f, in_axes=(1, None)), in_axes=(0, None))(np.swapaxes(xs, 1, 2), ys[0])
    ref2 = np.array([[np.sum(np.tanh(xs[i, j]) * ys[0]) + xs[i, j, 0] for j in range(4)]
                     for i in range(3)])
    assert_allclose(got2, ref2, rtol=1e-13)


def test_triple_nested_vmap_outer_product():
    a, b, c = RNG.standard_normal(2), RNG.standard_normal(3), RNG.standard_normal(4)
    f = lambda x, y, z: x * y + z
    got = vmap(vmap(vmap(f, (None, None, 0)), (None, 0, None)), (0, None, None))(a, b, c)
    assert got.shape == (2, 3, 4)
    assert_allclose(got, a[:, None, None] * b[None, :, None] + c[None, None, :], rtol=1e-15)


def test_vmap_axis_size_with_no_mapped_inputs():
    out = vmap(lambda x: x * 2.0, in_axes=None, axis_size=3)(np.array([1.0, 2.0]))
    assert_allclose(out, np.tile([2.0, 4.0], (3, 1)), rtol=0)


def test_grad_of_nested_vmap():
    xs = RNG.standard_normal((2, 3, 4))
    f = lambda x: jnp.sum(jnp.sin(x) ** 2)
    g = grad(lambda v: jnp.sum(vmap(vmap(f))(v)))(xs)
    assert_allclose(g, 2 * np.sin(xs) * np.cos(xs), rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------- higher order

def test_jit_vmap_grad_grad_scalar_analytic():
    f = lambda x: jnp.sin(x) * x
    d2 = jit(vmap(grad(grad(f))))
    xs = np.linspace(-2.0, 2.0, 7)
    assert_allclose(d2(xs), -np.sin(xs) * xs + 2 * np.cos(xs), rtol=1e-13, atol=1e-14)
    g = lambda x: jnp.exp(-x ** 2)
    d2g = jit(vmap(grad(grad(g))))
    assert_allclose(d2g(xs), (4 * xs ** 2 - 2) * np.exp(-xs ** 2), rtol=1e-13, atol=1e-14)
    # vmap(jit(...)) and grad(jit(grad)) orders agree
    assert_allclose(vmap(jit(grad(jit(grad(f)))))(xs), d2(xs), rtol=1e-14, atol=1e-15)


def test_fourth_derivative_of_polynomial_exact():
    p = lambda x: x ** 5 + 3.0 * x ** 4 - 2.0 * x ** 2 + x - 7.0
    ds = [p]
    for _ in range(5):
        ds.append(grad(ds[-1]))
    for x in (-2.0, 0.0, 1.0, 3.0):
        assert float(ds[1](x)) == 5 * x ** 4 + 12 * x ** 3 - 4 * x + 1
        assert float(ds[2](x)) == 20 * x ** 3 + 36 * x ** 2 - 4
        assert float(ds[3](x)) == 60 * x ** 2 + 72 * x
        assert float(ds[4](x)) == 120 * x + 72
        assert float(ds[5](x)) == 120


def test_mixed_depth_4_nesting_agrees():
    f = lambda x: jnp.sin(x) * jnp.exp(0.5 * x)
    ref = grad(grad(grad(grad(f))))
    x = 0.7
    # d^4/dx^4 of sin(x) e^{x/2}: Im of (1/2 + i)^4 e^{(1/2+i)x}
    z = (0.5 + 1j) ** 4 * np.exp((0.5 + 1j) * x)
    assert float(ref(x)) == pytest.approx(z.imag, rel=1e-12)
    variants = [
        jit(grad(grad(grad(grad(f))))),
        grad(jit(grad(jit(grad(grad(f)))))),
        lambda v: jacfwd(jacrev(jacfwd(grad(f))))(v),
        lambda v: vmap(grad(grad(grad(grad(f)))))(np.array([v]))[0],
    ]
    for fn in variants:
        assert float(fn(x)) == pytest.approx(z.imag, rel=1e-12)


def test_jacfwd_jacrev_jacfwd_third_derivative_tensor():
    def f(x):
        return jnp.stack([x[0] ** 2 * x[1], x[1] * x[2] ** 3, x[0] * x[1] * x[2]])
    x = np.array([1.5, -0.5, 2.0])
    T = jacfwd(jacrev(jacfwd(f)))(x)
    assert T.shape == (3, 3, 3, 3)
    ref = np.zeros((3, 3, 3, 3))
    # f0 = x0^2 x1: d3/dx0 dx0 dx1 = 2 (all permutations)
    for idx in [(0, 0, 1), (0, 1, 0), (1, 0, 0)]:
        ref[(0,) + idx] = 2.0
    # f1 = x1 x2^3: d3/dx1 dx2 dx2 = 6 x2; d3/dx2^3 = 6 x1
    for idx in [(1, 2, 2), (2, 1, 2), (2, 2, 1)]:
        ref[(1,) + idx] = 6 * x[2]
    ref[1, 2, 2, 2] = 6 * x[1]
    # f2 = x0 x1 x2: all distinct permutations give 1
    import itertools
    for idx in itertools.permutations((0, 1, 2)):
        ref[(2,) + idx] = 1.0
    assert_allclose(T, ref, rtol=1e-14, atol=1e-14)
    assert_allclose(jacrev(jacfwd(jacrev(f)))(x), ref, rtol=1e-14, atol=1e-14)


def test_hessian_of_hessian_polynomial():
    f = lambda x: jnp.sum(x ** 4) + x[0] * x[1] ** 2
    x = np.array([1.0, 2.0])
    H4 = hessian(hessian(f))(x)
    assert H4.shape == (2, 2, 2, 2)
    ref = np.zeros((2, 2, 2, 2))
    ref[0, 0, 0, 0] = ref[1, 1, 1, 1] = 24.0
    assert_allclose(H4, ref, rtol=0, atol=1e-13)


# --------------------------------------------------------------------------- linearize, transpose

def test_linearize_matches_jvp():
    x = RNG.standard_normal(3)
    y, f_jvp = linearize(vec_mat, x)
    assert_allclose(y, vec_mat(x), rtol=1e-15)
    for _ in range(3):
        t = RNG.standard_normal(3)
        assert_allclose(f_jvp(t), jvp(vec_mat, (x,), (t,))[1], rtol=1e-13, atol=1e-15)
    # linearity
    t1, t2 = RNG.standard_normal(3), RNG.standard_normal(3)
    assert_allclose(f_jvp(2.0 * t1 + t2), 2.0 * f_jvp(t1) + f_jvp(t2), rtol=1e-12, atol=1e-14)


def test_linearize_pytree_and_grad():
    y, f_jvp = linearize(mlp_loss, PARAMS, XB, YB)
    assert_allclose(y, mlp_loss(PARAMS, XB, YB), rtol=1e-15)
    tp = tree_map(lambda a: RNG.standard_normal(np.shape(a)), PARAMS)
    zx, zy = np.zeros_like(XB), np.zeros_like(YB)
    ref = jvp(mlp_loss, (PARAMS, XB, YB), (tp, zx, zy))[1]
    assert_allclose(f_jvp(tp, zx, zy), ref, rtol=1e-12, atol=1e-14)
    g = grad(mlp_loss)(PARAMS, XB, YB)
    assert_allclose(ref, sum(np.vdot(g[k], tp[k]) for k in PARAMS), rtol=1e-11, atol=1e-13)


def test_linearize_of_grad():
    x = distinct_vector(seed=11)
    _, hvp = linearize(grad(f_elem), x)
    v = RNG.standard_normal(x.shape)
    assert_allclose(hvp(v), hessian(f_elem)(x) @ v, rtol=1e-11, atol=1e-13)


def test_linear_transpose_matrix():
    M = RNG.standard_normal((4, 3))
    f = lambda x: M @ x
    ft = linear_transpose(f, np.zeros(3))
    u = RNG.standard_normal(4)
    (got,) = ft(u)
    assert_allclose(got, M.T @ u, rtol=1e-14)
    # materialise the whole transpose
    Mt = np.stack([ft(e)[0] for e in np.eye(4)], axis=1)
    assert_allclose(Mt, M.T, rtol=1e-15)


def test_linear_transpose_of_composed_linear_function():
    def f(x, y):
        return {"s": jnp.sum(x) + 2.0 * y[0], "v": jnp.cumsum(x)[::-1] - 3.0 * y[1:]}
    x, y = np.zeros(3), np.zeros(4)
    ft = linear_transpose(f, x, y)
    ct = {"s": np.array(1.5), "v": RNG.standard_normal(3)}
    gx, gy = ft(ct)
    # compare with vjp (f is linear, so the pullback is the transpose)
    _, pull = vjp(f, x, y)
    rx, ry = pull(ct)
    assert_allclose(gx, rx, rtol=1e-14, atol=1e-15)
    assert_allclose(gy, ry, rtol=1e-14, atol=1e-15)


# --------------------------------------------------------------------------- staging

def test_eval_shape():
    out = eval_shape(f_mat, np.zeros(3))
    assert out.shape == () and out.dtype == np.float64
    out = eval_shape(vmap(vec_elem), numbax.ShapeDtypeStruct((7, 3), np.float32))
    assert out.shape == (7, 3) and out.dtype == np.float32
    # a float64 constant (A) promotes a float32 argument, as in JAX with x64 enabled
    out = eval_shape(vmap(vec_mat), numbax.ShapeDtypeStruct((7, 3), np.float32))
    assert out.shape == (7, 4) and out.dtype == np.float64
    out = eval_shape(grad(mlp_loss), PARAMS, XB, YB)
    assert tree_structure(out) == tree_structure(PARAMS)
    for k in PARAMS:
        assert out[k].shape == PARAMS[k].shape and out[k].dtype == np.float64
    out = eval_shape(jacfwd(vec_elem), numbax.ShapeDtypeStruct((5,), np.float64))
    assert out.shape == (5, 5)


def test_eval_shape_does_not_compute():
    calls = []

    def f(x):
        calls.append(type(x).__name__)
        return jnp.sum(x)
    out = eval_shape(f, numbax.ShapeDtypeStruct((2, 3), np.float32))
    assert out.shape == () and out.dtype == np.float32
    assert len(calls) == 1 and calls[0] not in ("ndarray", "float64")


def test_make_jaxpr_text():
    f = lambda x: jnp.sum(jnp.sin(x) * jnp.cos(x))
    text = str(make_jaxpr(f)(np.ones(3)))
    assert text.startswith("{ lambda ; a:f64[3]. let")
    for prim in ("sin", "cos", "mul", "reduce_sum"):
        assert prim in text
    gtext = str(make_jaxpr(grad(f))(np.ones(3)))
    assert gtext.startswith("{ lambda ; a:f64[3]. let")
    for prim in ("sin", "cos", "mul", "neg"):
        assert prim in gtext
    vtext = str(make_jaxpr(vmap(f))(np.ones((2, 3), np.float32)))
    assert vtext.startswith("{ lambda ; a:f32[2,3]. let")
    assert "reduce_sum[axes=(1,)]" in vtext
    jtext = str(make_jaxpr(jit(f))(np.ones(3)))
    assert "jit" in jtext and "sin" in jtext


def test_make_jaxpr_static_argnums_and_return_shape():
    f = lambda x, n: x ** n
    text = str(make_jaxpr(f, static_argnums=1)(np.ones(2), 3))
    assert text.startswith("{ lambda ; a:f64[2]. let")
    jaxpr, shape = make_jaxpr(lambda x: (x, jnp.sum(x)), return_shape=True)(np.ones(2))
    assert shape[0].shape == (2,) and shape[1].shape == ()


# --------------------------------------------------------------------------- has_aux, argnums

def test_grad_has_aux():
    def loss(x):
        y = jnp.sin(x)
        return jnp.sum(y ** 2), {"y": y, "n": 3}
    x = RNG.standard_normal(3)
    g, aux = grad(loss, has_aux=True)(x)
    assert_allclose(g, 2 * np.sin(x) * np.cos(x), rtol=1e-14)
    assert_allclose(aux["y"], np.sin(x), rtol=1e-15)
    assert aux["n"] == 3
    (v, aux2), g2 = value_and_grad(loss, has_aux=True)(x)
    assert_allclose(v, np.sum(np.sin(x) ** 2), rtol=1e-14)
    assert_allclose(g2, g, rtol=0)
    assert_allclose(aux2["y"], np.sin(x), rtol=1e-15)
    # scalar input (forward-mode path) with aux
    g3, aux3 = grad(lambda s: (s ** 3, s * 2.0), has_aux=True)(2.0)
    assert float(g3) == 12.0 and float(aux3) == 4.0
    # under jit and vmap
    gj, auxj = jit(grad(loss, has_aux=True))(x)
    assert_allclose(gj, g, rtol=1e-14)
    assert_allclose(auxj["y"], np.sin(x), rtol=1e-15)
    xs = RNG.standard_normal((4, 3))
    gv, auxv = vmap(grad(lambda v: (jnp.sum(jnp.sin(v) ** 2), jnp.sin(v)), has_aux=True))(xs)
    assert_allclose(gv, 2 * np.sin(xs) * np.cos(xs), rtol=1e-14)
    assert_allclose(auxv, np.sin(xs), rtol=1e-15)


def test_jvp_vjp_has_aux():
    f = lambda x: (jnp.sin(x), {"c": jnp.cos(x)})
    x, t = RNG.standard_normal(3), RNG.standard_normal(3)
    y, ty, aux = jvp(f, (x,), (t,), has_aux=True)
    assert_allclose(y, np.sin(x), rtol=1e-15)
    assert_allclose(ty, np.cos(x) * t, rtol=1e-14)
    assert_allclose(aux["c"], np.cos(x), rtol=1e-15)
    y2, pull, aux2 = vjp(f, x, has_aux=True)
    assert_allclose(y2, np.sin(x), rtol=1e-15)
    assert_allclose(aux2["c"], np.cos(x), rtol=1e-15)
    (ct,) = pull(t)
    assert_allclose(ct, np.cos(x) * t, rtol=1e-14)


def test_grad_argnums_tuple_and_negative():
    f = lambda x, y, z: jnp.sum(x * y ** 2) + z
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    gx, gz = grad(f, argnums=(0, 2))(x, y, 1.0)
    assert_allclose(gx, y ** 2, rtol=1e-15)
    assert float(gz) == 1.0
    (gy,) = grad(f, argnums=(1,))(x, y, 1.0)
    assert_allclose(gy, 2 * x * y, rtol=1e-15)
    gy2 = grad(f, argnums=-2)(x, y, 1.0)
    assert_allclose(gy2, 2 * x * y, rtol=1e-15)
    (v, (gx3, gy3)) = value_and_grad(f, argnums=(0, 1))(x, y, 1.0)
    assert_allclose(v, np.sum(x * y ** 2) + 1.0, rtol=1e-15)
    assert_allclose(gx3, y ** 2, rtol=1e-15)
    # argnums tuples under vmap and jit
    gxs, gys = vmap(grad(f, argnums=(0, 1)), in_axes=(0, 0, None))(
        np.stack([x, y]), np.stack([y, x]), 1.0)
    assert_allclose(gxs, np.stack([y ** 2, x ** 2]), rtol=1e-15)
    assert_allclose(gys, np.stack([2 * x * y, 2 * x * y]), rtol=1e-15)
    gj = jit(grad(f, argnums=(0, 1)))(x, y, 1.0)
    assert isinstance(gj, tuple) and len(gj) == 2
    assert_allclose(gj[1], 2 * x * y, rtol=1e-15)


def test_grad_argnums_mlp_params_and_inputs():
    gp, gx = grad(mlp_loss, argnums=(0, 1))(PARAMS, XB, YB)
    assert tree_structure(gp) == tree_structure(PARAMS)
    assert gx.shape == XB.shape
    fd = fd_grad(lambda v: mlp_loss_np(PARAMS, v, YB), XB)
    assert_allclose(gx, fd, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- jit static args

def test_jit_static_argnums_retrace_counts():
    traces = []

    def f(x, n):
        traces.append(n)
        return x ** n

    jf = jit(f, static_argnums=1)
    x = np.arange(3.0)
    assert_allclose(jf(x, 2), x ** 2, rtol=0)
    assert_allclose(jf(x + 1.0, 2), (x + 1) ** 2, rtol=0)
    assert traces == [2]                       # same shape and static value: cached
    assert_allclose(jf(x, 3), x ** 3, rtol=0)
    assert traces == [2, 3]                    # new static value: retraced
    jf(x, 3)
    assert traces == [2, 3]
    jf(np.arange(4.0), 3)
    assert traces == [2, 3, 3]                 # new shape: retraced
    jf(np.arange(4.0, dtype=np.float32), 3)
    assert len(traces) == 4                    # new dtype: retraced
    jf(np.arange(4.0), 3)
    assert len(traces) == 4


def test_jit_static_argnames_retrace_counts():
    traces = []

    def f(x, *, mode="sin"):
        traces.append(mode)
        return jnp.sin(x) if mode == "sin" else jnp.cos(x)

    jf = jit(f, static_argnames="mode")
    x = np.linspace(0, 1, 4)
    assert_allclose(jf(x, mode="sin"), np.sin(x), rtol=1e-15)
    assert_allclose(jf(x, mode="cos"), np.cos(x), rtol=1e-15)
    jf(x, mode="cos")
    jf(x * 2, mode="sin")
    assert traces == ["sin", "cos"]


def test_jit_static_argnames_positional_parameter():
    traces = []

    def f(x, power):
        traces.append(power)
        return jnp.sum(x ** power)

    jf = jit(f, static_argnames=("power",))
    x = np.array([1.0, 2.0])
    assert float(jf(x, power=2)) == 5.0
    assert float(jf(x, power=3)) == 9.0
    assert float(jf(x, power=3)) == 9.0
    assert traces == [2, 3]
    # grad through a jitted function with a static argument
    assert_allclose(grad(jf)(x, power=3), 3 * x ** 2, rtol=1e-15)


def test_jit_caches_per_shape_without_static_args():
    traces = []

    @jit
    def f(x):
        traces.append(1)
        return x * 2.0

    f(np.ones(3))
    f(np.zeros(3))
    f(np.ones((2, 3)))
    f(np.ones((2, 3)))
    assert len(traces) == 2


def test_grad_of_jit_static_argnums_python_control_flow():
    def f(x, n):
        out = x
        for _ in range(n):
            out = jnp.sin(out)
        return out

    jf = jit(f, static_argnums=(1,))
    x = 0.3
    d = grad(jf)(x, 2)
    assert float(d) == pytest.approx(np.cos(np.sin(x)) * np.cos(x), rel=1e-14)
    ds = vmap(grad(jf), in_axes=(0, None))(np.array([0.1, 0.3]), 2)
    assert_allclose(ds, np.cos(np.sin([0.1, 0.3])) * np.cos([0.1, 0.3]), rtol=1e-14)


# --------------------------------------------------------------------------- dtypes

def test_float32_stays_float32():
    x = np.linspace(-1, 1, 5).astype(np.float32)
    xs = np.stack([x, x * 0.5])
    f = f_elem
    assert np.asarray(f(x)).dtype == np.float32
    assert grad(f)(x).dtype == np.float32
    assert jit(f)(x).dtype == np.float32
    assert jit(grad(f))(x).dtype == np.float32
    assert grad(jit(f))(x).dtype == np.float32
    assert vmap(grad(f))(xs).dtype == np.float32
    assert vmap(f)(xs).dtype == np.float32
    assert hessian(f)(x).dtype == np.float32
    assert jacfwd(vec_elem)(x).dtype == np.float32
    assert jacrev(vec_elem)(x).dtype == np.float32
    y, t = jvp(f, (x,), (np.ones_like(x),))
    assert np.asarray(y).dtype == np.float32 and np.asarray(t).dtype == np.float32
    _, pull = vjp(vec_elem, x)
    assert pull(np.ones_like(x))[0].dtype == np.float32
    assert_allclose(grad(f)(x), grad(f)(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    # scalar float32 through nested grad (forward-mode path)
    s = np.float32(0.5)
    assert np.asarray(grad(grad(lambda v: jnp.sin(v) * v))(s)).dtype == np.float32
    # python-scalar constants are weakly typed and do not promote
    assert grad(lambda v: jnp.sum(2.0 * v ** 2 + 1.0))(x).dtype == np.float32
    p32 = tree_map(lambda a: a.astype(np.float32), PARAMS)
    g32 = grad(mlp_loss)(p32, XB.astype(np.float32), YB.astype(np.float32))
    assert all(v.dtype == np.float32 for v in g32.values())


# --------------------------------------------------------------------------- hypothesis

@settings(max_examples=10, deadline=None)
@given(batch=st.integers(1, 4), n=st.integers(1, 4), seed=st.integers(0, 2 ** 16))
def test_hypothesis_vmap_matches_loop(batch, n, seed):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((batch, n))
    ws = rng.standard_normal(n)
    f = lambda x, w: jnp.sum(jnp.tanh(x * w) * jnp.exp(-x ** 2)) + jnp.max(x) * w
    got = vmap(f, in_axes=(0, None))(xs, ws)
    ref = np.stack([np.asarray(f(x, ws)) for x in xs])
    assert_allclose(got, ref, rtol=1e-13, atol=1e-15)
    gg = vmap(grad(lambda x, w: jnp.sum(f(x, w))), in_axes=(0, None))(xs, ws)
    gref = np.stack([grad(lambda x: jnp.sum(f(x, ws)))(x) for x in xs])
    assert_allclose(gg, gref, rtol=1e-13, atol=1e-15)


@settings(max_examples=10, deadline=None)
@given(m=st.integers(1, 4), n=st.integers(1, 4), seed=st.integers(0, 2 ** 16))
def test_hypothesis_adjoint_identity(m, n, seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((m, n))
    x = rng.standard_normal(n)
    u, v = rng.standard_normal(m), rng.standard_normal(n)
    f = lambda z: jnp.tanh(M @ jnp.sin(z)) * jnp.sum(z ** 2)
    _, jv = jvp(f, (x,), (v,))
    _, pull = vjp(f, x)
    (jtu,) = pull(u)
    lhs, rhs = float(np.vdot(u, jv)), float(np.vdot(jtu, v))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))
    # the same identity through jit and for the Hessian-vector product of a scalar reduction
    _, pull_j = vjp(jit(f), x)
    assert_allclose(pull_j(u)[0], jtu, rtol=1e-12, atol=1e-14)
    g = grad(lambda z: jnp.vdot(u, f(z)))
    _, hv = jvp(g, (x,), (v,))
    _, pull_g = vjp(g, x)
    lhs2, rhs2 = float(np.vdot(v, hv)), float(np.vdot(pull_g(v)[0], v))
    assert abs(lhs2 - rhs2) <= 1e-9 * max(1.0, abs(lhs2))


@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), axis_seed=st.integers(0, 100),
       seed=st.integers(0, 2 ** 16))
def test_hypothesis_vmap_in_out_axes(shape, axis_seed, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    in_ax = axis_seed % len(shape)
    out_ax = (axis_seed // 7) % len(shape)
    f = lambda v: jnp.cumsum(jnp.sin(v), axis=-1) if v.ndim else jnp.sin(v) * 2.0
    got = vmap(f, in_axes=in_ax, out_axes=out_ax)(x)
    rows = [np.asarray(f(np.take(x, k, axis=in_ax))) for k in range(shape[in_ax])]
    ref = np.stack(rows, axis=out_ax)
    assert_allclose(got, ref, rtol=1e-13, atol=1e-15)


def test_linearize_under_grad_vmap_jit():
    x = np.array([0.3, -1.2, 0.8])
    f = lambda v: jnp.sin(v) * jnp.sum(v ** 2)
    lin_self = lambda v: linearize(f, v)[1](v)          # J(v) v
    jvp_self = lambda v: jvp(f, (v,), (v,))[1]
    assert_allclose(jit(lin_self)(x), jvp_self(x), rtol=1e-14)
    assert_allclose(vmap(lin_self)(np.stack([x, 2 * x])),
                    np.stack([jvp_self(x), jvp_self(2 * x)]), rtol=1e-14)
    assert_allclose(grad(lambda v: jnp.sum(lin_self(v)))(x),
                    grad(lambda v: jnp.sum(jvp_self(v)))(x), rtol=1e-13)
    assert_allclose(grad(lambda v: jnp.sum(jvp_self(v)))(x),
                    fd_grad(lambda v: np.sum(np.asarray(jvp_self(v))), x), rtol=1e-6, atol=1e-8)


def test_vmap_of_jacobians_and_jacobian_of_vmap():
    xs = RNG.standard_normal((2, 3))
    f = lambda v: jnp.sin(v) * jnp.sum(v ** 2)
    per = np.stack([jacfwd(f)(x) for x in xs])
    assert_allclose(vmap(jacfwd(f))(xs), per, rtol=1e-13)
    assert_allclose(vmap(jacrev(f))(xs), per, rtol=1e-13)
    J = jacrev(vmap(f))(xs)
    assert J.shape == (2, 3, 2, 3)
    assert_allclose(J[0, :, 0], per[0], rtol=1e-13)
    assert_allclose(J[1, :, 1], per[1], rtol=1e-13)
    assert np.all(J[0, :, 1] == 0.0)
    assert_allclose(jacfwd(vmap(f))(xs), J, rtol=1e-13)
