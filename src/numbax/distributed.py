"""Batched maps and block reductions on a Dask cluster (`pip install numbax[distributed]`).

numbax does not run its own cluster: work goes to `dask.distributed`, which users already run
on laptops, batch systems and Kubernetes. What crosses the wire is a jitted program: a
`numbax.jit` function pickles as its traced jaxprs (plus its Python function when that pickles),
so a worker compiles each program once, through its own disk cache (`NUMBAX_CACHE_DIR`).

- `map(f, xs, client=...)`: `jit(vmap(f))` over chunks of the leading axis of `xs`, results
  reassembled in order. With `client=None` it runs in this process, chunk by chunk, so the same
  code runs on a laptop and on a cluster.
- `map_blocks(f, *arrays)`: a row-wise jitted function over chunked `dask.array`s, lazily.
- `sum_blocks(f, *args)`: the sum over row blocks of `f` (a loss, a gradient) for data larger
  than memory.
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Callable

import numpy as np

from .api import _flatten_axes, eval_shape, jit, vmap
from .tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["map", "map_blocks", "sum_blocks"]


def _dask():
    try:
        import dask
        import dask.array  # noqa: F401
        return dask
    except ImportError as e:
        raise ImportError("numbax.distributed needs Dask: pip install \"numbax[distributed]\" "
                          f"(dask[distributed]); {e}") from None


def _annotate(e: BaseException, what: str) -> None:
    """Say which part of the work failed, keeping the original exception (type, message,
    traceback); `e.add_note` where Python has it (3.11+)."""
    note = f"numbax.distributed: raised by {what}"
    if hasattr(e, "add_note"):
        e.add_note(note)
    else:  # pragma: no cover - Python 3.10
        e.__notes__ = [*getattr(e, "__notes__", []), note]


def _run_chunk(program, chunk, index: int, start: int, stop: int):
    try:
        out = program(chunk)
    except Exception as e:
        _annotate(e, f"chunk {index} (rows {start}:{stop})")
        raise
    return tree_map(np.asarray, out)


# --------------------------------------------------------------------------- map

def _mapped_leaves(xs, in_axes) -> tuple[list, Any, list[bool]]:
    leaves, treedef = tree_flatten(xs)
    axes = _flatten_axes("numbax.distributed.map in_axes", treedef, in_axes)
    bad = [a for a in axes if a not in (0, None)]
    if bad:
        raise ValueError(f"numbax.distributed.map: in_axes entries must be 0 (split) or None "
                         f"(give every chunk the whole leaf), got {bad[0]!r}")
    return [np.asarray(x) for x in leaves], treedef, [a == 0 for a in axes]


def map(f: Callable, xs: Any, *, client: Any = None, chunk_size: int | None = None,
        in_axes: Any = 0) -> Any:
    """f applied to every slice of the leading axis of the pytree xs, stacked: `vmap(f)(xs)`,
    computed as `jit(vmap(f))` on chunks of `chunk_size` rows, on the Dask `client`'s workers
    (or here when `client` is None).

    `in_axes` is 0 (split the leading axis), None (give every chunk the whole leaf) or a pytree
    prefix of xs of those. Every chunk has chunk_size rows (the last is padded by repeating its
    last row, and the padding dropped), so there is one program to compile; it is traced here
    and each worker compiles it once. A chunk that raises on a worker re-raises here as the
    original exception, with a note naming the chunk; chunks of a lost worker are recomputed by
    Dask, and every row appears once, in order, in the result.
    """
    leaves, treedef, mapped = _mapped_leaves(xs, in_axes)
    sizes = {x.shape[0] if x.ndim else None for x, m in zip(leaves, mapped) if m}
    if not sizes or None in sizes or len(sizes) > 1:
        raise ValueError(f"numbax.distributed.map: the leaves of xs split along axis 0 must be "
                         f"arrays with one common leading size, got {sorted(sizes, key=str)}")
    n = sizes.pop()
    program = _program(f, treedef, mapped)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"numbax.distributed.map: chunk_size must be positive, got {chunk_size}")
    if n == 0:
        spec = eval_shape(program, tree_unflatten(treedef, leaves))
        return tree_map(lambda s: np.zeros(s.shape, s.dtype), spec)
    if chunk_size is None:   # about four chunks a worker thread, for balance
        chunk_size = n if client is None else math.ceil(n / (4 * _thread_count(client)))
    chunk_size = min(chunk_size, n)

    bounds = [(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]
    chunks = [_chunk(leaves, treedef, mapped, a, b, chunk_size) for a, b in bounds]
    program.trace(chunks[0])   # here: errors in f point at the user's line; workers get the jaxpr
    if client is None:
        results = [_run_chunk(program, c, i, a, b) for i, (c, (a, b)) in enumerate(zip(chunks, bounds))]
    else:
        # program and chunk travel inside each task (not scattered), so the scheduler can rerun
        # the task of a lost worker; a worker unpickles the program once (see api.Jitted)
        futures = [client.submit(_run_chunk, program, c, i, a, b, pure=False)
                   for i, (c, (a, b)) in enumerate(zip(chunks, bounds))]
        results = client.gather(futures)
    return _stack(results, n)


_PROGRAMS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _program(f: Callable, treedef, mapped: list[bool]):
    """jit(vmap(f)) for this structure, the same object on every call with the same f: it
    pickles to the same bytes, so workers reuse what they compiled for the previous call."""
    key = (treedef, tuple(mapped))
    try:
        per_f = _PROGRAMS.setdefault(f, {})
    except TypeError:      # f cannot be weakly referenced: no reuse
        per_f = {}
    if key not in per_f:
        axes = tree_unflatten(treedef, [0 if m else None for m in mapped])
        per_f[key] = jit(vmap(f, in_axes=(axes,)))
    return per_f[key]


def _chunk(leaves, treedef, mapped, a: int, b: int, size: int):
    out = []
    for x, m in zip(leaves, mapped):
        if m:
            x = x[a:b]
            if b - a < size:
                x = np.concatenate([x, np.repeat(x[-1:], size - (b - a), axis=0)])
        out.append(x)
    return tree_unflatten(treedef, out)


def _stack(results: list, n: int):
    leaves0, treedef = tree_flatten(results[0])
    columns = [tree_flatten(r)[0] for r in results]
    stacked = [np.concatenate([c[k] for c in columns])[:n] for k in range(len(leaves0))]
    return tree_unflatten(treedef, stacked)


def _thread_count(client) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 1


# --------------------------------------------------------------------------- dask.array

def _row_blocks(arrays: tuple) -> tuple[list, tuple]:
    """The dask arrays among `arrays` rechunked to common row blocks, whole along other axes."""
    dask = _dask()
    da = dask.array
    lazy = [a for a in arrays if isinstance(a, da.Array)]
    if not lazy:
        raise TypeError("numbax.distributed: give at least one dask.array to split into blocks")
    rows = lazy[0].chunks[0]
    out = []
    for a in arrays:
        if isinstance(a, da.Array):
            if a.ndim == 0 or a.shape[0] != lazy[0].shape[0]:
                raise ValueError(f"numbax.distributed: the dask arrays must share their leading "
                                 f"axis, got shapes {[x.shape for x in lazy]}")
            a = a.rechunk((rows,) + tuple(-1 for _ in a.shape[1:]))
        out.append(a)
    return out, rows


def map_blocks(f: Callable, *arrays: Any) -> Any:
    """`jit(f)` on every row block of the dask arrays among `arrays` (other arguments go whole
    to every block), as a lazy dask array: f must map a block of rows to one output row each
    (a per-example loss or gradient, a prediction). Compute it with `.compute()` or a client."""
    dask = _dask()
    da = dask.array
    blocked, rows = _row_blocks(arrays)
    program = jit(f)
    probe = [a[:rows[0]] if isinstance(a, da.Array) else a for a in blocked]
    spec = eval_shape(program, *[np.empty(a.shape, a.dtype) if isinstance(a, da.Array) else a
                                 for a in probe])
    if not hasattr(spec, "shape") or not spec.shape or spec.shape[0] != rows[0]:
        raise ValueError(f"numbax.distributed.map_blocks: f must return one array with a row per "
                         f"input row; for a block of {rows[0]} rows it returned {spec}")
    lazy_idx = [i for i, a in enumerate(blocked) if isinstance(a, da.Array)]
    fixed = {i: a for i, a in enumerate(blocked) if i not in lazy_idx}

    def block_fn(*blocks):
        args = list(blocks)
        full = [fixed[i] if i in fixed else args.pop(0) for i in range(len(blocked))]
        return program(*full)

    out_chunks = (rows,) + tuple((d,) for d in spec.shape[1:])
    index = "".join(chr(ord("i") + k) for k in range(len(spec.shape)))
    pairs = []
    for i in lazy_idx:
        a = blocked[i]
        pairs += [a, index[0] + "".join(chr(ord("a") + j) for j in range(a.ndim - 1))]
    return da.blockwise(block_fn, index, *pairs, dtype=spec.dtype, new_axes={
        index[k]: spec.shape[k] for k in range(1, len(spec.shape))},
        concatenate=True, adjust_chunks={index[0]: rows}).rechunk(out_chunks)


def sum_blocks(f: Callable, *args: Any, client: Any = None) -> Any:
    """The sum over row blocks of `jit(f)(*block_args)`, for the dask arrays among `args` split
    into their row blocks and the other arguments (parameters) given whole to every block: for a
    loss or gradient that is a sum over examples, its value over data larger than memory.

    Computes at once: on `client` if given, else Dask's default scheduler (a running
    `distributed.Client` if there is one). Returns the pytree f returns, as numpy arrays."""
    dask = _dask()
    da = dask.array
    blocked, rows = _row_blocks(args)
    program = dask.delayed(jit(f), pure=True)
    fixed = [None if isinstance(a, da.Array) else dask.delayed(a, pure=True) for a in blocked]
    pieces = [a.to_delayed().ravel() if isinstance(a, da.Array) else None for a in blocked]
    parts = []
    for b in range(len(rows)):
        call = [pieces[i][b] if pieces[i] is not None else fixed[i] for i in range(len(blocked))]
        parts.append(dask.delayed(_block_call)(program, b, *call))
    while len(parts) > 1:   # a tree of pairwise sums: no single task gathers every part
        parts = [dask.delayed(_tree_add)(*parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    if client is not None:
        return client.compute(parts[0]).result()
    return dask.compute(parts[0])[0]


def _block_call(program, index: int, *args):
    try:
        out = program(*args)
    except Exception as e:
        _annotate(e, f"row block {index}")
        raise
    return tree_map(np.asarray, out)


def _tree_add(a, b):
    return tree_map(np.add, a, b)
