"""Random programs (the generator of tests/test_passes_random.py: elementwise chains, index maps,
reductions, casts, selects, conds) under jit on the GPU against jit on the CPU. Inputs mix
moderate values with NaN, infinities and signed zeros; huge values are left out, since where
a sum overflows depends on the order the two backends add in."""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings

import numbax as nb
from test_passes_random import programs

SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5, 2.0, -3.0, 7.25, -0.125]


def close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    eps = np.finfo(want.dtype).eps
    # rounding of reordered sums and of libdevice vs libm: relative to the values' magnitude
    np.testing.assert_allclose(got[ok], want[ok], rtol=2e3 * eps, atol=1e3 * eps)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(SPECIAL, bounds=(-50, 50), max_steps=10))
def test_random_programs_agree_with_the_cpu(prog):
    f, args = prog
    with np.errstate(all="ignore"):
        want = nb.jit(f)(*args)
        got = nb.jit(f, device="cuda")(*args)
    for g, w in zip(nb.tree_util.tree_leaves(got), nb.tree_util.tree_leaves(want)):
        close(g, w)
