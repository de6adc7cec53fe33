"""scipy.stats distributions as modules of functions (jax.scipy.stats): `norm.logpdf(x, loc,
scale)` etc., with scipy's loc/scale arguments, defaults and out-of-support values."""
from . import beta, chi2, gamma, multivariate_normal, norm, poisson  # noqa: F401

__all__ = ["beta", "chi2", "gamma", "multivariate_normal", "norm", "poisson"]
