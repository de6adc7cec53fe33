"""Python source for the loop kernels of a plan, one module per kernel.

A kernel's arguments are, in order: the loop extents (so a kernel serves every shape with the
same structure), the arrays and scalars it reads, and the arrays it writes (allocated by the
host with numpy, which is much faster than allocating inside numba). Rank-0 results are
returned. Inputs are typed read-only C-contiguous so that one compile serves writable and
read-only arrays alike.

Reads go through `Kernel.expr(var, index)`, which folds index maps (views) into the load, so
`x.T[i, j]` becomes `x[j, i]` and a padded operand a conditional load. Every elementwise
equation becomes one SSA local with an explicit cast where numba's promotion would differ.
"""
from __future__ import annotations

import numpy as np

from ...jaxpr import JaxprEqn, Literal, Var
from .partition import VIEWS, Group, LoopKernel, Plan
from .scalar_ops import cast, literal, numba_type, scalar_expr

HEADER = "import math\nimport numpy as np\nimport numba\n"
#: helper modules generated code may call, by the prefix it uses for them
HELPER_IMPORTS = {"_sm.": "from numbax.backends.numba_cpu import scalar_math as _sm\n",
                  "_vm.": "from numbax.backends.numba_cpu import vector_math as _vm\n",
                  "_la.": "from numbax.backends.numba_cpu import linalg_loops as _la\n"}
_FLAGS = 'cache=True, error_model="numpy", boundscheck=False, nogil=True'


class KernelSpec:
    """A kernel's source and calling convention, for the host program."""

    def __init__(self, source, extents, inputs, outputs, returns, description):
        self.source = source
        self.extents = extents    # ints, the loop bounds, passed first
        self.inputs = inputs      # vars read (arrays or scalars)
        self.outputs = outputs    # (var, shape, dtype) written; scratch entries have var None
        self.returns = returns    # rank-0 vars returned, in order
        self.description = description


