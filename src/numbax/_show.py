"""`numbax.show(f)(*args)`: readable views of the program numbax stages (and optimises) for f.

    >>> import numpy as np, numbax
    >>> f = lambda x, A: x @ A @ x
    >>> print(numbax.show(numbax.grad(f))(np.ones(3), np.eye(3)))
    # (x: f64[3], A: f64[3,3]) -> f64[3]
    out = (A + A.T) @ x

The view is math-like text: values used once are written inside the expression that uses them,
values used more than once (and every output) are named once, inputs carry the function's
parameter names, closed-over arrays the names they have in the function's closure or globals.
The rewrites that make the text read like math (`x @ A + A @ x` shown as `(A + A.T) @ x`) are
made on the display tree only; `Shown.jaxpr` is the program that jit runs.
"""
from __future__ import annotations

import html
import inspect
import itertools
from collections import Counter
from typing import Callable

import numpy as np

from . import _expr as X
from .jaxpr import Jaxpr, JaxprEqn, Literal, Var, count_eqns, pp_jaxpr, subjaxprs
from .tree_util import tree_structure

__all__ = ["show", "Shown"]


def show(fun: Callable, *, optimize: bool = True, width: int | None = 100,
         inline_calls: bool = True) -> Callable[..., "Shown"]:
    """A function of fun's arguments returning a `Shown` view of fun's program at their shapes.

    optimize: run numbax.passes.optimize_jaxpr (as jit does) before showing.
    width: a subexpression whose text is longer than this is given a name of its own (None:
        never; only values used more than once are then named).
    inline_calls: splice the bodies of nested jit / checkpoint / custom_jvp / custom_vjp calls
        into the program before optimising it, as jit does when it compiles (False: keep them
        as calls, shown as named sub-blocks).
    """
    from .api import make_jaxpr

    def show_f(*args, **kwargs) -> Shown:
        staged, out_shape = make_jaxpr(fun, return_shape=True)(*args, **kwargs)
        jaxpr = _inline_calls(staged) if inline_calls else staged     # as jit does
        if optimize:
            from .passes import optimize_jaxpr
            jaxpr = optimize_jaxpr(jaxpr)
        in_names = _input_names(fun, args, kwargs)
        out_names = _output_names(tree_structure(out_shape))
        return Shown(jaxpr, in_names, out_names, staged=staged, width=width,
                     inline_calls=inline_calls, const_names=_closure_names(fun))

    try:
        show_f.__name__ = f"show({getattr(fun, '__name__', 'fun')})"
    except (TypeError, AttributeError):
        pass
    return show_f


class Shown:
    """The staged program of a function at given argument shapes, ready to read.

    `str()` / `.pretty()`: math-like expressions; `.jaxpr`: the jaxpr shown (nested calls
    inlined and optimised, unless show was told otherwise); `.staged`: the jaxpr as staged;
    `.equations`: its equation count (nested jaxprs included); `.to_dot()`: Graphviz DOT text;
    `.consts`: the named constant arrays shown in the legend; `.inputs` / `.outputs`: the names
    used for inputs and outputs."""

    def __init__(self, jaxpr: Jaxpr, in_names=None, out_names=None, *, staged: Jaxpr | None = None,
                 width: int | None = 100, inline_calls: bool = True,
                 const_names: dict | None = None):
        self.jaxpr = jaxpr
        self.staged = staged if staged is not None else jaxpr
        n_in, n_out = len(jaxpr.invars), len(jaxpr.outvars)
        self.inputs = list(in_names) if in_names and len(in_names) == n_in else \
            [_letter(i) for i in range(n_in)]
        self.outputs = list(out_names) if out_names and len(out_names) == n_out else \
            (["out"] if n_out == 1 else [f"out[{i}]" for i in range(n_out)])
        self._width = width
        self._inline_calls = inline_calls
        self._const_names = const_names or {}
        self._text = None
        self._consts: dict[str, np.ndarray] = {}

    @property
    def consts(self) -> dict:
        """name -> array for the constants the text refers to by name (its legend)."""
        self.pretty()
        return self._consts

    @property
    def equations(self) -> int:
        return count_eqns(self.jaxpr)

    def pretty(self) -> str:
        if self._text is None:
            self._text = _Printer(self).render()
        return self._text

    @property
    def lines(self) -> list[str]:
        """The program's statements, without the header comments."""
        return [ln for ln in self.pretty().splitlines() if not ln.startswith("#")]

    def __str__(self):
        return self.pretty()

    def __repr__(self):
        return self.pretty()

    def _repr_html_(self) -> str:
        n = self.equations
        raw = html.escape(pp_jaxpr(self.jaxpr))
        return (f"<pre>{html.escape(self.pretty())}</pre>\n<details><summary>jaxpr ({n} "
                f"equation{'s' if n != 1 else ''})</summary>\n<pre>{raw}</pre>\n</details>")

    def to_dot(self) -> str:
        return _to_dot(self.jaxpr, self.inputs, self.outputs, self._const_names)


