"""lax.while_loop and lax.fori_loop: pytree carries, zero-trip loops, forward-mode derivatives
(jvp, jacfwd, nested), the reverse-mode error, traced fori bounds, vmap with per-lane trip
counts (finished lanes frozen), carry type errors and weak-type promotion. The construct x
transformation matrix is in test_control_flow.py."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbax.numpy as jnp
from numbax import grad, jacfwd, jacrev, jit, jvp, linearize, vjp, vmap
from numbax import lax
from numbax.tree_util import tree_structure

from cf_helpers import fd_directional, fd_grad, fd_jac
from checks import assert_allclose

RNG = np.random.default_rng(7)
REVERSE_MSG = "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop"


# --------------------------------------------------------------------------- while_loop values

def collatz_steps(n):
    """Integer-only while loop with a data-dependent trip count."""
    def body(c):
        k, steps = c
        return jnp.where(k % 2 == 0, k // 2, 3 * k + 1), steps + 1
    return lax.while_loop(lambda c: c[0] != 1, body, (n, 0))[1]


def collatz_ref(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


_collatz_jit = jit(collatz_steps)
NS = np.array([1, 2, 3, 6, 7, 9, 27], np.int64)


def test_while_loop_integer_carry_eager_jit_vmap():
    ref = [collatz_ref(int(n)) for n in NS]
    assert [int(collatz_steps(n)) for n in NS] == ref
    assert [int(_collatz_jit(n)) for n in NS] == ref
    # per-lane trip counts from 0 to 111
    assert_allclose(vmap(collatz_steps)(NS), ref, rtol=0, atol=0)
    assert_allclose(jit(vmap(collatz_steps))(NS), ref, rtol=0, atol=0)
    assert_allclose(vmap(_collatz_jit)(NS), ref, rtol=0, atol=0)


def newton_sqrt(a):
    """sqrt(a) by Newton's iteration from 1 (trip count depends on a), with the count."""
    def body(c):
        v, k = c
        return 0.5 * (v + a / v), k + 1
    return lax.while_loop(lambda c: jnp.abs(c[0] * c[0] - a) > 1e-12 * a, body, (1.0 + 0.0 * a, 0))


def newton_ref(a):
    v, k = 1.0, 0
    while abs(v * v - a) > 1e-12 * a:
        v, k = 0.5 * (v + a / v), k + 1
    return v, k


def test_while_loop_pytree_carry():
    def f(d):
        def body(c):
            return {"i": c["i"] + 1, "acc": (c["acc"][0] * 2.0, c["acc"][1] + c["i"])}
        return lax.while_loop(lambda c: c["i"] < 5, body, d)
    d = {"i": 0, "acc": (np.array([1.0, -0.5]), np.float64(0.0))}
    out = f(d)
    assert tree_structure(out) == tree_structure(d)
    assert_allclose(out, {"i": 5, "acc": (np.array([32.0, -16.0]), 10.0)}, rtol=0, atol=0)
    assert_allclose(jit(f)(d), out, rtol=0, atol=0)


def test_while_loop_zero_iterations_returns_init():
    f = lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x)
    for fun in (f, jit(f)):
        assert_allclose(fun(20.0), 20.0, rtol=0, atol=0)
    assert_allclose(jvp(f, (20.0,), (1.0,)), (20.0, 1.0), rtol=0, atol=0)
    assert_allclose(jvp(f, (3.0,), (1.0,)), (12.0, 4.0), rtol=0, atol=0)
    assert_allclose(vmap(f)(np.array([20.0, 3.0])), [20.0, 12.0], rtol=0, atol=0)


def test_while_loop_closes_over_traced_values_under_jit():
    @jit
    def f(x, limit):
        return lax.while_loop(lambda c: jnp.sum(c) < limit, lambda c: c * x + 1.0, x)

    def f_np(x, limit):
        c = x.copy()
        while np.sum(c) < limit:
            c = c * x + 1.0
        return c
    x = np.array([1.1, 0.4, 0.9])
    for limit in (0.0, 5.0, 100.0):
        assert_allclose(f(x, limit), f_np(x, limit), rtol=1e-14, atol=0)


# --------------------------------------------------------------------------- forward mode