class Segment:
    """One compiled function: its arguments, names and loop nests. It can hold the nests of
    several consecutive steps (arrays between them allocated by the host, scalars kept in
    locals); the host program currently gives each step its own (see host.py)."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.extents: list[tuple[str, int]] = []
        self.inputs: list = []
        self.arg_of: dict = {}
        self.outputs: list = []
        self.results: dict = {}      # rank-0 values computed by a nest: var -> local
        self.scalars: dict = {}      # rank-0 virtual values computed at function level
        self.lines: list[str] = []
        self.descriptions: list[str] = []
        self.helpers: set[str] = set()   # HELPER_IMPORTS keys the code uses
        self._n = 0

    def fresh(self, prefix="t") -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def uses(self, code: str) -> str:
        """code, noting the helper modules it calls so the kernel imports them."""
        self.helpers.update(h for h in HELPER_IMPORTS if h in code)
        return code

    def extent(self, value: int) -> str:
        name = self.fresh("n")
        self.extents.append((name, int(value)))
        return name

    def arg(self, v: Var) -> str:
        name = self.arg_of.get(v)
        if name is None:
            name = self.arg_of[v] = f"a{len(self.inputs)}"
            self.inputs.append(v)
        return name

    def output(self, v, shape, dtype) -> str:
        name = f"o{len(self.outputs)}"
        self.outputs.append((v, tuple(shape), np.dtype(dtype)))
        if v is not None:
            self.arg_of[v] = name
        return name

    def spec(self) -> KernelSpec:
        returns = list(self.results)
        lines = list(self.lines)
        if returns:
            vals = [self.results[v] for v in returns]
            lines.append(f"return {vals[0]}" if len(vals) == 1 else
                         f"return ({', '.join(vals)},)")
        params = [n for n, _ in self.extents] + [self.arg_of[v] for v in self.inputs] + \
            [f"o{k}" for k in range(len(self.outputs))]
        types = ["int64"] * len(self.extents)
        for v in self.inputs:
            t = numba_type(v.aval.dtype, "kernel input")
            types.append(f"Array({t}, {v.aval.ndim}, 'C', readonly=True)" if v.aval.ndim else t)
        for _, shape, dtype in self.outputs:
            types.append(f"Array({numba_type(dtype)}, {len(shape)}, 'C')")
        rets = [numba_type(v.aval.dtype) for v in returns]
        ret = "none" if not rets else rets[0] if len(rets) == 1 else f"Tuple(({', '.join(rets)},))"
        description = "; ".join(self.descriptions)
        imports = HEADER + "".join(HELPER_IMPORTS[h] for h in sorted(self.helpers))
        src = [f"# numbax kernel: {description}", imports,
               f'@numba.njit("{ret}({", ".join(types)})", {_FLAGS})',
               f"def kernel({', '.join(params)}):"]
        src += ["    " + ln for ln in lines] or ["    pass"]
        return KernelSpec("\n".join(src) + "\n", [v for _, v in self.extents], self.inputs,
                          self.outputs, returns, description)


def _is_name(s: str) -> bool:
    return s.isidentifier() or s.replace(".", "").replace("-", "").replace("e", "").isdigit() \
        or s in ("True", "False")


def _atom(e: str) -> str:
    """e, parenthesised unless it is a name or a number, so it can be composed textually."""
    return e if e.isidentifier() or e.isdigit() else f"({e})"


def _identity(dtype, op):
    dtype = np.dtype(dtype)
    big = {"f": np.inf, "b": True}.get(dtype.kind)
    if big is None:
        info = np.iinfo(dtype)
        lo, hi = info.min, info.max
    else:
        lo, hi = (-np.inf if dtype.kind == "f" else False), big
    return {"reduce_sum": 0, "reduce_prod": 1, "reduce_max": lo, "reduce_min": hi,
            "reduce_and": hi if dtype.kind == "b" else -1, "reduce_or": 0,
            "argmax": lo, "argmin": hi}[op]


class Kernel:
    """Shared machinery: arguments, hoisted locals, and loads through index maps."""

    def __init__(self, seg: Segment, index: int, domain: tuple):
        self.seg, self.plan, self.index, self.domain = seg, seg.plan, index, tuple(domain)
        self.idx = tuple(f"i{k}" for k in range(len(domain)))
        self.ext = [seg.extent(n) for n in domain]
        self.prologue: list[str] = []
        self.epilogue: list[str] = []
        self.body: list[str] = []
        self.reg: dict = {}          # loop registers of this nest (read at self.idx)
        self.scalars = seg.scalars   # rank-0 virtual values already computed
        self.loads: dict = {}        # hoisted unconditional loads
        self._late_memo: dict = {}

    def fresh(self, prefix="t") -> str:
        return self.seg.fresh(prefix)

    def arg(self, v: Var) -> str:
        return self.seg.arg(v)

    def output(self, v, shape, dtype) -> str:
        return self.seg.output(v, shape, dtype)

    def bind(self, expr: str, block: list, prefix="t") -> str:
        if _is_name(expr):
            return expr
        name = self.fresh(prefix)
        block.append(f"{name} = {expr}")
        return name

    # ------------------------------------------------------------------ reads

    def expr(self, v, idx: tuple, ctx: str) -> str:
        """Source for the value of v at index idx. ctx is "body", "pro" or "epi" for
        unconditional code (loads are hoisted into locals there) or "guard" inside a branch."""
        if type(v) is Literal:
            return literal(v.val, v.aval.dtype)
        if not v.aval.ndim:  # a rank-0 operand of an elementwise op is read at every index
            idx = ()
        if v in self.reg and idx == self.idx:
            return self.reg[v]
        if v in self.scalars:
            return self.scalars[v]
        plan = self.plan
        if plan.available(v, self.index, epilogue=(ctx == "epi")) and \
                v not in self._own_scalar_results():
            if v in self.seg.results:
                return self.seg.results[v]
            name = self.seg.arg_of.get(v) or self.arg(v)
            if v.aval.ndim == 0:
                return self.scalar_arg(name, ctx)
            load = f"{name}[{', '.join(idx)}]"
            if ctx == "guard":
                return load
            key = (v, idx)
            if key not in self.loads:
                block = self.body if ctx == "body" else self.epilogue if ctx == "epi" \
                    else self.prologue
                self.loads[key] = self.bind(load, block, "x")
            return self.loads[key]
        eqn = plan.virtual.get(v)
        if eqn is None:
            raise AssertionError(f"jit: {v} is neither computed nor available in kernel "
                                 f"{self.index}")
        if v.aval.ndim == 0 and eqn.primitive.name not in VIEWS \
                and not eqn.primitive.name.startswith(("reduce_", "arg")):
            return self.scalar(v, eqn)
        return VIEW_RULES[eqn.primitive.name](self, eqn, tuple(_atom(i) for i in idx), ctx)

    def scalar_arg(self, name: str, ctx: str) -> str:
        """A rank-0 argument's value (the CPU passes scalars by value)."""
        return name

    def _own_scalar_results(self):
        step = self.plan.steps[self.index] if 0 <= self.index < len(self.plan.steps) else None
        return step.scalar_results if type(step) is Group else ()

    def scalar(self, v: Var, eqn: JaxprEqn) -> str:
        """A rank-0 elementwise value: computed once, in the prologue unless it depends on a
        result of this kernel (then in the epilogue)."""
        late = self._late(v)
        ctx = "epi" if late else "pro"
        args = [self.bind(self.expr(u, (), ctx), self.epilogue if late else self.prologue)
                for u in eqn.invars]
        code = self.elementwise(eqn, args)
        name = self.bind(code, self.epilogue if late else self.prologue, "s")
        self.scalars[v] = name
        return name

    def _late(self, v) -> bool:
        """Whether v depends on a result of this kernel (so only the epilogue can compute it)."""
        if type(v) is Literal or self.plan.available(v, self.index):
            return False
        memo = self._late_memo.get(v)
        if memo is None:
            loc = self.plan.where.get(v)
            if loc is not None and loc[0] == self.index and v not in self._own_scalar_results():
                memo = True
            else:
                memo = any(self._late(u) for u in self.plan.virtual[v].invars)
            self._late_memo[v] = memo
        return memo

    def elementwise(self, eqn: JaxprEqn, args: list[str]) -> str:
        out = eqn.outvars[0].aval.dtype
        numba_type(out, f"result of {eqn.primitive.name}")
        return self.seg.uses(scalar_expr(eqn.primitive.name, args,
                                         [getattr(u, "aval").dtype for u in eqn.invars], out,
                                         eqn.params))