# --------------------------------------------------------------------------- names

def _letter(i: int) -> str:
    s = ""
    while True:
        s = "abcdefghijklmnopqrstuvwxyz"[i % 26] + s
        i = i // 26 - 1
        if i < 0:
            return s


def _leaf_paths(treedef) -> list[str]:
    """`[0]`, `['w']`, `.field` suffixes naming each leaf of a pytree."""
    if treedef.node_type is None:
        return [""]
    t, out = treedef.node_type, []
    for i, child in enumerate(treedef.children):
        if t is dict:
            key = f"[{list(treedef.node_data)[i]!r}]"
        elif isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields"):
            key = f".{t._fields[i]}"
        else:
            key = f"[{i}]"
        out.extend(key + p for p in _leaf_paths(child))
    return out


def _param_names(fun, n: int) -> list[str]:
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return [f"args[{i}]" for i in range(n)]
    names = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            names.extend(f"{p.name}[{j}]" for j in range(n - len(names)))
            break
    names.extend(f"args[{i}]" for i in range(len(names), n))
    return names[:n]


def _input_names(fun, args, kwargs) -> list[str]:
    keys = sorted(kwargs)                   # keyword arguments flatten as a dict: sorted keys
    bases = _param_names(fun, len(args)) + keys
    names = []
    for base, a in zip(bases, list(args) + [kwargs[k] for k in keys]):
        names.extend(base + p for p in _leaf_paths(tree_structure(a)))
    return _unique(names)


def _output_names(treedef) -> list[str]:
    paths = _leaf_paths(treedef)
    return ["out" + p for p in paths]


def _unique(names: list[str]) -> list[str]:
    seen, out = set(), []
    for n in names:
        m, k = n, 1
        while m in seen:
            m, k = f"{n}_{k}", k + 1
        seen.add(m)
        out.append(m)
    return out


def _closure_names(fun) -> dict:
    """id(array) -> the name the function (or what it wraps) knows it by: closure cells first,
    then globals it mentions. Lets a closed-over matrix print as `A`, not `c0`."""
    out: dict = {}
    seen = set()
    stack = [fun]
    while stack:
        f = stack.pop()
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        stack.append(getattr(f, "__wrapped__", None))
        stack.append(getattr(f, "func", None))           # functools.partial
        code = getattr(f, "__code__", None)
        if code is None:
            continue
        cells = getattr(f, "__closure__", None) or ()
        for name, cell in zip(code.co_freevars, cells):
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            if isinstance(v, np.ndarray):
                out.setdefault(id(v), name)
            elif callable(v):
                stack.append(v)
        g = getattr(f, "__globals__", {})
        codes = [code]
        while codes:                     # the function's code and the code of its inner lambdas
            c = codes.pop()
            codes.extend(k for k in c.co_consts if inspect.iscode(k))
            for name in c.co_names:
                v = g.get(name)
                if isinstance(v, np.ndarray):
                    out.setdefault(id(v), name)
    return out


# --------------------------------------------------------------------------- the printer

_BINOPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "lt": "<", "le": "<=",
           "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "and": "&", "or": "|", "xor": "^"}
_FUNCS = {"logistic": "sigmoid", "is_finite": "isfinite", "max": "maximum", "min": "minimum",
          "erf_inv": "erfinv"}
_ELEMENTWISE = set(_BINOPS) | {
    "neg", "not", "integer_pow", "select_n", "rem", "max", "min", "atan2", "nextafter", "exp",
    "log", "log1p", "expm1", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "asinh", "acosh", "atanh", "logistic", "sqrt", "rsqrt", "cbrt", "erf", "erfc", "erf_inv",
    "lgamma", "digamma", "polygamma", "abs", "sign", "floor", "ceil", "round", "is_finite",
    "igamma", "igammac", "betainc", "ndtri", "stop_gradient"}
_REDUCTIONS = {"reduce_sum": "sum", "reduce_max": "max", "reduce_min": "min",
               "reduce_prod": "prod", "reduce_and": "all", "reduce_or": "any",
               "argmax": "argmax", "argmin": "argmin"}
_CALLS = {"jit": "jaxpr", "checkpoint": "jaxpr", "custom_jvp_call": "call_jaxpr",
          "custom_vjp_call": "call_jaxpr"}


def _dtype_fn(dtype) -> str:
    name = np.dtype(dtype).name
    return "bool_" if name == "bool" else name


def _axis_kw(axes, ndim):
    axes = tuple(int(a) for a in axes)
    if sorted(axes) == list(range(ndim)):
        return ()
    return (("axis", str(axes[0]) if len(axes) == 1 else X.shape_text(axes)),)


