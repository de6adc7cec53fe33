"""Elementwise functions with numpy's names: promote dtypes and broadcast shapes, then bind."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..core import get_aval
from ..primitives import elementwise as ew
from ..primitives.custom_derivatives import custom_jvp
from ._promote import asarray_arg, cast_to, check_arraylike, promote_args, promote_dtypes


def _kind_error(name, x, accepts):
    return TypeError(f"jnp.{name} does not accept dtype {get_aval(x).dtype.name}; "
                     f"it accepts {accepts} inputs")


def _unary(name, prim_fn, inexact=True, ints=True, bools=False):
    """A unary ufunc: ints/bools become float64 when the operation is float-valued."""
    def fn(x, /):
        x = asarray_arg(x)
        check_arraylike(name, x)
        kind = get_aval(x).dtype.kind
        if kind == "b" and not bools and not inexact:
            raise _kind_error(name, x, "numeric")
        if kind in "iub" and inexact:
            (x,) = promote_dtypes(name, x, to_inexact=True)
        elif kind in "iu" and not ints:
            raise _kind_error(name, x, "floating")
        return prim_fn(x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"numpy.{name}, traceable and differentiable."
    return fn


def _binary(name, prim_fn, inexact=False):
    def fn(x, y, /):
        x, y = promote_args(name, asarray_arg(x), asarray_arg(y), to_inexact=inexact)
        return prim_fn(x, y)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"numpy.{name}, traceable and differentiable, with numpy's broadcasting."
    return fn


# --------------------------------------------------------------------------- arithmetic

add = _binary("add", ew.add)
subtract = _binary("subtract", ew.sub)
multiply = _binary("multiply", ew.mul)
true_divide = divide = _binary("divide", ew.div, inexact=True)
maximum = _binary("maximum", ew.max)
minimum = _binary("minimum", ew.min)
arctan2 = _binary("arctan2", ew.atan2, inexact=True)
nextafter = _binary("nextafter", ew.nextafter, inexact=True)


def _bool_arith(name, fn_bool, fn):
    def wrapped(x, y, /):
        x, y = promote_args(name, asarray_arg(x), asarray_arg(y))
        return (fn_bool if get_aval(x).dtype.kind == "b" else fn)(x, y)
    wrapped.__name__ = wrapped.__qualname__ = name
    return wrapped


# numpy treats + and * on bools as logical or/and
add = _bool_arith("add", ew.bitwise_or, ew.add)
multiply = _bool_arith("multiply", ew.bitwise_and, ew.mul)
maximum = _bool_arith("maximum", ew.bitwise_or, ew.max)
minimum = _bool_arith("minimum", ew.bitwise_and, ew.min)


def _zero(x):
    return np.array(0, get_aval(x).dtype)[()]


def floor_divide(x, y, /):
    x, y = promote_args("floor_divide", asarray_arg(x), asarray_arg(y))
    if get_aval(x).dtype.kind == "f":
        return ew.floor(ew.div(ew.sub(x, remainder(x, y)), y))
    if get_aval(x).dtype.kind == "b":
        raise _kind_error("floor_divide", x, "numeric")
    q = ew.div(x, y)
    needs_fix = ew.bitwise_and(ew.ne(ew.rem(x, y), _zero(x)),
                               ew.ne(ew.lt(x, _zero(x)), ew.lt(y, _zero(y))))
    return ew.select_n(needs_fix, q, ew.sub(q, np.array(1, get_aval(q).dtype)[()]))


def remainder(x, y, /):
    """numpy's modulo: the result has the sign of the divisor."""
    x, y = promote_args("remainder", asarray_arg(x), asarray_arg(y))
    if get_aval(x).dtype.kind == "b":
        raise _kind_error("remainder", x, "numeric")
    r = ew.rem(x, y)
    fix = ew.bitwise_and(ew.ne(r, _zero(r)), ew.ne(ew.lt(r, _zero(r)), ew.lt(y, _zero(y))))
    return ew.select_n(fix, r, ew.add(r, y))


mod = remainder


def fmod(x, y, /):
    x, y = promote_args("fmod", asarray_arg(x), asarray_arg(y))
    return ew.rem(x, y)


def divmod(x, y, /):  # noqa: A001
    return floor_divide(x, y), remainder(x, y)


def _static_int(y):
    if isinstance(y, (bool, np.bool_)):
        return None
    if isinstance(y, (int, np.integer)):
        return int(y)
    return None


