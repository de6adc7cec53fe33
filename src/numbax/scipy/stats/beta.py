"""The beta distribution beta(x, a, b, loc, scale): density on loc <= x <= loc + scale, -inf
outside, NaN unless a, b, scale > 0 (scipy's values). cdf/sf are differentiable in x, loc and
scale, not in a, b."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy import Array
from .. import special
from ..special import _promote_args_inexact as _promote
from .gamma import _log_tail

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _valid(a, b, scale, value):
    ok = jnp.logical_and(jnp.logical_and(jnp.greater(a, 0), jnp.greater(b, 0)),
                         jnp.greater(scale, 0))
    return jnp.where(ok, value, np.nan)


def logpdf(x, a, b, loc=0, scale=1) -> Array:
    x, a, b, loc, scale = _promote("beta.logpdf", x, a, b, loc, scale)
    y = jnp.divide(jnp.subtract(x, loc), scale)
    outside = jnp.logical_or(jnp.less(y, 0), jnp.greater(y, 1))
    ys = jnp.where(outside, 0.5, y)
    val = jnp.add(special.xlogy(jnp.subtract(a, 1.0), ys),
                  special.xlog1py(jnp.subtract(b, 1.0), jnp.negative(ys)))
    val = jnp.subtract(val, jnp.add(special.betaln(a, b), jnp.log(scale)))
    return _valid(a, b, scale, jnp.where(outside, -np.inf, val))


def pdf(x, a, b, loc=0, scale=1) -> Array:
    return jnp.exp(logpdf(x, a, b, loc, scale))


def _y(name, x, a, b, loc, scale):
    x, a, b, loc, scale = _promote(name, x, a, b, loc, scale)
    return jnp.clip(jnp.divide(jnp.subtract(x, loc), scale), 0.0, 1.0), a, b, scale


def cdf(x, a, b, loc=0, scale=1) -> Array:
    y, a, b, scale = _y("beta.cdf", x, a, b, loc, scale)
    return _valid(a, b, scale, special.betainc(a, b, y))


def sf(x, a, b, loc=0, scale=1) -> Array:
    """I_{1-y}(b, a): the small upper tail without the cancellation of 1 - cdf."""
    y, a, b, scale = _y("beta.sf", x, a, b, loc, scale)
    return _valid(a, b, scale, special.betainc(b, a, jnp.subtract(1.0, y)))


def logcdf(x, a, b, loc=0, scale=1) -> Array:
    y, a, b, scale = _y("beta.logcdf", x, a, b, loc, scale)
    p, q = special.betainc(a, b, y), special.betainc(b, a, jnp.subtract(1.0, y))
    return _valid(a, b, scale, _log_tail(p, q))


def logsf(x, a, b, loc=0, scale=1) -> Array:
    y, a, b, scale = _y("beta.logsf", x, a, b, loc, scale)
    p, q = special.betainc(a, b, y), special.betainc(b, a, jnp.subtract(1.0, y))
    return _valid(a, b, scale, _log_tail(q, p))
