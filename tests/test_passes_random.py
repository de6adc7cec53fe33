"""Random programs through the jaxpr passes: every pass, alone and all of them together
(optimize_jaxpr), leaves the evaluated results unchanged bit for bit (NaN positions and the sign
of zero included) on inputs full of NaN, infinities, signed zeros, huge and tiny values; only
the two documented inexact rewrites (`exp(log x)`, `log(exp x)`) may change results, by the
documented rounding, and they are checked against that bound."""
import itertools
import math

import numpy as np
from hypothesis import given, settings, strategies as st

import numbax as nb
import numbax.numpy as jnp
from numbax import lax
from numbax.jaxpr import Literal, eval_jaxpr, subjaxprs, typecheck_jaxpr
from numbax.passes import (cse_jaxpr, dce_jaxpr, fold_constants, optimize_jaxpr,
                           simplify_jaxpr)

SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5, 2.0, -3.0, 1e308, -1e308,
           5e-324, -5e-324, 1e-300, 2.2e-308, 710.0, -746.0, 88.0, -104.0, 1e-20, 3e38]
LITERALS = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, math.nan, math.inf, -math.inf, -0.0, 0.0, 1.0]
UNARY = ["neg", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "logistic", "square",
         "log1p", "expm1", "sign", "floor", "neg_neg", "abs_neg"]
BINARY = ["add", "sub", "mul", "div", "max", "min"]
OPS = ["unary"] * 4 + ["binary"] * 4 + ["literal"] * 6 + [
    "pow", "pow_neg", "pow_pow", "reshape", "transpose", "transpose2", "broadcast",
    "expand_squeeze", "convert", "reduce", "where", "where_not", "select_literal", "splat", "splat_expr",
    "splat_expr", "maxmin", "cond",
    "cond_literal", "exp_log", "log_exp", "neg_sub", "int_path", "cse_pair", "cse_zero"]
INPUT_SHAPES = [(2, 3), (2, 3), (3,), ()]


def _shapes_of(size):
    out = []
    for nd in (1, 2, 3):
        for dims in itertools.product(range(1, size + 1), repeat=nd):
            if math.prod(dims) == size:
                out.append(dims)
    return out


def _unary(name, x):
    if name == "neg":
        return -x
    if name == "square":
        return x * x
    if name == "logistic":
        return nb.nn.sigmoid(x)
    if name == "neg_neg":
        return -(-x)
    if name == "abs_neg":
        return jnp.abs(-x)
    return getattr(jnp, name)(x)


def _binary(name, a, b):
    return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "div": lambda: a / b, "max": lambda: jnp.maximum(a, b),
            "min": lambda: jnp.minimum(a, b)}[name]()


def _partner(pool, a, j, p):
    """An operand to combine with a: a itself, a value of a's shape, or a scalar."""
    if p % 5 == 0:
        return a
    cands = [v for v in pool if v.shape == a.shape or v.shape == ()]
    return cands[j % len(cands)]


