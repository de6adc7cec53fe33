"""Uncertainties at a minimum: the covariance as the inverse Hessian of the negative
log-likelihood, and profile-likelihood scans (each point a constrained refit, all points one
batched fit)."""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .. import numpy as jnp
from ..api import _fun_name, hessian, jit, vmap
from ..core import Tracer
from ..flatten_util import flat_names, ravel_pytree
from ..tree_util import register_pytree_node_class
from ._minimize import (cached, flat_objective, float_params, in_transformation, minimize,
                        structure_key, unravel_for)
from ._result import OptimizeResult


@register_pytree_node_class
class FitUncertainties:
    """cov, corr, hess: (n, n) in the raveled parameter order of `names`;
    std: the standard errors sqrt(diag(cov)), a pytree shaped like the parameters."""

    def __init__(self, cov, corr, std, hess, names: tuple[str, ...]):
        self.cov, self.corr, self.std, self.hess, self.names = cov, corr, std, hess, names

    def tree_flatten(self):
        return (self.cov, self.corr, self.std, self.hess), self.names

    @classmethod
    def tree_unflatten(cls, names, children):
        return cls(*children, names)

    def __repr__(self):
        if isinstance(self.cov, Tracer):
            return f"FitUncertainties(names={list(self.names)})"
        err = np.sqrt(np.diag(np.asarray(self.cov)))
        return "FitUncertainties(\n" + "\n".join(
            f"  {nm:>16} +- {e:.6g}" for nm, e in zip(self.names, err)) + "\n)"


def _params(best_fit):
    return best_fit.x if isinstance(best_fit, OptimizeResult) else best_fit


@functools.lru_cache(maxsize=64)
def _compiled_hessian(nll: Callable, key: tuple):
    unravel = unravel_for(key)
    return jit(lambda v, args: hessian(flat_objective(nll, unravel, args))(v))


def fit_uncertainties(nll: Callable, best_fit: Any, args: Sequence = ()) -> FitUncertainties:
    """Covariance, standard errors and correlations from the exact Hessian of nll at best_fit
    (an OptimizeResult or the parameter pytree). nll is a negative log-likelihood: the
    covariance is H^-1 (for a chi^2 = -2 log L pass nll = chi2 / 2).

    A singular Hessian (a direction the likelihood does not constrain) or one that is not
    positive definite (not a minimum) raises numpy.linalg.LinAlgError (a ValueError) naming the
    parameters involved. Under jit or vmap no check is possible and such covariances are NaN.
    """
    params = float_params(_params(best_fit))
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    flat, unravel = ravel_pytree(params)
    names = tuple(flat_names(params))
    if in_transformation(params, args):
        H = hessian(flat_objective(nll, unravel, args))(flat)
        cov = jnp.linalg.inv(H)
        std = jnp.sqrt(jnp.diagonal(cov))
        return FitUncertainties(cov, cov / jnp.outer(std, std), unravel(std), H, names)
    run = cached(_compiled_hessian, nll, structure_key(params))
    H = np.asarray(run(flat, args), np.float64)
    cov = _checked_inverse(H, names, _fun_name(nll))
    std = np.sqrt(np.diag(cov))
    return FitUncertainties(cov, cov / np.outer(std, std), unravel(std), H, names)


def _involved(vectors: np.ndarray, names) -> list[str]:
    weight = np.max(np.abs(vectors), axis=1)
    order = np.argsort(-weight)
    return [names[i] for i in order if weight[i] > 1e-3 * weight.max()]


