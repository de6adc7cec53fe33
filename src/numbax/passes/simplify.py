"""Algebraic simplification.

Every rewrite here is exact in IEEE arithmetic (NaN, infinities and the sign of zero included),
except the two marked *inexact* below, which `exact=True` turns off.

Identities (the result is an operand):
  `x * 1`, `1 * x`, `x / 1`, `x - 0`, `x + (-0.0)` (float; `x + 0.0` is not x for x = -0.0),
  integer `x + 0`, `integer_pow[y=1] x`, `neg (neg x)`, `abs (abs x)`, `max(x, x)`,
  `min(x, x)`, `x & x`, `x | x`, a conversion to the dtype x already has (it only drops weak
  typing), a conversion round trip through a dtype that holds every value of x's dtype exactly
  (f32 -> f64 -> f32, i32 -> i64 -> i32, i32 -> f64 -> i32, bool -> anything -> bool; not
  f64 -> f32 -> f64 nor float -> int -> float), a transpose by the identity permutation, a
  reshape or broadcast to x's own shape, `select_n` of identical cases or of a literal
  predicate.
Cheaper forms of the same value:
  `x * -1` -> `neg x`; `a + neg b` -> `a - b` and `a - neg b` -> `a + b` (IEEE defines a - b
  as a + (-b)); `(neg a) * (neg b)` -> `a * b` and `(neg a) / (neg b)` -> `a / b` (float;
  rounding is symmetric in sign); `x * x` -> `integer_pow[y=2] x` (numpy's power and the
  Numba kernels both compute x*x); integer `integer_pow` chains multiply exponents (exact in
  wrapping integer arithmetic); integer `x * 0` -> a zero splat; `integer_pow[y=0]` -> a one
  splat (x**0 is 1 for NaN too); `abs (neg x)` -> `abs x`; `select_n(not p, a, b)` ->
  `select_n(p, b, a)`; transpose chains compose their permutations; reshape/squeeze chains
  become one reshape (a row-major reshape only relabels the flat sequence); broadcast_in_dim
  chains compose their broadcast_dimensions; conversion chains x -> m -> d with a lossless
  first step become one conversion x -> d (for float or bool d, or integer d from integers:
  one rounding of the same value either way); an elementwise operand that is a broadcast of a
  scalar becomes the scalar itself when another operand has the full result shape (so
  `x * broadcast 1.0` is `x * 1.0`, hence x); a `dot_general` with a scalar operand is a
  `mul`; a `cond` on a literal index is its branch, inlined.
Inexact (the one place results may change by rounding; off with `exact=True`):
  `exp (log x)` -> x, where the range analysis (ranges.py) proves x >= +0 (never -0.0; NaN
  allowed). Only the original's rounding differs: fl(log x) is off by up to about one ulp of
  ln x, which exp turns into a relative error of |ln x| eps, so the results differ relatively
  by at most about (1 + |ln x|) eps (eps = 2^-52 for float64, 2^-23 for float32): 3 eps for x
  in [e^-2, e^2], ~750 eps (1.7e-13) at float64's extremes (|ln x| <= 745), ~105 eps for
  float32; 0, inf and NaN map to themselves both ways.
  `log (exp x)` -> x, where the analysis proves x never -0.0 and exp(x) neither overflows nor
  goes subnormal (-708 <= x <= 709 in float64, -87 <= x <= 88 in float32). The original's
  error is absolute, from rounding exp(x): |log(exp x) - x| <= about 2^-52 (1 + |x|), i.e. a
  couple of ulp of x for |x| >= 1; for tiny x the original loses x altogether
  (log(exp 1e-20) is 0.0, the rewrite gives 1e-20).

Deliberately not done (not exact): `x + 0.0` for floats (-0.0 + 0.0 is +0.0), float `x * 0`
(NaN and inf), `x - x` (inf - inf is NaN), `x / x`, `neg (a - b)` -> `b - a` (for a == b the
first is -0.0, the second +0.0), float `integer_pow` chains ((x^2)^2 rounds twice, x^4 once),
`integer_pow(neg x)` -> `integer_pow x` for even exponents (numpy's power(-x, 4) differs from
power(x, 4) in the last bit for about 5% of float64 values), conversion round trips through
narrower types (f64 -> f32 -> f64, int64 -> f64 -> int64, float -> int -> float).

The operands of add, mul, eq, ne, and, or, xor are put in a canonical order so that CSE sees
`a * b` and `b * a` as the same expression; not those of max and min, which are not
commutative bit for bit (max(+0.0, -0.0) is +0.0, max(-0.0, +0.0) is -0.0).
"""
from __future__ import annotations

