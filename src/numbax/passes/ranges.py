"""A small value-range analysis for floating-point variables, used to prove the preconditions of
the `exp(log x)` and `log(exp x)` rewrites.

`value_range(v)` is a `Range(lo, hi, negzero)`: every element of v that is not NaN lies in
[lo, hi], and is never -0.0 unless `negzero`. (NaN is always possible and needs no tracking:
both rewrites map NaN to NaN.) Bounds come from the operations that produced v: exp, abs, even
powers and `x * x` are >= +0; logistic lies in [0, 1]; sin, cos and tanh in [-1, 1]; add,
sub, mul, neg, max, min, select and conversions combine their operands' ranges by interval
arithmetic. Computed bounds are widened by a relative 1e-6 (and the least float32 subnormal)
so that the rounding of float32 operations and the few-ulp error of transcendental functions
stay inside them; a zero bound is only kept where it is exact (the sign of the result is
known). Everything else is unbounded. The analysis runs only on demand (it follows producers
from a candidate `exp`/`log` pair, to a bounded depth) and caches its answers per walk.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..jaxpr import Literal

INF = math.inf


class Range(NamedTuple):
    lo: float
    hi: float
    negzero: bool    # may an element be -0.0?


FULL = Range(-INF, INF, True)
_MAX_DEPTH = 48
_TINY = 1.5e-45     # the least float32 subnormal


def _widen(lo: float, hi: float, negzero: bool) -> Range:
    if math.isnan(lo) or math.isnan(hi):
        return FULL
    lo = lo - abs(lo) * 1e-6 - (_TINY if lo < 0 else 0.0)
    hi = hi + abs(hi) * 1e-6 + (_TINY if hi > 0 else 0.0)
    return Range(lo, hi, negzero)


def _exp(x: float) -> float:
    if x > 709.0:
        return INF
    return math.exp(x) if x > -746.0 else 0.0


def _log(x: float) -> float:
    if x <= 0:
        return -INF
    return math.log(x) if x < INF else INF


def _mul(a: float, b: float) -> float:
    if (a == 0 and math.isinf(b)) or (b == 0 and math.isinf(a)):
        return math.nan
    try:
        return a * b
    except OverflowError:
        return math.copysign(INF, a) * math.copysign(1.0, b)


def _pow(x: float, y: int) -> float:
    try:
        return x ** y
    except OverflowError:
        return INF if x > 0 or y % 2 == 0 else -INF


def _contains_zero(r: Range) -> bool:
    return r.lo <= 0 <= r.hi


def literal_range(lit: Literal) -> Range:
    x = float(np.asarray(lit.val))
    if math.isnan(x):
        return FULL
    return Range(x, x, x == 0 and math.copysign(1.0, x) < 0)


def value_range(v, producer: dict, cache: dict, depth: int = 0) -> Range:
    if type(v) is Literal:
        return literal_range(v) if v.aval.dtype.kind in "fiub" else FULL
    r = cache.get(v)
    if r is not None:
        return r
    e = producer.get(v)
    if e is None or depth > _MAX_DEPTH or v.aval.dtype.kind != "f" or \
            v.aval.dtype.itemsize < 4:
        return FULL
    try:
        r = _fit(_transfer(e, v, producer, cache, depth + 1), v.aval.dtype)
    except (OverflowError, ValueError, ZeroDivisionError):
        r = FULL
    cache[v] = r
    return r


def _fit(r: Range, dtype) -> Range:
    """r for results of type dtype: bounds beyond its largest finite value may be infinite
    (overflow), bounds within its least normal of zero may be zero (underflow, sign kept)."""
    fi = np.finfo(dtype)
    fmax, tiny = float(fi.max), 2.0 * float(fi.tiny)
    lo, hi, nz = r
    if lo < -fmax:
        lo = -INF
    if hi > fmax:
        hi = INF
    if 0 < lo < tiny:
        lo = 0.0
    if -tiny < hi < 0:
        hi, nz = 0.0, True
    if -tiny < lo < 0:
        nz = True
    return Range(lo, hi, nz)


def _transfer(e, v, producer, cache, depth) -> Range:
    name = e.primitive.name
    ins = e.invars

    def rng(i):
        return value_range(ins[i], producer, cache, depth)

    if name in ("broadcast_in_dim", "reshape", "transpose", "squeeze", "rev", "slice",
                "stop_gradient"):
        return rng(0)
    if name == "exp":
        a = rng(0)
        return Range(max(0.0, _exp(a.lo) * (1 - 1e-6)), _exp(a.hi) * (1 + 1e-6), False)
    if name == "log":
        a = rng(0)
        if a.hi < 0:
            return FULL
        return _widen(_log(a.lo), _log(a.hi), False)
    if name == "abs":
        a = rng(0)
        hi = max(abs(a.lo), abs(a.hi))
        lo = 0.0 if _contains_zero(a) else min(abs(a.lo), abs(a.hi)) * (1 - 1e-6)
        return Range(lo, hi * (1 + 1e-6), False)
    if name == "sqrt":
        a = rng(0)
        if a.hi < 0:
            return FULL
        return Range(math.sqrt(max(a.lo, 0.0)) * (1 - 1e-6), math.sqrt(a.hi) * (1 + 1e-6),
                     a.negzero)
    if name == "logistic":
        return Range(0.0, 1.0, False)
    if name in ("sin", "tanh"):
        a = rng(0)
        return Range(-1.0, 1.0, a.negzero)
    if name == "cos":
        return Range(-1.0, 1.0, False)   # cos of a float is never exactly zero
    if name == "neg":
        a = rng(0)
        return Range(-a.hi, -a.lo, _contains_zero(a))
    if name == "integer_pow":
        y = e.params["y"]
        if y <= 0:
            return FULL
        a = rng(0)
        if y % 2 == 0:
            hi = _pow(max(abs(a.lo), abs(a.hi)), y)
            lo = 0.0 if _contains_zero(a) else _pow(min(abs(a.lo), abs(a.hi)), y) * (1 - 1e-6)
            return Range(lo, hi * (1 + 1e-6), False)
        lo, hi = _pow(a.lo, y), _pow(a.hi, y)
        return _widen(lo, hi, a.negzero or lo <= 0)
    if name == "mul":
        if ins[0] is ins[1]:
            a = rng(0)
            hi = _mul(max(abs(a.lo), abs(a.hi)), max(abs(a.lo), abs(a.hi)))
            lo = 0.0 if _contains_zero(a) else _mul(min(abs(a.lo), abs(a.hi)),
                                                    min(abs(a.lo), abs(a.hi))) * (1 - 1e-6)
            return Range(lo, hi * (1 + 1e-6), False)
        a, b = rng(0), rng(1)
        corners = [_mul(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        if any(math.isnan(c) for c in corners):
            return FULL
        lo, hi = min(corners), max(corners)
        return _widen(lo, hi, lo <= 0)
    if name == "add":
        a, b = rng(0), rng(1)
        lo, hi = a.lo + b.lo, a.hi + b.hi
        return _widen(lo, hi, a.negzero and b.negzero)
    if name == "sub":
        a, b = rng(0), rng(1)
        lo, hi = a.lo - b.hi, a.hi - b.lo
        return _widen(lo, hi, a.negzero and _contains_zero(b))
    if name in ("max", "min"):
        a, b = rng(0), rng(1)
        f = max if name == "max" else min
        return Range(f(a.lo, b.lo), f(a.hi, b.hi), a.negzero or b.negzero)
    if name == "select_n":
        rs = [rng(i) for i in range(1, len(ins))]
        return Range(min(r.lo for r in rs), max(r.hi for r in rs), any(r.negzero for r in rs))
    if name == "convert_element_type":
        src = ins[0].aval.dtype
        if src.kind == "b":
            return Range(0.0, 1.0, False)
        if src.kind in "iu":
            return Range(-INF, INF, False)
        if src.kind == "f" and src.itemsize >= 4:
            a = rng(0)
            lo, hi = a.lo, a.hi
            if v.aval.dtype.itemsize < src.itemsize:     # narrowing: may overflow, underflow
                fmax = float(np.finfo(v.aval.dtype).max)
                lo = -INF if lo < -fmax else lo
                hi = INF if hi > fmax else hi
                return _widen(lo, hi, a.negzero or lo < 0)
            return a
    return FULL
