"""W1: value_and_grad of sum(sin(x)**2 + cos(x)*exp(-x)), n = 1e6 (a fused elementwise map-reduce).
Target: numbax within 1.25x of the hand-written single-pass Numba loop."""
import numpy as np

from _harness import (AUTOGRAD, JAX, NUMBA, NUMBAX, NUMPY, njit, optional_autograd, optional_jax,
                      ratio_target)

TITLE = "W1 sum(sin²+cos·exp(-x)) vag"


def size(quick):
    return 200_000 if quick else 1_000_000


def make_f(xp):
    return lambda x: xp.sum(xp.sin(x) ** 2 + xp.cos(x) * xp.exp(-x))


def numpy_vag(x):
    s, c, e = np.sin(x), np.cos(x), np.exp(-x)
    return np.sum(s * s + c * e), 2.0 * s * c - e * (s + c)


@njit
def numba_vag(x):
    g = np.empty_like(x)
    v = 0.0
    for i in range(x.shape[0]):
        s, c, e = np.sin(x[i]), np.cos(x[i]), np.exp(-x[i])
        v += s * s + c * e
        g[i] = 2.0 * s * c - e * (s + c)
    return v, g


def cases(quick=False):
    import numbax as nb
    import numbax.numpy as jnp
    x = np.random.default_rng(0).uniform(-2.0, 2.0, size(quick))
    impls = {}
    f_nb = nb.jit(nb.value_and_grad(make_f(jnp)))
    impls[NUMBAX] = lambda: f_nb(x)
    impls[NUMPY] = lambda: numpy_vag(x)
    impls[NUMBA] = lambda: numba_vag(x)
    jax = optional_jax()
    if jax is not None:
        f_j = jax.jit(jax.value_and_grad(make_f(jax.numpy)))
        xj = jax.device_put(x)
        impls[JAX] = lambda: jax.block_until_ready(f_j(xj))
    ag = optional_autograd()
    if ag is not None:
        f_a = ag.value_and_grad(make_f(ag.numpy))
        impls[AUTOGRAD] = lambda: f_a(x)
    return impls


def targets(rows, quick=False):
    return [ratio_target(rows, "W1 numbax ≤ 1.25× hand Numba", NUMBAX, NUMBA, 1.25)]
