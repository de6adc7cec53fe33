"""Expression trees for `numbax.show`: nodes that render as math-like (and, for the plain-numpy
subset, valid Python) text with the fewest parentheses Python's precedence allows, and the
display-only rewrites (transpose of transpose, `P @ x + Q @ x -> (P + Q) @ x`).

Nothing here touches a program that runs: these trees exist only to be printed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Python's precedence levels (higher binds tighter)
CMP, OR, XOR, AND, ADD, MUL, UNARY, POW, ATOM = 5, 6, 7, 8, 10, 11, 12, 13, 16

BIN_PREC = {"|": OR, "^": XOR, "&": AND, "+": ADD, "-": ADD, "*": MUL, "/": MUL, "@": MUL,
            "**": POW, "<": CMP, "<=": CMP, ">": CMP, ">=": CMP, "==": CMP, "!=": CMP}


class Expr:
    """A node. `shape` is the value's shape (used by the rewrites), `prec` its binding power."""
    shape: tuple
    prec = ATOM

    def children(self) -> tuple:
        return ()

    def with_children(self, children) -> "Expr":
        return self

    def render(self) -> str:
        raise NotImplementedError

    def __str__(self):
        return self.render()

    @property
    def is_atom(self) -> bool:
        return isinstance(self, (Name, Lit, Raw))


@dataclass(frozen=True)
class Name(Expr):
    text: str
    shape: tuple = ()

    def render(self):
        return self.text


@dataclass(frozen=True)
class Raw(Expr):
    """Static text: shapes, axes, einsum specs, block names."""
    text: str
    shape: tuple = ()

    def render(self):
        return self.text


def format_number(val) -> str:
    """1.0 -> 1, 0.5 -> 0.5, 1e-10 -> 1e-10, inf -> inf, True -> True."""
    if isinstance(val, (bool, np.bool_)):
        return "True" if val else "False"
    if isinstance(val, (int, np.integer)):
        return str(int(val))
    v = float(val)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    # the shortest text that round-trips at the value's own precision (0.1 for float32 0.1)
    return str(val) if isinstance(val, np.floating) else repr(v)


@dataclass(frozen=True)
class Lit(Expr):
    value: Any
    shape: tuple = ()

    def __eq__(self, other):
        return type(other) is Lit and self.render() == other.render() and self.shape == other.shape

    def __hash__(self):
        return hash(("Lit", self.render()))

    @property
    def prec(self):
        return UNARY if self.render().startswith("-") else ATOM

    def render(self):
        return format_number(self.value)


@dataclass(frozen=True)
class Bin(Expr):
    op: str
    a: Expr
    b: Expr
    shape: tuple = ()

    @property
    def prec(self):
        return BIN_PREC[self.op]

    def children(self):
        return (self.a, self.b)

    def with_children(self, cs):
        return Bin(self.op, cs[0], cs[1], self.shape)

    def render(self):
        p = self.prec
        a, b = self.a, self.b
        sa, sb = a.render(), b.render()
        if a.prec < p or (self.op == "**" and a.prec <= p) or (p == CMP and a.prec == CMP) \
                or _mixes_matmul(self, a):
            sa = f"({sa})"
        if self.op == "**":
            if b.prec < UNARY:
                sb = f"({sb})"
            return f"{sa}**{sb}"
        if b.prec <= p:
            sb = f"({sb})"
        return f"{sa} {self.op} {sb}"


def _mixes_matmul(parent: Bin, child: Expr) -> bool:
    """`(X @ w) * t` rather than `X @ w * t`: same value, but humans misread the latter."""
    return isinstance(child, Bin) and child.prec == MUL == parent.prec and \
        (child.op == "@") != (parent.op == "@")


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-" or "~"
    x: Expr
    shape: tuple = ()
    prec = UNARY

    def children(self):
        return (self.x,)

    def with_children(self, cs):
        return Unary(self.op, cs[0], self.shape)

    def render(self):
        s = self.x.render()
        return f"{self.op}({s})" if self.x.prec <= UNARY else f"{self.op}{s}"


