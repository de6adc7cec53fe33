"""target="cuda": the CUDA backend's program for the function, made standalone.

The backend's preparation, partition, kernel generators and host-program generator
(`HostSource`) run as they do for `jit(f, device="cuda")`, so the exported kernels and host code
are the ones `jit(f, device="cuda").lower(...).as_text()` shows, except for the launch sizes:
the export fixes them at `LAUNCH` (blocks of 256 threads, at most 1024 blocks; the kernels'
grid-stride loops cover any size) instead of sizing them for the GPU at hand. Nothing is compiled
here. One file then holds

* the device functions of device_math (`_dm.floor` becomes `_dm_floor`, with the `math` that
  the kernels use, `_dm_math`: libdevice on the GPU, numpy stand-ins under the simulator) and
  the scalar_math functions the kernels call (`_sm_erf_inv`), copied with what they depend on;
* every kernel: `_k0, _k1, ...`, each `cuda.jit` of a plain function (`_k0_py`), the
  dot_general kernels among them, and `_copy<rank>` kernels that make strided device arguments
  contiguous;
* the constants, as numpy arrays copied to the device on first use (`_dev`);
* `_scan` (a copy of the backend's `scan_on_device`) where a scan needs it, and the bodies of
  `cond` / `while_loop` / `scan` as host functions `_p0, _p1, ...` (taking and returning lists
  of device arrays);
* `debug_print` as the Python target's numpy code, called with the values copied back;
* the host function, under the exported name: it converts its arguments to contiguous device
  arrays (rank 0: 1-element arrays), launches the kernels (`_k3[4, 256](...)`), and returns
  numba device arrays (rank 0: 0-d ones).
"""
from __future__ import annotations

import inspect

import numpy as np

from ..jaxpr import Jaxpr
from ._common import (PY_RESERVED, Namer, check_name, describe, doc_text, module_doc, names_in,
                      npt, param_names, py_array, rename_tokens, single_equation)
from .numba import CACHE_LINE, CUDA_HELPERS, _helper_refs, _helper_source, _join, _merge, _parse
from .python import PyModule, emit_function

#: the launch sizes of the exported kernels: (threads a block, most blocks a launch)
LAUNCH = (256, 1024)
#: names the exported module defines at the top level besides those of PY_RESERVED
RESERVED = PY_RESERVED | {"cuda", "config", "sys", "base64"}
_ATTRS = {"_dm": "_dm_", "_sm": "_sm_"}

_SUPPORT_DEV = '''\
_on_device: dict = {}


def _dev(c):
    """The module constant c on the device: copied there on first use, then kept."""
    d = _on_device.get(id(c))
    if d is None:
        d = _on_device[id(c)] = cuda.to_device(c)
    return d
'''

_SUPPORT_ARGS = '''\
def _args(args):
    """The arguments as the kernels take them: C-contiguous device arrays of the exported
    shapes and dtypes, rank-0 values as 1-element arrays. Device arrays (numba's, or anything
    with __cuda_array_interface__: CuPy, PyTorch) stay where they are (strided ones are copied
    by a kernel); anything else is converted with numpy and copied to the device."""
    out = []
    for i, (x, (shape, dtype, copy)) in enumerate(zip(args, _IN)):
        on_device = cuda.devicearray.is_cuda_ndarray(x)
        if not on_device and hasattr(x, "__cuda_array_interface__"):
            x, on_device = cuda.as_cuda_array(x), True
        if not on_device:
            x = np.asarray(x, dtype)
        elif x.dtype != dtype:
            raise TypeError(f"argument {i}: a device array of dtype {x.dtype} where "
                            f"{np.dtype(dtype)} is expected")
        if tuple(x.shape) != shape and not (shape == () and x.size == 1):
            raise ValueError(f"argument {i}: shape {tuple(x.shape)} where {shape} is expected")
        if not on_device:
            out.append(cuda.to_device(x.reshape(1) if shape == () else np.ascontiguousarray(x)))
        elif shape == ():
            out.append(x.reshape(1))
        elif x.is_c_contiguous():
            out.append(x)
        else:
            o = cuda.device_array(shape, dtype)
            if o.size:
                copy[min(%d, -(-o.size // %d)), %d](x, o)
            out.append(o)
    return out
''' % (LAUNCH[1], LAUNCH[0], LAUNCH[0])

_SUPPORT_ON_HOST = '''\
def _on_host(fn, shapes):
    """fn (numpy code) called with device values copied back in their shapes."""
    return lambda *xs: fn(*[x.copy_to_host().reshape(s) for x, s in zip(xs, shapes)])
'''


