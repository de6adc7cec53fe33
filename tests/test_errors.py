"""Bad input gets a clear error of JAX's type, naming what is wrong and where."""
import numpy as np
import pytest

import numbax
import numbax.numpy as jnp
from numbax.errors import (ConcretizationTypeError, NonConcreteBooleanIndexError,
                           TracerArrayConversionError, TracerBoolConversionError,
                           TracerIntegerConversionError, UnexpectedTracerError)


def test_grad_of_non_scalar_output_suggests_jacrev():
    with pytest.raises(TypeError, match=r"shape: \(3,\).*jacrev.*\.sum\(\)"):
        numbax.grad(jnp.sin)(np.ones(3))


@pytest.mark.parametrize("x", [np.int64(3), 3, True, np.arange(3)])
def test_grad_wrt_int_or_bool_needs_allow_int(x):
    with pytest.raises(TypeError, match="allow_int"):
        numbax.grad(lambda v: jnp.sum(v * 1.0))(x)


def test_grad_with_allow_int_gives_float0():
    g = numbax.grad(lambda v, w: jnp.sum(v * w), argnums=(0, 1), allow_int=True)(3, 2.0)
    assert g[1] == 3.0 and g[0].dtype.name.startswith("[") or g[0].dtype == numbax.dtypes.float0


def test_vmap_inconsistent_sizes_names_them():
    with pytest.raises(ValueError, match=r"3.*4|4.*3"):
        numbax.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))


def test_vmap_in_axes_out_of_range():
    with pytest.raises(ValueError, match="axis 2.*rank"):
        numbax.vmap(jnp.sin, in_axes=2)(np.ones((3, 4)))


def test_vmap_in_axes_structure_mismatch():
    with pytest.raises(ValueError, match="in_axes"):
        numbax.vmap(lambda a, b: a + b, in_axes=(0, 0, 0))(np.ones(3), np.ones(3))


@pytest.mark.parametrize("fn", [jnp.add, jnp.multiply, jnp.maximum, jnp.arctan2])
def test_incompatible_shapes_name_primitive_and_shapes(fn):
    with pytest.raises(TypeError, match=r"\(2, 3\).*\(4,\)") as info:
        fn(np.ones((2, 3)), np.ones(4))
    assert fn.__name__ in str(info.value)


def test_shape_error_under_jit_points_at_user_line():
    def f(x):
        return x + jnp.ones(4)  # the offending line
    with pytest.raises(TypeError, match="the offending line"):
        numbax.jit(f)(np.ones(3))


def test_unsupported_dtype_and_function():
    with pytest.raises(NotImplementedError, match="complex128"):
        jnp.sin(np.ones(2, np.complex128))
    with pytest.raises(NotImplementedError, match="svd|ord"):
        jnp.linalg.norm(np.ones((2, 2)), ord="nuc")
    with pytest.raises(NotImplementedError, match="numpy.fft|fft"):
        numbax.jit(lambda x: np.fft.fft(x))(np.ones(4))


def test_leaked_tracer_is_detected():
    leaked = []
    numbax.grad(lambda x: (leaked.append(x), x * 2.0)[1])(1.0)
    with pytest.raises(UnexpectedTracerError):
        numbax.jit(lambda y: y + leaked[0])(1.0)
    stash = []
    numbax.jit(lambda x: (stash.append(x), x)[1])(1.0)
    with pytest.raises(UnexpectedTracerError):
        jnp.sin(stash[0])


def test_python_control_flow_on_traced_value_under_jit():
    def f(x):
        if x > 0:  # traced branch
            return x
        return -x
    with pytest.raises(TracerBoolConversionError) as info:
        numbax.jit(f)(1.0)
    msg = str(info.value)
    assert "if x > 0" in msg and "argument 'x'" in msg and "static_argnums" in msg
    assert isinstance(info.value, ConcretizationTypeError) and isinstance(info.value, TypeError)
    assert numbax.jit(f, static_argnums=0)(-2.0) == 2.0


def test_concretization_errors():
    with pytest.raises(TracerIntegerConversionError):
        numbax.jit(lambda x, n: x * range(n)[-1])(1.0, 3)
    with pytest.raises(TracerArrayConversionError):
        numbax.jit(lambda x: np.asarray(x) + 1)(np.ones(2))
    with pytest.raises(ConcretizationTypeError):
        numbax.jit(lambda n: jnp.arange(n))(3)
    with pytest.raises(NonConcreteBooleanIndexError):
        numbax.jit(lambda x: x[x > 0])(np.ones(3))


def test_boolean_mask_works_outside_jit_and_under_grad():
    x = np.array([1.0, -2.0, 3.0])
    assert np.array_equal(jnp.asarray(x)[x > 0], [1.0, 3.0])
    g = numbax.grad(lambda v: jnp.sum(v[x > 0] ** 2))(x)
    np.testing.assert_allclose(g, [2.0, 0.0, 6.0])


def test_index_errors():
    x = jnp.zeros((2, 3))
    with pytest.raises(IndexError, match="out of bounds"):
        x[2]
    with pytest.raises(IndexError, match="Too many indices"):
        numbax.jit(lambda a: a[0, 0, 0])(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="static start/stop"):
        numbax.jit(lambda a, i: a[i:])(np.zeros(3), 1)


def test_dtype_mismatch_in_lax_is_a_type_error():
    with pytest.raises(TypeError, match="f32.*f64|float32.*float64|same dtypes"):
        numbax.lax.add(np.ones(2, np.float32), np.ones(2))


def test_custom_vjp_under_jvp_is_a_clear_error():
    @numbax.custom_vjp
    def f(x):
        return x * 2

    f.defvjp(lambda x: (f(x), None), lambda _, g: (2 * g,))
    with pytest.raises(TypeError, match="custom_vjp"):
        numbax.jvp(f, (1.0,), (1.0,))
    assert numbax.grad(f)(1.0) == 2.0  # reverse mode works, even for a scalar input


def test_unhashable_static_argument():
    with pytest.raises(ValueError, match="Non-hashable static arguments"):  # as JAX
        numbax.jit(lambda a, s: a, static_argnums=1)(1.0, [1])


def test_python_control_flow_on_concrete_values_under_vmap_and_jvp():
    def f(x, n):
        for _ in range(n):  # n is not mapped: a concrete Python int
            x = jnp.sin(x)
        return x if n > 1 else -x
    xs = np.linspace(0, 1, 4)
    np.testing.assert_allclose(numbax.vmap(f, in_axes=(0, None))(xs, 2), np.sin(np.sin(xs)))
    assert numbax.jvp(lambda x: f(x, 1), (0.5,), (1.0,))[1] == pytest.approx(-np.cos(0.5))