@pytest.mark.parametrize("a", [0.04, 2.0, 9.0, 1234.5])
def test_jvp_through_newton_iteration(a):
    (v, k), (tv, tk) = jvp(newton_sqrt, (a,), (1.0,))
    v_ref, k_ref = newton_ref(a)
    assert int(k) == k_ref
    assert_allclose(v, v_ref, rtol=1e-15)
    assert_allclose(tv, 0.5 / np.sqrt(a), rtol=1e-8)  # derivative of the converged iterate
    assert_allclose(jacfwd(lambda b: newton_sqrt(b)[0])(a), 0.5 / np.sqrt(a), rtol=1e-8)
    assert_allclose(jit(jacfwd(lambda b: newton_sqrt(b)[0]))(a), tv, rtol=1e-13)
    # grad of a scalar function of one scalar uses forward mode: fine for while loops
    assert_allclose(grad(lambda b: newton_sqrt(b)[0])(a), tv, rtol=1e-13)


def _while_vec(x):
    def body(c):
        i, v = c
        return i + 1, jnp.sin(v) * x + v * 0.5
    return lax.while_loop(lambda c: jnp.logical_and(c[0] < 6, jnp.max(jnp.abs(c[1])) < 3.0), body,
                          (0, x))[1]


def _while_vec_np(x):
    i, v = 0, x.copy()
    while i < 6 and np.max(np.abs(v)) < 3.0:
        i, v = i + 1, np.sin(v) * x + v * 0.5
    return v


def test_while_loop_jvp_and_jacfwd_vs_finite_differences():
    x = np.array([0.6, -1.1, 0.8])
    t = np.array([0.2, 0.5, -1.0])
    y, ty = jvp(_while_vec, (x,), (t,))
    assert_allclose(y, _while_vec_np(x), rtol=1e-14, atol=0)
    assert_allclose(ty, fd_directional(_while_vec_np, x, t), rtol=1e-6, atol=1e-9)
    J = jacfwd(_while_vec)(x)
    assert_allclose(J, fd_jac(_while_vec_np, x), rtol=1e-6, atol=1e-9)
    assert_allclose(jit(jacfwd(_while_vec))(x), J, rtol=1e-13, atol=1e-15)
    assert_allclose(jacfwd(jit(_while_vec))(x), J, rtol=1e-13, atol=1e-15)
    y2, f_lin = linearize(_while_vec, x)  # forward linearization works, too
    assert_allclose(f_lin(t), ty, rtol=1e-13, atol=1e-15)
    # second derivatives by forward over forward
    H = jacfwd(jacfwd(lambda v: jnp.sum(_while_vec(v))))(x)
    assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    g_np = lambda v: fd_grad(lambda w: np.sum(_while_vec_np(w)), v, eps=1e-5)
    assert_allclose(H, fd_jac(g_np, x, eps=1e-4), rtol=1e-4, atol=1e-6)


def test_while_loop_jvp_tangent_only_in_body_constant():
    # the init has a zero tangent; the body multiplies by the differentiated x
    def f(x):
        return lax.while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, c[1] * x), (0, 1.0))[1]
    assert_allclose(jvp(f, (1.5,), (1.0,)), (1.5 ** 4, 4 * 1.5 ** 3), rtol=1e-15)
    assert_allclose(jacfwd(jacfwd(f))(1.5), 12 * 1.5 ** 2, rtol=1e-15)


# --------------------------------------------------------------------------- reverse mode errors

def test_while_loop_reverse_mode_raises():
    x = np.array([0.6, -1.1, 0.8])
    with pytest.raises(ValueError, match="lax.scan") as info:
        grad(lambda v: jnp.sum(_while_vec(v)))(x)
    assert REVERSE_MSG in str(info.value)
    with pytest.raises(ValueError, match="lax.scan"):
        _, f_vjp = vjp(_while_vec, x)
        f_vjp(np.ones(3))
    with pytest.raises(ValueError, match="lax.scan"):
        _, f_vjp = vjp(lambda a: newton_sqrt(a)[0], 2.0)  # a scalar, but vjp: reverse mode
        f_vjp(1.0)
    with pytest.raises(ValueError, match="lax.scan"):
        jacrev(_while_vec)(x)
    with pytest.raises(ValueError, match="lax.scan"):
        grad(lambda a, b: newton_sqrt(a * b)[0], argnums=(0, 1))(2.0, 1.5)
    with pytest.raises(ValueError, match="lax.scan"):
        grad(jit(lambda v: jnp.sum(_while_vec(v))))(x)