import numpy as np

from ..core import ShapedArray
from ..jaxpr import Jaxpr, JaxprEqn, Literal, Var
from ._engine import BROADCASTING, make_literal, run_rules
from .ranges import value_range


_PRIMS: list = []


def _prims():
    if not _PRIMS:
        from ..primitives import elementwise as el, shape as sh
        _PRIMS.extend((el, sh))
    return _PRIMS


def _is_lit(v, value) -> bool:
    """v is a literal equal to value (+0.0 only for value 0: -0.0 is not a zero for these)."""
    if type(v) is not Literal:
        return False
    x = np.asarray(v.val)
    return x.item() == value and not (value == 0 and x.dtype.kind == "f" and np.signbit(x))


def _is_neg_zero(v) -> bool:
    if type(v) is not Literal:
        return False
    x = np.asarray(v.val)
    return x.dtype.kind == "f" and x.item() == 0 and bool(np.signbit(x))


def _splat(value, out):
    _, sh = _prims()
    lit = make_literal(value, ShapedArray((), out.aval.dtype, out.aval.weak_type))
    if out.aval.ndim == 0:
        return lit
    return [JaxprEqn(sh.broadcast_in_dim_p, [lit],
                     {"shape": out.aval.shape, "broadcast_dimensions": ()}, [out])]


def _producer(w, v, name):
    if type(v) is Literal:
        return None
    e = w.producer.get(v)
    return e if e is not None and e.primitive.name == name else None


# --------------------------------------------------------------------------- rules per primitive

def _scalar_operands(w, eqn):
    """An elementwise operand that is a broadcast of a scalar becomes that scalar, while another
    operand still carries the result's shape."""
    ins = eqn.invars
    out_shape = eqn.outvars[0].aval.shape
    if not out_shape:
        return None
    new = list(ins)
    for i, v in enumerate(ins):
        if type(v) is Literal or not v.aval.ndim:
            continue
        s = w.splat_scalar(v)
        if s is None:
            continue
        if any(j != i and type(u) is not Literal and u.aval.shape == out_shape
               for j, u in enumerate(new)):
            new[i] = s
    if all(a is b for a, b in zip(new, ins)):
        return None
    return JaxprEqn(eqn.primitive, new, eqn.params, eqn.outvars)


def _fits(v, out) -> bool:
    """v has the result's dtype and shape (weak typing aside)."""
    return v.aval.dtype == out.aval.dtype and v.aval.shape == out.aval.shape


def _same(v, out) -> bool:
    return v.aval == out.aval


def _negated(w, v, out):
    p = _producer(w, v, "neg")
    return p.invars[0] if p is not None and _fits(p.invars[0], out) else None


def _mul(w, eqn):
    el, _ = _prims()
    a, b = eqn.invars
    out = eqn.outvars[0]
    for x, y in ((a, b), (b, a)):
        if _is_lit(y, 1) and _same(x, out):
            return x
    for x, y in ((a, b), (b, a)):
        if _is_lit(y, -1) and type(x) is not Literal and _fits(x, out):
            return JaxprEqn(el.neg_p, [x], {}, eqn.outvars)
    if out.aval.dtype.kind in "iu" and (_is_lit(a, 0) or _is_lit(b, 0)):
        return _splat(0, out)
    if out.aval.dtype.kind == "f":
        na, nb = _negated(w, a, out), _negated(w, b, out)
        if na is not None and nb is not None:
            return JaxprEqn(el.mul_p, [na, nb], {}, eqn.outvars)
    if a is b and type(a) is not Literal and _same(a, out):
        return JaxprEqn(el.integer_pow_p, [a], {"y": 2}, eqn.outvars)
    return None


