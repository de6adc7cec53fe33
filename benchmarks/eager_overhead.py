"""Per-call cost of eager (un-jitted) transformations on tiny inputs, against autograd and JAX
when installed. This is the price of numbax's Python-level tracing, paid on every call.

Run: python benchmarks/eager_overhead.py
"""
import numpy as np

import numbax
import numbax.numpy as jnp
from _harness import compare, report


def main():
    cases = {
        "grad(x**3)(4.0)": (lambda x: x ** 3, 4.0),
        "grad(sum(sin(x)*x)) n=10": (lambda x: jnp.sum(jnp.sin(x) * x), np.linspace(0, 1, 10)),
    }
    for title, (f, x) in cases.items():
        impls = {"numbax": (lambda g=numbax.grad(f), x=x: g(x))}
        try:
            import autograd
            import autograd.numpy as anp
            fa = (lambda v: v ** 3) if np.ndim(x) == 0 else (lambda v: anp.sum(anp.sin(v) * v))
            impls["autograd"] = (lambda g=autograd.grad(fa), x=x: g(x))
        except ImportError:
            pass
        try:
            import jax
            jax.config.update("jax_enable_x64", True)
            import jax.numpy as xnp
            fj = (lambda v: v ** 3) if np.ndim(x) == 0 else (lambda v: xnp.sum(xnp.sin(v) * v))
            gj = jax.grad(fj)
            impls["jax (eager, no jit)"] = (lambda x=x: np.asarray(gj(x)))
        except ImportError:
            pass
        report(title, compare(impls, repeats=9), "numbax")


if __name__ == "__main__":
    main()