def _fori_dyn(x, n):
    return lax.fori_loop(0, n, lambda i, v: v * x + jnp.sin(v), x)


def _fori_dyn_np(x, n):
    v = x.copy()
    for _ in range(0, n):
        v = v * x + np.sin(v)
    return v


_fori_dyn_jit = jit(_fori_dyn)


def test_fori_loop_traced_bounds_reverse_mode_raises_inside_jit():
    x = np.array([0.3, -0.4])
    with pytest.raises(ValueError, match="lax.scan") as info:
        jit(grad(lambda v, n: jnp.sum(_fori_dyn(v, n))))(x, 3)
    assert "fori_loop with dynamic start/stop" in str(info.value)
    with pytest.raises(ValueError, match="lax.scan"):
        grad(lambda v: jnp.sum(_fori_dyn_jit(v, 3)))(x)
    with pytest.raises(ValueError, match="lax.scan"):
        _, f_vjp = vjp(lambda v: _fori_dyn_jit(v, 3), x)
        f_vjp(np.ones(2))
    # static bounds: a scan, so reverse mode works (inside and outside jit)
    g = grad(lambda v: jnp.sum(_fori_dyn(v, 3)))(x)
    assert_allclose(g, fd_grad(lambda v: np.sum(_fori_dyn_np(v, 3)), x), rtol=1e-7, atol=1e-9)
    assert_allclose(jit(grad(lambda v: jnp.sum(_fori_dyn(v, 3))))(x), g, rtol=1e-13, atol=1e-15)
    # bounds made static with static_argnums: a scan inside jit, reverse mode works
    g_static = jit(grad(lambda v, n: jnp.sum(_fori_dyn(v, n))), static_argnums=1)(x, 3)
    assert_allclose(g_static, g, rtol=1e-13, atol=1e-15)
    # traced bounds, forward mode: fine
    assert_allclose(jacfwd(lambda v: jnp.sum(_fori_dyn_jit(v, 3)))(x), g, rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------- fori_loop

@pytest.mark.parametrize("lo,hi", [(0, 4), (2, 5), (3, 3), (5, 2), (-2, 1)])
def test_fori_loop_static_and_traced_bounds(lo, hi):
    def body(i, c):
        v, s = c
        return v * 0.9 + i, s + i * i

    def ref():
        v, s = 1.0, 0
        for i in range(lo, hi):
            v, s = v * 0.9 + i, s + i * i
        return v, s
    static = lax.fori_loop(lo, hi, body, (1.0, 0))
    traced = jit(lambda a, b: lax.fori_loop(a, b, body, (1.0, 0)))(lo, hi)
    traced_hi = jit(lambda b: lax.fori_loop(lo, b, body, (1.0, 0)))(hi)
    for got in (static, traced, traced_hi):
        assert_allclose(got, ref(), rtol=1e-15, atol=0)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(-2, 7), x=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=2))
def test_fori_loop_traced_bound_vs_python_loop(n, x):
    x = np.array(x)
    ref = _fori_dyn_np(x, n)
    assert_allclose(_fori_dyn_jit(x, n), ref, rtol=1e-13, atol=1e-15)
    assert_allclose(_fori_dyn(x, n), ref, rtol=1e-13, atol=1e-15)  # static: a scan
    t = np.array([1.0, -0.5])
    _, tan = jvp(lambda v: _fori_dyn_jit(v, n), (x,), (t,))
    assert_allclose(tan, jvp(lambda v: _fori_dyn(v, n), (x,), (t,))[1], rtol=1e-12, atol=1e-14)


