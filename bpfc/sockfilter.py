"""Filters on real sockets: what offset 0 is on each kind of socket, and the program that makes
an expression mean the same thing there.

Stage: expression or ``Program`` → the instructions ``SO_ATTACH_FILTER`` installs on one socket.
Public entry points: ``attach``, ``detach``, ``lock`` (exported as ``bpfc.attach`` etc.).

The kernel runs a socket filter on its own view of each packet, and the view depends on the
socket. An expression is compiled so that it means what it means in a capture file:

=======================  ======================================================================
socket                   offset 0, and how an expression is compiled for it
=======================  ======================================================================
AF_PACKET SOCK_RAW       the link-layer header of the device. Compiled for the bound device's
                         link type (Ethernet when unbound) with ``live=True``: the kernel has
                         already moved the outer VLAN tag and the packet direction into
                         metadata, so ``vlan``/``inbound`` use ancillary loads, as libpcap does.
AF_PACKET SOCK_DGRAM     the network-layer header; the link header is gone. Compiled for
                         LINUX_SLL2 (or LINUX_SLL) and rewritten as libpcap's ``fix_program``
                         does for cooked sockets: reads of the cooked header's protocol, packet
                         type, interface index and hardware type become ancillary loads, every
                         other offset moves back by the header length, and ``len`` gains it.
                         Refused (``AttachError``) when the filter reads other header bytes.
AF_INET/AF_INET6         the transport header (UDP or TCP: the kernel filters after the IP layer
SOCK_DGRAM/SOCK_STREAM   has consumed its header). Compiled for RAW (IPv4 or IPv6 by the version
                         nibble) and every packet offset moved to ``SKF_NET_OFF``, the kernel's
                         window onto the network header, so ``src host 10.0.0.1 and udp port
                         53`` works on a UDP socket. ``len`` is refused there (the kernel's
                         ``len`` counts from the transport header). A TCP filter sees segments,
                         not the byte stream; a dropped segment is retransmitted by the peer.
AF_INET SOCK_RAW         the IPv4 header: compiled for RAW, unchanged.
AF_INET6 SOCK_RAW        the transport header: as for UDP.
AF_UNIX and the rest     the first byte of the message, exactly as the peer sent it: compiled
                         for ``linktype`` (default EN10MB), unchanged, ``live=False``.
=======================  ======================================================================

A ``Program`` (or a list of instructions) is attached exactly as given: its offsets are taken to
be the socket's own.

On every socket the filter's return value is a length: 0 drops the packet, anything else keeps
``min(value, len)`` bytes; compiled filters return the snapshot length (262144 by default), so
nothing is cut.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import isa, kernel, linktypes
from .errors import AttachError
from .isa import Insn
from .linktypes import LinkType
from .program import Program

ETH_P_ALL = 0x0003
SLL_HDR_LEN = 16
SLL2_HDR_LEN = 20

#: Absolute loads at or above this offset are the kernel's special areas (SKF_LL_OFF,
#: SKF_NET_OFF, SKF_AD_OFF) and are never relocated.
_SPECIAL = isa.SKF_LL_OFF
#: A network-relative offset must stay below the ancillary area: SKF_NET_OFF + k < SKF_AD_OFF.
_NET_WINDOW = isa.SKF_AD_OFF - isa.SKF_NET_OFF

_LD_LEN = isa.BPF_LD | isa.BPF_W | isa.BPF_LEN
_LDX_LEN = isa.BPF_LDX | isa.BPF_W | isa.BPF_LEN
_LDX_MSH = isa.BPF_LDX | isa.BPF_B | isa.BPF_MSH
_MEM_OPS = frozenset({isa.BPF_ST, isa.BPF_STX, isa.BPF_LD | isa.BPF_MEM,
                      isa.BPF_LDX | isa.BPF_W | isa.BPF_MEM})

# -- link types of Linux devices -----------------------------------------------------------------

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 0xFFFE
ARPHRD_TUNNEL = 768
ARPHRD_SIT = 776

#: libpcap's map_arphrd_to_dlt for the device types whose frames bpfc can filter as they are;
#: every other type is captured in cooked mode (LINUX_SLL2), as libpcap does for unknown types.
ARPHRD_TO_DLT: dict[int, int] = {
    ARPHRD_ETHER: linktypes.DLT_EN10MB,
    ARPHRD_LOOPBACK: linktypes.DLT_EN10MB,
    ARPHRD_NONE: linktypes.DLT_RAW,
    ARPHRD_TUNNEL: linktypes.DLT_RAW,
    ARPHRD_SIT: linktypes.DLT_RAW,
}

COOKED = frozenset({linktypes.DLT_LINUX_SLL, linktypes.DLT_LINUX_SLL2})


def cooked_header_len(dlt: int) -> int:
    return SLL2_HDR_LEN if dlt == linktypes.DLT_LINUX_SLL2 else SLL_HDR_LEN


# -- rewriting programs ----------------------------------------------------------------------------

_Expand = Callable[[Insn], Sequence[Insn] | None]


def _rewrite(insns: Sequence[Insn], expand: _Expand) -> tuple[Insn, ...] | None:
    """Replace each non-jump instruction by ``expand(insn)`` (one or more instructions) and
    re-aim every jump at the new start of its old target. None when ``expand`` gives up on an
    instruction or a conditional jump no longer fits its 8-bit offset."""
    pieces: list[Sequence[Insn]] = []
    for insn in insns:
        if isa.BPF_CLASS(insn.code) == isa.BPF_JMP:
            pieces.append((insn,))
            continue
        piece = expand(insn)
        if piece is None:
            return None
        pieces.append(piece)
    starts: list[int] = []
    position = 0
    for piece in pieces:
        starts.append(position)
        position += len(piece)
    starts.append(position)
    out: list[Insn] = []
    for pc, (insn, piece) in enumerate(zip(insns, pieces, strict=True)):
        if isa.BPF_CLASS(insn.code) != isa.BPF_JMP:
            out.extend(piece)
            continue
        after = starts[pc] + 1
        if insn.code == isa.BPF_JMP | isa.BPF_JA:
            out.append(insn._replace(k=starts[pc + 1 + insn.k] - after))
            continue
        jt = starts[pc + 1 + insn.jt] - after
        jf = starts[pc + 1 + insn.jf] - after
        if jt > 0xFF or jf > 0xFF:
            return None
        out.append(insn._replace(jt=jt, jf=jf))
    return tuple(out)


def _free_slot(insns: Sequence[Insn]) -> int | None:
    used = {i.k for i in insns if i.code in _MEM_OPS}
    free = [slot for slot in range(isa.BPF_MEMWORDS) if slot not in used]
    return free[-1] if free else None


def _length_plus(extra: int, insns: Sequence[Insn]) -> dict[int, Sequence[Insn] | None]:
    """Replacements for ``ld len``/``ldx len`` that add ``extra`` bytes the kernel's view lacks.
    ``ldx len`` goes through A, saved in a scratch slot the program does not use."""
    load = Insn(isa.BPF_LD | isa.BPF_W | isa.BPF_LEN)
    add = Insn(isa.BPF_ALU | isa.BPF_ADD | isa.BPF_K, 0, 0, extra)
    slot = _free_slot(insns)
    ldx: Sequence[Insn] | None = None
    if slot is not None:
        ldx = (Insn(isa.BPF_ST, 0, 0, slot), load, add, Insn(isa.BPF_MISC | isa.BPF_TAX),
               Insn(isa.BPF_LD | isa.BPF_MEM, 0, 0, slot))
    return {_LD_LEN: (load, add), _LDX_LEN: ldx}


#: (offset, size) of the cooked header fields the kernel has as ancillary data.
_COOKED_FIELDS: dict[int, dict[tuple[int, int], int]] = {
    linktypes.DLT_LINUX_SLL: {
        (0, isa.BPF_H): isa.SKF_AD_PKTTYPE,
        (2, isa.BPF_H): isa.SKF_AD_HATYPE,
        (14, isa.BPF_H): isa.SKF_AD_PROTOCOL,
    },
    linktypes.DLT_LINUX_SLL2: {
        (0, isa.BPF_H): isa.SKF_AD_PROTOCOL,
        (4, isa.BPF_W): isa.SKF_AD_IFINDEX,
        (8, isa.BPF_H): isa.SKF_AD_HATYPE,
        (10, isa.BPF_B): isa.SKF_AD_PKTTYPE,
    },
}


def cooked_program(insns: Sequence[Insn], dlt: int) -> tuple[Insn, ...] | None:
    """A program compiled for LINUX_SLL/LINUX_SLL2, rewritten for a SOCK_DGRAM packet socket,
    where the kernel filters the packet without the cooked header; None when it cannot be
    (the caller then filters in user space, as libpcap does).

    libpcap's fix_program/fix_offset, made stricter and a little wider: a header field becomes
    an ancillary load only when the load has the field's own width (libpcap maps any load at
    the field's offset, so ``ldb [0]`` would read the whole protocol), the hardware type maps
    to SKF_AD_HATYPE too, and ``len`` gets the header length added (libpcap leaves it short).
    Relative loads (``[x + k]``, ``4*([k]&0xf)``) move back by the header length and must
    have ``k`` past the header: bpfc's emitter keeps the constant part of an offset in ``k``
    (``cfg.split_offset``) and the link header length is such a constant, so ``x`` never holds
    it; a ``k`` inside the header means an offset this rewrite cannot prove, so it gives up.
    """
    header = cooked_header_len(dlt)
    fields = _COOKED_FIELDS[dlt]
    lengths = _length_plus(header, insns)

    def expand(insn: Insn) -> Sequence[Insn] | None:
        code, k = insn.code, insn.k
        if code in lengths:
            return lengths[code]
        mode = isa.BPF_MODE(code)
        relative = code == _LDX_MSH or (isa.BPF_CLASS(code) == isa.BPF_LD and mode == isa.BPF_IND)
        if relative:
            return (insn._replace(k=k - header),) if header <= k < _SPECIAL else None
        if isa.BPF_CLASS(code) != isa.BPF_LD or mode != isa.BPF_ABS or k >= _SPECIAL:
            return (insn,)
        if k >= header:
            return (insn._replace(k=k - header),)
        which = fields.get((k, isa.BPF_SIZE(code)))
        return None if which is None else (insn._replace(k=isa.SKF_AD_OFF + which),)

    return _rewrite(insns, expand)


def network_relative(insns: Sequence[Insn]) -> tuple[Insn, ...]:
    """A program whose offset 0 is the IP header, for a socket whose offset 0 is the transport
    header: every packet offset moves into the kernel's SKF_NET_OFF window.

    An absolute load past the window's 1 MiB can never succeed on a real packet, so it becomes
    what a failed load does, ``ret #0``. A relative load's ``x + k`` is moved by moving ``k``;
    the kernel adds them as 32-bit signed numbers, so the result stays in the window for every
    ``x + k`` below 1 MiB, which is every offset that can be in a packet.
    """

    def expand(insn: Insn) -> Sequence[Insn] | None:
        code, k = insn.code, insn.k
        if code in (_LD_LEN, _LDX_LEN):
            raise AttachError("'len' is not available on this socket: the kernel counts it from "
                              "the transport header, not from the IP header the filter sees")
        mode = isa.BPF_MODE(code)
        if isa.BPF_CLASS(code) == isa.BPF_LD and mode == isa.BPF_IND:
            if k >= _NET_WINDOW:
                return None
            return (insn._replace(k=(isa.SKF_NET_OFF + k) & 0xFFFFFFFF),)
        is_abs = isa.BPF_CLASS(code) == isa.BPF_LD and mode == isa.BPF_ABS
        if (is_abs or code == _LDX_MSH) and k < _SPECIAL:
            if k >= _NET_WINDOW:
                return (Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 0),)
            return (insn._replace(k=isa.SKF_NET_OFF + k),)
        return (insn,)

    out = _rewrite(insns, expand)
    if out is None:
        raise AttachError("the filter cannot be moved to the network header: a relative load "
                          "reaches past the kernel's 1 MiB SKF_NET_OFF window")
    return out


# -- what a socket sees ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SocketView:
    """How a socket's filter sees packets: the link type an expression is compiled for, whether
    it is compiled as for a live capture, and the rewrite that moves it to the socket's offset 0
    (``"none"``, ``"cooked"`` or ``"network"``)."""

    linktype: LinkType
    live: bool
    rewrite: str
    describe: str


def socket_view(sock: socket.socket, linktype: str | int | LinkType | None = None) -> SocketView:
    """What offset 0 is on ``sock`` (see the module docstring's table)."""
    family, kind = sock.family, sock.type
    if family == socket.AF_PACKET:
        if kind == socket.SOCK_DGRAM:
            link = linktypes.lookup(linktype if linktype is not None else "LINUX_SLL2")
            if link.dlt in COOKED:
                return SocketView(link, True, "cooked", "network header (cooked packet socket)")
            return SocketView(link, True, "none", "network header (cooked packet socket)")
        if linktype is None:
            bound, _, _, hatype, _ = sock.getsockname()
            dlt = ARPHRD_TO_DLT.get(hatype if bound else ARPHRD_ETHER)
            if dlt is None:
                raise AttachError(f"bpfc cannot compile for the device's hardware type {hatype}; "
                                  "give linktype= or use a SOCK_DGRAM packet socket")
            linktype = dlt
        return SocketView(linktypes.lookup(linktype), True, "none", "link-layer header")
    if family in (socket.AF_INET, socket.AF_INET6):
        link = linktypes.lookup(linktype if linktype is not None else "RAW")
        if family == socket.AF_INET and kind == socket.SOCK_RAW:
            return SocketView(link, False, "none", "IPv4 header (raw IP socket)")
        return SocketView(link, False, "network", "transport header (IP socket)")
    link = linktypes.lookup(linktype if linktype is not None else "EN10MB")
    return SocketView(link, False, "none", "first byte of the message")


def program_for(sock: socket.socket, expression: str, linktype: str | int | LinkType | None = None,
                *, snaplen: int = 262144, optimize: bool = True,
                netmask: int | str | None = None) -> Program:
    """``expression`` compiled and rewritten for ``sock``'s view (raises ``AttachError`` when
    the rewrite is impossible, ``FilterSyntaxError``/``FilterSemanticError`` for bad filters)."""
    from .compiler import compile as compile_filter

    view = socket_view(sock, linktype)
    program = compile_filter(expression, view.linktype, snaplen, optimize, netmask, live=view.live)
    if view.rewrite == "cooked":
        moved = cooked_program(program.insns, view.linktype.dlt)
        if moved is None:
            raise AttachError(f"'{expression}' reads {view.linktype.name} header bytes the "
                              "kernel does not have on a cooked socket (only the protocol, "
                              "packet type, interface index and hardware type)")
        return Program(moved, view.linktype, snaplen, expression)
    if view.rewrite == "network":
        return Program(network_relative(program.insns), view.linktype, snaplen, expression)
    return program


# -- attach, detach, lock ---------------------------------------------------------------------

_REJECT_ALL = (Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 0),)


