"""numbax.lax: the primitive-level operations (exact shapes and dtypes, no numpy promotion),
and structured control flow (cond, switch, while_loop, fori_loop, scan, map)."""
from __future__ import annotations

from .core import get_aval
from .primitives.conditionals import cond, switch  # noqa: F401
from .primitives.elementwise import (  # noqa: F401
    abs, acos, acosh, add, asin, asinh, atan, atan2, atanh, bitwise_and, bitwise_not, bitwise_or,
    bitwise_xor, cbrt, ceil, convert_element_type, cos, cosh, digamma, div, eq, erf, erf_inv, erfc,
    exp, expm1, floor, ge, gt, integer_pow, is_finite, le, lgamma, log, log1p, logistic, lt, max,
    min, mul, ne, neg, nextafter, polygamma, pow, rem, round, rsqrt, select_n, sign, sin, sinh,
    sqrt, stop_gradient, sub, tan, tanh)
from .primitives.indexing import (  # noqa: F401
    dynamic_index_in_dim, dynamic_slice, dynamic_slice_in_dim, dynamic_update_slice,
    dynamic_update_slice_in_dim, gather, scatter, scatter_add, scatter_max, scatter_min,
    scatter_mul)
from .primitives.linalg import dot_general  # noqa: F401
from .primitives.loops import fori_loop, map, scan, while_loop  # noqa: F401
from .primitives.reductions import (  # noqa: F401
    argmax, argmin, cummax, cummin, cumprod, cumsum, reduce_and, reduce_max, reduce_min,
    reduce_or, reduce_prod, reduce_sum)
from .primitives.shape import (  # noqa: F401
    broadcast_in_dim, broadcasted_iota, concatenate, expand_dims, full, index_in_dim, iota, pad,
    reshape, rev, slice, slice_in_dim, squeeze, transpose)
from .primitives.sorting import sort  # noqa: F401

__all__ = [
    # elementwise
    "abs", "acos", "acosh", "add", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_not", "bitwise_or", "bitwise_xor", "cbrt", "ceil", "clamp", "convert_element_type",
    "cos", "cosh", "digamma", "div", "eq", "erf", "erf_inv", "erfc", "exp", "expm1", "floor", "ge",
    "gt", "integer_pow", "is_finite", "le", "lgamma", "log", "log1p", "logistic", "lt", "max",
    "min", "mul", "ne", "neg", "nextafter", "polygamma", "pow", "reciprocal", "rem", "round",
    "rsqrt", "select", "select_n", "sign", "sin", "sinh", "sqrt", "square", "stop_gradient", "sub",
    "tan", "tanh",
    # indexing
    "dynamic_index_in_dim", "dynamic_slice", "dynamic_slice_in_dim", "dynamic_update_slice",
    "dynamic_update_slice_in_dim", "gather", "scatter", "scatter_add", "scatter_max",
    "scatter_min", "scatter_mul",
    # products, reductions and sorting
    "dot", "dot_general", "argmax", "argmin", "cummax", "cummin", "cumprod", "cumsum",
    "reduce_and", "reduce_max", "reduce_min", "reduce_or", "reduce_prod", "reduce_sum", "sort",
    # shapes and creation
    "broadcast", "broadcast_in_dim", "broadcasted_iota", "concatenate", "expand_dims", "full",
    "full_like", "index_in_dim", "iota", "pad", "reshape", "rev", "slice", "slice_in_dim",
    "squeeze", "transpose", "zeros_like_array",
    # control flow
    "cond", "fori_loop", "map", "scan", "switch", "while_loop",
]


def select(pred, on_true, on_false):
    """pred ? on_true : on_false, elementwise (pred is boolean)."""
    return select_n(pred, on_false, on_true)


def broadcast(operand, sizes):
    """Prepend dimensions of the given sizes."""
    shape = get_aval(operand).shape
    sizes = tuple(sizes)
    return broadcast_in_dim(operand, sizes + shape, tuple(range(len(sizes), len(sizes) + len(shape))))


def full_like(x, fill_value, dtype=None, shape=None):
    """An array like x (its shape and dtype unless given) filled with fill_value."""
    aval = get_aval(x)
    return full(aval.shape if shape is None else shape, fill_value,
                aval.dtype if dtype is None else dtype)


def zeros_like_array(x):
    """Zeros of x's shape and dtype."""
    return full_like(x, 0)


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Vector/matrix products: contract the last axis of lhs with the first of rhs."""
    return dot_general(lhs, rhs, (((get_aval(lhs).ndim - 1,), (0,)), ((), ())))


def square(x):
    """x * x, as `integer_pow(x, 2)`."""
    return integer_pow(x, 2)


def reciprocal(x):
    """1 / x, as `integer_pow(x, -1)`. For integer x this truncates (1 / 3 is 0) where JAX
    raises."""
    return integer_pow(x, -1)


def clamp(lo, x, hi):
    """x clipped to [lo, hi] (lax's argument order)."""
    return min(max(x, lo), hi)
