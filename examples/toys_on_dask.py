"""100 000 toy fits of a HistFactory-style model on a Dask cluster, with numbax.distributed.map.

The model (as in examples/histfactory_fit.py): 10 bins, a signal scaled by mu on a background
with one constrained nuisance factor gamma_i per bin (an auxiliary Poisson measurement). Each toy
is a pseudo-dataset drawn at mu = 1; each fit is a BFGS minimisation with its Hessian error, and
`distributed.map` runs them as `jit(vmap(fit))` on chunks spread over the workers.

It measures, in fits per second:
  1. one process: `jit(vmap(fit))` over all toys (the baseline);
  2. a LocalCluster of 1, 2, ... worker processes (one thread each): `distributed.map` with the
     same function, from the first call (workers load or compile the program) and warm;
and checks that every configuration gives the same fits, and the pulls.

Run: python examples/toys_on_dask.py [--toys N] [--workers 1,2] [--small]
(--small, or NUMBAX_EXAMPLE_SMALL=1: 4000 toys and 2 workers, for CI.) Needs numbax[distributed].
On a real cluster, pass `Client("scheduler-address:8786")` instead of the LocalCluster.
"""
import argparse
import os
import time

import numpy as np

import numbax
import numbax.numpy as jnp
from numbax import distributed
from numbax.optimize import fit_uncertainties, minimize
from numbax.scipy.stats import poisson

BINS = np.arange(10)
SIGNAL = 20.0 * np.exp(-0.5 * ((BINS - 4.5) / 1.5) ** 2)
BKG = 100.0 * np.exp(-BINS / 8.0)
TAU = np.full(10, (1 / 0.08) ** 2)       # tau = (b / sigma_b)^2, sigma_b 8% of the background


def nll(p, n, aux):
    main = poisson.logpmf(n, p["mu"] * SIGNAL + p["gamma"] * BKG)
    constraint = poisson.logpmf(aux, p["gamma"] * TAU)
    return -(jnp.sum(main) + jnp.sum(constraint))


def fit(toy):
    """One toy: (n, aux) -> (mu_hat, its Hessian error, converged)."""
    n, aux = toy
    start = {"mu": 1.0, "gamma": jnp.ones(10)}
    result = minimize(nll, start, args=(n, aux))
    errors = fit_uncertainties(nll, result, args=(n, aux))
    return result.x["mu"], errors.std["mu"], result.success


def toys(count, seed=1):
    rng = np.random.default_rng(seed)
    n = rng.poisson(SIGNAL + BKG, size=(count, 10)).astype(np.float64)
    aux = rng.poisson(TAU, size=(count, 10)).astype(np.float64)
    return n, aux


def timed(run):
    t = time.perf_counter()
    out = run()
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--toys", type=int, help="number of toys (default 100000; 4000 with --small)")
    ap.add_argument("--workers", default=None, help="worker counts to try, e.g. 1,2 (default: "
                    "1 and every power of 2 up to the cores)")
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    small = args.small or os.environ.get("NUMBAX_EXAMPLE_SMALL") == "1"
    count = args.toys or (4000 if small else 100_000)
    cores = os.cpu_count() or 1
    workers = [int(w) for w in args.workers.split(",")] if args.workers else \
        sorted({1, *[2 ** k for k in range(1, cores.bit_length()) if 2 ** k <= cores]})
    data = toys(count)
    print(f"{count} toy fits of a 10-bin model (11 parameters each), {cores} cores")

    local = numbax.jit(numbax.vmap(fit))
    _, first = timed(lambda: local(data))
    (mu, sigma, ok), dt = timed(lambda: local(data))
    mu, sigma, ok = map(np.asarray, (mu, sigma, ok))
    base = count / dt
    print(f"one process, jit(vmap(fit)): first call {first:.1f} s (trace + compile, or disk "
          f"cache), then {dt:.2f} s = {base:,.0f} fits/s")
    pulls = ((mu - 1.0) / sigma)[ok]
    print(f"converged {ok.mean():.2%}; pulls: mean {pulls.mean():+.3f}, std {pulls.std():.3f} "
          f"(expected about 0 and 1)")

    from dask.distributed import Client, LocalCluster
    print("\nworkers | first call | warm        | fits/s  | vs one process | per worker")
    for w in workers:
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None) as cluster, \
                Client(cluster) as client:
            run = lambda: distributed.map(fit, data, client=client)   # noqa: E731
            _, first = timed(run)
            (mu_d, sigma_d, ok_d), dt = timed(run)
        same = np.array_equal(ok_d, ok) and np.allclose(mu_d, mu, rtol=1e-12, atol=0) \
            and np.allclose(sigma_d, sigma, rtol=1e-12, atol=0)
        assert same, "the cluster's fits differ from the single-process fits"
        rate = count / dt
        print(f"{w:7d} | {first:8.1f} s | {dt:8.2f} s  | {rate:7,.0f} | {rate / base:13.2f}x | "
              f"{rate / w:,.0f} fits/s")
    print("\nevery cluster run gave the single-process fits, row for row")


if __name__ == "__main__":   # Dask starts worker processes that import this file
    main()
