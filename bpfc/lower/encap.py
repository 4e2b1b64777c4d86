"""Encapsulation primitives: vlan, mpls, pppoed, pppoes, geneve, vxlan.

Stage: AST primitive → ``cfg.Pred``; each also shifts ``ctx.layout`` for what follows.
"""

from __future__ import annotations

from .. import nodes
from ..cfg import Pred
from .context import Context


def lower_encapsulation(ctx: Context, node: nodes.Encapsulation) -> Pred:
    ctx.error(f"'{node.kind}' is not supported yet", node)
