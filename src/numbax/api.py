"""The public transformations: flatten pytrees, check arguments, call the interpreters."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

import numpy as np

from . import dtypes
from .core import ShapedArray, Tracer, current_trace, get_aval, new_trace
from .interpreters import ad, batching
from .interpreters.ad import UndefPrimal, Zero, tangent_aval
from .interpreters.batching import BatchTrace, BatchTracer, not_mapped
from .interpreters.partial_eval import convert_constvars, trace_to_jaxpr
from .jaxpr import eval_jaxpr
from .primitives import custom_derivatives as cv
from .primitives.jit import jit_p, on as on_device
from .backends.numba_cpu.compiler import compile_jaxpr
from .tree_util import PyTreeDef, tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten

__all__ = ["grad", "value_and_grad", "jvp", "vjp", "linearize", "linear_transpose", "jacfwd",
           "jacrev", "jacobian", "hessian", "vmap", "jit", "make_jaxpr", "eval_shape",
           "ShapeDtypeStruct", "block_until_ready", "device_put", "devices"]


def _fun_name(fun) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def _materialize(ct, aval=None):
    """Cotangents/tangents handed back to users are arrays, never symbolic zeros. A weakly typed
    scalar zero is a Python scalar, as eager weak values are (so grad(f)(4.0) has one type)."""
    if type(ct) is Zero:
        if ct.aval.weak_type and ct.aval.shape == ():
            return {"f": float, "i": int, "u": int, "b": bool}[ct.aval.dtype.kind](0)
        return ad.zeros_like_aval(ct.aval)
    return ct


def _argnums_tuple(argnums, nargs: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise TypeError(f"{name}: argnums={argnums} out of range for a function called with "
                            f"{nargs} positional arguments")
    return tuple(i % nargs for i in nums)


# --------------------------------------------------------------------------- reverse mode

def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   allow_int: bool = False) -> Callable:
    """fun and its gradient w.r.t. `argnums`, in one pass: ((value, aux) if has_aux, grads)."""
    name = _fun_name(fun)

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args), "grad")
        dyn = tuple(args[i] for i in nums)
        flat, in_tree = tree_flatten(dyn)
        for x in flat:
            dt = get_aval(x).dtype
            if dt.kind != "f" and not allow_int:
                raise TypeError(
                    f"grad requires real-valued inputs (input dtype that is a sub-dtype of "
                    f"np.floating), but got {dt.name}. If you want to use Boolean- or "
                    f"integer-valued inputs, use vjp or set allow_int to True.")
        aux_store = []

        def flat_fun(*leaves):
            new_args = list(args)
            for i, a in zip(nums, tree_unflatten(in_tree, leaves)):
                new_args[i] = a
            out = fun(*new_args, **kwargs)
            if has_aux:
                if not (isinstance(out, (tuple, list)) and len(out) == 2):
                    raise TypeError("has_aux=True requires the function to return a pair "
                                    "(output, auxiliary_data)")
                out, aux = out
                aux_leaves, aux_tree = tree_flatten(aux)
                aux_store.append(aux_tree)
            else:
                aux_leaves = []
            aval = get_aval(out)
            if aval.shape != ():
                raise TypeError(f"Gradient only defined for scalar-output functions. Output of "
                                f"{name} had shape: {aval.shape}. Use jacrev/jacobian for "
                                "non-scalar outputs, or reduce the output (e.g. `.sum()`).")
            if aval.dtype.kind != "f":
                raise TypeError(f"grad requires real-valued outputs (output dtype that is a "
                                f"sub-dtype of np.floating), but {name} returned {aval.dtype.name}.")
            return [out, *aux_leaves]

        cts = _forward_grad(flat_fun, flat) if _is_scalar_input(flat) else None
        if cts is None:
            outs, f_vjp = ad.vjp_flat(flat_fun, flat, name)
            one = np.ones((), get_aval(outs[0]).dtype)[()]
            cts = f_vjp([one] + [Zero(tangent_aval(get_aval(a))) for a in outs[1:]])
        else:
            outs, cts = cts
        out = outs[0]
        grads = tree_unflatten(in_tree, [_materialize(c) for c in cts])
        g = grads[0] if isinstance(argnums, int) else grads
        if has_aux:
            return (out, tree_unflatten(aux_store[-1], outs[1:])), g
        return out, g

    return value_and_grad_f


def _is_scalar_input(flat) -> bool:
    if len(flat) != 1:
        return False
    aval = get_aval(flat[0])
    return aval.shape == () and aval.dtype.kind == "f"


def _forward_grad(flat_fun, flat):
    """The derivative w.r.t. one scalar input by forward mode: one jvp pass, nothing staged.
    Nested, it keeps derivative programs small: CSE merges the symmetric work of nested jvps,
    which reverse-over-reverse does not expose. None if a custom_vjp function needs reverse mode.
    """
    x = flat[0]
    seed = np.ones((), get_aval(x).dtype)[()]
    cv.forward_grad.depth += 1
    try:
        outs, tangents = ad.jvp_flat(flat_fun, [x], [seed])
    except cv.ForwardModeUnsupported:
        return None
    finally:
        cv.forward_grad.depth -= 1
    g = tangents[0]
    x_aval = get_aval(x)
    if type(g) is Zero:
        g = Zero(x_aval)     # x is a float scalar: its own tangent type, weak type kept
    elif get_aval(g).dtype != x_aval.dtype or get_aval(g).weak_type != x_aval.weak_type:
        from .primitives.elementwise import convert_element_type
        g = convert_element_type(g, x_aval.dtype, x_aval.weak_type)
    return outs, [g]


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         allow_int: bool = False) -> Callable:
    """The gradient of a scalar function w.r.t. the arguments `argnums` (reverse mode)."""
    vg = value_and_grad(fun, argnums, has_aux, allow_int)

    if has_aux:
        @functools.wraps(fun)
        def grad_f(*args, **kwargs):
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
    else:
        @functools.wraps(fun)
        def grad_f(*args, **kwargs):
            return vg(*args, **kwargs)[1]
    return grad_f


def _flat_fun_with_aux(fun, in_tree, has_aux: bool, store: dict):
    """fun on flat leaves returning out leaves + aux leaves; trees and counts go into `store`."""
    def flat_fun(*leaves):
        out = fun(*tree_unflatten(in_tree, leaves))
        if has_aux:
            out, aux = out
            aux_leaves, store["aux_tree"] = tree_flatten(aux)
        else:
            aux_leaves = []
        out_leaves, store["out_tree"] = tree_flatten(out)
        store["n_out"] = len(out_leaves)
        return out_leaves + aux_leaves
    return flat_fun


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """(fun(*primals), vjp_fun) where vjp_fun(ct) returns one cotangent per primal argument."""
    flat, in_tree = tree_flatten(primals)
    store: dict = {}

    flat_fun = _flat_fun_with_aux(fun, in_tree, has_aux, store)

    outs, f_vjp = ad.vjp_flat(flat_fun, flat, _fun_name(fun))
    out_tree, n_out = store["out_tree"], store["n_out"]
    out_avals = [get_aval(o) for o in outs[:n_out]]

    def vjp_fun(ct):
        ct_leaves, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TypeError(f"Tree structure of cotangent input {ct_tree} does not match the "
                            f"structure of the primal output {out_tree}.")
        for c, a in zip(ct_leaves, out_avals):
            ca = get_aval(c)
            if ca.shape != a.shape:
                raise ValueError(f"Shape of cotangent input to vjp pullback function {ca.shape} "
                                 f"must be the same as the shape of the corresponding primal "
                                 f"input {a.shape}.")
        cts = f_vjp(list(ct_leaves) + [Zero(tangent_aval(get_aval(a))) for a in outs[n_out:]])
        return tree_unflatten(in_tree, [_materialize(c) for c in cts])

    primal_out = tree_unflatten(out_tree, outs[:n_out])
    if has_aux:
        return primal_out, vjp_fun, tree_unflatten(store["aux_tree"], outs[n_out:])
    return primal_out, vjp_fun


# --------------------------------------------------------------------------- forward mode

def _check_tangents(primals_flat, tangents_flat):
    ts = []
    for p, t in zip(primals_flat, tangents_flat):
        pa = get_aval(p)
        if pa.dtype.kind != "f":
            ts.append(Zero(tangent_aval(pa)))
            continue
        ta = get_aval(t)
        if ta.shape != pa.shape:
            raise ValueError(f"jvp called with different primal and tangent shapes; got primal "
                             f"shape {pa.shape} and tangent shape {ta.shape}")
        if ta.dtype != pa.dtype and not ta.weak_type:
            raise TypeError(f"primal and tangent arguments to jvp do not match; dtypes must be "
                            f"equal, got primal {pa.dtype.name} and tangent {ta.dtype.name}")
        ts.append(t)
    return ts


def jvp(fun: Callable, primals: Sequence, tangents: Sequence, has_aux: bool = False):
    """(fun(*primals), J·tangents): forward mode."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, one entry per "
                        f"argument; got {type(primals).__name__} and {type(tangents).__name__}")
    flat_p, tree_p = tree_flatten(tuple(primals))
    flat_t, tree_t = tree_flatten(tuple(tangents))
    if tree_p != tree_t:
        raise TypeError(f"primal and tangent arguments to jvp must have the same tree structure; "
                        f"primals have tree structure {tree_p} whereas tangents have {tree_t}.")
    ts = _check_tangents(flat_p, flat_t)
    store: dict = {}

    flat_fun = _flat_fun_with_aux(fun, tree_p, has_aux, store)

    po, to = ad.jvp_flat(flat_fun, flat_p, ts)
    n = store["n_out"]
    out = tree_unflatten(store["out_tree"], po[:n])
    tout = tree_unflatten(store["out_tree"], [_materialize(t) for t in to[:n]])
    if has_aux:
        return out, tout, tree_unflatten(store["aux_tree"], po[n:])
    return out, tout


