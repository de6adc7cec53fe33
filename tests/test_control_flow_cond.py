"""lax.cond and lax.switch: pytrees, closures, clamping, batched predicates (every branch runs,
lanes select, untaken branches contribute exact zeros to gradients), type errors, and the error
for Python `if` on traced values. The construct x transformation matrix is in
test_control_flow.py."""
from __future__ import annotations

import numpy as np
import pytest

import numbax
import numbax.numpy as jnp
from numbax import grad, hessian, jacfwd, jacrev, jit, jvp, linearize, vmap
from numbax import lax
from numbax.errors import TracerBoolConversionError
from numbax.tree_util import tree_structure

from cf_helpers import assert_same_dtype, fd_grad, stack_rows
from checks import assert_allclose, check_vjp_adjoint

RNG = np.random.default_rng(42)


# --------------------------------------------------------------------------- pytrees, closures

def cond_tree(p, a, b):
    """Two pytree operands, a pytree result; the branches use them differently."""
    def true_fun(ops, scale):
        u, d = ops
        return {"s": jnp.sum(u * d["w"]) * scale, "v": (u * scale, d["w"] ** 2)}

    def false_fun(ops, scale):
        u, d = ops
        return {"s": jnp.prod(d["w"]) - scale, "v": (jnp.sin(u), d["w"] * u[0])}
    return lax.cond(p, true_fun, false_fun, (a, {"w": b}), 1.5)


def cond_tree_ref(p, a, b):
    if p:
        return {"s": np.sum(a * b) * 1.5, "v": (a * 1.5, b ** 2)}
    return {"s": np.prod(b) - 1.5, "v": (np.sin(a), b * a[0])}


A2, B2 = np.array([0.3, -1.2]), np.array([0.7, 2.1])
_cond_tree_jit = jit(cond_tree)


@pytest.mark.parametrize("p", [True, False, np.bool_(True), 0, 3, -1])
def test_cond_pytree_operands_and_outputs(p):
    ref = cond_tree_ref(bool(p), A2, B2)
    got = cond_tree(p, A2, B2)
    assert tree_structure(got) == tree_structure(ref)
    assert_allclose(got, ref, rtol=1e-14, atol=0)
    got_jit = _cond_tree_jit(p, A2, B2)  # the predicate is traced here
    assert tree_structure(got_jit) == tree_structure(ref)
    assert_allclose(got_jit, ref, rtol=1e-14, atol=0)


@pytest.mark.parametrize("p", [True, False])
def test_cond_pytree_gradient_vs_finite_differences(p):
    def loss(a, b):
        out = cond_tree(p, a, b)
        return out["s"] + jnp.sum(out["v"][0] * out["v"][1])

    def loss_np(a, b):
        out = cond_tree_ref(p, a, b)
        return out["s"] + np.sum(out["v"][0] * out["v"][1])
    ga, gb = grad(loss, argnums=(0, 1))(A2, B2)
    assert_allclose(ga, fd_grad(lambda a: loss_np(a, B2), A2), rtol=1e-7, atol=1e-9)
    assert_allclose(gb, fd_grad(lambda b: loss_np(A2, b), B2), rtol=1e-7, atol=1e-9)
    ga_j, gb_j = grad(jit(loss), argnums=(0, 1))(A2, B2)
    assert_allclose((ga_j, gb_j), (ga, gb), rtol=1e-13, atol=1e-15)
    check_vjp_adjoint(lambda a, b: cond_tree(p, a, b), [A2, B2])


def test_cond_without_operands_closing_over_traced_values():
    # the branches take no operands and close over the traced x, y: grad flows through closures
    def f(x, y):
        return lax.cond(jnp.sum(x) > 0, lambda: jnp.sum(x * y), lambda: jnp.sum(y ** 2) * x[0])

    def f_np(x, y):
        return np.sum(x * y) if np.sum(x) > 0 else np.sum(y ** 2) * x[0]
    y = np.array([0.4, -0.8, 1.3])
    for x in (np.array([0.5, 0.2, -0.1]), np.array([-0.5, 0.2, -0.1])):
        assert_allclose(f(x, y), f_np(x, y), rtol=1e-14)
        assert_allclose(jit(f)(x, y), f_np(x, y), rtol=1e-14)
        gx, gy = grad(f, argnums=(0, 1))(x, y)
        assert_allclose(gx, fd_grad(lambda v: f_np(v, y), x), rtol=1e-7, atol=1e-9)
        assert_allclose(gy, fd_grad(lambda v: f_np(x, v), y), rtol=1e-7, atol=1e-9)
        assert_allclose(jit(grad(f, argnums=(0, 1)))(x, y), (gx, gy), rtol=1e-13, atol=1e-15)


