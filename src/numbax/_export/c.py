"""target="c": the optimised jaxpr as one C99 function over fixed shapes, plus a header.

Every array is a C-contiguous buffer: arguments are `const T *` (rank 0 included: a pointer to
one value), results are written through `T *out<k>` pointers. Each equation becomes a loop nest
(elementwise ops one loop each, index maps and reductions a nest over the result's indices,
dot_general an accumulation loop), rank-0 values are C locals, and `cond` / `while` / `scan`
become `if` / `for (;;)` / `for` statements around their (inlined) programs. Intermediate arrays
live in one workspace: on the stack when small, else one `malloc` per call. Only libm (and the C
library's malloc/memcpy) is used.

Semantics follow the primitives: NaN-propagating max/min (numpy's), integer arithmetic that
wraps, C-style integer division with x / 0 = x, lgamma(-inf) = -inf (scipy's), round half away
from zero for lax.round. Reductions sum in index order (numpy sums pairwise), so float results
can differ from jit's in the last bits.
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from ..core import ShapedArray
from ..jaxpr import Jaxpr, Literal
from ._common import C_RESERVED, aval_text, check_name, describe, param_names
from .python import prepare

C_TYPES = {np.dtype(np.float64): "double", np.dtype(np.float32): "float",
           np.dtype(np.int8): "int8_t", np.dtype(np.int16): "int16_t",
           np.dtype(np.int32): "int32_t", np.dtype(np.int64): "int64_t",
           np.dtype(np.uint8): "uint8_t", np.dtype(np.uint16): "uint16_t",
           np.dtype(np.uint32): "uint32_t", np.dtype(np.uint64): "uint64_t",
           np.dtype(np.bool_): "bool"}
_STACK_LIMIT = 1 << 16   # workspaces up to this many bytes live on the stack


def ctype(dtype) -> str:
    try:
        return C_TYPES[np.dtype(dtype)]
    except KeyError:
        raise NotImplementedError(f"export(target='c'): the dtype {np.dtype(dtype).name} has no "
                                  "C translation (float64, float32, integers and bool do)") \
            from None


def _short(dtype) -> str:
    """A suffix naming the C type in helper names (f64, f32, i32, u8, b)."""
    d = np.dtype(dtype)
    return "b" if d.kind == "b" else f"{d.kind}{d.itemsize * 8}"


def _wide_unsigned(dtype) -> str:
    """The unsigned type integer arithmetic of dtype wraps in (no promotion to int)."""
    return "uint64_t" if np.dtype(dtype).itemsize == 8 else "uint32_t"


def c_literal(value, dtype) -> str:
    """A C constant of the given dtype (an atom: parenthesised when negative)."""
    dtype = np.dtype(dtype)
    v = np.asarray(value).astype(dtype)[()]
    if dtype.kind == "b":
        return "true" if v else "false"
    if dtype.kind == "f":
        f = float(v)
        if np.isnan(f):
            text = "NAN"
        elif np.isinf(f):
            text = "INFINITY" if f > 0 else "(-INFINITY)"
        else:
            text = repr(f)
            if "e" not in text and "." not in text:
                text += ".0"
            if dtype == np.float32:
                text += "f"
            if f < 0 or text.startswith("-"):
                text = f"({text})"
        return text
    i = int(v)
    if dtype == np.int64:
        text = "(-9223372036854775807LL - 1)" if i == -2**63 else f"{i}LL"
    elif dtype == np.uint64:
        text = f"{i}ULL"
    elif dtype.kind == "u":
        text = f"{i}U"
    else:
        text = str(i)
    if dtype not in (np.dtype(np.int64), np.dtype(np.uint64), np.dtype(np.int32),
                     np.dtype(np.uint32)):
        text = f"(({ctype(dtype)}){text})"
    return f"({text})" if i < 0 and not text.startswith("(") else text


class CVal:
    """A value in the generated C: an array (a pointer expression to C-contiguous data, with
    the name of the buffer it lives in) or a scalar (an expression)."""
    __slots__ = ("expr", "aval", "base", "value")

    def __init__(self, expr: str, aval, base: str | None = None, value=None):
        self.expr, self.aval, self.base = expr, aval, base
        self.value = value   # the Python value of a literal

    @property
    def is_array(self) -> bool:
        return bool(self.aval.ndim)

    def at(self, index: str) -> str:
        return f"{self.expr}[{index}]" if self.aval.ndim else self.expr


class Block:
    """Statements at one indentation depth."""

    def __init__(self, depth: int = 1):
        self.depth = depth
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def open(self, head: str) -> None:
        self.line(head + " {" if head else "{")
        self.depth += 1

    def close(self, tail: str = "") -> None:
        self.depth -= 1
        self.line("}" + tail)


class CProgram:
    """The translation unit being generated: helpers, constants, the workspace."""

    def __init__(self):
        self.helpers: dict[str, str] = {}
        self.consts: list[str] = []
        self.buffers: list[tuple[str, str, int]] = []   # (name, C type, elements)
        self.dests: dict = {}     # var -> output pointer it may be computed into
        self._n = 0

    def fresh(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def helper(self, name: str, source: str) -> str:
        if name not in self.helpers:
            self.helpers[name] = source
        return name

    def alloc(self, var_or_aval) -> CVal:
        """A fresh buffer for an array value (the output pointer, for a program result)."""
        aval = getattr(var_or_aval, "aval", var_or_aval)
        dest = self.dests.pop(var_or_aval, None) if var_or_aval is not aval else None
        if dest is not None:
            return CVal(dest, aval, dest)
        name = self.fresh("b")
        self.buffers.append((name, ctype(aval.dtype), int(np.prod(aval.shape, dtype=np.int64))))
        return CVal(name, aval, name)

    def const(self, value, aval) -> CVal:
        if not aval.ndim:
            return CVal(c_literal(np.asarray(value)[()], aval.dtype), aval)
        a = np.ascontiguousarray(np.asarray(value, aval.dtype))
        name = self.fresh("k")
        if a.size == 0:
            self.consts.append(f"static const {ctype(a.dtype)} *const {name} = 0;")
        else:
            items = [c_literal(x, a.dtype) for x in a.ravel().tolist()]
            rows = [", ".join(items[i:i + 8]) for i in range(0, len(items), 8)]
            body = ",\n    ".join(rows)
            self.consts.append(f"static const {ctype(a.dtype)} {name}[{a.size}] = {{\n    "
                               f"{body}\n}};")
        return CVal(name, aval, name)


# --------------------------------------------------------------------------- indexing

def _strides(shape) -> list[int]:
    out, s = [], 1
    for d in reversed(shape):
        out.append(s)
        s *= d
    return out[::-1]


def flat(idx, shape) -> str:
    """The C-order flat offset of the index expressions idx into shape."""
    terms = []
    for i, n, s in zip(idx, shape, _strides(shape)):
        if n == 1:
            continue
        terms.append(i if s == 1 else f"{_paren(i)} * {s}")
    return " + ".join(terms) or "0"


def _plus(a, b) -> str:
    """a + b as source, dropping a zero term."""
    a, b = str(a), str(b)
    return b if a == "0" else a if b == "0" else f"{a} + {b}"


def _paren(e: str) -> str:
    return e if e.replace("_", "").isalnum() else f"({e})"


def open_loop(b: Block, name: str, n: int) -> str:
    """Open `for (name = 0; name < n; ...)` and return the index expression; an extent of 1
    opens no loop (the index is 0). Close with close_loop(b, n)."""
    if n == 1:
        return "0"
    b.open(f"for (int64_t {name} = 0; {name} < {n}; ++{name})")
    return name


def close_loop(b: Block, n: int) -> None:
    if n != 1:
        b.close()


def nest(b: Block, shape, body, names=None) -> None:
    """A loop nest over shape; body(index expressions) returns the innermost statements."""
    names = names or [f"i{d}" for d in range(len(shape))]
    idx = [open_loop(b, i, n) for i, n in zip(names, shape)]
    for ln in body(idx):
        b.line(ln)
    for n in reversed(shape):
        close_loop(b, n)


# --------------------------------------------------------------------------- scalar math

_MATH = {"exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "sin": "sin",
         "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan",
         "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "asinh", "acosh": "acosh",
         "atanh": "atanh", "sqrt": "sqrt", "cbrt": "cbrt", "erf": "erf", "erfc": "erfc",
         "floor": "floor", "ceil": "ceil"}
_BINARY_MATH = {"pow": "pow", "atan2": "atan2", "nextafter": "nextafter"}
_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_UNSUPPORTED_SPECIAL = frozenset(["erf_inv", "digamma", "polygamma", "igamma", "igammac",
                                  "betainc", "ndtri"])


def _fn(name: str, dtype) -> str:
    return name + ("f" if np.dtype(dtype) == np.float32 else "")


def _one(dtype) -> str:
    return c_literal(1, dtype)


class Scalar:
    """C expressions for elementwise primitives on scalar operands (atoms)."""

    def __init__(self, prog: CProgram):
        self.prog = prog

    def expr(self, e, a: list[str]) -> str:
        name = e.primitive.name
        out = e.outvars[0].aval.dtype
        ins = [v.aval.dtype for v in e.invars]
        t = ctype(out)
        if name in ("add", "sub", "mul"):
            op = {"add": "+", "sub": "-", "mul": "*"}[name]
            if out.kind in "iu":
                u = _wide_unsigned(out)
                return f"(({t})(({u}){a[0]} {op} ({u}){a[1]}))"
            return f"({a[0]} {op} {a[1]})"
        if name == "neg":
            if out.kind in "iu":
                return f"(({t})(({_wide_unsigned(out)})0 - ({_wide_unsigned(out)}){a[0]}))"
            return f"(-{a[0]})"
        if name == "div":
            if out.kind in "iu":
                return f"{self._int_div(out)}({a[0]}, {a[1]})"
            return f"({a[0]} / {a[1]})"
        if name == "rem":
            if out.kind in "iu":
                return f"{self._int_rem(out)}({a[0]}, {a[1]})"
            return f"{_fn('fmod', out)}({a[0]}, {a[1]})"
        if name in ("max", "min"):
            return f"{self._maxmin(name, out)}({a[0]}, {a[1]})"
        if name in _BINARY_MATH:
            return f"{_fn(_BINARY_MATH[name], out)}({a[0]}, {a[1]})"
        if name in _MATH:
            return f"{_fn(_MATH[name], out)}({a[0]})"
        if name == "abs":
            if out.kind == "f":
                return f"{_fn('fabs', out)}({a[0]})"
            if out.kind == "u":
                return a[0]
            u = _wide_unsigned(out)
            return f"(({a[0]}) < 0 ? ({t})(({u})0 - ({u}){a[0]}) : {a[0]})"
        if name == "sign":
            if out.kind == "f":
                return f"{self._sign(out)}({a[0]})"
            return f"(({t})(({a[0]} > 0) - ({a[0]} < 0)))"
        if name == "logistic":
            one = _one(out)
            return f"({one} / ({one} + {_fn('exp', out)}(-{a[0]})))"
        if name == "rsqrt":
            return f"({_one(out)} / {_fn('sqrt', out)}({a[0]}))"
        if name == "lgamma":
            return f"{self._lgamma(out)}({a[0]})"
        if name == "round":
            if e.params["rounding_method"] == 1:
                return f"{_fn('nearbyint', out)}({a[0]})"
            return f"{self._round_away(out)}({a[0]})"
        if name == "is_finite":
            return f"((bool)isfinite({a[0]}))"
        if name == "integer_pow":
            return self._integer_pow(e.params["y"], a[0], out)
        if name in _COMPARE:
            return f"({a[0]} {_COMPARE[name]} {a[1]})"
        if name in ("and", "or", "xor"):
            op = {"and": "&", "or": "|", "xor": "^"}[name]
            return f"(({t})({a[0]} {op} {a[1]}))"
        if name == "not":
            return f"(!{a[0]})" if out.kind == "b" else f"(({t})~{a[0]})"
        if name == "select_n":
            which, cases = a[0], a[1:]
            if len(cases) == 1:
                return cases[0]
            if ins[0].kind == "b":
                return f"({which} ? {cases[1]} : {cases[0]})"
            expr = cases[-1]
            for i in range(len(cases) - 2, -1, -1):
                expr = f"({which} <= {i} ? {cases[i]} : {expr})"
            return expr
        if name == "convert_element_type":
            if out.kind == "b":
                return f"({a[0]} != 0)"
            return f"(({t}){a[0]})"
        if name == "stop_gradient":
            return a[0]
        if name in _UNSUPPORTED_SPECIAL:
            raise NotImplementedError(f"export(target='c'): the primitive {name!r} has no C "
                                      "translation (libm has no such function)")
        raise NotImplementedError(f"export(target='c'): the primitive {name!r} has no C "
                                  "translation")

    # ---- helpers (static inline functions, one per C type)

    def _int_div(self, dt) -> str:
        t, name = ctype(dt), f"nbx_div_{_short(dt)}"
        if dt.kind == "u":
            body = f"    return b == 0 ? a : ({t})(a / b);"
        else:
            u = _wide_unsigned(dt)
            body = (f"    if (b == 0) return a;\n    if (b == -1) return ({t})(({u})0 - ({u})a);\n"
                    f"    return ({t})(a / b);")
        return self.prog.helper(name, "/* integer division rounding toward zero; a / 0 = a */\n"
                                      f"static inline {t} {name}({t} a, {t} b) {{\n{body}\n}}")

    def _int_rem(self, dt) -> str:
        t, name = ctype(dt), f"nbx_rem_{_short(dt)}"
        if dt.kind == "u":
            body = f"    return b == 0 ? a : ({t})(a % b);"
        else:
            body = f"    if (b == 0 || b == -1) return b == 0 ? a : 0;\n    return ({t})(a % b);"
        return self.prog.helper(name, "/* the remainder of integer division rounding toward "
                                      "zero: the sign of a; a % 0 = a */\n"
                                      f"static inline {t} {name}({t} a, {t} b) {{\n{body}\n}}")

    def _maxmin(self, op, dt) -> str:
        t, s = ctype(dt), _short(dt)
        name = f"nbx_{op}_{s}"
        cmp = ">" if op == "max" else "<"
        if dt.kind == "f":   # as numpy's: NaN propagates, and ties (0.0, -0.0) give b
            body = f"return (a {cmp} b || a != a) ? a : b;"
        else:
            body = f"return a {cmp} b ? a : b;"
        return self.prog.helper(name, f"static inline {t} {name}({t} a, {t} b) {{\n"
                                      f"    {body}\n}}")

    def _sign(self, dt) -> str:
        t, s = ctype(dt), _short(dt)
        name = f"nbx_sign_{s}"
        return self.prog.helper(name, f"/* numpy's sign: NaN stays NaN, both zeros give +0 */\n"
                                      f"static inline {t} {name}({t} x) {{\n"
                                      f"    return x > 0 ? 1 : (x < 0 ? -1 : (x == 0 ? 0 : x));\n"
                                      "}")

    def _lgamma(self, dt) -> str:
        t, s = ctype(dt), _short(dt)
        name = f"nbx_lgamma_{s}"
        return self.prog.helper(name, f"/* lgamma with scipy's gammaln(-inf) = -inf */\n"
                                      f"static inline {t} {name}({t} x) {{\n"
                                      f"    return x == -INFINITY ? -INFINITY : "
                                      f"{_fn('lgamma', dt)}(x);\n}}")

    def _round_away(self, dt) -> str:
        t, s = ctype(dt), _short(dt)
        name = f"nbx_round_away_{s}"
        half = c_literal(0.5, dt)
        return self.prog.helper(
            name, f"/* round half away from zero, as sign(x) * floor(|x| + 0.5) */\n"
                  f"static inline {t} {name}({t} x) {{\n"
                  f"    {t} s = x > 0 ? 1 : (x < 0 ? -1 : (x == 0 ? 0 : x));\n"
                  f"    return s * {_fn('floor', dt)}({_fn('fabs', dt)}(x) + {half});\n}}")

    def _integer_pow(self, y: int, x: str, dt) -> str:
        t = ctype(dt)
        if y == 0:
            return _one(dt)
        n = abs(y)
        if dt.kind in "iu":
            if y < 0:
                raise NotImplementedError("export(target='c'): integer_pow of an integer to a "
                                          "negative power")
            u = _wide_unsigned(dt)
            prod = " * ".join([f"({u}){x}"] * n) if n <= 4 else None
            if prod is None:
                name = f"nbx_ipow_{_short(dt)}"
                self.prog.helper(name, f"static inline {t} {name}({t} x, int n) {{\n"
                                       f"    {u} r = 1, b = ({u})x;\n"
                                       "    while (n) { if (n & 1) r *= b; b *= b; n >>= 1; }\n"
                                       f"    return ({t})r;\n}}")
                return f"{name}({x}, {n})"
            return f"(({t})({prod}))"
        prod = " * ".join([x] * n) if n <= 4 else f"{_fn('pow', dt)}({x}, {c_literal(n, dt)})"
        return f"({prod})" if y > 0 else f"({_one(dt)} / ({prod}))"


# --------------------------------------------------------------------------- programs

ELEMENTWISE = frozenset([
    "add", "sub", "mul", "div", "rem", "neg", "max", "min", "pow", "atan2", "nextafter",
    "integer_pow", "rsqrt", "logistic", "lgamma", "round", "abs", "sign", "is_finite",
    "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "xor", "not", "select_n",
    "convert_element_type", "stop_gradient", *_MATH])


class Emitter:
    """Statements computing jaxprs into a Block."""

    def __init__(self, prog: CProgram):
        self.prog = prog
        self.scalar = Scalar(prog)

    def program(self, b: Block, jaxpr: Jaxpr, ins: list[CVal]) -> list[CVal]:
        """Statements computing jaxpr from ins; returns its results. Consecutive elementwise
        equations over one shape share a loop, their values kept in locals unless read later."""
        eqns = jaxpr.eqns
        last_use: dict = {}
        for k, e in enumerate(eqns):
            for v in e.invars:
                if type(v) is not Literal:
                    last_use[v] = k
        for v in jaxpr.outvars:
            if type(v) is not Literal:
                last_use[v] = len(eqns)
        env: dict = {}
        for v, c in zip(jaxpr.constvars, jaxpr.consts):
            if v in last_use:
                env[v] = self.prog.const(c, v.aval)
        env.update(zip(jaxpr.invars, ins))

        def read(v) -> CVal:
            if type(v) is Literal:
                return CVal(c_literal(v.val, v.aval.dtype), v.aval, value=v.val)
            return env[v]
        k = 0
        while k < len(eqns):
            e = eqns[k]
            if self._fusible(e):
                shape = e.outvars[0].aval.shape
                run, scalars, j = [e], [], k + 1
                while j < len(eqns):
                    f = eqns[j]
                    if self._fusible(f) and f.outvars[0].aval.shape == shape:
                        run.append(f)
                    elif f.primitive.name in ELEMENTWISE and not f.outvars[0].aval.ndim:
                        scalars.append(f)   # computed before the loop (reads no loop value)
                    else:
                        break
                    j += 1
                for f in scalars:
                    env[f.outvars[0]] = self.elementwise(b, f, [read(v) for v in f.invars])
                self._fused(b, run, env, read, lambda v: last_use.get(v, -1) >= j)
                k = j
                continue
            outs = self.equation(b, e, [read(v) for v in e.invars])
            env.update(zip(e.outvars, outs))
            for v, o in zip(e.outvars, outs):
                if v not in last_use and not v.aval.ndim and o.expr.isidentifier():
                    b.line(f"(void){o.expr};  /* unused */")
            k += 1
        return [read(v) for v in jaxpr.outvars]

    @staticmethod
    def _fusible(e) -> bool:
        out = e.outvars[0].aval if len(e.outvars) == 1 else None
        if out is None or not out.ndim:
            return False
        name = e.primitive.name
        return (name in ELEMENTWISE and name not in _UNSUPPORTED_SPECIAL) or \
            (name == "broadcast_in_dim" and not e.invars[0].aval.ndim)

    def _fused(self, b: Block, run: list, env: dict, read, needed_later) -> None:
        """One loop computing the elementwise equations of run."""
        shape = run[0].outvars[0].aval.shape
        n = int(np.prod(shape, dtype=np.int64))
        local: dict = {}     # var -> its local in the loop body
        body = []
        members = {e.outvars[0] for e in run}
        used_inside = {v for e in run for v in e.invars if v in members}

        def at(v) -> str:
            if v in local:
                return local[v]
            return read(v).at("i")
        for e in run:
            v = e.outvars[0]
            if e.primitive.name == "broadcast_in_dim":
                expr = read(e.invars[0]).expr
            else:
                expr = self.scalar.expr(e, [at(u) for u in e.invars])
            keep = needed_later(v) or v not in used_inside
            if keep:
                o = self.prog.alloc(v)
                env[v] = o
            if v in used_inside:
                t = self.prog.fresh("t")
                body.append(f"{ctype(v.aval.dtype)} {t} = {expr};")
                local[v] = t
                if keep:
                    body.append(f"{o.expr}[i] = {t};")
            else:
                body.append(f"{o.expr}[i] = {expr};")
        if len(body) == 1:
            b.line(f"for (int64_t i = 0; i < {n}; ++i) {body[0]}")
            return
        b.open(f"for (int64_t i = 0; i < {n}; ++i)")
        for ln in body:
            b.line(ln)
        b.close()

    def equation(self, b: Block, e, ins: list[CVal]) -> list[CVal]:
        name = e.primitive.name
        if name in ELEMENTWISE or name in _UNSUPPORTED_SPECIAL:
            return [self.elementwise(b, e, ins)]
        rule = getattr(self, "p_" + name, None)
        if rule is None:
            raise NotImplementedError(f"export(target='c'): the primitive {name!r} has no C "
                                      "translation")
        out = rule(b, e, ins)
        return out if isinstance(out, list) else [out]

    def scalar_local(self, b: Block, aval, expr: str, prefix: str = "s") -> CVal:
        name = self.prog.fresh(prefix)
        b.line(f"{ctype(aval.dtype)} {name} = {expr};")
        return CVal(name, aval)

    # ------------------------------------------------------------------ elementwise

    def elementwise(self, b: Block, e, ins: list[CVal]) -> CVal:
        out = e.outvars[0]
        if e.primitive.name == "stop_gradient" or (e.primitive.name == "select_n"
                                                   and len(ins) == 2 and
                                                   ins[1].aval.shape == out.aval.shape):
            return ins[-1]
        if not out.aval.ndim:
            return self.scalar_local(b, out.aval, self.scalar.expr(e, [x.expr for x in ins]))
        o = self.prog.alloc(out)
        n = int(np.prod(out.aval.shape, dtype=np.int64))
        expr = self.scalar.expr(e, [x.at("i") for x in ins])
        b.line(f"for (int64_t i = 0; i < {n}; ++i) {o.expr}[i] = {expr};")
        return o

    def copy(self, b: Block, dst: CVal, src: CVal) -> None:
        if dst.expr == src.expr:
            return
        if not dst.aval.ndim:
            b.line(f"{dst.expr} = {src.expr};")
            return
        n = int(np.prod(dst.aval.shape, dtype=np.int64))
        if src.aval.ndim:
            if n:
                b.line(f"memcpy({dst.expr}, {src.expr}, {n} * sizeof({ctype(dst.aval.dtype)}));")
        else:
            b.line(f"for (int64_t i = 0; i < {n}; ++i) {dst.expr}[i] = {src.expr};")

    # ------------------------------------------------------------------ index maps

    def _map(self, b: Block, e, src_of) -> CVal:
        """out[i] = src_of(index names) (an expression) over the result's shape."""
        out = e.outvars[0]
        if not out.aval.ndim:
            return self.scalar_local(b, out.aval, src_of([]))
        o = self.prog.alloc(out)
        shape = out.aval.shape
        nest(b, shape, lambda idx: [f"{o.expr}[{flat(idx, shape)}] = {src_of(idx)};"])
        return o

    def p_broadcast_in_dim(self, b, e, ins):
        (x,), p = ins, e.params
        shape, bdims = p["shape"], p["broadcast_dimensions"]
        xs = x.aval.shape
        return self._map(b, e, lambda idx: x.at(flat(
            ["0" if xs[j] == 1 and shape[d] != 1 else idx[d] for j, d in enumerate(bdims)],
            xs)))

    def p_reshape(self, b, e, ins):
        (x,), out = ins, e.outvars[0]
        if out.aval.ndim and x.aval.ndim:
            return CVal(x.expr, out.aval, x.base)
        if not out.aval.ndim:
            return self.scalar_local(b, out.aval, x.at("0"))
        o = self.prog.alloc(out)
        b.line(f"{o.expr}[0] = {x.expr};")
        return o

    p_squeeze = p_reshape

    def p_transpose(self, b, e, ins):
        (x,), perm = ins, e.params["permutation"]

        def src(idx):
            j = [None] * len(perm)
            for k, axis in enumerate(perm):
                j[axis] = idx[k]
            return x.at(flat(j, x.aval.shape))
        return self._map(b, e, src)

    def p_slice(self, b, e, ins):
        (x,), p = ins, e.params
        strides = p["strides"] or (1,) * x.aval.ndim

        def src(idx):
            j = []
            for i, lo, s in zip(idx, p["start_indices"], strides):
                t = i if s == 1 or i == "0" else f"{i} * {s}"
                j.append(_plus(lo, t))
            return x.at(flat(j, x.aval.shape))
        return self._map(b, e, src)

    def p_rev(self, b, e, ins):
        (x,), dims = ins, e.params["dimensions"]
        shape = x.aval.shape
        return self._map(b, e, lambda idx: x.at(flat(
            [f"{shape[d] - 1} - {i}" if d in dims else i for d, i in enumerate(idx)], shape)))

    def p_iota(self, b, e, ins):
        p = e.params
        t = ctype(p["dtype"])
        return self._map(b, e, lambda idx: f"({t}){idx[p['dimension']]}")

    def p_pad(self, b, e, ins):
        x, pad = ins
        shape = x.aval.shape

        def src(idx):
            conds, j = [], []
            for i, n, (lo, hi, interior) in zip(idx, shape, e.params["padding_config"]):
                t = i if lo == 0 else (f"{i} - {lo}" if lo > 0 else f"{i} + {-lo}")
                if interior:
                    s = interior + 1
                    conds += [f"{t} >= 0", f"({t}) % {s} == 0", f"({t}) / {s} < {n}"]
                    j.append(f"({t}) / {s}")
                else:
                    if lo > 0:
                        conds.append(f"{i} >= {lo}")
                    if lo + n < e.outvars[0].aval.shape[len(j)]:
                        conds.append(f"{t} < {n}")
                    j.append(t)
            inner = x.at(flat(j, shape))
            return f"(({' && '.join(conds)}) ? {inner} : {pad.expr})" if conds else inner
        return self._map(b, e, src)

    def p_concatenate(self, b, e, ins):
        out, d = e.outvars[0], e.params["dimension"]
        o = self.prog.alloc(out)
        shape = out.aval.shape
        off = 0
        for x in ins:
            xs = x.aval.shape
            if all(xs):
                def body(idx, off=off, x=x, xs=xs):
                    dst = [_plus(i, off) if a == d else i for a, i in enumerate(idx)]
                    return [f"{o.expr}[{flat(dst, shape)}] = {x.at(flat(idx, xs))};"]
                nest(b, xs, body)
            off += xs[d]
        return o

    def _clamped_starts(self, b, starts, dims, sizes) -> list[str]:
        out = []
        for s, n, size in zip(starts, dims, sizes):
            hi = n - size
            if s.value is not None:
                out.append(str(min(max(int(s.value), 0), hi)))
                continue
            c = self.prog.fresh("c")
            if s.aval.dtype.kind == "u":
                b.line(f"int64_t {c} = {s.expr} > {hi}U ? {hi} : (int64_t){s.expr};")
            else:
                b.line(f"int64_t {c} = (int64_t){s.expr};")
                b.line(f"{c} = {c} < 0 ? 0 : ({c} > {hi} ? {hi} : {c});")
            out.append(c)
        return out

    def p_dynamic_slice(self, b, e, ins):
        x, *starts = ins
        c = self._clamped_starts(b, starts, x.aval.shape, e.params["slice_sizes"])
        return self._map(b, e, lambda idx: x.at(flat([_plus(s, i) for s, i in zip(c, idx)],
                                                     x.aval.shape)))

    def p_dynamic_update_slice(self, b, e, ins):
        x, upd, *starts = ins
        if not x.aval.ndim:
            return upd
        o = self.prog.alloc(e.outvars[0])
        self.copy(b, o, x)
        c = self._clamped_starts(b, starts, x.aval.shape, upd.aval.shape)
        us = upd.aval.shape
        if all(us):
            nest(b, us, lambda idx: [
                f"{o.expr}[{flat([_plus(s, i) for s, i in zip(c, idx)], x.aval.shape)}] = "
                f"{upd.at(flat(idx, us))};"])
        return o

    def _index_vars(self, indices: CVal, batch_idx, dims, mode) -> tuple[list[str], list[str]]:
        """(statements, index expressions): the clamped (mode clip) or checked (fill / drop)
        indices of one row, and the in-bounds condition in the second list for fill/drop."""
        lines, sel, conds = [], [], []
        ishape = indices.aval.shape
        for j, n in enumerate(dims):
            v = self.prog.fresh("j")
            raw = indices.at(flat(list(batch_idx) + [str(j)], ishape))
            if indices.aval.dtype.kind == "u":
                lines.append(f"int64_t {v} = {raw} > 4611686018427387904ULL ? "
                             f"4611686018427387904LL : (int64_t){raw};")
            else:
                lines.append(f"int64_t {v} = (int64_t){raw};")
            if mode == "clip":
                lines.append(f"{v} = {v} < 0 ? 0 : ({v} > {n - 1} ? {n - 1} : {v});")
            else:
                conds.append(f"{v} >= 0 && {v} < {n}")
            sel.append(v)
        return lines, sel, conds

    def p_gather(self, b, e, ins):
        operand, indices = ins
        out = e.outvars[0]
        mode, fill = e.params["mode"], e.params["fill_value"]
        k = indices.aval.shape[-1]
        nb = indices.aval.ndim - 1
        dims, oshape = operand.aval.shape[:k], operand.aval.shape
        dt = out.aval.dtype
        if mode == "fill":
            if fill is None:
                fill = np.nan if dt.kind == "f" else (True if dt.kind == "b" else
                                                      np.iinfo(dt).min if dt.kind == "i"
                                                      else np.iinfo(dt).max)
            fill_text = c_literal(fill, dt)
        else:
            fill_text = c_literal(0, dt)
        if any(d == 0 for d in dims):
            return self._map(b, e, lambda idx: fill_text)
        o = self.prog.alloc(out) if out.aval.ndim else None
        target = CVal(o.expr if o else self.prog.fresh("s"), out.aval)
        if o is None:
            b.line(f"{ctype(dt)} {target.expr};")

        def body(idx):
            lines, sel, conds = self._index_vars(indices, idx[:nb], dims, mode)
            load = operand.at(flat(sel + list(idx[nb:]), oshape))
            dst = target.at(flat(idx, out.aval.shape))
            if mode == "fill":
                return lines + [f"{dst} = ({' && '.join(conds)}) ? {load} : {fill_text};"]
            return lines + [f"{dst} = {load};"]
        if out.aval.ndim:
            nest(b, out.aval.shape, body)
        else:
            b.open("")
            for ln in body([]):
                b.line(ln)
            b.close()
        return target if o is None else o

    def _scatter(self, b, e, ins, op):
        operand, indices, updates = ins
        out = e.outvars[0]
        mode = e.params["mode"]
        k = indices.aval.shape[-1]
        nb = indices.aval.ndim - 1
        shape, dt = out.aval.shape, out.aval.dtype
        if not shape:
            o = CVal(self.prog.fresh("s"), out.aval)
            b.line(f"{ctype(dt)} {o.expr} = {operand.expr};")
        else:
            o = self.prog.alloc(out)
            self.copy(b, o, operand)
        dims, us = shape[:k], updates.aval.shape
        if not all(d > 0 for d in dims) or not all(us):
            return o

        def body(uidx):
            lines, sel, conds = self._index_vars(indices, uidx[:nb], dims, mode)
            target = o.at(flat(sel + list(uidx[nb:]), shape))
            u = updates.at(flat(uidx, us))
            if op is None:
                apply = f"{target} = {u};"
            else:
                fake = _FakeEqn(op, dt)
                apply = f"{target} = {self.scalar.expr(fake, [target, u])};"
            if conds:
                return lines + [f"if ({' && '.join(conds)}) {apply}"]
            return lines + [apply]
        if us:
            nest(b, us, body, [f"u{d}" for d in range(len(us))])
        else:
            b.open("")
            for ln in body([]):
                b.line(ln)
            b.close()
        return o

    def p_scatter(self, b, e, ins):
        return self._scatter(b, e, ins, None)

    def p_scatter_add(self, b, e, ins):
        return self._scatter(b, e, ins, "add")

    def p_scatter_mul(self, b, e, ins):
        return self._scatter(b, e, ins, "mul")

    def p_scatter_min(self, b, e, ins):
        return self._scatter(b, e, ins, "min")

    def p_scatter_max(self, b, e, ins):
        return self._scatter(b, e, ins, "max")

    # ------------------------------------------------------------------ reductions

    def _reduce(self, b, e, ins, op):
        (x,), out = ins, e.outvars[0]
        axes = sorted(e.params["axes"])
        xs, dt = x.aval.shape, out.aval.dtype
        if not axes:
            return x
        t = ctype(dt)
        init = c_literal(_IDENTITY[op](dt), dt)
        kept = [d for d in range(len(xs)) if d not in axes]
        fake = _FakeEqn(_FOLD[op], dt)
        o = self.prog.alloc(out) if out.aval.ndim else None
        acc = self.prog.fresh("acc")
        if o is None:
            b.line(f"{t} {acc} = {init};")
        names = [f"i{d}" for d in range(len(xs))]
        for d in kept:
            names[d] = open_loop(b, names[d], xs[d])
        if o is not None:
            b.line(f"{t} {acc} = {init};")
        for d in axes:
            names[d] = open_loop(b, names[d], xs[d])
        b.line(f"{acc} = {self.scalar.expr(fake, [acc, x.at(flat(names, xs))])};")
        for d in reversed(axes):
            close_loop(b, xs[d])
        if o is not None:
            b.line(f"{o.expr}[{flat([names[d] for d in kept], out.aval.shape)}] = {acc};")
        for d in reversed(kept):
            close_loop(b, xs[d])
        return o if o is not None else CVal(acc, out.aval)

    def p_reduce_sum(self, b, e, ins):
        return self._reduce(b, e, ins, "sum")

    def p_reduce_prod(self, b, e, ins):
        return self._reduce(b, e, ins, "prod")

    def p_reduce_max(self, b, e, ins):
        return self._reduce(b, e, ins, "max")

    def p_reduce_min(self, b, e, ins):
        return self._reduce(b, e, ins, "min")

    def p_reduce_and(self, b, e, ins):
        return self._reduce(b, e, ins, "and")

    def p_reduce_or(self, b, e, ins):
        return self._reduce(b, e, ins, "or")

    def _arg(self, b, e, ins, op):
        (x,), out = ins, e.outvars[0]
        axis = e.params["axes"][0]
        xs, vdt, idt = x.aval.shape, x.aval.dtype, out.aval.dtype
        init = c_literal(_IDENTITY["max" if op == "argmax" else "min"](vdt), vdt)
        cmp = ">" if op == "argmax" else "<"
        kept = [d for d in range(len(xs)) if d != axis]
        o = self.prog.alloc(out) if out.aval.ndim else None
        names = [f"i{d}" for d in range(len(xs))]
        bv, bi = self.prog.fresh("bv"), self.prog.fresh("bi")
        if o is None:
            b.line(f"int64_t {bi} = 0;")
            b.open("")
        for d in kept:
            names[d] = open_loop(b, names[d], xs[d])
        b.line(f"{ctype(vdt)} {bv} = {init};")
        if o is not None:
            b.line(f"int64_t {bi} = 0;")
        i = names[axis]
        b.open(f"for (int64_t {i} = 0; {i} < {xs[axis]}; ++{i})")
        v = self.prog.fresh("v")
        b.line(f"{ctype(vdt)} {v} = {x.at(flat(names, xs))};")
        better = f"{v} {cmp} {bv}" + (f" || ({v} != {v} && {bv} == {bv})" if vdt.kind == "f"
                                       else "")
        b.line(f"if ({better}) {{ {bv} = {v}; {bi} = {i}; }}")
        b.close()
        if o is not None:
            b.line(f"{o.expr}[{flat([names[d] for d in kept], out.aval.shape)}] = "
                   f"({ctype(idt)}){bi};")
        for d in reversed(kept):
            close_loop(b, xs[d])
        if o is None:
            b.close()
            return CVal(f"(({ctype(idt)}){bi})", out.aval)
        return o

    def p_argmax(self, b, e, ins):
        return self._arg(b, e, ins, "argmax")

    def p_argmin(self, b, e, ins):
        return self._arg(b, e, ins, "argmin")

    def _cumulative(self, b, e, ins, op):
        (x,), out = ins, e.outvars[0]
        axis, reverse = e.params["axis"], e.params["reverse"]
        shape, dt = out.aval.shape, out.aval.dtype
        o = self.prog.alloc(out)
        names = [f"i{d}" for d in range(len(shape))]
        for d, n in enumerate(shape):
            i = names[d]
            if d == axis and reverse:
                b.open(f"for (int64_t {i} = {n - 1}; {i} >= 0; --{i})")
            else:
                b.open(f"for (int64_t {i} = 0; {i} < {n}; ++{i})")
        here = flat(names, shape)
        prev = flat([f"{i} + 1" if (d == axis and reverse) else f"{i} - 1" if d == axis else i
                     for d, i in enumerate(names)], shape)
        first = f"{shape[axis] - 1}" if reverse else "0"
        fold = self.scalar.expr(_FakeEqn(op, dt), [f"{o.expr}[{prev}]", x.at(here)])
        b.line(f"{o.expr}[{here}] = {names[axis]} == {first} ? {x.at(here)} : {fold};")
        for _ in shape:
            b.close()
        return o

    def p_cumsum(self, b, e, ins):
        return self._cumulative(b, e, ins, "add")

    def p_cumprod(self, b, e, ins):
        return self._cumulative(b, e, ins, "mul")

    def p_cummax(self, b, e, ins):
        return self._cumulative(b, e, ins, "max")

    def p_cummin(self, b, e, ins):
        return self._cumulative(b, e, ins, "min")

    # ------------------------------------------------------------------ dot_general

    def p_dot_general(self, b, e, ins):
        lhs, rhs = ins
        out = e.outvars[0]
        (lc, rc), (lb, rb) = e.params["dimension_numbers"]
        la, ra = lhs.aval.shape, rhs.aval.shape
        lf = [d for d in range(len(la)) if d not in lc and d not in lb]
        rf = [d for d in range(len(ra)) if d not in rc and d not in rb]
        acc_dt = np.result_type(lhs.aval.dtype, rhs.aval.dtype)
        t = ctype(acc_dt)
        o = self.prog.alloc(out) if out.aval.ndim else None
        oshape = out.aval.shape
        onames = [f"i{d}" for d in range(len(oshape))]
        cnames = [f"k{d}" for d in range(len(lc))]
        li, ri = [None] * len(la), [None] * len(ra)
        pos = 0
        for d_l, d_r in zip(lb, rb):
            li[d_l] = ri[d_r] = onames[pos]
            pos += 1
        for d in lf:
            li[d] = onames[pos]
            pos += 1
        for d in rf:
            ri[d] = onames[pos]
            pos += 1
        for c, d_l, d_r in zip(cnames, lc, rc):
            li[d_l] = ri[d_r] = c
        acc = self.prog.fresh("acc")
        if o is None:
            b.line(f"{t} {acc} = 0;")
            b.open("")
        onames[:] = [open_loop(b, i, n) for i, n in zip(onames, oshape)]
        if o is not None:
            b.line(f"{t} {acc} = 0;")
        cidx = [open_loop(b, c, la[d]) for c, d in zip(cnames, lc)]
        sub = dict(zip([f"i{d}" for d in range(len(oshape))], onames))
        sub.update(zip(cnames, cidx))
        li = [sub[x] for x in li]
        ri = [sub[x] for x in ri]
        prod = self.scalar.expr(_FakeEqn("mul", acc_dt), [lhs.at(flat(li, la)),
                                                          rhs.at(flat(ri, ra))])
        b.line(f"{acc} = {self.scalar.expr(_FakeEqn('add', acc_dt), [acc, prod])};")
        for d in reversed(lc):
            close_loop(b, la[d])
        res = acc if out.aval.dtype == acc_dt else f"({ctype(out.aval.dtype)}){acc}"
        if o is not None:
            b.line(f"{o.expr}[{flat(onames, oshape)}] = {res};")
        for n in reversed(oshape):
            close_loop(b, n)
        if o is None:
            b.close()
            return CVal(res, out.aval)
        return o

    # ------------------------------------------------------------------ linear algebra

    def p_cholesky(self, b, e, ins):
        (a,), out = ins, e.outvars[0]
        shape = out.aval.shape
        n = shape[-1]
        batch = int(np.prod(shape[:-2], dtype=np.int64))
        t = ctype(out.aval.dtype)
        name = self.prog.helper(f"nbx_cholesky_{_short(out.aval.dtype)}", f"""\
/* the lower Cholesky factor L of the n x n matrix a (its lower triangle is read); all NaN
   when a is not positive definite */
static void nbx_cholesky_{_short(out.aval.dtype)}(int64_t n, const {t} *a, {t} *L) {{
    for (int64_t i = 0; i < n * n; ++i) L[i] = 0;
    for (int64_t j = 0; j < n; ++j) {{
        {t} s = a[j * n + j];
        for (int64_t k = 0; k < j; ++k) s -= L[j * n + k] * L[j * n + k];
        if (!(s > 0)) {{
            for (int64_t i = 0; i < n * n; ++i) L[i] = NAN;
            return;
        }}
        {t} d = {_fn('sqrt', out.aval.dtype)}(s);
        L[j * n + j] = d;
        for (int64_t i = j + 1; i < n; ++i) {{
            {t} r = a[i * n + j];
            for (int64_t k = 0; k < j; ++k) r -= L[i * n + k] * L[j * n + k];
            L[i * n + j] = r / d;
        }}
    }}
}}""")
        o = self.prog.alloc(out)
        self._batched(b, batch, f"{name}({n}, {a.expr} + m * {n * n}, {o.expr} + m * {n * n})")
        return o

    @staticmethod
    def _batched(b: Block, batch: int, call: str) -> None:
        """call (which uses the batch index `m`) once per matrix of the batch."""
        if batch == 1:
            b.line(re.sub(r" \+ m( \* \d+)?(?=[,)])", "", call) + ";")
        else:
            b.line(f"for (int64_t m = 0; m < {batch}; ++m) {call};")

    def p_triangular_solve(self, b, e, ins):
        a, rhs = ins
        out = e.outvars[0]
        p = e.params
        t, s = ctype(out.aval.dtype), _short(out.aval.dtype)
        name = self.prog.helper(f"nbx_trisolve_{s}", f"""\
/* x <- op(a)^-1 x for the m x m triangular a (op(a) = a^T when transpose, the lower or upper
   triangle of a is read) and the m x n matrix x, whose rows are `rs` apart and columns `cs` */
static void nbx_trisolve_{s}(int64_t m, int64_t n, const {t} *a, {t} *x, int64_t rs,
                            int64_t cs, bool lower, bool transpose, bool unit_diagonal) {{
    bool forward = lower != transpose;
    for (int64_t step = 0; step < m; ++step) {{
        int64_t i = forward ? step : m - 1 - step;
        int64_t lo = forward ? 0 : i + 1, hi = forward ? i : m;
        for (int64_t k = lo; k < hi; ++k) {{
            {t} coef = transpose ? a[k * m + i] : a[i * m + k];
            for (int64_t c = 0; c < n; ++c) x[i * rs + c * cs] -= coef * x[k * rs + c * cs];
        }}
        if (!unit_diagonal) {{
            {t} d = a[i * m + i];
            for (int64_t c = 0; c < n; ++c) x[i * rs + c * cs] /= d;
        }}
    }}
}}""")
        o = self.prog.alloc(out)
        self.copy(b, o, rhs)
        shape = out.aval.shape
        rows, cols = shape[-2], shape[-1]
        m = a.aval.shape[-1]
        batch = int(np.prod(shape[:-2], dtype=np.int64))
        low = "true" if p["lower"] else "false"
        unit = "true" if p["unit_diagonal"] else "false"
        if p["left_side"]:      # op(a) x = b: x is m x cols, rows `cols` apart
            tr = "true" if p["transpose_a"] else "false"
            call = f"{name}({m}, {cols}, {a.expr} + m * {m * m}, {o.expr} + m * {rows * cols}, " \
                   f"{cols}, 1, {low}, {tr}, {unit})"
        else:                   # x op(a) = b  <=>  op(a)^T x^T = b^T: solve on the transpose
            tr = "false" if p["transpose_a"] else "true"
            call = f"{name}({m}, {rows}, {a.expr} + m * {m * m}, {o.expr} + m * {rows * cols}, " \
                   f"1, {cols}, {low}, {tr}, {unit})"
        self._batched(b, batch, call)
        return o

    def _lu_helper(self, dt) -> str:
        t, s = ctype(dt), _short(dt)
        fabs = _fn("fabs", dt)
        return self.prog.helper(f"nbx_lu_{s}", f"""\
/* lu <- the LU factors of the n x n matrix a with partial pivoting (LAPACK's getrf: the first
   largest pivot), piv[k] the row swapped with row k; returns 0, or 1 for an exact zero pivot */
static int nbx_lu_{s}(int64_t n, const {t} *a, {t} *lu, int64_t *piv) {{
    for (int64_t i = 0; i < n * n; ++i) lu[i] = a[i];
    for (int64_t k = 0; k < n; ++k) {{
        int64_t p = k;
        for (int64_t i = k + 1; i < n; ++i)
            if ({fabs}(lu[i * n + k]) > {fabs}(lu[p * n + k])) p = i;
        piv[k] = p;
        if (lu[p * n + k] == 0) return 1;
        if (p != k)
            for (int64_t j = 0; j < n; ++j) {{
                {t} tmp = lu[k * n + j]; lu[k * n + j] = lu[p * n + j]; lu[p * n + j] = tmp;
            }}
        for (int64_t i = k + 1; i < n; ++i) {{
            {t} l = lu[i * n + k] / lu[k * n + k];
            lu[i * n + k] = l;
            for (int64_t j = k + 1; j < n; ++j) lu[i * n + j] -= l * lu[k * n + j];
        }}
    }}
    return 0;
}}""")

    def p_solve(self, b, e, ins):
        a, rhs = ins
        out = e.outvars[0]
        dt = out.aval.dtype
        t, s = ctype(dt), _short(dt)
        lu_fn = self._lu_helper(dt)
        name = self.prog.helper(f"nbx_solve_{s}", f"""\
/* x with a x = b for the n x n matrix a and the n x m matrix b; all NaN when a is singular */
static void nbx_solve_{s}(int64_t n, int64_t m, const {t} *a, const {t} *b, {t} *x, {t} *lu,
                          int64_t *piv) {{
    if ({lu_fn}(n, a, lu, piv)) {{
        for (int64_t i = 0; i < n * m; ++i) x[i] = NAN;
        return;
    }}
    for (int64_t i = 0; i < n * m; ++i) x[i] = b[i];
    for (int64_t k = 0; k < n; ++k)
        if (piv[k] != k)
            for (int64_t c = 0; c < m; ++c) {{
                {t} tmp = x[k * m + c]; x[k * m + c] = x[piv[k] * m + c]; x[piv[k] * m + c] = tmp;
            }}
    for (int64_t i = 0; i < n; ++i)        /* L y = P b */
        for (int64_t j = 0; j < i; ++j)
            for (int64_t c = 0; c < m; ++c) x[i * m + c] -= lu[i * n + j] * x[j * m + c];
    for (int64_t i = n - 1; i >= 0; --i) {{  /* U x = y */
        for (int64_t j = i + 1; j < n; ++j)
            for (int64_t c = 0; c < m; ++c) x[i * m + c] -= lu[i * n + j] * x[j * m + c];
        for (int64_t c = 0; c < m; ++c) x[i * m + c] /= lu[i * n + i];
    }}
}}""")
        n = a.aval.shape[-1]
        shape = out.aval.shape
        cols = shape[-1]
        batch = int(np.prod(shape[:-2], dtype=np.int64))
        o = self.prog.alloc(out)
        lu = self.prog.alloc(ShapedArray((n, n), dt))
        piv = self.prog.alloc(ShapedArray((n,), np.dtype(np.int64)))
        self._batched(b, batch, f"{name}({n}, {cols}, {a.expr} + m * {n * n}, "
                                f"{rhs.expr} + m * {n * cols}, {o.expr} + m * {n * cols}, "
                                f"{lu.expr}, {piv.expr})")
        return o

    def p_slogdet(self, b, e, ins):
        (a,) = ins
        sign_v, log_v = e.outvars
        dt = a.aval.dtype
        t, s = ctype(dt), _short(dt)
        lu_fn = self._lu_helper(dt)
        name = self.prog.helper(f"nbx_slogdet_{s}", f"""\
/* the sign and log |det a| of the n x n matrix a (0 and -inf when a is singular) */
static void nbx_slogdet_{s}(int64_t n, const {t} *a, {t} *sign, {t} *logabsdet, {t} *lu,
                            int64_t *piv) {{
    if ({lu_fn}(n, a, lu, piv)) {{
        *sign = 0;
        *logabsdet = -INFINITY;
        return;
    }}
    {t} sg = 1, la = 0;
    for (int64_t k = 0; k < n; ++k) {{
        {t} d = lu[k * n + k];
        if (piv[k] != k) sg = -sg;
        if (d < 0) sg = -sg;
        la += {_fn("log", dt)}({_fn("fabs", dt)}(d));
    }}
    *sign = sg;
    *logabsdet = la;
}}""")
        n = a.aval.shape[-1]
        batch = int(np.prod(a.aval.shape[:-2], dtype=np.int64))
        lu = self.prog.alloc(ShapedArray((n, n), dt))
        piv = self.prog.alloc(ShapedArray((n,), np.dtype(np.int64)))
        if sign_v.aval.ndim:
            sg, lg = self.prog.alloc(sign_v), self.prog.alloc(log_v)
            ptrs = (f"{sg.expr} + m", f"{lg.expr} + m")
        else:
            sg, lg = (CVal(self.prog.fresh("s"), v.aval) for v in e.outvars)
            b.line(f"{t} {sg.expr}, {lg.expr};")
            ptrs = (f"&{sg.expr}", f"&{lg.expr}")
        self._batched(b, batch, f"{name}({n}, {a.expr} + m * {n * n}, {ptrs[0]}, {ptrs[1]}, "
                                f"{lu.expr}, {piv.expr})")
        return [sg, lg]

    # ------------------------------------------------------------------ control flow

    def _result(self, b: Block, var) -> CVal:
        """Storage for a control-flow result (declared before the statement)."""
        if var.aval.ndim:
            return self.prog.alloc(var)
        name = self.prog.fresh("s")
        b.line(f"{ctype(var.aval.dtype)} {name};")
        return CVal(name, var.aval)

    def _sub(self, b: Block, jaxpr: Jaxpr, ins: list[CVal]) -> list[CVal]:
        return self.program(b, prepare(jaxpr), ins)

    def p_cond(self, b, e, ins):
        branches = e.params["branches"]
        index, ops = ins[0], ins[1:]
        res = [self._result(b, v) for v in e.outvars]
        is_bool = e.invars[0].aval.dtype.kind == "b"
        for i, br in enumerate(branches):
            if len(branches) == 1:
                b.open("")
            elif i == 0:
                b.open(f"if (!{index.expr})" if is_bool else f"if ({index.expr} <= 0)")
            elif i < len(branches) - 1:
                b.open(f"else if ({index.expr} == {i})")
            else:
                b.open("else")
            outs = self._sub(b, br, ops)
            for r, x in zip(res, outs):
                self.copy(b, r, x)
            b.close()
        return res

    def _carry(self, b: Block, var, init: CVal) -> CVal:
        c = self._result(b, var)
        self.copy(b, c, init)
        return c

    def _update(self, b: Block, carry: list[CVal], outs: list[CVal]) -> None:
        """carry <- outs, all at once (an output may be another carry's old value)."""
        pairs = [(c, x) for c, x in zip(carry, outs) if c.expr != x.expr]
        arrays = [(c, x) for c, x in pairs if c.aval.ndim]
        scalars = [(c, x) for c, x in pairs if not c.aval.ndim]
        bases = {c.base for c, _ in arrays}
        if len(arrays) > 1 and any(x.base in bases and x.base != c.base for c, x in arrays):
            temps = []
            for c, x in arrays:
                tmp = self.prog.alloc(x.aval)
                self.copy(b, tmp, x)
                temps.append(tmp)
            arrays = [(c, t) for (c, _), t in zip(arrays, temps)]
        for c, x in arrays:
            self.copy(b, c, x)
        names = {c.expr for c, _ in scalars}
        if len(scalars) > 1 and any(x.expr in names for _, x in scalars):
            scalars = [(c, self.scalar_local(b, x.aval, x.expr, "t")) for c, x in scalars]
        for c, x in scalars:
            self.copy(b, c, x)

    def p_while(self, b, e, ins):
        p = e.params
        nc, nb = p["cond_nconsts"], p["body_nconsts"]
        cc, bc, init = ins[:nc], ins[nc:nc + nb], ins[nc + nb:]
        carry = [self._carry(b, v, x) for v, x in zip(e.outvars, init)]
        b.open("for (;;)")
        (pred,) = self._sub(b, p["cond_jaxpr"], cc + carry)
        b.line(f"if (!{pred.expr}) break;")
        outs = self._sub(b, p["body_jaxpr"], bc + carry)
        self._update(b, carry, outs)
        b.close()
        return carry

    def p_scan(self, b, e, ins):
        p = e.params
        jaxpr, nconst, ncarry, length = p["jaxpr"], p["num_consts"], p["num_carry"], p["length"]
        consts, init, xs = ins[:nconst], ins[nconst:nconst + ncarry], ins[nconst + ncarry:]
        carry = [self._carry(b, v, x) for v, x in zip(e.outvars[:ncarry], init)]
        ys = [self.prog.alloc(v) for v in e.outvars[ncarry:]]
        k, i = self.prog.fresh("step"), self.prog.fresh("t")
        b.open(f"for (int64_t {k} = 0; {k} < {length}; ++{k})")
        if xs or ys:
            b.line(f"int64_t {i} = {f'{length - 1} - {k}' if p['reverse'] else k};")
        slices = []
        for x in xs:
            shape = x.aval.shape[1:]
            size = int(np.prod(shape, dtype=np.int64))
            aval = jaxpr.in_avals[len(slices) + nconst + ncarry]
            if shape:
                slices.append(CVal(f"({x.expr} + {i} * {size})", aval, x.base))
            else:
                slices.append(CVal(f"{x.expr}[{i}]", aval))
        outs = self._sub(b, jaxpr, consts + carry + slices)
        for y, o in zip(ys, outs[ncarry:]):
            size = int(np.prod(o.aval.shape, dtype=np.int64))
            if o.aval.ndim:
                if size:
                    b.line(f"memcpy({y.expr} + {i} * {size}, {o.expr}, "
                           f"{size} * sizeof({ctype(o.aval.dtype)}));")
            else:
                b.line(f"{y.expr}[{i}] = {o.expr};")
        self._update(b, carry, outs[:ncarry])
        b.close()
        return carry + ys


