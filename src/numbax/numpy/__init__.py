"""numbax.numpy: numpy's API, traceable, differentiable and batchable.

Outside transformations these functions take and return numpy arrays, so results flow straight
into scipy and matplotlib; inside `grad`/`vmap`/`jit` they build the program being transformed.
Creation functions return `Array`, a numpy subclass with JAX's `x.at[idx].set(v)`.

Where numbax differs from numpy it follows JAX. Python scalars are weakly typed, as in JAX and
NumPy 2 (`x32 * 2.0` stays float32). Sorting has value semantics: `x.sort()` on a traced value
returns a sorted copy and leaves `x` alone. Traced out-of-bounds indices are clamped on reads
and dropped on updates. Functions whose output shape depends on the values (`unique`,
`nonzero`, boolean masks) need concrete input: they work eagerly and under `grad`, not under
`jit` or `vmap`. A function's docstring says where it differs; one without its own docstring
behaves as numpy's function of the same name.
"""
import numpy as _np

from ._array import Array, install_tracer_methods as _install
from ._creation import (arange, array, asarray, empty, empty_like, eye, full, full_like,
                        identity, linspace, logspace, meshgrid, ones, ones_like, tri, zeros,
                        zeros_like)
from ._contractions import dot, einsum, inner, kron, matmul, outer, tensordot, vdot
from ._indexing import argwhere, flatnonzero, nonzero, take, take_along_axis
from ._reductions import (all, amax, amin, any, argmax, argmin, average, count_nonzero, cumprod,
                          cumsum, cumulative_prod, cumulative_sum, max, mean, min, nanmean,
                          nansum, prod, ptp, std, sum, var)
from ._shapes import (array_split, atleast_1d, atleast_2d, atleast_3d, broadcast_arrays,
                      broadcast_to, column_stack, concatenate, diag, diagonal, dstack,
                      expand_dims, flip, fliplr, flipud, hsplit, hstack, matrix_transpose,
                      moveaxis, ndim, pad, permute_dims, ravel, repeat, reshape, roll, shape,
                      size, split, squeeze, stack, swapaxes, tile, trace, transpose, tril, triu,
                      vsplit, vstack)
from ._sorting import argsort, median, percentile, quantile, searchsorted, sort, unique
from ._ufuncs import (abs, absolute, acos, acosh, add, arccos, arccosh, arcsin, arcsinh, arctan,
                      arctan2, arctanh, around, asin, asinh, atan, atan2, atanh, bitwise_and,
                      bitwise_invert, bitwise_not, bitwise_or, bitwise_xor, cbrt, ceil, clip,
                      conj, conjugate, copysign, cos, cosh, deg2rad, degrees, divide, divmod,
                      equal, exp, exp2, expm1, fix, float_power, floor, floor_divide, fmod,
                      greater, greater_equal, heaviside, hypot, invert, isfinite, isinf, isnan,
                      isneginf, isposinf, less, less_equal, log, log1p, log2, log10, logaddexp,
                      logical_and, logical_not, logical_or, logical_xor, maximum, minimum, mod,
                      multiply, nan_to_num, negative, nextafter, not_equal, positive, power,
                      rad2deg, radians, real, reciprocal, remainder, rint, round, sign, signbit,
                      sin, sinc, sinh, sqrt, square, subtract, tan, tanh, true_divide, trunc,
                      where)
from . import linalg

# dtypes and constants are numpy's own
bool_ = _np.bool_
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
dtype, finfo, iinfo, issubdtype = _np.dtype, _np.finfo, _np.iinfo, _np.issubdtype
promote_types, result_type = _np.promote_types, _np.result_type
floating, integer, inexact, number, signedinteger, unsignedinteger = (
    _np.floating, _np.integer, _np.inexact, _np.number, _np.signedinteger, _np.unsignedinteger)
pi, e, inf, nan, newaxis, euler_gamma = _np.pi, _np.e, _np.inf, _np.nan, None, _np.euler_gamma
ndarray = _np.ndarray

_install()
del _install

__all__ = [
    # the array type
    "Array",
    # creation
    "arange", "array", "asarray", "empty", "empty_like", "eye", "full", "full_like", "identity",
    "linspace", "logspace", "meshgrid", "ones", "ones_like", "tri", "zeros", "zeros_like",
    # products and contractions
    "dot", "einsum", "inner", "kron", "matmul", "outer", "tensordot", "vdot",
    # indexing
    "argwhere", "flatnonzero", "nonzero", "take", "take_along_axis",
    # reductions
    "all", "amax", "amin", "any", "argmax", "argmin", "average", "count_nonzero", "cumprod",
    "cumsum", "cumulative_prod", "cumulative_sum", "max", "mean", "min", "nanmean", "nansum",
    "prod", "ptp", "std", "sum", "var",
    # shapes, joining and splitting
    "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_arrays", "broadcast_to",
    "column_stack", "concatenate", "diag", "diagonal", "dstack", "expand_dims", "flip", "fliplr",
    "flipud", "hsplit", "hstack", "matrix_transpose", "moveaxis", "ndim", "pad", "permute_dims",
    "ravel", "repeat", "reshape", "roll", "shape", "size", "split", "squeeze", "stack",
    "swapaxes", "tile", "trace", "transpose", "tril", "triu", "vsplit", "vstack",
    # sorting and order statistics
    "argsort", "median", "percentile", "quantile", "searchsorted", "sort", "unique",
    # elementwise
    "abs", "absolute", "acos", "acosh", "add", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
    "arctan2", "arctanh", "around", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_invert", "bitwise_not", "bitwise_or", "bitwise_xor", "cbrt", "ceil", "clip", "conj",
    "conjugate", "copysign", "cos", "cosh", "deg2rad", "degrees", "divide", "divmod", "equal",
    "exp", "exp2", "expm1", "fix", "float_power", "floor", "floor_divide", "fmod", "greater",
    "greater_equal", "heaviside", "hypot", "invert", "isfinite", "isinf", "isnan", "isneginf",
    "isposinf", "less", "less_equal", "log", "log10", "log1p", "log2", "logaddexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "mod", "multiply",
    "nan_to_num", "negative", "nextafter", "not_equal", "positive", "power", "rad2deg", "radians",
    "real", "reciprocal", "remainder", "rint", "round", "sign", "signbit", "sin", "sinc", "sinh",
    "sqrt", "square", "subtract", "tan", "tanh", "true_divide", "trunc", "where",
    # linear algebra
    "linalg",
    # numpy's own dtypes, dtype helpers and constants
    "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
    "float32", "float64", "dtype", "finfo", "iinfo", "issubdtype", "promote_types", "result_type",
    "floating", "integer", "inexact", "number", "signedinteger", "unsignedinteger", "ndarray",
    "pi", "e", "inf", "nan", "newaxis", "euler_gamma",
]
