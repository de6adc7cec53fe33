"""numpy indexing for traced and eager arrays, and functional updates (`x.at[idx].set(v)`).

Static indices (ints, slices, None, Ellipsis) lower to `slice`/`rev`/`squeeze`/`reshape`, which
jit can turn into views. Integer-array and traced indices lower to one `gather` over the indexed
axes moved to the front, with numpy's rule for where the broadcast index dimensions land.
Out-of-bounds traced indices are clamped on reads and dropped on updates (JAX's semantics);
out-of-bounds concrete indices raise IndexError, as in numpy.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from ..core import Tracer, get_aval
from ..errors import ConcretizationTypeError, NonConcreteBooleanIndexError
from ..primitives import elementwise as ew
from ..primitives import indexing as ix
from ..primitives import shape as sh
from ._promote import asarray_arg, broadcast_shapes, broadcast_to, cast_to


def _is_static_int(i) -> bool:
    return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))


def _concrete_or_none(t):
    return t.to_concrete_value() if isinstance(t, Tracer) else t


def _normalize(idx, shape):
    """A tuple with Ellipsis expanded, bool masks turned into integer arrays and lists into
    arrays. Returns (entries, newaxis_positions) where entries index the (expanded) array."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    entries = []
    for i in idx:
        if isinstance(i, list):
            i = np.asarray(i)
            if i.dtype == object:
                raise IndexError("ragged lists cannot be used as indices")
            if i.size == 0:
                i = i.astype(np.int64)
        if isinstance(i, (bool, np.bool_)):
            raise NotImplementedError("indexing with a Python bool scalar is not supported")
        if isinstance(i, (np.ndarray, Tracer)) and get_aval(i).dtype.kind == "b":
            concrete = _concrete_or_none(i)
            if concrete is None:
                raise NonConcreteBooleanIndexError(get_aval(i).str_short())
            if np.ndim(concrete) == 0:
                raise NotImplementedError("indexing with a 0-d boolean array is not supported")
            entries.extend(np.nonzero(np.asarray(concrete)))
            continue
        if isinstance(i, (np.ndarray, Tracer)) and get_aval(i).dtype.kind not in "iu":
            raise IndexError(f"Indexer must have integer or boolean type, got indexer with type "
                             f"{get_aval(i).dtype.name}")
        if isinstance(i, slice):
            i = slice(*(_static_bound(b) for b in (i.start, i.stop, i.step)))
        elif not (i is None or i is Ellipsis or _is_static_int(i) or
                  isinstance(i, (np.ndarray, Tracer))):
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), numpy.newaxis "
                             f"(`None`) and integer or boolean arrays are valid indices, got "
                             f"{type(i).__name__}")
        entries.append(i)
    n_ellipsis = sum(e is Ellipsis for e in entries)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(e is not None and e is not Ellipsis for e in entries)
    if consumed > len(shape):
        raise IndexError(f"Too many indices: array is {len(shape)}-dimensional, but {consumed} "
                         f"were indexed")
    fill = [slice(None)] * (len(shape) - consumed)
    if n_ellipsis:
        k = entries.index(Ellipsis)
        entries = entries[:k] + fill + entries[k + 1:]
    else:
        entries = entries + fill
    return entries


def _static_bound(b):
    if b is None or _is_static_int(b):
        return b
    c = _concrete_or_none(b)
    if c is None or np.ndim(c) != 0:
        raise IndexError("Array slice indices must have static start/stop/step to be used with "
                         "NumPy indexing syntax. Use lax.dynamic_slice or jnp.take for a slice at "
                         "a traced position.")
    return operator.index(c)


def _insert_newaxes(x, entries):
    """Reshape in the size-1 axes that `None` entries ask for; they become full slices."""
    if not any(e is None for e in entries):
        return x, entries
    shape, it = [], iter(get_aval(x).shape)
    for e in entries:
        shape.append(1 if e is None else next(it))
    return sh.reshape(x, tuple(shape)), [slice(None) if e is None else e for e in entries]