def _param_text(v) -> str:
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, tuple):
        inner = ", ".join(_param_text(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, str):
        return repr(v)
    return str(v)


def _is_base(e) -> bool:
    return e.is_atom or (isinstance(e, X.Call) and e.fn == "eye")


def _is_cheap(e) -> bool:
    """Worth repeating rather than naming: atoms, `eye(n)`, and one cheap step from those
    (`-x`, `A.T`, `x[0]`, a broadcast)."""
    if _is_base(e):
        return True
    if isinstance(e, (X.Broadcast, X.T, X.Index)) or (isinstance(e, X.Unary) and e.op == "-"):
        return _is_base(e.children()[0])
    return False


class _Printer:
    def __init__(self, shown: Shown):
        self.shown = shown
        self.width = shown._width
        self.used: set[str] = set()
        self.temps = itertools.count()
        self.const_count = itertools.count()
        self.block_count: Counter = Counter()
        self.const_by_id: dict = {}
        self.const_avals: dict = {}

    # -- names
    def fresh_temp(self) -> str:
        while True:
            n = f"t{next(self.temps)}"
            if n not in self.used:
                self.used.add(n)
                return n

    def fresh(self, base: str, taken: set) -> str:
        n, k = base, 0
        while n in taken or n in self.used:
            n, k = f"{base}{k}", k + 1
        return n

    def block_name(self, base: str) -> str:
        while True:
            k = self.block_count[base]
            self.block_count[base] += 1
            n = base if k == 0 else f"{base}{k}"
            if n not in self.used:
                self.used.add(n)
                return n

    def const_expr(self, value, aval) -> X.Expr:
        shape = tuple(aval.shape)
        try:
            arr = np.asarray(value)
        except Exception:  # noqa: BLE001  (a tracer: shown by name only)
            arr = None
        if arr is not None and arr.ndim > 0 and arr.size > 0:
            first = arr.reshape(-1)[0]
            if np.array_equal(arr, np.full(arr.shape, first), equal_nan=arr.dtype.kind == "f"):
                return X.Broadcast(X.Lit(first[()]), (), shape, numpy_style=True)
            if arr.ndim == 2 and arr.shape[0] == arr.shape[1] and \
                    np.array_equal(arr, np.eye(arr.shape[0], dtype=arr.dtype)):
                kw = () if arr.dtype == np.float64 else (("dtype", _dtype_fn(arr.dtype)),)
                return X.Call("eye", (X.Raw(str(arr.shape[0])),), kw, shape)
        known = self.const_by_id.get(id(value))
        if known is not None:
            return known
        base = self.shown._const_names.get(id(value))
        if base is None or base in self.used:
            while True:
                base = f"c{next(self.const_count)}"
                if base not in self.used:
                    break
        self.used.add(base)
        self.shown._consts[base] = value
        self.const_avals[base] = aval
        self.const_by_id[id(value)] = X.Name(base, shape)
        return self.const_by_id[id(value)]

    # -- top level
    def render(self) -> str:
        s = self.shown
        jaxpr = _inline_calls(s.jaxpr) if s._inline_calls else s.jaxpr
        self.used.update(s.inputs)
        self.used.update(s.outputs)
        self.used.add("out")
        env = {v: X.Name(n, tuple(v.aval.shape)) for v, n in zip(jaxpr.invars, s.inputs)}
        for v, c in zip(jaxpr.constvars, jaxpr.consts):
            env[v] = self.const_expr(c, v.aval)
        lines = self.block_body(jaxpr, env, "", s.outputs)
        sig = ", ".join(f"{n}: {v.aval.str_short()}" for n, v in zip(s.inputs, jaxpr.invars))
        outs = [v.aval.str_short() for v in jaxpr.outvars]
        head = [f"# ({sig}) -> {outs[0] if len(outs) == 1 else '(' + ', '.join(outs) + ')'}"]
        for name, value in s._consts.items():
            aval = self.const_avals[name]
            legend = f"# {name}: {aval.str_short()}"
            arr = np.asarray(value)
            if arr.size <= 8:
                legend += " = " + np.array2string(arr, separator=", ").replace("\n", "")
            head.append(legend)
        return "\n".join(head + lines)

    # -- a block of equations
    def block_body(self, jaxpr: Jaxpr, env: dict, indent: str, out_names=None) -> list[str]:
        """Statements for jaxpr's equations; with out_names, also the output assignments.
        Without, the caller renders `return` from `self.read(env, outvar)`."""
        lines: list[str] = []
        uses: Counter = Counter()
        producer: dict = {}
        for e in jaxpr.eqns:
            for v in e.invars:
                if type(v) is Var:
                    uses[v] += 1
            for v in e.outvars:
                producer[v] = e
        for v in jaxpr.outvars:
            if type(v) is Var:
                uses[v] += 1
        out_of: dict = {}
        if out_names is not None:
            for v, n in zip(jaxpr.outvars, out_names):
                if type(v) is Var and v in producer and v not in out_of:
                    out_of[v] = n

        for e in jaxpr.eqns:
            args = [self.read(env, v) for v in e.invars]
            if list(subjaxprs(e)):
                self.control(e, args, env, lines, indent, out_of, producer, uses)
                continue
            if e.primitive.multiple_results or not e.outvars:
                call = self.generic(e, args)
                if not e.outvars:
                    lines.append(indent + self.stmt(None, call, lines, indent))
                    continue
                self.multi(e, call, env, lines, indent, out_of, uses)
                continue
            expr = self.build(e, args, producer)
            v = e.outvars[0]
            if v in out_of:
                lines.append(indent + self.stmt(out_of[v], expr, lines, indent))
                env[v] = X.Name(out_of[v], tuple(v.aval.shape))
            elif (uses[v] == 1 and not getattr(e.primitive, "effectful", False)) or \
                    (uses[v] > 0 and _is_cheap(expr)):
                env[v] = expr
            else:
                expr = self.finish(expr, lines, indent)     # names it hoists come first
                t = self.fresh_temp()
                lines.append(f"{indent}{t} = {expr.render()}")
                env[v] = X.Name(t, tuple(v.aval.shape))

        if out_names is not None:
            for v, n in zip(jaxpr.outvars, out_names):
                if out_of.get(v) == n:
                    continue
                lines.append(indent + self.stmt(n, self.read(env, v), lines, indent))
        return lines

    def read(self, env, v) -> X.Expr:
        if type(v) is Literal:
            return X.Lit(v.val[()] if isinstance(v.val, np.ndarray) else v.val)
        return env[v]

    def stmt(self, lhs: str | None, expr: X.Expr, lines: list, indent: str) -> str:
        expr = self.finish(expr, lines, indent)
        return expr.render() if lhs is None else f"{lhs} = {expr.render()}"

    def finish(self, expr: X.Expr, lines: list, indent: str) -> X.Expr:
        expr = X.simplify(expr)
        if self.width:
            expr = self.hoist(expr, lines, indent)
        return expr

    def hoist(self, e: X.Expr, lines: list, indent: str) -> X.Expr:
        """Name the longest subexpressions until e's text fits in the width."""
        cs = e.children()
        if not cs:
            return e
        new = [self.hoist(c, lines, indent) for c in cs]
        e = e.with_children(new) if any(a is not b for a, b in zip(new, cs)) else e
        while len(e.render()) > self.width:
            cs = list(e.children())
            cand = [(len(c.render()), i) for i, c in enumerate(cs) if not _is_cheap(c)
                    and not isinstance(c, X.Seq)]
            if not cand:
                break
            _, i = max(cand)
            t = self.fresh_temp()
            lines.append(f"{indent}{t} = {cs[i].render()}")
            cs[i] = X.Name(t, cs[i].shape)
            e = e.with_children(cs)
        return e

    def multi(self, e, call, env, lines, indent, out_of, uses, blocks=()):
        call = self.finish(call, lines, indent)        # names it hoists come first
        names = []
        for v in e.outvars:
            if v in out_of:
                n = out_of[v]
            elif uses[v] == 0:
                n = "_"
            else:
                n = self.fresh_temp()
            names.append(n)
            if n != "_":
                env[v] = X.Name(n, tuple(v.aval.shape))
        lhs = ", ".join(names) if names else None
        lines.append(indent + self.stmt(lhs, call, lines, indent))
        for b in blocks:
            lines.extend(b)

    # -- one equation as an expression
    def build(self, e: JaxprEqn, args: list, producer: dict) -> X.Expr:
        name = e.primitive.name
        p = e.params
        out = e.outvars[0].aval
        shape = tuple(out.shape)
        in_avals = [v.aval for v in e.invars]
        if name in _BINOPS:
            op = _BINOPS[name]
            if name == "div" and out.dtype.kind in "iu":
                return X.elementwise(lambda a, b: X.Call("div", (a, b), (), shape), args, shape)
            return X.elementwise(lambda a, b: X.binary(op, a, b, shape), args, shape)
        if name == "neg":
            return X.neg(args[0])
        if name == "not":
            return X.Unary("~", args[0], shape)
        if name == "integer_pow":
            return X.Bin("**", args[0], X.Lit(int(p["y"])), shape)
        if name == "select_n":
            if len(args) == 3 and in_avals[0].dtype == np.bool_:
                return X.elementwise(lambda c, a, b: X.Call("where", (c, b, a), (), shape),
                                     args, shape)
            return X.elementwise(lambda *a: X.Call("select_n", a, (), shape), args, shape)
        if name == "convert_element_type":
            if in_avals[0].dtype == np.dtype(p["new_dtype"]):
                return args[0]
            if isinstance(args[0], X.Lit):
                return X.Lit(np.dtype(p["new_dtype"]).type(args[0].value)[()])
            return X.Call(_dtype_fn(p["new_dtype"]), (args[0],), (), shape)
        if name == "polygamma":
            return X.Call("polygamma", (X.Raw(str(p["m"])), args[0]), (), shape)
        if name in _ELEMENTWISE:
            fn = _FUNCS.get(name, name)
            extra = tuple((k, _param_text(v)) for k, v in sorted(p.items()))
            return X.elementwise(lambda *a: X.Call(fn, a, extra, shape), args, shape)
        if name in _REDUCTIONS:
            kw = _axis_kw(p["axes"], len(in_avals[0].shape))
            if name in ("argmax", "argmin"):
                kw = kw or (("axis", "0"),)
                return X.Call(_REDUCTIONS[name], (args[0],), kw, shape)
            return X.Call(_REDUCTIONS[name], (args[0],), kw, shape,
                          reduced=tuple(int(a) for a in p["axes"]))
        if name == "dot_general":
            return _dot_general(args, in_avals, p["dimension_numbers"], shape)
        if name == "transpose":
            perm = tuple(p["permutation"])
            if perm == (1, 0):
                return X.transpose(args[0])
            if perm == tuple(range(len(perm))):
                return args[0]
            return X.Call("transpose", (args[0], X.Raw(X.shape_text(perm))), (), shape)
        if name == "broadcast_in_dim":
            return _broadcast(args[0], in_avals[0].shape, shape, tuple(p["broadcast_dimensions"]))
        if name == "reshape":
            a = args[0]
            if isinstance(a, X.Call) and a.fn == "reshape":      # reshape of a reshape: one
                a = a.args[0]
            if tuple(a.shape) == shape:
                return a
            return X.Call("reshape", (a, X.Raw(X.shape_text(shape))), (), shape)
        if name == "squeeze":
            dims = tuple(int(d) for d in p["dimensions"])
            a = args[0]
            if isinstance(a, X.Index) and a.slices and all(
                    a.slices[d][1] - a.slices[d][0] == 1 and a.slices[d][2] == 1 for d in dims):
                return _index(a.x, a.slices, set(dims), shape)
            kw = (("axis", str(dims[0]) if len(dims) == 1 else X.shape_text(dims)),)
            return X.Call("squeeze", (args[0],), kw, shape)
        if name == "rev":
            dims = tuple(int(d) for d in p["dimensions"])
            kw = (("axis", str(dims[0]) if len(dims) == 1 else X.shape_text(dims)),)
            return X.Call("flip", (args[0],), kw, shape)
        if name == "concatenate":
            return X.Call("concatenate", (X.Seq(tuple(args), "[]"),),
                          (("axis", str(p["dimension"])),), shape)
        if name == "iota":
            if len(shape) == 1 and np.dtype(p["dtype"]) == np.int64:
                return X.Call("arange", (X.Raw(str(shape[0])),), (), shape)
            return X.Call("iota", (X.Raw(np.dtype(p["dtype"]).name), X.Raw(X.shape_text(shape)),
                                   X.Raw(str(p["dimension"]))), (), shape)
        if name == "slice":
            return _slice(args[0], in_avals[0].shape, p, shape)
        if name in ("cumsum", "cumprod", "cummax", "cummin"):
            kw = (("axis", str(p["axis"])),) + ((("reverse", "True"),) if p.get("reverse") else ())
            return X.Call(name, (args[0],), kw, shape)
        return self.generic(e, args)

    def generic(self, e: JaxprEqn, args) -> X.Expr:
        kw = tuple((k, _param_text(v)) for k, v in sorted(e.params.items())
                   if not isinstance(v, Jaxpr) and not callable(v) and k != "tree")
        shape = tuple(e.outvars[0].aval.shape) if len(e.outvars) == 1 else ()
        return X.Call(e.primitive.name, tuple(args), kw, shape)

    # -- equations holding jaxprs
    def atomize(self, args, lines, indent, keep_cheap=False) -> list:
        """Name operands that are not atoms, so sub-blocks can refer to them by name."""
        out = []
        for a in args:
            if not a.is_atom and not (keep_cheap and _is_cheap(a)):
                a = self.finish(a, lines, indent)
                t = self.fresh_temp()
                lines.append(f"{indent}{t} = {a.render()}")
                a = X.Name(t, a.shape)
            out.append(a)
        return out

    def sub_block(self, jaxpr: Jaxpr, name: str, closure: list, params: list[str], indent: str,
                  ret=None) -> list[str]:
        """`def name(params):` + body + `return ...`; the leading len(closure) invars are bound
        to the outer atoms in closure (constants the body reads), the rest are params."""
        env = {}
        for v, c in zip(jaxpr.constvars, jaxpr.consts):
            env[v] = self.const_expr(c, v.aval)
        k = len(closure)
        for v, a in zip(jaxpr.invars[:k], closure):
            env[v] = a
        for v, n in zip(jaxpr.invars[k:], params):
            env[v] = X.Name(n, tuple(v.aval.shape))
        inner = indent + "    "
        body = self.block_body(jaxpr, env, inner)
        outs = [self.read(env, v) for v in jaxpr.outvars]
        if ret is not None:
            r = ret(outs)
        else:
            r = outs[0] if len(outs) == 1 else X.Seq(tuple(outs))
        r = self.finish(r, body, inner)
        text = r.render()
        if isinstance(r, X.Seq) and len(r.items) > 1:
            text = text[1:-1]
        return [f"{indent}def {name}({', '.join(params)}):", *body, f"{inner}return {text}"]

    def op_params(self, ops) -> list[str]:
        """Parameter names for a block called on ops: an operand's own name where it has one."""
        taken = {a.text for a in ops if isinstance(a, X.Name)}
        params: list[str] = []
        for i, a in enumerate(ops):
            if isinstance(a, X.Name) and a.text.isidentifier() and a.text not in params:
                params.append(a.text)
            else:
                params.append(self.fresh(f"arg{i}", taken | set(params)))
        return params

    def params_for(self, base: str, n: int, taken: set) -> list[str]:
        if n == 1:
            names = [self.fresh(base, taken)]
        else:
            names = []
            for i in range(n):
                names.append(self.fresh(f"{base}{i}", taken | set(names)))
        return names

    def control(self, e, args, env, lines, indent, out_of, producer, uses):
        name = e.primitive.name
        p = e.params
        inner = indent + "    "
        if name == "cond":
            idx, ops = args[0], self.atomize(args[1:], lines, indent)
            branches = p["branches"]
            params = self.op_params(ops)
            pred_var = e.invars[0]
            pe = producer.get(pred_var) if type(pred_var) is Var else None
            if len(branches) == 2 and pe is not None and pe.primitive.name == \
                    "convert_element_type" and pe.invars[0].aval.dtype == np.bool_:
                # the bool itself, unless the int index was named (used more than once)
                pred = idx if isinstance(idx, X.Name) else self.read(env, pe.invars[0])
                t_name, f_name = self.block_name("true_branch"), self.block_name("false_branch")
                call = X.Call("cond", (pred, X.Raw(t_name), X.Raw(f_name), *ops), ())
                blocks = [self.sub_block(branches[1], t_name, [], params, inner),
                          self.sub_block(branches[0], f_name, [], params, inner)]
            else:
                names = [self.block_name("branch") for _ in branches]
                call = X.Call("switch", (idx, X.Seq(tuple(X.Raw(n) for n in names), "[]"), *ops))
                blocks = [self.sub_block(b, n, [], params, inner) for b, n in zip(branches, names)]
            self.multi(e, call, env, lines, indent, out_of, uses, blocks)
            return
        if name == "while":
            cn, bn = p["cond_nconsts"], p["body_nconsts"]
            args = self.atomize(args[:cn + bn], lines, indent) + args[cn + bn:]
            cc, bc, init = args[:cn], args[cn:cn + bn], args[cn + bn:]
            taken = {a.text for a in args if isinstance(a, X.Name)}
            carry = self.params_for("carry", len(init), taken)
            c_name, b_name = self.block_name("cond_fun"), self.block_name("body_fun")
            call = X.Call("while_loop", (X.Raw(c_name), X.Raw(b_name), X.Seq(tuple(init))))
            blocks = [self.sub_block(p["cond_jaxpr"], c_name, cc, carry, inner),
                      self.sub_block(p["body_jaxpr"], b_name, bc, carry, inner,
                                     ret=lambda outs: X.Seq(tuple(outs)))]
            self.multi(e, call, env, lines, indent, out_of, uses, blocks)
            return
        if name == "scan":
            nc, nk = p["num_consts"], p["num_carry"]
            args = self.atomize(args[:nc], lines, indent) + args[nc:]
            consts, init, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
            taken = {a.text for a in args if isinstance(a, X.Name)}
            carry = self.params_for("carry", nk, taken)
            xt = self.params_for("xt", len(xs), taken | set(carry))
            b_name = self.block_name("body")
            kw = (("length", str(p["length"])),) + ((("reverse", "True"),) if p["reverse"] else ())
            call = X.Call("scan", (X.Raw(b_name), X.Seq(tuple(init)), X.Seq(tuple(xs))), kw)
            blocks = [self.sub_block(p["jaxpr"], b_name, consts, carry + xt, inner,
                                     ret=lambda outs: X.Seq((X.Seq(tuple(outs[:nk])),
                                                             X.Seq(tuple(outs[nk:])))))]
            self.multi(e, call, env, lines, indent, out_of, uses, blocks)
            return
        # any other primitive holding jaxprs (jit when not inlined, custom_jvp_call, ...)
        args = self.atomize(args, lines, indent, keep_cheap=True)
        params = self.op_params(args)
        blocks, refs = [], []
        for k, v in sorted(p.items()):
            subs = [v] if isinstance(v, Jaxpr) else \
                [q for q in v if isinstance(q, Jaxpr)] if isinstance(v, tuple) else []
            for s in subs:
                bname = self.block_name("fun" if k in ("jaxpr", "call_jaxpr") else
                                        k.replace("_jaxpr", ""))
                refs.append(X.Raw(bname))
                n_in = len(s.invars)
                blocks.append(self.sub_block(s, bname, [], params[-n_in:] if n_in else [],
                                             inner))
        kw = tuple((k, _param_text(v)) for k, v in sorted(p.items())
                   if not isinstance(v, (Jaxpr, tuple)) and not callable(v)
                   and k not in ("name",))
        call = X.Call(name, (*refs, *args), kw)
        self.multi(e, call, env, lines, indent, out_of, uses, blocks)


# --------------------------------------------------------------------------- expression rules

def _broadcast(x: X.Expr, in_shape, shape, dims) -> X.Expr:
    in_shape, shape = tuple(in_shape), tuple(shape)
    if in_shape == shape and dims == tuple(range(len(shape))):
        return x
    if isinstance(x, X.Broadcast):              # a broadcast of a broadcast is one broadcast
        dims = tuple(dims[d] for d in x.dims)
        x, in_shape = x.x, tuple(x.x.shape)
    n, m = len(in_shape), len(shape)
    numpy_style = dims == tuple(range(m - n, m))
    return X.Broadcast(x, dims, shape, numpy_style=numpy_style)


def _slice(x, in_shape, p, shape):
    strides = p.get("strides") or (1,) * len(in_shape)
    slices = tuple((int(s), int(lim), int(st), int(n)) for s, lim, st, n in
                   zip(p["start_indices"], p["limit_indices"], strides, in_shape))
    return _index(x, slices, (), shape)


def _index(x, slices, squeezed, shape):
    """x[...] from per-axis (start, limit, stride, size); squeezed axes (of length one) are
    written as integer indices, `x[0]` for squeeze(x[:1])."""
    parts = []
    for d, (s, lim, st, n) in enumerate(slices):
        if d in squeezed:
            parts.append(str(s))
            continue
        if s == 0 and lim == n and st == 1:
            parts.append(":")
            continue
        txt = f"{s if s else ''}:{lim if lim != n else ''}"
        if st != 1:
            txt += f":{st}"
        parts.append(txt)
    while parts and parts[-1] == ":" and len(parts) > 1:
        parts.pop()
    return X.Index(x, ", ".join(parts), shape, () if squeezed else slices)


def _dot_general(args, in_avals, dimension_numbers, shape) -> X.Expr:
    (lc, rc), (lb, rb) = dimension_numbers
    L, R = args
    nl, nr = len(in_avals[0].shape), len(in_avals[1].shape)
    if not lb and not rb:
        if len(lc) == 1 and 1 <= nl <= 2 and 1 <= nr <= 2:
            L2 = L if (nl == 1 or lc[0] == 1) else X.transpose(L)
            R2 = R if (nr == 1 or rc[0] == 0) else X.transpose(R)
            return X.Bin("@", L2, R2, shape)
        if not lc and (nl == 0 or nr == 0):
            return X.Bin("*", L, R, shape)
        if not lc and nl == 1 and nr == 1:
            return X.Call("outer", (L, R), (), shape)
    letters = iter("ijklmnopqrstuvwxyzabcdefgh")
    ls = [None] * nl
    rs = [None] * nr
    for a, b in zip(lb, rb):
        ls[a] = rs[b] = next(letters)
    for a, b in zip(lc, rc):
        ls[a] = rs[b] = next(letters)
    for i in range(nl):
        if ls[i] is None:
            ls[i] = next(letters)
    for i in range(nr):
        if rs[i] is None:
            rs[i] = next(letters)
    out = [ls[a] for a in lb] + [ls[i] for i in range(nl) if i not in lb and i not in lc] + \
        [rs[i] for i in range(nr) if i not in rb and i not in rc]
    spec = f"'{''.join(ls)},{''.join(rs)}->{''.join(out)}'"
    return X.Call("einsum", (X.Raw(spec), L, R), (), shape)


# --------------------------------------------------------------------------- inlining calls

def _inline_calls(jaxpr: Jaxpr) -> Jaxpr:
    """A copy of jaxpr with jit / checkpoint / custom_jvp / custom_vjp calls replaced by their
    bodies (recursively, also inside loop bodies and branches). Display only."""
    eqns: list[JaxprEqn] = []
    constvars, consts = list(jaxpr.constvars), list(jaxpr.consts)
    const_of = {id(c): v for v, c in zip(constvars, consts)}
    sub: dict = {}

    def r(v):
        return sub.get(v, v) if type(v) is Var else v

    changed = False
    for e in jaxpr.eqns:
        invars = [r(v) for v in e.invars]
        key = _CALLS.get(e.primitive.name)
        if key is not None and isinstance(e.params.get(key), Jaxpr):
            changed = True
            inner = _inline_calls(e.params[key])
            m: dict = {}
            for cv, c in zip(inner.constvars, inner.consts):
                nv = const_of.get(id(c))
                if nv is None:
                    nv = const_of[id(c)] = Var(cv.aval)
                    constvars.append(nv)
                    consts.append(c)
                m[cv] = nv
            m.update(zip(inner.invars, invars))
            for ie in inner.eqns:
                outs = [Var(o.aval) for o in ie.outvars]
                m.update(zip(ie.outvars, outs))
                eqns.append(JaxprEqn(ie.primitive, [m.get(v, v) if type(v) is Var else v
                                                    for v in ie.invars], ie.params, outs))
            for o, io in zip(e.outvars, inner.outvars):
                sub[o] = m.get(io, io) if type(io) is Var else io
            continue
        params = e.params
        if any(True for _ in subjaxprs(e)):
            params = {k: _inline_param(v) for k, v in e.params.items()}
            changed = True
        eqns.append(JaxprEqn(e.primitive, invars, params, e.outvars)
                    if changed else e)
    if not changed:
        return jaxpr
    return Jaxpr(constvars, jaxpr.invars, [r(v) for v in jaxpr.outvars], eqns, consts)


def _inline_param(v):
    if isinstance(v, Jaxpr):
        return _inline_calls(v)
    if isinstance(v, tuple):
        return tuple(_inline_param(q) for q in v)
    return v


# --------------------------------------------------------------------------- Graphviz

def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _to_dot(jaxpr: Jaxpr, in_names, out_names, const_names=None) -> str:
    """DOT text: inputs (blue), constants (notes), one box per equation (primitive and result
    types), literals as plain text, outputs (yellow); nested jaxprs as dashed clusters."""
    const_names = const_names or {}
    lines = ["digraph jaxpr {", "  rankdir=TB;", "  compound=true;",
             '  node [fontname="Helvetica", fontsize=10];', '  edge [fontsize=9];']
    ids = itertools.count()
    clusters = itertools.count(1)

    def node(label, indent, **attrs) -> str:
        nid = f"n{next(ids)}"
        a = ", ".join(f"{k}={_dot_str(str(v))}" for k, v in {"label": label, **attrs}.items())
        lines.append(f"{indent}{nid} [{a}];")
        return nid

    def graph(jx: Jaxpr, indent: str, in_labels, top: bool) -> str | None:
        src: dict = {}
        for v, c in zip(jx.constvars, jx.consts):
            src[v] = (node(f"{const_names.get(id(c), 'const')}\n{v.aval.str_short()}", indent,
                           shape="note"), None)
        for v, n in zip(jx.invars, in_labels):
            src[v] = (node(f"{n}\n{v.aval.str_short()}", indent, shape="ellipse",
                           style="filled", fillcolor="lightblue"), None)

        def edge_from(v, dst, indent):
            if type(v) is Literal:
                lit = node(X.format_number(v.val[()] if isinstance(v.val, np.ndarray)
                                           else v.val), indent, shape="plaintext")
                lines.append(f"{indent}{lit} -> {dst};")
                return
            s, k = src[v]
            lab = f" [label={_dot_str(str(k))}]" if k is not None else ""
            lines.append(f"{indent}{s} -> {dst}{lab};")

        for e in jx.eqns:
            outs = ", ".join(v.aval.str_short() for v in e.outvars)
            label = f"{e.primitive.name}\n{outs}" if outs else e.primitive.name
            subs = []
            for k, v in sorted(e.params.items()):
                if isinstance(v, Jaxpr):
                    subs.append((f"{e.primitive.name}: {k}", v))
                elif isinstance(v, tuple):
                    js = [q for q in v if isinstance(q, Jaxpr)]
                    subs.extend((f"{e.primitive.name}: {k}[{i}]", q) for i, q in enumerate(js))
            nid = node(label, indent, shape="box", style="rounded,bold" if subs else "rounded")
            for v in e.invars:
                edge_from(v, nid, indent)
            multi = len(e.outvars) > 1
            for i, v in enumerate(e.outvars):
                src[v] = (nid, i if multi else None)
            for title, s in subs:
                c = next(clusters)
                lines.append(f"{indent}subgraph cluster_{c} {{")
                lines.append(f"{indent}  label={_dot_str(title)};")
                lines.append(f'{indent}  style=dashed;')
                anchor = graph(s, indent + "  ", [f"in{i}" for i in range(len(s.invars))], False)
                lines.append(f"{indent}}}")
                lines.append(f"{indent}{nid} -> {anchor} [lhead=cluster_{c}, style=dashed, "
                             f"arrowhead=odot];")
        if top:
            for v, n in zip(jx.outvars, out_names):
                o = node(f"{n}\n{v.aval.str_short()}", indent, shape="ellipse", style="filled",
                         fillcolor="lightyellow")
                edge_from(v, o, indent)
            return None
        ret = node("return", indent, shape="box", style="rounded,dashed")
        for v in jx.outvars:
            edge_from(v, ret, indent)
        return ret

    graph(jaxpr, "  ", in_names, True)
    lines.append("}")
    return "\n".join(lines) + "\n"
