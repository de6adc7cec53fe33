"""The jaxpr passes preserve meaning bit for bit (NaN, inf and the sign of zero included) and
shrink the programs they are meant to shrink."""
import math

import numpy as np
from hypothesis import given, settings, strategies as st

import numbax as nb
import numbax.numpy as jnp
from numbax import lax
from numbax.jaxpr import count_eqns, eval_jaxpr
from numbax.passes import optimize_jaxpr

SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 2.5, -3e300, 5e-324]
FLOATS = st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True))


def _rewritten(a, b):
    """Every pattern simplify rewrites, in float64: x*1, 1*x, x/1, x-0, neg neg, x*-1, -1*x,
    a + neg b, neg b + a, a - neg b, a same-dtype conversion."""
    return [a * 1.0, 1.0 * a, a / 1.0, a - 0.0, -(-a), a * -1.0, -1.0 * a, a + (-b), (-b) + a,
            a - (-b), lax.convert_element_type(a + b, np.float64), (a * -1.0) + b]


def _same_bits(x, y):
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype and x.shape == y.shape
    np.testing.assert_array_equal(x, y)
    if x.dtype.kind == "f":   # IEEE leaves the sign of a NaN result unspecified; of zero, not
        keep = ~np.isnan(x)
        np.testing.assert_array_equal(np.signbit(x[keep]), np.signbit(y[keep]))


@settings(max_examples=60, deadline=None)
@given(a=FLOATS, b=FLOATS)
def test_simplify_preserves_values_bit_for_bit(a, b):
    args = (np.float64(a), np.float64(b))
    jaxpr = nb.make_jaxpr(_rewritten)(*args)
    opt = optimize_jaxpr(jaxpr)
    for x, y in zip(eval_jaxpr(jaxpr, *args), eval_jaxpr(opt, *args)):
        _same_bits(x, y)


def test_simplify_rewrites_each_pattern():
    jaxpr = optimize_jaxpr(nb.make_jaxpr(_rewritten)(1.0, 2.0))
    names = [e.primitive.name for e in jaxpr.eqns]
    # identities vanish; a*-1 and -1*a are one neg; a + neg b and neg b + a one sub; a - neg b
    # and the conversion of a + b one add; (a * -1) + b is b - a
    assert sorted(names) == ["add", "neg", "sub", "sub"], names


def test_integer_rewrites_wrap_like_numpy():
    x = np.array([np.iinfo(np.int64).min, -1, 0, 7], np.int64)
    y = np.array([np.iinfo(np.int64).min, 3, -5, 9], np.int64)
    f = lambda a, b: (a * -1, a + (-b), a - (-b))  # noqa: E731
    jaxpr = nb.make_jaxpr(f)(x, y)
    with np.errstate(over="ignore"):
        for got, want in zip(eval_jaxpr(optimize_jaxpr(jaxpr), x, y), f(x, y)):
            _same_bits(got, want)


def test_w10_grad_of_quadmap_is_as_small_as_jax():
    """grad(quadmap^6) optimised has 44 equations, JAX's count after its DCE (issue 3, W10)."""
    def quadmap6(x):
        for _ in range(6):
            x = 4 * x * (1 - x)
        return x
    jaxpr = optimize_jaxpr(nb.make_jaxpr(nb.grad(quadmap6))(0.3))
    assert count_eqns(jaxpr) <= 44
    np.testing.assert_allclose(eval_jaxpr(jaxpr, 0.3)[0], nb.grad(quadmap6)(0.3), rtol=1e-15)


def test_array_patterns_keep_shapes_and_dtypes():
    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    f = lambda a: (a * -1.0, jnp.exp(a) + (-a), lax.convert_element_type(a, np.float32))  # noqa
    jaxpr = nb.make_jaxpr(f)(x)
    opt = optimize_jaxpr(jaxpr)
    for got, want in zip(eval_jaxpr(opt, x), eval_jaxpr(jaxpr, x)):
        _same_bits(got, want)


# --------------------------------------------------------------------------- one test per rewrite

from numbax.jaxpr import Literal, subjaxprs, typecheck_jaxpr  # noqa: E402
from numbax.passes import (cse_jaxpr, dce_jaxpr, fold_constants,  # noqa: E402
                           simplify_jaxpr)

VALUES = np.array([0.0, -0.0, math.inf, -math.inf, math.nan, 1.5, -2.0, 1e308, 5e-324])


def _names(jaxpr):
    return [e.primitive.name for e in jaxpr.eqns]


def _checked(f, *args, exact=False):
    """(jaxpr, optimised jaxpr) of f, after checking that both evaluate to the same bits."""
    jaxpr = nb.make_jaxpr(f)(*args)
    opt = optimize_jaxpr(jaxpr, exact=exact)
    _typecheck(opt)
    with np.errstate(all="ignore"):
        for got, want in zip(eval_jaxpr(opt, *args), eval_jaxpr(jaxpr, *args)):
            _same_bits(got, want)
    return jaxpr, opt


