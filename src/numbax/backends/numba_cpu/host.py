"""The host program: plain Python that allocates outputs, calls the kernels and BLAS, in order.

It is generated as source too (and shown by `.as_text()`), so a call costs a handful of
bytecodes plus one dispatch per kernel: no interpreter loop over the plan.

Large intermediates that cannot reach the caller live in *scratch* buffers kept between calls
(a pool per program, one set per concurrent caller). A fresh 1 MB array from `np.empty` is
fresh pages from the kernel: measured, the first pass over two of them costs 600 us of page
faults against 180 us for the kernel itself (the W3 MLP's tanh layer).
"""
from __future__ import annotations

import functools

import numpy as np

from ...jaxpr import Literal, has_effects
from .blas import DotLayout
from .codegen import Segment, append_nest
from .native import CONTROL_FLOW, Unsupported, log_fallback, lower_equation
from .partition import HostCall, Plan
from .scalar_ops import NATIVE, literal



def _scalar(x):
    return x[()] if isinstance(x, np.ndarray) else x


#: intermediates at least this large go to scratch buffers (glibc serves smaller ones from its
#: heap without faults); at most _SCRATCH_MAX bytes of them per program stay allocated
_SCRATCH_MIN = 1 << 16
_SCRATCH_MAX = 1 << 28


class _Alloc:
    """A line that allocates `name`: `np.empty` for a kernel output, or a BLAS product, written
    into a scratch buffer instead when the program decides the value is scratch."""

    def __init__(self, name, shape, dtype, product=None, reshape=None):
        self.name, self.shape, self.dtype = name, tuple(shape), np.dtype(dtype)
        self.product = product     # (numpy function, operand sources) of a BLAS product
        self.reshape = reshape     # the value's shape, where the product's differs

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def render(self, slot) -> str:
        buf = f"_s[{slot}]" if slot is not None else None
        if self.product is None:
            return f"{self.name} = {buf or f'np.empty({self.shape}, np.{self.dtype.name})'}"
        fn, operands = self.product
        expr = f"{fn}({', '.join(operands + [f'out={buf}'] * bool(buf))})"
        if self.reshape is not None:
            expr = f"np.reshape({expr}, {self.reshape})"
        return f"{self.name} = {expr}"


def _dot_general(lhs: str, rhs: str, eqn) -> "str | _Alloc":
    """dot_general as one numpy matmul/dot on (views of) the operands: BLAS for floats. Returns
    the source, or, when the product is the output as it is, an `_Alloc` (which may write it
    into a scratch buffer with `out=`)."""
    la, ra = eqn.invars[0].aval, eqn.invars[1].aval
    lay = DotLayout(eqn)

    def arrange(name, shape, order, target):
        expr = name
        if list(order) != list(range(len(shape))):
            expr = f"{expr}.transpose({tuple(order)})"
        if tuple(shape[d] for d in order) != target:
            expr = f"{expr}.reshape({target})"
        return expr
    lhs, rhs = [f"np.asarray({x})" if type(v) is Literal else x
                for x, v in zip((lhs, rhs), eqn.invars)]
    left, right = arrange(lhs, la.shape, *lay.left), arrange(rhs, ra.shape, *lay.right)
    fn = "np.matmul" if lay.batched else "np.dot"
    reshape = lay.out_shape if lay.natural != lay.out_shape else None
    pet = eqn.params.get("preferred_element_type")
    if pet is not None and np.dtype(pet) != np.result_type(la.dtype, ra.dtype):
        expr = f"{fn}({left}, {right})"
        expr = f"np.reshape({expr}, {reshape})" if reshape is not None else expr
        return f"({expr}).astype(np.{np.dtype(pet).name})"
    return _Alloc(None, lay.natural, eqn.outvars[0].aval.dtype, (fn, [left, right]), reshape)


