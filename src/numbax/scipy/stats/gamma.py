"""The gamma distribution gamma(x, a, loc, scale): log density (a - 1) log y - y - gammaln(a) -
log(scale) with y = (x - loc) / scale, -inf outside y >= 0, NaN unless a > 0 and scale > 0
(scipy's values; at x = inf, -inf where scipy gives NaN). cdf/sf are differentiable in x, loc and
scale, not in a."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy import Array
from .. import special
from ..special import _promote_args_inexact as _promote

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _valid(a, scale, value):
    ok = jnp.logical_and(jnp.greater(a, 0), jnp.greater(scale, 0))
    return jnp.where(ok, value, np.nan)


def logpdf(x, a, loc=0, scale=1) -> Array:
    x, a, loc, scale = _promote("gamma.logpdf", x, a, loc, scale)
    y = jnp.divide(jnp.subtract(x, loc), scale)
    outside = jnp.logical_or(jnp.less(y, 0), jnp.equal(y, np.inf))
    ys = jnp.where(outside, 1.0, y)
    val = jnp.subtract(jnp.subtract(special.xlogy(jnp.subtract(a, 1.0), ys), ys),
                       jnp.add(special.gammaln(a), jnp.log(scale)))
    return _valid(a, scale, jnp.where(outside, -np.inf, val))


def pdf(x, a, loc=0, scale=1) -> Array:
    return jnp.exp(logpdf(x, a, loc, scale))


def _y(name, x, a, loc, scale):
    x, a, loc, scale = _promote(name, x, a, loc, scale)
    return jnp.maximum(jnp.divide(jnp.subtract(x, loc), scale), 0.0), a, scale


def cdf(x, a, loc=0, scale=1) -> Array:
    y, a, scale = _y("gamma.cdf", x, a, loc, scale)
    return _valid(a, scale, special.gammainc(a, y))


def sf(x, a, loc=0, scale=1) -> Array:
    y, a, scale = _y("gamma.sf", x, a, loc, scale)
    return _valid(a, scale, special.gammaincc(a, y))


def _log_tail(p, q):
    """log p for p = 1 - q: log1p(-q) where p > 1/2 keeps the digits log(p) would round away."""
    big = jnp.greater(p, 0.5)
    return jnp.where(big, jnp.log1p(jnp.negative(jnp.where(big, q, 0.0))),
                     jnp.log(jnp.where(big, 1.0, p)))


def logcdf(x, a, loc=0, scale=1) -> Array:
    y, a, scale = _y("gamma.logcdf", x, a, loc, scale)
    return _valid(a, scale, _log_tail(special.gammainc(a, y), special.gammaincc(a, y)))


def logsf(x, a, loc=0, scale=1) -> Array:
    y, a, scale = _y("gamma.logsf", x, a, loc, scale)
    return _valid(a, scale, _log_tail(special.gammaincc(a, y), special.gammainc(a, y)))
