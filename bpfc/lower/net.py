"""Network-layer lowering: IPv4/IPv6/ARP protocols, hosts, nets, broadcast and multicast.

Stage: AST primitive → ``cfg.Pred``. Follows libpcap 1.10's gen_proto, gen_host, gen_host6,
gen_gateway, gen_broadcast, gen_multicast: the link-layer check (``link.network_protocol``)
always comes first, so that every later load is guarded exactly as libpcap guards it.
"""

from __future__ import annotations

from .. import cfg, nodes
from ..cfg import Const, Pred, Value, all_of, any_of
from . import link
from .context import Context
from .link import ETHERTYPE_IP, ETHERTYPE_IPV6, eq

IPPROTO_FRAGMENT = 44


def ip_protocol(ctx: Context, proto: int, family: str | None) -> Pred:
    """``ip proto N`` (family "ip"), ``ip6 proto N`` ("ip6"), ``proto N`` (None: either).

    For IPv6 libpcap also accepts N in the header after a fragment header (next header 44),
    but looks no further along the extension-header chain (that is ``protochain``).
    """
    if family is None:
        return any_of(ip_protocol(ctx, proto, "ip"), ip_protocol(ctx, proto, "ip6"))
    nl = ctx.network_offset()
    if family == "ip":
        return all_of(link.network_protocol(ctx, ETHERTYPE_IP), eq(cfg.load(cfg.add(nl, 9), 1),
                                                                  proto))
    assert family == "ip6", family
    next_header = cfg.load(cfg.add(nl, 6), 1)
    after_fragment = all_of(eq(next_header, IPPROTO_FRAGMENT),
                            eq(cfg.load(cfg.add(nl, 40), 1), proto))
    return all_of(link.network_protocol(ctx, ETHERTYPE_IPV6),
                  any_of(eq(next_header, proto), after_fragment))


def ipv4_transport_offset(ctx: Context) -> Value:
    """Start of the IPv4 payload: network offset + 4 * IHL (libpcap's OR_TRAN_IPV4)."""
    nl = ctx.network_offset()
    variable, constant = cfg.split_offset(nl)
    header_len: Value = cfg.HeaderLen(nl)
    if variable is not None:
        header_len = cfg.Alu("+", variable, header_len)
    return cfg.add(header_len, constant)


def ipv4_not_fragment(ctx: Context) -> Pred:
    """The IPv4 fragment offset is 0: a first fragment or no fragment (libpcap's gen_ipfrag)."""
    flags_offset = cfg.load(cfg.add(ctx.network_offset(), 6), 2)
    return cfg.Not(cfg.Test(flags_offset, "&", Const(0x1FFF)))


def lower_address(ctx: Context, m: nodes.Match) -> Pred:
    """``[proto] [dir] host|net|gateway ID`` and unqualified IDs."""
    ctx.error("host/net matches are not supported yet", m)


def broadcast(ctx: Context, proto: str | None, node: nodes.Broadcast) -> Pred:
    ctx.error("'broadcast' is not supported yet", node)


def multicast(ctx: Context, proto: str | None, node: nodes.Multicast) -> Pred:
    ctx.error("'multicast' is not supported yet", node)
