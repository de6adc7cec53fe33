"""Every kernel the CUDA backend generates for the programs of test_cuda_backend.py, compiled
to PTX for a real GPU (sm_80) without one: the simulator runs kernels as Python and so cannot
catch what the CUDA target does not compile (conftest.py skips this where NVVM is missing)."""
import numpy as np
import pytest

import numbax as nb
import test_cuda_backend as programs

CASES = {}
for table in ("ELEMENTWISE", "REDUCTIONS", "VIEWS"):
    for name, f in getattr(programs, table).items():
        CASES[f"{table.lower()}:{name}"] = (f, (programs.X, programs.Y)[:f.__code__.co_argcount])
CASES["float32"] = (lambda x: nb.numpy.exp(x) * 2.5, (programs.X32,))
CASES["long_reduction"] = (lambda x: (nb.numpy.sum(x), nb.numpy.argmin(x)), (np.ones(5000),))
CASES["grad_logreg"] = (nb.value_and_grad(programs.loss), (programs.W, programs.XD, programs.YD))
CASES["hessian"] = (nb.hessian(lambda x: nb.numpy.sum(nb.numpy.sin(x) * x[::-1])),
                    (programs.V,))
CASES["scatter"] = (lambda x, u: (x.at[np.array([0, 2])].add(u), x.at[np.array([1])].max(u[:1])),
                    (programs.X, np.ones((2, 5))))
CASES["while"] = (lambda x: nb.lax.while_loop(lambda v: nb.numpy.sum(v) < 100.0,
                                              lambda v: v * 2.0 + 1.0, x), (programs.V,))
CASES["linalg"] = (lambda a, b: (nb.numpy.linalg.cholesky(a),
                                  programs.triangular_solve(a, b, lower=False, transpose_a=True),
                                  programs.triangular_solve(a, b[..., :1, :], left_side=False),
                                  nb.numpy.linalg.solve(a, b), nb.numpy.linalg.slogdet(a)),
                   (programs.SPD, programs.RHS[..., :4, :].repeat(2, axis=-1)))
CASES["sort"] = (lambda x: (nb.numpy.sort(x, axis=1), nb.numpy.argsort(x, axis=0),
                            nb.lax.sort((x.astype(np.int32), x), dimension=1, num_keys=2)),
                 (programs.X,))
CASES["cumsum"] = (lambda x: (nb.numpy.cumsum(x, axis=1), nb.lax.cummax(x, axis=0)),
                   (programs.X,))


def specs_of(f, args):
    from numbax.backends.numba_cuda.codegen import Launch
    from numbax.backends.numba_cuda.compiler import kernel_specs
    return kernel_specs(nb.make_jaxpr(f)(*args), Launch(256, 1024))


@pytest.mark.parametrize("name", sorted(CASES))
def test_kernels_compile_to_ptx(name):
    from numba import cuda
    f, args = CASES[name]
    specs = specs_of(f, args)
    assert specs
    for spec in specs:
        ns = {}
        exec(compile(spec.source, "<kernel>", "exec"), ns)
        sig = spec.signature() if hasattr(spec, "signature") else None
        if sig is None:   # dot_general's kernels are checked by test_cuda_matmul.py
            continue
        ptx, _ = cuda.compile_ptx(ns["kernel_py"], sig, cc=(8, 0))
        assert ".entry" in ptx or ".visible" in ptx, spec.description
