"""numbax.distributed and the pickling it rests on: jitted (and transformed) functions pickle as
their traced programs, `distributed.map` equals a local `vmap` in process and on a Dask
LocalCluster of two worker processes (also when a worker dies mid-run), and the dask.array
helpers equal their in-memory counterparts."""
import importlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import numbax
import numbax.numpy as jnp
from numbax import distributed
from numbax.optimize import minimize


def _require(module: str):
    if os.environ.get("NUMBAX_REQUIRE_OPTIONAL") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module, reason="pip install -e \".[distributed]\"")


# ------------------------------------------------------------------ functions under test

def nll(p, n):
    return jnp.sum(jnp.exp(p) - n * p)


def fit(n):
    return minimize(nll, jnp.zeros(3), args=(n,)).x


def loss(w, x, y):
    z = x @ w
    return jnp.sum(jnp.logaddexp(0.0, z) - y * z)


def chars(x):
    numbax.debug.print("{:c}", x)    # raises OverflowError at run time for x > 0x10FFFF
    return x * 2


RNG = np.random.default_rng(0)
COUNTS = RNG.poisson(3.0, size=(37, 3)).astype(float)
X = RNG.normal(size=(50, 4))
Y = (X[:, 0] > 0).astype(float)
W = np.array([0.3, -0.2, 0.1, 0.0])


@pytest.fixture(scope="module")
def fit_reference():
    return numbax.jit(numbax.vmap(fit))(COUNTS)


# ------------------------------------------------------------------ pickling

def test_primitives_pickle_by_name():
    from numbax.primitives.elementwise import exp_p
    assert pickle.loads(pickle.dumps(exp_p)) is exp_p


def test_traced_values_refuse_to_pickle():
    def f(x):
        pickle.dumps(x)
        return x
    with pytest.raises(TypeError, match="cannot pickle a traced value"):
        numbax.grad(f)(1.0)


@pytest.mark.parametrize("make, args", [
    (lambda: numbax.jit(lambda x: jnp.sum(jnp.sin(x) ** 2)), (np.arange(3.0),)),
    (lambda: numbax.jit(numbax.vmap(numbax.grad(loss), in_axes=(None, 0, 0))), (W, X, Y)),
    (lambda: numbax.jit(numbax.vmap(fit)), (COUNTS[:5],)),
    (lambda: numbax.jit(lambda x, k: x ** k, static_argnums=1), (np.arange(3.0), 3)),
])
def test_jitted_functions_round_trip(make, args):
    f = make()
    want = f(*args)
    g = pickle.loads(pickle.dumps(f))
    assert len(g._cache) == 1        # the traced program came along
    np.testing.assert_allclose(g(*args), want, rtol=1e-14)


def test_untraced_lambda_round_trips_and_traces_on_arrival():
    _require("cloudpickle")
    scale = np.array([1.0, 2.0, 3.0])
    f = numbax.jit(numbax.grad(lambda x: jnp.sum(scale * x ** 2)))
    g = pickle.loads(pickle.dumps(f))
    assert not g._cache
    np.testing.assert_allclose(g(np.ones(3)), 2 * scale)


def test_without_its_function_only_traced_signatures_run():
    lock = threading.Lock()     # closes over an object nothing can pickle

    def f(x):
        with lock:
            return x * 2.0
    jf = numbax.jit(f)
    jf(np.ones(3))
    g = pickle.loads(pickle.dumps(jf))
    np.testing.assert_allclose(g(np.ones(3)), 2.0)
    with pytest.raises(TypeError, match=r"unpickled without its Python function.*f64\[3\]"):
        g(np.ones(4))


_CHILD = """
import pickle, sys, numpy as np
f = pickle.load(open(sys.argv[1], "rb"))
print(float(np.sum(f(np.linspace(0.0, 1.0, 7)))))
"""


def test_a_fresh_process_runs_it_from_its_disk_cache(tmp_path):
    """The receiving process compiles nothing the sender compiled: same program, same cache."""
    env = dict(os.environ, NUMBAX_CACHE_DIR=str(tmp_path / "cache"), NUMBAX_LOG_COMPILES="1",
               PYTHONPATH=os.pathsep.join([os.path.join(os.path.dirname(__file__), "..", "src"),
                                           os.environ.get("PYTHONPATH", "")]))
    maker = ("import pickle, numpy as np, numbax, numbax.numpy as jnp\n"
             "def f(x):\n    return jnp.tanh(x) * jnp.exp(-x)\n"
             "g = numbax.jit(numbax.vmap(numbax.grad(f)))\n"
             "g(np.linspace(0.0, 1.0, 7))\n"
             f"pickle.dump(g, open({str(tmp_path / 'g.pkl')!r}, 'wb'))\n")
    subprocess.run([sys.executable, "-c", maker], env=env, check=True, capture_output=True)
    (tmp_path / "child.py").write_text(_CHILD)
    run = subprocess.run([sys.executable, str(tmp_path / "child.py"), str(tmp_path / "g.pkl")],
                         env=env, check=True, capture_output=True, text=True)
    xs = np.linspace(0.0, 1.0, 7)
    want = np.sum((1 - np.tanh(xs) ** 2) * np.exp(-xs) - np.tanh(xs) * np.exp(-xs))
    assert abs(float(run.stdout.split()[-1]) - want) < 1e-12
    log = run.stderr
    assert "disk cache hit" in log and "compiled kernel" not in log, log


