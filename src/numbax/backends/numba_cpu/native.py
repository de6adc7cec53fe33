"""Control flow as native code: a `cond`, `while` or `scan` equation becomes one numba function
whose `if`/`while`/`for` statements run the branch and body programs inline.

The body programs are generated like the host program (host.py) -- fused loop kernels called in
plan order, BLAS products through `np.dot`, reshapes as views -- but as nopython source, so a
loop iterates without returning to Python. Kernels are copied into the same module, where LLVM
can inline them into the loop; nested control flow nests the statements. Every value is a
C-contiguous array or a scalar, so numba types each variable once across iterations.

A body using something with no nopython form (a LAPACK call, sort, an integer matmul) raises
`Unsupported`; the host program then runs the equation's implementation, a Python loop over
the compiled body (`host.run_compiled`).
"""
from __future__ import annotations

import functools
import hashlib

import numpy as np

from ... import config as _config
from ...jaxpr import Jaxpr, Literal
from .blas import DotLayout
from .codegen import HEADER, HELPER_IMPORTS, Segment, append_nest
from .partition import HostCall, Plan
from .scalar_ops import literal, numba_type

_FLAGS = 'cache=True, error_model="numpy", boundscheck=False, nogil=True'


#: debug printers that generated modules look up by key (see `_Emitter._print`)
PRINTERS: dict = {}


def _print_unwrapped(ranks, impl, params, *args):
    impl(*[a if r else a[0] for a, r in zip(args, ranks)], **params)


class Unsupported(Exception):
    """The equation has no native lowering (yet); the caller loops in Python instead."""


