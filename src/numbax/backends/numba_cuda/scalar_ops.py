"""Scalar source for each elementwise primitive inside a generated CUDA kernel.

The CPU backend's rules (numba_cpu/scalar_ops.py) with the same contract: operand *names* in,
one expression out, numpy's result bit for bit where numpy is exact. Rules whose text compiles on
numba's CUDA target are reused as they are. The others are overridden because the CUDA target
has no numpy ufuncs on scalars (``np.fmod``, ``np.floor``: KeyError at typing), the CPU
vector_math intrinsics emit CPU-only code, and scalar_math helpers that call ufuncs cannot be
compiled for the device; CUDA versions live in device_math (``_dm.``).

scalar_math helpers free of ufuncs (erf_inv, ndtri, igamma, igammac, betainc) are called as they
are (``_sm.``): numba-cuda compiles a CPU njit function as a device function when a kernel calls
it. Compiling such a kernel asks the driver for the current device, so ``compile_ptx`` needs a
GPU (or a stand-in device) for them.

On the GPU, ``math.*`` is libdevice (within a few ulp of libm), and NVVM contracts ``a * b + c``
into an FMA: fused kernels can differ from numpy in the last bit there. Under the simulator,
Python's ``math`` raises where libdevice returns inf/NaN: bind ``math`` to
``device_math.simulator_math`` in simulated kernels' globals.
"""
from __future__ import annotations

import numpy as np

from ..numba_cpu import scalar_ops as _cpu

#: numba type names for the dtypes the CUDA backend compiles (float16 and complex are not)
CUDA_TYPE = dict(_cpu.NUMBA_TYPE)
NATIVE = _cpu.NATIVE

#: helper modules generated code may call, by the prefix it uses for them
HELPER_IMPORTS = {"_dm.": "from numbax.backends.numba_cuda import device_math as _dm\n",
                  "_sm.": "from numbax.backends.numba_cpu import scalar_math as _sm\n"}


def numba_type(dtype: np.dtype, what: str = "value") -> str:
    """The numba type name of dtype; NotImplementedError for float16 (numba's CUDA target
    lowers only part of math.* for it, and the CPU rules reused here do not handle it) and
    complex."""
    try:
        return CUDA_TYPE[np.dtype(dtype)]
    except KeyError:
        dtype = np.dtype(dtype)
        name = "complex numbers" if dtype.kind == "c" else dtype.name
        raise NotImplementedError(f"the CUDA backend does not compile {name} ({what}); "
                                  "use float32 or float64") from None


def cast(expr: str, dtype: np.dtype) -> str:
    """expr converted to dtype, unless numba already computes it in that dtype."""
    numba_type(dtype)
    return _cpu.cast(expr, dtype)


def literal(value, dtype: np.dtype) -> str:
    """A typed constant (numba would compute `x32 * 2.5` in float64)."""
    numba_type(dtype, "constant")
    return _cpu.literal(value, dtype)


def _signed(out) -> bool:
    return out.kind == "i"


def _div(a, dt, out, p):
    x, y = a
    if _signed(out):
        return cast(f"_dm.trunc_div({x}, {y})", out)
    if out.kind == "u":
        return cast(f"({x} if {y} == 0 else {x} // {y})", out)
    return _cpu.RULES["div"](a, dt, out, p)


def _rem(a, dt, out, p):
    x, y = a
    if _signed(out):
        return cast(f"_dm.trunc_rem({x}, {y})", out)
    if out.kind == "u":
        return cast(f"({x} if {y} == 0 else {x} % {y})", out)
    return cast(f"math.fmod({x}, {y})", out)  # exact, as np.fmod


def _max(a, dt, out, p):
    x, y = a
    # floats: NaN from either side, and y on ties, as numpy's maximum on x86 (max(0., -0.) is
    # -0.; the CPU rule, `x >= y`, keeps x there)
    if out.kind == "f":
        return f"({x} if ({x} > {y} or {x} != {x}) else {y})"
    return _cpu.RULES["max"](a, dt, out, p)


def _min(a, dt, out, p):
    x, y = a
    if out.kind == "f":
        return f"({x} if ({x} < {y} or {x} != {x}) else {y})"
    return _cpu.RULES["min"](a, dt, out, p)


def _sign(a, dt, out, p):
    if out.kind == "f":
        return _cpu.RULES["sign"](a, dt, out, p)
    x = a[0]  # not (x > 0) - (x < 0): numpy scalars (the simulator) refuse bool subtraction
    return cast(f"(1 if {x} > 0 else (-1 if {x} < 0 else 0))", out)


def _round(a, dt, out, p):
    x = a[0]
    if p["rounding_method"] == 1:
        return cast(f"_dm.rint({x})", out)
    # the eager reference's sign(x) * floor(|x| + 0.5), in x's type
    sign = _cpu.RULES["sign"](a, dt, out, p)
    return cast(f"({sign} * _dm.floor(abs({x}) + {literal(0.5, out)}))", out)


def _logistic(a, dt, out, p):  # scipy's expit: 1 / (1 + exp(-x))
    one = literal(1, out)
    return cast(f"{one} / ({one} + math.exp(-{a[0]}))", out)


def _dm_call(fn):
    return lambda a, dt, out, p: cast(f"_dm.{fn}({', '.join(a)})", out)


def _polygamma(a, dt, out, p):
    return cast(f"_dm.polygamma({int(p['m'])}, {a[0]})", out)


RULES = dict(_cpu.RULES)
RULES.update({
    "div": _div, "rem": _rem, "max": _max, "min": _min, "sign": _sign, "round": _round,
    "floor": _dm_call("floor"), "ceil": _dm_call("ceil"), "nextafter": _dm_call("nextafter"),
    "cbrt": _dm_call("cbrt"), "digamma": _dm_call("digamma"), "polygamma": _polygamma,
    "logistic": _logistic,
    # vector_math's intrinsics build CPU code: libdevice's functions instead
    **{fn: _cpu._math(fn) for fn in ("exp", "log", "log1p", "expm1", "tanh")},
})


def scalar_expr(name: str, args: list[str], in_dtypes, out_dtype, params) -> str:
    rule = RULES.get(name)
    if rule is None:
        raise NotImplementedError(f"CUDA backend: no lowering for the elementwise primitive "
                                  f"{name!r}")
    in_dtypes = [np.dtype(d) for d in in_dtypes]
    for d in in_dtypes:
        numba_type(d, f"operand of {name}")
    numba_type(out_dtype, f"result of {name}")
    return rule(args, in_dtypes, np.dtype(out_dtype), params)
