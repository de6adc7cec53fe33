"""numbax on an NVIDIA GPU against CuPy and JAX: W1 (n = 1e8), W2 and W3 in float64, reported as
achieved memory bandwidth against the device's own copy bandwidth; and W6b's 1000 toy fits
(fits per second).

    python benchmarks/gpu.py [--n 1e8] [--repeats 15] [--quick] [--only W1,W2] [--json out.json]
    python benchmarks/gpu.py --simulate      # no GPU needed: Numba's CUDA simulator, tiny sizes

What it measures, in one process:

* copy bandwidth: a device-to-device copy of n float64 (cuMemcpyDtoD, and a grid-stride Numba
  copy kernel), 16 n bytes (read + written) per copy; the faster of the two is the reference.
* per workload (the definitions of benchmarks/w1_elementwise.py, w2_logreg.py, w3_mlp.py):
  numbax `jit(value_and_grad(f), device="cuda")` on inputs put on the GPU once, CuPy (hand
  gradients: W1 as two `cupy.fuse` kernels and as plain expressions, W2/W3 plain CuPy + cuBLAS)
  and `jax.jit` on `jax.devices("gpu")[0]`. Every implementation's first call is timed (it
  includes compilation) and its result is checked against numbax's CPU `jit` before any timing,
  so a wrong kernel is never timed. Then round-robin: `--repeats` samples each, a sample being
  the mean of as many synchronised calls (call, then wait for the GPU) as fill `--min-time`
  seconds; the median is reported.
* achieved bandwidth = minimum bytes touched (every input read once, every output written once)
  / median time, also as a fraction of the copy bandwidth; GFLOP/s for the matmul workloads;
  time relative to numbax (> 1: slower than numbax).

CuPy and JAX are optional ("not installed" / "no GPU" rows). JAX's GPU memory preallocation is
switched off (XLA_PYTHON_CLIENT_PREALLOCATE=false) so the three libraries share the device.
Exit status 1 when numbax raised or any implementation disagreed with the reference; a baseline
that raised is reported but does not fail the run.

--simulate (or NUMBA_ENABLE_CUDASIM=1 in the environment) runs every numbax path at tiny sizes on
Numba's CUDA simulator (one Python thread per CUDA thread) to prove the script works without a
GPU; its timings are meaningless and labelled so, and the CuPy/JAX rows are skipped.
"""
from __future__ import annotations

import os
import sys

# The simulator must be switched on before numba is imported.
_SIM_FLAG = "--simulate" in sys.argv[1:]
if _SIM_FLAG:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    if "numba" in sys.modules and not sys.modules["numba"].config.ENABLE_CUDASIM:
        os.execv(sys.executable, [sys.executable] + sys.argv)    # numba came in too early
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))      # benchmark the working tree
sys.path.insert(0, str(HERE))

from _harness import fmt_time, loud, mismatch, time_per_call  # noqa: E402

NUMBAX = "numbax jit cuda"
CUPY_FUSED = "cupy.fuse (hand grad)"
CUPY = "cupy (hand grad)"
JAX = "jax.jit gpu"
RTOL = 1e-9          # every result against numbax's CPU jit (atol = RTOL * max|ref|, per leaf)

SIZES = {   # mode -> W1 n, W2 (rows, features), W3 (batch, layer sizes or None: w3_mlp's),
    # W6b (toys, bins)
    "full": dict(w1=100_000_000, w2=(100_000, 100), w3=(512, None), w6b=(1000, 100)),
    "quick": dict(w1=1_000_000, w2=(20_000, 100), w3=(128, None), w6b=(100, 100)),
    "simulate": dict(w1=1_000, w2=(64, 8), w3=(8, (16, 8, 8, 4)), w6b=(3, 2)),
}
SETTINGS = {"full": dict(repeats=15, min_time=0.05), "quick": dict(repeats=5, min_time=0.01),
            "simulate": dict(repeats=1, min_time=0.0)}


# --------------------------------------------------------------------------- libraries

def simulated() -> bool:
    import numba
    return bool(numba.config.ENABLE_CUDASIM)