def _div(w, eqn):
    el, _ = _prims()
    a, b = eqn.invars
    out = eqn.outvars[0]
    if _is_lit(b, 1) and _same(a, out):
        return a
    if out.aval.dtype.kind == "f":
        na, nb = _negated(w, a, out), _negated(w, b, out)
        if na is not None and nb is not None:
            return JaxprEqn(el.div_p, [na, nb], {}, eqn.outvars)
    return None


def _add(w, eqn):
    el, _ = _prims()
    a, b = eqn.invars
    out = eqn.outvars[0]
    for x, y in ((a, b), (b, a)):
        if (_is_neg_zero(y) or out.aval.dtype.kind in "iu" and _is_lit(y, 0)) and _same(x, out):
            return x
    for x, y in ((a, b), (b, a)):
        ny = _negated(w, y, out)
        if ny is not None and _fits(x, out):
            return JaxprEqn(el.sub_p, [x, ny], {}, eqn.outvars)
    return None


def _sub(w, eqn):
    el, _ = _prims()
    a, b = eqn.invars
    out = eqn.outvars[0]
    if _is_lit(b, 0) and _same(a, out):
        return a
    nb = _negated(w, b, out)
    if nb is not None and _fits(a, out):
        return JaxprEqn(el.add_p, [a, nb], {}, eqn.outvars)
    return None


def _neg(w, eqn):
    p = _producer(w, eqn.invars[0], "neg")
    if p is not None and _same(p.invars[0], eqn.outvars[0]):
        return p.invars[0]
    return None


def _abs(w, eqn):
    el, _ = _prims()
    x, out = eqn.invars[0], eqn.outvars[0]
    if _producer(w, x, "abs") is not None and _same(x, out):
        return x
    p = _producer(w, x, "neg")
    if p is not None and _fits(p.invars[0], out):
        return JaxprEqn(el.abs_p, [p.invars[0]], {}, eqn.outvars)
    return None


def _integer_pow(w, eqn):
    el, _ = _prims()
    y = eqn.params["y"]
    x, out = eqn.invars[0], eqn.outvars[0]
    if y == 1 and _same(x, out):
        return x
    if y == 0:
        return _splat(1, out)
    if out.aval.dtype.kind in "iu" and y > 0:
        p = _producer(w, x, "integer_pow")
        if p is not None and p.params["y"] > 0 and _fits(p.invars[0], out):
            return JaxprEqn(el.integer_pow_p, [p.invars[0]], {"y": y * p.params["y"]},
                            eqn.outvars)
    return None


def _idempotent(w, eqn):
    a, b = eqn.invars
    if a is b and _same(a, eqn.outvars[0]):
        return a
    return None


_MANTISSA = {2: 11, 4: 24, 8: 53}


def _lossless(src: np.dtype, mid: np.dtype) -> bool:
    """Every value of dtype src is exactly representable in dtype mid."""
    if src == mid or src.kind == "b":
        return True
    if mid.kind == "b":
        return False
    if src.kind == "f":
        return mid.kind == "f" and mid.itemsize >= src.itemsize
    bits = src.itemsize * 8 - (src.kind == "i")
    if mid.kind == "f":
        return bits <= _MANTISSA[mid.itemsize]
    s, m = np.iinfo(src), np.iinfo(mid)
    return m.min <= s.min and s.max <= m.max


