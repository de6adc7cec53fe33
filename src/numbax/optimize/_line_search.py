"""A strong-Wolfe line search (Nocedal & Wright, Algorithms 3.5 and 3.6) as one while_loop.

Bracketing and zooming are two phases of a single loop with one objective-and-gradient
evaluation per step, selected with `where` rather than Python branches, so the search traces
once, jits into one native loop and vmaps (each lane stops when its own search is done).
Non-finite values count as "too far": the step shrinks away from them.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from .. import lax
from .. import numpy as jnp


_F_NOISE = 1e-10  # relative size of f's rounding error assumed by the approximate conditions


class LineSearchResult(NamedTuple):
    alpha: object      # the accepted step length (0 if none)
    f: object          # objective at x + alpha p
    g: object          # gradient there
    nfev: object       # evaluations used
    ok: object         # a step with sufficient decrease was found
    nonfinite: object  # some trial point had a non-finite objective or gradient


class _State(NamedTuple):
    i: object
    alpha: object      # next trial step of the bracketing phase
    zoom: object       # in the zoom phase
    done: object
    nonfinite: object
    a_lo: object       # bracketing phase: the previous trial; zoom: the best end of the bracket
    f_lo: object
    d_lo: object
    g_lo: object
    a_hi: object
    f_hi: object
    d_hi: object
    a_star: object
    f_star: object
    g_star: object


def _cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi):
    """The minimiser of the cubic through both bracket ends (values and slopes), or the midpoint
    when it is undefined or too close to an end (which would stall the bracket)."""
    width = a_hi - a_lo
    safe_width = jnp.where(width == 0, 1.0, width)
    d1 = d_lo + d_hi - 3.0 * (f_lo - f_hi) / (-safe_width)
    rad = d1 * d1 - d_lo * d_hi
    d2 = jnp.sign(width) * jnp.sqrt(jnp.maximum(rad, 0.0))
    denom = d_hi - d_lo + 2.0 * d2
    a = a_hi - width * (d_hi + d2 - d1) / jnp.where(denom == 0, 1.0, denom)
    lo_edge = jnp.minimum(a_lo, a_hi) + 0.1 * jnp.abs(width)
    hi_edge = jnp.maximum(a_lo, a_hi) - 0.1 * jnp.abs(width)
    usable = (rad >= 0) & (denom != 0) & jnp.isfinite(a) & (a >= lo_edge) & (a <= hi_edge)
    return jnp.where(usable, a, 0.5 * (a_lo + a_hi))


def line_search(value_and_grad: Callable, x, p, f0, g0, alpha1, *, c1: float = 1e-4,
                c2: float = 0.9, maxiter: int = 30) -> LineSearchResult:
    """Find alpha > 0 with f(x + alpha p) <= f0 + c1 alpha g0.p and |g(x + alpha p).p| <= c2 |g0.p|.

    p must be a descent direction (g0.p < 0). If the iteration budget runs out inside a bracket,
    the bracket's best point is returned when it decreases f (ok stays True: the caller's update
    checks curvature itself), so a search stalled by rounding still makes progress.
    """
    d0 = jnp.dot(g0, p)
    dtype = f0.dtype if hasattr(f0, "dtype") else jnp.result_type(f0)
    zero = jnp.zeros((), dtype)

    def evaluate(a):
        f, g = value_and_grad(x + a * p)
        bad = ~(jnp.isfinite(f) & jnp.all(jnp.isfinite(g)))
        f = jnp.where(bad, jnp.inf, f)
        d = jnp.where(bad, 0.0, jnp.dot(g, p))
        return f, g, d, bad

    def cond(s: _State):
        return ~s.done & (s.i < maxiter)

    def body(s: _State):
        a = jnp.where(s.zoom, _cubic_min(s.a_lo, s.f_lo, s.d_lo, s.a_hi, s.f_hi, s.d_hi), s.alpha)
        f, g, d, bad = evaluate(a)
        armijo_fails = f > f0 + c1 * a * d0
        curvature_ok = jnp.abs(d) <= -c2 * d0
        # Near a minimum, changes in f fall below its rounding error and the decrease test
        # fails by noise; Hager & Zhang's approximate Wolfe conditions judge by the slope then
        approx = curvature_ok & (d <= (2 * c1 - 1) * d0) & (f <= f0 + _F_NOISE * jnp.abs(f0))
        # bracketing phase (Algorithm 3.5)
        b_to_zoom_hi = ~approx & (armijo_fails | ((s.i > 0) & (f >= s.f_lo)))  # [previous, a]
        b_done = approx | (~b_to_zoom_hi & curvature_ok)
        b_to_zoom_lo = ~b_to_zoom_hi & ~b_done & (d >= 0)                     # [a, previous]
        # zoom phase (Algorithm 3.6)
        z_shrink_hi = ~approx & (armijo_fails | (f >= s.f_lo))
        z_done = approx | (~z_shrink_hi & curvature_ok)
        z_flip = ~z_shrink_hi & ~z_done & (d * (s.a_hi - s.a_lo) >= 0)
        zoom = s.zoom
        done = jnp.where(zoom, z_done, b_done)
        # a becomes the new low end: in bracketing when the search moves on or reverses,
        # in zoom when it decreases f without meeting the curvature condition
        a_is_lo = jnp.where(zoom, ~z_shrink_hi & ~z_done, ~b_to_zoom_hi & ~b_done)
        # the old low end becomes the high end: bracketing reversal, or a zoom flip
        lo_to_hi = jnp.where(zoom, z_flip, b_to_zoom_lo)
        a_is_hi = jnp.where(zoom, z_shrink_hi, b_to_zoom_hi)
        a_hi = jnp.where(lo_to_hi, s.a_lo, jnp.where(a_is_hi, a, s.a_hi))
        f_hi = jnp.where(lo_to_hi, s.f_lo, jnp.where(a_is_hi, f, s.f_hi))
        d_hi = jnp.where(lo_to_hi, s.d_lo, jnp.where(a_is_hi, d, s.d_hi))
        return _State(
            i=s.i + 1,
            alpha=jnp.where(zoom, s.alpha, 2.0 * a),
            zoom=zoom | b_to_zoom_hi | b_to_zoom_lo,
            done=done,
            nonfinite=s.nonfinite | bad,
            a_lo=jnp.where(a_is_lo, a, s.a_lo), f_lo=jnp.where(a_is_lo, f, s.f_lo),
            d_lo=jnp.where(a_is_lo, d, s.d_lo), g_lo=jnp.where(a_is_lo, g, s.g_lo),
            a_hi=a_hi, f_hi=f_hi, d_hi=d_hi,
            a_star=jnp.where(done, a, s.a_star), f_star=jnp.where(done, f, s.f_star),
            g_star=jnp.where(done, g, s.g_star))

    false = jnp.zeros((), bool)
    init = _State(i=jnp.zeros((), jnp.int64), alpha=jnp.asarray(alpha1, dtype), zoom=false,
                  done=false, nonfinite=false,
                  a_lo=zero, f_lo=f0, d_lo=d0, g_lo=g0,
                  a_hi=zero, f_hi=f0, d_hi=d0,
                  a_star=zero, f_star=f0, g_star=g0)
    s = lax.while_loop(cond, body, init)
    fallback = ~s.done & (s.a_lo > 0) & (s.f_lo < f0)
    return LineSearchResult(
        alpha=jnp.where(s.done, s.a_star, jnp.where(fallback, s.a_lo, zero)),
        f=jnp.where(s.done, s.f_star, jnp.where(fallback, s.f_lo, f0)),
        g=jnp.where(s.done, s.g_star, jnp.where(fallback, s.g_lo, g0)),
        nfev=s.i, ok=s.done | fallback, nonfinite=s.nonfinite)
