"""The CUDA backend's elementwise rules (backends/numba_cuda/scalar_ops.py): every rule's
expression run in a one-line kernel on a GPU or the CUDA simulator against numbax's eager
(numpy/scipy) result, bit for bit where numpy is exact (NaN positions and the sign of zero
included), and compiled to PTX for float32/float64 and every integer width where numba's NVVM is
usable without the simulator (numba-cuda without a GPU), with the expression's type checked.

Under the simulator, kernel globals bind ``math`` to device_math.simulator_math (libdevice's
semantics through numpy: Python's math raises on log(0) and its floor returns ints), so the
transcendental rules agree with numpy exactly except where the reference is scipy's
(erf, lgamma, logistic, ...). On a GPU the tolerances cover libdevice's documented errors."""
from __future__ import annotations

import functools
import math

import numba
import numpy as np
import pytest
from numba import cuda

_SIM = bool(numba.config.ENABLE_CUDASIM)
# conftest.py skips the launches without a GPU or the simulator, and the PTX tests without
# numba-cuda's NVVM

from numbax import lax
from numbax.backends.numba_cpu import scalar_math as _sm
from numbax.backends.numba_cuda import device_math as _dm
from numbax.backends.numba_cuda import scalar_ops as ops
from numbax.primitives import special

F32, F64, BOOL = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.bool_)
FLOATS = [F32, F64]
INTS = [np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64,
                              np.uint8, np.uint16, np.uint32, np.uint64)]
GLOBALS = {"math": _dm.simulator_math if _SIM else math, "np": np, "numba": numba,
           "cuda": cuda, "_dm": _dm, "_sm": _sm}

# ---------------------------------------------------------------------------- operand values

_F_EDGE = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308,
           -1.7976931348623157e308, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.5, 0.49999999999999994,
           -0.49999999999999994, 3.7, -3.7, 1e-6, 20.0, -20.0, 100.0, -0.504083008264455409,
           0.3, 2.0, -3.0, 0.9, -0.999, 1e30, 8.0]
_F_PAIR = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -3.7, 0.5, 1e-300, 7.0]


def _floats(dtype, values=_F_EDGE):
    with np.errstate(over="ignore"):  # float32(1e308) is inf
        return np.array(values, np.float64).astype(dtype)


def _wrapped(values, dtype):
    """Python ints in dtype, wrapping (negatives become large unsigned values)."""
    bits = 8 * np.dtype(dtype).itemsize
    return np.array([v % 2 ** bits for v in values], np.uint64).astype(dtype)


def _ints(dtype):
    info = np.iinfo(dtype)
    return _wrapped([0, 1, -1, 2, -2, 3, -7, 7, 5, -5, 100, int(info.max), int(info.min),
                     int(info.max) - 1, int(info.min) + 1], dtype)


def _int_pairs(dtype):
    info = np.iinfo(dtype)
    v = _wrapped([0, 1, -1, 3, -7, 7, int(info.min), int(info.max)], dtype)
    return np.repeat(v, len(v)), np.tile(v, len(v))


def _pairs(dtype):
    if dtype == BOOL:
        return np.array([0, 0, 1, 1], bool), np.array([0, 1, 0, 1], bool)
    if dtype.kind in "iu":
        return _int_pairs(dtype)
    v = _floats(dtype, _F_PAIR)
    return np.repeat(v, len(v)), np.tile(v, len(v))


def _unary(dtype):
    if dtype == BOOL:
        return np.array([False, True])
    return _ints(dtype) if dtype.kind in "iu" else _floats(dtype)


# ---------------------------------------------------------------------------- cases

