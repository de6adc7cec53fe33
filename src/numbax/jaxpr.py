"""The IR: jaxprs of typed variables and primitive equations, their printer, evaluator, typechecker.

A `Jaxpr` carries its constants (`constvars` bound to `consts`), as in current JAX where
ClosedJaxpr was folded into Jaxpr. Variables are compared by identity and named only when printed.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .core import Primitive, ShapedArray, get_aval


class Var:
    __slots__ = ("aval", "__weakref__")

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Var<{self.aval.str_short()}>"


class Literal:
    """A scalar constant written inline in the program (`2.0:f64[]`)."""
    __slots__ = ("val", "aval")

    def __init__(self, val, aval: ShapedArray | None = None):
        self.val = val
        self.aval = aval if aval is not None else get_aval(val)

    def __repr__(self):
        return f"Literal({self.val!r})"


class JaxprEqn:
    __slots__ = ("primitive", "invars", "params", "outvars")

    def __init__(self, primitive: Primitive, invars: list, params: dict, outvars: list[Var]):
        self.primitive = primitive
        self.invars = invars
        self.params = params
        self.outvars = outvars

    def __repr__(self):
        return f"JaxprEqn({self.primitive.name})"


class Jaxpr:
    __slots__ = ("constvars", "invars", "outvars", "eqns", "consts", "__weakref__")

    def __init__(self, constvars: list[Var], invars: list[Var], outvars: list, eqns: list[JaxprEqn],
                 consts: Sequence[Any] = ()):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.eqns = list(eqns)
        self.consts = list(consts)
        assert len(self.consts) == len(self.constvars)

    in_avals = property(lambda self: [v.aval for v in self.invars])
    out_avals = property(lambda self: [v.aval for v in self.outvars])

    def __str__(self):
        return pp_jaxpr(self)

    __repr__ = __str__

    def _repr_html_(self):
        import html
        return f"<pre>{html.escape(pp_jaxpr(self))}</pre>"

    def pretty_print(self) -> str:
        return pp_jaxpr(self)

    def __call__(self, *args):
        return eval_jaxpr(self, *args)


# --------------------------------------------------------------------------- evaluation

def eval_jaxpr(jaxpr: Jaxpr, *args, consts: Sequence | None = None) -> list:
    """Evaluate by binding each primitive, so evaluation is itself traceable by any transformation."""
    env: dict = {}
    consts = jaxpr.consts if consts is None else consts
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"jaxpr takes {len(jaxpr.invars)} arguments, got {len(args)}")
    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    for v, x in zip(jaxpr.invars, args):
        env[v] = x

    def read(v):
        return v.val if type(v) is Literal else env[v]

    for eqn in jaxpr.eqns:
        outs = eqn.primitive.bind(*[read(v) for v in eqn.invars], **eqn.params)
        if eqn.primitive.multiple_results:
            for v, x in zip(eqn.outvars, outs):
                env[v] = x
        else:
            env[eqn.outvars[0]] = outs
    return [read(v) for v in jaxpr.outvars]


def jaxpr_as_fun(jaxpr: Jaxpr):
    return lambda *args: eval_jaxpr(jaxpr, *args)


# --------------------------------------------------------------------------- typechecking

class JaxprTypeError(TypeError):
    pass


def typecheck_jaxpr(jaxpr: Jaxpr) -> None:
    """Check single assignment, that every variable is defined before use, and re-run abstract
    evaluation of every equation against the recorded output types."""
    defined: set = set()

    def bind_var(v):
        if v in defined:
            raise JaxprTypeError(f"variable {v} defined twice")
        defined.add(v)

    def check_in(v):
        if type(v) is Literal:
            return v.aval
        if v not in defined:
            raise JaxprTypeError(f"variable {v} used before it is defined")
        return v.aval

    for v in [*jaxpr.constvars, *jaxpr.invars]:
        bind_var(v)
    for eqn in jaxpr.eqns:
        in_avals = [check_in(v) for v in eqn.invars]
        outs = eqn.primitive.abstract_eval(*in_avals, **eqn.params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        if len(outs) != len(eqn.outvars):
            raise JaxprTypeError(f"{eqn.primitive}: {len(outs)} results, {len(eqn.outvars)} binders")
        for v, a in zip(eqn.outvars, outs):
            if v.aval.shape != a.shape or v.aval.dtype != a.dtype:
                raise JaxprTypeError(f"{eqn.primitive}: binder {v.aval.str_short()} but abstract "
                                     f"evaluation gives {a.str_short()}")
            bind_var(v)
    for v in jaxpr.outvars:
        check_in(v)


# --------------------------------------------------------------------------- printing

def _names():
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        s, k = "", n
        while True:
            s = letters[k % 26] + s
            k = k // 26 - 1
            if k < 0:
                break
        yield s
        n += 1


class _Namer:
    def __init__(self):
        self.names: dict = {}
        self.gen = _names()

    def __call__(self, v) -> str:
        if type(v) is Literal:
            return pp_literal(v)
        name = self.names.get(v)
        if name is None:
            name = self.names[v] = next(self.gen)
        return name


def pp_literal(lit: Literal) -> str:
    val = lit.val
    if isinstance(val, (bool, np.bool_)):
        s = "True" if val else "False"
    elif isinstance(val, (float, np.floating)):
        s = repr(float(val))
    elif isinstance(val, (int, np.integer)):
        s = str(int(val))
    else:
        s = np.array2string(np.asarray(val), separator=",")
    return f"{s}:{lit.aval.str_short()}"


def _pp_param(v, indent: int) -> str:
    if isinstance(v, Jaxpr):
        return _pp(v, _Namer(), indent + 2, force_multiline=True)
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, tuple):
        inner = ", ".join(_pp_param(x, indent) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if callable(v):
        return getattr(v, "__name__", type(v).__name__)
    return str(v)


def _pp_eqn(eqn: JaxprEqn, name, indent: int) -> str:
    lhs = " ".join(f"{name(v)}:{v.aval.str_short()}" for v in eqn.outvars) or "_"
    params = ""
    if eqn.params:
        params = "[" + " ".join(f"{k}={_pp_param(v, indent)}" for k, v in sorted(eqn.params.items())) \
            + "]"
    rhs = " ".join(name(v) for v in eqn.invars)
    return f"{lhs} = {eqn.primitive.name}{params} {rhs}".rstrip()


def _pp(jaxpr: Jaxpr, name: _Namer, indent: int = 0, force_multiline: bool = False) -> str:
    consts = " ".join(f"{name(v)}:{v.aval.str_short()}" for v in jaxpr.constvars)
    ins = " ".join(f"{name(v)}:{v.aval.str_short()}" for v in jaxpr.invars)
    eqns = [_pp_eqn(e, name, indent + 4) for e in jaxpr.eqns]
    outs = ", ".join(name(v) for v in jaxpr.outvars)
    outs = f"({outs},)" if len(jaxpr.outvars) == 1 else f"({outs})"
    head = f"{{ lambda {consts}; {ins}. let"
    one_line = f"{head} {'; '.join(eqns)} in {outs} }}" if eqns else f"{head} in {outs} }}"
    if not force_multiline and len(one_line) <= 100 and "\n" not in one_line:
        return one_line
    pad = " " * indent
    body = "".join(f"\n{pad}    {e}" for e in eqns)
    return f"{head}{body}\n{pad}  in {outs} }}"


def pp_jaxpr(jaxpr: Jaxpr) -> str:
    return _pp(jaxpr, _Namer())


def count_eqns(jaxpr: Jaxpr) -> int:
    """Equations, counting those inside nested jaxprs (as JAX's W10 counts do)."""
    n = 0
    for eqn in jaxpr.eqns:
        n += 1 + sum(map(count_eqns, subjaxprs(eqn)))
    return n


def subjaxprs(eqn: JaxprEqn):
    """The jaxprs an equation holds as params (branches, loop bodies, called programs)."""
    for p in eqn.params.values():
        if isinstance(p, Jaxpr):
            yield p
        elif isinstance(p, tuple):
            yield from (q for q in p if isinstance(q, Jaxpr))


def has_effects(jaxpr: Jaxpr) -> bool:
    """Whether running jaxpr does something besides computing its outputs (debug prints)."""
    return any(getattr(e.primitive, "effectful", False) or any(map(has_effects, subjaxprs(e)))
               for e in jaxpr.eqns)


def reads(jaxpr: Jaxpr) -> set:
    """The variables jaxpr's equations and outputs read."""
    out = {v for e in jaxpr.eqns for v in e.invars if type(v) is not Literal}
    return out | {v for v in jaxpr.outvars if type(v) is not Literal}


def rewrite_eqns(jaxpr: Jaxpr, rule) -> Jaxpr:
    """Replace each equation for which rule(eqn, emit) emits replacements (and returns True)."""
    eqns: list[JaxprEqn] = []
    changed = False
    for e in jaxpr.eqns:
        if rule(e, eqns.append):
            changed = True
        else:
            eqns.append(e)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns, jaxpr.consts) \
        if changed else jaxpr


def is_scalar_literal_value(x) -> bool:
    t = type(x)
    if t is float or t is int or t is bool:
        return True
    return isinstance(x, np.generic) or (isinstance(x, np.ndarray) and x.ndim == 0)


def to_literal(x) -> Literal:
    if isinstance(x, np.ndarray):
        x = x[()]
    return Literal(x)

