"""The examples in examples/ run (in their small CI sizes) and print what they claim: each is run
in a fresh interpreter and its output checked against closed forms and statistics.

The first run compiles a handful of fits (minutes of compile on a slow machine with an empty
numbax/Numba disk cache, a few seconds once cached), hence the generous timeout."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600


def run_example(name, *args, cwd=None):
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NUMBAX_EXAMPLE_SMALL"] = "1"
    p = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--small", *args],
                       env=env, cwd=cwd or ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, f"{name} exited {p.returncode}:\n{p.stdout}\n{p.stderr[-3000:]}"
    return p.stdout


NUM = r"([-+]?\d+\.\d+(?:e[-+]?\d+)?)"


def grab(pattern, text):
    """The floats of the first line matching pattern (NUM groups)."""
    m = re.search(pattern, text)
    assert m, f"no line matching {pattern!r} in:\n{text}"
    return [float(g) for g in m.groups()]


@pytest.fixture(scope="module")
def linreg_output():
    return run_example("linear_regression_bfgs.py")


@pytest.fixture(scope="module")
def histfactory_output(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("histfactory")
    return run_example("histfactory_fit.py", "--plot", cwd=cwd), cwd


def test_linear_regression_matches_closed_forms(linreg_output):
    out = linreg_output
    assert "200 points" in out                       # the small size
    assert out.count("Optimization terminated successfully.") == 1
    assert grab(r"max \|BFGS - lstsq\| = " + NUM, out)[0] < 1e-6
    assert grab(r"max \|cov - exact\| / max \|exact\| = " + NUM, out)[0] < 1e-8
    assert grab(r"max \|L-BFGS-B - lsq_linear\| = " + NUM, out)[0] < 1e-6
    assert "at the bound : w[1]\n" in out            # the true w[1] = -2 is clipped to 0
    w = grab(r"numbax BFGS  : w = \[\s*" + r",\s*".join([NUM] * 5) + r"\], b =\s*" + NUM, out)
    truth = [1.5, -2.0, 0.5, 0.0, 3.0, 0.7]
    assert all(abs(a - b) < 0.2 for a, b in zip(w, truth)), w


def test_histfactory_fit_and_uncertainties(histfactory_output):
    out, _ = histfactory_output
    sec1 = out.split("== 2.")[0]
    assert "message : Optimization terminated successfully." in sec1
    mu, err = grab(r"best fit: mu = " + NUM + r" \+- " + NUM, sec1)
    assert abs(mu - (-0.0669)) < 1e-3 and abs(err - 0.5154) < 1e-3
    corr = grab(r"\s+mu \[\s*" + r",\s*".join([NUM] * 3) + r"\]", sec1)
    assert corr[2] == 1.0 and all(-1 < c < 0 for c in corr[:2])


def test_histfactory_profile_interval(histfactory_output):
    out, _ = histfactory_output
    sec2 = out.split("== 2.")[1].split("== 3.")[0]
    mu, sigma = grab(r"best fit: mu = " + NUM + r" \+- " + NUM, sec2)
    assert "100% of the refits converged" in sec2
    lo, hi = grab(r"68% CL interval from q = 1: mu in \[" + NUM + ", " + NUM + r"\]", sec2)
    assert lo < mu < hi
    # close to the parabolic (Hessian) interval, slightly asymmetric for Poisson counts
    assert abs((mu - lo) / sigma - 1) < 0.1 and abs((hi - mu) / sigma - 1) < 0.1


def test_histfactory_grid(histfactory_output):
    out, cwd = histfactory_output
    sec3 = out.split("== 3.")[1].split("== 4.")[0]
    assert "11x11 grid" in sec3 and "121 points" in sec3
    mu_g, g_g, mu_f, g_f, d_mu, d_g = grab(
        r"grid minimum at mu = " + NUM + ", gamma_0 = " + NUM + "; the fit: mu = " + NUM +
        ", gamma_0 = " + NUM + r" \(grid spacing " + NUM + ", " + NUM + r"\)", sec3)
    assert abs(mu_g - mu_f) <= d_mu and abs(g_g - g_f) <= d_g
    assert grab(r"max rel\. diff " + NUM, sec3)[0] < 0.05
    if "saved" in sec3:
        assert (cwd / "histfactory_nll_grid.png").stat().st_size > 0
    else:
        assert "--plot needs matplotlib" in sec3


def test_histfactory_toys(histfactory_output):
    out, _ = histfactory_output
    sec4 = out.split("== 4.")[1]
    assert "50 toy fits" in sec4
    assert grab(r"converged: " + r"(\d+\.\d)%", sec4)[0] >= 95.0
    mean, _, std = grab(r"pulls \(mu_hat - 1\) / sigma: mean " + NUM + r" \+- " + NUM +
                        ", std " + NUM, sec4)
    assert abs(mean) < 0.5 and 0.6 < std < 1.4
    assert grab(r"= (\d+) fits/s", sec4.replace(",", ""))[0] > 0


def test_toys_on_dask():
    if os.environ.get("NUMBAX_REQUIRE_OPTIONAL") != "1":
        pytest.importorskip("distributed", reason="pip install -e \".[distributed]\"")
    out = run_example("toys_on_dask.py", "--workers", "1,2")
    assert "4000 toy fits" in out
    assert grab(r"converged (\d+\.\d+)%", out)[0] >= 95.0
    mean, std = grab(r"pulls: mean " + NUM + ", std " + NUM, out)
    assert abs(mean) < 0.1 and 0.9 < std < 1.1
    assert re.search(r"^\s+1 \|.*\n\s+2 \|", out, re.M), out      # one row per cluster size
    assert "every cluster run gave the single-process fits, row for row" in out
