"""`checkpoint` / `remat`: trade recomputation for memory in reverse mode.

`checkpoint(f)` stages f into `checkpoint_p(*args, jaxpr)`. Every rule passes the call through
except partial evaluation: where reverse mode would save f's intermediates as residuals, it
saves only f's known *inputs* and stages a copy of the whole call into the linear program, so
the backward pass recomputes the intermediates. On a scan body this stores one carry per step
instead of every intermediate of every step.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

from ..core import Primitive, call_on, get_aval
from ..interpreters import ad, batching, partial_eval as pe
from ..interpreters.ad import Zero, instantiate, is_undefined_primal, tangent_aval
from ..interpreters.batching import not_mapped
from ..jaxpr import Jaxpr, eval_jaxpr
from ..passes.dce import dce_jaxpr
from ..tree_util import tree_flatten, tree_unflatten
from ._higher_order import drop_effects, drop_invars, fun_name, trace_callable

checkpoint_p = Primitive("checkpoint", multiple_results=True)


def checkpoint(fun: Callable, *, prevent_cse: bool = True, policy=None,
               static_argnums: int | Sequence[int] = ()) -> Callable:
    """fun, whose intermediates reverse mode recomputes instead of storing."""
    if policy is not None:
        raise NotImplementedError("checkpoint(policy=...): only the default policy (save "
                                  "nothing but the inputs) is implemented")
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def remat_fun(*args):
        dyn = tuple(a for i, a in enumerate(args) if i not in static)

        def call(*dyn_args):
            it = iter(dyn_args)
            return fun(*[args[i] if i in static else next(it) for i in range(len(args))])
        call.__name__ = fun_name(fun)
        flat, in_tree = tree_flatten(dyn)
        jaxpr, consts, out_tree = trace_callable(call, in_tree, [get_aval(x) for x in flat],
                                                 fun_name(fun), "checkpoint")
        outs = checkpoint_p.bind(*consts, *flat, jaxpr=jaxpr, prevent_cse=prevent_cse)
        return tree_unflatten(out_tree, outs)

    return remat_fun


remat = checkpoint


@checkpoint_p.def_impl
def _checkpoint_impl(*args, jaxpr: Jaxpr, prevent_cse: bool):
    return eval_jaxpr(jaxpr, *args)


@checkpoint_p.def_abstract_eval
def _checkpoint_abstract_eval(*avals, jaxpr: Jaxpr, prevent_cse: bool):
    return jaxpr.out_avals


def _checkpoint_jvp(primals, tangents, *, jaxpr, prevent_cse):
    nonzeros = [type(t) is not Zero for t in tangents]
    jvp, out_nz = ad.jvp_jaxpr(jaxpr, nonzeros)
    outs = checkpoint_p.bind(*primals, *[t for t in tangents if type(t) is not Zero], jaxpr=jvp,
                             prevent_cse=prevent_cse)
    n = len(jaxpr.outvars)
    it = iter(outs[n:])
    return outs[:n], [next(it) if nz else Zero(tangent_aval(a))
                      for nz, a in zip(out_nz, jaxpr.out_avals)]


def _checkpoint_partial_eval(trace, args, params):
    """Known outputs from a known call; unknown ones from a staged call of the whole jaxpr on
    all inputs (the known inputs are the only residuals)."""
    jaxpr = params["jaxpr"]
    in_uk = [trace.is_unknown(a) for a in args]
    out_uk = pe.partial_eval_jaxpr(jaxpr, in_uk)[2]
    known = [not u for u in out_uk]
    known_outs = []
    if any(known):
        kj = dce_jaxpr(jaxpr, known)
        kj = drop_invars(kj, [not u for u in in_uk])
        known_outs = call_on(trace.parent, checkpoint_p.bind,
                             *[a for a, u in zip(args, in_uk) if not u], jaxpr=kj,
                             prevent_cse=params["prevent_cse"])
    staged = trace.stage(checkpoint_p, args,
                         dict(params, jaxpr=dce_jaxpr(drop_effects(jaxpr), out_uk)))
    kit, uit = iter(known_outs), iter(staged)
    return [next(uit) if u else next(kit) for u in out_uk]


def _checkpoint_transpose(cts, *args, jaxpr, prevent_cse):
    linear = [is_undefined_primal(a) for a in args]
    t_jaxpr = ad.transpose_jaxpr(jaxpr, linear)
    outs = checkpoint_p.bind(*[a for a in args if not is_undefined_primal(a)],
                             *[instantiate(c) for c in cts], jaxpr=t_jaxpr,
                             prevent_cse=prevent_cse)
    it = iter(outs)
    return [next(it) if l else None for l in linear]


def _checkpoint_batch(axis_size, vals, dims, *, jaxpr, prevent_cse):
    in_b = [d is not not_mapped for d in dims]
    vals = [batching.moveaxis(v, d, 0) if b else v for v, d, b in zip(vals, dims, in_b)]
    bj, out_b = batching.batch_jaxpr(jaxpr, axis_size, in_b, force_out_batched=False)
    outs = checkpoint_p.bind(*vals, jaxpr=bj, prevent_cse=prevent_cse)
    return outs, [0 if b else not_mapped for b in out_b]


ad.primitive_jvps[checkpoint_p] = _checkpoint_jvp
ad.primitive_transposes[checkpoint_p] = _checkpoint_transpose
batching.primitive_batchers[checkpoint_p] = _checkpoint_batch
pe.partial_eval_rules[checkpoint_p] = _checkpoint_partial_eval

__all__ = ["checkpoint", "remat", "checkpoint_p"]