def linearize(fun: Callable, *primals):
    """(fun(*primals), f_jvp): f_jvp evaluates the staged linear map, without re-running fun."""
    flat, in_tree = tree_flatten(primals)
    store: dict = {}

    def flat_fun(*leaves):
        out_leaves, store["out_tree"] = tree_flatten(fun(*tree_unflatten(in_tree, leaves)))
        return out_leaves

    outs, jaxpr, in_mask, out_nz = ad.linearize_flat(flat_fun, flat, _fun_name(fun))
    out_tree = store["out_tree"]
    out_avals = [tangent_aval(get_aval(o)) for o in outs]

    def f_jvp(*tangents):
        t_flat, t_tree = tree_flatten(tangents)
        if t_tree != in_tree:
            raise TypeError(f"linearized function called with tangents of structure {t_tree}; "
                            f"expected {in_tree}")
        ts = [t for t, m in zip(_check_tangents(flat, t_flat), in_mask) if m]
        res = iter(eval_jaxpr(jaxpr, *[_materialize(t) for t in ts]))
        return tree_unflatten(out_tree, [next(res) if nz else ad.zeros_like_aval(a)
                                         for nz, a in zip(out_nz, out_avals)])

    return tree_unflatten(out_tree, outs), f_jvp


def linear_transpose(fun: Callable, *primals) -> Callable:
    """The transpose of a linear function, traced at the shapes/dtypes of `primals`."""
    flat, in_tree = tree_flatten(primals)
    in_avals = [get_aval(x).strip_weak_type() for x in flat]
    store: dict = {}

    def flat_fun(*leaves):
        out_leaves, store["out_tree"] = tree_flatten(fun(*tree_unflatten(in_tree, leaves)))
        return out_leaves

    jaxpr = trace_to_jaxpr(flat_fun, in_avals, fun_name=_fun_name(fun), transform="linear_transpose")
    out_tree = store["out_tree"]

    def transposed(*out_cts):
        ct_flat, ct_tree = tree_flatten(out_cts[0] if len(out_cts) == 1 else out_cts)
        if ct_tree != out_tree:
            raise TypeError(f"linear_transpose: cotangent structure {ct_tree} does not match the "
                            f"output structure {out_tree}")
        cts = ad.backward_pass(jaxpr, [UndefPrimal(a) for a in in_avals], ct_flat)
        return tree_unflatten(in_tree, [_materialize(c) for c in cts])

    return transposed