# ---------------------------------------------------------------------------- index maps

def _add(a: str, b: int) -> str:
    return a if b == 0 else f"{a} + {b}" if b > 0 else f"{a} - {-b}"


def _view_broadcast(k: Kernel, eqn, idx, ctx):
    (x,), p = eqn.invars, eqn.params
    shape, bdims = p["shape"], p["broadcast_dimensions"]
    xs = x.aval.shape
    return k.expr(x, tuple("0" if xs[j] == 1 and shape[d] != 1 else idx[d]
                           for j, d in enumerate(bdims)), ctx)


def _view_transpose(k, eqn, idx, ctx):
    perm = eqn.params["permutation"]
    j = [None] * len(perm)
    for out_axis, in_axis in enumerate(perm):
        j[in_axis] = idx[out_axis]
    return k.expr(eqn.invars[0], tuple(j), ctx)


def _view_slice(k, eqn, idx, ctx):
    p = eqn.params
    strides = p["strides"] or (1,) * len(idx)
    j = tuple(_add(i if s == 1 else f"{i} * {s}", st)
              for i, st, s in zip(idx, p["start_indices"], strides))
    return k.expr(eqn.invars[0], j, ctx)


def _view_rev(k, eqn, idx, ctx):
    x = eqn.invars[0]
    dims = eqn.params["dimensions"]
    return k.expr(x, tuple(f"{x.aval.shape[d] - 1} - {i}" if d in dims else i
                           for d, i in enumerate(idx)), ctx)


def _view_reshape(k, eqn, idx, ctx):
    x = eqn.invars[0]
    in_shape, out_shape = x.aval.shape, eqn.outvars[0].aval.shape
    if tuple(d for d in in_shape if d != 1) == tuple(d for d in out_shape if d != 1):
        it = iter(i for i, d in zip(idx, out_shape) if d != 1)
        return k.expr(x, tuple("0" if d == 1 else next(it) for d in in_shape), ctx)
    # general reshape: through the flat (C-order) position
    terms, stride = [], 1
    for i, d in reversed(list(zip(idx, out_shape))):
        if d != 1:
            terms.append(i if stride == 1 else f"{i} * {stride}")
        stride *= d
    flat = k.bind(" + ".join(reversed(terms)) or "0",
                  k.body if ctx == "body" else k.prologue if ctx == "pro" else k.epilogue) \
        if ctx != "guard" else f"({' + '.join(reversed(terms)) or '0'})"
    j, stride = [], 1
    for d in reversed(in_shape):
        j.append("0" if d == 1 else f"({flat} // {stride}) % {d}" if stride > 1
                 else f"{flat} % {d}")
        stride *= d
    return k.expr(x, tuple(reversed(j)), ctx)


