"""CUDA kernel source for the steps of a plan (the CPU backend's partition, unchanged).

The loads, index maps and scalar SSA code are the CPU generator's (`numba_cpu.codegen.Kernel`);
what changes is the loop around them:

* an elementwise group is a **grid-stride loop** over the flat index of its domain, unravelled
  into the domain's indices, writing every materialised register (multi-output);
* a group with reductions maps its domain onto (kept, reduced) = (M rows, R elements): each
  row gets T threads (a power of two up to the block), which stride over the row, fold into
  registers, then combine in a **shared-memory tree**; a row split over `ng` blocks writes
  partials that a second, tiny kernel folds in order (no atomics: results do not depend on
  scheduling);
* the rank-0 values a group's epilogue computes run in a **one-thread kernel** after it;
* cumulative ops run one thread per line along the axis; scatters copy the operand, then fold
  the updates (atomically for additions, otherwise in order, one thread per window element).

Every rank-0 value the device computes lives in a 1-element array and is read as `a[0]`.
Kernels are self-contained (helpers inlined as expressions): `compile_ptx` needs that.
"""
from __future__ import annotations

import math

import numpy as np

from ...jaxpr import JaxprEqn
from ..numba_cpu.codegen import Kernel, Segment, _identity, _nest, scatter_targets
from ..numba_cpu.partition import Group, LoopKernel, Plan
from . import scalar_ops as _ops

HEADER = "import math\nimport numpy as np\nimport numba\nfrom numba import cuda\n"
_HELPERS = getattr(_ops, "HELPER_IMPORTS", {})
_ACCUMULATORS = {"sum": "add", "prod": "mul", "add": "add", "mul": "mul", "max": "max",
                 "min": "min", "and": "and", "or": "or"}
#: dtypes numba's cuda.atomic.add accepts
_ATOMIC_ADD = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64,
                                              np.uint32, np.uint64))


class CudaKernelSpec:
    """One kernel: its source and how the host calls it.

    `outputs` are (var, shape, dtype) as the kernel indexes them: reduction results flat (M,),
    rank-0 values (1,); var is None for scratch. `grid`/`block` are the launch sizes (grid 0:
    nothing to do, the host skips the launch)."""

    def __init__(self, source, extents, inputs, outputs, grid, block, description):
        self.source, self.extents, self.inputs, self.outputs = source, extents, inputs, outputs
        self.grid, self.block, self.description = grid, block, description
        self.reads_scratch = False   # the first outputs are the previous kernel's scratch
        self.in_place = False        # an output already computed is updated, not allocated

    def signature(self) -> str:
        """The numba signature of the host's calls (C-contiguous arrays, rank 0 as (1,))."""
        def array(dtype, ndim):
            return f"{_ops.numba_type(dtype)}[{', '.join([':'] * (max(ndim, 1) - 1) + ['::1'])}]"
        types = ["int64"] * len(self.extents)
        types += [array(v.aval.dtype, v.aval.ndim) for v in self.inputs]
        types += [array(d, len(s)) for _, s, d in self.outputs]
        return f"void({', '.join(types)})"


class CudaSegment(Segment):
    """Arguments and names of one CUDA kernel (the CPU Segment's bookkeeping)."""

    def __init__(self, plan: Plan):
        super().__init__(plan)
        self.shared: list[str] = []     # shared-memory declarations, at the top of the kernel

    def uses(self, code: str) -> str:
        self.helpers.update(h for h in _HELPERS if h in code)
        return code

    def output(self, v, shape, dtype) -> str:
        name = f"o{len(self.outputs)}"
        self.outputs.append((v, tuple(shape), np.dtype(dtype)))
        return name

    def cuda_spec(self, grid: int, block: int) -> CudaKernelSpec:
        params = [n for n, _ in self.extents] + [self.arg_of[v] for v in self.inputs] + \
            [f"o{k}" for k in range(len(self.outputs))]
        description = "; ".join(self.descriptions)
        imports = HEADER + "".join(_HELPERS[h] for h in sorted(self.helpers))
        body = self.shared + self.lines
        src = [f"# numbax CUDA kernel: {description}", imports,
               f"def kernel_py({', '.join(params)}):"]
        src += ["    " + ln for ln in body] or ["    pass"]
        src += ["", "", "kernel = cuda.jit(kernel_py)"]
        return CudaKernelSpec("\n".join(src) + "\n", [n for _, n in self.extents],
                              self.inputs, self.outputs, grid, block, description)


