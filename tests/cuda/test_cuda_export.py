"""export(f, *args, target="cuda"): one standalone module (numba-cuda + numpy, no numbax) holding
the CUDA backend's kernels and host program. Each exported source is executed in a fresh
namespace and compared with jit(f) on the CPU (on a GPU or the simulator: tiny shapes, since the
simulator runs one Python thread per CUDA thread); the `ptx` test compiles every exported kernel
for a real GPU without one (conftest.py says where each tier runs)."""
import numpy as np
import pytest

import numbax as nb
import numbax.numpy as jnp
from numbax import lax
from numbax.tree_util import tree_leaves

RNG = np.random.default_rng(1)
X = RNG.normal(size=(3, 4))
Y = RNG.normal(size=(3, 4))
V = RNG.normal(size=4)
XD = RNG.normal(size=(6, 3))
YD = (RNG.random(6) > 0.5).astype(np.float64)
W = np.array([0.5, -1.0, 0.25])


def elementwise(x, y):
    z = jnp.sin(x) * jnp.exp(-y) + jnp.tanh(x * y) ** 2 - jnp.log1p(x * x)
    return jnp.where(z > 0, jnp.sqrt(jnp.abs(z)), z / (1.0 + y * y)) + jnp.floor(x * 3.0)


def loss(w, X, y):
    z = X @ w
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def mlp(params, x):
    h = jnp.tanh(x @ params["W"] + params["b"])
    return jnp.sum(h * params["v"])


def while_fn(x):
    return lax.while_loop(lambda v: jnp.sum(v) < 50.0, lambda v: v * 2.0 + 1.0, x)


def scan_fn(x):
    def body(c, xi):
        c = c * 0.9 + jnp.sin(xi)
        return c, jnp.sum(c)
    return lax.scan(body, jnp.zeros(3), x)


def cond_fn(x, y):
    return lax.cond(jnp.sum(x) > jnp.sum(y), lambda a, b: a * b, lambda a, b: a - jnp.cos(b),
                    x, y)


PARAMS = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2), "v": RNG.normal(size=2)}

CASES = {
    "elementwise": (elementwise, (X, Y)),
    "grad_logreg": (nb.value_and_grad(loss), (W, XD, YD)),
    "vmap_grad": (nb.vmap(nb.grad(loss), in_axes=(0, None, None)), (np.stack([W, -W]), XD, YD)),
    "hessian": (nb.hessian(lambda x: jnp.sum(jnp.sin(x) * x[::-1])), (V,)),
    "jvp": (lambda x, t: nb.jvp(lambda u: jnp.exp(u) * jnp.sum(u ** 2), (x,), (t,)), (V, V + 1)),
    "while": (while_fn, (np.abs(V),)),
    "scan": (scan_fn, (XD,)),
    "cond": (cond_fn, (X, Y)),
    "cond_other_branch": (cond_fn, (Y - 10.0, X)),
    "pytree": (nb.grad(mlp), (PARAMS, XD)),
    "scalar": (lambda x: jnp.sum(x * x) / 2.0, (X,)),
}


def load(exported):
    """The exported function, from its source executed in a fresh namespace."""
    imports = [ln for ln in exported.source.splitlines()
               if ln.lstrip().startswith(("import ", "from "))]
    assert imports and not any("numbax" in ln for ln in imports), imports
    ns = {"__name__": f"exported_{exported.name}"}
    exec(compile(exported.source, f"<export {exported.name}>", "exec"), ns)
    return ns[exported.name]


def check(got, want, rtol=1e-10, atol=1e-12):
    """got: the exported function's result (device arrays); want: jit(f)'s pytree."""
    want_l = tree_leaves(want)
    got_l = list(got) if len(want_l) != 1 else [got]
    assert len(want_l) != 1 or not isinstance(got, tuple)
    assert len(got_l) == len(want_l)
    for g, w in zip(got_l, want_l):
        assert hasattr(g, "copy_to_host"), type(g)  # a device array
        g, w = g.copy_to_host(), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_exported_matches_jit(name):
    f, args = CASES[name]
    exported = nb.export(f, *args, target="cuda")
    assert exported.target == "cuda" and exported.kernels
    check(load(exported)(*tree_leaves(args)), nb.jit(f)(*args))


def test_scalar_result_is_0d():
    f, args = CASES["scalar"]
    got = load(nb.export(f, *args, target="cuda"))(*args)
    assert got.shape == () and np.asarray(got.copy_to_host()).dtype == np.float64


