"""Graphviz pictures of a CFG: what a filter became, one box per test.

Stage: a view on the CFG (``bpfc.cfg``) between lowering and emission; input a graph's root,
output ``dot`` source text. ``bpfc --dot FILE`` draws the final graph, and with ``--dump-after``
one cluster per requested stage.

``to_dot(root)`` draws tests as boxes in the words of ``bpfc -d`` (``ldh [12] == 0x86dd``:
offsets in decimal as tcpdump prints them, compared constants in hex), a solid green ``yes``
edge where the test holds and a dashed red ``no`` edge where it does not, assignments to
variables (header offsets found at run time) as rounded boxes, and the returns as ellipses
(accept/reject). ``to_dot_passes(graphs)`` draws several graphs side by side, one cluster each
(the graph after each optimizer pass, as ``--dump-after all`` prints them).

The labels are not ``cfg.format_value``'s text on purpose: that form is tuned for before/after
golden tests (``ldh[0xc]``), while a picture is read next to ``bpfc -d`` output, which spells
offsets in decimal.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import cfg

# Green and red are also told apart by line style and by their edge labels, so the picture
# reads in grey print and for red-green colour blindness.
_YES = 'color=forestgreen, fontcolor=forestgreen, label="yes"'
_NO = 'color=firebrick, fontcolor=firebrick, style=dashed, label="no"'


_SIZE = {1: "b", 2: "h", 4: ""}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _operand(value: cfg.Value) -> str:
    """A value compared against or combined with: constants as ``-d`` prints ``jeq #k``."""
    match value:
        case cfg.Const(k=k):
            return str(k) if k < 10 else hex(k)
        case _:
            return _value(value)


def _offset(value: cfg.Value) -> str:
    """A packet offset as ``-d`` prints it: ``12``, ``v1 + 14`` (decimal, no parentheses)."""
    match value:
        case cfg.Const(k=k):
            return str(k)
        case cfg.Alu(op="+", a=a, b=cfg.Const(k=k)):
            return f"{_offset(a)} + {k}"
        case _:
            return _value(value)


def _value(value: cfg.Value) -> str:
    match value:
        case cfg.Load(offset=o, size=s):
            return f"ld{_SIZE[s]} [{_offset(o)}]"
        case cfg.HeaderLen(offset=o):
            return f"4*([{_offset(o)}]&0xf)"
        case cfg.Alu(op=op, a=a, b=b):
            return f"({_value(a)} {op} {_operand(b)})"
        case cfg.Neg(a=a):
            return f"-{_value(a)}"
        case cfg.Const(k=k):
            return str(k)
        case _:
            return cfg.format_value(value)  # len, v1, anc[...]: no offsets or constants inside


def branch_label(test: cfg.Test) -> str:
    """``ldh [12] == 0x86dd``; a ``jset`` test says what its ``yes`` edge means (``!= 0``)."""
    value, operand = _value(test.value), _operand(test.operand)
    if test.op == "&":
        return f"{value} & {operand} != 0"
    return f"{value} {test.op} {operand}"


def _body(root: cfg.Node, prefix: str, indent: str) -> list[str]:
    """Node and edge statements for the graph at ``root``, node names starting ``prefix``."""
    order = cfg.topological(root)
    names = {id(n): f"{prefix}n{i}" for i, n in enumerate(order)}
    lines = []
    for node in order:
        name = names[id(node)]
        match node:
            case cfg.Return(k=k):
                label = "reject" if k == 0 else f"accept ({k})"
                color = "firebrick" if k == 0 else "forestgreen"
                lines.append(f"{name} [label={_quote(label)}, shape=ellipse, color={color}];")
            case cfg.Branch(test=test, if_true=t, if_false=f):
                lines.append(f"{name} [label={_quote(branch_label(test))}, shape=box];")
                lines.append(f"{name} -> {names[id(t)]} [{_YES}];")
                lines.append(f"{name} -> {names[id(f)]} [{_NO}];")
            case cfg.Assign(var=var, value=value, next=nxt):
                text = f"v{var} = {_value(value)}"
                lines.append(f"{name} [label={_quote(text)}, shape=box, style=rounded];")
                lines.append(f"{name} -> {names[id(nxt)]};")
    return [indent + line for line in lines]


def _header(title: str | None) -> list[str]:
    lines = ["digraph bpfc {", '  graph [fontname="monospace"];',
             '  node [fontname="monospace"];', '  edge [fontname="monospace", fontsize=10];',
             "  rankdir=TB;"]
    if title:
        lines.append(f"  labelloc=t; label={_quote(title)};")
    return lines


def to_dot(root: cfg.Node, title: str | None = None) -> str:
    """One picture of the graph at ``root``, ``title`` (the filter text) above it."""
    return "\n".join([*_header(title), *_body(root, "", "  "), "}"]) + "\n"


def to_dot_passes(graphs: Sequence[tuple[str, cfg.Node]], title: str | None = None) -> str:
    """One picture with a cluster per ``(name, root)``: ``[("lower", g0), ("jump-threading",
    g1), ...]``, left to right in order."""
    lines = _header(title)
    for i, (name, root) in enumerate(graphs):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_quote(f'{i}: {name}')}; style=dashed;")
        lines += _body(root, f"p{i}", "    ")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
