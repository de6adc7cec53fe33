"""The multivariate normal distribution: logpdf(x, mean, cov) through a Cholesky factor and a
triangular solve (no inverse, no determinant), differentiable in x, mean and cov.

x has shape (..., n); mean (n,) (or broadcastable (..., n)); cov (n, n), or (..., n, n) for a
batch of covariances, or a scalar variance / an (n,) diagonal as scipy accepts. A rank-0 mean is
the univariate case.
"""
from __future__ import annotations

import math

from ... import numpy as jnp
from ...core import get_aval
from ...numpy import Array
from ...numpy._promote import asarray_arg, broadcast_shapes, promote_dtypes
from ...primitives.linalg import triangular_solve

__all__ = ["logpdf", "pdf"]

_LOG_2PI = math.log(2 * math.pi)


def _check_singular(allow_singular):
    if allow_singular:
        raise NotImplementedError("multivariate_normal.logpdf(allow_singular=True) is not "
                                  "supported: cov must be positive definite")


def logpdf(x, mean, cov, allow_singular: bool | None = False) -> Array:
    _check_singular(allow_singular)
    x, mean, cov = promote_dtypes("multivariate_normal.logpdf", asarray_arg(x),
                                  asarray_arg(mean), asarray_arg(cov), to_inexact=True)
    mshape, cshape = get_aval(mean).shape, get_aval(cov).shape
    if not mshape:  # univariate
        return jnp.subtract(jnp.multiply(-0.5, jnp.divide(jnp.square(jnp.subtract(x, mean)), cov)),
                            jnp.multiply(0.5, jnp.add(_LOG_2PI, jnp.log(cov))))
    n = mshape[-1]
    d = jnp.subtract(x, mean)
    if get_aval(d).shape[-1:] != (n,):
        raise ValueError(f"multivariate_normal.logpdf: x of shape {get_aval(x).shape} does not "
                         f"match a mean of dimension {n}")
    if len(cshape) <= 1:  # isotropic variance or scipy's diagonal
        if cshape not in ((), (n,)):
            raise ValueError(f"multivariate_normal.logpdf: cov of shape {cshape} for dimension {n}")
        maha = jnp.sum(jnp.divide(jnp.square(d), cov), axis=-1)
        logdet = jnp.multiply(float(n), jnp.log(cov)) if not cshape else jnp.sum(jnp.log(cov))
        return jnp.multiply(-0.5, jnp.add(jnp.add(maha, logdet), n * _LOG_2PI))
    if cshape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal.logpdf: cov of shape {cshape} for a mean of "
                         f"dimension {n}")
    L = jnp.linalg.cholesky(cov)
    batch = get_aval(d).shape[:-1]
    if len(cshape) == 2:  # one factor for every x: a single solve with all rows at once
        rows = jnp.reshape(d, (-1, n))
        z = triangular_solve(L, rows, left_side=False, lower=True, transpose_a=True)  # z L^T = d
        maha = jnp.reshape(jnp.sum(jnp.square(z), axis=-1), batch)
    else:
        shape = broadcast_shapes("multivariate_normal.logpdf", batch, cshape[:-2])
        Lb = jnp.broadcast_to(L, shape + (n, n))
        rows = jnp.broadcast_to(d, shape + (n,))[..., None, :]
        z = triangular_solve(Lb, rows, left_side=False, lower=True, transpose_a=True)
        maha = jnp.sum(jnp.square(z), axis=(-2, -1))
    half_logdet = jnp.sum(jnp.log(jnp.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    return jnp.subtract(jnp.multiply(-0.5, jnp.add(maha, n * _LOG_2PI)), half_logdet)


def pdf(x, mean, cov, allow_singular: bool | None = False) -> Array:
    return jnp.exp(logpdf(x, mean, cov, allow_singular))
