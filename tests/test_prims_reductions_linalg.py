"""Reductions (max, min, prod, and, or, argmax, argmin, cumulative), linalg (dot_general,
cholesky, triangular_solve, solve, slogdet, det, inv) and sorting primitives: eager results
against numpy, and every transformation through the shared checks."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbax  # noqa: F401  (registers elementwise/shape/reductions)
from numbax import api
from numbax.primitives import elementwise as ew
from numbax.primitives import linalg as la
from numbax.primitives import reductions as red
from numbax.primitives import sorting as srt
from checks import check_all, check_jvp, check_staged, check_vjp_adjoint, check_vmap

SETTINGS = settings(max_examples=15, deadline=None)
seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 4)
shapes = st.lists(dims, min_size=1, max_size=3).map(tuple)


def assert_allclose(a, b, rtol=1e-7, atol=1e-9):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"shape mismatch {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def distinct(rng, shape):
    """float64 values pairwise at least 0.2 apart (no ties within finite-difference steps)."""
    n = int(np.prod(shape))
    vals = rng.permutation(n) - n / 2 + rng.uniform(0.0, 0.6, n)
    return (vals * 0.7).reshape(shape)


def random_axes(rng, ndim):
    k = rng.integers(1, ndim + 1)
    return tuple(sorted(rng.choice(ndim, k, replace=False).tolist()))


def spd(rng, batch, n):
    m = rng.standard_normal(batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) / n + 2.0 * np.eye(n)


def well_conditioned(rng, batch, n):
    return rng.standard_normal(batch + (n, n)) * 0.3 + 2.0 * np.eye(n)


def hvp_hessian(f, x):
    """The hessian of a scalar f, column by column as jvp of grad (forward over reverse)."""
    g = api.grad(f)
    cols = [api.jvp(g, (x,), (e.reshape(x.shape),))[1] for e in np.eye(x.size)]
    return np.stack([np.asarray(c).reshape(-1) for c in cols], -1)


# --------------------------------------------------------------------------- reduce_max / min

@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=shapes, seed=seeds)
@SETTINGS
def test_reduce_max_min(name, shape, seed):
    rng = np.random.default_rng(seed)
    x = distinct(rng, shape)
    axes = random_axes(rng, len(shape))
    f = {"max": red.reduce_max, "min": red.reduce_min}[name]
    ref = {"max": np.max, "min": np.min}[name](x, axis=axes)
    assert_allclose(f(x, axes), ref, rtol=0, atol=0)
    check_all(lambda x: f(x, axes), [x])


def test_reduce_max_min_ties_average_tangent():
    x = np.array([1.0, 3.0, 0.0, 3.0])
    assert_allclose(api.grad(lambda x: red.reduce_max(x, (0,)))(x), [0, 0.5, 0, 0.5], 0, 0)
    y = np.array([[2.0, -1.0, -1.0], [5.0, 5.0, 5.0]])
    g = api.grad(lambda y: red.reduce_sum(red.reduce_min(y, (1,)), (0,)))(y)
    assert_allclose(g, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], 0, 1e-15)
    # jvp: the tangent averaged over the tied locations
    _, t = api.jvp(lambda x: red.reduce_max(x, (0,)), (x,), (np.array([1.0, 2.0, 4.0, 8.0]),))
    assert float(t) == 5.0


def test_reduce_max_min_edge_cases():
    assert red.reduce_max(np.zeros((0, 2)), (0,)).tolist() == [-np.inf, -np.inf]
    assert red.reduce_min(np.array([1, 5, -2], np.int32), (0,)) == -2
    assert np.isnan(red.reduce_max(np.array([1.0, np.nan, 2.0]), (0,)))
    assert red.reduce_max(np.array([3.0]), ()) is not None  # no-op: no equation
    jaxpr = api.make_jaxpr(lambda x: red.reduce_max(x, ()))(np.ones(3))
    assert len(jaxpr.eqns) == 0
    with pytest.raises(TypeError, match="reduce_max"):
        red.reduce_max(np.ones((2, 3)), (2,))


# --------------------------------------------------------------------------- reduce_prod

@given(shape=shapes, seed=seeds)
@SETTINGS
def test_reduce_prod(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    axes = random_axes(rng, len(shape))
    assert_allclose(red.reduce_prod(x, axes), np.prod(x, axis=axes), rtol=1e-14, atol=0)
    check_all(lambda x: red.reduce_prod(x, axes), [x])


def test_reduce_prod_grad_with_zeros_is_exact():
    f = lambda x: red.reduce_prod(x, (0,))  # noqa: E731
    assert api.grad(f)(np.array([2.0, 0.0, 3.0, 4.0])).tolist() == [0.0, 24.0, 0.0, 0.0]
    assert api.grad(f)(np.array([2.0, 0.0, 3.0, 0.0])).tolist() == [0.0, 0.0, 0.0, 0.0]
    x = np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 5.0]])
    g = api.grad(lambda x: red.reduce_sum(red.reduce_prod(x, (0,)), (0,)))(x)
    assert g.tolist() == [[0.0, 15.0], [0.0, 0.0], [2.0, 0.0]]
    g = api.grad(lambda x: red.reduce_prod(x, (0, 1)))(np.array([[1.0, 2.0], [0.0, 3.0]]))
    assert g.tolist() == [[0.0, 0.0], [6.0, 0.0]]


def test_reduce_prod_hessian_with_a_zero():
    """Second derivatives through zeros: d2/dxi dxj prod(x) = prod of the others."""
    x = np.array([1.0, 2.0, 0.0, 3.0])
    H = hvp_hessian(lambda x: red.reduce_prod(x, (0,)), x)
    ref = np.array([[np.prod(np.delete(x, [i, j])) if i != j else 0.0 for j in range(4)]
                    for i in range(4)])
    assert_allclose(H, ref, rtol=0, atol=0)


# --------------------------------------------------------------------------- reduce_and / or

@given(shape=shapes, seed=seeds)
@SETTINGS
def test_reduce_and_or(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.random(shape) < 0.6
    axes = random_axes(rng, len(shape))
    assert_allclose(red.reduce_and(x, axes), np.all(x, axis=axes))
    assert_allclose(red.reduce_or(x, axes), np.any(x, axis=axes))
    i = rng.integers(0, 8, shape).astype(np.int32)
    assert_allclose(red.reduce_or(i, axes), np.bitwise_or.reduce(i, axis=axes))
    for f in (red.reduce_and, red.reduce_or):
        check_staged(lambda x: f(x, axes), [x])
        check_vmap(lambda x: f(x, axes), [np.stack([x, ~x])])


def test_reduce_and_or_no_derivative():
    x = np.array([0.5, -1.0, 2.0])
    f = lambda x: ew.mul(x, ew.convert_element_type(red.reduce_or(ew.gt(x, 1.0), (0,)),  # noqa
                                                   np.float64))
    assert api.grad(lambda x: red.reduce_sum(f(x), (0,)))(x).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match="reduce_and"):
        red.reduce_and(np.ones(3), (0,))


# --------------------------------------------------------------------------- argmax / argmin

@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(shape=shapes, seed=seeds)
@SETTINGS
def test_argmax_argmin(name, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float64)  # many ties: the first one wins
    if rng.random() < 0.5:
        x.flat[rng.integers(x.size)] = np.nan  # NaN counts as the extremum, as in numpy
    axis = int(rng.integers(len(shape)))
    f = getattr(red, name)
    ref = getattr(np, name)(x, axis=axis)
    out = f(x, axis)
    assert np.asarray(out).dtype == np.int64
    assert_allclose(out, ref, rtol=0, atol=0)
    assert np.asarray(f(x, axis, np.int32)).dtype == np.int32
    check_staged(lambda x: f(x, axis), [x])
    check_vmap(lambda x: f(x, axis), [np.stack([x, -x, x[::-1]])])
    check_vmap(lambda x: f(x, axis), [np.stack([x, -x], -1)], in_axes=-1)


def test_argmax_zero_tangent_and_errors():
    x = np.array([1.0, 4.0, 2.0])
    out, t = api.jvp(lambda x: red.argmax(x, 0), (x,), (np.ones(3),))
    assert out == 1 and np.asarray(t).dtype != np.float64  # float0: no derivative
    g = api.grad(lambda x: ew.mul(red.reduce_max(x, (0,)),
                                  ew.convert_element_type(red.argmin(x, 0), np.float64)))(x)
    assert g.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="argmax"):
        red.argmax(np.ones((0, 3)), 0)
    with pytest.raises(TypeError, match="argmin"):
        red.argmin(np.ones(3), 1)


# --------------------------------------------------------------------------- cumulative

CUM = {"cumsum": (red.cumsum, np.cumsum), "cumprod": (red.cumprod, np.cumprod),
       "cummax": (red.cummax, np.maximum.accumulate), "cummin": (red.cummin, np.minimum.accumulate)}


@pytest.mark.parametrize("name", list(CUM))
@given(shape=shapes, seed=seeds, reverse=st.booleans())
@SETTINGS
def test_cumulative(name, shape, seed, reverse):
    rng = np.random.default_rng(seed)
    x = distinct(rng, shape)
    if name == "cumprod":
        x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    axis = int(rng.integers(-len(shape), len(shape)))
    f, ref_fn = CUM[name]
    ref = np.flip(ref_fn(np.flip(x, axis), axis=axis), axis) if reverse else ref_fn(x, axis=axis)
    assert_allclose(f(x, axis, reverse), ref, rtol=1e-14, atol=0)
    check_all(lambda x: f(x, axis, reverse), [x])


def test_noops_bind_nothing():
    for f in (lambda x: red.cumsum(x, 1), lambda x: red.cummax(x, -1, True),
              lambda x: srt.sort1(x), lambda x: red.reduce_prod(x, ())):
        assert len(api.make_jaxpr(f)(np.ones((3, 1))).eqns) == 0
    assert srt.argsort(np.ones((2, 1))).tolist() == [[0], [0]]


def test_cumsum_transpose_is_reverse_cumsum():
    x = np.arange(1.0, 5.0)
    ct = np.array([1.0, 10.0, 100.0, 1000.0])
    _, vjp = api.vjp(lambda x: red.cumsum(x, 0), x)
    assert vjp(ct)[0].tolist() == [1111.0, 1110.0, 1100.0, 1000.0]
    _, vjp = api.vjp(lambda x: red.cumsum(x, 0, reverse=True), x)
    assert vjp(ct)[0].tolist() == [1.0, 11.0, 111.0, 1111.0]


def test_cumprod_derivative_with_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    J = np.stack([api.jvp(lambda x: red.cumprod(x, 0), (x,), (e,))[1] for e in np.eye(5)], -1)
    ref = np.zeros((5, 5))
    for i in range(5):
        for k in range(i + 1):
            ref[i, k] = np.prod(np.delete(x[:i + 1], k))
    assert_allclose(J, ref, rtol=0, atol=0)
    g = api.grad(lambda x: red.reduce_sum(red.cumprod(x, 0, reverse=True), (0,)))(x)
    ref_g = [sum(np.prod(np.delete(x[i:], k - i)) for i in range(k + 1)) for k in range(5)]
    assert_allclose(g, ref_g, rtol=0, atol=0)


def test_cummax_cummin_tangent_follows_running_extremum():
    x = np.array([1.0, 3.0, 0.0, 4.0, 2.0])
    t = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    _, tm = api.jvp(lambda x: red.cummax(x, 0), (x,), (t,))
    assert tm.tolist() == [1.0, 10.0, 10.0, 1000.0, 1000.0]
    _, tm = api.jvp(lambda x: red.cummin(x, 0), (x,), (t,))
    assert tm.tolist() == [1.0, 1.0, 100.0, 100.0, 100.0]
    _, tm = api.jvp(lambda x: red.cummin(x, 0, reverse=True), (x,), (t,))
    assert tm.tolist() == [100.0, 100.0, 100.0, 10000.0, 10000.0]
    g = api.grad(lambda x: red.reduce_sum(red.cummax(x, 0), (0,)))(x)
    assert g.tolist() == [1.0, 2.0, 0.0, 2.0, 0.0]


# --------------------------------------------------------------------------- dot_general

@st.composite
def dot_problems(draw):
    """Random operand shapes and dimension numbers: batch, contracting and free dims, each side
    permuted independently."""
    nb, nc, nlf, nrf = (draw(st.integers(0, 2)) for _ in range(4))
    b = [draw(dims) for _ in range(nb)]
    c = [draw(dims) for _ in range(nc)]
    lf = [draw(dims) for _ in range(nlf)]
    rf = [draw(dims) for _ in range(nrf)]
    lperm = draw(st.permutations(range(nb + nc + nlf)))
    rperm = draw(st.permutations(range(nb + nc + nrf)))
    lsizes, rsizes = b + c + lf, b + c + rf
    lshape = tuple(lsizes[p] for p in lperm)
    rshape = tuple(rsizes[p] for p in rperm)
    lpos, rpos = list(np.argsort(lperm)), list(np.argsort(rperm))
    def pick(pos, idx):
        return tuple(int(pos[i]) for i in idx)
    cidx, bidx = range(nb, nb + nc), range(nb)
    dn = ((pick(lpos, cidx), pick(rpos, cidx)), (pick(lpos, bidx), pick(rpos, bidx)))
    return lshape, rshape, dn, draw(seeds)


def einsum_ref(lhs, rhs, dn):
    (lc, rc), (lb, rb) = dn
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    ls = [None] * lhs.ndim
    rs = [None] * rhs.ndim
    for i, j in zip(lb + lc, rb + rc):
        ls[i] = rs[j] = next(letters)
    ls = [s or next(letters) for s in ls]
    rs = [s or next(letters) for s in rs]
    out = ([ls[i] for i in lb] + [s for i, s in enumerate(ls) if i not in lb + lc]
           + [s for i, s in enumerate(rs) if i not in rb + rc])
    return np.einsum(f"{''.join(ls)},{''.join(rs)}->{''.join(out)}", lhs, rhs)


@given(problem=dot_problems())
@SETTINGS
def test_dot_general(problem):
    lshape, rshape, dn, seed = problem
    rng = np.random.default_rng(seed)
    lhs, rhs = rng.standard_normal(lshape), rng.standard_normal(rshape)
    f = lambda a, b: la.dot_general(a, b, dn)  # noqa: E731
    assert_allclose(f(lhs, rhs), einsum_ref(lhs, rhs, dn), rtol=1e-12, atol=1e-12)
    check_all(f, [lhs, rhs])
    # vmap with only one side batched, at arbitrary positions, and both sides batched
    lb_ax = int(rng.integers(len(lshape) + 1))
    rb_ax = int(rng.integers(len(rshape) + 1))
    lstack = np.stack([lhs, 2 * lhs, -lhs], lb_ax)
    rstack = np.stack([rhs, rhs + 1, -rhs], rb_ax)
    check_vmap(f, [lstack, rhs], in_axes=(lb_ax, None), rtol=1e-12, atol=1e-12)
    check_vmap(f, [lhs, rstack], in_axes=(None, rb_ax), rtol=1e-12, atol=1e-12)
    check_vmap(f, [lstack, rstack], in_axes=(lb_ax, rb_ax), rtol=1e-12, atol=1e-12)


def test_dot_general_vmap_of_grad_and_one_side_batched():
    rng = np.random.default_rng(0)
    W, xs = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    dn = (((1,), (0,)), ((), ()))

    def loss(W, x):
        return red.reduce_sum(ew.sin(la.dot_general(W, x, dn)), (0,))
    per_example = api.vmap(api.grad(loss), in_axes=(None, 0))(W, xs)
    ref = np.stack([np.outer(np.cos(W @ x), x) for x in xs])
    assert_allclose(per_example, ref, rtol=1e-12, atol=1e-12)
    check_vmap(api.grad(loss, argnums=1), [W, xs], in_axes=(None, 0), rtol=1e-12, atol=1e-12)


def test_dot_general_hessian_of_quadratic_form_is_exact():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)

    def quad(x):
        Ax = la.dot_general(A, x, (((1,), (0,)), ((), ())))
        return la.dot_general(x, Ax, (((0,), (0,)), ((), ())))
    assert_allclose(hvp_hessian(quad, x), A + A.T, rtol=1e-15, atol=1e-15)
    assert_allclose(api.grad(quad)(x), (A + A.T) @ x, rtol=1e-13, atol=1e-13)
    # grad of grad along a direction: d/dx <grad quad(x), v> = (A + A^T) v
    v = rng.standard_normal(4)
    gg = api.grad(lambda x: la.dot_general(api.grad(quad)(x), v, (((0,), (0,)), ((), ()))))(x)
    assert_allclose(gg, (A + A.T) @ v, rtol=1e-13, atol=1e-13)


def test_api_hessian():
    """api.hessian (jacfwd of jacrev) needs tracer indexing from the numbax.numpy layer."""
    jnp = pytest.importorskip("numbax.numpy")
    if not hasattr(jnp, "reshape"):
        pytest.skip("the numbax.numpy layer is not complete yet")
    rng = np.random.default_rng(2)
    A = rng.standard_normal((3, 3))

    def quad(x):
        return la.dot_general(x, la.dot_general(A, x, (((1,), (0,)), ((), ()))),
                              (((0,), (0,)), ((), ())))
    assert_allclose(api.hessian(quad)(rng.standard_normal(3)), A + A.T, rtol=1e-15, atol=1e-15)
    x = np.array([1.0, 2.0, 0.0, 3.0])
    assert_allclose(api.hessian(lambda x: red.reduce_prod(x, (0,)))(x),
                    hvp_hessian(lambda x: red.reduce_prod(x, (0,)), x), rtol=0, atol=0)


def test_dot_general_dtypes_and_errors():
    a32 = np.ones((2, 3), np.float32)
    assert la.dot_general(a32, a32, (((1,), (1,)), ((), ()))).dtype == np.float32
    out = la.dot_general(a32, a32, (((1,), (1,)), ((), ())), preferred_element_type=np.float64)
    assert out.dtype == np.float64
    i = np.arange(6).reshape(2, 3)
    assert_allclose(la.dot_general(i, i, (((1,), (1,)), ((), ()))), i @ i.T, 0, 0)
    with pytest.raises(TypeError, match=r"dot_general.*f64\[3,4\].*f64\[5,2\]"):
        la.dot_general(np.ones((3, 4)), np.ones((5, 2)), (((1,), (0,)), ((), ())))
    with pytest.raises(TypeError, match=r"dot_general.*f64\[3,4\].*f64\[5,2\]"):
        api.make_jaxpr(lambda a, b: la.dot_general(a, b, (((1,), (0,)), ((), ()))))(
            np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(TypeError, match=r"dot_general.*f32\[2,3\].*f64\[3\]"):
        la.dot_general(a32, np.ones(3), (((1,), (0,)), ((), ())))
    with pytest.raises(TypeError, match="dot_general.*batch"):
        la.dot_general(np.ones((2, 3)), np.ones((4, 3)), (((1,), (1,)), ((0,), (0,))))


# --------------------------------------------------------------------------- cholesky

@given(batch=st.lists(dims, max_size=2).map(tuple), n=dims, seed=seeds)
@SETTINGS
def test_cholesky(batch, n, seed):
    rng = np.random.default_rng(seed)
    a = spd(rng, batch, n)
    L = la.cholesky(a)
    assert_allclose(L, np.linalg.cholesky(a), rtol=1e-12, atol=1e-12)
    assert_allclose(L @ np.swapaxes(L, -1, -2), a, rtol=1e-12, atol=1e-12)
    check_all(la.cholesky, [a])


def test_cholesky_grad_of_logdet_and_not_pd():
    rng = np.random.default_rng(3)
    a = spd(rng, (), 3)

    def logdet(a):  # 2 sum log diag L
        L = la.cholesky(a)
        n = a.shape[-1]
        diag = ew.select_n(np.eye(n, dtype=bool), np.zeros((n, n)), L)
        return ew.mul(2.0, red.reduce_sum(ew.log(red.reduce_sum(diag, (1,))), (0,)))
    assert_allclose(api.grad(logdet)(a), np.linalg.inv(a), rtol=1e-10, atol=1e-12)
    bad = np.stack([np.eye(2), -np.eye(2)])
    out = la.cholesky(bad)
    assert_allclose(out[0], np.eye(2))
    assert np.all(np.isnan(out[1]))
    with pytest.raises(TypeError, match=r"cholesky.*f64\[2,3\]"):
        la.cholesky(np.ones((2, 3)))


def test_vmap_of_grad_through_cholesky_and_slogdet():
    rng = np.random.default_rng(6)
    a = spd(rng, (3,), 3)

    def f(a):
        return red.reduce_sum(la.cholesky(a), (0, 1))
    check_vmap(api.grad(f), [a], rtol=1e-12, atol=1e-12)
    g = api.vmap(api.grad(lambda a: la.slogdet(a)[1]))(a)
    assert_allclose(g, np.swapaxes(np.linalg.inv(a), -1, -2), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- triangular_solve

@given(batch=st.lists(dims, max_size=1).map(tuple), m=dims, k=dims, seed=seeds,
       left_side=st.booleans(), lower=st.booleans(), transpose_a=st.booleans(),
       unit_diagonal=st.booleans())
@SETTINGS
def test_triangular_solve(batch, m, k, seed, left_side, lower, transpose_a, unit_diagonal):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, m)  # the other triangle is ignored
    b = rng.standard_normal(batch + ((m, k) if left_side else (k, m)))
    kw = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
              unit_diagonal=unit_diagonal)
    tri = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        tri = tri - tri * np.eye(m) + np.eye(m)
    op = np.swapaxes(tri, -1, -2) if transpose_a else tri
    ref = np.linalg.solve(op, b) if left_side else \
        np.swapaxes(np.linalg.solve(np.swapaxes(op, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    f = lambda a, b: la.triangular_solve(a, b, **kw)  # noqa: E731
    assert_allclose(f(a, b), ref, rtol=1e-10, atol=1e-12)
    check_all(f, [a, b])


def test_triangular_solve_errors():
    with pytest.raises(TypeError, match=r"triangular_solve.*f64\[3,3\].*f64\[2,2\]"):
        la.triangular_solve(np.eye(3), np.ones((2, 2)))


# --------------------------------------------------------------------------- solve, inv

@given(batch=st.lists(dims, max_size=2).map(tuple), n=dims, k=dims, seed=seeds)
@SETTINGS
def test_solve(batch, n, k, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, n)
    b = rng.standard_normal(batch + (n, k))
    assert_allclose(la.solve(a, b), np.linalg.solve(a, b), rtol=1e-12, atol=1e-12)
    check_all(la.solve, [a, b])
    # vmap with one side unbatched
    check_vmap(la.solve, [a, np.stack([b, 2 * b])], in_axes=(None, 0), rtol=1e-12, atol=1e-12)
    check_vmap(la.solve, [np.stack([a, a.T if a.ndim == 2 else a]), b], in_axes=(0, None),
               rtol=1e-12, atol=1e-12)


def test_solve_vector_rhs_transpose_and_errors():
    rng = np.random.default_rng(4)
    a, b = well_conditioned(rng, (), 3), rng.standard_normal(3)
    assert_allclose(la.solve(a, b), np.linalg.solve(a, b), rtol=1e-13, atol=1e-13)
    ct = rng.standard_normal(3)
    _, vjp = api.vjp(lambda b: la.solve(a, b), b)
    assert_allclose(vjp(ct)[0], np.linalg.solve(a.T, ct), rtol=1e-13, atol=1e-13)
    check_all(la.solve, [a, b])
    with pytest.raises(TypeError, match=r"solve.*f64\[3,4\]"):
        la.solve(np.ones((3, 4)), np.ones((3, 1)))
    with pytest.raises(TypeError, match=r"solve.*f64\[3,4\]"):
        api.make_jaxpr(la.solve)(np.ones((3, 4)), np.ones((3, 1)))
    with pytest.raises(TypeError, match=r"solve.*f64\[3,3\].*f64\[2,1\]"):
        la.solve(np.eye(3), np.ones((2, 1)))


@given(batch=st.lists(dims, max_size=2).map(tuple), n=dims, seed=seeds)
@SETTINGS
def test_slogdet_det_inv(batch, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, batch, n) * rng.choice([-1.0, 1.0], batch + (1, 1))
    sign, logabsdet = la.slogdet(a)
    ref_sign, ref_log = np.linalg.slogdet(a)
    assert_allclose(sign, ref_sign, 0, 0)
    assert_allclose(logabsdet, ref_log, rtol=1e-12, atol=1e-12)
    assert_allclose(la.det(a), np.linalg.det(a), rtol=1e-12, atol=1e-12)
    assert_allclose(la.inv(a), np.linalg.inv(a), rtol=1e-12, atol=1e-12)
    check_all(lambda a: list(la.slogdet(a)), [a])
    check_all(la.det, [a])
    check_all(la.inv, [a])


def test_logdet_second_derivative():
    """grad of grad: d2 log|det a|[v, v] = -tr(a^-1 v a^-1 v)."""
    rng = np.random.default_rng(5)
    a, v = well_conditioned(rng, (), 3), rng.standard_normal((3, 3))
    g = api.grad(lambda a: la.slogdet(a)[1])
    assert_allclose(g(a), np.linalg.inv(a).T, rtol=1e-12, atol=1e-12)
    _, gv = api.jvp(g, (a,), (v,))
    ai = np.linalg.inv(a)
    assert_allclose(np.vdot(gv, v), -np.trace(ai @ v @ ai @ v), rtol=1e-10, atol=1e-12)
    check_jvp(g, [a])
    check_vjp_adjoint(g, [a])


# --------------------------------------------------------------------------- sort

@given(shape=shapes, seed=seeds)
@SETTINGS
def test_sort(shape, seed):
    rng = np.random.default_rng(seed)
    x = distinct(rng, shape)
    y = rng.standard_normal(shape)
    dim = int(rng.integers(-len(shape), len(shape)))
    assert_allclose(srt.sort1(x, dim), np.sort(x, axis=dim), 0, 0)
    perm = np.argsort(x, axis=dim, kind="stable")
    sx, sy = srt.sort([x, y], dim)
    assert_allclose(sy, np.take_along_axis(y, perm, dim), 0, 0)
    check_all(lambda x: srt.sort1(x, dim), [x])
    check_all(lambda x, y: srt.sort([x, y], dim), [x, y])
    ix = srt.argsort(x, dim)
    assert np.asarray(ix).dtype == np.int64
    assert_allclose(ix, perm, 0, 0)
    check_staged(lambda x: srt.argsort(x, dim), [x])
    check_vmap(lambda x: srt.argsort(x, dim), [np.stack([x, -x])])
    check_vmap(lambda x, y: srt.sort([x, y], dim), [x, np.stack([y, 2 * y], -1)],
               in_axes=(None, -1))


def test_sort_nans_ties_num_keys():
    x = np.array([3.0, np.nan, 1.0, 2.0, 1.0, np.nan, -np.inf])
    assert_allclose(srt.sort1(x), np.sort(x), 0, 0)
    ties = np.array([2.0, 1.0, 2.0, 1.0, 0.0])
    assert srt.argsort(ties).tolist() == [4, 1, 3, 0, 2]  # stable
    assert srt.argsort(x).tolist() == np.argsort(x, kind="stable").tolist()
    k1 = np.array([1, 0, 1, 0, 1])
    k2 = np.array([3.0, 2.0, 1.0, 5.0, 2.0])
    v = np.arange(5.0)
    outs = srt.sort([k1, k2, v], num_keys=2)
    order = np.lexsort((k2, k1))
    assert_allclose(outs, [k1[order], k2[order], v[order]], 0, 0)
    check_all(lambda v: srt.sort([k1, k2, v], num_keys=2)[2], [v])
    with pytest.raises(TypeError, match="sort"):
        srt.sort([np.ones(3), np.ones(4)])


def test_sort_transpose_is_inverse_permutation():
    x = np.array([0.3, -1.0, 2.0, 0.1])
    ct = np.array([1.0, 10.0, 100.0, 1000.0])
    _, vjp = api.vjp(lambda x: srt.sort1(x), x)
    perm = np.argsort(x)
    expect = np.empty(4)
    expect[perm] = ct
    assert vjp(ct)[0].tolist() == expect.tolist()
    # grad of grad through sort: f(x) = sum(sort(x)**3 * w); d2f = diag(6 x w_rank)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    f = lambda x: red.reduce_sum(ew.mul(ew.integer_pow(srt.sort1(x), 3), w), (0,))  # noqa
    rank = np.argsort(np.argsort(x))
    assert_allclose(hvp_hessian(f, x), np.diag(6 * x * w[rank]), rtol=1e-14, atol=1e-14)
    # the transposed sort is itself transposable (vjp of vjp)
    check_vjp_adjoint(lambda c: api.vjp(srt.sort1, x)[1](c)[0], [ct])
