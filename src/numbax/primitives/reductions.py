"""Reductions (sum, max, min, prod, and, or, argmax, argmin) and cumulative reductions (cumsum,
cumprod, cummax, cummin), each beside its rules."""
from __future__ import annotations

import numpy as np

from ..core import Primitive, ShapedArray, get_aval
from ..interpreters import ad, batching
from ..interpreters.ad import Zero


def _canonical_axes(name, axes, ndim):
    raw = tuple(int(a) for a in axes)
    if any(not -ndim <= a < ndim for a in raw):
        raise TypeError(f"{name}: invalid axes {raw} for an array of rank {ndim}")
    axes = tuple(sorted(a % ndim for a in raw))
    if len(set(axes)) != len(axes):
        raise TypeError(f"{name}: repeated axes {raw} for an array of rank {ndim}")
    return axes


def _bind_reduction(prim, x, axes):
    axes = _canonical_axes(prim.name, axes, get_aval(x).ndim)
    return prim.bind(x, axes=axes) if axes else x


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
    return _bind_reduction(reduce_sum_p, x, axes)


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


# --------------------------------------------------------------------------- shared helpers

def _check_axes(name, x, axes):
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{name}: axes {axes} out of range for shape {x.shape}")


def _reduce_abstract_eval(name, kinds, what):
    def rule(x, *, axes):
        _check_axes(name, x, axes)
        if x.dtype.kind not in kinds:
            raise TypeError(f"{name} does not accept dtype {x.dtype.name}; it accepts {what} "
                            f"dtypes (got {x.str_short()})")
        return ShapedArray(_reduced_shape(x.shape, axes), x.dtype, x.weak_type)
    return rule


def _checked(prim, fn):
    """An impl that first runs the abstract evaluation rule, so that eager calls raise the same
    TypeErrors as staged ones (numpy's own errors would not name the primitive)."""
    def impl(*args, **params):
        prim.abstract_eval(*[get_aval(a) for a in args], **params)
        return fn(*args, **params)
    return impl


def _kept_dims(ndim, axes):
    return tuple(i for i in range(ndim) if i not in axes)


def _expand_reduced(y, shape, axes):
    """Broadcast a reduced value back to the operand's shape."""
    from .shape import broadcast_in_dim
    return broadcast_in_dim(y, shape, _kept_dims(len(shape), axes))


def _max_identity(dtype):
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def _min_identity(dtype):
    if dtype.kind == "f":
        return np.inf
    if dtype.kind == "b":
        return True
    return np.iinfo(dtype).max


# --------------------------------------------------------------------------- reduce_max, reduce_min

reduce_max_p = Primitive("reduce_max")
reduce_min_p = Primitive("reduce_min")


def reduce_max(x, axes):
    return _bind_reduction(reduce_max_p, x, axes)


def reduce_min(x, axes):
    return _bind_reduction(reduce_min_p, x, axes)


def _chooser_impl(ufunc, identity):
    def impl(x, *, axes):
        x = np.asarray(x)
        # `initial` makes empty reductions return the identity (-inf for max), as in JAX;
        # NaN still propagates.
        return np.asarray(ufunc.reduce(x, axis=axes, initial=identity(x.dtype)), x.dtype)[()]
    return impl


reduce_max_p.def_impl(_checked(reduce_max_p, _chooser_impl(np.maximum, _max_identity)))
reduce_min_p.def_impl(_checked(reduce_min_p, _chooser_impl(np.minimum, _min_identity)))
reduce_max_p.def_abstract_eval(_reduce_abstract_eval("reduce_max", "biuf", "bool or numeric"))
reduce_min_p.def_abstract_eval(_reduce_abstract_eval("reduce_min", "biuf", "bool or numeric"))


def _reduce_chooser_jvp(g, ans, x, *, axes):
    """JAX's rule: the tangent is averaged over the locations that attain the extremum."""
    from .elementwise import convert_element_type, div, eq, mul
    shape = get_aval(x).shape
    loc = convert_element_type(eq(x, _expand_reduced(ans, shape, axes)), get_aval(g).dtype)
    counts = reduce_sum(loc, axes)
    return div(reduce_sum(mul(g, loc), axes), counts)


ad.defjvp2(reduce_max_p, _reduce_chooser_jvp)
ad.defjvp2(reduce_min_p, _reduce_chooser_jvp)
batching.primitive_batchers[reduce_max_p] = _reduce_batch(reduce_max_p)
batching.primitive_batchers[reduce_min_p] = _reduce_batch(reduce_min_p)


