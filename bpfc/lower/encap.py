"""Encapsulation primitives: vlan, mpls, pppoed, pppoes, geneve, vxlan.

Stage: AST primitive → ``cfg.Pred``; each (but ``pppoed``) also moves ``ctx.layout`` for every
primitive lowered after it, whatever connective joins them, because that is what they mean to
libpcap (pcap-filter(7): "vlan ... changes the decoding offsets for the remainder of the
expression"). ``vlan and vlan`` is QinQ, ``mpls and mpls`` a label stack, ``pppoes and ip`` IP
inside a PPPoE session.

``geneve`` and ``vxlan`` headers sit behind an IPv4 header of run-time length (or IPv6), so the
inner offsets are only known at run time: they become ``cfg.Var``s assigned when the tunnel test
succeeds (libpcap keeps them in scratch registers the same way). Where the test fails libpcap
leaves its registers unset; we set them to the outer offsets, so ``geneve or udp port 53`` is a
valid program (the kernel refuses libpcap's) meaning "Geneve, or UDP port 53 outside".
"""

from __future__ import annotations

from .. import cfg, isa, linktypes, nodes
from ..cfg import FALSE, TRUE, Const, Pred, Value, all_of, any_of
from . import link, net
from .context import Context
from .link import eq, masked_eq

ETHERTYPE_PPPOED = 0x8863
ETHERTYPE_PPPOES = 0x8864
ETHERTYPE_MPLS = 0x8847
ETHERTYPE_TEB = 0x6558  # transparent Ethernet bridging: an Ethernet frame follows
PPP_MPLS_UCAST = 0x0281
VLAN_TPIDS = (link.ETHERTYPE_8021Q, link.ETHERTYPE_8021AD, link.ETHERTYPE_8021QINQ)
GENEVE_PORT = 6081
VXLAN_PORT = 4789
IPPROTO_UDP = 17


def lower_encapsulation(ctx: Context, node: nodes.Encapsulation) -> Pred:
    match node.kind:
        case "vlan":
            return vlan(ctx, node.value, node)
        case "mpls":
            return mpls(ctx, node.value, node)
        case "pppoed":
            return link.network_protocol(ctx, ETHERTYPE_PPPOED)
        case "pppoes":
            return pppoes(ctx, node.value, node)
        case "geneve" | "vxlan":
            return tunnel(ctx, node.kind, node.value, node)
        case "batadv":
            ctx.error("'batadv' is not supported by bpfc (nor by libpcap 1.10)", node)


def _check_max(ctx: Context, value: int | None, maximum: int, what: str, node: object) -> None:
    if value is not None and value > maximum:
        ctx.error(f"{what} {value} greater than maximum {maximum}", node)


def vlan(ctx: Context, vid: int | None, node: object = None) -> Pred:
    """``vlan [ID]``: an 802.1Q/802.1ad/QinQ tag, then everything moves 4 bytes on.

    Offline the tag is in the packet. On a live Linux socket the kernel usually strips the
    outermost tag into metadata (SKF_AD_VLAN_TAG_PRESENT); libpcap then tests the metadata
    first and moves the offsets only when the tag is in the packet, which is what we do too.
    """
    lay = ctx.layout
    if lay.mpls_depth > 0:
        ctx.error("no VLAN match after MPLS", node)
    if lay.dlt != linktypes.DLT_EN10MB:
        ctx.error(f"no VLAN support for {link.description(ctx)}", node)
    _check_max(ctx, vid, 0x0FFF, "VLAN tag", node)
    tpid = any_of(*(link.network_protocol(ctx, t) for t in VLAN_TPIDS))
    tci = cfg.load(ctx.network_offset(), 2)
    outermost = lay.vlan_depth == 0 and lay.linkhdr == Const(0)
    if ctx.live and outermost:
        return _vlan_live(ctx, vid, tpid, tci)
    pred = tpid if vid is None else all_of(tpid, masked_eq(tci, 0x0FFF, vid))
    assert lay.linktype is not None
    ctx.shift(linktype=cfg.add(lay.linktype, 4), linkpl=cfg.add(lay.linkpl, 4),
              vlan_depth=lay.vlan_depth + 1)
    return pred


