"""Pytrees: flatten/unflatten round trips, registration, tree_map, structure errors, and pytrees
through grad, vmap and jit."""
from __future__ import annotations

import collections
import dataclasses
import functools

import numpy as np
import pytest

import numbax.numpy as jnp
from numbax import grad, jacfwd, jit, jvp, value_and_grad, vjp, vmap
from numbax import tree_util
from numbax.tree_util import (Partial, register_dataclass, register_pytree_node,
                              register_pytree_node_class, tree_flatten, tree_leaves, tree_map,
                              tree_structure, tree_unflatten)

from checks import assert_allclose

Point = collections.namedtuple("Point", ["x", "y"])


# --------------------------------------------------------------------------- registered types

@register_pytree_node_class
class Box:
    """A registered class with static aux data."""

    def __init__(self, value, label):
        self.value = value
        self.label = label

    def tree_flatten(self):
        return (self.value,), self.label

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], aux)

    def __eq__(self, other):
        return type(other) is Box and self.label == other.label and _tree_equal(self.value,
                                                                                other.value)


class Pair:
    def __init__(self, a, b):
        self.a, self.b = a, b


register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))


@functools.partial(register_dataclass, data_fields=["w", "b"], meta_fields=["act"])
@dataclasses.dataclass
class Layer:
    w: object
    b: object
    act: str = "tanh"


@register_dataclass
@dataclasses.dataclass
class Auto:
    u: object
    v: object
    name: str = dataclasses.field(default="auto", metadata={"static": True})


def _tree_equal(a, b):
    la, ta = tree_flatten(a)
    lb, tb = tree_flatten(b)
    return ta == tb and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


# --------------------------------------------------------------------------- flatten / unflatten

ROUND_TRIP_CASES = {
    "leaf": 1.0,
    "array": np.arange(3.0),
    "tuple": (1, 2.0, np.ones(2)),
    "list": [1, [2, 3], []],
    "dict": {"b": 1, "a": 2, "c": {"z": 3, "y": 4}},
    "none": None,
    "none_in_tuple": (None, 1, (None,)),
    "namedtuple": Point(1.0, Point(2.0, 3.0)),
    "empty": ((), [], {}),
    "nested": {"params": [Point(np.ones(2), None), {"k": (1, 2)}], "step": 3},
    "ordered_dict": collections.OrderedDict([("b", 1), ("a", 2)]),
    "box": Box(np.arange(2.0), "lbl"),
    "pair": Pair(1.0, (2.0, 3.0)),
    "layer": Layer(np.ones((2, 2)), np.zeros(2), "relu"),
    "auto": Auto(1.0, [2.0, 3.0], name="xyz"),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP_CASES))
def test_flatten_unflatten_round_trip(name):
    tree = ROUND_TRIP_CASES[name]
    leaves, td = tree_flatten(tree)
    rebuilt = tree_unflatten(td, leaves)
    assert type(rebuilt) is type(tree)
    assert tree_structure(rebuilt) == td
    assert _tree_equal(rebuilt, tree)
    assert td.num_leaves == len(leaves)
    assert len(tree_leaves(tree)) == len(leaves)
    assert all(a is b for a, b in zip(tree_leaves(tree), leaves))
    # leaves are the objects themselves (no copies)
    assert all(a is b for a, b in zip(tree_leaves(rebuilt), leaves))


def test_leaf_order_and_counts():
    assert tree_leaves({"b": 1, "a": 2, "c": 3}) == [2, 1, 3]          # sorted keys
    assert tree_leaves(collections.OrderedDict([("b", 1), ("a", 2)])) == [1, 2]   # insertion
    assert tree_leaves([None, 1, (None, 2)]) == [1, 2]
    assert tree_leaves(None) == []
    assert tree_structure(None).num_leaves == 0
    assert tree_leaves(Point(y=1, x=2)) == [2, 1]
    assert tree_leaves(Layer(1, 2, "relu")) == [1, 2]
    assert tree_leaves(Auto(1, 2, name="n")) == [1, 2]
    assert tree_leaves(Box(5, "meta")) == [5]
    assert tree_leaves({1: "a", 0: "b"}) == ["b", "a"]
    assert tree_structure(5).num_leaves == 1


