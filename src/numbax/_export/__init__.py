"""Standalone source code for a (transformed) function: `numbax.export(f, *example_args,
target=...)`.

The function is staged as `jit` stages it, at the shapes and dtypes of the example arguments,
and the optimised jaxpr (the program `jit` compiles) is written out for one of the targets:

* ``"python"``: plain numpy, one statement per equation, control flow as Python statements;
* ``"numba"``: the numba backend's fused loop kernels and host program in one file, with the
  helper functions they call copied in;
* ``"c"``: a C99 translation unit and header: fixed shapes, plain loops, libm only;
* ``"cuda"``: the CUDA backend's kernels (`jit(f, device="cuda")`'s, launched with fixed
  sizes), the device functions they call and the host program launching them, in one file
  for numba-cuda.

The exported code imports nothing of numbax. It takes the *flat* leaves of the example
arguments' pytree, in `tree_flatten` order, and returns the flat leaves of the result (one array
as it is, several as a tuple; the C function writes them to output buffers; the CUDA function
returns numba device arrays). The source carries a docstring (a header comment in C) listing the
arguments and results with their shapes.
"""
from __future__ import annotations

import os
import types

from ._common import Signature, aval_text, default_name, stage

TARGETS = ("python", "numba", "c", "cuda")


class Exported:
    """The source of an exported function and what it takes and returns.

    Attributes: `source` (str, also `str(exported)`), `target`, `name`, `in_avals` / `out_avals`
    (shapes and dtypes of the flat arguments and results), `arg_names` (the Python names of
    the flat arguments; `params` are the names in the source), `in_tree` / `out_tree` (the
    pytrees they flatten), for C `header` (the .h text), and for CUDA `kernels`: (name, numba
    signature) of every kernel in the source (`cuda.compile_ptx(<name>_py, signature)`
    compiles one ahead of time).
    """

    def __init__(self, source: str, target: str, name: str, sig: Signature, params, header=None,
                 kernels=None):
        self.source = source
        self.target = target
        self.name = name
        self.in_avals = sig.in_avals
        self.out_avals = sig.out_avals
        self.in_tree = sig.in_tree
        self.out_tree = sig.out_tree
        self.arg_names = sig.arg_names
        self.params = list(params)
        self.header = header
        self.kernels = kernels

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        ins = ", ".join(f"{p}: {aval_text(a)}" for p, a in zip(self.params, self.in_avals))
        outs = ", ".join(aval_text(a) for a in self.out_avals)
        return f"<Exported {self.target} {self.name}({ins}) -> ({outs})>"

    @property
    def pytree_note(self) -> str:
        return (f"arguments: the flat leaves of {self.in_tree}; results: the flat leaves of "
                f"{self.out_tree}")

    def save(self, path) -> str:
        """Write the source to path (for C, also the header next to it, with the suffix .h);
        returns the path."""
        path = os.fspath(path)
        with open(path, "w") as f:
            f.write(self.source)
        if self.header is not None:
            with open(os.path.splitext(path)[0] + ".h", "w") as f:
                f.write(self.header)
        return path

    def load(self, **kw):
        """The exported function, ready to call.

        python / numba / cuda: the source executed in a fresh module namespace (nothing of
        numbax is involved; cuda needs numba-cuda and a GPU, or NUMBA_ENABLE_CUDASIM=1 set before
        numba is imported). c: the source compiled with the system C compiler into a temporary
        shared library and wrapped with ctypes (`c.load_c` for the options)."""
        if self.target == "c":
            from .c import load_c
            return load_c(self, **kw)
        module = types.ModuleType(self.name)
        module.__dict__["__builtins__"] = __builtins__
        code = compile(self.source, f"<numbax export {self.name} ({self.target})>", "exec")
        exec(code, module.__dict__)
        return getattr(module, self.name)


def export(f, *example_args, target: str = "python", name: str | None = None,
           **example_kwargs) -> Exported:
    """Standalone source code computing f at the shapes and dtypes of the example arguments.

    f may be any function `jit` accepts, transformed or not (`grad(f)`, `vmap(grad(f))`, ...),
    or a `jit`-wrapped function (its static arguments are honoured). The example arguments may
    be arrays or `ShapeDtypeStruct`s; keyword arguments are example keyword arguments of f.
    Returns an `Exported`; primitives a target cannot express raise NotImplementedError naming
    them. Exporting needs no GPU (target "cuda" only generates source).
    """
    if target not in TARGETS:
        raise ValueError(f"export: unknown target {target!r}; choose one of {TARGETS}")
    jaxpr, sig = stage(f, example_args, example_kwargs)
    name = name if name is not None else _default(f, target)
    if target == "python":
        from .python import export_python
        source, params = export_python(jaxpr, sig, name)
        return Exported(source, target, name, sig, params)
    if target == "numba":
        from .numba import export_numba
        source, params = export_numba(jaxpr, sig, name)
        return Exported(source, target, name, sig, params)
    if target == "cuda":
        from .cuda import export_cuda
        source, params, kernels = export_cuda(jaxpr, sig, name)
        return Exported(source, target, name, sig, params, kernels=kernels)
    from .c import export_c
    source, header, params = export_c(jaxpr, sig, name)
    return Exported(source, target, name, sig, params, header=header)


def _default(f, target) -> str:
    from ._common import C_RESERVED, PY_RESERVED, sanitize
    name = default_name(f).lstrip("_") or "exported"
    if target == "cuda":
        from .cuda import RESERVED as reserved
    else:
        reserved = C_RESERVED if target == "c" else PY_RESERVED
    name = sanitize(name, reserved)
    return name if not name.startswith("_") else "f" + name


def supported_primitives(target: str) -> frozenset:
    """The primitive names a target translates (others raise NotImplementedError)."""
    if target == "python":
        from .python import SUPPORTED
    elif target == "numba":
        from .numba import SUPPORTED
    elif target == "c":
        from .c import SUPPORTED
    elif target == "cuda":
        from .cuda import SUPPORTED
    else:
        return frozenset()
    return SUPPORTED


# numbax.export is this function; its helpers travel with it
export.Exported = Exported
export.supported_primitives = supported_primitives

__all__ = ["Exported", "export", "supported_primitives"]