def _vlan_live(ctx: Context, vid: int | None, tpid: Pred, tci: Value) -> Pred:
    """libpcap's gen_vlan_bpf_extensions: metadata first; the offsets shift by a run-time 0 or 4
    (assigned before the in-packet TPID test, so also on paths where it fails)."""
    lay = ctx.layout
    present = eq(cfg.Ancillary(isa.SKF_AD_VLAN_TAG_PRESENT, 1), 1)
    shift = ctx.builder.new_var()
    pred = any_of(all_of(present, cfg.Let(shift, Const(0), TRUE)),
                  cfg.Let(shift, Const(4), tpid))
    if vid is not None:
        tag = cfg.Alu("&", cfg.Ancillary(isa.SKF_AD_VLAN_TAG, 1), Const(0x0FFF))
        in_packet = cfg.Alu("&", tci, Const(0x0FFF))
        pred = all_of(pred, any_of(all_of(present, eq(tag, vid)),
                                   all_of(cfg.Not(present), eq(in_packet, vid))))
    assert lay.linktype is not None
    ctx.shift(linktype=cfg.Alu("+", shift, lay.linktype), linkpl=cfg.Alu("+", shift, lay.linkpl),
              vlan_depth=lay.vlan_depth + 1)
    return pred


def mpls(ctx: Context, label: int | None, node: object = None) -> Pred:
    """``mpls [LABEL]``: an MPLS label entry (the first one, or the next one down the stack)."""
    lay = ctx.layout
    nl = ctx.network_offset()
    if lay.mpls_depth > 0:
        # Inside a stack: the entry before this one must not have the bottom-of-stack bit.
        pred: Pred = masked_eq(cfg.load(cfg.add(nl, 0xFFFFFFFE), 1), 0x01, 0)
    elif lay.dlt in (linktypes.DLT_EN10MB, linktypes.DLT_C_HDLC):
        pred = link.network_protocol(ctx, ETHERTYPE_MPLS)
    elif lay.dlt == link.DLT_PPP:
        pred = link.network_protocol(ctx, PPP_MPLS_UCAST)
    else:
        ctx.error(f"no MPLS support for {link.description(ctx)}", node)
    _check_max(ctx, label, 0xFFFFF, "MPLS label", node)
    if label is not None:
        pred = all_of(pred, masked_eq(cfg.load(nl, 4), 0xFFFFF000, label << 12))
    ctx.shift(nl=lay.nl + 4, nl_nosnap=lay.nl_nosnap + 4, mpls_depth=lay.mpls_depth + 1)
    return pred


def pppoes(ctx: Context, session: int | None, node: object = None) -> Pred:
    """``pppoes [ID]``: a PPPoE session frame; what follows is PPP (protocol numbers too)."""
    pred = link.network_protocol(ctx, ETHERTYPE_PPPOES)
    _check_max(ctx, session, 0xFFFF, "PPPoE session number", node)
    if session is not None:
        pred = all_of(pred, masked_eq(cfg.load(ctx.network_offset(), 4), 0xFFFF, session))
    ppp = cfg.add(ctx.network_offset(), 6)  # after the 6-byte PPPoE header
    ctx.shift(dlt=link.DLT_PPP, linkhdr=ppp, linktype=ppp, linkpl=cfg.add(ppp, 2), nl=0,
              nl_nosnap=0, tunnel=None)
    return pred


#: Link types whose protocol field holds an EtherType (libpcap's gen_linktype default case).
_ETHERTYPE_LINKS = frozenset({linktypes.DLT_EN10MB, linktypes.DLT_LINUX_SLL,
                              linktypes.DLT_LINUX_SLL2})


