"""CUDA tests come in two tiers.

* Tests that launch kernels run where kernels can run: on a GPU, or on Numba's simulator,
  which must be switched on before numba is imported, so in a process of its own:

      NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda

* Tests with `ptx` in their name compile generated kernels to PTX with `numba.cuda.compile_ptx`,
  which needs numba-cuda and NVVM (`pip install numbax[cuda]`) but no GPU; the simulator
  cannot compile, so they run without it.

Anything a machine cannot do is skipped, saying why."""
import functools
import os
import sys

import pytest

# the CUDA tests reuse program generators and checks of the main suite
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@functools.lru_cache(None)
def cuda_runs() -> bool:
    import numba
    if numba.config.ENABLE_CUDASIM:
        return True
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:
        return False


@functools.lru_cache(None)
def ptx_compiles() -> bool:
    import numba
    if numba.config.ENABLE_CUDASIM:
        return False
    try:
        from numba import cuda
        if getattr(cuda, "implementation", None) != "NVIDIA":
            return False   # numba's own, deprecated target asks for a driver in some compiles

        def probe(x):
            x[0] = 1.0
        cuda.compile_ptx(probe, "void(float64[::1])", cc=(8, 0))
        return True
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    mine = [item for item in items if str(item.fspath).startswith(here)]
    if not mine:
        return
    no_run = pytest.mark.skip(reason="CUDA tests need a GPU or NUMBA_ENABLE_CUDASIM=1 "
                                     "(run: NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda)")
    no_ptx = pytest.mark.skip(reason="PTX tests need numba-cuda with NVVM (pip install "
                                     "numbax[cuda]) and no simulator")
    for item in mine:
        if "ptx" in item.name:
            if not ptx_compiles():
                item.add_marker(no_ptx)
        elif not cuda_runs():
            item.add_marker(no_run)