class _FakeEqn:
    """Just enough of an equation for `Scalar.expr` (a binary op on one dtype)."""

    class _P:
        def __init__(self, name):
            self.name = name

    class _V:
        def __init__(self, dtype):
            from ..core import ShapedArray
            self.aval = ShapedArray((), np.dtype(dtype))

    def __init__(self, op, dtype):
        self.primitive = self._P(op)
        self.outvars = [self._V(dtype)]
        self.invars = [self._V(dtype), self._V(dtype)]
        self.params = {}


_FOLD = {"sum": "add", "prod": "mul", "max": "max", "min": "min", "and": "and", "or": "or"}


def _max_id(dt):
    return -np.inf if dt.kind == "f" else False if dt.kind == "b" else np.iinfo(dt).min


def _min_id(dt):
    return np.inf if dt.kind == "f" else True if dt.kind == "b" else np.iinfo(dt).max


_IDENTITY = {"sum": lambda dt: 0, "prod": lambda dt: 1, "max": _max_id, "min": _min_id,
             "and": lambda dt: True if dt.kind == "b" else -1 if dt.kind == "i"
             else np.iinfo(dt).max, "or": lambda dt: 0}

SUPPORTED = frozenset(ELEMENTWISE | {n[2:] for n in dir(Emitter) if n.startswith("p_")})