def power(x, y, /):
    """x ** y; a static integer exponent becomes integer_pow (exact, and cheap to differentiate).
    Integer arrays to an array or traced exponent raise NotImplementedError (cast to float)."""
    x = asarray_arg(x)
    n = _static_int(y)
    if n is not None:
        check_arraylike("power", x)
        aval = get_aval(x)
        if aval.dtype.kind == "b":
            x = cast_to(x, dtypes.int64, aval.weak_type)
        elif aval.dtype.kind in "iu" and n < 0:
            raise ValueError("Integers to negative integer powers are not allowed.")
        return ew.integer_pow(x, n)
    x, y = promote_args("power", x, asarray_arg(y))
    if get_aval(x).dtype.kind != "f":
        yv = np.asarray(y) if not hasattr(y, "_trace") else None
        if yv is None:
            raise NotImplementedError("jnp.power of integer arrays to a traced integer exponent is "
                                      "not supported; cast to float first")
        raise NotImplementedError("jnp.power of integer arrays to an array of exponents is not "
                                  "supported; cast to float first")
    return ew.pow(x, y)


def float_power(x, y, /):
    x, y = promote_args("float_power", asarray_arg(x), asarray_arg(y), to_inexact=True)
    return ew.pow(cast_to(x, dtypes.float64), cast_to(y, dtypes.float64))


def negative(x, /):
    x = asarray_arg(x)
    check_arraylike("negative", x)
    if get_aval(x).dtype.kind == "b":
        raise TypeError("The numpy boolean negative, the `-` operator, is not supported, use the "
                        "`~` operator or the logical_not function instead.")
    return ew.neg(x)


def positive(x, /):
    check_arraylike("positive", x)
    return x


def absolute(x, /):
    x = asarray_arg(x)
    check_arraylike("absolute", x)
    return x if get_aval(x).dtype.kind in "ub" else ew.abs(x)


abs = absolute  # noqa: A001


def sign(x, /):
    x = asarray_arg(x)
    check_arraylike("sign", x)
    return x if get_aval(x).dtype.kind == "b" else ew.sign(x)


def square(x, /):
    return power(x, 2)


def reciprocal(x, /):
    x = asarray_arg(x)
    check_arraylike("reciprocal", x)
    return ew.integer_pow(x, -1) if get_aval(x).dtype.kind == "f" else \
        floor_divide(np.array(1, get_aval(x).dtype)[()], x)


exp = _unary("exp", ew.exp)
log = _unary("log", ew.log)
log1p = _unary("log1p", ew.log1p)
expm1 = _unary("expm1", ew.expm1)
sqrt = _unary("sqrt", ew.sqrt)
cbrt = _unary("cbrt", ew.cbrt)
sin = _unary("sin", ew.sin)
cos = _unary("cos", ew.cos)
tan = _unary("tan", ew.tan)
arcsin = _unary("arcsin", ew.asin)
arccos = _unary("arccos", ew.acos)
arctan = _unary("arctan", ew.atan)
sinh = _unary("sinh", ew.sinh)
cosh = _unary("cosh", ew.cosh)
tanh = _unary("tanh", ew.tanh)
arcsinh = _unary("arcsinh", ew.asinh)
arccosh = _unary("arccosh", ew.acosh)
arctanh = _unary("arctanh", ew.atanh)
asin, acos, atan, asinh, acosh, atanh, atan2 = (arcsin, arccos, arctan, arcsinh, arccosh, arctanh,
                                                arctan2)


def _const_like(x, v):
    return np.array(v, get_aval(x).dtype)[()]


def exp2(x, /):
    (x,) = promote_dtypes("exp2", asarray_arg(x), to_inexact=True)
    return ew.exp(ew.mul(x, _const_like(x, np.log(2))))


def log2(x, /):
    (x,) = promote_dtypes("log2", asarray_arg(x), to_inexact=True)
    return ew.div(ew.log(x), _const_like(x, np.log(2)))


def log10(x, /):
    (x,) = promote_dtypes("log10", asarray_arg(x), to_inexact=True)
    return ew.div(ew.log(x), _const_like(x, np.log(10)))


def logaddexp(x, y, /):
    """log(exp(x) + exp(y)) without overflow, with a smooth derivative at x == y."""
    x, y = promote_args("logaddexp", asarray_arg(x), asarray_arg(y), to_inexact=True)
    return _logaddexp(x, y)


@custom_jvp
def _logaddexp(x, y):
    delta = ew.sub(x, y)
    nan = ew.ne(delta, delta)  # equal infinities (or a NaN input)
    safe = ew.select_n(nan, delta, _const_like(delta, 0.0))
    smooth = ew.add(ew.max(x, y), ew.log1p(ew.exp(ew.neg(ew.abs(safe)))))
    return ew.select_n(nan, smooth, ew.add(x, y))


