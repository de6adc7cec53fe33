"""W6: time to fit a 100-bin binned likelihood with BFGS from a fixed start. Parameters mu and
theta_i (i = 1..100): expected_i = mu s_i + b_i (1 + 0.1 theta_i), Poisson terms on the observed
counts n_i (fixed seed), Gaussian constraints theta_i ~ N(0, 1):
NLL = -sum poisson.logpmf(n, expected) - sum norm.logpdf(theta). Start mu = 1, theta = 0.

Rows: numbax `minimize(method="bfgs")` (the whole fit one compiled program; its first call, in
the Notes column, includes tracing and compiling); numbax `method="scipy:BFGS"` (scipy's BFGS fed
numbax's jitted value_and_grad); scipy BFGS (`jac=True`) fed a hand-written numpy gradient, a
hand-written Numba gradient, `jax.jit(jax.value_and_grad)`, or finite differences; and JAX's own
jitted BFGS (`jax.scipy.optimize.minimize`). All must agree on the fitted mu (and the NLL at the
minimum) to 1e-4. Target (the issue's): numbax no slower than scipy with the hand numpy gradient.
"""
import numpy as np

from _harness import JAX, NUMBA, NUMPY, njit, optional_jax, ratio_target

TITLE = "W6 100-bin fit, BFGS"
NBINS = 100
NUMBAX_SCIPY = "numbax minimize(scipy:BFGS)"
NUMPY_ROW = "scipy BFGS + " + NUMPY + " grad"
NUMBA_ROW = "scipy BFGS + " + NUMBA + " grad"
JAX_ROW = "scipy BFGS + " + JAX + " vag"
FD_ROW = "scipy BFGS, finite diff."
JAX_BFGS = "jax.scipy.optimize BFGS (jit)"
REF = NUMPY_ROW
NUMBAX_ROW = "numbax minimize(bfgs)"
RTOL = 1e-4
BENCH = dict(rtol=RTOL)
BENCH_QUICK = dict(rtol=RTOL)


def model(nbins=NBINS, seed=0):
    """Signal s, background b and observed counts n (a Poisson draw at mu = 1, theta = 0)."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(5.0, 15.0, nbins)
    b = rng.uniform(50.0, 150.0, nbins)
    n = rng.poisson(s + b).astype(np.float64)
    return s, b, n


def start(nbins=NBINS):
    return {"mu": 1.0, "theta": np.zeros(nbins)}


def make_nll(stats, s, b):
    """The NLL as a function of the parameter dict and the counts, for numbax or JAX."""
    def nll(p, n):
        expected = p["mu"] * s + b * (1.0 + 0.1 * p["theta"])
        return -stats.poisson.logpmf(n, expected).sum() - stats.norm.logpdf(p["theta"]).sum()
    return nll


def flat_start(nbins=NBINS):
    return np.concatenate([[1.0], np.zeros(nbins)])


def make_numpy_vag(s, b, n):
    """Hand-written value and gradient over x = [mu, theta...] (constants precomputed)."""
    from scipy.special import gammaln
    const = gammaln(n + 1.0).sum() + 0.5 * len(n) * np.log(2.0 * np.pi)
    b01 = 0.1 * b

    def vag(x):
        mu, theta = x[0], x[1:]
        e = mu * s + b + b01 * theta
        v = np.sum(e - n * np.log(e)) + 0.5 * np.dot(theta, theta) + const
        r = 1.0 - n / e
        g = np.empty_like(x)
        g[0] = np.dot(r, s)
        g[1:] = r * b01 + theta
        return v, g
    return vag


@njit
def _numba_vag(x, s, b, n, const):
    mu = x[0]
    g = np.empty_like(x)
    v = const
    g0 = 0.0
    for i in range(s.shape[0]):
        th = x[i + 1]
        e = mu * s[i] + b[i] * (1.0 + 0.1 * th)
        v += e - n[i] * np.log(e) + 0.5 * th * th
        r = 1.0 - n[i] / e
        g0 += r * s[i]
        g[i + 1] = 0.1 * r * b[i] + th
    g[0] = g0
    return v, g


def make_numba_vag(s, b, n):
    from scipy.special import gammaln
    const = gammaln(n + 1.0).sum() + 0.5 * len(n) * np.log(2.0 * np.pi)
    return lambda x: _numba_vag(x, s, b, n, const)


def scipy_fit(vag, x0, jac=True):
    """Fitted (mu, NLL) of scipy BFGS, the objective returning (value, gradient) when jac."""
    import scipy.optimize
    r = scipy.optimize.minimize(vag, x0, jac=jac, method="BFGS")
    return {"mu": r.x[0], "nll": r.fun}


def cases(quick=False):
    import numbax.scipy.stats as nbstats
    from numbax.optimize import minimize
    s, b, n = model()
    x0, flat0 = start(), flat_start()
    impls = {}
    nll = make_nll(nbstats, s, b)

    def numbax_fit(method):
        r = minimize(nll, x0, args=(n,), method=method)
        return {"mu": r.x["mu"], "nll": r.fun}
    impls[NUMBAX_ROW] = lambda: numbax_fit("bfgs")
    impls[NUMBAX_SCIPY] = lambda: numbax_fit("scipy:BFGS")
    np_vag = make_numpy_vag(s, b, n)
    impls[NUMPY_ROW] = lambda: scipy_fit(np_vag, flat0)
    nb_vag = make_numba_vag(s, b, n)
    impls[NUMBA_ROW] = lambda: scipy_fit(nb_vag, flat0)
    jax = optional_jax()
    if jax is not None:
        import jax.numpy as jjnp
        import jax.scipy.optimize
        import jax.scipy.stats
        jnll = make_nll(jax.scipy.stats, jjnp.asarray(s), jjnp.asarray(b))
        jflat = lambda x, n: jnll({"mu": x[0], "theta": x[1:]}, n)
        j_vag = jax.jit(jax.value_and_grad(jflat))
        jn = jax.device_put(n)

        def jax_vag(x):
            v, g = j_vag(x, jn)
            return float(v), np.asarray(g)
        impls[JAX_ROW] = lambda: scipy_fit(jax_vag, flat0)

        @jax.jit
        def jax_bfgs(x0, n):
            r = jax.scipy.optimize.minimize(jflat, x0, args=(n,), method="BFGS")
            return r.x[0], r.fun
        jx0 = jax.device_put(flat0)

        def jax_bfgs_fit():
            mu, f = jax.block_until_ready(jax_bfgs(jx0, jn))
            return {"mu": float(mu), "nll": float(f)}
        impls[JAX_BFGS] = jax_bfgs_fit
    impls[FD_ROW] = lambda: scipy_fit(lambda x: np_vag(x)[0], flat0, jac=None)
    return impls


def targets(rows, quick=False):
    return [ratio_target(rows, "W6 numbax minimize(bfgs) ≤ 1× scipy BFGS + hand numpy gradient",
                         NUMBAX_ROW, NUMPY_ROW, 1.0),
            ratio_target(rows, "W6 numbax minimize(bfgs) ≤ 1× scipy BFGS + jax.jit vag",
                         NUMBAX_ROW, JAX_ROW, 1.0)]
