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
