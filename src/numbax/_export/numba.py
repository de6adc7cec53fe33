"""target="numba": the numba backend's program for the function, made standalone.

The backend's partition and code generator run as they do for `jit` (so the exported kernels
are the ones `jit(f).lower(...).as_text()` shows), but nothing is compiled here: the kernel
modules are collected as text. One file then holds

* the functions of scalar_math / vector_math / linalg_loops the kernels call, copied with
  what they depend on and renamed with a prefix (`_sm.digamma` becomes `_sm_digamma`);
* every fused loop kernel (`_k0`, `_k1`, ...) and native control-flow function (`_n3`, with
  its own kernels `_n3_k0`, ...);
* the constants, and numpy functions (from the Python target) for the host steps that run
  numpy code under jit (index maps materialised on the host, LAPACK calls, sort, a loop
  whose body has no native form);
* the host function, under the exported name.

Kernels are compiled when the file is executed (they carry explicit signatures). They are
cached on disk (numba's `cache=True`, next to the file) only when the file is imported from a
real file; executed from a string they compile in memory.

The helper copying (`_helper_source`) serves the CUDA target too: its kernels call
numba_cuda/device_math.py (`_dm.`) and scalar_math.
"""
from __future__ import annotations

import ast
import functools
import io
import os
import tokenize
from typing import NamedTuple

import numpy as np

from ..jaxpr import Jaxpr
from ._common import (Namer, check_name, describe, doc_text, module_doc, names_in, npt,
                      param_names, py_array, py_scalar, rename_tokens, single_equation)
from .python import PyModule, emit_function, prepare

#: the helper modules generated kernels call, by the prefix they call them with: (backend
#: package, module); the CUDA target's kernels call device_math and scalar_math
_HELPER_MODULES = {"_sm": ("numba_cpu", "scalar_math"), "_vm": ("numba_cpu", "vector_math"),
                   "_la": ("numba_cpu", "linalg_loops"), "_dm": ("numba_cuda", "device_math")}
#: the order their copies come in (device_math uses scalar_math's tables and functions)
_HELPER_ORDER = ("_sm", "_vm", "_la", "_dm")
#: the prefixes each backend's kernels use
CPU_HELPERS = ("_sm", "_vm", "_la")
CUDA_HELPERS = ("_dm", "_sm")
_IMPORTS = {"math": "import math", "np": "import numpy as np", "numba": "import numba",
            "types": "from numba import types",
            "intrinsic": "from numba.extending import intrinsic", "ir": "from llvmlite import ir"}


class _Source:
    """What the backend would have compiled: a module's source and the function it wanted."""

    def __init__(self, source: str, fn_name: str):
        self.source, self.fn_name = source, fn_name


def _collect(source: str, fn_name: str) -> _Source:
    return _Source(source, fn_name)


# --------------------------------------------------------------------------- helper modules

class _Stmt(NamedTuple):
    """A top-level statement of a module: its source, the names it defines and uses, the
    `alias.name` references to other helper modules ({prefix: names}), and whether it holds
    an import (then it is renamed through its syntax tree)."""
    src: str
    defined: set
    used: set
    refs: dict
    imports: bool


class _Parsed(NamedTuple):
    stmts: list      # _Stmt, without the imports and the module docstring
    top: set         # the names the statements define
    imports: dict    # name -> the import line of the module's absolute top-level imports
    attrs: dict      # the alias of another helper module -> its prefix + "_"