def _view_squeeze(k, eqn, idx, ctx):
    x = eqn.invars[0]
    dims = set(eqn.params["dimensions"])
    it = iter(idx)
    return k.expr(x, tuple("0" if d in dims else next(it) for d in range(x.aval.ndim)), ctx)


def _view_iota(k, eqn, idx, ctx):
    p = eqn.params
    return cast(idx[p["dimension"]], p["dtype"])


def _view_pad(k, eqn, idx, ctx):
    x, padval = eqn.invars
    conds, j = [], []
    for i, n, (lo, hi, interior) in zip(idx, x.aval.shape, eqn.params["padding_config"]):
        t = _add(i, -lo)
        if interior:
            step = interior + 1
            conds += [f"{t} >= 0", f"({t}) % {step} == 0", f"({t}) // {step} < {n}"]
            j.append(f"({t}) // {step}")
        else:
            if lo > 0:
                conds.append(f"{i} >= {lo}")
            if hi > 0:
                conds.append(f"{t} < {n}")
            j.append(t)
    inner = k.expr(x, tuple(j), "guard")
    fill = k.expr(padval, (), "pro" if ctx == "guard" else ctx)
    return f"({inner} if {' and '.join(conds)} else {fill})" if conds else inner


def _view_concatenate(k, eqn, idx, ctx):
    d = eqn.params["dimension"]
    offsets, off = [], 0
    for x in eqn.invars:
        offsets.append(off)
        off += x.aval.shape[d]
    out = None
    for x, o in reversed(list(zip(eqn.invars, offsets))):
        if x.aval.shape[d] == 0:
            continue
        j = tuple(_add(i, -o) if a == d else i for a, i in enumerate(idx))
        e = k.expr(x, j, "guard")
        out = e if out is None else f"({e} if {idx[d]} < {o + x.aval.shape[d]} else {out})"
    return out


def _clamped_starts(k, starts, dims, sizes, ctx):
    block = k.epilogue if ctx == "epi" else k.prologue
    out = []
    for s, n, size in zip(starts, dims, sizes):
        v = k.bind(k.expr(s, (), "epi" if ctx == "epi" else "pro"), block)
        out.append(k.bind(f"min(max(np.int64({v}), 0), {n - size})", block, "c"))
    return out


def _view_dynamic_slice(k, eqn, idx, ctx):
    x, *starts = eqn.invars
    c = _clamped_starts(k, starts, x.aval.shape, eqn.params["slice_sizes"], ctx)
    return k.expr(x, tuple(f"{s} + {i}" for s, i in zip(c, idx)), ctx)


def _view_dynamic_update_slice(k, eqn, idx, ctx):
    x, upd, *starts = eqn.invars
    c = _clamped_starts(k, starts, x.aval.shape, upd.aval.shape, ctx)
    cond = " and ".join(f"{s} <= {i} < {s} + {n}" for s, i, n in zip(c, idx, upd.aval.shape))
    inside = k.expr(upd, tuple(f"{i} - {s}" for s, i in zip(c, idx)), "guard")
    outside = k.expr(x, idx, "guard")
    return f"({inside} if {cond} else {outside})" if cond else inside


def _view_gather(k, eqn, idx, ctx):
    operand, indices = eqn.invars
    mode, fill = eqn.params["mode"], eqn.params["fill_value"]
    nbatch = indices.aval.ndim - 1
    kk = indices.aval.shape[-1]
    dims = operand.aval.shape[:kk]
    batch, rest = idx[:nbatch], idx[nbatch:]
    out_dtype = operand.aval.dtype
    if any(d == 0 for d in dims):
        return literal(fill if mode == "fill" and fill is not None else
                       (np.nan if mode == "fill" and out_dtype.kind == "f" else 0), out_dtype)
    unsigned = indices.aval.dtype.kind == "u"
    sel, conds = [], []
    for j, n in enumerate(dims):
        e = k.expr(indices, batch + (str(j),), ctx)
        if unsigned:
            e = f"np.int64(min({e}, {2 ** 62}))"
        e = k.bind(e, k.body if ctx == "body" else k.prologue if ctx == "pro" else k.epilogue) \
            if ctx != "guard" else e
        if mode == "fill":
            conds.append(f"0 <= {e} < {n}")
            sel.append(e)
        else:
            sel.append(f"min(max({e}, 0), {n - 1})")
    load = k.expr(operand, tuple(sel) + rest, "guard")
    if mode == "fill":
        fv = _gather_fill(fill, out_dtype)
        return f"({load} if {' and '.join(conds)} else {fv})"
    return load