def test_fori_loop_vmap_per_lane_trip_counts():
    x = np.array([0.3, -0.4])
    ns = np.array([0, 3, 1, 5, -1])
    ref = np.stack([_fori_dyn_np(x, int(n)) for n in ns])
    assert_allclose(vmap(_fori_dyn_jit, in_axes=(None, 0))(x, ns), ref, rtol=1e-13, atol=1e-15)
    assert_allclose(vmap(_fori_dyn, in_axes=(None, 0))(x, ns), ref, rtol=1e-13, atol=1e-15)
    xs = RNG.uniform(-1, 1, (5, 2))
    ref2 = np.stack([_fori_dyn_np(v, int(n)) for v, n in zip(xs, ns)])
    assert_allclose(vmap(_fori_dyn_jit)(xs, ns), ref2, rtol=1e-13, atol=1e-15)
    assert_allclose(jit(vmap(_fori_dyn))(xs, ns), ref2, rtol=1e-13, atol=1e-15)
    assert_allclose(vmap(_fori_dyn_jit, in_axes=(0, None), out_axes=1)(xs, 3),
                    np.stack([_fori_dyn_np(v, 3) for v in xs], axis=1), rtol=1e-13, atol=1e-15)
    # forward-mode derivatives per lane
    J = vmap(jacfwd(_fori_dyn_jit), in_axes=(0, 0))(xs, ns)
    for v, n, j in zip(xs, ns, J):
        assert_allclose(j, fd_jac(lambda w: _fori_dyn_np(w, int(n)), v), rtol=1e-6, atol=1e-9)


def test_fori_loop_index_dtype_and_weak_typed_carries():
    # int32 bounds: the index is int32 and an int32 carry stays int32
    out = lax.fori_loop(np.int32(0), np.int32(4), lambda i, c: c + i, np.int32(0))
    assert out.dtype == np.int32 and out == 6
    # Python-int bounds give a weakly typed index: it does not promote an int32 carry
    out = lax.fori_loop(0, 4, lambda i, c: c + i, np.int32(0))
    assert out.dtype == np.int32 and out == 6
    out = jit(lambda n: lax.fori_loop(0, n, lambda i, c: c + i, np.int32(0)))(4)
    assert out.dtype == np.int32 and out == 6
    # a weakly typed int carry takes the float type of the body (JAX)
    out = lax.fori_loop(0, 3, lambda i, c: c + 0.5, 0)
    assert out.dtype == np.float64 and out == 1.5


X32 = np.float32(1.5)


def test_weak_typed_python_scalar_carry_promoted_like_jax():
    # JAX: fori_loop(0, 3, lambda i, c: c * x32, 1.0) carries float32
    out = lax.fori_loop(0, 3, lambda i, c: c * X32, 1.0)
    assert np.asarray(out).dtype == np.float32
    assert_allclose(out, np.float32(1.5) ** 3, rtol=1e-6)
    out = jit(lambda x: lax.fori_loop(0, 3, lambda i, c: c * x, 1.0))(X32)
    assert np.asarray(out).dtype == np.float32


def test_weak_typed_carry_promoted_in_while_and_traced_fori():
    out = lax.while_loop(lambda c: c < 3, lambda c: c + np.float32(1), 0.0)
    assert np.asarray(out).dtype == np.float32 and out == 3
    out = jit(lambda n: lax.fori_loop(0, n, lambda i, c: c * X32, 1.0))(3)
    assert np.asarray(out).dtype == np.float32
    # a strongly typed carry is not promoted: float64 * float32 stays float64
    out = lax.fori_loop(0, 3, lambda i, c: c * X32, np.float64(1.0))
    assert np.asarray(out).dtype == np.float64


# --------------------------------------------------------------------------- vmap of while_loop

def test_vmap_while_per_lane_trip_counts_float():
    a = np.array([0.04, 2.0, 9.0, 1234.5, 1.0])
    v, k = vmap(newton_sqrt)(a)
    refs = [newton_ref(x) for x in a]
    assert_allclose(v, [r[0] for r in refs], rtol=1e-15, atol=0)  # finished lanes frozen
    assert_allclose(k, [r[1] for r in refs], rtol=0, atol=0)
    assert len(set(int(x) for x in k)) > 2
    vj, kj = jit(vmap(newton_sqrt))(a)
    assert_allclose((vj, kj), (v, k), rtol=1e-15, atol=0)
    # forward derivative per lane; a = 1 takes no step, so its iterate 1 + 0 a has derivative 0
    d_ref = np.where(k > 0, 0.5 / np.sqrt(a), 0.0)
    assert_allclose(vmap(jacfwd(lambda b: newton_sqrt(b)[0]))(a), d_ref, rtol=1e-8, atol=0)
    assert_allclose(vmap(grad(lambda b: newton_sqrt(b)[0]))(a), d_ref, rtol=1e-8, atol=0)