# --------------------------------------------------------------------------- the target

#: the names the generated code uses for its own variables (arguments get a trailing _)
_INTERNAL = re.compile(r"^(i|m|q|ws|ws_|out\d+|(i|k|u|b|s|c|j|t|v|bv|bi|acc|step)\d+)$")

_INCLUDES = ["#include <math.h>", "#include <stdbool.h>", "#include <stdint.h>",
             "#include <stdlib.h>", "#include <string.h>"]


def export_c(jaxpr: Jaxpr, sig, name: str) -> tuple[str, str, list[str]]:
    """(C source, header, parameter names) of the exported function."""
    check_name(name, C_RESERVED)
    optimized = prepare(jaxpr)
    for a in list(optimized.in_avals) + list(optimized.out_avals):
        ctype(a.dtype)
    params = param_names(sig.arg_names, C_RESERVED)
    params = param_names([p + "_" if _INTERNAL.match(p) else p for p in params], C_RESERVED)
    outs = [f"out{k}" for k in range(len(optimized.outvars))]
    prog = CProgram()
    # results computed straight into the output buffers where an equation allocates them
    producers = {v for e in optimized.eqns for v in e.outvars}
    for v, o in zip(optimized.outvars, outs):
        if type(v) is not Literal and v in producers and v not in prog.dests and v.aval.ndim:
            prog.dests[v] = o
    body = Block(1)
    ins = [CVal(p if a.ndim else f"{p}[0]", a, p if a.ndim else None)
           for p, a in zip(params, optimized.in_avals)]
    results = Emitter(prog).program(body, optimized, ins)
    em = Emitter(prog)
    for o, r, a in zip(outs, results, optimized.out_avals):
        em.copy(body, CVal(o if a.ndim else f"{o}[0]", a, o), r)

    sig_args = [f"const {ctype(a.dtype)} *{p}" for p, a in zip(params, optimized.in_avals)]
    sig_args += [f"{ctype(a.dtype)} *{o}" for o, a in zip(outs, optimized.out_avals)]
    proto = f"int {name}({', '.join(sig_args) or 'void'})"
    doc = describe(sig, params, "c", name, _calling_note(outs, optimized.out_avals))

    # the workspace
    head, tail = [], []
    offset, layout = 0, []
    for buf, t, n in prog.buffers:
        layout.append((buf, t, offset))
        offset += (n * _sizeof(t) + 15) // 16 * 16
    if prog.buffers:
        if offset <= _STACK_LIMIT:
            head.append(f"    double ws_[{max(offset // 8, 1)}];  /* the workspace: "
                        f"{offset} bytes of intermediates */")
            head.append("    unsigned char *ws = (unsigned char *)ws_;")
        else:
            head.append(f"    unsigned char *ws = (unsigned char *)malloc({offset});  "
                        "/* the workspace for intermediates */")
            head.append("    if (!ws) return 1;")
            tail.append("    free(ws);")
        for buf, t, off in layout:
            head.append(f"    {t} *{buf} = ({t} *)(ws + {off});")
    comment = "/*\n" + "\n".join((" * " + ln).rstrip() for ln in doc.splitlines()) + "\n */"
    parts = [comment, "/* Generated by numbax.export (target \"c\"): C99, libm only. */\n"
             + "\n".join(_INCLUDES)]
    if prog.consts:
        parts.append("\n".join(prog.consts))
    parts += list(prog.helpers.values())
    fn = [proto + " {"] + head + body.lines + tail + ["    return 0;", "}"]
    parts.append("\n".join(fn))
    source = "\n\n".join(parts) + "\n"
    guard = f"NUMBAX_EXPORT_{name.upper()}_H"
    header = "\n".join([comment, f"#ifndef {guard}", f"#define {guard}", "",
                        "#include <stdbool.h>", "#include <stdint.h>", "",
                        "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
                        *_size_macros(name, params, optimized.in_avals, outs,
                                      optimized.out_avals),
                        "", proto + ";", "", "#ifdef __cplusplus", "}", "#endif", "",
                        f"#endif  /* {guard} */", ""])
    return source, header, params


