"""jaxpr -> a program of CUDA kernels whose values stay on the GPU.

The jaxpr is prepared and partitioned as for the CPU (`numba_cpu.compiler.prepare`, `Plan`),
with three differences: a transpose feeding a `dot_general` is folded into its dimension
numbers (the dot kernel reads strided operands), index maps that must exist in memory are
copied by a kernel (no numpy on the host), and the reductions of one group share their axes.
Each step becomes one or more kernels (codegen.py); `dot_general` is a tiled kernel
(matmul.py); `cond`, `while_loop` and `scan` are host loops over the compiled programs of
their bodies, reading back only the predicate or branch index.

The host program is generated as Python source (`HostSource`, shown by `.as_text()` and
reused by `export(target="cuda")`). Arguments not on the GPU are copied there once per call;
results are numba device arrays (`np.asarray` copies back). Rank-0 values live in 1-element
device arrays and come back as 0-d ones.
"""
from __future__ import annotations

import hashlib
import math
import time
import weakref

import numpy as np

from ... import config as _config
from ...jaxpr import Jaxpr, JaxprEqn, Literal, rewrite_eqns
from ...passes import dce_jaxpr
from ..numba_cpu.compiler import cached_executable, prepare
from ..numba_cpu.partition import Group, HostCall, LoopKernel, Plan
from . import runtime
from .codegen import Launch, copy_kernel_source, group_kernels, loop_kernels
from .linalg import KERNELS as LINALG
from .sorting import sort_kernel

#: the host-side equations this backend runs (besides dot_general's kernel)
_CONTROL_FLOW = ("cond", "while", "scan")
_kernels: dict = {}


def load_cuda_kernel(source: str):
    """The `kernel` a generated module defines (one exec per distinct source)."""
    k = _kernels.get(source)
    if k is None:
        name = "numbax_cuda_" + hashlib.sha256(source.encode()).hexdigest()[:16]
        ns = {"__name__": name}
        simulated = runtime.simulated()
        exec(compile(_numpy_floats(source) if simulated else source, f"<{name}>", "exec"), ns)
        if simulated:   # Python's math raises where libdevice returns inf or NaN
            from .device_math import simulator_math
            ns["math"] = simulator_math
        k = _kernels[source] = ns["kernel"]
    return k


def _numpy_floats(source: str) -> str:
    """The simulator runs kernels as Python, where `0.5 / 0.0` raises instead of giving inf:
    float literals become numpy floats there (the GPU's own arithmetic is IEEE)."""
    import io
    import tokenize
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        text = tok.string
        if tok.type == tokenize.NUMBER and any(c in text for c in ".eE") and \
                not text.lower().startswith("0x"):
            text = f"np.float64({text})"
        out.append((tok.type, text))
    return tokenize.untokenize(out)


def launch_config() -> Launch:
    if runtime.simulated():   # one Python thread per CUDA thread: tiny launches
        return Launch(32, 2)
    cuda = runtime.cuda_module()
    sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    return Launch(256, 32 * sms)


def _copy_kernel(ndim: int):
    return load_cuda_kernel(copy_kernel_source(ndim))


def contiguous(x, launch: Launch):
    """A C-contiguous device array with x's values (x itself when it already is one)."""
    if x.is_c_contiguous() if hasattr(x, "is_c_contiguous") else x.flags["C_CONTIGUOUS"]:
        return x
    cuda = runtime.cuda_module()
    out = cuda.device_array(x.shape, x.dtype)
    n = math.prod(x.shape)
    if n:
        _copy_kernel(x.ndim)[launch.grid(n), launch.block](x, out)
    return out


def _entry(aval, launch: Launch):
    """Argument conversion: onto the device, C-contiguous, rank-0 values as 1-element arrays."""
    cuda = runtime.cuda_module()
    dtype, ndim = aval.dtype, aval.ndim
    def convert(x):
        if runtime.is_device_array(x):
            x = runtime.to_device(x)
            if x.dtype != dtype:
                raise TypeError(f"jit(device='cuda'): argument of dtype {x.dtype} where the "
                                f"program was compiled for {dtype}")
            if ndim == 0:
                return x.reshape(1)
            return contiguous(x, launch)
        a = np.asarray(x, dtype)
        return cuda.to_device(a.reshape(1) if ndim == 0 else np.ascontiguousarray(a))
    return convert