def test_vmap_while_finished_lanes_are_frozen():
    # running a lane one step too far would multiply it by 10 again
    f = lambda x: lax.while_loop(lambda c: c < 100.0, lambda c: c * 10.0, x)
    xs = np.array([150.0, 50.0, 0.5, 0.003, 99.0])
    ref = []
    for x in xs:
        while x < 100.0:
            x = x * 10.0
        ref.append(x)
    assert_allclose(vmap(f)(xs), ref, rtol=0, atol=0)
    assert_allclose(jit(vmap(f))(xs), ref, rtol=0, atol=0)
    assert_allclose(vmap(jit(f))(xs), ref, rtol=0, atol=0)


def test_vmap_while_strategy_compiled_per_lane_eager_masked():
    """Staged for compilation, lanes with their own trip counts run one after another (a scan
    over lanes of the unbatched loop); eagerly they advance together, masked."""
    from numbax import make_jaxpr
    f = lambda x: lax.while_loop(lambda c: c < 100.0, lambda c: c * 10.0, x)
    staged = make_jaxpr(vmap(f))(np.ones(3))
    assert [e.primitive.name for e in staged.eqns] == ["scan"]
    inner = staged.eqns[0].params["jaxpr"]
    assert [e.primitive.name for e in inner.eqns] == ["while"]
    assert inner.eqns[0].invars[0].aval.shape == ()  # one lane's loop, unbatched
    # with a batched constant alongside an unbatched one, in a pytree carry
    g = lambda x, k: lax.while_loop(lambda c: c[0] < k, lambda c: (c[0] + x, c[1] + 1), (x, 0))
    xs = np.array([0.5, 3.0, 30.0])
    ref = [g(x, 10.0) for x in xs]
    out = jit(vmap(g, in_axes=(0, None)))(xs, 10.0)
    assert_allclose(out[0], [r[0] for r in ref], rtol=0, atol=0)
    assert_allclose(out[1], [r[1] for r in ref], rtol=0, atol=0)


def test_vmap_while_batched_body_constant_unbatched_predicate():
    # the trip count does not depend on the lane (the counter is unbatched), the values do
    def f(x, n):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * x), (0, 1.0))[1]
    xs = np.array([0.5, 2.0, -1.5])
    assert_allclose(vmap(f, in_axes=(0, None))(xs, 3), xs ** 3, rtol=1e-15, atol=0)
    ns = np.array([1, 3, 2])
    assert_allclose(vmap(f, in_axes=(None, 0))(2.0, ns), 2.0 ** ns, rtol=0, atol=0)
    assert_allclose(vmap(f)(xs, ns), xs ** ns, rtol=1e-15, atol=0)
    assert_allclose(vmap(jacfwd(f))(xs, ns), ns * xs ** (ns - 1), rtol=1e-15, atol=0)


def test_vmap_while_pytree_carry_in_and_out_axes():
    def f(d):
        return lax.while_loop(lambda c: jnp.sum(c["v"]) < c["lim"],
                              lambda c: {"v": c["v"] * 2.0, "lim": c["lim"], "n": c["n"] + 1}, d)
    vs = np.abs(RNG.standard_normal((3, 4))) + 0.1
    lims = np.array([1.0, 10.0, 50.0])
    d = {"v": np.ascontiguousarray(vs.T), "lim": lims, "n": 0}
    out = vmap(f, in_axes=({"v": 1, "lim": 0, "n": None},), out_axes={"v": 1, "lim": 0, "n": 0})(d)
    for k in range(3):
        v, n = vs[k].copy(), 0
        while np.sum(v) < lims[k]:
            v, n = v * 2.0, n + 1
        assert_allclose(out["v"][:, k], v, rtol=0, atol=0)
        assert int(out["n"][k]) == n


def test_nested_vmap_of_while():
    xs = RNG.uniform(0.01, 5.0, (2, 3))
    v, k = vmap(vmap(newton_sqrt))(xs)
    for i in range(2):
        for j in range(3):
            rv, rk = newton_ref(xs[i, j])
            assert v[i, j] == rv and k[i, j] == rk