def build(steps, n_in, drop):
    """The function a recipe stands for: each step appends a value computed from earlier ones."""
    def f(*args):
        pool = list(args)
        for op, i, j, p in steps:
            a = pool[i % len(pool)]
            if op == "unary":
                y = _unary(UNARY[p % len(UNARY)], a)
            elif op == "binary":
                y = _binary(BINARY[p % len(BINARY)], a, _partner(pool, a, j, p))
            elif op == "literal":
                c = LITERALS[j % len(LITERALS)]
                name = BINARY[p % len(BINARY)]
                y = _binary(name, a, c) if p % 2 else _binary(name, c, a)
            elif op == "pow":
                y = lax.integer_pow(a, [-2, -1, 0, 1, 2, 3, 4][p % 7])
            elif op == "pow_pow":
                y = lax.integer_pow(lax.integer_pow(a, 1 + j % 3), 1 + p % 3)
            elif op == "pow_neg":
                y = lax.integer_pow(-a, [-2, -1, 0, 1, 2, 3, 4][p % 7])
            elif op == "reshape":
                shapes = _shapes_of(a.size)
                s1, s2 = shapes[j % len(shapes)], shapes[p % len(shapes)]
                y = a.reshape(s1).reshape(s2)
            elif op == "transpose":
                if a.ndim < 3 and a.size in (6, 12, 18, 24):
                    a = a.reshape((2, 3, -1))
                perms = list(itertools.permutations(range(a.ndim)))
                y = jnp.transpose(jnp.transpose(a, perms[j % len(perms)]), perms[p % len(perms)])
            elif op == "transpose2":
                y = a.T.T if p % 2 else a.T
            elif op == "broadcast":
                if a.size > 12:
                    y = jnp.sum(a, axis=0)
                else:
                    b = jnp.broadcast_to(a, (2,) + a.shape)
                    y = jnp.broadcast_to(b, (2,) + b.shape) if p % 2 else b
            elif op == "expand_squeeze":
                y = jnp.squeeze(jnp.expand_dims(jnp.expand_dims(a, 0), -1), (0,))
            elif op == "convert":
                other = np.float32 if a.dtype == np.float64 else np.float64
                y = a.astype(other).astype(a.dtype)
            elif op == "reduce":
                fn = [jnp.sum, jnp.max, jnp.min][p % 3]
                y = fn(a) if a.ndim == 0 or j % 2 else fn(a, axis=j % a.ndim)
            elif op == "where":
                b = _partner(pool, a, j, p)
                c = _partner(pool, a, j + 1, p + 1)
                y = jnp.where(a > b, c, a)
            elif op == "maxmin":
                b = [_partner(pool, a, j, p), LITERALS[j % len(LITERALS)]][p % 2]
                fn = jnp.maximum if j % 2 else jnp.minimum
                y = fn(b, a) if (p // 2) % 2 else fn(a, b)
            elif op == "where_not":
                b = _partner(pool, a, j, p)
                y = jnp.where(~(a > b), a, -b)
            elif op == "select_literal":
                b = _partner(pool, a, j, p + 1)
                y = lax.select_n(np.bool_(p % 2), a, b) if b.shape == a.shape else -a
            elif op == "splat":
                c = LITERALS[j % len(LITERALS)]
                y = [lambda: a * jnp.ones_like(a), lambda: a + jnp.zeros_like(a),
                     lambda: a - jnp.full_like(a, c), lambda: jnp.full_like(a, c) * 2.0,
                     lambda: a + jnp.full_like(a, -0.0)][p % 5]()
            elif op == "splat_expr":
                c1, c2 = LITERALS[j % len(LITERALS)], LITERALS[p % len(LITERALS)]
                k = _binary(BINARY[(j + p) % len(BINARY)], jnp.full_like(a, c1), c2)
                k = _unary(UNARY[p % len(UNARY)], k) if j % 3 == 0 else k
                y = k if p % 2 else k * a
            elif op == "cond":
                u1, u2 = UNARY[j % len(UNARY)], UNARY[p % len(UNARY)]
                y = lax.cond(jnp.sum(a) > 0, lambda x: _unary(u1, x) * 1.0,
                             lambda x: _unary(u2, -(-x)), a)
            elif op == "cond_literal":
                y = lax.cond(np.bool_(p % 2), lambda x: x * 1.0 - 0.0, lambda x: x + 1.0, a)
            elif op == "exp_log":
                inner = [jnp.abs, jnp.exp, nb.nn.sigmoid, lambda x: x * x, lambda x: x,
                         jnp.sqrt, jnp.cos][p % 7]
                y = jnp.exp(jnp.log(inner(a)))
            elif op == "log_exp":
                inner = [nb.nn.sigmoid, jnp.cos, jnp.tanh, jnp.sin, lambda x: x,
                         lambda x: jnp.abs(jnp.sin(x)) + 2.0][p % 6]
                y = jnp.log(jnp.exp(inner(a)))
            elif op == "neg_sub":
                y = -(a - _partner(pool, a, j, p))
            elif op == "int_path":
                k = jnp.floor(jnp.clip(a, -1e6, 1e6)).astype(np.int32)
                k = [lambda: k * 1 + 0, lambda: k * 0, lambda: -(-k),
                     lambda: k.astype(np.int64).astype(np.int32), lambda: k * k,
                     lambda: lax.integer_pow(lax.integer_pow(k, 3), 2 + j % 3),
                     lambda: k.astype(np.float64).astype(np.int32),
                     lambda: (k.astype(np.int64) ** 4 * 977).astype(np.float64).astype(
                         np.int64).astype(np.int32)][p % 8]()
                y = k.astype(a.dtype)
            elif op == "cse_zero":
                y = (a + 0.0) * (a + (-0.0)) if p % 2 else (a - 0.0) * (a - (-0.0))
            elif op == "cse_pair":
                b = _partner(pool, a, j, p)
                y = (a * b + 1.0) - (b * a + 1.0) if p % 2 else jnp.exp(a) / jnp.exp(a)
            pool.append(y)
        # every computed value is an output (so every step is observable), but one: dead code
        outs = pool[n_in:] or pool[:1]
        return tuple(v for i, v in enumerate(outs) if i != drop or len(outs) == 1)
    return f


def programs(special=SPECIAL, bounds=None, max_steps=20):
    """Random programs with inputs: elements drawn from `special` and from all floats (or the
    floats within `bounds`)."""
    @st.composite
    def draw_program(draw):
        n_in = draw(st.integers(1, 3))
        dtype = draw(st.sampled_from([np.float64, np.float64, np.float32]))
        shapes = [draw(st.sampled_from(INPUT_SHAPES)) for _ in range(n_in)]
        shapes[0] = (2, 3)
        steps = draw(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 99),
                                        st.integers(0, 99), st.integers(0, 99)),
                              min_size=1, max_size=max_steps))
        width = 32 if dtype == np.float32 else 64
        floats = st.floats(allow_nan=True, allow_infinity=True, width=width) if bounds is None \
            else st.floats(*bounds, width=32)
        elements = st.one_of(st.sampled_from(special), floats)
        args = []
        for s in shapes:
            vals = draw(st.lists(elements, min_size=math.prod(s), max_size=math.prod(s)))
            with np.errstate(over="ignore"):
                args.append(np.array(vals, dtype).reshape(s))
        drop = draw(st.integers(0, 12))
        return Program(build(steps, n_in, drop), f"steps={steps} drop={drop}"), args
    return draw_program()


