"""Interleaved timing: implementations of one workload measured round-robin in one process, so
machine noise hits them alike; report medians and ratios. Checks results agree before timing."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np


def time_per_call(fn: Callable[[], object], min_time: float = 0.02) -> float:
    """Seconds per call, from a batch of calls long enough to swamp the timer's resolution."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / n
        n *= 2 if dt == 0 else max(2, int(min_time / dt * 1.2))


def compare(impls: dict[str, Callable[[], object]], repeats: int = 15, min_time: float = 0.02,
            check: bool = True, rtol: float = 1e-9) -> dict[str, float]:
    """Median seconds per call of each implementation, measured interleaved."""
    if check:
        results = {name: fn() for name, fn in impls.items()}
        ref_name, ref = next(iter(results.items()))
        for name, r in results.items():
            np.testing.assert_allclose(np.asarray(r, np.float64), np.asarray(ref, np.float64),
                                       rtol=rtol, err_msg=f"{name} disagrees with {ref_name}")
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(repeats):
        for name, fn in impls.items():
            samples[name].append(time_per_call(fn, min_time))
    return {name: float(np.median(s)) for name, s in samples.items()}


def report(title: str, medians: dict[str, float], baseline: str) -> None:
    print(f"\n{title}")
    base = medians[baseline]
    for name, t in medians.items():
        print(f"  {name:<28s} {t * 1e6:10.2f} us   {t / base:6.2f}x {baseline}")


# --------------------------------------------------------------------------- suite support
# Used by benchmarks/run.py and the benchmarks/w<k>_*.py workload modules.

import dataclasses
import sys

NUMBA_FLAGS = dict(fastmath={"reassoc", "contract", "nsz"}, error_model="numpy", cache=True)

# Canonical implementation names; run.py computes its ratio columns against these rows.
NUMBAX = "numbax jit"
NUMPY = "numpy (hand)"
NUMBA = "numba (hand)"
JAX = "jax.jit"
AUTOGRAD = "autograd"


def optional_jax():
    """jax with float64 enabled, or None when it is not installed."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def optional_autograd():
    try:
        import autograd
        import autograd.numpy  # noqa: F401
    except ImportError:
        return None
    return autograd


def njit(fn):
    """The hand-written baseline's Numba flags (the practical limit of a loop)."""
    import numba
    return numba.njit(**NUMBA_FLAGS)(fn)


def flatten(r) -> list[np.ndarray]:
    """Leaves of a result as float64 arrays: dicts in sorted-key order, tuples/lists in order."""
    if isinstance(r, dict):
        return [a for k in sorted(r) for a in flatten(r[k])]
    if isinstance(r, (tuple, list)):
        return [a for v in r for a in flatten(v)]
    return [np.asarray(r, dtype=np.float64)]


def _keys(r) -> list:
    """The dict keys along a result's structure (flatten drops them)."""
    if isinstance(r, dict):
        return [sorted(map(str, r))] + [k for key in sorted(r) for k in _keys(r[key])]
    if isinstance(r, (tuple, list)):
        return [k for v in r for k in _keys(v)]
    return []


def mismatch(result, ref, rtol: float) -> str | None:
    """None when result equals ref leaf by leaf (np.allclose with rtol and atol = rtol * max|ref|);
    otherwise what differs."""
    if _keys(result) != _keys(ref):
        return f"dict keys {_keys(result)}, the reference's are {_keys(ref)}"
    try:
        a, b = flatten(result), flatten(ref)
    except Exception as e:  # noqa: BLE001
        return f"cannot convert the result to float64 arrays: {type(e).__name__}: {e}"
    if len(a) != len(b):
        return f"{len(a)} output leaves, the reference has {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        if x.shape != y.shape:
            return f"output leaf {i}: shape {x.shape}, the reference's is {y.shape}"
        scale = float(np.max(np.abs(y))) if y.size else 0.0
        if not np.allclose(x, y, rtol=rtol, atol=rtol * scale):
            with np.errstate(all="ignore"):
                err = np.max(np.abs(x - y)) / (scale or 1.0)
            return (f"output leaf {i} (shape {y.shape}): max |diff|/max|ref| = {err:.3g} "
                    f"> rtol {rtol:g}; first values {x.ravel()[:3]} vs {y.ravel()[:3]}")
    return None


