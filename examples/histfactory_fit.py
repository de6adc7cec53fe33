"""A HistFactory-style binned likelihood fit with numbax.optimize.

The model is pyhf's `simplemodels.uncorrelated_background`: per bin, a signal scaled by the
parameter of interest mu plus a background with its own uncorrelated uncertainty ("shapesys"), a
multiplicative factor gamma_i constrained by an auxiliary Poisson measurement:

    n_i   ~ Poisson(mu * s_i + gamma_i * b_i)                     main measurement
    tau_i ~ Poisson(gamma_i * tau_i),  tau_i = (b_i / sigma_i)^2   auxiliary (continuous in tau_i)

What it shows:
  1. the fit of pyhf's README model (signal [12, 11], background [50, 52] +- [3, 7], observed
     [51, 48]): best fit, scipy-style message, standard errors and correlations from the exact
     Hessian (`fit_uncertainties`);
  2. on a 10-bin version, a profile-likelihood scan of mu (`profile`, every point a refit of the
     gammas, all points one batched fit) and the 68% interval where q = 2 (NLL - NLL_min) = 1;
  3. the NLL and its gradient on a grid over (mu, gamma_0), the other gammas at their best fit,
     as `vmap(value_and_grad(nll2d), in_axes=(0, None))` (grid points batched, data not);
     `--plot` saves a contour + quiver plot (needs matplotlib);
  4. toy fits: pseudo-data drawn at mu = 1, all fitted by one `jit(vmap(...))` program that also
     computes each fit's Hessian error, giving the pull distribution (mu_hat - 1) / sigma_hat.

Run: python examples/histfactory_fit.py [--small] [--plot]
(--small, or NUMBAX_EXAMPLE_SMALL=1, cuts the grid to 11x11 and the toys to 50, for CI.)
"""
import argparse
import os
import time

import numpy as np

import numbax
import numbax.numpy as jnp
from numbax.optimize import fit_uncertainties, minimize, profile
from numbax.scipy.stats import poisson


class Model:
    """uncorrelated_background: parameters {"mu": scalar, "gamma": one per bin}."""

    def __init__(self, signal, bkg, bkg_uncertainty):
        self.s = np.asarray(signal, np.float64)
        self.b = np.asarray(bkg, np.float64)
        self.tau = (self.b / np.asarray(bkg_uncertainty, np.float64)) ** 2
        self.nbins = len(self.s)

    def init(self):
        return {"mu": 1.0, "gamma": np.ones(self.nbins)}

    def expected(self, p):
        return p["mu"] * self.s + p["gamma"] * self.b

    def nll(self, p, n, aux):
        """-log L for main counts n and auxiliary data aux (pyhf's auxdata is tau)."""
        main = poisson.logpmf(n, self.expected(p))
        constraint = poisson.logpmf(aux, p["gamma"] * self.tau)
        return -(jnp.sum(main) + jnp.sum(constraint))


def section(title):
    print(f"\n== {title} ==")


def fmt(v):
    return np.array2string(np.asarray(v), precision=4, floatmode="fixed", separator=", ",
                           suppress_small=True)


def readme_fit():
    section("1. pyhf README model: signal [12, 11], bkg [50, 52] +- [3, 7], observed [51, 48]")
    m = Model([12.0, 11.0], [50.0, 52.0], [3.0, 7.0])
    n, aux = np.array([51.0, 48.0]), m.tau
    fit = minimize(m.nll, m.init(), args=(n, aux))
    unc = fit_uncertainties(m.nll, fit, args=(n, aux))
    print(f"message : {fit.message} ({int(fit.nit)} iterations, {int(fit.nfev)} evaluations)")
    print(f"best fit: mu = {float(fit.x['mu']):.4f} +- {float(unc.std['mu']):.4f}, "
          f"gamma = {fmt(fit.x['gamma'])} +- {fmt(unc.std['gamma'])}")
    print(f"-2 log L at the minimum: {2 * float(fit.fun):.4f}")
    print("correlations (" + ", ".join(unc.names) + "):")
    for name, row in zip(unc.names, np.asarray(unc.corr)):
        print(f"  {name:>9s} {fmt(row)}")


def ten_bin_model(seed=0):
    x = np.arange(10)
    signal = 20.0 * np.exp(-0.5 * ((x - 4.5) / 1.5) ** 2)
    bkg = 100.0 * np.exp(-x / 8.0)
    m = Model(signal, bkg, 0.08 * bkg)
    n = np.random.default_rng(seed).poisson(signal + bkg).astype(np.float64)
    return m, n


