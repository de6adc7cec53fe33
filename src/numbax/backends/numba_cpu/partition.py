"""The fusion plan: which equations share a loop, which run on the host, and in what order.

Every equation of the (inlined, optimised) jaxpr falls in one of four classes:

* **loop** equations, elementwise ops of rank > 0 and reductions, are placed in a `Group`: one
  loop nest over a *domain* shape, whose elementwise results live in registers for one
  iteration and whose reductions are accumulators;
* **virtual** equations are never computed on their own: index maps (broadcast, transpose,
  slice, pad, concatenate, reshape, gather, dynamic slices, iota) are folded into the loads of
  whoever reads them, and rank-0 elementwise ops are recomputed (cheaply, once per kernel) in
  the prologue or epilogue of each kernel that needs them;
* **loop kernels** (cumulative ops, scatters) get a kernel of their own;
* **host calls** (dot_general through BLAS, the LAPACK-backed linalg ops, sort) run numpy.

Equations are placed greedily in program order. An elementwise op joins the group that
computes its operands in registers, or any group of the same domain that runs after everything
it reads; otherwise it opens a new group at the end. A value read outside its group through
anything but a same-iteration register, or by the host, is *materialised*: written to an array.
"""
from __future__ import annotations

from ...jaxpr import Jaxpr, JaxprEqn, Literal, Var
from .scalar_ops import RULES as ELEMENTWISE

VIEWS = frozenset(["broadcast_in_dim", "transpose", "slice", "rev", "pad", "concatenate",
                   "reshape", "squeeze", "iota", "dynamic_slice", "dynamic_update_slice",
                   "gather"])
REDUCTIONS = frozenset(["reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and",
                        "reduce_or", "argmax", "argmin"])
LOOP_KERNELS = frozenset(["cumsum", "cumprod", "cummax", "cummin", "scatter", "scatter_add",
                          "scatter_mul", "scatter_min", "scatter_max"])
# host steps: numpy calls, prints, and control flow (the host program calls a native loop,
# see native.py)
HOST_CALLS = frozenset(["dot_general", "cholesky", "triangular_solve", "solve", "slogdet", "sort",
                        "debug_print", "cond", "while", "scan"])
# reshapes of an array that is already in memory are free numpy views on the host
_HOST_VIEWS = frozenset(["reshape", "squeeze"])

# phases of a materialised value: a jaxpr input or constant, a group's loop register (an array
# once materialised), a reduction / epilogue result, or the output of a host call or loop kernel
INPUT, LOOP, RESULT, OUTPUT = "in", "L", "R", "out"


class Group:
    """One loop nest over `domain`: elementwise ops and reductions, in program order."""

    def __init__(self, index: int, domain: tuple):
        self.index = index
        self.domain = domain
        self.eqns: list[JaxprEqn] = []
        self.scalar_results: list[Var] = []  # rank-0 virtual values computed in the epilogue

    def __repr__(self):
        return f"Group#{self.index}{self.domain}[{', '.join(e.primitive.name for e in self.eqns)}]"


class LoopKernel:
    """A cumulative op or a scatter: a kernel of its own whose operands are read like a group's."""

    def __init__(self, index: int, eqn: JaxprEqn):
        self.index, self.eqn = index, eqn

    def __repr__(self):
        return f"LoopKernel#{self.index}[{self.eqn.primitive.name}]"


class HostCall:
    """A numpy call on materialised operands."""

    def __init__(self, index: int, eqn: JaxprEqn):
        self.index, self.eqn = index, eqn

    def __repr__(self):
        return f"HostCall#{self.index}[{self.eqn.primitive.name}]"