def _typecheck(jaxpr):
    typecheck_jaxpr(jaxpr)
    for e in jaxpr.eqns:
        for sub in subjaxprs(e):
            _typecheck(sub)


def test_transpose_of_transpose_is_no_equation():
    x = np.arange(24.0).reshape(2, 3, 4)
    _, opt = _checked(lambda x: x.T.T, x)
    assert opt.eqns == [] and opt.outvars[0] is opt.invars[0]
    # a chain composes into one transpose
    _, opt = _checked(lambda x: jnp.transpose(jnp.transpose(x, (1, 2, 0)), (2, 1, 0)), x)
    assert _names(opt) == ["transpose"]
    assert opt.eqns[0].params["permutation"] == (0, 2, 1)


def test_square_becomes_integer_pow():
    _, opt = _checked(lambda x: x * x, VALUES)
    assert _names(opt) == ["integer_pow"] and opt.eqns[0].params["y"] == 2
    _, opt = _checked(lambda x: (-x) * (-x), VALUES)     # (-a)(-b) = ab, then a square
    assert _names(opt) == ["integer_pow"]


def test_reshape_and_squeeze_chains_are_one_reshape():
    x = np.arange(6.0).reshape(2, 3)
    _, opt = _checked(lambda x: x.reshape(3, 2).reshape(6).reshape(1, 6), x)
    assert _names(opt) == ["reshape"] and opt.eqns[0].params["new_sizes"] == (1, 6)
    _, opt = _checked(lambda x: jnp.squeeze(jnp.expand_dims(jnp.expand_dims(x, 0), 2), 0), x)
    assert _names(opt) == ["reshape"]
    _, opt = _checked(lambda x: x.reshape(6).reshape(2, 3), x)
    assert opt.eqns == []


def test_broadcast_chain_is_one_broadcast():
    x = np.arange(3.0)
    _, opt = _checked(lambda x: jnp.broadcast_to(jnp.broadcast_to(x, (4, 3)), (5, 4, 3)), x)
    assert _names(opt) == ["broadcast_in_dim"]
    assert opt.eqns[0].params["broadcast_dimensions"] == (2,)


def test_conversion_round_trips_cancel_only_where_exact():
    x32 = VALUES.astype(np.float32)
    _, opt = _checked(lambda x: x.astype(np.float64).astype(np.float32), x32)
    assert opt.eqns == []
    _, opt = _checked(lambda x: x.astype(np.float32).astype(np.float64), VALUES)
    assert len(opt.eqns) == 2                      # f64 -> f32 -> f64 rounds
    i32 = np.array([np.iinfo(np.int32).min, -1, 0, 7, np.iinfo(np.int32).max], np.int32)
    for mid in (np.int64, np.float64):
        _, opt = _checked(lambda x: x.astype(mid).astype(np.int32), i32)
        assert opt.eqns == []
    i64 = np.array([2**53 + 1, -(2**62) - 3, 5], np.int64)
    _, opt = _checked(lambda x: x.astype(np.float64).astype(np.int64), i64)
    assert len(opt.eqns) == 2                      # int64 -> f64 -> int64 rounds
    _, opt = _checked(lambda x: x.astype(np.float64).astype(np.float32), i32)   # one rounding
    assert _names(opt) == ["convert_element_type"]
    _, opt = _checked(lambda x: (x > 0).astype(np.float32).astype(np.bool_), VALUES)
    assert _names(opt) == ["gt"]


def test_constant_folding_of_literals_and_small_arrays():
    x = np.linspace(-1, 1, 3)
    _, opt = _checked(lambda x: jnp.sum(np.arange(10.0) * 2) + x, x)
    assert _names(opt) == ["add"] and opt.eqns[0].invars[1].val == 90.0
    jaxpr, opt = _checked(lambda x: x + jnp.exp(np.arange(3.0)) * 2, x)
    assert _names(opt) == ["add"] and len(opt.consts) == 1
    np.testing.assert_array_equal(opt.consts[0], np.exp(np.arange(3.0)) * 2)
    # large results stay computed at run time
    big = np.arange(10000.0)
    _, opt = _checked(lambda x: x[0] + jnp.multiply(big, 2.0), x)
    assert "mul" in _names(opt)
    # an iota alone stays (cheap index arithmetic); what only depends on it folds
    _, opt = _checked(lambda x: x + (jnp.arange(3) * 2 + 1).astype(np.float64), x)
    assert _names(opt) == ["add"]