class _Sub:
    """A control-flow body exported as a host function."""

    def __init__(self, name: str):
        self.name = name


def _numba_name(dtype) -> str:
    dtype = np.dtype(dtype)
    return "boolean" if dtype.kind == "b" else dtype.name


def _array_type(dtype, ndim: int, contiguous: bool) -> str:
    dims = [":"] * (max(ndim, 1) - 1) + ["::1" if contiguous else ":"]
    return f"{_numba_name(dtype)}[{', '.join(dims)}]"


class _Module:
    """The exported module being assembled."""

    def __init__(self, name: str):
        from ..backends.numba_cuda.codegen import Launch
        self.launch = Launch(*LAUNCH)
        self.pymod = PyModule(taken=[name, "_args", "_IN", "_dev", "_on_device", "_scan",
                                     "_on_host", "_CACHE"])
        self.counts: dict = {}
        self.helpers: dict = {}            # {prefix: names} the kernels call
        self.kernel_of: dict = {}          # kernel source -> its name
        self.kernels: list[str] = []       # kernel definitions
        self.signatures: list = []         # (kernel name, numba signature)
        self.consts: list[str] = []
        self.subs: list[str] = []          # host functions of control-flow bodies
        self.sub_of: dict = {}             # id(jaxpr) -> (_Sub, jaxpr)
        self.printers: list[str] = []
        self.uses_scan = False
        self.uses_dev = False

    def new(self, base: str) -> str:
        n = self.counts.get(base, 0)
        while f"{base}{n}" in self.pymod.globals:
            n += 1
        self.counts[base] = n + 1
        self.pymod.globals.add(f"{base}{n}")
        return f"{base}{n}"

    # ------------------------------------------------------------------ pieces

    def kernel(self, source: str, description: str, signature: str | None, base="_k") -> str:
        """The name of the kernel source defines (added once per distinct source)."""
        name = self.kernel_of.get(source)
        if name is not None:
            self._signature(name, signature)
            return name
        name = self.kernel_of[source] = self.new(base) if base == "_k" else base
        self.pymod.globals.add(name)
        parsed = _parse(source)
        mapping = {n: f"{name}_{n}" for n in parsed.top}
        mapping.update(kernel_py=f"{name}_py", kernel=name, math="_dm_math")
        used = set().union(*(st.used for st in parsed.stmts))
        refs = _helper_refs(source, CUDA_HELPERS)
        if "math" in used:
            refs.setdefault("_dm", set()).add("math")
        _merge(self.helpers, refs)
        body = _join([rename_tokens(st.src, mapping, _ATTRS) for st in parsed.stmts])
        self.kernels.append(f"# {name}: {description}\n{body}")
        self._signature(name, signature)
        return name

    def _signature(self, name: str, signature: str | None) -> None:
        if signature is not None and (name, signature) not in self.signatures:
            self.signatures.append((name, signature))

    def const(self, value) -> str:
        name = self.new("_c")
        value = np.asarray(value)
        self.consts.append(f"{name} = {py_array(value.reshape(1) if value.ndim == 0 else value)}")
        return name

    def debug_print(self, eqn) -> str:
        name = self.new("_print")
        np_name = name + "_np"
        self.pymod.globals.add(np_name)
        sub = single_equation(eqn)
        namer = Namer()
        params = [namer.fresh() for _ in sub.invars]
        emit_function(self.pymod, np_name, sub, params, entry=True, copy_views=True)
        shapes = tuple(tuple(v.aval.shape) for v in eqn.invars)
        self.printers.append(f"{name} = _on_host({np_name}, {shapes!r})")
        return name

    def sub(self, jaxpr: Jaxpr) -> _Sub:
        """compile_sub of HostSource: a control-flow body as a host function."""
        hit = self.sub_of.get(id(jaxpr))
        if hit is not None:
            return hit[0]
        sub = _Sub(self.new("_p"))
        self.sub_of[id(jaxpr)] = (sub, jaxpr)
        host = self.host(jaxpr)
        body, params = self.body(host)
        head = [f"def {sub.name}(args):"]
        if params:
            head.append(f"    {', '.join(params)}, = args")
        self.subs.append("\n".join(head) + "\n" + "".join(
            f"    {ln}\n" for ln in body + [f"return [{', '.join(host.outputs)}]"]))
        return sub

    # ------------------------------------------------------------------ host programs

    def host(self, jaxpr: Jaxpr):
        from ..backends.numba_cpu.partition import Plan
        from ..backends.numba_cuda.compiler import HostSource, prepare_cuda
        plan = Plan(prepare_cuda(jaxpr), copy_views=True, uniform_reductions=True)
        try:
            return HostSource(plan, self.launch, self.sub)
        except NotImplementedError as e:
            raise NotImplementedError(f"export(target='cuda'): {e}") from e

    def body(self, host) -> tuple[list[str], list[str]]:
        """The host program's lines with its names bound to the module's (kernels launched,
        constants, bodies, printers); and its parameters."""
        from ..backends.numba_cpu.partition import HostCall
        from ..backends.numba_cuda.codegen import CudaKernelSpec
        jaxpr = host.plan.jaxpr
        mapping = {}
        for i, (v, c) in enumerate(zip(jaxpr.constvars, jaxpr.consts)):
            mapping[f"c{i}"] = f"_dev({self.const(c)})"
            self.uses_dev = True
        calls = [s.eqn for s in host.plan.steps if type(s) is HostCall]
        dots = iter([e for e in calls if e.primitive.name == "dot_general"])
        prints = [e for e in calls if e.primitive.name == "debug_print"]
        subs = [v for v in host.env.values() if isinstance(v, _Sub)]
        assert len(subs) == len(host.subprograms)
        prints = iter(prints)
        dot_eqn = {}
        for i, k in enumerate(host.kernels):
            if not isinstance(k, CudaKernelSpec):
                dot_eqn[i] = next(dots)
        for key, value in host.env.items():
            if key in ("np", "_scan"):
                continue
            if type(value) is tuple:      # (source, grid, block): a kernel launch
                source, grid, block = value
                i = int(key[1:])
                spec = host.kernels[i]
                if isinstance(spec, CudaKernelSpec):
                    sig = spec.signature()
                else:
                    lhs, rhs = dot_eqn[i].invars
                    sig = (f"void({_array_type(lhs.aval.dtype, lhs.aval.ndim, False)}, "
                           f"{_array_type(rhs.aval.dtype, rhs.aval.ndim, False)}, "
                           f"{_array_type(spec.out_dtype, 1, True)})")
                mapping[key] = f"{self.kernel(source, spec.description, sig)}[{grid}, {block}]"
            elif isinstance(value, _Sub):
                mapping[key] = value.name
            elif isinstance(value, np.ndarray):
                mapping[key] = self.const(value)
                if key in host.device_consts:
                    mapping[key] = f"_dev({mapping[key]})"
                    self.uses_dev = True
            elif callable(value) and key.startswith("dbg"):
                mapping[key] = self.debug_print(next(prints))
            else:
                raise NotImplementedError(f"export(target='cuda'): the host program refers to "
                                          f"{key!r} ({type(value).__name__}), which has no "
                                          f"standalone form")
        lines = host.body_lines()
        text = rename_tokens("\n".join(lines) + "\n", mapping) if lines else ""
        if "_scan" in names_in(text):
            self.uses_scan = True
        return text.splitlines(), list(host.params)


