"""What every export target shares: staging, names, literals, and the description of the
exported function's arguments and results."""
from __future__ import annotations

import base64
import builtins
import io
import keyword
import math
import re
import tokenize

import numpy as np

from ..jaxpr import Jaxpr, JaxprEqn, Literal, Var


# --------------------------------------------------------------------------- staging

class Signature:
    """The flat signature of an exported function: argument names and avals, result avals, and
    the pytrees they flatten."""

    def __init__(self, arg_names, in_avals, out_avals, in_tree, out_tree):
        self.arg_names = list(arg_names)
        self.in_avals = list(in_avals)
        self.out_avals = list(out_avals)
        self.in_tree = in_tree
        self.out_tree = out_tree


def stage(f, args, kwargs):
    """(staged jaxpr, Signature) of f at the example arguments, as `jit(f).lower` stages it."""
    from ..api import Jitted
    from ..tree_util import tree_flatten
    jitted = f if isinstance(f, Jitted) else Jitted(f)
    statics, dyn_args, dyn_kwargs, static_pos = jitted._split(args, kwargs)
    jaxpr, out_tree, tracer_consts = jitted._trace(statics, dyn_args, dyn_kwargs, static_pos,
                                                   len(args))
    if tracer_consts:
        raise TypeError("export: f closes over values of an enclosing transformation")
    _, in_tree = tree_flatten((dyn_args, dyn_kwargs))
    fun = jitted.fun
    names = _leaf_names(fun, [a for i, a in enumerate(args) if i not in static_pos], dyn_kwargs)
    return jaxpr, Signature(names, jaxpr.in_avals, jaxpr.out_avals, in_tree, out_tree)


def _leaf_names(fun, args, kwargs) -> list[str]:
    """A readable name for every flat argument: the parameter's name, with the leaf's position
    inside it for pytree arguments (`params_0`, `params_1`)."""
    import inspect

    from ..tree_util import tree_flatten
    try:
        params = [p.name for p in inspect.signature(fun).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = []
    items = [(params[i] if i < len(params) else f"arg{i}", a) for i, a in enumerate(args)]
    items += list(kwargs.items())
    for base, a in items:
        n = len(tree_flatten(a)[0])
        names += [base] if n == 1 else [f"{base}_{j}" for j in range(n)]
    return names


def default_name(f) -> str:
    fun = getattr(f, "fun", f)
    name = getattr(fun, "__name__", None)
    return "exported" if not name or name == "<lambda>" else name


# --------------------------------------------------------------------------- names

PY_RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {
    "np", "numpy", "scipy", "math", "numba", "types", "intrinsic", "ir", "os"}

C_RESERVED = frozenset("""auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed sizeof static struct
switch typedef union unsigned void volatile while _Bool _Complex _Imaginary bool true false
int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t size_t ws main NAN INFINITY
exp expf log logf log1p log1pf expm1 expm1f sin sinf cos cosf tan tanf asin asinf acos acosf atan
atanf sinh sinhf cosh coshf tanh tanhf asinh asinhf acosh acoshf atanh atanhf sqrt sqrtf cbrt
cbrtf erf erff erfc erfcf lgamma lgammaf tgamma floor floorf ceil ceilf fabs fabsf fmod fmodf pow
powf atan2 atan2f nextafter nextafterf nearbyint nearbyintf round rint trunc isfinite isnan
isinf signgam abs labs malloc free calloc realloc memcpy memset memmove printf exit abort errno
""".split())


def sanitize(name: str, reserved=PY_RESERVED) -> str:
    """name as an identifier: other characters become `_`, a leading digit or a reserved word
    gets a trailing or leading `_`."""
    pattern = r"[^0-9A-Za-z_]" if reserved is C_RESERVED else r"\W"
    s = re.sub(pattern, "_", str(name)) or "x"
    if s[0].isdigit():
        s = "_" + s
    if s in reserved or keyword.iskeyword(s):
        s += "_"
    return s


def check_name(name: str, reserved=PY_RESERVED) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or \
            name in reserved or name.startswith("_"):
        raise ValueError(f"export: name={name!r} is not usable as the exported function's name "
                         "(it must be an identifier that does not start with '_' and is not a "
                         "keyword or a reserved name)")
    return name


class Namer:
    """Fresh local names `a, b, ..., z, ba, bb, ...` (the jaxpr printer's style), skipping
    keywords and names already taken."""

    def __init__(self, taken=(), reserved=PY_RESERVED):
        self.taken = set(taken)
        self.reserved = reserved
        self.n = 0

    def take(self, name: str) -> str:
        self.taken.add(name)
        return name

    def fresh(self) -> str:
        while True:
            s, k = "", self.n
            self.n += 1
            while True:
                s = chr(ord("a") + k % 26) + s
                k //= 26
                if not k:
                    break
            if s not in self.taken and s not in self.reserved and not keyword.iskeyword(s):
                self.taken.add(s)
                return s

    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken or name in self.reserved:
            name = f"{base}_{k}"
            k += 1
        self.taken.add(name)
        return name


def param_names(names, reserved=PY_RESERVED) -> list[str]:
    """Distinct identifiers for the flat arguments."""
    out, seen = [], set()
    for n in names:
        s = sanitize(n, reserved).lstrip("_") or "x"
        if s[0].isdigit():
            s = "x" + s
        base, k = s, 1
        while s in seen or s in reserved:
            s = f"{base}_{k}"
            k += 1
        seen.add(s)
        out.append(s)
    return out


# --------------------------------------------------------------------------- tokens

def rename_tokens(source: str, mapping: dict, attrs: dict | None = None) -> str:
    """source with every name token in mapping replaced (not attribute names after a `.`), and
    `prefix.attr` (prefix a name in attrs) replaced by attrs[prefix] + attr."""
    attrs = attrs or {}
    toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    edits = []  # (row, col_start, col_end, text)
    prev = None
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.type == tokenize.NAME and not (prev is not None and prev.type == tokenize.OP
                                            and prev.string == "."):
            if t.string in attrs and i + 2 < len(toks) and toks[i + 1].string == "." and \
                    toks[i + 2].type == tokenize.NAME:
                a = toks[i + 2]
                edits.append((t.start[0], t.start[1], a.end[1], attrs[t.string] + a.string))
                prev = a
                i += 3
                continue
            if t.string in mapping:
                edits.append((t.start[0], t.start[1], t.end[1], mapping[t.string]))
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                          tokenize.DEDENT):
            prev = t
        i += 1
    for row, c0, c1, text in sorted(edits, reverse=True):
        ln = lines[row - 1]
        lines[row - 1] = ln[:c0] + text + ln[c1:]
    return "".join(lines)