# --------------------------------------------------------------------------- jacobians

def _std_basis(flat_avals: list[ShapedArray]):
    """The identity of the flattened inputs, split into leaves of shape (N, *leaf_shape)."""
    sizes = [a.size for a in flat_avals]
    n = sum(sizes)
    dtype = np.result_type(*[a.dtype for a in flat_avals]) if flat_avals else dtypes.float64
    eye = np.eye(n, dtype=dtype)
    out, start = [], 0
    for a, s in zip(flat_avals, sizes):
        out.append(eye[:, start:start + s].reshape((n,) + a.shape).astype(a.dtype))
        start += s
    return out, n


def _unravel_jac(jac_leaf_flat, out_shape, in_avals, axis_first: bool):
    """Split the N axis of a Jacobian block into per-input leaves, shaped out+in."""
    from . import numpy as jnp
    pieces, start = [], 0
    for a in in_avals:
        s = a.size
        if axis_first:   # leaf has shape (N, *out_shape)
            block = jnp.moveaxis(jac_leaf_flat[start:start + s], 0, -1)
        else:            # leaf has shape (*out_shape, N)
            block = jac_leaf_flat[..., start:start + s]
        pieces.append(jnp.reshape(block, tuple(out_shape) + a.shape))
        start += s
    return pieces


