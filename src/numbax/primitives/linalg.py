"""Linear algebra primitives (dot_general, cholesky, triangular_solve, solve, slogdet) and the
wrappers built from them (matmul, inv, det), each beside its rules.

Why a family of its own: these primitives act on the trailing matrix (or contracted) dimensions
of their operands and treat leading dimensions as a batch. That makes their batching rules
uniform (move the vmapped axis to the front and rebind, since every primitive here accepts
leading batch dimensions), and their derivative rules are written in terms of each other
(the jvp of cholesky needs triangular_solve and dot_general, the jvp of slogdet needs solve),
so they live together. Everything is computed with numpy/scipy's LAPACK bindings.

Conventions (as jax.lax / jax.lax.linalg):

* dot_general(lhs, rhs, ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))): the output has
  the batch dimensions, then lhs's free dimensions, then rhs's free dimensions, each in order.
* cholesky(a) returns the lower factor L with a = L L^T. The wrapper symmetrises its input,
  (a + a^T) / 2, like jnp.linalg.cholesky, so that the primitive only ever sees symmetric
  matrices and its derivative (which assumes a symmetric perturbation) is the true one. A matrix
  that is not positive definite gives NaNs (as LAPACK without error checking in JAX).
* triangular_solve(a, b, left_side, lower, transpose_a, unit_diagonal) solves op(a) x = b
  (left_side) or x op(a) = b, reading only the triangle of `a` selected by `lower`.
* solve(a, b): a (..., n, n), b (..., n, k) (or (..., n)); a singular matrix gives NaN/inf rows.
* slogdet(a) -> (sign, log|det a|).
* det(a) is sign * exp(logabsdet) from slogdet rather than a primitive of its own: its
  derivative, det(a) trace(a^{-1} da), is then right wherever a is invertible, and NaN at exactly
  singular matrices (where jax.numpy.linalg.det uses a cofactor-based custom jvp). It also has
  the relative precision of exp, not of a product of pivots (a few ulps).
* inv(a) is solve(a, I).
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive, ShapedArray, get_aval
from ..interpreters import ad, batching
from ..interpreters.ad import Zero
from . import elementwise as _ew
from . import shape as _shape
from .reductions import reduce_sum


# --------------------------------------------------------------------------- helpers

def _matmul(a, b):
    """Batched matrix product of (..., n, k) and (..., k, m) arrays with equal batch shapes."""
    nd = get_aval(a).ndim
    batch = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _swap(x):
    """Transpose the trailing two axes."""
    nd = get_aval(x).ndim
    return _shape.transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _matrix_const(mask, like):
    """Broadcast an (n, n) numpy constant to the shape of `like` (..., n, n)."""
    aval = get_aval(like)
    return _shape.broadcast_in_dim(mask, aval.shape, (aval.ndim - 2, aval.ndim - 1))


def _zero(x):
    return np.array(0, get_aval(x).dtype)[()]


def _keep_triangle(x, lower: bool, k: int = 0):
    """tril(x, k) if lower else triu(x, k), by selecting (so inf/NaN elsewhere do not leak)."""
    n = get_aval(x).shape[-1]
    mask = np.tri(n, n, k, dtype=bool) if lower else ~np.tri(n, n, k - 1, dtype=bool)
    return _ew.select_n(_matrix_const(mask, x), _zero(x), x)


def _trace(x):
    nd = get_aval(x).ndim
    n = get_aval(x).shape[-1]
    diag = _ew.select_n(_matrix_const(np.eye(n, dtype=bool), x), _zero(x), x)
    return reduce_sum(diag, (nd - 2, nd - 1))


def _eye_like(a):
    aval = get_aval(a)
    return _matrix_const(np.eye(aval.shape[-1], dtype=aval.dtype), a)


def _linalg_dtype(dtype):
    """numpy's LAPACK bindings do not take float16: compute in float32 and cast back."""
    return np.promote_types(dtype, np.float32)


def _check_float(name, *avals):
    for a in avals:
        if a.dtype.kind != "f":
            raise TypeError(f"{name} requires floating-point operands, got {a.str_short()}")


def _check_square(name, a, what="a"):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise TypeError(f"{name}: {what} must be a (batch of) square matrices of shape "
                        f"(..., n, n), got {a.str_short()}")


