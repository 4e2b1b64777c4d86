"""Lowering state: the link type being compiled for, and where each header is *now*.

Stage: shared by every ``lower`` module. libpcap keeps this state in ``compiler_state_t``
(``off_linktype``, ``off_linkpl``, ``off_nl``, ``label_stack_depth``, ``is_geneve`` ...) and
mutates it while the parser reduces primitives, so ``vlan``, ``mpls``, ``pppoes``, ``geneve`` and
``vxlan`` move the headers of every primitive *parsed after them*, whatever connective joins
them. We keep the same model on purpose, because filters must mean what they mean to tcpdump:
the dispatcher walks the AST in source order and the encapsulation lowerings replace
``Context.layout`` with a shifted copy.

Offsets are ``cfg.Value``s, so an offset only known at run time (after ``geneve``, whose header
length is in the packet) is just a non-constant value; lowering never thinks about registers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from typing import Literal, NoReturn

from .. import cfg, linktypes
from ..errors import FilterSemanticError
from ..linktypes import LinkType

ByteOrder = Literal["little", "big"]
ZERO: cfg.Value = cfg.Const(0)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the link layer says things are, as libpcap's offset registers.

    ``dlt`` is the link type whose rules ``network_protocol`` applies: the capture's own, until
    ``pppoes`` switches to PPP's protocol numbers or ``geneve``/``vxlan`` to an inner Ethernet.
    ``linktype`` is the offset of the field naming the next protocol (the EtherType at 12 on
    Ethernet), ``None`` where the link type has none (RAW, IPV4, IPV6). ``linkpl`` is the start
    of the link-layer payload; the network header starts ``nl`` bytes later (``nl_nosnap`` for
    802.2 LLC without SNAP, which libpcap's ISO/STP/NetBEUI primitives assume).
    """

    dlt: int
    linktype: cfg.Value | None
    linkpl: cfg.Value
    nl: int = 0
    nl_nosnap: int = 0
    #: Start of the current link-layer header (libpcap's off_linkhdr): 0, except after
    #: ``pppoes`` (the PPP header) and inside tunnels (the inner frame).
    linkhdr: cfg.Value = ZERO
    #: MPLS labels seen so far (libpcap's label_stack_depth): after ``mpls`` the next protocol
    #: is guessed from the version nibble, not from a type field.
    mpls_depth: int = 0
    #: Number of ``vlan`` tags already skipped (QinQ).
    vlan_depth: int = 0
    #: ``geneve``/``vxlan`` (libpcap's is_geneve / is_vxlan): the inner header has an EtherType
    #: whatever the outer link type.
    tunnel: Literal["geneve", "vxlan"] | None = None
    #: ``pppoes`` seen (``pppoes`` twice is meaningful; libpcap tracks no such state but we name
    #: the reason for PPP's rules in error messages).
    pppoes: bool = False
    #: After ``geneve``/``vxlan`` on a link layer without an EtherType field (RAW, NULL, PPP ...):
    #: the layout that still applies to packets that are not tunnelled, and the variable that is
    #: 1 on the paths where the tunnel test matched and 0 where it did not. ``network_protocol``
    #: uses the outer rules where it is 0, so ``geneve or ip`` means what it says.
    outside: Layout | None = None
    inside: cfg.Var | None = None


#: Initial layouts of the link types this compiler lowers (gencode.c's init_linktype()).
_LAYOUTS: dict[int, Layout] = {
    linktypes.DLT_EN10MB: Layout(linktypes.DLT_EN10MB, cfg.Const(12), cfg.Const(14), 0, 3),
    linktypes.DLT_LINUX_SLL: Layout(linktypes.DLT_LINUX_SLL, cfg.Const(14), cfg.Const(16)),
    linktypes.DLT_LINUX_SLL2: Layout(linktypes.DLT_LINUX_SLL2, cfg.Const(0), cfg.Const(20)),
    linktypes.DLT_RAW: Layout(linktypes.DLT_RAW, None, cfg.Const(0)),
    linktypes.DLT_IPV4: Layout(linktypes.DLT_IPV4, None, cfg.Const(0)),
    linktypes.DLT_IPV6: Layout(linktypes.DLT_IPV6, None, cfg.Const(0)),
    linktypes.DLT_NULL: Layout(linktypes.DLT_NULL, cfg.Const(0), cfg.Const(4)),
    linktypes.DLT_LOOP: Layout(linktypes.DLT_LOOP, cfg.Const(0), cfg.Const(4)),
    # HDLC-like framing: address and control bytes, then a 2-byte protocol field.
    linktypes.DLT_PPP: Layout(linktypes.DLT_PPP, cfg.Const(2), cfg.Const(4)),
    linktypes.DLT_PPP_SERIAL: Layout(linktypes.DLT_PPP_SERIAL, cfg.Const(2), cfg.Const(4)),
    linktypes.DLT_C_HDLC: Layout(linktypes.DLT_C_HDLC, cfg.Const(2), cfg.Const(4)),
    # SLIP: a 16-byte pseudo-header (direction, then compression state), no type field.
    linktypes.DLT_SLIP: Layout(linktypes.DLT_SLIP, None, cfg.Const(16)),
    # Frame Relay: libpcap tests the Q.922 header's NLPID and, for everything after it, takes
    # the network header to start at 0 (its "XXX": the offsets assume nothing before IP).
    linktypes.DLT_FRELAY: Layout(linktypes.DLT_FRELAY, None, cfg.Const(0)),
}