def test_folding_keeps_negative_zero_nan_and_inf():
    x = np.zeros(2)
    f = lambda x: (x * 0 + jnp.full_like(x, -0.0) * 1.0, -jnp.zeros_like(x),  # noqa: E731
                   jnp.full_like(x, np.inf) - np.inf, jnp.log(jnp.zeros_like(x)) * -1.0)
    _, opt = _checked(f, x)
    assert _names(opt).count("broadcast_in_dim") >= 3


def test_splat_operands_become_scalars():
    x = np.linspace(-1, 1, 3)
    _, opt = _checked(lambda x: x * jnp.ones_like(x), x)
    assert opt.eqns == []
    _, opt = _checked(lambda x: jnp.zeros(3) + 1, x)
    assert _names(opt) == ["broadcast_in_dim"]
    _, opt = _checked(lambda x: x + jnp.zeros_like(x), VALUES)   # x + 0.0 is not x (-0.0)
    assert _names(opt) == ["add"] and type(opt.eqns[0].invars[1]) is Literal


def test_float_identities_that_are_not_exact_stay():
    for f in (lambda x: x + 0.0, lambda x: x * 0.0, lambda x: x - x, lambda x: x / x,
              lambda x: x - (-0.0), lambda x: 0.0 * x):
        jaxpr, opt = _checked(f, VALUES)
        assert len(opt.eqns) == 1, (opt, jaxpr)
    _, opt = _checked(lambda a, b: -(a - b), VALUES, VALUES[::-1].copy())
    assert _names(opt) == ["sub", "neg"]             # -(a - b) is -0.0 where b - a is +0.0
    _, opt = _checked(lambda x: x + (-0.0), VALUES)    # exact: -0.0 + -0.0 is -0.0
    assert opt.eqns == []


def test_integer_identities():
    i = np.array([np.iinfo(np.int64).min, -3, 0, 5], np.int64)
    _, opt = _checked(lambda k: k * 0, i)
    assert _names(opt) == ["broadcast_in_dim"]
    _, opt = _checked(lambda k: k * 1 + 0 - 0, i)
    assert opt.eqns == []
    with np.errstate(over="ignore"):
        _, opt = _checked(lambda k: lax.integer_pow(lax.integer_pow(k, 3), 2), i)
    assert _names(opt) == ["integer_pow"] and opt.eqns[0].params["y"] == 6
    _, opt = _checked(lambda x: lax.integer_pow(lax.integer_pow(x, 3), 2), VALUES)
    assert len(opt.eqns) == 2                        # float powers round at each step


def test_select_n_rewrites():
    a, b = VALUES, VALUES[::-1].copy()
    _, opt = _checked(lambda a, b: lax.select_n(np.bool_(True), a, b * 2), a, b)
    assert _names(opt) == ["mul"]
    _, opt = _checked(lambda a, b: lax.select_n(np.bool_(False), a, b * 2), a, b)
    assert opt.eqns == []
    _, opt = _checked(lambda a, b: jnp.where(a > b, a, a), a, b)
    assert opt.eqns == []
    _, opt = _checked(lambda a, b: jnp.where(~(a > b), a, b), a, b)
    assert _names(opt) == ["gt", "select_n"]


def test_max_and_min_keep_their_operand_order():
    """max(+0.0, -0.0) is +0.0 and max(-0.0, +0.0) is -0.0: not commutative bit for bit."""
    x = np.array([-0.0, 0.0])
    for f in (lambda x: jnp.maximum(0.0, x), lambda x: jnp.minimum(-0.0, x),
              lambda x: jnp.maximum(x[::-1], x)):
        _, opt = _checked(f, x)


def test_cond_on_a_literal_is_its_branch():
    x = np.linspace(-1, 1, 3)
    for pred, want in ((True, ["sin"]), (False, ["cos"])):
        _, opt = _checked(lambda x: lax.cond(np.bool_(pred), jnp.sin, jnp.cos, x), x)
        assert _names(opt) == want
    _, opt = _checked(lambda x: lax.switch(7, [jnp.sin, jnp.cos, jnp.tanh], x), x)
    assert _names(opt) == ["tanh"]


def test_passes_work_inside_nested_jaxprs():
    x = np.linspace(-1, 1, 3)

    def f(x):
        y = lax.cond(jnp.sum(x) > 0, lambda x: (x * 1.0).T.T, lambda x: -(-x) * x, x)
        z = lax.fori_loop(0, 3, lambda i, c: c * 1.0 + jnp.sin(c) * jnp.sin(c), y)
        return nb.checkpoint(lambda z: z.reshape(3, 1).reshape(3) / 1.0)(z)
    jaxpr, opt = _checked(f, x)
    inner = [len(s.eqns) for e in opt.eqns for s in subjaxprs(e)]
    before = [len(s.eqns) for e in jaxpr.eqns for s in subjaxprs(e)]
    assert sum(inner) < sum(before), (jaxpr, opt)
    cond = next(e for e in opt.eqns if e.primitive.name == "cond")
    assert [len(b.eqns) for b in cond.params["branches"]] == [1, 0]

    @nb.custom_jvp
    def g(x):
        return jnp.exp(x) * 1.0 * jnp.exp(x)
    g.defjvp(lambda p, t: (g(p[0]), t[0]))
    jaxpr, opt = _checked(g, x)
    call = opt.eqns[0].params["call_jaxpr"]
    assert _names(call) == ["exp", "integer_pow"]