def _check_real_inputs(flat, name):
    for x in flat:
        if get_aval(x).dtype.kind != "f":
            raise TypeError(f"{name} requires real-valued inputs (input dtype that is a sub-dtype "
                            f"of np.floating), but got {get_aval(x).dtype.name}.")


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian by forward mode: one jvp per input coordinate, batched with vmap."""

    @functools.wraps(fun)
    def jacfun(*args):
        nums = _argnums_tuple(argnums, len(args), "jacfwd")
        dyn = tuple(args[i] for i in nums)
        flat, in_tree = tree_flatten(dyn)
        _check_real_inputs(flat, "jacfwd")
        in_avals = [get_aval(x) for x in flat]
        basis, n = _std_basis(in_avals)

        def f_dyn(*dyn_args):
            new = list(args)
            for i, a in zip(nums, dyn_args):
                new[i] = a
            return fun(*new)

        def push(*tangent_leaves):
            res = jvp(f_dyn, dyn, tree_unflatten(in_tree, tangent_leaves), has_aux=has_aux)
            return (res[0], res[1], res[2]) if has_aux else (res[0], res[1])

        if has_aux:
            y, jac, aux = vmap(push, in_axes=0, out_axes=(None, -1, None))(*basis)
        else:
            y, jac = vmap(push, in_axes=0, out_axes=(None, -1))(*basis)
        y_leaves, out_tree = tree_flatten(y)
        jac_leaves = out_tree.flatten_up_to(jac)
        per_out = [_unravel_jac(j, get_aval(yl).shape, in_avals, axis_first=False)
                   for j, yl in zip(jac_leaves, y_leaves)]
        result = _assemble(per_out, out_tree, in_tree, isinstance(argnums, int))
        return (result, aux) if has_aux else result

    return jacfun


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian by reverse mode: one vjp per output coordinate, batched with vmap."""

    @functools.wraps(fun)
    def jacfun(*args):
        nums = _argnums_tuple(argnums, len(args), "jacrev")
        dyn = tuple(args[i] for i in nums)
        flat, in_tree = tree_flatten(dyn)
        _check_real_inputs(flat, "jacrev")
        in_avals = [get_aval(x) for x in flat]

        def f_dyn(*dyn_args):
            new = list(args)
            for i, a in zip(nums, dyn_args):
                new[i] = a
            return fun(*new)

        if has_aux:
            y, pullback, aux = vjp(f_dyn, *dyn, has_aux=True)
        else:
            y, pullback = vjp(f_dyn, *dyn)
        y_leaves, out_tree = tree_flatten(y)
        out_avals = [get_aval(l) for l in y_leaves]
        basis, m = _std_basis(out_avals)
        cts = vmap(lambda *b: tree_flatten(pullback(tree_unflatten(out_tree, b)))[0])(*basis)
        # cts[k] has shape (m, *in_shape_k); split m into outputs
        per_out, start = [], 0
        for a in out_avals:
            s = a.size
            per_out.append([_reshape_rev(c[start:start + s], a.shape, ia)
                            for c, ia in zip(cts, in_avals)])
            start += s
        result = _assemble(per_out, out_tree, in_tree, isinstance(argnums, int))
        return (result, aux) if has_aux else result

    return jacfun


def _reshape_rev(block, out_shape, in_aval):
    from . import numpy as jnp
    return jnp.reshape(block, tuple(out_shape) + in_aval.shape)


def _assemble(per_out: list[list], out_tree: PyTreeDef, in_tree: PyTreeDef, single_arg: bool):
    """Jacobian pytree: the output tree with each leaf replaced by the input tree."""
    leaves = []
    for blocks in per_out:
        dyn = tree_unflatten(in_tree, blocks)
        leaves.append(dyn[0] if single_arg else dyn)
    return tree_unflatten(out_tree, leaves)