def loud(msg: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n{msg}\n{bar}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Row:
    workload: str
    impl: str
    median: float | None = None        # seconds (per call, or to first result for W8)
    samples: int = 0
    first_call: float | None = None    # seconds of the checking call (includes any compile)
    status: str = "ok"                 # ok | FAILED (wrong numbers) | ERROR (raised)
    error: str = ""
    note: str = ""


@dataclasses.dataclass
class Target:
    text: str
    met: bool | None                   # None: could not be evaluated
    detail: str = ""


@dataclasses.dataclass
class Result:
    rows: list[Row]
    targets: list[Target] = dataclasses.field(default_factory=list)
    extra: str = ""                    # a markdown block printed after the main table
    data: dict = dataclasses.field(default_factory=dict)   # more, for --json


def bench(workload: str, impls: dict[str, Callable[[], object]], ref: str = NUMPY,
          rtol: float = 1e-9, repeats: int = 15, min_time: float = 0.02, budget: float = 1.0,
          min_samples: int = 3) -> list[Row]:
    """Check every implementation against impls[ref] (the first call also warms up / compiles),
    then time those that agree round-robin: up to `repeats` samples each of at least `min_time`
    seconds, an implementation dropping out once it has spent `budget` seconds and has
    `min_samples` samples (or 3 * budget, whatever its sample count). Median per call."""
    rows = {name: Row(workload, name) for name in impls}
    results = {}
    for name, fn in impls.items():
        t0 = time.perf_counter()
        try:
            results[name] = fn()
            rows[name].first_call = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001
            rows[name].status, rows[name].error = "ERROR", f"{type(e).__name__}: {e}"
            loud(f"ERROR {workload} / {name} raised {type(e).__name__}: {e}")
    if ref not in results:
        for name in results:
            rows[name].status, rows[name].error = "FAILED", f"no reference: {ref} did not run"
        results = {}
    for name, r in results.items():
        if name == ref:
            continue
        msg = mismatch(r, results[ref], rtol)
        if msg:
            rows[name].status, rows[name].error = "FAILED", f"disagrees with {ref}: {msg}"
            loud(f"MISMATCH {workload} / {name} disagrees with {ref}: {msg}")
    active = [n for n in impls if rows[n].status == "ok"]
    samples: dict[str, list[float]] = {n: [] for n in active}
    spent = dict.fromkeys(active, 0.0)
    for _ in range(repeats):
        for name in list(active):
            t0 = time.perf_counter()
            samples[name].append(time_per_call(impls[name], min_time))
            spent[name] += time.perf_counter() - t0
            if spent[name] > 3 * budget or (spent[name] > budget
                                             and len(samples[name]) >= min_samples):
                active.remove(name)
        if not active:
            break
    for name, s in samples.items():
        rows[name].median, rows[name].samples = float(np.median(s)), len(s)
    return list(rows.values())


def fmt_time(t: float | None) -> str:
    if t is None:
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.2f} µs"
    if t < 1.0:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.3f} s"


def row_by(rows: list[Row], impl: str) -> Row | None:
    return next((r for r in rows if r.impl == impl), None)


def ratio_target(rows: list[Row], text: str, impl: str, base: str, limit: float) -> Target:
    """MET when rows[impl].median <= limit * rows[base].median."""
    a, b = row_by(rows, impl), row_by(rows, base)
    for r, n in ((a, impl), (b, base)):
        if r is None:
            return Target(text, None, f"no {n} row")
        if r.status != "ok" or r.median is None:
            return Target(text, False if n == impl else None, f"{n} {r.status}")
    q = a.median / b.median
    return Target(text, q <= limit, f"{q:.2f}× {base}")
