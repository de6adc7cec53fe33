"""W2: logistic-regression NLL (mean of the stable softplus loss) + L2, value_and_grad w.r.t.
100 weights, X 100000x100. The hand Numba loop makes one pass over X (z, loss and gradient).
Target: numbax no slower than jax.jit."""
import numpy as np

from _harness import (AUTOGRAD, JAX, NUMBA, NUMBAX, NUMPY, njit, optional_autograd, optional_jax,
                      ratio_target)

TITLE = "W2 logistic NLL + L2 vag"
LAM = 1e-3


def data(n, d=100, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X @ w_true))).astype(np.float64)
    w = 0.1 * rng.standard_normal(d)
    return w, X, y


def make_loss(xp, lam=LAM):
    def loss(w, X, y):
        z = X @ w
        # log(1 + exp(z)) - y*z, without overflow
        nll = xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z))) - y * z
        return xp.mean(nll) + lam * xp.sum(w ** 2)
    return loss


def numpy_vag(w, X, y, lam=LAM, xp=np):
    """The hand-written value and gradient (xp: numpy, or CuPy in benchmarks/gpu.py)."""
    n = X.shape[0]
    z = X @ w
    e = xp.exp(-xp.abs(z))
    v = xp.mean(xp.maximum(z, 0.0) + xp.log1p(e) - y * z) + lam * xp.sum(w * w)
    p = xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))   # sigmoid(z)
    return v, X.T @ (p - y) / n + 2.0 * lam * w


@njit
def numba_vag(w, X, y, lam):
    n, d = X.shape
    g = np.zeros(d)
    v = 0.0
    for i in range(n):
        z = 0.0
        for j in range(d):
            z += X[i, j] * w[j]
        e = np.exp(-abs(z))
        v += max(z, 0.0) + np.log1p(e) - y[i] * z
        p = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
        r = p - y[i]
        for j in range(d):
            g[j] += r * X[i, j]
    reg = 0.0
    for j in range(d):
        reg += w[j] * w[j]
        g[j] = g[j] / n + 2.0 * lam * w[j]
    return v / n + lam * reg, g


def cases(quick=False):
    import numbax as nb
    import numbax.numpy as jnp
    w, X, y = data(20_000 if quick else 100_000)
    impls = {}
    f_nb = nb.jit(nb.value_and_grad(make_loss(jnp)))
    impls[NUMBAX] = lambda: f_nb(w, X, y)
    impls[NUMPY] = lambda: numpy_vag(w, X, y)
    impls[NUMBA] = lambda: numba_vag(w, X, y, LAM)
    jax = optional_jax()
    if jax is not None:
        f_j = jax.jit(jax.value_and_grad(make_loss(jax.numpy)))
        args = jax.device_put((w, X, y))
        impls[JAX] = lambda: jax.block_until_ready(f_j(*args))
    ag = optional_autograd()
    if ag is not None:
        f_a = ag.value_and_grad(make_loss(ag.numpy))
        impls[AUTOGRAD] = lambda: f_a(w, X, y)
    return impls


def targets(rows, quick=False):
    return [ratio_target(rows, "W2 numbax ≤ 1× jax.jit", NUMBAX, JAX, 1.0)]
