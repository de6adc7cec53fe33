"""The normal distribution, scipy.stats.norm's functions with JAX's signatures. A scale <= 0
gives NaN, as scipy."""
from __future__ import annotations

import math

import numpy as np

from ... import numpy as jnp
from ...numpy import Array
from .. import special
from ..special import _promote_args_inexact as _promote

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _z(name, x, loc, scale):
    x, loc, scale = _promote(name, x, loc, scale)
    return jnp.divide(jnp.subtract(x, loc), scale), scale


def _valid(scale, value):
    return jnp.where(jnp.greater(scale, 0), value, np.nan)


def logpdf(x, loc=0, scale=1) -> Array:
    z, scale = _z("norm.logpdf", x, loc, scale)
    return _valid(scale, jnp.subtract(jnp.multiply(-0.5, jnp.square(z)),
                                      jnp.add(jnp.log(scale), _LOG_SQRT_2PI)))


def pdf(x, loc=0, scale=1) -> Array:
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1) -> Array:
    z, scale = _z("norm.cdf", x, loc, scale)
    return _valid(scale, special.ndtr(z))


def logcdf(x, loc=0, scale=1) -> Array:
    z, scale = _z("norm.logcdf", x, loc, scale)
    return _valid(scale, special.log_ndtr(z))


def sf(x, loc=0, scale=1) -> Array:
    z, scale = _z("norm.sf", x, loc, scale)
    return _valid(scale, special.ndtr(jnp.negative(z)))


def logsf(x, loc=0, scale=1) -> Array:
    z, scale = _z("norm.logsf", x, loc, scale)
    return _valid(scale, special.log_ndtr(jnp.negative(z)))


def ppf(q, loc=0, scale=1) -> Array:
    q, loc, scale = _promote("norm.ppf", q, loc, scale)
    return _valid(scale, jnp.add(loc, jnp.multiply(scale, special.ndtri(q))))


def isf(q, loc=0, scale=1) -> Array:
    """ppf(1 - q), computed without forming 1 - q (ndtri is odd about 1/2)."""
    q, loc, scale = _promote("norm.isf", q, loc, scale)
    return _valid(scale, jnp.subtract(loc, jnp.multiply(scale, special.ndtri(q))))
