"""The generated CUDA dot_general kernels (backends/numba_cuda/matmul.py) against numbax's eager
(numpy) dot_general: launched on a GPU or the CUDA simulator, and compiled to PTX where numba's
NVVM is usable without the simulator (e.g. numba-cuda without a GPU)."""
from __future__ import annotations


import numba
import numpy as np
import pytest
from numba import cuda

import numbax.lax as lax
from numbax.backends.numba_cuda.matmul import DotKernel, dot_general_kernel

# conftest.py skips the launches without a GPU or the simulator, and the PTX test without
# numba-cuda's NVVM

MATMUL = (((1,), (0,)), ((), ()))
VECMAT = (((0,), (0,)), ((), ()))


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.3
    if dtype.kind in "iu":
        return rng.integers(-50 if dtype.kind == "i" else 0, 50, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _launch(dk: DotKernel, d_lhs, d_rhs, grid=None) -> np.ndarray:
    out = cuda.device_array(dk.out_size, dk.out_dtype)
    if not dk.empty:
        dk.build()[grid or dk.grid, dk.block](d_lhs, d_rhs, out)
    return out.copy_to_host().reshape(dk.out_shape)


def _reference(lhs, rhs, dn, out_dtype):
    """numbax's eager dot_general; mixed operand dtypes (which numbax rejects) are computed in
    their promoted type, as numpy's matmul would."""
    t = np.result_type(lhs, rhs)
    res = np.asarray(lax.dot_general(lhs.astype(t), rhs.astype(t), dn,
                                     preferred_element_type=out_dtype))
    return res.astype(out_dtype) if out_dtype is not None else res


def _check(lhs, rhs, dn, out_dtype=None, *, d_lhs=None, d_rhs=None, variant=None, grid=None):
    ref = _reference(lhs, rhs, dn, out_dtype)
    dk = dot_general_kernel(lhs.shape, rhs.shape, lhs.dtype, rhs.dtype, ref.dtype, dn)
    assert dk.out_shape == ref.shape
    if variant is not None:
        assert dk.variant == variant, dk.description
    to_device = lambda x: cuda.to_device(np.ascontiguousarray(x))  # noqa: E731
    got = _launch(dk, to_device(lhs) if d_lhs is None else d_lhs,
                  to_device(rhs) if d_rhs is None else d_rhs, grid)
    assert got.dtype == ref.dtype
    promoted = np.result_type(lhs, rhs)   # the precision of the sums
    if promoted.kind == "f":
        k = max(1, int(np.prod([lhs.shape[d] for d in dn[0][0]])))
        rtol = {2: 1e-2, 4: 1e-5, 8: 1e-12}[promoted.itemsize]
        scale = np.abs(np.asarray(_reference(np.abs(lhs), np.abs(rhs), dn, out_dtype)))
        np.testing.assert_array_less(np.abs(got - ref), rtol * k * scale + 1e-30)
    else:
        np.testing.assert_array_equal(got, ref)
    return dk


# --------------------------------------------------------------------------- launches

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_ragged_tiles(dtype):
    # 2 x 2 output tiles and 2 K tiles, all ragged.
    _check(_data((20, 18), dtype), _data((18, 17), dtype, 1), MATMUL, variant="tiled")


def test_matrix_vector_both_ways():
    a, x = _data((6, 40), np.float64), _data((40,), np.float64, 1)
    _check(a, x, (((1,), (0,)), ((), ())), variant="warp_dot")        # A @ x, rows coalesce
    _check(a.T.copy(), x, (((0,), (0,)), ((), ())), variant="thread_dot")  # X.T @ r
    _check(x, a.T.copy(), VECMAT, variant="thread_dot")               # x @ W
    _check(x, a, (((0,), (1,)), ((), ())), variant="warp_dot")        # x @ W.T
    _check(a[:, :7], x[:7], (((1,), (0,)), ((), ())), variant="thread_dot")  # short K
    # rhs (K, 1): N == 1 with a free axis of size 1.
    _check(a[:, :7], x[:7, None], MATMUL, variant="thread_dot")


def test_vector_vector_zero_d():
    x, y = _data((40,), np.float64), _data((40,), np.float64, 1)
    dk = _check(x, y, (((0,), (0,)), ((), ())), variant="warp_dot")
    assert dk.out_shape == () and dk.out_size == 1
    _check(x[:5], y[:5], (((0,), (0,)), ((), ())), variant="thread_dot")


def test_batched_one_dim_not_leading():
    # lhs (K, B, M), rhs (N, B, K): batch axis in the middle of both.
    lhs, rhs = _data((5, 3, 18), np.float64), _data((4, 3, 5), np.float64, 1)
    _check(lhs, rhs, (((0,), (2,)), ((1,), (1,))), variant="tiled")
    # Batched matrix-vector: lhs (B, M, K), rhs (K, B).
    _check(_data((3, 4, 6), np.float64), _data((6, 3), np.float64, 2),
           (((2,), (0,)), ((0,), (1,))), variant="thread_dot")


def test_batched_two_dims():
    # lhs (2, M=5, K=3, 3): batch (3, 0) -> sizes (3, 2); rhs (3, N=4, 2, K=3): batch (0, 2).
    lhs, rhs = _data((2, 5, 3, 3), np.float64), _data((3, 4, 2, 3), np.float64, 1)
    dk = _check(lhs, rhs, (((2,), (3,)), ((3, 0), (0, 2))), variant="tiled")
    assert dk.out_shape == (3, 2, 5, 4)


def test_two_contracting_and_scattered_free_dims():
    # lhs (3, 4, 5, 2): contract (0, 2), free (1, 3); rhs (5, 6, 3): contract (2, 0) in swapped
    # order, free (1,).
    lhs, rhs = _data((3, 4, 5, 2), np.float64), _data((5, 6, 3), np.float64, 1)
    dk = _check(lhs, rhs, (((0, 2), (2, 0)), ((), ())), variant="tiled")
    assert dk.out_shape == (4, 2, 6)
    # The same contraction with a single output column (warp_dot unravels k = (i, j) per lane).
    lhs2, rhs2 = _data((2, 8, 5), np.float64), _data((8, 5), np.float64, 1)
    _check(lhs2, rhs2, (((1, 2), (0, 1)), ((), ())), variant="warp_dot")


def test_outer_product_no_contraction():
    _check(_data((3, 17), np.float64), _data((2,), np.float64, 1), (((), ()), ((), ())),
           variant="tiled")


def test_non_contiguous_operands():
    base_l, base_r = _data((18, 20), np.float64), _data((17, 36), np.float64, 1)
    lhs, rhs = base_l.T, base_r[:, ::2].T           # (20, 18) and (18, 17), both strided
    d_lhs, d_rhs = cuda.to_device(base_l).T, cuda.to_device(base_r)[:, ::2].T
    assert not d_lhs.is_c_contiguous() and not d_rhs.is_c_contiguous()
    _check(np.ascontiguousarray(lhs), np.ascontiguousarray(rhs), MATMUL, d_lhs=d_lhs,
           d_rhs=d_rhs)
    x = _data((36,), np.float64, 2)
    _check(np.ascontiguousarray(rhs), x[::2].copy(), (((0,), (0,)), ((), ())),
           d_lhs=d_rhs, d_rhs=cuda.to_device(x)[::2])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_integers_exact(dtype):
    _check(_data((17, 9), dtype), _data((9, 18), dtype, 1), MATMUL, variant="tiled")
    _check(_data((5, 40), dtype), _data((40,), dtype, 1), (((1,), (0,)), ((), ())),
           variant="warp_dot")


def test_int32_wraps_like_numpy():
    lhs = np.full((2, 3), 1 << 20, np.int32)
    rhs = np.full((3, 17), (1 << 20) + 7, np.int32)
    ref = _reference(lhs, rhs, MATMUL, None)
    assert (ref != 3 * (1 << 20) * ((1 << 20) + 7)).all()   # numpy wrapped
    _check(lhs, rhs, MATMUL)
    _check(lhs[0], rhs, VECMAT, variant="thread_dot")


def test_bool():
    _check(_data((6, 17), bool), _data((17, 18), bool, 1), MATMUL, variant="tiled")
    _check(_data((6, 3), bool), _data((3,), bool, 1), (((1,), (0,)), ((), ())))
    _check(_data((6, 3), bool), _data((3, 2), bool, 1), MATMUL, np.float32)


def test_preferred_element_type_and_mixed_dtypes():
    lhs32, rhs32 = _data((5, 6), np.float32), _data((6, 17), np.float32, 1)
    _check(lhs32, rhs32, MATMUL, np.float64)     # float32 product, then widened
    lhs_i, rhs_i = _data((5, 6), np.int32), _data((6, 17), np.int32, 1)
    _check(lhs_i, rhs_i, MATMUL, np.float32)
    # To int32 (truncation): small integers in float32 keep the float sums exact.
    _check(np.round(lhs32 * 4), np.round(rhs32 * 4), MATMUL, np.int32)
    # Mixed operands (as a backend may see after casts are fused): promoted accumulation.
    _check(_data((5, 6), np.int16), rhs32, MATMUL)
    _check(_data((5, 6), np.float32), _data((6,), np.float64, 1), (((1,), (0,)), ((), ())))


def test_float16():
    _check(_data((5, 18), np.float16), _data((18, 17), np.float16, 1), MATMUL, variant="tiled")


def test_k_zero_gives_zeros():
    dk = _check(_data((3, 0), np.float64), _data((0, 17), np.float64), MATMUL)
    assert not dk.empty
    _check(_data((3, 0), np.int32), _data((0,), np.int32), (((1,), (0,)), ((), ())))


def test_empty_outputs_skip_launch():
    for lhs_shape, rhs_shape in [((0, 5), (5, 4)), ((3, 5), (5, 0)), ((0, 5), (5,))]:
        dn = MATMUL
        dk = _check(_data(lhs_shape, np.float64), _data(rhs_shape, np.float64), dn)
        assert dk.empty and dk.out_size == 0 and min(dk.grid) >= 1
    # Launching anyway is harmless: the loops are empty.
    out = cuda.device_array(0, np.float64)
    dk.build()[dk.grid, dk.block](cuda.to_device(np.zeros((0, 5))), cuda.to_device(np.zeros(5)),
                                  out)
    dk = dot_general_kernel((0, 3, 4), (0, 4, 2), np.float32, np.float32, np.float32,
                            (((2,), (1,)), ((0,), (0,))))
    assert dk.empty and dk.out_shape == (0, 3, 2)


def test_grid_stride_loops_cover_a_small_grid():
    # Launch with one block where several are asked for: the grid-stride loops (which cover
    # the 65535 cap on grid y/z) must still visit every batch, row tile and column tile.
    lhs, rhs = _data((2, 18, 3), np.float64), _data((2, 3, 17), np.float64, 1)
    dn = (((2,), (1,)), ((0,), (0,)))
    dk = dot_general_kernel(lhs.shape, rhs.shape, lhs.dtype, rhs.dtype, np.float64, dn)
    assert dk.grid == (2, 2, 2)
    _check(lhs, rhs, dn, grid=(1, 1, 1))
    no_contraction = (((), ()), ((), ()))
    _check(_data((300,), np.float64), _data((1,), np.float64, 1), no_contraction,
           variant="thread_dot", grid=(1,))                     # 300 outputs, 128 threads
    _check(_data((20, 40), np.float64), _data((40,), np.float64, 1), (((1,), (0,)), ((), ())),
           variant="warp_dot", grid=(1,))                       # 20 outputs, 8 warps


def test_source_and_description():
    dk = dot_general_kernel((4, 8), (8, 3), np.float32, np.float32, np.float32, MATMUL)
    assert dk.description == "dot_general float32[4,8] x float32[8,3] -> float32[4,3] " \
        "(tiled 16x16, batch 1)"
    assert dk.grid == (1, 1, 1) and dk.block == (16, 16) and dk.out_size == 12
    for line in ("import math", "import numpy as np", "import numba", "from numba import cuda",
                 "def kernel_py(lhs, rhs, out):", "kernel = cuda.jit(kernel_py)",
                 "cuda.shared.array((TILE, TILE), np.float32)", "cuda.syncthreads()"):
        assert line in dk.source
    with pytest.raises(TypeError):
        dot_general_kernel((4, 8), (7, 3), np.float32, np.float32, np.float32, MATMUL)


# --------------------------------------------------------------------------- PTX

# (lhs shape, rhs shape, dimension_numbers): one per variant and index pattern.
_PTX_CASES = [
    ((20, 18), (18, 17), MATMUL),                                   # tiled
    ((2, 5, 3, 3), (3, 4, 2, 3), (((2,), (3,)), ((3, 0), (0, 2)))),  # tiled, batched
    ((3, 4, 5, 2), (5, 6, 3), (((0, 2), (2, 0)), ((), ()))),        # tiled, two contractions
    ((6, 40), (40,), (((1,), (0,)), ((), ()))),                     # warp_dot
    ((40, 6), (40,), (((0,), (0,)), ((), ()))),                     # thread_dot
    ((40,), (40,), (((0,), (0,)), ((), ()))),                       # vector . vector, 0-d out
    ((), (5, 3), (((), ()), ((), ()))),                             # 0-d operand
]
_PTX_DTYPES = [(np.float32, np.float32, np.float32), (np.float64, np.float64, np.float64),
               (np.int32, np.int32, np.int32), (np.int64, np.int64, np.int64),
               (np.uint32, np.uint32, np.uint32), (np.bool_, np.bool_, np.bool_),
               (np.float16, np.float16, np.float16), (np.int32, np.int32, np.float64),
               (np.int16, np.float32, np.float64), (np.bool_, np.bool_, np.float32)]


@pytest.mark.parametrize("dtypes", _PTX_DTYPES, ids=lambda d: "-".join(np.dtype(t).name for t in d))
def test_every_variant_compiles_to_ptx(dtypes):
    from numba import types
    variants = set()
    for lhs_shape, rhs_shape, dn in _PTX_CASES:
        dk = dot_general_kernel(lhs_shape, rhs_shape, *dtypes, dn)
        variants.add(dk.variant)
        namespace: dict = {}
        exec(dk.source, namespace)
        arr = lambda dt, nd, layout: types.Array(numba.from_dtype(np.dtype(dt)), nd, layout)  # noqa
        sig = types.void(arr(dtypes[0], len(lhs_shape), "A"), arr(dtypes[1], len(rhs_shape), "A"),
                         arr(dtypes[2], 1, "C"))
        ptx, _ = cuda.compile_ptx(namespace[dk.py_name], sig, cc=(8, 0))
        assert ".entry" in ptx, dk.description
    assert variants == {"tiled", "warp_dot", "thread_dot"}
