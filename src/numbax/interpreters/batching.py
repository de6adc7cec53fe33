"""vmap: each BatchTracer carries a value and the position of its batch axis (or `not_mapped`).

Batching rules map (values, batch dims) to (outputs, output batch dims); most primitives use the
combinators at the bottom. Unbatched values are passed through unchanged, never broadcast until
a rule must.
"""
from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Callable, Sequence

from ..core import Trace, Tracer, call_on, current_trace, get_aval, new_trace
from ..jaxpr import Jaxpr, eval_jaxpr
from .partial_eval import trace_to_jaxpr

not_mapped = None

#: rule(axis_size, vals, dims, **params) -> (out, out_dim) or (outs, out_dims)
primitive_batchers: dict = {}


class _Mode(threading.local):
    def __init__(self):
        self.targets: list = []


_mode = _Mode()


@contextlib.contextmanager
def staging_for_compilation(device: str | None = None):
    """Marks tracing whose result will be compiled (jit, make_jaxpr) for a device (None: the
    CPU). Rules may then choose the strategy that suits compiled CPU loops over the one that
    suits eager numpy or a GPU (see while_loop's)."""
    _mode.targets.append(device)
    try:
        yield
    finally:
        _mode.targets.pop()


def staged_for_compilation() -> bool:
    """Whether the innermost staging compiles for the CPU (a GPU keeps its lanes in lockstep,
    as numpy does eagerly)."""
    return bool(_mode.targets) and _mode.targets[-1] in (None, "cpu")


class BatchTracer(Tracer):
    __slots__ = ("val", "batch_dim")

    def __init__(self, trace: "BatchTrace", val, batch_dim: int):
        self._trace = trace
        self.val = val
        self.batch_dim = batch_dim

    @property
    def aval(self):
        a = get_aval(self.val)
        shape = a.shape[:self.batch_dim] + a.shape[self.batch_dim + 1:]
        return a.update(shape=shape)

    def to_concrete_value(self):
        return None


class BatchTrace(Trace):
    def __init__(self, parent: Trace, axis_size: int):
        super().__init__(parent)
        self.axis_size = axis_size

    def process_primitive(self, prim, args, params):
        vals, dims = [], []
        batched = False
        for x in args:
            if type(x) is BatchTracer and x._trace is self:
                vals.append(x.val)
                dims.append(x.batch_dim)
                batched = True
            else:
                if isinstance(x, Tracer):
                    self.check_foreign(x)
                vals.append(x)
                dims.append(not_mapped)
        if not batched:
            return call_on(self.parent, prim.bind, *args, **params)
        rule = primitive_batchers.get(prim)
        if rule is None:
            raise NotImplementedError(f"Batching rule for '{prim.name}' not implemented")
        out, out_dim = call_on(self.parent, rule, self.axis_size, vals, dims, **params)
        if prim.multiple_results:
            return [self.wrap(o, d) for o, d in zip(out, out_dim)]
        return self.wrap(out, out_dim)

    def wrap(self, val, dim):
        return val if dim is not_mapped else BatchTracer(self, val, dim)

    def unpack(self, x):
        if type(x) is BatchTracer and x._trace is self:
            return x.val, x.batch_dim
        if isinstance(x, Tracer):
            self.check_foreign(x)
        return x, not_mapped

    def concretization_context(self, tracer) -> str:
        return ("The value is batched by vmap: it has a different value for each element of the "
                "mapped axis, so it has no single concrete value.\n")


def vmap_flat(f: Callable, args: Sequence, in_dims: Sequence, out_dims: Sequence | None,
              axis_size: int) -> list:
    """Run f over the batch; out_dims None per output means "must be unbatched" only if given as
    a list; when out_dims is None the outputs are returned with batch dim 0."""
    trace = BatchTrace(current_trace(), axis_size)
    with new_trace(trace):
        ins = [a if d is not_mapped else BatchTracer(trace, a, d) for a, d in zip(args, in_dims)]
        outs = f(*ins)
        pairs = [trace.unpack(o) for o in outs]
    if out_dims is None:
        out_dims = [0] * len(pairs)
    return [place_batch_dim(v, d, od, axis_size) for (v, d), od in zip(pairs, out_dims)]


def place_batch_dim(val, dim, out_dim, axis_size: int):
    """Move (or create, by broadcasting) the batch axis of `val` to `out_dim`."""
    if out_dim is not_mapped:
        if dim is not_mapped:
            return val
        raise ValueError("vmap has out_axes=None for an output that is batched (it depends on a "
                         "mapped input); use out_axes=0 or make the output independent of it.")
    if dim is not_mapped:
        val = broadcast_batch(val, axis_size, 0)
        dim = 0
    return moveaxis(val, dim, out_dim)