@dataclass(frozen=True)
class T(Expr):
    """The transpose of a 2-D value, `x.T`."""
    x: Expr
    shape: tuple = ()

    def children(self):
        return (self.x,)

    def with_children(self, cs):
        return transpose(cs[0])

    def render(self):
        s = self.x.render()
        return f"{s}.T" if self.x.prec >= ATOM and not _is_negative_lit(self.x) else f"({s}).T"


def _is_negative_lit(e) -> bool:
    return isinstance(e, Lit) and e.prec == UNARY


@dataclass(frozen=True)
class Index(Expr):
    """`x[1:3, ::2]`; `slices` keeps (start, limit, stride, size) per axis for later rewrites."""
    x: Expr
    index: str
    shape: tuple = ()
    slices: tuple = field(default=(), compare=False)

    def children(self):
        return (self.x,)

    def with_children(self, cs):
        return Index(cs[0], self.index, self.shape, self.slices)

    def render(self):
        s = self.x.render()
        s = s if self.x.prec >= ATOM and not _is_negative_lit(self.x) else f"({s})"
        return f"{s}[{self.index}]"


@dataclass(frozen=True)
class Call(Expr):
    fn: str
    args: tuple
    kwargs: tuple = ()          # ((name, text), ...)
    shape: tuple = ()
    reduced: tuple = field(default=(), compare=False)   # a reduction's axes (for keepdims)

    def children(self):
        return self.args

    def with_children(self, cs):
        return Call(self.fn, tuple(cs), self.kwargs, self.shape, self.reduced)

    def render(self):
        parts = [a.render() for a in self.args] + [f"{k}={v}" for k, v in self.kwargs]
        return f"{self.fn}({', '.join(parts)})"


@dataclass(frozen=True)
class Seq(Expr):
    """A bracketed list or tuple of expressions, `[a, b]` / `(a, b)`."""
    items: tuple
    brackets: str = "()"
    shape: tuple = ()

    def children(self):
        return self.items

    def with_children(self, cs):
        return Seq(tuple(cs), self.brackets, self.shape)

    def render(self):
        inner = ", ".join(i.render() for i in self.items)
        if self.brackets == "()" and len(self.items) == 1:
            inner += ","
        return f"{self.brackets[0]}{inner}{self.brackets[1]}"


@dataclass(frozen=True)
class Broadcast(Expr):
    """broadcast_in_dim; `numpy_style` when numpy broadcasting of x against `shape` means the
    same thing (x's axes are the trailing ones), so an elementwise operation next to a value of
    the full shape may show x itself."""
    x: Expr
    dims: tuple
    shape: tuple = ()
    numpy_style: bool = field(default=False, compare=False)

    def children(self):
        return (self.x,)

    def with_children(self, cs):
        return Broadcast(cs[0], self.dims, self.shape, self.numpy_style)

    def render(self):
        if self.numpy_style:
            return f"broadcast_to({self.x.render()}, {shape_text(self.shape)})"
        return (f"broadcast_in_dim({self.x.render()}, {shape_text(self.shape)}, "
                f"{shape_text(self.dims)})")


def shape_text(t) -> str:
    t = tuple(int(i) for i in t)
    return f"({t[0]},)" if len(t) == 1 else "(" + ", ".join(map(str, t)) + ")"


# --------------------------------------------------------------------------- smart constructors

def transpose(x: Expr) -> Expr:
    if isinstance(x, T):
        return x.x
    if isinstance(x, (Lit,)) or len(x.shape) < 2:
        return x
    return T(x, tuple(reversed(x.shape)))


def neg(x: Expr) -> Expr:
    if isinstance(x, Unary) and x.op == "-":
        return x.x
    if isinstance(x, Lit) and not isinstance(x.value, (bool, np.bool_)):
        return Lit(-x.value, x.shape)
    return Unary("-", x, x.shape)