jacobian = jacrev


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """jacfwd(jacrev(fun)): forward-over-reverse."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


# --------------------------------------------------------------------------- vmap

def _flatten_axes(what: str, treedef: PyTreeDef, axes) -> list:
    """Broadcast a pytree prefix of axes (ints or None) to the leaves of treedef."""
    out: list = []

    def go(td: PyTreeDef, ax):
        if ax is None or isinstance(ax, int):
            out.extend([ax] * td.num_leaves)
            return
        if td.node_type is None:
            raise ValueError(f"{what} specification must be a tree prefix of the corresponding "
                             f"value, got specification {axes} for value tree {treedef}.")
        from .tree_util import _one_level
        node = _one_level(ax)
        if node is None or node[0] is not td.node_type or len(node[2]) != len(td.children) or \
                (td.node_type is dict and node[1] != td.node_data):
            raise ValueError(f"{what} specification must be a tree prefix of the corresponding "
                             f"value, got specification {axes} for value tree {treedef}.")
        for c, a in zip(td.children, node[2]):
            go(c, a)
    go(treedef, axes)
    return out


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_size: int | None = None,
         axis_name: str | None = None) -> Callable:
    """Vectorise fun over the axes `in_axes` of its arguments; outputs are stacked at `out_axes`."""
    if axis_name is not None:
        raise NotImplementedError("vmap(axis_name=...): collective operations are not supported")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or isinstance(in_axes, (int, tuple, dict)) or
            tree_structure(in_axes) is not None):
        raise TypeError(f"vmap in_axes must be an int, None, or a tuple, got {in_axes}")
    name = _fun_name(fun)

    @functools.wraps(fun)
    def vmapped(*args, **kwargs):
        if kwargs:  # keyword arguments are mapped over axis 0, as in JAX
            args = args + tuple(kwargs.values())
            keys = list(kwargs)
            call = lambda *a: fun(*a[:len(a) - len(keys)], **dict(zip(keys, a[len(a) - len(keys):])))
            axes = (tuple(in_axes) if isinstance(in_axes, tuple) else (in_axes,) * (len(args) - len(keys))) \
                + (0,) * len(keys)
        else:
            call = fun
            axes = in_axes
        if isinstance(axes, tuple) and len(axes) != len(args):
            raise ValueError(f"vmap in_axes must be an int, None, or a tuple of entries "
                             f"corresponding to the positional arguments passed to the function, "
                             f"but got len(in_axes)={len(axes)}, len(args)={len(args)}")
        flat, in_tree = tree_flatten(args)
        flat_axes = _flatten_axes("vmap in_axes", in_tree, axes if isinstance(axes, tuple)
                                  else (axes,) * len(args))
        size = axis_size
        sizes = []
        dims = []
        for x, ax in zip(flat, flat_axes):
            if ax is None:
                dims.append(not_mapped)
                continue
            shape = get_aval(x).shape
            if not -len(shape) <= ax < len(shape):
                raise ValueError(f"vmap was requested to map its argument along axis {ax}, which "
                                 f"implies that its rank should be at least {ax + 1 if ax >= 0 else -ax}, "
                                 f"but is only {len(shape)} (its shape is {shape})")
            ax %= len(shape)
            dims.append(ax)
            sizes.append(shape[ax])
        if sizes:
            if len(set(sizes)) > 1 or (size is not None and size != sizes[0]):
                detail = ", ".join(f"axis {d} of an argument of shape {get_aval(x).shape} has size "
                                   f"{get_aval(x).shape[d]}" for x, d in zip(flat, dims)
                                   if d is not not_mapped)
                raise ValueError(f"vmap got inconsistent sizes for array axes to be mapped: "
                                 f"{detail}" + (f"; axis_size={size}" if size is not None else ""))
            size = sizes[0]
        elif size is None:
            raise ValueError("vmap must have at least one non-None value in in_axes, or be given "
                             "axis_size")
        store: dict = {}

        def flat_fun(*leaves):
            out_leaves, store["out_tree"] = tree_flatten(call(*tree_unflatten(in_tree, leaves)))
            return out_leaves

        trace = BatchTrace(current_trace(), size)
        with new_trace(trace):
            ins = [x if d is not_mapped else BatchTracer(trace, x, d) for x, d in zip(flat, dims)]
            outs = flat_fun(*ins)
            pairs = [trace.unpack(o) for o in outs]
        out_tree = store["out_tree"]
        flat_out_axes = _flatten_axes("vmap out_axes", out_tree, out_axes)
        results = []
        for (v, d), od in zip(pairs, flat_out_axes):
            if od is not None:
                nd = len(get_aval(v).shape) + (d is not_mapped)
                if not -nd <= od < nd:
                    raise ValueError(f"vmap out_axes={od} is out of range for an output of rank "
                                     f"{nd - 1} in {name}")
                od %= nd
            results.append(batching.place_batch_dim(v, d, od, size))
        return tree_unflatten(out_tree, results)

    return vmapped


# --------------------------------------------------------------------------- staging, jit

class ShapeDtypeStruct:
    """An abstract array argument (shape and dtype, no data) for eval_shape / make_jaxpr."""
    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = tuple(shape)
        self.dtype = dtypes.check_supported(dtype)
        self.weak_type = weak_type

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __eq__(self, other):
        return isinstance(other, ShapeDtypeStruct) and (self.shape, self.dtype, self.weak_type) == \
            (other.shape, other.dtype, other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self):
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"


def _abstractify(x) -> ShapedArray:
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    if isinstance(x, ShapedArray):
        return x
    return get_aval(x)


def _arg_names(fun, args, in_tree_per_arg) -> list[str]:
    try:
        params = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        params = []
    names = []
    for i, (a, n_leaves) in enumerate(zip(args, in_tree_per_arg)):
        base = params[i] if i < len(params) else f"args[{i}]"
        names.extend([base] if n_leaves == 1 else [f"{base}[{j}]" for j in range(n_leaves)])
    return names


def _stage(fun, args, kwargs, transform: str, device: str | None = None):
    """Trace fun at the abstract values of (args, kwargs) -> (jaxpr, in_tree, out_tree, consts)."""
    flat, in_tree = tree_flatten((args, kwargs))
    avals = [_abstractify(x) for x in flat]
    store: dict = {}

    def flat_fun(*leaves):
        a, k = tree_unflatten(in_tree, leaves)
        out_leaves, store["out_tree"] = tree_flatten(fun(*a, **k))
        return out_leaves

    names = _arg_names(fun, list(args) + list(kwargs.values()),
                       [len(tree_flatten(a)[0]) for a in list(args) + list(kwargs.values())])
    with batching.staging_for_compilation(device):
        jaxpr = trace_to_jaxpr(flat_fun, avals, names, _fun_name(fun), transform)
    return jaxpr, in_tree, store["out_tree"], flat


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = (),
               return_shape: bool = False) -> Callable:
    """A function returning the jaxpr of fun at the given arguments' shapes and dtypes."""
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def make_jaxpr_f(*args, **kwargs):
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static)
        f = fun
        if static:
            def f(*dyn, **kw):
                it = iter(dyn)
                return fun(*[args[i] if i in static else next(it) for i in range(len(args))], **kw)
            f.__name__ = _fun_name(fun)
        jaxpr, _, out_tree, _ = _stage(f, dyn_args, kwargs, "make_jaxpr")
        if return_shape:
            return jaxpr, tree_unflatten(out_tree, [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type)
                                                    for a in jaxpr.out_avals])
        return jaxpr

    return make_jaxpr_f