def test_cond_constant_branches_and_numpy_constants():
    C = np.array([1.0, 2.0, 3.0])
    f = jit(lambda p: lax.cond(p, lambda: C, lambda: 2 * C))
    assert_allclose(f(True), C, rtol=0, atol=0)
    assert_allclose(f(False), 2 * C, rtol=0, atol=0)
    assert_allclose(lax.cond(False, lambda: C, lambda: 2 * C), 2 * C, rtol=0, atol=0)


def test_cond_jvp_with_symbolic_zero_tangents():
    # tangent only for x; y is a constant operand: the untouched output has a zero tangent
    def f(x, y):
        return lax.cond(x > 0, lambda a, b: (a * b, b), lambda a, b: (a - b, b * 2.0), x, y)
    for x in (0.7, -0.7):
        (o1, o2), (t1, t2) = jvp(lambda a: f(a, 3.0), (x,), (1.0,))
        assert_allclose((o1, o2), (x * 3.0, 3.0) if x > 0 else (x - 3.0, 6.0), rtol=1e-15)
        assert_allclose(t1, 3.0 if x > 0 else 1.0, rtol=0, atol=0)
        assert_allclose(t2, 0.0, rtol=0, atol=0)


@pytest.mark.parametrize("x0", [0.8, -0.8])
def test_hessian_through_cond_exact(x0):
    def f(v):
        return lax.cond(v[0] > 0, lambda u: jnp.sum(u ** 3) * u[1], lambda u: u[0] ** 2 * u[1] ** 2,
                        v)
    v = np.array([x0, 1.5])
    a, b = v
    if x0 > 0:
        ref = np.array([[6 * a * b, 3 * a ** 2], [3 * a ** 2, 6 * b * b + 6 * b * b]])
    else:
        ref = np.array([[2 * b ** 2, 4 * a * b], [4 * a * b, 2 * a ** 2]])
    assert_allclose(hessian(f)(v), ref, rtol=1e-14, atol=1e-15)
    assert_allclose(jacfwd(jacrev(f))(v), ref, rtol=1e-14, atol=1e-15)
    assert_allclose(jit(hessian(f))(v), ref, rtol=1e-14, atol=1e-15)


def test_cond_linearize_equals_jvp():
    def f(x):
        return lax.cond(jnp.sum(x) > 0, lambda v: jnp.exp(v) * v[0], lambda v: jnp.cos(v), x)
    for x in (np.array([0.3, 0.4]), np.array([-0.3, -0.4])):
        y, f_lin = linearize(f, x)
        assert_allclose(y, f(x), rtol=1e-15)
        t = np.array([0.7, -1.1])
        assert_allclose(f_lin(t), jvp(f, (x,), (t,))[1], rtol=1e-14, atol=1e-15)
        assert_allclose(jit(lambda v, w: linearize(f, v)[1](w))(x, t), f_lin(t), rtol=1e-14,
                        atol=1e-15)


def test_cond_inside_cond():
    def f(x):
        return lax.cond(x[0] > 0,
                        lambda v: lax.cond(v[1] > 0, lambda u: u * 2.0, lambda u: u * 3.0, v),
                        lambda v: -v, x)

    def f_np(x):
        if x[0] > 0:
            return x * 2.0 if x[1] > 0 else x * 3.0
        return -x
    xs = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    for x in xs:
        assert_allclose(f(x), f_np(x), rtol=0, atol=0)
        assert_allclose(jit(f)(x), f_np(x), rtol=0, atol=0)
    assert_allclose(vmap(f)(xs), np.stack([f_np(x) for x in xs]), rtol=0, atol=0)
    assert_allclose(vmap(jacrev(f))(xs), np.stack([jacfwd(f)(x) for x in xs]), rtol=0, atol=0)


# --------------------------------------------------------------------------- switch

BRANCHES = [lambda x: x + 1.0, lambda x: jnp.sin(x) * 2.0, lambda x: x ** 2]
BRANCHES_NP = [lambda x: x + 1.0, lambda x: np.sin(x) * 2.0, lambda x: x ** 2]
_switch_jit = jit(lambda i, x: lax.switch(i, BRANCHES, x))