def initial_layout(link: LinkType) -> Layout | None:
    """The layout for ``link`` before any encapsulation primitive, or None if unsupported."""
    return _LAYOUTS.get(link.dlt)


@dataclass(slots=True)
class Context:
    """Everything a lowering function needs besides the node it lowers.

    ``byte_order`` is the byte order of the capture the filter will run on: it matters only
    for DLT_NULL, whose 4-byte address family is stored in the *capturing* host's order.
    libpcap compiles for the savefile's order when it has one (``tcpdump -r``) and for the
    compiling host's order otherwise (``pcap_open_dead``, ``pcapy.compile``); we default to
    the host's order as well and let the caller say otherwise.

    ``source`` is the expression text, for carets in error messages.
    """

    link: LinkType
    builder: cfg.Builder = field(default_factory=cfg.Builder)
    snaplen: int = 262144
    netmask: int | None = None
    live: bool = False
    byte_order: ByteOrder = "little" if sys.byteorder == "little" else "big"
    source: str = ""
    #: Variables to assign at the very start of the filter, in order: the values they have on
    #: paths that never reach the primitive that sets them (see ``lower``).
    initial: list[tuple[cfg.Var, cfg.Value]] = field(default_factory=list)
    layout: Layout = field(init=False)

    def __post_init__(self) -> None:
        layout = initial_layout(self.link)
        if layout is None:
            raise FilterSemanticError(
                f"bpfc cannot compile filters for link type {self.link.name} yet", self.source)
        self.layout = layout

    # -- where things are --------------------------------------------------------------------

    def network_offset(self, nosnap: bool = False) -> cfg.Value:
        """Start of the network-layer header now (libpcap's OR_LINKPL / OR_LINKPL_NOSNAP)."""
        lay = self.layout
        return cfg.add(lay.linkpl, lay.nl_nosnap if nosnap else lay.nl)

    def link_payload(self) -> cfg.Value:
        """Start of the link-layer payload (libpcap's off_linkpl)."""
        return self.layout.linkpl

    def shift(self, **changes: object) -> None:
        """Replace fields of the layout: what encapsulation primitives do, for what follows."""
        self.layout = replace(self.layout, **changes)  # type: ignore[arg-type]

    def inet6_families(self) -> tuple[int, ...]:
        """The AF_INET6 values DLT_NULL/DLT_LOOP headers may carry for IPv6.

        Every BSD picked its own AF_INET6, so for capture files libpcap accepts all three BSD
        values (24, 28, 30); on a live capture only the capturing host's value can occur (10 on
        Linux). ``pcap_open_dead`` handles (``pcapy.compile``) also get the host's value; bpfc
        compiles offline filters for capture files, so it follows the savefile rule.
        """
        if self.live:
            return (10,)
        return (24, 28, 30)

    @property
    def dlt(self) -> int:
        """The link type whose protocol rules apply now (see ``Layout.dlt``)."""
        return self.layout.dlt

    # -- errors ------------------------------------------------------------------------------

    def error(self, message: str, node: object = None) -> NoReturn:
        """Raise ``FilterSemanticError`` pointing at ``node``'s source text (if it has a span)."""
        span = getattr(node, "span", None)
        if span is not None and span != (0, 0) and self.source:
            start, end = span
            raise FilterSemanticError(message, self.source, start, end - start)
        raise FilterSemanticError(message, self.source)
