"""How dot_general maps onto BLAS matrix products (numpy's on the host, numba's in native
loops)."""
from __future__ import annotations

import numpy as np


class DotLayout:
    """dot_general as matrix products: each operand's axis order and the (batch of) matrix or
    vector shape it is reshaped to, and the product's natural shape. Shared by the host program
    (numpy) and native loops (numba), which differ only in how they spell the views."""

    def __init__(self, eqn):
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        la, ra = eqn.invars[0].aval, eqn.invars[1].aval
        lf = [d for d in range(la.ndim) if d not in lc and d not in lb]
        rf = [d for d in range(ra.ndim) if d not in rc and d not in rb]
        size = lambda shape, dims: int(np.prod([shape[d] for d in dims], dtype=np.int64))  # noqa
        B, M, N, K = size(la.shape, lb), size(la.shape, lf), size(ra.shape, rf), \
            size(la.shape, lc)
        self.batched = bool(lb)
        self.B, self.M, self.N = B, M, N
        if lb:
            self.left = ([*lb, *lf, *lc], (B, M, K))
            self.right = ([*rb, *rc, *rf], (B, K, N))
            self.natural = (B, M, N)
        else:
            self.left = ([*lf, *lc], (M, K) if lf else (K,))
            self.right = ([*rc, *rf], (K, N) if rf else (K,))
            self.natural = tuple(d for d, keep in ((M, lf), (N, rf)) if keep)
        self.out_shape = eqn.outvars[0].aval.shape
