"""Jump threading: a test decided by the tests before it, on every path, is skipped.

As libpcap's ``opt_j`` does, but over values instead of accumulator statements: walking the DAG
in topological order, we know for each node the facts that hold on *every* path into it (the
meet of its incoming edges' facts). An edge whose facts decide the test at its target is
redirected to the target's decided successor, repeatedly. The graph is then rebuilt through the
builder, so nodes that lost all their predecessors vanish and equal subgraphs merge.

What is known about a value (``_Known``): an interval, bits known set and known clear, the
constants it is known not to be, and, when small, the set of constants it can be (so after
``family == 24 or family == 28 or family == 30`` a second test of the same three is decided).
Tests whose outcome those cannot express (``jset`` of several bits, register operands) are
remembered whole. Assignments are facts too: after ``v = e``, a second ``v = e`` on every path
changes nothing and is dropped, unless a variable ``e`` reads was assigned in between.

Skipping a test never removes a fault: a decided test's value was already computed, without
faulting, on every path to it. A variable's facts die where it is assigned.

Soundness argument for rebuilding with facts computed on the old graph: every path of the new
graph is an old path with some decided tests (and redundant assignments) skipped, so the facts
true on old paths into a node are true on the new ones.

Cost: facts are small maps keyed by the few distinct values a filter loads; sets of excluded
constants are capped, so a chain of thousands of ``host`` tests is threaded in linear time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import cfg

U32 = 0xFFFFFFFF
#: Largest set of possible constants tracked for one value (the meet of more forgets it).
MAX_VALUES = 16
#: Largest set of excluded constants tracked for one value (more are not recorded).
MAX_EXCLUDED = 16
#: How many decided tests ``_implied`` follows (bounded: a host list is thousands long).
IMPLIED_REACH = 8
#: Case analysis over a value's possible constants: at most this many cases, each followed
#: through at most ``CASE_REACH`` tests.
MAX_CASES = 8
CASE_REACH = 16


@dataclass(frozen=True, slots=True)
class _Known:
    """What every path here knows about one unsigned 32-bit value."""

    lo: int = 0
    hi: int = U32
    ones: int = 0
    zeros: int = 0
    values: frozenset[int] | None = None
    excluded: frozenset[int] = frozenset()

    @property
    def impossible(self) -> bool:
        """No value satisfies the facts: the edge carrying them is never taken."""
        return self.lo > self.hi or (self.values is not None and not self.values) \
            or bool(self.ones & self.zeros)

    def decide(self, op: str, k: int) -> bool | None:
        values = self.values
        if values is not None:
            if not values:
                return False  # unreachable: any answer is right
            outcomes = {cfg.holds(op, v, k) for v in values}
            return outcomes.pop() if len(outcomes) == 1 else None
        lo, hi = self.lo, self.hi
        match op:
            case "==":
                if k < lo or k > hi or k in self.excluded or k & self.zeros or self.ones & ~k:
                    return False
            case ">":
                if lo > k:
                    return True
                if hi <= k:
                    return False
            case ">=":
                if lo >= k:
                    return True
                if hi < k:
                    return False
            case "&":
                if self.ones & k:
                    return True
                if not k & ~self.zeros or hi < (k & -k):
                    return False
        return None

    def learn(self, op: str, k: int, outcome: bool) -> _Known:
        lo, hi, ones, zeros = self.lo, self.hi, self.ones, self.zeros
        values, excluded = self.values, self.excluded
        match op, outcome:
            case "==", True:
                values = frozenset((k,)) if values is None or k in values else frozenset()
            case "==", False:
                if values is not None:
                    values = values - {k}
                elif len(excluded) < MAX_EXCLUDED and lo <= k <= hi:
                    excluded = excluded | {k}
            case ">", True:
                lo = max(lo, k + 1)
            case ">", False:
                hi = min(hi, k)
            case ">=", True:
                lo = max(lo, k)
            case ">=", False:
                hi = min(hi, k - 1)
            case "&", True if k & (k - 1) == 0:
                ones |= k
            case "&", False:
                zeros |= k
            case _:
                return self
        return _normal(lo, hi, ones, zeros, values, excluded)

    def meet(self, other: _Known) -> _Known:
        """What holds on both paths: the hull, common bits, exclusions common to both."""
        if self.impossible:
            return other
        if other.impossible:
            return self
        values = None
        if self.values is not None and other.values is not None:
            values = self.values | other.values
            if len(values) > MAX_VALUES:
                values = None
        return _normal(min(self.lo, other.lo), max(self.hi, other.hi), self.ones & other.ones,
                       self.zeros & other.zeros, values, self.excluded & other.excluded)


def _normal(lo: int, hi: int, ones: int, zeros: int, values: frozenset[int] | None,
            excluded: frozenset[int]) -> _Known:
    """One canonical form: bounds tightened by the bits, sets filtered by everything else."""
    lo, hi = max(lo, ones), min(hi, U32 & ~zeros)
    if values is not None:
        values = frozenset(v for v in values
                           if lo <= v <= hi and not v & zeros and not ones & ~v)
        if values:
            lo, hi = min(values), max(values)
        excluded = frozenset()
    elif lo == hi and lo not in excluded:
        values = frozenset((lo,))
        excluded = frozenset()
    else:
        while lo in excluded and lo < hi:
            lo += 1
        while hi in excluded and hi > lo:
            hi -= 1
        if any(not lo <= e <= hi for e in excluded):
            excluded = frozenset(e for e in excluded if lo <= e <= hi)
    return _Known(lo, hi, ones, zeros, values, excluded)


@functools.lru_cache(maxsize=1 << 15)
def _faulting_parts(value: cfg.Value) -> frozenset[cfg.Value]:
    """``value`` and its sub-values that can fault: computed once, none of them faults again."""
    if not cfg.can_fault(value):
        return frozenset()
    out = {value}
    for child in cfg.children(value):
        out |= _faulting_parts(child)
    return frozenset(out)


@functools.lru_cache(maxsize=1 << 15)
def _proven_length(test: cfg.Test) -> int:
    return max(cfg.proven_length(test.value), cfg.proven_length(test.operand))


_UNKNOWN = _Known()


@dataclass(frozen=True, slots=True)
class _Facts:
    """Facts on every path into a node. The maps are never mutated once built."""

    known: dict[cfg.Value, _Known] = field(default_factory=dict)
    #: Outcomes of tests ``known`` cannot express (several-bit ``jset``, register operands).
    exact: dict[cfg.Test, bool] = field(default_factory=dict)
    #: Values computed, without faulting, on every path here.
    computed: frozenset[cfg.Value] = frozenset()
    #: Variables known to hold a value (the expression last assigned, still meaning the same).
    holds: dict[int, cfg.Value] = field(default_factory=dict)
    #: The packet has at least this many bytes (a load at a constant offset succeeded).
    length: int = 0

    def decide(self, test: cfg.Test) -> bool | None:
        known = self.exact.get(test)
        if known is not None:
            return known
        if isinstance(test.operand, cfg.Const):
            facts = self.known.get(test.value)
            if facts is not None:
                return facts.decide(test.op, test.operand.k)
        return None

    def learn(self, test: cfg.Test, outcome: bool) -> _Facts:
        known, exact = self.known, self.exact
        operand = test.operand
        if isinstance(operand, cfg.Const) and not (test.op == "&" and outcome
                                                   and operand.k & (operand.k - 1)):
            before = known.get(test.value, _UNKNOWN)
            after = before.learn(test.op, operand.k, outcome)
            if after != before:
                known = dict(known)
                known[test.value] = after
        else:
            exact = dict(exact)
            exact[test] = outcome
        computed = self.computed
        parts = _faulting_parts(test.value) | _faulting_parts(test.operand)
        if not parts <= computed:
            computed = computed | parts
        length = max(self.length, _proven_length(test))
        return _Facts(known, exact, computed, self.holds, length)

    def assign(self, var: int, value: cfg.Value) -> _Facts:
        """The facts after ``var = value``: nothing that reads ``var`` is known any more."""
        def stale(v: cfg.Value) -> bool:
            return cfg.mentions(v, var)
        holds = {u: v for u, v in self.holds.items() if u != var and not stale(v)}
        if not stale(value):
            holds[var] = value
        return _Facts({v: k for v, k in self.known.items() if not stale(v)},
                      {t: o for t, o in self.exact.items()
                       if not (stale(t.value) or stale(t.operand))},
                      frozenset(v for v in self.computed if not stale(v)), holds, self.length)

    def evaluated(self, test: cfg.Test) -> bool:
        """Whether ``test``'s values were computed on every path here (so cannot fault now)."""
        return all(not cfg.can_fault(v) or v in self.computed or cfg.safe_within(v, self.length)
                   for v in (test.value, test.operand))

    def meet(self, other: _Facts) -> _Facts:
        known = {v: k.meet(other.known[v]) for v, k in self.known.items() if v in other.known}
        exact = {t: o for t, o in self.exact.items() if other.exact.get(t) is o}
        holds = {u: v for u, v in self.holds.items() if other.holds.get(u) == v}
        return _Facts(known, exact, self.computed & other.computed, holds,
                      min(self.length, other.length))


