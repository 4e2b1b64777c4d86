"""Graphviz pictures of a CFG: what a filter became, one box per test.

``to_dot(root)`` gives ``dot`` source: tests as boxes labelled ``ldh[12] == 0x800``, solid green
edges for true and dashed red edges for false, returns as ellipses (accept/reject).
"""

from __future__ import annotations

from . import cfg


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(root: cfg.Node, title: str | None = None) -> str:
    order = cfg.topological(root)
    names = {id(n): f"n{i}" for i, n in enumerate(order)}
    lines = ["digraph bpfc {", '  node [fontname="monospace"];', "  rankdir=TB;"]
    if title:
        lines.append(f"  labelloc=t; label={_quote(title)};")
    for node in order:
        name = names[id(node)]
        match node:
            case cfg.Return(k=k):
                label, shape = ("reject" if k == 0 else f"accept ({k})"), "ellipse"
                color = "firebrick" if k == 0 else "forestgreen"
                lines.append(f"  {name} [label={_quote(label)}, shape={shape}, color={color}];")
            case cfg.Branch(test=test, if_true=t, if_false=f):
                lines.append(f"  {name} [label={_quote(str(test))}, shape=box];")
                lines.append(f"  {name} -> {names[id(t)]} [color=forestgreen];")
                lines.append(f"  {name} -> {names[id(f)]} [color=firebrick, style=dashed];")
            case cfg.Assign(var=var, value=value, next=nxt):
                text = f"v{var} = {cfg.format_value(value)}"
                lines.append(f"  {name} [label={_quote(text)}, shape=box, style=rounded];")
                lines.append(f"  {name} -> {names[id(nxt)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"
