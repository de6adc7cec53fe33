"""Render docs/api.md, the API reference, from the docstrings of the live modules.

    python tests/apidoc.py           write docs/api.md
    python tests/apidoc.py --check   exit 1 with a diff if docs/api.md is stale

The page depends only on numbax's own docstrings, `__all__` lists and signatures: annotations
are dropped and default values that are not plain literals are shown by name, so it reads the
same whatever numpy, numba or Python version renders it.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "api.md"
COMMAND = "python tests/apidoc.py"

# The public modules, in page order: those README.md and DESIGN.md document, and what
# `numbax/__init__.py` exports. Each has an explicit `__all__`.
_STATS = ["beta", "chi2", "gamma", "multivariate_normal", "norm", "poisson"]
PUBLIC_MODULES = [
    "numbax", "numbax.numpy", "numbax.numpy.linalg", "numbax.lax", "numbax.nn", "numbax.scipy",
    "numbax.scipy.special", "numbax.scipy.stats", *[f"numbax.scipy.stats.{d}" for d in _STATS],
    "numbax.tree_util", "numbax.flatten_util", "numbax.optimize", "numbax.distributed",
    "numbax.errors", "numbax.debug", "numbax.config", "numbax.passes",
]
# Everything else under numbax is internal: these modules and packages, the submodules of
# numbax.passes (the package exports the passes), and any module with a part starting "_".
INTERNAL_MODULES = ["numbax.api", "numbax.backends", "numbax.core", "numbax.dtypes",
                    "numbax.interpreters", "numbax.jaxpr", "numbax.primitives"]
INTERNAL_SUBMODULES_OF = ["numbax.passes"]


def is_internal(module_name: str) -> bool:
    """Whether module_name (under numbax) is internal by the rules above."""
    parts = module_name.split(".")
    parents = [".".join(parts[:i]) for i in range(1, len(parts))]
    return (any(p.startswith("_") for p in parts)
            or any(m in INTERNAL_MODULES for m in (*parents, module_name))
            or any(p in INTERNAL_SUBMODULES_OF for p in parents))


# Where a function has no docstring of its own it behaves as its namesake here.
FALLBACKS = {
    "numbax.numpy": "As `numpy.{name}`.",
    "numbax.lax": "As `jax.lax.{name}`.",
    **{f"numbax.scipy.stats.{d}": f"As `scipy.stats.{d}.{{name}}`." for d in _STATS},
}
# Class members without a docstring of their own, in files outside the API reference's care.
MEMBER_FALLBACKS = {
    "FitUncertainties.tree_flatten": "The pytree protocol: (children, aux_data).",
    "FitUncertainties.tree_unflatten": "The pytree protocol: the instance from (aux_data, "
                                       "children).",
    "custom_jvp.defjvp": "Set the jvp rule (see the class docstring); returns it, so it works "
                         "as a decorator.",
    "custom_vjp.defvjp": "Set the fwd and bwd rules (see the class docstring).",
    "ShapeDtypeStruct.ndim": "len(shape).",
    "ShapeDtypeStruct.size": "The number of elements.",
}
# The modules in FALLBACKS are listed as compact tables, one per family here (keyed by the
# module that defines the function), else one table.
FAMILIES = {
    "numbax.numpy": {
        "numbax.numpy._creation": "Creation", "numbax.numpy._contractions": "Products",
        "numbax.numpy._indexing": "Indexing", "numbax.numpy._reductions": "Reductions",
        "numbax.numpy._shapes": "Shapes, joining and splitting",
        "numbax.numpy._sorting": "Sorting and order statistics",
        "numbax.numpy._ufuncs": "Elementwise",
    },
    "numbax.lax": {
        "numbax.primitives.elementwise": "Elementwise", "numbax.primitives.indexing": "Indexing",
        "numbax.primitives.linalg": "Products", "numbax.primitives.reductions": "Reductions",
        "numbax.primitives.sorting": "Sorting", "numbax.primitives.shape": "Shapes",
        "numbax.primitives.conditionals": "Control flow", "numbax.primitives.loops": "Control flow",
        "numbax.lax": "Composites",
    },
}
_LITERALS = (type(None), bool, int, float, complex, str, bytes)


@dataclass
class Entry:
    """One name of a module's `__all__`, described."""
    name: str
    obj: object
    kind: str            # "module", "class", "function", "foreign" (numpy's own) or "value"
    signature: str | None
    summary: str         # the docstring's first paragraph, the fallback, or ""
    own_doc: bool        # the summary is the object's own docstring