class Program:
    def __init__(self, f, desc):
        self.f, self.desc = f, desc

    def __call__(self, *args):
        return self.f(*args)

    def __repr__(self):
        return self.desc


def same_bits(x, y):
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype and x.shape == y.shape, (x.dtype, y.dtype, x.shape, y.shape)
    if x.dtype.kind == "f":
        nx, ny = np.isnan(x), np.isnan(y)
        np.testing.assert_array_equal(nx, ny)
        # IEEE leaves the sign of a NaN unspecified; of every other value, not
        np.testing.assert_array_equal(x[~nx], y[~nx])
        np.testing.assert_array_equal(np.signbit(x[~nx]), np.signbit(y[~nx]))
    else:
        np.testing.assert_array_equal(x, y)


def typecheck_all(jaxpr):
    typecheck_jaxpr(jaxpr)
    for e in jaxpr.eqns:
        for sub in subjaxprs(e):
            typecheck_all(sub)


def run(jaxpr, args):
    with np.errstate(all="ignore"):
        return eval_jaxpr(jaxpr, *args)


def battery(args):
    """args, and the same shapes filled with the special values at several offsets."""
    out = [args]
    for k in range(4):
        vals = []
        for i, a in enumerate(args):
            n = a.size
            idx = [(k * 7 + i * 5 + m * (k + 1)) % len(SPECIAL) for m in range(n)]
            with np.errstate(over="ignore"):
                vals.append(np.array([SPECIAL[t] for t in idx], a.dtype).reshape(a.shape))
        out.append(vals)
    return out


def check_same(jaxpr, new, inputs, wants):
    typecheck_all(new)
    assert [v.aval.shape for v in new.outvars] == [v.aval.shape for v in jaxpr.outvars]
    assert [v.aval.dtype for v in new.outvars] == [v.aval.dtype for v in jaxpr.outvars]
    for args, want in zip(inputs, wants):
        for a, b in zip(run(new, args), want):
            same_bits(a, b)


@settings(max_examples=200, deadline=None)
@given(programs())
def test_random_programs_keep_their_values(prog):
    f, args = prog
    jaxpr = nb.make_jaxpr(f)(*args)
    inputs = battery(args)
    wants = [run(jaxpr, a) for a in inputs]
    for p in (fold_constants, lambda j: simplify_jaxpr(j, exact=True), cse_jaxpr, dce_jaxpr,
              lambda j: optimize_jaxpr(j, exact=True)):
        check_same(jaxpr, p(jaxpr), inputs, wants)
    exact = optimize_jaxpr(jaxpr, exact=True)
    opt = optimize_jaxpr(jaxpr)
    typecheck_all(opt)
    if str(opt) == str(exact):    # no inexact rewrite fired: bit for bit
        check_same(jaxpr, opt, inputs, wants)
    else:                          # evaluates, with the same types
        assert [np.asarray(x).dtype for x in run(opt, args)] == \
            [np.asarray(x).dtype for x in wants[0]]


# --------------------------------------------------------------------------- inexact rewrites

NONNEG = {"abs": jnp.abs, "exp": jnp.exp, "logistic": nb.nn.sigmoid, "square": lambda x: x * x,
          "pow4": lambda x: lax.integer_pow(x, 4), "sqrt_abs": lambda x: jnp.sqrt(jnp.abs(x)),
          "exp_plus": lambda x: jnp.exp(x) + jnp.abs(x)}
