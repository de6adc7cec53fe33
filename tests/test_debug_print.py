"""numbax.debug.print prints runtime values, in program order, under every transformation and in
compiled code, and prints nothing while a function is being traced (as jax.debug.print)."""

import numpy as np
import pytest

import numbax as nb
import numbax.numpy as jnp
from numbax import debug, lax
from numbax.jaxpr import eval_jaxpr
from numbax.passes import cse_jaxpr, dce_jaxpr, optimize_jaxpr


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def printing(f, fmt="x={}"):
    """f, printing its first argument first."""
    def g(x, *rest):
        debug.print(fmt, x)
        return f(x, *rest)
    return g


# ----------------------------------------------------------------------------- eager

def test_eager_scalars_print_like_numpy_scalars(capsys):
    debug.print("{} {} {} {}", np.float64(2.0), 3, 0.5, np.float32(1.5))
    debug.print("{:.3f}|{}", np.float64(np.pi), True)
    assert lines(capsys) == ["2.0 3 0.5 1.5", "3.142|True"]


def test_eager_arrays_kwargs_and_pytrees(capsys):
    debug.print("{x} and {y}", x=np.arange(3.0), y=np.eye(2, dtype=np.int32))
    debug.print("{0[a]} {0[b][1]} {1}", {"a": np.ones(2), "b": (1.0, np.int32(7))}, "text")
    debug.print("no args", ordered=True)
    assert lines(capsys) == ["[0. 1. 2.] and [[1 0]", " [0 1]]", "[1. 1.] 7 text", "no args"]


def test_make_jaxpr_stages_without_printing(capsys):
    jaxpr = nb.make_jaxpr(printing(jnp.sin))(2.0)
    assert lines(capsys) == []
    assert [e.primitive.name for e in jaxpr.eqns] == ["debug_print", "sin"]
    eval_jaxpr(jaxpr, 3.0)
    assert lines(capsys) == ["x=3.0"]


# ----------------------------------------------------------------------------- jit

def test_jit_prints_every_call_never_while_tracing(capsys):
    traced = []

    @nb.jit
    def f(x):
        traced.append(1)
        debug.print("a {}", x)
        y = jnp.sin(x) * 2.0
        debug.print("b {y}", y=y)
        return y + 1.0

    assert f(0.0) == 1.0
    assert f(0.5) == pytest.approx(2 * np.sin(0.5) + 1)
    assert len(traced) == 1
    assert lines(capsys) == ["a 0.0", "b 0.0", "a 0.5", f"b {2 * np.sin(0.5)}"]
    f.lower(1.0)   # staging and compiling alone print nothing
    assert lines(capsys) == []


def test_jit_program_order_and_arrays(capsys):
    @nb.jit
    def f(x):
        s = jnp.sum(x)
        debug.print("first {}", x * 2.0)
        debug.print("second {}", s)
        debug.print("third {} {}", x.T, 1.5)
        return s

    f(np.arange(4.0).reshape(2, 2))
    assert lines(capsys) == ["first [[0. 2.]", " [4. 6.]]", "second 6.0",
                             "third [[0. 2.]", " [1. 3.]] 1.5"]


def test_print_survives_dce_and_cse(capsys):
    def f(x):
        debug.print("x={}", x)
        debug.print("x={}", x)       # identical: must not be merged
        debug.print("unused {}", jnp.cos(x))
        return x * 0.0 + 1.0

    jaxpr = nb.make_jaxpr(f)(1.0)
    for opt in (dce_jaxpr(jaxpr), cse_jaxpr(jaxpr), optimize_jaxpr(jaxpr)):
        assert [e.primitive.name for e in opt.eqns].count("debug_print") == 3
    assert "cos" in [e.primitive.name for e in optimize_jaxpr(jaxpr).eqns]
    nb.jit(f)(0.0)
    assert lines(capsys) == ["x=0.0", "x=0.0", "unused 1.0"]


def test_jit_function_without_outputs_that_depend_on_the_print(capsys):
    nb.jit(lambda x: debug.print("only {}", x))(np.int32(4))
    assert lines(capsys) == ["only 4"]


def test_jit_prints_once_for_strided_arguments(capsys):
    f = nb.jit(lambda x: (debug.print("x={}", x), jnp.sin(x))[1])
    f(np.arange(6.0)[::2])
    assert lines(capsys) == ["x=[0. 2. 4.]"]


# ----------------------------------------------------------------------------- autodiff

def test_grad_prints_primals_once(capsys):
    f = printing(lambda x: x ** 3)
    assert nb.grad(f)(2.0) == 12.0
    assert lines(capsys) == ["x=2.0"]
    assert nb.value_and_grad(f)(3.0) == (27.0, 27.0)
    assert lines(capsys) == ["x=3.0"]


def test_jvp_prints_primals_not_tangents(capsys):
    out, t = nb.jvp(printing(jnp.sin), (1.0,), (10.0,))
    assert t == pytest.approx(10 * np.cos(1.0))
    assert lines(capsys) == ["x=1.0"]


def test_higher_order_and_jacobians_print_primals_once(capsys):
    f = printing(lambda x: jnp.sin(x) * x)
    nb.hessian(f)(1.0)
    assert lines(capsys) == ["x=1.0"]
    nb.jacrev(f)(np.array([1.0, 2.0]))
    nb.jacfwd(f)(np.array([1.0, 2.0]))
    assert lines(capsys) == ["x=[1. 2.]"] * 2


def test_transposition_prints_nothing(capsys):
    ct = nb.linear_transpose(printing(lambda x: 2.0 * x), 1.0)(1.0)
    assert ct == (2.0,)
    assert lines(capsys) == []


