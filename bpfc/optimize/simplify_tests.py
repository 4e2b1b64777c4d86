"""Test simplification: rewrite a test into the cheapest cBPF jump that means the same.

``(v & k) == 0`` becomes ``jset #k`` with its edges swapped and ``(v & k) > 0`` becomes
``jset #k`` (saving the ``and``); a test between two constants is decided at compile time; values
are constant-folded where no fault can be lost. A rewritten test computes the same loads as the
original, so faults are unchanged.
"""

from __future__ import annotations

import functools

from .. import cfg

U32 = 0xFFFFFFFF


def fold(value: cfg.Value) -> cfg.Value:
    """Constant folding bottom-up; never folds away a division by zero (that stays a fault).

    Additions and subtractions of constants merge (``len - 10 - 4`` is ``len - 14``), which is
    exact modulo 2**32, except at the top of a load's offset: there ``x + k`` is how the load
    is addressed, and ``bpf_filter`` adds ``k`` to X without wrapping, so ``(v + c1) + c2`` and
    ``v + (c1 + c2)`` can load different bytes when ``v + c1`` wraps.
    """
    match value:
        case cfg.Alu(op=op, a=a, b=b):
            a, b = fold(a), fold(b)
            if isinstance(a, cfg.Const) and isinstance(b, cfg.Const):
                if op in ("/", "%") and b.k == 0:
                    return cfg.Alu(op, a, b)
                return cfg.Const(cfg.alu(op, a.k, b.k))
            match op, a, b:
                case ("<<", cfg.Alu(op="&", a=cfg.Load(offset=o, size=1), b=cfg.Const(k=0xF)),
                      cfg.Const(k=2)) | \
                     ("*", cfg.Alu(op="&", a=cfg.Load(offset=o, size=1), b=cfg.Const(k=0xF)),
                      cfg.Const(k=4)):
                    return cfg.HeaderLen(o)  # ``(ip[0] & 0xf) << 2``: ``ldxb 4*([14]&0xf)``
            if op in ("+", "-") and isinstance(b, cfg.Const):
                base, k = _offset_sum(a)
                k = (k + (b.k if op == "+" else -b.k)) & U32
                return _plus(base, k)
            return cfg.Alu(op, a, b)
        case cfg.Neg(a=a):
            a = fold(a)
            return cfg.Const(-a.k & U32) if isinstance(a, cfg.Const) else cfg.Neg(a)
        case cfg.Load(offset=o, size=s):
            return cfg.Load(_fold_offset(o), s)
        case cfg.HeaderLen(offset=o):
            return cfg.HeaderLen(_fold_offset(o))
    return value


def _fold_offset(offset: cfg.Value) -> cfg.Value:
    """Fold a load's offset, keeping its top-level ``x + k`` split as it is."""
    part, k = cfg.split_offset(offset)
    if part is None:
        return offset
    part = fold(part)
    if isinstance(part, cfg.Const) and part.k + k <= U32:
        return cfg.Const(part.k + k)
    return cfg.Alu("+", part, cfg.Const(k)) if k else part


def _offset_sum(value: cfg.Value) -> tuple[cfg.Value, int]:
    """``value`` as ``base + k`` modulo 2**32 (``base - c`` is ``base + (-c)``)."""
    match value:
        case cfg.Alu(op="+", a=a, b=cfg.Const(k=k)):
            return a, k
        case cfg.Alu(op="-", a=a, b=cfg.Const(k=k)):
            return a, -k & U32
    return value, 0


def _plus(base: cfg.Value, k: int) -> cfg.Value:
    """``base + k`` modulo 2**32 in its cheapest spelling (``sub #4`` rather than ``add``)."""
    if k == 0:
        return base
    if k > 0x80000000:
        return cfg.Alu("-", base, cfg.Const(-k & U32))
    return cfg.Alu("+", base, cfg.Const(k))


@functools.lru_cache(maxsize=1 << 15)
def simplify(test: cfg.Test) -> cfg.Pred:
    """The cheapest predicate meaning ``test``: a test, its negation, a range, or a constant."""
    value, operand = fold(test.value), fold(test.operand)
    if isinstance(value, cfg.Const) and isinstance(operand, cfg.Const):
        return cfg.Always(cfg.evaluate_test(cfg.Test(value, test.op, operand), b"", 0, {}))
    match value, test.op, operand:
        case cfg.Alu(op="&", a=v, b=cfg.Const(k=k)), "==", cfg.Const(k=0):
            return cfg.Not(cfg.Test(v, "&", cfg.Const(k)))
        case cfg.Alu(op="&", a=v, b=cfg.Const(k=k)), ">", cfg.Const(k=0):
            return cfg.Test(v, "&", cfg.Const(k))
        case cfg.Alu(op="&", a=v, b=cfg.Const(k=m)), "==", cfg.Const(k=k) if k == m and \
                m & (m - 1) == 0:
            return cfg.Test(v, "&", cfg.Const(m))  # one bit set: ``jset``
        case cfg.Alu(op="+" | "-"), "==", cfg.Const(k=k):
            # Adding a constant is a bijection modulo 2**32: move it to the other side.
            base, c = _offset_sum(value)
            return cfg.Test(base, "==", cfg.Const((k - c) & U32))
        case cfg.Alu(op="^", a=v, b=cfg.Const(k=c)), "==", cfg.Const(k=k):
            return cfg.Test(v, "==", cfg.Const(k ^ c))
    return cfg.Test(value, test.op, operand)


def simplify_tests(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    rebuilt: dict[int, cfg.Node] = {}
    for node in reversed(cfg.topological(root)):
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                rebuilt[id(node)] = cfg.build(builder, simplify(test), rebuilt[id(t)],
                                              rebuilt[id(f)])
            case cfg.Assign(var=var, value=value, next=nxt):
                rebuilt[id(node)] = builder.assign(var, fold(value), rebuilt[id(nxt)])
            case _:
                rebuilt[id(node)] = node
    return rebuilt[id(root)]