class Case:
    """One rule at one dtype: operands, params, the eager reference and the tolerances in ulps
    under the simulator and on a GPU (0: bit for bit)."""

    def __init__(self, name, args, ref, params=None, out=None, ulps=0, gpu_ulps=None, tag="",
                 scale=0.0):
        self.name, self.args, self.ref, self.params = name, args, ref, params or {}
        self.scale = scale  # ulps of max(|reference|, scale): for functions with zeros
        self.in_dtypes = [a.dtype for a in args]
        self.out = np.dtype(out) if out is not None else self.in_dtypes[-1]
        self.ulps = ulps
        self.gpu_ulps = ulps if gpu_ulps is None else gpu_ulps
        self.id = f"{name}{tag}-{'-'.join(d.name for d in self.in_dtypes)}"

    def expr(self) -> str:
        return ops.scalar_expr(self.name, [f"x{k}" for k in range(len(self.args))],
                               self.in_dtypes, self.out, self.params)

    def reference(self):
        return np.asarray(self.ref(*self.args, **self.params))


def _identity(x):
    return x


_LAX = {"add": lax.add, "sub": lax.sub, "mul": lax.mul, "div": lax.div, "rem": lax.rem,
        "max": lax.max, "min": lax.min, "pow": lax.pow, "atan2": lax.atan2,
        "nextafter": lax.nextafter, "eq": lax.eq, "ne": lax.ne, "lt": lax.lt, "le": lax.le,
        "gt": lax.gt, "ge": lax.ge, "and": lax.bitwise_and, "or": lax.bitwise_or,
        "xor": lax.bitwise_xor, "not": lax.bitwise_not, "neg": lax.neg, "abs": lax.abs,
        "sign": lax.sign, "floor": lax.floor, "ceil": lax.ceil, "is_finite": lax.is_finite,
        "igamma": special.igamma, "igammac": special.igammac, "betainc": special.betainc,
        "ndtri": special.ndtri, "stop_gradient": _identity}
# ulps allowed (simulator, GPU): the simulator's math.* is numpy's, as the reference, except for
# scipy's functions (erf, lgamma: Python's math against scipy's cephes) and scalar_math's ports;
# libdevice's documented maxima are 1-5 ulp (float64) and 1-6 (float32). The GPU column is not
# measured (no GPU here).
_TRANSCENDENTAL = {
    "exp": (0, 4), "log": (0, 4), "log1p": (0, 4), "expm1": (0, 4), "sin": (0, 4),
    "cos": (0, 4), "tan": (0, 4), "asin": (0, 4), "acos": (0, 4), "atan": (0, 4),
    "sinh": (0, 4), "cosh": (0, 4), "tanh": (0, 4), "asinh": (0, 4), "acosh": (0, 4),
    "atanh": (0, 4), "sqrt": (0, 0), "rsqrt": (0, 0), "cbrt": (1, 4), "logistic": (2, 6),
    "erf": (2, 6), "erfc": (4, 8), "erf_inv": (3, 16), "lgamma": (4, 16), "digamma": (2, 64),
    "ndtri": (3, 16)}
_WITH_ZEROS = {"lgamma", "digamma"}  # near their zeros, absolute error: ulps of 1


