"""OptimizeResult: scipy's result fields as a pytree, so a fit can be returned from jit and vmap.

Strings cannot be traced, so the reason a fit stopped travels as an integer ``status``;
``message`` turns it into scipy-style text once the result is concrete.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import numpy as jnp

RUNNING = -1
SUCCESS = 0
MAXITER = 1
LINE_SEARCH_FAILED = 2
NONFINITE = 3
NONFINITE_AT_X0 = 4
SCIPY_FAILED = 5

MESSAGES = {
    SUCCESS: "Optimization terminated successfully.",
    MAXITER: "Maximum number of iterations has been exceeded.",
    LINE_SEARCH_FAILED: "Desired error not necessarily achieved due to precision loss: the line "
                        "search found no point satisfying the Wolfe conditions.",
    NONFINITE: "NaN or inf encountered: the objective or its gradient stopped being finite along "
               "the search direction, and no finite point with a lower objective was found.",
    NONFINITE_AT_X0: "The objective or its gradient is not finite at x0.",
    SCIPY_FAILED: "scipy.optimize.minimize reported failure (see scipy_result.message).",
}


def initial_status(f0, g0, gtol: float, maxiter: int):
    """Where a descent method stands before its first step (traceable)."""
    finite = jnp.isfinite(f0) & jnp.all(jnp.isfinite(g0))
    return jnp.asarray(jnp.where(~finite, NONFINITE_AT_X0, jnp.where(
        jnp.max(jnp.abs(g0), initial=0.0) <= gtol, SUCCESS,
        RUNNING if maxiter > 0 else MAXITER)), jnp.int64)


def step_status(ls, g, k, gtol: float, maxiter: int):
    """Where it stands after step k with line-search outcome ls and new gradient g."""
    return jnp.where(~ls.ok, jnp.where(ls.nonfinite, NONFINITE, LINE_SEARCH_FAILED),
                     jnp.where(jnp.max(jnp.abs(g)) <= gtol, SUCCESS,
                               jnp.where(k >= maxiter, MAXITER, RUNNING)))


class OptimizeResult(NamedTuple):
    """The outcome of `numbax.optimize.minimize`.

    x: the solution, a pytree like x0. fun: the objective there. jac: its gradient (like x).
    hess_inv: BFGS's inverse-Hessian estimate in the raveled coordinates of x (None for Newton).
    hess: the exact Hessian at x, raveled (Newton only). nit / nfev / njev: iterations, objective
    and gradient evaluations (numbax's methods evaluate both together, so nfev == njev).
    status: 0 success, 1 iteration limit, 2 line search failure, 3 non-finite values mid-fit,
    4 non-finite at x0, 5 scipy failure; success: status == 0.
    """
    x: Any
    fun: Any
    jac: Any
    hess_inv: Any
    hess: Any
    nit: Any
    nfev: Any
    njev: Any
    status: Any
    success: Any

    @property
    def message(self):
        """scipy-style text for ``status`` (an array of texts for a vmapped result)."""
        status = np.asarray(self.status)
        if status.ndim == 0:
            return MESSAGES.get(int(status), f"unknown status {int(status)}")
        return np.vectorize(lambda s: MESSAGES.get(int(s), f"unknown status {int(s)}"),
                            otypes=[object])(status)

    def __repr__(self):
        rows = [(k, getattr(self, k)) for k in ("message", "success", "status", "fun", "x", "nit",
                                               "nfev", "jac", "hess_inv", "hess")]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.rjust(width)}: {_indented(v, width + 2)}" for k, v in rows
                         if v is not None)


def _indented(v, indent: int) -> str:
    text = repr(v) if isinstance(v, (dict, list, tuple)) else str(v)
    return text.replace("\n", "\n" + " " * indent)