def test_effects_survive_dce_and_cse_in_nested_jaxprs(capsys):
    def f(x):
        def noisy(x):
            nb.debug.print("branch {}", x)
            return x + 1
        lax.cond(x > 0, noisy, lambda x: x - 1, x)        # result unused: only the print
        lax.cond(x > 0, noisy, lambda x: x - 1, x)        # the same again: prints twice
        nb.checkpoint(noisy)(x)                           # a call holding a jaxpr
        lax.fori_loop(0, 2, lambda i, c: noisy(c), x)     # a loop body
        return x * 2
    jaxpr = nb.make_jaxpr(f)(1.0)
    for p in (optimize_jaxpr, dce_jaxpr, cse_jaxpr):
        names = _names(p(jaxpr))
        assert names.count("cond") == 2 and "checkpoint" in names, names
        assert "while" in names or "scan" in names
    capsys.readouterr()
    assert nb.jit(f)(1.0) == 2.0
    assert capsys.readouterr().out.splitlines() == ["branch 1.0"] * 3 + ["branch 1.0",
                                                                         "branch 2.0"]


def test_cse_tells_signed_zeros_apart():
    x = np.array([-0.0, 0.0, 1.0])
    jaxpr, opt = _checked(lambda x: (x + 0.0, x + (-0.0), x - 0.0, x - (-0.0)), x)
    _, merged = _checked(lambda x: (x + 0.0, x + 0.0), x)
    assert _names(merged) == ["add"]
    assert cse_jaxpr(jaxpr) is jaxpr


def test_each_pass_alone_and_idempotence():
    x = np.linspace(-2, 2, 6).reshape(2, 3)

    def f(x):
        a = (x * 1.0).T.T + jnp.sum(np.arange(4.0))
        return a * a, jnp.exp(x) + jnp.exp(x), x.reshape(6).reshape(3, 2)
    jaxpr = nb.make_jaxpr(f)(x)
    for p in (fold_constants, simplify_jaxpr, cse_jaxpr, dce_jaxpr, optimize_jaxpr):
        out = p(jaxpr)
        _typecheck(out)
        for got, want in zip(eval_jaxpr(out, x), eval_jaxpr(jaxpr, x)):
            _same_bits(got, want)
    opt = optimize_jaxpr(jaxpr)
    assert optimize_jaxpr(opt) is opt                   # a fixed point
    assert len(fold_constants(jaxpr).eqns) < len(jaxpr.eqns)
    assert len(simplify_jaxpr(jaxpr).eqns) < len(jaxpr.eqns) + 1


def test_jit_agrees_with_eager_on_simplified_programs():
    x = VALUES.copy()

    def f(x):
        y = x * jnp.ones_like(x) + (-0.0)
        return (y.reshape(3, 3).T.T.reshape(9) * y, jnp.where(np.bool_(False), -y, y),
                jnp.log(jnp.exp(nb.nn.sigmoid(x))), x.astype(np.float32).astype(np.float64))
    with np.errstate(all="ignore"):
        want = f(x)
    got = nb.jit(f)(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)
        np.testing.assert_array_equal(np.signbit(g[~np.isnan(g)]), np.signbit(w[~np.isnan(w)]))


def test_w10_counts_shrink_for_every_order():
    """grad^k(quadmap^6) for k = 1..6: the passes keep derivative programs small (JAX after DCE
    has 44, 93, 207, 484, 1182 equations for k = 1..5)."""
    def quadmap6(x):
        for _ in range(6):
            x = 4 * x * (1 - x)
        return x
    jax_dce = {1: 44, 2: 93, 3: 207, 4: 484, 5: 1182}
    f = quadmap6
    for k in range(1, 7):
        f = nb.grad(f)
        jaxpr = nb.make_jaxpr(f)(0.3)
        opt = optimize_jaxpr(jaxpr)
        assert count_eqns(opt) <= jax_dce.get(k, 10**9) and count_eqns(opt) < count_eqns(jaxpr)
        if k <= 3:
            np.testing.assert_allclose(eval_jaxpr(opt, 0.3)[0], f(0.3), rtol=1e-13)
