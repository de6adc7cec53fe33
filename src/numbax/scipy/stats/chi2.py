"""The chi-squared distribution chi2(x, df, loc, scale) = gamma(x, df / 2, loc, 2 scale)."""
from __future__ import annotations

from ... import numpy as jnp
from ...numpy import Array
from ..special import _promote_args_inexact as _promote
from . import gamma as _gamma

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _as_gamma(name, x, df, loc, scale):
    x, df, loc, scale = _promote(name, x, df, loc, scale)
    return x, jnp.multiply(df, 0.5), loc, jnp.multiply(scale, 2.0)


def logpdf(x, df, loc=0, scale=1) -> Array:
    return _gamma.logpdf(*_as_gamma("chi2.logpdf", x, df, loc, scale))


def pdf(x, df, loc=0, scale=1) -> Array:
    return _gamma.pdf(*_as_gamma("chi2.pdf", x, df, loc, scale))


def cdf(x, df, loc=0, scale=1) -> Array:
    return _gamma.cdf(*_as_gamma("chi2.cdf", x, df, loc, scale))


def sf(x, df, loc=0, scale=1) -> Array:
    return _gamma.sf(*_as_gamma("chi2.sf", x, df, loc, scale))


def logcdf(x, df, loc=0, scale=1) -> Array:
    return _gamma.logcdf(*_as_gamma("chi2.logcdf", x, df, loc, scale))


def logsf(x, df, loc=0, scale=1) -> Array:
    return _gamma.logsf(*_as_gamma("chi2.logsf", x, df, loc, scale))
