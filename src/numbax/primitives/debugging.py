"""`debug_print_p`: print runtime values from inside transformed and compiled code.

The primitive has no results, so it is marked `effectful`: DCE keeps it and CSE never merges two
of them. Its operands are the array leaves of `(args, kwargs)`; everything else (the format
string, the tree structure, non-array leaves such as strings) is static in its params, so the
values are formatted only when the primitive runs: eagerly, or when compiled code runs (the
backend runs it as a host step through `impl`), never while tracing.

Under transformations it prints what JAX prints: jvp/grad print the primal values once (the
tangents are never printed; transposition prints nothing), and vmap prints one line per element
of the batch, as JAX's unrolling batching rule does.
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive, get_aval
from ..interpreters import ad, batching
from ..tree_util import tree_flatten, tree_unflatten

debug_print_p = Primitive("debug_print", multiple_results=True)
debug_print_p.effectful = True


class _Static:
    """A non-array leaf kept in the params; compared by identity when it is not hashable."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def _key(self):
        try:
            hash(self.value)
            return (type(self.value), self.value)
        except TypeError:
            return id(self.value)

    def __eq__(self, other):
        return type(other) is _Static and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return repr(self.value)


def _is_array(x) -> bool:
    try:
        get_aval(x)
    except (TypeError, OverflowError):
        return False
    return True


def debug_print(fmt: str, *args, ordered: bool = False, **kwargs) -> None:
    """Print `fmt.format(*args, **kwargs)` with the runtime values of the array leaves.

    `ordered` is accepted for JAX compatibility: numbax always prints in program order."""
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print: the format must be a str, got {type(fmt).__name__}")
    leaves, tree = tree_flatten((args, kwargs))
    arrays = [x for x in leaves if _is_array(x)]
    statics = tuple((i, _Static(x)) for i, x in enumerate(leaves) if not _is_array(x))
    debug_print_p.bind(*arrays, fmt=fmt, tree=tree, statics=statics)


def _value(x):
    """What the user's format sees: a numpy array, or a numpy scalar for rank 0."""
    a = np.asarray(x)
    return a[()] if a.ndim == 0 else a


@debug_print_p.def_impl
def _debug_print_impl(*arrays, fmt, tree, statics):
    leaves = [_value(x) for x in arrays]
    for i, s in statics:
        leaves.insert(i, s.value)
    args, kwargs = tree_unflatten(tree, leaves)
    print(fmt.format(*args, **kwargs))
    return []


@debug_print_p.def_abstract_eval
def _debug_print_abstract_eval(*avals, fmt, tree, statics):
    return []


def _debug_print_jvp(primals, tangents, **params):
    debug_print_p.bind(*primals, **params)
    return [], []


def _debug_print_transpose(cts, *args, **params):
    # a print of tangents in a linear program: the backward pass prints nothing
    return [None] * len(args)


def _debug_print_batch(axis_size, vals, dims, **params):
    # JAX unrolls: one print per element of the batch, unbatched operands repeated
    from .shape import index_in_dim
    for i in range(axis_size):
        debug_print_p.bind(*[v if d is batching.not_mapped else
                             index_in_dim(v, i, axis=d, keepdims=False)
                             for v, d in zip(vals, dims)], **params)
    return [], []


ad.primitive_jvps[debug_print_p] = _debug_print_jvp
ad.primitive_transposes[debug_print_p] = _debug_print_transpose
batching.primitive_batchers[debug_print_p] = _debug_print_batch