def test_load_and_device_arguments():
    """Exported.load(); numba device arrays (a strided one: copied by `_copy2`), rank-0
    arguments as Python scalars, 0-d and 1-element arrays; errors for wrong dtypes and shapes."""
    from numba import cuda
    f = lambda x, y, s: jnp.sin(x) * s + y  # noqa: E731
    exported = nb.export(f, X, Y, 2.0, target="cuda", name="scaled")
    g = exported.load()
    want = nb.jit(f)(X, Y, 2.0)
    xt = cuda.to_device(np.ascontiguousarray(X.T)).T          # a strided view
    assert not xt.is_c_contiguous()
    check(g(xt, cuda.to_device(Y), 2.0), want)
    check(g(X, Y, np.float64(2.0)), want)
    check(g(X, Y, cuda.to_device(np.array([2.0]))), want)
    check(g(X, Y, cuda.to_device(np.array(2.0))), want)
    with pytest.raises(TypeError, match="dtype"):
        g(cuda.to_device(X.astype(np.float32)), Y, 2.0)
    with pytest.raises(ValueError, match="shape"):
        g(X[:2], Y, 2.0)


def test_helpers_are_copied():
    """Kernels calling device_math (`_dm.`) and scalar_math (`_sm.`) functions: the copies,
    renamed, run in the exported module."""
    f = lambda x: nb.scipy.special.digamma(x + 2.0) + nb.scipy.special.erfinv(x / 4.0) \
        + jnp.floor(x * 2.5) + (x * 7).astype(jnp.int32) // 3  # noqa: E731
    exported = nb.export(f, V, target="cuda")
    for name in ("_dm_digamma", "_dm_floor", "_dm_trunc_div", "_sm_erf_inv", "_dm_math"):
        assert f"{name} =" in exported.source or f"def {name}(" in exported.source, name
    assert "_dm." not in exported.source and "_sm." not in exported.source
    check(load(exported)(V), nb.jit(f)(V), rtol=1e-9)


def test_debug_print(capsys):
    def f(x):
        nb.debug.print("x={} sum={}", x, jnp.sum(x))
        return x * 2.0
    got = load(nb.export(f, V, target="cuda"))(V)
    printed = capsys.readouterr().out
    nb.jit(f)(V)
    assert printed == capsys.readouterr().out and printed.startswith("x=")
    check(got, V * 2.0)


def test_same_host_program_as_jit():
    """The host function is HostSource's program: the same launches as jit's (up to names
    and launch sizes)."""
    f, args = CASES["grad_logreg"]
    text = nb.jit(f, device="cuda").lower(*args).as_text()
    host = text[:text.index("    return")]
    source = nb.export(f, *args, target="cuda").source
    n_launch = source[source.index("    w, X, y, = _args"):].count("](")
    assert n_launch == host.count("    k")
    assert "Launch" not in source and "blocks of 256 threads, at most 1024 blocks" in source


# ---------------------------------------------------------------------------- PTX

class _Device:
    compute_capability = (8, 0)


PTX_CASES = ["elementwise", "grad_logreg", "vmap_grad", "hessian", "while", "scan", "cond",
             "pytree"]


@pytest.mark.parametrize("name", PTX_CASES + ["helpers"])
def test_exported_kernels_compile_to_ptx(name, monkeypatch):
    """Every kernel of the exported module (with the copied device functions it calls) compiled
    for sm_80 with its recorded signature. Kernels calling scalar_math's njit functions get a
    stand-in device: numba-cuda asks the driver for one when a kernel calls a non-inlined
    device function (see test_cuda_scalar_ops.py)."""
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda
    if name == "helpers":
        f = lambda x: nb.scipy.special.digamma(x) + nb.scipy.special.erfinv(x / 4.0) \
            + jnp.floor(x) + (x * 7).astype(jnp.int32) // 3  # noqa: E731
        args = (V,)
    else:
        f, args = CASES[name]
    exported = nb.export(f, *args, target="cuda")
    ns = {"__name__": "exported_ptx"}
    exec(compile(exported.source, "<export>", "exec"), ns)
    monkeypatch.setattr(dispatcher, "get_current_device", _Device)
    assert exported.kernels
    for kname, sig in exported.kernels:
        ptx, _ = cuda.compile_ptx(ns[kname + "_py"], sig, cc=(8, 0))
        assert ".entry" in ptx, kname
