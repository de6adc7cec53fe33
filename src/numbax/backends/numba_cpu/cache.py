"""L2/L3 kernel cache: generated module source -> numba dispatcher.

`load_kernel(source, fn_name)` turns the text of a generated kernel module (imports plus one or
more ``@numba.njit("<explicit signature>", cache=True, ...)`` functions) into the dispatcher
named `fn_name`.  Explicit signatures mean numba compiles, or loads from its own on-disk cache,
while the module executes.

Levels
  L2 (memory)  source text -> executed module namespace.  Thread-safe: one lock per key, so two
               threads asking for the same source compile it once.
  L3 (disk)    ``<config.cache_dir>/kernels/numbax_k_<32 hex of key>.py``, imported with
               importlib and registered in ``sys.modules`` before it executes (numba's cache
               locator needs a real file and module).  numba keeps its index/data files
               (``__pycache__/numbax_k_<hex>.<fn>-<line>.py311.nbi`` / ``.<n>.nbc``) next to it.

Key: sha256 of (CODEGEN_VERSION, numba/llvmlite versions, numpy major.minor, Python version and
cache tag, the sources of the helper modules kernels import, source).  numba only checks the
kernel file's own source, not the modules it imports (whose code it inlines), so the helpers'
sources are hashed in; bump CODEGEN_VERSION when the code generator changes meaning.

Never trusting numba's cache files.  Measured with numba 0.68.1: a truncated or garbage
``.nbi``/``.nbc`` makes numba raise while the module executes (EOFError, UnpicklingError,
ValueError, "LLVM bitcode parsing error", AttributeError), a missing ``.nbc`` is silently
recompiled, and -- the dangerous case -- single flipped bytes inside a ``.nbc`` that still
unpickles either crash the process outright (SIGSEGV/SIGABRT inside LLVM, ~1 in 9 positions)
or load a dispatcher that fails at call time.  A crash cannot be retried, so after every
compile this module records sha256 digests of the module's numba cache files in
``numbax_k_<hex>.manifest.json``; before executing a module the files are checked against it,
and files without a valid manifest are deleted (numba then recompiles).  If executing the
module still raises while numba cache files existed, they are purged, the module is dropped
from ``sys.modules`` and execution is retried once.

Concurrency: the module file and the manifest are written to a unique temp file in the same
directory and moved into place with ``os.replace``; numba writes its ``.nbi``/``.nbc`` the
same way (``IndexDataCacheFile._open_for_write``: uuid temp name + ``os.replace``), so
readers only ever see complete files.  Races between processes cost at most an extra compile.

Fork safety (numba#10486): numba numbers compiled functions with a process-wide counter
(``FunctionIdentity._unique_ids``) that ends up in mangled symbol names.  Forked siblings (or
any two processes running the same sequence) hand out identical numbers, and a process that
later loads cache entries written by both can get LLVM to merge same-named symbols with
different bodies and crash.  The counter is therefore re-seeded from a random 63-bit base at
import and in every forked child.
"""
from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import linecache
import os
import secrets
import sys
import threading
import time
import uuid

import llvmlite
import numba
import numpy as np

from numbax import config as _cfgmod

__all__ = ["CODEGEN_VERSION", "load_kernel", "stats", "kernel_module_path", "kernel_key",
           "clear_memory_cache", "CacheStats"]

CODEGEN_VERSION = "1"

_MODULE_PREFIX = "numbax_k_"


def _sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


_ENV_TAG = "\0".join([
    "numbax-kernel",
    f"numba={numba.__version__}",
    f"llvmlite={llvmlite.__version__}",
    "numpy={}.{}".format(*np.__version__.split(".")[:2]),
    "python={}.{}".format(*sys.version_info[:2]),
    sys.implementation.cache_tag or "",
    *(_sha256_file(os.path.join(os.path.dirname(__file__), f"{m}.py"))
      for m in ("scalar_math", "vector_math", "linalg_loops")),
])


