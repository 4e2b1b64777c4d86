"""Chain reordering: permute the safe part of an or-chain (and-chain) to group tests by value.

``host a or host b or host c`` tests, on the IPv4 path, ``src == a``, ``dst == a``, ``src == b``,
``dst == b``, ... all jumping to the same accept on true: an *or-chain*. Once a path has loaded
both ``src`` and ``dst`` without faulting, the remaining tests cannot fault, so the rest of the
chain is a pure disjunction and any order gives the same verdict. Ordered by value, starting with
the value A already holds, the emitter loads each value once: ``ld [30]; jeq b; jeq c; ...;
ld [26]; jeq b; jeq c``. And-chains (same false target, linked by true edges) likewise.

libpcap gets a similar shape by reordering *all* the tests, including ones whose loads may fault,
which is why its optimized program accepts some truncated packets its unoptimized program
rejects. Here only tests whose values were already computed on every path to the chain, or earlier
in the chain, move, so no verdict changes.

Only chains whose inner nodes have a single predecessor are rebuilt, so no other path sees a
different graph.
"""

from __future__ import annotations

from .. import cfg


def _values(test: cfg.Test) -> set[cfg.Value]:
    out: set[cfg.Value] = set()
    stack: list[cfg.Value] = [test.value, test.operand]
    while stack:
        v = stack.pop()
        if v not in out:
            out.add(v)
            stack.extend(cfg.children(v))
    return out


def _safe(test: cfg.Test, evaluated: set[cfg.Value]) -> bool:
    return all(v in evaluated or not cfg.can_fault(v) for v in (test.value, test.operand))


def _evaluated_everywhere(order: list[cfg.Node]) -> dict[int, frozenset[cfg.Value]]:
    """For each node, the values computed (without faulting) on every path into it."""
    into: dict[int, frozenset[cfg.Value] | None] = {id(order[0]): frozenset()}
    for node in order:
        here = into.get(id(node))
        if here is None:
            continue
        after = here | _values(node.test) if isinstance(node, cfg.Branch) else here
        if isinstance(node, cfg.Assign):
            after = frozenset(v for v in here if not _mentions_var(v, node.var))
        for succ in cfg.successors(node):
            seen = into.get(id(succ))
            into[id(succ)] = after if seen is None else seen & after
    return {k: v for k, v in into.items() if v is not None}


def _mentions_var(value: cfg.Value, var: int) -> bool:
    if isinstance(value, cfg.Var):
        return value.id == var
    return any(_mentions_var(c, var) for c in cfg.children(value))


def _chain(head: cfg.Branch, preds: dict[int, int], disjunction: bool) -> list[cfg.Branch]:
    """The chain starting at ``head``: for an or-chain, nodes sharing ``head``'s true target and
    linked by false edges; for an and-chain, sharing the false target and linked by true edges."""
    chain = [head]
    shared = head.if_true if disjunction else head.if_false
    node = head.if_false if disjunction else head.if_true
    while (isinstance(node, cfg.Branch) and preds.get(id(node), 0) == 1
           and (node.if_true if disjunction else node.if_false) is shared):
        chain.append(node)
        node = node.if_false if disjunction else node.if_true
    return chain


def _reorder(chain: list[cfg.Branch], evaluated: frozenset[cfg.Value]) -> list[cfg.Test] | None:
    """The chain's tests with the safe suffix grouped by value, or None if nothing changes.

    A test is safe at position i when every value of it that can fault was computed before the
    chain or by one of the first i tests. The suffix starts at the first position from which
    every remaining test is safe there; linear in the chain's length.
    """
    tests = [n.test for n in chain]
    first_seen: dict[cfg.Value, int] = {}
    for i, t in enumerate(tests):
        for v in _values(t):
            first_seen.setdefault(v, i + 1)  # known once test i has run
    def safe_from(t: cfg.Test) -> int:
        needed = [first_seen[v] for v in (t.value, t.operand)
                  if cfg.can_fault(v) and v not in evaluated]
        return max(needed, default=0)
    start = len(tests)
    worst = 0
    for i in range(len(tests) - 1, -1, -1):
        worst = max(worst, safe_from(tests[i]))
        if worst <= i:
            start = i
    suffix = tests[start:]
    if len(suffix) < 2:
        return None
    groups: dict[cfg.Value, dict[cfg.Test, None]] = {}
    if start > 0:
        groups[tests[start - 1].value] = {}  # already in A: test it first
    for t in suffix:
        groups.setdefault(t.value, {})[t] = None  # a repeated test decides nothing new
    new = tests[:start] + [t for bucket in groups.values() for t in bucket]
    return None if new == tests else new


def reorder_chains(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    order = cfg.topological(root)
    preds: dict[int, int] = {}
    parent: dict[int, cfg.Node] = {}
    for node in order:
        for succ in cfg.successors(node):
            preds[id(succ)] = preds.get(id(succ), 0) + 1
            parent[id(succ)] = node
    evaluated = _evaluated_everywhere(order)
    rebuilt: dict[int, cfg.Node] = {}
    for node in reversed(order):
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                plain = builder.branch(test, rebuilt[id(t)], rebuilt[id(f)])
                rebuilt[id(node)] = plain
                for disjunction in (True, False):
                    if _inside_chain(node, preds, parent, disjunction):
                        continue
                    chain = _chain(node, preds, disjunction)
                    tests = _reorder(chain, evaluated.get(id(node), frozenset())) \
                        if len(chain) >= 3 else None
                    if tests is not None:
                        rebuilt[id(node)] = _build_chain(tests, chain[-1], rebuilt, builder,
                                                         disjunction)
                        break
            case cfg.Assign(var=var, value=value, next=nxt):
                rebuilt[id(node)] = builder.assign(var, value, rebuilt[id(nxt)])
            case _:
                rebuilt[id(node)] = node
    return rebuilt[id(root)]


def _inside_chain(node: cfg.Branch, preds: dict[int, int], parent: dict[int, cfg.Node],
                  disjunction: bool) -> bool:
    """Whether ``node`` continues its only predecessor's chain (so is not a chain head)."""
    if preds.get(id(node), 0) != 1:
        return False
    p = parent[id(node)]
    if not isinstance(p, cfg.Branch):
        return False
    if disjunction:
        return p.if_false is node and p.if_true is node.if_true
    return p.if_true is node and p.if_false is node.if_false


def _build_chain(tests: list[cfg.Test], last: cfg.Branch, rebuilt: dict[int, cfg.Node],
                 builder: cfg.Builder, disjunction: bool) -> cfg.Node:
    if disjunction:
        shared, result = rebuilt[id(last.if_true)], rebuilt[id(last.if_false)]
        for t in reversed(tests):
            result = builder.branch(t, shared, result)
    else:
        shared, result = rebuilt[id(last.if_false)], rebuilt[id(last.if_true)]
        for t in reversed(tests):
            result = builder.branch(t, result, shared)
    return result