class NativeModule:
    """The source of one generated module: kernel functions and the function `run`."""

    def __init__(self):
        self.functions: list[str] = []
        self._kernels: dict[str, str] = {}   # kernel text -> its name in the module
        self.params: list[str] = []
        self.param_types: list[str] = []
        self.lines: list[str] = []
        self.globals: list[str] = []
        self._n = 0

    def fresh(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def param(self, aval, prefix="a") -> str:
        name = self.fresh(prefix)
        self.params.append(name)
        t = numba_type(aval.dtype, "control-flow operand")
        self.param_types.append(f"Array({t}, {aval.ndim}, 'C', readonly=True)" if aval.ndim
                                else t)
        return name

    def kernel(self, source: str) -> str:
        """The module-level name of a kernel (kernels with equal source are shared)."""
        text = source[source.index("@numba.njit"):]
        name = self._kernels.get(text)
        if name is None:
            name = self._kernels[text] = f"k{len(self._kernels)}"
            self.functions.append(text.replace("def kernel(", f"def {name}(", 1))
        return name

    def printer(self, key: str) -> str:
        """A module global bound to the printer registered under key (object-mode code looks
        it up when it runs; the key is in the source, so equal sources print alike)."""
        name = f"_p{len(self.globals)}"
        self.globals.append(f'{name} = _native.PRINTERS["{key}"]')
        return name

    def source(self) -> str:
        head = [HEADER + "".join(HELPER_IMPORTS.values())]
        if self.globals:
            head += ["from numbax.backends.numba_cpu import native as _native"] + self.globals
        sig = f'"({", ".join(self.param_types)},)"' if self.param_types else '"()"'
        # object-mode blocks (prints) hold the GIL; numba warns if nogil says otherwise
        flags = _FLAGS.replace("nogil=True", "nogil=False") if self.globals else _FLAGS
        run = [f"@numba.njit({sig}, {flags})", f"def run({', '.join(self.params)}):"]
        return "\n".join(head + self.functions + run + self.lines) + "\n"


def lower_equation(eqn) -> tuple[str, list]:
    """(module source, concrete constants to pass after the equation's operands) for a
    control-flow equation; raises Unsupported when some part has no native form."""
    mod = NativeModule()
    consts: list = []
    ins = [mod.param(v.aval) for v in eqn.invars]
    body = _Emitter(mod, consts, 1)
    outs = body.equation(eqn, ins)
    mod.lines += body.lines
    mod.lines.append(f"    return ({''.join(o + ', ' for o in outs)})")
    return mod.source(), consts


class _Emitter:
    """Emits nopython statements for jaxprs and control-flow equations at one indentation."""

    def __init__(self, mod: NativeModule, consts: list, depth: int):
        self.mod, self.consts, self.depth = mod, consts, depth
        self.lines: list[str] = []

    def emit(self, line: str):
        self.lines.append("    " * self.depth + line)

    def nested(self) -> "_Emitter":
        return _Emitter(self.mod, self.consts, self.depth + 1)

    def absorb(self, inner: "_Emitter"):
        self.lines += inner.lines

    # ------------------------------------------------------------------ programs

    def program(self, jaxpr: Jaxpr, in_names: list[str]) -> list[str]:
        """Statements computing jaxpr from values named in_names; returns the output names."""
        from .compiler import prepare
        jaxpr = prepare(jaxpr)
        plan = Plan(jaxpr, copy_views=True)
        names: dict = dict(zip(jaxpr.invars, in_names))
        for v, c in zip(jaxpr.constvars, jaxpr.consts):
            names[v] = self._const(v.aval, c)

        def value(v) -> str:
            if type(v) is Literal:
                return literal(v.val, v.aval.dtype)
            return names[plan.aliases.get(v, v)]

        self._views(plan, -1, names, value)
        for step in plan.steps:
            if type(step) is HostCall:
                self._host_step(step.eqn, names, value)
            else:
                self._kernel_step(plan, step, names, value)
            self._views(plan, step.index, names, value)
        return [value(v) for v in jaxpr.outvars]

    def _const(self, aval, value) -> str:
        """Closed-over arrays become parameters of `run` (the host passes them)."""
        self.consts.append(np.ascontiguousarray(value) if aval.ndim else
                           np.asarray(value, aval.dtype)[()])
        return self.mod.param(aval, "c")

    def _views(self, plan: Plan, index: int, names: dict, value):
        for eqn in plan.views_after.get(index, ()):
            out = eqn.outvars[0]
            name = names[out] = self.mod.fresh("v")
            src = value(eqn.invars[0])
            shape = out.aval.shape
            if not eqn.invars[0].aval.ndim:   # a scalar local, not an array
                src = f"np.array([{src}])"
            self.emit(f"{name} = {src}.reshape({shape})" if shape else f"{name} = {src}.ravel()[0]")

    def _kernel_step(self, plan: Plan, step, names: dict, value):
        seg = Segment(plan)
        append_nest(seg, step)
        spec = seg.spec()
        kname = self.mod.kernel(spec.source)
        outs = []
        for v, shape, dtype in spec.outputs:
            o = self.mod.fresh("o")
            outs.append(o)
            self.emit(f"{o} = np.empty({tuple(shape)}, np.{np.dtype(dtype).name})")
            if v is not None:
                names[v] = o
        args = [str(n) for n in spec.extents] + [value(v) for v in spec.inputs] + outs
        call = f"{kname}({', '.join(args)})"
        if not spec.returns:
            self.emit(call)
            return
        rets = [self.mod.fresh("r") for _ in spec.returns]
        self.emit(f"{', '.join(rets)} = {call}")
        names.update(zip(spec.returns, rets))

    def _host_step(self, eqn, names: dict, value):
        name = eqn.primitive.name
        ins = [value(v) for v in eqn.invars]
        if name == "dot_general":
            outs = [self._dot(eqn, ins)]
        elif name in _CONTROL:
            outs = self.equation(eqn, ins)
        elif name == "debug_print":
            outs = []
            self._print(eqn, ins)
        elif name in ("cholesky", "triangular_solve"):
            outs = [self._linalg(eqn, ins)]
        else:
            raise Unsupported(f"{name} inside a control-flow body")
        names.update(zip(eqn.outvars, outs))

    def _print(self, eqn, ins: list[str]):
        """Call the primitive's implementation in object mode, with scalars wrapped in
        1-element arrays so they keep their dtype on the way out of nopython code."""
        ranks = tuple(v.aval.ndim for v in eqn.invars)
        key = hashlib.sha256(repr((sorted(eqn.params.items()), ranks)).encode()).hexdigest()
        PRINTERS[key] = functools.partial(_print_unwrapped, ranks, eqn.primitive.impl,
                                          eqn.params)
        fn = self.mod.printer(key)
        args = [x if r else f"np.array([{x}])" for x, r in zip(ins, ranks)]
        self.emit("with numba.objmode():")
        self.emit(f"    {fn}({', '.join(args)})")

    # ------------------------------------------------------------------ BLAS

    def _dot(self, eqn, ins) -> str:
        (la, ra), out = [v.aval for v in eqn.invars], eqn.outvars[0].aval
        pet = eqn.params.get("preferred_element_type")
        if la.dtype != ra.dtype or la.dtype.kind != "f" or not la.ndim or not ra.ndim or \
                (pet is not None and np.dtype(pet) != out.dtype):
            raise Unsupported(f"dot_general of {la.str_short()} and {ra.str_short()} in a loop")
        lay = DotLayout(eqn)
        left, right = _arrange(ins[0], la.shape, *lay.left), _arrange(ins[1], ra.shape, *lay.right)
        r = self.mod.fresh("d")
        if lay.batched:
            b = self.mod.fresh("b")
            self.emit(f"{r} = np.empty({lay.natural}, np.{out.dtype.name})")
            self.emit(f"for {b} in range({lay.B}):")
            inner = self.nested()
            inner.store(f"{r}[{b}]", f"np.dot({left}[{b}], {right}[{b}])", (lay.M, lay.N))
            self.absorb(inner)
        else:
            self.emit(f"{r} = np.dot({left}, {right})")
        if lay.natural != out.shape:
            self.emit(f"{r} = {r}.reshape({out.shape})")
        return r

    def _linalg(self, eqn, ins) -> str:
        """cholesky / triangular_solve through linalg_loops, one call per matrix of the batch."""
        out = eqn.outvars[0].aval
        batch = out.shape[:-2]
        B = int(np.prod(batch, dtype=np.int64))
        mats = []
        for v, x in zip(eqn.invars, ins):
            m = self.mod.fresh("m")
            self.emit(f"{m} = np.ascontiguousarray({x}).reshape(({B},) + {v.aval.shape[-2:]})")
            mats.append(m)
        if eqn.primitive.name == "cholesky":
            call = "_la.cholesky({0}[{1}])"
        else:
            p = eqn.params
            call = (f"_la.triangular_solve({{0}}[{{1}}], {{2}}[{{1}}], {p['left_side']}, "
                    f"{p['lower']}, {p['transpose_a']}, {p['unit_diagonal']})")
        r, b = self.mod.fresh("d"), self.mod.fresh("b")
        self.emit(f"{r} = np.empty({(B,) + out.shape[-2:]}, np.{out.dtype.name})")
        self.emit(f"for {b} in range({B}):")
        inner = self.nested()
        inner.store(f"{r}[{b}]", call.format(mats[0], b, *mats[1:]), out.shape[-2:])
        self.absorb(inner)
        if batch != (B,):
            self.emit(f"{r} = {r}.reshape({out.shape})")
        return r

    def store(self, target: str, value: str, shape: tuple):
        """target[...] = value, as explicit loops: numba compiles an array-valued setitem
        through its general broadcasting code, measured at 1.5 s against 0.06 s for loops."""
        if not shape:
            self.emit(f"{target} = {value}")
            return
        dst, src = self.mod.fresh("t"), self.mod.fresh("s")
        self.emit(f"{dst} = {target}")
        self.emit(f"{src} = {value}")
        idx = [self.mod.fresh("j") for _ in shape]
        for depth, (j, n) in enumerate(zip(idx, shape)):
            self.emit("    " * depth + f"for {j} in range({n}):")
        self.emit("    " * len(shape) + f"{dst}[{', '.join(idx)}] = {src}[{', '.join(idx)}]")

    # ------------------------------------------------------------------ control flow

    def equation(self, eqn, ins: list[str]) -> list[str]:
        return _CONTROL[eqn.primitive.name](self, eqn.params, ins)

    def _assign(self, names: list[str], values: list[str]):
        if names:
            self.emit(f"{', '.join(names)}, = {''.join(v + ', ' for v in values)}")

    def cond(self, p: dict, ins: list[str]) -> list[str]:
        branches = p["branches"]
        index, ops = ins[0], ins[1:]
        outs = [self.mod.fresh("o") for _ in branches[0].outvars]
        which = self.mod.fresh("w")
        self.emit(f"{which} = min(max({index}, 0), {len(branches) - 1})")
        for i, branch in enumerate(branches):
            head = "if" if i == 0 else "elif" if i < len(branches) - 1 else "else"
            self.emit(f"{head} {which} == {i}:" if head != "else" else "else:")
            inner = self.nested()
            inner._assign(outs, inner.program(branch, ops))
            if not inner.lines:
                inner.emit("pass")
            self.absorb(inner)
        return outs

    def while_(self, p: dict, ins: list[str]) -> list[str]:
        nc, nb = p["cond_nconsts"], p["body_nconsts"]
        cc, bc, init = ins[:nc], ins[nc:nc + nb], ins[nc + nb:]
        carry = [self.mod.fresh("c") for _ in init]
        self._assign(carry, init)
        self.emit("while True:")
        inner = self.nested()
        (pred,) = inner.program(p["cond_jaxpr"], cc + carry)
        inner.emit(f"if not {pred}:")
        inner.emit("    break")
        inner._assign(carry, inner.program(p["body_jaxpr"], bc + carry))
        self.absorb(inner)
        return carry

    def scan(self, p: dict, ins: list[str]) -> list[str]:
        jaxpr, nconst, ncarry = p["jaxpr"], p["num_consts"], p["num_carry"]
        length, reverse = p["length"], p["reverse"]
        consts, init, xs = ins[:nconst], ins[nconst:nconst + ncarry], ins[nconst + ncarry:]
        carry = [self.mod.fresh("c") for _ in init]
        self._assign(carry, init)
        ys = []
        for a in jaxpr.out_avals[ncarry:]:
            ys.append(self.mod.fresh("ys"))
            self.emit(f"{ys[-1]} = np.empty({(length,) + a.shape}, np.{a.dtype.name})")
        k, i = self.mod.fresh("step"), self.mod.fresh("i")
        self.emit(f"for {k} in range({length}):")
        inner = self.nested()
        inner.emit(f"{i} = {length - 1} - {k}" if reverse else f"{i} = {k}")
        x_names = []
        for x in xs:
            x_names.append(self.mod.fresh("x"))
            inner.emit(f"{x_names[-1]} = {x}[{i}]")
        outs = inner.program(jaxpr, consts + carry + x_names)
        for y, o, a in zip(ys, outs[ncarry:], jaxpr.out_avals[ncarry:]):
            inner.store(f"{y}[{i}]", o, a.shape)
        inner._assign(carry, outs[:ncarry])
        self.absorb(inner)
        return carry + ys


def _arrange(name: str, shape: tuple, order: list, target: tuple) -> str:
    """An operand as the matrix (or batch of matrices) np.dot wants, as a view where it can."""
    if list(order) == list(range(len(shape))):
        return name if tuple(shape) == tuple(target) else f"{name}.reshape({target})"
    if len(shape) == 2 and tuple(target) == (shape[1], shape[0]):
        return f"{name}.T"
    return f"np.ascontiguousarray({name}.transpose({tuple(order)})).reshape({target})"


_CONTROL = {"cond": _Emitter.cond, "while": _Emitter.while_, "scan": _Emitter.scan}
CONTROL_FLOW = frozenset(_CONTROL)


def log_fallback(eqn, reason: str):
    _config.log("jit: %s loops in Python over its compiled body (%s)", eqn.primitive.name, reason)


__all__ = ["CONTROL_FLOW", "NativeModule", "PRINTERS", "Unsupported", "lower_equation"]
