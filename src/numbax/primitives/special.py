"""Special-function primitives that need kernels of their own, and the prim-level helpers that
numbax.scipy builds on.

Primitives: `igamma` = P(a, x) and `igammac` = Q(a, x) (regularised incomplete gamma), `betainc`
= I_x(a, b) (regularised incomplete beta) and `ndtri` (standard normal quantile). Eagerly they are
scipy's; under jit they lower to the ports in backends/numba_cpu/scalar_math.py. Their x-derivatives
are the densities; the derivatives in the shape parameters have no closed form and raise
NotImplementedError when asked for, rather than returning something wrong.

Helpers (`xlogy`, `xlog1py`, `betaln`) take operands that are already promoted (equal shapes or
rank 0, one dtype) and are written so that every derivative, to any order, is finite where the
function is (the "double where": a guarded input is replaced before the singular operation, so no
NaN reaches the unselected branch's derivative either). They are composites, not primitives: AD's
symbolic zeros then skip the x-tangent of xlogy(x, y) entirely when x is data (a custom_jvp rule
would receive it instantiated, and 0 * log(0) would be NaN at y = 0).
"""
from __future__ import annotations

import math

import numpy as np

from ..core import get_aval
from ..interpreters.ad import defjvp, defjvp2
from .elementwise import (_FLOAT, _scipy_special, add, bitwise_and, bitwise_not, div, elementwise,
                          eq, exp, ge, gt, lgamma, log, log1p, lt, mul, ne, neg, select_n, sub)

__all__ = ["igamma", "igammac", "betainc", "ndtri", "xlogy", "xlog1py", "betaln",
           "igamma_p", "igammac_p", "betainc_p", "ndtri_p"]


def _like(x, v):
    """The constant v in x's dtype (a rank-0 operand broadcasts in elementwise primitives)."""
    return np.array(v, get_aval(x).dtype)[()]


def _in_result_dtype(fn):
    """scipy's float64 result cast to the operands' dtype, as the jit kernels compute it (scipy's
    own float32 loops can be several float32 ulp off)."""
    def impl(*args):
        dtype = np.result_type(*args)
        out = fn(*[np.asarray(a, np.float64) for a in args])
        return np.asarray(out, dtype)[()]
    return impl


igamma_p = elementwise("igamma", _in_result_dtype(_scipy_special("gammainc")), _FLOAT, nargs=2,
                       quiet=True)
igammac_p = elementwise("igammac", _in_result_dtype(_scipy_special("gammaincc")), _FLOAT, nargs=2,
                        quiet=True)
betainc_p = elementwise("betainc", _in_result_dtype(_scipy_special("betainc")), _FLOAT, nargs=3,
                        quiet=True)
ndtri_p = elementwise("ndtri", _in_result_dtype(_scipy_special("ndtri")), _FLOAT, quiet=True)


def igamma(a, x):
    """P(a, x) = gamma(a, x) / Gamma(a) (lax.igamma)."""
    return igamma_p.bind(a, x)


def igammac(a, x):
    """Q(a, x) = 1 - P(a, x), accurate where it is small (lax.igammac)."""
    return igammac_p.bind(a, x)


def betainc(a, b, x):
    """I_x(a, b) (lax.regularized_incomplete_beta)."""
    return betainc_p.bind(a, b, x)


def ndtri(p):
    """The standard normal quantile."""
    return ndtri_p.bind(p)


# --------------------------------------------------------------------------- safe helpers

def xlogy(x, y):
    """x * log(y), 0 where x == 0 unless y is NaN (scipy's convention). Where x == 0 the
    derivative in y is x / y = 0 (and so are all higher ones); in x it is log(y), taken as 0 at the
    singular points x == 0, y not in (0, inf)."""
    bad = bitwise_and(eq(x, _like(x, 0)),
                      bitwise_not(bitwise_and(gt(y, _like(y, 0)), lt(y, _like(y, math.inf)))))
    out = mul(x, log(select_n(bad, y, _like(y, 1))))
    return select_n(ne(y, y), out, y)


