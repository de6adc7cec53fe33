"""Rewrites of `scan` that move matrix products out of the loop, where BLAS runs them as one
matrix-matrix product instead of one small matrix-vector product per step.

* `hoist_scan_products`: a product whose operands are the loop's constants and scanned inputs
  (an RNN's input projection `U @ x_t`) does not depend on the carry; it is computed for all
  steps before the loop (batched along the scanned axis) and scanned as an input.
* `scan_accumulators_to_products`: a carry that only accumulates products,
  `acc = acc + p_t · q_t` (the weight gradients of every backward pass through a scan), becomes
  one contraction over the steps after the loop, `acc_0 + P · Q`, with the per-step operands
  scanned out (or read straight from the scanned inputs).

Both change only the order of floating-point additions, as any reassociated sum does.
"""
from __future__ import annotations

from ..core import ShapedArray
from ..jaxpr import Jaxpr, JaxprEqn, Literal, Var, reads, rewrite_eqns


def _scan_eqns(jaxpr: Jaxpr, rewrite) -> Jaxpr:
    return rewrite_eqns(jaxpr, lambda e, emit: e.primitive.name == "scan" and rewrite(e, emit))


def _uses(jaxpr: Jaxpr) -> dict:
    """var -> number of reads (equation operands and outputs)."""
    n: dict = {}
    for e in jaxpr.eqns:
        for v in e.invars:
            if type(v) is not Literal:
                n[v] = n.get(v, 0) + 1
    for v in jaxpr.outvars:
        if type(v) is not Literal:
            n[v] = n.get(v, 0) + 1
    return n


def _is_float_dot(e: JaxprEqn) -> bool:
    if e.primitive.name != "dot_general" or any(type(v) is Literal for v in e.invars):
        return False
    a, b = (v.aval for v in e.invars)
    pet = e.params.get("preferred_element_type")
    return a.dtype == b.dtype and a.dtype.kind == "f" and \
        (pet is None or pet == e.outvars[0].aval.dtype)


def hoist_scan_products(jaxpr: Jaxpr) -> Jaxpr:
    from ..interpreters.batching import batch_jaxpr

    def rewrite(eqn, emit):
        p = eqn.params
        body, nc, ncarry, length = p["jaxpr"], p["num_consts"], p["num_carry"], p["length"]
        consts = set(body.invars[:nc])
        xs = body.invars[nc + ncarry:]
        outer = dict(zip(body.invars, eqn.invars))
        hoisted = [e for e in body.eqns if _is_float_dot(e) and
                   all(v in consts or v in xs for v in e.invars) and
                   any(v in xs for v in e.invars)]
        if not hoisted or length == 0:
            return False
        new_xs, new_invars = [], []
        for e in hoisted:
            ins = [Var(v.aval) for v in e.invars]
            out = Var(e.outvars[0].aval)
            one = Jaxpr([], ins, [out], [JaxprEqn(e.primitive, ins, e.params, [out])])
            batched = batch_jaxpr(one, length, [v in xs for v in e.invars], True)[0]
            (stacked,) = _splice(batched, [outer[v] for v in e.invars], emit)
            new_xs.append(stacked)
            new_invars.append(e.outvars[0])
        drop = set(map(id, hoisted))
        body = Jaxpr(body.constvars, body.invars + new_invars, body.outvars,
                     [e for e in body.eqns if id(e) not in drop], body.consts)
        emit(JaxprEqn(eqn.primitive, list(eqn.invars) + new_xs, dict(p, jaxpr=body),
                      eqn.outvars))
        return True

    return _scan_eqns(jaxpr, rewrite)


def _splice(inner: Jaxpr, args: list, emit) -> list:
    """Emit inner's equations (fresh variables) on args; its constants must be literals-free."""
    if inner.constvars:
        raise ValueError("cannot splice a jaxpr with constants")
    env = dict(zip(inner.invars, args))

    def read(v):
        return v if type(v) is Literal else env[v]
    for e in inner.eqns:
        outs = [Var(v.aval) for v in e.outvars]
        emit(JaxprEqn(e.primitive, [read(v) for v in e.invars], e.params, outs))
        env.update(zip(e.outvars, outs))
    return [read(v) for v in inner.outvars]


