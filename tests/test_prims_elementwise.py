"""Every elementwise primitive: eager against numpy/scipy, then staged, jvp against central
differences, the jvp/vjp adjoint identity and vmap against a loop (tests/checks.py), over
hypothesis-drawn shapes and values in each primitive's domain."""
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import numbax
from numbax import lax
from checks import assert_allclose, check_all

# name -> (lax function, reference, (lo, hi) domain per operand)
UNARY = {
    "exp": (lax.exp, np.exp, (-3, 3)), "log": (lax.log, np.log, (0.2, 5)),
    "log1p": (lax.log1p, np.log1p, (-0.5, 3)), "expm1": (lax.expm1, np.expm1, (-3, 3)),
    "sin": (lax.sin, np.sin, (-3, 3)), "cos": (lax.cos, np.cos, (-3, 3)),
    "tan": (lax.tan, np.tan, (-1.2, 1.2)), "asin": (lax.asin, np.arcsin, (-0.9, 0.9)),
    "acos": (lax.acos, np.arccos, (-0.9, 0.9)), "atan": (lax.atan, np.arctan, (-3, 3)),
    "sinh": (lax.sinh, np.sinh, (-3, 3)), "cosh": (lax.cosh, np.cosh, (-3, 3)),
    "tanh": (lax.tanh, np.tanh, (-3, 3)), "asinh": (lax.asinh, np.arcsinh, (-3, 3)),
    "acosh": (lax.acosh, np.arccosh, (1.2, 4)), "atanh": (lax.atanh, np.arctanh, (-0.9, 0.9)),
    "logistic": (lax.logistic, sp.expit, (-5, 5)), "sqrt": (lax.sqrt, np.sqrt, (0.2, 5)),
    "rsqrt": (lax.rsqrt, lambda x: 1 / np.sqrt(x), (0.2, 5)),
    "cbrt": (lax.cbrt, np.cbrt, (0.2, 5)), "erf": (lax.erf, sp.erf, (-2, 2)),
    "erfc": (lax.erfc, sp.erfc, (-2, 2)), "erf_inv": (lax.erf_inv, sp.erfinv, (-0.9, 0.9)),
    "lgamma": (lax.lgamma, sp.gammaln, (0.3, 6)), "digamma": (lax.digamma, sp.digamma, (0.3, 6)),
    "abs": (lax.abs, np.abs, (0.1, 3)), "neg": (lax.neg, np.negative, (-3, 3)),
    "integer_pow3": (lambda x: lax.integer_pow(x, 3), lambda x: x ** 3, (-2, 2)),
    "integer_pow-2": (lambda x: lax.integer_pow(x, -2), lambda x: x ** -2.0, (0.5, 2)),
    "polygamma1": (lambda x: lax.polygamma(1, x), lambda x: sp.polygamma(1, x), (0.5, 4)),
}
BINARY = {
    "add": (lax.add, np.add, (-3, 3), (-3, 3)), "sub": (lax.sub, np.subtract, (-3, 3), (-3, 3)),
    "mul": (lax.mul, np.multiply, (-3, 3), (-3, 3)), "div": (lax.div, np.divide, (-3, 3), (0.5, 3)),
    "pow": (lax.pow, np.power, (0.3, 3), (-2, 2)), "atan2": (lax.atan2, np.arctan2, (-3, 3), (0.3, 3)),
    "max": (lax.max, np.maximum, (-3, 0), (0.1, 3)), "min": (lax.min, np.minimum, (-3, 0), (0.1, 3)),
    "rem": (lax.rem, np.fmod, (0.1, 0.9), (1.0, 2.0)),
}

SHAPES = hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)


def _draw(data, shape, lo, hi):
    return data.draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi)))


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=6, deadline=None)
@given(data=st.data(), shape=SHAPES)
def test_unary_primitive(name, data, shape):
    fn, ref, (lo, hi) = UNARY[name]
    x = _draw(data, shape, lo, hi)
    assert_allclose(fn(x), ref(x), rtol=1e-12, atol=1e-12)
    check_all(fn, [x], fd_rtol=1e-4, fd_atol=1e-5)


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=6, deadline=None)
@given(data=st.data(), shape=SHAPES, scalar_rhs=st.booleans())
def test_binary_primitive(name, data, shape, scalar_rhs):
    fn, ref, (lo1, hi1), (lo2, hi2) = BINARY[name]
    x = _draw(data, shape, lo1, hi1)
    y = _draw(data, () if scalar_rhs else shape, lo2, hi2)
    assert_allclose(fn(x, y), ref(x, y), rtol=1e-12, atol=1e-12)
    check_all(fn, [x, y], fd_rtol=1e-4, fd_atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(data=st.data(), shape=SHAPES)
def test_comparisons_select_and_casts(data, shape):
    x = _draw(data, shape, -3, 3)
    y = _draw(data, shape, -3, 3)
    for fn, ref in ((lax.eq, np.equal), (lax.ne, np.not_equal), (lax.lt, np.less),
                    (lax.le, np.less_equal), (lax.gt, np.greater), (lax.ge, np.greater_equal)):
        assert_allclose(fn(x, y), ref(x, y))
    y_far = np.where(np.abs(x - y) < 0.2, x + 0.5, y)  # finite differences must not cross a == b
    check_all(lambda a, b: lax.select(lax.lt(a, b), a * 2.0, b), [x, y_far])
    check_all(lambda a: lax.convert_element_type(a, np.float32), [x], jvp=False, vjp=False)
    assert numbax.grad(lambda a: lax.convert_element_type(a, np.float32).sum())(x).dtype == \
        np.float64
    for fn in (lax.sign, lax.floor, lax.ceil, lambda a: lax.round(a)):
        assert np.all(numbax.jvp(fn, (x,), (np.ones_like(x),))[1] == 0)
    assert numbax.grad(lambda a: lax.stop_gradient(a) * a)(2.0) == 2.0


def test_integer_pow_derivatives_are_exact_to_high_order():
    f = lambda x: lax.integer_pow(x, 5)
    expected = [5 * 2.0 ** 4, 20 * 2.0 ** 3, 60 * 2.0 ** 2, 120 * 2.0, 120.0, 0.0]
    for k in range(6):
        f = numbax.grad(f)
        assert f(2.0) == expected[k]