def classify(eqn: JaxprEqn) -> str:
    name = eqn.primitive.name
    rank0 = all(v.aval.ndim == 0 for v in eqn.outvars)
    if name in ELEMENTWISE:
        return "virtual" if rank0 else "loop"
    if name in REDUCTIONS:
        return "loop" if eqn.params["axes"] else "virtual"  # no axes: the identity
    if name in VIEWS:
        return "virtual"
    if name in LOOP_KERNELS:
        return "loop_kernel"
    if name in HOST_CALLS:
        return "host"
    if name == "custom_lin":  # what evaluating it eagerly says
        raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")
    raise NotImplementedError(
        f"jit: the primitive {name!r} has no Numba lowering (CPU backend); it cannot be compiled")


class Plan:
    """The result of partitioning: steps in execution order plus where every value lives."""

    def __init__(self, jaxpr: Jaxpr, copy_views: bool = False, uniform_reductions: bool = False):
        self.jaxpr = jaxpr
        # uniform_reductions: the reductions of one group all reduce the same axes (a GPU
        # kernel maps its threads onto one (kept, reduced) split of the domain)
        self.uniform_reductions = uniform_reductions
        # copy_views: materialise index maps with a copy kernel instead of numpy on the host
        # (native code has no numpy fallback); the copy stands in for the view's variable
        self.copy_views = copy_views
        self.aliases: dict[Var, Var] = {}
        self.steps: list = []
        self.virtual: dict[Var, JaxprEqn] = {}
        self.where: dict[Var, tuple[int, str]] = {}
        self.materialized: set[Var] = set()  # loop registers that must be written to memory
        self.views_after: dict[int, list[JaxprEqn]] = {}  # host reshapes after step i (-1: inputs)
        self._bases_memo: dict = {}
        for v in (*jaxpr.constvars, *jaxpr.invars):
            self.where[v] = (-1, INPUT)
        for eqn in jaxpr.eqns:
            self._place(eqn)
        for v in jaxpr.outvars:
            if type(v) is not Literal:
                self.require_materialized(v)

    # ----------------------------------------------------------------------- dependencies

    def bases(self, v, direct: bool = True) -> frozenset:
        """The materialised values v is computed from, each flagged `direct` when it is read
        at the same loop index (so a register of the same group can serve it)."""
        if type(v) is Literal:
            return frozenset()
        if v in self.where:
            return frozenset([(v, direct)])
        key = (v, direct)
        memo = self._bases_memo.get(key)
        if memo is None:
            eqn = self.virtual[v]
            through = direct and eqn.primitive.name not in VIEWS
            memo = frozenset().union(*[self.bases(u, through) for u in eqn.invars]) \
                if eqn.invars else frozenset()
            self._bases_memo[key] = memo
        return memo

    def _constraints(self, eqn: JaxprEqn):
        """(groups whose registers eqn reads directly, the last step it must run after)."""
        must, after = set(), -1
        for u in eqn.invars:
            for b, direct in self.bases(u):
                step, phase = self.where[b]
                if phase == LOOP and direct:
                    must.add(step)
                else:
                    after = max(after, step)
        return must, after

    def _materialize_reads(self, eqn: JaxprEqn, group_index: int | None):
        """Loop registers eqn reads other than directly within its own group go to memory."""
        for u in eqn.invars:
            for b, direct in self.bases(u):
                step, phase = self.where[b]
                if phase == LOOP and not (direct and step == group_index):
                    self.materialized.add(b)

    # ----------------------------------------------------------------------- placement

    def _place(self, eqn: JaxprEqn):
        kind = classify(eqn)
        if kind == "virtual":
            if eqn.primitive.name in _HOST_VIEWS and type(eqn.invars[0]) is not Literal \
                    and eqn.invars[0] in self.where:
                self._host_view(eqn)
            else:
                self.virtual[eqn.outvars[0]] = eqn
        elif kind == "loop":
            self._place_loop(eqn)
        elif kind == "loop_kernel":
            self._materialize_reads(eqn, None)
            self._append(LoopKernel(len(self.steps), eqn), eqn.outvars, OUTPUT)
        else:
            for u in eqn.invars:
                self.require_materialized(u)
            self._append(HostCall(len(self.steps), eqn), eqn.outvars, OUTPUT)

    def _append(self, step, outvars, phase):
        self.steps.append(step)
        for v in outvars:
            self.where[v] = (step.index, phase)

    def _host_view(self, eqn: JaxprEqn):
        src = eqn.invars[0]
        step, phase = self.where[src]
        if phase == LOOP:
            self.materialized.add(src)
        self.views_after.setdefault(step, []).append(eqn)
        self.where[eqn.outvars[0]] = (step, OUTPUT)

    def _place_loop(self, eqn: JaxprEqn):
        name = eqn.primitive.name
        domain = eqn.invars[0].aval.shape if name in REDUCTIONS else eqn.outvars[0].aval.shape
        must, after = self._constraints(eqn)
        group = None
        if len(must) == 1:
            g = self.steps[next(iter(must))]
            if g.index > after and g.domain == domain and self._fits(g, eqn):
                group = g
        elif not must:
            for step in reversed(self.steps[after + 1:]):
                if type(step) is Group and step.domain == domain and self._fits(step, eqn):
                    group = step
                    break
        if group is None:
            group = Group(len(self.steps), domain)
            self.steps.append(group)
        self._materialize_reads(eqn, group.index)
        group.eqns.append(eqn)
        phase = RESULT if name in REDUCTIONS else LOOP
        for v in eqn.outvars:
            self.where[v] = (group.index, phase)

    def _fits(self, group: Group, eqn: JaxprEqn) -> bool:
        if not self.uniform_reductions or eqn.primitive.name not in REDUCTIONS:
            return True
        axes = frozenset(eqn.params["axes"])
        others = [e for e in group.eqns if e.primitive.name in REDUCTIONS]
        # each reduction takes two block-sized arrays of shared memory at most (48 KiB)
        return len(others) < 8 and all(frozenset(e.params["axes"]) == axes for e in others)

    def require_materialized(self, v):
        """Make v available in memory (or as a host scalar) at the end of the current steps."""
        if type(v) is Literal:
            return
        if v in self.where:
            step, phase = self.where[v]
            if phase == LOOP:
                self.materialized.add(v)
            return
        eqn = self.virtual[v]
        if v.aval.ndim == 0:
            # a scalar expression or load: computed in the epilogue of the first kernel that
            # runs after everything it reads
            after = -1
            for b, _ in self.bases(v):
                step, phase = self.where[b]
                # a step's outputs (and host views of them) exist only once the step has run
                after = max(after, step + 1 if phase == OUTPUT else step)
                if phase == LOOP:
                    self.materialized.add(b)
            group = next((s for s in self.steps[max(after, 0):] if type(s) is Group), None)
            if group is None:
                group = Group(len(self.steps), ())
                self.steps.append(group)
            group.scalar_results.append(v)
            self.where[v] = (group.index, RESULT)
        elif self.copy_views:
            self._copy(v)
        else:  # an index map: materialise its operands, then apply it with numpy on the host
            for u in eqn.invars:
                self.require_materialized(u)
            self._append(HostCall(len(self.steps), eqn), eqn.outvars, OUTPUT)

    def _copy(self, v: Var):
        """Materialise the index map v through a copy in a fused loop (the map folds into the
        copy's loads)."""
        if v in self.aliases:
            return
        from ...primitives.elementwise import convert_element_type_p
        w = Var(v.aval)
        self._place_loop(JaxprEqn(convert_element_type_p, [v],
                                  {"new_dtype": v.aval.dtype, "weak_type": False}, [w]))
        self.materialized.add(w)
        self.aliases[v] = w

    def available(self, v, step_index: int, epilogue: bool = False) -> bool:
        """Whether v is in memory (or a host scalar) for code running in step step_index."""
        loc = self.where.get(v)
        if loc is None:
            return False
        step, phase = loc
        if step < step_index:
            return True
        return step == step_index and epilogue and (phase == RESULT or v in self.materialized)

    def __repr__(self):
        return "Plan(" + ", ".join(map(repr, self.steps)) + ")"