def gpu_info(cuda) -> dict:
    if simulated():
        return {"name": "CUDA simulator", "sms": None, "memory_gb": None}
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    info = {"name": name, "sms": dev.MULTIPROCESSOR_COUNT,
            "compute_capability": ".".join(map(str, dev.compute_capability))}
    try:
        free, total = cuda.current_context().get_memory_info()
        info["memory_gb"] = round(total / 1e9, 1)
    except Exception:  # noqa: BLE001
        info["memory_gb"] = None
    return info


def optional_cupy():
    """(cupy, None) when CuPy can run on the GPU, else (None, why)."""
    try:
        import cupy
    except ImportError:
        return None, "not installed"
    except Exception as e:  # noqa: BLE001 - a CuPy built for another CUDA raises here
        return None, f"import failed: {type(e).__name__}: {e}"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None, "no GPU"
    except Exception as e:  # noqa: BLE001
        return None, f"no GPU ({type(e).__name__}: {e})"
    return cupy, None


def optional_jax_gpu():
    """(jax, gpu device, None) with float64 enabled, else (None, None, why)."""
    try:
        import jax
    except ImportError:
        return None, None, "not installed"
    jax.config.update("jax_enable_x64", True)
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        return None, None, f"no GPU (jax {jax.__version__} sees {jax.devices()[0].platform} only)"
    if not gpus:
        return None, None, "no GPU"
    return jax, gpus[0], None