@pytest.mark.parametrize("index", [-7, -1, 0, 1, 2, 3, 100])
def test_switch_clamps_out_of_range_indices(index):
    x = np.array([0.3, -1.7])
    ref = BRANCHES_NP[min(max(index, 0), 2)](x)
    for i in (index, np.int32(index), np.int64(index)):
        assert_allclose(lax.switch(i, BRANCHES, x), ref, rtol=1e-15, atol=0)
        assert_allclose(_switch_jit(i, x), ref, rtol=1e-15, atol=0)
    # the derivative follows the clamped branch too
    g = grad(lambda v: jnp.sum(lax.switch(index, BRANCHES, v)))(x)
    assert_allclose(g, fd_grad(lambda v: np.sum(BRANCHES_NP[min(max(index, 0), 2)](v)), x),
                    rtol=1e-7, atol=1e-9)


def test_switch_pytree_and_unsigned_or_bool_index():
    branches = [lambda d: {"a": d["a"] * 2, "b": d["b"]}, lambda d: {"a": d["a"], "b": -d["b"]}]
    d = {"a": np.arange(3.0), "b": np.float64(2.0)}
    assert_allclose(lax.switch(np.uint8(1), branches, d), {"a": d["a"], "b": -2.0}, rtol=0)
    assert_allclose(lax.switch(np.uint8(200), branches, d), {"a": d["a"], "b": -2.0}, rtol=0)
    assert_allclose(lax.switch(False, branches, d), {"a": d["a"] * 2, "b": 2.0}, rtol=0)


def test_switch_single_branch():
    assert_allclose(lax.switch(5, [lambda x: x * 3.0], 2.0), 6.0, rtol=0)
    assert_allclose(jit(lambda i, x: lax.switch(i, [lambda v: v * 3.0], x))(-4, 2.0), 6.0, rtol=0)


def test_switch_errors():
    with pytest.raises(ValueError):
        lax.switch(0, [], 1.0)
    with pytest.raises(TypeError):
        lax.switch(1.0, BRANCHES, 1.0)  # a float index
    with pytest.raises(TypeError):
        lax.switch(np.array([0, 1]), BRANCHES, 1.0)  # not a scalar
    with pytest.raises(TypeError):
        lax.switch(0, [lambda x: x, "not callable"], 1.0)
    with pytest.raises(TypeError):
        lax.switch(0, [lambda x: x, lambda x: jnp.stack([x, x])], 1.0)  # output shapes differ


# --------------------------------------------------------------------------- batched predicates

def _cond3(p, x, y):
    return lax.cond(p, lambda a, b: a * b + jnp.sin(a), lambda a, b: a - b ** 2, x, y)


def _cond3_np(p, x, y):
    return x * y + np.sin(x) if p else x - y ** 2


def test_vmap_cond_predicate_differs_per_lane():
    ps = np.array([True, False, False, True, True])
    xs = RNG.standard_normal((5, 3))
    ys = RNG.standard_normal((5, 3))
    ref = np.stack([_cond3_np(p, x, y) for p, x, y in zip(ps, xs, ys)])
    assert_allclose(vmap(_cond3)(ps, xs, ys), ref, rtol=1e-15, atol=0)
    assert_allclose(jit(vmap(_cond3))(ps, xs, ys), ref, rtol=1e-14, atol=1e-15)
    # predicate computed from the batched data
    f = lambda x, y: _cond3(jnp.sum(x) > jnp.sum(y), x, y)
    ref2 = np.stack([_cond3_np(np.sum(x) > np.sum(y), x, y) for x, y in zip(xs, ys)])
    assert_allclose(vmap(f)(xs, ys), ref2, rtol=1e-15, atol=0)


@pytest.mark.parametrize("in_axes", [(None, 0, 0), (0, None, 0), (0, 0, None), (0, None, None),
                                     (None, 0, None), (0, 1, 0)])
def test_vmap_cond_in_axes(in_axes):
    ps = np.array([True, False, True, False])
    xs = RNG.standard_normal((4, 3))
    ys = RNG.standard_normal((4, 3))
    args = [ps, xs, ys]
    args = [a[0] if ax is None else (np.ascontiguousarray(a.T) if ax == 1 else a)
            for a, ax in zip(args, in_axes)]
    got = vmap(_cond3, in_axes=in_axes)(*args)
    rows = [_cond3_np(*[a if ax is None else np.take(a, k, axis=ax)
                        for a, ax in zip(args, in_axes)]) for k in range(4)]
    assert_allclose(got, np.stack(rows), rtol=1e-15, atol=0)


