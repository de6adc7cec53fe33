"""jaxpr -> jaxpr optimisation passes, each semantics-preserving."""
from .cse import cse_jaxpr
from .dce import dce_jaxpr
from .simplify import simplify_jaxpr


def optimize_jaxpr(jaxpr):
    """Simplify, then CSE, then DCE (both leave dead equations behind)."""
    return dce_jaxpr(cse_jaxpr(simplify_jaxpr(jaxpr)))


__all__ = ["cse_jaxpr", "dce_jaxpr", "optimize_jaxpr", "simplify_jaxpr"]
