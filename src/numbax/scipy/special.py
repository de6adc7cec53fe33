"""scipy.special's functions with JAX's names and signatures (jax.scipy.special): traceable,
differentiable to any order where the function is smooth, batchable and jittable.

Arguments are promoted like JAX's (integers and bools to float64, Python scalars weakly typed)
and broadcast like numpy. Values follow scipy, edge cases included (xlogy(0, 0) = 0,
xlogy(0, nan) = nan, gammainc(0, x > 0) = 1, ...). Derivatives are arranged to stay finite where
the function is finite: d/dy xlogy(x, y) = 0 where x == 0, so a Poisson term n log(mu) with n = 0
has a finite gradient (and Hessian) at mu = 0. The incomplete gamma and beta functions are
differentiable in x only; asking for a derivative in a shape parameter raises NotImplementedError.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from .. import numpy as jnp
from ..core import Tracer, get_aval
from ..numpy import Array
from ..numpy._promote import asarray_arg, promote_args
from ..primitives import elementwise as ew
from ..primitives import special as sp
from ..primitives.custom_derivatives import custom_jvp

__all__ = ["betainc", "betaln", "digamma", "entr", "erf", "erfc", "erfinv", "expit", "gammainc",
           "gammaincc", "gammaln", "kl_div", "log_ndtr", "log_softmax", "logit", "logsumexp",
           "multigammaln", "ndtr", "ndtri", "polygamma", "rel_entr", "softmax", "xlog1py", "xlogy"]


def _promote_args_inexact(name: str, *args):
    """Promote to one inexact dtype (ints/bools -> float64) and broadcast to one shape; rank-0
    operands stay rank 0 (elementwise primitives broadcast them)."""
    return promote_args(name, *[asarray_arg(a) for a in args], to_inexact=True)


def _like(x, v):
    return np.array(v, get_aval(x).dtype)[()]


# --------------------------------------------------------------------------- gamma family

def gammaln(x) -> Array:
    """log |Gamma(x)|."""
    (x,) = _promote_args_inexact("gammaln", x)
    return ew.lgamma(x)


def digamma(x) -> Array:
    """d/dx log Gamma(x)."""
    (x,) = _promote_args_inexact("digamma", x)
    return ew.digamma(x)


def polygamma(n, x) -> Array:
    """The n-th derivative of digamma. n must be concrete (a Python int or a numpy integer
    array): the order of the derivative is static in the program."""
    if isinstance(n, Tracer):
        raise TypeError("polygamma: the order n must be a concrete integer (it selects the "
                        "kernel), not a traced value")
    n_arr = np.asarray(n)
    if n_arr.dtype.kind not in "iub" and not np.all(np.equal(np.mod(n_arr, 1), 0)):
        raise ValueError(f"polygamma: n must be integer-valued, got {n!r}")
    (x,) = _promote_args_inexact("polygamma", x)
    if n_arr.ndim == 0:
        return ew.polygamma(int(n_arr), x)
    shape = np.broadcast_shapes(n_arr.shape, get_aval(x).shape)
    x = jnp.broadcast_to(x, shape)
    n_b = np.broadcast_to(n_arr, shape)
    out = jnp.zeros_like(x)
    for m in np.unique(n_b):
        out = jnp.where(n_b == m, ew.polygamma(int(m), x), out)
    return out


def multigammaln(a, d: int) -> Array:
    """log of the multivariate gamma function of dimension d (d static):
    d (d - 1) / 4 log(pi) + sum_j gammaln(a - j / 2), j = 0..d-1. Like JAX (unlike scipy) it does
    not check a > (d - 1) / 2."""
    d = int(d)
    (a,) = _promote_args_inexact("multigammaln", a)
    js = np.arange(d, dtype=get_aval(a).dtype) / 2
    terms = ew.lgamma(jnp.subtract(jnp.expand_dims(a, -1), js))
    return jnp.add(jnp.sum(terms, axis=-1), d * (d - 1) / 4 * math.log(math.pi))


def gammainc(a, x) -> Array:
    """The regularised lower incomplete gamma function P(a, x) (differentiable in x only)."""
    a, x = _promote_args_inexact("gammainc", a, x)
    return sp.igamma(a, x)


def gammaincc(a, x) -> Array:
    """The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x) (in x only)."""
    a, x = _promote_args_inexact("gammaincc", a, x)
    return sp.igammac(a, x)


def betaln(a, b) -> Array:
    """log |B(a, b)|, accurate when one argument is much larger than the other."""
    a, b = _promote_args_inexact("betaln", a, b)
    return sp.betaln(a, b)


def betainc(a, b, x) -> Array:
    """The regularised incomplete beta function I_x(a, b) (differentiable in x only)."""
    a, b, x = _promote_args_inexact("betainc", a, b, x)
    return sp.betainc(a, b, x)


# --------------------------------------------------------------------------- logs

def xlogy(x, y) -> Array:
    """x * log(y), 0 where x == 0 (unless y is NaN, as scipy); d/dy is 0 where x == 0."""
    x, y = _promote_args_inexact("xlogy", x, y)
    return sp.xlogy(x, y)


def xlog1py(x, y) -> Array:
    """x * log1p(y), 0 where x == 0 (unless y is NaN, as scipy); d/dy is 0 where x == 0."""
    x, y = _promote_args_inexact("xlog1py", x, y)
    return sp.xlog1py(x, y)


def entr(x) -> Array:
    """-x log x for x > 0, 0 at 0, -inf for x < 0."""
    (x,) = _promote_args_inexact("entr", x)
    neg = jnp.less(x, 0)
    xs = jnp.where(neg, 1.0, x)
    return jnp.where(neg, -np.inf, jnp.negative(sp.xlogy(xs, xs)))


def _both_positive(p, q):
    pos = jnp.logical_and(jnp.greater(p, 0), jnp.greater(q, 0))
    zero = jnp.logical_and(jnp.equal(p, 0), jnp.greater_equal(q, 0))
    nan = jnp.logical_or(jnp.isnan(p), jnp.isnan(q))
    return pos, zero, nan, jnp.where(pos, p, 1.0), jnp.where(pos, q, 1.0)


def rel_entr(p, q) -> Array:
    """p log(p / q) for p, q > 0; 0 for p == 0, q >= 0; inf otherwise."""
    p, q = _promote_args_inexact("rel_entr", p, q)
    pos, zero, nan, ps, qs = _both_positive(p, q)
    val = jnp.multiply(ps, jnp.log(jnp.divide(ps, qs)))
    out = jnp.where(pos, val, jnp.where(zero, 0.0, np.inf))
    return jnp.where(nan, jnp.add(p, q), out)


def kl_div(p, q) -> Array:
    """p log(p / q) - p + q for p, q > 0; q for p == 0, q >= 0; inf otherwise."""
    p, q = _promote_args_inexact("kl_div", p, q)
    pos, zero, nan, ps, qs = _both_positive(p, q)
    val = jnp.add(jnp.subtract(jnp.multiply(ps, jnp.log(jnp.divide(ps, qs))), ps), qs)
    out = jnp.where(pos, val, jnp.where(zero, q, np.inf))
    return jnp.where(nan, jnp.add(p, q), out)


logsumexp = nn.logsumexp  # one implementation: jax.nn's and jax.scipy.special's are the same


def softmax(x, /, *, axis=None) -> Array:
    """exp(x) / sum(exp(x)) over axis (all axes by default, as scipy and JAX)."""
    return nn.softmax(x, axis=axis)


def log_softmax(x, /, *, axis=None) -> Array:
    """x - logsumexp(x) over axis (all axes by default)."""
    return nn.log_softmax(x, axis=axis)


# --------------------------------------------------------------------------- logistic

def expit(x) -> Array:
    """The logistic sigmoid 1 / (1 + exp(-x))."""
    (x,) = _promote_args_inexact("expit", x)
    return ew.logistic(x)


@custom_jvp
def _logit(x):
    return ew.log(ew.div(x, ew.sub(_like(x, 1), x)))


@_logit.defjvp
def _logit_jvp(primals, tangents):
    """d logit = dx / (x (1 - x)): one division, no log1p/log difference to differentiate."""
    (x,), (t,) = primals, tangents
    return _logit(x), ew.div(t, ew.mul(x, ew.sub(_like(x, 1), x)))


def logit(x) -> Array:
    """log(x / (1 - x)), the inverse of expit."""
    (x,) = _promote_args_inexact("logit", x)
    return _logit(x)


# --------------------------------------------------------------------------- error function, normal

def erf(x) -> Array:
    """The error function 2/sqrt(pi) * integral of exp(-t^2) from 0 to x."""
    (x,) = _promote_args_inexact("erf", x)
    return ew.erf(x)


def erfc(x) -> Array:
    """1 - erf(x), computed directly so it keeps its relative accuracy for large x."""
    (x,) = _promote_args_inexact("erfc", x)
    return ew.erfc(x)


def erfinv(x) -> Array:
    """The inverse of erf on (-1, 1); +-inf at +-1, NaN outside."""
    (x,) = _promote_args_inexact("erfinv", x)
    return ew.erf_inv(x)


_SQRT1_2 = 1 / math.sqrt(2)


def ndtr(x) -> Array:
    """The standard normal CDF, from erf near 0 and erfc in the tails (cephes' split), so that
    it keeps its relative accuracy for large negative x."""
    (x,) = _promote_args_inexact("ndtr", x)
    z = ew.mul(x, _like(x, _SQRT1_2))
    w = ew.abs(z)
    y = jnp.where(jnp.less(w, _SQRT1_2), ew.add(_like(x, 1), ew.erf(z)),
                  jnp.where(jnp.greater(z, 0), ew.sub(_like(x, 2), ew.erfc(z)),
                            ew.erfc(ew.neg(z))))
    return ew.mul(_like(x, 0.5), y)


def ndtri(p) -> Array:
    """The standard normal quantile (inverse of ndtr), accurate in both tails."""
    (p,) = _promote_args_inexact("ndtri", p)
    return sp.ndtri(p)


def _log_ndtr_asymptotic(x, series_order):
    """log ndtr(x) for x << 0: -x^2/2 - log(-x) - log sqrt(2 pi) + log(1 + sum_n (-1)^n
    (2n-1)!! / x^(2n))."""
    x2 = ew.mul(x, x)
    r = ew.div(_like(x, 1), x2)
    term, series, coef = _like(x, 1), _like(x, 1), 1.0
    for n in range(1, series_order + 1):
        coef *= -(2 * n - 1)
        term = ew.mul(term, r)
        series = ew.add(series, ew.mul(_like(x, coef), term))
    return ew.sub(ew.sub(ew.mul(_like(x, -0.5), x2), ew.log(ew.neg(x))),
                  ew.sub(_like(x, 0.5 * math.log(2 * math.pi)), ew.log(series)))


def _log_ndtr_impl(x, series_order):
    # float64: erfc keeps relative accuracy until ndtr underflows near -37.5; float32 near -13
    # float64: erfc keeps relative accuracy until ndtr underflows near -37.5; float32 near -13.
    # Right of 0, log1p(-ndtr(-x)) (log(ndtr(x)) would lose the digits of 1 - ndtr(x)).
    lower = -37.0 if get_aval(x).dtype == np.float64 else -10.0
    low = jnp.less(x, lower)
    xl = jnp.where(low, x, lower)  # each branch sees only its own range: no NaN in the others
    xm = jnp.clip(x, lower, 0.0)
    high = jnp.greater(x, 0.0)
    xh = jnp.where(high, x, 0.0)
    mid = ew.log(ndtr(xm))
    tail = _log_ndtr_asymptotic(xl, series_order)
    top = ew.log1p(ew.neg(ndtr(ew.neg(xh))))
    return jnp.where(low, tail, jnp.where(high, top, mid))


def _make_log_ndtr(series_order):
    @custom_jvp
    def f(x):
        return _log_ndtr_impl(x, series_order)

    @f.defjvp
    def f_jvp(primals, tangents):
        """d log ndtr(x) = pdf(x) / ndtr(x) = exp(-x^2/2 - log ndtr(x)) / sqrt(2 pi), which stays
        finite (~ -x) in the far left tail where pdf and ndtr both underflow."""
        (x,), (t,) = primals, tangents
        out = f(x)
        ratio = ew.exp(ew.sub(ew.mul(_like(x, -0.5), ew.mul(x, x)),
                              ew.add(out, _like(x, 0.5 * math.log(2 * math.pi)))))
        return out, ew.mul(t, ratio)
    return f


_LOG_NDTR = {}


def log_ndtr(x, series_order: int = 3) -> Array:
    """log of the standard normal CDF, accurate in the far left tail (asymptotic series below
    -37 in float64, -10 in float32) and on the right (log1p(-ndtr(-x)) above 0)."""
    series_order = int(series_order)
    if not 0 <= series_order <= 30:
        raise ValueError(f"log_ndtr: series_order must be in [0, 30], got {series_order}")
    (x,) = _promote_args_inexact("log_ndtr", x)
    fn = _LOG_NDTR.get(series_order)
    if fn is None:
        fn = _LOG_NDTR[series_order] = _make_log_ndtr(series_order)
    return fn(x)
