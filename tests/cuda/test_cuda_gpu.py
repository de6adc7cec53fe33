"""The `gpu` tier: jit(device="cuda") on a real NVIDIA GPU, at sizes that launch many blocks and
make every thread of a grid-stride loop take several elements (the simulator tier in
test_cuda_backend.py uses tiny shapes). Each result is compared with the CPU jit.

    python -m pytest tests/cuda/test_cuda_gpu.py -m gpu

Tolerances: libdevice and FMA contraction differ from the CPU in the last ulps, and reductions
add in another order, so float64 results agree to ~1e-12 relative to the scale of what was added
(sum of |terms|), float32 to ~1e-5. Skipped under the simulator (too slow at these sizes) and
where no GPU answers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

if numba.config.ENABLE_CUDASIM:
    pytest.skip("gpu tier: real hardware only", allow_module_level=True)


def _gpu_available() -> bool:
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:   # noqa: BLE001 - no driver, no numba-cuda
        return False


pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not _gpu_available(), reason="gpu tier: needs a real NVIDIA GPU "
                                 "(numba.cuda.is_available() is False)")]

import numbax as nb  # noqa: E402
import numbax.numpy as jnp  # noqa: E402
from numbax import lax  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
N = 10 ** 6          # 1-D length
M = 1000             # (M, M) matrices
RNG = np.random.default_rng(7)
X1 = RNG.normal(size=N)
Y1 = RNG.normal(size=N)
X2 = RNG.normal(size=(M, M))
V2 = RNG.normal(size=M)


def run_both(f, *args, **jit_kw):
    """(GPU result leaves, copied back; CPU result leaves); checks the GPU ones are device
    arrays of the CPU's shapes and dtypes."""
    from numbax.backends.numba_cuda.runtime import is_device_array
    got = nb.tree_util.tree_leaves(nb.jit(f, device="cuda", **jit_kw)(*args))
    want = nb.tree_util.tree_leaves(nb.jit(f, **jit_kw)(*args))
    assert len(got) == len(want)
    host = []
    for g, w in zip(got, want):
        assert is_device_array(g) and not isinstance(g, np.ndarray), type(g)
        g = np.asarray(g)
        w = np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        host.append(g)
    return host, [np.asarray(w) for w in want]


