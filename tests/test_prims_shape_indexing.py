"""Shape primitives (squeeze, expand_dims, concatenate, pad, rev, iota, slice) and indexing
primitives (dynamic_slice, dynamic_update_slice, gather, the scatter family): eager results
against numpy references, and every transformation through tests/checks.py."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbax  # noqa: F401  (registers the primitives)
import numbax.primitives.indexing  # noqa: F401
from checks import (assert_allclose, check_all, check_jvp, check_staged, check_vjp_adjoint,
                    check_vmap)
from numbax import api
from numbax.primitives import shape as S
from numbax.primitives.elementwise import mul, sin
from numbax.primitives.indexing import (default_fill_value, dynamic_index_in_dim, dynamic_slice,
                                        dynamic_slice_in_dim, dynamic_update_slice, gather,
                                        scatter, scatter_add, scatter_max, scatter_min,
                                        scatter_mul)
from numbax.primitives.reductions import reduce_sum

SETTINGS = settings(max_examples=15, deadline=None)
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def rng_from(data):
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def total(x):
    return reduce_sum(x, tuple(range(np.ndim(x) if not hasattr(x, "aval") else x.aval.ndim)))


# =========================================================================== numpy references

def np_pad(x, pv, config):
    """Independent reference: per axis, interleave `interior` fills, then add/remove lo and hi."""
    x = np.asarray(x)
    for ax, (lo, hi, interior) in enumerate(config):
        x = np.moveaxis(x, ax, 0)
        n = x.shape[0]
        big = np.full((max(n + (n - 1) * interior, 0),) + x.shape[1:], pv, x.dtype)
        big[::interior + 1] = x
        if lo >= 0:
            big = np.concatenate([np.full((lo,) + x.shape[1:], pv, x.dtype), big])
        else:
            big = big[-lo:]
        if hi >= 0:
            big = np.concatenate([big, np.full((hi,) + x.shape[1:], pv, x.dtype)])
        else:
            big = big[:big.shape[0] + hi]
        x = np.moveaxis(big, 0, ax)
    return x


def np_gather(op, idx, mode, fill=None):
    k = idx.shape[-1]
    batch = idx.shape[:-1]
    dims = np.array(op.shape[:k])
    out = np.empty(batch + op.shape[k:], op.dtype)
    for b in np.ndindex(*batch):
        row = idx[b]
        if mode == "clip":
            out[b] = op[tuple(np.clip(row, 0, dims - 1))]
        elif np.all((row >= 0) & (row < dims)):
            out[b] = op[tuple(row)]
        else:
            out[b] = fill
    return out


def np_scatter(op, idx, upd, kind, mode="drop"):
    out = np.array(op, copy=True)
    k = idx.shape[-1]
    dims = np.array(op.shape[:k])
    fns = {"set": lambda a, u: u, "add": np.add, "mul": np.multiply, "min": np.minimum,
           "max": np.maximum}
    for b in np.ndindex(*idx.shape[:-1]):
        row = idx[b]
        if mode == "clip":
            row = np.clip(row, 0, dims - 1)
        elif not np.all((row >= 0) & (row < dims)):
            continue
        loc = tuple(row)
        out[loc] = fns[kind](out[loc], upd[b])
    return out


def np_dynamic_slice(x, starts, sizes):
    starts = [min(max(s + d if s < 0 else s, 0), d - z) for s, d, z in zip(starts, x.shape, sizes)]
    return x[tuple(slice(s, s + z) for s, z in zip(starts, sizes))]


def np_dynamic_update_slice(x, u, starts):
    out = x.copy()
    starts = [min(max(s + d if s < 0 else s, 0), d - z)
              for s, d, z in zip(starts, x.shape, u.shape)]
    out[tuple(slice(s, s + z) for s, z in zip(starts, u.shape))] = u
    return out


# =========================================================================== squeeze, expand_dims

@SETTINGS
@given(st.data())
def test_squeeze(data):
    rng = rng_from(data)
    shape = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=4).map(tuple))
    ones = [i for i, d in enumerate(shape) if d == 1]
    dims = tuple(data.draw(st.sets(st.sampled_from(ones))) if ones else ())
    x = rng.standard_normal(shape)
    f = lambda x: S.squeeze(x, dims)
    np.testing.assert_array_equal(f(x), np.squeeze(x, dims) if dims else x)
    check_all(f, (x,))


@SETTINGS
@given(st.data())
def test_expand_dims(data):
    rng = rng_from(data)
    shape = data.draw(shapes)
    n_new = data.draw(st.integers(1, 2))
    nd = len(shape) + n_new
    dims = tuple(data.draw(st.lists(st.integers(-nd, nd - 1), min_size=n_new, max_size=n_new,
                                    unique_by=lambda d: d % nd)))
    x = rng.standard_normal(shape)
    f = lambda x: S.expand_dims(x, dims)
    np.testing.assert_array_equal(f(x), np.expand_dims(x, dims))
    check_all(f, (x,))


# =========================================================================== concatenate

@SETTINGS
@given(st.data())
def test_concatenate(data):
    rng = rng_from(data)
    shape = data.draw(shapes)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = data.draw(st.integers(1, 3))
    xs = []
    for _ in range(n):
        s = list(shape)
        s[dim] = data.draw(st.integers(0, 3))
        xs.append(rng.standard_normal(s))
    f = lambda *xs: S.concatenate(xs, dim)
    np.testing.assert_array_equal(f(*xs), np.concatenate(xs, dim))
    check_all(f, tuple(xs))
    # only some operands batched
    stacked = [np.stack([x, 2 * x, -x]) for x in xs]
    in_axes = tuple(0 if i % 2 == 0 else None for i in range(n))
    check_vmap(f, [s if a == 0 else x for s, x, a in zip(stacked, xs, in_axes)], in_axes=in_axes)


def test_concatenate_ints_and_errors():
    a, b = np.arange(3), np.arange(4)
    np.testing.assert_array_equal(S.concatenate([a, b], 0), np.concatenate([a, b]))
    with pytest.raises(TypeError, match=r"concatenate.*\(2, 3\).*\(3, 3\)|concatenate.*shapes"):
        S.concatenate([np.zeros((2, 3)), np.zeros((3, 3))], 1)
    with pytest.raises(TypeError, match="concatenate.*dtype"):
        S.concatenate([np.zeros(2), np.zeros(2, np.float32)], 0)


# =========================================================================== pad

padding = st.tuples(st.integers(-1, 2), st.integers(-1, 2), st.integers(0, 2))


@SETTINGS
@given(st.data())
def test_pad(data):
    rng = rng_from(data)
    shape = data.draw(shapes)
    config = []
    for d in shape:
        lo, hi, interior = data.draw(padding)
        if d + (d - 1) * interior + lo + hi < 0:
            lo = hi = 0
        config.append((lo, hi, interior))
    x = rng.standard_normal(shape)
    pv = np.float64(rng.standard_normal())
    f = lambda x, pv: S.pad(x, pv, config)
    np.testing.assert_array_equal(f(x, pv), np_pad(x, pv, config))
    check_all(f, (x, pv))  # batches the padding value too
    check_vmap(f, [np.stack([x, x + 1]), pv], in_axes=(0, None))
    check_vmap(f, [x, np.array([pv, pv + 1])], in_axes=(None, 0))


def test_pad_examples_and_errors():
    x = np.arange(1., 4.)
    np.testing.assert_array_equal(S.pad(x, 0., [(1, 2, 1)]), [0, 1, 0, 2, 0, 3, 0, 0])
    np.testing.assert_array_equal(S.pad(x, 9., [(-1, 0, 0)]), [2, 3])
    np.testing.assert_array_equal(S.pad(x, 9., [(-2, -1, 1)]), [2, 9])
    np.testing.assert_array_equal(S.pad(np.array([True]), False, [(1, 1, 0)]), [False, True, False])
    assert S.pad(np.arange(3), 7, [(1, 0, 0)]).dtype == np.int64
    with pytest.raises(TypeError, match=r"pad.*\(3,\)"):
        S.pad(x, 0., [(-3, -1, 0)])
    with pytest.raises(TypeError, match="pad"):
        S.pad(x, 0., [(0, 0, 0), (0, 0, 0)])
    with pytest.raises(TypeError, match="pad.*interior"):
        S.pad(x, 0., [(0, 0, -1)])


# =========================================================================== rev, iota, slice

@SETTINGS
@given(st.data())
def test_rev(data):
    rng = rng_from(data)
    shape = data.draw(shapes)
    dims = tuple(data.draw(st.sets(st.integers(0, len(shape) - 1))))
    x = rng.standard_normal(shape)
    f = lambda x: S.rev(x, dims)
    np.testing.assert_array_equal(f(x), np.flip(x, dims) if dims else x)
    check_all(f, (x,))


@SETTINGS
@given(st.data())
def test_iota(data):
    shape = data.draw(shapes)
    dim = data.draw(st.integers(0, len(shape) - 1))
    dtype = data.draw(st.sampled_from([np.int32, np.int64, np.float64]))
    out = S.broadcasted_iota(dtype, shape, dim)
    ref = np.broadcast_to(np.arange(shape[dim], dtype=dtype).reshape(
        [shape[dim] if i == dim else 1 for i in range(len(shape))]), shape)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(S.iota(dtype, shape[0]), np.arange(shape[0], dtype=dtype))
    x = np.random.default_rng(0).standard_normal(shape)
    f = lambda x: mul(x, S.broadcasted_iota(np.float64, shape, dim))
    check_all(f, (x,))
    jaxpr = api.make_jaxpr(lambda x: S.iota(np.int32, 3))(1.0)
    assert "iota" in str(jaxpr)


@SETTINGS
@given(st.data())
def test_slice(data):
    rng = rng_from(data)
    shape = data.draw(shapes)
    start, limit, strides = [], [], []
    for d in shape:
        lo = data.draw(st.integers(0, d))
        start.append(lo)
        limit.append(data.draw(st.integers(lo, d)))
        strides.append(data.draw(st.integers(1, 3)))
    x = rng.standard_normal(shape)
    f = lambda x: S.slice(x, start, limit, strides)
    np.testing.assert_array_equal(f(x), x[tuple(slice(*t) for t in zip(start, limit, strides))])
    check_all(f, (x,))
    g = lambda x: S.slice(x, start, limit)
    np.testing.assert_array_equal(g(x), x[tuple(slice(*t) for t in zip(start, limit))])
    check_all(g, (x,))


def test_slice_in_dim_index_in_dim():
    x = np.arange(24.).reshape(2, 3, 4)
    np.testing.assert_array_equal(S.slice_in_dim(x, 1, None, 2, axis=2), x[:, :, 1::2])
    np.testing.assert_array_equal(S.slice_in_dim(x, -2, -1, axis=1), x[:, -2:-1])
    np.testing.assert_array_equal(S.index_in_dim(x, -1, axis=1), x[:, -1:])
    np.testing.assert_array_equal(S.index_in_dim(x, 2, axis=2, keepdims=False), x[:, :, 2])
    check_all(lambda x: S.index_in_dim(x, 1, axis=2, keepdims=False), (x,))
    with pytest.raises(IndexError):
        S.index_in_dim(x, 3, axis=1)
    out = S.slice(x, (0, 0, 0), (1, 1, 1))
    out[...] = -1  # eager results are fresh arrays, never views of the input
    assert x[0, 0, 0] == 0


def test_shape_errors():
    x = np.zeros((2, 3))
    with pytest.raises(TypeError, match=r"slice.*\(2, 3\)"):
        S.slice(x, (0, 0), (3, 3))
    with pytest.raises(TypeError, match="slice.*strides"):
        S.slice(x, (0, 0), (2, 3), (0, 1))
    with pytest.raises(TypeError, match=r"squeeze.*\(2, 3\)"):
        S.squeeze(x, (0,))
    with pytest.raises(TypeError, match="rev"):
        S.rev(x, (2,))
    with pytest.raises(TypeError, match="iota"):
        S.broadcasted_iota(np.int32, (2, 3), 2)
    # staged, the abstract evaluation raises the same errors
    with pytest.raises(TypeError, match="squeeze"):
        api.make_jaxpr(lambda x: S.squeeze(x, (1,)))(x)


# =========================================================================== higher order

def test_grad_of_grad_pad_concatenate():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4)
    v = rng.standard_normal(4)

    def f(x):
        y = S.concatenate([sin(x), mul(x, x), S.rev(x, (0,))], 0)
        z = S.pad(y, 0.5, [(2, -1, 1)])
        z = S.slice(z, (1,), (z.shape[0],), (2,))
        return total(mul(mul(z, z), z))

    g = api.grad(f)
    hv = api.grad(lambda x: total(mul(g(x), v)))(x)
    eps = 1e-6
    fd = (g(x + eps * v) - g(x - eps * v)) / (2 * eps)
    assert_allclose(hv, fd, rtol=1e-5, atol=1e-6)
    check_all(g, (x,))  # grad is itself staged, differentiated, transposed and batched


def test_grad_pad_padding_value():
    x = np.arange(1., 4.)
    g = api.grad(lambda pv: total(mul(S.pad(x, pv, [(-1, 2, 1)]), S.pad(x, pv, [(-1, 2, 1)]))))
    pv = 2.0
    n_pad = S.pad(x, 0., [(-1, 2, 1)]).size - 2  # elements equal to the padding value
    assert_allclose(g(pv), 2 * pv * n_pad)


# =========================================================================== dynamic_slice

@SETTINGS
@given(st.data())
def test_dynamic_slice(data):
    rng = rng_from(data)
    shape = data.draw(shapes)
    sizes = [data.draw(st.integers(0, d)) for d in shape]
    starts = [np.int64(data.draw(st.integers(-d - 1, d + 2))) for d in shape]
    x = rng.standard_normal(shape)
    f = lambda x, *s: dynamic_slice(x, s, sizes)
    np.testing.assert_array_equal(f(x, *starts), np_dynamic_slice(x, [int(s) for s in starts],
                                                                  sizes))
    check_all(f, (x, *starts))  # vmap here batches the starts too (a gather)
    # batched starts with different values, x unbatched / batched
    bstarts = [rng.integers(-d - 1, d + 2, size=3) for d in shape]
    check_vmap(f, [x, *bstarts], in_axes=(None,) + (0,) * len(shape))
    check_vmap(f, [np.stack([x, -x, 2 * x]), *bstarts], in_axes=(0,) + (0,) * len(shape))
    check_vmap(f, [np.stack([x, -x, 2 * x], -1), *starts], in_axes=(-1,) + (None,) * len(shape))
    if len(shape) > 1:  # only one start batched
        check_vmap(f, [x, bstarts[0], *starts[1:]], in_axes=(None, 0) + (None,) * (len(shape) - 1))


def test_dynamic_slice_clamping():
    x = np.arange(10.)
    np.testing.assert_array_equal(dynamic_slice(x, (8,), (3,)), x[7:])
    np.testing.assert_array_equal(dynamic_slice(x, (100,), (3,)), x[7:])
    np.testing.assert_array_equal(dynamic_slice(x, (-2,), (3,)), x[7:])  # wraps, then clamps
    np.testing.assert_array_equal(dynamic_slice(x, (-100,), (3,)), x[:3])
    np.testing.assert_array_equal(dynamic_slice(x, (-1,), (2,), allow_negative_indices=False),
                                  x[:2])
    np.testing.assert_array_equal(dynamic_slice_in_dim(x.reshape(2, 5), 4, 2, axis=1),
                                  x.reshape(2, 5)[:, 3:])
    np.testing.assert_array_equal(dynamic_index_in_dim(x.reshape(2, 5), 1, 0, False), x[5:])
    # traced starts, staged: same clamping
    f = api.jit(lambda x, i: dynamic_slice(x, (i,), (3,)))
    for i in (-100, -2, 0, 5, 8, 100):
        np.testing.assert_array_equal(f(x, np.int32(i)), np_dynamic_slice(x, [i], [3]))
    # grad: the cotangent goes back into the clamped window
    g = api.grad(lambda x, i: total(mul(dynamic_slice(x, (i,), (3,)),
                                        dynamic_slice(x, (i,), (3,)))))
    ref = np.zeros(10)
    ref[7:] = 2 * x[7:]
    assert_allclose(g(x, np.int64(9)), ref)
    # vmap of grad, with batched starts
    gs = api.vmap(g, in_axes=(None, 0))(x, np.array([0, 9, -3]))
    for row, i in zip(gs, [0, 9, -3]):
        assert_allclose(row, g(x, np.int64(i)))


def test_dynamic_slice_errors():
    x = np.zeros((3, 4))
    with pytest.raises(TypeError, match=r"dynamic_slice.*\(3, 4\)"):
        dynamic_slice(x, (0, 0), (4, 1))
    with pytest.raises(TypeError, match="dynamic_slice.*start indices"):
        dynamic_slice(x, (0,), (1, 1))
    with pytest.raises(TypeError, match="dynamic_slice.*integer"):
        api.make_jaxpr(lambda x, i: dynamic_slice(x, (i, 0), (1, 1)))(x, 1.0)


# =========================================================================== dynamic_update_slice

@SETTINGS
@given(st.data())
def test_dynamic_update_slice(data):
    rng = rng_from(data)
    shape = data.draw(shapes)
    ushape = [data.draw(st.integers(0, d)) for d in shape]
    starts = [np.int64(data.draw(st.integers(-d - 1, d + 2))) for d in shape]
    x, u = rng.standard_normal(shape), rng.standard_normal(ushape)
    f = lambda x, u, *s: dynamic_update_slice(x, u, s)
    np.testing.assert_array_equal(f(x, u, *starts),
                                  np_dynamic_update_slice(x, u, [int(s) for s in starts]))
    check_all(f, (x, u, *starts))  # vmap here batches the starts too (a scatter)
    bstarts = [rng.integers(-d - 1, d + 2, size=3) for d in shape]
    bu = np.stack([u, 2 * u, -u])
    check_vmap(f, [x, bu, *bstarts], in_axes=(None, 0) + (0,) * len(shape))
    check_vmap(f, [x, u, *bstarts], in_axes=(None, None) + (0,) * len(shape))
    check_vmap(f, [np.stack([x, -x, x], 1), u, *starts], in_axes=(1, None) + (None,) * len(shape))
    check_vmap(f, [x, bu, *starts], in_axes=(None, 0) + (None,) * len(shape))


def test_dynamic_update_slice_clamping_and_errors():
    x = np.zeros(5)
    np.testing.assert_array_equal(dynamic_update_slice(x, np.ones(2), (4,)), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(dynamic_update_slice(x, np.ones(2), (-1,)), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(dynamic_update_slice(x, np.ones(2), (-9,)), [1, 1, 0, 0, 0])
    with pytest.raises(TypeError, match=r"dynamic_update_slice.*\(6,\)"):
        dynamic_update_slice(x, np.ones(6), (0,))
    with pytest.raises(TypeError, match="dynamic_update_slice.*rank"):
        dynamic_update_slice(x, np.ones((1, 1)), (0,))
    with pytest.raises(TypeError, match="dynamic_update_slice.*dtype"):
        dynamic_update_slice(x, np.ones(2, np.float32), (0,))
    # grad w.r.t. both operands
    gx, gu = api.grad(lambda x, u: total(mul(dynamic_update_slice(x, u, (4,)),
                                             np.arange(5.))), argnums=(0, 1))(x, np.ones(2))
    assert_allclose(gx, np.array([0, 1, 2, 0, 0]))
    assert_allclose(gu, np.array([3, 4]))


# =========================================================================== gather

@st.composite
def gather_case(draw, max_k=None):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = draw(shapes)
    k = draw(st.integers(0, len(shape) if max_k is None else min(max_k, len(shape))))
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    cols = [rng.integers(-2, d + 2, size=batch) for d in shape[:k]]
    indices = np.stack(cols, -1) if k else np.zeros(batch + (0,), np.int64)
    return rng, rng.standard_normal(shape), indices.astype(np.int64)


@SETTINGS
@given(gather_case(), st.sampled_from(["clip", "fill"]))
def test_gather(case, mode):
    rng, x, idx = case
    kw = dict(mode=mode, fill_value=-7.0 if mode == "fill" else None)
    f = lambda x, idx: gather(x, idx, **kw)
    np.testing.assert_array_equal(f(x, idx), np_gather(x, idx, mode, -7.0))
    check_all(f, (x, idx))  # vmap here batches operand and indices (iota column)
    k = idx.shape[-1]
    bidx = np.stack([np.stack([rng.integers(-2, d + 2, size=idx.shape[:-1]) for d in x.shape[:k]],
                              -1).astype(np.int64) if k else idx for _ in range(3)])
    bx = np.stack([x, -x, 2 * x])
    check_vmap(f, [bx, idx], in_axes=(0, None))
    check_vmap(f, [x, bidx], in_axes=(None, 0))
    check_vmap(f, [x, np.moveaxis(bidx, 0, -1)], in_axes=(None, -1))  # batch after the k axis
    check_vmap(f, [np.moveaxis(bx, 0, -1), np.moveaxis(bidx, 0, -1)], in_axes=(-1, -1))


def test_gather_modes():
    x = np.arange(12.).reshape(3, 4)
    idx = np.array([[0, 1], [-1, 2], [3, 0], [2, 9]])
    np.testing.assert_array_equal(gather(x, idx), [x[0, 1], x[0, 2], x[2, 0], x[2, 3]])
    out = gather(x, idx, mode="fill")
    np.testing.assert_array_equal(out, [x[0, 1], np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(gather(x, idx[:, :1], mode="fill", fill_value=5.),
                                  [x[0], [5.] * 4, [5.] * 4, x[2]])
    xi = np.arange(4, dtype=np.int32)
    assert gather(xi, np.array([[4]]), mode="fill")[0] == np.iinfo(np.int32).min
    assert gather(xi.astype(np.uint8), np.array([[4]]), mode="fill")[0] == 255
    assert bool(gather(np.array([False]), np.array([[1]]), mode="fill")[0]) is True
    assert default_fill_value(np.float32) != default_fill_value(np.float32)  # NaN
    # k == 0: every row is the whole operand
    np.testing.assert_array_equal(gather(x, np.zeros((2, 0), np.int64)), np.stack([x, x]))


def test_grad_through_gather():
    x = np.arange(12.).reshape(3, 4) / 7
    idx = np.array([[0, 1], [2, 3], [0, 1], [5, 0], [-1, 1]])
    g = api.grad(lambda x: total(gather(x, idx)))(x)
    ref = np.zeros_like(x)
    for r in np_gather(np.arange(12).reshape(3, 4), idx, "clip"):
        ref.flat[r] += 1
    assert_allclose(g, ref)
    g_fill = api.grad(lambda x: total(gather(x, idx, mode="fill")))(x)
    ref = np.zeros_like(x)
    ref[0, 1], ref[2, 3] = 2, 1
    assert_allclose(g_fill, ref)
    # second order: d/dx sum(gather(x)^3) twice
    h = api.grad(lambda x: total(mul(api.grad(lambda x: total(
        mul(mul(gather(x, idx), gather(x, idx)), gather(x, idx))))(x), x)))(x)
    assert np.all(np.isfinite(h))
    check_all(api.grad(lambda x: total(mul(gather(x, idx), gather(x, idx)))), (x,))


def test_gather_errors():
    x = np.zeros((3, 4))
    with pytest.raises(TypeError, match="gather.*integer"):
        gather(x, np.zeros((2, 1)))
    with pytest.raises(TypeError, match=r"gather.*\(2, 3\).*\(3, 4\)"):
        gather(x, np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match="gather.*mode"):
        gather(x, np.zeros((2, 1), np.int64), mode="wrap")


# =========================================================================== scatter family

@st.composite
def scatter_case(draw):
    rng, x, idx = draw(gather_case())
    k = idx.shape[-1]
    if k and idx.shape[:-1] and draw(st.booleans()):  # force a duplicate row
        idx = idx.copy()
        idx.reshape(-1, k)[-1] = idx.reshape(-1, k)[0]
    upd = rng.standard_normal(idx.shape[:-1] + x.shape[k:])
    return rng, x, idx, upd


SCATTERS = {"set": scatter, "add": scatter_add, "mul": scatter_mul, "min": scatter_min,
            "max": scatter_max}


@SETTINGS
@given(scatter_case(), st.sampled_from(["drop", "clip"]), st.sampled_from(list(SCATTERS)))
def test_scatter(case, mode, kind):
    rng, x, idx, upd = case
    op = SCATTERS[kind]
    f = lambda x, idx, u: op(x, idx, u, mode=mode)
    assert_allclose(f(x, idx, upd), np_scatter(x, idx, upd, kind, mode), rtol=1e-14)
    if kind == "mul":  # differentiable in the operand only
        check_all(lambda x, idx: op(x, idx, upd, mode=mode), (x, idx))
    else:
        check_all(f, (x, idx, upd))
    k = idx.shape[-1]
    bidx = np.stack([np.stack([rng.integers(-2, d + 2, size=idx.shape[:-1]) for d in x.shape[:k]],
                              -1).astype(np.int64) if k else idx for _ in range(3)])
    bx, bu = np.stack([x, -x, 2 * x]), np.stack([upd, 3 * upd, -upd])
    check_vmap(f, [x, bidx, upd], in_axes=(None, 0, None))
    check_vmap(f, [bx, idx, upd], in_axes=(0, None, None))
    check_vmap(f, [x, idx, np.moveaxis(bu, 0, -1)], in_axes=(None, None, -1))
    check_vmap(f, [np.moveaxis(bx, 0, -1), np.moveaxis(bidx, 0, -1), bu], in_axes=(-1, -1, 0))


def test_scatter_duplicates_and_out_of_bounds():
    x = np.zeros(4)
    idx = np.array([[1], [1], [3], [1], [4], [-1]])
    u = np.array([1., 2., 3., 4., 5., 6.])
    np.testing.assert_array_equal(scatter_add(x, idx, u), [0, 7, 0, 3])  # 4 and -1 dropped
    np.testing.assert_array_equal(scatter_add(x, idx, u, mode="clip"), [6, 7, 0, 8])
    np.testing.assert_array_equal(scatter(x, idx, u), [0, 4, 0, 3])  # last write wins
    np.testing.assert_array_equal(scatter(x, idx, u, mode="clip"), [6, 4, 0, 5])
    np.testing.assert_array_equal(scatter_mul(np.ones(4), idx, u), [1, 8, 1, 3])
    np.testing.assert_array_equal(scatter_min(x + 2.5, idx, u), [2.5, 1, 2.5, 2.5])
    np.testing.assert_array_equal(scatter_max(x, idx, u), [0, 4, 0, 3])
    np.testing.assert_array_equal(scatter_add(np.zeros(3, np.int32), np.array([[0], [0]]),
                                              np.array([2, 3], np.int32)), [5, 0, 0])
    # rows of a 2-D operand, a scalar update broadcasts
    np.testing.assert_array_equal(scatter_add(np.zeros((3, 2)), np.array([[2], [2]]), 1.),
                                  [[0, 0], [0, 0], [2, 2]])
    # scatter (set) with duplicates: only the surviving update gets a cotangent
    gu = api.grad(lambda u: total(mul(scatter(x, idx, u), np.arange(1., 5.))))(u)
    assert_allclose(gu, np.array([0, 0, 4, 2, 0, 0]))
    gx = api.grad(lambda x: total(mul(scatter(x, idx, u), np.arange(1., 5.))))(x)
    assert_allclose(gx, np.array([1, 0, 3, 0]))


def test_scatter_extremal_ties_and_mul_grad():
    # ties are split evenly between the contributors
    d = api.jvp(lambda x, u: scatter_max(x, np.array([[0], [0]]), u),
                (np.array([1.0, 0.0]), np.array([1.0, 1.0])), (np.array([3.0, 1.0]),
                                                                np.array([6.0, 9.0])))[1]
    assert_allclose(d, np.array([(3 + 6 + 9) / 3, 1.0]))
    g = api.grad(lambda u: total(scatter_min(np.array([5.0, 0.0]), np.array([[0], [0], [1]]), u)),
                 )(np.array([2.0, 2.0, 1.0]))
    assert_allclose(g, np.array([0.5, 0.5, 0.0]))
    with pytest.raises(NotImplementedError, match="scatter_mul.*updates"):
        api.grad(lambda u: total(scatter_mul(np.ones(3), np.array([[0]]), u)))(np.array([2.0]))
    gx = api.grad(lambda x: total(scatter_mul(x, np.array([[0], [0]]), np.array([2., 3.]))))(
        np.ones(2))
    assert_allclose(gx, np.array([6, 1]))


def test_vmap_of_grad_scatter_gather():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4))
    idx = rng.integers(-1, 5, size=(5, 2, 1))

    def f(x, i):
        y = scatter_add(x, i, gather(mul(x, x), i, mode="fill", fill_value=0.), mode="drop")
        y = scatter(y, i, mul(gather(x, i), 3.), mode="clip")
        y = scatter_max(y, i, sin(gather(y, i)))
        return total(mul(y, y))

    check_vmap(api.grad(f), [x, idx], in_axes=(None, 0), rtol=1e-10, atol=1e-12)
    check_jvp(api.grad(f), [x, idx[0]])
    check_vjp_adjoint(api.grad(f), [x, idx[0]])
    check_staged(api.grad(f), (x, idx[0]))


def test_scatter_errors():
    x = np.zeros((3, 4))
    with pytest.raises(TypeError, match=r"scatter_add.*\(2, 3\).*\(2, 4\)"):
        scatter_add(x, np.zeros((2, 1), np.int64), np.zeros((2, 3)))
    with pytest.raises(TypeError, match="scatter.*integer"):
        scatter(x, np.zeros((2, 1)), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="scatter_max.*dtype"):
        scatter_max(x, np.zeros((2, 1), np.int64), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="scatter_min.*mode"):
        scatter_min(x, np.zeros((2, 1), np.int64), np.zeros((2, 4)), mode="wrap")
    with pytest.raises(TypeError, match="scatter_mul"):
        api.make_jaxpr(lambda u: scatter_mul(x, np.zeros((2, 1), np.int64), u))(np.zeros((3, 4)))