def test_structures_distinguish_types_and_aux_data():
    assert tree_structure((1, 2)) != tree_structure([1, 2])
    assert tree_structure((1, 2)) != tree_structure(Point(1, 2))
    assert tree_structure({"a": 1}) != tree_structure({"b": 1})
    assert tree_structure(Box(1, "x")) != tree_structure(Box(1, "y"))
    assert tree_structure(Box(1, "x")) == tree_structure(Box(2.0, "x"))
    assert tree_structure(Layer(1, 2, "relu")) != tree_structure(Layer(1, 2, "tanh"))
    assert tree_structure((None,)) != tree_structure((1,))
    assert hash(tree_structure({"a": [1, 2]})) == hash(tree_structure({"a": [3, 4]}))


def test_dataclass_meta_fields_are_static():
    layer = Layer(np.ones(2), np.zeros(2), "relu")
    leaves, td = tree_flatten(layer)
    assert len(leaves) == 2
    new = tree_unflatten(td, [np.full(2, 5.0), np.full(2, 6.0)])
    assert isinstance(new, Layer) and new.act == "relu"
    assert_allclose(new.w, 5.0 * np.ones(2), rtol=0)
    a = tree_map(lambda v: v * 2, Auto(1.0, 2.0, name="kept"))
    assert a == Auto(2.0, 4.0, name="kept")


def test_unflatten_wrong_leaf_count_raises():
    td = tree_structure({"a": 1, "b": (2, 3)})
    with pytest.raises(ValueError, match="(?i)few"):
        tree_unflatten(td, [1, 2])
    with pytest.raises(ValueError, match="(?i)many"):
        tree_unflatten(td, [1, 2, 3, 4])


def test_is_leaf():
    tree = {"a": (1, 2), "b": [3, (4, 5)]}
    leaves, td = tree_flatten(tree, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1, 2), 3, (4, 5)]
    assert tree_unflatten(td, leaves) == tree
    out = tree_map(lambda t: sum(t) if isinstance(t, tuple) else t, tree,
                   is_leaf=lambda x: isinstance(x, tuple))
    assert out == {"a": 3, "b": [3, 9]}


# --------------------------------------------------------------------------- tree_map

def test_tree_map_single_and_multiple_trees():
    t1 = {"a": 1, "b": (2, Point(3, 4)), "c": None}
    t2 = {"a": 10, "b": (20, Point(30, 40)), "c": None}
    t3 = {"a": 100, "b": (200, Point(300, 400)), "c": None}
    assert tree_map(lambda x: x * 2, t1) == {"a": 2, "b": (4, Point(6, 8)), "c": None}
    assert tree_map(lambda x, y, z: x + y + z, t1, t2, t3) == \
        {"a": 111, "b": (222, Point(333, 444)), "c": None}
    out = tree_map(lambda x, y: x * y, Box(np.arange(3.0), "m"), Box(np.ones(3) * 2, "m"))
    assert out == Box(np.arange(3.0) * 2, "m")


def test_tree_map_second_tree_may_be_deeper_at_leaves():
    out = tree_map(lambda x, y: (x, y), [1, 2], [(3, 4), {"k": 5}])
    assert out == [(1, (3, 4)), (2, {"k": 5})]


@pytest.mark.parametrize("other", [
    [1, 2, 3],                      # different length
    (1, 2),                         # tuple vs list
    {"a": 1, "b": 2},               # dict vs list
    [1, None],                      # None where a leaf subtree is... fine; see below
])
def test_tree_map_structure_mismatch_raises(other):
    if other == [1, None]:
        # a leaf position in the first tree accepts any subtree of the others (JAX semantics)
        assert tree_map(lambda x, y: (x, y), [1, 2], other) == [(1, 1), (2, None)]
        return
    with pytest.raises(ValueError):
        tree_map(lambda x, y: x + y, [1, 2], other)


def test_tree_map_mismatch_dict_keys_and_aux():
    with pytest.raises(ValueError):
        tree_map(lambda x, y: x + y, {"a": 1}, {"b": 1})
    with pytest.raises(ValueError):
        tree_map(lambda x, y: x + y, Box(1, "x"), Box(1, "y"))
    with pytest.raises(ValueError):
        tree_map(lambda x, y: x + y, (1, None), (1, 2))
    with pytest.raises(ValueError):
        tree_map(lambda x, y: x + y, Point(1, 2), (1, 2))


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="Duplicate"):
        register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))