def _apply_basic(x, entries):
    """Apply slices and static ints (entries index every axis); advanced entries pass through."""
    shape = get_aval(x).shape
    rev_axes, starts, limits, strides, squeeze = [], [], [], [], []
    for ax, (e, n) in enumerate(zip(entries, shape)):
        if isinstance(e, slice):
            start, stop, step = e.indices(n)
            count = len(range(start, stop, step))
            if step < 0:
                rev_axes.append(ax)
                start, step = n - 1 - start, -step
            if count == 0:
                start, limit = 0, 0
            else:
                limit = start + (count - 1) * step + 1
            starts.append(start), limits.append(limit), strides.append(step)
        elif _is_static_int(e):
            i = int(e)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {ax} with size {n}")
            i %= n
            starts.append(i), limits.append(i + 1), strides.append(1)
            squeeze.append(ax)
        else:
            starts.append(0), limits.append(n), strides.append(1)
    if rev_axes:
        x = sh.rev(x, tuple(rev_axes))
    if starts != [0] * len(shape) or limits != list(shape) or any(s != 1 for s in strides):
        x = sh.slice(x, starts, limits, strides if any(s != 1 for s in strides) else None)
    if squeeze:
        x = sh.squeeze(x, tuple(squeeze))
    return x, [e for e in entries if not _is_static_int(e)]


def _index_arrays(arrays, dims, strict: bool):
    """Broadcast, normalise negatives and stack integer index arrays to shape B + (k,); strict:
    a known out-of-bounds index raises IndexError (numpy's indexing), else the gather's mode
    handles it."""
    if all(not isinstance(a, Tracer) for a in arrays):
        arrays = [np.asarray(a, np.int64) for a in arrays]
        b = np.broadcast_shapes(*(a.shape for a in arrays))
        cols = []
        for a, n in zip(arrays, dims):
            if strict and a.size and ((a < -n).any() or (a >= n).any()):
                bad = a[(a < -n) | (a >= n)].flat[0]
                raise IndexError(f"index {bad} is out of bounds for axis with size {n}")
            cols.append(np.broadcast_to(np.where(a < 0, a + n, a), b))
        return np.stack(cols, axis=-1) if cols else np.zeros(b + (0,), np.int64)
    b = broadcast_shapes("indexing", *(get_aval(a).shape for a in arrays))
    cols = []
    for a, n in zip(arrays, dims):
        a = cast_to(a, dtypes.int64)
        a = ew.select_n(ew.lt(a, np.int64(0)), a, ew.add(a, np.int64(n)))
        a = broadcast_to(a, b)
        cols.append(sh.reshape(a, b + (1,)))
    return cols[0] if len(cols) == 1 else sh.concatenate(cols, len(b))


def getitem(x, idx, mode: str | None = None, fill_value=None):
    """x[idx] with numpy's semantics (basic and advanced indexing). With no mode, a known
    out-of-bounds index raises (numpy) and a traced one is clamped (JAX); an explicit mode
    ("clip", "fill") applies to both."""
    strict, mode = mode is None, mode or "clip"
    x = asarray_arg(x)
    entries = _normalize(idx, get_aval(x).shape)
    x, entries = _insert_newaxes(x, entries)
    advanced = [isinstance(e, (np.ndarray, Tracer)) for e in entries]
    if any(advanced):  # with any array index, ints are advanced indices too (numpy's rule)
        entries = [np.asarray(e, np.int64) if _is_static_int(e) else e for e in entries]
        advanced = [not isinstance(e, slice) for e in entries]
    x, entries = _apply_basic(x, entries)
    if not any(advanced):
        return x
    shape = get_aval(x).shape
    positions = [i for i, e in enumerate(entries) if not isinstance(e, slice)]
    rest = [i for i in range(len(shape)) if i not in positions]
    indices = _index_arrays([entries[i] for i in positions], [shape[i] for i in positions], strict)
    x = sh.transpose(x, positions + rest)
    out = ix.gather(x, indices, mode=mode, fill_value=fill_value)
    nb = get_aval(indices).ndim - 1
    if positions == list(range(positions[0], positions[0] + len(positions))) and positions[0]:
        p = positions[0]
        nd = get_aval(out).ndim
        perm = list(range(nb, nb + p)) + list(range(nb)) + list(range(nb + p, nd))
        out = sh.transpose(out, perm)
    return out


