"""Assignment hoisting: an assignment made right after a test moves before it where that means
the same and saves code, so the test's edge can jump straight to the code after the assignment.

``ip6[6] == 6 ? (t = 40; P) : reject`` becomes ``t = 40; ip6[6] == 6 ? P : reject``: the
emitter then has ``ldx #40`` fall into the test, whose true edge reaches the port tests ``P``
that the IPv4 path (``t = 4*([14]&0xf); P``) falls into, and no ``ja`` is needed to join them.

When it means the same: a branch ``test ? (v = e; T) : F`` becomes ``v = e; test ? T : F`` when
the test does not read ``v``, and either ``F`` also starts with ``v = e`` (then ``e`` is computed
on every path past the test anyway, so a fault in it rejects the same packets) or ``v`` is dead
at ``F`` and ``e`` cannot fault (then the extra assignment on ``F``'s path is invisible). The
same holds with the edges swapped. The rebuild is bottom-up, so an assignment climbs a whole
chain of tests (``nh == 132 or nh == 6 or nh == 17``) in one pass.

When it saves code: hoisting is not free. The assignment's code runs before the test and may
take A, which the test may need: after ``(ldb[18] & 0xf0) == 0x40 ? ... : (v = 6; ...)``, a
``v = 6`` hoisted above the next test of ``ldb[18] & 0xf0`` makes the emitter load that value
again. So a branch keeps its hoisted form only when that removes code:

- an assignment both edges start with is made once instead of twice; or
- an edge now reaches a *join*, a node that two or more assignments lead to in the input graph.
  Only one of them can fall through into it; the others end in a ``ja``. The test's edge jumps
  there for free, so the assignment no longer needs to.

Otherwise the branch stays as it was: the assignment on the edge falls through into its
successor, which costs no ``ja``, and the test keeps what A holds. For the same reason an edge
stops giving up assignments when it reaches a join (hoisting past it would copy the join's
assignment onto this path, as the join's other predecessors still need it), unless the other
edge starts with the same assignment.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import cfg


def hoist_assigns(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    rebuilt: dict[int, cfg.Node] = {}
    live: dict[int, frozenset[int]] = {}  # live variables on entry to each rebuilt node

    def liveness(node: cfg.Node) -> frozenset[int]:
        stack = [node]
        while stack:
            n = stack[-1]
            if id(n) in live:
                stack.pop()
                continue
            pending = [s for s in cfg.successors(n) if id(s) not in live]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            match n:
                case cfg.Branch(test=test, if_true=t, if_false=f):
                    live[id(n)] = (live[id(t)] | live[id(f)] | cfg.variables(test.value)
                                   | cfg.variables(test.operand))
                case cfg.Assign(var=var, value=value, next=nxt):
                    live[id(n)] = (live[id(nxt)] - {var}) | cfg.variables(value)
                case _:
                    live[id(n)] = frozenset()
        return live[id(node)]

    order = cfg.topological(root)
    fall_ins: dict[int, int] = {}  # how many assignments lead to each node of the input graph
    for node in order:
        if isinstance(node, cfg.Assign):
            fall_ins[id(node.next)] = fall_ins.get(id(node.next), 0) + 1
    joins: set[int] = set()  # the rebuilt forms of the input's joins
    hoist = _Hoister(builder, liveness, joins)
    for node in reversed(order):
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                new = hoist.branch(test, rebuilt[id(t)], rebuilt[id(f)])
            case cfg.Assign(var=var, value=value, next=nxt):
                new = builder.assign(var, value, rebuilt[id(nxt)])
            case _:
                new = node
        rebuilt[id(node)] = new
        if fall_ins.get(id(node), 0) > 1:
            joins.add(id(new))
    return rebuilt[id(root)]


class _Hoister:
    """Rebuilds one branch with the assignments worth hoisting above its test."""

    __slots__ = ("builder", "liveness", "joins")

    def __init__(self, builder: cfg.Builder, liveness: Callable[[cfg.Node], frozenset[int]],
                 joins: set[int]) -> None:
        self.builder = builder
        self.liveness = liveness
        self.joins = joins

    def branch(self, test: cfg.Test, t: cfg.Node, f: cfg.Node) -> cfg.Node:
        node, saves = self._hoisted(test, t, f, False, False)
        return node if saves else self.builder.branch(test, t, f)

    def _hoisted(self, test: cfg.Test, t: cfg.Node, f: cfg.Node, from_t: bool,
                 from_f: bool) -> tuple[cfg.Node, bool]:
        """``test ? t : f`` with what can move above the test moved, and whether that saves
        code; ``from_t``/``from_f``: assignments already left the edge to ``t``/``f``."""
        reads = cfg.variables(test.value) | cfg.variables(test.operand)
        for first, other, swapped in ((t, f, False), (f, t, True)):
            if not isinstance(first, cfg.Assign) or first.var in reads:
                continue
            var, value = first.var, first.value
            if isinstance(other, cfg.Assign) and other.var == var and other.value == value:
                rest, merged = other.next, True
            elif (id(first) not in self.joins and var not in self.liveness(other)
                  and not cfg.can_fault(value)):
                rest, merged = other, False
            else:
                continue
            if swapped:
                inner, saves = self._hoisted(test, rest, first.next, from_t or merged, True)
            else:
                inner, saves = self._hoisted(test, first.next, rest, True, from_f or merged)
            return self.builder.assign(var, value, inner), saves or merged
        reaches_join = ((from_t and id(t) in self.joins) or (from_f and id(f) in self.joins))
        return self.builder.branch(test, t, f), reaches_join
