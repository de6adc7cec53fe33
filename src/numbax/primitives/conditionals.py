"""`cond_p`: run one of several staged branches, chosen by an integer index.

`lax.cond(pred, true_fun, false_fun, *operands)` and `lax.switch(index, branches, *operands)`
both bind `cond_p(index, *operands, branches=(jaxpr, ...))`. Every branch takes the same
operands (the constants any branch closes over, then the user's operands) and returns values of
the same types. Transformations rewrite all branches alike; a *batched* index cannot choose one
branch per call, so vmap runs every branch and selects per lane (with operands masked so that
reverse mode through the untaken branches contributes exact zeros, never NaN).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .. import dtypes
from ..core import Primitive, ShapedArray, call_on, get_aval
from ..interpreters import ad, batching, partial_eval as pe
from ..interpreters.ad import Zero, instantiate, is_undefined_primal, tangent_aval
from ..interpreters.batching import not_mapped
from ..jaxpr import Jaxpr, Var, eval_jaxpr
from ..tree_util import tree_flatten, tree_unflatten
from ._higher_order import avals_str, fun_name, stage_fun, trace_callable

cond_p = Primitive("cond", multiple_results=True)


# --------------------------------------------------------------------------- public API

def _index_from_pred(pred):
    aval = get_aval(pred)
    if aval.shape != ():
        raise TypeError(f"Pred must be a scalar, got {pred!r} of shape {aval.shape}.")
    if aval.dtype.kind not in "biuf":
        raise TypeError(f"Pred type must be either boolean or number, got {aval.dtype.name}.")
    from .elementwise import convert_element_type, ne
    if aval.dtype.kind != "b":
        pred = ne(pred, np.zeros((), aval.dtype)[()])
    return convert_element_type(pred, dtypes.int32)


def cond(pred, true_fun: Callable, false_fun: Callable, *operands):
    """true_fun(*operands) if pred else false_fun(*operands), staged so that it works on traced
    predicates. Both branches are traced and must return the same types."""
    if not callable(true_fun) or not callable(false_fun):
        raise TypeError("lax.cond: true_fun and false_fun arguments should be callable.")
    return _bind_cond(_index_from_pred(pred), (false_fun, true_fun), operands,
                      "true_fun and false_fun")


def switch(index, branches: Sequence[Callable], *operands):
    """branches[clamp(index, 0, len(branches) - 1)](*operands), staged."""
    branches = tuple(branches)
    if not branches:
        raise ValueError("Empty branch sequence")
    if not all(callable(b) for b in branches):
        raise TypeError("lax.switch: branches argument should be a sequence of callables.")
    aval = get_aval(index)
    if aval.shape != ():
        raise TypeError(f"Branch index must be scalar, got {index!r} of shape {aval.shape}.")
    if aval.dtype.kind not in "iub":
        raise TypeError(f"Index type must be an integer, got {index!r} of type "
                        f"{aval.dtype.name}.")
    from .elementwise import convert_element_type, max as lmax, min as lmin
    index = convert_element_type(index, dtypes.int32)
    if len(branches) == 1:
        return branches[0](*operands)
    index = lmin(lmax(index, np.int32(0)), np.int32(len(branches) - 1))
    return _bind_cond(index, branches, operands, "branch")


def _unify_out_avals(what: str, all_avals: list[list[ShapedArray]]) -> list:
    """Per output, the dtype every branch must produce: equal dtypes, or weakly typed outputs
    (Python scalars) promoted to the one strongly typed dtype. None where nothing converts."""
    targets = []
    for k, avals in enumerate(zip(*all_avals)):
        shapes = {a.shape for a in avals}
        strong = {a.dtype for a in avals if not a.weak_type}
        dts = {a.dtype for a in avals}
        if len(shapes) > 1 or len(strong) > 1 or (not strong and len(dts) > 1):
            detail = "\n".join(f"  branch {i}: {avals_str(b)}" for i, b in enumerate(all_avals))
            raise TypeError(f"{what} output must have identical types, got\n{detail}")
        targets.append(next(iter(strong)) if len(dts) > 1 else None)
    return targets


def _with_converted_outputs(fun, targets):
    from .elementwise import convert_element_type

    def converted(*args):
        leaves, tree = tree_flatten(fun(*args))
        return tree_unflatten(tree, [x if t is None or get_aval(x).dtype == t else
                                     convert_element_type(x, t) for x, t in zip(leaves, targets)])
    converted.__name__ = fun_name(fun)
    return converted


def _bind_cond(index, funs, operands, what: str):
    flat_ops, in_tree = tree_flatten(operands)
    in_avals = [get_aval(x) for x in flat_ops]
    traced = [trace_callable(f, in_tree, in_avals, fun_name(f), "cond") for f in funs]
    trees = [t for _, _, t in traced]
    if any(t != trees[0] for t in trees[1:]):
        raise TypeError(f"{what} output must have same type structure, got "
                        + " and ".join(str(t) for t in trees) + ".")
    targets = _unify_out_avals(what, [j.out_avals for j, _, _ in traced])
    if any(t is not None for t in targets):
        traced = [trace_callable(_with_converted_outputs(f, targets), in_tree, in_avals,
                                 fun_name(f), "cond") for f in funs]
    branches, consts = _join_consts([j for j, _, _ in traced], [c for _, c, _ in traced])
    outs = cond_p.bind(index, *consts, *flat_ops, branches=branches)
    return tree_unflatten(trees[0], outs)


def _join_consts(jaxprs: list[Jaxpr], consts: list[list]) -> tuple[tuple[Jaxpr, ...], list]:
    """Branches that all take every branch's hoisted constants, then the operands."""
    all_consts = [c for cs in consts for c in cs]
    avals = [get_aval(c) for c in all_consts]
    out, start = [], 0
    for j, cs in zip(jaxprs, consts):
        n = len(cs)
        own, ops = j.invars[:n], j.invars[n:]
        invars = [Var(a) for a in avals[:start]] + own + [Var(a) for a in avals[start + n:]] + ops
        out.append(Jaxpr(j.constvars, invars, j.outvars, j.eqns, j.consts))
        start += n
    return tuple(out), all_consts