def q_crossings(values, q, level=1.0):
    """Where q (a scan with one minimum) crosses `level` on either side, linearly interpolated."""
    values, q = np.asarray(values), np.asarray(q)
    i = int(np.argmin(q))
    lo = hi = np.nan
    left, right = q[:i + 1][::-1], q[i:]
    j = np.argmax(left >= level) if np.any(left >= level) else None
    if j:
        a, b = i - j, i - j + 1
        lo = values[a] + (level - q[a]) * (values[b] - values[a]) / (q[b] - q[a])
    j = np.argmax(right >= level) if np.any(right >= level) else None
    if j:
        a, b = i + j - 1, i + j
        hi = values[a] + (level - q[a]) * (values[b] - values[a]) / (q[b] - q[a])
    return lo, hi


def profile_scan(m, n, small):
    section(f"2. {m.nbins}-bin model: fit and profile-likelihood scan of mu")
    aux = m.tau
    fit = minimize(m.nll, m.init(), args=(n, aux))
    unc = fit_uncertainties(m.nll, fit, args=(n, aux))
    mu_hat, sigma = float(fit.x["mu"]), float(unc.std["mu"])
    print(f"message : {fit.message}")
    print(f"best fit: mu = {mu_hat:.4f} +- {sigma:.4f} (Hessian); "
          f"gamma in [{np.min(fit.x['gamma']):.3f}, {np.max(fit.x['gamma']):.3f}]")
    values = np.linspace(mu_hat - 2.5 * sigma, mu_hat + 2.5 * sigma, 21 if small else 61)
    t = time.perf_counter()
    prof = profile(m.nll, fit, "mu", values, args=(n, aux))
    dt = time.perf_counter() - t
    q = np.asarray(prof.q)
    lo, hi = q_crossings(values, q)
    print(f"profile : {len(values)} points, {np.mean(prof.success):.0%} of the refits converged "
          f"({dt:.2f} s incl. compile); min q = {q.min():.2e}")
    print(f"68% CL interval from q = 1: mu in [{lo:.4f}, {hi:.4f}]  "
          f"(= {mu_hat:.4f} -{mu_hat - lo:.4f} +{hi - mu_hat:.4f}; Hessian: +-{sigma:.4f})")
    return fit, lo, hi


def grid_scan(m, n, fit, small, plot):
    k = 11 if small else 101
    section(f"3. NLL and gradient on a {k}x{k} grid over (mu, gamma_0), other gammas at best fit")
    aux = m.tau
    gamma_rest = np.asarray(fit.x["gamma"])

    def nll2d(xy, rest):
        """NLL as a function of (mu, gamma_0), the remaining gammas fixed (in `rest`)."""
        n, aux, gamma_rest = rest
        gamma = jnp.concatenate([jnp.reshape(xy[1], (1,)), gamma_rest[1:]])
        return m.nll({"mu": xy[0], "gamma": gamma}, n, aux)

    mu_hat, g_hat = float(fit.x["mu"]), float(fit.x["gamma"][0])
    mus = np.linspace(0.0, 3.0, k)
    gs = np.linspace(0.8, 1.2, k)
    MU, G = np.meshgrid(mus, gs, indexing="ij")
    points = np.stack([MU.ravel(), G.ravel()], axis=1)
    vg = numbax.vmap(numbax.value_and_grad(nll2d), in_axes=(0, None))
    t = time.perf_counter()
    vals, grads = vg(points, (n, aux, gamma_rest))
    dt = time.perf_counter() - t
    vals = np.asarray(vals).reshape(k, k)
    grads = np.asarray(grads).reshape(k, k, 2)
    i, j = np.unravel_index(np.argmin(vals), vals.shape)
    print(f"{k * k} points in one vmapped call: {dt * 1e3:.1f} ms (incl. tracing)")
    print(f"grid minimum at mu = {mus[i]:.4f}, gamma_0 = {gs[j]:.4f}; the fit: mu = {mu_hat:.4f}, "
          f"gamma_0 = {g_hat:.4f} (grid spacing {mus[1] - mus[0]:.4f}, {gs[1] - gs[0]:.4f})")
    # the exact gradient against central differences of the grid values
    fd_mu = (vals[2:, 1:-1] - vals[:-2, 1:-1]) / (2 * (mus[1] - mus[0]))
    fd_g = (vals[1:-1, 2:] - vals[1:-1, :-2]) / (2 * (gs[1] - gs[0]))
    exact = grads[1:-1, 1:-1]
    rel = max(np.max(np.abs(fd_mu - exact[..., 0])) / np.max(np.abs(exact[..., 0])),
              np.max(np.abs(fd_g - exact[..., 1])) / np.max(np.abs(exact[..., 1])))
    print(f"|gradient| at the grid minimum: {np.hypot(*grads[i, j]):.3g} "
          f"(largest on the grid: {np.max(np.hypot(grads[..., 0], grads[..., 1])):.3g}); "
          f"vs central differences of the grid: max rel. diff {rel:.1e}")
    if plot:
        save_plot(mus, gs, vals, grads, (mu_hat, g_hat))