def _gather_fill(fill, dtype):
    if fill is None:  # JAX's default: NaN for inexact types, the minimum for signed integers...
        dtype = np.dtype(dtype)
        fill = np.nan if dtype.kind == "f" else (True if dtype.kind == "b" else
                                                  np.iinfo(dtype).min if dtype.kind == "i"
                                                  else np.iinfo(dtype).max)
    return literal(fill, dtype)


def _view_identity(k, eqn, idx, ctx):
    return k.expr(eqn.invars[0], idx, ctx)


VIEW_RULES = {
    "broadcast_in_dim": _view_broadcast, "transpose": _view_transpose, "slice": _view_slice,
    "rev": _view_rev, "reshape": _view_reshape, "squeeze": _view_squeeze, "iota": _view_iota,
    "pad": _view_pad, "concatenate": _view_concatenate, "dynamic_slice": _view_dynamic_slice,
    "dynamic_update_slice": _view_dynamic_update_slice, "gather": _view_gather,
    **{r: _view_identity for r in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod",
                                   "reduce_and", "reduce_or")},
}


# ---------------------------------------------------------------------------- loop nests

def _nest(k: Kernel, ranges: list[str], names: tuple, pre: dict, post: dict, body: list[str]):
    """Loop nest source: pre[d] opens depth d (before `for names[d]`), post[d] follows it."""
    lines, indent = [], ""
    for d, (r, i) in enumerate(zip(ranges, names)):
        lines += [indent + ln for ln in pre.get(d, ())]
        lines.append(f"{indent}for {i} in {r}:")
        indent += "    "
    lines += [indent + ln for ln in pre.get(len(ranges), ())]
    lines += [indent + ln for ln in body]
    for d in range(len(ranges) - 1, -1, -1):
        indent = indent[:-4]
        lines += [indent + ln for ln in post.get(d, ())]
    return lines


def _fill(o: str, extents: list[str], value: str) -> list[str]:
    names = tuple(f"j{d}" for d in range(len(extents)))
    if not extents:
        return [f"{o}[()] = {value}"]
    return _nest(None, [f"range({e})" for e in extents], names, {}, {},
                 [f"{o}[{', '.join(names)}] = {value}"])


# reduction / cumulative / scatter op -> the binary primitive that folds one more value in
_ACCUMULATORS = {"sum": "add", "prod": "mul", "add": "add", "mul": "mul", "max": "max",
                 "min": "min", "and": "and", "or": "or"}


def _accumulate(op: str, acc: str, v: str, dtype, chain: bool = False) -> str:
    """The value of `op` folding v into acc (both names): the elementwise rule of the
    matching binary primitive, so reductions and scatters round and propagate NaN alike. A
    `chain` (a scalar carried round the loop) of float sums or products may reassociate, so the
    vectoriser can split it over lanes."""
    if chain and op in ("sum", "prod") and np.dtype(dtype).kind == "f":
        return f"_vm.reassoc_{'add' if op == 'sum' else 'mul'}({acc}, {v})"
    return scalar_expr(_ACCUMULATORS[op], [acc, v], [dtype, dtype], dtype, {})


# ---------------------------------------------------------------------------- fused groups

def _reduction(k: Kernel, eqn: JaxprEqn, pre: dict, post: dict, results: dict) -> None:
    """Fold one reduction into the group's loop."""
    name = eqn.primitive.name
    x, out = eqn.invars[0], eqn.outvars[0]
    nd = len(k.domain)
    axes = sorted(eqn.params["axes"])
    v = k.bind(k.expr(x, k.idx, "body"), k.body)
    kept = [k.idx[d] for d in range(nd) if d not in axes]
    kept_ext = [k.ext[d] for d in range(nd) if d not in axes]
    suffix = axes == list(range(nd - len(axes), nd))
    depth = nd - len(axes)
    if name in ("argmax", "argmin"):
        _arg_reduction(k, eqn, v, axes[0], kept, kept_ext, suffix, depth, pre, post, results)
        return
    dtype = out.aval.dtype
    op = name[len("reduce_"):]
    init = literal(_identity(dtype, name), dtype)
    if suffix:
        acc = k.fresh("acc")
        pre.setdefault(depth, []).append(f"{acc} = {init}")
        k.body.append(f"{acc} = {k.seg.uses(_accumulate(op, acc, v, dtype, chain=True))}")
        if depth == 0:
            results[out] = acc
            k.scalars[out] = acc
        else:
            o = k.output(out, out.aval.shape, dtype)
            post.setdefault(depth, []).append(f"{o}[{', '.join(kept)}] = {acc}")
    else:
        o = k.output(out, out.aval.shape, dtype)
        k.prologue += _fill(o, kept_ext, init)
        ref = f"{o}[{', '.join(kept)}]"
        cur = k.bind(ref, k.body, "x")
        k.body.append(f"{ref} = {_accumulate(op, cur, v, dtype)}")


