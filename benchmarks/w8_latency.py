"""W8: first-call latency of jit(value_and_grad(W2 loss)) in a FRESH process (X 1000x100): time from
process start to the first result, split into interpreter startup, `import numbax` and the first
call (trace + compile + run). Cold: empty NUMBAX_CACHE_DIR (and NUMBA_CACHE_DIR) temp dirs; warm:
a second process with the same dirs. JAX's first call in a fresh process for comparison.
Targets: cold <= 1 s to first result, warm <= 0.35 s (judged on the total from process start)."""
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _harness import Result, Row, Target, loud, mismatch, row_by
import w2_logreg

TITLE = "W8 first call, fresh process"
N, D = 1000, 100
COLD, WARM, JAX_ROW = "numbax cold", "numbax warm", "jax.jit (fresh process)"
SRC = str(Path(__file__).resolve().parent.parent / "src")

_PRELUDE = "import time; T_START = time.time()\nimport json, sys\n"
_BODY = """
import numpy as np
LAM = {lam!r}
{data_src}
{loss_src}
w, X, y = data({n}, {d})
t = time.perf_counter()
f = jit(value_and_grad(make_loss(xp)))
v, g = f(w, X, y)
v, g = float(v), np.asarray(g, dtype=np.float64)
t_first = time.perf_counter() - t
T_END = time.time()
print("@@RESULT@@" + json.dumps(dict(t_start=T_START, t_end=T_END, import_s=t_import,
                                     first_s=t_first, value=v, grad=g.tolist())))
"""
_IMPORT = {
    "numbax": ("t = time.perf_counter()\nimport numbax\nimport numbax.numpy as xp\n"
               "t_import = time.perf_counter() - t\nfrom numbax import jit, value_and_grad\n"),
    "jax": ("t = time.perf_counter()\nimport jax\njax.config.update('jax_enable_x64', True)\n"
            "import jax.numpy as xp\nt_import = time.perf_counter() - t\n"
            "from jax import value_and_grad\n"
            "def jit(f):\n    g = jax.jit(f)\n    return lambda *a: jax.block_until_ready(g(*a))\n"),
}


def script(lib: str) -> str:
    body = _BODY.format(lam=w2_logreg.LAM, data_src=inspect.getsource(w2_logreg.data),
                        loss_src=inspect.getsource(w2_logreg.make_loss), n=N, d=D)
    return _PRELUDE + _IMPORT[lib] + body


def fresh_process(lib: str, env_extra: dict | None = None, timeout: float = 600) -> dict:
    """Run the script in a new interpreter; seconds of each phase, measured from process start."""
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(env_extra or {})
    t0 = time.time()
    p = subprocess.run([sys.executable, "-c", script(lib)], env=env, capture_output=True,
                       text=True, timeout=timeout)
    t_exit = time.time()
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"{lib} child exited {p.returncode}: {p.stderr.strip()[-1500:]}")
    r = json.loads(lines[-1][len("@@RESULT@@"):])
    return dict(total=r["t_end"] - t0, startup=r["t_start"] - t0, import_s=r["import_s"],
                first_s=r["first_s"], exit=t_exit - t0,
                result=(r["value"], np.asarray(r["grad"], dtype=np.float64)))


def cases(quick=False):
    """Measurement functions: each runs fresh process(es) and returns {row name: measurement}."""
    jax_ok = subprocess.run([sys.executable, "-c", "import jax"], capture_output=True).returncode == 0

    def numbax_cold_then_warm():
        with tempfile.TemporaryDirectory(prefix="numbax_w8_") as d:
            env = {"NUMBAX_CACHE_DIR": os.path.join(d, "numbax"),
                   "NUMBA_CACHE_DIR": os.path.join(d, "numba")}
            os.makedirs(env["NUMBAX_CACHE_DIR"])
            cold = fresh_process("numbax", env)
            warm = fresh_process("numbax", env)
            files = sum(len(f) for _, _, f in os.walk(d))
        cold["note"] = warm["note"] = f"{files} files cached"
        return {COLD: cold, WARM: warm}

    impls = {"numbax": numbax_cold_then_warm}
    if jax_ok:
        impls["jax"] = lambda: {JAX_ROW: fresh_process("jax")}
    return impls


def run(quick=False) -> Result:
    impls = cases(quick)
    names = [COLD, WARM] + ([JAX_ROW] if "jax" in impls else [])
    meas: dict[str, list[dict]] = {n: [] for n in names}
    errors: dict[str, str] = {}
    for _ in range(1 if quick else 3):         # interleaved repeats
        for key, fn in impls.items():
            if any(n in errors for n in ((COLD, WARM) if key == "numbax" else (JAX_ROW,))):
                continue
            try:
                for n, m in fn().items():
                    meas[n].append(m)
            except Exception as e:  # noqa: BLE001
                for n in ((COLD, WARM) if key == "numbax" else (JAX_ROW,)):
                    errors[n] = f"{type(e).__name__}: {e}"
                loud(f"ERROR W8 / {key}: {type(e).__name__}: {e}")
    ref = w2_logreg.numpy_vag(*w2_logreg.data(N, D))
    rows = []
    for n in names:
        row = Row(TITLE, n)
        rows.append(row)
        if n in errors:
            row.status, row.error = "ERROR", errors[n]
            continue
        ms = meas[n]
        bad = next((msg for m in ms if (msg := mismatch(m["result"], ref, 1e-9))), None)
        if bad:
            row.status, row.error = "FAILED", f"disagrees with numpy (hand): {bad}"
            loud(f"MISMATCH W8 / {n}: {bad}")
            continue
        med = {k: statistics.median([m[k] for m in ms])
               for k in ("total", "startup", "import_s", "first_s")}
        row.median, row.samples = med["total"], len(ms)
        row.note = (f"startup {med['startup']:.3f} + import {med['import_s']:.3f} + first call "
                    f"{med['first_s']:.3f} s" + (f"; {ms[0]['note']}" if "note" in ms[0] else ""))
    data = {n: [{k: v for k, v in m.items() if k != "result"} for m in meas[n]] for n in names}
    return Result(rows, targets(rows, quick), data=data)


def targets(rows, quick=False):
    out = []
    for name, limit in ((COLD, 1.0), (WARM, 0.35)):
        r = row_by(rows, name)
        text = f"W8 {name.split()[1]} first result ≤ {limit:g} s from process start"
        if r is None or r.median is None:
            out.append(Target(text, False, r.status if r else "missing"))
        else:
            out.append(Target(text, r.median <= limit, f"{r.median:.3f} s"))
    return out