class CudaKernel(Kernel):
    """Loads and scalar code for a CUDA kernel: device scalars are 1-element arrays."""

    def scalar_arg(self, name: str, ctx: str) -> str:
        load = f"{name}[0]"
        if ctx == "guard":
            return load
        key = (name, "scalar")
        if key not in self.loads:
            self.loads[key] = self.bind(load, self.epilogue if ctx == "epi" else self.prologue,
                                        "x")
        return self.loads[key]

    def elementwise(self, eqn: JaxprEqn, args: list[str]) -> str:
        out = eqn.outvars[0].aval.dtype
        _ops.numba_type(out, f"result of {eqn.primitive.name}")
        return self.seg.uses(_ops.scalar_expr(eqn.primitive.name, args,
                                              [u.aval.dtype for u in eqn.invars], out,
                                              eqn.params))


class Launch:
    """Launch sizes: `block` threads a block, at most `max_blocks` blocks (a grid-stride loop
    covers the rest). The simulator runs one Python thread per CUDA thread: keep it small."""

    def __init__(self, block: int, max_blocks: int):
        self.block, self.max_blocks = block, max_blocks

    def grid(self, work: int) -> int:
        return min(self.max_blocks, -(-work // self.block)) if work > 0 else 0


def _accumulate(op: str, acc: str, v: str, dtype) -> str:
    return _ops.scalar_expr(_ACCUMULATORS[op], [acc, v], [dtype, dtype], dtype, {})


def _unravel(flat: str, names: list[str], extents: list[str], lines: list[str]) -> None:
    """names = the C-order multi-index of flat over extents (appended to lines)."""
    if not names:
        return
    if len(names) == 1:
        lines.append(f"{names[0]} = {flat}")
        return
    q = flat
    for d in range(len(names) - 1, 0, -1):
        lines.append(f"{names[d]} = {q} % {extents[d]}")
        nq = f"q{d}_{names[d]}"
        lines.append(f"{nq} = {q} // {extents[d]}")
        q = nq
    lines.append(f"{names[0]} = {q}")


def _product(extents: list[str]) -> str:
    return " * ".join(extents) if extents else "1"


def _shared_type(dtype) -> str:
    return f"numba.{_ops.numba_type(dtype)}"


# ---------------------------------------------------------------------------- groups

def group_kernels(plan: Plan, group: Group, launch: Launch) -> list[CudaKernelSpec]:
    """The kernels of one fused group, in launch order."""
    specs = []
    reductions = [e for e in group.eqns if e.primitive.name.startswith(("reduce_", "arg"))]
    if reductions:
        specs += _reduction_group(plan, group, reductions, launch)
    elif group.eqns:
        specs.append(_elementwise_group(plan, group, launch))
    if group.scalar_results:
        specs.append(_scalar_kernel(plan, group, launch))
    return specs


def _body(k: CudaKernel, group: Group, fold) -> None:
    """The group's equations at index k.idx: registers for elementwise ops, `fold(eqn, v)`
    for the value each reduction folds in, stores of materialised registers."""
    for eqn in group.eqns:
        if eqn.primitive.name.startswith(("reduce_", "arg")):
            fold(eqn, k.bind(k.expr(eqn.invars[0], k.idx, "body"), k.body))
            continue
        args = [k.bind(k.expr(u, k.idx, "body"), k.body) for u in eqn.invars]
        k.reg[eqn.outvars[0]] = k.bind(k.elementwise(eqn, args), k.body)
    for eqn in group.eqns:
        out = eqn.outvars[0]
        if out in k.plan.materialized and out in k.reg:
            o = k.output(out, out.aval.shape, out.aval.dtype)
            k.body.append(f"{o}[{', '.join(k.idx)}] = {k.reg[out]}")


def _elementwise_group(plan: Plan, group: Group, launch: Launch) -> CudaKernelSpec:
    seg = CudaSegment(plan)
    k = CudaKernel(seg, group.index, group.domain)
    _body(k, group, None)
    total = seg.fresh("total")
    seg.lines += k.prologue + [f"{total} = {_product(k.ext)}",
                               f"for f in range(cuda.grid(1), {total}, cuda.gridsize(1)):"]
    inner: list[str] = []
    _unravel("f", list(k.idx), k.ext, inner)
    seg.lines += ["    " + ln for ln in inner + k.body]
    seg.descriptions.append(f"{' '.join(e.primitive.name for e in group.eqns)} over "
                            f"[{','.join(map(str, group.domain))}] (grid-stride)")
    return seg.cuda_spec(launch.grid(math.prod(group.domain)), launch.block)


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


class _Acc:
    """A reduction's accumulator: its registers, shared arrays, and how two of them combine."""

    def __init__(self, k: CudaKernel, eqn: JaxprEqn, sentinel: str):
        self.eqn = eqn
        self.name = eqn.primitive.name
        self.arg = self.name in ("argmax", "argmin")
        self.vdt = eqn.invars[0].aval.dtype
        self.dtype = eqn.outvars[0].aval.dtype
        acc_dt = self.vdt if self.arg else self.dtype
        self.acc_dt = acc_dt
        self.init = _ops.literal(_identity(acc_dt, self.name), acc_dt)
        self.v = k.fresh("acc")
        self.i = k.fresh("bi") if self.arg else None
        self.sentinel = sentinel

    def regs(self) -> list[str]:
        return [self.v] + ([self.i] if self.arg else [])

    def init_lines(self) -> list[str]:
        return [f"{self.v} = {self.init}"] + ([f"{self.i} = {self.sentinel}"] if self.arg else [])

    def fold_lines(self, v: str, index: str) -> list[str]:
        """Fold element v (at reduced position index) into the registers, in index order."""
        if not self.arg:
            return [f"{self.v} = {_accumulate(self.name[len('reduce_'):], self.v, v, self.vdt)}"]
        cmp = ">" if self.name == "argmax" else "<"
        better = f"{v} {cmp} {self.v}"
        if self.vdt.kind == "f":   # numpy: the first NaN wins, then the first extremum
            better += f" or ({v} != {v} and {self.v} == {self.v})"
        return [f"if {self.i} == {self.sentinel} or {better}:", f"    {self.v} = {v}",
                f"    {self.i} = {index}"]

    def combine_lines(self, a: list[str], b: list[str]) -> list[str]:
        """Lines that leave in registers a the fold of a and b (b holds later or equal data
        for sums; for arg reductions the smaller index wins ties)."""
        if not self.arg:
            return [f"{a[0]} = {_accumulate(self.name[len('reduce_'):], a[0], b[0], self.vdt)}"]
        (va, ia), (vb, ib) = a, b
        cmp = ">" if self.name == "argmax" else "<"
        plain = f"{vb} {cmp} {va} or ({vb} == {va} and {ib} < {ia})"
        if self.vdt.kind == "f":
            better = (f"({vb} != {vb} and ({va} == {va} or {ib} < {ia})) or "
                      f"({va} == {va} and {vb} == {vb} and ({plain}))")
        else:
            better = plain
        return [f"if {ib} != {self.sentinel} and ({ia} == {self.sentinel} or {better}):",
                f"    {va} = {vb}", f"    {ia} = {ib}"]

    def result(self) -> str:
        return _ops.cast(self.i, self.dtype) if self.arg else self.v


def _reduction_group(plan: Plan, group: Group, reductions: list, launch: Launch) -> list:
    axes = sorted(reductions[0].params["axes"])
    domain = group.domain
    kept_dims = [d for d in range(len(domain)) if d not in axes]
    M = math.prod(domain[d] for d in kept_dims)
    R = math.prod(domain[d] for d in axes)
    B = launch.block
    T = B if R >= B else _pow2_at_least(max(R, 1))
    rows = B // T
    row_blocks = -(-M // rows)
    ng = 1
    if row_blocks < launch.max_blocks and R > 4 * T:
        ng = max(1, min(launch.max_blocks // max(row_blocks, 1), -(-R // (4 * T))))
    seg = CudaSegment(plan)
    k = CudaKernel(seg, group.index, domain)
    sentinel = str(R)
    accs = {e.outvars[0]: _Acc(k, e, sentinel) for e in reductions}
    red_idx = [k.idx[d] for d in axes]

    def fold(eqn, v):
        acc = accs[eqn.outvars[0]]
        index = red_idx[0] if acc.arg else "r"
        k.body.extend(acc.fold_lines(v, index))
    _body(k, group, fold)
    Mn, Rn = seg.fresh("M"), seg.fresh("R")
    kept_ext = [k.ext[d] for d in kept_dims]
    red_ext = [k.ext[d] for d in axes]
    # outputs: the results (ng == 1, flat (M,)) or the registers' partials (flat [ng, M])
    outs = {}
    for v, acc in accs.items():
        if ng == 1:
            outs[v] = [k.output(v, (M,), acc.dtype)]
        else:
            outs[v] = [k.output(None, (ng * M,), dt)
                       for dt in [acc.acc_dt, np.dtype(np.int64)][:len(acc.regs())]]
    tid, lane, row = "tid", "lane", "row"
    lines = k.prologue + [f"{Mn} = {_product(kept_ext)}", f"{Rn} = {_product(red_ext)}",
                          f"{tid} = cuda.threadIdx.x"]
    if T > 1:
        lines += [f"{lane} = {tid} % {T}", f"{row} = {tid} // {T}"]
        for acc in accs.values():
            for reg, dt in zip(acc.regs(), [acc.acc_dt, np.dtype(np.int64)]):
                seg.shared.append(f"sh_{reg} = cuda.shared.array({B}, {_shared_type(dt)})")
    else:
        lines += [f"{lane} = 0", f"{row} = {tid}"]
    nrb = f"-(-{Mn} // {rows})" if rows > 1 else Mn
    lines.append(f"for blk in range(cuda.blockIdx.x, {nrb} * {ng}, cuda.gridDim.x):")
    loop = [f"m = (blk // {ng}) * {rows} + {row}", f"g = blk % {ng}"]
    for acc in accs.values():
        loop += acc.init_lines()
    loop.append(f"if m < {Mn}:")
    rows_body: list[str] = []
    _unravel("m", [k.idx[d] for d in kept_dims], kept_ext, rows_body)
    rows_body.append(f"for r in range(g * {T} + {lane}, {Rn}, {ng * T}):")
    inner: list[str] = []
    _unravel("r", red_idx, red_ext, inner)
    rows_body += ["    " + ln for ln in inner + k.body]
    loop += ["    " + ln for ln in rows_body]
    if T > 1:
        for acc in accs.values():
            loop += [f"sh_{reg}[{tid}] = {reg}" for reg in acc.regs()]
        loop += ["cuda.syncthreads()", f"s = {T // 2}", "while s > 0:", f"    if {lane} < s:"]
        for acc in accs.values():
            a = [f"sh_{reg}[{tid}]" for reg in acc.regs()]
            b_names = [f"{reg}_b" for reg in acc.regs()]
            a_names = acc.regs()
            step = [f"{n} = {x}" for n, x in zip(a_names, a)]
            step += [f"{n} = sh_{reg}[{tid} + s]" for n, reg in zip(b_names, acc.regs())]
            step += acc.combine_lines(a_names, b_names)
            step += [f"{x} = {n}" for n, x in zip(a_names, a)]
            loop += ["        " + ln for ln in step]
        loop += ["    cuda.syncthreads()", "    s //= 2"]
        store = [f"if {lane} == 0 and m < {Mn}:"]
        store += ["    " + ln for acc in accs.values() for ln in
                  [f"{reg} = sh_{reg}[{tid}]" for reg in acc.regs()]]
    else:
        store = [f"if m < {Mn}:"]
    for v, acc in accs.items():
        if ng == 1:
            store.append(f"    {outs[v][0]}[m] = {acc.result()}")
        else:
            store += [f"    {o}[g * {Mn} + m] = {reg}" for o, reg in zip(outs[v], acc.regs())]
    loop += store + (["cuda.syncthreads()"] if T > 1 else [])
    seg.lines += lines + ["    " + ln for ln in loop]
    what = " ".join(e.primitive.name for e in group.eqns)
    seg.descriptions.append(f"{what} over [{','.join(map(str, domain))}], axes {tuple(axes)}: "
                            f"{T} threads a row, {ng} block(s) a row")
    grid = min(launch.max_blocks, row_blocks * ng) if M and B else 0
    specs = [seg.cuda_spec(grid, B)]
    if ng > 1:
        specs.append(_combine_kernel(plan, accs, M, ng, launch))
    return specs


def _combine_kernel(plan: Plan, accs: dict, M: int, ng: int, launch: Launch) -> CudaKernelSpec:
    """Fold the [ng, M] partials of a split reduction, in block order."""
    seg = CudaSegment(plan)
    ins = []
    for v, acc in accs.items():   # the partials: the previous kernel's scratch, in order
        names = [seg.output(None, (ng * M,), dt)
                 for dt in [acc.acc_dt, np.dtype(np.int64)][:len(acc.regs())]]
        ins.append((v, acc, names))
    finals = []
    for v, acc, _ in ins:
        finals.append(seg.output(v, (M,), acc.dtype))
    body = [f"for m in range(cuda.grid(1), {M}, cuda.gridsize(1)):"]
    for (v, acc, names), fin in zip(ins, finals):
        a = acc.regs()
        b = [f"{r}_b" for r in a]
        body += [f"    {r} = {n}[m]" for r, n in zip(a, names)]
        body += [f"    for g in range(1, {ng}):"]
        body += [f"        {r} = {n}[g * {M} + m]" for r, n in zip(b, names)]
        body += ["        " + ln for ln in acc.combine_lines(a, b)]
        body.append(f"    {fin}[m] = {acc.result()}")
    seg.lines += body
    seg.descriptions.append(f"fold {ng} partial reductions of {M} rows")
    spec = seg.cuda_spec(launch.grid(M), launch.block)
    spec.reads_scratch = True   # its first outputs are the previous kernel's scratch
    return spec


def _scalar_kernel(plan: Plan, group: Group, launch: Launch) -> CudaKernelSpec:
    """The rank-0 values of a group's epilogue, on one thread after the group's kernels."""
    seg = CudaSegment(plan)
    k = CudaKernel(seg, group.index, ())
    vals = [(v, k.bind(k.expr(v, (), "epi"), k.epilogue, "s")) for v in group.scalar_results]
    stores = []
    for v, val in vals:
        o = k.output(v, (1,), v.aval.dtype)
        stores.append(f"    {o}[0] = {val}")
    seg.lines += ["if cuda.grid(1) == 0:"] + ["    " + ln for ln in k.prologue + k.epilogue]
    seg.lines += stores
    seg.descriptions.append(f"{len(vals)} scalar value(s) after group {group.index}")
    return seg.cuda_spec(1, 1)


# ---------------------------------------------------------------------------- loop kernels

def loop_kernels(plan: Plan, step: LoopKernel, launch: Launch) -> list[CudaKernelSpec]:
    if step.eqn.primitive.name.startswith("cum"):
        return [_cumulative(plan, step, launch)]
    return _scatter(plan, step, launch)


def _cumulative(plan: Plan, step: LoopKernel, launch: Launch) -> CudaKernelSpec:
    """One thread per line along the axis, in order (so results round as the CPU's do)."""
    eqn = step.eqn
    x, out = eqn.invars[0], eqn.outvars[0]
    axis, reverse = eqn.params["axis"], eqn.params["reverse"]
    shape, dtype = out.aval.shape, out.aval.dtype
    seg = CudaSegment(plan)
    k = CudaKernel(seg, step.index, shape)
    o = k.output(out, shape, dtype)
    v = k.bind(k.expr(x, k.idx, "body"), k.body)
    op = eqn.primitive.name[len("cum"):]
    ax = k.idx[axis]
    first = f"{k.ext[axis]} - 1" if reverse else "0"
    k.body += [f"if {ax} == {first}:", f"    acc = {v}", "else:",
               f"    acc = {_accumulate(op, 'acc', v, dtype)}",
               f"{o}[{', '.join(k.idx)}] = acc"]
    others = [d for d in range(len(shape)) if d != axis]
    lines = k.prologue + [f"for f in range(cuda.grid(1), {_product([k.ext[d] for d in others])}"
                          ", cuda.gridsize(1)):"]
    inner: list[str] = []
    _unravel("f", [k.idx[d] for d in others], [k.ext[d] for d in others], inner)
    rng = f"range({k.ext[axis]} - 1, -1, -1)" if reverse else f"range({k.ext[axis]})"
    inner.append(f"acc = {_ops.literal(0, dtype)}")
    inner.append(f"for {ax} in {rng}:")
    inner += ["    " + ln for ln in k.body]
    seg.lines += lines + ["    " + ln for ln in inner]
    seg.descriptions.append(f"{eqn.primitive.name} along axis {axis} of "
                            f"[{','.join(map(str, shape))}]")
    lines_n = math.prod(shape) // max(shape[axis], 1) if shape[axis] else 0
    return seg.cuda_spec(launch.grid(lines_n), launch.block)


def _scatter(plan: Plan, step: LoopKernel, launch: Launch) -> list[CudaKernelSpec]:
    eqn = step.eqn
    operand, indices, updates = eqn.invars
    out = eqn.outvars[0]
    shape, dtype = out.aval.shape, out.aval.dtype
    mode = eqn.params["mode"]
    kk = indices.aval.shape[-1]
    dims = shape[:kk]
    # 1. the result starts as a copy of the operand
    seg = CudaSegment(plan)
    k = CudaKernel(seg, step.index, shape)
    o = k.output(out, shape, dtype)
    v = k.bind(k.expr(operand, k.idx, "body"), k.body)
    k.body.append(f"{o}[{', '.join(k.idx)}] = {v}")
    seg.lines += k.prologue + [f"for f in range(cuda.grid(1), {_product(k.ext)}, "
                               "cuda.gridsize(1)):"]
    inner: list[str] = []
    _unravel("f", list(k.idx), k.ext, inner)
    seg.lines += ["    " + ln for ln in inner + k.body]
    seg.descriptions.append(f"copy for {eqn.primitive.name} into [{','.join(map(str, shape))}]")
    specs = [seg.cuda_spec(launch.grid(math.prod(shape)), launch.block)]
    ushape = updates.aval.shape
    if not all(d > 0 for d in dims) or not math.prod(ushape):
        return specs
    # 2. fold the updates in
    op = eqn.primitive.name[len("scatter_"):] if eqn.primitive.name != "scatter" else None
    atomic = op == "add" and np.dtype(dtype) in _ATOMIC_ADD
    nb = indices.aval.ndim - 1
    seg = CudaSegment(plan)
    k = CudaKernel(seg, step.index, ushape)
    uidx = k.idx
    o = seg.output(out, shape, dtype)
    seg.arg_of[out] = o
    sel, conds = scatter_targets(k, indices, uidx[:nb], dims, mode)
    u = k.bind(k.expr(updates, uidx, "body"), k.body)
    where = ", ".join(sel + list(uidx[nb:]))
    if op is None:
        apply = [f"{o}[{where}] = {u}"]
    elif atomic:
        at = where if len(sel) + len(uidx[nb:]) == 1 else f"({where})"
        apply = [f"cuda.atomic.add({o}, {at}, {u})"]
    else:
        apply = [f"cur = {o}[{where}]", f"{o}[{where}] = {_accumulate(op, 'cur', u, dtype)}"]
    if conds:
        apply = [f"if {' and '.join(conds)}:"] + ["    " + ln for ln in apply]
    body = k.body + apply
    if atomic:   # every update element in parallel
        par, ser = list(uidx), []
    else:        # window elements in parallel, the index rows in order
        par, ser = list(uidx[nb:]), list(uidx[:nb])
    par_ext = [k.ext[uidx.index(i)] for i in par]
    lines = k.prologue + [f"for f in range(cuda.grid(1), {_product(par_ext)}, cuda.gridsize(1)):"]
    inner = []
    _unravel("f", par, par_ext, inner)
    inner += _nest(k, [f"range({k.ext[uidx.index(i)]})" for i in ser], tuple(ser), {}, {}, body)
    seg.lines += lines + ["    " + ln for ln in inner]
    how = "atomically" if atomic else "in order"
    seg.descriptions.append(f"{eqn.primitive.name} of [{','.join(map(str, ushape))}] updates "
                            f"({mode}, {how})")
    work = math.prod(ushape[i] for i in range(len(ushape)) if uidx[i] in par)
    specs.append(seg.cuda_spec(launch.grid(work), launch.block))
    specs[-1].in_place = True
    return specs


def copy_kernel_source(ndim: int) -> str:
    """A kernel that copies any (strided) device array into a C-contiguous one of its shape."""
    idx = [f"i{d}" for d in range(ndim)]
    ext = [f"x.shape[{d}]" for d in range(ndim)]
    lines = ["for f in range(cuda.grid(1), o.size, cuda.gridsize(1)):"]
    inner: list[str] = []
    _unravel("f", idx, ext, inner)
    inner.append(f"o[{', '.join(idx)}] = x[{', '.join(idx)}]")
    src = [f"# numbax CUDA kernel: copy a rank-{ndim} array", HEADER, "def kernel_py(x, o):"]
    src += ["    " + ln for ln in lines] + ["        " + ln for ln in inner]
    src += ["", "", "kernel = cuda.jit(kernel_py)"]
    return "\n".join(src) + "\n"


__all__ = ["CudaKernelSpec", "Launch", "copy_kernel_source", "group_kernels", "loop_kernels"]