def _checked_inverse(H: np.ndarray, names, fname: str) -> np.ndarray:
    n = H.shape[0]
    bad_rows = ~np.all(np.isfinite(H), axis=1)
    if bad_rows.any():
        raise np.linalg.LinAlgError(
            f"fit_uncertainties: the Hessian of {fname} is not finite in the rows of "
            f"{', '.join(np.asarray(names)[bad_rows][:10])}")
    H = 0.5 * (H + H.T)
    # relative to the diagonal so that parameters of very different scales are judged fairly
    d = np.sqrt(np.abs(np.diag(H)))
    d = np.where(d > 0, d, 1.0)
    w, V = np.linalg.eigh(H / np.outer(d, d))
    tol = max(n, 1) * np.finfo(np.float64).eps * max(np.max(np.abs(w), initial=0.0), 1.0) * 10
    if np.any(w < -tol):
        raise np.linalg.LinAlgError(
            f"fit_uncertainties: the Hessian of {fname} is not positive definite, so the point is "
            f"not a minimum; it curves downwards along a direction involving "
            f"{', '.join(_involved(V[:, w < -tol], names))}")
    if np.any(w <= tol):
        raise np.linalg.LinAlgError(
            f"fit_uncertainties: the Hessian of {fname} is singular: the likelihood does not "
            f"constrain a combination of {', '.join(_involved(V[:, w <= tol], names))}")
    scaled_inv = (V / w) @ V.T
    return scaled_inv / np.outer(d, d)


class ProfileResult(NamedTuple):
    """A profile-likelihood scan: for each fixed value of the scanned parameter, the minimum of
    nll over all the others. q = 2 (fun - fun at the best fit), the usual test statistic."""
    values: Any
    fun: Any
    q: Any
    x: Any
    success: Any
    status: Any
    nit: Any


def _parameter_index(index, names) -> int:
    if isinstance(index, str):
        if index not in names:
            raise KeyError(f"profile: no parameter named {index!r}; the parameters are "
                           f"{', '.join(names[:20])}{' ...' if len(names) > 20 else ''}")
        return names.index(index)
    i = int(index)
    if not -len(names) <= i < len(names):
        raise IndexError(f"profile: index {index} is out of range for {len(names)} parameters")
    return i % len(names)


def _profile(nll, i, method, tol, options, key, values, free0, args):
    unravel = unravel_for(key)

    def one(v):
        def insert(z):
            return jnp.concatenate([z[:i], jnp.reshape(v, (1,)).astype(z.dtype), z[i:]])

        def nll_free(z):
            return nll(unravel(insert(z)), *args)
        r = minimize(nll_free, free0, method=method, tol=tol, options=dict(options))
        return r.fun, unravel(insert(r.x)), r.success, r.status, r.nit
    return vmap(one)(values)


@functools.lru_cache(maxsize=64)
def _compiled_profile(nll, i, method, tol, options, key):
    return jit(functools.partial(_profile, nll, i, method, tol, options, key))


def profile(nll: Callable, best_fit: Any, index: int | str, values, args: Sequence = (), *,
            method: str = "bfgs", tol: float | None = None,
            options: dict | None = None) -> ProfileResult:
    """Profile nll along one parameter: for each of `values`, refit every other parameter with
    that one fixed (starting from best_fit), all points as one vmapped fit.

    index: the parameter's position in the raveled parameters, or its name as in
    `fit_uncertainties(...).names` (e.g. "mu", "theta[3]"). method: "bfgs" or "newton".
    """
    params = float_params(_params(best_fit))
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    flat, unravel = ravel_pytree(params)
    names = flat_names(params)
    i = _parameter_index(index, names)
    values = jnp.asarray(values, flat.dtype)
    if values.ndim != 1:
        raise TypeError(f"profile: values must be one-dimensional, got shape {values.shape}")
    free0 = jnp.concatenate([flat[:i], flat[i + 1:]])
    opts = tuple(sorted((options or {}).items()))
    key = structure_key(params)
    if in_transformation(params, args, values):
        fun, x, success, status, nit = _profile(nll, i, method, tol, opts, key, values, free0, args)
    else:
        fun, x, success, status, nit = cached(_compiled_profile, nll, i, method, tol, opts,
                                              key)(values, free0, args)
    fun_min = best_fit.fun if isinstance(best_fit, OptimizeResult) else nll(params, *args)
    return ProfileResult(values=values, fun=fun, q=2.0 * (fun - fun_min), x=x, success=success,
                         status=status, nit=nit)
