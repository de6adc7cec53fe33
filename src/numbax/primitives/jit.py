"""`jit_p`: a call of a staged jaxpr, kept as one unit by every transformation.

Its rules transform the inner jaxpr and bind `jit_p` again, so `grad(jit(f))`, `vmap(jit(f))` and
`jit(jit(f))` each remain single compiled calls. Evaluation compiles the jaxpr with the Numba
backend (once per jaxpr object: the transformation rules cache the jaxprs they build), for the
CPU or, when the call carries `device="cuda"`, the GPU; the param travels through every rule,
so the derivative of a GPU function runs on the GPU too. It is present only when set, so
CPU programs print as before.
"""
from __future__ import annotations

import weakref

from ..core import Primitive, call_on
from ..interpreters import ad, batching, partial_eval as pe
from ..interpreters.ad import Zero, instantiate, is_undefined_primal, tangent_aval
from ..backends.numba_cpu.compiler import compile_jaxpr
from ..jaxpr import Jaxpr

jit_p = Primitive("jit", multiple_results=True)


def call_jaxpr(jaxpr: Jaxpr, args, device: str | None = None) -> list:
    """Run a jaxpr on concrete arguments, compiled (once per jaxpr object)."""
    if device == "cuda":
        from ..backends.numba_cuda.compiler import compile_jaxpr as compile_cuda
        return compile_cuda(jaxpr).run_flat(*args)
    return compile_jaxpr(jaxpr)(*args)


def on(device) -> dict:
    """The `device` param of a jit_p binding (absent for the CPU)."""
    return {"device": device} if device not in (None, "cpu") else {}


@jit_p.def_impl
def _jit_impl(*args, jaxpr: Jaxpr, name: str, device=None):
    return call_jaxpr(jaxpr, args, device)


@jit_p.def_abstract_eval
def _jit_abstract_eval(*avals, jaxpr: Jaxpr, name: str, device=None):
    if len(avals) != len(jaxpr.invars):
        raise TypeError(f"jit of {name}: {len(jaxpr.invars)} arguments expected, got {len(avals)}")
    for a, v in zip(avals, jaxpr.invars):
        if a.shape != v.aval.shape or a.dtype != v.aval.dtype:
            raise TypeError(f"jit of {name}: argument of type {a.str_short()} where the jaxpr "
                            f"expects {v.aval.str_short()}")
    return jaxpr.out_avals


def _jit_jvp(primals, tangents, *, jaxpr, name, device=None):
    nonzeros = [type(t) is not Zero for t in tangents]
    jvp_j, out_nz = ad.jvp_jaxpr(jaxpr, nonzeros)
    outs = jit_p.bind(*primals, *[t for t in tangents if type(t) is not Zero], jaxpr=jvp_j,
                      name=f"jvp({name})", **on(device))
    n = len(jaxpr.outvars)
    it = iter(outs[n:])
    return outs[:n], [next(it) if nz else Zero(tangent_aval(a))
                      for nz, a in zip(out_nz, jaxpr.out_avals)]


def _jit_transpose(cts, *args, jaxpr, name, device=None):
    linear = [is_undefined_primal(a) for a in args]
    t_jaxpr = ad.transpose_jaxpr(jaxpr, linear)
    outs = jit_p.bind(*[a for a in args if not is_undefined_primal(a)],
                      *[instantiate(c) for c in cts], jaxpr=t_jaxpr, name=f"transpose({name})",
                      **on(device))
    it = iter(outs)
    return [next(it) if l else None for l in linear]


def _jit_batch(axis_size, vals, dims, *, jaxpr, name, device=None):
    in_batched = [d is not batching.not_mapped for d in dims]
    vals = [batching.moveaxis(v, d, 0) if b else v for v, d, b in zip(vals, dims, in_batched)]
    b_jaxpr, out_batched = batching.batch_jaxpr(jaxpr, axis_size, in_batched,
                                                force_out_batched=False)
    outs = jit_p.bind(*vals, jaxpr=b_jaxpr, name=f"vmap({name})", **on(device))
    return outs, [0 if b else batching.not_mapped for b in out_batched]


_pe_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _partial_eval_jaxpr_cached(jaxpr, in_unknowns):
    cache = _pe_cache.setdefault(jaxpr, {})
    key = tuple(in_unknowns)
    if key not in cache:
        cache[key] = pe.partial_eval_jaxpr(jaxpr, in_unknowns)
    return cache[key]


def _jit_partial_eval(trace, args, params):
    jaxpr, name, device = params["jaxpr"], params["name"], params.get("device")
    in_unknowns = [trace.is_unknown(a) for a in args]
    known_j, unknown_j, out_unknowns, num_res = _partial_eval_jaxpr_cached(jaxpr, in_unknowns)
    known_outs = call_on(trace.parent, jit_p.bind, *[a for a, u in zip(args, in_unknowns) if not u],
                         jaxpr=known_j, name=name, **on(device))
    n_known = len(known_outs) - num_res
    residuals = known_outs[n_known:]
    unknown_outs = trace.stage(jit_p, [*residuals, *[a for a, u in zip(args, in_unknowns) if u]],
                               dict(jaxpr=unknown_j, name=name, **on(device)))
    kit, uit = iter(known_outs[:n_known]), iter(unknown_outs)
    return [next(uit) if u else next(kit) for u in out_unknowns]


ad.primitive_jvps[jit_p] = _jit_jvp
ad.primitive_transposes[jit_p] = _jit_transpose
batching.primitive_batchers[jit_p] = _jit_batch
pe.partial_eval_rules[jit_p] = _jit_partial_eval