def absorb_transposes(jaxpr: Jaxpr) -> Jaxpr:
    """`dot_general(transpose(a), b)` -> `dot_general(a, b)` with the dimension numbers mapped
    through the permutation, when that keeps the order of the free dims (the result's layout):
    the dot kernel reads strided operands, so the transpose need not be copied first."""
    producer = {v: e for e in jaxpr.eqns for v in e.outvars}

    def rule(e, emit):
        if e.primitive.name != "dot_general":
            return False
        (lc, rc), (lb, rb) = e.params["dimension_numbers"]
        ops, dims = list(e.invars), [[lc, lb], [rc, rb]]
        changed = False
        for k, x in enumerate(ops):
            t = producer.get(x) if type(x) is not Literal else None
            if t is None or t.primitive.name != "transpose" or type(t.invars[0]) is Literal:
                continue
            perm = t.params["permutation"]
            contract, batch = dims[k]
            free = [d for d in range(len(perm)) if d not in contract and d not in batch]
            if [perm[d] for d in free] != sorted(perm[d] for d in free):
                continue
            ops[k] = t.invars[0]
            dims[k] = [tuple(perm[d] for d in contract), tuple(perm[d] for d in batch)]
            changed = True
        if not changed:
            return False
        dn = ((dims[0][0], dims[1][0]), (dims[0][1], dims[1][1]))
        emit(JaxprEqn(e.primitive, ops, dict(e.params, dimension_numbers=dn), e.outvars))
        return True
    return dce_jaxpr(rewrite_eqns(jaxpr, rule))


def prepare_cuda(jaxpr: Jaxpr) -> Jaxpr:
    return absorb_transposes(prepare(jaxpr))