def _implied(test: cfg.Test, facts: _Facts, t: cfg.Node, f: cfg.Node, on_true: _Facts,
             on_false: _Facts, resolve: Callable[..., cfg.Node]
             ) -> cfg.Node | None:
    """The target that makes ``test`` unnecessary, if one does.

    ``ldh [12] == 0x86dd ? reject : (ldh [12] == 0x800 ? ... : reject)``: when the first test
    holds, the second fails and rejects too, so the first is dropped. In general: if the false
    target, walked with the true edge's facts, reaches the true target (or the other way
    round), every packet can go straight to it. The test's own loads must not be lost: either
    they were made before, on every path, or the target starts by testing the same value.
    """
    for target, other, facts_other in ((f, t, on_true), (t, f, on_false)):
        if resolve(target, facts_other, IMPLIED_REACH) is not other:
            continue
        if facts.evaluated(test):
            return target
        if (isinstance(target, cfg.Branch) and target.test.value == test.value
                and (not cfg.can_fault(test.operand) or test.operand in facts.computed
                     or cfg.safe_within(test.operand, facts.length))):
            return target
    return None


def thread_jumps(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    order = cfg.topological(root)
    facts_in: dict[int, _Facts] = {id(root): _Facts()}

    def arrive(node: cfg.Node, facts: _Facts) -> None:
        seen = facts_in.get(id(node))
        facts_in[id(node)] = facts if seen is None else seen.meet(facts)

    def resolve(node: cfg.Node, facts: _Facts, limit: int = -1, split: bool = True) -> cfg.Node:
        """Follow decided tests from ``node`` (at most ``limit`` of them, if given).

        A test on a value known to be one of a few constants, undecided as a whole, is decided
        case by case: ``family == 24 or family == 28 or family == 30`` when the family is one
        of those three leads to the same node whichever it is, so the edge goes there.
        """
        while isinstance(node, cfg.Branch) and limit != 0:
            outcome = facts.decide(node.test)
            if outcome is not None:
                node = node.if_true if outcome else node.if_false
            else:
                known = facts.known.get(node.test.value) if split else None
                if known is None or known.values is None or len(known.values) > MAX_CASES:
                    break
                ends = {id(end): end for end in (
                    resolve(node, facts.learn(cfg.Test(node.test.value, "==", cfg.Const(v)),
                                              True), CASE_REACH, False)
                    for v in known.values)}
                if len(ends) != 1:
                    break
                end = next(iter(ends.values()))
                if end is node:
                    break
                node = end
            limit -= 1
        return node

    targets: dict[int, tuple[cfg.Node, ...]] = {}
    evaluated: set[int] = set()  # branches whose test's values were computed on every path
    # Assignments of the value the variable already holds, and tests one of whose targets
    # reaches the other's anyway (``_implied``): both are replaced by their one target.
    redundant: set[int] = set()
    for node in order:
        facts = facts_in.pop(id(node), None)
        if facts is None:  # every edge into it was redirected past it
            continue
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                if facts.evaluated(test):
                    evaluated.add(id(node))
                on_true, on_false = facts.learn(test, True), facts.learn(test, False)
                t, f = resolve(t, on_true), resolve(f, on_false)
                implied = _implied(test, facts, t, f, on_true, on_false, resolve)
                if implied is not None:
                    redundant.add(id(node))
                    targets[id(node)] = (implied,)
                    arrive(implied, facts)
                    continue
                targets[id(node)] = (t, f)
                arrive(t, on_true)
                arrive(f, on_false)
            case cfg.Assign(var=var, value=value, next=nxt):
                if facts.holds.get(var) == value:
                    redundant.add(id(node))
                    after = facts
                else:
                    after = facts.assign(var, value)
                nxt = resolve(nxt, after)
                targets[id(node)] = (nxt,)
                arrive(nxt, after)
    # Rebuild only what is still reachable through the redirected edges, successors first.
    rebuilt: dict[int, cfg.Node] = {}

    def new(node: cfg.Node) -> cfg.Node:
        stack = [node]
        while stack:
            n = stack[-1]
            if id(n) in rebuilt:
                stack.pop()
                continue
            succ = targets.get(id(n), ())
            pending = [s for s in succ if id(s) not in rebuilt]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            match n:
                case cfg.Branch() if id(n) in redundant:
                    rebuilt[id(n)] = rebuilt[id(succ[0])]
                case cfg.Branch(test=test):
                    t, f = succ
                    rebuilt[id(n)] = builder.branch(test, rebuilt[id(t)], rebuilt[id(f)],
                                                    evaluated=id(n) in evaluated)
                case cfg.Assign(var=var, value=value):
                    nxt = rebuilt[id(succ[0])]
                    rebuilt[id(n)] = nxt if id(n) in redundant else builder.assign(var, value, nxt)
                case _:
                    rebuilt[id(n)] = n
        return rebuilt[id(node)]

    return new(root)