# --------------------------------------------------------------------------- eager, typing

def _clamped(index, n: int) -> int:
    return int(min(max(int(index), 0), n - 1))


@cond_p.def_impl
def _cond_impl(index, *ops, branches, evaluate=eval_jaxpr):
    return evaluate(branches[_clamped(index, len(branches))], *ops)


@cond_p.def_abstract_eval
def _cond_abstract_eval(index, *ops, branches):
    if index.shape != () or index.dtype.kind not in "iub":
        raise TypeError(f"cond: the branch index must be an integer scalar, got "
                        f"{index.str_short()}")
    for b in branches:
        if len(b.invars) != len(ops) or any(
                a.shape != v.aval.shape or a.dtype != v.aval.dtype for a, v in zip(ops, b.invars)):
            raise TypeError(f"cond: operands {avals_str(ops)} do not match a branch taking "
                            f"{avals_str(b.in_avals)}")
    outs = branches[0].out_avals
    return [a.update(weak_type=all(b.out_avals[k].weak_type for b in branches))
            for k, a in enumerate(outs)]


# --------------------------------------------------------------------------- jvp

def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    nonzeros = [type(t) is not Zero for t in tangents[1:]]
    out_nz = [False] * len(branches[0].outvars)
    for b in branches:
        out_nz = [a or b_ for a, b_ in zip(out_nz, ad.jvp_jaxpr(b, nonzeros)[1])]
    new = tuple(ad.jvp_jaxpr(b, nonzeros, out_nz)[0] for b in branches)
    outs = cond_p.bind(index, *ops, *[t for t in tangents[1:] if type(t) is not Zero],
                       branches=new)
    n = len(branches[0].outvars)
    it = iter(outs[n:])
    return outs[:n], [next(it) if nz else Zero(tangent_aval(a))
                      for nz, a in zip(out_nz, branches[0].out_avals)]


# --------------------------------------------------------------------------- partial eval

def _cond_partial_eval(trace, args, params):
    branches = params["branches"]
    index, *ops = args
    if trace.is_unknown(index):
        return trace.stage(cond_p, args, params)
    in_uk = [trace.is_unknown(x) for x in ops]
    splits = [pe.partial_eval_jaxpr(b, in_uk) for b in branches]
    out_uk = [any(u) for u in zip(*[sp[2] for sp in splits])]
    # a branch whose outputs are known where another's are not splits again, instantiating them
    splits = [sp if sp[2] == out_uk else pe.partial_eval_jaxpr(b, in_uk, out_uk)
              for sp, b in zip(splits, branches)]
    res_avals = [[v.aval for v in known.outvars[len(known.outvars) - nres:]]
                 for known, _, _, nres in splits]
    all_res = [a for r in res_avals for a in r]
    known_branches, unknown_branches, start = [], [], 0
    for (known, unknown, _, nres), r in zip(splits, res_avals):
        known_branches.append(_pad_residuals(known, nres, all_res, start))
        unknown_branches.append(Jaxpr([], [Var(a) for a in all_res[:start]] + unknown.invars[:nres]
                                      + [Var(a) for a in all_res[start + nres:]]
                                      + unknown.invars[nres:], unknown.outvars, unknown.eqns))
        start += nres
    known_ops = [x for x, u in zip(ops, in_uk) if not u]
    known_outs = call_on(trace.parent, cond_p.bind, index, *known_ops,
                         branches=tuple(known_branches))
    n_known = len(known_outs) - len(all_res)
    residuals = known_outs[n_known:]
    unknown_outs = trace.stage(cond_p, [index, *residuals, *[x for x, u in zip(ops, in_uk) if u]],
                               dict(branches=tuple(unknown_branches)))
    kit, uit = iter(known_outs[:n_known]), iter(unknown_outs)
    return [next(uit) if u else next(kit) for u in out_uk]


