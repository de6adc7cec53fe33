"""Sorting: the variadic `sort` primitive (as lax.sort) and the wrappers sort1 and argsort.

sort_p sorts all of its operands along `dimension` by the permutation that (stably) sorts the
first `num_keys` operands lexicographically, NaNs last as in numpy. Because that permutation
depends only on the keys, sort is *linear* in the non-key operands: its jvp sorts the tangents
along as extra non-key operands, and the transpose rule applies the inverse permutation (sorting
the cotangent by the sorting permutation itself). No gather is needed.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..core import Primitive, get_aval
from ..interpreters import ad, batching
from ..interpreters.ad import Zero

sort_p = Primitive("sort", multiple_results=True)


def _iota_like(x, dimension):
    """int64 indices 0..n-1 along `dimension`, broadcast to the shape of x."""
    from .shape import broadcasted_iota
    return broadcasted_iota(dtypes.int64, get_aval(x).shape, dimension)


def sort(operands, dimension=-1, num_keys=1):
    """Sort `operands` (an array, or a sequence of arrays of one shape) along `dimension` by the
    first `num_keys` of them (stable; NaNs last). Returns an array for an array, else a list."""
    single = not isinstance(operands, (list, tuple))
    ops = [operands] if single else list(operands)
    if not ops:
        raise TypeError("sort: needs at least one operand")
    ndim = get_aval(ops[0]).ndim
    dimension = int(dimension)
    if not -ndim <= dimension < ndim:
        raise TypeError(f"sort: dimension {dimension} out of range for an array of rank {ndim}")
    num_keys = int(num_keys)
    params = dict(dimension=dimension % ndim, num_keys=num_keys)
    if get_aval(ops[0]).shape[dimension] <= 1:  # a no-op (after checking the operands)
        sort_p.abstract_eval(*[get_aval(o) for o in ops], **params)
        return ops[0] if single else ops
    out = sort_p.bind(*ops, **params)
    return out[0] if single else list(out)


def sort1(x, dimension=-1):
    """x sorted along `dimension`."""
    return sort(x, dimension)


def argsort(x, dimension=-1):
    """The int64 indices that stably sort x along `dimension` (NaNs last)."""
    ndim = get_aval(x).ndim
    if not -ndim <= int(dimension) < ndim:
        raise TypeError(f"argsort: dimension {dimension} out of range for an array of rank {ndim}")
    dimension = int(dimension) % ndim
    return sort([x, _iota_like(x, dimension)], dimension, num_keys=1)[1]


def _sort_perm(keys, dimension):
    if len(keys) == 1:
        return np.argsort(keys[0], axis=dimension, kind="stable")
    # np.lexsort sorts by the last key first; it is stable, and puts NaNs last
    return np.lexsort(keys[::-1], axis=dimension)


@sort_p.def_impl
def _sort_impl(*operands, dimension, num_keys):
    operands = [np.asarray(o) for o in operands]
    _sort_abstract_eval(*[get_aval(o) for o in operands], dimension=dimension, num_keys=num_keys)
    perm = _sort_perm(operands[:num_keys], dimension)
    return [np.take_along_axis(o, perm, axis=dimension) for o in operands]


@sort_p.def_abstract_eval
def _sort_abstract_eval(*operands, dimension, num_keys):
    if not operands:
        raise TypeError("sort: needs at least one operand")
    shape = operands[0].shape
    if any(o.shape != shape for o in operands):
        raise TypeError("sort: all operands must have the same shape, got "
                        + ", ".join(o.str_short() for o in operands))
    if not 0 <= dimension < len(shape):
        raise TypeError(f"sort: dimension {dimension} out of range for operands of shape {shape}")
    if not 1 <= num_keys <= len(operands):
        raise TypeError(f"sort: num_keys={num_keys} must be between 1 and the number of operands "
                        f"({len(operands)})")
    for o in operands:
        if o.dtype.kind not in "biuf":
            raise TypeError(f"sort does not accept dtype {o.dtype.name} ({o.str_short()})")
    return list(operands)


def _sort_jvp(primals, tangents, *, dimension, num_keys):
    outs = sort_p.bind(*primals, dimension=dimension, num_keys=num_keys)
    nz = [i for i, t in enumerate(tangents) if type(t) is not Zero]
    t_outs = [ad.zero_of(o) for o in outs]
    if nz:
        # the same permutation (fixed by the keys) applied to the tangents: a separate sort whose
        # only non-constant operands are the tangents, so it is linear in them
        sorted_ts = sort_p.bind(*primals[:num_keys], *[tangents[i] for i in nz],
                                dimension=dimension, num_keys=num_keys)[num_keys:]
        for i, t in zip(nz, sorted_ts):
            t_outs[i] = t
    return outs, t_outs


def _sort_transpose(cts, *operands, dimension, num_keys):
    keys = operands[:num_keys]
    if any(ad.is_undefined_primal(k) for k in keys):
        raise NotImplementedError("sort: transposing with respect to a sort key (sort is linear "
                                  "only in its non-key operands)")
    lin = [i for i in range(num_keys, len(operands))
           if ad.is_undefined_primal(operands[i]) and type(cts[i]) is not Zero]
    res: list = [None] * len(operands)
    if not lin:
        return res
    # perm[j] = original position of the element at sorted position j; sorting (perm, ct) by perm
    # sends each cotangent back to where its element came from (the inverse permutation).
    perm = sort_p.bind(*keys, _iota_like(keys[0], dimension), dimension=dimension,
                       num_keys=num_keys)[-1]
    back = sort_p.bind(perm, *[cts[i] for i in lin], dimension=dimension, num_keys=1)[1:]
    for i, ct in zip(lin, back):
        res[i] = ct
    return res


def _sort_batch(axis_size, vals, dims, *, dimension, num_keys):
    vals = [batching.bdim_at_front(v, d, axis_size) for v, d in zip(vals, dims)]
    outs = sort_p.bind(*vals, dimension=dimension + 1, num_keys=num_keys)
    return outs, [0] * len(outs)


ad.primitive_jvps[sort_p] = _sort_jvp
ad.primitive_transposes[sort_p] = _sort_transpose
batching.primitive_batchers[sort_p] = _sort_batch

__all__ = ["sort", "sort1", "argsort", "sort_p"]