def test_jit_of_grad_prints_at_run_time(capsys):
    g = nb.jit(nb.grad(printing(lambda x: x ** 2)))
    assert lines(capsys) == []
    assert g(3.0) == 6.0
    assert g(4.0) == 8.0
    assert lines(capsys) == ["x=3.0", "x=4.0"]


def test_grad_of_jit_prints_forward_pass_once(capsys):
    assert nb.grad(nb.jit(printing(lambda x: x ** 2)))(3.0) == 6.0
    assert lines(capsys) == ["x=3.0"]


# ----------------------------------------------------------------------------- vmap

def test_vmap_prints_one_line_per_element_like_jax(capsys):
    # JAX's batching rule unrolls the callback over the mapped axis; unmapped args repeat
    out = nb.vmap(lambda x, y: (debug.print("{} {}", x, y), x * y)[1],
                  in_axes=(1, None))(np.arange(6.0).reshape(2, 3), 7.0)
    np.testing.assert_allclose(out, 7.0 * np.arange(6.0).reshape(2, 3).T)
    assert lines(capsys) == ["[0. 3.] 7.0", "[1. 4.] 7.0", "[2. 5.] 7.0"]


def test_vmap_of_unbatched_print_prints_once(capsys):
    nb.vmap(lambda x: (debug.print("const {}", 1.0), x)[1])(np.arange(3.0))
    assert lines(capsys) == ["const 1.0"]


def test_vmap_of_grad(capsys):
    g = nb.vmap(nb.grad(printing(lambda x: x ** 2)))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [2.0, 4.0])
    assert lines(capsys) == ["x=1.0", "x=2.0"]


def test_jit_of_vmap(capsys):
    nb.jit(nb.vmap(printing(jnp.sin)))(np.array([0.0, 1.0]))
    assert lines(capsys) == ["x=0.0", "x=1.0"]


# ----------------------------------------------------------------------------- control flow

def _fori(x):
    def body(i, c):
        debug.print("i={} c={}", i, c)
        return c * x
    return lax.fori_loop(0, 3, body, 1.0)


def _scan(c0, xs):
    def body(c, x):
        debug.print("c={} x={x}", c, x=x)
        return c + x, c * x
    return lax.scan(body, c0, xs)


def _cond(p, x):
    return lax.cond(p, lambda x: (debug.print("T {}", x), x + 1.0)[1],
                    lambda x: (debug.print("F {}", x), x - 1.0)[1], x)


def _while(n):
    def body(c):
        debug.print("w {}", c)
        return c + 1
    return lax.while_loop(lambda c: c < n, body, 0)


FORI = ["i=0 c=1.0", "i=1 c=2.0", "i=2 c=4.0"]
SCAN = ["c=0.0 x=1.0", "c=1.0 x=2.0", "c=3.0 x=3.0"]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_loops_and_cond_print_every_iteration(capsys, jit):
    wrap = nb.jit if jit else (lambda f: f)
    assert wrap(_fori)(2.0) == 8.0
    assert lines(capsys) == FORI
    carry, ys = wrap(_scan)(0.0, np.array([1.0, 2.0, 3.0]))
    assert carry == 6.0
    np.testing.assert_allclose(ys, [0.0, 2.0, 9.0])
    assert lines(capsys) == SCAN
    assert wrap(_cond)(True, 1.0) == 2.0 and wrap(_cond)(False, 1.0) == 0.0
    assert lines(capsys) == ["T 1.0", "F 1.0"]
    assert wrap(_while)(3) == 3
    assert lines(capsys) == ["w 0", "w 1", "w 2"]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_grad_through_loops_prints_forward_pass(capsys, jit):
    wrap = nb.jit if jit else (lambda f: f)
    assert wrap(nb.grad(_fori))(2.0) == pytest.approx(12.0)
    assert lines(capsys) == FORI
    g = wrap(nb.grad(lambda c: _scan(c, np.array([1.0, 2.0, 3.0]))[0]))(0.0)
    assert g == 1.0
    assert lines(capsys) == SCAN
    assert wrap(nb.grad(lambda x: _cond(x > 0, x)))(1.0) == 1.0
    assert lines(capsys) == ["T 1.0"]


def test_vmap_of_loops(capsys):
    nb.vmap(_fori)(np.array([1.0, 2.0]))
    # one line per lane: the counter is unbatched, the carry batched
    assert lines(capsys) == ["i=0 c=1.0", "i=0 c=1.0", "i=1 c=1.0", "i=1 c=2.0",
                             "i=2 c=1.0", "i=2 c=4.0"]
    # a batched predicate runs both branches for every lane
    nb.vmap(_cond)(np.array([True, False]), np.array([1.0, 2.0]))
    assert lines(capsys) == ["F 1.0", "F 2.0", "T 1.0", "T 2.0"]


def test_grad_of_scan_with_invariant_residual(capsys):
    def f(c0, w):
        def body(c, _):
            debug.print("c={}", c)
            return c * jnp.sin(w), None
        return lax.scan(body, c0, None, length=2)[0]
    g = nb.grad(f, argnums=(0, 1))(2.0, 0.5)
    np.testing.assert_allclose(g, (np.sin(0.5) ** 2, 4 * np.sin(0.5) * np.cos(0.5)))
    assert lines(capsys) == ["c=2.0", f"c={2 * np.sin(0.5)}"]


def test_linearize_of_while_printing_a_constant(capsys):
    def f(x, k):
        def body(c):
            debug.print("k={}", k)
            return c[0] + 1, c[1] * x
        return lax.while_loop(lambda c: c[0] < 2, body, (0, x))[1]
    out, lin = nb.linearize(f, 2.0, 5.0)
    assert out == 8.0
    assert lines(capsys) == ["k=5.0", "k=5.0"]
