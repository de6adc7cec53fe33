"""numpy-style argument handling: validation, dtype promotion and shape broadcasting before a
primitive is bound (primitives themselves accept only equal shapes/dtypes or rank-0 operands)."""
from __future__ import annotations

import numpy as np

from .. import core, dtypes
from ..core import Tracer, get_aval
from ..errors import user_frame
from ..primitives.elementwise import convert_element_type
from ..primitives.shape import broadcast_in_dim

_SCALARS = (int, float, bool)


def is_device_array(a) -> bool:
    """A GPU array (read through numpy, which copies it to the host)."""
    return isinstance(a, core.DEVICE_ARRAY_TYPES) or hasattr(a, "__cuda_array_interface__")


def check_arraylike(name: str, *args) -> None:
    for i, a in enumerate(args):
        if not isinstance(a, (Tracer, np.ndarray, np.generic, int, float, bool)) and not \
                is_device_array(a):
            if isinstance(a, complex):
                dtypes.check_supported(np.complex128, f"argument of {name}")
            raise TypeError(f"{name} requires ndarray or scalar arguments, got {type(a).__name__} "
                            f"at position {i}.")


def asarray_arg(x):
    """Lists/tuples become numpy arrays (as numpy does); arrays and scalars pass through."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
        if x.dtype == object:
            raise TypeError("numbax cannot convert a ragged or traced sequence to an array; "
                            "use jnp.stack for sequences of traced values")
    return x


def broadcast_shapes(name: str, *shapes) -> tuple:
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        sizes = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            where = user_frame()
            raise TypeError(f"{name} got incompatible shapes for broadcasting: "
                            + ", ".join(str(tuple(s)) for s in shapes) + "."
                            + (f"\n  at {where}" if where else ""))
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_to(x, shape):
    aval = get_aval(x)
    shape = tuple(shape)
    if aval.shape == shape:
        return x
    nd = len(shape)
    if aval.ndim > nd:
        raise ValueError(f"cannot broadcast an array of shape {aval.shape} to shape {shape}")
    broadcast_shapes("broadcast_to", aval.shape, shape)
    for d, s in zip(aval.shape[::-1], shape[::-1]):
        if d != s and d != 1:
            raise ValueError(f"Incompatible shapes for broadcasting: {aval.shape} and "
                             f"requested shape {shape}")
    return broadcast_in_dim(x, shape, tuple(range(nd - aval.ndim, nd)))


def cast_to(x, dtype: np.dtype, weak: bool = False):
    """Cast x to dtype; Python scalars stay Python scalars when the result is weak."""
    if type(x) in _SCALARS:
        if weak:
            return {"f": float, "i": int, "u": int, "b": bool}[dtype.kind](x)
        return dtype.type(x)
    aval = get_aval(x)
    if aval.dtype == dtype and aval.weak_type == weak:
        return x
    if isinstance(x, np.generic):
        return dtype.type(x)
    return convert_element_type(x, dtype, weak)


def promote_dtypes(name: str, *args, to_inexact: bool = False):
    """Promote args to a common dtype (NumPy 2 / JAX rules with weak Python scalars)."""
    check_arraylike(name, *args)
    dtype, weak = dtypes.result_type(*args)
    if to_inexact and dtype.kind != "f":
        dtype = dtypes.float64
    return [cast_to(a, dtype, weak) for a in args]


def promote_shapes(name: str, *args):
    """Broadcast non-scalar operands to a common shape (rank-0 operands stay rank 0)."""
    shapes = [get_aval(a).shape for a in args]
    if all(s == shapes[0] for s in shapes):
        return list(args)
    shape = broadcast_shapes(name, *shapes)
    return [a if s == shape or s == () else broadcast_to(a, shape) for a, s in zip(args, shapes)]


def promote_args(name: str, *args, to_inexact: bool = False):
    return promote_shapes(name, *promote_dtypes(name, *args, to_inexact=to_inexact))
