"""Exceptions raised when traced values are misused, with JAX's names and base classes.

Each message says what happened, where the traced value came from (the argument and the user's
source line when known) and how to fix it.
"""
from __future__ import annotations

import os
import traceback

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_frame() -> str | None:
    """The innermost stack frame outside numbax, as 'file:line (function): source'."""
    for frame in reversed(traceback.extract_stack()):
        filename = os.path.abspath(frame.filename)
        if filename.startswith(_PACKAGE_DIR) or "contextlib" in filename:
            continue
        src = (frame.line or "").strip()
        return f"{frame.filename}:{frame.lineno} ({frame.name}): {src}"
    return None


def _with_location(msg: str) -> str:
    where = user_frame()
    return f"{msg}\n  at {where}" if where else msg


class NumbaxTypeError(TypeError):
    pass


class ConcretizationTypeError(TypeError):
    """A concrete Python value was needed from a value that is only known abstractly."""

    def __init__(self, tracer_desc: str, context: str = ""):
        msg = (f"Abstract tracer value encountered where concrete value is expected: {tracer_desc}.\n"
               f"{context}"
               "If the value depends on a function argument, mark that argument static with "
               "`static_argnums`/`static_argnames`, or use `jnp.where`/`lax.cond` instead of Python "
               "control flow.")
        super().__init__(_with_location(msg))


class TracerBoolConversionError(ConcretizationTypeError):
    """`bool()` / `if` / `while` on a traced value."""

    def __init__(self, tracer_desc: str, context: str = ""):
        TypeError.__init__(self, _with_location(
            f"Attempted boolean conversion of traced array with shape {tracer_desc}.\n{context}"
            "Python control flow (`if`, `while`, `and`, `or`, `not`) needs a concrete value. "
            "Use `jnp.where(pred, a, b)` to select between values, `lax.cond(pred, f, g, x)` to "
            "branch, or mark the argument static with `static_argnums`/`static_argnames`."))


class TracerIntegerConversionError(TypeError):
    """`int()` / `__index__` on a traced value."""

    def __init__(self, tracer_desc: str, context: str = ""):
        super().__init__(_with_location(
            f"The __index__() / int() method was called on traced array with shape {tracer_desc}.\n"
            f"{context}Integer conversion needs a concrete value: mark the argument static with "
            "`static_argnums`/`static_argnames`, or use `lax.dynamic_slice` for traced indices."))


class TracerArrayConversionError(TypeError):
    """`np.asarray()` / `__array__` on a traced value."""

    def __init__(self, tracer_desc: str, context: str = ""):
        super().__init__(_with_location(
            f"The numpy.ndarray conversion method __array__() was called on traced array with shape "
            f"{tracer_desc}.\n{context}Use `numbax.numpy` functions (e.g. `jnp.sin`, `jnp.asarray`) "
            "instead of `numpy` functions inside transformed functions."))


class UnexpectedTracerError(TypeError):
    """A traced value escaped the transformation that created it."""

    def __init__(self, msg: str):
        super().__init__(_with_location(
            msg + "\nA function transformed by numbax (jit, grad, vmap, ...) stored one of its traced "
                  "intermediate values somewhere that outlives the call (a global, a closure, an "
                  "attribute), and it was used after the transformation finished. Return the value "
                  "from the function instead."))


class NonConcreteBooleanIndexError(IndexError):
    """Boolean-mask indexing produces a value-dependent shape, so it needs concrete masks."""

    def __init__(self, tracer_desc: str):
        super().__init__(_with_location(
            f"Array boolean indices must be concrete; got {tracer_desc}. Boolean masks give a "
            "shape that depends on the data, which cannot be staged. Use `jnp.where(mask, x, 0)` "
            "(then reduce) instead."))


__all__ = ["ConcretizationTypeError", "TracerBoolConversionError", "TracerIntegerConversionError",
           "TracerArrayConversionError", "UnexpectedTracerError", "NonConcreteBooleanIndexError"]
