"""Scratch buffers of the CPU host program: large intermediates are reused between calls, so a
result handed to the caller must never live in one (nor be a view of one), and concurrent
callers must not share them."""
import threading

import numpy as np

import numbax as nb
import numbax.numpy as jnp

N, M = 128, 96          # 12288 float64 = 96 KiB per array: above the scratch threshold


def _args(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, M)), rng.standard_normal((M, M))


def _reference(x, w):
    h = np.tanh(x @ w)
    return h.reshape(M, N), (h @ w).sum(0), np.sort(h * 2.0, axis=0)[:3]


@nb.jit
def _program(x, w):
    h = jnp.tanh(x @ w)                  # x @ w is scratch, h escapes through a reshape view
    g = jnp.tanh(h @ w)                  # scratch kernel output feeding a reduction
    s = jnp.sort(h * 2.0, axis=0)[:3]    # a host call on a scratch value, then a view of it
    return h.reshape(M, N), (h @ w).sum(0) + 0.0 * g.sum(0), s


def _env():
    (exe,) = [e for per in nb.backends.numba_cpu.compiler._executables.values()
              for e in per.values() if "_pool" in e._env and e.jaxpr.invars[0].aval.shape == (N, M)]
    return exe._env


def test_results_survive_the_next_call():
    first = _program(*_args(0))
    kept = [np.array(r) for r in first]
    second = _program(*_args(1))
    for a, b in zip(first, kept):
        np.testing.assert_array_equal(a, b)
    for got, want in zip(second, _reference(*_args(1))):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for a, b in zip(first, second):
        assert not np.shares_memory(a, b)


def test_scratch_is_used_and_returned_to_the_pool():
    _program(*_args(2))
    env = _env()
    assert len(env["_pool"]) == 1
    buffers = env["_pool"][0]
    assert buffers and all(b.nbytes >= 1 << 16 for b in buffers)
    out = _program(*_args(3))
    assert env["_pool"][0] is buffers
    for r in out:
        assert not any(np.shares_memory(r, b) for b in buffers)


def test_concurrent_callers_get_their_own_buffers():
    seeds = list(range(10, 18))
    results: dict = {}

    def work(seed):
        for _ in range(5):
            results[seed] = _program(*_args(seed))

    threads = [threading.Thread(target=work, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in seeds:
        for got, want in zip(results[s], _reference(*_args(s))):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert 1 <= len(_env()["_pool"]) <= len(seeds)