def binary(op: str, a: Expr, b: Expr, shape) -> Expr:
    """a op b, with the display identities `a + -b = a - b` and `a - -b = a + b` (exact in IEEE)."""
    if op in "+-" and isinstance(b, Unary) and b.op == "-":
        return Bin("-" if op == "+" else "+", a, b.x, shape)
    if op in "+-" and isinstance(b, Lit) and b.prec == UNARY:
        return Bin("-" if op == "+" else "+", a, neg(b), shape)
    return Bin(op, a, b, shape)


def elementwise(op_builder, args: list, out_shape) -> Expr:
    """Build an elementwise node. When another operand already has the full shape, a broadcast
    operand is shown as what numpy would broadcast the same way: its operand itself (`0.5 / x`),
    a reduction with keepdims (`t / sum(t, axis=1, keepdims=True)`), or `v[:, None]`."""
    full = [not isinstance(a, Broadcast) and tuple(a.shape) == tuple(out_shape) for a in args]
    if any(full):
        args = [_numpy_broadcastable(a, len(out_shape)) if isinstance(a, Broadcast) else a
                for a in args]
    return op_builder(*args)


def _numpy_broadcastable(b: Broadcast, rank: int) -> Expr:
    if b.numpy_style:
        return b.x
    dims = tuple(b.dims)
    if list(dims) != sorted(dims) or len(set(dims)) != len(dims):
        return b                                   # axes reordered: keep broadcast_in_dim
    missing = tuple(d for d in range(rank) if d not in dims)
    x = b.x
    if isinstance(x, Call) and x.reduced and len(x.args) == 1 and \
            len(x.args[0].shape) == rank and tuple(sorted(x.reduced)) == missing:
        return Call(x.fn, x.args, x.kwargs + (("keepdims", "True"),),
                    tuple(1 if d in missing else n for d, n in enumerate(x.args[0].shape)))
    parts = [":" if d in dims else "None" for d in range(rank)]
    while parts and parts[-1] == ":":
        parts.pop()
    new_shape = tuple(1 if d in missing else n for d, n in enumerate(b.shape))
    return Index(x, ", ".join(parts), new_shape)


# --------------------------------------------------------------------------- factoring

def _scalar_split(e: Expr):
    """e as (coefficients, sign, core) with scalar factors pulled out: `-(0.5 * M)` ->
    ([0.5], -1, M)."""
    coefs, sign = [], 1
    while True:
        if isinstance(e, Unary) and e.op == "-":
            sign, e = -sign, e.x
        elif isinstance(e, Bin) and e.op == "*" and e.a.shape == () and e.b.shape != ():
            coefs.append(e.a)
            e = e.b
        elif isinstance(e, Bin) and e.op == "*" and e.b.shape == () and e.a.shape != ():
            coefs.append(e.b)
            e = e.a
        else:
            return coefs, sign, e


def _matmul_forms(term: Expr):
    """The ways of writing term as coef * (L @ R): (side, factor, other, n_transposes, coefs,
    sign), side 'R' meaning `other @ factor` and 'L' `factor @ other`."""
    coefs, sign, core = _scalar_split(term)
    if not (isinstance(core, Bin) and core.op == "@"):
        return []
    lc, ls, L = _scalar_split(core.a)
    rc, rs, R = _scalar_split(core.b)
    if len(L.shape) > 2 or len(R.shape) > 2 or L.shape == () or R.shape == ():
        return []
    coefs, sign = tuple(coefs + lc + rc), sign * ls * rs
    forms = [("R", R, L, 0, coefs, sign), ("L", L, R, 0, coefs, sign)]
    if len(R.shape) == 1 and len(L.shape) == 2:      # M @ v == v @ M.T
        forms.append(("L", R, transpose(L), 1, coefs, sign))
    if len(L.shape) == 1 and len(R.shape) == 2:      # v @ M == M.T @ v
        forms.append(("R", L, transpose(R), 1, coefs, sign))
    return forms


