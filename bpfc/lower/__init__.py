"""Lowering: AST (``nodes.Expr``) → predicate over packets (``cfg.Pred``), for one link type.

Stage entry point: ``lower(expr, ctx)``. It walks the expression in *source order* (left operand
before right, whatever the connective), because libpcap's encapsulation primitives (``vlan``,
``mpls``, ``pppoes``, ``geneve``, ``vxlan``) move the headers of everything parsed after them;
``ctx.layout`` carries that state. Each primitive goes to the module of its protocol family:

- ``link``: link-layer type tests, ``inbound``/``outbound``/``ifindex``, ``ether`` addresses;
- ``net``: IPv4/IPv6/ARP protocols, hosts, nets, gateways, broadcast/multicast;
- ``encap``: vlan, mpls, pppoed/pppoes, geneve, vxlan;
- ``misc``: the non-IP protocol families (AppleTalk, DECnet, ISO, IPX, NetBEUI, STP, LLC ...);
- ``transport``/``arith``/``protochain``: ports, transport protocols, relations.
"""

from __future__ import annotations

from typing import assert_never

from .. import cfg, nodes
from ..cfg import Pred
from . import arith, encap, link, misc, net, transport
from .context import Context

__all__ = ["Context", "lower"]


def lower(expr: nodes.Expr, ctx: Context) -> Pred:
    """The predicate ``expr`` denotes on ``ctx.link`` (raises FilterSemanticError).

    Variables that primitives read on every path (a tunnel's inner offsets) get their initial
    values first, so a path that never reached the primitive assigning them still has them.
    """
    pred = _lower(expr, ctx)
    for var, value in reversed(ctx.initial):
        pred = cfg.Let(var, value, pred)
    return pred


def _lower(expr: nodes.Expr, ctx: Context) -> Pred:
    match expr:
        case nodes.And() | nodes.Or():
            # A chain of one connective (``host a or host b or ...``, thousands long) is lowered
            # in a loop, operands in source order, so depth follows nesting, not length.
            combine = cfg.all_of if isinstance(expr, nodes.And) else cfg.any_of
            result: Pred | None = None
            for operand in _chain(expr):
                lowered = _lower(operand, ctx)
                result = lowered if result is None else combine(result, lowered)
            assert result is not None
            return result
        case nodes.Not(operand=operand):
            return _negate(_lower(operand, ctx))
        case nodes.Empty():
            return cfg.TRUE
        case _:
            return _primitive(expr, ctx)


def _chain(expr: nodes.And | nodes.Or) -> list[nodes.Expr]:
    """The operands of a nested chain of ``expr``'s connective, in source order."""
    kind = type(expr)
    out: list[nodes.Expr] = []
    stack: list[nodes.Expr] = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, kind):
            stack.append(e.right)
            stack.append(e.left)
        else:
            out.append(e)
    return out


def _negate(pred: Pred) -> Pred:
    if isinstance(pred, cfg.Always):
        return cfg.Always(not pred.value)
    return cfg.Not(pred)


def _primitive(expr: nodes.Primitive, ctx: Context) -> Pred:
    match expr:
        case nodes.Match():
            return _match(expr, ctx)
        case nodes.ProtoAbbrev(proto=proto):
            return _proto_abbrev(proto, expr, ctx)
        case nodes.Broadcast(proto=proto):
            return net.broadcast(ctx, proto, expr)
        case nodes.Multicast(proto=proto):
            return net.multicast(ctx, proto, expr)
        case nodes.PacketDirection():
            return link.direction(ctx, expr)
        case nodes.IfIndex():
            return link.ifindex(ctx, expr)
        case nodes.Encapsulation():
            return encap.lower_encapsulation(ctx, expr)
        case nodes.Llc():
            return misc.llc(ctx, expr)
        case nodes.LengthCheck():
            return arith.lower_length(ctx, expr)
        case nodes.ByteOp():
            return arith.lower_byteop(ctx, expr)
        case nodes.Relation():
            return arith.lower_relation(ctx, expr)
        case nodes.PfField() | nodes.Wlan() | nodes.Atm() | nodes.Mtp():
            return link.unsupported_family(ctx, expr)
        case _:
            assert_never(expr)


#: Bare protocol names handled by ``transport``.
TRANSPORT_ABBREVS = frozenset({
    "tcp", "udp", "sctp", "icmp", "icmp6", "igmp", "igrp", "pim", "vrrp", "carp", "ah", "esp",
})


def _match(m: nodes.Match, ctx: Context) -> Pred:
    """``[proto] [dir] [kind] id``: ports and protochain belong to ``transport``; ``proto`` to
    ``misc``; host, net, gateway and unqualified ids (libpcap's Q_DEFAULT) to ``net``."""
    kind = m.quals.kind
    if kind in ("port", "portrange"):
        return transport.lower_port(ctx, m)
    if kind == "protochain":
        return transport.lower_protochain(ctx, m)
    if kind == "proto":
        return misc.lower_proto(ctx, m)
    return net.lower_address(ctx, m)


def _proto_abbrev(proto: str, node: nodes.ProtoAbbrev, ctx: Context) -> Pred:
    if proto in TRANSPORT_ABBREVS:
        return transport.lower_proto_abbrev(ctx, proto)
    return misc.proto_abbrev(ctx, proto, node)
