"""Reductions (sum, max, min, argmax, argmin) and cumulative sums, beside their rules."""
from __future__ import annotations

import numpy as np

from ..core import Primitive, ShapedArray, get_aval
from ..interpreters import ad, batching
from ..interpreters.ad import Zero


def _canonical_axes(name, axes, ndim):
    axes = tuple(sorted(int(a) % ndim if ndim else int(a) for a in axes))
    if len(set(axes)) != len(axes) or any(not 0 <= a < ndim for a in axes):
        raise TypeError(f"{name}: invalid axes {axes} for an array of rank {ndim}")
    return axes


def _reduced_shape(shape, axes):
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_batch(prim):
    def rule(axis_size, vals, dims, *, axes, **params):
        (x,), (d,) = vals, dims
        new_axes = tuple(a if a < d else a + 1 for a in axes)
        out_dim = d - sum(a < d for a in axes)
        return prim.bind(x, axes=new_axes, **params), out_dim
    return rule


# --------------------------------------------------------------------------- reduce_sum

reduce_sum_p = Primitive("reduce_sum")


def reduce_sum(x, axes):
    axes = _canonical_axes("reduce_sum", axes, get_aval(x).ndim)
    if not axes:
        return x
    return reduce_sum_p.bind(x, axes=axes)


@reduce_sum_p.def_impl
def _reduce_sum_impl(x, *, axes):
    x = np.asarray(x)
    return np.sum(x, axis=axes, dtype=x.dtype)[()]


@reduce_sum_p.def_abstract_eval
def _reduce_sum_abstract_eval(x, *, axes):
    if any(not 0 <= a < x.ndim for a in axes):
        raise TypeError(f"reduce_sum: axes {axes} out of range for shape {x.shape}")
    if x.dtype.kind == "b":
        raise TypeError("reduce_sum does not accept dtype bool; convert to an integer first")
    return ShapedArray(_reduced_shape(x.shape, axes), x.dtype, x.weak_type)


def _reduce_sum_transpose(ct, x, *, axes):
    if type(ct) is Zero:
        return [None]
    from .shape import broadcast_in_dim
    kept = tuple(i for i in range(x.aval.ndim) if i not in axes)
    return [broadcast_in_dim(ct, x.aval.shape, kept)]


ad.deflinear(reduce_sum_p, _reduce_sum_transpose)
batching.primitive_batchers[reduce_sum_p] = _reduce_batch(reduce_sum_p)
