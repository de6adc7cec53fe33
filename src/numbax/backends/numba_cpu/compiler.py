"""jaxpr -> compiled executable: inline nested calls, optimise, partition, generate, compile.

Caches: an executable per jaxpr object (the L1 cache keyed by signature lives in `api.Jitted`,
which keeps the jaxpr alive); kernels by the sha256 of their source in memory and on disk
(`cache.py`), so a program re-staged for another shape or in another process skips numba.
"""
from __future__ import annotations

import time
import weakref

from ... import config as _config
from ...jaxpr import Jaxpr, JaxprEqn, Literal, Var, rewrite_eqns
from ...passes import optimize_jaxpr
from ...passes.loops import hoist_scan_products, scan_accumulators_to_products
from .cache import load_kernel
from .host import HostProgram, return_expr
from .partition import Plan

_CALLS = {"jit": "jaxpr", "checkpoint": "jaxpr", "custom_jvp_call": "call_jaxpr",
          "custom_vjp_call": "call_jaxpr"}


def inline_calls(jaxpr: Jaxpr) -> Jaxpr:
    """Splice nested `jit` and custom-derivative calls into one flat program (their rules have
    already done their work by the time a jaxpr is lowered)."""
    if not any(e.primitive.name in _CALLS for e in jaxpr.eqns):
        return jaxpr
    constvars, consts = list(jaxpr.constvars), list(jaxpr.consts)
    eqns: list[JaxprEqn] = []

    def splice(inner: Jaxpr, args: list) -> list:
        env: dict = {}
        for v, c in zip(inner.constvars, inner.consts):
            nv = Var(v.aval)
            constvars.append(nv)
            consts.append(c)
            env[v] = nv
        env.update(zip(inner.invars, args))

        def read(v):
            return v if type(v) is Literal else env[v]
        for e in inner.eqns:
            ins = [read(v) for v in e.invars]
            key = _CALLS.get(e.primitive.name)
            if key is not None:
                outs = splice(e.params[key], ins)
                env.update(zip(e.outvars, outs))
                continue
            outs = [Var(v.aval) for v in e.outvars]
            env.update(zip(e.outvars, outs))
            eqns.append(JaxprEqn(e.primitive, ins, e.params, outs))
        return [read(v) for v in inner.outvars]

    top = Jaxpr([], jaxpr.constvars + jaxpr.invars, jaxpr.outvars, jaxpr.eqns)
    outs = splice(top, list(jaxpr.constvars) + list(jaxpr.invars))
    return Jaxpr(constvars, jaxpr.invars, outs, eqns, consts)


class Executable:
    """A lowered program: the optimised jaxpr, its plan, the generated sources, and `run`."""

    def __init__(self, jaxpr: Jaxpr, optimized: Jaxpr, out_tree=None):
        t0 = time.perf_counter()
        self.jaxpr = optimized
        self.plan = Plan(optimized)
        host = HostProgram(self.plan, load_kernel)
        self.kernels = host.kernels
        avals = [v.aval for v in optimized.outvars]
        env = host.env
        self.host_source = host.source("run_flat", return_expr(host.outputs, avals, None, env))
        sources = [self.host_source]
        if out_tree is not None:
            sources.append(host.source("run_tree",
                                       return_expr(host.outputs, avals, out_tree, env)))
        exec(compile("\n".join(sources), "<numbax host program>", "exec"), env)
        self.run_flat = env["run_flat"]
        self.run_tree = env.get("run_tree")
        self._env = env
        self.compile_time = time.perf_counter() - t0
        _config.log("lowered %s: %d kernels, %d host steps (%.0f ms)", _describe(jaxpr),
                    len(self.kernels), len(self.plan.steps) - len(self.kernels),
                    1e3 * self.compile_time)

    def as_text(self) -> str:
        """The generated program: the host function, then every kernel module."""
        parts = ["# ---- host program (plain Python) ----", self.host_source]
        for k in self.kernels:
            parts += [f"# ---- kernel: {k.description} ----", k.source]
        return "\n".join(parts)

    def __call__(self, *args) -> list:
        return self.run_flat(*args)


def _describe(jaxpr: Jaxpr) -> str:
    ins = ", ".join(v.aval.str_short() for v in jaxpr.invars)
    return f"({ins}) with {len(jaxpr.eqns)} equations"


