"""numbax.optimize: fitting with exact derivatives.

`minimize` (BFGS and Newton written in numbax, so fits jit and vmap; or any scipy method fed
exact gradients and Hessians), `fit_uncertainties` (covariance from the Hessian at the minimum)
and `profile` (profile-likelihood scans, one batched refit per point).
"""
from ._minimize import minimize
from ._result import OptimizeResult
from ._uncertainties import FitUncertainties, ProfileResult, fit_uncertainties, profile

__all__ = ["FitUncertainties", "OptimizeResult", "ProfileResult", "fit_uncertainties", "minimize",
           "profile"]