# ------------------------------------------------------------------ map, in process

def test_map_in_process_equals_vmap(fit_reference):
    np.testing.assert_allclose(distributed.map(fit, COUNTS, chunk_size=10), fit_reference,
                               rtol=1e-12)
    grads = distributed.map(lambda xy: numbax.grad(loss)(W, *xy), (X, Y), chunk_size=16)
    np.testing.assert_allclose(grads, numbax.vmap(numbax.grad(loss), (None, 0, 0))(W, X, Y),
                               rtol=1e-13)


def test_map_broadcasts_leaves_with_in_axes_none():
    out = distributed.map(lambda t: loss(t["w"], t["x"], t["y"]), {"w": W, "x": X, "y": Y},
                          in_axes={"w": None, "x": 0, "y": 0}, chunk_size=7)
    np.testing.assert_allclose(out, [loss(W, X[i], Y[i]) for i in range(len(X))], rtol=1e-13)


def test_map_of_nothing_and_bad_arguments():
    out = distributed.map(lambda x: x * 2, np.zeros((0, 3)))
    assert out.shape == (0, 3)
    with pytest.raises(ValueError, match="one common leading size"):
        distributed.map(lambda t: t[0], (np.ones(3), np.ones(4)))
    with pytest.raises(ValueError, match="must be 0"):
        distributed.map(lambda x: x, np.ones((3, 2)), in_axes=1)
    with pytest.raises(ValueError, match="chunk_size"):
        distributed.map(lambda x: x, np.ones(3), chunk_size=0)


def test_map_reports_the_failing_chunk_in_process():
    xs = np.full(40, 65)
    xs[27] = 2 ** 40
    with pytest.raises(OverflowError) as info:
        distributed.map(chars, xs, chunk_size=10)
    assert "chunk 2 (rows 20:30)" in "".join(getattr(info.value, "__notes__", []))


def test_missing_dask_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"numbax\[distributed\]"):
        distributed.sum_blocks(loss, W, X, Y)


# ------------------------------------------------------------------ on a LocalCluster

@pytest.fixture(scope="module")
def client():
    _require("distributed")
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def test_cluster_map_equals_vmap(client, fit_reference):
    np.testing.assert_allclose(distributed.map(fit, COUNTS, client=client, chunk_size=5),
                               fit_reference, rtol=1e-12)
    values = distributed.map(lambda xy: loss(W, *xy), (X, Y), client=client)
    np.testing.assert_allclose(values, numbax.vmap(loss, (None, 0, 0))(W, X, Y), rtol=1e-13)
    grads = distributed.map(lambda xy: numbax.grad(loss)(W, *xy), (X, Y), client=client)
    np.testing.assert_allclose(grads, numbax.vmap(numbax.grad(loss), (None, 0, 0))(W, X, Y),
                               rtol=1e-13)


def test_cluster_map_reports_the_failing_chunk(client):
    xs = np.full(40, 65)
    xs[27] = 2 ** 40
    with pytest.raises(OverflowError) as info:
        distributed.map(chars, xs, client=client, chunk_size=10)
    assert "chunk 2 (rows 20:30)" in "".join(getattr(info.value, "__notes__", []))


def test_cluster_map_survives_a_killed_worker(client):
    counts = np.random.default_rng(1).poisson(3.0, size=(400, 3)).astype(float)
    want = numbax.jit(numbax.vmap(fit))(counts)
    pids = client.run(os.getpid)
    result = {}

    def run():
        result["out"] = distributed.map(fit, counts, client=client, chunk_size=4)
    t = threading.Thread(target=run)
    t.start()
    deadline = time.time() + 60
    while not any(client.processing().values()) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert t.is_alive()              # mid-run
    victim = sorted(pids)[0]
    os.kill(pids[victim], signal.SIGKILL)
    t.join(timeout=300)
    assert not t.is_alive()
    np.testing.assert_allclose(result["out"], want, rtol=1e-12)
    client.wait_for_workers(2, timeout=60)
    assert pids[victim] not in client.run(os.getpid).values()   # the nanny started a new one


def test_sum_blocks_over_a_dask_array(client):
    da = _require("dask.array")
    x, y = da.from_array(X, chunks=(13, 4)), da.from_array(Y, chunks=13)
    want = numbax.grad(loss)(W, X, Y)
    np.testing.assert_allclose(distributed.sum_blocks(numbax.grad(loss), W, x, y, client=client),
                               want, rtol=1e-12)
    value, g = distributed.sum_blocks(numbax.value_and_grad(loss), W, x, y)   # default scheduler
    np.testing.assert_allclose(g, want, rtol=1e-12)
    np.testing.assert_allclose(value, loss(W, X, Y), rtol=1e-12)


def test_map_blocks_over_a_dask_array(client):
    da = _require("dask.array")
    x, y = da.from_array(X, chunks=(13, 4)), da.from_array(Y, chunks=13)
    per_example = numbax.vmap(numbax.grad(loss), (None, 0, 0))
    lazy = distributed.map_blocks(per_example, W, x, y)
    assert lazy.shape == (len(X), 4)
    np.testing.assert_allclose(client.compute(lazy).result(), per_example(W, X, Y), rtol=1e-13)