# --------------------------------------------------------------------------- reduce_prod

reduce_prod_p = Primitive("reduce_prod")


def reduce_prod(x, axes):
    return _bind_reduction(reduce_prod_p, x, axes)


def _reduce_prod_impl(x, *, axes):
    x = np.asarray(x)
    return np.prod(x, axis=axes, dtype=x.dtype)[()]


reduce_prod_p.def_impl(_checked(reduce_prod_p, _reduce_prod_impl))
reduce_prod_p.def_abstract_eval(_reduce_abstract_eval("reduce_prod", "iuf", "numeric"))


def _exclusive_cumprod(x, axis, reverse):
    """prod of the elements strictly before (after, if reverse) each position: zero-safe."""
    from .shape import concatenate, full
    aval = get_aval(x)
    n = aval.shape[axis]
    one_shape = aval.shape[:axis] + (1,) + aval.shape[axis + 1:]
    ones = full(one_shape, 1, aval.dtype)
    if reverse:
        shifted = concatenate([_slice_axis(x, 1, n, 1, axis), ones], axis)
    else:
        shifted = concatenate([ones, _slice_axis(x, 0, n - 1, 1, axis)], axis)
    return cumprod(shifted, axis, reverse=reverse)


def _reduce_prod_jvp(primals, tangents, *, axes):
    """d prod(x) = sum_i t_i prod_{j != i} x_j, with the products of the others computed as
    exclusive cumulative products from both ends (exact when entries are zero, and built from
    differentiable primitives, so higher derivatives are right too)."""
    from .elementwise import mul
    from .shape import reshape, transpose
    (x,), (t,) = primals, tangents
    out = reduce_prod_p.bind(x, axes=axes)
    if type(t) is Zero:
        return out, ad.zero_of(out)
    aval = get_aval(x)
    kept = _kept_dims(aval.ndim, axes)
    n = int(np.prod([aval.shape[a] for a in axes], dtype=np.int64))
    new_shape = tuple(aval.shape[k] for k in kept) + (n,)
    perm = kept + axes
    xs = reshape(transpose(x, perm), new_shape)
    ts = reshape(transpose(t, perm), new_shape)
    last = len(new_shape) - 1
    if n <= 1:
        return out, reduce_sum(ts, (last,))
    others = mul(_exclusive_cumprod(xs, last, False), _exclusive_cumprod(xs, last, True))
    return out, reduce_sum(mul(ts, others), (last,))


ad.primitive_jvps[reduce_prod_p] = _reduce_prod_jvp
batching.primitive_batchers[reduce_prod_p] = _reduce_batch(reduce_prod_p)


# --------------------------------------------------------------------------- reduce_and, reduce_or

reduce_and_p = Primitive("reduce_and")
reduce_or_p = Primitive("reduce_or")


def reduce_and(x, axes):
    return _bind_reduction(reduce_and_p, x, axes)


def reduce_or(x, axes):
    return _bind_reduction(reduce_or_p, x, axes)


def _logical_impl(ufunc):
    def impl(x, *, axes):
        x = np.asarray(x)
        return np.asarray(ufunc.reduce(x, axis=axes), x.dtype)[()]
    return impl


# bitwise on integers (as lax.reduce_and/or), logical on bool
reduce_and_p.def_impl(_checked(reduce_and_p, _logical_impl(np.bitwise_and)))
reduce_or_p.def_impl(_checked(reduce_or_p, _logical_impl(np.bitwise_or)))
reduce_and_p.def_abstract_eval(_reduce_abstract_eval("reduce_and", "biu", "bool or integer"))
reduce_or_p.def_abstract_eval(_reduce_abstract_eval("reduce_or", "biu", "bool or integer"))
for _p in (reduce_and_p, reduce_or_p):
    ad.defjvp_zero(_p)
    batching.primitive_batchers[_p] = _reduce_batch(_p)


# --------------------------------------------------------------------------- argmax, argmin

argmax_p = Primitive("argmax")
argmin_p = Primitive("argmin")


