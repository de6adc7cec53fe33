"""jaxpr -> a program of CUDA kernels whose values stay on the GPU.

The jaxpr is prepared and partitioned exactly as for the CPU (`numba_cpu.compiler.prepare`,
`Plan`), with two settings: index maps that must exist in memory are copied by a kernel (no
numpy on the host), and the reductions of one group share their axes. Each step becomes one or
more kernels (codegen.py); `dot_general` is a tiled kernel (matmul.py); `cond`, `while_loop`
and `scan` are host loops over the compiled programs of their bodies, reading back only the
predicate or branch index.

The host program is a list of closures over a list of slots. Arguments that are not on the
GPU are copied there once per call; results are numba device arrays (`np.asarray` copies
back). Rank-0 values live in 1-element device arrays and come back as 0-d ones.
"""
from __future__ import annotations

import hashlib
import math
import time
import weakref

import numpy as np

from ... import config as _config
from ...jaxpr import Jaxpr, Literal
from ..numba_cpu.compiler import prepare
from ..numba_cpu.partition import Group, HostCall, LoopKernel, Plan
from . import runtime
from .codegen import Launch, copy_kernel_source, group_kernels, loop_kernels

#: the host-side equations this backend runs (besides dot_general's kernel)
_CONTROL_FLOW = ("cond", "while", "scan")
_kernels: dict = {}


def load_cuda_kernel(source: str):
    """The `kernel` a generated module defines (one exec per distinct source)."""
    k = _kernels.get(source)
    if k is None:
        name = "numbax_cuda_" + hashlib.sha256(source.encode()).hexdigest()[:16]
        ns = {"__name__": name}
        exec(compile(source, f"<{name}>", "exec"), ns)
        if runtime.simulated():   # Python's math raises where libdevice returns inf or NaN
            from .device_math import simulator_math
            ns["math"] = simulator_math
        k = _kernels[source] = ns["kernel"]
    return k


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
    device_types = runtime.core.DEVICE_ARRAY_TYPES

    def convert(x):
        if isinstance(x, device_types) or hasattr(x, "__cuda_array_interface__"):
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