def _unary_batch(prim):
    def rule(axis_size, vals, dims, **params):
        x = batching.moveaxis(vals[0], dims[0], 0)
        out = prim.bind(x, **params)
        if prim.multiple_results:
            return out, [0] * len(out)
        return out, 0
    return rule


def _all_at_front_batch(prim):
    """Operands with leading batch dimensions that must agree: bring (or broadcast) every batch
    axis to the front and rebind."""
    def rule(axis_size, vals, dims, **params):
        vals = [batching.bdim_at_front(v, d, axis_size) for v, d in zip(vals, dims)]
        return prim.bind(*vals, **params), 0
    return rule


# --------------------------------------------------------------------------- dot_general

dot_general_p = Primitive("dot_general")


def _canonical_dims(dims, ndim):
    return tuple(int(d) % ndim if ndim else int(d) for d in dims)


def dot_general(lhs, rhs, dimension_numbers, preferred_element_type=None):
    """Contract `lhs` and `rhs` over `dimension_numbers = ((lhs_contract, rhs_contract),
    (lhs_batch, rhs_batch))`; the result has batch dims, then lhs free dims, then rhs free dims."""
    (lc, rc), (lb, rb) = dimension_numbers
    ln, rn = get_aval(lhs).ndim, get_aval(rhs).ndim
    dn = ((_canonical_dims(lc, ln), _canonical_dims(rc, rn)),
          (_canonical_dims(lb, ln), _canonical_dims(rb, rn)))
    if preferred_element_type is not None:
        preferred_element_type = np.dtype(preferred_element_type)
        if preferred_element_type == get_aval(lhs).dtype:
            preferred_element_type = None
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn,
                              preferred_element_type=preferred_element_type)


def matmul(a, b):
    """a @ b for (..., n, k) and (..., k, m) operands with equal batch shapes."""
    return _matmul(a, b)


def _free_dims(ndim, contract, batch):
    taken = set(contract) | set(batch)
    return [i for i in range(ndim) if i not in taken]


@dot_general_p.def_impl
def _dot_general_impl(lhs, rhs, *, dimension_numbers, preferred_element_type):
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    _dot_general_abstract_eval(get_aval(lhs), get_aval(rhs), dimension_numbers=dimension_numbers,
                               preferred_element_type=preferred_element_type)
    (lc, rc), (lb, rb) = dimension_numbers
    lf, rf = _free_dims(lhs.ndim, lc, lb), _free_dims(rhs.ndim, rc, rb)
    bshape = tuple(lhs.shape[i] for i in lb)
    lfs, rfs = tuple(lhs.shape[i] for i in lf), tuple(rhs.shape[i] for i in rf)
    B, M, N = int(np.prod(bshape)), int(np.prod(lfs)), int(np.prod(rfs))
    K = int(np.prod([lhs.shape[i] for i in lc]))
    l3 = np.transpose(lhs, tuple(lb) + tuple(lf) + tuple(lc)).reshape(B, M, K)
    r3 = np.transpose(rhs, tuple(rb) + tuple(rc) + tuple(rf)).reshape(B, K, N)
    out = np.matmul(l3, r3).reshape(bshape + lfs + rfs)
    if preferred_element_type is not None:
        out = out.astype(preferred_element_type)
    return out[()] if out.ndim == 0 else out


