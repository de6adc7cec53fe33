"""Scalar source for each elementwise primitive, inside a generated loop body.

Every rule maps operand *names* (SSA locals or literals, never compound expressions, so each is
evaluated once) to one Python expression that numba compiles to the numpy result bit for bit
where numpy is exact. Numba's arithmetic promotes differently from NumPy 2 (`int32 + int32` is
int64, `float32 * 2.5` is float64), so `cast` wraps any result whose dtype is not one numba keeps.
"""
from __future__ import annotations

import math

import numpy as np

from ...dtypes import float32, float64

#: numba type names for the dtypes the CPU backend compiles (float16 is not one of them)
NUMBA_TYPE = {np.dtype(np.bool_): "boolean", np.dtype(np.int8): "int8",
              np.dtype(np.int16): "int16", np.dtype(np.int32): "int32",
              np.dtype(np.int64): "int64", np.dtype(np.uint8): "uint8",
              np.dtype(np.uint16): "uint16", np.dtype(np.uint32): "uint32",
              np.dtype(np.uint64): "uint64", float32: "float32", float64: "float64"}

# dtypes whose arithmetic (and boxing to Python) numba already performs at the same width
NATIVE = frozenset([float64, np.dtype(np.int64), np.dtype(np.bool_)])


def numba_type(dtype: np.dtype, what: str = "value") -> str:
    try:
        return NUMBA_TYPE[np.dtype(dtype)]
    except KeyError:
        raise NotImplementedError(f"jit on the CPU backend does not compile {np.dtype(dtype).name} "
                                  f"({what}); use float32 or float64") from None


def cast(expr: str, dtype: np.dtype) -> str:
    """expr converted to dtype, unless numba already computes it in that dtype."""
    dtype = np.dtype(dtype)
    return expr if dtype in NATIVE else f"np.{dtype.name}({expr})"


def literal(value, dtype: np.dtype) -> str:
    """A typed constant: numba would otherwise treat `2.5` as float64 next to a float32."""
    dtype = np.dtype(dtype)
    v = np.asarray(value).astype(dtype)[()]
    if dtype.kind == "b":
        return "True" if v else "False"
    if dtype.kind == "f":
        f = float(v)
        text = ("np.nan" if math.isnan(f) else ("np.inf" if f > 0 else "-np.inf")) \
            if not math.isfinite(f) else repr(f)
    else:
        text = str(int(v))
    return text if dtype in NATIVE else f"np.{dtype.name}({text})"


def _f32(dtype) -> str:
    return "_f32" if np.dtype(dtype) == float32 else ""


def _binary(op):
    return lambda a, dt, out, p: cast(f"{a[0]} {op} {a[1]}", out)


def _call(fn, *, cast_result=True):
    return lambda a, dt, out, p: cast(f"{fn}({', '.join(a)})", out) if cast_result \
        else f"{fn}({', '.join(a)})"


def _helper(name):
    """A function of scalar_math, with its float32 variant for float32 operands."""
    return lambda a, dt, out, p: f"_sm.{name}{_f32(out)}({', '.join(a)})"


def _vector(name):
    """vector_math's version (float32 or float64 in, the same out): a libm call would stop the
    loop vectoriser."""
    return lambda a, dt, out, p: f"_vm.{name}({a[0]})"


def _div(a, dt, out, p):
    if out.kind in "iu":
        return f"_sm.trunc_div_int({a[0]}, {a[1]})"
    return cast(f"{a[0]} / {a[1]}", out)


def _rem(a, dt, out, p):
    if out.kind in "iu":
        return f"_sm.trunc_rem_int({a[0]}, {a[1]})"
    return cast(f"np.fmod({a[0]}, {a[1]})", out)


def _max(a, dt, out, p):
    x, y = a
    if out.kind == "f":  # numpy.maximum propagates NaN from either side; ties (0.0 and
        # -0.0) give the second operand
        return f"({x} if ({x} > {y} or {x} != {x}) else {y})"
    return f"({x} if {x} >= {y} else {y})"


def _min(a, dt, out, p):
    x, y = a
    if out.kind == "f":
        return f"({x} if ({x} < {y} or {x} != {x}) else {y})"
    return f"({x} if {x} <= {y} else {y})"


def _neg(a, dt, out, p):
    return cast(f"-{a[0]}", out)


def _integer_pow(a, dt, out, p):
    y, x = p["y"], a[0]
    if y == 0:
        return literal(1, out)
    # numpy's power for integer exponents is repeated squaring; a product chain matches it to
    # an ulp and compiles to a few multiplies
    prod = _pow_chain(x, abs(y))
    expr = prod if y > 0 else f"{literal(1, out)} / ({prod})"
    return cast(expr, out)