def to_host(tree):
    """A result's leaves as numpy arrays: numba device arrays, CuPy and JAX arrays."""
    if isinstance(tree, dict):
        return {k: to_host(v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(to_host(v) for v in tree)
    if type(tree).__module__.startswith("cupy"):
        return tree.get()
    if hasattr(tree, "copy_to_host"):                  # numba device array
        return np.asarray(tree.copy_to_host())
    return np.asarray(tree)


# --------------------------------------------------------------------------- copy bandwidth

cuda = None     # numba.cuda once imported: a module global, as the simulator needs in kernels


def _fill(a, scale):
    i = cuda.grid(1)
    while i < a.shape[0]:
        a[i] = i * scale
        i += cuda.gridsize(1)


def _copy(src, dst):
    i = cuda.grid(1)
    while i < src.shape[0]:
        dst[i] = src[i]
        i += cuda.gridsize(1)


def copy_bandwidth(cuda_module, n: int, repeats: int, min_time: float) -> dict:
    """Device-to-device copies of n float64: 16 n bytes each (read + write)."""
    global cuda
    cuda = cuda_module
    fill, copy = cuda.jit(_fill), cuda.jit(_copy)

    block = 32 if simulated() else 256
    sms = 1 if simulated() else cuda.get_current_device().MULTIPROCESSOR_COUNT
    grid = min(math.ceil(n / block), (2 if simulated() else 32) * sms)
    a = cuda.device_array(n, np.float64)
    b = cuda.device_array(n, np.float64)
    fill[grid, block](a, 0.5)

    def memcpy():
        b.copy_to_device(a)
        cuda.synchronize()

    def kernel():
        copy[grid, block](a, b)
        cuda.synchronize()

    out = {"n": n, "bytes": 16 * n}
    for name, fn in (("memcpy DtoD", memcpy), ("numba copy kernel", kernel)):
        fill[grid, block](b, 0.0)
        fn()                                            # warm-up (the kernel compiles)
        k = min(n, 1024)
        if not np.array_equal(b[n - k:].copy_to_host(), np.arange(n - k, n) * 0.5):
            raise RuntimeError(f"copy bandwidth: the {name} copied wrong values")
        t = float(np.median([time_per_call(fn, min_time) for _ in range(repeats)]))
        out[name] = {"median_s": t, "gb_s": 16 * n / t / 1e9}
    out["reference"] = max(("memcpy DtoD", "numba copy kernel"), key=lambda k: out[k]["gb_s"])
    out["gb_s"] = out[out["reference"]]["gb_s"]
    return out


# --------------------------------------------------------------------------- workloads
# Each returns dict(title, f (the function numbax differentiates), args (host), bytes, flops,
# cupy (cupy -> {name: (fn, args)}), jax_f (jnp -> function for jax.jit)).

def w1(n: int) -> dict:
    import numbax as nb
    import numbax.numpy as jnp
    import w1_elementwise as m
    x = np.random.default_rng(0).uniform(-2.0, 2.0, n)

    def cupy_impls(cp):
        @cp.fuse(kernel_name="w1_value")
        def value(x):
            return cp.sum(cp.sin(x) ** 2 + cp.cos(x) * cp.exp(-x))

        @cp.fuse(kernel_name="w1_grad")
        def grad(x):
            s, c, e = cp.sin(x), cp.cos(x), cp.exp(-x)
            return 2.0 * s * c - e * (s + c)

        def plain(x):
            s, c, e = cp.sin(x), cp.cos(x), cp.exp(-x)
            return cp.sum(s * s + c * e), 2.0 * s * c - e * (s + c)

        xd = cp.asarray(x)
        return {CUPY_FUSED: (lambda x: (value(x), grad(x)), (xd,)), CUPY: (plain, (xd,))}

    return dict(title=f"W1 sum(sin²+cos·exp(-x)) vag, n = {n:.3g}",
                f=nb.value_and_grad(m.make_f(jnp)),
                args=(x,), bytes=8 * (n + n + 1), flops=None, cupy=cupy_impls,
                jax_f=lambda jax: jax.value_and_grad(m.make_f(jax.numpy)))


def w2(rows: int, d: int) -> dict:
    import numbax as nb
    import numbax.numpy as jnp
    import w2_logreg as m
    w, X, y = m.data(rows, d)

    def cupy_impls(cp):
        return {CUPY: (lambda w, X, y: m.numpy_vag(w, X, y, xp=cp),
                       tuple(cp.asarray(a) for a in (w, X, y)))}

    return dict(title=f"W2 logistic NLL + L2 vag, X {rows}x{d}",
                f=nb.value_and_grad(m.make_loss(jnp)),
                args=(w, X, y), bytes=8 * ((rows * d + rows + d) + (1 + d)),
                flops=4 * rows * d, cupy=cupy_impls,
                jax_f=lambda jax: jax.value_and_grad(m.make_loss(jax.numpy)))


def w3(batch: int, sizes=None) -> dict:
    import numbax as nb
    import numbax.numpy as jnp
    import w3_mlp as m
    if sizes is not None:          # the simulator's tiny layers (w3_mlp.data reads the global)
        m.SIZES = tuple(sizes)
    sizes = m.SIZES
    p, X, Y = m.data(batch)
    n_params = sum(v.size for v in p.values())
    d0, h1, h2, c = sizes
    # forward X@W1, h1@W2, h2@W3; backward dW3, dh2, dW2, dh1, dW1 (no dX)
    flops = 2 * batch * (2 * d0 * h1 + 3 * h1 * h2 + 3 * h2 * c)

    def cupy_impls(cp):
        pd = {k: cp.asarray(v) for k, v in p.items()}
        return {CUPY: (lambda p, X, Y: m.numpy_vag(p, X, Y, xp=cp),
                       (pd, cp.asarray(X), cp.asarray(Y)))}

    return dict(title=f"W3 MLP {'-'.join(map(str, sizes))} vag, batch {batch}",
                f=nb.value_and_grad(m.make_loss(jnp)), args=(p, X, Y),
                bytes=8 * ((n_params + X.size + Y.size) + (1 + n_params)), flops=flops,
                cupy=cupy_impls, jax_f=lambda jax: jax.value_and_grad(m.make_loss(jax.numpy)))


def w6b(ntoys: int, nbins: int) -> dict:
    """W6b's toy fits: BFGS on every pseudo-dataset of the binned model at once. On the GPU a
    vmapped while_loop keeps its lanes in lockstep (one masked loop), every step one kernel
    sequence over all toys. No CuPy version; JAX's vmapped BFGS gives up on about 30% of these
    toys (see w6b_toys.py), so it is not compared here."""
    import numbax as nb
    from numbax.optimize import minimize
    from numbax.scipy import stats
    import w6_fit
    s, b, _ = w6_fit.model(nbins)
    data = np.random.default_rng(1).poisson(s + b, size=(ntoys, nbins)).astype(np.float64)
    nll, x0 = w6_fit.make_nll(stats, s, b), w6_fit.start(nbins)
    return dict(title=f"W6b {ntoys} BFGS toy fits, {nbins} bins",
                f=nb.vmap(lambda n: minimize(nll, x0, args=(n,)).x["mu"]), args=(data,),
                bytes=None, flops=None, cupy=None, jax_f=None, rtol=1e-4, items=(ntoys, "fits"))


# --------------------------------------------------------------------------- running

def new_row(key, title, impl, **kw) -> dict:
    row = dict(workload=key, title=title, impl=impl, status="ok", median_s=None, samples=0,
               first_call_s=None, gb_s=None, frac_copy=None, gflop_s=None, vs_numbax=None,
               note="", error="")
    row.update(kw)
    return row


def synchronised(fn, args, sync):
    def call():
        r = fn(*args)
        sync()
        return r
    return call


def run_workload(key: str, wl: dict, ctx: dict, settings: dict) -> list[dict]:
    import numbax as nb
    title = wl["title"]
    rows: list[dict] = []
    impls: dict = {}                  # name -> zero-argument callable, synchronised

    t0 = time.perf_counter()
    ref = to_host(nb.jit(wl["f"])(*wl["args"]))          # numbax CPU jit: the reference
    ref_s = time.perf_counter() - t0
    print(f"  {key}: CPU reference in {ref_s:.1f} s", file=sys.stderr, flush=True)

    # numbax on the GPU: inputs put there once
    f_gpu = nb.jit(wl["f"], device="cuda")
    dargs = nb.block_until_ready(nb.device_put(wl["args"], "cuda"))
    impls[NUMBAX] = lambda: nb.block_until_ready(f_gpu(*dargs))
    rows.append(new_row(key, title, NUMBAX))

    def add_cupy(cp):
        sync = cp.cuda.Device().synchronize
        for name, (fn, args) in wl["cupy"](cp).items():
            impls[name] = synchronised(fn, args, sync)
            rows.append(new_row(key, title, name))

    def add_jax(jax):
        f_j = jax.jit(wl["jax_f"](jax))
        jargs = jax.block_until_ready(jax.device_put(wl["args"], ctx["jax_dev"]))
        impls[JAX] = lambda: jax.block_until_ready(f_j(*jargs))
        rows.append(new_row(key, title, JAX))

    for name, wanted, lib, why, available, add in (
            ("cupy", wl["cupy"], ctx["cupy"], ctx["cupy_why"], "available", add_cupy),
            ("jax.jit", wl["jax_f"], ctx["jax"], ctx["jax_why"], "GPU available", add_jax)):
        if wanted is None:
            rows.append(new_row(key, title, name, status="skipped",
                                note="no counterpart for this workload"))
        elif ctx["simulate"]:
            rows.append(new_row(key, title, name, status="skipped",
                                note=f"not run under --simulate ({why or available})"))
        elif lib is None:
            rows.append(new_row(key, title, name, status="skipped", note=why))
        else:
            try:
                add(lib)
            except Exception as e:  # noqa: BLE001
                rows.append(new_row(key, title, name, status="ERROR",
                                    error=f"{type(e).__name__}: {e}"))

    by_name = {r["impl"]: r for r in rows}
    for name, fn in list(impls.items()):          # first call (compiles), then the check
        row = by_name[name]
        try:
            t0 = time.perf_counter()
            result = fn()
            row["first_call_s"] = time.perf_counter() - t0
            msg = mismatch(to_host(result), ref, wl.get("rtol", RTOL))
            del result
        except Exception as e:  # noqa: BLE001
            row["status"], row["error"] = "ERROR", f"{type(e).__name__}: {e}"
            loud(f"ERROR {key} / {name} raised {type(e).__name__}: {e}\n{traceback.format_exc()}")
            del impls[name]
            continue
        if msg:
            row["status"], row["error"] = "FAILED", f"disagrees with numbax CPU jit: {msg}"
            loud(f"MISMATCH {key} / {name}: {msg}")
            del impls[name]
    samples = {name: [] for name in impls}
    for _ in range(settings["repeats"]):             # round-robin, so drift hits all alike
        for name, fn in impls.items():
            samples[name].append(time_per_call(fn, settings["min_time"]))
    copy_gb_s = ctx["copy"]["gb_s"] if ctx.get("copy") else None
    for name, s in samples.items():
        row = by_name[name]
        t = float(np.median(s))
        row["median_s"], row["samples"] = t, len(s)
        if wl["bytes"]:
            row["gb_s"] = wl["bytes"] / t / 1e9
            if copy_gb_s:
                row["frac_copy"] = row["gb_s"] / copy_gb_s
        if wl.get("items"):
            count, what = wl["items"]
            row["note"] = (row["note"] + "; " if row["note"] else "") + f"{count / t:.3g} {what}/s"
        if wl["flops"]:
            row["gflop_s"] = wl["flops"] / t / 1e9
    base = by_name[NUMBAX]["median_s"]
    for row in rows:
        if base and row["median_s"]:
            row["vs_numbax"] = row["median_s"] / base
    for r in rows:
        r["bytes"], r["flops"] = wl["bytes"], wl["flops"]
    return rows


def fmt(v, spec, none="—"):
    return none if v is None else format(v, spec)


def table(rows: list[dict], simulate: bool) -> str:
    hdr = ("| Workload | Implementation | Median | 1st call (compile) | GB/s | % copy BW | GFLOP/s "
           "| × numbax (time) | Notes |")
    out = [hdr, "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r["status"] == "ok":
            med = fmt_time(r["median_s"]) + (" (sim)" if simulate else "")
            note = r["note"] or f"{r['samples']} samples"
        else:
            med = f"**{r['status']}**"
            note = (r["error"] or r["note"])[:160].replace("|", "\\|").replace("\n", " ")
        frac = fmt(None if r["frac_copy"] is None else 100 * r["frac_copy"], ".1f")
        out.append(f"| {r['title']} | {r['impl']} | {med} | {fmt_time(r['first_call_s'])} | "
                   f"{fmt(r['gb_s'], '.1f')} | {frac} | {fmt(r['gflop_s'], '.1f')} | "
                   f"{fmt(r['vs_numbax'], '.3g')} | {note} |")
    return "\n".join(out)


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    v = {"python": platform.python_version()}
    for name in ("numbax", "numpy", "numba", "numba-cuda", "cupy", "cupy-cuda12x", "cupy-cuda13x",
                 "jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin"):
        try:
            v[name] = version(name)
        except PackageNotFoundError:
            pass
    return v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--n", type=float, default=None,
                    help="W1 length (default 1e8; --quick 1e6; --simulate 1e3)")
    ap.add_argument("--repeats", type=int, default=None, help="timing samples per implementation")
    ap.add_argument("--min-time", type=float, default=None,
                    help="seconds of synchronised calls per sample (default 0.05; quick 0.01)")
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--simulate", action="store_true",
                    help="Numba's CUDA simulator, tiny sizes: proves the script runs without a "
                         "GPU; timings meaningless")
    ap.add_argument("--only", help="comma-separated workloads among W1,W2,W3,W6b (default all)")
    ap.add_argument("--copy-n", type=float, default=None,
                    help="float64 elements in the copy-bandwidth test (default max(n, 2**25))")
    ap.add_argument("--w2-rows", type=int, default=None, help="W2 rows of X (default 100000)")
    ap.add_argument("--w3-batch", type=int, default=None, help="W3 batch (default 512)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    simulate = args.simulate or simulated()
    mode = "simulate" if simulate else "quick" if args.quick else "full"
    sizes, settings = dict(SIZES[mode]), dict(SETTINGS[mode])
    if args.n is not None:
        sizes["w1"] = int(args.n)
    if args.w2_rows is not None:
        sizes["w2"] = (args.w2_rows, sizes["w2"][1])
    if args.w3_batch is not None:
        sizes["w3"] = (args.w3_batch, sizes["w3"][1])
    if args.repeats is not None:
        settings["repeats"] = args.repeats
    if args.min_time is not None:
        settings["min_time"] = args.min_time
    known = ["W1", "W2", "W3", "W6B"]
    keys = [k.strip().upper() for k in args.only.split(",")] if args.only else known
    if set(keys) - set(known):
        ap.error(f"unknown workloads {sorted(set(keys) - set(known))}; choose among {known}")
    copy_n = int(args.copy_n) if args.copy_n else (sizes["w1"] if simulate
                                                   else max(sizes["w1"], 2 ** 25))

    t_start = time.perf_counter()
    from numbax.backends.numba_cuda import runtime
    try:
        cuda = runtime.cuda_module()
    except RuntimeError as e:
        print(f"no GPU for numbax: {e}\nRun `python benchmarks/gpu.py --simulate` to check the "
              "script on Numba's CUDA simulator.", file=sys.stderr)
        return 2
    ctx = {"simulate": simulate}
    ctx["cupy"], ctx["cupy_why"] = optional_cupy()
    ctx["jax"], ctx["jax_dev"], ctx["jax_why"] = optional_jax_gpu()
    meta = {**versions(), "gpu": gpu_info(cuda), "mode": mode, "sizes": sizes, **settings,
            "simulated": simulate}

    banner = ("# numbax GPU benchmark, float64" +
              (" -- SIMULATED (Numba CUDA simulator): timings are meaningless, this run only "
               "checks that every numbax path works" if simulate else ""))
    print(banner + "\n")
    print(", ".join(f"{k} {v}" for k, v in meta.items() if k not in ("sizes",)) + "\n", flush=True)

    t = time.perf_counter()
    try:
        ctx["copy"] = copy_bandwidth(cuda, copy_n, settings["repeats"], settings["min_time"])
    except Exception as e:  # noqa: BLE001
        loud(f"copy bandwidth failed: {type(e).__name__}: {e}")
        ctx["copy"] = None
    print(f"copy bandwidth done in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    if ctx["copy"]:
        c = ctx["copy"]
        print(f"Copy bandwidth ({c['n']:.3g} float64, read + write = {c['bytes'] / 1e9:.3g} GB): "
              f"memcpy DtoD {c['memcpy DtoD']['gb_s']:.1f} GB/s, numba copy kernel "
              f"{c['numba copy kernel']['gb_s']:.1f} GB/s; reference: {c['reference']}"
              + (" (simulated: meaningless)" if simulate else "") + "\n")

    builders = {"W1": lambda: w1(sizes["w1"]), "W2": lambda: w2(*sizes["w2"]),
                "W3": lambda: w3(*sizes["w3"]), "W6B": lambda: w6b(*sizes["w6b"])}
    rows: list[dict] = []
    for key in keys:
        t = time.perf_counter()
        print(f"running {key} ...", file=sys.stderr, flush=True)
        try:
            rows += run_workload(key, builders[key](), ctx, settings)
        except Exception as e:  # noqa: BLE001
            loud(f"ERROR {key}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
            rows.append(new_row(key, key, NUMBAX, status="ERROR", error=f"{type(e).__name__}: {e}"))
        gc.collect()
        if ctx["cupy"] is not None:
            ctx["cupy"].get_default_memory_pool().free_all_blocks()
        print(f"  {key} done in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)

    print(table(rows, simulate))
    print("\nGB/s: minimum bytes touched (inputs read once, outputs written once) / median; "
          "% copy BW: of the copy bandwidth above; × numbax: time / numbax's time (> 1 is "
          "slower). W3 is compute-bound (see GFLOP/s). CuPy W1 fused: two kernels (value, grad).")
    if simulate:
        print("SIMULATED RUN: timings and bandwidths are meaningless.")
    bad = [r for r in rows if r["status"] == "FAILED" or (r["status"] == "ERROR"
                                                          and r["impl"] == NUMBAX)]
    errors = [r for r in rows if r["status"] in ("FAILED", "ERROR")]
    if errors:
        print("\n### Failures\n")
        for r in errors:
            print(f"- {r['status']} {r['workload']} / {r['impl']}: {r['error']}")
    wall = time.perf_counter() - t_start
    print(f"\nTotal wall time {wall:.1f} s.")
    if args.json:
        payload = {"meta": {**meta, "wall_s": wall}, "copy_bandwidth": ctx["copy"], "rows": rows}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=str))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