def test_other_tree_utils():
    tree = {"a": 1, "b": [2, 3]}
    assert tree_util.tree_reduce(lambda a, b: a + b, tree) == 6
    assert tree_util.tree_reduce(lambda a, b: a + b, tree, 10) == 16
    assert tree_util.tree_all({"a": True, "b": [1, 2]})
    assert not tree_util.tree_all({"a": True, "b": [0, 2]})
    outer = tree_structure([0, 0])
    inner = tree_structure({"x": 0, "y": 0})
    t = tree_util.tree_transpose(outer, inner, [{"x": 1, "y": 2}, {"x": 3, "y": 4}])
    assert t == {"x": [1, 3], "y": [2, 4]}
    assert tree_util.treedef_is_leaf(tree_structure(1))
    assert len(tree_util.treedef_children(tree_structure((1, (2, 3))))) == 2


# --------------------------------------------------------------------------- grad over pytrees

def _loss(params, x):
    h = jnp.tanh(x @ params["layer"].w + params["layer"].b)
    return jnp.sum((h * params["scale"][0]) ** 2) + params["scale"][1] * jnp.sum(params["extra"].x)


def _params():
    rng = np.random.default_rng(0)
    return {"layer": Layer(rng.standard_normal((3, 2)), rng.standard_normal(2), "tanh"),
            "scale": (np.array(1.5), np.array(0.5)),
            "extra": Point(np.arange(2.0), None)}


def test_grad_wrt_pytree_returns_same_structure():
    p = _params()
    x = np.array([0.1, -0.2, 0.3])
    g = grad(_loss)(p, x)
    assert tree_structure(g) == tree_structure(p)
    assert isinstance(g["layer"], Layer) and g["layer"].act == "tanh"
    assert isinstance(g["extra"], Point) and g["extra"].y is None
    for gl, pl in zip(tree_leaves(g), tree_leaves(p)):
        assert np.shape(gl) == np.shape(pl)
    assert_allclose(g["extra"].x, np.full(2, 0.5), rtol=1e-15)
    assert float(g["scale"][1]) == pytest.approx(1.0)
    # against finite differences on one leaf
    eps = 1e-6
    w = p["layer"].w
    fd = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = eps
        lp = {**p, "layer": Layer(w + e, p["layer"].b, "tanh")}
        lm = {**p, "layer": Layer(w - e, p["layer"].b, "tanh")}
        fd[i] = (float(_loss(lp, x)) - float(_loss(lm, x))) / (2 * eps)
    assert_allclose(g["layer"].w, fd, rtol=1e-6, atol=1e-9)


def test_value_and_grad_vjp_jvp_with_pytrees():
    p = _params()
    x = np.array([0.1, -0.2, 0.3])
    v, g = value_and_grad(_loss)(p, x)
    assert_allclose(v, _loss(p, x), rtol=1e-15)
    out, pull = vjp(lambda q: _loss(q, x), p)
    (gv,) = pull(np.ones(()))
    assert_allclose(gv, g, rtol=1e-14)
    t = tree_map(lambda a: np.ones_like(a), p)
    _, tan = jvp(lambda q: _loss(q, x), (p,), (t,))
    assert float(tan) == pytest.approx(sum(float(np.sum(l)) for l in tree_leaves(g)), rel=1e-12)


def test_grad_pytree_output_of_list_and_tuple_inputs():
    f = lambda xs: xs[0] * xs[1][0] + jnp.sin(xs[1][1])
    g = grad(f)([2.0, (3.0, 0.0)])
    assert isinstance(g, list) and isinstance(g[1], tuple)
    assert [float(g[0]), float(g[1][0]), float(g[1][1])] == [3.0, 2.0, 1.0]


def test_grad_of_registered_class_and_partial():
    g = grad(lambda b: jnp.sum(b.value ** 2))(Box(np.array([1.0, 2.0]), "m"))
    assert g == Box(np.array([2.0, 4.0]), "m")
    p = Partial(lambda a, x: a * x ** 2, 2.0)
    gp = grad(lambda q: q(3.0))(p)
    assert isinstance(gp, Partial) and gp.func is p.func
    assert float(gp.args[0]) == 9.0


