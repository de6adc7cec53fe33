"""Linear regression as a likelihood fit with numbax.optimize.

Synthetic data y = X w + b + noise (noise ~ N(0, sigma^2), sigma known). The negative
log-likelihood NLL(w, b) = sum (y - X w - b)^2 / (2 sigma^2) is minimised over the pytree
{"w": vector, "b": scalar}, and checked against closed forms:
  1. `minimize(method="bfgs")` (BFGS compiled by numbax) against least squares (np.linalg.lstsq);
  2. `fit_uncertainties` (the inverse of the exact Hessian) against the analytic covariance
     sigma^2 (A^T A)^-1 with A = [X, 1] (the intercept is a parameter too);
  3. `method="scipy:L-BFGS-B"` with bounds, here w >= 0 (b free), against scipy's bounded
     least squares (scipy.optimize.lsq_linear).

Run: python examples/linear_regression_bfgs.py [--small]
(--small, or NUMBAX_EXAMPLE_SMALL=1, uses fewer data points, for CI.)
"""
import argparse
import os

import numpy as np
import scipy.optimize

import numbax.numpy as jnp
from numbax.optimize import fit_uncertainties, minimize

SIGMA = 0.5


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    w_true = np.array([1.5, -2.0, 0.5, 0.0, 3.0])
    b_true = 0.7
    X = rng.standard_normal((n, len(w_true)))
    y = X @ w_true + b_true + SIGMA * rng.standard_normal(n)
    return X, y, w_true, b_true


def nll(p, X, y):
    r = y - X @ p["w"] - p["b"]
    return jnp.sum(r * r) / (2.0 * SIGMA ** 2)


def fmt(v):
    return np.array2string(np.asarray(v), precision=4, floatmode="fixed", separator=", ",
                           sign=" ", suppress_small=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true",
                    help="fewer data points (also NUMBAX_EXAMPLE_SMALL=1)")
    args = ap.parse_args(argv)
    small = args.small or os.environ.get("NUMBAX_EXAMPLE_SMALL", "") not in ("", "0")
    n = 200 if small else 5000
    X, y, w_true, b_true = make_data(n)
    A = np.hstack([X, np.ones((n, 1))])
    x0 = {"w": np.zeros(X.shape[1]), "b": 0.0}
    print(f"{n} points, {X.shape[1]} features, noise sigma = {SIGMA}")
    print(f"truth        : w = {fmt(w_true)}, b = {b_true: .4f}")

    print("\n== 1. BFGS fit vs least squares ==")
    fit = minimize(nll, x0, args=(X, y), method="bfgs")
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    w_hat, b_hat = np.asarray(fit.x["w"]), float(fit.x["b"])
    print(f"message      : {fit.message} ({int(fit.nit)} iterations)")
    print(f"numbax BFGS  : w = {fmt(w_hat)}, b = {b_hat: .4f}")
    print(f"lstsq        : w = {fmt(coef[:-1])}, b = {coef[-1]: .4f}")
    diff = np.max(np.abs(np.append(w_hat, b_hat) - coef))
    print(f"max |BFGS - lstsq| = {diff:.1e}")

    print("\n== 2. fit_uncertainties vs the analytic covariance sigma^2 (A^T A)^-1 ==")
    unc = fit_uncertainties(nll, fit, args=(X, y))
    # fit_uncertainties orders parameters as unc.names: "b" before "w[0]".. (sorted dict keys)
    cov_exact = SIGMA ** 2 * np.linalg.inv(A.T @ A)
    order = [X.shape[1]] + list(range(X.shape[1]))          # b, w[0], ..., w[d-1]
    cov_exact = cov_exact[np.ix_(order, order)]
    std_exact = np.sqrt(np.diag(cov_exact))
    print(f"parameters   : {', '.join(unc.names)}")
    print(f"std (Hessian): {fmt(np.sqrt(np.diag(unc.cov)))}")
    print(f"std (exact)  : {fmt(std_exact)}")
    rel = np.max(np.abs(np.asarray(unc.cov) - cov_exact)) / np.max(np.abs(cov_exact))
    print(f"max |cov - exact| / max |exact| = {rel:.1e}")
    pulls = (np.append(b_hat, w_hat) - np.append(b_true, w_true)) / std_exact
    print(f"pulls (fit - truth) / std: {fmt(pulls)}")

    print("\n== 3. scipy:L-BFGS-B with bounds w >= 0 (b free) vs scipy.optimize.lsq_linear ==")
    # bounds: a (lower, upper) pair of pytrees like x0, leaves broadcast; None = unbounded
    bounded = minimize(nll, x0, args=(X, y), method="scipy:L-BFGS-B",
                       bounds=({"w": 0.0, "b": None}, None),
                       options={"ftol": 1e-14, "gtol": 1e-10})
    lo = np.append(np.zeros(X.shape[1]), -np.inf)
    ref = scipy.optimize.lsq_linear(A, y, bounds=(lo, np.inf), tol=1e-12).x
    wb, bb = np.asarray(bounded.x["w"]), float(bounded.x["b"])
    print(f"message      : {bounded.message}")
    print(f"L-BFGS-B     : w = {fmt(wb)}, b = {bb: .4f}")
    print(f"lsq_linear   : w = {fmt(ref[:-1])}, b = {ref[-1]: .4f}")
    print(f"max |L-BFGS-B - lsq_linear| = {np.max(np.abs(np.append(wb, bb) - ref)):.1e}")
    print(f"at the bound : {', '.join(f'w[{i}]' for i in np.flatnonzero(wb <= 1e-12)) or 'none'}")


if __name__ == "__main__":
    main()