def test_vmap_cond_out_axes_and_pytree_outputs():
    def f(p, x):
        return lax.cond(p, lambda v: (v * 2.0, jnp.sum(v)), lambda v: (v - 1.0, jnp.max(v)), x)
    ps = np.array([False, True, True])
    xs = RNG.standard_normal((3, 4))
    ref = stack_rows([(x * 2.0, np.sum(x)) if p else (x - 1.0, np.max(x)) for p, x in zip(ps, xs)])
    got = vmap(f, out_axes=(1, 0))(ps, xs)
    assert_allclose(got[0], ref[0].T, rtol=1e-15, atol=0)
    assert_allclose(got[1], ref[1], rtol=1e-15, atol=0)
    # an unbatched predicate and an unbatched output can stay unbatched: out_axes=None
    g = vmap(lambda x, p: lax.cond(p, lambda v: (v * 2.0, 1.0), lambda v: (v, 2.0), x),
             in_axes=(0, None), out_axes=(0, None))
    a, b = g(xs, False)
    assert_allclose(a, xs, rtol=0, atol=0)
    assert_allclose(b, 2.0, rtol=0, atol=0)


def test_vmap_cond_integer_operands_and_outputs():
    def f(p, n, x):
        return lax.cond(p, lambda k, v: (k * 2, v * k), lambda k, v: (k - 1, v), n, x)
    ps = np.array([True, False, True])
    ns = np.array([3, 4, 5])
    xs = RNG.standard_normal((3, 2))
    k, v = vmap(f)(ps, ns, xs)
    assert k.dtype == ns.dtype
    assert_allclose(k, [6, 3, 10], rtol=0, atol=0)
    assert_allclose(v, np.stack([xs[0] * 3, xs[1], xs[2] * 5]), rtol=0, atol=0)


def test_vmap_switch_out_of_range_indices_clamped():
    idx = np.array([-3, 0, 1, 2, 9, 1], np.int32)
    xs = RNG.standard_normal((6, 2))
    ref = np.stack([BRANCHES_NP[min(max(i, 0), 2)](x) for i, x in zip(idx, xs)])
    assert_allclose(vmap(lambda i, x: lax.switch(i, BRANCHES, x))(idx, xs), ref, rtol=1e-15,
                    atol=0)
    assert_allclose(vmap(_switch_jit)(idx, xs), ref, rtol=1e-15, atol=0)
    assert_allclose(jit(vmap(_switch_jit))(idx, xs), ref, rtol=1e-15, atol=0)
    # index batched, operand not
    x = xs[0]
    ref2 = np.stack([BRANCHES_NP[min(max(i, 0), 2)](x) for i in idx])
    assert_allclose(vmap(_switch_jit, in_axes=(0, None))(idx, x), ref2, rtol=1e-15, atol=0)
    # gradient per lane follows each lane's clamped branch
    g = vmap(grad(lambda i, v: jnp.sum(lax.switch(i, BRANCHES, v)), argnums=1))(idx, xs)
    ref_g = np.stack([fd_grad(lambda v: np.sum(BRANCHES_NP[min(max(i, 0), 2)](v)), x)
                      for i, x in zip(idx, xs)])
    assert_allclose(g, ref_g, rtol=1e-7, atol=1e-9)


def _sqrt_or_zero(x):
    return lax.cond(x > 0, jnp.sqrt, lambda v: 0. * v, x)


def _log_or_linear(x):
    return lax.cond(x > 0, jnp.log, lambda v: v - 1.0, x)