BOUNDED = {"logistic": nb.nn.sigmoid, "cos": jnp.cos, "tanh_exp": lambda x: jnp.tanh(jnp.exp(x)),
           "logistic_scaled": lambda x: nb.nn.sigmoid(x) * 700.0,
           "cos_sq": lambda x: jnp.cos(x) * jnp.cos(x) - 3.0}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(NONNEG)), st.sampled_from([np.float64, np.float32]),
       st.lists(st.one_of(st.sampled_from(SPECIAL), st.floats(-1e6, 1e6)), min_size=6,
                max_size=6))
def test_exp_log_rewrite_within_documented_rounding(inner, dtype, vals):
    with np.errstate(over="ignore"):
        x = np.array(vals, dtype)
    jaxpr = nb.make_jaxpr(lambda x: jnp.exp(jnp.log(NONNEG[inner](x))))(x)
    opt = optimize_jaxpr(jaxpr)
    assert "log" not in [e.primitive.name for e in opt.eqns]
    typecheck_all(opt)
    (want,), (got,) = run(jaxpr, [x]), run(opt, [x])
    (inner_val,) = run(nb.make_jaxpr(NONNEG[inner])(x), [x])
    assert got.dtype == want.dtype
    # the same NaNs, infinities and zeros (with their signs)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isfinite(want) | (want == 0) | ~np.isfinite(got) | (got == 0)
    same_bits(got[special], want[special])
    # elsewhere the original's rounding: a relative (1 + |ln x|) eps (subnormals: absolute)
    ok = ~special
    eps = np.finfo(dtype).eps
    bound = (1.5 + np.abs(np.log(np.abs(inner_val[ok].astype(np.float64))))) * eps
    rel = np.abs(got[ok].astype(np.float64) - want[ok]) / np.abs(want[ok].astype(np.float64))
    tiny = np.abs(want[ok]) < np.finfo(dtype).tiny
    assert np.all((rel <= bound) | tiny), (rel / eps, bound / eps)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(BOUNDED)), st.sampled_from([np.float64, np.float32]),
       st.lists(st.one_of(st.sampled_from(SPECIAL), st.floats(-1e6, 1e6)), min_size=6,
                max_size=6))
def test_log_exp_rewrite_within_documented_rounding(inner, dtype, vals):
    with np.errstate(over="ignore"):
        x = np.array(vals, dtype)
    jaxpr = nb.make_jaxpr(lambda x: jnp.log(jnp.exp(BOUNDED[inner](x))))(x)
    opt = optimize_jaxpr(jaxpr)
    assert "exp" not in [e.primitive.name for e in opt.eqns][-1:]
    typecheck_all(opt)
    (want,), (got,) = run(jaxpr, [x]), run(opt, [x])
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    # absolute error of the original: the rounding of exp(x), about 2^-52 (1 + |x|)
    eps = np.finfo(dtype).eps
    ok = np.isfinite(want)
    assert np.all(np.abs(got[ok].astype(np.float64) - want[ok]) <= 2 * eps * (1 + np.abs(got[ok])))


def test_inexact_rewrites_need_a_proof():
    """Without a range proof (x may be negative, -0.0, or overflow exp) nothing is rewritten,
    and exact=True never rewrites."""
    x = np.array([-1.0, -0.0, 800.0, np.nan])
    for f in (lambda x: jnp.exp(jnp.log(x)), lambda x: jnp.log(jnp.exp(x)),
              lambda x: jnp.log(jnp.exp(jnp.sin(x))),          # sin(-0.0) is -0.0
              lambda x: jnp.log(jnp.exp(jnp.exp(x))),          # exp(x) may exceed 709
              lambda x: jnp.exp(jnp.log(jnp.sqrt(x)))):        # sqrt(-0.0) is -0.0
        jaxpr = nb.make_jaxpr(f)(x)
        opt = optimize_jaxpr(jaxpr)
        assert len(opt.eqns) == len(jaxpr.eqns), opt
        for a, b in zip(run(opt, [x]), run(jaxpr, [x])):
            same_bits(a, b)
    for f in (lambda x: jnp.exp(jnp.log(jnp.abs(x))), lambda x: jnp.log(jnp.exp(jnp.cos(x)))):
        jaxpr = nb.make_jaxpr(f)(x)
        assert len(optimize_jaxpr(jaxpr, exact=True).eqns) == 3
        assert len(optimize_jaxpr(jaxpr).eqns) == 1


def test_literals_keep_their_python_types():
    """Folded weakly typed scalars stay Python scalars, so float32 programs stay float32."""
    x = np.ones(3, np.float32)
    jaxpr = nb.make_jaxpr(lambda x: x * (2.0 + 1.0) + jnp.exp(0.0))(x)
    opt = optimize_jaxpr(jaxpr)
    lits = [v for e in opt.eqns for v in e.invars if type(v) is Literal]
    assert lits and all(type(v.val) is float for v in lits if v.aval.weak_type)
    assert run(opt, [x])[0].dtype == np.float32