# --------------------------------------------------------------------------- statistics


class CacheStats:
    """Counters of what `load_kernel` did (one count per call, i.e. per kernel module).

    compiles     numba compiled the module's functions (in memory or with a disk write)
    disk_hits    every function came from numba's on-disk cache
    memory_hits  the same source had already been loaded in this process
    rebuilds     numba cache files failed verification (or executing raised) and were purged
    fallbacks    disk caching was unusable (unwritable dir, no numba locator); compiled in memory
    """

    _fields = ("compiles", "disk_hits", "memory_hits", "rebuilds", "fallbacks")
    __slots__ = _fields

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        for f in self._fields:
            setattr(self, f, 0)

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self._fields}

    def __getitem__(self, name):
        if name not in self._fields:
            raise KeyError(name)
        return getattr(self, name)

    def __repr__(self):
        return "CacheStats(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


stats = CacheStats()

# --------------------------------------------------------------------------- state

_lock = threading.Lock()            # guards _memory writes, _key_locks, stats, _warned
_key_locks: dict[str, threading.RLock] = {}
_memory: dict[str, dict] = {}       # source text -> executed module namespace
_warned: set = set()                # cache dirs we already logged as unusable


def clear_memory_cache() -> None:
    """Forget the in-process (L2) cache; disk files are untouched."""
    with _lock:
        _memory.clear()


def _reseed_unique_ids() -> None:
    try:
        from numba.core.bytecode import FunctionIdentity
        FunctionIdentity._unique_ids = itertools.count(secrets.randbits(63) + (1 << 32))
    except Exception:  # pragma: no cover - numba internals moved; the guard is best effort
        pass


def _after_fork_in_child() -> None:
    global _lock, _key_locks
    _lock = threading.Lock()
    _key_locks = {}
    _reseed_unique_ids()


_reseed_unique_ids()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _incr(field: str) -> None:
    with _lock:
        setattr(stats, field, getattr(stats, field) + 1)


# --------------------------------------------------------------------------- keys and paths


def kernel_key(source: str) -> str:
    """Full sha256 hex key of `source` under the current codegen/numba/numpy/Python versions."""
    h = hashlib.sha256()
    h.update(f"{CODEGEN_VERSION}\0{_ENV_TAG}\0".encode())
    h.update(source.encode("utf-8"))
    return h.hexdigest()


def _module_name(key: str) -> str:
    return _MODULE_PREFIX + key[:32]


def _kernels_dir() -> str:
    return os.path.join(os.path.expanduser(str(_cfgmod.config.cache_dir)), "kernels")


def kernel_module_path(source: str) -> str:
    """Where the module file for `source` lives (whether or not it has been written)."""
    return os.path.join(_kernels_dir(), _module_name(kernel_key(source)) + ".py")


def _manifest_path(py_path: str) -> str:
    return py_path[:-3] + ".manifest.json"


# --------------------------------------------------------------------------- file helpers


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _ensure_module_file(path: str, data: bytes) -> bool:
    """Make `path` hold exactly `data`; returns True if it had to be (re)written."""
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    except OSError:
        pass  # unreadable: try to replace it
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _atomic_write(path, data)
    return True


def _dummy():  # only its __code__ is used, to ask numba's locators where a cache would go
    pass


def _candidate_cache_dirs(py_path: str) -> list[str]:
    """Directories numba may keep this module's cache in (in-tree first)."""
    dirs = [os.path.join(os.path.dirname(py_path), "__pycache__")]
    try:
        from numba.core import caching
        if numba.config.CACHE_DIR:
            dirs.append(caching.UserProvidedCacheLocator(_dummy, py_path).get_cache_path())
        dirs.append(caching.UserWideCacheLocator(_dummy, py_path).get_cache_path())
    except Exception:  # pragma: no cover
        pass
    return list(dict.fromkeys(dirs))


