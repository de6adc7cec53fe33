"""numpy.linalg's common functions, differentiable (forward and reverse) and batchable."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..core import get_aval
from ..primitives import elementwise as ew
from ..primitives import linalg as la
from ..primitives import shape as sh
from ._promote import asarray_arg, check_arraylike, promote_dtypes



def _jnp():
    """numbax.numpy (imported late: this module is part of it)."""
    from .. import numpy
    return numpy


__all__ = ["norm", "solve", "inv", "cholesky", "slogdet", "det", "matrix_power", "multi_dot",
           "vector_norm", "matrix_norm"]


def _square(name, a):
    a = asarray_arg(a)
    check_arraylike(name, a)
    (a,) = promote_dtypes(name, a, to_inexact=True)
    s = get_aval(a).shape
    if len(s) < 2 or s[-1] != s[-2]:
        raise np.linalg.LinAlgError(f"{name}: last 2 dimensions of the array must be square, got "
                                    f"shape {s}")
    return a


def solve(a, b):
    """Solve a x = b; b is a (stack of) vector(s) when b.ndim == a.ndim - 1 (JAX's rule).
    A singular a gives inf/NaN entries rather than numpy's LinAlgError."""
    a = _square("solve", a)
    b = asarray_arg(b)
    a, b = promote_dtypes("solve", a, b, to_inexact=True)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    vector = len(sb) == len(sa) - 1
    if vector:
        b = sh.reshape(b, sb + (1,))
    if get_aval(b).shape[-2] != sa[-1] or get_aval(b).shape[:-2] != sa[:-2]:
        raise ValueError(f"solve: incompatible shapes a {sa} and b {sb}")
    x = la.solve(a, b)
    return sh.reshape(x, sb) if vector else x


def inv(a):
    """The inverse of a (stack of) square matrices. A singular matrix gives inf/NaN entries
    rather than numpy's LinAlgError."""
    return la.inv(_square("inv", a))


def cholesky(a, *, upper: bool = False):
    """The lower Cholesky factor L with a = L L^T (upper=True: L^T). As JAX, a is
    symmetrised first ((a + a^T) / 2, where numpy reads the lower triangle only), and a matrix
    that is not positive definite gives NaNs where numpy raises LinAlgError."""
    L = la.cholesky(_square("cholesky", a))
    return _jnp().matrix_transpose(L) if upper else L


class SlogdetResult(NamedTuple):
    """(sign, logabsdet) as returned by slogdet."""
    sign: object
    logabsdet: object


def slogdet(a):
    """(sign, log|det a|) as a SlogdetResult namedtuple: the determinant without overflow,
    differentiable through logabsdet."""
    sign, logabsdet = la.slogdet(_square("slogdet", a))
    return SlogdetResult(sign, logabsdet)


def det(a):
    """The determinant of a (stack of) square matrices."""
    return la.det(_square("det", a))


def matrix_power(a, n: int):
    """a to the integer power n by repeated squaring (n < 0 inverts first). n must be a
    Python int: it fixes the number of products."""
    a = _square("matrix_power", a)
    if n < 0:
        a, n = inv(a), -n
    result = None
    base = a
    while n:
        if n & 1:
            result = base if result is None else _jnp().matmul(result, base)
        n >>= 1
        if n:
            base = _jnp().matmul(base, base)
    if result is None:
        s = get_aval(a).shape
        return np.broadcast_to(np.eye(s[-1], dtype=get_aval(a).dtype), s).copy()
    return result


def multi_dot(arrays):
    """The product of a sequence of arrays, multiplied left to right (numpy chooses the
    cheapest order; the result is the same up to rounding)."""
    out = arrays[0]
    for b in arrays[1:]:
        out = _jnp().matmul(out, b)
    return out


def _safe_sqrt_sum_sq(x, axes, keepdims):
    """sqrt(sum(x**2)) whose gradient at x = 0 is 0 instead of NaN (double where)."""
    jnp = _jnp()
    sq = jnp.sum(ew.mul(x, x), axis=axes, keepdims=keepdims)
    zero = jnp.equal(sq, 0)
    safe = jnp.where(zero, 1.0, sq)
    return jnp.where(zero, 0.0, jnp.sqrt(safe))


def vector_norm(x, axis=None, keepdims=False, ord=2):  # noqa: A002
    """The vector norm of order ord (2, 1, 0, inf, -inf or any p) over axis (None: all
    elements); the 2-norm's gradient at 0 is 0, not NaN. axis=None with keepdims=True raises
    NotImplementedError."""
    jnp = _jnp()
    x = asarray_arg(x)
    (x,) = promote_dtypes("norm", x, to_inexact=True)
    if axis is None:
        x = jnp.ravel(x)
        axis = 0
        if keepdims:
            raise NotImplementedError("vector_norm(axis=None, keepdims=True)")
    if ord is None or ord == 2:
        return _safe_sqrt_sum_sq(x, axis, keepdims)
    ax = jnp.abs(x)
    if ord == np.inf:
        return jnp.max(ax, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return jnp.min(ax, axis=axis, keepdims=keepdims)
    if ord == 0:
        return jnp.sum(jnp.not_equal(x, 0).astype(get_aval(x).dtype), axis=axis,
                       keepdims=keepdims)
    if ord == 1:
        return jnp.sum(ax, axis=axis, keepdims=keepdims)
    p = float(ord)
    return jnp.power(jnp.sum(jnp.power(ax, p), axis=axis, keepdims=keepdims), 1.0 / p)


def matrix_norm(x, ord="fro", keepdims=False, axis=(-2, -1)):  # noqa: A002
    """The matrix norm over the two axes: 'fro', 1, -1, inf, -inf. The 2-norm and the
    nuclear norm need the SVD and raise NotImplementedError."""
    jnp = _jnp()
    x = asarray_arg(x)
    (x,) = promote_dtypes("norm", x, to_inexact=True)
    r, c = axis
    if ord in ("fro", "f", None):
        return _safe_sqrt_sum_sq(x, (r, c), keepdims)
    ax = jnp.abs(x)
    if ord == 1:
        return jnp.max(jnp.sum(ax, axis=r, keepdims=True), axis=(r, c), keepdims=keepdims)
    if ord == np.inf:
        return jnp.max(jnp.sum(ax, axis=c, keepdims=True), axis=(r, c), keepdims=keepdims)
    if ord == -1:
        return jnp.min(jnp.sum(ax, axis=r, keepdims=True), axis=(r, c), keepdims=keepdims)
    if ord == -np.inf:
        return jnp.min(jnp.sum(ax, axis=c, keepdims=True), axis=(r, c), keepdims=keepdims)
    raise NotImplementedError(f"jnp.linalg.norm(ord={ord!r}) for matrices needs the SVD, which "
                              "numbax does not implement yet")


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    """numpy.linalg.norm: vector norms, and matrix norms for 2-D input or a pair of axes."""
    x = asarray_arg(x)
    nd = get_aval(x).ndim
    if axis is None and nd == 2 and ord is not None:
        axis = (0, 1)
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, keepdims, tuple(axis))
    if axis is None:
        if ord not in (None, 2, "fro", "f"):
            if nd == 1:
                return vector_norm(x, None, keepdims, ord)
        out = vector_norm(_jnp().ravel(x), 0, False, 2)
        return _jnp().reshape(out, (1,) * nd) if keepdims else out
    if isinstance(axis, (tuple, list)):
        axis = axis[0]
    return vector_norm(x, axis, keepdims, 2 if ord is None else ord)