class HostSource:
    """The host program of a plan as Python source: allocations, launches, views and the loops
    of control flow, in order. Names it uses live in `env`: `k<i>` kernels as (source, grid,
    block), `c<i>` the jaxpr's constants, `p<i>` control-flow bodies, `dbg<n>` debug printers,
    numpy arrays (those in `device_consts` to be uploaded once, the others used on the host)."""

    def __init__(self, plan: Plan, launch: Launch, compile_sub, pool: bool = False):
        self.plan, self.launch, self.compile_sub = plan, launch, compile_sub
        self.pool = pool             # intermediates come from a pool of per-caller buffers
        self.bases: dict = {}        # value name -> the allocations it may be a view of
        self.allocs: dict = {}       # allocation name -> (shape, dtype)
        self.env: dict = {"np": np, "_scan": scan_on_device}
        self.lines: list[str] = []
        self.names: dict = {}
        self.kernels: list = []      # CudaKernelSpecs and DotKernels, in launch order
        self.subprograms: list = []  # (env name, executable) of control-flow bodies
        self.device_consts: set = set()   # env names of numpy values to keep on the device
        self._n = 0
        jaxpr = plan.jaxpr
        for i, v in enumerate(jaxpr.constvars):
            self.names[v] = f"c{i}"
        self.params = [f"a{i}" for i in range(len(jaxpr.invars))]
        self.names.update(zip(jaxpr.invars, self.params))
        self._views(-1)
        for step in plan.steps:
            if type(step) is Group:
                self._kernels(group_kernels(plan, step, launch))
            elif type(step) is LoopKernel:
                self._kernels(loop_kernels(plan, step, launch))
            else:
                self._host_call(step)
            self._views(step.index)
        self.outputs = [self.value(v) for v in jaxpr.outvars]

    def fresh(self, prefix="v") -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def value(self, v) -> str:
        if type(v) is Literal:   # a device constant, uploaded once (device_consts)
            name = self.fresh("lit")
            val = np.asarray(v.val, v.aval.dtype)
            self.env[name] = val.reshape(1) if val.ndim == 0 else val
            self.device_consts.add(name)
            return name
        return self.names[self.plan.aliases.get(v, v)]

    def _views(self, step_index: int) -> None:
        for eqn in self.plan.views_after.get(step_index, ()):
            name = self.names[eqn.outvars[0]] = self.fresh()
            shape = eqn.outvars[0].aval.shape or (1,)
            src = self.value(eqn.invars[0])
            self.bases[name] = self.bases.get(src, set())
            self.lines.append(f"{name} = {src}.reshape({shape})")

    def _alloc(self, shape, dtype) -> str:
        name = self.fresh("o")
        self.allocs[name] = (tuple(shape), np.dtype(dtype))
        self.bases[name] = {name}
        self.lines.append(_Alloc(name))
        return name

    def _kernels(self, specs: list) -> None:
        scratch: list[str] = []
        for spec in specs:
            self.kernels.append(spec)
            kname = f"k{len(self.kernels) - 1}"
            if spec.grid:
                self.env[kname] = (spec.source, spec.grid, spec.block)
            args = [str(n) for n in spec.extents] + [self.value(v) for v in spec.inputs]
            now_scratch = []
            for i, (v, shape, dtype) in enumerate(spec.outputs):
                if spec.reads_scratch and i < len(scratch):
                    args.append(scratch[i])
                    continue
                if spec.in_place and v is not None and v in self.names:
                    args.append(self.names[v])
                    continue
                o = self._alloc(shape, dtype)
                args.append(o)
                if v is None:
                    now_scratch.append(o)
                elif v.aval.shape != tuple(shape):
                    self.names[v] = self.fresh()
                    self.bases[self.names[v]] = self.bases[o]
                    self.lines.append(f"{self.names[v]} = {o}.reshape({v.aval.shape or (1,)})")
                else:
                    self.names[v] = o
            if spec.grid:
                self.lines.append(f"{kname}({', '.join(args)})")
            scratch = now_scratch

    def _host_call(self, step: HostCall) -> None:
        eqn = step.eqn
        name = eqn.primitive.name
        if name == "dot_general":
            self._dot_general(eqn)
        elif name in _CONTROL_FLOW:
            self._control_flow(eqn)
        elif name in LINALG:
            self._kernels([LINALG[name](eqn, self.launch)])
        elif name == "sort":
            self._kernels([sort_kernel(eqn, self.launch)])
        elif name == "debug_print":
            fname = self.fresh("dbg")
            avals = [v.aval for v in eqn.invars]
            self.env[fname] = lambda *xs: eqn.primitive.impl(
                *[np.asarray(x).reshape(a.shape) for x, a in zip(xs, avals)], **eqn.params)
            self.lines.append(f"{fname}({', '.join(self.value(v) for v in eqn.invars)})")
        else:
            raise NotImplementedError(
                f"jit(device='cuda'): the primitive {name!r} has no CUDA lowering; compile "
                f"this function with jit(f) on the CPU")

    def _dot_general(self, eqn) -> None:
        from .matmul import dot_general_kernel
        (lhs, rhs), out = eqn.invars, eqn.outvars[0]
        dk = dot_general_kernel(lhs.aval.shape, rhs.aval.shape, lhs.aval.dtype, rhs.aval.dtype,
                                out.aval.dtype, eqn.params["dimension_numbers"])
        self.kernels.append(dk)
        kname = f"k{len(self.kernels) - 1}"
        size = max(1, dk.out_size)
        if dk.empty or not math.prod(lhs.aval.shape) or not math.prod(rhs.aval.shape):
            zname = self.fresh("zeros")
            self.env[zname] = np.zeros(size, out.aval.dtype)
            o = self.fresh("o")
            self.lines.append(f"{o} = cuda.to_device({zname})")
        else:
            self.env[kname] = (dk.source, dk.grid, dk.block)
            o = self._alloc((size,), out.aval.dtype)
            self.lines.append(f"{kname}({self.value(lhs)}, {self.value(rhs)}, {o})")
        self.names[out] = self.fresh()
        self.bases[self.names[out]] = self.bases.get(o, set())
        self.lines.append(f"{self.names[out]} = {o}.reshape({out.aval.shape or (1,)})")

    def _sub(self, jaxpr) -> str:
        name = f"p{len(self.subprograms)}"
        exe = self.compile_sub(jaxpr)
        self.subprograms.append((name, exe))
        self.env[name] = exe
        return name

    def _control_flow(self, eqn) -> None:
        p = eqn.params
        ins = [self.value(v) for v in eqn.invars]
        outs = [self.fresh() for _ in eqn.outvars]
        for v, o in zip(eqn.outvars, outs):   # a body may hand back any of its operands
            self.names[v] = o
            self.bases[o] = set().union(*(self.bases.get(x, set()) for x in ins))
        unpack = f"{', '.join(outs)}, = "
        name = eqn.primitive.name
        if name == "cond":
            branches = [self._sub(b) for b in p["branches"]]
            i = self.fresh("i")
            self.lines += [f"{i} = min(max(int({ins[0]}.copy_to_host()[0]), 0), "
                           f"{len(branches) - 1})",
                           f"{unpack}({', '.join(branches)},)[{i}]([{', '.join(ins[1:])}])"]
        elif name == "while":
            cond, body = self._sub(p["cond_jaxpr"]), self._sub(p["body_jaxpr"])
            nc, nb = p["cond_nconsts"], p["body_nconsts"]
            cc, bc, carry = ins[:nc], ins[nc:nc + nb], ins[nc + nb:]
            c = self.fresh("carry")
            self.lines += [f"{c} = [{', '.join(carry)}]",
                           f"while {cond}([{''.join(x + ', ' for x in cc)}*{c}])[0]"
                           ".copy_to_host()[0]:",
                           f"    {c} = {body}([{''.join(x + ', ' for x in bc)}*{c}])",
                           f"{unpack}{c}"]
        else:
            body = self._sub(p["jaxpr"])
            nconst, ncarry = p["num_consts"], p["num_carry"]
            ys = [(a.shape, np.dtype(a.dtype).name) for a in p["jaxpr"].out_avals[ncarry:]]
            self.lines.append(
                f"{unpack}_scan({body}, [{', '.join(ins[:nconst])}], "
                f"[{', '.join(ins[nconst:nconst + ncarry])}], [{', '.join(ins[nconst + ncarry:])}], "
                f"{p['length']}, {p['reverse']}, {ys})")

    def source(self, name: str = "run") -> str:
        body = self.body_lines() + [f"return [{', '.join(self.outputs)}]"]
        return f"def {name}({', '.join(self.params)}):\n" + \
            "".join(f"    {ln}\n" for ln in body)

    def body_lines(self) -> list[str]:
        """The function's statements (without its return). With `pool`, the intermediates
        that cannot reach the caller are taken from a set of buffers kept between calls (one
        set per concurrent caller; kernels run in stream order, so the next call may reuse
        them at once): numba's allocations are cudaMalloc calls, one per step otherwise."""
        escaping = set().union(*(self.bases.get(o, set()) for o in self.outputs))
        pooled = [a for a in self.allocs if self.pool and a not in escaping]
        slot = {a: i for i, a in enumerate(pooled)}
        lines = []
        for ln in self.lines:
            if type(ln) is not _Alloc:
                lines.append(ln)
            elif ln.name in slot:
                lines.append(f"{ln.name} = _s[{slot[ln.name]}]")
            else:
                shape, dtype = self.allocs[ln.name]
                lines.append(f"{ln.name} = cuda.device_array({shape}, np.{dtype.name})")
        if pooled:
            shapes = [self.allocs[a] for a in pooled]
            self.env["_pool"] = []
            self.env["_scratch"] = lambda: tuple(runtime.cuda_module().device_array(sh, dt)
                                                   for sh, dt in shapes)
            lines = ["try:", "    _s = _pool.pop()", "except IndexError:",
                     "    _s = _scratch()"] + lines + ["_pool.append(_s)"]
        return lines


