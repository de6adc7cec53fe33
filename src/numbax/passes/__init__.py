"""jaxpr -> jaxpr optimisation passes."""
