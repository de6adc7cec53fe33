"""Tests for the L2/L3 kernel cache (numbax.backends.numba_cpu.cache)."""
import glob
import json
import logging
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import numbax
from numbax import config as cfgmod
from numbax.backends.numba_cpu import cache

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(numbax.__file__)))


def make_src(c: float, fn: str = "kern") -> str:
    """A tiny generated-style kernel module: returns sum(x[:n] * c) + c."""
    return (
        "import numba\n"
        "import numpy as np\n"
        "import math\n"
        "\n"
        "@numba.njit(\"float64(int64, Array(float64, 1, 'C', readonly=True))\", cache=True, "
        "error_model=\"numpy\", boundscheck=False, nogil=True)\n"
        f"def {fn}(n, x):\n"
        "    s = 0.0\n"
        "    for i in range(n):\n"
        f"        s += x[i] * {c!r}\n"
        f"    return s + {c!r}\n"
    )


def expected(c, n=5):
    return float(np.arange(n, dtype=np.float64).sum() * c + c)


def check(kern, c, n=5):
    x = np.arange(n, dtype=np.float64)
    assert kern(n, x) == pytest.approx(expected(c, n), rel=1e-14)


@pytest.fixture
def cdir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setattr(cfgmod.config, "cache_dir", str(d))
    monkeypatch.setattr(cfgmod.config, "disable_disk_cache", False)
    cache.clear_memory_cache()
    cache.stats.reset()
    yield d
    cache.clear_memory_cache()


# A child process: loads each (source, fn, c) in argv[1], checks the result, prints stats.
CHILD = r"""
import json, sys
import numpy as np
from numbax.backends.numba_cpu import cache
out = []
for src, fn, c in json.loads(sys.argv[1]):
    k = cache.load_kernel(src, fn)
    x = np.arange(5, dtype=np.float64)
    out.append({"value": k(5, x), "want": float(x.sum() * c + c), **cache.stats.as_dict()})
print(json.dumps(out))
"""


