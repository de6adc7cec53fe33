"""W9: jit(grad(f)) w.r.t. the start value x0 = 0.3 (a float64 scalar) of f = the logistic map
v = 4 v (1 - v) iterated 1000 times with fori_loop(0, 1000, ...) (static bounds: a scan, so
reverse mode stores the 1000 iterates). Hand: the value and its derivative in one forward-mode
loop, d *= 4 - 8 v alongside v; the Python reference is the same loop on Python floats. autograd
has no fori_loop (its natural form, a Python loop of 1000 boxed scalars, is not this workload).

The map is chaotic: df/dx0 = prod_k (4 - 8 v_k) is about 2^1000 (-8.44e300 from 0.3, some
2^24 below float64's overflow; every partial product, forward or backward, stays below the final
one), and any rounding difference in the iterates v_k is amplified about 2^k times. The
implementations agree to ~1e-13 only because they all compute v_{k+1} = (4 v_k)(1 - v_k) bit
for bit (the factor 4 is exact) and differ just in how the derivative's factors are rounded; an
implementation that rounded the value update differently (4v - 4v², an FMA) would disagree
completely. Target: numbax no slower than 2x the hand Numba loop."""
import numpy as np

from _harness import JAX, NUMBA, NUMBAX, njit, optional_jax, ratio_target

TITLE = "W9 grad logistic map ×1000"
REF = "python (hand)"
N_STEPS = 1000
X0 = 0.3


def make_f(fori_loop, n=N_STEPS):
    def f(x0):
        return fori_loop(0, n, lambda i, v: 4.0 * v * (1.0 - v), x0)
    return f


def python_grad(x0, n=N_STEPS):
    v, d = x0, 1.0
    for _ in range(n):
        d = d * (4.0 - 8.0 * v)
        v = 4.0 * v * (1.0 - v)
    return d


@njit
def numba_grad(x0, n):
    v, d = x0, 1.0
    for _ in range(n):
        d = d * (4.0 - 8.0 * v)
        v = 4.0 * v * (1.0 - v)
    return d


def cases(quick=False):
    import numbax as nb
    from numbax import lax
    impls = {}
    g_nb = nb.jit(nb.grad(make_f(lax.fori_loop)))
    impls[NUMBAX] = lambda: g_nb(X0)
    impls[REF] = lambda: python_grad(X0)
    impls[NUMBA] = lambda: numba_grad(X0, N_STEPS)
    jax = optional_jax()
    if jax is not None:
        g_j = jax.jit(jax.grad(make_f(jax.lax.fori_loop)))
        xj = jax.device_put(np.float64(X0))
        impls[JAX] = lambda: jax.block_until_ready(g_j(xj))
    return impls


def targets(rows, quick=False):
    return [ratio_target(rows, "W9 numbax ≤ 2× hand Numba", NUMBAX, NUMBA, 2.0)]