def test_vmap_grad_of_cond_is_nan_safe():
    xs = np.array([-1.0, 4.0])
    g = vmap(grad(_sqrt_or_zero))(xs)
    assert np.all(np.isfinite(g))
    assert_allclose(g, [0.0, 0.25], rtol=0, atol=0)
    assert_allclose(vmap(_sqrt_or_zero)(xs), [0.0, 2.0], rtol=0, atol=0)
    assert_allclose(jit(vmap(grad(_sqrt_or_zero)))(xs), [0.0, 0.25], rtol=0, atol=0)
    assert_allclose(vmap(jit(grad(_sqrt_or_zero)))(xs), [0.0, 0.25], rtol=0, atol=0)
    # reverse mode over the whole batch (a vector input: really the transpose of the select)
    gb = grad(lambda v: jnp.sum(vmap(_sqrt_or_zero)(v)))(xs)
    assert_allclose(gb, [0.0, 0.25], rtol=0, atol=0)
    assert_allclose(jacrev(vmap(_sqrt_or_zero))(xs), np.diag([0.0, 0.25]), rtol=0, atol=0)
    assert_allclose(jacfwd(vmap(_sqrt_or_zero))(xs), np.diag([0.0, 0.25]), rtol=0, atol=0)
    # log of zero and of negatives in the untaken branch
    xs2 = np.array([0.0, -2.0, 2.0])
    assert_allclose(vmap(grad(_log_or_linear))(xs2), [1.0, 1.0, 0.5], rtol=0, atol=0)
    assert_allclose(grad(lambda v: jnp.sum(vmap(_log_or_linear)(v)))(xs2), [1.0, 1.0, 0.5],
                    rtol=0, atol=0)


def test_vmap_grad_of_switch_is_nan_safe():
    branches = [lambda v: jnp.sqrt(v), lambda v: jnp.log(v), lambda v: v * 0.0]
    f = lambda i, x: lax.switch(i, branches, x)
    idx = np.array([0, 1, 2, 2])
    xs = np.array([4.0, 2.0, -1.0, 0.0])
    g = vmap(grad(f, argnums=1))(idx, xs)
    assert_allclose(g, [0.25, 0.5, 0.0, 0.0], rtol=0, atol=0)
    gb = grad(lambda v: jnp.sum(vmap(f)(idx, v)))(xs)
    assert_allclose(gb, [0.25, 0.5, 0.0, 0.0], rtol=0, atol=0)


def test_nested_vmap_of_cond():
    def f(p, x):
        return lax.cond(p, lambda v: v ** 2, lambda v: -v, x)
    ps = np.array([[True, False, True], [False, False, True]])
    xs = RNG.standard_normal((2, 3, 4))
    ref = np.stack([np.stack([x ** 2 if p else -x for p, x in zip(pr, xr)])
                    for pr, xr in zip(ps, xs)])
    assert_allclose(vmap(vmap(f))(ps, xs), ref, rtol=0, atol=0)
    # the outer vmap maps the predicate only, the inner the operand only
    xs2 = RNG.standard_normal((3, 4))
    got = vmap(lambda p: vmap(lambda x: f(p, x))(xs2))(ps[0])
    ref2 = np.stack([np.stack([x ** 2 if p else -x for x in xs2]) for p in ps[0]])
    assert_allclose(got, ref2, rtol=0, atol=0)


def test_vmap_cond_adjoint_identity():
    ps = np.array([True, False, True])
    ys = RNG.standard_normal((3, 2))
    check_vjp_adjoint(lambda x: vmap(_cond3)(ps, x, ys), [RNG.standard_normal((3, 2))])
    check_vjp_adjoint(lambda x, y: vmap(_cond3)(ps, x, y), [RNG.standard_normal((3, 2)), ys])


# --------------------------------------------------------------------------- type errors

def _raises_type_error(fun, *args):
    with pytest.raises(TypeError):
        fun(*args)
    with pytest.raises(TypeError):
        jit(fun)(*args)


def test_cond_branch_shape_mismatch():
    _raises_type_error(lambda x: lax.cond(x > 0, lambda v: v, lambda v: jnp.stack([v, v]), x), 1.0)
    _raises_type_error(lambda x: lax.cond(True, lambda v: v, lambda v: v[:2], x), np.ones(3))


def test_cond_branch_dtype_mismatch():
    _raises_type_error(lambda x: lax.cond(x > 0, lambda v: v.astype(jnp.float32), lambda v: v, x),
                       np.float64(1.0))
    _raises_type_error(lambda x: lax.cond(x > 0, lambda v: v.astype(jnp.int32),
                                          lambda v: v.astype(jnp.float32), x), np.float64(1.0))


