"""Newton's method with the exact Hessian, made globally convergent by damping and a line search.

Each iteration solves (H + lam I) p = -g by Cholesky. lam is 0 whenever H is positive definite
(so the last iterations are pure Newton steps and converge quadratically); otherwise it grows
until the factorisation succeeds and p is a descent direction (a Levenberg-Marquardt shift).
The step length then comes from the same strong-Wolfe search BFGS uses, starting at 1.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from .. import lax
from .. import numpy as jnp
from ..primitives.linalg import cholesky, triangular_solve
from . import _result as R
from ._line_search import line_search

_MAX_SHIFTS = 60


class _State(NamedTuple):
    k: object
    nfev: object
    x: object
    f: object
    g: object
    status: object


def _damped_direction(H, g):
    """p = -(H + lam I)^-1 g with the smallest lam in {0, s, 10 s, 100 s, ...} (s relative to
    H's diagonal) that gives a finite descent direction."""
    n = g.shape[0]
    eye = jnp.eye(n, dtype=g.dtype)
    scale = 1e-10 * (1.0 + jnp.max(jnp.abs(jnp.diagonal(H)), initial=0.0))

    def attempt(lam):
        L = cholesky(H + lam * eye)
        z = triangular_solve(L, g[:, None], left_side=True, lower=True)
        p = -triangular_solve(L, z, left_side=True, lower=True, transpose_a=True)[:, 0]
        return p, jnp.all(jnp.isfinite(p)) & (jnp.dot(g, p) < 0)

    def cond(c):
        _, _, ok, tries = c
        return ~ok & (tries < _MAX_SHIFTS)

    def body(c):
        lam, _, _, tries = c
        lam = jnp.where(lam == 0, scale, 10.0 * lam)
        p, ok = attempt(lam)
        return lam, p, ok, tries + 1

    p, ok = attempt(jnp.zeros((), g.dtype))
    _, p, ok, _ = lax.while_loop(cond, body, (jnp.zeros((), g.dtype), p, ok, 0))
    return jnp.where(ok, p, -g)  # fall back to steepest descent (H not even finite)


def newton(value_and_grad: Callable, hessian: Callable, x0, *, maxiter: int, gtol: float,
           maxls: int):
    """Minimise from x0 (a float vector); returns (x, f, g, H, nit, nfev, status)."""
    f0, g0 = value_and_grad(x0)
    status0 = R.initial_status(f0, g0, gtol, maxiter)

    def cond(s: _State):
        return s.status == R.RUNNING

    def body(s: _State):
        p = _damped_direction(hessian(s.x), s.g)
        ls = line_search(value_and_grad, s.x, p, s.f, s.g, 1.0, maxiter=maxls)
        x = jnp.where(ls.ok, s.x + ls.alpha * p, s.x)
        g = jnp.where(ls.ok, ls.g, s.g)
        k = s.k + 1
        status = R.step_status(ls, g, k, gtol, maxiter)
        return _State(k=k, nfev=s.nfev + ls.nfev, x=x,
                      f=jnp.where(ls.ok, ls.f, s.f), g=g, status=status)

    init = _State(k=jnp.zeros((), jnp.int64), nfev=jnp.ones((), jnp.int64), x=x0, f=f0, g=g0,
                  status=status0)
    s = lax.while_loop(cond, body, init)
    return s.x, s.f, s.g, hessian(s.x), s.k, s.nfev, s.status