# --------------------------------------------------------------------------- docstrings

def first_paragraph(doc: str | None) -> str:
    """The first paragraph of a docstring, on one line."""
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def own_doc(obj: object) -> str | None:
    """obj's own docstring: None when it has none or only an inherited or generated one."""
    if isinstance(obj, type):
        doc = vars(obj).get("__doc__")
        fields = getattr(obj, "_fields", None)
        if doc and fields is not None and doc == f"{obj.__name__}({', '.join(fields)})":
            return None  # namedtuple's generated docstring
        return doc or None
    return getattr(obj, "__doc__", None) or None


# --------------------------------------------------------------------------- signatures

class _Shown:
    """A default value as the page shows it."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _is_literal(v: object) -> bool:
    if type(v) in (tuple, list, frozenset):
        return all(_is_literal(x) for x in v)
    return type(v) in _LITERALS


def show_default(v: object) -> str:
    """A default value, independent of the environment: plain literals as written, classes and
    functions by name, anything else by its type (a bare `object()` is a `<sentinel>`)."""
    if v is Ellipsis:
        return "..."
    if _is_literal(v):
        return repr(v)
    name = getattr(v, "__name__", None)
    if isinstance(name, str) and (isinstance(v, type) or callable(v)):
        return name
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, np.generic) and _is_literal(v.item()):  # np.float64(1.5) -> 1.5
        return repr(v.item())
    return "<sentinel>" if type(v) is object else f"<{type(v).__name__}>"


def _constructor_owner(cls: type) -> type | None:
    for klass in cls.__mro__:
        if "__init__" in vars(klass) or "__new__" in vars(klass):
            return klass
    return None


def signature(obj: object, drop_first: bool = False) -> str | None:
    """`(a, b=1, *, c=None)` for a numbax function or class, None where there is none to show
    (objects from other libraries, whose signatures vary with their versions)."""
    if isinstance(obj, type):
        owner = _constructor_owner(obj)
        if owner is None or not owner.__module__.startswith("numbax"):
            return None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())[1 if drop_first else 0:]
    params = [p.replace(annotation=inspect.Parameter.empty,
                        default=p.default if p.default is inspect.Parameter.empty
                        else _Shown(show_default(p.default))) for p in params]
    return str(inspect.Signature(params))


# --------------------------------------------------------------------------- modules

def is_foreign(obj: object) -> bool:
    """Re-exported from another library (numpy's dtypes and helpers)."""
    module = getattr(obj, "__module__", None) or ""
    return (isinstance(obj, type) or callable(obj)) and not module.startswith("numbax")


def describe(module_name: str, name: str, obj: object) -> Entry:
    """The entry for module_name's public name (its docstring or the module's fallback)."""
    if isinstance(obj, types.ModuleType):
        return Entry(name, obj, "module", None, first_paragraph(obj.__doc__), bool(obj.__doc__))
    if is_foreign(obj):
        return Entry(name, obj, "foreign", None, "", False)
    if not callable(obj):
        return Entry(name, obj, "value", None, "", False)
    kind = "class" if isinstance(obj, type) else "function"
    doc = own_doc(obj)
    summary = first_paragraph(doc)
    if not doc and module_name in FALLBACKS:
        summary = FALLBACKS[module_name].format(name=name)
    return Entry(name, obj, kind, signature(obj), summary, bool(doc))


def entries(module_name: str) -> list[Entry]:
    """One entry per name of the module's `__all__`, in its order."""
    module = importlib.import_module(module_name)
    return [describe(module_name, n, getattr(module, n)) for n in module.__all__]


def alias_of(module_name: str, entry: Entry) -> str | None:
    """The name this function is also public under in the same module (`abs` -> `absolute`)."""
    target = getattr(entry.obj, "__name__", entry.name)
    module = importlib.import_module(module_name)
    if target != entry.name and target in module.__all__ and getattr(module, target) is entry.obj:
        return target
    return None


@dataclass
class Member:
    """A public attribute, property or method of a class."""
    name: str
    signature: str | None
    summary: str
    own_doc: bool


def members(cls: type) -> tuple[list[str], list[Member]]:
    """(namedtuple fields, the other public members) defined by the class itself."""
    fields, out = list(getattr(cls, "_fields", ())), []
    for name, v in vars(cls).items():
        if name.startswith("_") or name in fields:
            continue
        sig = None
        if isinstance(v, (classmethod, staticmethod)):
            sig = signature(v.__func__, drop_first=isinstance(v, classmethod))
        elif inspect.isfunction(v):
            sig = signature(v, drop_first=True)
        doc = getattr(v, "__doc__", None) if isinstance(v, (property, classmethod, staticmethod)) \
            or inspect.isfunction(v) else None
        summary = first_paragraph(doc) or MEMBER_FALLBACKS.get(f"{cls.__name__}.{name}", "")
        out.append(Member(name, sig, summary, bool(doc)))
    return fields, out


def public_classes() -> list[tuple[str, type]]:
    """(qualified name, class) of every numbax class in a public module's `__all__`."""
    out, seen = [], set()
    for module_name in PUBLIC_MODULES:
        for e in entries(module_name):
            if e.kind == "class" and e.obj not in seen:
                seen.add(e.obj)
                out.append((f"{module_name}.{e.name}", e.obj))
    return out


# --------------------------------------------------------------------------- markdown

def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = heading.strip().lower().replace(" ", "-")
    return "".join(c for c in text if c.isalnum() or c in "-_")


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def _module_link(name: str) -> str:
    return f"[`{name}`](#{slug(name)})" if name in PUBLIC_MODULES else f"`{name}`"


def _value_text(entry: Entry) -> str:
    if _is_literal(entry.obj):
        return f"`{entry.name}` = `{entry.obj!r}`"
    return f"`{entry.name}` (a `{type(entry.obj).__name__}`)"


def render_class(module_name: str, e: Entry) -> list[str]:
    base = ""
    if issubclass(e.obj, BaseException):
        base = f" ({', '.join(b.__name__ for b in e.obj.__bases__)})"
    lines = [f"### `{module_name}.{e.name}`", ""]
    if e.signature:
        lines += [f"class `{e.name}{e.signature}`{base}", ""]
    elif base:
        lines += [f"class `{e.name}`{base}", ""]
    lines += [e.summary, ""]
    fields, mems = members(e.obj)
    if fields:
        lines += ["Fields: " + ", ".join(f"`{f}`" for f in fields) + ".", ""]
    described = [m for m in mems if m.signature or m.summary]
    for m in described:
        head = f"`{m.name}{m.signature}`" if m.signature else f"`{m.name}`"
        lines.append(f"- {head}" + (f": {m.summary}" if m.summary else ""))
    if described:
        lines.append("")
    attributes = [m for m in mems if m not in described]
    if attributes:
        lines += ["Attributes: " + ", ".join(f"`{m.name}`" for m in attributes) + ".", ""]
    return lines


def render_function(module_name: str, e: Entry) -> list[str]:
    alias = alias_of(module_name, e)
    sig = f"`{e.name}{e.signature}`" if e.signature else f"`{e.name}`"
    summary = f"Same as `{alias}`." if alias else e.summary
    return [f"### `{module_name}.{e.name}`", "", sig, "", summary, ""]


def render_table(module_name: str, es: list[Entry]) -> list[str]:
    """The module's functions as tables, one per family, in `__all__` order."""
    families: dict[str, list[Entry]] = {}
    for e in es:
        label = FAMILIES.get(module_name, {}).get(getattr(e.obj, "__module__", ""), "Functions")
        families.setdefault(label, []).append(e)
    lines = []
    for label, group in families.items():
        lines += [f"### {module_name}: {label.lower()}", "", "| name | signature | summary |",
                  "|---|---|---|"]
        for e in group:
            alias = alias_of(module_name, e)
            summary = f"Same as `{alias}`." if alias else e.summary
            lines.append(f"| `{e.name}` | {cell(f'`{e.signature}`' if e.signature else '')} "
                         f"| {cell(summary)} |")
        lines.append("")
    return lines


def render_module(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    lines = [f"## `{module_name}`", ""]
    if module.__doc__:
        lines += [inspect.cleandoc(module.__doc__), ""]
    es = entries(module_name)
    subs = [e for e in es if e.kind == "module"]
    if subs:
        links = ", ".join(_module_link(f"{module_name}.{e.name}") for e in subs)
        lines += [f"Modules: {links}.", ""]
    classes = [e for e in es if e.kind == "class"]
    functions = [e for e in es if e.kind == "function"]
    for e in classes:
        lines += render_class(module_name, e)
    if module_name in FALLBACKS:
        lines += render_table(module_name, functions)
    else:
        for e in functions:
            lines += render_function(module_name, e)
    foreign = [e for e in es if e.kind == "foreign"]
    if foreign:
        names = ", ".join(f"`{e.name}`" for e in foreign)
        lines += [f"From numpy itself (dtypes and dtype helpers): {names}.", ""]
    values = [e for e in es if e.kind == "value"]
    if values:
        lines += ["Values: " + ", ".join(_value_text(e) for e in values) + ".", ""]
    return lines


def render() -> str:
    """The whole page."""
    lines = [
        "# API reference", "",
        f"Generated from the docstrings of the live modules by `{COMMAND}`; edit the docstrings, "
        f"not this page (`{COMMAND} --check` says whether it is stale, and "
        "`tests/test_api_reference.py` fails when it is).", "",
        "The public modules are the ones below, each with an explicit `__all__`. Everything else "
        "under `numbax` (" + ", ".join(f"`{m}`" for m in INTERNAL_MODULES) + ", the submodules "
        "of " + ", ".join(f"`{m}`" for m in INTERNAL_SUBMODULES_OF) + ", and any module whose "
        "name starts with `_`) is internal and may change without notice.",
        "",
        "In `numbax.numpy`, `numbax.lax` and the `numbax.scipy.stats` distributions, a function "
        "without a docstring of its own behaves like its namesake in numpy, `jax.lax` or "
        "`scipy.stats`, and its entry says so (\"As `numpy.cos`.\"); where numbax differs, the "
        "docstring says how.", "",
        "## Contents", "",
    ]
    for name in PUBLIC_MODULES:
        summary = first_paragraph(importlib.import_module(name).__doc__)
        lines.append(f"- {_module_link(name)}" + (f": {summary}" if summary else ""))
    lines.append("")
    for name in PUBLIC_MODULES:
        lines += render_module(name)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 with a diff if docs/api.md is stale; write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        old = PAGE.read_text() if PAGE.exists() else ""
        if old == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            old.splitlines(keepends=True), text.splitlines(keepends=True),
            "docs/api.md", f"docs/api.md as {COMMAND} renders it"))
        print(f"\ndocs/api.md is stale: run `{COMMAND}`.")
        return 1
    PAGE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
