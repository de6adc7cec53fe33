"""W3: MLP 784-256-256-10 (tanh), softmax cross-entropy, batch 512, value_and_grad w.r.t. a dict of
params {W1, b1, W2, b2, W3, b3}. Hand numpy: backprop. Hand Numba: the same backprop inside one
njit function, with np.dot (BLAS) for the matrix products and fused loops for the rest.
Target: numbax no slower than jax.jit."""
import numpy as np

from _harness import (AUTOGRAD, JAX, NUMBA, NUMBAX, NUMPY, njit, optional_autograd, optional_jax,
                      ratio_target)

TITLE = "W3 MLP 784-256-256-10 vag"
SIZES = (784, 256, 256, 10)


def data(batch, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for k, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:]), 1):
        params[f"W{k}"] = rng.standard_normal((a, b)) / np.sqrt(a)
        params[f"b{k}"] = 0.1 * rng.standard_normal(b)
    X = rng.standard_normal((batch, SIZES[0]))
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], batch)]     # one-hot labels
    return params, X, Y


def make_loss(xp):
    def loss(p, X, Y):
        h = xp.tanh(X @ p["W1"] + p["b1"])
        h = xp.tanh(h @ p["W2"] + p["b2"])
        z = h @ p["W3"] + p["b3"]
        m = xp.max(z, axis=1, keepdims=True)
        logp = z - (xp.log(xp.sum(xp.exp(z - m), axis=1, keepdims=True)) + m)
        return -xp.sum(Y * logp) / X.shape[0]
    return loss


def numpy_vag(p, X, Y, xp=np):
    """The hand-written value and gradient (xp: numpy, or CuPy in benchmarks/gpu.py)."""
    B = X.shape[0]
    h1 = xp.tanh(X @ p["W1"] + p["b1"])
    h2 = xp.tanh(h1 @ p["W2"] + p["b2"])
    z = h2 @ p["W3"] + p["b3"]
    z = z - z.max(axis=1, keepdims=True)
    e = xp.exp(z)
    s = e.sum(axis=1, keepdims=True)
    v = -xp.sum(Y * (z - xp.log(s))) / B
    dz = (e / s * Y.sum(axis=1, keepdims=True) - Y) / B
    dh2 = (dz @ p["W3"].T) * (1.0 - h2 * h2)
    dh1 = (dh2 @ p["W2"].T) * (1.0 - h1 * h1)
    g = {"W3": h2.T @ dz, "b3": dz.sum(0), "W2": h1.T @ dh2, "b2": dh2.sum(0),
         "W1": X.T @ dh1, "b1": dh1.sum(0)}
    return v, g


@njit
def _bias_tanh(a, b):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = np.tanh(a[i, j] + b[j])
    return a


@njit
def _backprop_tanh(dh, h, db):
    """dh *= 1 - h**2 in place, db = column sums of the result."""
    db[:] = 0.0
    for i in range(dh.shape[0]):
        for j in range(dh.shape[1]):
            t = dh[i, j] * (1.0 - h[i, j] * h[i, j])
            dh[i, j] = t
            db[j] += t


@njit
def numba_vag(X, Y, W1, b1, W2, b2, W3, b3):
    B, C = X.shape[0], W3.shape[1]
    h1 = _bias_tanh(np.dot(X, W1), b1)
    h2 = _bias_tanh(np.dot(h1, W2), b2)
    z = np.dot(h2, W3)
    dz = np.empty_like(z)
    db3 = np.zeros(C)
    v = 0.0
    for i in range(B):
        m = -np.inf
        for j in range(C):
            z[i, j] += b3[j]
            m = max(m, z[i, j])
        s = 0.0
        ysum = 0.0
        for j in range(C):
            e = np.exp(z[i, j] - m)
            dz[i, j] = e
            s += e
            ysum += Y[i, j]
        lse = np.log(s) + m
        for j in range(C):
            v -= Y[i, j] * (z[i, j] - lse)
            d = (dz[i, j] / s * ysum - Y[i, j]) / B
            dz[i, j] = d
            db3[j] += d
    dW3 = np.dot(h2.T, dz)
    dh2 = np.dot(dz, W3.T)
    db2 = np.empty(W2.shape[1])
    _backprop_tanh(dh2, h2, db2)
    dW2 = np.dot(h1.T, dh2)
    dh1 = np.dot(dh2, W2.T)
    db1 = np.empty(W1.shape[1])
    _backprop_tanh(dh1, h1, db1)
    dW1 = np.dot(X.T, dh1)
    return v / B, dW1, db1, dW2, db2, dW3, db3


def numba_wrapped(p, X, Y):
    v, *g = numba_vag(X, Y, p["W1"], p["b1"], p["W2"], p["b2"], p["W3"], p["b3"])
    return v, dict(zip(("W1", "b1", "W2", "b2", "W3", "b3"), g))


def cases(quick=False):
    import numbax as nb
    import numbax.numpy as jnp
    p, X, Y = data(128 if quick else 512)
    impls = {}
    f_nb = nb.jit(nb.value_and_grad(make_loss(jnp)))
    impls[NUMBAX] = lambda: f_nb(p, X, Y)
    impls[NUMPY] = lambda: numpy_vag(p, X, Y)
    impls[NUMBA + " +np.dot"] = lambda: numba_wrapped(p, X, Y)
    jax = optional_jax()
    if jax is not None:
        f_j = jax.jit(jax.value_and_grad(make_loss(jax.numpy)))
        args = jax.device_put((p, X, Y))
        impls[JAX] = lambda: jax.block_until_ready(f_j(*args))
    ag = optional_autograd()
    if ag is not None:
        f_a = ag.value_and_grad(make_loss(ag.numpy))
        impls[AUTOGRAD] = lambda: f_a(p, X, Y)
    return impls


NUMBA_ROW = NUMBA + " +np.dot"


def targets(rows, quick=False):
    return [ratio_target(rows, "W3 numbax ≤ 1× jax.jit", NUMBAX, JAX, 1.0)]
