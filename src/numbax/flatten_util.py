"""ravel_pytree: a pytree of arrays as one flat vector, and the way back.

Optimisers and Hessians work on vectors; users write models over dicts and tuples of arrays.
Both directions are traceable, so a function of the flat vector can be jitted, vmapped and
differentiated like any other.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import numpy as jnp
from .core import get_aval
from .tree_util import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["ravel_pytree", "leaf_paths", "flat_names"]


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """(flat, unravel): the leaves raveled and concatenated in tree order (promoted to their
    common dtype, as JAX does), and a function mapping such a vector back to the pytree with
    each leaf's original shape and dtype."""
    leaves, treedef = tree_flatten(pytree)
    avals = [get_aval(x) for x in leaves]
    shapes = [a.shape for a in avals]
    dtypes = [a.dtype for a in avals]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    if not leaves:
        flat = jnp.zeros((0,), np.float64)
    else:
        flat = jnp.concatenate([jnp.ravel(jnp.asarray(x)) for x in leaves])
    flat_dtype = get_aval(flat).dtype
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)

    def unravel(vec):
        aval = get_aval(vec)
        if aval.shape != (offsets[-1],):
            raise TypeError(f"unravel: expected a vector of shape ({offsets[-1]},) for the pytree "
                            f"{treedef}, got shape {aval.shape}")
        if aval.dtype != flat_dtype:
            raise TypeError(f"unravel: expected dtype {flat_dtype}, got {aval.dtype}")
        parts = [(vec[offsets[i]] if shapes[i] == () else  # a scalar leaf comes back a scalar
                  jnp.reshape(vec[offsets[i]:offsets[i + 1]], shapes[i])).astype(dtypes[i])
                 for i in range(len(leaves))]
        return tree_unflatten(treedef, parts)

    return flat, unravel


def leaf_paths(treedef: PyTreeDef) -> list[str]:
    """A readable path per leaf: dict keys and namedtuple fields by name, sequence positions in
    brackets (`theta`, `layers[0].w`); a bare leaf is ``x``."""
    out: list[str] = []

    def walk(node: PyTreeDef, prefix: str):
        if node.node_type is None:
            out.append(prefix or "x")
            return
        if node.node_type is dict:
            keys = node.node_data
        elif hasattr(node.node_type, "_fields"):
            keys = node.node_type._fields
        else:
            keys = None
        for i, child in enumerate(node.children):
            if keys is not None:
                walk(child, f"{prefix}.{keys[i]}" if prefix else str(keys[i]))
            else:
                walk(child, f"{prefix}[{i}]")

    walk(treedef, "")
    return out


def flat_names(pytree: Any) -> list[str]:
    """One name per entry of ``ravel_pytree(pytree)[0]``: the leaf's path, with the element's
    index for array leaves (``theta[3]``, ``W[1, 2]``)."""
    leaves, treedef = tree_flatten(pytree)
    names = []
    for path, leaf in zip(leaf_paths(treedef), leaves):
        shape = get_aval(leaf).shape
        if not shape:
            names.append(path)
        else:
            names.extend(f"{path}[{', '.join(map(str, idx))}]" for idx in np.ndindex(shape))
    return names
