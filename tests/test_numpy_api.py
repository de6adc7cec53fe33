"""numbax.numpy against numpy, eagerly and under every transformation (tests/checks.py)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import numbax
import numbax.numpy as jnp
from checks import assert_allclose, check_all, check_vmap

RNG = np.random.default_rng(42)

# (name, numpy reference, sampler of valid inputs)
pos = lambda s: RNG.uniform(0.5, 2.0, s)
unit = lambda s: RNG.uniform(-0.9, 0.9, s)
anyr = lambda s: RNG.uniform(-2.0, 2.0, s)
big = lambda s: RNG.uniform(1.1, 3.0, s)
UNARY = [("exp", np.exp, anyr), ("log", np.log, pos), ("log1p", np.log1p, pos),
         ("expm1", np.expm1, anyr), ("sqrt", np.sqrt, pos), ("cbrt", np.cbrt, pos),
         ("sin", np.sin, anyr), ("cos", np.cos, anyr), ("tan", np.tan, unit),
         ("arcsin", np.arcsin, unit), ("arccos", np.arccos, unit), ("arctan", np.arctan, anyr),
         ("sinh", np.sinh, anyr), ("cosh", np.cosh, anyr), ("tanh", np.tanh, anyr),
         ("arcsinh", np.arcsinh, anyr), ("arccosh", np.arccosh, big),
         ("arctanh", np.arctanh, unit), ("abs", np.abs, pos), ("negative", np.negative, anyr),
         ("square", np.square, anyr), ("reciprocal", np.reciprocal, pos),
         ("exp2", np.exp2, anyr), ("log2", np.log2, pos), ("log10", np.log10, pos),
         ("sinc", np.sinc, anyr), ("deg2rad", np.deg2rad, anyr)]


@pytest.mark.parametrize("name, ref, sample", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, ref, sample):
    fn = getattr(jnp, name)
    x = sample((2, 3))
    assert_allclose(fn(x), ref(x), rtol=1e-13)
    check_all(fn, [x])


BINARY = [("add", np.add, anyr, anyr), ("subtract", np.subtract, anyr, anyr),
          ("multiply", np.multiply, anyr, anyr), ("divide", np.divide, anyr, pos),
          ("power", np.power, pos, anyr), ("maximum", np.maximum, anyr, anyr),
          ("minimum", np.minimum, anyr, anyr), ("arctan2", np.arctan2, anyr, pos),
          ("hypot", np.hypot, pos, pos), ("logaddexp", np.logaddexp, anyr, anyr)]


@pytest.mark.parametrize("name, ref, sx, sy", BINARY, ids=[b[0] for b in BINARY])
def test_binary_broadcasting(name, ref, sx, sy):
    fn = getattr(jnp, name)
    x, y = sx((2, 3)), sy((3,))
    assert_allclose(fn(x, y), ref(x, y), rtol=1e-13)
    check_all(fn, [x, y])
    check_all(lambda a: fn(a, 1.5), [x])


def test_integer_and_mixed_arithmetic_follow_numpy():
    i = np.array([-7, -3, 0, 4, 9])
    j = np.array([2, -2, 3, 3, -4])
    for name in ("floor_divide", "remainder", "fmod", "add", "multiply", "maximum"):
        assert_allclose(getattr(jnp, name)(i, j), getattr(np, name)(i, j))
    x = np.array([-7.5, -3.0, 0.5, 4.25, 9.0])
    y = np.array([2.0, -2.0, 3.0, 0.75, -4.0])
    for name in ("floor_divide", "remainder", "fmod"):
        assert_allclose(getattr(jnp, name)(x, y), getattr(np, name)(x, y))
    assert jnp.divide(i, j).dtype == np.float64
    assert jnp.power(i, 2).dtype == i.dtype


def test_weak_types_keep_float32():
    x = np.ones(3, np.float32)
    assert jnp.multiply(x, 2.0).dtype == np.float32
    assert jnp.add(np.arange(3, dtype=np.int32), 1).dtype == np.int32
    assert jnp.add(np.arange(3, dtype=np.int32), 1.0).dtype == np.float64
    out = numbax.jit(lambda a: a * 2.0 + 1)(x)
    assert out.dtype == np.float32
    g = numbax.grad(lambda a: jnp.sum(a * 2.0))(x)
    assert g.dtype == np.float32


def test_predicates_and_where():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -0.0])
    for name in ("isnan", "isinf", "isfinite", "signbit", "isposinf", "isneginf"):
        assert_allclose(getattr(jnp, name)(x), getattr(np, name)(x))
    c = np.array([True, False, True])
    assert_allclose(jnp.where(c, np.arange(3.0), -1.0), np.where(c, np.arange(3.0), -1.0))
    assert_allclose(jnp.clip(np.arange(5.0), 1, 3), np.clip(np.arange(5.0), 1, 3))
    assert_allclose(jnp.round(np.array([0.5, 1.5, 2.567]), 1),
                    np.round(np.array([0.5, 1.5, 2.567]), 1))


def test_double_where_keeps_nan_out_of_the_gradient():
    def safe_log(x):
        ok = x > 0
        return jnp.where(ok, jnp.log(jnp.where(ok, x, 1.0)), 0.0)
    g = numbax.grad(lambda x: jnp.sum(safe_log(x)))(np.array([0.0, 2.0, -1.0]))
    assert_allclose(g, [0.0, 0.5, 0.0])
    assert numbax.grad(jnp.sqrt)(0.0) == np.inf  # as in JAX


# --------------------------------------------------------------------------- reductions

REDUCTIONS = ["sum", "prod", "max", "min", "mean", "var", "std"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(name, axis, keepdims):
    x = RNG.uniform(0.5, 1.5, (2, 3, 2))
    fn = lambda a: getattr(jnp, name)(a, axis=axis, keepdims=keepdims)
    assert_allclose(fn(x), getattr(np, name)(x, axis=axis, keepdims=keepdims), rtol=1e-12)
    check_all(fn, [x])


def test_arg_and_cumulative_reductions():
    x = RNG.standard_normal((3, 4))
    for axis in (None, 0, 1):
        assert_allclose(jnp.argmax(x, axis), np.argmax(x, axis))
        assert_allclose(jnp.argmin(x, axis), np.argmin(x, axis))
        assert_allclose(jnp.cumsum(x, axis), np.cumsum(x, axis), rtol=1e-13)
        assert_allclose(jnp.cumprod(x, axis), np.cumprod(x, axis), rtol=1e-13)
        check_all(lambda a: jnp.cumsum(a, axis), [x])
        check_all(lambda a: jnp.cumprod(a, axis), [x])
    b = x > 0
    assert_allclose(jnp.any(b, 0), np.any(b, 0))
    assert_allclose(jnp.all(b, 1), np.all(b, 1))
    assert jnp.sum(b) == np.sum(b) and jnp.sum(b).dtype == np.int64
    assert_allclose(jnp.median(x, 1), np.median(x, 1))
    assert_allclose(jnp.quantile(x, [0.1, 0.7], axis=0), np.quantile(x, [0.1, 0.7], axis=0))


# --------------------------------------------------------------------------- shapes

def test_shape_manipulation_matches_numpy():
    x = RNG.standard_normal((2, 3, 4))
    cases = [
        (lambda a: jnp.reshape(a, (6, -1)), lambda a: np.reshape(a, (6, -1))),
        (lambda a: jnp.transpose(a, (2, 0, 1)), lambda a: np.transpose(a, (2, 0, 1))),
        (lambda a: jnp.moveaxis(a, 0, -1), lambda a: np.moveaxis(a, 0, -1)),
        (lambda a: jnp.swapaxes(a, 0, 2), lambda a: np.swapaxes(a, 0, 2)),
        (lambda a: jnp.expand_dims(a, (0, 2)), lambda a: np.expand_dims(a, (0, 2))),
        (lambda a: jnp.squeeze(a[:1], 0), lambda a: np.squeeze(a[:1], 0)),
        (lambda a: jnp.concatenate([a, 2 * a], 1), lambda a: np.concatenate([a, 2 * a], 1)),
        (lambda a: jnp.stack([a, a], -1), lambda a: np.stack([a, a], -1)),
        (lambda a: jnp.split(a, [1, 3], axis=2)[1], lambda a: np.split(a, [1, 3], axis=2)[1]),
        (lambda a: jnp.flip(a, (0, 2)), lambda a: np.flip(a, (0, 2))),
        (lambda a: jnp.roll(a, 2, 1), lambda a: np.roll(a, 2, 1)),
        (lambda a: jnp.tile(a, (1, 2, 1)), lambda a: np.tile(a, (1, 2, 1))),
        (lambda a: jnp.repeat(a, 2, axis=1), lambda a: np.repeat(a, 2, axis=1)),
        (lambda a: jnp.broadcast_to(a[0], (5, 3, 4)), lambda a: np.broadcast_to(a[0], (5, 3, 4))),
        (lambda a: jnp.pad(a, ((0, 1), (2, 0), (1, 1))), lambda a: np.pad(a, ((0, 1), (2, 0), (1, 1)))),
        (lambda a: jnp.diagonal(a, 1, 1, 2), lambda a: np.diagonal(a, 1, 1, 2)),
        (lambda a: jnp.trace(a[0]), lambda a: np.trace(a[0])),
        (lambda a: jnp.tril(a[0], 1), lambda a: np.tril(a[0], 1)),
        (lambda a: jnp.ravel(a), lambda a: np.ravel(a)),
        (lambda a: jnp.hstack([a[0], a[1]]), lambda a: np.hstack([a[0], a[1]])),
        (lambda a: jnp.vstack([a[0], a[1]]), lambda a: np.vstack([a[0], a[1]])),
    ]
    for fn, ref in cases:
        assert_allclose(fn(x), ref(x))
        check_all(fn, [x], batch=2)


# --------------------------------------------------------------------------- indexing

INDICES = [
    (1,), (-1, 2), (slice(None), 0), (slice(1, None), slice(None, None, 2)),
    (Ellipsis, 1), (None, 0), (slice(None), None, slice(1, 3)),
    (slice(None, None, -1),), (slice(3, 0, -2),), (np.array([0, 2, 2]),),
    (slice(None), np.array([[1, 0], [3, 2]])), (np.array([[1], [0]]), np.array([0, 3])),
    (np.array([0, 1]), np.array([2, 3])), (1, np.array([0, 3])), (Ellipsis, np.array([-1, 0])),
    (np.array([[True, False, True, False], [False, True, True, False], [True] * 4]),),
    (np.array([True, False, True]), slice(1, 3)), ([2, 0],),
]


@pytest.mark.parametrize("idx", INDICES, ids=[str(i) for i in range(len(INDICES))])
def test_getitem_matches_numpy(idx):
    x = RNG.standard_normal((3, 4))
    expected = x[idx]
    assert_allclose(jnp.asarray(x)[idx], expected)
    check_all(lambda a: a[idx], [x])


@pytest.mark.parametrize("idx", INDICES[:15], ids=[str(i) for i in range(15)])
def test_at_updates_match_numpy(idx):
    x = RNG.standard_normal((3, 4))
    v = RNG.standard_normal(np.shape(x[idx]))
    for op, npop in (("set", None), ("add", np.add), ("multiply", np.multiply),
                     ("min", np.minimum), ("max", np.maximum)):
        ref = x.copy()
        if npop is None:
            ref[idx] = v
        else:
            # np.ufunc.at accumulates over repeated indices, as scatter does
            npop.at(ref, idx, v)
        got = getattr(jnp.asarray(x).at[idx], op)(v)
        assert_allclose(got, ref, err_msg=op)
    check_all(lambda a, b: jnp.asarray(a).at[idx].add(b), [x, v])
    if not any(isinstance(i, np.ndarray) and np.unique(i).size < i.size for i in idx):
        check_all(lambda a, b: jnp.asarray(a).at[idx].set(b), [x, v])


def test_traced_indices_clamp_reads_and_drop_updates():
    x = np.arange(5.0)
    f = numbax.jit(lambda a, i: (a[i], a.at[i].set(-1.0)))
    val, upd = f(x, 7)
    assert val == 4.0 and np.array_equal(upd, x)  # read clamped, update dropped (JAX)
    val, upd = f(x, -2)
    assert val == 3.0 and upd[3] == -1.0
    with pytest.raises(IndexError):
        jnp.asarray(x)[7]


def test_vmap_of_dynamic_indexing_matches_loop():
    x = RNG.standard_normal((4, 5))
    idx = np.array([0, 4, 2, 1])
    check_vmap(lambda row, i: row[i], [x, idx])
    check_vmap(lambda row, i: jnp.asarray(row).at[i].add(10.0), [x, idx])
    check_vmap(lambda i: jnp.asarray(x)[i, 1:3], [idx % 4])


def test_take_and_take_along_axis():
    x = RNG.standard_normal((3, 4))
    i = np.array([[0, 3], [1, 1], [2, 0]])
    assert_allclose(jnp.take_along_axis(x, i, 1), np.take_along_axis(x, i, 1))
    assert_allclose(jnp.take(x, np.array([2, 0]), axis=1), np.take(x, [2, 0], axis=1))
    check_all(lambda a: jnp.take_along_axis(a, i, 1), [x])


def test_immutability_error():
    def f(x):
        x[0] = 1.0
        return x
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set"):
        numbax.jit(f)(np.zeros(3))


# --------------------------------------------------------------------------- contractions

CONTRACTIONS = [
    (lambda a, b: jnp.dot(a, b), np.dot, (3, 4), (4, 2)),
    (lambda a, b: jnp.dot(a, b), np.dot, (4,), (4,)),
    (lambda a, b: jnp.matmul(a, b), np.matmul, (2, 3, 4), (4, 5)),
    (lambda a, b: jnp.matmul(a, b), np.matmul, (3, 4), (2, 4, 5)),
    (lambda a, b: jnp.matmul(a, b), np.matmul, (2, 1, 3, 4), (3, 4, 2)),
    (lambda a, b: jnp.matmul(a, b), np.matmul, (4,), (2, 4, 3)),
    (lambda a, b: a @ b, np.matmul, (3, 4), (4,)),
    (lambda a, b: jnp.outer(a, b), np.outer, (3,), (4,)),
    (lambda a, b: jnp.inner(a, b), np.inner, (2, 4), (3, 4)),
    (lambda a, b: jnp.tensordot(a, b, ((0, 2), (1, 0))),
     lambda a, b: np.tensordot(a, b, ((0, 2), (1, 0))), (2, 3, 4), (4, 2)),
    (lambda a, b: jnp.einsum("ij,jk->ki", a, b), lambda a, b: np.einsum("ij,jk->ki", a, b),
     (3, 4), (4, 2)),
    (lambda a, b: jnp.einsum("bij,bjk->bik", a, b), lambda a, b: np.einsum("bij,bjk->bik", a, b),
     (2, 3, 4), (2, 4, 2)),
    (lambda a, b: jnp.einsum("ii,i", a, b), lambda a, b: np.einsum("ii,i", a, b), (3, 3), (3,)),
    (lambda a, b: jnp.einsum("...j,j->...", a, b), lambda a, b: np.einsum("...j,j->...", a, b),
     (2, 3, 4), (4,)),
    (lambda a, b: jnp.kron(a, b), np.kron, (2, 2), (2, 3)),
]


@pytest.mark.parametrize("fn, ref, sa, sb", CONTRACTIONS, ids=[str(i) for i in range(len(CONTRACTIONS))])
def test_contractions(fn, ref, sa, sb):
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    assert_allclose(fn(a, b), ref(a, b), rtol=1e-12, atol=1e-12)
    check_all(fn, [a, b])


def test_matmul_shape_error_names_shapes():
    with pytest.raises(TypeError, match=r"\(3, 4\).*\(5, 2\)"):
        jnp.matmul(np.ones((3, 4)), np.ones((5, 2)))


# --------------------------------------------------------------------------- linalg & sorting

def _spd(n):
    a = RNG.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def test_linalg_against_numpy():
    a, b = _spd(3), RNG.standard_normal((3, 2))
    assert_allclose(jnp.linalg.solve(a, b), np.linalg.solve(a, b), rtol=1e-12)
    assert_allclose(jnp.linalg.solve(a, b[:, 0]), np.linalg.solve(a, b[:, 0]), rtol=1e-12)
    assert_allclose(jnp.linalg.inv(a), np.linalg.inv(a), rtol=1e-12)
    assert_allclose(jnp.linalg.cholesky(a), np.linalg.cholesky(a), rtol=1e-12)
    assert_allclose(tuple(jnp.linalg.slogdet(a)), tuple(np.linalg.slogdet(a)), rtol=1e-12)
    assert_allclose(jnp.linalg.det(a), np.linalg.det(a), rtol=1e-12)
    v = RNG.standard_normal((2, 3))
    for ord_ in (None, 1, 2, np.inf):
        assert_allclose(jnp.linalg.norm(v[0], ord_), np.linalg.norm(v[0], ord_), rtol=1e-13)
    assert_allclose(jnp.linalg.norm(v), np.linalg.norm(v), rtol=1e-13)
    assert_allclose(jnp.linalg.norm(v, axis=1), np.linalg.norm(v, axis=1), rtol=1e-13)
    check_all(lambda m, r: jnp.linalg.solve(m, r), [a, b], fd_rtol=1e-4)
    check_all(lambda m: jnp.linalg.slogdet(m)[1], [a])
    check_all(lambda m: jnp.linalg.cholesky(m), [a], fd_rtol=1e-4)
    assert_allclose(numbax.grad(jnp.linalg.norm)(np.zeros(3)), np.zeros(3))


def test_sorting():
    x = RNG.standard_normal((3, 5))
    assert_allclose(jnp.sort(x), np.sort(x))
    assert_allclose(jnp.sort(x, axis=0), np.sort(x, axis=0))
    assert_allclose(jnp.argsort(x), np.argsort(x))
    check_all(lambda a: jnp.sort(a, axis=1), [x])
    assert_allclose(jnp.searchsorted(np.arange(5.0), np.array([1.5, -1, 9])),
                    np.searchsorted(np.arange(5.0), np.array([1.5, -1, 9])))


# --------------------------------------------------------------------------- creation & methods

def test_creation():
    assert_allclose(jnp.linspace(0, 1, 5), np.linspace(0, 1, 5))
    assert_allclose(jnp.arange(2, 9, 3), np.arange(2, 9, 3))
    assert_allclose(jnp.eye(3, k=1), np.eye(3, k=1))
    assert_allclose(jnp.zeros((2, 3)).at[0, 1].set(5.0)[0, 1], 5.0)
    xs, ys = jnp.meshgrid(np.arange(3), np.arange(2))
    rx, ry = np.meshgrid(np.arange(3), np.arange(2))
    assert_allclose((xs, ys), (rx, ry))
    # linspace with traced end points is differentiable
    g = numbax.grad(lambda s: jnp.sum(jnp.linspace(0.0, s, 5)))(2.0)
    assert g == pytest.approx(np.linspace(0, 1, 5).sum())
    # jnp.array of traced scalars stacks them
    assert_allclose(numbax.jacfwd(lambda t: jnp.array([t, 2 * t, t * t]))(3.0), [1.0, 2.0, 6.0])


def test_tracer_methods_and_numpy_dispatch():
    x = RNG.uniform(0.5, 1.5, (2, 3))

    def f(a):
        b = a.T @ a
        c = (a.reshape(3, 2).sum(0) * 2 - 1) / 3 + a.mean() + a.max(axis=1).sum()
        return np.sin(b).sum() + np.sum(c ** 2) + a.astype(np.int32).sum() + abs(-a).min()
    ref = f(x)
    assert_allclose(numbax.jit(f)(x), ref, rtol=1e-6)
    check_all(f, [x], fd_rtol=1e-4)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                  elements=st.floats(-10, 10)))
def test_property_sum_of_squares_gradient(x):
    g = numbax.grad(lambda a: jnp.sum(a * a))(x)
    assert_allclose(g, 2 * x)
    h = numbax.vmap(numbax.grad(lambda a: jnp.sum(jnp.sin(a))))(x.reshape(x.shape[0], -1))
    assert_allclose(h, np.cos(x.reshape(x.shape[0], -1)), rtol=1e-12)


def test_logaddexp_is_smooth_where_its_arguments_tie():
    # the max/abs form has a zero second derivative at x == y; the custom jvp does not
    assert numbax.hessian(lambda x: jnp.logaddexp(0.0, x))(0.0) == pytest.approx(0.25)
    x = RNG.standard_normal((8, 3))
    h = numbax.hessian(lambda w: jnp.mean(jnp.logaddexp(0.0, x @ w)))(np.zeros(3))
    assert_allclose(h, x.T @ x * 0.25 / 8, rtol=1e-12)
    g = numbax.grad(lambda t: jnp.logaddexp(t, t))(-np.inf)
    assert np.isfinite(g)


def test_at_update_keywords_and_explicit_gather_modes():
    a = np.arange(5.0)
    x = jnp.asarray(a)
    with pytest.raises(NotImplementedError, match="mode='clip'"):
        x.at[1].set(2.0, mode="clip")
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        x.at[1].add(2.0, bogus=1)
    np.testing.assert_array_equal(x.at[1].set(9.0, mode="drop", indices_are_sorted=True,
                                              unique_indices=True), [0, 9, 2, 3, 4])
    # an explicit mode applies to known indices too; plain indexing keeps numpy's IndexError
    idx = np.array([1, 7])
    np.testing.assert_array_equal(x.at[idx].get(mode="fill", fill_value=-1.0), [1, -1])
    np.testing.assert_array_equal(numbax.jit(lambda i: x.at[i].get(mode="fill", fill_value=-1.0))(idx),
                                  [1, -1])
    np.testing.assert_array_equal(jnp.take_along_axis(a, idx, 0), [1, np.nan])   # JAX's fill
    with pytest.raises(IndexError):
        x[idx]
