"""Test simplification: rewrite a test into the cheapest cBPF jump that means the same.

``(v & k) == 0`` becomes ``jset #k`` with its edges swapped and ``(v & k) > 0`` becomes
``jset #k`` (saving the ``and``); a test between two constants is decided at compile time; values
are constant-folded where no fault can be lost. A rewritten test computes the same loads as the
original, so faults are unchanged.
"""

from __future__ import annotations

from .. import cfg


def fold(value: cfg.Value) -> cfg.Value:
    """Constant folding bottom-up; never folds away a division by zero (that stays a fault)."""
    match value:
        case cfg.Alu(op=op, a=a, b=b):
            a, b = fold(a), fold(b)
            if isinstance(a, cfg.Const) and isinstance(b, cfg.Const):
                if op in ("/", "%") and b.k == 0:
                    return cfg.Alu(op, a, b)
                return cfg.Const(cfg._alu(op, a.k, b.k))
            # ``(v + c1) + c2`` is not merged: as an indexed load's ``x + k`` libpcap checks the
            # sum for overflow instead of wrapping, so the two shapes differ for huge values.
            return cfg.Alu(op, a, b)
        case cfg.Neg(a=a):
            a = fold(a)
            return cfg.Const(-a.k & 0xFFFFFFFF) if isinstance(a, cfg.Const) else cfg.Neg(a)
        case cfg.Load(offset=o, size=s):
            return cfg.Load(fold(o), s)
        case cfg.HeaderLen(offset=o):
            return cfg.HeaderLen(fold(o))
    return value


def simplify(test: cfg.Test) -> tuple[cfg.Test | bool, bool]:
    """(new test or its constant outcome, whether the edges swap)."""
    value, operand = fold(test.value), fold(test.operand)
    if isinstance(value, cfg.Const) and isinstance(operand, cfg.Const):
        return cfg.evaluate_test(cfg.Test(value, test.op, operand), b"", 0, {}), False
    match value, test.op, operand:
        case cfg.Alu(op="&", a=v, b=cfg.Const(k=k)), "==", cfg.Const(k=0):
            return cfg.Test(v, "&", cfg.Const(k)), True
        case cfg.Alu(op="&", a=v, b=cfg.Const(k=k)), ">", cfg.Const(k=0):
            return cfg.Test(v, "&", cfg.Const(k)), False
    return cfg.Test(value, test.op, operand), False


def simplify_tests(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    rebuilt: dict[int, cfg.Node] = {}
    for node in reversed(cfg.topological(root)):
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                new_t, new_f = rebuilt[id(t)], rebuilt[id(f)]
                result, swap = simplify(test)
                if isinstance(result, bool):
                    rebuilt[id(node)] = new_t if result else new_f
                else:
                    if swap:
                        new_t, new_f = new_f, new_t
                    rebuilt[id(node)] = builder.branch(result, new_t, new_f)
            case cfg.Assign(var=var, value=value, next=nxt):
                rebuilt[id(node)] = builder.assign(var, fold(value), rebuilt[id(nxt)])
            case _:
                rebuilt[id(node)] = node
    return rebuilt[id(root)]
