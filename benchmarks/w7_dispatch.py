"""W7: per-call time of jit(grad(lambda x: x**3))(4.0) and of eager grad(lambda x: x**3)(4.0),
against jax.jit(jax.grad(...)), JAX's eager grad, autograd's grad, a Numba dispatch of the closed
form (the floor for a compiled call) and plain Python. Each sample is a batch of thousands of calls.
Targets: the jitted call <= 2 us; eager grad <= 2x autograd."""
from _harness import (AUTOGRAD, JAX, NUMBA, NUMBAX, Target, njit, optional_autograd, optional_jax,
                      ratio_target, row_by)

TITLE = "W7 grad(x**3)(4.0) per call"
REF = "python (hand)"
NUMBAX_EAGER = "numbax eager grad"
JAX_EAGER = "jax eager grad"
BENCH = dict(min_time=0.02, budget=0.6)
BENCH_QUICK = dict(min_time=0.005, budget=0.1, repeats=7)


@njit
def numba_dgrad(x):
    return 3.0 * x * x


def cases(quick=False):
    import numbax as nb
    cube = lambda x: x ** 3   # noqa: E731
    impls = {}
    g_jit = nb.jit(nb.grad(cube))
    impls[NUMBAX] = lambda: g_jit(4.0)
    g_eager = nb.grad(cube)
    impls[NUMBAX_EAGER] = lambda: g_eager(4.0)
    impls[REF] = lambda: 3.0 * 4.0 ** 2
    impls[NUMBA] = lambda: numba_dgrad(4.0)
    jax = optional_jax()
    if jax is not None:
        gj = jax.jit(jax.grad(cube))
        impls[JAX] = lambda: gj(4.0).block_until_ready()
        ge = jax.grad(cube)
        impls[JAX_EAGER] = lambda: ge(4.0).block_until_ready()
    ag = optional_autograd()
    if ag is not None:
        ga = ag.grad(cube)
        impls[AUTOGRAD] = lambda: ga(4.0)
    return impls


def targets(rows, quick=False):
    r = row_by(rows, NUMBAX)
    if r is None or r.median is None:
        t = Target("W7 numbax jit call ≤ 2 µs", False, f"numbax jit {r.status if r else 'missing'}")
    else:
        t = Target("W7 numbax jit call ≤ 2 µs", r.median <= 2e-6, f"{r.median * 1e6:.2f} µs")
    return [t, ratio_target(rows, "W7 numbax eager grad ≤ 2× autograd", NUMBAX_EAGER, AUTOGRAD, 2.0)]
