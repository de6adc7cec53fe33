"""numbax.debug: runtime printing from inside jit, vmap, grad and loops (as `jax.debug`)."""
from .primitives.debugging import debug_print as print  # noqa: A001 (JAX's name)

__all__ = ["print"]
