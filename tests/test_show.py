"""numbax.show: readable views of (transformed) programs.

The printed text is checked semantically: for programs without control flow it is valid Python
over numpy names, so each test prints a program, runs the printed text with numpy arrays bound to
the input names, and compares with what numbax computes."""
import random
import re
import shutil
import subprocess

import numpy as np
import pytest
import scipy.special

import numbax
import numbax.numpy as jnp
from numbax import _expr as X
from numbax import lax
from numbax.jaxpr import count_eqns, pp_jaxpr
from numbax.passes import optimize_jaxpr


# --------------------------------------------------------------------------- the evaluator

def _broadcast_in_dim(x, shape, dims):
    x = np.asarray(x)
    expanded = [1] * len(shape)
    for i, d in enumerate(dims):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


def _pad(x, v, padding_config):
    assert all(interior == 0 for _, _, interior in padding_config)
    x = np.asarray(x)
    for d, (lo, hi, _) in enumerate(padding_config):
        widths = [(0, 0)] * x.ndim
        widths[d] = (max(lo, 0), max(hi, 0))
        x = np.pad(x, widths, constant_values=v)
        sl = [slice(None)] * x.ndim
        sl[d] = slice(-min(lo, 0), x.shape[d] + min(hi, 0))
        x = x[tuple(sl)]
    return x


NUMPY_NAMES = dict(
    exp=np.exp, log=np.log, log1p=np.log1p, expm1=np.expm1, sin=np.sin, cos=np.cos, tan=np.tan,
    tanh=np.tanh, sqrt=np.sqrt, abs=np.abs, sign=np.sign, sigmoid=scipy.special.expit,
    isfinite=np.isfinite, maximum=np.maximum, minimum=np.minimum, where=np.where,
    sum=np.sum, max=np.max, min=np.min, prod=np.prod, argmax=np.argmax, argmin=np.argmin,
    reshape=np.reshape, transpose=np.transpose, squeeze=np.squeeze, flip=np.flip,
    concatenate=np.concatenate, broadcast_to=np.broadcast_to, broadcast_in_dim=_broadcast_in_dim,
    pad=_pad, einsum=np.einsum, outer=np.outer, eye=np.eye, arange=np.arange,
    float64=np.float64, float32=np.float32, int32=np.int32, int64=np.int64, bool_=np.bool_,
    stop_gradient=lambda x: x, inf=np.inf, nan=np.nan, rsqrt=lambda x: 1 / np.sqrt(x),
    asin=np.arcsin, acos=np.arccos, atan=np.arctan, atan2=np.arctan2, asinh=np.arcsinh,
    acosh=np.arccosh, atanh=np.arctanh, sinh=np.sinh, cosh=np.cosh, erf=scipy.special.erf,
    erfc=scipy.special.erfc, lgamma=scipy.special.gammaln, digamma=scipy.special.digamma,
    polygamma=scipy.special.polygamma, rem=np.fmod, cumsum=np.cumsum, floor=np.floor,
    ceil=np.ceil, solve=np.linalg.solve)


def run_printed(shown, *args):
    """Execute the printed program with numpy; return out (a value, or {i: value})."""
    ns = dict(NUMPY_NAMES)
    ns.update(zip(shown.inputs, [np.asarray(a) for a in args]))
    ns.update(shown.consts)
    ns["out"] = {}
    exec(shown.pretty(), ns)
    out = ns["out"]
    return [out[i] for i in range(len(out))] if isinstance(out, dict) else out


def assert_prints_same_numbers(f, *args, **show_kw):
    shown = numbax.show(f, **show_kw)(*args)
    got = run_printed(shown, *args)
    want = f(*args)
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    return shown


RNG = np.random.default_rng(0)
x3 = RNG.normal(size=3)
A33 = RNG.normal(size=(3, 3))
A_CLOSED = RNG.normal(size=(3, 3))


def quad(x, A):
    return x @ A @ x


# --------------------------------------------------------------------------- x @ A @ x

def test_grad_of_quadratic_form_prints_A_plus_AT_times_x():
    shown = numbax.show(numbax.grad(quad, argnums=0))(x3, A33)
    assert shown.lines == ["out = (A + A.T) @ x"]
    assert str(shown).splitlines()[0] == "# (x: f64[3], A: f64[3,3]) -> f64[3]"
    np.testing.assert_allclose(run_printed(shown, x3, A33), numbax.grad(quad)(x3, A33))
    np.testing.assert_allclose(run_printed(shown, x3, A33), (A33 + A33.T) @ x3)