def eval_shape(fun: Callable, *args, **kwargs):
    """The output shapes/dtypes of fun, without computing anything."""
    jaxpr, _, out_tree, _ = _stage(fun, args, kwargs, "eval_shape")
    return tree_unflatten(out_tree, [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type)
                                     for a in jaxpr.out_avals])


class _NotALeaf(Exception):
    pass


_SCALAR_TYPES = frozenset([float, int, bool, np.float64, np.float32, np.int64, np.int32,
                           np.bool_, np.int8, np.int16, np.uint8, np.uint16, np.uint32, np.uint64])


def _leaf_signature(a):
    """What a compiled program depends on for a leaf: the type of a scalar, the shape and dtype
    of an array. Anything else (tracers, containers) takes the general path."""
    t = type(a)
    if t is np.ndarray:
        return (a.shape, a.dtype)
    if t in _SCALAR_TYPES:
        return t
    raise _NotALeaf


class Lowered:
    """A jitted function compiled for one signature: `.jaxpr` (staged), `.optimized_jaxpr`,
    `.as_text()` (the generated host program and kernel modules), `.compile()`."""

    def __init__(self, executable, jaxpr):
        self._executable = executable
        self.jaxpr = jaxpr
        self.optimized_jaxpr = executable.jaxpr
        self.plan = executable.plan

    def as_text(self) -> str:
        return self._executable.as_text()

    def compile(self):
        """The compiled callable (already compiled: kept for JAX's `.lower().compile()`)."""
        return self._executable.run_tree

    def __repr__(self):
        return f"<Lowered: {len(self._executable.kernels)} kernels, plan {self.plan}>"


