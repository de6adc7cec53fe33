"""numbax.scipy: scipy.special and scipy.stats functions with JAX's names (jax.scipy)."""
from . import special, stats  # noqa: F401

__all__ = ["special", "stats"]