def save_plot(mus, gs, vals, grads, best, path="histfactory_nll_grid.png"):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(--plot needs matplotlib, which is not installed: no plot)")
        return
    MU, G = np.meshgrid(mus, gs, indexing="ij")
    q = 2 * (vals - vals.min())
    fig, ax = plt.subplots(figsize=(6, 5))
    cs = ax.contour(MU, G, q, levels=[1, 2.3, 4, 6.18, 9, 16, 25])
    ax.clabel(cs, fontsize=7)
    step = max(1, len(mus) // 15)
    sl = (slice(None, None, step), slice(None, None, step))
    ax.quiver(MU[sl], G[sl], -grads[..., 0][sl], -grads[..., 1][sl], angles="xy", color="0.5")
    ax.plot(*best, "r*", ms=12, label="best fit")
    ax.set_xlabel("mu")
    ax.set_ylabel("gamma_0")
    ax.set_title("2 (NLL - min) and -gradient")
    ax.legend()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"saved {path}")


def toy_fits(m, ntoys, seed=1):
    section(f"4. {ntoys} toy fits at mu = 1 with jit(vmap(...))")
    rng = np.random.default_rng(seed)
    truth = {"mu": 1.0, "gamma": np.ones(m.nbins)}
    n = rng.poisson(m.expected(truth), size=(ntoys, m.nbins)).astype(np.float64)
    aux = rng.poisson(m.tau, size=(ntoys, m.nbins)).astype(np.float64)

    def fit_one(n, aux):
        fit = minimize(m.nll, m.init(), args=(n, aux))
        unc = fit_uncertainties(m.nll, fit, args=(n, aux))
        return fit.x["mu"], unc.std["mu"], fit.success

    fit_all = numbax.jit(numbax.vmap(fit_one))
    t = time.perf_counter()
    mu_hat, sigma, ok = fit_all(n, aux)
    first = time.perf_counter() - t
    t = time.perf_counter()
    mu_hat, sigma, ok = fit_all(n, aux)
    dt = time.perf_counter() - t
    mu_hat, sigma, ok = np.asarray(mu_hat), np.asarray(sigma), np.asarray(ok)
    pull = ((mu_hat - truth["mu"]) / sigma)[ok]
    print(f"converged: {ok.mean():.1%}; first call {first:.2f} s (trace + compile, or load from "
          f"the disk cache), then {dt * 1e3:.1f} ms = {ntoys / dt:,.0f} fits/s")
    print(f"mu_hat: mean {mu_hat[ok].mean():.4f}, std {mu_hat[ok].std():.4f} "
          f"(mean Hessian error {sigma[ok].mean():.4f})")
    err = pull.std() / np.sqrt(len(pull))
    print(f"pulls (mu_hat - 1) / sigma: mean {pull.mean():+.3f} +- {err:.3f}, "
          f"std {pull.std():.3f} (expected ~0 and ~1)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true",
                    help="small grid and few toys (also NUMBAX_EXAMPLE_SMALL=1)")
    ap.add_argument("--plot", action="store_true", help="save a PNG of the grid (matplotlib)")
    ap.add_argument("--toys", type=int, help="number of toy fits (default 1000; 50 with --small)")
    args = ap.parse_args(argv)
    small = args.small or os.environ.get("NUMBAX_EXAMPLE_SMALL", "") not in ("", "0")
    readme_fit()
    m, n = ten_bin_model()
    fit, _, _ = profile_scan(m, n, small)
    grid_scan(m, n, fit, small, args.plot)
    toy_fits(m, args.toys or (50 if small else 1000))


if __name__ == "__main__":
    main()
