"""The disk cache seen from `nb.jit`, across processes: a second process with the same
NUMBAX_CACHE_DIR compiles nothing and computes the same; NUMBAX_DISABLE_DISK_CACHE=1 writes
nothing; NUMBAX_LOG_COMPILES=1 logs compiles and cache hits to stderr.  (The kernel cache itself,
corruption and concurrency included, is tested in test_kernel_cache.py.)"""
import json
import os
import subprocess
import sys

import pytest

import numbax
from numbax.config import Config

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(numbax.__file__)))

# A child process: runs a jitted program (a fused kernel, a host BLAS call, a loop kernel) and a
# transformation of it, and prints the cache counters and the results as JSON.
CHILD = r"""
import json
import numpy as np
import numbax as nb
import numbax.numpy as jnp
from numbax.backends.numba_cpu import cache

@nb.jit
def f(x, y):
    return jnp.sum(jnp.sin(x) * y, axis=0), jnp.cumsum(x, axis=1), jnp.matmul(x, y.T)

x = np.arange(6.0).reshape(2, 3) / 7.0
out = list(f(x, x + 1.0))
out.append(nb.grad(lambda x: jnp.sum(f(x, x)[0]))(x))
print(json.dumps({"stats": cache.stats.as_dict(), "out": [np.asarray(o).tolist() for o in out]}))
"""


def child(cache_dir, **env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBAX_")}
    env["NUMBAX_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = SRC_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra)
    return subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def result(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1]), err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """first and second: the same cache dir, with compile logging; no_disk: disk cache off, in
    another dir, without logging (run beside the first)."""
    base = tmp_path_factory.mktemp("jit_cache")
    shared, nodisk = base / "shared", base / "nodisk"
    first = child(shared, NUMBAX_LOG_COMPILES="1")
    no_disk = child(nodisk, NUMBAX_DISABLE_DISK_CACHE="1")
    runs = {"first": result(first), "no_disk": result(no_disk)}
    runs["second"] = result(child(shared, NUMBAX_LOG_COMPILES="1"))
    runs["dirs"] = shared, nodisk
    return runs


def test_first_process_compiles_and_writes_the_cache(runs):
    (res, _), (shared, _) = runs["first"], runs["dirs"]
    assert res["stats"]["compiles"] > 0 and res["stats"]["disk_hits"] == 0
    kernels = [n for n in os.listdir(shared / "kernels") if n.endswith(".py")]
    assert len(kernels) >= 1 and all(n.startswith("numbax_k_") for n in kernels)


def test_second_process_loads_everything_from_disk(runs):
    (first, _), (second, _) = runs["first"], runs["second"]
    assert second["stats"]["compiles"] == 0, second["stats"]
    assert second["stats"]["disk_hits"] > 0
    assert second["stats"]["disk_hits"] + second["stats"]["memory_hits"] == \
        first["stats"]["compiles"] + first["stats"]["memory_hits"]
    assert second["out"] == first["out"]  # bit for bit


def test_disable_disk_cache_writes_nothing(runs):
    (res, err), (_, nodisk) = runs["no_disk"], runs["dirs"]
    assert res["stats"]["compiles"] > 0 and res["stats"]["disk_hits"] == 0
    assert not nodisk.exists() or not any(nodisk.rglob("*")), list(nodisk.rglob("*"))
    assert res["out"] == runs["first"][0]["out"]
    assert "compiled kernel" not in err and "cache hit" not in err  # logging is off by default


def test_log_compiles_reports_compiles_then_cache_hits(runs):
    (_, err1), (_, err2) = runs["first"], runs["second"]
    assert "compiled kernel" in err1 and "lowered" in err1, err1[-2000:]
    assert "cache hit" in err2 and "compiled kernel" not in err2, err2[-2000:]


@pytest.mark.parametrize("value, on", [("1", True), ("true", True), ("yes", True), ("0", False),
                                       ("false", False), ("off", False), ("", False)])
def test_config_reads_environment(monkeypatch, tmp_path, value, on):
    monkeypatch.setenv("NUMBAX_DISABLE_DISK_CACHE", value)
    monkeypatch.setenv("NUMBAX_LOG_COMPILES", value)
    monkeypatch.setenv("NUMBAX_CACHE_DIR", str(tmp_path))
    cfg = Config()
    assert cfg.disable_disk_cache is on and cfg.log_compiles is on
    assert cfg.cache_dir == str(tmp_path)
    cfg.update("numbax_log_compiles", not on)
    assert cfg.log_compiles is (not on)
    with pytest.raises(AttributeError, match="numbax_cache_dir"):
        cfg.update("numbax_no_such_option", 1)


def test_config_module_is_the_options_object(monkeypatch):
    """`numbax.config.<option>` and `numbax.config.update` (JAX's spelling) act on the options."""
    import numbax
    from numbax.config import config
    monkeypatch.setattr(config, "log_compiles", False)
    monkeypatch.setattr(config, "disable_disk_cache", False)
    numbax.config.update("numbax_log_compiles", True)
    assert config.log_compiles and numbax.config.log_compiles
    numbax.config.disable_disk_cache = True
    assert config.disable_disk_cache
    with pytest.raises(AttributeError, match="no option"):
        numbax.config.update("numbax_nope", 1)
