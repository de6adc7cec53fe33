"""Elementwise primitives, each defined beside all of its rules.

Operands of an n-ary elementwise primitive have equal shapes, or are rank 0 (a scalar operand
broadcasts, which keeps literals such as `mul b 2.0:f64[]` out of broadcast equations). Their dtypes
are equal, except that weakly typed operands (Python scalars) adopt the strong dtype. numbax.numpy
does numpy-style broadcasting and promotion before binding.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..core import Primitive, ShapedArray, get_aval
from ..errors import user_frame
from ..interpreters import ad, batching
from ..interpreters.ad import Zero, defjvp, defjvp2, defjvp_zero, instantiate, unbroadcast


# --------------------------------------------------------------------------- shape/dtype rules

def shape_error(msg: str) -> TypeError:
    where = user_frame()
    return TypeError(f"{msg}\n  at {where}" if where else msg)


def _result_shape(name: str, avals) -> tuple:
    shape = ()
    for a in avals:
        if a.shape:
            if shape and a.shape != shape:
                raise shape_error(f"{name} got incompatible shapes for broadcasting: "
                                  + ", ".join(str(b.shape) for b in avals) + ".")
            shape = a.shape
    return shape


def _result_dtype(name: str, avals) -> tuple[np.dtype, bool]:
    strong = {a.dtype for a in avals if not a.weak_type}
    if len(strong) > 1:
        raise TypeError(f"{name} requires arguments to have the same dtypes, got "
                        + ", ".join(dtypes.short_name(a.dtype) for a in avals) + ".")
    dtype, weak = dtypes.result_type(*avals)
    if strong and dtype not in strong:
        raise TypeError(f"{name}: cannot combine {dtypes.short_name(next(iter(strong)))} with a "
                        f"weakly typed {dtypes.short_name(dtype)} value without a cast.")
    return dtype, weak


_FLOAT, _INT, _BOOL = "f", "iu", "b"


def _check_kinds(name, avals, kinds):
    for a in avals:
        if a.dtype.kind not in kinds:
            raise TypeError(f"{name} does not accept dtype {a.dtype.name}; it accepts "
                            + {_FLOAT: "floating", _FLOAT + _INT: "numeric",
                               _INT + _BOOL: "integer or bool",
                               _FLOAT + _INT + _BOOL: "any"}.get(kinds, kinds) + " dtypes.")


def standard_abstract_eval(name, kinds, out_dtype=None):
    def rule(*avals, **params):
        _check_kinds(name, avals, kinds)
        shape = _result_shape(name, avals)
        dtype, weak = _result_dtype(name, avals)
        if out_dtype is not None:
            return ShapedArray(shape, out_dtype, False)
        return ShapedArray(shape, dtype, weak)
    return rule


def _check_shapes_impl(name, args, first_typed=0):
    """Eager calls skip abstract evaluation: check what it would have (cheaply). Operands from
    `first_typed` on must agree in dtype (select_n's selector is exempt)."""
    shape = dtype = None
    for i, a in enumerate(args):
        s = np.shape(a)
        if s:
            if shape is not None and s != shape:
                raise shape_error(f"{name} got incompatible shapes for broadcasting: "
                                  + ", ".join(str(np.shape(b)) for b in args) + ".")
            shape = s
        d = getattr(a, "dtype", None) if i >= first_typed else None
        if d is not None:
            if dtype is not None and d != dtype:
                _result_dtype(name, [get_aval(b) for b in args[first_typed:]])
            dtype = d


def _quiet(fn):
    """numpy warns on log(0), 1/0, ...; numbax, like JAX, returns inf/nan silently."""
    def impl(*args, **params):
        with np.errstate(all="ignore"):
            return fn(*args, **params)
    return impl


def elementwise(name: str, impl, kinds=_FLOAT + _INT + _BOOL, out_dtype=None, nargs=1,
                quiet=False) -> Primitive:
    prim = Primitive(name)
    fn = _quiet(impl) if quiet else impl
    if nargs == 1:
        prim.impl = fn
    else:
        def checked(*args, **params):
            _check_shapes_impl(name, args)
            return fn(*args, **params)
        prim.impl = checked
    prim.abstract_eval = standard_abstract_eval(name, kinds, out_dtype)
    if nargs == 1:
        batching.defvectorized(prim)
    else:
        batching.defbroadcasting(prim)
    return prim


# --------------------------------------------------------------------------- arithmetic

def _trunc_div(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if np.result_type(x, y).kind in "iu":
        q = np.floor_divide(x, np.where(y == 0, 1, y))
        return np.where((np.remainder(x, np.where(y == 0, 1, y)) != 0) & ((x < 0) != (y < 0)),
                        q + 1, q)[()]
    return np.true_divide(x, y)


def _trunc_rem(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if np.result_type(x, y).kind in "iu":
        return (x - _trunc_div(x, y) * y)[()]
    return np.fmod(x, y)


add_p = elementwise("add", np.add, _FLOAT + _INT, nargs=2, quiet=True)
sub_p = elementwise("sub", np.subtract, _FLOAT + _INT, nargs=2, quiet=True)
mul_p = elementwise("mul", np.multiply, _FLOAT + _INT, nargs=2, quiet=True)
div_p = elementwise("div", _trunc_div, _FLOAT + _INT, nargs=2, quiet=True)
rem_p = elementwise("rem", _trunc_rem, _FLOAT + _INT, nargs=2, quiet=True)
neg_p = elementwise("neg", np.negative, _FLOAT + _INT)
max_p = elementwise("max", np.maximum, _FLOAT + _INT + _BOOL, nargs=2)
min_p = elementwise("min", np.minimum, _FLOAT + _INT + _BOOL, nargs=2)
pow_p = elementwise("pow", np.power, _FLOAT, nargs=2, quiet=True)
atan2_p = elementwise("atan2", np.arctan2, _FLOAT, nargs=2)
nextafter_p = elementwise("nextafter", np.nextafter, _FLOAT, nargs=2)


def add(x, y): return add_p.bind(x, y)
def sub(x, y): return sub_p.bind(x, y)
def mul(x, y): return mul_p.bind(x, y)
def div(x, y): return div_p.bind(x, y)
def rem(x, y): return rem_p.bind(x, y)
def neg(x): return neg_p.bind(x)
def max(x, y): return max_p.bind(x, y)  # noqa: A001 (lax's name)
def min(x, y): return min_p.bind(x, y)  # noqa: A001
def pow(x, y): return pow_p.bind(x, y)  # noqa: A001
def atan2(x, y): return atan2_p.bind(x, y)
def nextafter(x, y): return nextafter_p.bind(x, y)


def _add_transpose(ct, x, y):
    return [unbroadcast(x.aval, ct) if ad.is_undefined_primal(x) else None,
            unbroadcast(y.aval, ct) if ad.is_undefined_primal(y) else None]


def _sub_transpose(ct, x, y):
    return [unbroadcast(x.aval, ct) if ad.is_undefined_primal(x) else None,
            unbroadcast(y.aval, neg(ct)) if ad.is_undefined_primal(y) and type(ct) is not Zero
            else None]


defjvp(add_p, lambda g, x, y: g, lambda g, x, y: g)
ad.primitive_transposes[add_p] = _add_transpose
defjvp(sub_p, lambda g, x, y: g, lambda g, x, y: neg(g))
ad.primitive_transposes[sub_p] = _sub_transpose
defjvp(neg_p, lambda g, x: neg(g))
ad.primitive_transposes[neg_p] = lambda ct, x: [neg(ct) if type(ct) is not Zero else ct]
defjvp(mul_p, lambda g, x, y: mul(g, y), lambda g, x, y: mul(x, g))


def _mul_transpose(ct, x, y):
    if ad.is_undefined_primal(x) and ad.is_undefined_primal(y):
        raise NotImplementedError("mul: transposing a product of two linear values (the "
                                  "function is not linear in its tangent inputs)")
    if type(ct) is Zero:
        return [None, None]
    if ad.is_undefined_primal(x):
        return [unbroadcast(x.aval, mul(ct, y)), None]
    return [None, unbroadcast(y.aval, mul(x, ct))]


ad.primitive_transposes[mul_p] = _mul_transpose
defjvp2(div_p, lambda g, ans, x, y: div(g, y), lambda g, ans, x, y: neg(div(mul(g, ans), y)))


def _div_transpose(ct, x, y):
    if ad.is_undefined_primal(y):
        raise NotImplementedError("div: transposing with respect to the divisor (not linear)")
    if type(ct) is Zero:
        return [None, None]
    return [unbroadcast(x.aval, div(ct, y)), None]


ad.primitive_transposes[div_p] = _div_transpose
defjvp(rem_p, lambda g, x, y: g,
       lambda g, x, y: mul(neg(g), round_p.bind(div(sub(x, rem(x, y)), y), rounding_method=0)))


def _balanced_eq(x, z, y):
    """1 where x is the unique extremum, 1/2 where x and y tie, 0 elsewhere (JAX's rule)."""
    dt = get_aval(z).dtype
    one, half, zero = (np.array(v, dt)[()] for v in (1, 0.5, 0))
    return select_n(eq(x, z), zero, select_n(eq(y, z), one, half))


defjvp2(max_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
        lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))
defjvp2(min_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
        lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))


def _replace_zero(x):
    dt = get_aval(x).dtype
    return select_n(eq(x, np.array(0, dt)[()]), x, np.array(1, dt)[()])


defjvp2(pow_p,
        lambda g, ans, x, y: mul(g, mul(y, pow(x, sub(y, 1)))),
        lambda g, ans, x, y: mul(g, mul(log(_replace_zero(x)), ans)))


def _atan2_denominator(x, y):
    return add(mul(x, x), mul(y, y))


defjvp(atan2_p, lambda g, x, y: div(mul(g, y), _atan2_denominator(x, y)),
       lambda g, x, y: neg(div(mul(g, x), _atan2_denominator(x, y))))
defjvp_zero(nextafter_p)


# integer_pow: x ** n with a static integer n (x**2 is not pow(x, 2.0): exact and cheaper)
def _integer_pow_impl(x, *, y):
    if y == 0:
        return np.ones_like(x)[()] if isinstance(x, np.ndarray) else (x ** 0)
    return np.power(x, y) if y > 0 else np.reciprocal(np.power(x, -y))


integer_pow_p = elementwise("integer_pow", _integer_pow_impl, _FLOAT + _INT, quiet=True)


def integer_pow(x, y: int):
    return integer_pow_p.bind(x, y=int(y))


def _integer_pow_jvp(g, x, *, y):
    if y == 0:
        return mul(g, np.array(0, get_aval(x).dtype)[()])
    if y == 1:
        return g
    dt = get_aval(x).dtype
    coef = np.array(y, dt)[()]
    return mul(g, mul(coef, x if y == 2 else integer_pow(x, y - 1)))


defjvp(integer_pow_p, _integer_pow_jvp)


# --------------------------------------------------------------------------- transcendental

def _unary(name, impl, kinds=_FLOAT, quiet=False):
    return elementwise(name, impl, kinds, quiet=quiet)


exp_p = _unary("exp", np.exp, quiet=True)
log_p = _unary("log", np.log, quiet=True)
log1p_p = _unary("log1p", np.log1p, quiet=True)
expm1_p = _unary("expm1", np.expm1, quiet=True)
sin_p = _unary("sin", np.sin, quiet=True)
cos_p = _unary("cos", np.cos, quiet=True)
tan_p = _unary("tan", np.tan, quiet=True)
asin_p = _unary("asin", np.arcsin, quiet=True)
acos_p = _unary("acos", np.arccos, quiet=True)
atan_p = _unary("atan", np.arctan)
sinh_p = _unary("sinh", np.sinh, quiet=True)
cosh_p = _unary("cosh", np.cosh, quiet=True)
tanh_p = _unary("tanh", np.tanh)
asinh_p = _unary("asinh", np.arcsinh)
acosh_p = _unary("acosh", np.arccosh, quiet=True)
atanh_p = _unary("atanh", np.arctanh, quiet=True)
def _scipy_special(name):
    """A scipy.special function, imported on first use (scipy.special costs ~130 ms to import)."""
    def fn(*args, **kwargs):
        import scipy.special
        return getattr(scipy.special, name)(*args, **kwargs)
    fn.__name__ = name
    return fn


logistic_p = _unary("logistic", _scipy_special("expit"))
sqrt_p = _unary("sqrt", np.sqrt, quiet=True)
rsqrt_p = _unary("rsqrt", lambda x: 1.0 / np.sqrt(x) if np.ndim(x) else
                 np.asarray(x).dtype.type(1) / np.sqrt(x), quiet=True)
cbrt_p = _unary("cbrt", np.cbrt)
erf_p = _unary("erf", _scipy_special("erf"))
erfc_p = _unary("erfc", _scipy_special("erfc"))
erf_inv_p = _unary("erf_inv", _scipy_special("erfinv"), quiet=True)
lgamma_p = _unary("lgamma", _scipy_special("gammaln"), quiet=True)
digamma_p = _unary("digamma", _scipy_special("digamma"), quiet=True)
polygamma_p = _unary("polygamma", lambda x, *, m: np.asarray(_scipy_special("polygamma")(m, x), np.asarray(x).dtype)[()], quiet=True)


def exp(x): return exp_p.bind(x)
def log(x): return log_p.bind(x)
def log1p(x): return log1p_p.bind(x)
def expm1(x): return expm1_p.bind(x)
def sin(x): return sin_p.bind(x)
def cos(x): return cos_p.bind(x)
def tan(x): return tan_p.bind(x)
def asin(x): return asin_p.bind(x)
def acos(x): return acos_p.bind(x)
def atan(x): return atan_p.bind(x)
def sinh(x): return sinh_p.bind(x)
def cosh(x): return cosh_p.bind(x)
def tanh(x): return tanh_p.bind(x)
def asinh(x): return asinh_p.bind(x)
def acosh(x): return acosh_p.bind(x)
def atanh(x): return atanh_p.bind(x)
def logistic(x): return logistic_p.bind(x)
def sqrt(x): return sqrt_p.bind(x)
def rsqrt(x): return rsqrt_p.bind(x)
def cbrt(x): return cbrt_p.bind(x)
def erf(x): return erf_p.bind(x)
def erfc(x): return erfc_p.bind(x)
def erf_inv(x): return erf_inv_p.bind(x)
def lgamma(x): return lgamma_p.bind(x)
def digamma(x): return digamma_p.bind(x)
def polygamma(m: int, x): return polygamma_p.bind(x, m=int(m))


def _one(x):
    return np.array(1, get_aval(x).dtype)[()]


def _const(x, v):
    return np.array(v, get_aval(x).dtype)[()]


defjvp2(exp_p, lambda g, ans, x: mul(g, ans))
defjvp(log_p, lambda g, x: div(g, x))
defjvp(log1p_p, lambda g, x: div(g, add(x, _one(x))))
defjvp2(expm1_p, lambda g, ans, x: mul(g, add(ans, _one(x))))
defjvp(sin_p, lambda g, x: mul(g, cos(x)))
defjvp(cos_p, lambda g, x: neg(mul(g, sin(x))))
defjvp2(tan_p, lambda g, ans, x: mul(g, add(_one(x), mul(ans, ans))))
defjvp(asin_p, lambda g, x: mul(g, rsqrt(sub(_one(x), mul(x, x)))))
defjvp(acos_p, lambda g, x: neg(mul(g, rsqrt(sub(_one(x), mul(x, x))))))
defjvp(atan_p, lambda g, x: div(g, add(_one(x), mul(x, x))))
defjvp(sinh_p, lambda g, x: mul(g, cosh(x)))
defjvp(cosh_p, lambda g, x: mul(g, sinh(x)))
defjvp2(tanh_p, lambda g, ans, x: mul(g, sub(_one(x), mul(ans, ans))))
defjvp(asinh_p, lambda g, x: mul(g, rsqrt(add(mul(x, x), _one(x)))))
defjvp(acosh_p, lambda g, x: mul(g, rsqrt(mul(sub(x, _one(x)), add(x, _one(x))))))
defjvp(atanh_p, lambda g, x: div(g, sub(_one(x), mul(x, x))))
defjvp2(logistic_p, lambda g, ans, x: mul(g, mul(ans, sub(_one(x), ans))))
defjvp2(sqrt_p, lambda g, ans, x: div(g, mul(_const(x, 2), ans)))
defjvp2(rsqrt_p, lambda g, ans, x: mul(g, mul(_const(x, -0.5), div(ans, x))))
defjvp2(cbrt_p, lambda g, ans, x: mul(g, div(_const(x, 1 / 3), mul(ans, ans))))
defjvp(erf_p, lambda g, x: mul(g, mul(_const(x, 2 / math.sqrt(math.pi)), exp(neg(mul(x, x))))))
defjvp(erfc_p, lambda g, x: mul(g, mul(_const(x, -2 / math.sqrt(math.pi)), exp(neg(mul(x, x))))))
defjvp2(erf_inv_p, lambda g, ans, x: mul(g, mul(_const(x, math.sqrt(math.pi) / 2),
                                                exp(mul(ans, ans)))))
defjvp(lgamma_p, lambda g, x: mul(g, digamma(x)))
defjvp(digamma_p, lambda g, x: mul(g, polygamma(1, x)))
defjvp(polygamma_p, lambda g, x, *, m: mul(g, polygamma(m + 1, x)))


# --------------------------------------------------------------------------- sign, rounding

abs_p = _unary("abs", np.abs, _FLOAT + _INT)
sign_p = _unary("sign", np.sign, _FLOAT + _INT)
floor_p = _unary("floor", np.floor)
ceil_p = _unary("ceil", np.ceil)


def _round_impl(x, *, rounding_method):
    # 0: away from zero (lax.round default); 1: to nearest even (np.round)
    if rounding_method == 1:
        return np.round(x)
    return (np.sign(x) * np.floor(np.abs(x) + np.asarray(0.5, np.asarray(x).dtype)))[()]


round_p = _unary("round", _round_impl)
is_finite_p = elementwise("is_finite", np.isfinite, _FLOAT, out_dtype=dtypes.bool_)


def abs(x): return abs_p.bind(x)  # noqa: A001
def sign(x): return sign_p.bind(x)
def floor(x): return floor_p.bind(x)
def ceil(x): return ceil_p.bind(x)
def round(x, rounding_method: int = 0): return round_p.bind(x, rounding_method=rounding_method)  # noqa
def is_finite(x): return is_finite_p.bind(x)


defjvp(abs_p, lambda g, x: mul(g, sign(x)))
for _p in (sign_p, floor_p, ceil_p, round_p, is_finite_p):
    defjvp_zero(_p)


# --------------------------------------------------------------------------- comparisons, logic

eq_p = elementwise("eq", np.equal, out_dtype=dtypes.bool_, nargs=2)
ne_p = elementwise("ne", np.not_equal, out_dtype=dtypes.bool_, nargs=2)
lt_p = elementwise("lt", np.less, _FLOAT + _INT + _BOOL, out_dtype=dtypes.bool_, nargs=2)
le_p = elementwise("le", np.less_equal, _FLOAT + _INT + _BOOL, out_dtype=dtypes.bool_, nargs=2)
gt_p = elementwise("gt", np.greater, _FLOAT + _INT + _BOOL, out_dtype=dtypes.bool_, nargs=2)
ge_p = elementwise("ge", np.greater_equal, _FLOAT + _INT + _BOOL, out_dtype=dtypes.bool_, nargs=2)
and_p = elementwise("and", np.bitwise_and, _INT + _BOOL, nargs=2)
or_p = elementwise("or", np.bitwise_or, _INT + _BOOL, nargs=2)
xor_p = elementwise("xor", np.bitwise_xor, _INT + _BOOL, nargs=2)
not_p = elementwise("not", np.invert, _INT + _BOOL)


def eq(x, y): return eq_p.bind(x, y)
def ne(x, y): return ne_p.bind(x, y)
def lt(x, y): return lt_p.bind(x, y)
def le(x, y): return le_p.bind(x, y)
def gt(x, y): return gt_p.bind(x, y)
def ge(x, y): return ge_p.bind(x, y)
def bitwise_and(x, y): return and_p.bind(x, y)
def bitwise_or(x, y): return or_p.bind(x, y)
def bitwise_xor(x, y): return xor_p.bind(x, y)
def bitwise_not(x): return not_p.bind(x)


for _p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p, and_p, or_p, xor_p, not_p):
    defjvp_zero(_p)