@dot_general_p.def_abstract_eval
def _dot_general_abstract_eval(lhs, rhs, *, dimension_numbers, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers

    def fail(msg):
        raise TypeError(f"dot_general: {msg} (lhs {lhs.str_short()}, rhs {rhs.str_short()}, "
                        f"dimension_numbers {dimension_numbers})")
    if len(lc) != len(rc):
        fail(f"lhs and rhs have different numbers of contracting dimensions, {lc} and {rc}")
    if len(lb) != len(rb):
        fail(f"lhs and rhs have different numbers of batch dimensions, {lb} and {rb}")
    for name, dims, aval in (("lhs", lc + lb, lhs), ("rhs", rc + rb, rhs)):
        if any(not 0 <= d < aval.ndim for d in dims):
            fail(f"{name} dimensions {dims} out of range for shape {aval.shape}")
        if len(set(dims)) != len(dims):
            fail(f"{name} contracting and batch dimensions {dims} must be distinct")
    for kind, ld, rd in (("contracting", lc, rc), ("batch", lb, rb)):
        ls, rs = tuple(lhs.shape[i] for i in ld), tuple(rhs.shape[i] for i in rd)
        if ls != rs:
            fail(f"{kind} dimensions have different sizes: lhs {ls}, rhs {rs}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"dot_general requires operands of the same dtype, got {lhs.str_short()} "
                        f"and {rhs.str_short()}")
    if lhs.dtype.kind not in "biuf":
        fail(f"unsupported dtype {lhs.dtype.name}")
    lf, rf = _free_dims(lhs.ndim, lc, lb), _free_dims(rhs.ndim, rc, rb)
    shape = (tuple(lhs.shape[i] for i in lb) + tuple(lhs.shape[i] for i in lf)
             + tuple(rhs.shape[i] for i in rf))
    if preferred_element_type is not None:
        return ShapedArray(shape, preferred_element_type)
    return ShapedArray(shape, lhs.dtype, lhs.weak_type and rhs.weak_type)


def _dot_general_jvp(primals, tangents, *, dimension_numbers, preferred_element_type):
    (lhs, rhs), (tl, tr) = primals, tangents
    out = dot_general_p.bind(lhs, rhs, dimension_numbers=dimension_numbers,
                             preferred_element_type=preferred_element_type)
    if get_aval(out).dtype.kind != "f":
        return out, ad.zero_of(out)
    t_out = Zero(ad.tangent_aval(get_aval(out)))
    if type(tl) is not Zero:
        t_out = ad.add_tangents(t_out, dot_general_p.bind(
            tl, rhs, dimension_numbers=dimension_numbers,
            preferred_element_type=preferred_element_type))
    if type(tr) is not Zero:
        t_out = ad.add_tangents(t_out, dot_general_p.bind(
            lhs, tr, dimension_numbers=dimension_numbers,
            preferred_element_type=preferred_element_type))
    return out, t_out


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield tuple(range(start, start + len(x)))
        start += len(x)


def _transpose_lhs(ct, y, x_aval, dimension_numbers, preferred_element_type, swap_ans):
    """The cotangent of x in dot_general(x, y) (or of y in dot_general(y, x) if swap_ans)."""
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    y_ndim = get_aval(y).ndim
    x_kept = _free_dims(x_aval.ndim, x_contract, x_batch)
    y_kept = _free_dims(y_ndim, y_contract, y_batch)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    dims = ((ans_y, tuple(y_kept)), (ans_batch, tuple(y_batch)))
    x_contract_sorted_by_y = [x_contract[i] for i in np.argsort(y_contract)]
    out_axes = np.argsort(list(x_batch) + x_kept + x_contract_sorted_by_y)
    if get_aval(ct).dtype != get_aval(y).dtype:
        ct = _ew.convert_element_type(ct, get_aval(y).dtype)
    x_bar = dot_general(ct, y, dims)
    x_bar = _shape.transpose(x_bar, tuple(int(i) for i in out_axes))
    if get_aval(x_bar).dtype != x_aval.dtype:
        x_bar = _ew.convert_element_type(x_bar, x_aval.dtype)
    return x_bar


def _dot_general_transpose(ct, lhs, rhs, *, dimension_numbers, preferred_element_type):
    l_undef, r_undef = ad.is_undefined_primal(lhs), ad.is_undefined_primal(rhs)
    if l_undef and r_undef:
        raise NotImplementedError("dot_general: transposing a product of two linear values (the "
                                  "function is not linear in its tangent inputs)")
    if type(ct) is Zero:
        return [None, None]
    (lc, rc), (lb, rb) = dimension_numbers
    if l_undef:
        return [_transpose_lhs(ct, rhs, lhs.aval, dimension_numbers, preferred_element_type,
                               False), None]
    swapped = ((rc, lc), (rb, lb))
    return [None, _transpose_lhs(ct, lhs, rhs.aval, swapped, preferred_element_type, True)]


def _dot_general_batch(axis_size, vals, dims, *, dimension_numbers, preferred_element_type):
    (lhs, rhs), (ld, rd) = vals, dims
    (lc, rc), (lb, rb) = dimension_numbers
    params = dict(preferred_element_type=preferred_element_type)
    if ld is not None and rd is not None:
        # both batched: the vmapped axis becomes a new leading batch dimension
        lhs, rhs = batching.moveaxis(lhs, ld, 0), batching.moveaxis(rhs, rd, 0)
        sh = lambda t: tuple(i + 1 for i in t)  # noqa: E731
        dn = ((sh(lc), sh(rc)), ((0,) + sh(lb), (0,) + sh(rb)))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), 0
    if ld is not None:
        # only lhs batched: the vmapped axis is one more free dimension of lhs, left in place
        sh = lambda t: tuple(i + (i >= ld) for i in t)  # noqa: E731
        dn = ((sh(lc), rc), (sh(lb), rb))
        lf = _free_dims(get_aval(lhs).ndim, sh(lc), sh(lb))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), len(lb) + lf.index(ld)
    sh = lambda t: tuple(i + (i >= rd) for i in t)  # noqa: E731
    dn = ((lc, sh(rc)), (lb, sh(rb)))
    n_lf = len(_free_dims(get_aval(lhs).ndim, lc, lb))
    rf = _free_dims(get_aval(rhs).ndim, sh(rc), sh(rb))
    return (dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params),
            len(lb) + n_lf + rf.index(rd))


