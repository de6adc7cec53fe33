"""CUDA kernels for dot_general, generated as source text for `numba.cuda.jit`.

Why source text: shapes are static per compile, so the generator can bake every size into the
kernel as a constant. The product is viewed as (B, M, N, K) = (batch, lhs free, rhs free,
contracted) sizes, and a flat index along each is unravelled into the operands' own axes with
constant divisors inside the kernel. The operands are indexed with their natural
multi-dimensional indices, so non-contiguous views (transposes, slices) need no host-side copy:
numba applies the strides.

Call convention (see `DotKernel`):

    dk = dot_general_kernel(lhs.shape, rhs.shape, lhs.dtype, rhs.dtype, out_dtype, dn)
    out = cuda.device_array(dk.out_size, dk.out_dtype)       # flat, C-contiguous
    if not dk.empty:
        dk.build()[dk.grid, dk.block](lhs, rhs, out)
    result = out.reshape(dk.out_shape)                        # host side: copy_to_host first

The kernel writes a flat 1-D output of B*M*N elements, out[(b*M + m)*N + n]; that is the
C-order layout of `out_shape` (batch dims, lhs free dims, rhs free dims), and it keeps a full
contraction (0-d result) uniform with the rest: the caller reshapes.

Variants (chosen from the shapes alone):

* "tiled": the general case. TILE x TILE blocks; each step stages a TILE x TILE tile of the
  (M, K) lhs matrix and of the (K, N) rhs matrix in shared memory, zero-padded at ragged edges.
  Grid (N tiles, M tiles, B), each capped at 65535 blocks and covered by grid-stride loops.
* "thread_dot" (M == 1 or N == 1, matrix-vector products such as X.T @ r in gradients): one
  thread per output element looping over K. Consecutive threads take consecutive outputs, so
  reads of the matrix operand coalesce when its innermost axis is a free axis (X.T @ r, x @ W).
* "warp_dot" (M == 1 or N == 1, the matrix operand's innermost axis is contracted and K >= 32,
  e.g. W @ x): one warp per output element, its lanes striding over K (coalesced reads of a
  row), partial sums reduced in shared memory. Shared memory rather than warp shuffles, because
  the CUDA simulator has no shuffles.

Numerics follow numbax's eager `_dot_general_impl` (numpy's matmul in the operands' promoted
type, then a cast to `out_dtype`): floats accumulate in their own precision (float16 in
float32, as numpy's matmul), integers in 64 bits and wrap to the promoted type at the end
(the same result modulo 2**bits as numpy's wrapping arithmetic), bool x bool counts the true
products and gives `count != 0` (numpy's or-of-ands). Each operand is converted to the
accumulation type as it is loaded.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

TILE = 16  # tiled variant: block (TILE, TILE), shared tiles TILE x TILE
WARP = 32
WARPS_PER_BLOCK = 8  # warp_dot: block (WARP, WARPS_PER_BLOCK), one output per warp
THREADS_PER_BLOCK = 128  # thread_dot: one output per thread
GRID_CAP = 65535  # the limit of grid y and z, used for every dimension: grid-stride loops cover more


class DotKernel(NamedTuple):
    """A generated dot_general kernel and how to launch it.

    `source` defines `py_name` (the plain Python function, for `cuda.compile_ptx`) and `name`
    (= `cuda.jit(py_name)`), called as `kernel[grid, block](lhs, rhs, out)` with lhs/rhs device
    arrays of exactly the operand shapes (any strides) and `out` a flat C-contiguous device
    array of `out_size` elements of `out_dtype`, to be reshaped to `out_shape` by the caller.
    `empty` is True when the output has no elements: skip the launch (launching the given
    grid is harmless too, it writes nothing)."""
    source: str
    grid: tuple
    block: tuple
    out_shape: tuple
    out_dtype: np.dtype
    out_size: int
    description: str
    variant: str  # "tiled" | "thread_dot" | "warp_dot"
    empty: bool
    py_name: str = "kernel_py"
    name: str = "kernel"

    def build(self):
        """Exec the source in a fresh namespace and return the `cuda.jit` kernel."""
        namespace: dict = {"__name__": f"numbax_cuda_dot_{id(self):x}"}
        exec(compile(self.source, f"<{self.description}>", "exec"), namespace)
        return namespace[self.name]


# --------------------------------------------------------------------------- dtypes

def _np_name(dtype: np.dtype) -> str:
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


def _accumulator(promoted: np.dtype) -> np.dtype:
    """The type products are summed in: the promoted float type (float16 in float32, like
    numpy's matmul), 64-bit integers otherwise (bool counts true products)."""
    if promoted.kind == "f":
        return np.dtype(np.float32) if promoted.itemsize <= 4 else np.dtype(np.float64)
    if promoted.kind in "bi":
        return np.dtype(np.int64)
    if promoted.kind == "u":
        return np.dtype(np.uint64)
    raise TypeError(f"dot_general on CUDA: unsupported dtype {promoted.name}")


def _load(expr: str, dtype: np.dtype, acc: np.dtype) -> str:
    return expr if dtype == acc else f"{_np_name(acc)}({expr})"


def _finish(acc_expr: str, acc: np.dtype, promoted: np.dtype, out: np.dtype) -> str:
    """The accumulator as numpy's matmul result (promoted type), then cast to `out`."""
    if promoted.kind == "b":
        value = f"{acc_expr} != 0"
    elif promoted != acc:
        value = f"{_np_name(promoted)}({acc_expr})"
    else:
        value = acc_expr
    if out != promoted:
        value = f"({value}) != 0" if out.kind == "b" else f"{_np_name(out)}({value})"
    return value


# --------------------------------------------------------------------------- index helpers

def _prod(sizes: Sequence[int]) -> int:
    return int(np.prod(sizes, dtype=np.int64))


def _unravel(flat: str, names: Sequence[str], sizes: Sequence[int]) -> list[str]:
    """Lines assigning the C-order digits of the flat index `flat` to `names`."""
    if not names:
        return []
    if flat == "0":
        return [f"{n} = 0" for n in names]
    if len(names) == 1:
        return [f"{names[0]} = {flat}"]
    lines = []
    for i, name in enumerate(names):
        stride = _prod([max(s, 1) for s in sizes[i + 1:]])
        if i == 0:
            lines.append(f"{name} = {flat} // {stride}")
        elif stride == 1:
            lines.append(f"{name} = {flat} % {max(sizes[i], 1)}")
        else:
            lines.append(f"{name} = ({flat} // {stride}) % {max(sizes[i], 1)}")
    return lines


def _index(ndim: int, batch, contract, free, role_names: dict) -> str:
    """The subscript of an operand: each axis gets its batch/contract/free digit's name."""
    parts = []
    for ax in range(ndim):
        if ax in batch:
            parts.append(role_names["b"][batch.index(ax)])
        elif ax in contract:
            parts.append(role_names["k"][contract.index(ax)])
        else:
            parts.append(role_names["f"][free.index(ax)])
    return ", ".join(parts) if parts else "()"


def _indent(lines: list[str], depth: int) -> list[str]:
    return ["    " * depth + line if line else line for line in lines]


def _shape_str(dtype: np.dtype, shape) -> str:
    return f"{dtype.name}[{','.join(map(str, shape))}]"


# --------------------------------------------------------------------------- generator

def dot_general_kernel(lhs_shape: tuple, rhs_shape: tuple, lhs_dtype, rhs_dtype, out_dtype,
                       dimension_numbers) -> DotKernel:
    """Generate a CUDA kernel computing dot_general(lhs, rhs, dimension_numbers) as `out_dtype`
    (the eqn's output dtype, i.e. preferred_element_type or the operand dtype)."""
    lhs_shape, rhs_shape = tuple(map(int, lhs_shape)), tuple(map(int, rhs_shape))
    ldt, rdt, odt = np.dtype(lhs_dtype), np.dtype(rhs_dtype), np.dtype(out_dtype)
    (lc, rc), (lb, rb) = dimension_numbers
    canon = lambda dims, nd: [int(d) % nd if nd else int(d) for d in dims]  # noqa: E731
    lc, rc = canon(lc, len(lhs_shape)), canon(rc, len(rhs_shape))
    lb, rb = canon(lb, len(lhs_shape)), canon(rb, len(rhs_shape))
    lf = [d for d in range(len(lhs_shape)) if d not in lc and d not in lb]
    rf = [d for d in range(len(rhs_shape)) if d not in rc and d not in rb]
    bsizes = [lhs_shape[d] for d in lb]
    ksizes = [lhs_shape[d] for d in lc]
    msizes, nsizes = [lhs_shape[d] for d in lf], [rhs_shape[d] for d in rf]
    if len(lc) != len(rc) or len(lb) != len(rb) or ksizes != [rhs_shape[d] for d in rc] \
            or bsizes != [rhs_shape[d] for d in rb]:
        raise TypeError(f"dot_general: incompatible shapes {lhs_shape} and {rhs_shape} for "
                        f"dimension_numbers {dimension_numbers}")
    B, M, N, K = _prod(bsizes), _prod(msizes), _prod(nsizes), _prod(ksizes)
    out_shape = tuple(bsizes + msizes + nsizes)
    promoted = np.result_type(ldt, rdt)
    acc = _accumulator(promoted)

    names = {
        "lhs": {"b": [f"ib{i}" for i in range(len(lb))], "k": [f"ik{i}" for i in range(len(lc))],
                "f": [f"im{i}" for i in range(len(lf))]},
        "rhs": {"b": [f"ib{i}" for i in range(len(rb))], "k": [f"ik{i}" for i in range(len(rc))],
                "f": [f"in{i}" for i in range(len(rf))]},
    }
    g = _Gen(lhs=f"lhs[{_index(len(lhs_shape), lb, lc, lf, names['lhs'])}]",
             rhs=f"rhs[{_index(len(rhs_shape), rb, rc, rf, names['rhs'])}]",
             ldt=ldt, rdt=rdt, acc=acc, promoted=promoted, out=odt,
             bnames=names["lhs"]["b"], knames=names["lhs"]["k"], mnames=names["lhs"]["f"],
             nnames=names["rhs"]["f"], bsizes=bsizes, ksizes=ksizes, msizes=msizes,
             nsizes=nsizes)
    empty = B * M * N == 0

    if not empty and (M == 1 or N == 1):
        # The matrix operand is the one whose free size is the number of outputs per batch.
        mat_shape, mat_contract = (lhs_shape, lc) if N == 1 else (rhs_shape, rc)
        contract_inner = bool(mat_shape) and (len(mat_shape) - 1) in mat_contract
        variant = "warp_dot" if contract_inner and K >= WARP else "thread_dot"
    else:
        variant = "tiled"
    if variant == "tiled":
        body, consts = g.tiled(B, M, N, K)
        grid = tuple(max(1, min(math.ceil(n / TILE), GRID_CAP)) for n in (N, M)) \
            + (max(1, min(B, GRID_CAP)),)
        block = (TILE, TILE)
        how = f"tiled {TILE}x{TILE}"
    elif variant == "thread_dot":
        body, consts = g.thread_dot(B, M, N, K)
        grid = (max(1, min(math.ceil(B * M * N / THREADS_PER_BLOCK), GRID_CAP)),)
        block = (THREADS_PER_BLOCK,)
        how = f"thread dot, {THREADS_PER_BLOCK} threads/block"
    else:
        body, consts = g.warp_dot(B, M, N, K)
        grid = (max(1, min(math.ceil(B * M * N / WARPS_PER_BLOCK), GRID_CAP)),)
        block = (WARP, WARPS_PER_BLOCK)
        how = f"warp dot, {WARPS_PER_BLOCK} warps/block"
    description = (f"dot_general {_shape_str(ldt, lhs_shape)} x {_shape_str(rdt, rhs_shape)} -> "
                   f"{_shape_str(odt, out_shape)} ({how}, batch {B})")
    header = [
        f'"""{description}',
        "",
        f"Generated by numbax.backends.numba_cuda.matmul. dimension_numbers = {dimension_numbers};",
        f"(B, M, N, K) = ({B}, {M}, {N}, {K}); accumulates in {acc.name}.",
        f"Launch: kernel[{grid}, {block}](lhs, rhs, out), out flat with B*M*N elements,",
        'out[(b*M + m)*N + n]; lhs and rhs may be strided views."""',
        "import math",
        "",
        "import numpy as np",
        "import numba",
        "from numba import cuda",
        "",
        f"B, M, N, K = {B}, {M}, {N}, {K}  # batch, lhs free, rhs free, contracted sizes",
        *consts,
        "",
        "",
        "def kernel_py(lhs, rhs, out):",
        *_indent(body, 1),
        "",
        "",
        "kernel = cuda.jit(kernel_py)",
        "",
    ]
    return DotKernel(source="\n".join(header), grid=grid, block=block, out_shape=out_shape,
                     out_dtype=odt, out_size=B * M * N, description=description,
                     variant=variant, empty=empty)


class _Gen:
    """Kernel bodies for one dot_general; `lhs`/`rhs` are the operands' subscript expressions
    in terms of the digit names ib*, im*, in*, ik*."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def _product(self) -> str:
        return f"{_load(self.lhs, self.ldt, self.acc)} * {_load(self.rhs, self.rdt, self.acc)}"

    def _zero(self) -> str:
        return f"{_np_name(self.acc)}(0)"

    def _store(self, where: str, acc_expr: str) -> str:
        return f"out[{where}] = {_finish(acc_expr, self.acc, self.promoted, self.out)}"

    def _output_digits(self, M: int, N: int) -> list[str]:
        """For the one-output-per-thread/warp variants: flat output `o` -> b, m, n digits."""
        P = M * N
        lines = []
        if self.bnames:
            lines += [f"b = o // {P}" if P > 1 else "b = o"]
            lines += _unravel("b", self.bnames, self.bsizes)
        if N == 1:
            lines += [f"m = o % {P}" if P > 1 else "m = 0"]
            lines += _unravel("0" if P == 1 else "m", self.mnames, self.msizes)
            lines += _unravel("0", self.nnames, self.nsizes)
        else:
            lines += ["n = o % " + str(P)]
            lines += _unravel("0", self.mnames, self.msizes)
            lines += _unravel("n", self.nnames, self.nsizes)
        return lines

    def tiled(self, B: int, M: int, N: int, K: int):
        a, z = _np_name(self.acc), self._zero()
        consts = [f"TILE = {TILE}",
                  f"M_TILES, N_TILES, K_TILES = {math.ceil(M / TILE)}, {math.ceil(N / TILE)}, "
                  f"{math.ceil(K / TILE)}"]
        k_body = [
            "# Stage the lhs tile: thread (ty, tx) loads A[m, k0 + tx], zero past the edges.",
            "k = k_tile * TILE + tx",
            *_unravel("k", self.knames, self.ksizes),
            "if m < M and k < K:",
            f"    a_tile[ty, tx] = {_load(self.lhs, self.ldt, self.acc)}",
            "else:",
            f"    a_tile[ty, tx] = {z}",
            "# Stage the rhs tile: thread (ty, tx) loads B[k0 + ty, n].",
            "k = k_tile * TILE + ty",
            *_unravel("k", self.knames, self.ksizes),
            "if k < K and n < N:",
            f"    b_tile[ty, tx] = {_load(self.rhs, self.rdt, self.acc)}",
            "else:",
            f"    b_tile[ty, tx] = {z}",
            "cuda.syncthreads()",
            "for kk in range(TILE):",
            "    acc += a_tile[ty, kk] * b_tile[kk, tx]",
            "cuda.syncthreads()  # before the next step overwrites the tiles",
        ]
        n_body = [
            "n = n_tile * TILE + tx  # the column this thread stages in b_tile and writes",
            *_unravel("n", self.nnames, self.nsizes),
            f"acc = {z}",
            "for k_tile in range(K_TILES):",
            *_indent(k_body, 1),
            "if m < M and n < N:",
            "    " + self._store("(b * M + m) * N + n", "acc"),
        ]
        body = [
            f"a_tile = cuda.shared.array((TILE, TILE), {a})",
            f"b_tile = cuda.shared.array((TILE, TILE), {a})",
            "ty = cuda.threadIdx.y",
            "tx = cuda.threadIdx.x",
            "# Grid-stride loops: each grid dimension is capped at 65535 blocks. Every thread of a",
            "# block runs the same iterations, so the syncthreads below are reached by all.",
            "for b in range(cuda.blockIdx.z, B, cuda.gridDim.z):",
            *_indent(_unravel("b", self.bnames, self.bsizes), 1),
            "    for m_tile in range(cuda.blockIdx.y, M_TILES, cuda.gridDim.y):",
            "        m = m_tile * TILE + ty  # the row this thread stages in a_tile and writes",
            *_indent(_unravel("m", self.mnames, self.msizes), 2),
            "        for n_tile in range(cuda.blockIdx.x, N_TILES, cuda.gridDim.x):",
            *_indent(n_body, 3),
        ]
        return body, consts

    def _k_loops(self, inner: list[str]) -> list[str]:
        """Nested loops over the contracted axes (no divisions) around `inner`."""
        lines, depth = [], 0
        for name, size in zip(self.knames, self.ksizes):
            lines.append("    " * depth + f"for {name} in range({size}):")
            depth += 1
        return lines + _indent(inner, depth)

    def thread_dot(self, B: int, M: int, N: int, K: int):
        body = [
            "# One thread per output element (consecutive threads, consecutive outputs), each",
            "# looping over the K contracted elements; grid-stride over the outputs.",
            "for o in range(cuda.grid(1), B * M * N, cuda.gridsize(1)):",
            *_indent(self._output_digits(M, N), 1),
            f"    acc = {self._zero()}",
            *_indent(self._k_loops([f"acc += {self._product()}"]), 1),
            "    " + self._store("o", "acc"),
        ]
        return body, []

    def warp_dot(self, B: int, M: int, N: int, K: int):
        consts = [f"WARP, WARPS = {WARP}, {WARPS_PER_BLOCK}  # block (WARP, WARPS)"]
        reduce = [
            "partial[warp, lane] = acc",
            "cuda.syncthreads()",
            "# Tree reduction of the warp's WARP partial sums (block-wide syncs: all threads",
            "# run the same iterations).",
            "width = WARP // 2",
            "while width > 0:",
            "    if lane < width:",
            "        partial[warp, lane] += partial[warp, lane + width]",
            "    cuda.syncthreads()",
            "    width //= 2",
            "if lane == 0 and o < B * M * N:",
            "    " + self._store("o", "partial[warp, 0]"),
        ]
        body = [
            f"partial = cuda.shared.array((WARPS, WARP), {_np_name(self.acc)})",
            "lane = cuda.threadIdx.x",
            "warp = cuda.threadIdx.y",
            "# One warp per output element, its lanes striding over K (coalesced along the",
            "# matrix operand's contracted innermost axis); grid-stride over the outputs.",
            "for first in range(cuda.blockIdx.x * WARPS, B * M * N, cuda.gridDim.x * WARPS):",
            "    o = first + warp",
            f"    acc = {self._zero()}",
            "    if o < B * M * N:",
            *_indent(self._output_digits(M, N), 2),
            "        for k in range(lane, K, WARP):",
            *_indent(_unravel("k", self.knames, self.ksizes), 3),
            f"            acc += {self._product()}",
            *_indent(reduce, 1),
        ]
        return body, consts
