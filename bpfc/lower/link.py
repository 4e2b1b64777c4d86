"""Link-layer lowering: "the link layer says the next protocol is P", per link type.

Stage: AST primitive → ``cfg.Pred``. ``network_protocol`` is libpcap's gen_linktype(): every
primitive that names a network protocol (``ip``, ``arp``, ``ether proto N``, ``ip host H`` ...)
starts with it, and its tests also guard every later load, so its exact shape per link type
decides what a filter returns on short and odd packets. The protocol is named the libpcap way:
an EtherType when > 1500, an 802.2 LLC SAP when <= 1500 (ETHERMTU).

Link types and what the "type" is:
- EN10MB: the EtherType at 12; values <= 1500 there are an 802.3 length and an LLC header
  follows (DSAP at 14).
- LINUX_SLL: the protocol at 14, with the pseudo-types LINUX_SLL_P_802_2 (an LLC header
  follows) and LINUX_SLL_P_802_3 (Novell raw 802.3).
- LINUX_SLL2: the protocol at 0. libpcap 1.10 has no SLL2 case in gen_linktype and compares the
  field with the value as given even for LLC SAPs (``stp`` tests ``proto == 0x42``); we do the
  same, because a filter must mean on bpfc what it means on tcpdump.
- NULL / LOOP: a 4-byte address family (host byte order for NULL, network order for LOOP).
- RAW: the IP version nibble; IPV4 / IPV6: decided at compile time.
- PPP, PPP_SERIAL (and after ``pppoes``): PPP protocol numbers, mapped from EtherTypes, at 2.
- C_HDLC: an EtherType at 2 (OSI: 0xFEFE).
- after ``mpls``: the version nibble of the payload.
"""

from __future__ import annotations

from dataclasses import replace

from .. import cfg, isa, linktypes, nodes
from ..cfg import FALSE, TRUE, Const, Pred, Test, Value, all_of, any_of
from .context import Context, Layout

ETHERMTU = 1500

# <net/ethernet.h> / libpcap's ethertype.h
ETHERTYPE_IP = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_REVARP = 0x8035
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_ATALK = 0x809B
ETHERTYPE_AARP = 0x80F3
ETHERTYPE_IPX = 0x8137
ETHERTYPE_DN = 0x6003
ETHERTYPE_SCA = 0x6007
ETHERTYPE_LAT = 0x6004
ETHERTYPE_MOPDL = 0x6001
ETHERTYPE_MOPRC = 0x6002
ETHERTYPE_8021Q = 0x8100
ETHERTYPE_8021AD = 0x88A8
ETHERTYPE_8021QINQ = 0x9100
ETHERTYPE_MPLS = 0x8847
ETHERTYPE_MPLS_MULTI = 0x8848
ETHERTYPE_PPPOED = 0x8863
ETHERTYPE_PPPOES = 0x8864
ETHERTYPE_TEB = 0x6558

# libpcap's llc.h
LLCSAP_NULL = 0x00
LLCSAP_IP = 0x06
LLCSAP_8021D = 0x42
LLCSAP_SNAP = 0xAA
LLCSAP_IPX = 0xE0
LLCSAP_NETBEUI = 0xF0
LLCSAP_ISONS = 0xFE

# <linux/if_ether.h> pseudo-protocols of the cooked header
LINUX_SLL_P_802_3 = 0x0001
LINUX_SLL_P_802_2 = 0x0004

# Address families: AF_INET is 2 everywhere; AF_INET6 is not (BSD, FreeBSD, Darwin, Linux).
AF_INET = 2
BSD_AFNUM_INET6_BSD = 24
BSD_AFNUM_INET6_FREEBSD = 28
BSD_AFNUM_INET6_DARWIN = 30
LINUX_AF_INET6 = 10

#: After ``pppoes`` the payload is PPP: libpcap switches the link type to DLT_PPP.
DLT_PPP = linktypes.DLT_PPP

# <net/ppp_defs.h>
PPP_IP = 0x0021
PPP_IPV6 = 0x0057
PPP_DECNET = 0x0027
PPP_APPLE = 0x0029
PPP_NS = 0x0025
PPP_OSI = 0x0023
PPP_BRPDU = 0x0031
PPP_IPX = 0x002B

