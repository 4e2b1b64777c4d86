"""Dead-store elimination: an ``Assign`` whose variable no path reads before it is assigned again
(or before the filter returns) is removed, if computing its value cannot fault.

Lowering assigns header offsets on every path that might need them (``geneve``'s inner offsets
are set even on the paths that end in ``return 0``); this pass keeps only the ones that matter.
Liveness is the usual backward dataflow over the DAG, one pass in reverse topological order.
"""

from __future__ import annotations

from .. import cfg


def _reads(value: cfg.Value) -> frozenset[int]:
    if isinstance(value, cfg.Var):
        return frozenset({value.id})
    out: frozenset[int] = frozenset()
    for child in cfg.children(value):
        out |= _reads(child)
    return out


def eliminate_dead_stores(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    live: dict[int, frozenset[int]] = {}
    rebuilt: dict[int, cfg.Node] = {}
    for node in reversed(cfg.topological(root)):
        match node:
            case cfg.Return():
                live[id(node)] = frozenset()
                rebuilt[id(node)] = node
            case cfg.Branch(test=test, if_true=t, if_false=f):
                live[id(node)] = (live[id(t)] | live[id(f)] | _reads(test.value)
                                  | _reads(test.operand))
                rebuilt[id(node)] = builder.branch(test, rebuilt[id(t)], rebuilt[id(f)])
            case cfg.Assign(var=var, value=value, next=nxt):
                after = live[id(nxt)]
                if var not in after and not cfg.can_fault(value):
                    live[id(node)] = after
                    rebuilt[id(node)] = rebuilt[id(nxt)]
                else:
                    live[id(node)] = (after - {var}) | _reads(value)
                    rebuilt[id(node)] = builder.assign(var, value, rebuilt[id(nxt)])
    return rebuilt[id(root)]
