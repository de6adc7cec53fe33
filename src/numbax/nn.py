"""Activation functions and normalisers written to be stable in value and in gradient."""
from __future__ import annotations

import numpy as np

from . import numpy as jnp
from .numpy._promote import asarray_arg, promote_dtypes
from .primitives import elementwise as ew

__all__ = ["elu", "gelu", "leaky_relu", "log_sigmoid", "log_softmax", "logsumexp", "one_hot",
           "relu", "sigmoid", "silu", "softmax", "softplus", "standardize", "swish"]


def sigmoid(x):
    """1 / (1 + exp(-x)), one primitive (`lax.logistic`): no overflow for large |x|, and
    integer input becomes float64."""
    (x,) = promote_dtypes("sigmoid", asarray_arg(x), to_inexact=True)
    return ew.logistic(x)


def relu(x):
    """max(x, 0), with gradient 0 at 0 (JAX's choice)."""
    x = asarray_arg(x)
    return jnp.where(jnp.greater(x, 0), x, jnp.zeros_like(x))


def softplus(x):
    """log(1 + exp(x)), without overflow."""
    return jnp.logaddexp(x, 0.0)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), finite for very negative x where log(sigmoid(x))
    would be log(0)."""
    return jnp.negative(softplus(jnp.negative(x)))


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    return jnp.multiply(x, sigmoid(x))


swish = silu


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise; exp sees only the non-positive side,
    so a large x gives no inf and no NaN gradient."""
    x = asarray_arg(x)
    safe = jnp.where(jnp.greater(x, 0), 0.0, x)
    return jnp.where(jnp.greater(x, 0), x, jnp.multiply(alpha, jnp.expm1(safe)))


def leaky_relu(x, negative_slope=0.01):
    """x for x >= 0, negative_slope * x otherwise (gradient 1 at 0, as JAX)."""
    x = asarray_arg(x)
    return jnp.where(jnp.greater_equal(x, 0), x, jnp.multiply(negative_slope, x))


def gelu(x, approximate: bool = True):
    """The Gaussian error linear unit x * Phi(x): the tanh approximation by default (JAX's
    default), the exact erf form with approximate=False."""
    (x,) = promote_dtypes("gelu", asarray_arg(x), to_inexact=True)
    if approximate:
        c = 0.7978845608028654  # sqrt(2 / pi)
        inner = jnp.multiply(c, jnp.add(x, jnp.multiply(0.044715, jnp.power(x, 3))))
        return jnp.multiply(jnp.multiply(0.5, x), jnp.add(1.0, jnp.tanh(inner)))
    erf = ew.erf(jnp.multiply(x, 0.7071067811865476))
    return jnp.multiply(jnp.multiply(0.5, x), jnp.add(1.0, erf))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) with the maximum shifted out (stop_gradient on the shift, which
    cancels exactly, so the gradient is the softmax). A negative sum gives NaN unless
    return_sign, which returns (log|sum|, sign), as JAX and scipy; `where` masks out elements."""
    a = asarray_arg(a)
    (a,) = promote_dtypes("logsumexp", a, to_inexact=True)
    if where is not None:
        a = jnp.where(where, a, -np.inf)
    if b is not None:
        a, b = jnp.broadcast_arrays(*promote_dtypes("logsumexp", a, asarray_arg(b)))
    amax = jnp.max(a, axis=axis, keepdims=True)
    amax = ew.stop_gradient(jnp.where(jnp.isfinite(amax), amax, jnp.zeros_like(amax)))
    e = jnp.exp(jnp.subtract(a, amax))
    if b is not None:
        e = jnp.multiply(b, e)
    s = jnp.sum(e, axis=axis, keepdims=True)
    sign = jnp.sign(s)
    out = jnp.add(jnp.log(jnp.abs(s)), amax)
    if not keepdims:
        out = jnp.squeeze(out, axis=axis if axis is not None else None) if jnp.ndim(a) else out
        sign = jnp.squeeze(sign, axis=axis if axis is not None else None) if jnp.ndim(a) else sign
    if return_sign:
        return out, sign
    if b is not None:
        out = jnp.where(jnp.less(sign, 0), np.nan, out)
    return out


def log_softmax(x, axis=-1):
    """x - logsumexp(x) over axis (the last by default, as `jax.nn`; `scipy.special`'s
    version reduces over all axes)."""
    x = asarray_arg(x)
    return jnp.subtract(x, logsumexp(x, axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """exp(log_softmax(x)): normalised exponentials over axis (the last by default), without
    overflow."""
    return jnp.exp(log_softmax(x, axis=axis))


def one_hot(x, num_classes: int, dtype=jnp.float64, axis=-1):
    """A new last axis of length num_classes (static) that is 1 where x equals the class
    index; indices outside [0, num_classes) give a row of zeros, as in JAX (no error). Only the
    default axis=-1 works: other axes raise or give a wrong shape."""
    x = asarray_arg(x)
    classes = jnp.arange(num_classes)
    return jnp.equal(jnp.expand_dims(x, axis), classes).astype(dtype)


def standardize(x, axis=-1, epsilon=1e-5):
    """(x - mean) / sqrt(var + epsilon) over axis: zero mean and unit variance."""
    x = asarray_arg(x)
    mean = jnp.mean(x, axis=axis, keepdims=True)
    var = jnp.var(x, axis=axis, keepdims=True)
    return jnp.multiply(jnp.subtract(x, mean), ew.rsqrt(jnp.add(var, epsilon)))