def test_while_inside_scan_and_cond_inside_while():
    def f(xs):
        def step(c, x):
            n = lax.while_loop(lambda m: m * m < x, lambda m: m + 1, 0)  # ceil(sqrt(x))
            return c + n, lax.cond(n % 2 == 0, lambda: x, lambda: -x)
        return lax.scan(step, 0, xs)
    xs = np.array([0.5, 3.0, 9.0, 10.0, 0.0])
    ns = [int(np.ceil(np.sqrt(x))) for x in xs]
    ref = (sum(ns), np.array([x if n % 2 == 0 else -x for x, n in zip(xs, ns)]))
    assert_allclose(f(xs), ref, rtol=0, atol=0)
    assert_allclose(jit(f)(xs), ref, rtol=0, atol=0)
    assert_allclose(vmap(f)(np.stack([xs, xs[::-1]]))[0], [sum(ns)] * 2, rtol=0, atol=0)


# --------------------------------------------------------------------------- type errors

def _both(fun, *args, exc=TypeError):
    with pytest.raises(exc):
        fun(*args)
    with pytest.raises(exc):
        jit(fun)(*args)


def test_while_body_changing_carry_type_raises():
    x = np.float64(1.0)
    _both(lambda x: lax.while_loop(lambda c: c < 3, lambda c: c.astype(jnp.float32), x), x)
    _both(lambda x: lax.while_loop(lambda c: jnp.sum(c) < 3, lambda c: jnp.stack([c, c]), x), x)
    _both(lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: [c[0] + 1, c[1]], (0, x)), x)
    _both(lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1,), (0, x)), x)
    _both(lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 0.5, c[1]),
                                   (np.int32(0), x)), x)
    _both(lambda x: lax.fori_loop(0, 3, lambda i, c: c.astype(jnp.float32), x), x)
    _both(lambda x: lax.fori_loop(0, 3, lambda i, c: (c, c), x), x)


def test_while_cond_fun_must_return_bool_scalar():
    x = np.float64(1.0)
    _both(lambda x: lax.while_loop(lambda c: c - 3.0, lambda c: c + 1.0, x), x)  # float
    _both(lambda x: lax.while_loop(lambda c: jnp.int32(1), lambda c: c + 1.0, x), x)  # int
    v = np.zeros(2)
    _both(lambda v: lax.while_loop(lambda c: c < 3.0, lambda c: c + 1.0, v), v)  # bool[2]
    _both(lambda v: lax.while_loop(lambda c: (c[0] < 3.0, c[1] < 3.0), lambda c: c + 1.0, v), v)


def test_fori_loop_bounds_must_be_integer_scalars():
    with pytest.raises(TypeError):
        lax.fori_loop(0, np.array([3, 4]), lambda i, c: c, 1.0)


def test_linalg_in_loop_body_runs_natively():
    """cholesky and every triangular_solve variant inside a compiled loop body (no Python round
    trip per iteration) agree with eager LAPACK; a non-positive-definite matrix gives NaNs."""
    from numbax.primitives.linalg import cholesky, triangular_solve
    rng = np.random.default_rng(0)
    M = rng.normal(size=(2, 4, 4))
    A = M @ np.swapaxes(M, -1, -2) + 4 * np.eye(4)
    B = rng.normal(size=(2, 4, 3))

    def body(i, c, A):
        L = cholesky(A)
        x = triangular_solve(L, c, left_side=True, lower=True)
        y = triangular_solve(L, x, left_side=True, lower=True, transpose_a=True)
        z = triangular_solve(L, jnp.swapaxes(y, -1, -2), left_side=False, lower=True)
        w = triangular_solve(L, z, left_side=False, lower=False, transpose_a=True,
                             unit_diagonal=True)
        return jnp.swapaxes(w, -1, -2) * 0.5 + c * 0.5

    # A is an argument: a closed-over matrix would be factorised once, at compile time
    f = lambda c, A: lax.fori_loop(0, 3, lambda i, c: body(i, c, A), c)
    assert_allclose(jit(f)(B, A), f(B, A), rtol=1e-12, atol=1e-14)
    assert "_la.cholesky" in jit(f).lower(B, A).as_text()
    indefinite = lambda a: lax.fori_loop(0, 2, lambda i, c: cholesky(c), a)
    assert np.isnan(jit(indefinite)(np.array([[1.0, 2.0], [2.0, 1.0]]))).all()