def export_cuda(jaxpr: Jaxpr, sig, name: str):
    """(module source, parameter names, [(kernel name, numba signature)]) of the exported CUDA
    program."""
    from ..backends.numba_cuda.codegen import copy_kernel_source
    from ..backends.numba_cuda.compiler import scan_on_device
    check_name(name, RESERVED)
    mod = _Module(name)
    host = mod.host(jaxpr)
    lines, params = mod.body(host)
    avals = host.plan.jaxpr.in_avals
    outs = [x if v.aval.ndim else f"{x}.reshape(())"
            for v, x in zip(host.plan.jaxpr.outvars, host.outputs)]

    # ---- the host function
    ret = f"return {outs[0]}" if len(outs) == 1 else \
        f"return ({''.join(o + ', ' for o in outs)})"
    body = ([f"{', '.join(params)}, = _args(({', '.join(params)},))"] if params else []) + \
        lines + [ret]
    src = "\n".join(body) + "\n"
    nice = param_names(sig.arg_names)
    if len(set(nice)) == len(nice) and not (set(nice) & (names_in(src) | mod.pymod.globals)):
        src = rename_tokens(src, dict(zip(params, nice)))
        params = nice
    doc = describe(sig, params, "cuda", name,
                   "Takes numpy arrays or device arrays (numba's, or any with\n"
                   "__cuda_array_interface__; rank-0 values may be Python or numpy scalars) and\n"
                   "returns numba device arrays (0-d ones for rank 0; `.copy_to_host()` or\n"
                   "`np.asarray` copies them back); several results come back as a tuple.")
    text = '    """' + "\n".join(("    " + ln) if ln else "" for ln in
                                 doc_text(doc).split("\n")).lstrip() + '\n    """\n'
    host_fn = f"def {name}({', '.join(params)}):\n" + text + "".join(
        "    " + ln + "\n" if ln else "\n" for ln in src.splitlines())

    # ---- argument conversion
    support = []
    copies = {}
    for a in avals:
        if a.ndim and a.ndim not in copies:
            copies[a.ndim] = mod.kernel(copy_kernel_source(a.ndim),
                                        f"copy a strided rank-{a.ndim} device argument",
                                        None, base=f"_copy{a.ndim}")
        if a.ndim:
            mod._signature(copies[a.ndim], f"void({_array_type(a.dtype, a.ndim, False)}, "
                                           f"{_array_type(a.dtype, a.ndim, True)})")
    if avals:
        entries = ", ".join(f"({tuple(a.shape)!r}, {npt(a.dtype)}, "
                            f"{copies[a.ndim] if a.ndim else None})" for a in avals)
        support.append(f"#: (shape, dtype, copy kernel) of each argument\n_IN = [{entries}]\n\n\n"
                       + _SUPPORT_ARGS)
    if mod.uses_dev:
        support.append(_SUPPORT_DEV)
    if mod.uses_scan:
        scan = inspect.getsource(scan_on_device).replace("def scan_on_device(", "def _scan(")
        support.append("# the backend's scan_on_device\n" + scan)
    if mod.printers:
        support.append(_SUPPORT_ON_HOST)

    helper_src, helper_imports = _helper_source(mod.helpers)
    parts = []
    if helper_src:
        parts.append(helper_src.rstrip("\n"))
    parts += [k.rstrip("\n") for k in mod.kernels]
    if mod.consts or mod.pymod.consts:
        parts.append("\n".join(mod.consts + mod.pymod.consts))
    parts += [s.rstrip("\n") for s in support]
    parts += [s.rstrip("\n") for s in mod.pymod.helpers.values()]
    parts += [s.rstrip("\n") for s in mod.pymod.functions]
    if mod.printers:
        parts.append("\n".join(mod.printers))
    parts += [s.rstrip("\n") for s in mod.subs]
    parts += [host_fn.rstrip("\n"), f"__all__ = {[name]!r}"]
    code = "\n\n\n".join(parts)
    used = names_in(code)
    if "_CACHE" in used:
        used |= names_in(CACHE_LINE)

    # ---- imports and the module docstring
    candidates = {"base64": "import base64", "math": "import math", "os": "import os",
                  "sys": "import sys", "np": "import numpy as np", "numba": "import numba",
                  "cuda": "from numba import cuda"}
    candidates.update(helper_imports)
    wanted = sorted({line for n, line in candidates.items() if n in used} |
                    set(mod.pymod.imports) | {"import numpy as np", "from numba import cuda"})
    std = [ln for ln in wanted if ln.split()[1].split(".")[0] in ("base64", "math", "os", "sys",
                                                                 "types")]
    rest = sorted((ln for ln in wanted if ln not in std),
                  key=lambda ln: (ln.startswith("from"), ln))
    imports = std + ([""] if std else []) + rest
    launch_note = (f"Kernels are launched with fixed sizes: blocks of {LAUNCH[0]} threads, at "
                   f"most {LAUNCH[1]} blocks\n(grid-stride loops cover any size; the "
                   "dot_general kernels carry their own sizes). They compile\nat their first "
                   "launch. Needs numba-cuda and a GPU, or numba's CUDA simulator\n"
                   "(NUMBA_ENABLE_CUDASIM=1 set before numba is imported).")
    head = (f'"""{doc_text(module_doc(name, "cuda"))}\n\n{launch_note}\n"""\n'
            "from __future__ import annotations\n\n"
            "# Generated by numbax.export (target \"cuda\"): numba-cuda + numpy, no numbax "
            "import.\n" + "\n".join(imports))
    if "_CACHE" in used:
        head += "\n\n" + CACHE_LINE
    source = head + "\n\n\n" + code + "\n"
    return source, params, list(mod.signatures)


SUPPORTED = None  # filled below: what jit(device="cuda") compiles


def _supported() -> frozenset:
    from ..backends.numba_cpu.partition import LOOP_KERNELS, REDUCTIONS, VIEWS
    from ..backends.numba_cuda.scalar_ops import RULES as ELEMENTWISE
    from .python import SUPPORTED as PY
    host = {"dot_general", "cond", "while", "scan", "debug_print"}
    return frozenset(n for n in set(ELEMENTWISE) | REDUCTIONS | VIEWS | LOOP_KERNELS | host
                     if n in PY or n in ELEMENTWISE)


SUPPORTED = _supported()