# --------------------------------------------------------------------------- functional updates

_SCATTERS = {"set": ix.scatter, "add": ix.scatter_add, "multiply": ix.scatter_mul,
             "min": ix.scatter_min, "max": ix.scatter_max}


def _positions(shape, idx):
    """Flat positions that x[idx] reads, as an int64 array (traced if idx is); -1 where a traced
    index is out of bounds, so that the update there is dropped."""
    pos = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
    entries = idx if isinstance(idx, tuple) else (idx,)
    if not any(isinstance(e, Tracer) for e in entries) and not any(
            isinstance(e, slice) and any(isinstance(b, Tracer) for b in (e.start, e.stop, e.step))
            for e in entries):
        return pos[idx]
    return getitem(pos, idx, mode="fill", fill_value=-1)


def at_update(x, idx, values, op: str):
    x = asarray_arg(x)
    aval = get_aval(x)
    if op == "get":
        return getitem(x, idx)
    if op == "divide":
        if aval.dtype.kind != "f":
            raise TypeError("x.at[...].divide() requires a floating-point array")
        from ._ufuncs import reciprocal
        values, op = reciprocal(asarray_arg(values)), "multiply"
    if op == "power":
        raise NotImplementedError("x.at[...].power() is not supported")
    scatter = _SCATTERS[op]
    pos = _positions(aval.shape, idx)
    pshape = get_aval(pos).shape
    values = cast_to(asarray_arg(values), aval.dtype)
    vshape = get_aval(values).shape
    try:
        values = broadcast_to(values, pshape)
    except (ValueError, TypeError):
        raise ValueError(f"x.at[...].{op}: cannot broadcast updates of shape {vshape} to the "
                         f"indexed shape {pshape}") from None
    flat = sh.reshape(x, (aval.size,))
    out = sh.reshape(scatter(flat, sh.reshape(pos, pshape + (1,)), values, mode="drop"),
                     aval.shape)
    if isinstance(out, Tracer):
        return out
    from ._array import as_array
    return as_array(np.asarray(out))


def _update_options(op: str, mode=None, indices_are_sorted=False, unique_indices=False,
                    **unknown):
    """JAX's keywords of x.at[...].op(): the index hints are accepted (and not needed); of the
    modes, numbax implements the default, which drops out-of-bounds traced updates."""
    if unknown:
        raise TypeError(f"x.at[...].{op}() got an unexpected keyword argument "
                        f"{next(iter(unknown))!r}")
    if mode not in (None, "drop", "promise_in_bounds"):
        raise NotImplementedError(f"x.at[...].{op}(mode={mode!r}) is not supported: numbax drops "
                                  f"out-of-bounds updates (mode='drop'), the default")


class _IndexUpdateRef:
    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = array, index

    def get(self, *, mode=None, fill_value=None):
        return getitem(self.array, self.index, mode=mode, fill_value=fill_value)

    def set(self, values, **options):
        _update_options("set", **options)
        return at_update(self.array, self.index, values, "set")

    def add(self, values, **options):
        _update_options("add", **options)
        return at_update(self.array, self.index, values, "add")

    def subtract(self, values, **options):
        _update_options("subtract", **options)
        from ._ufuncs import negative
        return at_update(self.array, self.index, negative(asarray_arg(values)), "add")

    def multiply(self, values, **options):
        _update_options("multiply", **options)
        return at_update(self.array, self.index, values, "multiply")

    mul = multiply

    def divide(self, values, **options):
        _update_options("divide", **options)
        return at_update(self.array, self.index, values, "divide")

    def min(self, values, **options):  # noqa: A003
        _update_options("min", **options)
        return at_update(self.array, self.index, values, "min")

    def max(self, values, **options):  # noqa: A003
        _update_options("max", **options)
        return at_update(self.array, self.index, values, "max")

    def power(self, values, **options):
        _update_options("power", **options)
        return at_update(self.array, self.index, values, "power")

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"


