"""The API reference (docs/api.md) is current, and the public API it documents is complete:
explicit `__all__` lists, a docstring (or a stated fallback) for every public callable, and the
names DESIGN.md section 2 promises."""
import importlib
import inspect
import re
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

import apidoc

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "numbax"

# DESIGN.md section 2 ("Public API"), module by module (`debug.print` is numbax.debug.print).
DESIGN_API = {
    "numbax": ["grad", "value_and_grad", "jvp", "vjp", "linearize", "linear_transpose", "jacfwd",
               "jacrev", "jacobian", "hessian", "vmap", "jit", "make_jaxpr", "eval_shape",
               "ShapeDtypeStruct", "custom_jvp", "custom_vjp", "checkpoint", "remat",
               "stop_gradient", "block_until_ready", "device_put", "debug"],
    "numbax.debug": ["print"],
    "numbax.lax": ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "select",
                   "stop_gradient", "add", "mul", "dot_general", "reduce_sum", "broadcast_in_dim"],
    "numbax.numpy": ["where", "dot", "matmul", "einsum", "outer", "reshape", "transpose",
                     "concatenate", "stack", "split", "squeeze", "expand_dims", "broadcast_to",
                     "linspace", "arange", "zeros", "ones", "eye", "cumsum", "clip", "sort",
                     "linalg"],
    "numbax.numpy.linalg": ["norm", "solve", "inv", "cholesky", "slogdet"],
    "numbax.nn": ["sigmoid", "relu", "softplus", "log_softmax", "softmax", "logsumexp"],
    "numbax.scipy.special": ["gammaln", "digamma", "xlogy", "xlog1py", "logsumexp", "erf", "erfc",
                             "expit", "logit"],
    "numbax.scipy.stats": ["norm", "poisson", "gamma", "beta", "chi2", "multivariate_normal"],
    "numbax.tree_util": ["tree_flatten", "tree_unflatten", "tree_map", "tree_leaves",
                         "tree_structure", "register_pytree_node", "register_pytree_node_class",
                         "register_dataclass"],
    "numbax.errors": ["ConcretizationTypeError", "TracerBoolConversionError",
                      "TracerArrayConversionError", "TracerIntegerConversionError",
                      "UnexpectedTracerError"],
}
# numbax.numpy names that numpy itself lacks: numbax's own, and NumPy 2's array-API names that
# an older numpy (numbax supports >= 1.26) does not have.
NUMBAX_SPECIFIC = {"Array"}
NUMPY2_NAMES = {"acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_invert",
                "cumulative_prod", "cumulative_sum", "matrix_transpose", "permute_dims"}
# Functions and classes defined in a public module but deliberately left out of its __all__.
NOT_EXPORTED = {"numbax.numpy.linalg": {"SlogdetResult"},  # as numpy.linalg
                "numbax.errors": {"user_frame", "NumbaxTypeError"},
                "numbax.config": {"log"}}
# Re-export modules: every public attribute they hold is API, except these helpers.
REEXPORTS = {"numbax.numpy": set(), "numbax.lax": {"get_aval"}}


def _module(name):
    return importlib.import_module(name)


def test_page_is_current():
    page = apidoc.PAGE.read_text() if apidoc.PAGE.exists() else ""
    assert page == apidoc.render(), (
        f"docs/api.md is stale: run `{apidoc.COMMAND}` (`{apidoc.COMMAND} --check` shows the diff)")


def test_page_is_environment_independent():
    page = apidoc.render()
    assert not re.search(r"0x[0-9a-fA-F]{6,}", page), "a memory address in docs/api.md"
    assert str(Path.home()) not in page and " object at " not in page
    assert "np.float" not in page and "<class " not in page, "a numpy-version-dependent repr"
    # tests/test_docs.py runs every fenced code block of docs/*.md
    assert "```" not in page


def test_every_module_is_public_or_internal():
    """A new module must be declared public (apidoc.PUBLIC_MODULES) or internal."""
    found = sorted("numbax." + ".".join(p.relative_to(SRC).with_suffix("").parts)
                   .removesuffix(".__init__") for p in SRC.rglob("*.py"))
    found = [m.removesuffix(".") for m in found]
    undecided = [m for m in found if m != "numbax" and m not in apidoc.PUBLIC_MODULES
                 and not apidoc.is_internal(m)]
    assert not undecided, f"declare these public or internal in tests/apidoc.py: {undecided}"
    assert all(m in found or m == "numbax" for m in apidoc.PUBLIC_MODULES)
    assert not any(apidoc.is_internal(m) for m in apidoc.PUBLIC_MODULES)


def test_public_modules_reachable_from_all():
    """Modules named in a public __all__ are documented too."""
    for name in apidoc.PUBLIC_MODULES:
        for e in apidoc.entries(name):
            if e.kind == "module":
                assert e.obj.__name__ in apidoc.PUBLIC_MODULES, f"{name}.{e.name}"


@pytest.mark.parametrize("name", apidoc.PUBLIC_MODULES)
def test_all_resolves(name):
    mod = _module(name)
    assert isinstance(getattr(mod, "__all__", None), list), f"{name} has no __all__"
    assert len(set(mod.__all__)) == len(mod.__all__), f"duplicates in {name}.__all__"
    for n in mod.__all__:
        assert hasattr(mod, n), f"{name}.__all__ names {n!r}, which is not there"
        obj = getattr(mod, n)
        assert n != "annotations" and not n.startswith("_")
        if isinstance(obj, types.ModuleType):  # a public submodule, not a helper like np
            assert obj.__name__ == f"{name}.{n}", f"{name}.{n} is the helper {obj.__name__}"


