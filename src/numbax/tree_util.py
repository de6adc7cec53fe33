"""Pytrees: nested containers of arrays that every transformation flattens and rebuilds.

Built in: tuples, lists, dicts (sorted keys), OrderedDicts (insertion order), `None` (no leaves),
namedtuples. Register other classes with `register_pytree_node`, `register_pytree_node_class` or
`register_dataclass`.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, Callable, Iterable, NamedTuple


class _NodeType(NamedTuple):
    flatten: Callable      # node -> (children, aux_data)
    unflatten: Callable    # (aux_data, children) -> node


_registry: dict[type, _NodeType] = {}


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable) -> None:
    """flatten_func(node) -> (children, aux_data); unflatten_func(aux_data, children) -> node."""
    if nodetype in _registry:
        raise ValueError(f"Duplicate pytree registration for {nodetype}")
    _registry[nodetype] = _NodeType(flatten_func, unflatten_func)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: cls.tree_flatten() -> (children, aux); cls.tree_unflatten(aux, children)."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(nodetype: type, data_fields: Iterable[str] | None = None,
                       meta_fields: Iterable[str] | None = None):
    """Register a dataclass: data_fields are children (arrays), meta_fields static aux data.
    Without field lists, all init fields are data fields (usable as a decorator)."""
    if data_fields is None and meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError("register_dataclass without field lists needs a dataclass")
        data_fields = [f.name for f in dataclasses.fields(nodetype)
                       if f.init and not f.metadata.get("static", False)]
        meta_fields = [f.name for f in dataclasses.fields(nodetype)
                       if f.init and f.metadata.get("static", False)]
    data_fields, meta_fields = tuple(data_fields or ()), tuple(meta_fields or ())

    def flatten(x):
        return [getattr(x, n) for n in data_fields], tuple(getattr(x, n) for n in meta_fields)

    def unflatten(aux, children):
        return nodetype(**dict(zip(data_fields, children)), **dict(zip(meta_fields, aux)))

    register_pytree_node(nodetype, flatten, unflatten)
    return nodetype


register_pytree_node(tuple, lambda t: (t, None), lambda _, c: tuple(c))
register_pytree_node(list, lambda l: (l, None), lambda _, c: list(c))
register_pytree_node(dict, lambda d: (tuple(d[k] for k in sorted(d)), tuple(sorted(d))),
                     lambda keys, c: dict(zip(keys, c)))
register_pytree_node(collections.OrderedDict, lambda d: (tuple(d.values()), tuple(d.keys())),
                     lambda keys, c: collections.OrderedDict(zip(keys, c)))
register_pytree_node(type(None), lambda _: ((), None), lambda _, c: None)
register_pytree_node(collections.defaultdict,
                     lambda d: (tuple(d[k] for k in sorted(d)), (d.default_factory, tuple(sorted(d)))),
                     lambda aux, c: collections.defaultdict(aux[0], zip(aux[1], c)))


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


class PyTreeDef:
    """The structure of a pytree: node types, aux data and arity, without the leaves."""
    __slots__ = ("node_type", "node_data", "children", "num_leaves", "_hash")

    def __init__(self, node_type, node_data, children: tuple):
        self.node_type = node_type
        self.node_data = node_data
        self.children = children
        self.num_leaves = 1 if node_type is None else sum(c.num_leaves for c in children)
        self._hash = None

    @property
    def num_nodes(self) -> int:
        """The number of nodes, leaves included."""
        return 1 + sum(c.num_nodes for c in self.children)

    def _key(self):
        return (self.node_type, self.node_data, self.children)

    def __eq__(self, other):
        return self is other or (type(other) is PyTreeDef and self._key() == other._key())

    def __hash__(self):
        if self._hash is None:
            try:
                self._hash = hash(self._key())
            except TypeError:  # unhashable aux data: fall back to structure only
                self._hash = hash((self.node_type, self.children))
        return self._hash

    def unflatten(self, leaves: Iterable) -> Any:
        """The pytree of this structure with `leaves` in flattening order (their count must be
        num_leaves)."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"Too {'few' if len(leaves) < self.num_leaves else 'many'} leaves "
                             f"for PyTreeDef; expected {self.num_leaves}, got {len(leaves)}.")
        return self._build(iter(leaves))

    def _build(self, it):
        if self.node_type is None:
            return next(it)
        children = [c._build(it) for c in self.children]
        if self.node_type is tuple or self.node_type is list:
            return self.node_type(children)
        if _is_namedtuple_type(self.node_type):
            return self.node_type(*children)
        return _registry[self.node_type].unflatten(self.node_data, children)

    def __repr__(self):
        return f"PyTreeDef({self._repr()})"

    def _repr(self):
        if self.node_type is None:
            return "*"
        inner = ", ".join(c._repr() for c in self.children)
        if self.node_type is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.node_type is list:
            return f"[{inner}]"
        if self.node_type is dict:
            return "{" + ", ".join(f"{k!r}: {c._repr()}" for k, c in
                                   zip(self.node_data, self.children)) + "}"
        if self.node_type is type(None):
            return "None"
        return f"{self.node_type.__name__}({inner})"


