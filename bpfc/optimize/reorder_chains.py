"""Chain reordering: permute the safe part of a chain of tests to group them by loaded value.

A *chain* is a run of branches that each send one edge to the same *shared* target and the other
to the next branch (the last one's to the chain's *exit*): ``host a or host b or host c`` tests,
on the IPv4 path, ``src == a``, ``dst == a``, ``src == b``, ... each jumping to accept when true.
A branch may reach the shared target on either edge (``ip broadcast``'s ``jset`` does on false),
so or-chains and and-chains are one shape. The chain means "some test sends us to the shared
target", whatever the order, as long as no test faults.

Faults are where order matters: once a path has computed a test's values without faulting, that
test cannot fault, so the rest of the chain is a pure disjunction. Ordered by value, starting
with the value A already holds, the emitter loads each value once: ``ld [30]; jeq b; jeq c;
...; ld [26]; jeq b; jeq c``. A test is safe at a position when its values were computed before
the chain or by earlier tests of the chain, or when they only load bytes below a constant offset
an earlier load already reached (after ``ld [30]`` a packet has 34 bytes, so ``ld [26]`` cannot
fault). When the shared target rejects, every order is safe: a fault rejects too, so the filter
returns 0 if any test hits or any load faults, and continues only if all ran and none hit.

libpcap gets a similar shape by reordering *all* the tests, including ones whose loads may fault,
which is why its optimized program accepts some truncated packets its unoptimized program
rejects. Here only safe tests move, so no verdict changes.

Only chains whose inner nodes have a single predecessor are rebuilt, so no other path sees a
different graph.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass

from .. import cfg


@functools.lru_cache(maxsize=1 << 15)
def _values(test: cfg.Test) -> frozenset[cfg.Value]:
    """The test's values and their parts (all computed once the test has run)."""
    out: set[cfg.Value] = set()
    stack: list[cfg.Value] = [test.value, test.operand]
    while stack:
        v = stack.pop()
        if v not in out:
            out.add(v)
            stack.extend(cfg.children(v))
    return frozenset(out)


@functools.lru_cache(maxsize=1 << 15)
def _length(test: cfg.Test) -> int:
    return max(cfg.proven_length(test.value), cfg.proven_length(test.operand))


@dataclass(frozen=True, slots=True)
class _Known:
    """Computed on every path into a node: these values, and loads up to this length."""

    values: frozenset[cfg.Value]
    length: int

    def covers(self, value: cfg.Value) -> bool:
        return (not cfg.can_fault(value) or value in self.values
                or cfg.safe_within(value, self.length))


def _known_everywhere(order: list[cfg.Node]) -> dict[int, _Known]:
    """For each node, what was computed (without faulting) on every path into it."""
    into: dict[int, _Known] = {id(order[0]): _Known(frozenset(), 0)}
    for node in order:
        here = into.get(id(node))
        if here is None:
            continue
        after = here
        if isinstance(node, cfg.Branch):
            values, length = _values(node.test), _length(node.test)
            if not values <= here.values or length > here.length:
                after = _Known(here.values | values, max(here.length, length))
        elif isinstance(node, cfg.Assign):
            after = _Known(frozenset(v for v in here.values if not cfg.mentions(v, node.var)),
                           here.length)
        for succ in cfg.successors(node):
            seen = into.get(id(succ))
            if seen is None or seen is after:
                into[id(succ)] = after
            else:
                into[id(succ)] = _Known(seen.values & after.values, min(seen.length, after.length))
    return into


@dataclass(frozen=True, slots=True)
class _Chain:
    """Branches ``members`` sharing ``shared``; ``senses[i]`` is the outcome of member i's test
    that leads to ``shared``; the last member's other edge leads to ``exit``."""

    members: tuple[cfg.Branch, ...]
    senses: tuple[bool, ...]
    shared: cfg.Node
    exit: cfg.Node


def _chain_from(head: cfg.Branch, shared: cfg.Node, preds: dict[int, int]) -> _Chain:
    members, senses = [head], [head.if_true is shared]
    node = head.if_false if senses[0] else head.if_true
    while (isinstance(node, cfg.Branch) and preds[id(node)] == 1
           and (node.if_true is shared) != (node.if_false is shared)):
        members.append(node)
        senses.append(node.if_true is shared)
        node = node.if_false if senses[-1] else node.if_true
    return _Chain(tuple(members), tuple(senses), shared, node)