def _sizeof(t: str) -> int:
    for dt, name in C_TYPES.items():
        if name == t:
            return dt.itemsize
    raise KeyError(t)


def _calling_note(outs, avals) -> str:
    return ("Every argument is a pointer to C-contiguous (row-major) data of the shape above "
            "(rank 0:\na pointer to one value); result k is written to the buffer out<k>, "
            "which the caller\nallocates. Returns 0, or 1 if the workspace could not be "
            "allocated. No global state\nof its own (reentrant); outputs must not overlap the "
            "inputs.")


def _size_macros(name, params, in_avals, outs, out_avals) -> list[str]:
    lines = ["/* element counts of the arguments and results */"]
    items = [(f"IN{k}", p, a) for k, (p, a) in enumerate(zip(params, in_avals))]
    items += [(f"OUT{k}", o, a) for k, (o, a) in enumerate(zip(outs, out_avals))]
    for tag, p, a in items:
        n = int(np.prod(a.shape, dtype=np.int64))
        lines.append(f"#define {name.upper()}_{tag}_SIZE {n}  /* {p}: {aval_text(a)} */")
    return lines


# --------------------------------------------------------------------------- loading

def compiler() -> str | None:
    """The system C compiler (`$CC`, else cc / gcc / clang), or None."""
    for c in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if c and shutil.which(c):
            return shutil.which(c)
    return None


