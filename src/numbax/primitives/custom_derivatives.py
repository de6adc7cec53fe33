"""custom_jvp and custom_vjp: user-supplied derivative rules that survive every transformation.

The primal function is staged into `call_jaxpr`; the rule is kept as a Python callable on flat
lists. Under jvp the rule is called; under vmap the jaxpr is batched and the rule is wrapped in
vmap; under jit the call is staged as one equation so later differentiation still finds the rule.
A custom_vjp becomes, under jvp, its forward pass plus `custom_lin`, a linear primitive whose
transpose is the user's backward pass.
"""
from __future__ import annotations

import functools
import inspect
import threading
from typing import Callable

from .. import dtypes
from ..core import EvalTrace, Primitive, current_trace, get_aval
from ..interpreters import ad, batching
from ..interpreters.ad import Zero, instantiate, tangent_aval
from ..interpreters.partial_eval import convert_constvars, trace_to_jaxpr
from ..jaxpr import eval_jaxpr
from ..tree_util import tree_flatten, tree_unflatten


def _resolve_args(fun, args, kwargs):
    if not kwargs:
        return tuple(args)
    sig = inspect.signature(fun)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.args)


def _split_nondiff(args, nondiff_argnums):
    nondiff = {i: args[i] for i in nondiff_argnums}
    dyn = tuple(a for i, a in enumerate(args) if i not in nondiff)
    return nondiff, dyn


def _merge(nondiff: dict, dyn, n: int):
    it = iter(dyn)
    return tuple(nondiff[i] if i in nondiff else next(it) for i in range(n))


def _trace_primal(fun, nondiff, dyn, n_args, name):
    flat, in_tree = tree_flatten(dyn)
    store = {}

    def flat_fun(*leaves):
        out = fun(*_merge(nondiff, tree_unflatten(in_tree, leaves), n_args))
        out_flat, store["out_tree"] = tree_flatten(out)
        return out_flat

    jaxpr = trace_to_jaxpr(flat_fun, [get_aval(x) for x in flat], fun_name=name,
                           transform="custom derivative")
    jaxpr, consts = convert_constvars(jaxpr)
    return flat, in_tree, jaxpr, consts, store["out_tree"]


def _stage_call(custom, args, name):
    """Split off the static arguments and stage the primal function on the dynamic ones."""
    nondiff, dyn = _split_nondiff(args, custom.nondiff_argnums)
    return (nondiff, dyn) + _trace_primal(custom.fun, nondiff, dyn, len(args), name)


def _check_tangent_outs(name, primal_outs, tangent_outs):
    for p, t in zip(primal_outs, tangent_outs):
        pa, ta = get_aval(p), get_aval(t)
        if pa.shape != ta.shape:
            raise TypeError(f"custom_jvp rule of {name} returned a tangent of shape {ta.shape} for a "
                            f"primal output of shape {pa.shape}; they must match.")


# --------------------------------------------------------------------------- custom_jvp

class custom_jvp:
    """A function with a custom forward-mode rule (reverse mode follows by transposition).

    `f = custom_jvp(f)`; `@f.defjvp def f_jvp(primals, tangents): return primal_out, tangent_out`.
    """

    def __init__(self, fun: Callable, nondiff_argnums: tuple[int, ...] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None
        self.symbolic_zeros = False

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        self.jvp = jvp
        self.symbolic_zeros = symbolic_zeros
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """One rule per argument, `rule(g, ans, *primals)`, summed."""
        def jvp(primals, tangents):
            ans = self(*primals)
            out = None
            for rule, t in zip(jvps, tangents):
                if rule is None:
                    continue
                c = rule(t, ans, *primals)
                out = c if out is None else _tree_add(out, c)
            return ans, out if out is not None else _tree_zeros_like(ans)
        self.defjvp(jvp)

    def __call__(self, *args, **kwargs):
        name = getattr(self.fun, "__name__", "custom_jvp")
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {name} using defjvp.")
        args = _resolve_args(self.fun, args, kwargs)
        if type(current_trace()) is EvalTrace:  # no transformation active: nothing to customise
            return self.fun(*args)
        nondiff, dyn, flat, in_tree, jaxpr, consts, out_tree = _stage_call(self, args, name)
        user_jvp = self.jvp

        def jvp_flat(primals, tangents):
            ps = tree_unflatten(in_tree, primals)
            ts = tree_unflatten(in_tree, tangents)
            p_out, t_out = user_jvp(*[nondiff[i] for i in sorted(nondiff)], ps, ts)
            p_flat, p_tree = tree_flatten(p_out)
            t_flat, t_tree = tree_flatten(t_out)
            if p_tree != out_tree or t_tree != out_tree:
                raise TypeError(f"custom_jvp rule of {name} must return (primal_out, tangent_out) "
                                f"with the structure of the function's output {out_tree}; got "
                                f"{p_tree} and {t_tree}.")
            _check_tangent_outs(name, p_flat, t_flat)
            return p_flat, t_flat

        jvp_flat.__name__ = f"{name}_jvp"
        outs = custom_jvp_call_p.bind(*consts, *flat, call_jaxpr=jaxpr, jvp=jvp_flat,
                                      num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


def _tree_add(a, b):
    from .elementwise import add
    la, ta = tree_flatten(a)
    lb, _ = tree_flatten(b)
    return tree_unflatten(ta, [add(x, y) for x, y in zip(la, lb)])


def _tree_zeros_like(a):
    leaves, tree = tree_flatten(a)
    return tree_unflatten(tree, [ad.zeros_like_aval(tangent_aval(get_aval(x))) for x in leaves])


custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)


@custom_jvp_call_p.def_impl
def _custom_jvp_call_impl(*args, call_jaxpr, jvp, num_consts):
    return eval_jaxpr(call_jaxpr, *args)


@custom_jvp_call_p.def_abstract_eval
def _custom_jvp_call_abstract_eval(*avals, call_jaxpr, jvp, num_consts):
    return call_jaxpr.out_avals


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts):
    args = list(primals[num_consts:])
    ts = [instantiate(t) for t in tangents[num_consts:]]
    p_out, t_out = jvp(args, ts)
    return p_out, [t if get_aval(p).dtype.kind == "f" else ad.zero_of(p)
                   for p, t in zip(p_out, t_out)]