def _longest_chain(head: cfg.Branch, preds: dict[int, int]) -> _Chain:
    first = _chain_from(head, head.if_true, preds)
    second = _chain_from(head, head.if_false, preds)
    return first if len(first.members) >= len(second.members) else second


def _reorder(chain: _Chain, known: _Known) -> list[tuple[cfg.Test, bool]] | None:
    """The chain's tests with the safe suffix grouped by value, or None if nothing changes.

    A test is safe at position i when ``known`` or the first i tests cover every value of it
    that can fault. The suffix starts at the first position from which every remaining test is
    safe there; linear in the chain's length (a binary search per test for lengths).
    """
    tests = [(m.test, s) for m, s in zip(chain.members, chain.senses, strict=True)]
    rejecting = isinstance(chain.shared, cfg.Return) and chain.shared.k == 0
    start = 0 if rejecting else _safe_start([t for t, _ in tests], known)
    if len(tests) - start < 2:
        return None
    groups: dict[cfg.Value, dict[tuple[cfg.Test, bool], None]] = {}
    if start > 0:
        groups[tests[start - 1][0].value] = {}  # already in A: test it first
    for item in tests[start:]:
        groups.setdefault(item[0].value, {})[item] = None  # a repeat decides nothing new
    new = tests[:start] + [item for bucket in groups.values() for item in bucket]
    return None if new == tests else new


def _safe_start(tests: list[cfg.Test], known: _Known) -> int:
    first_seen: dict[cfg.Value, int] = {}
    reach = [known.length]  # reach[i]: bytes proven once tests[:i] ran
    for i, t in enumerate(tests):
        for v in _values(t):
            first_seen.setdefault(v, i + 1)  # known once test i has run
        reach.append(max(reach[-1], _length(t)))

    def safe_from(t: cfg.Test) -> int:
        needed = 0
        for v in (t.value, t.operand):
            if known.covers(v):
                continue
            at = first_seen[v]
            need = cfg.proven_length(v)
            if cfg.safe_within(v, need):  # constant-offset loads: covered by a longer one
                at = min(at, bisect.bisect_left(reach, need))
            needed = max(needed, at)
        return needed

    start = len(tests)
    worst = 0
    for i in range(len(tests) - 1, -1, -1):
        worst = max(worst, safe_from(tests[i]))
        if worst <= i:
            start = i
    return start


def reorder_chains(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    order = cfg.topological(root)
    preds: dict[int, int] = {}
    for node in order:
        for succ in cfg.successors(node):
            preds[id(succ)] = preds.get(id(succ), 0) + 1
    known = _known_everywhere(order)
    claimed: set[int] = set()
    chains: dict[int, tuple[_Chain, list[tuple[cfg.Test, bool]]]] = {}
    for node in order:
        if isinstance(node, cfg.Branch) and id(node) not in claimed:
            chain = _longest_chain(node, preds)
            if len(chain.members) < 3:
                continue
            claimed.update(id(m) for m in chain.members)
            tests = _reorder(chain, known[id(node)])
            if tests is not None:
                chains[id(node)] = (chain, tests)
    rebuilt: dict[int, cfg.Node] = {}
    for node in reversed(order):
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                if id(node) in chains:
                    chain, tests = chains[id(node)]
                    rebuilt[id(node)] = _build_chain(tests, rebuilt[id(chain.shared)],
                                                     rebuilt[id(chain.exit)], builder)
                else:
                    rebuilt[id(node)] = builder.branch(test, rebuilt[id(t)], rebuilt[id(f)])
            case cfg.Assign(var=var, value=value, next=nxt):
                rebuilt[id(node)] = builder.assign(var, value, rebuilt[id(nxt)])
            case _:
                rebuilt[id(node)] = node
    return rebuilt[id(root)]


def _build_chain(tests: list[tuple[cfg.Test, bool]], shared: cfg.Node, exit: cfg.Node,
                 builder: cfg.Builder) -> cfg.Node:
    result = exit
    for test, sense in reversed(tests):
        result = builder.branch(test, shared, result) if sense else \
            builder.branch(test, result, shared)
    return result