_ETHERTYPE_TO_PPP = {
    ETHERTYPE_IP: PPP_IP, ETHERTYPE_IPV6: PPP_IPV6, ETHERTYPE_DN: PPP_DECNET,
    ETHERTYPE_ATALK: PPP_APPLE, 0x0600: PPP_NS, LLCSAP_ISONS: PPP_OSI, LLCSAP_8021D: PPP_BRPDU,
    LLCSAP_IPX: PPP_IPX,
}


def eq(value: Value, k: int) -> Test:
    return Test(value, "==", Const(k))


def gt(value: Value, k: int) -> Test:
    return Test(value, ">", Const(k))


def masked_eq(value: Value, mask: int, k: int) -> Pred:
    """``value & mask == k`` (libpcap's gen_mcmp); a mask of all ones is a plain compare.

    A zero mask decides the test without the load, as libpcap's optimizer does (its ``and #0``
    makes A a known constant and the load dead), so ``net 0/0`` cannot fault on short packets.
    """
    if mask == 0:
        return TRUE if k == 0 else FALSE
    if mask == 0xFFFFFFFF:
        return eq(value, k)
    return eq(cfg.Alu("&", value, Const(mask)), k)


def byte_compare(offset: Value, data: bytes) -> Pred:
    """The bytes at ``offset`` equal ``data`` (libpcap's gen_bcmp).

    Compared in words from the *end* backwards, as libpcap does, so the load reaching
    furthest comes first: on a short packet the filter faults at once, never after an
    earlier chunk already decided the outcome.
    """
    tests: list[Pred] = []
    size = len(data)
    while size >= 4:
        tests.append(eq(cfg.load(cfg.add(offset, size - 4), 4),
                        int.from_bytes(data[size - 4:size], "big")))
        size -= 4
    while size >= 2:
        tests.append(eq(cfg.load(cfg.add(offset, size - 2), 2),
                        int.from_bytes(data[size - 2:size], "big")))
        size -= 2
    if size > 0:
        tests.append(eq(cfg.load(offset, 1), data[0]))
    return all_of(*tests)


def snap(ctx: Context, orgcode: int, ptype: int) -> Pred:
    """An 802.2 LLC + SNAP header with this OUI and protocol (libpcap's gen_snap)."""
    block = bytes([LLCSAP_SNAP, LLCSAP_SNAP, 0x03]) + orgcode.to_bytes(3, "big") \
        + ptype.to_bytes(2, "big")
    return byte_compare(ctx.link_payload(), block)


def type_field(ctx: Context, size: int = 2, delta: int = 0) -> Value:
    """The link-layer type field (libpcap's OR_LINKTYPE)."""
    off = ctx.layout.linktype
    assert off is not None, "link type without a type field"
    return cfg.load(cfg.add(off, delta), size)


def network_protocol(ctx: Context, ll_proto: int) -> Pred:
    """The link layer says the next protocol is ``ll_proto`` (libpcap's gen_linktype)."""
    lay = ctx.layout
    if lay.outside is not None and lay.inside is not None:
        return _inside_or_outside(ctx, ll_proto, lay.outside, lay.inside)
    if lay.mpls_depth > 0:
        return _mpls_payload(ctx, ll_proto)
    dlt = lay.dlt
    if dlt == linktypes.DLT_EN10MB:
        return _ethernet(ctx, ll_proto)
    if dlt == linktypes.DLT_LINUX_SLL:
        return _linux_sll(ctx, ll_proto)
    if dlt in (linktypes.DLT_RAW, linktypes.DLT_SLIP):
        # The version nibble of the first byte of the *link* header: the IP header itself on
        # RAW, the direction byte of SLIP's pseudo-header on SLIP (libpcap does the same).
        if ll_proto == ETHERTYPE_IP:
            return masked_eq(cfg.load(lay.linkhdr, 1), 0xF0, 0x40)
        if ll_proto == ETHERTYPE_IPV6:
            return masked_eq(cfg.load(lay.linkhdr, 1), 0xF0, 0x60)
        return FALSE
    if dlt == linktypes.DLT_IPV4:
        return TRUE if ll_proto == ETHERTYPE_IP else FALSE
    if dlt == linktypes.DLT_IPV6:
        return TRUE if ll_proto == ETHERTYPE_IPV6 else FALSE
    if dlt in (linktypes.DLT_NULL, linktypes.DLT_LOOP):
        return _loopback(ctx, ll_proto)
    if dlt == linktypes.DLT_FRELAY:
        return _frame_relay(ctx, ll_proto)
    if dlt in (DLT_PPP, linktypes.DLT_PPP_SERIAL):
        return eq(type_field(ctx), _ETHERTYPE_TO_PPP.get(ll_proto, ll_proto))
    if dlt == linktypes.DLT_C_HDLC and ll_proto == LLCSAP_ISONS:
        return eq(type_field(ctx), LLCSAP_ISONS << 8 | LLCSAP_ISONS)
    # LINUX_SLL2 and anything else with a plain type field: libpcap's default case.
    return eq(type_field(ctx), ll_proto)


