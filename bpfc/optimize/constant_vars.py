"""Constant variables: a variable that holds the same constant on every path into a test is
replaced by that constant there, and its assignment usually dies (``dead_stores``).

On a link type with only IPv6 (DLT_IPV6), the transport header variable is 40 on every path,
so ``ldx #40; ldh [x + 0]`` becomes ``ldh [40]``. Where paths with different values meet (IPv4
and IPv6 sharing port tests) nothing changes; this pass runs after jump threading in each round
so that such paths have already merged before it looks.
"""

from __future__ import annotations

from .. import cfg

U32 = 0xFFFFFFFF


def _substitute(value: cfg.Value, constants: dict[int, int]) -> cfg.Value:
    """``value`` with variables known to hold constants replaced by them, folded.

    A load's ``x + k`` offset is only folded when the sum does not wrap: ``bpf_filter`` adds
    ``k`` to X without wrapping, so a wrapped constant would load where the program does not.
    """
    match value:
        case cfg.Var(id=var) if var in constants:
            return cfg.Const(constants[var])
        case cfg.Load(offset=offset) | cfg.HeaderLen(offset=offset):
            part, k = cfg.split_offset(offset)
            if part is None:
                return value
            new = _substitute(part, constants)
            if new is part:
                return value
            if isinstance(new, cfg.Const):
                if new.k + k > U32:
                    return value
                offset = cfg.Const(new.k + k)
            else:
                offset = cfg.Alu("+", new, cfg.Const(k)) if k else new
            if isinstance(value, cfg.Load):
                return cfg.Load(offset, value.size)
            return cfg.HeaderLen(offset)
        case cfg.Alu(op=op, a=a, b=b):
            new_a, new_b = _substitute(a, constants), _substitute(b, constants)
            if new_a is a and new_b is b:
                return value
            if op in ("/", "%") and isinstance(new_b, cfg.Const) and new_b.k == 0:
                return value  # a constant division by zero would not even pass the checker
            if isinstance(new_a, cfg.Const) and isinstance(new_b, cfg.Const):
                return cfg.Const(cfg.alu(op, new_a.k, new_b.k))
            return cfg.Alu(op, new_a, new_b)
        case cfg.Neg(a=a):
            new_a = _substitute(a, constants)
            if new_a is a:
                return value
            return cfg.Const(-new_a.k & U32) if isinstance(new_a, cfg.Const) else cfg.Neg(new_a)
    return value


def _with_constants(test: cfg.Test, constants: dict[int, int]) -> cfg.Test:
    """``test`` reading the constants its variables hold on every path here, if any."""
    if not constants:
        return test
    value, operand = _substitute(test.value, constants), _substitute(test.operand, constants)
    if value is test.value and operand is test.operand:
        return test
    return cfg.Test(value, test.op, operand)


def propagate_constants(root: cfg.Node, builder: cfg.Builder) -> cfg.Node:
    order = cfg.topological(root)
    held: dict[int, dict[int, int]] = {id(root): {}}
    for node in order:
        here = held[id(node)]
        after = here
        if isinstance(node, cfg.Assign):
            after = {v: k for v, k in here.items() if v != node.var}
            if isinstance(node.value, cfg.Const):
                after[node.var] = node.value.k
        for succ in cfg.successors(node):
            seen = held.get(id(succ))
            held[id(succ)] = after if seen is None else {
                v: k for v, k in seen.items() if after.get(v) == k}
    rebuilt: dict[int, cfg.Node] = {}
    for node in reversed(order):
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                rebuilt[id(node)] = builder.branch(_with_constants(test, held[id(node)]),
                                                   rebuilt[id(t)], rebuilt[id(f)])
            case cfg.Assign(var=var, value=value, next=nxt):
                constants = held[id(node)]
                new = _substitute(value, constants) if constants else value
                rebuilt[id(node)] = builder.assign(var, new, rebuilt[id(nxt)])
            case _:
                rebuilt[id(node)] = node
    return rebuilt[id(root)]
