"""jit(device="cuda") against the CPU backend, family by family, on tiny shapes (the simulator
runs one Python thread per CUDA thread), plus device residency and errors."""
import numpy as np
import pytest

import numbax as nb
import numbax.numpy as jnp
from numbax import lax
from numbax.primitives.linalg import triangular_solve

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 5))
Y = RNG.normal(size=(3, 5))
V = RNG.normal(size=5)
POS = np.abs(X) + 0.5
X32 = X.astype(np.float32)


def on_gpu(f, *args, **jit_kw):
    """f's results under jit on the GPU, copied back, and on the CPU."""
    got = nb.jit(f, device="cuda", **jit_kw)(*args)
    want = nb.jit(f, **jit_kw)(*args)
    return got, want


def check(f, *args, rtol=1e-12, atol=0.0, **jit_kw):
    got, want = on_gpu(f, *args, **jit_kw)
    got_l, want_l = nb.tree_util.tree_leaves(got), nb.tree_util.tree_leaves(want)
    assert len(got_l) == len(want_l)
    for g, w in zip(got_l, want_l):
        g_host = np.asarray(g)
        w = np.asarray(w)
        assert g_host.shape == w.shape and g_host.dtype == w.dtype, (g_host.shape, w.shape,
                                                                       g_host.dtype, w.dtype)
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g_host, w, rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(g_host, w)
    return got


# ------------------------------------------------------------------ elementwise groups

ELEMENTWISE = {
    "sin_cos": lambda x, y: jnp.sin(x) * jnp.cos(y) + 1.0,
    "exp_log": lambda x, y: jnp.exp(x) - jnp.log(jnp.abs(y) + 1.0),
    "tanh_logistic": lambda x, y: jnp.tanh(x) + nb.nn.sigmoid(y),
    "where": lambda x, y: jnp.where(x > y, x, -y),
    "maxmin": lambda x, y: jnp.maximum(x, y) - jnp.minimum(x, 0.5),
    "pow_sqrt": lambda x, y: jnp.sqrt(x * x + y ** 2) + x ** 3,
    "broadcast": lambda x, y: x + y[0] * 2.0 - x[:, :1],
    "divide": lambda x, y: x / (jnp.abs(y) + 1.0),
    "two_outputs": lambda x, y: (jnp.sin(x) * y, jnp.sin(x) + y),
    "int_cast": lambda x, y: (x * 10).astype(jnp.int32) // 3 + (y > 0).astype(jnp.int32),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise(name):
    check(ELEMENTWISE[name], X, Y)


def test_float32_stays_float32():
    got = check(lambda x: jnp.exp(x) * 2.5 + 1.0, X32, rtol=1e-6)
    assert np.asarray(got).dtype == np.float32


def test_nan_and_inf_propagate():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0])
    check(lambda x: (jnp.maximum(x, 0.0), jnp.minimum(x, 1.0), jnp.sign(x), x * 0.0), x)


# ------------------------------------------------------------------ reductions