def _cases() -> list[Case]:
    cases = []
    for name in ["add", "sub", "mul", "div", "rem", "max", "min"]:
        for dt in FLOATS + INTS + ([BOOL] if name in ("max", "min") else []):
            cases.append(Case(name, _pairs(dt), _LAX[name]))
    for name in ["pow", "atan2", "nextafter"]:
        for dt in FLOATS:
            ulps = (1, 4) if name == "pow" else (0, 4) if name == "atan2" else (0, 0)
            cases.append(Case(name, _pairs(dt), _LAX[name], ulps=ulps[0], gpu_ulps=ulps[1]))
    for name in ["eq", "ne", "lt", "le", "gt", "ge"]:
        for dt in FLOATS + INTS + [BOOL]:
            cases.append(Case(name, _pairs(dt), _LAX[name], out=BOOL))
    for name in ["and", "or", "xor"]:
        for dt in INTS + [BOOL]:
            cases.append(Case(name, _pairs(dt), _LAX[name]))
    for dt in INTS + [BOOL]:
        cases.append(Case("not", (_unary(dt),), _LAX["not"]))
    for name in ["neg", "abs", "sign"]:
        for dt in FLOATS + INTS:
            cases.append(Case(name, (_unary(dt),), _LAX[name]))
    for dt in FLOATS + INTS + [BOOL]:
        cases.append(Case("stop_gradient", (_unary(dt),), _identity))
    for dt in FLOATS:
        x = _unary(dt)
        cases += [Case("floor", (x,), lax.floor), Case("ceil", (x,), lax.ceil),
                  Case("is_finite", (x,), lax.is_finite, out=BOOL)]
        for method in (0, 1):
            cases.append(Case("round", (x,), lax.round, {"rounding_method": method},
                              tag=str(method)))
        for name, (ulps, gpu) in _TRANSCENDENTAL.items():
            ref = _LAX.get(name) or getattr(lax, name, None) or getattr(special, name)
            # scipy's gammaln(5e-324) overflows to inf; lgamma's true 744.44 is what libm gives
            xs = x[np.abs(x) != 5e-324] if name == "lgamma" else x
            cases.append(Case(name, (xs,), ref, ulps=ulps, gpu_ulps=gpu,
                              scale=1.0 if name in _WITH_ZEROS else 0.0))
        for m in (0, 1, 2, 3):
            cases.append(Case("polygamma", (x,), lambda x, m: lax.polygamma(m, x), {"m": m},
                              ulps=2, gpu_ulps=64, tag=str(m), scale=1.0))
        for y in (0, 1, 2, 3, 5, -1, -3):
            cases.append(Case("integer_pow", (x,), lambda x, y: lax.integer_pow(x, y), {"y": y},
                              ulps=2, gpu_ulps=4, tag=str(y)))
        a = np.array([0.5, 1.0, 2.5, 10.0, 0.0, -1.0, math.nan, math.inf, 3.0, 0.1], dt)
        xs = np.array([0.0, 0.5, 1.0, 3.0, 20.0, -1.0, math.nan, math.inf, 0.01, 50.0], dt)
        aa, xx = np.repeat(a, len(xs)), np.tile(xs, len(a))
        for name in ("igamma", "igammac"):
            # scalar_math's ports are within ~64 ulp of scipy (tests/test_scalar_math.py)
            cases.append(Case(name, (aa, xx), _LAX[name], ulps=64, gpu_ulps=512))
        b3 = np.array([[0.5, 0.5, 0.3], [2.0, 3.0, 0.5], [10.0, 0.5, 0.9], [1.0, 1.0, 0.25],
                       [0.0, 1.0, 0.5], [1.0, 0.0, 0.5], [-1.0, 1.0, 0.5], [2.0, 2.0, 1.5],
                       [math.nan, 1.0, 0.5], [5.0, 7.0, 0.0], [5.0, 7.0, 1.0], [30.0, 40.0, 0.4],
                       [math.inf, 2.0, 0.5], [0.1, 0.1, 0.999]], dt).T
        cases.append(Case("betainc", tuple(b3), _LAX["betainc"], ulps=64, gpu_ulps=512))
    for dt in INTS:
        x = _unary(dt)
        for y in (0, 1, 2, 3, 5):
            cases.append(Case("integer_pow", (x,), lambda x, y: lax.integer_pow(x, y), {"y": y},
                              tag=str(y)))
    cases += _select_cases() + _convert_cases()
    return cases


def _select_cases():
    out = []
    which2 = np.array([False, True, True, False])
    which3 = np.array([0, 1, 2, 3, -1, 2], np.int32)
    for dt in [F32, F64, np.dtype(np.int8), np.dtype(np.uint64), BOOL]:
        c = [np.resize(_unary(dt), 6)[::-1].copy(), np.resize(_unary(dt), 6), np.resize(
            _unary(dt)[1:], 6)]
        out.append(Case("select_n", (which2, c[0][:4].copy(), c[1][:4].copy()), lax.select_n,
                        tag="2"))
        out.append(Case("select_n", (which3, *c), lax.select_n, tag="3"))
        out.append(Case("select_n", (which2, c[0][:4].copy()), lax.select_n, tag="1"))
    return out


