"""`sort` as a CUDA kernel: one thread per line along the sorted dimension, a bottom-up merge
sort of indices (stable, n log n, two scratch index arrays), compared lexicographically on the
key operands with NaNs last (numpy's order); every operand is then gathered through the
permutation.

Many short lines sort well this way (argsort of every row, quantiles per bin); one very long
line sorts on a single thread.
"""
from __future__ import annotations

import math

import numpy as np

from ...jaxpr import JaxprEqn
from .codegen import HEADER, CudaKernelSpec, Launch, _unravel


def _less(keys: list, at, b: str, a: str) -> list[str]:
    """Lines setting `lt` to whether position b sorts strictly before position a: the first
    key that differs decides; a NaN sorts after every number and ties with a NaN."""
    lines = ["lt = False", "decided = False"]
    for k, key in enumerate(keys):
        vb, va = f"kb{k}", f"ka{k}"
        block = [f"{vb} = a{k}[{at(b)}]", f"{va} = a{k}[{at(a)}]"]
        tests = [(f"{vb} < {va}", "True"), (f"{va} < {vb}", "False")]
        if np.dtype(key.aval.dtype).kind == "f":
            tests.insert(0, (f"({vb} != {vb}) != ({va} != {va})", f"{va} != {va}"))
        for i, (test, value) in enumerate(tests):
            block += [f"{'if' if i == 0 else 'elif'} {test}:", f"    lt = {value}",
                      "    decided = True"]
        lines += ["if not decided:"] + ["    " + ln for ln in block]
    return lines


def sort_kernel(eqn: JaxprEqn, launch: Launch) -> CudaKernelSpec:
    ops, outs = eqn.invars, eqn.outvars
    dim, num_keys = eqn.params["dimension"], eqn.params["num_keys"]
    shape = ops[0].aval.shape
    n = shape[dim]
    others = [d for d in range(len(shape)) if d != dim]
    names = [f"i{d}" for d in range(len(shape))]

    def at(pos: str) -> str:
        return ", ".join(pos if d == dim else names[d] for d in range(len(shape)))
    lines = [f"for f in range(cuda.grid(1), {math.prod(shape[d] for d in others)}, "
             "cuda.gridsize(1)):"]
    inner: list[str] = []
    _unravel("f", [names[d] for d in others], [str(shape[d]) for d in others], inner)
    inner += [f"for i in range({n}):", f"    p0[{at('i')}] = i",
              "src = p0", "dst = p1", "width = 1", f"while width < {n}:",
              f"    for lo in range(0, {n}, 2 * width):",
              f"        mid = min(lo + width, {n})", f"        hi = min(lo + 2 * width, {n})",
              "        i = lo", "        j = mid", "        for k in range(lo, hi):",
              "            right = i >= mid", "            if not right and j < hi:",
              f"                pa = src[{at('i')}]", f"                pb = src[{at('j')}]"]
    inner += ["                " + ln for ln in _less(ops[:num_keys], at, "pb", "pa")]
    inner += ["                right = lt", "            if right:",
              f"                dst[{at('k')}] = src[{at('j')}]", "                j += 1",
              "            else:", f"                dst[{at('k')}] = src[{at('i')}]",
              "                i += 1",
              "    src, dst = dst, src", "    width *= 2",
              f"for i in range({n}):", f"    q = src[{at('i')}]"]
    inner += [f"    o{j}[{at('i')}] = a{j}[{at('q')}]" for j in range(len(ops))]
    lines += ["    " + ln for ln in inner]
    description = (f"sort of {math.prod(shape) // max(n, 1)} line(s) of {n} along axis {dim}, "
                   f"{len(ops)} operand(s), {num_keys} key(s) (merge sort, a thread a line)")
    params = [f"a{j}" for j in range(len(ops))] + [f"o{j}" for j in range(len(outs))] + \
        ["p0", "p1"]
    src = [f"# numbax CUDA kernel: {description}", HEADER, f"def kernel_py({', '.join(params)}):"]
    src += ["    " + ln for ln in lines] + ["", "", "kernel = cuda.jit(kernel_py)"]
    outputs = [(o, o.aval.shape, o.aval.dtype) for o in outs]
    outputs += [(None, shape, np.dtype(np.int64))] * 2
    lines_n = math.prod(shape) // max(n, 1) if n else 0
    return CudaKernelSpec("\n".join(src) + "\n", [], list(ops), outputs,
                          launch.grid(lines_n), launch.block, description)


__all__ = ["sort_kernel"]