def scan_accumulators_to_products(jaxpr: Jaxpr) -> Jaxpr:
    from ..primitives.elementwise import add_p
    from ..primitives.linalg import dot_general_p

    def rewrite(eqn, emit):
        p = eqn.params
        body, nc, ncarry = p["jaxpr"], p["num_consts"], p["num_carry"]
        length = p["length"]
        producer = {v: e for e in body.eqns for v in e.outvars}
        uses = _uses(body)
        carries = body.invars[nc:nc + ncarry]
        xs = body.invars[nc + ncarry:]
        found = []   # (carry index, add eqn, dot eqn)
        for j, (c, out) in enumerate(zip(carries, body.outvars[:ncarry])):
            add = producer.get(out) if type(out) is not Literal else None
            if add is None or add.primitive is not add_p or uses.get(c, 0) != 1 or \
                    uses.get(out, 0) != 1 or c not in add.invars:
                continue
            inc = add.invars[1] if add.invars[0] is c else add.invars[0]
            dot = producer.get(inc) if type(inc) is not Literal else None
            if dot is None or not _is_float_dot(dot) or uses.get(inc, 0) != 1 or \
                    dot.params["dimension_numbers"][1] != ((), ()) or \
                    inc.aval != out.aval or c.aval.dtype != inc.aval.dtype:
                continue
            found.append((j, add, dot))
        if not found or length == 0:
            return False
        drop = set()
        keep_carry = [True] * ncarry
        new_ys, finals = [], []   # operands scanned out; (carry index, dot, operand sources)
        for j, add, dot in found:
            keep_carry[j] = False
            drop.update((id(add), id(dot)))
            sources = []
            for v in dot.invars:
                if v in xs:
                    sources.append(("xs", xs.index(v)))
                else:
                    if v not in new_ys:
                        new_ys.append(v)
                    sources.append(("ys", new_ys.index(v)))
            finals.append((j, dot, sources))
        carry_in = [v for v, k in zip(carries, keep_carry) if k]
        carry_out = [v for v, k in zip(body.outvars[:ncarry], keep_carry) if k]
        body = Jaxpr(body.constvars, body.invars[:nc] + carry_in + xs,
                     carry_out + body.outvars[ncarry:] + new_ys,
                     [e for e in body.eqns if id(e) not in drop], body.consts)
        init = eqn.invars[nc:nc + ncarry]
        outer_xs = eqn.invars[nc + ncarry:]
        stacked = [Var(ShapedArray((length,) + v.aval.shape, v.aval.dtype)) for v in new_ys]
        emit(JaxprEqn(eqn.primitive, eqn.invars[:nc] + [v for v, k in zip(init, keep_carry) if k]
                      + outer_xs, dict(p, jaxpr=body, num_carry=len(carry_in)),
                      [v for v, k in zip(eqn.outvars[:ncarry], keep_carry) if k]
                      + eqn.outvars[ncarry:] + stacked))
        for j, dot, sources in finals:  # acc_final = acc_0 + (operands over all steps)
            ops = [outer_xs[i] if kind == "xs" else stacked[i] for kind, i in sources]
            (lc, rc), _ = dot.params["dimension_numbers"]
            dims = (((0,) + tuple(d + 1 for d in lc), (0,) + tuple(d + 1 for d in rc)), ((), ()))
            prod = Var(dot.outvars[0].aval)
            emit(JaxprEqn(dot_general_p, ops, dict(dot.params, dimension_numbers=dims), [prod]))
            emit(JaxprEqn(add_p, [init[j], prod], {}, [eqn.outvars[j]]))
        return True

    return _scan_eqns(jaxpr, rewrite)


def prune_scan(eqn: JaxprEqn, used: list[bool]) -> JaxprEqn | None:
    """The scan without its unused stacked outputs, the carries nothing live reads (found by
    fixpoint: a carry is live if an output is used or a live carry's update reads it), and
    the inputs the remaining body ignores; None when nothing can go."""
    from .dce import dce_jaxpr
    p = eqn.params
    body, nc, ncarry = p["jaxpr"], p["num_consts"], p["num_carry"]
    live_carry = list(used[:ncarry])
    used_ys = list(used[ncarry:])
    carries = body.invars[nc:nc + ncarry]
    while True:
        pruned = dce_jaxpr(body, live_carry + used_ys)
        read = reads(pruned)
        new = [lc or c in read for lc, c in zip(live_carry, carries)]
        if new == live_carry:
            break
        live_carry = new
    keep_in = [v in read for v in body.invars]
    for j in range(ncarry):   # a live carry keeps its input, even when its update ignores it
        keep_in[nc + j] = live_carry[j]
    if all(live_carry) and all(used_ys) and all(keep_in):
        return None
    new_body = Jaxpr(pruned.constvars, [v for v, k in zip(body.invars, keep_in) if k],
                     pruned.outvars, pruned.eqns, pruned.consts)
    keep_out = live_carry + used_ys
    return JaxprEqn(eqn.primitive, [v for v, k in zip(eqn.invars, keep_in) if k],
                    dict(p, jaxpr=new_body, num_consts=sum(keep_in[:nc]),
                         num_carry=sum(live_carry)),
                    [v for v, k in zip(eqn.outvars, keep_out) if k])