def _custom_jvp_call_batch(axis_size, vals, dims, *, call_jaxpr, jvp, num_consts):
    in_batched = [d is not batching.not_mapped for d in dims]
    vals = [batching.moveaxis(v, d, 0) if b else v for v, d, b in zip(vals, dims, in_batched)]
    b_jaxpr, _ = batching.batch_jaxpr(call_jaxpr, axis_size, in_batched, force_out_batched=True)
    arg_dims = [0 if b else None for b in in_batched[num_consts:]]
    n = len(arg_dims)

    def batched_jvp(primals, tangents):
        def flat(*xs):
            p, t = jvp(list(xs[:n]), list(xs[n:]))
            return list(p) + list(t)
        outs = batching.vmap_flat(flat, list(primals) + list(tangents), arg_dims + arg_dims, None,
                                  axis_size)
        return outs[:len(outs) // 2], outs[len(outs) // 2:]

    batched_jvp.__name__ = f"vmap({getattr(jvp, '__name__', 'jvp')})"
    outs = custom_jvp_call_p.bind(*vals, call_jaxpr=b_jaxpr, jvp=batched_jvp,
                                  num_consts=num_consts)
    return outs, [0] * len(outs)


ad.primitive_jvps[custom_jvp_call_p] = _custom_jvp_call_jvp
batching.primitive_batchers[custom_jvp_call_p] = _custom_jvp_call_batch


# --------------------------------------------------------------------------- custom_vjp

class custom_vjp:
    """A function with a custom reverse-mode rule.

    `f.defvjp(fwd, bwd)`: `fwd(*args) -> (out, residuals)`, `bwd(residuals, out_ct) -> tuple of
    cotangents, one per (non-static) argument`. Forward mode (jvp) of it raises TypeError.
    """

    def __init__(self, fun: Callable, nondiff_argnums: tuple[int, ...] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args, **kwargs):
        name = getattr(self.fun, "__name__", "custom_vjp")
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {name} using defvjp.")
        args = _resolve_args(self.fun, args, kwargs)
        if type(current_trace()) is EvalTrace:  # no transformation active: nothing to customise
            return self.fun(*args)
        nondiff, dyn, flat, in_tree, jaxpr, consts, out_tree = _stage_call(self, args, name)
        fwd, bwd = self.fwd, self.bwd
        static = [nondiff[i] for i in sorted(nondiff)]

        def fwd_flat(*leaves):
            out, res = fwd(*_merge(nondiff, tree_unflatten(in_tree, leaves), len(args)))
            out_flat, tree = tree_flatten(out)
            if tree != out_tree:
                raise TypeError(f"custom_vjp fwd of {name} returned an output of structure {tree}; "
                                f"the function returns {out_tree}.")
            res_flat, fwd_flat.res_tree = tree_flatten(res)
            return out_flat, res_flat

        def bwd_flat(res_flat, cts_flat):
            res = tree_unflatten(fwd_flat.res_tree, res_flat)
            cts_in = bwd(*static, res, tree_unflatten(out_tree, cts_flat))
            if not isinstance(cts_in, tuple) or len(cts_in) != len(dyn):
                raise TypeError(f"custom_vjp bwd of {name} must return a tuple with one cotangent "
                                f"per differentiable argument ({len(dyn)}), got {cts_in!r:.200}")
            out = []
            for arg, ct in zip(dyn, cts_in):
                arg_leaves, arg_tree = tree_flatten(arg)
                if ct is None:
                    out.extend(Zero(tangent_aval(get_aval(x))) for x in arg_leaves)
                    continue
                ct_leaves, ct_tree = tree_flatten(ct)
                if ct_tree != arg_tree:
                    raise TypeError(f"custom_vjp bwd of {name} returned a cotangent of structure "
                                    f"{ct_tree} for an argument of structure {arg_tree}.")
                out.extend(ct_leaves)
            return out

        fwd_flat.__name__, bwd_flat.__name__ = f"{name}_fwd", f"{name}_bwd"
        outs = custom_vjp_call_p.bind(*consts, *flat, call_jaxpr=jaxpr, fwd=fwd_flat, bwd=bwd_flat,
                                      num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)


@custom_vjp_call_p.def_impl
def _custom_vjp_call_impl(*args, call_jaxpr, fwd, bwd, num_consts):
    return eval_jaxpr(call_jaxpr, *args)


@custom_vjp_call_p.def_abstract_eval
def _custom_vjp_call_abstract_eval(*avals, call_jaxpr, fwd, bwd, num_consts):
    return call_jaxpr.out_avals


class ForwardModeUnsupported(Exception):
    """Raised inside forward-mode `grad` (used for scalar inputs) when a custom_vjp function is
    reached: `grad` catches it and redoes the computation in reverse mode."""


class _ForwardGradState(threading.local):
    depth = 0


forward_grad = _ForwardGradState()


def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd, bwd, num_consts):
    if forward_grad.depth:
        raise ForwardModeUnsupported
    out, res = fwd(*primals[num_consts:])
    ts = [instantiate(t) for t in tangents[num_consts:]]
    out_avals = tuple(tangent_aval(get_aval(o)) for o in out)
    t_out = custom_lin_p.bind(*res, *ts, num_res=len(res), bwd=bwd, out_avals=out_avals)
    return out, [t if a.dtype.kind == "f" else Zero(a) for t, a in zip(t_out, out_avals)]