def _parse(text: str) -> _Parsed:
    """A module's statements, for copying some of them (with what they use) elsewhere."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    by_module = {mod: p for p, (_, mod) in _HELPER_MODULES.items()}
    imports, attrs, stmts = {}, {}, []
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                imports[a.asname or a.name.split(".")[0]] = \
                    f"import {a.name}" + (f" as {a.asname}" if a.asname else "")
            continue
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                bound = a.asname or a.name
                if node.level and a.name in by_module:
                    attrs[bound] = by_module[a.name] + "_"
                elif not node.level and node.module != "__future__":
                    imports[bound] = f"from {node.module} import {a.name}" + \
                        (f" as {a.asname}" if a.asname else "")
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        src = "".join(lines[start - 1:node.end_lineno])
        nested = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
        defined = set()
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                defined |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        else:  # if / try / with / for: what it binds, imports included
            defined |= {n.id for n in ast.walk(node)
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            defined |= {a.asname or a.name.split(".")[0] for n in nested for a in n.names}
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        refs: dict = {}
        for n in ast.walk(node):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and \
                    n.value.id in attrs:
                refs.setdefault(attrs[n.value.id][:-1], set()).add(n.attr)
        stmts.append(_Stmt(src, defined, used, refs, bool(nested)))
    top = set().union(*(s.defined for s in stmts))
    return _Parsed(stmts, top, imports, attrs)


@functools.lru_cache(maxsize=None)
def _helper_module(prefix: str) -> _Parsed:
    """A helper module of a backend, parsed from its source file."""
    from .. import backends
    package, module = _HELPER_MODULES[prefix]
    path = os.path.join(os.path.dirname(backends.__file__), package, module + ".py")
    with open(path) as f:
        return _parse(f.read())


def _rename(src: str, mapping: dict, attrs: dict, through_tree: bool = False) -> str:
    """src with the names in mapping renamed and `alias.name` (alias in attrs) replaced by
    attrs[alias] + name. A statement holding imports is renamed through its syntax tree
    (`import math` binding a renamed `math` becomes `import math as <new name>`), and loses
    its comments."""
    if not through_tree:
        return rename_tokens(src, mapping, attrs)

    class Renamer(ast.NodeTransformer):
        def visit_Name(self, node):
            node.id = mapping.get(node.id, node.id)
            return node

        def visit_Attribute(self, node):
            if isinstance(node.value, ast.Name) and node.value.id in attrs:
                return ast.copy_location(ast.Name(attrs[node.value.id] + node.attr, node.ctx),
                                         node)
            self.generic_visit(node)
            return node

        def visit_alias(self, node):
            bound = node.asname or node.name
            if bound in mapping:
                node.asname = mapping[bound]
            return node

        def visit_FunctionDef(self, node):
            node.name = mapping.get(node.name, node.name)
            self.generic_visit(node)
            return node

        visit_ClassDef = visit_FunctionDef

    return ast.unparse(Renamer().visit(ast.parse(src))) + "\n"


def _join(chosen: list[str]) -> str:
    """Statements as module text: definitions two blank lines apart, runs of simple
    statements together."""
    text = ""
    for i, s in enumerate(chosen):
        s = s.rstrip("\n") + "\n"
        simple = not s.startswith(("def ", "class ", "@"))
        if i:
            prev_simple = not chosen[i - 1].startswith(("def ", "class ", "@"))
            text += "" if simple and prev_simple else "\n\n"
        text += s
    return text


def _helper_source(needed: dict) -> tuple[str, dict]:
    """The source of the helper functions in needed ({prefix: names}) with everything they use
    (in their module, and in the other helper modules they call), renamed `<prefix>_<name>`;
    and the import lines the code needs, by the name they bind."""
    want = {p: set(n) for p, n in needed.items() if n}
    changed = True
    while changed:  # the closure of what the wanted statements use
        changed = False
        for prefix in [p for p in _HELPER_ORDER if p in want]:
            mod = _helper_module(prefix)
            names = want[prefix]
            while True:
                more = set()
                for st in mod.stmts:
                    if st.defined & names:
                        more |= st.used & mod.top
                if more <= names:
                    break
                names |= more
            for st in mod.stmts:
                if st.defined & names:
                    for q, refs in st.refs.items():
                        if not refs <= want.setdefault(q, set()):
                            want[q] |= refs
                            changed = True
    parts, imports = [], {}
    for prefix in [p for p in _HELPER_ORDER if want.get(p)]:
        mod = _helper_module(prefix)
        mapping = {n: f"{prefix}_{n}" for n in mod.top}
        chosen = []
        for st in mod.stmts:
            if st.defined & want[prefix]:
                chosen.append(_rename(st.src, mapping, mod.attrs, st.imports)
                              .replace("cache=True", "cache=_CACHE"))
                imports.update({n: mod.imports[n] for n in st.used if n in mod.imports})
        package, module = _HELPER_MODULES[prefix]
        backend = "numba" if package == "numba_cpu" else "CUDA"
        parts.append(f"# ---- copied from the {backend} backend of numbax: {module}.py (renamed "
                     f"{prefix}_*) ----\n" + _join(chosen))
    return "\n\n".join(parts), imports


def _helper_refs(source: str, prefixes=CPU_HELPERS) -> dict:
    """{prefix: names} of the `_sm.name`-style references in source."""
    toks = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type in (tokenize.NAME, tokenize.OP)]
    refs: dict = {}
    for a, b, c in zip(toks, toks[1:], toks[2:]):
        if a.string in prefixes and b.string == "." and c.type == tokenize.NAME:
            refs.setdefault(a.string, set()).add(c.string)
    return refs


def _merge(into: dict, refs: dict) -> None:
    for k, v in refs.items():
        into.setdefault(k, set()).update(v)


_ATTRS = {p: p + "_" for p in _HELPER_MODULES}

#: defines `_CACHE`, the `cache=` of the copied njit functions (needs `import os, sys`)
CACHE_LINE = ("# numba's on-disk cache needs a real file: it is on when this module is imported "
              "from one\n_CACHE = bool(globals().get(\"__file__\")) and os.path.isfile(__file__) "
              "and \\\n    sys.modules.get(__name__) is not None")


# --------------------------------------------------------------------------- kernels

def _functions_of(module_source: str) -> str:
    """The functions of a generated kernel module, without its imports."""
    return module_source[module_source.index("@numba.njit"):]


def _kernel(source: str, name: str) -> str:
    body = _functions_of(source)
    desc = source.splitlines()[0]
    desc = desc[len("# numbax kernel: "):] if desc.startswith("# numbax kernel: ") else ""
    body = rename_tokens(body, {"kernel": name}, _ATTRS).replace("cache=True", "cache=_CACHE")
    return (f"# {name}: {desc}\n" if desc else "") + body


def _native(source: str, name: str, what: str) -> str:
    body = _functions_of(source)
    tree = ast.parse(body)
    mapping = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            mapping[node.name] = name if node.name == "run" else f"{name}_{node.name}"
    body = rename_tokens(body, mapping, _ATTRS).replace("cache=True", "cache=_CACHE")
    return f"# {name}: {what} as one numba function\n" + body


# --------------------------------------------------------------------------- the target

def _value_text(value) -> str:
    if isinstance(value, np.ndarray) and value.ndim:
        return py_array(value)
    a = np.asarray(value)
    return py_scalar(a[()], a.dtype)


def export_numba(jaxpr: Jaxpr, sig, name: str) -> tuple[str, list[str]]:
    """(module source, parameter names) of the exported numba program."""
    from ..backends.numba_cpu.host import HostProgram, _Alloc
    from ..backends.numba_cpu.partition import HostCall, Plan
    check_name(name)
    optimized = prepare(jaxpr)
    plan = Plan(optimized)
    host = HostProgram(plan, _collect)
    step_eqns = {f"f{s.index}": s.eqn for s in plan.steps if type(s) is HostCall}
    native_eqns = {f"n{s.index}": s.eqn for s in plan.steps if type(s) is HostCall}

    helpers: dict = {}
    kernels, natives, consts = [], [], []
    pymod = PyModule(taken=[name])     # numpy code for host steps
    rename: dict = {}
    fallback_eqns = {}
    for key, value in host.env.items():
        if key in ("np", "_scalar", "_normalize", "_in_avals", "_pool", "_scratch"):
            continue
        rename[key] = "_" + key
        if isinstance(value, _Source) and value.fn_name == "kernel":
            kernels.append(_kernel(value.source, "_" + key))
            _merge(helpers, _helper_refs(value.source))
        elif isinstance(value, _Source) and value.fn_name == "run":
            eqn = native_eqns[key]
            if "_native" in value.source.split("@numba.njit", 1)[0]:
                # it calls back into numbax (a print in a loop): run the loop in numpy instead
                fallback_eqns["_" + key] = (eqn, True)
                continue
            natives.append(_native(value.source, "_" + key,
                                   f"the {eqn.primitive.name} equation"))
            _merge(helpers, _helper_refs(value.source))
        elif isinstance(value, functools.partial) and key in step_eqns:
            fallback_eqns["_" + key] = (step_eqns[key], False)
        elif key.startswith(("c", "n")) and not callable(value):
            consts.append(f"_{key} = {_value_text(value)}")
        else:
            raise NotImplementedError(f"export(target='numba'): the host program refers to "
                                      f"{key!r} ({type(value).__name__}), which has no standalone "
                                      f"form")
    pymod.globals |= set(rename.values())
    for fname, (eqn, swallow) in fallback_eqns.items():
        sub = single_equation(eqn)
        namer = Namer()
        params = [namer.fresh() for _ in sub.invars] + (["*_unused"] if swallow else [])
        pymod.globals.add(fname)
        emit_function(pymod, fname, sub, params, entry=True,
                      scalar_return=not eqn.primitive.multiple_results, copy_views=True)

    # ---- the host function
    params = [f"a{i}" for i in range(len(optimized.invars))]
    body = [ln if type(ln) is str else ln.render(host.scratch.get(ln.name)) for ln in host.lines]
    outs = []
    for v, x in zip(optimized.outvars, host.outputs):
        a = v.aval
        outs.append(f"{npt(a.dtype)}({x})" if a.ndim == 0 else x)
    if len(outs) == 1:
        ret = f"return {outs[0]}"
    else:
        ret = f"return ({''.join(o + ', ' for o in outs)})"
    lines = []
    if params:
        lines.append(f"{', '.join(params)}, = _normalize(({', '.join(params)},))")
    if host.scratch:
        lines += ["try:", "    _s = _pool.pop()", "except IndexError:", "    _s = _scratch()"]
    lines += body
    if host.scratch:
        lines.append("_pool.append(_s)")
    lines.append(ret)
    host_src = "\n".join(lines) + "\n"
    host_src = rename_tokens(host_src, rename)
    # the flat arguments under their Python names where that cannot clash
    nice = param_names(sig.arg_names)
    used = names_in(host_src)
    if len(set(nice)) == len(nice) and not (set(nice) & (used | set(rename.values()))):
        host_src = rename_tokens(host_src, dict(zip(params, nice)))
        params = nice
    doc = describe(sig, params, "numba", name,
                   "Takes and returns numpy arrays (numpy scalars for rank 0); several results\n"
                   "come back as a tuple.")
    text = '    """' + "\n".join(("    " + ln) if ln else "" for ln in
                                 doc_text(doc).split("\n")).lstrip() + '\n    """\n'
    host_fn = f"def {name}({', '.join(params)}):\n" + text + "".join(
        "    " + ln + "\n" if ln else "\n" for ln in host_src.splitlines())

    # ---- support code
    support = ["def _scalar(x):\n    return x[()] if isinstance(x, np.ndarray) else x\n"]
    if optimized.invars:
        avals = ", ".join(f"({a.ndim}, {npt(a.dtype)})" for a in optimized.in_avals)
        support.append(f"_IN = [{avals}]\n\n\n"
                       "def _normalize(args):\n"
                       '    """The arguments as the kernels\' signatures want them: C-contiguous '
                       'arrays\n    and numpy scalars of the exported dtypes."""\n'
                       "    return [np.ascontiguousarray(a, dt) if nd else np.asarray(a, dt)[()]\n"
                       "            for a, (nd, dt) in zip(args, _IN)]\n")
    if host.scratch:
        shapes = [None] * len(host.scratch)
        for ln in host.lines:
            if type(ln) is _Alloc and ln.name in host.scratch:
                shapes[host.scratch[ln.name]] = (ln.shape, ln.dtype)
        allocs = ", ".join(f"np.empty({s}, {npt(d)})" for s, d in shapes)
        support.append("# large intermediates live in scratch buffers kept between calls (one "
                       "set per\n# concurrent caller)\n_pool = []\n\n\n"
                       f"def _scratch():\n    return ({allocs},)\n")

    helper_src, helper_imports = _helper_source(helpers)
    imports = ["import os", "import sys", "", "import numpy as np", "import numba"]
    for n in ("math", "types", "intrinsic", "ir"):
        if n in helper_imports or (n == "math" and any("math." in k for k in kernels + natives)):
            imports.append(_IMPORTS[n])
    imports += [ln for ln in pymod.imports if ln != "import numpy as np"]
    if any("base64" in c for c in consts) and "import base64" not in imports:
        imports.append("import base64")
    cache = CACHE_LINE
    parts = [f'"""{doc_text(module_doc(name, "numba"))}\n"""',
             "from __future__ import annotations",
             "# Generated by numbax.export (target \"numba\"): numba + numpy, no numbax import.\n"
             + "\n".join(imports), cache]
    if helper_src:
        parts.append(helper_src.rstrip("\n"))
    parts += [k.rstrip("\n") for k in kernels + natives]
    if consts or pymod.consts:
        parts.append("\n".join(consts + pymod.consts))
    parts += [s.rstrip("\n") for s in pymod.helpers.values()]
    parts += [s.rstrip("\n") for s in pymod.functions]
    parts += [s.rstrip("\n") for s in support]
    parts += [host_fn.rstrip("\n"), f"__all__ = {[name]!r}"]
    return "\n\n\n".join(parts) + "\n", params


SUPPORTED = None  # filled below: what jit compiles and the numpy fallbacks can express


def _supported() -> frozenset:
    from ..backends.numba_cpu.partition import (HOST_CALLS, LOOP_KERNELS, REDUCTIONS, VIEWS)
    from ..backends.numba_cpu.scalar_ops import RULES as ELEMENTWISE
    from .python import SUPPORTED as PY
    jit = set(ELEMENTWISE) | REDUCTIONS | VIEWS | LOOP_KERNELS | HOST_CALLS
    return frozenset(n for n in jit if n in PY or n in ELEMENTWISE)


SUPPORTED = _supported()