def test_cond_branch_structure_mismatch():
    x = np.float64(1.0)
    _raises_type_error(lambda x: lax.cond(x > 0, lambda v: (v, v), lambda v: [v, v], x), x)
    _raises_type_error(lambda x: lax.cond(x > 0, lambda v: (v, v), lambda v: v, x), x)
    _raises_type_error(lambda x: lax.cond(x > 0, lambda v: {"a": v}, lambda v: {"b": v}, x), x)
    _raises_type_error(lambda x: lax.cond(x > 0, lambda v: (v, v), lambda v: (v, v, v), x), x)


def test_cond_untaken_branch_is_type_checked_eagerly():
    # even with a concrete predicate both branches are traced and must agree
    with pytest.raises(TypeError):
        lax.cond(True, lambda v: v, lambda v: jnp.stack([v, v]), 1.0)


def test_cond_non_scalar_predicate():
    _raises_type_error(lambda x: lax.cond(x > 0, lambda v: v, lambda v: -v, x), np.ones(2))
    with pytest.raises(TypeError):
        lax.cond(np.array([True]), lambda: 1.0, lambda: 2.0)


def test_cond_non_callable_branches():
    with pytest.raises(TypeError):
        lax.cond(True, 1.0, lambda: 2.0)


def test_cond_integer_and_bool_predicates():
    f = jit(lambda p: lax.cond(p, lambda: 1.0, lambda: 2.0))
    for p, ref in ((0, 2.0), (1, 1.0), (-4, 1.0), (np.int32(0), 2.0), (np.uint8(7), 1.0),
                   (np.bool_(False), 2.0)):
        assert lax.cond(p, lambda: 1.0, lambda: 2.0) == ref
        assert f(p) == ref


def test_cond_output_dtypes_preserved_under_jit():
    def f(x):
        return lax.cond(x[0] > 0, lambda v: (v * 2, jnp.sum(v > 0)), lambda v: (v, jnp.sum(v < 0)),
                        x)
    x32 = np.array([1.0, -2.0, 3.0], np.float32)
    got, ref = jit(f)(x32), f(x32)
    assert_same_dtype(got, ref)
    assert ref[0].dtype == np.float32
    assert_allclose(got, ref, rtol=0, atol=0)


# --------------------------------------------------------------------------- Python `if` on tracers

def _python_if(x):
    if jnp.sum(x) > 0.5:
        return x * 2.0
    return -x


def _python_while(x):
    while jnp.max(x) < 10.0:
        x = x * 2.0
    return x


def test_python_if_on_traced_value_under_jit():
    x = np.array([0.3, 0.4])
    with pytest.raises(TracerBoolConversionError) as info:
        jit(_python_if)(x)
    assert isinstance(info.value, TypeError)
    msg = str(info.value)
    assert "if jnp.sum(x) > 0.5:" in msg  # the user's source line
    for hint in ("lax.cond", "jnp.where", "static_argnums"):
        assert hint in msg, hint


def test_python_while_on_traced_value_under_jit():
    with pytest.raises(TracerBoolConversionError) as info:
        jit(_python_while)(np.array([0.3, 0.4]))
    msg = str(info.value)
    assert "while jnp.max(x) < 10.0:" in msg
    for hint in ("lax.cond", "jnp.where", "static_argnums"):
        assert hint in msg, hint


def test_python_if_under_vmap_raises_and_lax_cond_fixes_it():
    xs = np.array([[0.3, 0.4], [-0.3, 0.1]])
    with pytest.raises(TracerBoolConversionError):
        vmap(_python_if)(xs)

    def fixed(x):
        return lax.cond(jnp.sum(x) > 0.5, lambda v: v * 2.0, lambda v: -v, x)
    ref = np.stack([_python_if(x) for x in xs])  # eager: Python control flow is fine
    assert_allclose(vmap(fixed)(xs), ref, rtol=0, atol=0)
    assert_allclose(jit(fixed)(xs[0]), ref[0], rtol=0, atol=0)


def test_python_if_works_under_grad_and_static_argnums():
    # grad evaluates known values eagerly, so Python control flow on them keeps working
    x = np.array([0.3, 0.4])
    assert_allclose(grad(lambda v: jnp.sum(_python_if(v)))(x), [2.0, 2.0], rtol=0, atol=0)
    f = jit(lambda x, flag: x * 2.0 if flag else -x, static_argnums=1)
    assert_allclose(f(x, True), x * 2.0, rtol=0, atol=0)
    assert_allclose(f(x, False), -x, rtol=0, atol=0)


def test_errors_are_exported():
    assert issubclass(numbax.errors.TracerBoolConversionError, TypeError)
