"""Network-layer lowering: IPv4/IPv6/ARP protocols, hosts, nets, broadcast and multicast.

Stage: AST primitive → ``cfg.Pred``. Follows libpcap 1.10's gen_proto, gen_host, gen_host6,
gen_hostop, gen_ncode, gen_mcode, gen_mcode6, gen_scode, gen_ecode, gen_broadcast and
gen_multicast: the link-layer check (``link.network_protocol``) always comes first, so every later
load is guarded exactly as libpcap guards it, and a short packet faults (returns 0) exactly when
libpcap's does.

Addresses are libpcap's, including its surprises, because a filter must mean the same on bpfc:
a dotted partial address is a prefix for ``host`` too (``host 10.1`` is ``10.1.0.0/16``), a bare
number is a whole 32-bit address for ``host`` but a left-justified network for ``net``
(``net 10`` is ``10.0.0.0/8``), and an unqualified host is ``ip or arp or rarp`` (just ``ip``
after ``mpls``, or on link types without a type field when named).
"""

from __future__ import annotations

import ipaddress

from .. import cfg, names, nodes
from ..cfg import Const, Pred, Value, all_of, any_of
from . import link
from .context import Context
from .link import ETHERTYPE_ARP, ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_REVARP, eq, masked_eq

IPPROTO_FRAGMENT = 44
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF

#: Protocol qualifiers that name the link layer (libpcap's scanner maps all of them to Q_LINK).
LINK_QUALIFIERS = frozenset({"link", "ether", "fddi", "tr", "wlan", "ppp", "slip"})


def ip_protocol(ctx: Context, proto: int, family: str | None) -> Pred:
    """``ip proto N`` (family "ip"), ``ip6 proto N`` ("ip6"), ``proto N`` (None: either).

    For IPv6 libpcap also accepts N in the header after a fragment header (next header 44),
    but looks no further along the extension-header chain (that is ``protochain``).
    """
    if family is None:
        return any_of(ip_protocol(ctx, proto, "ip"), ip_protocol(ctx, proto, "ip6"))
    nl = ctx.network_offset()
    if family == "ip":
        return all_of(link.network_protocol(ctx, ETHERTYPE_IP),
                      eq(cfg.load(cfg.add(nl, 9), 1), proto))
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


# ---------------------------------------------------------------------------------------------
# host / net / gateway

#: Where each protocol keeps its source and destination IPv4 address (gen_host's offsets).
_V4_ADDRESSES = {"ip": (ETHERTYPE_IP, 12, 16), "arp": (ETHERTYPE_ARP, 14, 24),
                 "rarp": (ETHERTYPE_REVARP, 14, 24)}

#: libpcap's refusals for ``PROTO host|net`` with an IPv4 address ({kind}: host or net).
_V4_REFUSALS = {
    "atalk": "AppleTalk host filtering not implemented",
    "lat": "LAT host filtering not implemented",
    "sca": "SCA host filtering not implemented",
    "moprc": "MOPRC host filtering not implemented",
    "mopdl": "MOPDL host filtering not implemented",
    "aarp": "AARP host filtering not implemented",
    "iso": "ISO host filtering not implemented",
    "ipx": "IPX host filtering not implemented",
    "ip6": "'ip6' modifier applied to ip host",
}


def _v4_refusal(proto: str, kind: str) -> str:
    if proto in LINK_QUALIFIERS:
        return f"link-layer modifier applied to {kind}"
    return _V4_REFUSALS.get(proto, f"'{proto}' modifier applied to {kind}")


def _v6_refusal(proto: str, kind: str) -> str:
    if proto in LINK_QUALIFIERS:
        return f"link-layer modifier applied to ip6 {kind}"
    if proto == "atalk":
        return f"AppleTalk modifier applied to ip6 {kind}"
    return f"'{proto}' modifier applied to ip6 {kind}"


def combine_directions(ctx: Context, direction: str | None, node: object,
                one: dict[str, Pred | None]) -> Pred:
    """Combine the per-direction tests in ``one`` the way gen_hostop does (src first)."""
    match direction:
        case "src" | "dst":
            pred = one[direction]
            assert pred is not None
            return pred
        case "src and dst":
            return all_of(combine_directions(ctx, "src", node, one),
                          combine_directions(ctx, "dst", node, one))
        case None | "src or dst":
            return any_of(combine_directions(ctx, "src", node, one),
                          combine_directions(ctx, "dst", node, one))
        case "ra" | "ta":
            ctx.error(f"'{direction}' is not a valid qualifier for addresses other than 802.11 "
                      "MAC addresses", node)
        case _:
            number = direction[-1]
            ctx.error(f"'addr{number}' and 'address{number}' are not valid qualifiers for "
                      "addresses other than 802.11 MAC addresses", node)