def test_grad_of_quadratic_form_closed_over_matrix_keeps_its_name():
    shown = numbax.show(numbax.grad(lambda x: x @ A_CLOSED @ x))(x3)
    assert shown.lines == ["out = (A_CLOSED + A_CLOSED.T) @ x"]
    assert shown.consts["A_CLOSED"] is A_CLOSED
    assert "# A_CLOSED: f64[3,3]" in str(shown)
    np.testing.assert_allclose(run_printed(shown, x3), (A_CLOSED + A_CLOSED.T) @ x3)
    # through jit: the nested call is spliced in (as jit compiles it), then optimised
    shown = numbax.show(numbax.grad(numbax.jit(lambda x: x @ A_CLOSED @ x)))(x3)
    assert shown.lines == ["out = (A_CLOSED + A_CLOSED.T) @ x"]


def test_grad_of_half_quadratic_form_pulls_the_scalar_out():
    f = lambda x, A: 0.5 * (x @ A @ x)     # noqa: E731
    shown = assert_prints_same_numbers(numbax.grad(f), x3, A33)
    assert len(shown.lines) == 1 and "(A + A.T) @ x" in shown.lines[0] and "0.5" in shown.lines[0]


def test_factoring_is_display_only():
    g = numbax.grad(quad)
    shown = numbax.show(g)(x3, A33)
    ref = optimize_jaxpr(numbax.make_jaxpr(g)(x3, A33))
    before = pp_jaxpr(shown.jaxpr)
    str(shown), shown.to_dot()
    assert pp_jaxpr(shown.jaxpr) == before == pp_jaxpr(ref)
    # the program keeps its two products: nothing was factored in the jaxpr
    assert [e.primitive.name for e in shown.jaxpr.eqns].count("dot_general") == 2
    np.testing.assert_allclose(numbax.jit(g)(x3, A33), (A33 + A33.T) @ x3, rtol=1e-12)


def test_factoring_rules_on_trees():
    x = X.Name("x", (3,))
    P, Q = X.Name("P", (3, 3)), X.Name("Q", (3, 3))
    mm = lambda a, b: X.Bin("@", a, b, (3,))    # noqa: E731
    add = lambda a, b: X.Bin("+", a, b, (3,))   # noqa: E731
    sub = lambda a, b: X.Bin("-", a, b, (3,))   # noqa: E731
    assert X.simplify(add(mm(P, x), mm(Q, x))).render() == "(P + Q) @ x"
    assert X.simplify(add(mm(x, P), mm(x, Q))).render() == "x @ (P + Q)"
    assert X.simplify(sub(mm(P, x), mm(Q, x))).render() == "(P - Q) @ x"
    assert X.simplify(add(mm(x, P), mm(P, x))).render() == "(P + P.T) @ x"
    assert X.simplify(add(mm(X.transpose(P), x), mm(Q, x))).render() == "(Q + P.T) @ x"
    # nothing to factor: the expression keeps its grouping
    e = sub(x, sub(x, X.Lit(1.0)))
    assert X.simplify(e).render() == "x - (x - 1)"
    assert X.transpose(X.transpose(P)) == P


# --------------------------------------------------------------------------- print, then run

def logistic_loss(w, X_, y):
    z = X_ @ w
    return jnp.mean(jnp.log1p(jnp.exp(-y * z)))


def test_logistic_regression_gradient():
    w, Xm, y = RNG.normal(size=3), RNG.normal(size=(6, 3)), np.sign(RNG.normal(size=6))
    shown = assert_prints_same_numbers(numbax.grad(logistic_loss), w, Xm, y)
    assert shown.inputs == ["w", "X_", "y"]
    text = str(shown)
    assert "X_ @ w" in text and "exp(" in text
    assert_prints_same_numbers(numbax.value_and_grad(logistic_loss), w, Xm, y)


@pytest.mark.parametrize("f", [
    lambda x: jnp.sin(x) * jnp.exp(-x ** 2) / (1 + x * x),
    lambda x: jnp.tanh(jnp.log1p(jnp.abs(x))) - jnp.sqrt(x * x + 1),
    lambda x: jnp.where(x > 0, x ** 3, -x) + jnp.maximum(x, 0.1),
    lambda x: (-x) ** 2 - x ** 2 + 2.0 ** x - (x - (x - 1)) / (2 * x),
    lambda x: jnp.sum(x) * x / jnp.max(x) + x.T,
])
def test_elementwise_chains_and_their_gradients(f):
    assert_prints_same_numbers(f, x3)
    assert_prints_same_numbers(numbax.grad(lambda x: jnp.sum(f(x))), x3)