ad.primitive_jvps[dot_general_p] = _dot_general_jvp
ad.primitive_transposes[dot_general_p] = _dot_general_transpose
batching.primitive_batchers[dot_general_p] = _dot_general_batch


# --------------------------------------------------------------------------- triangular_solve

triangular_solve_p = Primitive("triangular_solve")


def triangular_solve(a, b, left_side=True, lower=True, transpose_a=False, unit_diagonal=False):
    """x with op(a) x = b (left_side) or x op(a) = b, op(a) = a^T if transpose_a; only the
    triangle of `a` chosen by `lower` is read."""
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=bool(transpose_a),
                                   unit_diagonal=bool(unit_diagonal))


@triangular_solve_p.def_impl
def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    a, b = np.asarray(a), np.asarray(b)
    _triangular_solve_abstract_eval(get_aval(a), get_aval(b), left_side=left_side, lower=lower,
                                    transpose_a=transpose_a, unit_diagonal=unit_diagonal)
    out = np.empty(b.shape, b.dtype)
    if out.size == 0:
        return out
    wdt = _linalg_dtype(a.dtype)
    import scipy.linalg as _sla  # imported on first use: it is slow to import
    for idx in np.ndindex(a.shape[:-2]):
        ai, bi = a[idx].astype(wdt), b[idx].astype(wdt)
        if left_side:
            x = _sla.solve_triangular(ai, bi, trans=1 if transpose_a else 0, lower=lower,
                                      unit_diagonal=unit_diagonal, check_finite=False)
        else:  # x op(a) = b  <=>  op(a)^T x^T = b^T
            x = _sla.solve_triangular(ai, bi.T, trans=0 if transpose_a else 1, lower=lower,
                                      unit_diagonal=unit_diagonal, check_finite=False).T
        out[idx] = x
    return out


@triangular_solve_p.def_abstract_eval
def _triangular_solve_abstract_eval(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    _check_float("triangular_solve", a, b)
    _check_square("triangular_solve", a)
    if a.dtype != b.dtype:
        raise TypeError(f"triangular_solve requires operands of the same dtype, got "
                        f"{a.str_short()} and {b.str_short()}")
    m = a.shape[-1]
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2] or \
            b.shape[-2 if left_side else -1] != m:
        want = "(..., m, n)" if left_side else "(..., n, m)"
        raise TypeError(f"triangular_solve: b must have shape {want} with the batch dimensions "
                        f"of a and m = {m} (left_side={left_side}), got a {a.str_short()} and "
                        f"b {b.str_short()}")
    return ShapedArray(b.shape, b.dtype)


def _triangular_solve_jvp_a(g, ans, a, b, *, left_side, lower, transpose_a, unit_diagonal):
    """d x = -op(a)^{-1} op(da) x (left) or -x op(da) op(a)^{-1} (right), with da restricted to the
    triangle that is read (JAX's rule)."""
    k = -1 if unit_diagonal else 0
    g = _keep_triangle(g, lower, k) if lower else _keep_triangle(g, False, -k)
    g = _ew.neg(g)
    if transpose_a:
        g = _swap(g)
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                  unit_diagonal=unit_diagonal)
    if left_side:
        return triangular_solve(a, _matmul(g, ans), **params)
    return triangular_solve(a, _matmul(ans, g), **params)