def _convert(w, eqn):
    el, _ = _prims()
    x, out = eqn.invars[0], eqn.outvars[0]
    dst = out.aval.dtype
    if x.aval.dtype == dst and x.aval.shape == out.aval.shape:
        return x
    p = _producer(w, x, "convert_element_type")
    if p is None:
        return None
    src, mid = p.invars[0], x.aval.dtype
    if not _lossless(src.aval.dtype, mid):
        return None
    if src.aval.dtype == dst:
        return src if _same(src, out) else \
            JaxprEqn(el.convert_element_type_p, [src], eqn.params, eqn.outvars)
    kinds = src.aval.dtype.kind + mid.kind
    if dst.kind in "fb" or (dst.kind in "iu" and all(k in "iub" for k in kinds)):
        return JaxprEqn(el.convert_element_type_p, [src], eqn.params, eqn.outvars)
    return None


def _transpose(w, eqn):
    _, sh = _prims()
    x, out = eqn.invars[0], eqn.outvars[0]
    perm = eqn.params["permutation"]
    if perm == tuple(range(len(perm))) and _same(x, out):
        return x
    p = _producer(w, x, "transpose")
    if p is not None:
        inner = p.params["permutation"]
        composed = tuple(inner[j] for j in perm)
        if composed == tuple(range(len(composed))) and _same(p.invars[0], out):
            return p.invars[0]
        return JaxprEqn(sh.transpose_p, [p.invars[0]], {"permutation": composed}, eqn.outvars)
    return None


def _reshape(w, eqn):
    _, sh = _prims()
    x, out = eqn.invars[0], eqn.outvars[0]
    if _same(x, out):
        return x
    p = w.producer.get(x) if type(x) is not Literal else None
    if p is not None and p.primitive.name in ("reshape", "squeeze"):
        src = p.invars[0]
        if _same(src, out):
            return src
        return JaxprEqn(sh.reshape_p, [src], {"new_sizes": out.aval.shape}, eqn.outvars)
    return None


def _broadcast(w, eqn):
    _, sh = _prims()
    x, out = eqn.invars[0], eqn.outvars[0]
    dims = eqn.params["broadcast_dimensions"]
    if _same(x, out) and dims == tuple(range(out.aval.ndim)):
        return x
    p = _producer(w, x, "broadcast_in_dim")
    if p is not None:
        inner = p.params["broadcast_dimensions"]
        return JaxprEqn(sh.broadcast_in_dim_p, [p.invars[0]],
                        {"shape": eqn.params["shape"],
                         "broadcast_dimensions": tuple(dims[d] for d in inner)}, eqn.outvars)
    return None


def _select_n(w, eqn):
    el, sh = _prims()
    which, *cases = eqn.invars
    out = eqn.outvars[0]
    lit = w.splat_literal(which)
    if lit is not None:
        k = int(np.asarray(lit.val))
        chosen = cases[min(max(k, 0), len(cases) - 1)]
        if _same(chosen, out):
            return chosen
        if not chosen.aval.ndim and chosen.aval.dtype == out.aval.dtype and \
                chosen.aval.weak_type == out.aval.weak_type:
            return [JaxprEqn(sh.broadcast_in_dim_p, [chosen],
                             {"shape": out.aval.shape, "broadcast_dimensions": ()}, [out])]
        return None
    first = cases[0]
    if all(c is first or _lit_key(c) is not None and _lit_key(c) == _lit_key(first)
           for c in cases[1:]) and _same(first, out):
        return first
    if len(cases) == 2 and which.aval.dtype.kind == "b":
        p = _producer(w, which, "not")
        if p is not None and p.invars[0].aval == which.aval:
            return JaxprEqn(el.select_n_p, [p.invars[0], cases[1], cases[0]], {}, eqn.outvars)
    return None


def _lit_key(v):
    if type(v) is not Literal:
        return None
    x = np.asarray(v.val)
    if x.dtype.kind == "f" and np.isnan(x):
        return None
    return (v.aval, x.item(), bool(np.signbit(x)) if x.dtype.kind == "f" else False)


