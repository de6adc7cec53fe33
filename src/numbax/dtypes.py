"""dtypes and type promotion.

numbax computes in float64 by default and follows NumPy 2 promotion (NEP 50), which agrees with
JAX (x64) on the point that matters most: Python scalars are *weakly typed*, so `x32 * 2.0` stays
float32 and `i32 + 1` stays int32.
"""
from __future__ import annotations

import numpy as np

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))

#: The dtype of tangents/cotangents of integer and boolean values (as in JAX): zero-sized.
float0 = np.dtype([("float0", np.void, 0)])

SUPPORTED = frozenset([bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
                       float16, float32, float64])

_SHORT = {bool_: "bool", int8: "i8", int16: "i16", int32: "i32", int64: "i64", uint8: "u8",
          uint16: "u16", uint32: "u32", uint64: "u64", float16: "f16", float32: "f32",
          float64: "f64", float0: "float0"}

# A Python scalar standing for each weak kind, so numpy's NEP 50 rules do the promotion.
_WEAK_STANDIN = {"b": True, "i": 0, "u": 0, "f": 0.0}
_DEFAULT_FOR_KIND = {"b": bool_, "i": int64, "u": int64, "f": float64}


def short_name(dtype: np.dtype) -> str:
    return _SHORT.get(dtype, str(dtype))


def check_supported(dtype, what: str = "value") -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in SUPPORTED:
        kind = "complex numbers" if dtype.kind == "c" else f"dtype {dtype}"
        raise NotImplementedError(f"numbax does not support {kind} (got a {what} of dtype {dtype}); "
                                  "supported: bool, signed/unsigned integers, float16/32/64.")
    return dtype


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def is_inexact(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def result_type(*avals_or_values) -> tuple[np.dtype, bool]:
    """Promote (dtype, weak_type) pairs: returns the result dtype and whether it is weak."""
    from .core import get_aval
    strong, weak = [], []
    for a in avals_or_values:
        aval = a if hasattr(a, "weak_type") and hasattr(a, "shape") and not hasattr(a, "_trace") \
            else get_aval(a)
        (weak if aval.weak_type else strong).append(aval.dtype)
    if not strong:
        kind = max((d.kind for d in weak), key="biuf".index)
        return _DEFAULT_FOR_KIND[kind], True
    if not weak:
        return (strong[0] if len(strong) == 1 else np.result_type(*strong)), False
    return np.result_type(*strong, *(_WEAK_STANDIN[d.kind] for d in weak)), False


def to_inexact(dtype: np.dtype) -> np.dtype:
    """The dtype a float-valued function (sin, exp, mean, ...) returns for an input dtype."""
    return dtype if dtype.kind == "f" else float64