def _custom_vjp_call_batch(axis_size, vals, dims, *, call_jaxpr, fwd, bwd, num_consts):
    in_batched = [d is not batching.not_mapped for d in dims]
    vals = [batching.moveaxis(v, d, 0) if b else v for v, d, b in zip(vals, dims, in_batched)]
    b_jaxpr, _ = batching.batch_jaxpr(call_jaxpr, axis_size, in_batched, force_out_batched=True)
    arg_batched = in_batched[num_consts:]
    arg_dims = [0 if b else None for b in arg_batched]
    n_out = len(call_jaxpr.outvars)

    def batched_fwd(*args):
        def flat(*xs):
            out, res = fwd(*xs)
            batched_fwd.n_res = len(res)
            return list(out) + list(res)
        outs = batching.vmap_flat(flat, list(args), arg_dims, None, axis_size)
        return outs[:n_out], outs[n_out:]

    def batched_bwd(res, cts):
        def flat(*xs):
            return [instantiate(c) for c in bwd(list(xs[:len(res)]), list(xs[len(res):]))]
        cts_in = batching.vmap_flat(flat, list(res) + [instantiate(c) for c in cts],
                                    [0] * (len(res) + len(cts)), None, axis_size)
        from .reductions import reduce_sum
        return [c if b else reduce_sum(c, (0,)) for c, b in zip(cts_in, arg_batched)]

    batched_fwd.__name__ = f"vmap({fwd.__name__})"
    batched_bwd.__name__ = f"vmap({bwd.__name__})"
    outs = custom_vjp_call_p.bind(*vals, call_jaxpr=b_jaxpr, fwd=batched_fwd, bwd=batched_bwd,
                                  num_consts=num_consts)
    return outs, [0] * len(outs)


ad.primitive_jvps[custom_vjp_call_p] = _custom_vjp_call_jvp
batching.primitive_batchers[custom_vjp_call_p] = _custom_vjp_call_batch


custom_lin_p = Primitive("custom_lin", multiple_results=True)


@custom_lin_p.def_impl
def _custom_lin_impl(*args, num_res, bwd, out_avals):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


@custom_lin_p.def_abstract_eval
def _custom_lin_abstract_eval(*avals, num_res, bwd, out_avals):
    return list(out_avals)


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    res = list(args[:num_res])
    cts_in = bwd(res, [instantiate(c) for c in cts])
    out = [None] * num_res
    for x, ct in zip(args[num_res:], cts_in):
        # inputs that are not being differentiated arrive as known (possibly zero) tangents
        if type(ct) is Zero or not ad.is_undefined_primal(x) or x.aval.dtype == dtypes.float0:
            out.append(None)
        else:
            out.append(ct)
    return out


def _custom_lin_batch(axis_size, vals, dims, **params):
    # reached only by forward mode (vmap of jvp, jacfwd): a custom_vjp has no jvp rule
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


ad.primitive_transposes[custom_lin_p] = _custom_lin_transpose
batching.primitive_batchers[custom_lin_p] = _custom_lin_batch