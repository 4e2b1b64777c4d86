"""Protocol-name primitives: bare ``ip``/``arp``/``atalk``/``iso``/``l1``..., ``proto`` matches,
``llc`` and DECnet hosts.

Stage: AST primitive → ``cfg.Pred`` (libpcap 1.10's gen_proto_abbrev, gen_proto, lookup_proto,
gen_llc*, gen_dnhostop). The non-IP families are all "the link layer says protocol P" plus at
most one byte of the network header, so they are small; what matters is that each names the
same EtherType or LLC SAP as libpcap, and that the OSI ones read the 802.2 header without SNAP.
"""

from __future__ import annotations

from .. import cfg, linktypes, names, nodes
from ..cfg import Const, Pred, Test, all_of, any_of
from . import link, net
from .context import Context
from .link import eq, masked_eq

# libpcap's nlpid.h and the IS-IS PDU types it knows.
ISO8473_CLNP = 0x81
ISO9542_ESIS = 0x82
ISO10589_ISIS = 0x83
ISIS_L1_LAN_IIH = 15
ISIS_L2_LAN_IIH = 16
ISIS_PTP_IIH = 17
ISIS_L1_LSP = 18
ISIS_L2_LSP = 20
ISIS_L1_CSNP = 24
ISIS_L2_CSNP = 25
ISIS_L1_PSNP = 26
ISIS_L2_PSNP = 27

#: Bare names that are "the link layer says protocol P" (EtherType or LLC SAP).
LINK_PROTOCOLS = {
    "ip": link.ETHERTYPE_IP, "ip6": link.ETHERTYPE_IPV6, "arp": link.ETHERTYPE_ARP,
    "rarp": link.ETHERTYPE_REVARP, "atalk": link.ETHERTYPE_ATALK,
    "aarp": link.ETHERTYPE_AARP, "decnet": link.ETHERTYPE_DN, "sca": link.ETHERTYPE_SCA,
    "lat": link.ETHERTYPE_LAT, "mopdl": link.ETHERTYPE_MOPDL, "moprc": link.ETHERTYPE_MOPRC,
    "iso": link.LLCSAP_ISONS, "stp": link.LLCSAP_8021D, "ipx": link.LLCSAP_IPX,
    "netbeui": link.LLCSAP_NETBEUI,
}

#: IS-IS PDU-type groups, in the order libpcap's gen_or chains leave them (first tested first).
ISIS_GROUPS = {
    "l1": (ISIS_L1_PSNP, ISIS_L1_CSNP, ISIS_L1_LSP, ISIS_L1_LAN_IIH, ISIS_PTP_IIH),
    "l2": (ISIS_L2_PSNP, ISIS_L2_CSNP, ISIS_L2_LSP, ISIS_L2_LAN_IIH, ISIS_PTP_IIH),
    "iih": (ISIS_PTP_IIH, ISIS_L1_LAN_IIH, ISIS_L2_LAN_IIH),
    "lsp": (ISIS_L1_LSP, ISIS_L2_LSP),
    "snp": (ISIS_L2_PSNP, ISIS_L1_PSNP, ISIS_L1_CSNP, ISIS_L2_CSNP),
    "csnp": (ISIS_L1_CSNP, ISIS_L2_CSNP),
    "psnp": (ISIS_L1_PSNP, ISIS_L2_PSNP),
}

_ISO_PROTOCOLS = {"esis": ISO9542_ESIS, "isis": ISO10589_ISIS, "clnp": ISO8473_CLNP}


def proto_abbrev(ctx: Context, proto: str, node: nodes.ProtoAbbrev) -> Pred:
    """A bare protocol name used as a primitive (the non-transport ones)."""
    if proto in LINK_PROTOCOLS:
        return link.network_protocol(ctx, LINK_PROTOCOLS[proto])
    if proto in _ISO_PROTOCOLS:
        return iso_protocol(ctx, _ISO_PROTOCOLS[proto])
    if proto in ISIS_GROUPS:
        return any_of(*(isis_pdu(ctx, t) for t in ISIS_GROUPS[proto]))
    if proto in net.LINK_QUALIFIERS:
        ctx.error("link layer applied in wrong context", node)
    if proto == "radio":
        ctx.error("'radio' is not a valid protocol type", node)
    ctx.error(f"unknown protocol '{proto}'", node)