class HostProgram:
    """Generates the `run` function for a plan; compiles the kernels as it goes."""

    def __init__(self, plan: Plan, load_kernel):
        self.plan = plan
        self.load_kernel = load_kernel
        self.env: dict = {"np": np, "_scalar": _scalar}
        self.names: dict = {}
        self.lines: list = []     # source lines and `_Alloc`s
        self.bases: dict = {}     # value name -> the allocations it may be a view of
        self.kernels: list = []   # KernelSpecs in call order
        self._n = 0
        jaxpr = plan.jaxpr
        for i, (v, c) in enumerate(zip(jaxpr.constvars, jaxpr.consts)):
            self.env[f"c{i}"] = np.ascontiguousarray(c) if np.ndim(c) else _scalar(np.asarray(c))
            self.names[v] = f"c{i}"
        self.params = [f"a{i}" for i in range(len(jaxpr.invars))]
        for v, p in zip(jaxpr.invars, self.params):
            self.names[v] = p
        self._views(-1)
        for step in plan.steps:
            if type(step) is HostCall:
                self._host_call(step)
            else:
                self._kernel(step)
            self._views(step.index)
        consts = set(jaxpr.constvars)
        # a constant handed back must be a fresh array: the program keeps using its own
        self.outputs = [f"np.array({self.value(v)})" if v in consts else self.value(v)
                        for v in jaxpr.outvars]
        self.scratch = self._assign_scratch(
            set().union(*(self.bases.get(self.value(v), ()) for v in jaxpr.outvars
                          if type(v) is not Literal)))

    def _assign_scratch(self, escaping: set) -> dict:
        """Slots for the allocations that never reach the caller, large ones first."""
        allocs = [a for a in self.lines if type(a) is _Alloc and a.name not in escaping
                  and a.nbytes >= _SCRATCH_MIN]
        slots, total = {}, 0
        for a in sorted(allocs, key=lambda a: -a.nbytes):
            if total + a.nbytes <= _SCRATCH_MAX:
                slots[a.name] = len(slots)
                total += a.nbytes
        if slots:
            shapes = [None] * len(slots)
            for a in allocs:
                if a.name in slots:
                    shapes[slots[a.name]] = (a.shape, a.dtype)
            self.env["_pool"] = []
            self.env["_scratch"] = lambda: tuple(np.empty(s, d) for s, d in shapes)
        return slots

    def _alloc(self, a: _Alloc) -> None:
        self.lines.append(a)
        self.bases[a.name] = {a.name}

    def fresh(self, prefix="v") -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def value(self, v) -> str:
        if type(v) is Literal:
            return literal(v.val, v.aval.dtype)
        return self.names[v]

    def _views(self, step_index: int):
        for eqn in self.plan.views_after.get(step_index, ()):
            out = eqn.outvars[0]
            name = self.names[out] = self.fresh()
            src = self.value(eqn.invars[0])
            shape = out.aval.shape
            self.lines.append(f"{name} = np.reshape({src}, {shape})" + ("[()]" if not shape
                                                                          else ""))
            self.bases[name] = self.bases.get(src, set())

    def _kernel(self, step) -> None:
        """Compile the step's kernel and emit its call.

        Each step gets a kernel of its own: merging neighbouring loop nests into one function
        (a `Segment` can hold several) measured no faster to compile, since LLVM's time is
        per loop, and small shape-generic kernels are shared between programs by the cache."""
        seg = Segment(self.plan)
        append_nest(seg, step)
        spec = seg.spec()
        self.kernels.append(spec)
        kname = f"k{len(self.kernels) - 1}"
        self.env[kname] = self.load_kernel(spec.source, "kernel")
        outs = []
        for v, shape, dtype in spec.outputs:
            outs.append(self.fresh("o"))
            self._alloc(_Alloc(outs[-1], shape, dtype))
            if v is not None:
                self.names[v] = outs[-1]
        args = [str(n) for n in spec.extents] + [self.value(v) for v in spec.inputs] + outs
        call = f"{kname}({', '.join(args)})"
        rets = [self.fresh("r") for _ in spec.returns]
        if not rets:
            self.lines.append(call)
        else:
            self.lines.append(f"{', '.join(rets)} = {call}")
            for v, r in zip(spec.returns, rets):
                self.names[v] = r
                if v.aval.dtype not in NATIVE:  # numba boxes float32 as float
                    self.lines.append(f"{r} = np.{v.aval.dtype.name}({r})")

    def _host_call(self, step: HostCall):
        eqn = step.eqn
        args = [self.value(v) for v in eqn.invars]
        outs = [self.fresh() for _ in eqn.outvars]
        native = self._native(step) if eqn.primitive.name in CONTROL_FLOW else None
        if eqn.primitive.name == "dot_general":
            expr = _dot_general(args[0], args[1], eqn)
        elif native is not None:
            fname, consts = native
            cnames = [f"{fname}_c{i}" for i in range(len(consts))]
            self.env.update(zip(cnames, consts))
            expr = f"{fname}({', '.join(args + cnames)})"
        else:
            fname = f"f{step.index}"
            params = dict(eqn.params, evaluate=run_compiled) if eqn.primitive.name in \
                CONTROL_FLOW else eqn.params
            self.env[fname] = functools.partial(eqn.primitive.impl, **params)
            expr = f"{fname}({', '.join(args)})"
        if type(expr) is _Alloc:
            expr.name = outs[0]
            self._alloc(expr)
        else:
            unpack = "," if eqn.primitive.multiple_results else ""
            self.lines.append(f"{', '.join(outs)}{unpack} = {expr}" if outs else expr)
            # an impl may hand back (views of) its operands
            for o in outs:
                self.bases[o] = set().union(*(self.bases.get(a, ()) for a in args))
        for v, o in zip(eqn.outvars, outs):
            self.names[v] = o
            if native is not None:  # numba returns C arrays; float32 scalars come back as float
                if not v.aval.ndim and v.aval.dtype not in NATIVE:
                    self.lines.append(f"{o} = np.{v.aval.dtype.name}({o})")
            elif eqn.primitive.name != "dot_general":  # numpy's products are C-contiguous
                fix = "np.ascontiguousarray" if v.aval.ndim else "_scalar"
                self.lines.append(f"{o} = {fix}({o})")

    def _native(self, step: HostCall):
        """(name in env, constants it takes) of the native function for a control-flow
        equation, or None to loop in Python over its compiled body."""
        try:
            source, consts = lower_equation(step.eqn)
            fn = self.load_kernel(source, "run")
        except Unsupported as e:
            log_fallback(step.eqn, str(e))
            return None
        fname = f"n{step.index}"
        self.env[fname] = fn
        self.kernels.append(NativeSpec(source, step.eqn))
        return fname, consts

    def source(self, name: str, returns: str) -> str:
        """`name(*args)`: the plan's straight-line code. Arguments go to numba as they are; if
        numba rejects one (a non-contiguous or 0-d array, a list), they are normalised once
        and the call is retried, so the common path pays nothing for the check."""
        body = [ln if type(ln) is str else ln.render(self.scratch.get(ln.name))
                for ln in self.lines]
        body += ["_pool.append(_s)"] * bool(self.scratch) + [f"return {returns}"]
        params = ", ".join(self.params)
        head = [f"def {name}({params}):"]
        if self.scratch:   # one set of scratch buffers per concurrent caller
            head += ["    try:", "        _s = _pool.pop()", "    except IndexError:",
                     "        _s = _scratch()"]
        if not self.params:
            return "\n".join(head + ["    " + ln for ln in body]) + "\n"
        self.env["_normalize"] = _normalize
        self.env["_in_avals"] = [v.aval for v in self.plan.jaxpr.invars]
        normalize = f"{params}, = _normalize(({params},), _in_avals)"
        if has_effects(self.plan.jaxpr):  # a retry would repeat them: normalise first
            return "\n".join(head + ["    " + normalize] + ["    " + ln for ln in body]) + "\n"
        lines = head + ["    try:"] + ["        " + ln for ln in body]
        lines += ["    except TypeError:", "        " + normalize]
        lines += ["    " + ln for ln in body]
        return "\n".join(lines) + "\n"