def test_hessian_of_small_polynomial():
    f = lambda x: jnp.sum(x ** 3) + x[0] * x[1] * x[2]   # noqa: E731
    shown = assert_prints_same_numbers(numbax.hessian(f), x3)
    assert shown.equations == count_eqns(shown.jaxpr) > 0


def test_vmap_and_jacobians():
    assert_prints_same_numbers(numbax.vmap(lambda a: A_CLOSED @ a), RNG.normal(size=(4, 3)))
    assert_prints_same_numbers(
        numbax.vmap(numbax.grad(lambda w, v: jnp.tanh(w @ v)), in_axes=(None, 0)),
        x3, RNG.normal(size=(4, 3)))
    assert_prints_same_numbers(numbax.vmap(lambda a: jnp.exp(a) / jnp.sum(jnp.exp(a))),
                               RNG.normal(size=(4, 3)))
    assert_prints_same_numbers(numbax.jacfwd(lambda x: jnp.sin(x) * x[0]), x3)
    assert_prints_same_numbers(numbax.jacrev(lambda x: jnp.cos(x) * x[1]), x3)
    assert_prints_same_numbers(numbax.vmap(lambda a, b: a @ b), RNG.normal(size=(2, 3, 4)),
                               RNG.normal(size=(2, 4, 5)))


def test_jvp_vjp_and_jit():
    def jvp_f(x, t):
        return numbax.jvp(lambda x: jnp.tanh(x) * x, (x,), (t,))

    def vjp_f(x, ct):
        _, pull = numbax.vjp(lambda x: jnp.sin(x) * A_CLOSED @ x, x)
        return pull(ct)[0]

    assert_prints_same_numbers(jvp_f, x3, x3[::-1].copy())
    assert_prints_same_numbers(vjp_f, x3, x3[::-1].copy())
    shown = assert_prints_same_numbers(numbax.jit(lambda x: jnp.sin(x) * 2), x3)
    assert shown.lines == ["out = sin(x) * 2"]          # the jit call is shown inlined
    nested = numbax.show(numbax.jit(lambda x: jnp.sin(x) * 2), inline_calls=False)(x3)
    assert nested.lines[0] == "out = jit(fun, x)" and "def fun(x):" in nested.lines[1]


# --------------------------------------------------------------------------- naming

def test_shared_subexpressions_are_named_once():
    shown = assert_prints_same_numbers(lambda x: jnp.sin(x) * x + jnp.exp(jnp.sin(x)), x3)
    assert shown.lines[0] == "t0 = sin(x)" and len(shown.lines) == 2
    assert shown.lines[1] in ("out = t0 * x + exp(t0)", "out = x * t0 + exp(t0)",
                              "out = exp(t0) + t0 * x", "out = exp(t0) + x * t0")
    text = "\n".join(shown.lines)
    assert text.count("sin(") == 1
    # used once: inlined, not named
    shown = numbax.show(lambda x: jnp.cos(jnp.sin(x)) * 2)(x3)
    assert shown.lines == ["out = cos(sin(x)) * 2"]


def test_every_output_is_named_and_pytrees_name_outputs():
    shown = numbax.show(lambda x: (x * 2, x * 2, x))(x3)
    assert shown.lines == ["out[0] = x * 2", "out[1] = out[0]", "out[2] = x"]
    shown = numbax.show(lambda p: {"a": p["w"] * 2, "b": jnp.sum(p["w"])})({"w": x3})
    assert shown.inputs == ["p['w']"]
    assert shown.lines == ["out['a'] = p['w'] * 2", "out['b'] = sum(p['w'])"]


def test_long_expressions_are_split_by_width():
    def f(x):
        for _ in range(6):
            x = 4 * x * (1 - x)
        return x
    g = numbax.grad(numbax.grad(f))
    shown = assert_prints_same_numbers(g, 0.3)
    assert all(len(ln) <= 110 for ln in shown.lines)
    wide = numbax.show(g, width=None)(0.3)
    assert len(wide.lines) <= len(shown.lines)
    np.testing.assert_allclose(run_printed(wide, 0.3), g(0.3))


