"""Where CUDA comes from: numba's CUDA target, imported lazily, and the arrays that live there.

numbax does not need CUDA to import. The first use of `device="cuda"` imports `numba.cuda`
(the `numba-cuda` package when installed, else the target numba still ships) and checks that a
GPU answers, or that the simulator (`NUMBA_ENABLE_CUDASIM=1`, set before numba is imported) is
on. Either failure is a `RuntimeError` that says which one happened and what to do.

Device arrays are numba's `DeviceNDArray` (or the simulator's stand-in); anything else that
exposes `__cuda_array_interface__` (CuPy, PyTorch) is wrapped without a copy.
"""
from __future__ import annotations

import numpy as np

from ... import core

_cuda = None


def cuda_module():
    """numba.cuda, once checked that it can run kernels here."""
    global _cuda
    if _cuda is not None:
        return _cuda
    try:
        import numba
        from numba import cuda
    except ImportError as e:   # pragma: no cover - numba is a dependency
        raise RuntimeError(f"device='cuda' needs numba's CUDA target: {e}. Install it with "
                           "`pip install numbax[cuda]` (numba-cuda).") from e
    if not numba.config.ENABLE_CUDASIM:
        try:
            ok = cuda.is_available()
        except Exception as e:   # pragma: no cover - depends on the machine
            raise RuntimeError(f"device='cuda': numba's CUDA target failed to start ({e}). "
                               "Install the driver and `pip install numbax[cuda]`, or set "
                               "NUMBA_ENABLE_CUDASIM=1 before importing numbax to run on "
                               "Numba's CUDA simulator.") from e
        if not ok:
            raise RuntimeError(
                "device='cuda': no CUDA GPU is available (numba.cuda.is_available() is False: "
                "no NVIDIA driver, or no device). Set NUMBA_ENABLE_CUDASIM=1 before importing "
                "numbax to run on Numba's CUDA simulator (slow, for tests).")
    _cuda = cuda
    core.register_device_array_type(_device_array_types())
    return cuda


def _device_array_types() -> tuple:
    if simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        return (FakeCUDAArray,)
    from numba.cuda.cudadrv.devicearray import DeviceNDArray
    return (DeviceNDArray,)


def simulated() -> bool:
    """Whether numba runs CUDA kernels on its simulator (NUMBA_ENABLE_CUDASIM=1)."""
    import numba
    return bool(numba.config.ENABLE_CUDASIM)


def is_device_array(x) -> bool:
    return hasattr(x, "__cuda_array_interface__") or \
        (_cuda is not None and isinstance(x, core.DEVICE_ARRAY_TYPES))


def to_device(x):
    """x as a numba device array: device arrays pass through (foreign ones wrapped without a
    copy), anything else is converted with numpy and copied over."""
    cuda = cuda_module()
    if isinstance(x, core.DEVICE_ARRAY_TYPES):
        return x
    if hasattr(x, "__cuda_array_interface__"):
        return cuda.as_cuda_array(x)
    return cuda.to_device(np.ascontiguousarray(x))


class CudaDevice:
    """A GPU as `numbax.devices()` lists it."""

    platform = "gpu"
    device_kind = "cuda"

    def __init__(self, index: int, name: str):
        self.id, self.name = index, name

    def __repr__(self):
        return f"CudaDevice(id={self.id}, name={self.name!r})"


def devices() -> list:
    """The GPUs numba sees (one simulated GPU under the simulator)."""
    cuda = cuda_module()
    if simulated():
        return [CudaDevice(0, "CUDA simulator")]
    out = []
    for i, gpu in enumerate(cuda.gpus):
        name = gpu.name.decode() if isinstance(gpu.name, bytes) else str(gpu.name)
        out.append(CudaDevice(i, name))
    return out