class NativeSpec:
    """A control-flow module, listed with the kernels for `.as_text()`."""

    def __init__(self, source: str, eqn):
        self.source = source
        self.description = f"native {eqn.primitive.name}"


def run_compiled(jaxpr, *args) -> list:
    """A loop or branch body that has no native form, run as its own compiled program (the
    loop around it then runs in Python)."""
    from .compiler import compile_jaxpr
    return compile_jaxpr(jaxpr).run_flat(*args)


def _normalize(args, avals):
    """Arguments as numba's signatures want them: C-contiguous arrays and numpy scalars."""
    return [np.ascontiguousarray(np.asarray(a), a_.dtype) if a_.ndim else
            np.asarray(a, a_.dtype)[()] for a, a_ in zip(args, avals)]


def return_expr(values: list[str], avals, out_tree, env: dict) -> str:
    """The `return` expression: numpy scalars for rank 0; a flat list without out_tree, else
    the user's pytree, built inline when it is a leaf or a tuple of leaves."""
    from ...tree_util import tree_structure, tree_unflatten
    vals = [f"np.{a.dtype.name}({v})" if a.ndim == 0 else v for v, a in zip(values, avals)]
    if out_tree is None:
        return f"[{', '.join(vals)}]"
    if len(vals) == 1 and out_tree == tree_structure(0):
        return vals[0]
    if out_tree == tree_structure((0,) * len(vals)):
        return "(" + "".join(v + ", " for v in vals) + ")"
    env["_out_tree"], env["_unflatten"] = out_tree, tree_unflatten
    return f"_unflatten(_out_tree, [{', '.join(vals)}])"


__all__ = ["HostProgram", "return_expr"]