def _arg_wrapper(prim):
    def wrapper(x, axis, index_dtype=np.int64):
        ndim = get_aval(x).ndim
        axis = int(axis)
        if not -ndim <= axis < ndim:
            raise TypeError(f"{prim.name}: axis {axis} out of range for an array of rank {ndim}")
        return prim.bind(x, axes=(axis % ndim,), index_dtype=np.dtype(index_dtype))
    wrapper.__name__ = prim.name
    wrapper.__doc__ = (f"Index of the first {prim.name[3:]}imum along `axis` (a NaN counts as the "
                       "extremum, as in numpy); no derivative.")
    return wrapper


argmax = _arg_wrapper(argmax_p)
argmin = _arg_wrapper(argmin_p)


def _arg_impl(fn):
    def impl(x, *, axes, index_dtype):
        # numpy returns the first NaN for both argmax and argmin, and the first occurrence of ties
        return np.asarray(fn(np.asarray(x), axis=axes[0]), index_dtype)[()]
    return impl


argmax_p.def_impl(_checked(argmax_p, _arg_impl(np.argmax)))
argmin_p.def_impl(_checked(argmin_p, _arg_impl(np.argmin)))


def _arg_abstract_eval(name):
    def rule(x, *, axes, index_dtype):
        if len(axes) != 1:
            raise TypeError(f"{name}: expects exactly one axis, got {axes}")
        _check_axes(name, x, axes)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name} does not accept dtype {x.dtype.name} ({x.str_short()})")
        if np.dtype(index_dtype).kind not in "iu":
            raise TypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
        if x.shape[axes[0]] == 0:
            raise TypeError(f"{name}: cannot take the {name} of an empty axis "
                            f"(axis {axes[0]} of {x.str_short()})")
        return ShapedArray(_reduced_shape(x.shape, axes), index_dtype)
    return rule


argmax_p.def_abstract_eval(_arg_abstract_eval("argmax"))
argmin_p.def_abstract_eval(_arg_abstract_eval("argmin"))
for _p in (argmax_p, argmin_p):
    ad.defjvp_zero(_p)
    batching.primitive_batchers[_p] = _reduce_batch(_p)


# --------------------------------------------------------------------------- cumulative reductions

cumsum_p = Primitive("cumsum")
cumprod_p = Primitive("cumprod")
cummax_p = Primitive("cummax")
cummin_p = Primitive("cummin")


def _cum_wrapper(prim):
    def wrapper(x, axis=0, reverse=False):
        ndim = get_aval(x).ndim
        axis = int(axis)
        if not -ndim <= axis < ndim:
            raise TypeError(f"{prim.name}: axis {axis} out of range for an array of rank {ndim}")
        if get_aval(x).shape[axis] <= 1:  # a no-op
            prim.abstract_eval(get_aval(x), axis=axis % ndim, reverse=bool(reverse))
            return x
        return prim.bind(x, axis=axis % ndim, reverse=bool(reverse))
    wrapper.__name__ = prim.name
    wrapper.__doc__ = (f"Cumulative {prim.name[3:]} along `axis` (from the end if `reverse`).")
    return wrapper


cumsum = _cum_wrapper(cumsum_p)
cumprod = _cum_wrapper(cumprod_p)
cummax = _cum_wrapper(cummax_p)
cummin = _cum_wrapper(cummin_p)


def _cum_impl(accumulate):
    def impl(x, *, axis, reverse):
        x = np.asarray(x)
        if reverse:
            return np.flip(accumulate(np.flip(x, axis), axis, x.dtype), axis).copy()
        return accumulate(x, axis, x.dtype)
    return impl


_ACCUMULATE = {
    cumsum_p: lambda x, axis, dt: np.cumsum(x, axis=axis, dtype=dt),
    cumprod_p: lambda x, axis, dt: np.cumprod(x, axis=axis, dtype=dt),
    cummax_p: lambda x, axis, dt: np.maximum.accumulate(x, axis=axis, dtype=dt),
    cummin_p: lambda x, axis, dt: np.minimum.accumulate(x, axis=axis, dtype=dt),
}
for _p, _acc in _ACCUMULATE.items():
    _p.def_impl(_checked(_p, _cum_impl(_acc)))


def _cum_abstract_eval(name, kinds, what):
    def rule(x, *, axis, reverse):
        if not 0 <= axis < x.ndim:
            raise TypeError(f"{name}: axis {axis} out of range for shape {x.shape}")
        if x.dtype.kind not in kinds:
            raise TypeError(f"{name} does not accept dtype {x.dtype.name}; it accepts {what} "
                            f"dtypes (got {x.str_short()})")
        return x
    return rule