def names_in(source: str) -> set:
    return {t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type == tokenize.NAME}


# --------------------------------------------------------------------------- literals

def npt(dtype) -> str:
    """The numpy scalar type of dtype, as source (`np.float64`; `np.bool_` for bool, which
    numpy < 2 spells only that way)."""
    dtype = np.dtype(dtype)
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


def float_text(v: float) -> str:
    """Python source for a float (np.nan / np.inf for the non-finite ones)."""
    v = float(v)
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)


def py_scalar(value, dtype, bare: bool = False) -> str:
    """A typed numpy scalar (`np.float32(0.5)`), or a bare Python literal where `bare` and
    numpy's promotion makes it the same thing (float64, int64, bool next to an array)."""
    dtype = np.dtype(dtype)
    v = np.asarray(value).astype(dtype)[()]
    if dtype.kind == "b":
        text = "True" if v else "False"
        return text if bare else f"np.bool_({text})"
    if dtype.kind == "f":
        text = float_text(float(v))
        if bare and dtype == np.float64:
            return text
    else:
        text = str(int(v))
        if bare and dtype == np.int64:
            return text
    return f"{npt(dtype)}({text})"


def py_array(value, dtype=None) -> str:
    """Python source rebuilding a constant array exactly (base64 bytes when it is large)."""
    a = np.asarray(value, dtype)
    dt = a.dtype
    if a.ndim == 0:
        return py_scalar(a[()], dt)
    if a.size <= 64:
        if dt.kind == "f":
            items = [float_text(x) for x in a.ravel().tolist()]
        elif dt.kind == "b":
            items = ["True" if x else "False" for x in a.ravel().tolist()]
        else:
            items = [str(int(x)) for x in a.ravel().tolist()]
        return f"np.array([{', '.join(items)}], {npt(dt)}).reshape({a.shape})"
    data = base64.b64encode(np.ascontiguousarray(a).astype(dt.newbyteorder("<")).tobytes())
    return (f"np.frombuffer(base64.b64decode(\"{data.decode()}\"), np.dtype({npt(dt)})"
            f".newbyteorder('<')).astype({npt(dt)}).reshape({a.shape})")


# --------------------------------------------------------------------------- descriptions

def aval_text(a) -> str:
    return f"{np.dtype(a.dtype).name}[{', '.join(map(str, a.shape))}]"


def describe(sig: Signature, params: list[str], target: str, name: str, comment: str = "") -> str:
    """The docstring / header comment of an exported function."""
    lines = [f"{name}: exported by numbax (target {target!r}).", ""]
    lines.append("Arguments (the flat leaves of the example arguments, in pytree order):")
    for p, n, a in zip(params, sig.arg_names, sig.in_avals):
        lines.append(f"    {p}: {aval_text(a)}" + (f"    ({n})" if n != p else ""))
    if not sig.in_avals:
        lines.append("    (none)")
    lines.append("Results (the flat leaves of the result, in pytree order):")
    for i, a in enumerate(sig.out_avals):
        lines.append(f"    {i}: {aval_text(a)}")
    if not sig.out_avals:
        lines.append("    (none)")
    lines.append(f"Argument pytree: {sig.in_tree}")
    lines.append(f"Result pytree: {sig.out_tree}")
    if comment:
        lines += [""] + comment.splitlines()
    return "\n".join(lines)


# --------------------------------------------------------------------------- jaxprs

def single_equation(eqn: JaxprEqn) -> Jaxpr:
    """A jaxpr computing one equation from fresh inputs (one per operand, literals included)."""
    ins = [Var(v.aval) for v in eqn.invars]
    outs = [Var(v.aval) for v in eqn.outvars]
    return Jaxpr([], ins, outs, [JaxprEqn(eqn.primitive, ins, eqn.params, outs)])


def is_literal(v) -> bool:
    return type(v) is Literal


def sub_jaxprs(params: dict) -> list:
    out = []
    for v in params.values():
        if isinstance(v, Jaxpr):
            out.append(v)
        elif isinstance(v, (tuple, list)):
            out += [x for x in v if isinstance(x, Jaxpr)]
    return out


def primitives_of(jaxpr: Jaxpr) -> set:
    """Every primitive name in jaxpr and its sub-jaxprs."""
    names = set()
    for e in jaxpr.eqns:
        names.add(e.primitive.name)
        for j in sub_jaxprs(e.params):
            names |= primitives_of(j)
    return names


def doc_text(doc: str) -> str:
    """doc, safe inside a triple-quoted Python string."""
    return doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def module_doc(name: str, target: str) -> str:
    return (f"{name}: exported by numbax (target {target!r}); nothing of numbax is imported at "
            f"run time.\n\nThe docstring of {name} lists its arguments and results.")