def _convert_cases():
    """Conversions; float -> int only where the value fits (C leaves the rest undefined: numpy
    and CUDA differ there)."""
    def conv(x, *, new_dtype):
        return lax.convert_element_type(x, new_dtype)

    fits = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.7, -0.7, 99.9, -99.9, 127.0, -128.0])
    pairs = [(F64, F32, _floats(F64)), (F32, F64, _floats(F32)), (F64, BOOL, _floats(F64)),
             (F32, BOOL, _floats(F32)), (BOOL, F32, _unary(BOOL)), (BOOL, np.int32, _unary(BOOL)),
             (np.int64, F64, _ints(np.int64)), (np.int32, F32, _ints(np.int32)),
             (np.uint64, F64, _ints(np.uint64)), (np.int64, np.int8, _ints(np.int64)),
             (np.int32, np.uint32, _ints(np.int32)), (np.uint8, np.int64, _ints(np.uint8)),
             (np.int16, BOOL, _ints(np.int16)), (F64, np.int32, fits), (F32, np.int64, fits),
             (F64, np.int8, fits), (F64, np.uint8, np.abs(fits))]
    return [Case("convert_element_type", (x.astype(src),), conv, {"new_dtype": np.dtype(dst)},
                 out=dst, tag=f"-to-{np.dtype(dst).name}") for src, dst, x in pairs]


CASES = _cases()
RUN_CASES = [c for c in CASES if c.name in ops.RULES]


def test_every_rule_has_cases():
    assert set(ops.RULES) == set(ops._cpu.RULES)
    assert {c.name for c in CASES} == set(ops.RULES)


# ---------------------------------------------------------------------------- launching

def _kernel(n_args: int, expr: str):
    params = [f"a{k}" for k in range(n_args)] + ["o"]
    src = [f"def kernel({', '.join(params)}):", "    i = cuda.grid(1)",
           "    if i < o.shape[0]:"]
    src += [f"        x{k} = a{k}[i]" for k in range(n_args)]
    src += [f"        o[i] = {expr}"]
    ns = dict(GLOBALS)
    exec("\n".join(src), ns)
    return ns["kernel"]


def _scalar_fn(n_args: int, expr: str):
    """The expression as a device function of its operands, to compile and type-check."""
    params = ", ".join(f"x{k}" for k in range(n_args))
    ns = dict(GLOBALS)
    exec(f"def scalar({params}):\n    return {expr}\n", ns)
    return ns["scalar"]


def _run(case: Case) -> np.ndarray:
    n = len(case.args[0])
    out = np.zeros(n, case.out)
    block = 32
    with np.errstate(all="ignore"):  # the simulator's numpy scalars warn on overflow
        _kernel_cache(len(case.args), case.expr())[(n + block - 1) // block, block](
            *[np.ascontiguousarray(a) for a in case.args], out)
    return out


@functools.cache
def _kernel_cache(n_args, expr):
    return cuda.jit(_kernel(n_args, expr))


def _check(got, ref, ulps, what, scale=0.0):
    assert got.dtype == ref.dtype, what
    if ref.dtype.kind != "f":
        assert np.array_equal(got, ref), f"{what}\n got {got}\n want {ref}"
        return
    nan = np.isnan(ref)
    bad = np.isnan(got) != nan
    g, r = got[~nan], ref[~nan]
    same = (g == r) & (np.signbit(g) == np.signbit(r))
    if ulps:
        with np.errstate(all="ignore"):
            diff = np.abs(g.astype(np.float64) - r.astype(np.float64))
        tol = ulps * np.spacing(np.maximum(np.abs(r), r.dtype.type(scale))).astype(np.float64)
        same |= np.isfinite(r) & (diff <= tol)
    bad[~nan] |= ~same
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} differ (allowed {ulps} ulp)\n"
                           f" got  {got[bad]}\n want {ref[bad]}")