def _numba_files(dirs, modname: str) -> list[str]:
    """This module's numba cache files (.nbi/.nbc, not in-flight temp files) in `dirs`."""
    prefix = modname + "."
    out = []
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for e in it:
                    n = e.name
                    if n.startswith(prefix) and (n.endswith(".nbi") or n.endswith(".nbc")):
                        out.append(e.path)
        except OSError:
            pass
    return out


def _purge(py_path: str, modname: str, extra_dirs=()) -> int:
    """Delete this module's numba cache files and manifest; returns the number of files."""
    dirs = list(dict.fromkeys([*extra_dirs, *_candidate_cache_dirs(py_path)]))
    n = 0
    for p in _numba_files(dirs, modname):
        try:
            os.unlink(p)
            n += 1
        except OSError:
            pass
    try:
        os.unlink(_manifest_path(py_path))
    except OSError:
        pass
    return n


def _verify_manifest(py_path: str, modname: str) -> tuple[bool, list[str]]:
    """(ok, dirs): ok means every numba file recorded after the last compile is intact.

    When there is no manifest, ok is True only if numba has no cache files for the module.
    """
    try:
        with open(_manifest_path(py_path), "rb") as f:
            manifest = json.loads(f.read())
        files = manifest["files"]
        if manifest.get("module") != modname or not isinstance(files, dict) or not files:
            raise ValueError("bad manifest")
    except FileNotFoundError:
        return not _numba_files(_candidate_cache_dirs(py_path), modname), []
    except Exception:
        return False, []
    base = os.path.dirname(py_path)
    files = {os.path.join(base, p): digest for p, digest in files.items()}
    dirs = sorted({os.path.dirname(p) for p in files})
    try:
        for p, digest in files.items():
            if not os.path.basename(p).startswith(modname + ".") or _sha256_file(p) != digest:
                return False, dirs
    except OSError:
        return False, dirs
    return True, dirs


def _write_manifest(py_path: str, modname: str, dispatchers) -> None:
    dirs = []
    for d in dispatchers:
        try:
            dirs.append(d.stats.cache_path)
        except Exception:
            pass
    base = os.path.dirname(py_path)
    files = {}
    for p in _numba_files(list(dict.fromkeys(dirs)), modname):
        rel = os.path.relpath(p, base)  # relative where possible, so the cache dir can move
        try:
            files[rel if not rel.startswith("..") else p] = _sha256_file(p)
        except OSError:
            pass
    if not files:
        return
    data = json.dumps({"module": modname, "files": files}, indent=0, sort_keys=True)
    try:
        _atomic_write(_manifest_path(py_path), data.encode())
    except OSError:
        pass


# --------------------------------------------------------------------------- loading


def _module_dispatchers(ns: dict, modname: str) -> list:
    from numba.core.dispatcher import Dispatcher
    return [v for v in ns.values()
            if isinstance(v, Dispatcher) and getattr(v.py_func, "__module__", None) == modname]