def _triangular_solve_jvp_b(g, ans, a, b, **params):
    return triangular_solve(a, g, **params)


def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a, unit_diagonal):
    if ad.is_undefined_primal(a):
        raise NotImplementedError("triangular_solve: transposing with respect to the matrix "
                                  "(it is not linear in it)")
    if type(ct) is Zero:
        return [None, None]
    return [None, triangular_solve(a, ct, left_side=left_side, lower=lower,
                                   transpose_a=not transpose_a, unit_diagonal=unit_diagonal)]


ad.defjvp2(triangular_solve_p, _triangular_solve_jvp_a, _triangular_solve_jvp_b)
ad.primitive_transposes[triangular_solve_p] = _triangular_solve_transpose
batching.primitive_batchers[triangular_solve_p] = _all_at_front_batch(triangular_solve_p)


# --------------------------------------------------------------------------- cholesky

cholesky_p = Primitive("cholesky")


def cholesky(a, symmetrize_input=True):
    """The lower Cholesky factor L of a symmetric positive definite a = L L^T (leading batch
    dimensions allowed). NaNs if a is not positive definite."""
    _cholesky_abstract_eval(get_aval(a))
    if symmetrize_input:
        a = _ew.mul(_ew.add(a, _swap(a)), np.array(0.5, get_aval(a).dtype)[()])
    return cholesky_p.bind(a)


@cholesky_p.def_impl
def _cholesky_impl(a):
    a = np.asarray(a)
    _cholesky_abstract_eval(get_aval(a))
    wdt = _linalg_dtype(a.dtype)
    try:
        return np.linalg.cholesky(a.astype(wdt)).astype(a.dtype)
    except np.linalg.LinAlgError:
        out = np.full(a.shape, np.nan, a.dtype)
        for idx in np.ndindex(a.shape[:-2]):
            try:
                out[idx] = np.linalg.cholesky(a[idx].astype(wdt))
            except np.linalg.LinAlgError:
                pass
        return out


@cholesky_p.def_abstract_eval
def _cholesky_abstract_eval(a):
    _check_float("cholesky", a)
    _check_square("cholesky", a)
    return ShapedArray(a.shape, a.dtype)


def _cholesky_jvp(primals, tangents):
    """dL = L phi(L^{-1} dA L^{-T}), phi = lower triangle with the diagonal halved (Murray 2016)."""
    (a,), (da,) = primals, tangents
    L = cholesky_p.bind(a)
    if type(da) is Zero:
        return L, ad.zero_of(L)
    tmp = triangular_solve(L, da, left_side=False, transpose_a=True, lower=True)
    inner = triangular_solve(L, tmp, left_side=True, transpose_a=False, lower=True)
    n = get_aval(a).shape[-1]
    half_diag = np.where(np.eye(n, dtype=bool), 0.5, 1.0).astype(get_aval(a).dtype)
    phi = _ew.mul(_keep_triangle(inner, True), _matrix_const(half_diag, inner))
    return L, _matmul(L, phi)


ad.primitive_jvps[cholesky_p] = _cholesky_jvp
batching.primitive_batchers[cholesky_p] = _unary_batch(cholesky_p)


# --------------------------------------------------------------------------- solve

solve_p = Primitive("solve")


def solve(a, b):
    """x with a x = b, for a (..., n, n) and b (..., n, k); b of shape (..., n) (a.ndim - 1) is
    treated as one right-hand side."""
    a_aval, b_aval = get_aval(a), get_aval(b)
    if a_aval.ndim >= 2 and b_aval.ndim == a_aval.ndim - 1:
        x = solve_p.bind(a, _shape.reshape(b, b_aval.shape + (1,)))
        return _shape.reshape(x, b_aval.shape)
    return solve_p.bind(a, b)