def compile_shared(exported, directory: str, flags=("-O2",), cc: str | None = None) -> str:
    """Compile the exported C into a shared library in directory; returns its path."""
    cc = cc or compiler()
    if cc is None:
        raise RuntimeError("export: no C compiler found (set $CC)")
    src = exported.save(os.path.join(directory, exported.name + ".c"))
    lib = os.path.join(directory, f"lib{exported.name}.so")
    cmd = [cc, *flags, "-shared", "-fPIC", "-o", lib, src, "-lm"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"export: {' '.join(cmd)} failed:\n{res.stderr}")
    return lib


_CTYPES = {np.dtype(np.float64): ctypes.c_double, np.dtype(np.float32): ctypes.c_float,
           np.dtype(np.int8): ctypes.c_int8, np.dtype(np.int16): ctypes.c_int16,
           np.dtype(np.int32): ctypes.c_int32, np.dtype(np.int64): ctypes.c_int64,
           np.dtype(np.uint8): ctypes.c_uint8, np.dtype(np.uint16): ctypes.c_uint16,
           np.dtype(np.uint32): ctypes.c_uint32, np.dtype(np.uint64): ctypes.c_uint64,
           np.dtype(np.bool_): ctypes.c_bool}


def load_c(exported, directory: str | None = None, flags=("-O2",), cc: str | None = None):
    """The exported C function compiled (into directory, else a temporary one) and wrapped
    with ctypes: it takes the flat arguments and returns the flat results (one array as it
    is, several as a tuple), like the Python targets."""
    directory = directory or tempfile.mkdtemp(prefix="numbax_export_")
    lib = ctypes.CDLL(compile_shared(exported, directory, flags, cc))
    fn = getattr(lib, exported.name)
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.POINTER(_CTYPES[np.dtype(a.dtype)])
                   for a in list(exported.in_avals) + list(exported.out_avals)]
    in_avals, out_avals = list(exported.in_avals), list(exported.out_avals)

    def call(*args):
        if len(args) != len(in_avals):
            raise TypeError(f"{exported.name} takes {len(in_avals)} arguments, got {len(args)}")
        ins = [np.ascontiguousarray(np.asarray(x, a.dtype)).reshape(a.shape)
               for x, a in zip(args, in_avals)]
        outs = [np.empty(a.shape, a.dtype) for a in out_avals]
        ptrs = [x.ctypes.data_as(t) for x, t in zip(ins + outs, fn.argtypes)]
        if fn(*ptrs):
            raise MemoryError(f"{exported.name}: the workspace could not be allocated")
        res = [o[()] if o.ndim == 0 else o for o in outs]
        return res[0] if len(res) == 1 else tuple(res)
    call.__name__ = exported.name
    call.library = lib
    return call