class _Alloc:
    """A line of the host program that allocates `name` (rendered by `HostSource.source`)."""

    def __init__(self, name: str):
        self.name = name


def scan_on_device(body, consts, carry, xs, length, reverse, y_specs):
    """lax.scan as a host loop over the body's program: x slices are views, each y is copied
    into its row of a preallocated stack (device to device)."""
    from numba import cuda
    ys = [cuda.device_array((length, max(1, math.prod(shape))), np.dtype(dtype))
          for shape, dtype in y_specs]
    for k in range(length):
        i = length - 1 - k if reverse else k
        x_i = [x[i:i + 1].reshape(x.shape[1:] or (1,)) for x in xs]
        outs = body([*consts, *carry, *x_i])
        carry = outs[:len(carry)]
        for y, o in zip(ys, outs[len(carry):]):
            y[i].copy_to_device(o.reshape(y.shape[1]))
    return [*carry, *[y.reshape((length,) + tuple(shape)) for y, (shape, _) in zip(ys, y_specs)]]


class CudaExecutable:
    """A lowered program: the optimised jaxpr, its plan, the kernels, and the host program."""

    def __init__(self, jaxpr: Jaxpr, optimized: Jaxpr, out_tree=None):
        t0 = time.perf_counter()
        cuda = runtime.cuda_module()
        self.jaxpr = optimized
        self.out_tree = out_tree
        self.launch = launch_config()
        self.plan = Plan(optimized, copy_views=True, uniform_reductions=True)
        host = HostSource(self.plan, self.launch, compile_jaxpr, pool=True)
        self.kernels = host.kernels
        self.host_source = host.source("run")
        env = dict(host.env, cuda=cuda)
        for k, val in host.env.items():
            if type(val) is tuple:   # (source, grid, block): a kernel, configured for its launch
                source, grid, block = val
                env[k] = load_cuda_kernel(source)[grid, block]
            elif isinstance(val, CudaExecutable):   # a body: takes its arguments as a list
                env[k] = (lambda run: lambda args: run(*args))(val.run_device)
        for name in host.device_consts:
            env[name] = cuda.to_device(host.env[name])
        for i, c in enumerate(optimized.consts):
            c = np.asarray(c)
            env[f"c{i}"] = cuda.to_device(c.reshape(1) if c.ndim == 0 else
                                          np.ascontiguousarray(c))
        exec(compile(self.host_source, "<numbax CUDA host program>", "exec"), env)
        self.run_device = env["run"]
        self._convert = [_entry(v.aval, self.launch) for v in optimized.invars]
        self._scalar_out = [v.aval.ndim == 0 for v in optimized.outvars]
        self.compile_time = time.perf_counter() - t0
        _config.log("lowered for CUDA: %d kernels (%.0f ms)", len(self.kernels),
                    1e3 * self.compile_time)

    def run_flat(self, *args) -> list:
        if len(args) != len(self._convert):
            raise TypeError(f"expected {len(self._convert)} arguments, got {len(args)}")
        outs = self.run_device(*[c(a) for c, a in zip(self._convert, args)])
        return [o.reshape(()) if s else o for o, s in zip(outs, self._scalar_out)]

    def run_tree(self, *args):
        from ...tree_util import tree_unflatten
        outs = self.run_flat(*args)
        return outs if self.out_tree is None else tree_unflatten(self.out_tree, outs)

    __call__ = run_flat

    def as_text(self) -> str:
        parts = ["# ---- host program (plain Python; k<i> are the kernels below, launched "
                 "with their grid and block) ----", self.host_source]
        for i, k in enumerate(self.kernels):
            launch = "" if getattr(k, "empty", False) else f" <<<{k.grid}, {k.block}>>>"
            parts += [f"# ---- k{i}: {k.description}{launch} ----", k.source]
        return "\n".join(parts)


