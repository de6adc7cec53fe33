"""numbax: JAX's function transformations, compiled with Numba."""
from .primitives import elementwise, shape, reductions  # noqa: F401  (register primitives)
