"""Protocol-name primitives: bare ``ip``/``arp``/``atalk``/``iso``/... and ``proto`` matches.

Stage: AST primitive → ``cfg.Pred`` (libpcap's gen_proto_abbrev and gen_proto).
"""

from __future__ import annotations

from .. import nodes
from ..cfg import Pred
from . import link, net
from .context import Context

_LINK_PROTOS = {
    "ip": link.ETHERTYPE_IP, "ip6": link.ETHERTYPE_IPV6, "arp": link.ETHERTYPE_ARP,
    "rarp": link.ETHERTYPE_REVARP,
}


def proto_abbrev(ctx: Context, proto: str, node: nodes.ProtoAbbrev) -> Pred:
    """A bare protocol name used as a primitive."""
    if proto in _LINK_PROTOS:
        return link.network_protocol(ctx, _LINK_PROTOS[proto])
    ctx.error(f"'{proto}' is not supported yet", node)


def lower_proto(ctx: Context, m: nodes.Match) -> Pred:
    """``[ether|ip|ip6|...] proto N``."""
    if isinstance(m.id, nodes.Number) and m.quals.proto in ("ip", "ip6", None):
        return net.ip_protocol(ctx, m.id.value, m.quals.proto)
    ctx.error("this 'proto' form is not supported yet", m)


def lower_default(ctx: Context, m: nodes.Match) -> Pred:
    ctx.error("this primitive is not supported yet", m)


def llc(ctx: Context, node: nodes.Llc) -> Pred:
    ctx.error("'llc' is not supported yet", node)