def test_constants_literals_and_broadcasts():
    c = np.array([1.0, 2.0, 4.0])
    shown = assert_prints_same_numbers(lambda x: x * c + 1.0, x3)
    assert shown.lines[0] in ("out = x * c + 1", "out = c * x + 1")
    assert "# c: f64[3] = [1., 2., 4.]" in str(shown)
    # a uniform constant shows as its scalar; a scalar broadcast next to a full array too
    shown = assert_prints_same_numbers(lambda x: numbax.nn.relu(x) + jnp.zeros(3), x3)
    assert "where(x > 0, x, 0)" in shown.lines[-1]
    shown = assert_prints_same_numbers(lambda x: jnp.broadcast_to(0.5, (3,)) / x, x3)
    assert shown.lines == ["out = 0.5 / x"]
    shown = assert_prints_same_numbers(lambda x: jnp.broadcast_to(0.5, (3,)), x3)
    assert shown.lines == ["out = broadcast_to(0.5, (3,))"]
    # a broadcast along a leading axis reads as numpy broadcasting when the shape is clear
    v, M = RNG.normal(size=4), RNG.normal(size=(4, 3))
    shown = assert_prints_same_numbers(
        lambda v, M: lax.broadcast_in_dim(v, (4, 3), (0,)) * M, v, M)
    assert shown.lines[0] in ("out = v[:, None] * M", "out = M * v[:, None]")
    shown = assert_prints_same_numbers(lambda v, M: lax.broadcast_in_dim(v, (4, 3), (0,)), v, M)
    assert shown.lines == ["out = broadcast_in_dim(v, (4, 3), (0,))"]
    shown = assert_prints_same_numbers(numbax.vmap(lambda a: jnp.exp(a) / jnp.sum(jnp.exp(a))), M)
    assert shown.lines == ["t0 = exp(a)", "out = t0 / sum(t0, axis=1, keepdims=True)"]


# --------------------------------------------------------------------------- precedence

def _random_tree(rng, depth):
    names = [X.Name(n) for n in "abc"]
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(names + [X.Lit(rng.choice([1.0, 2.5, -1.5, 3.0]))])
    kind = rng.random()
    if kind < 0.15:
        return X.neg(_random_tree(rng, depth - 1))
    if kind < 0.3:
        return X.Bin("**", _random_tree(rng, depth - 1), X.Lit(rng.choice([2, 3, -1])))
    op = rng.choice(["+", "-", "*", "/"])
    return X.binary(op, _random_tree(rng, depth - 1), _random_tree(rng, depth - 1), ())


def _evaluate(e, env):
    if isinstance(e, X.Name):
        return env[e.text]
    if isinstance(e, X.Lit):
        return float(e.value)
    if isinstance(e, X.Unary):
        return -_evaluate(e.x, env)
    a, b = _evaluate(e.a, env), _evaluate(e.b, env)
    return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide,
            "**": np.power}[e.op](a, b)


def test_parentheses_follow_python_precedence():
    rng = random.Random(1)
    env = {"a": np.float64(1.3), "b": np.float64(-0.7), "c": np.float64(2.1)}
    with np.errstate(all="ignore"):
        for _ in range(500):
            e = _random_tree(rng, 4)
            want = _evaluate(e, env)
            got = eval(e.render(), {}, dict(env))   # noqa: S307  (our own printed text)
            np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    a, b = X.Name("a"), X.Name("b")
    assert X.Bin("**", X.neg(a), X.Lit(2)).render() == "(-a)**2"
    assert X.neg(X.Bin("**", a, X.Lit(2))).render() == "-a**2"
    assert X.Bin("**", a, X.Lit(-1)).render() == "a**-1"
    assert X.Bin("**", X.Lit(-2.0), a).render() == "(-2)**a"
    assert X.Bin("*", X.Bin("@", a, b), b).render() == "(a @ b) * b"
    assert X.Bin("-", a, X.Bin("+", a, b)).render() == "a - (a + b)"
    assert X.Bin("+", X.Bin("-", a, b), a).render() == "a - b + a"
    assert X.binary("+", a, X.neg(b), ()).render() == "a - b"
    assert X.T(X.Bin("+", a, b)).render() == "(a + b).T"
    assert X.format_number(1.0) == "1" and X.format_number(0.25) == "0.25"
    assert X.format_number(1e-10) == "1e-10" and X.format_number(float("inf")) == "inf"


# --------------------------------------------------------------------------- control flow

