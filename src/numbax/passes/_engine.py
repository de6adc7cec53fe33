"""The forward rewriting walk shared by constant folding and algebraic simplification.

One pass over the equations in order: operands are read through the substitution built so far,
so every rule sees operands that are already rewritten (chains collapse in one walk). A rule
looks at one equation (and, through `producer`, at the equations that made its operands) and
answers with one of

* None: keep the equation;
* a Var or Literal of exactly the equation's result type: the result *is* that value;
* a JaxprEqn (or a list of them, the last writing the original result variables): the
  replacement, which keeps the original result variables and hence their types.

The walk never changes a jaxpr's inputs or outputs' types; it returns the jaxpr object itself
when nothing changed, which the fixed-point loop in `optimize_jaxpr` relies on.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..core import ShapedArray
from ..jaxpr import Jaxpr, JaxprEqn, Literal, Var, has_effects

#: n-ary elementwise primitives whose rank-0 operands broadcast (see primitives/elementwise.py)
BROADCASTING = frozenset(["add", "sub", "mul", "div", "rem", "max", "min", "pow", "atan2",
                          "nextafter", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "xor",
                          "select_n"])
#: unary elementwise primitives (one operand, same shape)
UNARY = frozenset(["neg", "integer_pow", "exp", "log", "log1p", "expm1", "sin", "cos", "tan",
                   "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
                   "logistic", "sqrt", "rsqrt", "cbrt", "erf", "erfc", "erf_inv", "lgamma",
                   "digamma", "polygamma", "abs", "sign", "floor", "ceil", "round", "is_finite",
                   "not", "convert_element_type", "stop_gradient"])
ELEMENTWISE = BROADCASTING | UNARY
#: pure data movement of one operand: a constant-valued operand gives a constant-valued result
MOVEMENT = frozenset(["broadcast_in_dim", "reshape", "transpose", "squeeze", "rev", "slice"])
#: binary primitives whose operands are put in a canonical order (so CSE sees a*b and b*a alike).
#: Not max and min: max(+0.0, -0.0) is +0.0 but max(-0.0, +0.0) is -0.0 (numpy's maximum and the
#: Numba kernels both return the first operand on a tie).
COMMUTATIVE = frozenset(["add", "mul", "eq", "ne", "and", "or", "xor"])


def make_literal(val, aval: ShapedArray) -> Literal:
    """A rank-0 literal of type aval holding val: a Python scalar for the weak types Python
    scalars trace to (so evaluation promotes as the traced program did), else a numpy scalar."""
    x = np.asarray(val).astype(aval.dtype, copy=False)[()]
    if aval.weak_type:
        if aval.dtype == np.float64:
            x = float(x)
        elif aval.dtype == np.int64:
            x = int(x)
    return Literal(x, aval)


_effects_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def jaxpr_has_effects(jaxpr: Jaxpr) -> bool:
    """jaxpr.has_effects, cached per jaxpr object (DCE and CSE ask on every staging)."""
    got = _effects_cache.get(jaxpr)
    if got is None:
        got = _effects_cache[jaxpr] = has_effects(jaxpr)
    return got


_higher_order: dict = {}   # primitive -> whether its equations hold jaxprs


def is_effectful(eqn: JaxprEqn) -> bool:
    """Whether running eqn does more than compute its results: an effectful primitive
    (debug_print), or a higher-order one whose jaxprs contain one."""
    prim = eqn.primitive
    if getattr(prim, "effectful", False):
        return True
    ho = _higher_order.get(prim)
    if ho is None:
        ho = _higher_order[prim] = any(
            isinstance(p, Jaxpr) or isinstance(p, tuple) and any(isinstance(q, Jaxpr) for q in p)
            for p in eqn.params.values())
    if not ho:
        return False
    for p in eqn.params.values():
        if isinstance(p, Jaxpr):
            if jaxpr_has_effects(p):
                return True
        elif isinstance(p, tuple):
            for q in p:
                if isinstance(q, Jaxpr) and jaxpr_has_effects(q):
                    return True
    return False


def holds_code(eqn: JaxprEqn) -> bool:
    """Whether an equation holds jaxprs or functions as params (higher-order primitives)."""
    for p in eqn.params.values():
        if isinstance(p, Jaxpr) or callable(p) and not isinstance(p, (type, np.dtype)):
            return True
        if isinstance(p, tuple) and any(isinstance(q, Jaxpr) for q in p):
            return True
    return False


def literal_key(lit: Literal):
    x = np.asarray(lit.val)
    # -0.0 == 0.0, but x + 0.0 and x + -0.0 differ (for x = -0.0): the sign is part of the key
    return ("lit", lit.aval, x.item(), x.dtype.kind == "f" and bool(np.signbit(x)))


def param_key(params: dict):
    """A hashable key of params (nested jaxprs by identity), or None."""
    items = []
    for k in sorted(params):
        v = params[k]
        try:
            hash(v)
        except TypeError:
            return None
        items.append((k, v))
    return tuple(items)


class Walk:
    """State of one forward walk over a jaxpr (see the module docstring)."""

    def __init__(self, jaxpr: Jaxpr, rules, top: bool, exact: bool, cse: bool = False):
        self.jaxpr = jaxpr
        self.rules = rules
        self.top = top            # new array constants may be added (not inside nested jaxprs)
        self.exact = exact        # only rewrites exact in IEEE arithmetic
        self.subst: dict = {}
        self.producer: dict = {}
        self.order = {v: i for i, v in enumerate(jaxpr.constvars + jaxpr.invars)}
        self.eqns: list[JaxprEqn] = []
        self.changed = False
        self.again = False        # a rule emitted equations no rule has looked at (inlining)
        self.constvars = list(jaxpr.constvars)
        self.consts = list(jaxpr.consts)
        self.known = {v: c for v, c in zip(jaxpr.constvars, jaxpr.consts)
                      if isinstance(c, (np.ndarray, np.generic))}
        self.ranges: dict = {}    # cache of ranges.value_range
        self.seen: dict | None = {} if cse else None   # CSE: equation key -> its results
        self.param_keys: dict = {}   # id(params) -> (params, param_key(params))

    # -- reading and writing
    def read(self, v):
        return v if type(v) is Literal else self.subst.get(v, v)

    def emit(self, eqn: JaxprEqn, effectful: bool | None = None):
        seen = self.seen
        if seen is not None and eqn.outvars and \
                not (is_effectful(eqn) if effectful is None else effectful):
            params = eqn.params
            if params:   # (params dicts are shared by rewritten equations: cache their keys)
                got = self.param_keys.get(id(params))
                if got is None:   # the entry keeps params alive, so its id is not reused
                    got = self.param_keys[id(params)] = (params, param_key(params))
                pkey = got[1]
            else:
                pkey = ()
            if pkey is not None:
                key = (eqn.primitive, tuple(literal_key(v) if type(v) is Literal else v
                                            for v in eqn.invars), pkey)
                prev = seen.get(key)
                if prev is not None:
                    self.subst.update(zip(eqn.outvars, prev))
                    self.changed = True
                    return
                seen[key] = eqn.outvars
        n = len(self.order)
        for v in eqn.outvars:
            self.order[v] = n
            self.producer[v] = eqn
        self.eqns.append(eqn)

    def new_const(self, value: np.ndarray, aval: ShapedArray) -> Var:
        v = Var(aval)
        self.constvars.append(v)
        self.consts.append(value)
        self.known[v] = value
        self.order[v] = len(self.order)
        return v

    def splat_scalar(self, v):
        """The rank-0 operand s when v = broadcast_in_dim(s, shape, ()), else None."""
        if type(v) is Literal:
            return None
        e = self.producer.get(v)
        if e is not None and e.primitive.name == "broadcast_in_dim" and \
                not e.params["broadcast_dimensions"] and e.invars[0].aval.ndim == 0:
            return e.invars[0]
        return None

    def splat_literal(self, v):
        """The literal when v is a literal or a broadcast of one, else None."""
        if type(v) is Literal:
            return v
        s = self.splat_scalar(v)
        return s if type(s) is Literal else None

    def splat_constants(self, max_elements: int):
        """Constants whose elements are all the same (bit for bit) become splats
        (`jnp.ones_like(x)` traces to a constant array of ones), so the rules see them."""
        from ..primitives.shape import broadcast_in_dim_p
        for v, c in zip(self.jaxpr.constvars, self.jaxpr.consts):
            if not isinstance(c, np.ndarray) or not 0 < c.size <= max_elements or \
                    c.dtype.itemsize not in (1, 2, 4, 8):
                continue
            bits = np.ascontiguousarray(c).reshape(-1).view(f"u{c.dtype.itemsize}")
            if not (bits == bits[0]).all():
                continue
            lit = make_literal(c.reshape(-1)[0], ShapedArray((), v.aval.dtype, v.aval.weak_type))
            if not c.ndim:
                self.subst[v] = lit
                continue
            s = Var(v.aval)
            self.emit(JaxprEqn(broadcast_in_dim_p, [lit], {"shape": v.aval.shape,
                                                          "broadcast_dimensions": ()}, [s]))
            self.subst[v] = self.read(s)    # (CSE may have merged it with an earlier splat)
            self.changed = True

    # -- the walk
    def run(self) -> Jaxpr:
        rules = self.rules
        get = self.subst.get
        order = self.order
        for eqn in self.jaxpr.eqns:
            invars = [v if type(v) is Literal else get(v, v) for v in eqn.invars]
            if eqn.primitive.name in COMMUTATIVE and len(invars) == 2:
                invars.sort(key=lambda v: (1, 0) if type(v) is Literal else (0, order.get(v, -1)))
            if invars != eqn.invars:   # (Var and Literal compare by identity)
                eqn = JaxprEqn(eqn.primitive, invars, eqn.params, eqn.outvars)
                self.changed = True
            if not eqn.outvars or is_effectful(eqn):
                self.emit(eqn, True)
                continue
            for _ in range(8):   # a replacement equation is offered to the rules again
                out = None
                for rule in rules:
                    out = rule(self, eqn)
                    if out is not None:
                        break
                if out is None or type(out) is not JaxprEqn:
                    break
                eqn = out
                self.changed = True
                out = None
            if out is None:
                self.emit(eqn, False)
            elif type(out) is list:
                self.changed = True
                for e in out:
                    ins = [self.read(v) for v in e.invars]   # (CSE may merge earlier ones)
                    if any(a is not b for a, b in zip(ins, e.invars)):
                        e = JaxprEqn(e.primitive, ins, e.params, e.outvars)
                    self.emit(e)
            else:   # the results are existing values
                outs = out if type(out) is tuple else (out,)
                for v, x in zip(eqn.outvars, outs):
                    # the same type (weak typing aside: a conversion may drop it)
                    assert x.aval.shape == v.aval.shape and x.aval.dtype == v.aval.dtype, \
                        (eqn, x.aval, v.aval)
                    self.subst[v] = x
                self.changed = True
        if not self.changed:
            return self.jaxpr
        outvars = [self.read(v) for v in self.jaxpr.outvars]
        return Jaxpr(self.constvars, self.jaxpr.invars, outvars, self.eqns, self.consts)


def run_rules(jaxpr: Jaxpr, rules, *, top: bool = True, exact: bool = False,
              cse: bool = False) -> tuple[Jaxpr, bool]:
    """(the rewritten jaxpr, whether another walk may find more). With cse, an equation equal
    to an earlier one (after rewriting) reuses its results, as cse.py does."""
    w = Walk(jaxpr, rules, top, exact, cse)
    for rule in rules:
        n = getattr(rule, "splat_constants", None)
        if n:
            w.splat_constants(n)
    return w.run(), w.again