@solve_p.def_impl
def _solve_impl(a, b):
    a, b = np.asarray(a), np.asarray(b)
    _solve_abstract_eval(get_aval(a), get_aval(b))
    wdt = _linalg_dtype(a.dtype)
    if b.size == 0:
        return np.zeros(b.shape, b.dtype)
    try:
        return np.linalg.solve(a.astype(wdt), b.astype(wdt)).astype(b.dtype)
    except np.linalg.LinAlgError:  # singular somewhere: NaN for the singular matrices only
        out = np.full(b.shape, np.nan, b.dtype)
        for idx in np.ndindex(a.shape[:-2]):
            try:
                out[idx] = np.linalg.solve(a[idx].astype(wdt), b[idx].astype(wdt))
            except np.linalg.LinAlgError:
                pass
        return out


@solve_p.def_abstract_eval
def _solve_abstract_eval(a, b):
    _check_float("solve", a, b)
    _check_square("solve", a)
    if a.dtype != b.dtype:
        raise TypeError(f"solve requires operands of the same dtype, got {a.str_short()} and "
                        f"{b.str_short()}")
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2] or b.shape[-2] != a.shape[-1]:
        raise TypeError(f"solve: b must have shape (..., n, k) with the batch dimensions of a, "
                        f"got a {a.str_short()} and b {b.str_short()}")
    return ShapedArray(b.shape, b.dtype)


def _solve_jvp_a(g, ans, a, b):
    return _ew.neg(solve_p.bind(a, _matmul(g, ans)))


def _solve_jvp_b(g, ans, a, b):
    return solve_p.bind(a, g)


def _solve_transpose(ct, a, b):
    if ad.is_undefined_primal(a):
        raise NotImplementedError("solve: transposing with respect to the matrix (it is not "
                                  "linear in it)")
    if type(ct) is Zero:
        return [None, None]
    return [None, solve_p.bind(_swap(a), ct)]


ad.defjvp2(solve_p, _solve_jvp_a, _solve_jvp_b)
ad.primitive_transposes[solve_p] = _solve_transpose
batching.primitive_batchers[solve_p] = _all_at_front_batch(solve_p)


# --------------------------------------------------------------------------- slogdet

slogdet_p = Primitive("slogdet", multiple_results=True)


def slogdet(a):
    """(sign, log|det a|) of a (batch of) square matrices."""
    sign, logabsdet = slogdet_p.bind(a)
    return sign, logabsdet


@slogdet_p.def_impl
def _slogdet_impl(a):
    a = np.asarray(a)
    _slogdet_abstract_eval(get_aval(a))
    sign, logabsdet = np.linalg.slogdet(a.astype(_linalg_dtype(a.dtype)))
    return [np.asarray(sign, a.dtype)[()], np.asarray(logabsdet, a.dtype)[()]]


@slogdet_p.def_abstract_eval
def _slogdet_abstract_eval(a):
    _check_float("slogdet", a)
    _check_square("slogdet", a)
    out = ShapedArray(a.shape[:-2], a.dtype)
    return [out, out]


def _slogdet_jvp(primals, tangents):
    """d log|det a| = trace(a^{-1} da); the sign is piecewise constant."""
    (a,), (da,) = primals, tangents
    sign, logabsdet = slogdet_p.bind(a)
    if type(da) is Zero:
        return [sign, logabsdet], [ad.zero_of(sign), ad.zero_of(logabsdet)]
    return [sign, logabsdet], [ad.zero_of(sign), _trace(solve_p.bind(a, da))]


ad.primitive_jvps[slogdet_p] = _slogdet_jvp
batching.primitive_batchers[slogdet_p] = _unary_batch(slogdet_p)


# --------------------------------------------------------------------------- derived

def det(a):
    """sign * exp(log|det a|), via slogdet (see the module docstring)."""
    sign, logabsdet = slogdet(a)
    return _ew.mul(sign, _ew.exp(logabsdet))


def inv(a):
    """a^{-1} = solve(a, I)."""
    aval = get_aval(a)
    _check_float("inv", aval)
    _check_square("inv", aval)
    return solve_p.bind(a, _eye_like(a))


__all__ = ["dot_general", "matmul", "cholesky", "triangular_solve", "solve", "slogdet", "det",
           "inv", "dot_general_p", "cholesky_p", "triangular_solve_p", "solve_p", "slogdet_p"]
