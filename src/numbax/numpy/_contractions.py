"""Products and contractions: dot, matmul (`@`), tensordot, einsum, ... all via dot_general."""
from __future__ import annotations

import string

import numpy as np

from ..core import get_aval
from ..primitives import linalg as la
from ..primitives import shape as sh
from ..primitives.reductions import reduce_sum
from ._promote import asarray_arg, broadcast_shapes, broadcast_to, check_arraylike, promote_dtypes


def _prep(name, a, b):
    a, b = asarray_arg(a), asarray_arg(b)
    check_arraylike(name, a, b)
    a, b = promote_dtypes(name, a, b)
    if get_aval(a).dtype.kind == "b":
        from ..dtypes import int64
        from ._promote import cast_to
        a, b = cast_to(a, int64), cast_to(b, int64)
    return a, b


def _dot(a, b, contract, batch=((), ())):
    return la.dot_general(a, b, (contract, batch))


def _mismatch(name, a, b, ax_a, ax_b):
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[ax_a] != sb[ax_b]:
        raise TypeError(f"{name}: contracting dimensions have different sizes: shapes {sa} and "
                        f"{sb} (axis {ax_a} of size {sa[ax_a]} vs axis {ax_b} of size {sb[ax_b]})")


def dot(a, b, *, precision=None, preferred_element_type=None):
    a, b = _prep("dot", a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 0 or nb == 0:
        from ._ufuncs import multiply
        return multiply(a, b)
    ca, cb = na - 1, (0 if nb == 1 else nb - 2)
    _mismatch("dot", a, b, ca, cb)
    return _dot(a, b, ((ca,), (cb,)))


def vdot(a, b, *, precision=None):
    a, b = _prep("vdot", a, b)
    return dot(sh.reshape(a, (get_aval(a).size,)), sh.reshape(b, (get_aval(b).size,)))


def inner(a, b):
    a, b = _prep("inner", a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 0 or nb == 0:
        from ._ufuncs import multiply
        return multiply(a, b)
    _mismatch("inner", a, b, na - 1, nb - 1)
    return _dot(a, b, ((na - 1,), (nb - 1,)))


def outer(a, b):
    a, b = _prep("outer", a, b)
    a = sh.reshape(a, (get_aval(a).size,))
    b = sh.reshape(b, (get_aval(b).size,))
    return _dot(sh.reshape(a, (get_aval(a).size, 1)), sh.reshape(b, (1, get_aval(b).size)),
                ((1,), (0,)))


def matmul(a, b, *, precision=None, preferred_element_type=None):
    a, b = _prep("matmul", a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if not sa or not sb:
        raise ValueError("matmul: Input operand does not have enough dimensions (scalars are "
                         "not allowed; use `*`)")
    a_vec, b_vec = len(sa) == 1, len(sb) == 1
    if b_vec or (a_vec and len(sb) == 2):  # matrix-vector products need no reshapes
        ca, cb = len(sa) - 1, len(sb) - 1 if b_vec else 0
        if sa[ca] != sb[cb]:
            raise TypeError(f"matmul: contracting dimensions differ: shapes {sa} and {sb} "
                            f"({sa[ca]} != {sb[cb]})")
        return _dot(a, b, ((ca,), (cb,)))
    if a_vec:
        a = sh.reshape(a, (1,) + sa)
    if b_vec:
        b = sh.reshape(b, sb + (1,))
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[-1] != sb[-2]:
        raise TypeError(f"matmul: contracting dimensions differ: shapes "
                        f"{sa[1:] if a_vec else sa} and {sb[:-1] if b_vec else sb} "
                        f"({sa[-1]} != {sb[-2]})")
    na, nb = len(sa), len(sb)
    if nb == 2:  # the common case: fold a's batch dims into its free dims
        out = _dot(a, b, ((na - 1,), (0,)))
    elif na == 2:
        out = _dot(a, b, ((1,), (nb - 2,)))  # (n, *batch, m) -> (*batch, n, m)
        nd = get_aval(out).ndim
        out = sh.transpose(out, tuple(range(1, nd - 1)) + (0, nd - 1))
    else:
        batch = broadcast_shapes("matmul", sa[:-2], sb[:-2])
        a = broadcast_to(a, batch + sa[-2:])
        b = broadcast_to(b, batch + sb[-2:])
        nbatch = len(batch)
        out = _dot(a, b, ((nbatch + 1,), (nbatch,)), (tuple(range(nbatch)), tuple(range(nbatch))))
    shape = get_aval(out).shape
    if a_vec:
        shape = shape[:-2] + shape[-1:]
    if b_vec:
        shape = shape[:-1]
    return sh.reshape(out, shape)


def tensordot(a, b, axes=2, *, precision=None):
    a, b = _prep("tensordot", a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        ax_a, ax_b = tuple(range(na - k, na)), tuple(range(k))
    else:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, (int, np.integer)) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, (int, np.integer)) else tuple(ax_b)
        ax_a = tuple(int(x) % na for x in ax_a)
        ax_b = tuple(int(x) % nb for x in ax_b)
    for x, y in zip(ax_a, ax_b):
        _mismatch("tensordot", a, b, x, y)
    return _dot(a, b, (ax_a, ax_b))


def kron(a, b):
    a, b = _prep("kron", a, b)
    from ._shapes import reshape
    sa, sb = get_aval(a).shape, get_aval(b).shape
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a, b = sh.reshape(a, sa), sh.reshape(b, sb)
    inter_a = sh.reshape(a, tuple(x for d in sa for x in (d, 1)))
    inter_b = sh.reshape(b, tuple(x for d in sb for x in (1, d)))
    from ._ufuncs import multiply
    return reshape(multiply(inter_a, inter_b), tuple(x * y for x, y in zip(sa, sb)))


# --------------------------------------------------------------------------- einsum

def _parse_einsum(subscripts: str, shapes):
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        ins, out = subscripts.split("->")
        explicit = True
    else:
        ins, out, explicit = subscripts, None, False
    in_specs = ins.split(",")
    if len(in_specs) != len(shapes):
        raise ValueError(f"einsum: {len(in_specs)} operand specs for {len(shapes)} operands")
    used = set(c for c in subscripts if c.isalpha())
    free = [c for c in string.ascii_letters if c not in used]
    n_ell = max((len(s) - (len(spec) - 3) for spec, s in zip(in_specs, shapes) if "..." in spec),
                default=0)
    ell = "".join(free[:n_ell])
    specs = []
    for spec, s in zip(in_specs, shapes):
        if "..." in spec:
            k = len(s) - (len(spec) - 3)
            spec = spec.replace("...", ell[n_ell - k:] if k else "")
        if len(spec) != len(s) or not all(c.isalpha() for c in spec):
            raise ValueError(f"einsum: subscripts {spec!r} do not match operand of shape {s}")
        specs.append(spec)
    if explicit:
        out = out.replace("...", ell)
    else:
        counts = {}
        for spec in specs:
            for c in spec:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return specs, out


def einsum(subscripts, *operands, out=None, optimize=None, precision=None,
           preferred_element_type=None):
    """Contract operands pairwise, left to right, with dot_general; repeated labels within one
    operand take the diagonal, labels in one operand only are summed first."""
    if not isinstance(subscripts, str):
        raise NotImplementedError("jnp.einsum with interleaved (operand, sublist) arguments is not "
                                  "supported; pass a subscripts string")
    ops = promote_dtypes("einsum", *[asarray_arg(o) for o in operands])
    specs, out_spec = _parse_einsum(subscripts, [get_aval(o).shape for o in ops])
    sizes = {}
    for spec, o in zip(specs, ops):
        for c, d in zip(spec, get_aval(o).shape):
            if sizes.get(c, 1) not in (1, d) and d != 1:
                raise ValueError(f"einsum: label {c!r} has sizes {sizes[c]} and {d}")
            sizes[c] = max(sizes.get(c, 1), d)
    ops = list(ops)
    for i, (spec, o) in enumerate(zip(specs, ops)):  # broadcast size-1 dims (ellipsis rules)
        shape = tuple(sizes[c] for c in spec)
        if get_aval(o).shape != shape:
            ops[i] = broadcast_to(o, shape) if all(
                d in (1, t) for d, t in zip(get_aval(o).shape, shape)) else o
    ops = [_diagonals(o, spec) for o, spec in zip(ops, specs)]
    specs = [s for _, s in ops]
    ops = [o for o, _ in ops]

    def needed_later(k):
        return set(out_spec).union(*[set(s) for s in specs[k + 1:]])

    # sum labels that appear in one operand only and nowhere else
    for k, (o, spec) in enumerate(zip(ops, specs)):
        others = set(out_spec).union(*[set(s) for j, s in enumerate(specs) if j != k])
        drop = tuple(i for i, c in enumerate(spec) if c not in others)
        if drop:
            ops[k] = reduce_sum(o, drop)
            specs[k] = "".join(c for i, c in enumerate(spec) if i not in drop)
    acc, acc_spec = ops[0], specs[0]
    for k in range(1, len(ops)):
        b, b_spec = ops[k], specs[k]
        keep = needed_later(k)
        shared = [c for c in acc_spec if c in b_spec]
        batch = [c for c in shared if c in keep]
        contract = [c for c in shared if c not in keep]
        acc = la.dot_general(
            acc, b, ((tuple(acc_spec.index(c) for c in contract),
                      tuple(b_spec.index(c) for c in contract)),
                     (tuple(acc_spec.index(c) for c in batch),
                      tuple(b_spec.index(c) for c in batch))))
        acc_spec = "".join(batch) + "".join(c for c in acc_spec if c not in shared) + \
            "".join(c for c in b_spec if c not in shared)
    drop = tuple(i for i, c in enumerate(acc_spec) if c not in out_spec)
    if drop:
        acc = reduce_sum(acc, drop)
        acc_spec = "".join(c for i, c in enumerate(acc_spec) if i not in drop)
    if sorted(acc_spec) != sorted(out_spec):
        raise ValueError(f"einsum: output subscripts {out_spec!r} name labels not in the inputs")
    return sh.transpose(acc, tuple(acc_spec.index(c) for c in out_spec))


def _diagonals(o, spec):
    """Take the diagonal over each label repeated within one operand's subscripts."""
    from ._shapes import diagonal
    while len(set(spec)) != len(spec):
        c = next(ch for ch in spec if spec.count(ch) > 1)
        i = spec.index(c)
        j = spec.index(c, i + 1)
        o = diagonal(o, 0, i, j)
        spec = "".join(ch for k, ch in enumerate(spec) if k not in (i, j)) + c
    return o, spec
