"""W4: per-example gradients jit(vmap(grad(loss), in_axes=(None, 0, 0))) of a 20-feature logistic
model over 10000 examples. Hand: the closed form (sigmoid(x·w) - y) * x. autograd has no vmap: it
gets the standard trick, grad of sum_i loss(W[i], x_i, y_i) w.r.t. W = tile(w) (exact).
Target: numbax no slower than jax.jit."""
import numpy as np

from _harness import (AUTOGRAD, JAX, NUMBA, NUMBAX, NUMPY, njit, optional_autograd, optional_jax,
                      ratio_target)

TITLE = "W4 per-example grads (vmap)"


def data(n, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(np.float64)
    w = 0.3 * rng.standard_normal(d)
    return w, X, y


def make_loss(xp):
    def loss(w, x, y):             # one example: x is (d,), y a scalar
        z = xp.dot(x, w)
        return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z))) - y * z
    return loss


def numpy_grads(w, X, y):
    return (1.0 / (1.0 + np.exp(-(X @ w))) - y)[:, None] * X


@njit
def numba_grads(w, X, y):
    n, d = X.shape
    out = np.empty((n, d))
    for i in range(n):
        z = 0.0
        for j in range(d):
            z += X[i, j] * w[j]
        r = 1.0 / (1.0 + np.exp(-z)) - y[i]
        for j in range(d):
            out[i, j] = r * X[i, j]
    return out


def cases(quick=False):
    import numbax as nb
    import numbax.numpy as jnp
    w, X, y = data(2_000 if quick else 10_000)
    impls = {}
    f_nb = nb.jit(nb.vmap(nb.grad(make_loss(jnp)), in_axes=(None, 0, 0)))
    impls[NUMBAX] = lambda: f_nb(w, X, y)
    impls[NUMPY] = lambda: numpy_grads(w, X, y)
    impls[NUMBA] = lambda: numba_grads(w, X, y)
    jax = optional_jax()
    if jax is not None:
        f_j = jax.jit(jax.vmap(jax.grad(make_loss(jax.numpy)), in_axes=(None, 0, 0)))
        args = jax.device_put((w, X, y))
        impls[JAX] = lambda: jax.block_until_ready(f_j(*args))
    ag = optional_autograd()
    if ag is not None:
        anp = ag.numpy

        def total(W, X, y):
            z = anp.sum(W * X, axis=1)
            return anp.sum(anp.maximum(z, 0.0) + anp.log1p(anp.exp(-anp.abs(z))) - y * z)
        g_a = ag.grad(total)
        impls[AUTOGRAD + " (tiled w)"] = lambda: g_a(np.tile(w, (X.shape[0], 1)), X, y)
    return impls


def targets(rows, quick=False):
    return [ratio_target(rows, "W4 numbax ≤ 1× jax.jit", NUMBAX, JAX, 1.0)]
