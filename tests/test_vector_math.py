"""numbax.backends.numba_cpu.vector_math: accuracy in ulp against libm (math) over the float64
range, the IEEE edge cases as numpy gives them, float32 variants, and that a loop calling them
is vectorised (no call left in the loop, which is the reason the module exists)."""
import math

import numba
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings, strategies as st

from numbax.backends.numba_cpu import vector_math as vm

NAMES = ("exp", "expm1", "log", "log1p", "tanh", "logistic")
# max error in ulp of the float64 result (measured: exp, log, log1p 1; expm1, tanh, logistic 2)
MAX_ULP = {"exp": 1, "log": 1, "log1p": 1, "expm1": 2, "tanh": 2, "logistic": 2}
EDGE = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324, 1e-310,
        2.2250738585072014e-308, 1e-20, -1e-20, 0.625, -0.625, 20.0, -20.0, 19.99, 36.0, -37.5,
        -40.0, -45.0, 709.78, 709.79, -708.5, -745.13, -745.14, 1e300, -1e300,
        1.7976931348623157e308]


def _loop(fn):
    @numba.njit(error_model="numpy")
    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])
    return loop


LOOPS = {name: _loop(getattr(vm, name)) for name in NAMES}


def run(name, x, f32=False):
    x = np.ascontiguousarray(x, np.float32 if f32 else np.float64)
    out = np.empty_like(x)
    LOOPS[name](x, out)    # one compile per dtype
    return out


def reference(name, x):
    """libm (math), which is within an ulp, with numpy's conventions for domain errors."""
    def one(v):
        if name == "logistic":
            return float(sp.expit(v))
        try:
            return getattr(math, name)(v)
        except (OverflowError, ValueError):
            with np.errstate(all="ignore"):
                return float(getattr(np, name)(v))
    return np.array([one(float(v)) for v in x])


def ulp_error(got, ref):
    with np.errstate(all="ignore"):
        err = np.abs(got - ref) / np.spacing(np.abs(ref))
    err[(got == ref) | (np.isnan(got) & np.isnan(ref))] = 0.0
    return err


def same_values(got, ref, ulps):
    """Equal within ulps, NaN where NaN, inf where inf, the sign of zero kept."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    zero = ref == 0
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(ref[zero]))
    assert ulp_error(got, ref).max() <= ulps


def _samples(name, rng, n=20_000):
    """Uniform on the ranges where each function's algorithm switches, and log-uniform over
    the whole finite range."""
    spans = {"exp": (-746, 710), "expm1": (-50, 710), "log": (0, 3), "log1p": (-1, 3),
             "tanh": (-21, 21), "logistic": (-800, 800)}
    lo, hi = spans[name]
    wide = np.exp(rng.uniform(-740, 709, n)) * rng.choice([-1.0, 1.0], n)
    if name in ("log",):
        wide = np.abs(wide)
    if name == "log1p":
        wide = np.maximum(wide, -1.0)
    if name in ("exp", "expm1"):
        wide = np.clip(wide, -800, 710)
    return np.concatenate([rng.uniform(lo, hi, n), rng.uniform(-1, 1, n) * 1e-3, wide])


@pytest.mark.parametrize("name", NAMES)
def test_accuracy_float64(name):
    x = _samples(name, np.random.default_rng(sum(map(ord, name))))
    same_values(run(name, x), reference(name, x), MAX_ULP[name])


@pytest.mark.parametrize("name", NAMES)
def test_edges(name):
    x = np.array(EDGE)
    with np.errstate(all="ignore"):
        ref = sp.expit(x) if name == "logistic" else getattr(np, name)(x)
    same_values(run(name, x), ref, MAX_ULP[name])


@pytest.mark.parametrize("name", NAMES)
def test_float32_rounds_the_float64_result(name):
    x = _samples(name, np.random.default_rng(1), 3000).astype(np.float32)
    x = np.concatenate([x, np.array(EDGE, np.float32)])
    got = run(name, x, f32=True)
    assert got.dtype == np.float32
    with np.errstate(all="ignore"):
        want = run(name, x.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None)
@given(v=st.floats(allow_nan=True, allow_infinity=True))
def test_any_float64(name, v):
    same_values(run(name, [v]), reference(name, [v]), MAX_ULP[name])


@pytest.mark.parametrize("name", NAMES)
def test_loops_vectorise(name):
    """No call survives in the loop body: the functions were inlined, and the vectoriser could
    use packed instructions (on x86 a loop over doubles uses packed `pd` arithmetic)."""
    loop = LOOPS[name]
    run(name, [1.0])
    ir = "\n".join(loop.inspect_llvm().values())
    start = next(i for i, line in enumerate(ir.splitlines())
                 if line.startswith("define") and "loop" in line and "cpython" not in line)
    body = ir.splitlines()[start:]
    body = body[:body.index("}")]
    calls = [line for line in body if " call " in line and "@llvm." not in line]
    assert not calls, calls
    assert "<2 x double>" in ir or "<4 x double>" in ir or "<8 x double>" in ir