def ipv4_host(ctx: Context, addr: int, mask: int, proto: str | None, direction: str | None,
              kind: str, node: object = None) -> Pred:
    """libpcap's gen_host: ``[proto] [dir] host|net`` with an IPv4 address and mask."""
    if proto is None:
        ip = ipv4_host(ctx, addr, mask, "ip", direction, kind, node)
        if ctx.layout.mpls_depth > 0:
            return ip
        return any_of(ip, ipv4_host(ctx, addr, mask, "arp", direction, kind, node),
                      ipv4_host(ctx, addr, mask, "rarp", direction, kind, node))
    if proto == "decnet":
        from . import misc

        return misc.decnet_host(ctx, addr, direction, node)
    if proto not in _V4_ADDRESSES:
        ctx.error(_v4_refusal(proto, kind), node)
    ll_proto, src, dst = _V4_ADDRESSES[proto]

    def at(offset: int) -> Pred:
        word = cfg.load(cfg.add(ctx.network_offset(), offset), 4)
        return all_of(link.network_protocol(ctx, ll_proto), masked_eq(word, mask, addr))

    return combine_directions(ctx, direction, node, {"src": at(src), "dst": at(dst)})


def ipv6_host(ctx: Context, addr: bytes, mask: bytes, proto: str | None, direction: str | None,
              kind: str, node: object = None) -> Pred:
    """libpcap's gen_host6: ``[ip6] [dir] host|net`` with an IPv6 address and mask."""
    if proto is not None and proto != "ip6":
        ctx.error(_v6_refusal(proto, kind), node)

    def at(offset: int) -> Pred:
        nl = ctx.network_offset()
        words = [masked_eq(cfg.load(cfg.add(nl, offset + 4 * i), 4),
                           int.from_bytes(mask[4 * i:4 * i + 4], "big"),
                           int.from_bytes(addr[4 * i:4 * i + 4], "big")) for i in range(4)]
        return all_of(link.network_protocol(ctx, ETHERTYPE_IPV6), *words)

    return combine_directions(ctx, direction, node, {"src": at(8), "dst": at(24)})


def _atoin(ctx: Context, text: str, node: object) -> tuple[int, int]:
    """libpcap's __pcap_atoin: 1 to 4 decimal parts, each a byte; (value, bits given)."""
    parts = text.split(".")
    value = 0
    for part in parts:
        if not part.isdigit() or int(part) > 255 or len(parts) > 4:
            ctx.error(f"invalid IPv4 address '{text}'", node)
        value = value << 8 | int(part)
    return value, 8 * len(parts)


