"""Helpers shared by the control-flow tests (test_control_flow*.py): central finite differences
of numpy reference functions and a Python-loop reference for vmap over pytrees."""
from __future__ import annotations

import numpy as np

from numbax.tree_util import tree_flatten, tree_unflatten

from checks import assert_allclose


def fd_grad(f, x, eps=1e-6):
    """Central differences of a scalar numpy-valued function of one float array."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
    return g


def fd_jac(f, x, eps=1e-6):
    """Central-difference Jacobian, shaped out.shape + x.shape."""
    x = np.asarray(x, np.float64)
    out_shape = np.shape(f(x))
    cols = []
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        cols.append((np.asarray(f(x + e), np.float64) - np.asarray(f(x - e), np.float64))
                    / (2 * eps))
    return np.stack(cols, axis=-1).reshape(out_shape + x.shape)


def fd_directional(f, x, v, eps=1e-6):
    """(f(x + eps v) - f(x - eps v)) / (2 eps) for a numpy function returning an array."""
    x = np.asarray(x, np.float64)
    return (np.asarray(f(x + eps * v), np.float64) - np.asarray(f(x - eps * v), np.float64)) \
        / (2 * eps)


def stack_rows(rows):
    """Stack a list of equally structured pytrees leaf by leaf (the Python-loop vmap reference)."""
    leaves = [tree_flatten(r)[0] for r in rows]
    treedef = tree_flatten(rows[0])[1]
    return tree_unflatten(treedef, [np.stack([np.asarray(l[j]) for l in leaves])
                                    for j in range(len(leaves[0]))])


def assert_same_dtype(got, ref):
    for g, r in zip(tree_flatten(got)[0], tree_flatten(ref)[0]):
        assert np.asarray(g).dtype == np.asarray(r).dtype, (np.asarray(g).dtype,
                                                            np.asarray(r).dtype)


__all__ = ["fd_grad", "fd_jac", "fd_directional", "stack_rows", "assert_allclose",
           "assert_same_dtype"]