def _arg_reduction(k, eqn, v, axis, kept, kept_ext, suffix, depth, pre, post, results):
    x, out = eqn.invars[0], eqn.outvars[0]
    vdt, idt = x.aval.dtype, out.aval.dtype
    init = literal(_identity(vdt, eqn.primitive.name), vdt)
    cmp = ">" if eqn.primitive.name == "argmax" else "<"

    def better(cur):  # numpy: the first NaN wins, then the first extremum
        return f"{v} {cmp} {cur} or ({v} != {v} and {cur} == {cur})" if vdt.kind == "f" \
            else f"{v} {cmp} {cur}"
    if suffix:
        bv, bi = k.fresh("bv"), k.fresh("bi")
        pre.setdefault(depth, []).extend([f"{bv} = {init}", f"{bi} = 0"])
        k.body += [f"if {better(bv)}:", f"    {bv} = {v}", f"    {bi} = {k.idx[axis]}"]
        if depth == 0:
            results[out] = k.scalars[out] = cast(bi, idt) if np.dtype(idt) != np.int64 else bi
        else:
            o = k.output(out, out.aval.shape, idt)
            post.setdefault(depth, []).append(f"{o}[{', '.join(kept)}] = {bi}")
    else:
        scratch = k.output(None, out.aval.shape, vdt)
        o = k.output(out, out.aval.shape, idt)
        k.prologue += _fill(scratch, kept_ext, init) + _fill(o, kept_ext, "0")
        at = f"[{', '.join(kept)}]"
        cur = k.bind(f"{scratch}{at}", k.body, "x")
        k.body += [f"if {better(cur)}:", f"    {scratch}{at} = {v}",
                   f"    {o}{at} = {k.idx[axis]}"]


def group_nest(seg: Segment, group: Group) -> None:
    """Append a fused group's loop nest to seg."""
    k = Kernel(seg, group.index, group.domain)
    nd = len(group.domain)
    pre, post, results = {}, {}, {}
    for eqn in group.eqns:
        if eqn.primitive.name.startswith(("reduce_", "arg")):
            _reduction(k, eqn, pre, post, results)
            continue
        args = [k.bind(k.expr(u, k.idx, "body"), k.body) for u in eqn.invars]
        k.reg[eqn.outvars[0]] = k.bind(k.elementwise(eqn, args), k.body)
    for eqn in group.eqns:  # registers needed elsewhere go to memory
        out = eqn.outvars[0]
        if out in seg.plan.materialized and out in k.reg:
            o = k.output(out, out.aval.shape, out.aval.dtype)
            k.body.append(f"{o}[{', '.join(k.idx)}] = {k.reg[out]}")
    for v in group.scalar_results:
        results[v] = k.bind(k.expr(v, (), "epi"), k.epilogue, "s")
    seg.lines += k.prologue
    seg.lines += _nest(k, [f"range({n})" for n in k.ext], k.idx, pre, post, k.body)
    seg.lines += k.epilogue
    seg.results.update(results)
    # no sizes in the source: one compiled kernel serves every shape with this structure
    seg.descriptions.append(f"{' '.join(e.primitive.name for e in group.eqns) or 'scalars'} "
                            f"over a rank-{nd} domain")


# ---------------------------------------------------------------------------- loop kernels