def _prefix_mask(bits: int) -> int:
    return (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF if bits else 0


def _left_justify(value: int) -> tuple[int, int]:
    """A network number written without its trailing zero bytes (``net 10``): libpcap shifts
    it left a byte at a time and narrows the mask with it."""
    mask = 0xFFFFFFFF
    while value and not value & 0xFF000000:
        value = value << 8 & 0xFFFFFFFF
        mask = mask << 8 & 0xFFFFFFFF
    return value, mask


def _ipv4_literal(ctx: Context, m: nodes.Match, ident: nodes.IPv4 | nodes.Number) -> Pred:
    """gen_ncode / gen_mcode: a number or dotted address, perhaps with ``/len`` or ``mask``."""
    quals = m.quals
    kind = quals.kind or "host"
    if isinstance(ident, nodes.IPv4) and (ident.prefix is not None or ident.mask is not None):
        addr, bits = _atoin(ctx, ident.text, m)
        addr <<= 32 - bits
        if ident.mask is not None:
            mask, mask_bits = _atoin(ctx, ident.mask, m)
            mask = mask << (32 - mask_bits)
            written = f"{ident.text} mask {ident.mask}"
        else:
            assert ident.prefix is not None
            if ident.prefix > 32:
                ctx.error("mask length must be <= 32", m)
            mask = _prefix_mask(ident.prefix)
            written = f"{ident.text}/{ident.prefix}"
        if addr & ~mask & 0xFFFFFFFF:
            ctx.error(f'non-network bits set in "{written}"', m)
        if kind != "net":
            ctx.error("Mask syntax for networks only", m)
        return ipv4_host(ctx, addr, mask, quals.proto, quals.dir, "net", m)
    if quals.proto == "decnet":
        from . import misc

        return misc.decnet_host(ctx, misc.decnet_address(ctx, ident, m), quals.dir, m)
    if quals.proto in LINK_QUALIFIERS:
        ctx.error("illegal link layer address", m)
    if isinstance(ident, nodes.Number) or "." not in ident.text:
        # libpcap's lexer reads an undotted address as a number (NUM), not as a partial HID.
        value = ident.value if isinstance(ident, nodes.Number) else _atoin(ctx, ident.text, m)[0]
        if kind == "net":
            addr, mask = _left_justify(value & 0xFFFFFFFF)
        else:
            addr, mask = value & 0xFFFFFFFF, 0xFFFFFFFF
    else:
        addr, bits = _atoin(ctx, ident.text, m)
        addr, mask = addr << (32 - bits), _prefix_mask(bits)
    return ipv4_host(ctx, addr, mask, quals.proto, quals.dir, kind, m)


def _ipv6_literal(ctx: Context, m: nodes.Match, ident: nodes.IPv6) -> Pred:
    """gen_mcode6: an IPv6 address with an optional ``/len``."""
    try:
        addr = ipaddress.IPv6Address(ident.text.split("%", 1)[0])
    except ValueError:
        ctx.error(f"invalid ip6 address {ident.text}", m)
    bits = 128 if ident.prefix is None else ident.prefix
    if bits > 128:
        ctx.error("mask length must be <= 128", m)
    mask = ((1 << 128) - 1) ^ ((1 << (128 - bits)) - 1)
    if int(addr) & ~mask:
        ctx.error(f'non-network bits set in "{ident.text}/{bits}"', m)
    kind = m.quals.kind or "host"
    if kind == "host" and bits != 128:
        ctx.error("Mask syntax for networks only", m)
    if kind not in ("host", "net"):
        ctx.error("invalid qualifier against IPv6 address", m)
    return ipv6_host(ctx, addr.packed, mask.to_bytes(16, "big"), m.quals.proto, m.quals.dir,
                     kind, m)


def _mac_literal(ctx: Context, m: nodes.Match, ident: nodes.MAC) -> Pred:
    """gen_ecode: ``ether [dir] host MAC``."""
    if m.quals.kind in (None, "host") and m.quals.proto in LINK_QUALIFIERS:
        return link.ether_host(ctx, parse_mac(ctx, ident.text, m), m.quals.dir, m)
    ctx.error("ethernet address used in non-ether expression", m)


def parse_mac(ctx: Context, text: str, node: object = None) -> bytes:
    """A MAC the way libpcap's pcap_ether_aton reads one: skip one separator (``:`` ``.``
    ``-``), take one or two hex digits as a byte, repeat (``1:2:3:4:5:6``, ``0102.0304.0506``)."""
    out = bytearray()
    i = 0
    hexdigits = "0123456789abcdefABCDEF"
    while i < len(text):
        if text[i] in ":.-":
            i += 1
        if i >= len(text) or text[i] not in hexdigits:
            ctx.error(f"invalid MAC address '{text}'", node)
        byte = int(text[i], 16)
        i += 1
        if i < len(text) and text[i] in hexdigits:
            byte = byte << 4 | int(text[i], 16)
            i += 1
        out.append(byte)
    if len(out) != 6:
        ctx.error(f"invalid MAC address '{text}'", node)
    return bytes(out)


def _lookup(ctx: Context, node: object, fn: object, *args: object) -> object:
    """Call a ``names`` lookup, turning its position-less error into one at ``node``."""
    try:
        return fn(*args)  # type: ignore[operator]
    except names.NameLookupError as error:
        ctx.error(str(error), node)


def _host_name(ctx: Context, m: nodes.Match, name: str) -> Pred:
    """gen_scode for ``host``/unqualified names: every address the name resolves to."""
    proto, direction = m.quals.proto, m.quals.dir
    if proto in LINK_QUALIFIERS:
        if not link.has_mac_header(ctx):
            ctx.error("only ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel supports "
                      "link-level host name", m)
        mac = _lookup(ctx, m, names.ether_address, name)
        assert isinstance(mac, bytes)
        return link.ether_host(ctx, mac, direction, m)
    if proto == "decnet":
        ctx.error(f"decnet name support not included, '{name}' cannot be translated", m)
    addresses = _lookup(ctx, m, names.host_addresses, name)
    assert isinstance(addresses, list)
    proto4 = proto6 = proto
    if ctx.layout.linktype is None and proto is None:
        proto4, proto6 = "ip", "ip6"
    preds: list[Pred] = []
    for address in addresses:
        if isinstance(address, ipaddress.IPv4Address):
            if proto4 == "ip6":
                continue
            preds.append(ipv4_host(ctx, int(address), 0xFFFFFFFF, proto4, direction, "host", m))
        else:
            if proto6 == "ip":
                continue
            preds.append(ipv6_host(ctx, address.packed, b"\xff" * 16, proto6, direction, "host",
                                   m))
    if not preds:
        family = "" if proto is None else " for specified address family"
        ctx.error(f"unknown host '{name}'{family}", m)
    return any_of(*preds)


def _net_name(ctx: Context, m: nodes.Match, name: str) -> Pred:
    """gen_scode for ``net NAME`` (/etc/networks)."""
    number = _lookup(ctx, m, names.network_number, name)
    assert isinstance(number, int)
    addr, mask = _left_justify(number)
    return ipv4_host(ctx, addr, mask, m.quals.proto, m.quals.dir, "net", m)


def gateway(ctx: Context, m: nodes.Match, name: str) -> Pred:
    """``gateway NAME``: sent to or from NAME's MAC address but not to or from its IPv4 address.

    libpcap builds with IPv6 support refuse ``gateway`` ("not supported in this configuration");
    bpfc keeps the primitive with its documented meaning (gen_gateway without INET6).
    """
    proto, direction = m.quals.proto, m.quals.dir
    try:
        mac = names.ether_address(name)
    except names.NameLookupError:
        ctx.error(f"unknown ether host: {name}", m)
    addresses = _lookup(ctx, m, names.host_addresses, name)
    assert isinstance(addresses, list)
    if direction is not None:
        ctx.error("direction applied to 'gateway'", m)
    if proto not in (None, "ip", "arp", "rarp"):
        ctx.error("illegal modifier of 'gateway'", m)
    if not link.has_mac_header(ctx):
        ctx.error("'gateway' supported only on ethernet/FDDI/token ring/802.11/ATM LANE/"
                  "Fibre Channel", m)
    station = link.ether_host(ctx, mac, None, m)
    hosts = [ipv4_host(ctx, int(a), 0xFFFFFFFF, proto, "src or dst", "host", m)
             for a in addresses if isinstance(a, ipaddress.IPv4Address)]
    if not hosts:
        ctx.error(f"unknown host '{name}'", m)
    return all_of(station, cfg.Not(any_of(*hosts)))


def lower_address(ctx: Context, m: nodes.Match) -> Pred:
    """``[proto] [dir] host|net|gateway ID`` and unqualified IDs (gen_ncode/gen_scode/...)."""
    ident = m.id
    kind = m.quals.kind
    match ident:
        case nodes.IPv4() | nodes.Number():
            if kind == "gateway":
                ctx.error("'gateway' requires a name", m)
            return _ipv4_literal(ctx, m, ident)
        case nodes.IPv6():
            return _ipv6_literal(ctx, m, ident)
        case nodes.MAC():
            return _mac_literal(ctx, m, ident)
        case nodes.Name(text=text):
            if kind == "net":
                return _net_name(ctx, m, text)
            if kind == "gateway":
                return gateway(ctx, m, text)
            return _host_name(ctx, m, text)
        case nodes.ArcnetAddr():
            ctx.error("aid supported only on ARCnet", m)
        case nodes.Range():
            ctx.error("a port range needs 'portrange'", m)


# ---------------------------------------------------------------------------------------------
# broadcast / multicast


def broadcast(ctx: Context, proto: str | None, node: nodes.Broadcast) -> Pred:
    """``[ether] broadcast`` (all-ones destination MAC) or ``ip broadcast`` (gen_broadcast).

    ``ip broadcast`` means a destination of all zeros or all ones in the host part, so it needs
    the netmask; without one libpcap refuses, and so do we.
    """
    if proto is None or proto in LINK_QUALIFIERS:
        return link.ether_broadcast(ctx, node)
    if proto != "ip":
        ctx.error("only link-layer/IP broadcast filters supported", node)
    if ctx.netmask is None or ctx.netmask == PCAP_NETMASK_UNKNOWN:
        ctx.error("netmask not known, so 'ip broadcast' not supported", node)
    hostmask = ~ctx.netmask & 0xFFFFFFFF
    dst = cfg.load(cfg.add(ctx.network_offset(), 16), 4)
    return all_of(link.network_protocol(ctx, ETHERTYPE_IP),
                  any_of(masked_eq(dst, hostmask, 0), masked_eq(dst, hostmask, hostmask)))


def multicast(ctx: Context, proto: str | None, node: nodes.Multicast) -> Pred:
    """``[ether] multicast``, ``ip multicast`` (224.0.0.0/4 and up), ``ip6 multicast`` (ff::/8)."""
    nl = ctx.network_offset()
    if proto == "ip":
        return all_of(link.network_protocol(ctx, ETHERTYPE_IP),
                      cfg.Test(cfg.load(cfg.add(nl, 16), 1), ">=", Const(224)))
    if proto == "ip6":
        return all_of(link.network_protocol(ctx, ETHERTYPE_IPV6),
                      eq(cfg.load(cfg.add(nl, 24), 1), 255))
    if proto is None or proto in LINK_QUALIFIERS:
        return link.ether_multicast(ctx, node)
    ctx.error("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/"
              "802.11/ATM LANE/Fibre Channel", node)