def test_jacfwd_of_pytree_to_pytree():
    f = lambda d: {"s": d["a"] * d["b"], "t": (d["a"] ** 2,)}
    J = jacfwd(f)({"a": 2.0, "b": 3.0})
    assert float(J["s"]["a"]) == 3.0 and float(J["s"]["b"]) == 2.0
    assert float(J["t"][0]["a"]) == 4.0 and float(J["t"][0]["b"]) == 0.0


# --------------------------------------------------------------------------- vmap over pytrees

def test_vmap_dict_input_default_axes():
    d = {"a": np.arange(6.0).reshape(3, 2), "b": np.arange(3.0)}
    out = vmap(lambda t: {"s": jnp.sum(t["a"]) * t["b"], "a": t["a"]})(d)
    assert_allclose(out["s"], np.sum(d["a"], axis=1) * d["b"], rtol=0)
    assert_allclose(out["a"], d["a"], rtol=0)


def test_vmap_in_axes_dict_spec():
    d = {"a": np.arange(6.0).reshape(3, 2), "b": np.array([10.0, 20.0])}
    out = vmap(lambda t: t["a"] * t["b"], in_axes=({"a": 0, "b": None},))(d)
    assert_allclose(out, d["a"] * d["b"], rtol=0)
    # mapped over axis 1 of one leaf
    d2 = {"a": np.arange(6.0).reshape(2, 3), "b": np.arange(3.0)}
    out2 = vmap(lambda t: jnp.sum(t["a"]) + t["b"], in_axes=({"a": 1, "b": 0},))(d2)
    assert_allclose(out2, d2["a"].sum(0) + d2["b"], rtol=0)


def test_vmap_in_axes_prefix():
    params = {"w": np.ones((2, 3)), "b": np.zeros(3)}
    xs = np.arange(8.0).reshape(4, 2)
    f = lambda p, x: x @ p["w"] + p["b"]
    out = vmap(f, in_axes=(None, 0))(params, xs)              # None covers the whole dict
    assert_allclose(out, xs @ params["w"] + params["b"], rtol=0)
    out = vmap(lambda t: t[0] + t[1]["k"], in_axes=((0, {"k": None}),))(
        (np.arange(3.0), {"k": np.array(5.0)}))
    assert_allclose(out, np.arange(3.0) + 5.0, rtol=0)
    pts = Point(np.arange(3.0), np.ones((2, 3)))
    out = vmap(lambda p: p.x * jnp.sum(p.y), in_axes=(Point(0, 1),))(pts)
    assert_allclose(out, np.arange(3.0) * 2.0, rtol=0)


def test_vmap_in_axes_not_a_prefix_raises():
    d = {"a": np.ones((3, 2)), "b": np.ones(2)}
    with pytest.raises(ValueError, match="prefix"):
        vmap(lambda t: t["a"], in_axes=({"a": 0, "c": None},))(d)
    with pytest.raises(ValueError, match="prefix"):
        vmap(lambda t: t["a"], in_axes=([0, None],))(d)


def test_vmap_out_axes_pytree():
    xs = np.arange(6.0).reshape(3, 2)
    out = vmap(lambda x: {"a": x, "b": jnp.sum(x)}, out_axes={"a": 1, "b": 0})(xs)
    assert out["a"].shape == (2, 3) and out["b"].shape == (3,)
    assert_allclose(out["a"], xs.T, rtol=0)
    out = vmap(lambda x: (x, 1.0 * jnp.sum(x)), out_axes=(0, None), in_axes=None,
               axis_size=2)(xs)
    assert out[0].shape == (2, 3, 2) and np.shape(out[1]) == ()


def test_vmap_over_registered_class_and_dataclass():
    layers = Layer(np.ones((4, 3, 2)), np.arange(8.0).reshape(4, 2), "relu")
    x = np.arange(3.0)
    out = vmap(lambda l, v: v @ l.w + l.b, in_axes=(0, None))(layers, x)
    assert_allclose(out, np.stack([x @ layers.w[i] + layers.b[i] for i in range(4)]), rtol=0)
    boxes = vmap(lambda v: Box(v * 2.0, "out"))(np.arange(3.0))
    assert isinstance(boxes, Box) and boxes.label == "out"
    assert_allclose(boxes.value, 2.0 * np.arange(3.0), rtol=0)