def iso_protocol(ctx: Context, nlpid: int) -> Pred:
    """An OSI network PDU with this NLPID, right after an 802.2 header without SNAP (libpcap's
    gen_proto, Q_ISO). Frame Relay tests its own NLPID; Cisco HDLC, whose "OSI" is the
    EtherType look-alike 0xfefe, has a fudge byte before it."""
    if ctx.layout.dlt == linktypes.DLT_FRELAY:
        return link.frame_relay_nlpid(ctx, nlpid)
    fudge = 1 if ctx.layout.dlt == linktypes.DLT_C_HDLC else 0
    first = cfg.load(cfg.add(ctx.network_offset(nosnap=True), fudge), 1)
    return all_of(link.network_protocol(ctx, link.LLCSAP_ISONS), eq(first, nlpid))


def isis_pdu(ctx: Context, pdu_type: int) -> Pred:
    """An IS-IS PDU of this type (the type is byte 4 of the IS-IS header)."""
    pdu = cfg.load(cfg.add(ctx.network_offset(nosnap=True), 4), 1)
    return all_of(iso_protocol(ctx, ISO10589_ISIS), eq(pdu, pdu_type))


# ---------------------------------------------------------------------------------------------
# [qualifier] proto N

#: ``PROTO proto N`` that libpcap refuses, and how it words the refusal.
_PROTO_REFUSALS = {
    "arp": "arp does not encapsulate another protocol",
    "rarp": "rarp does not encapsulate another protocol",
    "atalk": "AppleTalk encapsulation is not specifiable",
    "decnet": "DECNET encapsulation is not specifiable",
    "lat": "LAT does not encapsulate another protocol",
    "sca": "SCA does not encapsulate another protocol",
    "moprc": "MOPRC does not encapsulate another protocol",
    "mopdl": "MOPDL does not encapsulate another protocol",
    "clnp": "'clnp proto' is not supported",
}


def _proto_number(ctx: Context, m: nodes.Match) -> int:
    """The number in ``PROTO proto ID``, looking a name up as libpcap's lookup_proto does."""
    ident = m.id
    if isinstance(ident, nodes.Number):
        return ident.value
    if not isinstance(ident, nodes.Name):
        ctx.error("a protocol must be a number or a name", m)
    proto, name = m.quals.proto, ident.text
    try:
        if proto in (None, "ip", "ip6"):
            return names.ip_protocol_number(name)
        if proto in net.LINK_QUALIFIERS:
            return names.link_protocol_number(name)
    except names.NameLookupError as error:
        ctx.error(str(error), m)
    if proto == "iso":
        if name not in _ISO_PROTOCOLS:
            ctx.error(f"unknown osi proto '{name}'", m)
        return _ISO_PROTOCOLS[name]
    ctx.error(f"unknown protocol: {name}", m)


def lower_proto(ctx: Context, m: nodes.Match) -> Pred:
    """``[ether|link|ip|ip6|iso|isis] proto N`` (libpcap's gen_proto)."""
    number = _proto_number(ctx, m)
    proto = m.quals.proto
    if m.quals.dir is not None:
        ctx.error("direction applied to 'proto'", m)
    if proto in (None, "ip", "ip6"):
        return net.ip_protocol(ctx, number, proto)
    if proto in net.LINK_QUALIFIERS:
        return link.network_protocol(ctx, number)
    if proto == "iso":
        return iso_protocol(ctx, number)
    if proto == "isis":
        return isis_pdu(ctx, number)
    ctx.error(_PROTO_REFUSALS.get(proto, f"'{proto} proto' is bogus"), m)


# ---------------------------------------------------------------------------------------------
# llc

