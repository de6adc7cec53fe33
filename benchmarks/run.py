"""numbax benchmark suite: each workload's implementations (numbax, hand-written numpy, a
hand-written Numba loop, jax.jit and autograd when installed) are checked to agree, then timed
interleaved in one process (float64, medians); prints a markdown table and the issue's targets.

    python benchmarks/run.py [--quick] [--only W1,W2] [--json out.json]

Workloads live in benchmarks/w<k>_<name>.py: `cases(quick)` returns the implementations
(name -> zero-argument callable returning the result), `targets(rows, quick)` the targets; a
module with its own `run(quick)` (W8 fresh processes, W10 equation counts) measures itself.
Exit status 1 when any implementation raised or disagreed with the reference.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))      # benchmark the working tree
sys.path.insert(0, str(HERE))

MODULES = {"W1": "w1_elementwise", "W2": "w2_logreg", "W3": "w3_mlp", "W4": "w4_per_example",
           "W5": "w5_hessian", "W6": "w6_fit", "W6B": "w6b_toys", "W7": "w7_dispatch",
           "W8": "w8_latency", "W9": "w9_logistic_map", "W10": "w10_eqn_count",
           "W11": "w11_scan_rnn"}
SETTINGS = {False: dict(repeats=21, min_time=0.02, budget=2.0),
            True: dict(repeats=7, min_time=0.01, budget=0.3)}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def pin_threads(n: int) -> str:
    """Limit BLAS, OpenMP, Numba and XLA thread pools to n threads and the process to n cores;
    must run before numpy, numba or jax is imported. Several pools spinning on few cores (numpy's
    OpenBLAS, scipy's OpenBLAS behind numba's np.dot, XLA's Eigen pool) slow each other down when
    interleaved. The affinity mask matters: jaxlib 0.10's CPU runtime ignores the XLA thread flags
    and runs a 512x784x256 matmul on two threads, which made it look 2x faster than one-thread
    BLAS; pinned, every implementation gets the same cores."""
    if n <= 0:
        return "library default thread pools"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n])
    for v in THREAD_VARS:
        os.environ[v] = str(n)
    if n == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false").strip()
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" intra_op_parallelism_threads={n}").strip()
    return f"{n} thread(s) per pool (BLAS, OpenMP, Numba, XLA), pinned to {n} core(s)"


def run_workload(key: str, quick: bool):
    from _harness import NUMPY, Result, Row, Target, bench, loud
    try:
        mod = importlib.import_module(MODULES[key])
        if hasattr(mod, "run"):
            return mod, mod.run(quick)
        opts = {**SETTINGS[quick], **getattr(mod, "BENCH_QUICK" if quick else "BENCH", {})}
        rows = bench(mod.TITLE, mod.cases(quick), ref=getattr(mod, "REF", NUMPY), **opts)
        return mod, Result(rows, mod.targets(rows, quick))
    except Exception as e:  # noqa: BLE001
        loud(f"ERROR {key}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        return None, Result([Row(key, "(workload)", status="ERROR", error=f"{type(e).__name__}: {e}")],
                            [Target(f"{key}", False, "workload raised")])


def ratio(r, base) -> str:
    if base is None or base.median is None or r.median is None:
        return "—"
    return f"{r.median / base.median:.2f}×"


def table(results) -> str:
    from _harness import JAX, NUMBA, fmt_time, row_by
    out = ["| Workload | Implementation | Median | × hand Numba | × JAX | Notes |",
           "|---|---|---:|---:|---:|---|"]
    for key, mod, res in results:
        nb = row_by(res.rows, getattr(mod, "NUMBA_ROW", NUMBA))
        jx = row_by(res.rows, getattr(mod, "JAX_ROW", JAX))
        for r in res.rows:
            if r.status != "ok":
                med, note = f"**{r.status}**", r.error[:160].replace("|", "\\|").replace("\n", " ")
            else:
                med = fmt_time(r.median)
                note = r.note or (f"1st call {fmt_time(r.first_call)}; {r.samples} samples"
                                  if r.first_call is not None else "")
            title = getattr(mod, "TITLE", key)
            out.append(f"| {title} | {r.impl} | {med} | {ratio(r, nb)} | {ratio(r, jx)} | {note} |")
    return "\n".join(out)


def versions() -> dict:
    v = {"python": platform.python_version(), "machine": platform.machine(),
         "cpus": os.cpu_count()}
    from importlib.metadata import PackageNotFoundError, version
    for name in ("numbax", "numpy", "numba", "jax", "jaxlib", "autograd"):
        try:
            v[name] = version(name)
        except PackageNotFoundError:
            v[name] = "not installed"
    return v


def openblas_core() -> str:
    """The CPU kernels numpy's OpenBLAS chose: matmul speed depends on it as much as on the CPU
    (OpenBLAS 0.3.31 picks its AVX2 'Haswell' kernels on AMD Zen 5, where OPENBLAS_CORETYPE=
    SkylakeX, its AVX-512 kernels, measured 1.6x faster on a 512x784x256 matmul)."""
    import ctypes
    importlib.import_module("numpy")   # loads the library
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return "unknown"
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for sym in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                    "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats (< 1 min)")
    ap.add_argument("--only", help="comma-separated workloads, e.g. W1,W2 (default: all)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads per BLAS/OpenMP/Numba/XLA pool (default 1; 0: library defaults)")
    args = ap.parse_args(argv)
    threads = pin_threads(args.threads)
    asked = list(MODULES) if not args.only else [k.strip().upper() for k in args.only.split(",")]
    unknown = [k for k in asked if k not in MODULES]
    keys = [k for k in MODULES if k in asked]
    if unknown:
        ap.error(f"unknown workloads {unknown}; choose from {', '.join(MODULES)}")

    t0 = time.perf_counter()
    meta = versions()
    print(f"# numbax benchmarks ({'quick' if args.quick else 'full'}), float64\n")
    meta["threads"] = threads
    meta["openblas kernels"] = openblas_core()
    print(", ".join(f"{k} {v}" for k, v in meta.items()) + "\n", flush=True)
    results = []
    for key in keys:
        t = time.perf_counter()
        print(f"running {key} ...", file=sys.stderr, flush=True)
        mod, res = run_workload(key, args.quick)
        print(f"  {key} done in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        results.append((key, mod, res))

    print(table(results))
    for _, _, res in results:
        if res.extra:
            print("\n" + res.extra)
    print("\n### Targets" + (" (quick mode: smaller sizes than the issue's)" if args.quick else ""))
    print()
    for _, _, res in results:
        for tg in res.targets:
            mark = {True: "MET", False: "MISSED", None: "N/A"}[tg.met]
            print(f"- **{mark}** {tg.text}: {tg.detail}")
    bad = [(r.workload, r.impl, r.status, r.error) for _, _, res in results for r in res.rows
           if r.status != "ok"]
    if bad:
        print("\n### Failures\n")
        for w, i, s, e in bad:
            print(f"- {s} {w} / {i}: {e}")
    wall = time.perf_counter() - t0
    print(f"\nTotal wall time {wall:.1f} s; {threads}. Hand Numba loops are single-threaded.")
    if args.json:
        payload = {"meta": {**meta, "quick": args.quick, "wall_s": wall},
                   "workloads": {key: {"title": getattr(mod, "TITLE", key),
                                       "rows": [dataclasses.asdict(r) for r in res.rows],
                                       "targets": [dataclasses.asdict(t) for t in res.targets],
                                       "data": res.data}
                                 for key, mod, res in results}}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=str))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