def cumulative_nest(seg: Segment, step: LoopKernel) -> None:
    eqn = step.eqn
    x, out = eqn.invars[0], eqn.outvars[0]
    axis, reverse = eqn.params["axis"], eqn.params["reverse"]
    shape, dtype = out.aval.shape, out.aval.dtype
    k = Kernel(seg, step.index, shape)
    o = k.output(out, shape, dtype)
    v = k.bind(k.expr(x, k.idx, "body"), k.body)
    prev = tuple(f"{i} + 1" if (a == axis and reverse) else f"{i} - 1" if a == axis else i
                 for a, i in enumerate(k.idx))
    first = f"{k.ext[axis]} - 1" if reverse else "0"
    op = eqn.primitive.name[len("cum"):]
    p = k.fresh("p")
    k.body += [f"if {k.idx[axis]} == {first}:", f"    {o}[{', '.join(k.idx)}] = {v}", "else:",
               f"    {p} = {o}[{', '.join(prev)}]",
               f"    {o}[{', '.join(k.idx)}] = {_accumulate(op, p, v, dtype)}"]
    ranges = [f"range({n} - 1, -1, -1)" if (d == axis and reverse) else f"range({n})"
              for d, n in enumerate(k.ext)]
    seg.lines += k.prologue + _nest(k, ranges, k.idx, {}, {}, k.body)
    seg.descriptions.append(f"{eqn.primitive.name} along axis {axis} of a rank-{len(shape)} "
                            "array")


def scatter_nest(seg: Segment, step: LoopKernel) -> None:
    eqn = step.eqn
    operand, indices, updates = eqn.invars
    out = eqn.outvars[0]
    shape, dtype = out.aval.shape, out.aval.dtype
    mode = eqn.params["mode"]
    kk = indices.aval.shape[-1]
    dims = shape[:kk]
    k = Kernel(seg, step.index, shape)
    o = k.output(out, shape, dtype)
    # 1. the result starts as a copy of the operand
    v = k.bind(k.expr(operand, k.idx, "body"), k.body)
    k.body.append(f"{o}[{', '.join(k.idx)}] = {v}" if shape else f"{o}[()] = {v}")
    seg.lines += k.prologue + _nest(k, [f"range({n})" for n in k.ext], k.idx, {}, {}, k.body)
    # 2. fold the update rows in, in order (so with duplicate indices the last `set` wins)
    if all(d > 0 for d in dims):
        ushape = updates.aval.shape
        nb = indices.aval.ndim - 1
        uidx = tuple(f"u{d}" for d in range(len(ushape)))
        k.body, k.loads, k.prologue = [], {}, []
        sel, conds = scatter_targets(k, indices, uidx[:nb], dims, mode)
        u = k.bind(k.expr(updates, uidx, "body"), k.body)
        target = f"{o}[{', '.join(sel + list(uidx[nb:]))}]" if shape else f"{o}[()]"
        op = eqn.primitive.name[len("scatter_"):] if eqn.primitive.name != "scatter" else None
        if op is None:
            apply = [f"{target} = {u}"]
        else:
            cur = k.fresh("cur")
            apply = [f"{cur} = {target}", f"{target} = {_accumulate(op, cur, u, dtype)}"]
        if conds:
            apply = [f"if {' and '.join(conds)}:"] + ["    " + ln for ln in apply]
        seg.lines += k.prologue + _nest(k, [f"range({n})" for n in ushape], uidx, {}, {},
                                        k.body + apply)
    seg.descriptions.append(f"{eqn.primitive.name} into [{','.join(map(str, shape))}] ({mode})")


def scatter_targets(k: Kernel, indices, batch: tuple, dims: tuple, mode: str):
    """(the operand indices an update row goes to, the conditions for it to land) of the index
    row at `batch`: clamped with mode "clip", dropped when out of bounds otherwise."""
    sel, conds = [], []
    for j, n in enumerate(dims):
        e = k.expr(indices, batch + (str(j),), "body")
        if indices.aval.dtype.kind == "u":
            e = f"np.int64(min({e}, {2 ** 62}))"
        e = k.bind(e, k.body, "j")
        if mode == "clip":
            e = k.bind(f"min(max({e}, 0), {n - 1})", k.body, "j")
        else:
            conds.append(f"0 <= {e} < {n}")
        sel.append(e)
    return sel, conds


def append_nest(seg: Segment, step) -> None:
    """Append the loop nest of a Group or LoopKernel step to seg."""
    if type(step) is Group:
        group_nest(seg, step)
    elif step.eqn.primitive.name.startswith("cum"):
        cumulative_nest(seg, step)
    else:
        scatter_nest(seg, step)