#: Frame Relay NLPIDs (RFC 2427) behind the 2-byte Q.922 address and the UI control byte 0x03.
FR_NLPID_IP = 0xCC
FR_NLPID_IPV6 = 0x8E
ISO_NLPIDS = (0x81, 0x82, 0x83)  # CLNP, ES-IS, IS-IS


def _frame_relay(ctx: Context, ll_proto: int) -> Pred:
    """libpcap's DLT_FRELAY case: the NLPIDs that carry the protocol (none: false)."""
    nlpids = {ETHERTYPE_IP: (FR_NLPID_IP,), ETHERTYPE_IPV6: (FR_NLPID_IPV6,),
              LLCSAP_ISONS: ISO_NLPIDS}.get(ll_proto, ())
    return any_of(*(frame_relay_nlpid(ctx, nlpid) for nlpid in nlpids))


def frame_relay_nlpid(ctx: Context, nlpid: int) -> Pred:
    """A Frame Relay frame with this NLPID: control and NLPID as one 16-bit word at 2."""
    return eq(cfg.load(cfg.add(ctx.layout.linkhdr, 2), 2), 0x0300 | nlpid)


def _inside_or_outside(ctx: Context, ll_proto: int, outside: Layout, inside: cfg.Var) -> Pred:
    """After a tunnel primitive on a link layer whose own protocol rule is not an EtherType
    test: the inner frame's rule where the tunnel matched, the outer link's rule elsewhere."""
    tunnelled = ctx.layout
    try:
        ctx.layout = replace(tunnelled, outside=None, inside=None)
        inner = network_protocol(ctx, ll_proto)
        ctx.layout = outside
        outer = network_protocol(ctx, ll_proto)
    finally:
        ctx.layout = tunnelled
    is_inside = eq(inside, 1)
    return any_of(all_of(is_inside, inner), all_of(cfg.Not(is_inside), outer))


def _ethernet(ctx: Context, ll_proto: int) -> Pred:
    is_8023 = cfg.Not(gt(type_field(ctx), ETHERMTU))
    llc = ctx.link_payload()
    if ll_proto in (LLCSAP_ISONS, LLCSAP_IP, LLCSAP_NETBEUI):
        return all_of(is_8023, eq(cfg.load(llc, 2), ll_proto << 8 | ll_proto))
    if ll_proto == LLCSAP_IPX:
        raw_or_8022 = any_of(eq(cfg.load(llc, 1), LLCSAP_IPX), eq(cfg.load(llc, 2), 0xFFFF))
        variants = any_of(snap(ctx, 0x000000, ETHERTYPE_IPX), raw_or_8022)
        return any_of(eq(type_field(ctx), ETHERTYPE_IPX), all_of(is_8023, variants))
    if ll_proto in (ETHERTYPE_ATALK, ETHERTYPE_AARP):
        org = 0x080007 if ll_proto == ETHERTYPE_ATALK else 0x000000
        return any_of(eq(type_field(ctx), ll_proto), all_of(is_8023, snap(ctx, org, ll_proto)))
    if ll_proto <= ETHERMTU:
        return all_of(is_8023, eq(type_field(ctx, 1, 2), ll_proto))
    return eq(type_field(ctx), ll_proto)


def _linux_sll(ctx: Context, ll_proto: int) -> Pred:
    is_8022 = eq(type_field(ctx), LINUX_SLL_P_802_2)
    llc = ctx.link_payload()
    if ll_proto in (LLCSAP_ISONS, LLCSAP_IP, LLCSAP_NETBEUI):
        return all_of(is_8022, eq(cfg.load(llc, 2), ll_proto << 8 | ll_proto))
    if ll_proto == LLCSAP_IPX:
        llc_variants = all_of(is_8022, any_of(eq(cfg.load(llc, 1), LLCSAP_IPX),
                                              snap(ctx, 0x000000, ETHERTYPE_IPX)))
        return any_of(eq(type_field(ctx), ETHERTYPE_IPX),
                      any_of(eq(type_field(ctx), LINUX_SLL_P_802_3), llc_variants))
    if ll_proto in (ETHERTYPE_ATALK, ETHERTYPE_AARP):
        org = 0x080007 if ll_proto == ETHERTYPE_ATALK else 0x000000
        return any_of(eq(type_field(ctx), ll_proto), all_of(is_8022, snap(ctx, org, ll_proto)))
    if ll_proto <= ETHERMTU:
        return all_of(is_8022, eq(cfg.load(llc, 1), ll_proto))
    return eq(type_field(ctx), ll_proto)


