"""Assignment hoisting: an assignment made right after a test moves before it where that means
the same, so the test's edge can jump straight to the code after the assignment.

``ip6[6] == 6 ? (t = 40; P) : reject`` becomes ``t = 40; ip6[6] == 6 ? P : reject``: the
emitter then has ``ldx #40`` fall into the test, whose true edge reaches the port tests ``P``
that the IPv4 path (``t = 4*([14]&0xf); P``) falls into, and no ``ja`` is needed to join them.

A branch ``test ? (v = e; T) : F`` becomes ``v = e; test ? T : F`` when the test does not read
``v``, and either ``F`` also starts with ``v = e`` (then ``e`` is computed on every path past the
test anyway, so a fault in it rejects the same packets) or ``v`` is dead at ``F`` and ``e``
cannot fault (then the extra assignment on ``F``'s path is invisible). The same holds with the
edges swapped. The rebuild is bottom-up, so an assignment climbs a whole chain of tests
(``nh == 132 or nh == 6 or nh == 17``) in one pass.
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

    for node in reversed(cfg.topological(root)):
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                rebuilt[id(node)] = _hoisted(builder, test, rebuilt[id(t)], rebuilt[id(f)],
                                             liveness)
            case cfg.Assign(var=var, value=value, next=nxt):
                rebuilt[id(node)] = builder.assign(var, value, rebuilt[id(nxt)])
            case _:
                rebuilt[id(node)] = node
    return rebuilt[id(root)]


def _hoisted(builder: cfg.Builder, test: cfg.Test, t: cfg.Node, f: cfg.Node,
             liveness: Callable[[cfg.Node], frozenset[int]]) -> cfg.Node:
    reads = cfg.variables(test.value) | cfg.variables(test.operand)
    for first, other, swapped in ((t, f, False), (f, t, True)):
        if not isinstance(first, cfg.Assign) or first.var in reads:
            continue
        var, value = first.var, first.value
        if isinstance(other, cfg.Assign) and other.var == var and other.value == value:
            rest = other.next
        elif var not in liveness(other) and not cfg.can_fault(value):
            rest = other
        else:
            continue
        inner_t, inner_f = (rest, first.next) if swapped else (first.next, rest)
        inner = _hoisted(builder, test, inner_t, inner_f, liveness)
        return builder.assign(var, value, inner)
    return builder.branch(test, t, f)