def child_env(cache_dir, **extra):
    env = dict(os.environ)
    env["NUMBAX_CACHE_DIR"] = str(cache_dir)
    env.pop("NUMBAX_DISABLE_DISK_CACHE", None)
    env["PYTHONPATH"] = SRC_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_child(cache_dir, jobs, **extra):
    r = subprocess.run([sys.executable, "-c", CHILD, json.dumps(jobs)], env=child_env(cache_dir, **extra),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[-3000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for o in out:
        assert o["value"] == pytest.approx(o["want"], rel=1e-14)
    return out, r.stderr


def numba_files(py_path, ext):
    """numba's cache files for a module: in __pycache__ beside it, or under NUMBA_CACHE_DIR."""
    pattern = os.path.basename(py_path)[:-3] + ".*." + ext
    root = os.environ.get("NUMBA_CACHE_DIR")
    if root:
        return glob.glob(os.path.join(root, "**", pattern), recursive=True)
    return glob.glob(os.path.join(os.path.dirname(py_path), "__pycache__", pattern))


# ----------------------------------------------------------------------------- in-process


def test_compile_then_memory_hit(cdir, caplog, monkeypatch):
    monkeypatch.setattr(cfgmod.config, "log_compiles", True)
    src = make_src(1.5)
    with caplog.at_level(logging.INFO, logger="numbax"):
        k1 = cache.load_kernel(src, "kern")
    check(k1, 1.5)
    assert cache.stats.as_dict() == dict(compiles=1, disk_hits=0, memory_hits=0, rebuilds=0,
                                         fallbacks=0)
    assert any("compiled kernel" in r.getMessage() for r in caplog.records)
    k2 = cache.load_kernel(src, "kern")
    assert k2 is k1 and cache.stats.memory_hits == 1 and cache.stats.compiles == 1

    path = cache.kernel_module_path(src)
    assert path.startswith(str(cdir / "kernels")) and os.path.basename(path).startswith("numbax_k_")
    with open(path, encoding="utf-8") as f:
        assert f.read() == src
    assert numba_files(path, "nbi") and numba_files(path, "nbc")
    assert os.path.exists(path[:-3] + ".manifest.json")
    assert not glob.glob(str(cdir / "kernels" / "*.tmp"))
    with pytest.raises(KeyError):
        cache.load_kernel(src, "nope")


def test_key_depends_on_codegen_version(cdir, monkeypatch):
    src = make_src(2.0)
    p1, k1 = cache.kernel_module_path(src), cache.kernel_key(src)
    monkeypatch.setattr(cache, "CODEGEN_VERSION", cache.CODEGEN_VERSION + "-next")
    assert cache.kernel_module_path(src) != p1 and cache.kernel_key(src) != k1
    assert cache.kernel_key(make_src(2.5)) != cache.kernel_key(src)


def test_threads_compile_once(cdir):
    src = make_src(3.25)
    results, errors = [], []
    barrier = threading.Barrier(4)

    def work():
        try:
            barrier.wait()
            results.append(cache.load_kernel(src, "kern"))
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and len(results) == 4 and all(r is results[0] for r in results)
    assert cache.stats.compiles == 1 and cache.stats.memory_hits == 3
    check(results[0], 3.25)


def test_truncated_module_file_is_rewritten(cdir):
    src = make_src(4.0)
    path = cache.kernel_module_path(src)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:  # a writer died half-way, or someone edited it
        f.write(src[: len(src) // 2])
    k = cache.load_kernel(src, "kern")
    check(k, 4.0)
    with open(path, encoding="utf-8") as f:
        assert f.read() == src


def test_disable_disk_cache_writes_nothing(cdir, monkeypatch):
    monkeypatch.setattr(cfgmod.config, "disable_disk_cache", True)
    src = make_src(5.5)
    k = cache.load_kernel(src, "kern")
    check(k, 5.5)
    assert not cdir.exists()
    assert cache.stats.compiles == 1
    assert type(k._cache).__name__ == "NullCache"  # numba's caching is off too
    assert cache.load_kernel(src, "kern") is k and cache.stats.memory_hits == 1


def test_unwritable_cache_dir_falls_back_and_logs_once(tmp_path, cdir, monkeypatch, caplog):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    monkeypatch.setattr(cfgmod.config, "cache_dir", str(blocker / "sub"))
    monkeypatch.setattr(cfgmod.config, "log_compiles", True)
    with caplog.at_level(logging.INFO, logger="numbax"):
        k1 = cache.load_kernel(make_src(6.0), "kern")
        k2 = cache.load_kernel(make_src(6.5), "kern")
    check(k1, 6.0)
    check(k2, 6.5)
    assert cache.stats.fallbacks == 2 and cache.stats.compiles == 2
    assert sum("unusable" in r.getMessage() for r in caplog.records) == 1


def test_compile_error_is_raised(cdir):
    from numba.core.errors import TypingError
    src = make_src(7.0).replace("return s + 7.0", "return s + x")  # float64 signature mismatch
    with pytest.raises(TypingError):
        cache.load_kernel(src, "kern")
    assert cache.stats.rebuilds == 0  # nothing cached to blame: no pointless retry
    assert os.path.basename(cache.kernel_module_path(src))[:-3] not in sys.modules


def test_forked_child_gets_fresh_unique_ids():
    """numba#10486 guard: forked siblings must not hand out the same function ids."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    from numba.core.bytecode import FunctionIdentity
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.write(w, str(next(FunctionIdentity._unique_ids)).encode())
        finally:
            os._exit(0)
    os.close(w)
    child_id = int(os.read(r, 100).decode())
    os.close(r)
    os.waitpid(pid, 0)
    parent_next = next(FunctionIdentity._unique_ids)
    assert abs(child_id - parent_next) > 1_000_000


# ----------------------------------------------------------------------------- other processes


def test_second_process_loads_from_disk(cdir):
    src = make_src(8.0)
    check(cache.load_kernel(src, "kern"), 8.0)  # compile here, with cache_dir = cdir
    assert cache.stats.compiles == 1
    (out,), err = run_child(cdir, [[src, "kern", 8.0]], NUMBAX_LOG_COMPILES="1")
    assert out["disk_hits"] == 1 and out["compiles"] == 0 and out["rebuilds"] == 0
    assert "disk cache hit" in err


def _corrupt(path, how):
    data = open(path, "rb").read()
    if how == "garbage":
        data = os.urandom(len(data))
    elif how == "truncate":
        data = data[: len(data) // 2]
    elif how == "flip":  # still unpickles; numba may crash inside LLVM or load a broken kernel
        i = len(data) // 2
        data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
    with open(path, "wb") as f:
        f.write(data)


def test_corrupt_numba_cache_is_rebuilt(cdir):
    cases = [("nbc", "garbage", 9.0), ("nbi", "truncate", 9.5), ("nbc", "flip", 10.0),
             ("nbi", "garbage+manifest", 10.5)]
    jobs = []
    for ext, how, c in cases:
        src = make_src(c)
        check(cache.load_kernel(src, "kern"), c)
        path = cache.kernel_module_path(src)
        (target,) = numba_files(path, ext)
        _corrupt(target, how.split("+")[0])
        if how.endswith("+manifest"):
            # forge a manifest that vouches for the damaged file: the manifest check passes,
            # numba raises while the module executes, and the purge-and-retry path must recover
            mpath = path[:-3] + ".manifest.json"
            m = json.load(open(mpath))
            for rel in m["files"]:
                m["files"][rel] = cache._sha256_file(os.path.join(os.path.dirname(path), rel))
            json.dump(m, open(mpath, "w"))
        jobs.append([src, "kern", c])
    out, _ = run_child(cdir, jobs)  # run_child checks every value numerically
    last = out[-1]
    assert last["compiles"] == 4 and last["rebuilds"] == 4 and last["disk_hits"] == 0
    # the rebuilt caches are trusted again by the next process
    out2, _ = run_child(cdir, jobs[:1])
    assert out2[0]["disk_hits"] == 1 and out2[0]["compiles"] == 0


def test_two_processes_compile_concurrently(cdir):
    src = make_src(11.0)
    jobs = json.dumps([[src, "kern", 11.0]])
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, jobs], env=child_env(cdir),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        (o,) = json.loads(out.strip().splitlines()[-1])
        assert o["value"] == pytest.approx(o["want"]) and o["compiles"] + o["disk_hits"] == 1
    assert not glob.glob(str(cdir / "kernels" / "*.tmp"))
    assert not glob.glob(str(cdir / "kernels" / "__pycache__" / "*.tmp.*"))
    # whatever interleaving happened, the directory is usable afterwards
    k = cache.load_kernel(src, "kern")
    check(k, 11.0)
    assert cache.stats.compiles + cache.stats.disk_hits == 1
