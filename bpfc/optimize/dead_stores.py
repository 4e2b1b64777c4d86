"""Dead-store elimination: an ``Assign`` whose variable no path reads before it is assigned again
(or before the filter returns) is removed if computing its value cannot fault, and otherwise
reduced to the loads that can fault (``probe``): only the fault is still observable.

Lowering assigns header offsets on every path that might need them (``geneve``'s inner offsets
are set even on the paths that end in ``return 0``); this pass keeps only the ones that matter.
The last step of protochain's walk computes a next offset nobody reads, but libpcap loads the
header length byte there, so a short packet is rejected: that load stays, the arithmetic goes.
Liveness is the usual backward dataflow over the DAG, one pass in reverse topological order.
"""

from __future__ import annotations

from .. import cfg


def probe(value: cfg.Value) -> cfg.Value:
    """A value that faults on exactly the packets ``value`` faults on, and is cheaper."""
    match value:
        case cfg.Alu(op="/" | "%", b=b) if not isinstance(b, cfg.Const):
            return value  # a division by a computed zero faults too
        case cfg.Alu(a=a, b=b):
            if not cfg.can_fault(b):
                return probe(a)
            if not cfg.can_fault(a):
                return probe(b)
        case cfg.Neg(a=a):
            return probe(a)
    return value


def eliminate_dead_stores(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    live: dict[int, frozenset[int]] = {}
    rebuilt: dict[int, cfg.Node] = {}
    for node in reversed(cfg.topological(root)):
        match node:
            case cfg.Return():
                live[id(node)] = frozenset()
                rebuilt[id(node)] = node
            case cfg.Branch(test=test, if_true=t, if_false=f):
                live[id(node)] = (live[id(t)] | live[id(f)] | cfg.variables(test.value)
                                  | cfg.variables(test.operand))
                rebuilt[id(node)] = builder.branch(test, rebuilt[id(t)], rebuilt[id(f)])
            case cfg.Assign(var=var, value=value, next=nxt):
                after = live[id(nxt)]
                if var not in after:
                    if not cfg.can_fault(value):
                        live[id(node)] = after
                        rebuilt[id(node)] = rebuilt[id(nxt)]
                        continue
                    value = probe(value)
                live[id(node)] = (after - {var}) | cfg.variables(value)
                rebuilt[id(node)] = builder.assign(var, value, rebuilt[id(nxt)])
    return rebuilt[id(root)]