@pytest.mark.parametrize("case", RUN_CASES, ids=lambda c: c.id)
def test_rule_matches_eager(case):
    ref = case.reference()
    got = _run(case)
    _check(got, ref.astype(case.out) if ref.dtype != case.out else ref,
           case.ulps if _SIM else case.gpu_ulps, f"{case.id}: {case.expr()}", case.scale)


def test_typed_literals_keep_float32():
    """x32 * 0.1: numba would compute the product in float64 and round it twice."""
    x = _floats(F32)
    c = Case("mul", (x,), lambda x: lax.mul(x, np.float32(0.1)))
    expr = ops.scalar_expr("mul", ["x0", ops.literal(0.1, F32)], [F32, F32], F32, {})
    out = np.zeros(len(x), F32)
    with np.errstate(all="ignore"):
        cuda.jit(_kernel(1, expr))[1, len(x)](x, out)
    _check(out, c.reference(), 0, expr)


def test_unsupported_dtypes_raise():
    for dtype, word in [(np.float16, "float16"), (np.complex64, "complex")]:
        with pytest.raises(NotImplementedError, match=f"CUDA backend.*{word}"):
            ops.scalar_expr("add", ["x0", "x1"], [dtype, dtype], dtype, {})
        with pytest.raises(NotImplementedError, match=word):
            ops.numba_type(dtype)
        with pytest.raises(NotImplementedError, match=word):
            ops.literal(1, dtype)
    with pytest.raises(NotImplementedError, match="CUDA backend.*'no_such'"):
        ops.scalar_expr("no_such", ["x0"], [F64], F64, {})


def test_helper_imports_cover_prefixes():
    prefixes = {p for c in CASES for p in ("_dm.", "_sm.", "_vm.") if p in c.expr()}
    assert prefixes <= set(ops.HELPER_IMPORTS), prefixes


# ---------------------------------------------------------------------------- PTX

class _Device:
    compute_capability = (8, 0)


@pytest.mark.parametrize("dtypes", ["float", "int"])
def test_rules_compile_to_ptx(dtypes, monkeypatch):
    """Every case's expression compiled by the real CUDA target as a device function whose
    return type is the primitive's dtype (numba's promotion would otherwise leak float64), and
    each rule's first case as a kernel. Expressions calling scalar_math (``_sm.``) are compiled
    with a stand-in cc 8.0 device: numba-cuda asks the driver for the current device when a
    kernel calls a non-inlined device function, whatever ``cc`` says."""
    from numba import types
    import numba.cuda.dispatcher as dispatcher

    def no_driver():
        raise AssertionError("this compile asked for a device")

    failures, seen, kernels = [], set(), set()
    for case in CASES:
        floats = any(d.kind == "f" for d in case.in_dtypes + [case.out])
        expr = case.expr()
        key = (expr, tuple(case.in_dtypes), case.out)
        if floats != (dtypes == "float") or key in seen:
            continue
        seen.add(key)
        monkeypatch.setattr(dispatcher, "get_current_device",
                            _Device if "_sm." in expr else no_driver)
        sig = [getattr(types, ops.numba_type(d)) for d in case.in_dtypes]
        try:
            _, rtype = cuda.compile_ptx(_scalar_fn(len(sig), expr), tuple(sig), device=True,
                                        cc=(8, 0))
            rtype = types.unliteral(rtype)  # integer_pow(x, 0) of int64 is the literal 1
            assert rtype == getattr(types, ops.numba_type(case.out)), f"returns {rtype}"
            if case.name not in kernels:
                kernels.add(case.name)
                arrays = tuple(t[::1] for t in sig + [rtype])
                cuda.compile_ptx(_kernel(len(sig), expr), arrays, cc=(8, 0))
        except Exception as e:  # collect them all: one report
            failures.append(f"{case.id}: {expr}\n    {type(e).__name__}: "
                            f"{str(e).splitlines()[0] if str(e) else ''}")
    assert not failures, "\n".join(failures)