_executables: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def fold_transposed_dots(jaxpr: Jaxpr) -> Jaxpr:
    """`transpose(a @ b)` -> `b.T @ a.T` as one dot_general with its operands swapped, so
    reverse mode's weight gradients come out of BLAS in the layout they are returned in."""
    producer = {v: e for e in jaxpr.eqns for v in e.outvars}

    def rule(e, emit):
        if e.primitive.name != "transpose" or e.params["permutation"] != (1, 0) or \
                type(e.invars[0]) is Literal:
            return False
        src = producer.get(e.invars[0])
        if src is None or src.primitive.name != "dot_general":
            return False
        (lc, rc), (lb, rb) = src.params["dimension_numbers"]
        lhs, rhs = src.invars
        if lb or lhs.aval.ndim - len(lc) != 1 or rhs.aval.ndim - len(rc) != 1:
            return False
        params = dict(src.params, dimension_numbers=((rc, lc), ((), ())))
        emit(JaxprEqn(src.primitive, [rhs, lhs], params, e.outvars))
        return True
    return rewrite_eqns(jaxpr, rule)


def outer_dots_to_mul(jaxpr: Jaxpr) -> Jaxpr:
    """A dot_general whose contraction has size 1 (an outer product, batched or not, as
    vmap of a per-example gradient produces) is a broadcast multiply: fused into a loop instead
    of many tiny matmuls."""
    from ...core import ShapedArray
    from ...primitives.elementwise import mul_p
    from ...primitives.shape import broadcast_in_dim_p, reshape_p, transpose_p

    def operand(x, contract, batch, free, offset, out_shape, emit):
        """x without its size-1 contracting dims, ordered (batch, free), broadcast to out."""
        sizes = x.aval.shape
        keep = [d for d in range(len(sizes)) if d not in contract]
        cur = x
        if len(keep) != len(sizes):
            cur = Var(ShapedArray(tuple(sizes[d] for d in keep), x.aval.dtype))
            emit(JaxprEqn(reshape_p, [x], {"new_sizes": cur.aval.shape}, [cur]))
        order = [keep.index(d) for d in (*batch, *free)]
        if order != sorted(order):
            t = Var(ShapedArray(tuple(cur.aval.shape[i] for i in order), x.aval.dtype))
            emit(JaxprEqn(transpose_p, [cur], {"permutation": tuple(order)}, [t]))
            cur = t
        dims = tuple(range(len(batch))) + tuple(offset + i for i in range(len(free)))
        b = Var(ShapedArray(out_shape, x.aval.dtype))
        emit(JaxprEqn(broadcast_in_dim_p, [cur], {"shape": out_shape,
                                                  "broadcast_dimensions": dims}, [b]))
        return b

    def rule(e, emit):
        if e.primitive.name != "dot_general":
            return False
        (lc, rc), (lb, rb) = e.params["dimension_numbers"]
        lhs, rhs = e.invars
        out = e.outvars[0]
        pet = e.params.get("preferred_element_type")
        if type(lhs) is Literal or type(rhs) is Literal or not out.aval.ndim or \
                any(lhs.aval.shape[d] != 1 for d in lc) or lhs.aval.dtype != rhs.aval.dtype or \
                not (pet is None or pet == out.aval.dtype):
            return False
        lf = [d for d in range(lhs.aval.ndim) if d not in lc and d not in lb]
        rf = [d for d in range(rhs.aval.ndim) if d not in rc and d not in rb]
        a = operand(lhs, lc, lb, lf, len(lb), out.aval.shape, emit)
        b = operand(rhs, rc, rb, rf, len(lb) + len(lf), out.aval.shape, emit)
        emit(JaxprEqn(mul_p, [a, b], {}, [out]))
        return True
    return rewrite_eqns(jaxpr, rule)


def prepare(jaxpr: Jaxpr) -> Jaxpr:
    """The program the backend lowers: flat, simplified, and without dead code."""
    jaxpr = optimize_jaxpr(inline_calls(jaxpr))
    jaxpr = hoist_scan_products(scan_accumulators_to_products(jaxpr))
    return optimize_jaxpr(outer_dots_to_mul(fold_transposed_dots(jaxpr)))


def cached_executable(cache: "weakref.WeakKeyDictionary", jaxpr: Jaxpr, out_tree, build):
    """cache[jaxpr][out_tree], built by `build()` the first time (the cache holds the jaxpr
    weakly: a program dies with the jaxpr it was compiled from)."""
    per = cache.get(jaxpr)
    if per is None:
        per = cache[jaxpr] = {}
    exe = per.get(out_tree)
    if exe is None:
        exe = per[out_tree] = build()
    return exe


def compile_jaxpr(jaxpr: Jaxpr, out_tree=None) -> Executable:
    """The executable for jaxpr (cached per jaxpr object and output tree)."""
    return cached_executable(_executables, jaxpr, out_tree,
                             lambda: Executable(jaxpr, prepare(jaxpr), out_tree))


__all__ = ["Executable", "compile_jaxpr", "inline_calls", "prepare"]