class IndexUpdateHelper:
    """`x.at[idx]`: the functional replacement for in-place `x[idx] = v`."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)


# --------------------------------------------------------------------------- take & friends

def take(a, indices, axis=None, mode=None, fill_value=None):
    """As numpy.take, but out-of-bounds indices fill by default (JAX's mode='fill': NaN for
    floats, the most negative value for signed integers, the largest for unsigned, True for
    bools) where numpy raises; mode='clip' and 'wrap' as numpy."""
    a = asarray_arg(a)
    if axis is None:
        from ._shapes import ravel
        a, axis = ravel(a), 0
    from ._reductions import canonicalize_axis
    ax = canonicalize_axis(axis, get_aval(a).ndim)
    mode = mode or "fill"
    if mode not in ("fill", "clip", "wrap"):
        raise NotImplementedError(f"jnp.take(mode={mode!r}) is not supported")
    indices = asarray_arg(indices)
    n = get_aval(a).shape[ax]
    if mode == "wrap":
        from ._ufuncs import remainder
        indices, mode = remainder(indices, n), "clip"
    if not isinstance(indices, Tracer):
        indices = np.asarray(indices, np.int64)
        if mode == "clip":
            indices = np.clip(np.where(indices < 0, indices + n, indices), 0, n - 1)
            mode = "clip"
        else:  # fill: out-of-bounds reads give NaN (numpy raises; JAX fills)
            indices = np.where((indices < -n) | (indices >= n), n, np.where(indices < 0,
                                                                            indices + n, indices))
            return _gather_axis(a, indices, ax, "fill", fill_value)
        return _gather_axis(a, indices, ax, "clip", None)
    idx = (slice(None),) * ax + (indices,)
    return getitem(a, idx, mode=mode, fill_value=fill_value)


def _gather_axis(a, indices, ax, mode, fill_value):
    nd = get_aval(a).ndim
    perm = [ax] + [i for i in range(nd) if i != ax]
    out = ix.gather(sh.transpose(a, perm), indices[..., None], mode=mode, fill_value=fill_value)
    nb = indices.ndim
    outnd = get_aval(out).ndim
    back = list(range(nb, nb + ax)) + list(range(nb)) + list(range(nb + ax, outnd))
    return sh.transpose(out, back)


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """As numpy.take_along_axis; out-of-bounds indices raise IndexError when concrete (as
    numpy) and are clamped when traced (as JAX)."""
    arr = asarray_arg(arr)
    aval = get_aval(arr)
    if axis is None:
        from ._shapes import ravel
        return take_along_axis(ravel(arr), indices, 0, mode, fill_value)
    from ._reductions import canonicalize_axis
    ax = canonicalize_axis(axis, aval.ndim)
    indices = asarray_arg(indices)
    ishape = get_aval(indices).shape
    if len(ishape) != aval.ndim:
        raise ValueError(f"indices and arr must have the same number of dimensions; "
                         f"{len(ishape)} vs. {aval.ndim}")
    idx = []
    for i in range(aval.ndim):
        if i == ax:
            idx.append(indices)
        else:
            s = [1] * aval.ndim
            s[i] = aval.shape[i]
            idx.append(np.arange(aval.shape[i]).reshape(s))
    return getitem(arr, tuple(idx), mode=mode or "fill", fill_value=fill_value)


def _concrete_value(name, a):
    a = asarray_arg(a)
    c = _concrete_or_none(a)
    if c is None:
        raise ConcretizationTypeError(
            a._desc(), f"jnp.{name} needs a concrete value: its output shape depends on the "
                       f"values of its input.\n")
    return np.asarray(c)


def nonzero(a, *, size=None, fill_value=None):
    """As numpy.nonzero, for concrete input only: the result's shape depends on the values,
    so under jit or vmap it raises ConcretizationTypeError (`size=` is not supported yet)."""
    if size is not None:
        raise NotImplementedError("jnp.nonzero(size=...) is not supported yet")
    return np.nonzero(_concrete_value("nonzero", a))


def flatnonzero(a):
    """As numpy.flatnonzero, for concrete input only (not under jit or vmap)."""
    return np.flatnonzero(_concrete_value("flatnonzero", a))


def argwhere(a):
    """As numpy.argwhere, for concrete input only (not under jit or vmap)."""
    return np.argwhere(_concrete_value("argwhere", a))