def _sum_terms(e: Expr, sign=1, out=None):
    out = [] if out is None else out
    if isinstance(e, Bin) and e.op in "+-":
        _sum_terms(e.a, sign, out)
        _sum_terms(e.b, sign if e.op == "+" else -sign, out)
    else:
        out.append((sign, e))
    return out


def _rebuild_sum(terms, shape) -> Expr:
    sign, e = terms[0]
    acc = e if sign > 0 else neg(e)
    for sign, e in terms[1:]:
        acc = binary("+" if sign > 0 else "-", acc, e, shape)
    return acc


def _times(coefs, e: Expr) -> Expr:
    for c in reversed(coefs):
        e = Bin("*", c, e, e.shape)
    return e


def _count_T(e: Expr) -> int:
    return (1 if isinstance(e, T) else 0) + sum(_count_T(c) for c in e.children())


def factor_sum(e: Expr) -> Expr:
    """`P @ x + Q @ x -> (P + Q) @ x`, `x @ P + x @ Q -> x @ (P + Q)`, with `v @ M` read as
    `M.T @ v` for a vector v where that exposes a common factor, and common scalar coefficients
    pulled out. Display only."""
    if not (isinstance(e, Bin) and e.op in "+-"):
        return e
    terms = _sum_terms(e)
    changed = False
    while True:
        groups: dict = {}
        for i, (_, t) in enumerate(terms):
            for form in _matmul_forms(t):
                key = (form[0], form[1])
                g = groups.setdefault(key, {})
                if i not in g or form[3] < g[i][3]:
                    g[i] = form
        best = None
        for (side, factor), g in groups.items():
            if len(g) < 2:
                continue
            # most terms; then fewest transposes in the factored sum; then `M @ v` for a vector
            score = (len(g), -sum(_count_T(f[2]) for f in g.values()),
                     side == "R" and len(factor.shape) == 1)
            if best is None or score > best[0]:
                best = (score, side, factor, g)
        if best is None:
            break
        _, side, factor, g = best
        idx = sorted(g)
        parts = []                      # (sign, coefs, other)
        for i in idx:
            s, _, _, _, coefs, fsign = g[i]
            parts.append((terms[i][0] * fsign, coefs, g[i][2]))
        parts.sort(key=lambda p: _count_T(p[2]))         # `A + A.T`, not `A.T + A`
        common = parts[0][:2]
        shape = parts[0][2].shape
        if all(p[:2] == common for p in parts):
            inner = _rebuild_sum([(1, p[2]) for p in parts], shape)
            inner = factor_sum(inner)
            prod = Bin("@", inner, factor, terms[idx[0]][1].shape) if side == "R" else \
                Bin("@", factor, inner, terms[idx[0]][1].shape)
            new_term = (common[0], _times(list(common[1]), prod))
        else:
            inner = _rebuild_sum([(p[0], _times(list(p[1]), p[2])) for p in parts], shape)
            inner = factor_sum(inner)
            prod = Bin("@", inner, factor, terms[idx[0]][1].shape) if side == "R" else \
                Bin("@", factor, inner, terms[idx[0]][1].shape)
            new_term = (1, prod)
        first = idx[0]
        changed = True
        terms = [new_term if i == first else t for i, t in enumerate(terms)
                 if i == first or i not in g]
    return _rebuild_sum(terms, e.shape) if changed else e      # unchanged: keep its grouping


def simplify(e: Expr) -> Expr:
    """Bottom-up display rewrites."""
    cs = e.children()
    if cs:
        new = tuple(simplify(c) for c in cs)
        if any(a is not b for a, b in zip(new, cs)):
            e = e.with_children(new)
    return factor_sum(e)