# --------------------------------------------------------------------------- select_n

select_n_p = Primitive("select_n")


def select_n(which, *cases):
    """cases[which] elementwise; `which` is bool (2 cases) or int32/int64."""
    return select_n_p.bind(which, *cases)


@select_n_p.def_impl
def _select_n_impl(which, *cases):
    _check_shapes_impl("select_n", (which,) + cases, first_typed=1)
    if len(cases) == 1:
        return np.broadcast_to(cases[0], np.shape(which)).copy()[()] \
            if np.shape(which) and not np.shape(cases[0]) else cases[0]
    if len(cases) == 2 and np.asarray(which).dtype == np.bool_:
        return np.where(which, cases[1], cases[0])[()]
    return np.choose(np.asarray(which), [np.asarray(c) for c in cases], mode="clip")[()]


@select_n_p.def_abstract_eval
def _select_n_abstract_eval(which, *cases):
    if not cases:
        raise TypeError("select_n requires at least one case")
    if which.dtype.kind not in "biu":
        raise TypeError(f"select_n: the selector must be bool or integer, got {which.dtype.name}")
    if which.dtype.kind == "b" and len(cases) > 2:
        raise TypeError("select_n: a boolean selector admits at most 2 cases")
    shape = _result_shape("select_n", (which,) + cases)
    dtype, weak = _result_dtype("select_n", cases)
    return ShapedArray(shape, dtype, weak)


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n(which, *cases)
    case_ts = tangents[1:]
    if all(type(t) is Zero for t in case_ts):
        return out, ad.zero_of(out)
    out_aval = get_aval(out)
    ts = [ad._broadcast_to_out(instantiate(t), out_aval) for t in case_ts]
    return out, select_n(which, *ts)