cumsum_p.def_abstract_eval(_cum_abstract_eval("cumsum", "iuf", "numeric"))
cumprod_p.def_abstract_eval(_cum_abstract_eval("cumprod", "iuf", "numeric"))
cummax_p.def_abstract_eval(_cum_abstract_eval("cummax", "biuf", "bool or numeric"))
cummin_p.def_abstract_eval(_cum_abstract_eval("cummin", "biuf", "bool or numeric"))


def _cumsum_transpose(ct, x, *, axis, reverse):
    if type(ct) is Zero:
        return [None]
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


ad.deflinear(cumsum_p, _cumsum_transpose)


def _slice_axis(x, start, limit, stride, axis):
    """x[start:limit:stride] along `axis` (through shape.slice)."""
    from .shape import slice as slice_
    shape = get_aval(x).shape
    starts = [0] * len(shape)
    limits = list(shape)
    strides = [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, stride
    return slice_(x, tuple(starts), tuple(limits), tuple(strides))


def _interleave(a, b, axis):
    """[a0, b0, a1, b1, ...] along `axis`, where len(a) is len(b) or len(b) + 1."""
    from .shape import concatenate, reshape
    sa, sb = get_aval(a).shape, get_aval(b).shape
    m = sb[axis]
    if sa[axis] == m + 1:
        head = _interleave(_slice_axis(a, 0, m, 1, axis), b, axis)
        return concatenate([head, _slice_axis(a, m, m + 1, 1, axis)], axis)
    expanded = sa[:axis + 1] + (1,) + sa[axis + 1:]
    pairs = concatenate([reshape(a, expanded), reshape(b, expanded)], axis + 1)
    return reshape(pairs, sa[:axis] + (2 * m,) + sa[axis + 1:])


def _associative_scan(fn, x, axis):
    """The inclusive scan of `fn` along `axis` by the parallel prefix recursion of
    jax.lax.associative_scan, built from slices, concatenations and `fn` only, so that it can be
    differentiated (to any order) by differentiating its pieces."""
    from .shape import concatenate
    n = get_aval(x).shape[axis]
    if n < 2:
        return x
    reduced = fn(_slice_axis(x, 0, n - 1, 2, axis), _slice_axis(x, 1, n, 2, axis))
    odd = _associative_scan(fn, reduced, axis)
    m = get_aval(odd).shape[axis]
    if n == 2:
        return _interleave(_slice_axis(x, 0, 1, 1, axis), odd, axis)
    if n % 2 == 0:
        even = fn(_slice_axis(odd, 0, m - 1, 1, axis), _slice_axis(x, 2, n, 2, axis))
    else:
        even = fn(odd, _slice_axis(x, 2, n, 2, axis))
    even = concatenate([_slice_axis(x, 0, 1, 1, axis), even], axis)
    return _interleave(even, odd, axis)


def _cumulative_jvp(prim, combine):
    """JAX's rule: differentiate the associative scan that computes the same thing. The primal is
    the primitive's own (cheaper) result; the tangent comes from the jvp of the scan."""
    def rule(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axis=axis, reverse=reverse)
        if type(t) is Zero:
            return out, ad.zero_of(out)
        from .shape import rev

        def scan(v):
            if reverse:
                return [rev(_associative_scan(combine(), rev(v, (axis,)), axis), (axis,))]
            return [_associative_scan(combine(), v, axis)]
        _, (t_out,) = ad.jvp_flat(scan, [x], [t])
        return out, ad.instantiate(t_out)
    return rule


def _combine_mul():
    from .elementwise import mul
    return mul


def _combine_max():
    from .elementwise import max as max_
    return max_


def _combine_min():
    from .elementwise import min as min_
    return min_


ad.primitive_jvps[cumprod_p] = _cumulative_jvp(cumprod_p, _combine_mul)
ad.primitive_jvps[cummax_p] = _cumulative_jvp(cummax_p, _combine_max)
ad.primitive_jvps[cummin_p] = _cumulative_jvp(cummin_p, _combine_min)


def _cum_batch(prim):
    def rule(axis_size, vals, dims, *, axis, reverse):
        (x,), (d,) = vals, dims
        return prim.bind(x, axis=axis + (d <= axis), reverse=reverse), d
    return rule


for _p in (cumsum_p, cumprod_p, cummax_p, cummin_p):
    batching.primitive_batchers[_p] = _cum_batch(_p)
