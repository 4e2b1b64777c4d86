"""Jump threading: a test decided by the tests before it, on every path, is skipped.

As libpcap's ``opt_j`` does, but over values instead of accumulator statements: walking the DAG
in topological order, we know for each node the facts that hold on *every* path into it (the
meet of its incoming edges' facts). An edge whose facts decide the test at its target is
redirected to the target's decided successor, repeatedly. The graph is then rebuilt through the
builder, so nodes that lost all their predecessors vanish and equal subgraphs merge.

Facts are, per value, an interval ``[lo, hi]`` and a set of excluded constants (from ``==``,
``>``, ``>=`` tests against constants), plus exact outcomes of other tests (``jset``, register
operands). Skipping a test never removes a fault: a decided test's value was already computed,
without faulting, on every path to it. A variable's facts die where it is assigned.

Soundness argument for rebuilding with facts computed on the old graph: every path of the new
graph is an old path with some decided tests skipped, so the facts true on old paths into a node
are true on the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import cfg

U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _Range:
    lo: int = 0
    hi: int = U32
    excluded: frozenset[int] = frozenset()

    def meet(self, other: _Range) -> _Range:
        """What holds on both paths: the hull, and exclusions common to both."""
        lo, hi = min(self.lo, other.lo), max(self.hi, other.hi)
        excl = frozenset(k for k in self.excluded & other.excluded if lo <= k <= hi)
        return _Range(lo, hi, excl)

    def decide(self, op: str, k: int) -> bool | None:
        lo, hi = self.lo, self.hi
        match op:
            case "==":
                if k < lo or k > hi or k in self.excluded:
                    return False
                if lo == hi == k:
                    return True
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
                if lo == hi:
                    return bool(lo & k)
                if hi < (k & -k):  # every bit of the value is below k's lowest bit
                    return False
        return None

    def learn(self, op: str, k: int, outcome: bool) -> _Range:
        lo, hi, excl = self.lo, self.hi, self.excluded
        match op, outcome:
            case "==", True:
                lo, hi = max(lo, k), min(hi, k)
            case "==", False:
                excl = excl | {k}
            case ">", True:
                lo = max(lo, k + 1)
            case ">", False:
                hi = min(hi, k)
            case ">=", True:
                lo = max(lo, k)
            case ">=", False:
                hi = min(hi, k - 1)
            case _:
                return self
        while lo in excl and lo < hi:
            lo += 1
        while hi in excl and hi > lo:
            hi -= 1
        return _Range(lo, hi, frozenset(e for e in excl if lo <= e <= hi))


@dataclass(frozen=True, slots=True)
class _Facts:
    ranges: dict[cfg.Value, _Range]
    exact: dict[cfg.Test, bool]

    def decide(self, test: cfg.Test) -> bool | None:
        known = self.exact.get(test)
        if known is not None:
            return known
        if isinstance(test.operand, cfg.Const):
            rng = self.ranges.get(test.value)
            if rng is not None:
                return rng.decide(test.op, test.operand.k)
        return None

    def learn(self, test: cfg.Test, outcome: bool) -> _Facts:
        exact = dict(self.exact)
        exact[test] = outcome
        ranges = self.ranges
        if isinstance(test.operand, cfg.Const) and test.op != "&":
            ranges = dict(ranges)
            ranges[test.value] = ranges.get(test.value, _Range()).learn(
                test.op, test.operand.k, outcome)
        return _Facts(ranges, exact)

    def forget(self, var: int) -> _Facts:
        return _Facts({v: r for v, r in self.ranges.items() if not _mentions(v, var)},
                      {t: o for t, o in self.exact.items()
                       if not (_mentions(t.value, var) or _mentions(t.operand, var))})

    def evaluated(self, test: cfg.Test) -> bool:
        """Whether ``test``'s values were computed on every path here (so cannot fault now)."""
        def known(v: cfg.Value) -> bool:
            return (not cfg.can_fault(v) or v in self.ranges
                    or any(t.value == v or t.operand == v for t in self.exact))
        return known(test.value) and known(test.operand)

    def meet(self, other: _Facts) -> _Facts:
        ranges = {v: r.meet(other.ranges[v]) for v, r in self.ranges.items() if v in other.ranges}
        exact = {t: o for t, o in self.exact.items() if other.exact.get(t) is o}
        return _Facts(ranges, exact)


def _mentions(value: cfg.Value, var: int) -> bool:
    if isinstance(value, cfg.Var):
        return value.id == var
    return any(_mentions(c, var) for c in cfg.children(value))


def thread_jumps(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    order = cfg.topological(root)
    facts_in: dict[int, _Facts] = {id(root): _Facts({}, {})}

    def arrive(node: cfg.Node, facts: _Facts) -> None:
        seen = facts_in.get(id(node))
        facts_in[id(node)] = facts if seen is None else seen.meet(facts)

    def resolve(node: cfg.Node, facts: _Facts) -> cfg.Node:
        while isinstance(node, cfg.Branch):
            outcome = facts.decide(node.test)
            if outcome is None:
                break
            node = node.if_true if outcome else node.if_false
        return node

    targets: dict[int, tuple[cfg.Node, ...]] = {}
    for node in order:
        facts = facts_in.get(id(node))
        if facts is None:  # every edge into it was redirected past it
            continue
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                on_true, on_false = facts.learn(test, True), facts.learn(test, False)
                t, f = resolve(t, on_true), resolve(f, on_false)
                targets[id(node)] = (t, f)
                arrive(t, on_true)
                arrive(f, on_false)
            case cfg.Assign(var=var, next=nxt):
                after = facts.forget(var)
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
                case cfg.Branch(test=test):
                    t, f = succ
                    facts = facts_in.get(id(n))
                    rebuilt[id(n)] = builder.branch(
                        test, rebuilt[id(t)], rebuilt[id(f)],
                        evaluated=facts is not None and facts.evaluated(test))
                case cfg.Assign(var=var, value=value):
                    rebuilt[id(n)] = builder.assign(var, value, rebuilt[id(succ[0])])
                case _:
                    rebuilt[id(n)] = n
        return rebuilt[id(node)]

    return new(root)
