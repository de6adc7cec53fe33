"""numbax: JAX's function transformations, compiled with Numba."""
from . import config, debug, errors, lax, nn, numpy, tree_util  # noqa: F401  (numpy registers all)
from .api import (ShapeDtypeStruct, block_until_ready, device_put, devices, eval_shape, grad,
                  hessian, jacfwd, jacobian, jacrev, jit, jvp, linear_transpose, linearize,
                  make_jaxpr, value_and_grad, vjp, vmap)
from .numpy import Array
from .primitives.custom_derivatives import custom_jvp, custom_vjp
from .primitives.elementwise import stop_gradient
from .primitives.remat import checkpoint, remat
from ._export import export
from ._show import show
from . import distributed, flatten_util, optimize, scipy  # noqa: E402,F401  (after the core)

__version__ = "0.1.0"

__all__ = ["Array", "ShapeDtypeStruct", "block_until_ready", "checkpoint", "config", "custom_jvp",
           "custom_vjp", "debug", "device_put", "devices", "distributed", "eval_shape", "export",
           "flatten_util", "grad",
           "hessian", "jacfwd", "jacobian", "jacrev", "jit", "jvp", "lax", "linear_transpose",
           "linearize", "make_jaxpr", "nn", "numpy", "optimize", "remat", "scipy", "show",
           "stop_gradient", "tree_util", "value_and_grad", "vjp", "vmap"]