class Jitted:
    """A function staged once per abstract signature, compiled with Numba, and cached."""

    def __init__(self, fun: Callable, static_argnums=(), static_argnames=(), device=None):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.static_argnums = (static_argnums,) if isinstance(static_argnums, int) \
            else tuple(static_argnums)
        self.static_argnames = (static_argnames,) if isinstance(static_argnames, str) \
            else tuple(static_argnames)
        self.device = _check_device(device, "jit")
        self._statics = False
        self._cache: dict = {}
        self._fast: dict = {}     # leaf signatures of plain positional calls -> compiled runner
        self._pickled = None      # (len(_cache), __reduce__ value) of the last pickling
        self._name = _fun_name(fun)
        if self.static_argnames:
            try:
                params = list(inspect.signature(fun).parameters)
            except (TypeError, ValueError):
                params = []
            self.static_argnums = tuple(sorted(set(self.static_argnums) | {
                params.index(n) for n in self.static_argnames if n in params}))
        self._statics = bool(self.static_argnums or self.static_argnames)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def _split(self, args, kwargs):
        nargs = len(args)
        static_pos = tuple(i % nargs if -nargs <= i < nargs else i for i in self.static_argnums)
        statics = tuple((i, args[i]) for i in static_pos if i < nargs)
        statics += tuple((k, kwargs[k]) for k in self.static_argnames if k in kwargs)
        for _, v in statics:
            try:
                hash(v)
            except TypeError:
                raise ValueError(f"Non-hashable static arguments are not supported. An error "
                                f"occurred while trying to hash an object of type {type(v)}, "
                                f"{v!r:.80}. The error was: unhashable type") from None
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static_pos)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        return statics, dyn_args, dyn_kwargs, static_pos

    def _trace(self, statics, dyn_args, dyn_kwargs, static_pos, nargs):
        fun = self.fun
        static_kw = {k: v for k, v in statics if isinstance(k, str)}
        static_args = {k: v for k, v in statics if not isinstance(k, str)}

        def f(*dyn, **kw):
            it = iter(dyn)
            full = [static_args[i] if i in static_args else next(it) for i in range(nargs)]
            return fun(*full, **kw, **static_kw)

        f.__name__ = self._name
        try:
            f.__signature__ = inspect.Signature([p for i, p in enumerate(
                inspect.signature(fun).parameters.values()) if i not in static_pos
                and p.name not in static_kw])
        except (TypeError, ValueError):
            pass
        jaxpr, in_tree, out_tree, _ = _stage(f, dyn_args, dyn_kwargs, "jit", self.device)
        jaxpr, tracer_consts = convert_constvars(jaxpr)
        return jaxpr, out_tree, tracer_consts

    def __call__(self, *args, **kwargs):
        if not kwargs and not self._statics:
            try:  # the lean path: every argument an array or a scalar seen before
                key = tuple([_leaf_signature(a) for a in args])
            except _NotALeaf:
                key = None
            else:
                run = self._fast.get(key)
                if run is not None:
                    return run(*args)
        else:
            key = None
        return self._call(args, kwargs, key)

    def _staged(self, args, kwargs):
        """(dynamic leaves, (jaxpr, out_tree), tracer consts) for these arguments: from the cache,
        unless the function closes over values of an enclosing transformation (not cached)."""
        if self._statics or kwargs:
            statics, dyn_args, dyn_kwargs, static_pos = self._split(args, kwargs)
        else:
            statics, dyn_args, dyn_kwargs, static_pos = (), args, kwargs, ()
        flat, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        key = (in_tree, tuple(get_aval(x) for x in flat), statics)
        entry = self._cache.get(key)
        if entry is not None:
            return flat, entry, ()
        jaxpr, out_tree, tracer_consts = self._trace(statics, dyn_args, dyn_kwargs, static_pos,
                                                     len(args))
        if not tracer_consts:
            self._cache[key] = (jaxpr, out_tree)
        return flat, (jaxpr, out_tree), tracer_consts

    def trace(self, *args, **kwargs):
        """Stage (not compile) for these arguments and keep the program, e.g. before pickling
        the function for another process; returns the jaxpr."""
        _, (jaxpr, _), tracer_consts = self._staged(args, kwargs)
        if tracer_consts:
            raise TypeError("jit(f).trace: f closes over values of an enclosing transformation")
        return jaxpr

    def _call(self, args, kwargs, fast_key):
        flat, (jaxpr, out_tree), tracer_consts = self._staged(args, kwargs)
        if tracer_consts or any(isinstance(x, Tracer) for x in flat):
            # inside a transformation (or closing over one): its rules apply to jit_p
            return tree_unflatten(out_tree, jit_p.bind(*tracer_consts, *flat, jaxpr=jaxpr,
                                                       name=self._name, **on_device(self.device)))
        exe = self._compile(jaxpr, out_tree)
        if fast_key is not None:
            self._fast[fast_key] = exe.run_tree
        return exe.run_tree(*flat)

    def _compile(self, jaxpr, out_tree):
        if self.device == "cuda":
            from .backends.numba_cuda.compiler import compile_jaxpr as compile_cuda
            return compile_cuda(jaxpr, out_tree)
        return compile_jaxpr(jaxpr, out_tree)

    def lower(self, *args, **kwargs) -> "Lowered":
        """Stage and compile for these arguments; the result shows the optimised jaxpr
        (`.jaxpr`) and the generated source (`.as_text()`)."""
        statics, dyn_args, dyn_kwargs, static_pos = self._split(args, kwargs)
        jaxpr, out_tree, tracer_consts = self._trace(statics, dyn_args, dyn_kwargs, static_pos,
                                                     len(args))
        if tracer_consts:
            raise TypeError("jit(f).lower: f closes over values of an enclosing transformation")
        return Lowered(self._compile(jaxpr, out_tree), jaxpr)

    def clear_cache(self):
        self._cache.clear()
        self._fast.clear()
        self._pickled = None

    def __repr__(self):
        return f"<jitted function {self._name}>"

    def __reduce__(self):
        """Pickled as the programs traced so far (jaxprs name their primitives, so they need no
        code) and the static configuration. The Python function goes along when it pickles (by
        value with cloudpickle, as Dask does, else by reference), so the receiving process can
        trace new signatures too; it compiles the programs itself, through its disk cache."""
        if self._pickled is not None and self._pickled[0] == len(self._cache):
            return self._pickled[1]   # the same bytes each time: Dask pickles it for every task
        traced = [(key, jaxpr, out_tree) for key, (jaxpr, out_tree) in self._cache.items()]
        try:
            programs = _dumps(traced)
        except Exception as e:
            raise TypeError(f"cannot pickle jitted function {self._name}: its traced program "
                            f"holds Python callables (custom_jvp/custom_vjp rules) that do not "
                            f"pickle ({e}); install cloudpickle, which pickles them by "
                            f"value") from e
        try:
            fun = _dumps(self.fun)
        except Exception:
            fun = None
        reduced = _unpickle_jitted, (fun, self.static_argnums, self.static_argnames,
                                     self.device, self._name, programs)
        self._pickled = (len(self._cache), reduced)
        return reduced