# --------------------------------------------------------------------------- helpers

def moveaxis(x, src: int, dst: int):
    nd = len(get_aval(x).shape)
    src, dst = src % nd, dst % nd
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    from ..primitives.shape import transpose_p
    return transpose_p.bind(x, permutation=tuple(perm))


def broadcast_batch(x, axis_size: int, dim: int):
    """Insert a batch axis of size axis_size at `dim` by broadcasting."""
    aval = get_aval(x)
    shape = list(aval.shape)
    shape.insert(dim, axis_size)
    bdims = tuple(i if i < dim else i + 1 for i in range(aval.ndim))
    from ..primitives.shape import broadcast_in_dim_p
    return broadcast_in_dim_p.bind(x, shape=tuple(shape), broadcast_dimensions=bdims)


def bdim_at_front(x, dim, axis_size: int):
    """x with its batch axis at 0, broadcasting unbatched values."""
    if dim is not_mapped:
        return broadcast_batch(x, axis_size, 0)
    return moveaxis(x, dim, 0)


# --------------------------------------------------------------------------- jaxpr-level

_batch_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def batch_jaxpr(jaxpr: Jaxpr, axis_size: int, in_batched: Sequence[bool],
                force_out_batched: bool | Sequence[bool] = True) -> tuple[Jaxpr, list[bool]]:
    """A jaxpr over batched inputs (batch axis 0 where in_batched) whose batched outputs have their
    batch axis at 0. Outputs where force_out_batched (one flag, or one per output) are batched
    even if they do not depend on a batched input."""
    force = ((force_out_batched,) * len(jaxpr.outvars) if isinstance(force_out_batched, bool)
             else tuple(force_out_batched))
    key = (axis_size, tuple(in_batched), force, staged_for_compilation())
    cache = _batch_cache.setdefault(jaxpr, {})
    if key in cache:
        return cache[key]
    avals = [a.update(shape=(axis_size,) + a.shape) if b else a
             for a, b in zip(jaxpr.in_avals, in_batched)]
    out_batched: list = []

    def fun(*args):
        trace = BatchTrace(current_trace(), axis_size)
        with new_trace(trace):
            ins = [BatchTracer(trace, a, 0) if b else a for a, b in zip(args, in_batched)]
            outs = eval_jaxpr(jaxpr, *ins)
            pairs = [trace.unpack(o) for o in outs]
        out_batched[:] = [f or d is not not_mapped for (_, d), f in zip(pairs, force)]
        return [place_batch_dim(v, d, 0 if b else None, axis_size)
                for (v, d), b in zip(pairs, out_batched)]

    new = trace_to_jaxpr(fun, avals, fun_name="vmap", transform="vmap")
    cache[key] = result = (new, list(out_batched))
    return result


# --------------------------------------------------------------------------- rule combinators

def defvectorized(prim):
    """Elementwise unary primitives: the batch axis passes straight through."""
    def rule(axis_size, vals, dims, **params):
        return prim.bind(*vals, **params), dims[0]
    primitive_batchers[prim] = rule


def defbroadcasting(prim):
    """Elementwise n-ary primitives whose operands have equal shapes or are rank 0."""
    def rule(axis_size, vals, dims, **params):
        shapes = [get_aval(v).shape for v in vals]
        ranks = [len(s) - (d is not not_mapped) for s, d in zip(shapes, dims)]
        rank = max(ranks)
        first = next(d for d in dims if d is not not_mapped)
        if all((d == first and r == rank) if d is not not_mapped else r == 0
               for d, r in zip(dims, ranks)):
            return prim.bind(*vals, **params), first
        out_shape = None
        for s, d, r in zip(shapes, dims, ranks):
            if r == rank:
                out_shape = s[:d] + s[d + 1:] if d is not not_mapped else s
                break
        new_vals = []
        from ..primitives.shape import broadcast_in_dim_p
        for v, d, r in zip(vals, dims, ranks):
            if d is not_mapped:
                if r == 0:
                    new_vals.append(v)
                else:
                    new_vals.append(broadcast_batch(v, axis_size, 0))
            else:
                v = moveaxis(v, d, 0)
                if r < rank:
                    v = broadcast_in_dim_p.bind(v, shape=(axis_size,) + out_shape,
                                                broadcast_dimensions=(0,))
                new_vals.append(v)
        return prim.bind(*new_vals, **params), 0
    primitive_batchers[prim] = rule

