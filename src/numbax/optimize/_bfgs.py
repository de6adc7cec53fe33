"""BFGS on a flat parameter vector, written in numbax so a whole fit jits and vmaps.

The algorithm is scipy's: identity initial inverse Hessian, the BFGS inverse update, a
strong-Wolfe line search with scipy's first-step heuristic, convergence on the infinity norm of
the gradient. (Rescaling the initial inverse Hessian by y.s / y.y, Nocedal & Wright eq. 6.20,
was tried: on likelihoods whose parameters have different scales it took 4x more iterations.)
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from .. import lax
from .. import numpy as jnp
from . import _result as R
from ._line_search import line_search


class _State(NamedTuple):
    k: object
    nfev: object
    x: object
    f: object
    f_prev: object
    g: object
    H: object
    status: object


def first_step(f, f_prev, d0):
    """scipy's initial trial step: the one that would decrease f by as much as the last
    iteration did, if the objective were quadratic along p; at most 1."""
    guess = 1.01 * 2.0 * (f - f_prev) / d0
    return jnp.where(jnp.isfinite(guess) & (guess > 0), jnp.minimum(1.0, guess), 1.0)


def bfgs(value_and_grad: Callable, x0, *, maxiter: int, gtol: float, maxls: int):
    """Minimise from x0 (a float vector); returns (x, f, g, H_inv, nit, nfev, status)."""
    n = x0.shape[0]
    eye = jnp.eye(n, dtype=x0.dtype)
    f0, g0 = value_and_grad(x0)
    status0 = R.initial_status(f0, g0, gtol, maxiter)

    def cond(s: _State):
        return s.status == R.RUNNING

    def body(s: _State):
        p = -(s.H @ s.g)
        d0 = jnp.dot(s.g, p)
        descent = d0 < 0  # rounding can cost H its positive definiteness: restart from -g
        p = jnp.where(descent, p, -s.g)
        d0 = jnp.where(descent, d0, -jnp.dot(s.g, s.g))
        ls = line_search(value_and_grad, s.x, p, s.f, s.g, first_step(s.f, s.f_prev, d0),
                         maxiter=maxls)
        step = ls.alpha * p
        y = ls.g - s.g
        ys = jnp.dot(y, step)
        # the inverse-Hessian update, skipped when curvature is not positive (then it would
        # lose positive definiteness). The choices are folded into scalars and the restart
        # into Hy, so the matrix is read and written in one fused pass.
        Hy = jnp.where(descent, s.H @ y, y)
        update = ls.ok & (ys > 0)
        rho = jnp.where(update, 1.0 / jnp.where(ys > 0, ys, 1.0), 0.0)
        H_new = (jnp.where(descent, s.H, eye) - rho * (jnp.outer(step, Hy) + jnp.outer(Hy, step))
                 + (rho * rho * jnp.dot(y, Hy) + rho) * jnp.outer(step, step))
        x = jnp.where(ls.ok, s.x + step, s.x)
        f = jnp.where(ls.ok, ls.f, s.f)
        g = jnp.where(ls.ok, ls.g, s.g)
        k = s.k + 1
        status = R.step_status(ls, g, k, gtol, maxiter)
        return _State(k=k, nfev=s.nfev + ls.nfev, x=x, f=f, f_prev=s.f, g=g, H=H_new,
                      status=status)

    # scipy starts as if the previous iteration had decreased f by |g0| / 2
    f_prev = f0 + jnp.sqrt(jnp.dot(g0, g0)) / 2.0
    init = _State(k=jnp.zeros((), jnp.int64), nfev=jnp.ones((), jnp.int64), x=x0, f=f0,
                  f_prev=f_prev, g=g0, H=eye, status=status0)
    s = lax.while_loop(cond, body, init)
    return s.x, s.f, s.g, s.H, s.k, s.nfev, s.status
