"""lax.scan and lax.map: stacking (forward and reverse), empty scans, carry-only and ys-only
usages, pytrees, nesting (scan in scan, cond in scan), an RNN whose gradient with respect to
closed-over weights, inputs and initial state is checked against finite differences, vmap with
various axes, shape/type errors, and lax.map with batch_size. The construct x transformation
matrix is in test_control_flow.py."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbax.numpy as jnp
from numbax import grad, jacfwd, jacrev, jit, jvp, linearize, value_and_grad, vmap
from numbax import lax
from numbax.tree_util import tree_structure

from cf_helpers import assert_same_dtype, fd_grad, fd_jac, stack_rows
from checks import assert_allclose, check_vjp_adjoint

RNG = np.random.default_rng(11)


# --------------------------------------------------------------------------- stacking

def _step(c, x):
    return c * 0.5 + x, c * 10.0 + x


def _scan_ref(init, xs, reverse=False):
    c, ys = init, [None] * len(xs)
    for i in (reversed(range(len(xs))) if reverse else range(len(xs))):
        c, ys[i] = _step(c, xs[i])
    return c, np.array(ys, np.float64).reshape((len(xs),) + np.shape(init))


_scan_jit = jit(lambda c, xs: lax.scan(_step, c, xs))
_scan_rev_jit = jit(lambda c, xs: lax.scan(_step, c, xs, reverse=True))


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_stacks_ys_in_input_order(reverse):
    xs = np.array([1.0, 2.0, 3.0, 4.0])
    c, ys = lax.scan(_step, 0.0, xs, reverse=reverse)
    if reverse:  # visits 4, 3, 2, 1 (carries 0, 4, 5, 4.5); y[i] belongs to x[i]
        assert_allclose(ys, [46.0, 52.0, 43.0, 4.0], rtol=0, atol=0)
        assert c == 3.25
    else:  # carries 0, 1, 2.5, 4.25
        assert_allclose(ys, [1.0, 12.0, 28.0, 46.5], rtol=0, atol=0)
        assert c == 6.125
    ref = _scan_ref(0.0, xs, reverse)
    assert_allclose((c, ys), ref, rtol=0, atol=0)
    got = (_scan_rev_jit if reverse else _scan_jit)(0.0, xs)
    assert_allclose(got, ref, rtol=0, atol=0)


def test_scan_reverse_equals_forward_on_reversed_inputs():
    xs = RNG.standard_normal((5, 3))
    init = RNG.standard_normal(3)
    c_r, ys_r = lax.scan(_step, init, xs, reverse=True)
    c_f, ys_f = lax.scan(_step, init, xs[::-1])
    assert_allclose(c_r, c_f, rtol=0, atol=0)
    assert_allclose(ys_r, ys_f[::-1], rtol=0, atol=0)
    # and the gradients with respect to xs, too
    g_r = grad(lambda v: jnp.sum(lax.scan(_step, init, v, reverse=True)[1] ** 2))(xs)
    g_f = grad(lambda v: jnp.sum(lax.scan(_step, init, v[::-1])[1] ** 2))(xs)
    assert_allclose(g_r, g_f, rtol=1e-14, atol=1e-14)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 6), reverse=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_scan_random_lengths_vs_python_loop(n, reverse, seed):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((n, 2))
    init = rng.standard_normal(2)
    ref = _scan_ref(init, xs, reverse)
    assert_allclose(lax.scan(_step, init, xs, reverse=reverse), ref, rtol=1e-15, atol=0)
    assert_allclose((_scan_rev_jit if reverse else _scan_jit)(init, xs), ref, rtol=1e-15, atol=0)
    # the map is linear: J (init, xs) == outputs, and grads are exact
    t = rng.standard_normal(2), rng.standard_normal((n, 2))
    _, tan = jvp(lambda a, b: lax.scan(_step, a, b, reverse=reverse), (init, xs), t)
    assert_allclose(tan, _scan_ref(t[0], t[1], reverse), rtol=1e-14, atol=1e-14)
    check_vjp_adjoint(lambda a, b: lax.scan(_step, a, b, reverse=reverse), [init, xs])


# --------------------------------------------------------------------------- empty, carry/ys only

def test_scan_length_zero():
    c, ys = lax.scan(_step, 1.5, np.zeros((0,)))
    assert c == 1.5 and ys.shape == (0,) and ys.dtype == np.float64
    c, ys = _scan_jit(1.5, np.zeros((0,)))
    assert c == 1.5 and ys.shape == (0,)
    # pytree ys with extra dimensions and dtypes
    def f(c, x):
        return c + x, {"a": c * x, "b": (x[0], jnp.sum(x > 0))}
    init = np.ones(2)
    for fun in (lax.scan, jit(lax.scan, static_argnums=0)):
        c, ys = fun(f, init, np.zeros((0, 2)))
        assert_allclose(c, init, rtol=0, atol=0)
        assert ys["a"].shape == (0, 2) and ys["b"][0].shape == (0,) and ys["b"][1].shape == (0,)
        assert ys["b"][1].dtype.kind == "i"
    # length=0 without xs; derivative of the carry is the identity
    c, ys = lax.scan(lambda c, _: (c * 2.0, c), 3.0, None, length=0)
    assert c == 3.0 and ys.shape == (0,)
    assert grad(lambda v: jnp.sum(lax.scan(lambda c, _: (c * 2.0, c), v, None, length=0)[0]))(
        np.array([3.0, 4.0])).tolist() == [1.0, 1.0]
    g = grad(lambda v: jnp.sum(lax.scan(f, v, np.zeros((0, 2)))[0] ** 2))(init)
    assert_allclose(g, 2 * init, rtol=0, atol=0)
    # and the xs of an empty scan get an empty gradient
    gx = grad(lambda xs: jnp.sum(lax.scan(f, init, xs)[0]))(np.zeros((0, 2)))
    assert gx.shape == (0, 2)


def test_scan_carry_only_and_ys_only():
    xs = np.array([1.0, -2.0, 3.5])
    c, ys = lax.scan(lambda c, x: (c + x * x, None), 0.0, xs)
    assert ys is None and c == 1.0 + 4.0 + 12.25
    c, ys = lax.scan(lambda c, x: (None, x * 2.0), None, xs)
    assert c is None
    assert_allclose(ys, xs * 2.0, rtol=0, atol=0)
    c, ys = jit(lambda v: lax.scan(lambda c, x: (None, jnp.sin(x)), None, v))(xs)
    assert c is None
    assert_allclose(ys, np.sin(xs), rtol=1e-15, atol=0)
    # gradients of both usages
    assert_allclose(grad(lambda v: lax.scan(lambda c, x: (c + x * x, None), 0.0, v)[0])(xs),
                    2 * xs, rtol=0, atol=0)
    assert_allclose(grad(lambda v: jnp.sum(lax.scan(lambda c, x: (None, jnp.sin(x)), None,
                                                    v)[1]))(xs), np.cos(xs), rtol=1e-15)
    # neither carry nor xs: only a length
    c, ys = lax.scan(lambda c, _: (c + 1, c), 0, None, length=4)
    assert c == 4
    assert_allclose(ys, [0, 1, 2, 3], rtol=0, atol=0)


def test_scan_pytree_carry_xs_and_ys():
    def f(carry, x):
        s, (m, n) = carry["s"], carry["mn"]
        s2 = s + x["a"] * m
        return ({"s": s2, "mn": (m * x["b"][0], n + 1)},
                [s2, {"prod": s2 * x["b"][1]}])
    init = {"s": np.zeros(2), "mn": (np.float64(1.0), 0)}
    xs = {"a": RNG.standard_normal((4, 2)), "b": (RNG.standard_normal(4), RNG.standard_normal(4))}

    def ref():
        s, m, n = np.zeros(2), 1.0, 0
        ys0, ys1 = [], []
        for k in range(4):
            s = s + xs["a"][k] * m
            m, n = m * xs["b"][0][k], n + 1
            ys0.append(s)
            ys1.append(s * xs["b"][1][k])
        return {"s": s, "mn": (m, n)}, [np.array(ys0), {"prod": np.array(ys1)}]
    out = lax.scan(f, init, xs)
    assert tree_structure(out) == tree_structure(ref())
    assert_allclose(out, ref(), rtol=1e-14, atol=1e-15)
    out_jit = jit(lambda i, x: lax.scan(f, i, x))(init, xs)
    assert_allclose(out_jit, out, rtol=1e-14, atol=1e-15)
    assert_same_dtype(out_jit, out)
    # reverse mode with respect to the pytree xs (several leaves) against finite differences
    def loss(xs):
        c, ys = lax.scan(f, init, xs)
        return jnp.sum(c["s"]) * c["mn"][0] + jnp.sum(ys[1]["prod"] ** 2)

    def loss_np(a):
        return float(loss({"a": a, "b": xs["b"]}))
    g = grad(loss)(xs)
    assert tree_structure(g) == tree_structure(xs)
    assert_allclose(g["a"], fd_grad(loss_np, xs["a"]), rtol=1e-6, atol=1e-8)
    assert_allclose(g["b"][0], fd_grad(lambda b: float(loss({"a": xs["a"],
                                                              "b": (b, xs["b"][1])})),
                                       xs["b"][0]), rtol=1e-6, atol=1e-8)
    assert_allclose(grad(jit(loss))(xs), g, rtol=1e-12, atol=1e-14)


def test_scan_integer_counter_in_carry_is_not_differentiated():
    def f(x):
        (n, acc), ys = lax.scan(lambda c, xi: ((c[0] + 1, c[1] + xi * c[0]), c[0] * xi),
                                (0, 0.0), x)
        return acc + jnp.sum(ys) + n
    x = np.array([0.5, -1.0, 2.0])
    assert f(x) == (0 * 0.5 - 1.0 * 1 + 2.0 * 2) * 2 + 3
    assert_allclose(grad(f)(x), [0.0, 2.0, 4.0], rtol=0, atol=0)
    assert_allclose(jit(grad(f))(x), [0.0, 2.0, 4.0], rtol=0, atol=0)


# --------------------------------------------------------------------------- nesting

def cumsum2d(m):
    """Inclusive 2-D prefix sums by a scan over rows of scans over columns."""
    def row_step(carry_row, row):
        _, prefix = lax.scan(lambda c, x: (c + x, c + x), 0.0, row)
        new = carry_row + prefix
        return new, new
    return lax.scan(row_step, jnp.zeros(m.shape[1]), m)[1]


def test_scan_inside_scan():
    m = RNG.standard_normal((3, 4))
    ref = np.cumsum(np.cumsum(m, axis=0), axis=1)
    assert_allclose(cumsum2d(m), ref, rtol=1e-14, atol=1e-14)
    assert_allclose(jit(cumsum2d)(m), ref, rtol=1e-14, atol=1e-14)
    w = RNG.standard_normal((3, 4))
    # linear: the gradient of <w, S(m)> is the reverse-cumsum of w in both axes
    g = grad(lambda a: jnp.sum(cumsum2d(a) * w))(m)
    g_ref = np.cumsum(np.cumsum(w[::-1, ::-1], axis=0), axis=1)[::-1, ::-1]
    assert_allclose(g, g_ref, rtol=1e-13, atol=1e-14)
    assert_allclose(jit(grad(lambda a: jnp.sum(cumsum2d(a) * w)))(m), g_ref, rtol=1e-13,
                    atol=1e-14)
    ms = RNG.standard_normal((2, 3, 4))
    assert_allclose(vmap(cumsum2d)(ms), np.stack([cumsum2d(a) for a in ms]), rtol=1e-14,
                    atol=1e-14)


def test_nonlinear_scan_inside_scan_gradient():
    def f(m, w):
        def row_step(h, row):
            h2, _ = lax.scan(lambda c, x: (jnp.tanh(c * w + x), None), h, row)
            return h2, h2 ** 2
        return lax.scan(row_step, 0.1, m)

    def f_np(m, w):
        h, ys = 0.1, []
        for row in m:
            for x in row:
                h = np.tanh(h * w + x)
            ys.append(h ** 2)
        return h, np.array(ys)
    m = RNG.standard_normal((3, 4)) * 0.5
    w = 0.8
    assert_allclose(f(m, w), f_np(m, w), rtol=1e-14, atol=1e-15)
    loss = lambda m, w: f(m, w)[0] + jnp.sum(f(m, w)[1])
    loss_np = lambda m, w: f_np(m, w)[0] + np.sum(f_np(m, w)[1])
    gm, gw = grad(loss, argnums=(0, 1))(m, w)
    assert_allclose(gm, fd_grad(lambda a: loss_np(a, w), m), rtol=1e-6, atol=1e-9)
    assert_allclose(gw, fd_grad(lambda a: loss_np(m, a), np.float64(w)), rtol=1e-6, atol=1e-9)
    assert_allclose(grad(jit(loss), argnums=(0, 1))(m, w), (gm, gw), rtol=1e-12, atol=1e-14)
    check_vjp_adjoint(f, [m, np.float64(w)])


def _relu_rnn(xs, a):
    def step(h, x):
        pre = a * h + x
        h2 = lax.cond(pre > 0, lambda p: p, lambda p: 0.1 * p, pre)  # leaky relu
        return h2, h2 * x
    return lax.scan(step, 0.0, xs)


def _relu_rnn_np(xs, a):
    h, ys = 0.0, []
    for x in xs:
        pre = a * h + x
        h = pre if pre > 0 else 0.1 * pre
        ys.append(h * x)
    return h, np.array(ys)


def test_cond_inside_scan():
    xs = np.array([0.5, -1.3, 0.2, 0.9, -0.4, -0.1])
    a = 0.7
    ref = _relu_rnn_np(xs, a)
    assert_allclose(_relu_rnn(xs, a), ref, rtol=1e-15, atol=0)
    assert_allclose(jit(_relu_rnn)(xs, a), ref, rtol=1e-15, atol=0)
    loss = lambda xs, a: _relu_rnn(xs, a)[0] + jnp.sum(_relu_rnn(xs, a)[1])
    loss_np = lambda xs, a: _relu_rnn_np(xs, a)[0] + np.sum(_relu_rnn_np(xs, a)[1])
    gx, ga = grad(loss, argnums=(0, 1))(xs, a)
    assert_allclose(gx, fd_grad(lambda v: loss_np(v, a), xs), rtol=1e-7, atol=1e-9)
    assert_allclose(ga, fd_grad(lambda v: loss_np(xs, v), np.float64(a)), rtol=1e-7, atol=1e-9)
    assert_allclose(jit(grad(loss, argnums=(0, 1)))(xs, a), (gx, ga), rtol=1e-13, atol=1e-15)
    check_vjp_adjoint(_relu_rnn, [xs, np.float64(a)])
    # vmap over sequences: the predicate inside the scan is batched
    xss = RNG.standard_normal((4, 6))
    got = vmap(_relu_rnn, in_axes=(0, None))(xss, a)
    assert_allclose(got, stack_rows([_relu_rnn_np(x, a) for x in xss]), rtol=1e-15, atol=0)
    gs = vmap(grad(loss), in_axes=(0, None))(xss, a)
    assert_allclose(gs, np.stack([fd_grad(lambda v: loss_np(v, a), x) for x in xss]),
                    rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- an RNN

H, D, T = 3, 2, 5
W = RNG.standard_normal((H, H)) * 0.5
U = RNG.standard_normal((H, D)) * 0.5
B = RNG.standard_normal(H) * 0.1
XS = RNG.standard_normal((T, D))
H0 = RNG.standard_normal(H) * 0.3


def rnn(W, U, b, xs, h0):
    def step(h, x):  # closes over the weights
        h2 = jnp.tanh(W @ h + U @ x + b)
        return h2, jnp.sum(h2 ** 2)
    h, ys = lax.scan(step, h0, xs)
    return jnp.sum(ys) + jnp.sum(h * jnp.arange(1.0, H + 1))


def rnn_np(W, U, b, xs, h0):
    h, total = h0, 0.0
    for x in xs:
        h = np.tanh(W @ h + U @ x + b)
        total += np.sum(h ** 2)
    return total + np.sum(h * np.arange(1.0, H + 1))


RNN_ARGS = (W, U, B, XS, H0)
_rnn_grad_jit = jit(grad(rnn, argnums=(0, 1, 2, 3, 4)))


def test_rnn_value_and_gradients_vs_finite_differences():
    v, grads = value_and_grad(rnn, argnums=(0, 1, 2, 3, 4))(*RNN_ARGS)
    assert_allclose(v, rnn_np(*RNN_ARGS), rtol=1e-13)
    for k, g in enumerate(grads):
        def f_k(a, k=k):
            args = list(RNN_ARGS)
            args[k] = a
            return rnn_np(*args)
        assert g.shape == RNN_ARGS[k].shape
        assert_allclose(g, fd_grad(f_k, RNN_ARGS[k]), rtol=1e-6, atol=1e-8, err_msg=str(k))
    assert_allclose(_rnn_grad_jit(*RNN_ARGS), grads, rtol=1e-12, atol=1e-14)
    assert_allclose(grad(jit(rnn), argnums=(0, 1, 2, 3, 4))(*RNN_ARGS), grads, rtol=1e-12,
                    atol=1e-14)


def test_rnn_gradient_wrt_closed_over_weights_only():
    # W is closed over by the loss, not an argument of anything but the scan body's closure
    g = grad(lambda w: rnn(w, U, B, XS, H0))(W)
    assert_allclose(g, fd_grad(lambda w: rnn_np(w, U, B, XS, H0), W), rtol=1e-6, atol=1e-8)
    assert_allclose(jacrev(lambda w: rnn(w, U, B, XS, H0))(W), g, rtol=1e-13, atol=1e-15)
    assert_allclose(jacfwd(lambda w: rnn(w, U, B, XS, H0))(W), g, rtol=1e-12, atol=1e-14)


def test_rnn_adjoint_linearize_and_hessian_vector_product():
    check_vjp_adjoint(rnn, list(RNN_ARGS))
    check_vjp_adjoint(lambda W, xs: lax.scan(lambda h, x: (jnp.tanh(W @ h + U @ x), h), H0, xs),
                      [W, XS])
    y, f_lin = linearize(rnn, *RNN_ARGS)
    tangents = tuple(RNG.standard_normal(np.shape(a)) for a in RNN_ARGS)
    assert_allclose(y, rnn(*RNN_ARGS), rtol=1e-14)
    assert_allclose(f_lin(*tangents), jvp(rnn, RNN_ARGS, tangents)[1], rtol=1e-12, atol=1e-14)
    # a Hessian-vector product through the scan: forward over reverse against FD of the gradient
    v = RNG.standard_normal(H)
    hvp = jvp(grad(lambda h0: rnn(W, U, B, XS, h0)), (H0,), (v,))[1]
    g_np = lambda h0: fd_grad(lambda a: rnn_np(W, U, B, XS, a), h0, eps=1e-5)
    fd = (g_np(H0 + 1e-4 * v) - g_np(H0 - 1e-4 * v)) / 2e-4
    assert_allclose(hvp, fd, rtol=1e-4, atol=1e-6)
    H2 = jacfwd(grad(lambda h0: rnn(W, U, B, XS, h0)))(H0)
    assert_allclose(H2, H2.T, rtol=1e-12, atol=1e-14)
    assert_allclose(jacrev(grad(lambda h0: rnn(W, U, B, XS, h0)))(H0), H2, rtol=1e-11,
                    atol=1e-13)


def test_rnn_vmap_over_sequences_and_per_example_gradients():
    xss = RNG.standard_normal((4, T, D))
    got = vmap(rnn, in_axes=(None, None, None, 0, None))(W, U, B, xss, H0)
    assert_allclose(got, [rnn_np(W, U, B, x, H0) for x in xss], rtol=1e-13)
    # time-major input: the sequences along axis 1
    got_t = vmap(rnn, in_axes=(None, None, None, 1, None))(W, U, B,
                                                            np.ascontiguousarray(
                                                                xss.transpose(1, 0, 2)), H0)
    assert_allclose(got_t, got, rtol=1e-14)
    per_ex = vmap(grad(rnn), in_axes=(None, None, None, 0, None))(W, U, B, xss, H0)
    assert per_ex.shape == (4, H, H)
    for k, x in enumerate(xss):
        assert_allclose(per_ex[k], grad(rnn)(W, U, B, x, H0), rtol=1e-12, atol=1e-14)
    # batched initial states only (xs unbatched), and batched weights only
    h0s = RNG.standard_normal((3, H))
    assert_allclose(vmap(lambda h: rnn(W, U, B, XS, h))(h0s),
                    [rnn_np(W, U, B, XS, h) for h in h0s], rtol=1e-13)
    Ws = RNG.standard_normal((2, H, H)) * 0.5
    assert_allclose(jit(vmap(lambda w: rnn(w, U, B, XS, H0)))(Ws),
                    [rnn_np(w, U, B, XS, H0) for w in Ws], rtol=1e-13)


def test_vmap_scan_ys_out_axes():
    def f(init, xs):
        return lax.scan(lambda c, x: (c + x, c * x), init, xs)
    inits = RNG.standard_normal(3)
    xss = RNG.standard_normal((3, 5))
    c, ys = vmap(f, out_axes=(0, 1))(inits, xss)
    refs = [f(i, x) for i, x in zip(inits, xss)]
    assert_allclose(c, [r[0] for r in refs], rtol=0, atol=0)
    assert ys.shape == (5, 3)
    assert_allclose(ys, np.stack([r[1] for r in refs], axis=1), rtol=0, atol=0)
    # init batched, xs shared
    c2, ys2 = vmap(f, in_axes=(0, None))(inits, xss[0])
    assert_allclose(ys2, np.stack([f(i, xss[0])[1] for i in inits]), rtol=0, atol=0)


# --------------------------------------------------------------------------- errors

def test_scan_mismatched_leading_axes_raise_value_error():
    with pytest.raises(ValueError):
        lax.scan(lambda c, x: (c, x), 0.0, (np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError):
        jit(lambda a, b: lax.scan(lambda c, x: (c, x), 0.0, (a, b)))(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        lax.scan(lambda c, x: (c, x), 0.0, np.zeros(3), length=4)
    with pytest.raises(ValueError):
        lax.scan(lambda c, x: (c, x), 0.0, {"a": np.zeros((2, 3)), "b": np.zeros((3, 2))})


def test_scan_without_xs_or_length_raises_value_error():
    with pytest.raises(ValueError):
        lax.scan(lambda c, x: (c, c), 0.0, None)
    with pytest.raises(ValueError):
        jit(lambda c: lax.scan(lambda c, x: (c, c), c, None))(0.0)
    with pytest.raises(ValueError):
        lax.scan(lambda c, x: (c, x), 0.0, np.float64(1.0))  # no leading axis


def test_scan_body_errors_raise_type_error():
    xs = np.zeros(3)
    with pytest.raises(TypeError):
        lax.scan(lambda c, x: (c, x, x), 0.0, xs)  # not a pair
    with pytest.raises(TypeError):
        lax.scan(lambda c, x: c, 0.0, xs)
    with pytest.raises(TypeError):  # carry dtype changes
        lax.scan(lambda c, x: (c.astype(jnp.float32), x), np.float64(0.0), xs)
    with pytest.raises(TypeError):  # carry shape changes
        lax.scan(lambda c, x: (jnp.stack([c, c]), x), np.float64(0.0), xs)
    with pytest.raises(TypeError):  # carry structure changes
        lax.scan(lambda c, x: ([c[0], c[1]], x), (0.0, 1.0), xs)
    with pytest.raises(TypeError):
        jit(lambda v: lax.scan(lambda c, x: ((c, c), x), 0.0, v))(xs)


def test_scan_weak_typed_carry_takes_float32_from_xs():
    # JAX: a Python-scalar carry combined with float32 inputs is carried as float32
    c, ys = lax.scan(lambda c, x: (c + x, c * x), 0.0, np.ones(3, np.float32))
    assert np.asarray(c).dtype == np.float32 and np.asarray(ys).dtype == np.float32
    assert c == 3.0


# --------------------------------------------------------------------------- lax.map

def _row_fn(r):
    return {"s": jnp.sum(jnp.sin(r)), "v": r * jnp.max(r)}


@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 5, 7])
def test_map_matches_python_loop(batch_size):
    xs = RNG.standard_normal((5, 3))
    got = lax.map(_row_fn, xs, batch_size=batch_size)
    ref = stack_rows([{"s": np.sum(np.sin(r)), "v": r * np.max(r)} for r in xs])
    assert tree_structure(got) == tree_structure(ref)
    assert_allclose(got, ref, rtol=1e-14, atol=1e-15)
    got_jit = jit(lambda v: lax.map(_row_fn, v, batch_size=batch_size))(xs)
    assert_allclose(got_jit, ref, rtol=1e-14, atol=1e-15)
    g = grad(lambda v: jnp.sum(lax.map(_row_fn, v, batch_size=batch_size)["s"]))(xs)
    assert_allclose(g, np.cos(xs), rtol=1e-14, atol=1e-15)
    loss = lambda v: jnp.sum(lax.map(_row_fn, v, batch_size=batch_size)["v"] ** 2)
    loss_np = lambda v: np.sum(np.stack([r * np.max(r) for r in v]) ** 2)
    assert_allclose(grad(loss)(xs), fd_grad(loss_np, xs), rtol=1e-6, atol=1e-7)
    assert_allclose(grad(jit(loss))(xs), grad(loss)(xs), rtol=1e-13, atol=1e-15)
    # vmap over an outer axis of the mapped array
    xss = RNG.standard_normal((2, 5, 3))
    got_v = vmap(lambda v: lax.map(_row_fn, v, batch_size=batch_size))(xss)
    assert_allclose(got_v, stack_rows([lax.map(_row_fn, v) for v in xss]), rtol=1e-14,
                    atol=1e-15)


def test_map_pytree_inputs_and_integer_outputs():
    xs = (np.arange(4.0), {"k": np.array([1, 2, 3, 4])})
    f = lambda t: (t[0] * t[1]["k"], t[1]["k"] * 2)
    for bs in (None, 3):
        a, b = lax.map(f, xs, batch_size=bs)
        assert_allclose(a, [0.0, 2.0, 6.0, 12.0], rtol=0, atol=0)
        assert b.dtype.kind == "i"
        assert_allclose(b, [2, 4, 6, 8], rtol=0, atol=0)


def test_map_with_invalid_batch_size():
    with pytest.raises(ValueError):
        lax.map(lambda x: x, np.ones(3), batch_size=0)


def test_map_jvp_vjp_adjoint():
    xs = RNG.standard_normal((5, 3))
    t = RNG.standard_normal((5, 3))
    for bs in (None, 2):
        f = lambda v, bs=bs: lax.map(lambda r: jnp.tanh(r) * jnp.sum(r), v, batch_size=bs)
        f_np = lambda v: np.stack([np.tanh(r) * np.sum(r) for r in v])
        _, tan = jvp(f, (xs,), (t,))
        assert_allclose(tan, (f_np(xs + 1e-6 * t) - f_np(xs - 1e-6 * t)) / 2e-6, rtol=1e-6,
                        atol=1e-9)
        check_vjp_adjoint(f, [xs])
        assert_allclose(jacrev(f)(xs), jacfwd(f)(xs), rtol=1e-13, atol=1e-15)


def test_scan_jacobians_against_finite_differences():
    def f(x):
        c, ys = lax.scan(lambda c, xi: (c * jnp.cos(xi) + xi, jnp.exp(c) * xi), x[0], x[1:])
        return jnp.concatenate([jnp.reshape(c, (1,)), ys])

    def f_np(x):
        c, ys = x[0], []
        for xi in x[1:]:
            ys.append(np.exp(c) * xi)
            c = c * np.cos(xi) + xi
        return np.concatenate([[c], ys])
    x = RNG.standard_normal(5) * 0.5
    J = jacrev(f)(x)
    assert_allclose(J, fd_jac(f_np, x), rtol=1e-7, atol=1e-9)
    assert_allclose(jacfwd(f)(x), J, rtol=1e-13, atol=1e-15)
    assert_allclose(jit(jacrev(f))(x), J, rtol=1e-13, atol=1e-15)
    assert_allclose(vmap(jacrev(f))(np.stack([x, 2 * x])),
                    np.stack([J, jacfwd(f)(2 * x)]), rtol=1e-12, atol=1e-14)
    assert J.shape == (5, 5)