def xlog1py(x, y):
    """x * log1p(y), 0 where x == 0 unless y is NaN, with xlogy's derivative conventions."""
    bad = bitwise_and(eq(x, _like(x, 0)),
                      bitwise_not(bitwise_and(gt(y, _like(y, -1)), lt(y, _like(y, math.inf)))))
    out = mul(x, log1p(select_n(bad, y, _like(y, 0))))
    return select_n(ne(y, y), out, y)


_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156,
             -3617 / 122400)


def _lgamma_corr(z):
    """lgamma(z) - ((z - 1/2) log z - z + log sqrt(2 pi)), Stirling's series (z >= 10)."""
    r = div(_like(z, 1), z)
    r2 = mul(r, r)
    acc = _like(z, _STIRLING[-1])
    for c in _STIRLING[-2::-1]:
        acc = add(_like(z, c), mul(r2, acc))
    return mul(r, acc)


def _betaln_ordered(lo, hi):
    """log B(lo, hi), accurate when lo <= hi: for hi >= 10, lgamma(hi) - lgamma(lo + hi) by
    Stirling's series (their difference is ~ -lo log hi; computed apart they cancel)."""
    big = bitwise_and(ge(hi, _like(hi, 10)), ge(add(lo, hi), _like(hi, 10)))  # series' range
    hs = select_n(big, _like(hi, 10), hi)  # keep the unselected branch (and its derivative) finite
    ls = select_n(big, _like(lo, 1), lo)
    s = add(ls, hs)
    # lgamma(hs) - lgamma(s) = -(hs - 1/2) log1p(ls / hs) - ls log s + ls + corr(hs) - corr(s)
    diff = sub(ls, add(mul(sub(hs, _like(hs, 0.5)), log1p(div(ls, hs))), mul(ls, log(s))))
    stirling = add(lgamma(ls), add(diff, sub(_lgamma_corr(hs), _lgamma_corr(s))))
    direct = sub(add(lgamma(lo), lgamma(hi)), lgamma(add(lo, hi)))
    return select_n(big, direct, stirling)


def betaln(a, b):
    """log |B(a, b)|, accurate also when one argument is much larger than the other. Both
    orders are computed and one selected (not min/max, whose derivative at a == b would halve
    the second derivative)."""
    return select_n(ge(b, a), _betaln_ordered(b, a), _betaln_ordered(a, b))


# --------------------------------------------------------------------------- derivatives

def _no_closed_form(what: str):
    def rule(g, *args, **params):
        raise NotImplementedError(
            f"{what} is not implemented (it has no closed form in numbax). Differentiate with "
            f"respect to x only, or hold the parameter fixed with numbax.lax.stop_gradient.")
    return rule


def _gamma_density(a, x):
    """x**(a-1) exp(-x) / Gamma(a), the x-derivative of P(a, x): 0 at x = inf, and at x = 0 the
    limits 1 (a = 1), inf (a < 1), 0 (a > 1)."""
    at_inf = eq(x, _like(x, math.inf))
    xs = select_n(at_inf, x, _like(x, 1))
    logp = sub(sub(xlogy(sub(a, _like(a, 1)), xs), xs), lgamma(a))
    return select_n(at_inf, exp(logp), _like(x, 0))


def _beta_density(a, b, x):
    """x**(a-1) (1-x)**(b-1) / B(a, b), the x-derivative of I_x(a, b)."""
    one = _like(x, 1)
    logp = sub(add(xlogy(sub(a, one), x), xlog1py(sub(b, one), neg(x))), betaln(a, b))
    return exp(logp)


defjvp(igamma_p, _no_closed_form("gammainc derivative with respect to a"),
       lambda g, a, x: mul(g, _gamma_density(a, x)))
defjvp(igammac_p, _no_closed_form("gammaincc derivative with respect to a"),
       lambda g, a, x: neg(mul(g, _gamma_density(a, x))))
defjvp(betainc_p, _no_closed_form("betainc derivative with respect to a"),
       _no_closed_form("betainc derivative with respect to b"),
       lambda g, a, b, x: mul(g, _beta_density(a, b, x)))
defjvp2(ndtri_p, lambda g, ans, p: mul(g, mul(_like(p, math.sqrt(2 * math.pi)),
                                            exp(mul(_like(p, 0.5), mul(ans, ans))))))