def _dumps(obj) -> bytes:
    """cloudpickle where installed (closures and __main__ functions by value), else pickle."""
    try:
        import cloudpickle
    except ImportError:
        import pickle
        return pickle.dumps(obj)
    return cloudpickle.dumps(obj)


_UNPICKLED: dict = {}     # digest of a pickled jitted function -> the one rebuilt from it


def _unpickle_jitted(fun_bytes, static_argnums, static_argnames, device, name, programs):
    """Rebuilt once per process: a worker handed the same function with every task compiles
    and stages it once."""
    import hashlib
    digest = hashlib.sha256(b"%r|" % ((static_argnums, static_argnames, device, name),)
                            + (fun_bytes or b"") + b"|" + programs).digest()
    jitted = _UNPICKLED.get(digest)
    if jitted is None:
        if len(_UNPICKLED) >= 256:
            _UNPICKLED.pop(next(iter(_UNPICKLED)))
        jitted = _UNPICKLED[digest] = _rebuild_jitted(fun_bytes, static_argnums,
                                                      static_argnames, device, name, programs)
    return jitted


def _rebuild_jitted(fun_bytes, static_argnums, static_argnames, device, name, programs):
    import pickle
    traced = pickle.loads(programs)
    fun, why = None, "its function did not pickle"
    if fun_bytes is not None:
        try:
            fun = pickle.loads(fun_bytes)
        except Exception as e:
            why = f"its function did not unpickle here: {type(e).__name__}: {e}"
    if fun is None:
        fun = _untraceable(name, why, [key for key, _, _ in traced])
    jitted = Jitted(fun, static_argnums, static_argnames, device)
    jitted._name = name
    jitted._cache.update((key, (jaxpr, out_tree)) for key, jaxpr, out_tree in traced)
    return jitted


def _untraceable(name: str, why: str, keys: list):
    def fun(*args, **kwargs):
        seen = "; ".join(", ".join(a.str_short() for a in key[1]) for key in keys) or "none"
        raise TypeError(f"jitted function {name} was unpickled without its Python function "
                        f"({why}), so it runs only the signatures traced before pickling "
                        f"({seen}), not a new one. Call it (or .lower() it) on arguments of "
                        f"this shape before pickling, or install cloudpickle.")
    fun.__name__ = name
    return fun


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), device: str | None = None):
    """Stage fun once per abstract signature (shapes, dtypes, weak types, static values)."""
    if fun is None:
        return lambda f: Jitted(f, static_argnums, static_argnames, device)
    return Jitted(fun, static_argnums, static_argnames, device)


# --------------------------------------------------------------------------- misc

def _check_device(device, who: str):
    """None, "cpu" or "cuda" (a CudaDevice from `devices("cuda")` counts as "cuda")."""
    if getattr(device, "device_kind", None) == "cuda":
        device = "cuda"
    if device in ("gpu",):
        device = "cuda"
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"{who}(device={device!r}): unknown device; use 'cpu' or 'cuda'")
    if device == "cuda":
        from .backends.numba_cuda import runtime
        runtime.cuda_module()   # a clear error now, not at the first call
    return device


def block_until_ready(x):
    """Wait for the GPU to finish the work that x depends on (the CPU computes
    synchronously); returns x."""
    from .backends.numba_cuda import runtime
    if runtime._cuda is not None and any(runtime.is_device_array(v)
                                         for v in tree_leaves(x)):
        runtime._cuda.synchronize()
    return x


def device_put(x, device=None):
    """Place a pytree of arrays on a device: numpy arrays on the CPU (device arrays are copied
    back), numba device arrays on "cuda" (numpy values are copied over)."""
    device = _check_device(device, "device_put")
    if device == "cuda":
        from .backends.numba_cuda import runtime
        return tree_map(lambda v: v if isinstance(v, Tracer) else runtime.to_device(v), x)
    return tree_map(lambda v: v if isinstance(v, Tracer) else np.asarray(v), x)


def devices(backend: str | None = None) -> list:
    """The devices numbax can run on: the CPU, then the GPUs when `backend` is "cuda" (or
    "gpu"). With no argument, only the CPU is listed unless CUDA is already in use."""
    from .backends.numba_cuda import runtime
    if backend in ("cuda", "gpu"):
        return runtime.devices()
    if backend not in (None, "cpu"):
        raise ValueError(f"devices({backend!r}): unknown backend; use 'cpu' or 'cuda'")
    cpu = [CpuDevice()]
    return cpu + (runtime.devices() if backend is None and runtime._cuda is not None else [])


class CpuDevice:
    platform = "cpu"
    device_kind = "cpu"
    id = 0

    def __repr__(self):
        return "CpuDevice(id=0)"

