"""The Poisson distribution. Unlike scipy (and JAX), logpmf/pmf accept non-integer k and return
the continuous extension k log(mu) - mu - log Gamma(k + 1): likelihood fits to Asimov (expected)
data need it. Its gradient in mu is finite at mu = 0 when k = 0 (xlogy's convention)."""
from __future__ import annotations

import numpy as np

from ... import numpy as jnp
from ...numpy import Array
from .. import special
from ..special import _promote_args_inexact as _promote

__all__ = ["cdf", "logpmf", "pmf", "sf"]


def _valid(mu, value):
    return jnp.where(jnp.greater_equal(mu, 0), value, np.nan)


def logpmf(k, mu, loc=0) -> Array:
    """log P(k; mu) = k log(mu) - mu - gammaln(k + 1) for k - loc >= 0 (any real k), -inf below."""
    k, mu, loc = _promote("poisson.logpmf", k, mu, loc)
    x = jnp.subtract(k, loc)
    below = jnp.less(x, 0)
    xs = jnp.where(below, 0.0, x)  # keeps the masked branch (and its derivatives) finite
    val = jnp.subtract(jnp.subtract(special.xlogy(xs, mu), mu), special.gammaln(jnp.add(xs, 1.0)))
    return _valid(mu, jnp.where(below, -np.inf, val))


def pmf(k, mu, loc=0) -> Array:
    return jnp.exp(logpmf(k, mu, loc))


def _counts(name, k, mu, loc):
    k, mu, loc = _promote(name, k, mu, loc)
    x = jnp.subtract(k, loc)
    below = jnp.less(x, 0)
    return below, jnp.add(jnp.floor(jnp.where(below, 0.0, x)), 1.0), mu


def cdf(k, mu, loc=0) -> Array:
    """P(K <= k) = Q(floor(k - loc) + 1, mu) (differentiable in mu)."""
    below, a, mu = _counts("poisson.cdf", k, mu, loc)
    return _valid(mu, jnp.where(below, 0.0, special.gammaincc(a, mu)))


def sf(k, mu, loc=0) -> Array:
    """P(K > k) = P(floor(k - loc) + 1, mu) (differentiable in mu)."""
    below, a, mu = _counts("poisson.sf", k, mu, loc)
    return _valid(mu, jnp.where(below, 1.0, special.gammainc(a, mu)))
