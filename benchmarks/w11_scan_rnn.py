"""W11: an RNN as lax.scan, h_t = tanh(W h_{t-1} + U x_t + b), hidden size 64, input size 32,
200 steps; loss = 0.5 * sum(h_T**2) (the final carry) + sum_t mean(h_t) (the stacked ys);
jit(value_and_grad) w.r.t. the tuple (W, U, b). Hand numpy: backpropagation through time, a
Python loop for the recurrence and the weight gradients as matrix products over all steps. Hand
Numba: the same BPTT in one njit function, explicit loops for the recurrence (forward and
backward; its matvecs as axpys) and np.dot (BLAS) for U x_t over all steps and for the weight
gradients; a third of its time is the 12800 scalar tanh calls. autograd has no scan (its natural
form is a Python loop, not this workload). Target: numbax no slower than jax.jit."""
import numpy as np

from _harness import JAX, NUMBA, NUMBAX, NUMPY, njit, optional_jax, ratio_target

TITLE = "W11 scan RNN 64×200 vag"
NUMBA_ROW = NUMBA + " +np.dot"
HIDDEN, INPUT, STEPS = 64, 32, 200


def data(seed=0):
    rng = np.random.default_rng(seed)
    W = 0.9 * rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)
    U = rng.standard_normal((HIDDEN, INPUT)) / np.sqrt(INPUT)
    b = 0.1 * rng.standard_normal(HIDDEN)
    h0 = 0.1 * rng.standard_normal(HIDDEN)
    xs = rng.standard_normal((STEPS, INPUT))
    return (W, U, b), h0, xs


def make_loss(xp, scan):
    def loss(params, h0, xs):
        W, U, b = params

        def step(h, x):
            h = xp.tanh(W @ h + U @ x + b)
            return h, h
        hT, hs = scan(step, h0, xs)
        return 0.5 * xp.sum(hT ** 2) + xp.sum(xp.mean(hs, axis=1))
    return loss


def numpy_vag(params, h0, xs):
    W, U, b = params
    T, H = xs.shape[0], h0.shape[0]
    hs = np.empty((T + 1, H))            # hs[0] = h0, hs[t + 1] = h_t
    hs[0] = h0
    for t in range(T):
        hs[t + 1] = np.tanh(W @ hs[t] + U @ xs[t] + b)
    v = 0.5 * np.sum(hs[T] ** 2) + np.sum(hs[1:]) / H
    ga = np.empty((T, H))                # dloss / d(pre-activation) at each step
    gh = hs[T].copy()
    for t in range(T - 1, -1, -1):
        gh += 1.0 / H
        ga[t] = gh * (1.0 - hs[t + 1] ** 2)
        gh = W.T @ ga[t]
    return v, (ga.T @ hs[:T], ga.T @ xs, ga.sum(0))


@njit
def numba_vag(W, U, b, h0, xs):
    T, D = xs.shape
    H = h0.shape[0]
    WT = W.T.copy()                      # the recurrence's matvecs as axpys over W's columns
    hs = np.empty((T + 1, H))
    hs[0] = h0
    pre = np.dot(xs, U.T)                # U x_t for all steps at once
    a = np.empty(H)
    v = 0.0
    for t in range(T):
        for i in range(H):
            a[i] = b[i] + pre[t, i]
        for j in range(H):
            hj = hs[t, j]
            for i in range(H):
                a[i] += WT[j, i] * hj
        for i in range(H):
            h = np.tanh(a[i])
            hs[t + 1, i] = h
            v += h
    v /= H
    for i in range(H):
        v += 0.5 * hs[T, i] * hs[T, i]
    ga = np.empty((T, H))
    gh = hs[T].copy()
    for t in range(T - 1, -1, -1):
        for i in range(H):
            ga[t, i] = (gh[i] + 1.0 / H) * (1.0 - hs[t + 1, i] * hs[t + 1, i])
        for j in range(H):
            gh[j] = 0.0
        for i in range(H):
            g = ga[t, i]
            for j in range(H):
                gh[j] += W[i, j] * g
    gb = np.zeros(H)
    for t in range(T):
        for i in range(H):
            gb[i] += ga[t, i]
    return v, np.dot(ga.T, hs[:T]), np.dot(ga.T, xs), gb


def numba_wrapped(params, h0, xs):
    v, gW, gU, gb = numba_vag(*params, h0, xs)
    return v, (gW, gU, gb)


def cases(quick=False):
    import numbax as nb
    import numbax.numpy as jnp
    from numbax import lax
    params, h0, xs = data()
    impls = {}
    f_nb = nb.jit(nb.value_and_grad(make_loss(jnp, lax.scan)))
    impls[NUMBAX] = lambda: f_nb(params, h0, xs)
    impls[NUMPY] = lambda: numpy_vag(params, h0, xs)
    impls[NUMBA_ROW] = lambda: numba_wrapped(params, h0, xs)
    jax = optional_jax()
    if jax is not None:
        f_j = jax.jit(jax.value_and_grad(make_loss(jax.numpy, jax.lax.scan)))
        args = jax.device_put((params, h0, xs))
        impls[JAX] = lambda: jax.block_until_ready(f_j(*args))
    return impls


def targets(rows, quick=False):
    return [ratio_target(rows, "W11 numbax ≤ 1× jax.jit", NUMBAX, JAX, 1.0)]