def kernel_specs(jaxpr: Jaxpr, launch: Launch) -> list:
    """Every kernel a program would launch (control-flow bodies included), generated without a
    GPU: for compiling them all to PTX where no device exists."""
    from .matmul import dot_general_kernel
    plan = Plan(prepare_cuda(jaxpr), copy_views=True, uniform_reductions=True)
    specs = []
    for step in plan.steps:
        if type(step) is Group:
            specs += group_kernels(plan, step, launch)
        elif type(step) is LoopKernel:
            specs += loop_kernels(plan, step, launch)
        elif step.eqn.primitive.name == "dot_general":
            (lhs, rhs), out = step.eqn.invars, step.eqn.outvars[0]
            specs.append(dot_general_kernel(lhs.aval.shape, rhs.aval.shape, lhs.aval.dtype,
                                            rhs.aval.dtype, out.aval.dtype,
                                            step.eqn.params["dimension_numbers"]))
        elif step.eqn.primitive.name in LINALG:
            specs.append(LINALG[step.eqn.primitive.name](step.eqn, launch))
        elif step.eqn.primitive.name == "sort":
            specs.append(sort_kernel(step.eqn, launch))
        elif step.eqn.primitive.name in _CONTROL_FLOW:
            p = step.eqn.params
            for sub in (*p.get("branches", ()), p.get("cond_jaxpr"), p.get("body_jaxpr"),
                        p.get("jaxpr")):
                if sub is not None:
                    specs += kernel_specs(sub, launch)
    return specs


_executables: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def compile_jaxpr(jaxpr: Jaxpr, out_tree=None) -> CudaExecutable:
    """The CUDA executable for jaxpr (cached per jaxpr object and output tree)."""
    return cached_executable(_executables, jaxpr, out_tree,
                             lambda: CudaExecutable(jaxpr, prepare_cuda(jaxpr), out_tree))


__all__ = ["CudaExecutable", "compile_jaxpr", "contiguous", "kernel_specs", "load_cuda_kernel"]
