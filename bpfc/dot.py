"""Graphviz pictures of a CFG: what a filter became, one box per test.

``to_dot(root)`` gives ``dot`` source: tests as boxes labelled ``ldh[12] == 0x800``, solid green
edges for true and dashed red edges for false, assignments as rounded boxes, returns as
ellipses (accept/reject). ``to_dot_passes(graphs)`` draws several graphs side by side, one
cluster each (the graph after each optimizer pass, as ``--dump-after all`` prints them).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import cfg


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
                lines.append(f"{name} [label={_quote(str(test))}, shape=box];")
                lines.append(f"{name} -> {names[id(t)]} [color=forestgreen];")
                lines.append(f"{name} -> {names[id(f)]} [color=firebrick, style=dashed];")
            case cfg.Assign(var=var, value=value, next=nxt):
                text = f"v{var} = {cfg.format_value(value)}"
                lines.append(f"{name} [label={_quote(text)}, shape=box, style=rounded];")
                lines.append(f"{name} -> {names[id(nxt)]};")
    return [indent + line for line in lines]


def _header(title: str | None) -> list[str]:
    lines = ["digraph bpfc {", '  node [fontname="monospace"];', "  rankdir=TB;"]
    if title:
        lines.append(f"  labelloc=t; label={_quote(title)};")
    return lines


def to_dot(root: cfg.Node, title: str | None = None) -> str:
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
