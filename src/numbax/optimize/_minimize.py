"""minimize: the front end. It ravels pytree parameters, checks options, and runs the fit as one
jitted program at the top level, or inline when called inside another transformation (so
`vmap(lambda d: minimize(nll, x0, args=(d,)).x)` is one batched loop)."""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from .. import numpy as jnp
from ..api import _fun_name, hessian, jit, value_and_grad
from ..core import Tracer, current_trace, eval_trace, get_aval
from ..flatten_util import flat_names, ravel_pytree
from ..tree_util import tree_flatten, tree_leaves, tree_map
from . import _result as R
from ._bfgs import bfgs
from ._newton import newton
from ._result import OptimizeResult

_METHODS = ("bfgs", "newton")
#: maxiter None: scipy's default for BFGS (200 per parameter), 100 Newton steps
_DEFAULT_OPTIONS = {"maxiter": None, "gtol": 1e-5, "maxls": 30}


def float_params(x0):
    """x0 with integer and boolean leaves as float64 (parameters must be inexact)."""
    def conv(leaf):
        leaf = jnp.asarray(leaf)
        return leaf if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf.astype(jnp.float64)
    return tree_map(conv, x0)


def flat_objective(fun: Callable, unravel: Callable, args: tuple) -> Callable:
    """fun(params, *args) as a function of the raveled parameter vector, checked to be scalar."""
    def flat(v):
        out = fun(unravel(v), *args)
        aval = get_aval(out)
        if aval.shape != ():
            raise TypeError(f"minimize: the objective {_fun_name(fun)} must return a scalar, "
                            f"got shape {aval.shape}")
        return out
    return flat


def _options(method: str, tol, options, n: int) -> tuple:
    opts = dict(_DEFAULT_OPTIONS)
    unknown = set(options or {}) - set(opts)
    if unknown:
        raise TypeError(f"minimize(method={method!r}): unknown option(s) {sorted(unknown)}; "
                        f"valid options are {sorted(opts)}")
    opts.update(options or {})
    if tol is not None:
        opts["gtol"] = tol
    if opts["maxiter"] is None:
        opts["maxiter"] = 200 * max(n, 1) if method == "bfgs" else 100
    opts["maxiter"], opts["maxls"] = int(opts["maxiter"]), int(opts["maxls"])
    opts["gtol"] = float(opts["gtol"])
    return tuple(sorted(opts.items()))


def _fit(fun: Callable, method: str, opts: tuple, x0, args: tuple) -> OptimizeResult:
    flat0, unravel = ravel_pytree(x0)
    objective = flat_objective(fun, unravel, args)
    vg = value_and_grad(objective)
    kw = dict(opts)
    if method == "bfgs":
        x, f, g, H_inv, nit, nfev, status = bfgs(vg, flat0, **kw)
        hess = None
    else:
        x, f, g, hess, nit, nfev, status = newton(vg, hessian(objective), flat0, **kw)
        H_inv = None
    return OptimizeResult(x=unravel(x), fun=f, jac=unravel(g), hess_inv=H_inv, hess=hess,
                          nit=nit, nfev=nfev, njev=nfev, status=status, success=status == R.SUCCESS)


def structure_key(params) -> tuple:
    """What the raveling of a parameter pytree depends on: its structure, shapes and dtypes."""
    leaves, treedef = tree_flatten(params)
    return treedef, tuple((get_aval(x).shape, get_aval(x).dtype) for x in leaves)


def unravel_for(key: tuple) -> Callable:
    treedef, avals = key
    return ravel_pytree(treedef.unflatten([np.zeros(s, d) for s, d in avals]))[1]


def cached(factory, fun: Callable, *key):
    """factory(fun, *key) (an lru_cache'd compiler), uncached when fun is not hashable."""
    try:
        return factory(fun, *key)
    except TypeError:
        return factory.__wrapped__(fun, *key)


def in_transformation(*trees) -> bool:
    """Called inside jit/vmap/grad (or on their tracers): the work becomes part of that trace."""
    return current_trace() is not eval_trace or any(
        isinstance(leaf, Tracer) for leaf in tree_leaves(trees))


@functools.lru_cache(maxsize=64)
def _compiled_fit(fun: Callable, method: str, opts: tuple):
    return jit(functools.partial(_fit, fun, method, opts))


def _run(fun, method, opts, x0, args):
    if in_transformation(x0, args):
        return _fit(fun, method, opts, x0, args)
    return cached(_compiled_fit, fun, method, opts)(x0, args)


def minimize(fun: Callable, x0: Any, args: tuple = (), *, method: str = "bfgs",
             tol: float | None = None, bounds=None, options: dict | None = None) -> OptimizeResult:
    """Minimise the scalar fun(x, *args) over a pytree of parameters x, starting at x0.

    method: "bfgs" or "newton" (exact Hessian) run in numbax itself, so the fit can be jitted and
    vmapped; "scipy:<name>" hands exact `value_and_grad` (and `hessian` where the method uses
    one) to `scipy.optimize.minimize(method=<name>)`, which also accepts `bounds`.
    tol: the gradient tolerance (infinity norm) for bfgs/newton, scipy's `tol` otherwise.
    options: bfgs/newton take maxiter, gtol and maxls (line-search evaluations per iteration).
    A non-finite objective at x0 raises ValueError; trouble later is reported by `status`.
    """
    if not isinstance(method, str):
        raise TypeError(f"minimize: method must be a string, got {type(method).__name__}")
    if not callable(fun):
        raise TypeError(f"minimize: fun must be callable, got {type(fun).__name__}")
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    if method.lower().startswith("scipy:"):
        from ._scipy import scipy_minimize
        return scipy_minimize(fun, x0, args, method[len("scipy:"):], tol, bounds, options)
    name = method.lower()
    if name not in _METHODS:
        raise ValueError(f"minimize: unknown method {method!r}; use 'bfgs', 'newton' or "
                         f"'scipy:<scipy method name>'")
    if bounds is not None:
        raise NotImplementedError(f"minimize(method={method!r}) does not support bounds; use "
                                  f"method='scipy:L-BFGS-B' (or another scipy method with bounds), "
                                  f"or reparametrise (e.g. optimise log(sigma)).")
    x0 = float_params(x0)
    n = sum(int(np.prod(get_aval(leaf).shape)) for leaf in tree_leaves(x0))
    opts = _options(name, tol, options, n)
    result = _run(fun, name, opts, x0, args)
    status = result.status
    if not isinstance(status, Tracer) and np.ndim(status) == 0 and int(status) == R.NONFINITE_AT_X0:
        raise ValueError(_nonfinite_x0_message(fun, x0, result))
    return result


def _nonfinite_x0_message(fun, x0, result) -> str:
    names = flat_names(x0)
    grad = np.asarray(ravel_pytree(result.jac)[0])
    bad = [nm for nm, g in zip(names, grad) if not np.isfinite(g)]
    what = f"fun(x0) = {float(result.fun)}" if not np.isfinite(result.fun) else \
        f"the gradient is not finite with respect to {', '.join(bad[:10])}" + \
        (f" (and {len(bad) - 10} more)" if len(bad) > 10 else "")
    return f"minimize: the objective {_fun_name(fun)} is not finite at x0: {what}"