class CudaExecutable:
    """A lowered program: the optimised jaxpr, its plan, the kernels, and `run_flat`."""

    def __init__(self, jaxpr: Jaxpr, optimized: Jaxpr, out_tree=None):
        t0 = time.perf_counter()
        cuda = runtime.cuda_module()
        self.jaxpr = optimized
        self.out_tree = out_tree
        self.launch = launch_config()
        self.plan = Plan(optimized, copy_views=True, uniform_reductions=True)
        self.kernels: list = []
        self._slot: dict = {}
        self._ops: list = []
        self._consts: dict = {}
        for v, c in zip(optimized.constvars, optimized.consts):
            c = np.asarray(c)
            self._consts[self._slot_of(v)] = cuda.to_device(
                c.reshape(1) if c.ndim == 0 else np.ascontiguousarray(c))
        self._in_slots = [self._slot_of(v) for v in optimized.invars]
        self._convert = [_entry(v.aval, self.launch) for v in optimized.invars]
        self._views(-1)
        for step in self.plan.steps:
            if type(step) is Group:
                self._kernel_steps(group_kernels(self.plan, step, self.launch))
            elif type(step) is LoopKernel:
                self._kernel_steps(loop_kernels(self.plan, step, self.launch))
            else:
                self._host_call(step)
            self._views(step.index)
        self._outs = []
        for v in optimized.outvars:
            if type(v) is Literal:
                val = np.asarray(v.val, v.aval.dtype)
                self._outs.append(("lit", val))
            else:
                self._outs.append(("slot", self._slot[self.plan.aliases.get(v, v)]))
        self.compile_time = time.perf_counter() - t0
        _config.log("lowered for CUDA: %d kernels (%.0f ms)", len(self.kernels),
                    1e3 * self.compile_time)

    # ------------------------------------------------------------------ building

    def _slot_of(self, v) -> int:
        s = self._slot.get(v)
        if s is None:
            s = self._slot[v] = len(self._slot)
        return s

    def _read(self, v):
        """A getter for v's device value (literals become device constants once)."""
        if type(v) is Literal:
            cuda = runtime.cuda_module()
            c = cuda.to_device(np.asarray(v.val, v.aval.dtype).reshape(
                (1,) if not v.aval.ndim else v.aval.shape))
            return lambda env: c
        s = self._slot[self.plan.aliases.get(v, v)]
        return lambda env: env[s]

    def _views(self, step_index: int) -> None:
        for eqn in self.plan.views_after.get(step_index, ()):
            src = self._slot[self.plan.aliases.get(eqn.invars[0], eqn.invars[0])]
            out = self._slot_of(eqn.outvars[0])

            def op(env, src=src, out=out, shape=eqn.outvars[0].aval.shape or (1,)):
                env[out] = env[src].reshape(shape)
            self._ops.append(op)

    def _kernel_steps(self, specs: list) -> None:
        cuda = runtime.cuda_module()
        scratch_of_previous: list = []
        for spec in specs:
            self.kernels.append(spec)
            kernel = load_cuda_kernel(spec.source)
            configured = kernel[spec.grid, spec.block] if spec.grid else None
            ins = [self._read(v) for v in spec.inputs]
            outs = []    # (slot or None, shape, dtype, reuse)
            for v, shape, dtype in spec.outputs:
                reuse = spec.in_place and v is not None and v in self._slot
                outs.append((self._slot_of(v) if v is not None else None, shape, dtype, reuse,
                             v.aval.shape if v is not None else None))
            n_prev = len(scratch_of_previous) if spec.reads_scratch else 0
            prev_slots = list(scratch_of_previous) if spec.reads_scratch else []
            scratch_slots = [("scratch", len(self._ops), i) for i, o in enumerate(outs)
                             if o[0] is None and i >= n_prev]
            extents = list(spec.extents)

            def op(env, configured=configured, ins=ins, outs=outs, extents=extents,
                   n_prev=n_prev, prev_slots=prev_slots, scratch_slots=scratch_slots):
                args = list(extents) + [g(env) for g in ins]
                k = 0
                for i, (slot, shape, dtype, reuse, vshape) in enumerate(outs):
                    if i < n_prev:
                        args.append(env[prev_slots[i]])
                        continue
                    arr = env[slot] if reuse else cuda.device_array(shape, dtype)
                    args.append(arr)
                    if slot is None:
                        env[scratch_slots[k]] = arr
                        k += 1
                    elif not reuse:
                        env[slot] = arr.reshape(vshape) if vshape else arr
                if configured is not None:
                    configured(*args)
            self._ops.append(op)
            scratch_of_previous = scratch_slots

    def _host_call(self, step: HostCall) -> None:
        eqn = step.eqn
        name = eqn.primitive.name
        if name == "dot_general":
            self._dot_general(eqn)
        elif name in _CONTROL_FLOW:
            self._control_flow(eqn)
        elif name == "debug_print":
            ins = [self._read(v) for v in eqn.invars]
            params = eqn.params

            def op(env, ins=ins, params=params, avals=[v.aval for v in eqn.invars]):
                vals = [np.asarray(g(env)).reshape(a.shape) for g, a in zip(ins, avals)]
                eqn.primitive.impl(*vals, **params)
            self._ops.append(op)
        else:
            raise NotImplementedError(
                f"jit(device='cuda'): the primitive {name!r} has no CUDA lowering yet "
                f"(linear algebra factorisations and sort run on the CPU backend only); "
                f"compile this function with jit(f) on the CPU")

    def _dot_general(self, eqn) -> None:
        from .matmul import dot_general_kernel
        cuda = runtime.cuda_module()
        lhs, rhs = eqn.invars
        out = eqn.outvars[0]
        dk = dot_general_kernel(lhs.aval.shape, rhs.aval.shape, lhs.aval.dtype, rhs.aval.dtype,
                                out.aval.dtype, eqn.params["dimension_numbers"])
        self.kernels.append(dk)
        kernel = None if dk.empty else load_cuda_kernel(dk.source)[dk.grid, dk.block]
        get_l, get_r = self._read(lhs), self._read(rhs)
        slot = self._slot_of(out)
        size = max(1, math.prod(out.aval.shape))
        zeros = np.zeros(size, out.aval.dtype)
        vshape = out.aval.shape or (1,)

        def op(env):
            if kernel is not None:
                o = cuda.device_array(size, out.aval.dtype)
                kernel(get_l(env), get_r(env), o)
            else:   # nothing to contract: zeros
                o = cuda.to_device(zeros)
            env[slot] = o.reshape(vshape)
        self._ops.append(op)

    def _control_flow(self, eqn) -> None:
        ins = [self._read(v) for v in eqn.invars]
        out_slots = [self._slot_of(v) for v in eqn.outvars]
        p = eqn.params
        name = eqn.primitive.name
        if name == "cond":
            branches = [compile_jaxpr(b) for b in p["branches"]]

            def op(env):
                args = [g(env) for g in ins]
                i = int(np.asarray(args[0])[0])
                i = min(max(i, 0), len(branches) - 1)
                for s, val in zip(out_slots, branches[i].run_device(args[1:])):
                    env[s] = val
        elif name == "while":
            cond_exe, body_exe = compile_jaxpr(p["cond_jaxpr"]), compile_jaxpr(p["body_jaxpr"])
            nc, nb = p["cond_nconsts"], p["body_nconsts"]

            def op(env):
                args = [g(env) for g in ins]
                cc, bc, carry = args[:nc], args[nc:nc + nb], args[nc + nb:]
                while bool(np.asarray(cond_exe.run_device(cc + carry)[0])[0]):
                    carry = body_exe.run_device(bc + carry)
                for s, val in zip(out_slots, carry):
                    env[s] = val
        else:
            body = compile_jaxpr(p["jaxpr"])
            nconst, ncarry, length, reverse = (p["num_consts"], p["num_carry"], p["length"],
                                               p["reverse"])
            cuda = runtime.cuda_module()
            y_avals = p["jaxpr"].out_avals[ncarry:]
            x_avals = [v.aval for v in eqn.invars[nconst + ncarry:]]

            def op(env):
                args = [g(env) for g in ins]
                consts, carry, xs = args[:nconst], args[nconst:nconst + ncarry], \
                    args[nconst + ncarry:]
                ys = [cuda.device_array((length, max(1, math.prod(a.shape))), a.dtype)
                      for a in y_avals]
                for k in range(length):
                    i = length - 1 - k if reverse else k
                    x_i = [x[i:i + 1].reshape(a.shape[1:] or (1,)) for x, a in zip(xs, x_avals)]
                    outs = body.run_device(consts + carry + x_i)
                    carry = outs[:ncarry]
                    for y, o in zip(ys, outs[ncarry:]):
                        y[i].copy_to_device(o.reshape(y.shape[1]))
                shaped = [y.reshape((length,) + a.shape) for y, a in zip(ys, y_avals)]
                for s, val in zip(out_slots, list(carry) + shaped):
                    env[s] = val
        self._ops.append(op)

    # ------------------------------------------------------------------ running

    def run_device(self, args: list) -> list:
        """Run on device values in the internal form (rank-0 as 1-element arrays)."""
        env = dict(self._consts)
        for s, a in zip(self._in_slots, args):
            env[s] = a
        for op in self._ops:
            op(env)
        cuda = runtime.cuda_module()
        outs = []
        for o in self._outs:
            if o[0] == "lit":
                outs.append(cuda.to_device(o[1].reshape(1) if o[1].ndim == 0 else o[1]))
            else:
                outs.append(env[o[1]])
        return outs

    def run_flat(self, *args) -> list:
        if len(args) != len(self._convert):
            raise TypeError(f"expected {len(self._convert)} arguments, got {len(args)}")
        outs = self.run_device([c(a) for c, a in zip(self._convert, args)])
        return [o.reshape(()) if v.aval.ndim == 0 else o
                for o, v in zip(outs, self.jaxpr.outvars)]

    def run_tree(self, *args):
        from ...tree_util import tree_unflatten
        outs = self.run_flat(*args)
        return outs if self.out_tree is None else tree_unflatten(self.out_tree, outs)

    __call__ = run_flat

    def as_text(self) -> str:
        parts = [f"# ---- CUDA program: {len(self.kernels)} kernels ----"]
        for k in self.kernels:
            launch = "" if getattr(k, "empty", False) else f" <<<{k.grid}, {k.block}>>>"
            parts += [f"# ---- kernel: {k.description}{launch} ----", k.source]
        return "\n".join(parts)


def kernel_specs(jaxpr: Jaxpr, launch: Launch) -> list:
    """Every kernel a program would launch (control-flow bodies included), generated without a
    GPU: for compiling them all to PTX where no device exists."""
    from .matmul import dot_general_kernel
    plan = Plan(prepare(jaxpr), copy_views=True, uniform_reductions=True)
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
    per = _executables.get(jaxpr)
    if per is None:
        per = _executables[jaxpr] = {}
    exe = per.get(out_tree)
    if exe is None:
        exe = per[out_tree] = CudaExecutable(jaxpr, prepare(jaxpr), out_tree)
    return exe


__all__ = ["CudaExecutable", "compile_jaxpr", "contiguous", "kernel_specs", "load_cuda_kernel"]
