"""method="scipy:<name>": scipy.optimize.minimize driven by exact, jitted derivatives.

scipy works on float64 vectors; the objective is raveled once and its `value_and_grad` (and
`hessian`, for the methods that use one) compiled once per function and parameter structure.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from ..api import hessian, jit, value_and_grad
from ..flatten_util import ravel_pytree
from ..tree_util import tree_flatten
from . import _result as R
from ._minimize import (_nonfinite_x0_message, cached, flat_objective, float_params,
                        structure_key, unravel_for)
from ._result import OptimizeResult

_USES_HESSIAN = {"newton-cg", "dogleg", "trust-ncg", "trust-krylov", "trust-exact", "trust-constr"}
_NO_GRADIENT = {"nelder-mead", "powell", "cobyla", "cobyqa"}


class ScipyOptimizeResult(OptimizeResult):
    """OptimizeResult whose message is scipy's own; `scipy_result` is scipy's full result."""

    @property
    def message(self):
        return self.scipy_result.message


@functools.lru_cache(maxsize=64)
def _derivatives(fun: Callable, key: tuple):
    """Jitted (value_and_grad, hessian) of fun over the raveled parameters, per structure."""
    unravel = unravel_for(key)

    def vg(v, args):
        return value_and_grad(flat_objective(fun, unravel, args))(v)

    def hess(v, args):
        return hessian(flat_objective(fun, unravel, args))(v)
    return jit(vg), jit(hess), unravel


def _bounds(bounds, x0, n: int):
    """scipy Bounds from: a scipy Bounds; n (min, max) pairs, one per raveled parameter (scipy's
    convention, which wins where both readings fit); or a (lower, upper) pair of pytrees
    with x0's structure whose leaves broadcast to the parameters' shapes (None: unbounded)."""
    import scipy.optimize
    if bounds is None or isinstance(bounds, scipy.optimize.Bounds):
        return bounds
    pairs = list(bounds) if isinstance(bounds, (tuple, list)) else None
    if pairs is not None and len(pairs) == n and all(
            isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        lo = [-np.inf if p[0] is None else p[0] for p in pairs]
        hi = [np.inf if p[1] is None else p[1] for p in pairs]
        return scipy.optimize.Bounds(np.asarray(lo, np.float64), np.asarray(hi, np.float64))
    leaves, treedef = tree_flatten(x0)
    if pairs is None or len(pairs) != 2:
        raise TypeError(f"minimize: bounds must be a scipy.optimize.Bounds, {n} (min, max) pairs, "
                        f"or a (lower, upper) pair of pytrees shaped like x0 {treedef}; "
                        f"got {bounds!r:.200}")
    sides = []
    for side, fill in zip(pairs, (-np.inf, np.inf)):
        try:
            side_leaves = [None] * len(leaves) if side is None else treedef.flatten_up_to(side)
            sides.append(np.concatenate([np.broadcast_to(
                np.asarray(fill if b is None else b, np.float64), np.shape(leaf)).ravel()
                for b, leaf in zip(side_leaves, leaves)] or [np.zeros(0)]))
        except ValueError as e:
            raise TypeError(f"minimize: bounds {side!r:.120} do not match the structure or "
                            f"shapes of x0 {treedef}: {e}") from None
    return scipy.optimize.Bounds(sides[0], sides[1])


def scipy_minimize(fun, x0, args: tuple, name: str, tol, bounds, options) -> OptimizeResult:
    import scipy.optimize
    x0 = float_params(x0)
    vg, hess, unravel = cached(_derivatives, fun, structure_key(x0))
    flat0 = np.asarray(ravel_pytree(x0)[0], np.float64)
    f0, g0 = vg(flat0, args)
    if not (np.isfinite(f0) and np.all(np.isfinite(g0))):
        bad = OptimizeResult(x=x0, fun=f0, jac=unravel(g0), hess_inv=None, hess=None, nit=0,
                             nfev=1, njev=1, status=R.NONFINITE_AT_X0, success=False)
        raise ValueError(_nonfinite_x0_message(fun, x0, bad))

    def value_and_jac(v, *a):
        f, g = vg(v, a)
        return float(f), np.asarray(g, np.float64)

    lname = name.lower()
    kwargs = {}
    if lname not in _NO_GRADIENT:
        kwargs["jac"] = True
    if lname in _USES_HESSIAN:
        kwargs["hess"] = lambda v, *a: np.asarray(hess(v, a), np.float64)
    target = value_and_jac if "jac" in kwargs else (lambda v, *a: value_and_jac(v, *a)[0])
    res = scipy.optimize.minimize(target, flat0, args=args, method=name, tol=tol,
                                  bounds=_bounds(bounds, x0, flat0.size), options=options,
                                  **kwargs)
    hess_inv = getattr(res, "hess_inv", None)
    if hess_inv is not None and not isinstance(hess_inv, np.ndarray):
        hess_inv = hess_inv.todense()  # L-BFGS-B's LinearOperator
    jac = res.jac if "jac" in res else vg(res.x, args)[1]
    out = ScipyOptimizeResult(
        x=unravel(res.x), fun=np.float64(res.fun), jac=unravel(np.asarray(jac, np.float64)),
        hess_inv=hess_inv, hess=res.get("hess"), nit=res.get("nit", 0), nfev=res.nfev,
        njev=res.get("njev", 0), status=R.SUCCESS if res.success else R.SCIPY_FAILED,
        success=bool(res.success))
    out.scipy_result = res
    return out