@_logaddexp.defjvp
def _logaddexp_jvp(primals, tangents):
    """d out = tx * exp(x - out) + ty * exp(y - out); infinities replaced so no NaN appears."""
    (x, y), (tx, ty) = primals, tangents
    out = _logaddexp(x, y)

    def finite(v):
        return ew.select_n(ew.is_finite(v), _const_like(v, 0.0), v)
    wx = ew.exp(ew.sub(finite(x), finite(out)))
    wy = ew.exp(ew.sub(finite(y), finite(out)))
    return out, ew.add(ew.mul(tx, wx), ew.mul(ty, wy))


def hypot(x, y, /):
    x, y = promote_args("hypot", asarray_arg(x), asarray_arg(y), to_inexact=True)
    return sqrt(add(square(x), square(y)))


def deg2rad(x, /):
    (x,) = promote_dtypes("deg2rad", asarray_arg(x), to_inexact=True)
    return ew.mul(x, _const_like(x, np.pi / 180))


def rad2deg(x, /):
    (x,) = promote_dtypes("rad2deg", asarray_arg(x), to_inexact=True)
    return ew.mul(x, _const_like(x, 180 / np.pi))


radians, degrees = deg2rad, rad2deg


def _rounding(name, prim_fn):
    def fn(x, /):
        x = asarray_arg(x)
        check_arraylike(name, x)
        return x if get_aval(x).dtype.kind in "iub" else prim_fn(x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"numpy.{name}; integer and bool input comes back unchanged, as in JAX "
                  "(numpy returns floats for some of these, depending on its version).")
    return fn


floor = _rounding("floor", ew.floor)
ceil = _rounding("ceil", ew.ceil)
rint = _rounding("rint", lambda x: ew.round(x, 1))
trunc = _rounding("trunc", lambda x: ew.select_n(ew.lt(x, _const_like(x, 0)), ew.floor(x),
                                                 ew.ceil(x)))
fix = trunc


def round(a, decimals: int = 0):  # noqa: A001
    """numpy's round: halves to even, at `decimals` places (integers with negative decimals
    raise NotImplementedError)."""
    a = asarray_arg(a)
    check_arraylike("round", a)
    if get_aval(a).dtype.kind in "iub":
        if decimals >= 0:
            return a
        raise NotImplementedError("jnp.round of integers with negative decimals is not supported")
    if decimals == 0:
        return ew.round(a, 1)
    scale = _const_like(a, 10.0 ** decimals)
    return ew.div(ew.round(ew.mul(a, scale), 1), scale)


around = round


# --------------------------------------------------------------------------- predicates

def isfinite(x, /):
    x = asarray_arg(x)
    check_arraylike("isfinite", x)
    if get_aval(x).dtype.kind != "f":
        return full_like_bool(x, True)
    return ew.is_finite(x)


def isnan(x, /):
    x = asarray_arg(x)
    check_arraylike("isnan", x)
    if get_aval(x).dtype.kind != "f":
        return full_like_bool(x, False)
    return ew.ne(x, x)


def isinf(x, /):
    x = asarray_arg(x)
    check_arraylike("isinf", x)
    if get_aval(x).dtype.kind != "f":
        return full_like_bool(x, False)
    return ew.eq(ew.abs(x), _const_like(x, np.inf))


def isposinf(x, /):
    return logical_and(isinf(x), greater(x, 0))


def isneginf(x, /):
    return logical_and(isinf(x), less(x, 0))


def signbit(x, /):
    """numpy.signbit, true for -0.0; unlike numpy it is False for a NaN with the sign bit set."""
    x = asarray_arg(x)
    if get_aval(x).dtype.kind != "f":
        return less(x, 0)
    # -0.0 and negative NaNs have the bit set: compare 1/x for zeros
    neg = ew.lt(x, _const_like(x, 0))
    zero = ew.eq(x, _const_like(x, 0))
    return ew.bitwise_or(neg, ew.bitwise_and(zero, ew.lt(ew.div(_const_like(x, 1), x),
                                                          _const_like(x, 0))))


def full_like_bool(x, value: bool):
    from ..primitives.shape import full
    return full(get_aval(x).shape, np.bool_(value))


equal = _binary("equal", ew.eq)
not_equal = _binary("not_equal", ew.ne)
less = _binary("less", ew.lt)
less_equal = _binary("less_equal", ew.le)
greater = _binary("greater", ew.gt)
greater_equal = _binary("greater_equal", ew.ge)