def _loopback(ctx: Context, ll_proto: int) -> Pred:
    if ll_proto == ETHERTYPE_IP:
        families: tuple[int, ...] = (AF_INET,)
    elif ll_proto == ETHERTYPE_IPV6:
        families = ctx.inet6_families()
    else:
        return FALSE
    return any_of(*(eq(type_field(ctx, 4), _family_word(ctx, af)) for af in families))


def _family_word(ctx: Context, af: int) -> int:
    """The 4-byte family as a big-endian load sees it: NULL stores it in the capturing host's
    byte order, LOOP in network order."""
    if ctx.layout.dlt == linktypes.DLT_NULL and ctx.byte_order == "little":
        return int.from_bytes(af.to_bytes(4, "little"), "big")
    return af


def _mpls_payload(ctx: Context, ll_proto: int) -> Pred:
    """After ``mpls``: bottom of stack, then the payload's version nibble (gen_mpls_linktype)."""
    nl = ctx.network_offset()
    versions = {ETHERTYPE_IP: 0x40, ETHERTYPE_IPV6: 0x60}
    if ll_proto not in versions:
        ctx.error("unsupported protocol over mpls")
    bottom = masked_eq(cfg.load(cfg.add(nl, 0xFFFFFFFE), 1), 0x01, 0x01)
    return all_of(bottom, masked_eq(cfg.load(nl, 1), 0xF0, versions[ll_proto]))


# ---------------------------------------------------------------------------------------------
# MAC addresses (gen_ehostop), link-level broadcast/multicast, packet metadata.

ETHER_BROADCAST = b"\xff" * 6
_LINK_HOST_DLTS = "ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel"


def has_mac_header(ctx: Context) -> bool:
    """Whether the current layer is Ethernet (libpcap's DLT_EN10MB cases)."""
    return ctx.layout.dlt == linktypes.DLT_EN10MB


def _tunnel_has_mac(ctx: Context) -> Pred:
    """Inside ``geneve`` the payload may be bare IP: a MAC header exists only if the link
    payload starts after the link header (libpcap's gen_geneve_ll_check)."""
    lay = ctx.layout
    if lay.tunnel == "geneve":
        return cfg.Not(Test(lay.linkhdr, "==", lay.linkpl))
    return TRUE


def ether_host(ctx: Context, mac: bytes, direction: str | None, node: object = None) -> Pred:
    """``ether [src|dst] host MAC``: the MAC addresses at 6 (source) and 0 (destination)."""
    if not has_mac_header(ctx):
        ctx.error(f"ethernet addresses supported only on {_LINK_HOST_DLTS}", node)
    return all_of(_tunnel_has_mac(ctx), _mac_compare(ctx, mac, direction, node))


def _mac_compare(ctx: Context, mac: bytes, direction: str | None, node: object) -> Pred:
    header = ctx.layout.linkhdr
    match direction:
        case "src":
            return byte_compare(cfg.add(header, 6), mac)
        case "dst":
            return byte_compare(header, mac)
        case "src and dst":
            return all_of(_mac_compare(ctx, mac, "src", node), _mac_compare(ctx, mac, "dst", node))
        case None | "src or dst":
            return any_of(_mac_compare(ctx, mac, "src", node), _mac_compare(ctx, mac, "dst", node))
        case "ra" | "ta":
            ctx.error(f"'{direction}' is only supported on 802.11 with 802.11 headers", node)
        case _:
            number = direction[-1]
            ctx.error(f"'addr{number}' and 'address{number}' are only supported on 802.11 with "
                      "802.11 headers", node)


def ether_broadcast(ctx: Context, node: object = None) -> Pred:
    if not has_mac_header(ctx):
        ctx.error("not a broadcast link", node)
    return all_of(_tunnel_has_mac(ctx), _mac_compare(ctx, ETHER_BROADCAST, "dst", node))