def test_vmap_grad_over_pytree_params():
    pstack = {"w": np.random.default_rng(1).standard_normal((3, 2)), "b": np.arange(3.0)}
    x = np.array([0.5, -1.0])
    f = lambda p: jnp.sum(jnp.sin(p["w"] * x)) * p["b"]
    g = vmap(grad(f))(pstack)
    for i in range(3):
        gi = grad(f)({"w": pstack["w"][i], "b": pstack["b"][i]})
        assert_allclose(g["w"][i], gi["w"], rtol=1e-15)
        assert_allclose(g["b"][i], gi["b"], rtol=1e-15)


# --------------------------------------------------------------------------- jit with pytrees

def test_jit_pytree_in_and_out():
    traces = []

    @jit
    def f(state, cfg):
        traces.append(1)
        return {"next": Point(state.x + cfg["dt"] * state.y, state.y), "energy": [jnp.sum(
            state.y ** 2)], "none": None}

    s = Point(np.zeros(2), np.ones(2))
    out = f(s, {"dt": 0.1})
    assert isinstance(out["next"], Point) and out["none"] is None and isinstance(out["energy"],
                                                                                 list)
    assert_allclose(out["next"].x, np.full(2, 0.1), rtol=1e-15)
    assert float(out["energy"][0]) == 2.0
    out2 = f(out["next"], {"dt": 0.2})
    assert_allclose(out2["next"].x, np.full(2, 0.3), rtol=1e-15)
    assert len(traces) == 1                      # same structure/shapes: cached
    f(Point(np.zeros(3), np.ones(3)), {"dt": 0.1})
    assert len(traces) == 2


def test_jit_retraces_on_new_structure():
    traces = []

    @jit
    def f(t):
        traces.append(1)
        return sum(tree_leaves(t))

    f((1.0, 2.0))
    f((3.0, 4.0))
    f([1.0, 2.0])
    f({"a": 1.0, "b": 2.0})
    f(Box(1.0, "a"))
    f(Box(1.0, "b"))                # different static aux data
    f(Box(2.0, "b"))
    assert len(traces) == 5


def test_jit_registered_class_and_dataclass():
    layer = Layer(np.eye(2), np.ones(2), "relu")
    out = jit(lambda l, x: Layer(l.w * 2, l.b + x, l.act))(layer, np.array([1.0, 2.0]))
    assert isinstance(out, Layer) and out.act == "relu"
    assert_allclose(out.w, 2 * np.eye(2), rtol=0)
    assert_allclose(out.b, [2.0, 3.0], rtol=0)


def test_jit_of_grad_with_pytree():
    p = _params()
    x = np.array([0.1, -0.2, 0.3])
    g_ref = grad(_loss)(p, x)
    g = jit(grad(_loss))(p, x)
    assert tree_structure(g) == tree_structure(g_ref)
    assert_allclose(g, g_ref, rtol=1e-14)


# --------------------------------------------------------------------------- Partial

def test_partial_is_a_pytree():
    p = Partial(lambda a, x, scale=1.0: a * x * scale, np.array(2.0), scale=np.array(3.0))
    leaves, td = tree_flatten(p)
    assert len(leaves) == 2
    q = tree_unflatten(td, [np.array(5.0), np.array(7.0)])
    assert isinstance(q, Partial) and q.func is p.func
    assert float(q(1.0)) == 35.0
    assert tree_structure(Partial(p.func, 1.0)) != tree_structure(Partial(lambda a, x: a, 1.0))


def test_partial_as_argument_to_transformations():
    traces = []
    scale = lambda a, x: a * x

    @jit
    def apply(fn, x):
        traces.append(1)
        return fn(x)

    assert_allclose(apply(Partial(scale, np.array(2.0)), np.ones(2)), [2.0, 2.0], rtol=0)
    assert_allclose(apply(Partial(scale, np.array(3.0)), np.ones(2)), [3.0, 3.0], rtol=0)
    assert len(traces) == 1                  # bound array is a leaf: no retrace
    apply(Partial(lambda a, x: a + x, np.array(3.0)), np.ones(2))
    assert len(traces) == 2                  # a different function is static: retrace
    out = vmap(lambda fn, x: fn(x), in_axes=(None, 0))(Partial(scale, np.array(2.0)),
                                                       np.arange(3.0))
    assert_allclose(out, 2.0 * np.arange(3.0), rtol=0)
    out = vmap(lambda fn, x: fn(x))(Partial(scale, np.arange(3.0)), np.ones(3))
    assert_allclose(out, np.arange(3.0), rtol=0)
    g = grad(lambda x, fn: fn(x))(2.0, Partial(lambda a, x: a * x ** 2, 3.0))
    assert float(g) == 12.0


