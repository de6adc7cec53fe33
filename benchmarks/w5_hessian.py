"""W5: jit(hessian(f)) of the 50-dimensional extended Rosenbrock
sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2). Hand: the analytic tridiagonal Hessian (dense
50x50 output). Target: numbax no slower than jax.jit."""
import numpy as np

from _harness import (AUTOGRAD, JAX, NUMBA, NUMBAX, NUMPY, njit, optional_autograd, optional_jax,
                      ratio_target)

TITLE = "W5 hessian(rosenbrock 50)"
N = 50


def make_f(xp):
    return lambda x: xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def numpy_hess(x):
    a, b = x[:-1], x[1:]
    diag = np.zeros_like(x)
    diag[:-1] += 1200.0 * a * a - 400.0 * b + 2.0
    diag[1:] += 200.0
    off = -400.0 * a
    return np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)


@njit
def numba_hess(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0
        H[i + 1, i + 1] += 200.0
        H[i, i + 1] = H[i + 1, i] = -400.0 * x[i]
    return H


def cases(quick=False):
    import numbax as nb
    import numbax.numpy as jnp
    x = np.random.default_rng(0).uniform(-1.5, 1.5, N)
    impls = {}
    h_nb = nb.jit(nb.hessian(make_f(jnp)))
    impls[NUMBAX] = lambda: h_nb(x)
    impls[NUMPY] = lambda: numpy_hess(x)
    impls[NUMBA] = lambda: numba_hess(x)
    jax = optional_jax()
    if jax is not None:
        h_j = jax.jit(jax.hessian(make_f(jax.numpy)))
        xj = jax.device_put(x)
        impls[JAX] = lambda: jax.block_until_ready(h_j(xj))
    ag = optional_autograd()
    if ag is not None:
        h_a = ag.hessian(make_f(ag.numpy))
        impls[AUTOGRAD] = lambda: h_a(x)
    return impls


def targets(rows, quick=False):
    return [ratio_target(rows, "W5 numbax ≤ 1× jax.jit", NUMBAX, JAX, 1.0)]