def _dot_general(w, eqn):
    """A product with a scalar operand contracts nothing: it is an elementwise product
    (transposing a dot with a scalar cotangent makes these), which fuses."""
    el, _ = _prims()
    ins, out = eqn.invars, eqn.outvars[0]
    if any(v.aval.ndim == 0 for v in ins) and all(v.aval.dtype == out.aval.dtype for v in ins):
        other = ins[1] if ins[0].aval.ndim == 0 else ins[0]
        if other.aval.shape == out.aval.shape:
            return JaxprEqn(el.mul_p, list(ins), {}, eqn.outvars)
    return None


_LOG_EXP_BOUNDS = {8: (-708.0, 709.0), 4: (-87.0, 88.0)}


def _exp(w, eqn):
    if w.exact:
        return None
    x, out = eqn.invars[0], eqn.outvars[0]
    p = _producer(w, x, "log")
    if p is None or out.aval.dtype.itemsize not in _LOG_EXP_BOUNDS:
        return None
    y = p.invars[0]
    if not _same(y, out):
        return None
    r = value_range(y, w.producer, w.ranges)
    if r.lo >= 0 and not r.negzero:
        return y
    return None


def _log(w, eqn):
    if w.exact:
        return None
    x, out = eqn.invars[0], eqn.outvars[0]
    p = _producer(w, x, "exp")
    bounds = _LOG_EXP_BOUNDS.get(out.aval.dtype.itemsize)
    if p is None or bounds is None:
        return None
    y = p.invars[0]
    if not _same(y, out):
        return None
    r = value_range(y, w.producer, w.ranges)
    if bounds[0] <= r.lo and r.hi <= bounds[1] and not r.negzero:
        return y
    return None


def _cond(w, eqn):
    """A cond on a known index is its branch: the branch's equations are inlined."""
    index = eqn.invars[0]
    lit = w.splat_literal(index)
    if lit is None:
        return None
    branches = eqn.params["branches"]
    b = branches[min(max(int(np.asarray(lit.val)), 0), len(branches) - 1)]
    if b.consts and (not w.top or
                     not all(isinstance(c, (np.ndarray, np.generic)) for c in b.consts)):
        return None
    if any(bv.aval != ov.aval for bv, ov in zip(b.outvars, eqn.outvars)):
        return None
    env = dict(zip(b.invars, eqn.invars[1:]))
    for v, c in zip(b.constvars, b.consts):
        env[v] = w.new_const(c, v.aval)

    def read(v):   # (through w.read: CSE may merge an inlined equation with an earlier one)
        return v if type(v) is Literal else w.read(env[v])
    outs = [read(v) if type(v) is Literal or v in env else None for v in b.outvars]
    if any(o is not None and o.aval != ov.aval for o, ov in zip(outs, eqn.outvars)):
        return None
    for e in b.eqns:
        new_outs = [Var(v.aval) for v in e.outvars]
        env.update(zip(e.outvars, new_outs))
        w.emit(JaxprEqn(e.primitive, [read(v) for v in e.invars], e.params, new_outs))
    w.again = True
    return tuple(read(v) for v in b.outvars)


RULES = {"mul": _mul, "div": _div, "add": _add, "sub": _sub, "neg": _neg, "abs": _abs,
         "integer_pow": _integer_pow, "max": _idempotent, "min": _idempotent,
         "and": _idempotent, "or": _idempotent, "convert_element_type": _convert,
         "transpose": _transpose, "reshape": _reshape, "squeeze": _reshape,
         "broadcast_in_dim": _broadcast, "select_n": _select_n, "dot_general": _dot_general,
         "exp": _exp, "log": _log, "cond": _cond}


def algebra_rule(w, eqn):
    name = eqn.primitive.name
    if name in BROADCASTING:
        new = _scalar_operands(w, eqn)
        if new is not None:
            return new
    rule = RULES.get(name)
    return None if rule is None else rule(w, eqn)


def simplify_jaxpr(jaxpr: Jaxpr, *, exact: bool = False) -> Jaxpr:
    """The algebraic simplifications alone (module docstring); `exact=True` leaves out the two
    inexact ones."""
    return run_rules(jaxpr, [algebra_rule], exact=exact)[0]