REDUCTIONS = {
    "sum_all": lambda x: jnp.sum(x),
    "sum_rows": lambda x: jnp.sum(x, axis=1),
    "sum_cols": lambda x: jnp.sum(x, axis=0),
    "max_min": lambda x: (jnp.max(x, axis=0), jnp.min(x)),
    "prod": lambda x: jnp.prod(x, axis=1),
    "mean_var": lambda x: (jnp.mean(x), jnp.var(x, axis=0)),
    "argmax": lambda x: (jnp.argmax(x, axis=1), jnp.argmin(x, axis=0), jnp.argmax(x)),
    "logsumexp": lambda x: nb.nn.logsumexp(x, axis=1),
    "softmax": lambda x: nb.nn.softmax(x, axis=-1),
    "any_all": lambda x: (jnp.any(x > 1.0), jnp.all(x > -3.0, axis=0)),
    "norm": lambda x: x / jnp.sqrt(jnp.sum(x * x)),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions(name):
    check(REDUCTIONS[name], X, rtol=1e-12, atol=1e-15)


def test_long_reduction_split_over_blocks():
    """A row longer than a block's threads: several blocks a row, partials folded in order."""
    x = RNG.normal(size=300)
    check(lambda x: (jnp.sum(x), jnp.max(x), jnp.argmin(x), jnp.sum(x * x)), x, rtol=1e-12)
    m = RNG.normal(size=(2, 150))
    check(lambda m: (jnp.sum(m, axis=1), jnp.argmax(m, axis=1)), m, rtol=1e-12)


def test_argmax_ties_and_nan_pick_the_first():
    x = np.array([1.0, 3.0, 3.0, -np.inf, 3.0, np.nan, 2.0, np.nan] * 9)
    check(lambda x: (jnp.argmax(x), jnp.argmin(x)), x)
    y = np.array([2.0, 5.0, 5.0, 1.0, 1.0] * 20)
    check(lambda x: (jnp.argmax(x), jnp.argmin(x)), y)
    z = np.full(70, -np.inf)
    check(lambda x: (jnp.argmax(x), jnp.argmin(x)), z)


def test_reductions_with_different_axes_in_one_program():
    check(lambda x: (jnp.sum(x, axis=0), jnp.sum(x, axis=1), jnp.sum(jnp.exp(x))), X)


def test_many_reductions_share_memory_in_groups_of_eight():
    """Each reduction of a group takes block-sized shared arrays: at most 8 a group."""
    def f(x):
        return [jnp.sum(jnp.sin(x * k), axis=1) for k in range(11)]
    check(f, X)
    plan = nb.jit(f, device="cuda").lower(X).plan
    sizes = [sum(e.primitive.name == "reduce_sum" for e in s.eqns) for s in plan.steps
             if hasattr(s, "domain")]
    assert sum(sizes) == 11 and max(sizes) <= 8


# ------------------------------------------------------------------ index maps

VIEWS = {
    "transpose": lambda x: jnp.sin(x.T) + 1.0,
    "slice_rev": lambda x: x[1:, ::-2] * 2.0,
    "pad": lambda x: jnp.pad(x, ((1, 0), (2, 1))) + 1.0,
    "concatenate": lambda x: jnp.concatenate([x, -x], axis=1) * 3.0,
    "reshape": lambda x: jnp.reshape(x, (5, 3)) + jnp.arange(3.0),
    "gather": lambda x: x[jnp.array([2, 0, 2]), 1:4] * 1.5,
    "dynamic_slice": lambda x: lax.dynamic_slice(x, (1, 2), (2, 2)) + 1.0,
    "dynamic_update_slice": lambda x: lax.dynamic_update_slice(x, jnp.ones((2, 2)), (1, 1)),
    "iota": lambda x: x + jnp.arange(5) * 0.5,
    "view_output": lambda x: x.T,
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_index_maps(name):
    check(VIEWS[name], X)


# ------------------------------------------------------------------ loop kernels

def test_cumulative():
    check(lambda x: (jnp.cumsum(x, axis=1), jnp.cumprod(x, axis=0),
                     lax.cummax(x, axis=1, reverse=True)), X)


def test_scatter():
    idx = np.array([0, 2, 0, 1])
    upd = RNG.normal(size=(4, 5))

    def f(x, u):
        return (x.at[idx].set(u), x.at[idx].add(u), x.at[idx].max(u), x.at[idx].mul(u),
                x.at[1, 2].set(7.0))
    check(f, X, upd, rtol=1e-12)


# ------------------------------------------------------------------ dot_general

def test_dot_general():
    a, b = RNG.normal(size=(4, 6)), RNG.normal(size=(6, 3))
    batch = RNG.normal(size=(2, 3, 4))
    check(lambda a, b: (a @ b, a @ b[:, 0], b[:, 0] @ b, a[0] @ a[1]), a, b)
    check(lambda t: jnp.einsum("bij,bjk->bik", t, jnp.swapaxes(t, 1, 2)), batch)


# ------------------------------------------------------------------ control flow

def test_cond():
    def f(x, p):
        return lax.cond(p > 0, lambda x: jnp.sin(x), lambda x: x * 2.0, x)
    check(f, V, 1.0)
    check(f, V, -1.0)


def test_while_and_fori():
    def f(x):
        def body(c):
            i, v = c
            return i + 1, v * 0.5 + jnp.sum(v) * 0.01
        return lax.while_loop(lambda c: c[0] < 4, body, (0, x))
    check(f, V)
    check(lambda x: lax.fori_loop(0, 3, lambda i, v: v + i * v, x), V)


def test_vmap_of_a_while_loop_keeps_the_lanes_in_lockstep():
    """On the CPU a batched predicate becomes a scan over lanes; for the GPU the loop stays one
    masked loop over all lanes (one kernel sequence per step, not one loop per lane)."""
    def newton_sqrt(a):
        return lax.while_loop(lambda x: jnp.abs(x * x - a) > 1e-12 * a,
                              lambda x: 0.5 * (x + a / x), a)
    f = nb.vmap(newton_sqrt)
    a = np.array([2.0, 9.0, 1e4, 0.5])
    check(f, a, rtol=1e-15)
    gpu_eqns = nb.jit(f, device="cuda").lower(a).jaxpr.eqns
    cpu_eqns = nb.jit(f).lower(a).jaxpr.eqns
    assert [e.primitive.name for e in gpu_eqns] == ["while"]
    assert "scan" in [e.primitive.name for e in cpu_eqns]


def test_scan():
    def f(x, xs):
        def step(c, xi):
            c = c * 0.9 + xi
            return c, jnp.sum(c)
        return lax.scan(step, x, xs)
    check(f, V, RNG.normal(size=(4, 5)))


# ------------------------------------------------------------------ transformations

def loss(w, x, y):
    p = nb.nn.sigmoid(x @ w)
    return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log1p(-p)) + 0.01 * jnp.sum(w * w)


XD = RNG.normal(size=(8, 3))
YD = (RNG.random(8) > 0.5).astype(np.float64)
W = RNG.normal(size=3)


def test_grad_of_logistic_regression():
    check(nb.value_and_grad(loss), W, XD, YD, rtol=1e-12)


def test_vmap_of_grad_per_example():
    per_example = nb.vmap(nb.grad(loss), in_axes=(None, 0, 0))
    check(lambda w, x, y: per_example(w, x[:, None, :], y[:, None]), W, XD, YD, rtol=1e-12)


def test_hessian_and_jacobians():
    def f(x):
        return jnp.sum(jnp.sin(x) * x[::-1]) + jnp.prod(x[:3])
    check(nb.hessian(f), V, rtol=1e-12, atol=1e-14)
    check(nb.jacrev(lambda x: jnp.tanh(x) * x[0]), V, rtol=1e-12)


def test_mlp_gradient():
    def mlp(params, x):
        (w1, b1), (w2, b2) = params
        h = jnp.tanh(x @ w1 + b1)
        return jnp.sum((h @ w2 + b2) ** 2)
    params = ((RNG.normal(size=(3, 4)), RNG.normal(size=4)),
              (RNG.normal(size=(4, 2)), RNG.normal(size=2)))
    check(nb.grad(mlp), params, XD, rtol=1e-11)


def test_transformations_outside_a_gpu_jit_stay_on_the_gpu():
    """grad, vmap and jvp of a jit(device="cuda") function transform its program and run the
    result on the GPU (the device travels with the call), as JAX keeps a jit's device."""
    from numbax.backends.numba_cuda.runtime import is_device_array
    f = nb.jit(lambda x: jnp.sum(jnp.sin(x) ** 2) + x[0] * x[-1], device="cuda")
    g = nb.grad(f)(V)
    assert is_device_array(g)
    np.testing.assert_allclose(np.asarray(g), nb.grad(f.__wrapped__)(V), rtol=1e-13)
    batch = np.stack([V, 2 * V])
    vg = nb.vmap(nb.grad(f))(batch)
    np.testing.assert_allclose(np.asarray(vg), np.stack([nb.grad(f.__wrapped__)(b)
                                                          for b in batch]), rtol=1e-13)
    _, t = nb.jvp(f, (V,), (np.ones(5),))
    np.testing.assert_allclose(np.asarray(t), np.sum(nb.grad(f.__wrapped__)(V)), rtol=1e-13)
    assert "device=cuda" in str(nb.make_jaxpr(nb.grad(f))(V))


def test_nested_grad():
    check(nb.grad(nb.grad(nb.grad(lambda x: x ** 4 * jnp.sin(x)))), 0.7, rtol=1e-12)


# ------------------------------------------------------------------ device residency

def test_results_are_device_arrays_and_feed_back():
    from numbax.backends.numba_cuda.runtime import is_device_array
    f = nb.jit(lambda x: jnp.sin(x) * 2.0, device="cuda")
    out = f(V)
    assert is_device_array(out) and not isinstance(out, np.ndarray)
    again = f(out)                          # a device array goes in without a copy
    np.testing.assert_allclose(np.asarray(again), np.sin(np.sin(V) * 2.0) * 2.0, rtol=1e-13)
    s = nb.jit(jnp.sum, device="cuda")(V)
    assert s.shape == () and np.asarray(s) == pytest.approx(V.sum(), rel=1e-13)


def test_results_survive_later_calls():
    """Intermediates come from buffers reused between calls; results never do, even when a
    loop hands back a buffer it was given."""
    f = nb.jit(nb.value_and_grad(loss), device="cuda")
    first, second = f(W, XD, YD), f(2 * W, XD, YD)
    for got, w in ((first, W), (second, 2 * W)):
        want = nb.jit(nb.value_and_grad(loss))(w, XD, YD)
        np.testing.assert_allclose(np.asarray(got[1]), want[1], rtol=1e-12)

    def g(x):
        y = jnp.sin(x) * 2.0
        return lax.while_loop(lambda c: c[0] < 2, lambda c: (c[0] + 1, c[1]), (0, y))[1]
    h = nb.jit(g, device="cuda")
    a, b = h(V), h(2 * V)
    np.testing.assert_allclose(np.asarray(a), np.sin(V) * 2.0, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(b), np.sin(2 * V) * 2.0, rtol=1e-13)


def test_device_put_and_devices():
    d = nb.device_put({"a": V, "b": 2.0}, "cuda")
    assert d["a"].shape == (5,)
    out = nb.jit(lambda t: t["a"] * t["b"], device="cuda")(d)
    np.testing.assert_allclose(np.asarray(out), V * 2.0)
    gpus = nb.devices("cuda")
    assert gpus and gpus[0].platform == "gpu"
    assert nb.devices("cpu")[0].platform == "cpu"
    back = nb.device_put(out)               # to the CPU: a numpy array
    assert isinstance(back, np.ndarray)
    assert nb.block_until_ready(out) is out


def test_non_contiguous_device_input():
    from numba import cuda
    d = cuda.to_device(X)
    view = d[:, ::2]
    got = nb.jit(lambda x: x * 2.0, device="cuda")(view)
    np.testing.assert_allclose(np.asarray(got), X[:, ::2] * 2.0)


def test_eager_ops_accept_device_arrays():
    d = nb.device_put(V, "cuda")
    np.testing.assert_allclose(np.asarray(jnp.sin(d)), np.sin(V))
    assert nb.jit(lambda x: x + 1.0)(d).shape == (5,)   # the CPU backend copies it back


def test_lowered_text_shows_the_kernels():
    text = nb.jit(lambda x: jnp.sum(jnp.sin(x)), device="cuda").lower(X).as_text()
    assert "cuda.jit" in text and "cuda.syncthreads" in text


# ------------------------------------------------------------------ errors

def test_unsupported_dtype_says_which():
    with pytest.raises(NotImplementedError, match="float16"):
        nb.jit(lambda x: x * 2, device="cuda")(X.astype(np.float16))


# ------------------------------------------------------------------ sort

def test_sort_argsort_and_keys():
    x = np.array([[3.0, np.nan, 1.0, 2.0, 1.0, -np.inf, 0.0, -0.0],
                  [0.0, -0.0, 5.0, np.nan, np.nan, 2.0, 2.0, 1.0]])
    check(lambda x: (jnp.sort(x, axis=1), jnp.argsort(x, axis=1), jnp.sort(x, axis=0),
                     jnp.argsort(x[1])), x)
    ints = np.array([[3, 1, 2, 1, 3, 0, 7, 1]] * 2, np.int32)
    check(lambda k, v: lax.sort((k, v), dimension=1, num_keys=2), ints, x)
    check(lambda x: (jnp.median(x, axis=1), jnp.quantile(x, 0.3)), X)
    check(nb.grad(lambda x: jnp.sum(jnp.sort(x) * jnp.arange(5.0))), V)


# ------------------------------------------------------------------ linear algebra

SPD = np.stack([m @ m.T + 4 * np.eye(4) for m in RNG.normal(size=(3, 4, 4))])
RHS = RNG.normal(size=(3, 4, 2))


def test_cholesky_batched_and_not_positive_definite():
    bad = SPD.copy()
    bad[1] = -np.eye(4)
    check(jnp.linalg.cholesky, SPD, rtol=1e-12)
    got = np.asarray(nb.jit(jnp.linalg.cholesky, device="cuda")(bad))
    assert np.isnan(got[1]).all() and np.isfinite(got[[0, 2]]).all()
    check(jnp.linalg.cholesky, SPD[0].astype(np.float32), rtol=1e-5)


@pytest.mark.parametrize("left_side", [True, False])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("transpose_a", [True, False])
def test_triangular_solve(left_side, lower, transpose_a):
    a = np.linalg.cholesky(SPD)
    a = a if lower else np.swapaxes(a, -1, -2)
    b = RHS if left_side else np.swapaxes(RHS, -1, -2)
    for unit in (False, True):
        check(lambda a, b: triangular_solve(a, b, left_side=left_side, lower=lower,
                                            transpose_a=transpose_a,
                                            unit_diagonal=unit), a, b, rtol=1e-11)


def test_solve_and_slogdet():
    check(jnp.linalg.solve, SPD, RHS, rtol=1e-11)
    check(jnp.linalg.solve, SPD[0], RHS[0, :, 0], rtol=1e-11)
    general = RNG.normal(size=(3, 4, 4))            # pivoting matters here
    check(jnp.linalg.solve, general, RHS, rtol=1e-9)
    check(jnp.linalg.slogdet, general, rtol=1e-12)
    check(jnp.linalg.slogdet, general[0], rtol=1e-12)
    singular = general.copy()
    singular[1, :, 2] = 0.0
    singular[2, 0, 0] = np.nan
    sign, logdet = (np.asarray(v) for v in nb.jit(jnp.linalg.slogdet, device="cuda")(singular))
    assert sign[1] == 0 and logdet[1] == -np.inf and np.isnan(sign[2]) and np.isnan(logdet[2])
    x = np.asarray(nb.jit(jnp.linalg.solve, device="cuda")(singular, RHS))
    assert np.isnan(x[1]).all() and np.isfinite(x[0]).all()
    check(lambda a: nb.grad(lambda m: jnp.linalg.slogdet(m)[1])(a), general[0], rtol=1e-10)


def test_newton_fits_and_multivariate_normal():
    from numbax.optimize import minimize
    from numbax.scipy.stats import multivariate_normal

    def nll(p, d):
        return jnp.sum((p - d) ** 2 * jnp.arange(1.0, 4.0)) + jnp.sum(p ** 4) * 0.01
    data = RNG.normal(size=(3, 3))
    fit = nb.vmap(lambda d: minimize(nll, np.zeros(3), args=(d,), method="newton").x)
    check(fit, data, rtol=1e-10, atol=1e-12)
    cov = SPD[0]
    check(lambda x: multivariate_normal.logpdf(x, np.zeros(4), cov), RNG.normal(size=(5, 4)),
          rtol=1e-12)


def test_unknown_device():
    with pytest.raises(ValueError, match="unknown device"):
        nb.jit(jnp.sin, device="tpu")


def test_dtype_mismatch_of_a_device_argument():
    f = nb.jit(lambda x: x * 2.0, device="cuda")
    f(V)
    d = nb.device_put(V.astype(np.float32), "cuda")
    got = f(d)    # another signature: compiled again for float32
    assert np.asarray(got).dtype == np.float32


# ------------------------------------------------------------------ the GPU benchmark script

def test_gpu_benchmark_script_runs_on_the_simulator(tmp_path):
    """benchmarks/gpu.py's numbax paths, at tiny sizes on the simulator (its numbers there are
    meaningless, but a broken script would otherwise only show on a GPU)."""
    import json
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tmp_path / "gpu.json"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(root, "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "gpu.py"),
                           "--simulate", "--json", str(out)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ours = [r for r in json.loads(out.read_text())["rows"] if r["impl"].startswith("numbax")]
    assert sorted(r["workload"] for r in ours) == ["W1", "W2", "W3", "W6B"]
    assert all(r["status"] == "ok" and r["median_s"] > 0 for r in ours)