def attach(sock: socket.socket, filter: str | Program | Sequence[Insn],
           linktype: str | int | LinkType | None = None, *, snaplen: int = 262144,
           optimize: bool = True, netmask: int | str | None = None,
           drain: bool | None = None) -> Program:
    """Attach a filter to ``sock`` and return the program the kernel got.

    An expression is compiled for what the socket sees (module docstring); a ``Program`` or a
    sequence of instructions is attached as given. ``drain`` (default: on for packet sockets)
    first attaches a reject-all filter and discards whatever the socket has already queued,
    as libpcap does, so that nothing received under an earlier filter, or none, is read after
    this returns. Packets in a socket's memory-mapped ring are not reached by draining.
    """
    if isinstance(filter, str):
        program = program_for(sock, filter, linktype, snaplen=snaplen, optimize=optimize,
                              netmask=netmask)
    elif isinstance(filter, Program):
        program = filter
    else:
        program = Program(filter)
    if drain if drain is not None else sock.family == socket.AF_PACKET:
        kernel.attach_filter(sock, _REJECT_ALL)
        _drain(sock)
    kernel.attach_filter(sock, program.insns)
    return program


def _drain(sock: socket.socket) -> None:
    while True:
        try:
            sock.recv(1 << 16, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            # A UDP socket reports an ICMP error once; anything else ends draining.
            if exc.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                return


def detach(sock: socket.socket) -> bool:
    """Remove the socket's filter; False when it had none (raises ``AttachError`` when the
    filter is locked)."""
    try:
        kernel.detach_filter(sock)
    except AttachError as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno == errno.ENOENT:
            return False
        raise
    return True


def lock(sock: socket.socket) -> None:
    """``SO_LOCK_FILTER``: from now on the socket's filter can be neither replaced nor removed
    (EPERM), for the life of the socket, even by root."""
    kernel.lock_filter(sock)


__all__ = ["SocketView", "attach", "cooked_program", "detach", "lock", "network_relative",
           "program_for", "socket_view"]