def assert_close(got, want, rtol, scale, what=""):
    """|got - want| <= rtol * (|want| + scale) elementwise (scale broadcasts); NaNs must match."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    both_nan = np.isnan(got) & np.isnan(want)
    with np.errstate(invalid="ignore"):
        same = both_nan | (got == want)
        err = np.where(same, 0.0, np.abs(got - want))
        tol = rtol * (np.abs(want) + np.asarray(scale, np.float64))
    bad = ~(same | (err <= tol))
    if bad.any():
        k = np.flatnonzero(bad.ravel())
        worst = np.max(err.ravel()[k] / np.maximum(tol.ravel()[k], 1e-300))
        raise AssertionError(f"{what}: {k.size} of {got.size} elements differ beyond rtol "
                             f"{rtol:g}; first at flat index {k[0]}: got {got.ravel()[k[0]]!r}, "
                             f"want {want.ravel()[k[0]]!r}; max err/tol {worst:.3g}")


def check(f, *args, rtol=1e-12, scale=None, **jit_kw):
    """GPU == CPU: floats to rtol * (|want| or the given scale per leaf; default max|want|),
    integers and booleans exactly."""
    got, want = run_both(f, *args, **jit_kw)
    scales = scale if isinstance(scale, (list, tuple)) else [scale] * len(want)
    for i, (g, w, s) in enumerate(zip(got, want, scales)):
        if w.dtype.kind in "fc":
            assert_close(g, w, rtol, np.max(np.abs(w)) if s is None else s, f"output leaf {i}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output leaf {i}")
    return got


# ------------------------------------------------------------------ elementwise, many blocks

ELEMENTWISE = {
    "sin_cos": lambda x, y: jnp.sin(x) * jnp.cos(y) + 1.0,
    "exp_log": lambda x, y: jnp.exp(x) - jnp.log(jnp.abs(y) + 1.0),
    "tanh_sigmoid": lambda x, y: jnp.tanh(x) + nb.nn.sigmoid(y),
    "where_max": lambda x, y: jnp.where(x > y, x, -y) + jnp.maximum(x, 0.5),
    "pow_sqrt_div": lambda x, y: jnp.sqrt(x * x + y ** 2) + x ** 3 / (jnp.abs(y) + 1.0),
    "w1_value_terms": lambda x, y: jnp.sin(x) ** 2 + jnp.cos(x) * jnp.exp(-x),
    "two_outputs": lambda x, y: (jnp.sin(x) * y, jnp.log1p(jnp.abs(x)) + y),
    "int_cast": lambda x, y: (x * 10).astype(jnp.int32) // 3 + (y > 0).astype(jnp.int32),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_1e6(name):
    check(ELEMENTWISE[name], X1, Y1)


def test_elementwise_2d_broadcast():
    check(lambda x, v: jnp.sin(x + v) * v[:, None] - x.T, X2, V2)


def test_elementwise_float32():
    x, y = X1.astype(np.float32), Y1.astype(np.float32)
    got = check(lambda x, y: jnp.exp(x) * 2.5 + jnp.sin(y) * x, x, y, rtol=1e-5)
    assert got[0].dtype == np.float32


# ------------------------------------------------------------------ reductions

def test_sum_1e6():
    check(lambda x: (jnp.sum(x), jnp.sum(x * x), jnp.mean(jnp.exp(-x * x))), X1,
          scale=[np.abs(X1).sum(), (X1 * X1).sum(), 1.0])


def test_float32_sum_against_float64():
    x = X1.astype(np.float32)
    got = np.asarray(nb.jit(jnp.sum, device="cuda")(x))
    assert got.dtype == np.float32
    assert abs(float(got) - x.astype(np.float64).sum()) <= 1e-5 * np.abs(x).sum()


@pytest.mark.parametrize("axis", [0, 1, None])
def test_sum_mean_var_along_axis(axis):
    s = np.abs(X2).sum(axis=axis)
    check(lambda x: jnp.sum(x, axis=axis), X2, scale=s)
    check(lambda x: jnp.mean(x, axis=axis), X2, scale=s / (X2.size if axis is None else M))
    check(lambda x: jnp.var(x, axis=axis), X2, rtol=1e-11)


@pytest.mark.parametrize("axis", [0, 1, None])
def test_max_min_prod_along_axis(axis):
    check(lambda x: (jnp.max(x, axis=axis), jnp.min(x, axis=axis)), X2, rtol=0.0)
    near_one = 1.0 + 1e-3 * X2
    check(lambda x: jnp.prod(x, axis=axis), near_one, rtol=1e-10)


@pytest.mark.parametrize("axis", [0, 1, None])
def test_argmax_argmin_along_axis(axis):
    check(lambda x: (jnp.argmax(x, axis=axis), jnp.argmin(x, axis=axis)), X2)


def test_argmax_1e6_ties_pick_the_first():
    x = RNG.integers(0, 5, N).astype(np.float64)     # the max appears ~200000 times
    got = check(lambda x: (jnp.argmax(x), jnp.argmin(x)), x)
    assert int(got[0]) == int(np.argmax(x)) and int(got[1]) == int(np.argmin(x))
    x[N - 3] = np.nan                                 # NaN wins wherever it is
    check(lambda x: (jnp.argmax(x), jnp.argmin(x), jnp.max(x)), x)


def test_logsumexp_softmax_rows():
    check(lambda x: (nb.nn.logsumexp(x, axis=1), nb.nn.softmax(x, axis=-1)), X2, rtol=1e-12)


def test_cumsum_along_each_axis():
    check(lambda x: jnp.cumsum(x, axis=1), X2, scale=np.cumsum(np.abs(X2), axis=1))
    check(lambda x: jnp.cumsum(x, axis=0), X2, scale=np.cumsum(np.abs(X2), axis=0))


# ------------------------------------------------------------------ matmul

def test_matmul_500x300x200():
    a, b = RNG.normal(size=(500, 300)), RNG.normal(size=(300, 200))
    check(lambda a, b: a @ b, a, b, scale=np.abs(a) @ np.abs(b))
    check(lambda a, b: (a.T @ a, b @ b.T), a, b,
          scale=[np.abs(a).T @ np.abs(a), np.abs(b) @ np.abs(b).T])
    v = RNG.normal(size=300)
    check(lambda a, v: (a @ v, v @ b), a, v, scale=[np.abs(a) @ np.abs(v), np.abs(v) @ np.abs(b)])


def test_matmul_float32():
    a = RNG.normal(size=(500, 300)).astype(np.float32)
    b = RNG.normal(size=(300, 200)).astype(np.float32)
    got = check(lambda a, b: a @ b, a, b, rtol=1e-5,
                scale=np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    assert got[0].dtype == np.float32


def test_batched_matmul():
    t, u = RNG.normal(size=(16, 64, 96)), RNG.normal(size=(16, 96, 48))
    check(lambda t, u: jnp.einsum("bij,bjk->bik", t, u), t, u,
          scale=np.einsum("bij,bjk->bik", np.abs(t), np.abs(u)))
    check(lambda t: t @ jnp.swapaxes(t, 1, 2), t,
          scale=np.abs(t) @ np.swapaxes(np.abs(t), 1, 2))


# ------------------------------------------------------------------ control flow

def test_scan_over_rows():
    xs = RNG.normal(size=(64, 10 ** 4))

    def f(c, xs):
        def step(c, x):
            c = 0.9 * c + jnp.tanh(x)
            return c, jnp.sum(c * c)
        return lax.scan(step, c, xs)
    check(f, xs[0], xs, rtol=1e-11)


def test_while_and_fori_loop():
    x = np.abs(X1[:10 ** 5]) + 0.1

    def f(x):
        def body(c):
            i, v = c
            return i + 1, v * 0.5 + jnp.mean(v) * 0.25
        return lax.while_loop(lambda c: jnp.sum(c[1]) > 1.0, body, (0, x))
    got = check(f, x, rtol=1e-11)
    assert int(got[0]) > 5
    check(lambda x: lax.fori_loop(0, 20, lambda i, v: jnp.sin(v) + i * 1e-3, x), x)


# ------------------------------------------------------------------ gradients

def logreg_loss(w, x, y):
    p = nb.nn.sigmoid(x @ w)
    return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log1p(-p)) + 0.01 * jnp.sum(w * w)


def logreg_data(n, d=20, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = 0.3 * rng.normal(size=d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-x @ w))).astype(np.float64)
    return w, x, y


def test_grad_of_logistic_regression_1e5x20():
    w, x, y = logreg_data(10 ** 5)
    p = 1.0 / (1.0 + np.exp(-x @ w))
    g_scale = np.abs(x).T @ np.abs(p - y) / x.shape[0] + 0.02 * np.abs(w)
    check(nb.value_and_grad(logreg_loss), w, x, y, rtol=1e-11, scale=[1.0, g_scale])


def test_vmap_of_grad_per_example():
    w, x, y = logreg_data(10 ** 4)
    per_example = nb.vmap(nb.grad(logreg_loss), in_axes=(None, 0, 0))
    check(lambda w, x, y: per_example(w, x[:, None, :], y[:, None]), w, x, y, rtol=1e-11)


def test_mlp_gradient():
    rng = np.random.default_rng(5)
    params = {"W1": rng.normal(size=(256, 128)) / 16, "b1": 0.1 * rng.normal(size=128),
              "W2": rng.normal(size=(128, 10)) / 11, "b2": 0.1 * rng.normal(size=10)}
    x = rng.normal(size=(512, 256))
    labels = np.eye(10)[rng.integers(0, 10, 512)]

    def loss(p, x, t):
        h = jnp.tanh(x @ p["W1"] + p["b1"])
        return -jnp.mean(jnp.sum(t * nb.nn.log_softmax(h @ p["W2"] + p["b2"]), axis=1))
    got, want = run_both(nb.value_and_grad(loss), params, x, labels)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, 1e-10, 0.1 * np.max(np.abs(w)), f"output leaf {i}")


# ------------------------------------------------------------------ residency, benchmark

def on_device(x) -> bool:
    from numbax.backends.numba_cuda.runtime import is_device_array
    return is_device_array(x) and not isinstance(x, np.ndarray)


def test_results_stay_on_the_device():
    f = nb.jit(lambda x: jnp.sin(x) * 2.0, device="cuda")
    d = nb.device_put(X1, "cuda")
    assert on_device(d)
    out = f(d)
    assert on_device(out) and out.shape == (N,)
    again = f(out)                                   # fed back without a copy to the host
    assert on_device(again)
    nb.block_until_ready(again)
    np.testing.assert_allclose(np.asarray(again), np.sin(np.sin(X1) * 2.0) * 2.0,
                               rtol=1e-12, atol=1e-14)
    v, g = nb.jit(nb.value_and_grad(lambda x: jnp.sum(jnp.exp(-x * x))), device="cuda")(d)
    assert on_device(v) and v.shape == () and on_device(g)
    back = nb.device_put(g)                          # to the CPU: numpy
    assert isinstance(back, np.ndarray) and back.shape == (N,)


def test_benchmark_script_quick(tmp_path):
    """benchmarks/gpu.py --quick runs to the end, numbax's rows agree with the CPU and are timed."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--quick",
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    data = json.loads(out.read_text())
    assert not data["meta"]["simulated"] and data["copy_bandwidth"]["gb_s"] > 0
    numbax_rows = [r for r in data["rows"] if r["impl"] == "numbax jit cuda"]
    assert {r["workload"] for r in numbax_rows} == {"W1", "W2", "W3", "W6B"}
    assert all(r["status"] == "ok" and r["median_s"] > 0 for r in numbax_rows), numbax_rows