def ether_multicast(ctx: Context, node: object = None) -> Pred:
    """The group bit of the destination MAC (``ether[0] & 1 != 0``)."""
    if not has_mac_header(ctx):
        ctx.error("link-layer multicast filters supported only on ethernet/FDDI/token ring/"
                  "ARCNET/802.11/ATM LANE/Fibre Channel", node)
    header = ctx.layout.linkhdr
    return all_of(_tunnel_has_mac(ctx), Test(cfg.load(header, 1), "&", Const(1)))


def description(ctx: Context) -> str:
    """libpcap's pcap_datalink_val_to_description for the current layer, for messages."""
    dlt = ctx.layout.dlt
    return linktypes.DLT_NAMES.get(dlt, (f"DLT {dlt}", f"DLT {dlt}"))[1]


LINUX_SLL_OUTGOING = 4  # <linux/if_packet.h> PACKET_OUTGOING, the cooked header's packet type
SLIPDIR_IN = 0  # libpcap's gencode.c: DLT_SLIP's direction byte for a received packet


def direction(ctx: Context, node: nodes.PacketDirection) -> Pred:
    """``inbound`` / ``outbound``: the packet type the cooked header records.

    Offline only Linux cooked captures and SLIP's pseudo-header carry it; on a live Linux
    socket the kernel gives it as ancillary data (SKF_AD_PKTTYPE), whatever the link type.
    """
    dlt = ctx.layout.dlt
    outgoing: Pred
    if dlt == linktypes.DLT_LINUX_SLL:
        outgoing = eq(cfg.load(ctx.layout.linkhdr, 2), LINUX_SLL_OUTGOING)
    elif dlt == linktypes.DLT_LINUX_SLL2:
        outgoing = eq(cfg.load(cfg.add(ctx.layout.linkhdr, 10), 1), LINUX_SLL_OUTGOING)
    elif dlt == linktypes.DLT_SLIP:  # the pseudo-header's direction byte: SLIPDIR_IN is 0
        outgoing = cfg.Not(eq(cfg.load(ctx.layout.linkhdr, 1), SLIPDIR_IN))
    elif ctx.live:
        outgoing = eq(cfg.Ancillary(isa.SKF_AD_PKTTYPE, 2), LINUX_SLL_OUTGOING)
    else:
        ctx.error(f"inbound/outbound not supported on {description(ctx)} when reading savefiles",
                  node)
    return outgoing if node.outbound else cfg.Not(outgoing)


def ifindex(ctx: Context, node: nodes.IfIndex) -> Pred:
    """``ifindex N``: the interface index of a LINUX_SLL2 header, or the socket's (live)."""
    if ctx.layout.dlt == linktypes.DLT_LINUX_SLL2:
        return eq(cfg.load(cfg.add(ctx.layout.linkhdr, 4), 4), node.index & 0xFFFFFFFF)
    if ctx.live:
        return eq(cfg.Ancillary(isa.SKF_AD_IFINDEX, 4), node.index & 0xFFFFFFFF)
    ctx.error(f"ifindex not supported on {description(ctx)} when reading savefiles", node)


_MTP2 = {"fisu", "lssu", "msu"}
_MTP2_HSL = {"hfisu", "hlssu", "hmsu"}


def unsupported_family(ctx: Context, node: nodes.Primitive) -> Pred:
    """802.11, pflog, ATM and SS7 primitives: none of the link types bpfc lowers has them."""
    match node:
        case nodes.Wlan(field="dir"):
            message = "frame direction supported only with 802.11 headers"
        case nodes.Wlan():
            message = "802.11 link-layer types supported only on 802.11"
        case nodes.PfField(field=field):
            word = {"ifname": "ifname", "ruleset": "ruleset", "rulenum": "rnr",
                    "srulenum": "srnr", "reason": "reason", "action": "action"}[field]
            message = f"{word} supported only on PF linktype"
        case nodes.Atm(name=name):
            message = f"'{name}' supported only on raw ATM"
        case nodes.Mtp(name=name) if name in _MTP2:
            message = f"'{name}' supported only on MTP2"
        case nodes.Mtp(name=name) if name in _MTP2_HSL:
            message = f"'{name}' supported only on MTP2_HSL"
        case nodes.Mtp(name=name):
            message = f"'{name.removeprefix('h')}' supported only on SS7"
        case _:
            message = "this primitive is not supported on this link type"
    ctx.error(message, node)