def _exec_module(py_path: str, modname: str):
    spec = importlib.util.spec_from_file_location(modname, py_path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod  # before exec: numba's cache locator looks the module up
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        if sys.modules.get(modname) is mod:
            del sys.modules[modname]
        raise
    return mod


def _is_locator_error(e: BaseException) -> bool:
    return isinstance(e, RuntimeError) and "cannot cache function" in str(e)


def _fallback(reason: str, where: str) -> None:
    with _lock:
        stats.fallbacks += 1
        first = where not in _warned
        _warned.add(where)
    if first:
        _cfgmod.log("kernel disk cache unusable at %s (%s); compiling kernels in memory",
                    where, reason)


def _load_memory(source: str, modname: str) -> dict:
    filename = f"<numbax kernel {modname}>"
    src = source.replace("cache=True", "cache=False")
    code = compile(src, filename, "exec")
    lines = src.splitlines(keepends=True)
    linecache.cache[filename] = (len(src), None, lines, filename)  # readable tracebacks
    ns = {"__name__": modname, "__file__": filename, "__builtins__": __builtins__}
    t0 = time.perf_counter()
    exec(code, ns)
    _incr("compiles")
    _cfgmod.log("compiled kernel %s (%.0f ms, in memory)", modname,
                (time.perf_counter() - t0) * 1e3)
    return ns


def _load_disk(source: str, modname: str, py_path: str) -> dict | None:
    """Load through the on-disk cache; None means disk caching is unusable here."""
    data = source.encode("utf-8")
    try:
        _ensure_module_file(py_path, data)
    except OSError as e:
        _fallback(f"{type(e).__name__}: {e}", os.path.dirname(py_path))
        return None

    ok, dirs = _verify_manifest(py_path, modname)
    if not ok:
        n = _purge(py_path, modname, dirs)
        _incr("rebuilds")
        _cfgmod.log("kernel cache for %s failed verification; removed %d numba cache files",
                    modname, n)

    t0 = time.perf_counter()
    try:
        mod = _exec_module(py_path, modname)
    except Exception as e:
        if _is_locator_error(e):
            _fallback(str(e), os.path.dirname(py_path))
            return None
        dirs = list(dict.fromkeys([*dirs, *_candidate_cache_dirs(py_path)]))
        if not _numba_files(dirs, modname):
            raise  # no cache file numba could have read: a genuine compile error
        n = _purge(py_path, modname, dirs)
        _incr("rebuilds")
        _cfgmod.log("loading kernel %s raised %s; removed %d numba cache files, retrying",
                    modname, type(e).__name__, n)
        try:
            _ensure_module_file(py_path, data)
            t0 = time.perf_counter()
            mod = _exec_module(py_path, modname)
        except Exception as e2:
            if _is_locator_error(e2):
                _fallback(str(e2), os.path.dirname(py_path))
                return None
            e.add_note(f"numbax: executing kernel module {py_path} failed; its numba cache was "
                       f"purged and the retry failed too with {type(e2).__name__}: {e2}")
            raise e from e2
    dt = (time.perf_counter() - t0) * 1e3

    ns = vars(mod)
    disps = _module_dispatchers(ns, modname)
    hits = sum(sum(d.stats.cache_hits.values()) for d in disps)
    misses = sum(sum(d.stats.cache_misses.values()) for d in disps)
    if misses or not hits:
        _incr("compiles")
        _write_manifest(py_path, modname, disps)
        _cfgmod.log("compiled kernel %s (%.0f ms)", modname, dt)
    else:
        _incr("disk_hits")
        _cfgmod.log("disk cache hit %s (%.1f ms)", modname, dt)
    return ns


def _key_lock(key: str) -> threading.RLock:
    with _lock:
        lk = _key_locks.get(key)
        if lk is None:
            lk = _key_locks[key] = threading.RLock()
        return lk


def _lookup(ns: dict, fn_name: str, modname: str):
    try:
        return ns[fn_name]
    except KeyError:
        raise KeyError(f"kernel module {modname} defines no {fn_name!r}") from None


def load_kernel(source: str, fn_name: str):
    """Return the numba dispatcher named `fn_name` defined by the module source text `source`."""
    ns = _memory.get(source)
    if ns is not None:
        _incr("memory_hits")
        return _lookup(ns, fn_name, ns["__name__"])

    key = kernel_key(source)
    modname = _module_name(key)
    with _key_lock(key):
        ns = _memory.get(source)
        if ns is not None:
            _incr("memory_hits")
            return _lookup(ns, fn_name, modname)
        cfg = _cfgmod.config
        ns = None
        if not cfg.disable_disk_cache:
            py_path = os.path.join(_kernels_dir(), modname + ".py")
            ns = _load_disk(source, modname, py_path)
        if ns is None:
            ns = _load_memory(source, modname)
        with _lock:
            _memory[source] = ns
    return _lookup(ns, fn_name, modname)