def _pad_residuals(known: Jaxpr, nres: int, all_res: list, start: int) -> Jaxpr:
    """A branch's known part returning zeros in the residual slots of the other branches."""
    def fun(*args):
        outs = eval_jaxpr(known, *args)
        n = len(outs) - nres
        return (outs[:n] + [ad.zeros_like_aval(a) for a in all_res[:start]] + outs[n:]
                + [ad.zeros_like_aval(a) for a in all_res[start + nres:]])
    return stage_fun(fun, known.in_avals, "cond_known")


# --------------------------------------------------------------------------- transpose

def _cond_transpose(cts, index, *ops, branches):
    if is_undefined_primal(index):
        raise NotImplementedError("cond: the branch index is not differentiable")
    linear = [is_undefined_primal(x) for x in ops]
    new = tuple(ad.transpose_jaxpr(b, linear) for b in branches)
    outs = cond_p.bind(index, *[x for x, l in zip(ops, linear) if not l],
                       *[instantiate(c) for c in cts], branches=new)
    it = iter(outs)
    return [None] + [next(it) if l else None for l in linear]


# --------------------------------------------------------------------------- vmap

def _cond_batch(axis_size, vals, dims, *, branches):
    index, *ops = vals
    index_dim, *op_dims = dims
    if index_dim is not_mapped:
        in_b = [d is not not_mapped for d in op_dims]
        ops = [batching.moveaxis(x, d, 0) if b else x for x, d, b in zip(ops, op_dims, in_b)]
        out_b = [False] * len(branches[0].outvars)
        for b in branches:
            out_b = [a or o for a, o in zip(out_b, batching.batch_jaxpr(
                b, axis_size, in_b, force_out_batched=False)[1])]
        new = tuple(batching.batch_jaxpr(b, axis_size, in_b, out_b)[0] for b in branches)
        outs = cond_p.bind(index, *ops, branches=new)
        return outs, [0 if b else not_mapped for b in out_b]
    return _select_branches(axis_size, batching.moveaxis(index, index_dim, 0), ops, op_dims,
                            branches), [0] * len(branches[0].outvars)


def _select_branches(axis_size, index, ops, op_dims, branches):
    """A batched index: every branch runs on every lane and the results are selected per lane.
    Each branch sees its float operands as select(taken, x, stop_gradient(x)), equal in value
    but with derivative zero on the lanes it does not serve, so NaN/inf derivatives of an
    untaken branch (sqrt at a negative lane, say) are multiplied by nothing in reverse mode."""
    from .elementwise import eq, select_n, stop_gradient
    from .shape import broadcast_in_dim
    ops = [batching.bdim_at_front(x, d, axis_size) for x, d in zip(ops, op_dims)]

    def lanes(pred, shape):
        return broadcast_in_dim(pred, shape, (0,)) if len(shape) > 1 else pred

    per_branch = []
    for i, b in enumerate(branches):
        bj = batching.batch_jaxpr(b, axis_size, [True] * len(ops), True)[0]
        taken = eq(index, np.asarray(i, get_aval(index).dtype)[()])
        masked = [select_n(lanes(taken, get_aval(x).shape), stop_gradient(x), x)
                  if get_aval(x).dtype.kind == "f" else x for x in ops]
        per_branch.append(eval_jaxpr(bj, *masked))
    return [select_n(lanes(index, get_aval(outs[0]).shape), *outs) for outs in zip(*per_branch)]


ad.primitive_jvps[cond_p] = _cond_jvp
ad.primitive_transposes[cond_p] = _cond_transpose
batching.primitive_batchers[cond_p] = _cond_batch
pe.partial_eval_rules[cond_p] = _cond_partial_eval

__all__ = ["cond", "switch", "cond_p"]