def _is_namedtuple_type(t) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


_LEAF = PyTreeDef(None, None, ())


def _one_level(x):
    """(node_type, aux_data, children) of a pytree node, or None for a leaf."""
    t = type(x)
    if t is tuple or t is list:
        return t, None, x
    node = _registry.get(t)
    if node is not None:
        children, aux = node.flatten(x)
        return t, aux, children
    if _is_namedtuple(x):
        return t, None, x
    return None


def _flatten(x, leaves: list, is_leaf) -> PyTreeDef:
    node = None if is_leaf is not None and is_leaf(x) else _one_level(x)
    if node is None:
        leaves.append(x)
        return _LEAF
    t, aux, children = node
    return PyTreeDef(t, aux, tuple(_flatten(c, leaves, is_leaf) for c in children))


def tree_flatten(tree, is_leaf: Callable | None = None) -> tuple[list, PyTreeDef]:
    """(leaves, treedef): the leaves in order (dicts by sorted key, `None` holds no leaf)
    and the structure to rebuild the tree with; `is_leaf(x)` True stops the descent at x."""
    leaves: list = []
    return leaves, _flatten(tree, leaves, is_leaf)


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable) -> Any:
    """The inverse of tree_flatten: rebuild treedef's pytree from leaves."""
    return treedef.unflatten(leaves)


def tree_leaves(tree, is_leaf: Callable | None = None) -> list:
    """The leaves of tree in flattening order."""
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf: Callable | None = None) -> PyTreeDef:
    """The PyTreeDef of tree (its structure without the leaves)."""
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable, tree, *rest, is_leaf: Callable | None = None):
    """A tree like `tree` with f applied leaf by leaf; each of `rest` must have tree's
    structure, or be deeper where tree has a leaf (that subtree is passed to f whole)."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = [treedef.flatten_up_to(r) for r in rest] if rest else []
    return treedef.unflatten(f(*xs) for xs in zip(leaves, *others))


def _flatten_up_to(self: PyTreeDef, tree) -> list:
    """Leaves of `tree` at the positions of this treedef's leaves (tree may be deeper there)."""
    out: list = []

    def go(td: PyTreeDef, x):
        if td.node_type is None:
            out.append(x)
            return
        node = _one_level(x)
        if node is None or node[0] is not td.node_type or node[1] != td.node_data \
                or len(node[2]) != len(td.children):
            raise ValueError(f"Tree structure mismatch: expected {td}, got {tree_structure(x)}")
        for c, cx in zip(td.children, node[2]):
            go(c, cx)
    go(self, tree)
    return out


PyTreeDef.flatten_up_to = _flatten_up_to


def tree_reduce(function: Callable, tree, initializer=..., is_leaf=None):
    """functools.reduce of function over the leaves, starting from initializer if given."""
    leaves = tree_leaves(tree, is_leaf)
    return functools.reduce(function, leaves) if initializer is ... else \
        functools.reduce(function, leaves, initializer)


def tree_all(tree) -> bool:
    """True if every leaf is truthy (an empty tree is True)."""
    return all(tree_leaves(tree))


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """True if treedef is a single leaf."""
    return treedef.node_type is None


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """The treedefs of the root's children."""
    return list(treedef.children)


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef, pytree_to_transpose):
    """Turn an outer tree of inner trees into an inner tree of outer trees."""
    flat = outer_treedef.flatten_up_to(pytree_to_transpose)
    inner = [inner_treedef.flatten_up_to(x) for x in flat]
    columns = list(zip(*inner)) if inner else [()] * inner_treedef.num_leaves
    return inner_treedef.unflatten(outer_treedef.unflatten(col) for col in columns)


class Partial(functools.partial):
    """functools.partial that is a pytree: its bound arguments are leaves, the function static."""


register_pytree_node(Partial, lambda p: ((p.args, p.keywords), p.func),
                     lambda func, c: Partial(func, *c[0], **c[1]))

__all__ = ["PyTreeDef", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_structure",
           "tree_map", "tree_reduce", "tree_all", "tree_transpose", "treedef_is_leaf",
           "treedef_children", "register_pytree_node", "register_pytree_node_class",
           "register_dataclass", "Partial"]