def _select_n_transpose(ct, which, *cases):
    if ad.is_undefined_primal(which):
        raise NotImplementedError("select_n: the selector is not differentiable")
    if type(ct) is Zero:
        return [None] * (len(cases) + 1)
    zeros = ad.zeros_like_aval(get_aval(ct))
    outs = [None]
    for i, c in enumerate(cases):
        if ad.is_undefined_primal(c):
            branches = [zeros] * len(cases)
            branches[i] = ct
            outs.append(unbroadcast(c.aval, select_n(which, *branches)))
        else:
            outs.append(None)
    return outs


ad.primitive_jvps[select_n_p] = _select_n_jvp
ad.primitive_transposes[select_n_p] = _select_n_transpose
batching.defbroadcasting(select_n_p)


# --------------------------------------------------------------------------- casts

convert_element_type_p = Primitive("convert_element_type")


def convert_element_type(x, new_dtype, weak_type: bool = False):
    new_dtype = dtypes.check_supported(new_dtype)
    aval = get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)


@convert_element_type_p.def_impl
def _convert_impl(x, *, new_dtype, weak_type):
    if weak_type and np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        return {"f": float, "i": int, "u": int, "b": bool}[new_dtype.kind](x)
    with np.errstate(invalid="ignore"):
        return np.asarray(x).astype(new_dtype)[()]


@convert_element_type_p.def_abstract_eval
def _convert_abstract_eval(x, *, new_dtype, weak_type):
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if type(t) is Zero or new_dtype.kind != "f" or get_aval(x).dtype.kind != "f":
        return out, ad.zero_of(out)
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=False)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
    if type(ct) is Zero:
        return [None]
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype, weak_type=False)]


ad.primitive_jvps[convert_element_type_p] = _convert_jvp
ad.primitive_transposes[convert_element_type_p] = _convert_transpose
batching.defvectorized(convert_element_type_p)


# --------------------------------------------------------------------------- stop_gradient

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.impl = lambda x: x
stop_gradient_p.abstract_eval = lambda x: x
defjvp_zero(stop_gradient_p)
batching.defvectorized(stop_gradient_p)


def stop_gradient(x):
    """The identity whose derivative is zero, applied to every leaf of a pytree."""
    from ..core import Tracer
    from ..tree_util import tree_map
    return tree_map(lambda v: stop_gradient_p.bind(v) if isinstance(v, Tracer) else v, x)
