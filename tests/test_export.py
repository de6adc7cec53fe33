"""numbax.export: standalone numpy / numba / C source for (transformed) functions.

Every exported program is checked against `jit(f)` on the same inputs: the Python and Numba
sources executed in a fresh namespace (and one Numba file in a fresh interpreter where numbax
cannot be imported), the C source compiled with the system compiler and called through ctypes
(and once from a C program through the generated header).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import numbax
import numbax.numpy as jnp
from numbax import lax
from numbax._export import Exported, export, supported_primitives
from numbax.primitives.linalg import triangular_solve
from numbax.tree_util import tree_flatten

RNG = np.random.default_rng(0)
CC = shutil.which("cc")
C_FLAGS = ("-O2", "-std=c99", "-Wall", "-Werror")


# --------------------------------------------------------------------------- the functions

def _chain(x, y):
    z = jnp.sin(x) * jnp.exp(-y) + jnp.tanh(x * y) ** 2 - jnp.log1p(x * x)
    return jnp.where(z > 0, jnp.sqrt(jnp.abs(z)), z / (1.0 + y * y)) + jnp.maximum(x, y)


def _logreg_loss(w, X, y):
    z = X @ w
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def _poly(x):
    return jnp.sum(x ** 3 * x[0] - 2.0 * x * x[1] + x ** 2)


def _f(x):
    return jnp.sin(x) * jnp.cumsum(x) + jnp.sum(x ** 2)


def _per_example_loss(w, x, y):
    return jnp.logaddexp(0.0, x @ w) - y * (x @ w)


def _mlp_loss(params, x, y):
    h = x
    for W, b in params[:-1]:
        h = jnp.tanh(h @ W + b)
    W, b = params[-1]
    out = h @ W + b
    return jnp.mean((out - y) ** 2)


def _cond(x, y):
    def pos(a):
        return jnp.sin(a[0]) * a[1], a[0] + a[1]

    def neg(a):
        return jnp.cos(a[1]) - a[0], a[0] * a[1]
    u, v = lax.cond(jnp.sum(x) > 0, pos, neg, (x, y))
    return jnp.sum(u * v)


def _fori(x):
    return jnp.sum(lax.fori_loop(0, 5, lambda i, c: 0.9 * c + jnp.sin(c) * i, x) ** 2)


def _rnn(W, h0, xs):
    def step(h, x):
        h = jnp.tanh(W @ h + x)
        return h, jnp.sum(h)
    h, ys = lax.scan(step, h0, xs)
    return jnp.sum(h) + jnp.sum(ys * ys)


def _newton_sqrt(a):
    def cond(c):
        return jnp.logical_and(c[1] < 50, jnp.max(jnp.abs(c[0] * c[0] - a)) > 1e-12)

    def body(c):
        return 0.5 * (c[0] + a / c[0]), c[1] + 1
    x, n = lax.while_loop(cond, body, (a, 0))
    return x, n


def _indexing(x, i, idx):
    a = lax.dynamic_slice(x, (i, 0), (2, 3))
    b = x[idx]                                   # gather
    c = jnp.zeros(5).at[idx].add(x[:5, 0])       # scatter_add
    d = jnp.concatenate([x[::2].ravel(), jnp.flip(x[:, 1]), jnp.pad(x[0], (2, 1))])
    return (jnp.sum(a * a), b.T @ x[:5], c, d, jnp.argmax(x, axis=1), jnp.cumprod(x[:, 2]),
            jnp.max(x, axis=0), jnp.min(x))


def _f32(x, y):
    return jnp.sum(jnp.tanh(x @ y) * 0.5, axis=0), jnp.exp(x[:, 0]) - 1.5


def _ints(n, m):
    q = n // m + n % m - jnp.abs(n - 3 * m)
    return q, jnp.cumsum(n * m), jnp.sum(n > m), (q * 2).astype(jnp.float64) / 3.0


def _linalg(a, b):
    spd = a @ a.T + 4.0 * jnp.eye(3)
    L = jnp.linalg.cholesky(spd)
    x1 = triangular_solve(L, b, left_side=True, lower=True)
    x2 = triangular_solve(L, b.T, left_side=False, lower=True, transpose_a=True)
    sign, logdet = jnp.linalg.slogdet(a)
    return x1, x2, L, jnp.linalg.solve(a, b), sign, logdet


def _misc(x, y, k):
    a = lax.dynamic_update_slice(x, y[:2] * 2.0, (k[0], np.int32(0)))
    b = jnp.zeros(6).at[k].set(jnp.arange(4.0))                 # scatter with duplicates
    c = lax.cummax(x, axis=0, reverse=True) + lax.cumsum(y, axis=1, reverse=True)
    d = lax.select_n(k % 3, x[:, 0], y[:, 0], x[:, 1] * y[:, 1])  # an integer selector
    e = lax.rem(x, 0.7) + lax.integer_pow(x, -2) + jnp.sign(x) * jnp.round(y * 3)
    f = jnp.prod(x, axis=1) * jnp.arctan2(x, y).sum(1) + lax.clamp(-0.5, y, 0.5).sum(1)
    g = numbax.nn.sigmoid(x) + numbax.scipy.special.erf(y) + numbax.scipy.special.gammaln(
        jnp.abs(x) + 0.5) + lax.expand_dims(jnp.exp2(y[0]), (0,))
    h = (lax.broadcasted_iota(jnp.int32, (4, 3), 1) * k[:, None]) ** 2 - 7
    i = jnp.any(x > 1.5, axis=1), jnp.all(y < 1.5), jnp.transpose(x.reshape(2, 2, 3), (2, 0, 1))
    return a, b, c, d, e, f, g, h, i, jnp.floor(x) - jnp.ceil(y) + jnp.power(jnp.abs(x), y)


def _switch(i, x):
    return lax.switch(i, [lambda a: jnp.sin(a), lambda a: a * 2.0, lambda a: -a], x)


def _special(x):
    s = numbax.scipy.special
    return s.digamma(x), s.erfinv(x / 4.0), s.gammainc(x, 1.5), s.ndtri(x / 4.0)


def _sorting(x):
    return jnp.sort(x), jnp.argsort(x), numbax.jit(jnp.sort)(x[::-1])


def _data():
    X = RNG.standard_normal((10, 3))
    y = (RNG.random(10) > 0.5).astype(np.float64)
    w = RNG.standard_normal(3)
    params = [(RNG.standard_normal((3, 5)) * 0.5, RNG.standard_normal(5) * 0.1),
              (RNG.standard_normal((5, 4)) * 0.5, RNG.standard_normal(4) * 0.1),
              (RNG.standard_normal((4, 2)) * 0.5, RNG.standard_normal(2) * 0.1)]
    return X, y, w, params


X, Y, W, PARAMS = _data()
BIG = RNG.standard_normal((9, 12))     # closed over: a constant of the exported program
YM = RNG.standard_normal((10, 2))

CASES = {
    "chain": (_chain, (RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5)))),
    "logreg_value_and_grad": (numbax.value_and_grad(_logreg_loss), (W, X, Y)),
    "hessian": (numbax.hessian(_poly), (RNG.standard_normal(4),)),
    "jvp": (lambda x, t: numbax.jvp(_f, (x,), (t,)),
            (RNG.standard_normal(6), RNG.standard_normal(6))),
    "vjp": (lambda x, ct: numbax.vjp(_f, x)[1](ct),
            (RNG.standard_normal(6), RNG.standard_normal(6))),
    "vmap_per_example_grad": (numbax.vmap(numbax.grad(_per_example_loss), in_axes=(None, 0, 0)),
                              (W, X, Y)),
    "mlp": (numbax.value_and_grad(_mlp_loss), (PARAMS, X, YM)),
    "cond": (numbax.grad(_cond, argnums=(0, 1)), (RNG.standard_normal(3), RNG.standard_normal(3))),
    "cond_neg": (numbax.grad(_cond, argnums=(0, 1)), (-np.abs(RNG.standard_normal(3)) - 1,
                                                      RNG.standard_normal(3))),
    "fori_loop": (numbax.grad(_fori), (RNG.standard_normal(4),)),
    "scan_rnn": (numbax.grad(_rnn, argnums=(0, 1, 2)),
                 (RNG.standard_normal((3, 3)) * 0.5, RNG.standard_normal(3),
                  RNG.standard_normal((6, 3)))),
    "while_loop": (_newton_sqrt, (RNG.random(5) + 0.5,)),
    "indexing": (_indexing, (RNG.standard_normal((6, 3)), np.int64(3),
                             np.array([4, 0, -1, 2, 9]))),
    "float32": (_f32, (RNG.standard_normal((4, 3)).astype(np.float32),
                       RNG.standard_normal((3, 2)).astype(np.float32))),
    "integers": (_ints, (RNG.integers(-20, 20, 7).astype(np.int32),
                         RNG.integers(1, 5, 7).astype(np.int32))),
    "linalg": (_linalg, (RNG.standard_normal((3, 3)), RNG.standard_normal((3, 2)))),
    "linalg_grad": (numbax.grad(lambda a, b: jnp.sum(jnp.linalg.solve(a, b)) +
                                jnp.linalg.slogdet(a)[1], argnums=(0, 1)),
                    (RNG.standard_normal((3, 3)) + 3 * np.eye(3), RNG.standard_normal(3))),
    "misc": (_misc, (RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)),
                     np.array([1, 3, 1, 5], np.int32))),
    "switch": (numbax.vmap(_switch, in_axes=(None, 0)), (np.int32(2), RNG.standard_normal((3, 2)))),
    "switch_clamped": (_switch, (np.int32(-4), RNG.standard_normal(2))),
    "closure_constant": (numbax.grad(lambda x: jnp.sum(jnp.tanh(BIG @ x) ** 2)),
                         (RNG.standard_normal(12),)),
    "special": (_special, (RNG.random(5) * 3 + 0.2,)),
    "sorting": (_sorting, (np.array([3.0, -1.0, np.nan, 2.0, -1.0]),)),
}
# what the C target cannot express (the export raises NotImplementedError naming it)
NO_C = {"special": "digamma", "sorting": "sort"}


def _flat(out) -> list:
    return [np.asarray(x) for x in tree_flatten(out)[0]]


def _as_list(out, n) -> list:
    if n == 1:
        return [np.asarray(out)]
    assert isinstance(out, tuple) and len(out) == n
    return [np.asarray(o) for o in out]


def _check(name, got, args, rtol=1e-12):
    f, _ = CASES[name]
    want = _flat(numbax.jit(f)(*args))
    got = _as_list(got, len(want))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        tol = rtol if w.dtype != np.float32 else 2e-6
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def _flat_args(args) -> list:
    return tree_flatten(args)[0]


def _no_numbax(src: str):
    assert "import numbax" not in src and "from numbax" not in src


@pytest.fixture(scope="module")
def exports():
    cache: dict = {}

    def get(name, target):
        key = (name, target)
        if key not in cache:
            f, args = CASES[name]
            cache[key] = export(f, *args, target=target)
        return cache[key]
    return get


# --------------------------------------------------------------------------- python, numba

@pytest.mark.parametrize("name", list(CASES))
def test_python_matches_jit(name, exports):
    e = exports(name, "python")
    assert isinstance(e, Exported) and e.target == "python"
    _no_numbax(e.source)
    _, args = CASES[name]
    _check(name, e.load()(*_flat_args(args)), args)


@pytest.mark.parametrize("name", list(CASES))
def test_numba_matches_jit(name, exports):
    e = exports(name, "numba")
    _no_numbax(e.source)
    assert "cache=True" not in e.source
    _, args = CASES[name]
    _check(name, e.load()(*_flat_args(args)), args)


def test_numba_file_runs_without_numbax(tmp_path, exports):
    """The exported file, imported from disk by a fresh interpreter in which `import numbax`
    fails, computes what jit computes (and compiles with numba's disk cache on)."""
    e = exports("scan_rnn", "numba")
    path = e.save(tmp_path / "rnn_grad.py")
    _, args = CASES["scan_rnn"]
    np.savez(tmp_path / "args.npz", *_flat_args(args))
    script = textwrap.dedent(f"""
        import importlib.util, sys
        import numpy as np
        sys.modules["numbax"] = None          # any numbax import now raises ImportError
        spec = importlib.util.spec_from_file_location("rnn_grad", {str(path)!r})
        mod = importlib.util.module_from_spec(spec)
        sys.modules["rnn_grad"] = mod
        spec.loader.exec_module(mod)
        assert mod._CACHE
        data = np.load({str(tmp_path / "args.npz")!r})
        outs = mod.{e.name}(*[data[k] for k in sorted(data.files, key=lambda s: int(s[4:]))])
        np.savez({str(tmp_path / "outs.npz")!r}, *outs)
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    data = np.load(tmp_path / "outs.npz")
    _check("scan_rnn", tuple(data[f"arr_{i}"] for i in range(len(data.files))), args)


def test_sources_show_the_program(exports):
    py = exports("logreg_value_and_grad", "python")
    assert "def logreg_loss(" in py.source or py.name in py.source
    assert "np.dot(" in py.source and "w: float64[3]" in py.source
    nb = exports("scan_rnn", "numba")
    assert "@numba.njit(" in nb.source and "for step" in nb.source
    assert "cache=_CACHE" in nb.source


def test_exported_object(tmp_path, exports):
    e = exports("mlp", "python")
    assert str(e) == e.source
    assert [a.shape for a in e.in_avals] == [(3, 5), (5,), (5, 4), (4,), (4, 2), (2,), (10, 3),
                                            (10, 2)]
    assert [a.shape for a in e.out_avals] == [(), (3, 5), (5,), (5, 4), (4,), (4, 2), (2,)]
    assert e.arg_names[:2] == ["params_0", "params_1"] and e.params[-2:] == ["x", "y"]
    assert "PyTreeDef" in e.pytree_note
    p = e.save(tmp_path / "mlp.py")
    assert open(p).read() == e.source
    assert "float64[3, 5]" in e.source and "Results" in e.source


def test_names_and_scalars():
    e = export(lambda a, b: a * b + 1.0, 2.0, np.float64(3.0), name="affine")
    f = e.load()
    out = f(2.0, 3.0)
    assert isinstance(out, np.float64) and out == 7.0
    with pytest.raises(ValueError):
        export(lambda a: a, 1.0, name="not an identifier")


def test_pytree_kwargs_and_jitted_static_args():
    def f(x, *, scale, n):
        return {"a": x * scale, "b": jnp.sum(x) * n}
    jf = numbax.jit(f, static_argnames="n")
    e = export(jf, np.ones(3), scale=np.float64(2.0), n=3)
    got = e.load()(np.arange(3.0), 2.0)
    want = _flat(jf(np.arange(3.0), scale=2.0, n=3))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w)


def test_debug_print_exports_as_print(capsys):
    """A print inside a loop: the Python target prints with str.format; jit's native loop calls
    back into numbax for it, so the Numba export runs that loop with the numpy code instead."""
    def f(x):
        def body(c):
            numbax.debug.print("step {i}: {x}", i=c[0], x=c[1])
            return c[0] + 1, c[1] * 0.5
        return lax.while_loop(lambda c: c[0] < 2, body, (0, x))[1]
    x = np.array([1.0, 3.0])
    want = numbax.jit(f)(x)
    jit_out = capsys.readouterr().out
    for target in ("python", "numba"):
        e = export(f, x, target=target)
        _no_numbax(e.source)
        np.testing.assert_allclose(e.load()(x), want)
        assert capsys.readouterr().out == jit_out == "step 0: [1. 3.]\nstep 1: [0.5 1.5]\n"


# --------------------------------------------------------------------------- C

needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc) on this machine")


@needs_cc
@pytest.mark.parametrize("name", [n for n in CASES if n not in NO_C])
def test_c_matches_jit(name, exports, tmp_path):
    """Compiled with `cc -O2 -shared -fPIC` (and -std=c99 -Wall -Werror, to keep the C
    clean) and called through ctypes with numpy buffers."""
    e = exports(name, "c")
    assert e.header is not None and f"int {e.name}(" in e.header
    _, args = CASES[name]
    fn = e.load(directory=str(tmp_path), flags=C_FLAGS)
    _check(name, fn(*_flat_args(args)), args, rtol=1e-11)


@needs_cc
def test_c_ctypes_by_hand(exports, tmp_path):
    """The documented way: cc -O2 -shared -fPIC -o lib.so file.c -lm, then ctypes."""
    import ctypes
    e = exports("logreg_value_and_grad", "c")
    src = e.save(tmp_path / "logreg.c")
    lib_path = str(tmp_path / "liblogreg.so")
    subprocess.run([CC, "-O2", "-shared", "-fPIC", "-o", lib_path, src, "-lm"], check=True)
    lib = ctypes.CDLL(lib_path)
    fn = getattr(lib, e.name)
    dp = ctypes.POINTER(ctypes.c_double)
    fn.argtypes = [dp] * 5
    fn.restype = ctypes.c_int
    w, Xa, ya = (np.ascontiguousarray(a) for a in (W, X, Y))
    loss, grad = np.empty(()), np.empty(3)
    assert fn(*(a.ctypes.data_as(dp) for a in (w, Xa, ya, loss, grad))) == 0
    want_loss, want_grad = numbax.jit(numbax.value_and_grad(_logreg_loss))(W, X, Y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12)


@needs_cc
def test_c_from_a_c_program(exports, tmp_path):
    """The header is enough to call the function from C."""
    e = exports("hessian", "c")
    e.save(tmp_path / "hess.c")
    (_, (x,)) = CASES["hessian"]
    main = textwrap.dedent(f"""
        #include <stdio.h>
        #include "hess.h"
        int main(void) {{
            double x[{x.size}] = {{{", ".join(repr(float(v)) for v in x)}}};
            double h[{e.name.upper()}_OUT0_SIZE];
            if ({e.name}(x, h)) return 1;
            for (int i = 0; i < {e.name.upper()}_OUT0_SIZE; ++i) printf("%.17g\\n", h[i]);
            return 0;
        }}
    """)
    (tmp_path / "main.c").write_text(main)
    exe = str(tmp_path / "main")
    subprocess.run([CC, *C_FLAGS, "-o", exe, str(tmp_path / "main.c"), str(tmp_path / "hess.c"),
                    "-lm"], check=True, cwd=tmp_path)
    out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    got = np.array([float(v) for v in out.split()]).reshape(4, 4)
    np.testing.assert_allclose(got, numbax.jit(numbax.hessian(_poly))(x), rtol=1e-12)


# --------------------------------------------------------------------------- what raises

def test_cuda_target_needs_no_gpu_to_export():
    """target="cuda" only writes source (tests/cuda/test_cuda_export.py runs it)."""
    e = export(numbax.grad(_logreg_loss), np.ones(3), np.ones((4, 3)), np.ones(4), target="cuda",
               name="grad_loss")
    assert "def grad_loss(" in e.source and "cuda.jit(" in e.source and e.kernels
    assert not any("numbax" in ln for ln in e.source.splitlines()
                   if ln.startswith(("import ", "from ")))
    with pytest.raises(ValueError):
        export(jnp.sin, np.ones(3), target="fortran")


@pytest.mark.parametrize("name", list(NO_C))
def test_c_raises_for_what_it_cannot_express(name):
    f, args = CASES[name]
    with pytest.raises(NotImplementedError, match=NO_C[name]):
        export(f, *args, target="c")


def test_c_unsupported_primitive_is_named():
    with pytest.raises(NotImplementedError, match="digamma"):
        export(numbax.grad(lambda x: jnp.sum(numbax.scipy.special.gammaln(x))), np.ones(3) + 1,
               target="c")
    with pytest.raises(NotImplementedError, match="sort"):
        export(jnp.sort, np.ones(4), target="c")


def test_python_unsupported_primitive_is_named():
    from numbax.core import Primitive, ShapedArray
    p = Primitive("frobnicate")
    p.def_impl(lambda x: x)
    p.def_abstract_eval(lambda x: ShapedArray(x.shape, x.dtype))
    for target in ("python", "c"):
        with pytest.raises(NotImplementedError, match="frobnicate"):
            export(lambda x: p.bind(x) + 1.0, np.ones(2), target=target)


def test_supported_primitive_lists():
    py, nb, c = (supported_primitives(t) for t in ("python", "numba", "c"))
    assert {"cond", "while", "scan", "dot_general", "gather", "sort", "digamma"} <= py
    assert {"cond", "while", "scan", "dot_general", "exp"} <= nb
    assert {"cond", "while", "scan", "dot_general", "pad", "cholesky"} <= c
    assert "digamma" not in c and "sort" not in c
    cu = supported_primitives("cuda")
    assert {"cond", "while", "scan", "dot_general", "exp", "digamma", "scatter_add"} <= cu
    assert "sort" not in cu and "cholesky" not in cu
    assert numbax.export.supported_primitives("c") == c and numbax.export.Exported is Exported
