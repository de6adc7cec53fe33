"""The CUDA backend: the CPU backend's fusion plan, lowered to kernels for Numba's CUDA target.

runtime.py (lazy import, device arrays), codegen.py (kernels of fused groups, reductions, loop
kernels), matmul.py (dot_general), scalar_ops.py (elementwise rules), compiler.py (the host
program). Nothing here is imported until `device="cuda"` is used.
"""