def test_scan_while_cond_print_as_blocks():
    def cumulative(x):
        def body(c, xi):
            return c * xi + 1.0, c
        return lax.scan(body, 0.0, x)[0]

    shown = numbax.show(numbax.grad(cumulative))(x3)
    text = str(shown)
    assert re.search(r"= scan\(body, .*length=3", text)
    assert "    def body(carry, xt):" in text and "reverse=True" in text
    assert shown.equations == count_eqns(shown.jaxpr)

    shown = numbax.show(lambda x: lax.while_loop(lambda c: c[0] < 10,
                                                 lambda c: (c[0] + 1, A_CLOSED @ c[1]),
                                                 (0, x)))(x3)
    assert shown.lines[0] == "out[0], out[1] = while_loop(cond_fun, body_fun, (0, x))"
    assert "        return carry0 + 1, A_CLOSED @ carry1" in shown.lines

    shown = numbax.show(lambda x: lax.cond(x.sum() > 0, lambda y: y * 2, lambda y: -y, x))(x3)
    assert shown.lines == ["out = cond(sum(x) > 0, true_branch, false_branch, x)",
                           "    def true_branch(x):", "        return x * 2",
                           "    def false_branch(x):", "        return -x"]
    shown = numbax.show(numbax.grad(lambda x: lax.fori_loop(
        0, 3, lambda i, c: jnp.sin(c) * 2, x).sum()))(x3)
    assert "scan(" in str(shown) or "while_loop(" in str(shown)
    shown = numbax.show(lambda i, x: lax.switch(i, [lambda x: x, lambda x: -x], x))(1, x3)
    assert "switch(" in shown.lines[0] and "[branch, branch1]" in shown.lines[0]


def test_other_transformations_do_not_fail():
    f = lambda x: jnp.sum(jnp.sin(x) * x)   # noqa: E731
    for g in [numbax.grad(numbax.jit(f)), numbax.jit(numbax.grad(f)), numbax.hessian(f),
              numbax.vmap(numbax.grad(f)), numbax.jacrev(numbax.grad(f)),
              numbax.grad(numbax.checkpoint(f)),
              lambda x: numbax.linearize(f, x)[1](x)]:
        arg = np.stack([x3, x3]) if "vmap" in repr(g) else x3
        shown = numbax.show(g)(arg)
        assert shown.lines and shown.equations >= 1
    shown = numbax.show(lambda x: numbax.nn.logsumexp(x) + jnp.sort(x))(x3)
    assert any("sort(x" in ln for ln in shown.lines)


# --------------------------------------------------------------------------- DOT and HTML

def test_to_dot_structure():
    shown = numbax.show(numbax.grad(lambda x: lax.scan(lambda c, xi: (c * xi, c), 1.0, x)[0]))(x3)
    dot = shown.to_dot()
    assert dot.startswith("digraph jaxpr {") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    nodes = set(re.findall(r"^\s*(n\d+) \[", dot, re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+)", dot, re.M)
    assert edges and all(a in nodes and b in nodes for a, b in edges)
    assert "subgraph cluster_1" in dot and 'label="scan: jaxpr"' in dot
    assert 'label="x\\nf64[3]"' in dot and 'label="out\\nf64[3]"' in dot
    labels = re.findall(r'label="([a-z_]+)\\n', dot)
    assert "scan" in labels and "mul" in labels

    flat = numbax.show(numbax.grad(quad))(x3, A33).to_dot()
    n_boxes = len(re.findall(r"shape=\"box\"", flat))
    assert n_boxes == len(numbax.show(numbax.grad(quad))(x3, A33).jaxpr.eqns) == 3


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` not installed")
def test_dot_binary_accepts_output():
    dot = numbax.show(numbax.grad(lambda x: lax.scan(lambda c, xi: (c * xi, c), 1.0, x)[0]))(
        x3).to_dot()
    res = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr.decode()
    assert b"<svg" in res.stdout


def test_html_repr():
    shown = numbax.show(lambda x: lax.cond(x.sum() > 0, lambda y: y * 2, lambda y: -y, x))(x3)
    h = shown._repr_html_()
    assert h.startswith("<pre>") and "<details>" in h and "</details>" in h
    assert "sum(x) &gt; 0" in h and "cond[branches" in h
    assert f"jaxpr ({shown.equations} equations)" in h
    assert repr(shown) == str(shown) == shown.pretty()


def test_unoptimized_view():
    g = numbax.grad(quad)
    raw = numbax.show(g, optimize=False)(x3, A33)
    assert pp_jaxpr(raw.jaxpr) == pp_jaxpr(numbax.make_jaxpr(g)(x3, A33))
    assert raw.equations > numbax.show(g)(x3, A33).equations
    np.testing.assert_allclose(run_printed(raw, x3, A33), (A33 + A33.T) @ x3)