@pytest.mark.parametrize("name", apidoc.PUBLIC_MODULES)
def test_all_is_complete(name):
    """Functions and classes a public module defines (or, for numpy and lax, re-exports) are in
    its __all__ unless listed as deliberately internal."""
    mod = _module(name)
    missing = []
    for n, obj in vars(mod).items():
        if n.startswith("_") or n in mod.__all__ or n == "annotations" or \
                isinstance(obj, types.ModuleType):
            continue
        defined_here = getattr(obj, "__module__", None) == name and callable(obj)
        if (name in REEXPORTS and n not in REEXPORTS[name]) or \
                (defined_here and n not in NOT_EXPORTED.get(name, ())):
            missing.append(n)
    assert not missing, f"public names of {name} missing from its __all__: {missing}"


@pytest.mark.parametrize("name", apidoc.PUBLIC_MODULES)
def test_every_public_callable_is_documented(name):
    fallback = name in apidoc.FALLBACKS
    assert _module(name).__doc__, f"{name} has no module docstring"
    bad = []
    for e in apidoc.entries(name):
        if e.kind == "module":
            ok = e.own_doc
        elif e.kind in ("function", "class"):
            ok = e.own_doc or (fallback and e.kind == "function" and bool(e.summary))
        else:
            continue
        if not ok:
            bad.append(e.name)
    kind = "a docstring or a fallback" if fallback else "a docstring of its own"
    assert not bad, f"these names in {name}.__all__ need {kind}: {bad}"


@pytest.mark.parametrize("name", sorted(apidoc.FALLBACKS))
def test_fallbacks_name_real_functions(name):
    """A fallback says 'As `numpy.X`'; X must be numpy's (scipy.stats') own function."""
    if name == "numbax.lax":
        pytest.skip("jax is not a dependency")
    ref = np if name == "numbax.numpy" else getattr(scipy.stats, name.rsplit(".", 1)[1])
    wrong = [e.name for e in apidoc.entries(name) if e.kind == "function" and not e.own_doc
             and not hasattr(ref, e.name) and e.name not in NUMPY2_NAMES]
    assert not wrong, f"{name}: {wrong} need a docstring (no namesake to fall back on)"


def test_class_members_are_documented():
    bad, used = [], set()
    for qualname, cls in apidoc.public_classes():
        for n, v in vars(cls).items():
            if n.startswith("_") or n in getattr(cls, "_fields", ()):
                continue
            if not isinstance(v, (property, classmethod, staticmethod, types.FunctionType)):
                continue
            key = f"{cls.__name__}.{n}"
            if key in apidoc.MEMBER_FALLBACKS:
                used.add(key)
                assert not getattr(v, "__doc__", None), f"{key} has a docstring now: drop its " \
                                                        "entry from apidoc.MEMBER_FALLBACKS"
            elif not getattr(v, "__doc__", None):
                bad.append(f"{qualname}.{n}")
    assert not bad, f"public methods without a docstring: {bad}"
    assert used == set(apidoc.MEMBER_FALLBACKS), \
        f"stale MEMBER_FALLBACKS: {set(apidoc.MEMBER_FALLBACKS) - used}"


@pytest.mark.parametrize("name", sorted(DESIGN_API))
def test_design_names_exist(name):
    missing = [n for n in DESIGN_API[name] if n not in _module(name).__all__]
    assert not missing, f"DESIGN.md promises {missing} in {name}"


def _design_md():
    for path in (ROOT / "DESIGN.md", ROOT.parent / "shared" / "DESIGN.md"):
        if path.exists():
            return path.read_text()
    return None


def test_design_top_level_parsed():
    """The top-level names of DESIGN.md section 2, read from the page itself when it is here."""
    text = _design_md()
    if text is None:
        pytest.skip("DESIGN.md is not beside this checkout")
    section = text.split("## 2.", 1)[1].split("\n## ", 1)[0]
    paragraph = section.split("Top level `numbax`:", 1)[1].split("\n\n", 1)[0]
    names = {m.group(1).split(".")[0] for m in re.finditer(r"`([A-Za-z_][\w.]*)", paragraph)}
    assert names, "no names parsed from DESIGN.md section 2"
    unlisted = names - set(DESIGN_API["numbax"])
    assert not unlisted, f"add {unlisted} to DESIGN_API"
    import numbax
    missing = names - set(numbax.__all__)
    assert not missing, f"DESIGN.md section 2 promises {missing} in numbax.__all__"


def test_numpy_names_numpy_lacks(capsys):
    """numbax.numpy holds numpy's names only, plus documented numbax-specific ones."""
    import numbax.numpy as jnp
    extra = sorted(n for n in jnp.__all__ if not hasattr(np, n))
    with capsys.disabled():
        print(f"\nnumbax.numpy names numpy {np.__version__} lacks: {extra}")
    assert set(extra) <= NUMBAX_SPECIFIC | NUMPY2_NAMES, \
        f"undocumented numbax-specific names: {set(extra) - NUMBAX_SPECIFIC - NUMPY2_NAMES}"
    for n in NUMBAX_SPECIFIC:
        assert inspect.getdoc(getattr(jnp, n)), f"numbax.numpy.{n} needs a docstring"
