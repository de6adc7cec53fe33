"""Shared correctness checks for primitives and transformations (DESIGN.md §5).

Each check compares a transformation against an independent reference: eager against numpy,
jvp against central finite differences, vjp against jvp through <u, J v> == <J^T u, v>, vmap
against a Python loop, and the staged jaxpr against eager evaluation.
"""
from __future__ import annotations

import itertools

import numpy as np

from numbax import api
from numbax.jaxpr import eval_jaxpr, typecheck_jaxpr
from numbax.tree_util import tree_flatten, tree_map

RNG = np.random.default_rng(0)


def assert_allclose(a, b, rtol=1e-7, atol=1e-9, err_msg=""):
    la, ta = tree_flatten(a)
    lb, tb = tree_flatten(b)
    if ta.num_leaves == 1 and tb != ta:  # an array compared with a list/scalar of numbers
        lb, tb = [np.asarray(b)], ta
    assert ta == tb, f"tree mismatch: {ta} vs {tb}"
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, f"shape mismatch {x.shape} vs {y.shape} {err_msg}"
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=err_msg)


def _float_leaves(args):
    return [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]


def _perturb(args, idx, directions, eps):
    out = list(args)
    for i, d in zip(idx, directions):
        out[i] = np.asarray(args[i]) + eps * d
    return out


def check_jvp(f, args, eps=1e-6, rtol=1e-5, atol=1e-6):
    """jvp along a random direction in the float arguments against central differences."""
    idx = _float_leaves(args)
    dirs = [RNG.standard_normal(np.shape(args[i])) for i in idx]
    # integer/bool args are closed over: jvp only sees the float ones
    def g(*fargs):
        full = list(args)
        for i, v in zip(idx, fargs):
            full[i] = v
        return f(*full)
    out, tan = api.jvp(g, tuple(args[i] for i in idx), tuple(dirs[k].astype(np.asarray(args[i]).dtype)
                                                            for k, i in enumerate(idx)))
    plus = f(*_perturb(args, idx, dirs, eps))
    minus = f(*_perturb(args, idx, dirs, -eps))
    fd = tree_map(lambda p, m: (np.asarray(p, np.float64) - np.asarray(m, np.float64)) / (2 * eps),
                  plus, minus)
    assert_allclose(out, f(*args), rtol=1e-12, atol=0)
    assert_allclose(tree_map(lambda t: np.asarray(t, np.float64), tan), fd, rtol=rtol, atol=atol,
                    err_msg="jvp vs central differences")
    return out, tan


def check_vjp_adjoint(f, args, rtol=1e-7, atol=1e-9):
    """<u, J v> == <J^T u, v> for random u, v over the float arguments."""
    idx = _float_leaves(args)

    def g(*fargs):
        full = list(args)
        for i, v in zip(idx, fargs):
            full[i] = v
        return f(*full)
    fargs = tuple(np.asarray(args[i]) for i in idx)
    v = tuple(RNG.standard_normal(a.shape).astype(a.dtype) for a in fargs)
    out, jv = api.jvp(g, fargs, v)
    u = tree_map(lambda o: RNG.standard_normal(np.shape(o)).astype(np.asarray(o).dtype), out)
    _, vjp_fun = api.vjp(g, *fargs)
    jtu = vjp_fun(u)
    lhs = sum(float(np.vdot(np.asarray(a), np.asarray(b)))
              for a, b in zip(tree_flatten(u)[0], tree_flatten(jv)[0]))
    rhs = sum(float(np.vdot(np.asarray(a), np.asarray(b))) for a, b in zip(jtu, v))
    scale = max(1.0, abs(lhs), abs(rhs))
    assert abs(lhs - rhs) <= atol + rtol * scale * 10, f"adjoint mismatch {lhs} vs {rhs}"


def check_vmap(f, batched_args, in_axes=0, rtol=1e-12, atol=0):
    """vmap(f) against a Python loop over the mapped axis."""
    n_args = len(batched_args)
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * n_args
    size = next(np.shape(a)[ax] for a, ax in zip(batched_args, axes) if ax is not None)
    got = api.vmap(f, in_axes=tuple(axes))(*batched_args)
    rows = []
    for k in range(size):
        rows.append(f(*[a if ax is None else np.take(np.asarray(a), k, axis=ax)
                        for a, ax in zip(batched_args, axes)]))
    leaves = [tree_flatten(r)[0] for r in rows]
    ref = [np.stack([np.asarray(l[j]) for l in leaves]) for j in range(len(leaves[0]))]
    assert_allclose(tree_flatten(got)[0], ref, rtol=rtol, atol=atol, err_msg="vmap vs loop")


def check_staged(f, args, rtol=1e-12, atol=0):
    """The staged jaxpr typechecks and evaluates to the eager result."""
    jaxpr = api.make_jaxpr(f)(*args)
    typecheck_jaxpr(jaxpr)
    flat, _ = tree_flatten(args)
    got = eval_jaxpr(jaxpr, *flat)
    ref = tree_flatten(f(*args))[0]
    assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg="staged vs eager")


def check_jit(f, args, rtol=1e-12, atol=1e-15):
    """jit(f), compiled with Numba, against eager f: same values, dtypes and shapes."""
    got = api.jit(f)(*args)
    ref = f(*args)
    assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg="jit vs eager")
    for g, r in zip(tree_flatten(got)[0], tree_flatten(ref)[0]):
        assert np.asarray(g).dtype == np.asarray(r).dtype, (np.asarray(g).dtype,
                                                            np.asarray(r).dtype)


def check_all(f, args, *, jvp=True, vjp=True, batch=2, fd_rtol=1e-5, fd_atol=1e-6):
    """The standard battery: staged, jit, jvp vs FD, adjoint, vmap over a stacked copy of the
    args."""
    check_staged(f, args)
    check_jit(f, args)
    if jvp and _float_leaves(args):
        check_jvp(f, args, rtol=fd_rtol, atol=fd_atol)
    if vjp and _float_leaves(args):
        check_vjp_adjoint(f, args)
    if batch:
        stacked = []
        for a in args:
            a = np.asarray(a)
            noise = RNG.uniform(0.9, 1.1, (batch,) + a.shape) if a.dtype.kind == "f" else 1
            stacked.append((np.stack([a] * batch) * noise).astype(a.dtype))
        check_vmap(f, stacked, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- special functions

_JITTED: dict = {}


def jitted(name, fn):
    """One jit object per name, so compiled kernels are shared between tests."""
    if name not in _JITTED:
        _JITTED[name] = api.jit(fn)
    return _JITTED[name]


def assert_same(got, ref, rtol=1e-13, atol=0.0, err_msg=""):
    """Equal NaN pattern, equal infinities (with sign), finite values close."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"NaNs {err_msg}")
    inf = np.isinf(ref)
    np.testing.assert_array_equal(got[inf], ref[inf], err_msg=f"infinities {err_msg}")
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=rtol, atol=atol, err_msg=err_msg)


def grid(*axes):
    """Every combination of the given values, one flat float64 array per argument."""
    return [np.array(c, np.float64) for c in zip(*itertools.product(*axes))]
