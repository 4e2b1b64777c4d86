"""Transport-layer lowering: ``tcp``, ``udp``, ``icmp`` ... as primitives, ports and port ranges.

Stage: AST primitive → ``cfg.Pred``. Follows libpcap 1.10's gen_proto_abbrev, gen_port(6),
gen_portrange(6) and gen_scode/gen_ncode, test for test, because the order of the tests is what
guards each load and so decides what a filter returns on short packets:

- IPv4 ports: link layer says IPv4, then ``ip[9]`` is the transport, then the fragment offset is
  0, then the port is loaded from ``4 * IHL`` bytes into the IP header;
- IPv6 ports: link layer says IPv6, then the fixed header's next header (``ip6[6]``) is the
  transport, then the port 40 bytes in. Extension headers are not walked (that is
  ``protochain``), and unlike ``ip6 proto`` a fragment header does not count;
- an unqualified ``port`` is the IPv6 test, then the IPv4 one, each over SCTP, TCP and UDP in
  that order (libpcap builds the alternatives that way round).

Port names follow ``names.service_port``: ``port domain`` applies to every transport because
both TCP and UDP list it at 53, ``port http`` only to TCP because only TCP does.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import cfg, names, nodes
from ..cfg import Const, Not, Pred, Test, Value, all_of, any_of
from . import link, net, protochain
from .context import Context
from .link import ETHERTYPE_IP, ETHERTYPE_IPV6, eq

IPPROTO_ICMP = 1
IPPROTO_IGMP = 2
IPPROTO_TCP = 6
IPPROTO_IGRP = 9
IPPROTO_UDP = 17
IPPROTO_ESP = 50
IPPROTO_AH = 51
IPPROTO_ICMPV6 = 58
IPPROTO_PIM = 103
IPPROTO_VRRP = 112
IPPROTO_CARP = 112  # CARP reuses VRRP's protocol number
IPPROTO_SCTP = 132

#: Bare transport names: (protocol number, families libpcap tests, in its order).
ABBREVS: dict[str, tuple[int, tuple[str, ...]]] = {
    "tcp": (IPPROTO_TCP, ("ip6", "ip")),
    "udp": (IPPROTO_UDP, ("ip6", "ip")),
    "sctp": (IPPROTO_SCTP, ("ip6", "ip")),
    "pim": (IPPROTO_PIM, ("ip6", "ip")),
    "ah": (IPPROTO_AH, ("ip6", "ip")),
    "esp": (IPPROTO_ESP, ("ip6", "ip")),
    "icmp": (IPPROTO_ICMP, ("ip",)),
    "igmp": (IPPROTO_IGMP, ("ip",)),
    "igrp": (IPPROTO_IGRP, ("ip",)),
    "vrrp": (IPPROTO_VRRP, ("ip",)),
    "carp": (IPPROTO_CARP, ("ip",)),
    "icmp6": (IPPROTO_ICMPV6, ("ip6",)),
}

#: What a port qualifier means: the transports to try, in libpcap's order.
_TRANSPORTS: dict[str | None, tuple[int, ...]] = {
    None: (IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP),
    "tcp": (IPPROTO_TCP,), "udp": (IPPROTO_UDP,), "sctp": (IPPROTO_SCTP,),
}

#: The port qualifiers, as ``names`` spells transports.
_QUALIFIERS: dict[str | None, names.Transport | None] = {
    None: None, "tcp": "tcp", "udp": "udp", "sctp": "sctp"}

#: Byte offsets of the source and destination ports in TCP, UDP and SCTP headers.
_SRC, _DST = 0, 2


def lower_proto_abbrev(ctx: Context, name: str) -> Pred:
    """``tcp``, ``udp``, ``icmp6`` ... as a primitive: the network header says so."""
    number, families = ABBREVS[name]
    return any_of(*(net.ip_protocol(ctx, number, family) for family in families))


# ---------------------------------------------------------------------------------------------
# ports


def lower_port(ctx: Context, m: nodes.Match) -> Pred:
    """``[tcp|udp|sctp] [src|dst|src or dst|src and dst] port|portrange ID``."""
    kind = m.quals.kind
    assert kind in ("port", "portrange"), kind
    proto = m.quals.proto
    if proto not in _TRANSPORTS:
        ctx.error(f"illegal qualifier of '{kind}'", m)
    _check_direction(ctx, m)
    low, high, transport = _resolve(ctx, m, kind, proto)
    for value in (low, high):
        if value < 0:
            ctx.error(f"illegal port number {value} < 0", m.id)
        if value > 0xFFFF:
            ctx.error(f"illegal port number {value} > 65535", m.id)
    if low > high:  # libpcap accepts reversed ranges and swaps them
        low, high = high, low
    protos = _TRANSPORTS[transport]
    if kind == "port":
        def atom(offset: Value) -> Pred:
            return eq(cfg.load(offset, 2), low)
    else:
        def atom(offset: Value) -> Pred:
            port = cfg.load(offset, 2)
            return all_of(Test(port, ">=", Const(low)), Not(Test(port, ">", Const(high))))
    direction = m.quals.dir
    return any_of(_ports6(ctx, protos, direction, atom), _ports4(ctx, protos, direction, atom))


def _check_direction(ctx: Context, m: nodes.Match) -> None:
    what = "ports" if m.quals.kind == "port" else "port ranges"
    match m.quals.dir:
        case None | "src" | "dst" | "src or dst" | "src and dst":
            return
        case "ra" | "ta" as d:
            ctx.error(f"'{d}' is not a valid qualifier for {what}", m)
        case d:
            ctx.error(f"'{d}' and 'address{d[-1]}' are not valid qualifiers for {what}", m)


def _resolve(ctx: Context, m: nodes.Match, kind: str,
             proto: str | None) -> tuple[int, int, str | None]:
    """The port bounds and the transport qualifier they end up with (gen_scode/gen_ncode)."""
    wanted = _QUALIFIERS[proto]
    try:
        match m.id:
            case nodes.Number(value=v):
                return v, v, proto
            case nodes.Name(text=text) if kind == "port":
                found = names.service_port(text, wanted)
                return found.port, found.port, found.proto
            case nodes.Name(text=text):
                span = names.port_range(text, wanted)
                return span.low, span.high, span.proto
            case nodes.Range(low=lo, high=hi):
                text = f"{_text(lo)}-{_text(hi)}"
                if kind == "port":
                    raise names.NameLookupError(f"unknown port '{text}'")
                span = names.port_range(text, wanted)
                return span.low, span.high, span.proto
            case nodes.IPv4():
                ctx.error(f"'{kind}' modifier applied to ip host", m.id)
            case nodes.IPv6():
                ctx.error("invalid qualifier against IPv6 address", m.id)
            case nodes.MAC():
                ctx.error("ethernet address used in non-ether expression", m.id)
            case _:
                ctx.error(f"a port number or service name is needed after '{kind}'", m.id)
    except names.NameLookupError as e:
        ctx.error(str(e), m.id)


def _text(part: nodes.Name | nodes.Number) -> str:
    if isinstance(part, nodes.Name):
        return part.text
    return part.text or str(part.value)


def _directions(direction: str | None, at: Callable[[int], Pred]) -> Pred:
    """Apply a port test to the source and/or destination port field."""
    match direction:
        case "src":
            return at(_SRC)
        case "dst":
            return at(_DST)
        case "src and dst":
            return all_of(at(_SRC), at(_DST))
        case _:
            return any_of(at(_SRC), at(_DST))


def _transport_header(ctx: Context, family: str) -> tuple[Value, int]:
    """Where the transport header starts behind ``family``'s header, split as (the part that
    differs between IPv4 and IPv6, the network header's constant offset).

    IPv4's part is the header length (plus the network offset's run-time part, after tunnels);
    IPv6's is 40. Port tests read ``[TRANSPORT + constant + port offset]`` through one shared
    variable set to this part on each path, so the IPv4 and IPv6 alternatives end in the same
    port tests and the emitter keeps the variable in X (``ldxb 4*([14]&0xf)`` or ``ldx #40``).
    Each path loads exactly the bytes libpcap's gen_port and gen_port6 load.
    """
    variable, constant = cfg.split_offset(ctx.network_offset())
    part: Value = cfg.HeaderLen(ctx.network_offset()) if family == "ip" else Const(40)
    if variable is not None:
        part = cfg.Alu("+", variable, part)
    return part, constant


def _port_tests(ctx: Context, family: str, direction: str | None,
                atom: Callable[[Value], Pred]) -> Pred:
    part, constant = _transport_header(ctx, family)
    start = ctx.builder.shared_var("transport")
    ports = _directions(direction, lambda off: atom(cfg.add(start, constant + off)))
    return cfg.Let(start, part, ports)


def _ports4(ctx: Context, protos: tuple[int, ...], direction: str | None,
            atom: Callable[[Value], Pred]) -> Pred:
    """IPv4 half of a port match (gen_port / gen_portrange)."""
    ip_proto = cfg.load(cfg.add(ctx.network_offset(), 9), 1)
    ports = _port_tests(ctx, "ip", direction, atom)
    alternatives = [all_of(eq(ip_proto, p), net.ipv4_not_fragment(ctx), ports) for p in protos]
    return all_of(link.network_protocol(ctx, ETHERTYPE_IP), any_of(*alternatives))


def _ports6(ctx: Context, protos: tuple[int, ...], direction: str | None,
            atom: Callable[[Value], Pred]) -> Pred:
    """IPv6 half of a port match (gen_port6 / gen_portrange6): fixed header only."""
    next_header = cfg.load(cfg.add(ctx.network_offset(), 6), 1)
    ports = _port_tests(ctx, "ip6", direction, atom)
    alternatives = [all_of(eq(next_header, p), ports) for p in protos]
    return all_of(link.network_protocol(ctx, ETHERTYPE_IPV6), any_of(*alternatives))


# ---------------------------------------------------------------------------------------------
# protochain


def lower_protochain(ctx: Context, m: nodes.Match) -> Pred:
    """``[ip|ip6] protochain N``: walks the extension headers (see ``protochain``)."""
    return protochain.lower_protochain(ctx, m)