def _to_bool(x):
    x = asarray_arg(x)
    check_arraylike("logical", x)
    aval = get_aval(x)
    if aval.dtype.kind == "b":
        return x
    return ew.ne(x, np.array(0, aval.dtype)[()] if not aval.weak_type else 0)


def logical_and(x, y, /):
    x, y = promote_args("logical_and", _to_bool(x), _to_bool(y))
    return ew.bitwise_and(x, y)


def logical_or(x, y, /):
    x, y = promote_args("logical_or", _to_bool(x), _to_bool(y))
    return ew.bitwise_or(x, y)


def logical_xor(x, y, /):
    x, y = promote_args("logical_xor", _to_bool(x), _to_bool(y))
    return ew.bitwise_xor(x, y)


def logical_not(x, /):
    return ew.bitwise_not(_to_bool(x))


def _bitwise(name, prim_fn):
    def fn(x, y, /):
        x, y = promote_args(name, asarray_arg(x), asarray_arg(y))
        if get_aval(x).dtype.kind == "f":
            raise _kind_error(name, x, "integer or bool")
        return prim_fn(x, y)
    fn.__name__ = fn.__qualname__ = name
    return fn


bitwise_and = _bitwise("bitwise_and", ew.bitwise_and)
bitwise_or = _bitwise("bitwise_or", ew.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", ew.bitwise_xor)


def invert(x, /):
    x = asarray_arg(x)
    check_arraylike("invert", x)
    if get_aval(x).dtype.kind == "f":
        raise _kind_error("invert", x, "integer or bool")
    return ew.bitwise_not(x)


bitwise_not = bitwise_invert = invert


# --------------------------------------------------------------------------- selection

def where(condition, x=None, y=None, /):
    """Elementwise select. Both branches are evaluated: to keep a NaN/inf in the untaken branch
    out of the gradient, guard its input too (the double-where idiom). With the condition alone
    it is nonzero(condition), for concrete input only."""
    if x is None and y is None:
        from ._indexing import nonzero
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("Either both or neither of the x and y arguments should be provided "
                         "to jnp.where")
    c = _to_bool(condition)
    x, y = promote_dtypes("where", asarray_arg(x), asarray_arg(y))
    c, x, y = _broadcast_all("where", c, x, y)
    return ew.select_n(c, y, x)


def _broadcast_all(name, *args):
    from ._promote import broadcast_shapes, broadcast_to
    shapes = [get_aval(a).shape for a in args]
    shape = broadcast_shapes(name, *shapes)
    return [a if s == shape or (s == () and any(t == shape for t in shapes)) else
            broadcast_to(a, shape) for a, s in zip(args, shapes)]


def clip(arr, min=None, max=None, /, *, a_min=None, a_max=None):  # noqa: A002
    """Clip to [min, max]; the gradient is 1 inside and 0 outside, as in JAX."""
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    out = asarray_arg(arr)
    check_arraylike("clip", out)
    if lo is not None:
        out = maximum(out, lo)
    if hi is not None:
        out = minimum(out, hi)
    return out


def copysign(x, y, /):
    x, y = promote_args("copysign", asarray_arg(x), asarray_arg(y), to_inexact=True)
    return where(signbit(y), negative(absolute(x)), absolute(x))


def heaviside(x, h0, /):
    x, h0 = promote_args("heaviside", asarray_arg(x), asarray_arg(h0), to_inexact=True)
    return where(less(x, 0), _const_like(x, 0.0), where(greater(x, 0), _const_like(x, 1.0), h0))


def sinc(x, /):
    (x,) = promote_dtypes("sinc", asarray_arg(x), to_inexact=True)
    px = multiply(x, np.pi)
    zero = equal(x, 0)
    safe = where(zero, _const_like(px, 1.0), px)
    return where(zero, _const_like(px, 1.0), divide(sin(safe), safe))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    x = asarray_arg(x)
    aval = get_aval(x)
    if aval.dtype.kind != "f":
        return x
    info = np.finfo(aval.dtype)
    x = where(isnan(x), _const_like(x, nan), x)
    x = where(isposinf(x), _const_like(x, info.max if posinf is None else posinf), x)
    return where(isneginf(x), _const_like(x, info.min if neginf is None else neginf), x)


def conjugate(x, /):
    """The identity: numbax has no complex dtypes."""
    return x


conj = conjugate


def real(x, /):
    """The identity: numbax has no complex dtypes."""
    return x