def test_partial_with_no_bound_args_is_static_only():
    p = Partial(jnp.sin)
    assert tree_leaves(p) == []
    out = jit(lambda fn, x: fn(x))(p, np.array([0.0]))
    assert_allclose(out, [0.0], rtol=0)


# --------------------------------------------------------------------------- misc edge cases

def test_dict_key_order_is_canonical_everywhere():
    d = {"b": np.array([10.0, 20.0]), "a": np.arange(6.0).reshape(3, 2)}
    assert tree_structure({"a": 1, "b": 2}) == tree_structure({"b": 1, "a": 2})
    out = vmap(lambda t: t["a"] * t["b"], in_axes=({"b": None, "a": 0},))(d)
    assert_allclose(out, d["a"] * d["b"], rtol=0)
    g = grad(lambda t: jnp.sum(t["a"]) + 2.0 * jnp.sum(t["b"]))(d)
    assert_allclose(g["b"], [2.0, 2.0], rtol=0)
    assert_allclose(g["a"], np.ones((3, 2)), rtol=0)


def test_none_leaves_pass_through_transformations():
    p = {"a": np.ones(2), "b": None}
    g = grad(lambda q: jnp.sum(q["a"] ** 2))(p)
    assert g["b"] is None
    assert_allclose(g["a"], [2.0, 2.0], rtol=0)
    out = vmap(lambda x: (x * 2.0, None))(np.ones(3))
    assert out[1] is None
    assert jit(lambda x, n: x if n is None else x * 2.0)(np.ones(2), None).shape == (2,)
    out = jit(lambda x: {"y": x, "z": None})(np.ones(2))
    assert out["z"] is None


def test_jit_rejects_non_array_leaf():
    with pytest.raises(TypeError):
        jit(lambda x, s: x)(np.ones(2), "hello")


def test_grad_argnums_with_tuple_argument():
    ga, gb = grad(lambda a, b: a[0] * b + a[1], argnums=(0, 1))((2.0, 3.0), 4.0)
    assert isinstance(ga, tuple)
    assert (float(ga[0]), float(ga[1]), float(gb)) == (4.0, 1.0, 2.0)


def test_vmap_namedtuple_out_axes():
    out = vmap(lambda x: Point(x, 2.0 * x), out_axes=Point(0, 1))(np.ones((3, 2)))
    assert isinstance(out, Point)
    assert out.x.shape == (3, 2) and out.y.shape == (2, 3)


# --------------------------------------------------------------------------- flatten_util

def test_ravel_pytree_round_trip_and_names():
    from numbax.flatten_util import flat_names, ravel_pytree
    tree = {"mu": 1.5, "theta": np.arange(3.0), "w": (np.ones((2, 2), np.float32), np.int64(2))}
    flat, unravel = ravel_pytree(tree)
    assert flat.shape == (9,) and flat.dtype == np.float64  # promoted to the common dtype
    back = unravel(flat)
    assert type(back["mu"]) is np.float64 and back["mu"] == 1.5  # scalars stay scalars
    assert back["w"][0].dtype == np.float32 and back["w"][1].dtype == np.int64
    np.testing.assert_array_equal(back["theta"], tree["theta"])
    assert flat_names(tree) == ["mu", "theta[0]", "theta[1]", "theta[2]", "w[0][0, 0]",
                                "w[0][0, 1]", "w[0][1, 0]", "w[0][1, 1]", "w[1]"]
    # traceable both ways: the gradient of a function of the tree, through the flat vector
    g = grad(lambda v: unravel(v)["mu"] * jnp.sum(unravel(v)["theta"]))(flat)
    np.testing.assert_allclose(g[:4], [3.0, 1.5, 1.5, 1.5])
    np.testing.assert_allclose(jit(lambda v: unravel(v)["theta"])(flat), tree["theta"])
    with pytest.raises(TypeError, match="expected a vector of shape"):
        unravel(np.zeros(3))