LLC_S_FMT = 1
LLC_U_FMT = 3
LLC_S_CMD_MASK = 0x0F
LLC_U_CMD_MASK = 0xEF
LLC_S_SUBTYPES = {"rr": 0x01, "rnr": 0x05, "rej": 0x09}
LLC_U_SUBTYPES = {"ui": 0x03, "ua": 0x63, "disc": 0x43, "dm": 0x0F, "sabme": 0x6F,
                  "test": 0xE3, "xid": 0xAF, "frmr": 0x87}


def llc(ctx: Context, node: nodes.Llc) -> Pred:
    """``llc`` and ``llc i|s|u|SUBTYPE``: an 802.2 frame (not Novell raw 802.3) and its type."""
    if ctx.layout.dlt != linktypes.DLT_EN10MB:
        ctx.error(f"'llc' not supported for {link.description(ctx)}", node)
    is_8023 = cfg.Not(link.gt(link.type_field(ctx), link.ETHERMTU))
    header = ctx.link_payload()
    frame = all_of(is_8023, cfg.Not(eq(cfg.load(header, 2), 0xFFFF)))
    control = cfg.load(cfg.add(header, 2), 1)
    match node.subtype:
        case None:
            return frame
        case "i":
            return all_of(frame, cfg.Not(Test(control, "&", Const(0x01))))
        case "s":
            return all_of(frame, masked_eq(control, 0x03, LLC_S_FMT))
        case "u":
            return all_of(frame, masked_eq(control, 0x03, LLC_U_FMT))
        case name if name in LLC_S_SUBTYPES:
            return all_of(frame, masked_eq(control, LLC_S_CMD_MASK, LLC_S_SUBTYPES[name]))
        case name if name in LLC_U_SUBTYPES:
            return all_of(frame, masked_eq(control, LLC_U_CMD_MASK, LLC_U_SUBTYPES[name]))
        case name:
            ctx.error(f"unknown LLC type name '{name}'", node)


# ---------------------------------------------------------------------------------------------
# decnet host


def decnet_address(ctx: Context, ident: nodes.IPv4 | nodes.Number, node: object) -> int:
    """``area.node`` as libpcap's __pcap_atodn reads it; a bare number is the address itself."""
    if isinstance(ident, nodes.Number):
        return ident.value & 0xFFFFFFFF
    parts = ident.text.split(".")
    if len(parts) < 2:
        return int(parts[0]) & 0xFFFFFFFF
    area, number = int(parts[0]), int(parts[1])
    return (area << 10) & 0o176000 | number & 0o1777


def _swap16(value: int) -> int:
    """libpcap compares DECnet fields with ntohs() of the little-endian wire value: on the
    little-endian hosts it is built for, a byte swap."""
    return (value & 0xFF) << 8 | (value >> 8) & 0xFF


def decnet_host(ctx: Context, addr: int, direction: str | None, node: object) -> Pred:
    """``decnet [src|dst] host A``: data packets with 0 or 1 pad bytes, long or short header
    (libpcap's gen_dnhostop)."""
    wanted = _swap16(addr & 0xFFFF)

    def at(short: int, long: int) -> Pred:
        nl = ctx.network_offset()
        flags_h = cfg.load(cfg.add(nl, 2), 2)
        flags_b = cfg.load(cfg.add(nl, 2), 1)

        def address(offset: int) -> Pred:
            return eq(cfg.load(cfg.add(nl, offset), 2), wanted)

        return all_of(link.network_protocol(ctx, link.ETHERTYPE_DN), any_of(
            all_of(masked_eq(flags_b, 0x07, 0x02), address(2 + short)),
            all_of(masked_eq(flags_h, _swap16(0x07FF), _swap16(0x0281)), address(3 + short)),
            all_of(masked_eq(flags_b, 0x07, 0x06), address(2 + long)),
            all_of(masked_eq(flags_h, _swap16(0x07FF), _swap16(0x0681)), address(3 + long)),
        ))

    return net.combine_directions(ctx, direction, node, {"src": at(3, 15), "dst": at(1, 7)})