def _pow_chain(x: str, n: int) -> str:
    if n == 1:
        return x
    if n == 2:
        return f"{x} * {x}"
    if n <= 4:
        return " * ".join([x] * n)
    return f"{x} ** {n}"


def _convert(a, dt, out, p):
    x = a[0]
    if out.kind == "b":
        return f"({x} != 0)"
    return f"np.{out.name}({x})"


def _select_n(a, dt, out, p):
    which, cases = a[0], a[1:]
    if len(cases) == 1:
        return cases[0]
    if dt[0].kind == "b":
        return f"({cases[1]} if {which} else {cases[0]})"
    expr = cases[-1]  # numpy.choose(mode="clip"): out-of-range selectors clamp
    for i in range(len(cases) - 2, -1, -1):
        expr = f"({cases[i]} if {which} <= {i} else {expr})"
    return expr


def _sign(a, dt, out, p):
    x = a[0]
    if out.kind == "f":  # numpy: NaN stays NaN, both zeros give +0
        one, zero = literal(1, out), literal(0, out)
        return f"({one} if {x} > 0 else (-{one} if {x} < 0 else ({zero} if {x} == 0 else {x})))"
    return cast(f"(({x} > 0) - ({x} < 0))", out)


def _abs(a, dt, out, p):
    return cast(f"abs({a[0]})", out)


def _round(a, dt, out, p):
    name = "round_even" if p["rounding_method"] == 1 else "round_away"
    return f"_sm.{name}{_f32(out)}({a[0]})"


def _rsqrt(a, dt, out, p):
    return cast(f"{literal(1, out)} / math.sqrt({a[0]})", out)


def _not(a, dt, out, p):
    return f"(not {a[0]})" if out.kind == "b" else cast(f"~{a[0]}", out)


def _polygamma(a, dt, out, p):
    return f"_sm.polygamma{_f32(out)}({p['m']}, {a[0]})"


def _lgamma(a, dt, out, p):  # scipy's gammaln(-inf) is -inf; libm's lgamma says +inf
    x = a[0]
    return cast(f"(-np.inf if {x} == -np.inf else math.lgamma({x}))", out)


def _math(fn):
    return lambda a, dt, out, p: cast(f"math.{fn}({a[0]})", out)


def _np(fn):
    return lambda a, dt, out, p: cast(f"np.{fn}({', '.join(a)})", out)


RULES = {
    "add": _binary("+"), "sub": _binary("-"), "mul": _binary("*"), "div": _div, "rem": _rem,
    "neg": _neg, "max": _max, "min": _min, "pow": _binary("**"), "integer_pow": _integer_pow,
    "atan2": _call("math.atan2"), "nextafter": _helper("nextafter"),
    "exp": _vector("exp"), "log": _vector("log"), "log1p": _vector("log1p"),
    "expm1": _vector("expm1"),
    "sin": _math("sin"), "cos": _math("cos"), "tan": _math("tan"), "asin": _math("asin"),
    "acos": _math("acos"), "atan": _math("atan"), "sinh": _math("sinh"), "cosh": _math("cosh"),
    "tanh": _vector("tanh"), "asinh": _math("asinh"), "acosh": _math("acosh"),
    "atanh": _math("atanh"), "sqrt": _math("sqrt"), "rsqrt": _rsqrt, "cbrt": _helper("cbrt"),
    "logistic": _vector("logistic"), "erf": _math("erf"), "erfc": _math("erfc"),
    "erf_inv": _helper("erf_inv"), "lgamma": _lgamma, "digamma": _helper("digamma"),
    "polygamma": _polygamma, "igamma": _helper("igamma"), "igammac": _helper("igammac"),
    "betainc": _helper("betainc"), "ndtri": _helper("ndtri"),
    "abs": _abs, "sign": _sign, "floor": _np("floor"), "ceil": _np("ceil"), "round": _round,
    "is_finite": lambda a, dt, out, p: f"math.isfinite({a[0]})",
    "eq": _binary("=="), "ne": _binary("!="), "lt": _binary("<"), "le": _binary("<="),
    "gt": _binary(">"), "ge": _binary(">="),
    "and": _binary("&"), "or": _binary("|"), "xor": _binary("^"), "not": _not,
    "select_n": _select_n, "convert_element_type": _convert,
    "stop_gradient": lambda a, dt, out, p: a[0],
}


def scalar_expr(name: str, args: list[str], in_dtypes, out_dtype, params) -> str:
    rule = RULES.get(name)
    if rule is None:
        raise NotImplementedError(f"jit: no Numba lowering for the elementwise primitive {name!r}")
    return rule(args, [np.dtype(d) for d in in_dtypes], np.dtype(out_dtype), params)