def tunnel(ctx: Context, kind: str, vni: int | None, node: object = None) -> Pred:
    """``geneve [VNI]`` / ``vxlan [VNI]``: UDP to the tunnel's port over IPv4 or IPv6, with a
    version-0 Geneve header (or a VXLAN header with the I flag); what follows is the inner
    frame: Ethernet, or for Geneve possibly bare IP, decided by the Geneve protocol type.

    ``vxlan`` is libpcap 1.11's; 1.10 has only ``geneve``.
    """
    name = "Geneve" if kind == "geneve" else "VXLAN"
    _check_max(ctx, vni, 0xFFFFFF, f"{name} VNI", node)
    port = GENEVE_PORT if kind == "geneve" else VXLAN_PORT
    start = ctx.builder.new_var()  # offset of the tunnel header

    def header_check(udp: Value) -> Pred:
        header = cfg.add(udp, 8)
        if kind == "geneve":
            pred = masked_eq(cfg.load(header, 1), 0xC0, 0)  # version 0
        else:
            pred = eq(cfg.load(header, 1), 0x08)  # the I flag: a valid VNI
        if vni is not None:
            pred = all_of(pred, masked_eq(cfg.load(cfg.add(header, 4), 4), 0xFFFFFF00, vni << 8))
        return all_of(pred, cfg.Let(start, header, TRUE))

    before = ctx.layout
    nl = ctx.network_offset()
    udp4 = net.ipv4_transport_offset(ctx)
    over_ipv4 = all_of(link.network_protocol(ctx, link.ETHERTYPE_IP),
                       eq(cfg.load(cfg.add(nl, 9), 1), IPPROTO_UDP), net.ipv4_not_fragment(ctx),
                       eq(cfg.load(cfg.add(udp4, 2), 2), port), header_check(udp4))
    udp6 = cfg.add(nl, 40)
    over_ipv6 = all_of(link.network_protocol(ctx, link.ETHERTYPE_IPV6),
                       eq(cfg.load(cfg.add(nl, 6), 1), IPPROTO_UDP),
                       eq(cfg.load(cfg.add(udp6, 2), 2), port), header_check(udp6))
    b = ctx.builder
    end, linktype, payload = b.new_var(), b.new_var(), b.new_var()
    if kind == "geneve":
        inner = _geneve_inner(start, end, linktype, payload)
    else:
        inner = cfg.Let(end, cfg.add(start, 8), cfg.Let(linktype, cfg.add(start, 20),
                                                       cfg.Let(payload, cfg.add(start, 22), TRUE)))
    # Where the tunnel test fails, the inner offsets are the outer ones, so that a primitive
    # after "geneve or" reads the outer packet instead of unset scratch memory (libpcap leaves
    # its registers unset there: its bpf_filter reads garbage and the kernel refuses the program).
    unchanged = cfg.Let(end, before.linkhdr, cfg.Let(
        linktype, before.linktype or Const(0), cfg.Let(payload, nl, FALSE)))
    # A path that never evaluates this primitive (``(tcp and geneve) or esp`` where tcp fails)
    # must still find the outer offsets in these variables: they start out with them.
    ctx.initial += [(end, before.linkhdr), (linktype, before.linktype or Const(0)), (payload, nl)]
    if before.dlt in _ETHERTYPE_LINKS and before.mpls_depth == 0 and before.outside is None:
        # The outer link's protocol field is an EtherType: pointing the inner offsets at it
        # makes every later primitive read the outer packet where the tunnel test failed.
        ctx.shift(dlt=linktypes.DLT_EN10MB, linkhdr=end, linktype=linktype, linkpl=payload,
                  nl=0, tunnel=kind)
        return any_of(all_of(any_of(over_ipv4, over_ipv6), inner), unchanged)
    # Otherwise (RAW, NULL, PPP after pppoes ...) later protocol tests must know which side of
    # the tunnel test they are on: a variable says so (see Layout.inside).
    inside = b.new_var()
    ctx.initial.append((inside, Const(0)))
    ctx.shift(dlt=linktypes.DLT_EN10MB, linkhdr=end, linktype=linktype, linkpl=payload, nl=0,
              tunnel=kind, outside=before, inside=inside)
    return any_of(all_of(any_of(over_ipv4, over_ipv6), cfg.Let(inside, Const(1), inner)),
                  cfg.Let(inside, Const(0), unchanged))


def _geneve_inner(start: cfg.Var, end: cfg.Var, linktype: cfg.Var, payload: cfg.Var) -> Pred:
    """Where the Geneve payload is: after 8 bytes plus the options (6 bits, in words); an
    Ethernet header follows if the protocol type is Transparent Ethernet Bridging, else the
    payload is the network layer and the protocol type is its EtherType."""
    options = cfg.Alu("*", cfg.Alu("&", cfg.load(start, 1), Const(0x3F)), Const(4))
    ethernet = all_of(eq(cfg.load(cfg.add(start, 2), 2), ETHERTYPE_TEB),
                      cfg.Let(linktype, cfg.add(end, 12), cfg.Let(payload, cfg.add(end, 14), TRUE)))
    bare = cfg.Let(linktype, cfg.add(start, 2), cfg.Let(payload, end, TRUE))
    return cfg.Let(end, cfg.add(cfg.Alu("+", options, start), 8), any_of(ethernet, bare))
