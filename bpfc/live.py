"""Live capture on Linux: an AF_PACKET socket, a TPACKET_V3 ring, and our program in the kernel.

Stage: device + expression → packets (``pcapfile.Packet``), and ``bpfc -i`` / ``bpfc -D``.

The order of operations is what makes the filter airtight. The socket is created with protocol
0, which the kernel delivers nothing to (``packet_create`` registers no hook); the filter is
attached, the ring mapped and promiscuous mode requested while it is deaf; only then does
``bind`` with ETH_P_ALL start delivery. So no packet, not even one in flight while we set up,
is ever delivered without the filter's verdict, and there is nothing to drain (libpcap binds
first, attaches later, and drains what slipped through).

What the kernel hands over differs from a capture file in three ways, each undone here:

- the outer 802.1Q/802.1ad tag has been moved into metadata (``tp_vlan_tci``/``tp_vlan_tpid``,
  with TP_STATUS_VLAN_VALID); it is put back into the packet, as libpcap does, so files hold
  the frame that was on the wire (the filter, compiled ``live=True``, already allowed for it);
- on a cooked socket (``-i any``, and devices bpfc cannot filter raw) there is no link header;
  a LINUX_SLL2 (or LINUX_SLL) header is built from the ring's ``sockaddr_ll``, and the filter
  is rewritten for the headerless view (``attach.cooked_program``) or, when it cannot be, run
  here on the rebuilt packet, as libpcap does;
- the direction (``-Q``) and the loopback device's second, outgoing copy of each packet are
  decided by a short guard in front of the program (SKF_AD_PKTTYPE), so ``received by filter``
  counts what the user asked for; ``-Q in`` uses PACKET_IGNORE_OUTGOING when the kernel has it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import gc
import mmap
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal, Self, cast

from . import isa, kernel, linktypes, sockfilter
from .errors import AttachError, BpfcError
from .isa import Insn
from .linktypes import LinkType
from .pcapfile import Packet
from .program import Program

Direction = Literal["in", "out", "inout"]

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
PACKET_IGNORE_OUTGOING = 23
TPACKET_V3 = 2
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
PACKET_OUTGOING = 4
ETH_P_8021Q = 0x8100
ETH_P_ALL = sockfilter.ETH_P_ALL
SIOCGIFFLAGS = 0x8913
SIOCGIFHWADDR = 0x8927
SIOCGIFINDEX = 0x8933
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40

TPACKET_ALIGNMENT = 16
#: struct tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1's block_status,
#: num_pkts, offset_to_first_pkt, blk_len, seq_num.
BLOCK_DESC = struct.Struct("<IIIIIIQ")
BLOCK_STATUS_OFFSET = 8
#: struct tpacket3_hdr up to hv1: tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len,
#: tp_status, tp_mac, tp_net, tp_rxhash, tp_vlan_tci, tp_vlan_tpid, tp_padding.
TPACKET3_HDR = struct.Struct("<IIIIIIHHIIHH")
#: struct sockaddr_ll, which follows the tpacket3_hdr at TPACKET_ALIGN(sizeof hdr) = 48; the
#: protocol stays in network order (``2s``) because the cooked headers carry it that way.
SOCKADDR_LL = struct.Struct("<H2siHBB8s")
SOCKADDR_LL_OFFSET = 48
TPACKET_REQ3 = struct.Struct("IIIIIII")
TPACKET_STATS_V3 = struct.Struct("III")
SLL_HDR = struct.Struct(">HHH8s2s")
SLL2_HDR = struct.Struct(">2sHIHBB8s")

DEFAULT_BUFFER = 2 * 1024 * 1024  # libpcap's default ring size
NANOSECONDS = 1_000_000_000

_libc = ctypes.CDLL(None, use_errno=True)


class _SockaddrLL(ctypes.Structure):
    _fields_ = [("sll_family", ctypes.c_ushort), ("sll_protocol", ctypes.c_ushort),
                ("sll_ifindex", ctypes.c_int), ("sll_hatype", ctypes.c_ushort),
                ("sll_pkttype", ctypes.c_ubyte), ("sll_halen", ctypes.c_ubyte),
                ("sll_addr", ctypes.c_ubyte * 8)]


# -- devices -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Device:
    """A network device as the capture socket sees it (in the socket's network namespace)."""

    name: str
    index: int
    hatype: int


def _ifreq_ioctl(sock: socket.socket, request: int, name: str) -> bytes:
    try:
        return fcntl.ioctl(sock, request, struct.pack("16s24x", name.encode()))
    except OSError as exc:
        if exc.errno == errno.ENODEV:
            raise BpfcError(f"no such device '{name}' (bpfc -D lists the devices)") from None
        raise AttachError(f"{name}: {os.strerror(exc.errno or 0).lower()}") from exc


def device(sock: socket.socket, name: str) -> Device:
    """Index and hardware type of ``name`` (SIOCGIFINDEX, SIOCGIFHWADDR on ``sock``)."""
    if len(name.encode()) >= 16:
        raise BpfcError(f"no such device '{name}' (device names have at most 15 characters)")
    index = struct.unpack_from("i", _ifreq_ioctl(sock, SIOCGIFINDEX, name), 16)[0]
    hatype = struct.unpack_from("H", _ifreq_ioctl(sock, SIOCGIFHWADDR, name), 16)[0]
    return Device(name, index, hatype)


@dataclass(frozen=True, slots=True)
class DeviceListing:
    """One line of ``bpfc -D``."""

    name: str
    description: str
    flags: tuple[str, ...]
    rank: tuple[int, ...]

    def line(self, number: int) -> str:
        described = f" ({self.description})" if self.description else ""
        return f"{number}.{self.name}{described} [{', '.join(self.flags) or 'none'}]"


def _sysfs(name: str, attribute: str) -> str:
    try:
        return (Path("/sys/class/net") / name / attribute).read_text().strip()
    except OSError:
        return ""


def _flags(sock: socket.socket, name: str) -> int:
    """SIOCGIFFLAGS: the flags with IFF_RUNNING, which sysfs's ``flags`` file leaves out."""
    try:
        return int(struct.unpack_from("H", fcntl.ioctl(sock, SIOCGIFFLAGS,
                                                        struct.pack("16s24x", name.encode())),
                                      16)[0])
    except OSError:
        return 0


def list_devices() -> list[DeviceListing]:
    """The devices ``-i`` accepts, in tcpdump's order: running devices, then ``any``, then the
    loopback device, then devices that are down."""
    rows = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for index, name in socket.if_nameindex():
            flags = _flags(probe, name)
            up, running, loop = flags & IFF_UP, flags & IFF_RUNNING, flags & IFF_LOOPBACK
            words = [w for w, on in (("Up", up), ("Running", running), ("Loopback", loop)) if on]
            if up and not loop:
                words.append("Connected" if _sysfs(name, "carrier") == "1" else "Disconnected")
            rank = (0 if running else 2, 1 if loop else 0, index)
            rows.append(DeviceListing(name, "", tuple(words), rank))
    rows.append(DeviceListing("any", "Pseudo-device that captures on all interfaces",
                              ("Up", "Running"), (0, 0, 1 << 30)))
    return sorted(rows, key=lambda row: row.rank)


# -- the kernel program --------------------------------------------------------------------------

def _ld_ancillary(which: int) -> Insn:
    return Insn(isa.BPF_LD | isa.BPF_W | isa.BPF_ABS, 0, 0, isa.SKF_AD_OFF + which)


def direction_guard(drop_outgoing: bool, drop_incoming: bool,
                    drop_outgoing_on: int | None) -> tuple[Insn, ...]:
    """Instructions to put in front of a program: reject outgoing packets, incoming ones, or
    outgoing ones on one interface (the loopback device's duplicates under ``-i any``), then
    clear A so the program starts as the kernel starts it."""
    reject = Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 0)
    jeq = isa.BPF_JMP | isa.BPF_JEQ | isa.BPF_K
    kind = _ld_ancillary(isa.SKF_AD_PKTTYPE)
    on_device: tuple[Insn, ...] = ()
    if drop_outgoing_on is not None:
        on_device = (_ld_ancillary(isa.SKF_AD_IFINDEX), Insn(jeq, 0, 1, drop_outgoing_on), reject)
    if drop_outgoing:
        guard: tuple[Insn, ...] = (kind, Insn(jeq, 0, 1, PACKET_OUTGOING), reject)
    elif drop_incoming:
        guard = (kind, Insn(jeq, 1, 0, PACKET_OUTGOING), reject, *on_device)
    elif on_device:
        guard = (kind, Insn(jeq, 0, len(on_device), PACKET_OUTGOING), *on_device)
    else:
        return ()
    return (*guard, Insn(isa.BPF_LD | isa.BPF_IMM, 0, 0, 0))


# -- the ring ----------------------------------------------------------------------------------

def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


@dataclass(frozen=True, slots=True)
class RingLayout:
    """TPACKET_V3 geometry: blocks hold many variable-sized frames; a block goes to user space
    when full or after ``retire_ms``. A block must hold the largest packet (64 KiB GSO ones
    included), so blocks are at least that big; ``frame_size`` only satisfies the kernel's
    TPACKET_V2-era arithmetic (``frame_nr`` = ``block_nr`` × frames per block)."""

    block_size: int
    block_nr: int
    frame_size: int
    retire_ms: int

    @classmethod
    def for_capture(cls, snaplen: int, buffer_bytes: int, retire_ms: int) -> RingLayout:
        largest = _align(128 + min(snaplen, 65536 + 256), TPACKET_ALIGNMENT)
        block = max(mmap.PAGESIZE, 64 * 1024)
        while block < largest:
            block *= 2
        return cls(block, max(2, buffer_bytes // block), largest, max(1, retire_ms))

    def request(self) -> bytes:
        frames = self.block_nr * (self.block_size // self.frame_size)
        return TPACKET_REQ3.pack(self.block_size, self.block_nr, self.frame_size, frames,
                                 self.retire_ms, 0, 0)


@dataclass(frozen=True, slots=True)
class Stats:
    """``PACKET_STATISTICS`` since the capture opened: packets that passed the filter (those
    dropped included, as tcpdump's "received by filter"), and those the full ring dropped."""

    received: int
    dropped: int


# -- the capture --------------------------------------------------------------------------------

class Capture:
    """A live capture on one device (or ``"any"``), filtered in the kernel.

    ``filter`` is an expression (compiled ``live=True`` for the device's link type) or a
    ``Program`` already compiled for it. ``linktype`` forces cooked capture as LINUX_SLL or
    LINUX_SLL2 (the default for ``any`` is LINUX_SLL2). ``poll`` returns what the kernel has
    handed over; iterating yields packets until ``stop``.
    """

    def __init__(self, interface: str = "any", filter: str | Program | None = None,
                 *, snaplen: int = 262144, promisc: bool = True, direction: Direction = "inout",
                 buffer_kib: int | None = None, linktype: str | int | LinkType | None = None,
                 optimize: bool = True, netmask: int | str | None = None,
                 timeout_ms: int = 100, restore_vlan: bool = True) -> None:
        if direction not in ("in", "out", "inout"):
            raise BpfcError(f"invalid direction '{direction}' (in, out or inout)")
        self.interface = interface
        self.snaplen = snaplen
        self.direction = direction
        self.restore_vlan = restore_vlan
        self.warnings: list[str] = []
        self._stopped = False
        self._received = self._dropped = 0
        self._mm: mmap.mmap | None = None
        wanted = linktypes.lookup(linktype) if linktype is not None else None
        cooked = interface == "any" or (wanted is not None and wanted.dlt in sockfilter.COOKED)
        self._sock = self._open(socket.SOCK_DGRAM if cooked else socket.SOCK_RAW)
        try:
            self._setup(filter, wanted, cooked, promisc, buffer_kib, optimize, netmask,
                        timeout_ms)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _open(kind: int) -> socket.socket:
        try:
            return socket.socket(socket.AF_PACKET, kind, 0)
        except PermissionError:
            raise AttachError("you do not have permission to capture (a packet socket needs "
                              "root or CAP_NET_RAW)") from None

    def _setup(self, filter: str | Program | None, wanted: LinkType | None,
               cooked: bool, promisc: bool, buffer_kib: int | None, optimize: bool,
               netmask: int | str | None, timeout_ms: int) -> None:
        sock = self._sock
        any_device = self.interface == "any"
        dev = None if any_device else device(sock, self.interface)
        if cooked:
            link = wanted if wanted is not None and wanted.dlt in sockfilter.COOKED \
                else linktypes.lookup(linktypes.DLT_LINUX_SLL2)
        else:
            assert dev is not None
            dlt = sockfilter.ARPHRD_TO_DLT.get(dev.hatype)
            if dlt is None:
                sock.close()
                self._sock = self._open(socket.SOCK_DGRAM)
                sock, cooked = self._sock, True
                link = linktypes.lookup(linktypes.DLT_LINUX_SLL2)
            else:
                link = linktypes.lookup(dlt)
        if wanted is not None and wanted.dlt != link.dlt:
            raise BpfcError(f"{self.interface} cannot be captured as {wanted.name} (its link "
                            f"type is {link.name})")
        self.linktype = link
        self.cooked = cooked
        self.program = self._compile(filter, optimize, netmask)
        loopback = dev is not None and dev.hatype == sockfilter.ARPHRD_LOOPBACK
        ignore_outgoing = False
        if self.direction == "in" and not loopback:
            ignore_outgoing = _try_setsockopt(sock, PACKET_IGNORE_OUTGOING, 1)
        lo_index = _loopback_index(sock) if any_device and self.direction != "in" else None
        drop_out = (self.direction == "in" and not ignore_outgoing) or \
            (loopback and self.direction == "inout")
        guard = direction_guard(drop_out, self.direction == "out", lo_index)
        self._attach(guard)
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        buffer = buffer_kib * 1024 if buffer_kib else DEFAULT_BUFFER
        self.layout = RingLayout.for_capture(self.snaplen, buffer, timeout_ms)
        try:
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, self.layout.request())
            self._mm = mmap.mmap(sock.fileno(), self.layout.block_size * self.layout.block_nr,
                                 mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            raise AttachError(f"cannot set up the capture ring ({self.layout.block_nr} blocks of "
                              f"{self.layout.block_size} bytes): "
                              f"{os.strerror(exc.errno or 0).lower()}") from exc
        if promisc and dev is not None:
            mreq = struct.pack("iHH8s", dev.index, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        self._bind(0 if dev is None else dev.index)
        self._block = 0
        self._poller = select.poll()
        self._poller.register(sock.fileno(), select.POLLIN | select.POLLERR)

    def _compile(self, filter: str | Program | None, optimize: bool,
                 netmask: int | str | None) -> Program | None:
        if filter is None or (isinstance(filter, str) and not filter.strip()):
            return None
        if isinstance(filter, Program):
            if filter.linktype is not None and filter.linktype.dlt != self.linktype.dlt:
                raise BpfcError(f"the program was compiled for {filter.linktype.name}, but "
                                f"{self.interface} is captured as {self.linktype.name}")
            return filter
        from .compiler import compile as compile_filter

        return compile_filter(filter, self.linktype, self.snaplen, optimize, netmask, live=True)

    def _attach(self, guard: tuple[Insn, ...]) -> None:
        """Attach guard + program (rewritten for a cooked socket); when the kernel cannot run the
        program, attach guard + accept-all and filter here instead (``self.userland``)."""
        accept = (Insn(isa.BPF_RET | isa.BPF_K, 0, 0, self.snaplen),)
        body: tuple[Insn, ...] | None = accept
        if self.program is not None:
            body = self.program.insns
            if self.cooked:
                body = sockfilter.cooked_program(body, self.linktype.dlt)
        self.userland = body is None
        if body is not None:
            try:
                self.kernel_program = Program(guard + body)
                kernel.attach_filter(self._sock, self.kernel_program.insns)
                return
            except AttachError as exc:
                cause = exc.__cause__
                if not (isinstance(cause, OSError) and cause.errno == errno.ENOMEM):
                    raise
                self.warnings.append("couldn't allocate kernel memory for the filter (try "
                                     "increasing net.core.optmem_max); filtering in user space")
                self.userland = True
        assert self.program is not None
        if any(i.code & 0xE7 == isa.BPF_LD | isa.BPF_ABS and i.k >= isa.SKF_AD_OFF
               for i in self.program.insns):
            raise AttachError("the filter needs the kernel's ancillary data, but the kernel "
                              "cannot run it; simplify the filter")
        self.kernel_program = Program(guard + accept)
        kernel.attach_filter(self._sock, self.kernel_program.insns)

    def _bind(self, ifindex: int) -> None:
        address = _SockaddrLL(socket.AF_PACKET, socket.htons(ETH_P_ALL), ifindex)
        if _libc.bind(self._sock.fileno(), ctypes.byref(address), ctypes.sizeof(address)) != 0:
            code = ctypes.get_errno()
            hint = " (is the device up?)" if code == errno.ENETDOWN else ""
            raise AttachError(f"cannot bind to {self.interface}: "
                              f"{os.strerror(code).lower()}{hint}")

    # -- reading -------------------------------------------------------------------------------

    def fileno(self) -> int:
        return self._sock.fileno()

    def stop(self) -> None:
        """End iteration after the current batch (safe from a signal handler)."""
        self._stopped = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    def poll(self, timeout: float | None = None) -> list[Packet]:
        """Every packet in the blocks the kernel has handed over, waiting up to ``timeout``
        seconds (None: forever) for the first block."""
        mm = self._mm
        assert mm is not None, "capture is closed"
        layout = self.layout
        if not self._ready():
            wait = -1 if timeout is None else max(0, int(timeout * 1000))
            self._poller.poll(wait)
        out: list[Packet] = []
        for _ in range(layout.block_nr):
            if not self._ready():
                break
            start = self._block * layout.block_size
            self._read_block(mm, start, out)
            struct.pack_into("<I", mm, start + BLOCK_STATUS_OFFSET, TP_STATUS_KERNEL)
            self._block = (self._block + 1) % layout.block_nr
        return out

    def __iter__(self) -> Iterator[Packet]:
        while not self._stopped:
            yield from self.poll(0.2)

    def _ready(self) -> bool:
        assert self._mm is not None
        offset = self._block * self.layout.block_size + BLOCK_STATUS_OFFSET
        return bool(struct.unpack_from("<I", self._mm, offset)[0] & TP_STATUS_USER)

    def _read_block(self, mm: mmap.mmap, start: int, out: list[Packet]) -> None:
        _, _, _, count, first, _, _ = BLOCK_DESC.unpack_from(mm, start)
        dlt, snaplen, cooked = self.linktype.dlt, self.snaplen, self.cooked
        program = self.program if self.userland else None
        restore = self.restore_vlan and dlt in (linktypes.DLT_EN10MB, *sockfilter.COOKED)
        unpack = TPACKET3_HDR.unpack_from
        at = start + first
        for _ in range(count):
            (step, sec, nsec, caplen, wirelen, status, mac, _, _, tci, tpid,
             _) = unpack(mm, at)
            data = mm[at + mac:at + mac + caplen]
            vlan = bool(tci or status & TP_STATUS_VLAN_VALID)
            tagged = restore and vlan
            if tagged and not status & TP_STATUS_VLAN_TPID_VALID and not tpid:
                tpid = ETH_P_8021Q
            if cooked:
                # Only a frame with an outer tag in metadata can have an inner one in its data.
                header = self._cooked_header(mm, at, data if vlan else b"")
                data = header + data
                wirelen += len(header)
            if program is not None and not program.match(data, wirelen):
                at += step
                continue
            if tagged:
                data = _insert_tag(data, dlt, tpid, tci)
                wirelen += 4
            if len(data) > snaplen:
                data = data[:snaplen]
            out.append(Packet(sec, nsec, NANOSECONDS, len(data), wirelen, data, dlt))
            at += step

    def _cooked_header(self, mm: mmap.mmap, at: int, data: bytes) -> bytes:
        """The LINUX_SLL2/LINUX_SLL header libpcap builds from the ring's sockaddr_ll (address
        bytes past ``sll_halen`` zeroed: the ring does not clear them between packets).

        The header's protocol should be the one the filter saw, ``skb->protocol``. Since Linux
        6.11 a cooked socket reports the innermost protocol instead when that is a VLAN TPID
        (``vlan_get_protocol_dgram``). For an arriving QinQ frame the data then still starts
        with the inner tag: when the data walks through tags to the reported protocol, the
        header gets the inner tag's TPID back (802.1Q: the kernel does not report it). An
        outgoing frame that a packet socket sent with its tag in the bytes is filtered with the
        tag in the data but handed over with the tag pulled out and reported as metadata; that
        cannot be told from a frame whose tag was metadata all along, so it is left as it is.
        """
        _, protocol, ifindex, hatype, pkttype, halen, addr = \
            SOCKADDR_LL.unpack_from(mm, at + SOCKADDR_LL_OFFSET)
        addr = addr[:halen].ljust(8, b"\0")
        if _tags_lead_to(data, protocol):
            protocol = struct.pack(">H", ETH_P_8021Q)
        if self.linktype.dlt == linktypes.DLT_LINUX_SLL2:
            return SLL2_HDR.pack(protocol, 0, ifindex & 0xFFFFFFFF, hatype, pkttype, halen, addr)
        return SLL_HDR.pack(pkttype, hatype, halen, addr, protocol)

    def stats(self) -> Stats:
        """Kernel counters so far (each read resets the kernel's, so they are summed here)."""
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, TPACKET_STATS_V3.size)
        packets, drops, _ = TPACKET_STATS_V3.unpack(raw)
        self._received += packets
        self._dropped += drops
        return Stats(self._received, self._dropped)

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _insert_tag(data: bytes, dlt: int, tpid: int, tci: int) -> bytes:
    """Put the tag the kernel stripped back where it was: after the MAC addresses (Ethernet),
    before the protocol field (LINUX_SLL, as libpcap does), or, for LINUX_SLL2, whose protocol
    field comes first, as the protocol with the TCI and the original protocol after the header
    (libpcap drops the tag there)."""
    tag = struct.pack(">HH", tpid, tci & 0xFFFF)
    if dlt == linktypes.DLT_EN10MB:
        return data[:12] + tag + data[12:]
    if dlt == linktypes.DLT_LINUX_SLL:
        return data[:14] + tag + data[14:]
    header = sockfilter.SLL2_HDR_LEN
    return tag[:2] + data[2:header] + tag[2:] + data[:2] + data[header:]


_VLAN_TPIDS = (b"\x81\x00", b"\x88\xa8")


def _tags_lead_to(data: bytes, protocol: bytes) -> bool:
    """Whether ``data`` starts with VLAN tag bodies (TCI, type) that lead to ``protocol``, with
    an IPv4 or IPv6 header after them when that is the protocol (which keeps an IP packet whose
    third and fourth bytes happen to equal its own EtherType from looking like a tag)."""
    for at in range(0, 16, 4):
        kind = data[at + 2:at + 4]
        if kind == protocol:
            version = {b"\x08\x00": 4, b"\x86\xdd": 6}.get(kind)
            return version is None or data[at + 4:at + 5] != b"" and data[at + 4] >> 4 == version
        if kind not in _VLAN_TPIDS:
            return False
    return False


def _try_setsockopt(sock: socket.socket, option: int, value: int) -> bool:
    try:
        sock.setsockopt(SOL_PACKET, option, value)
    except OSError:
        return False
    return True


def _loopback_index(sock: socket.socket) -> int | None:
    try:
        return device(sock, "lo").index
    except BpfcError:
        return None


# -- the command line ---------------------------------------------------------------------------

def _device_name(text: str) -> str:
    """tcpdump's ``-i N``: a number that names no device is a position in ``-D``'s list."""
    if text.isdigit() and text not in {name for _, name in socket.if_nameindex()}:
        rows = list_devices()
        if not 1 <= int(text) <= len(rows):
            raise BpfcError(f"device number {text} is out of range (bpfc -D lists "
                            f"{len(rows)} devices)")
        return rows[int(text) - 1].name
    return text


def _cooked_choice(name: str | None) -> LinkType | None:
    """``-y LINUX_SLL`` or ``-y LINUX_SLL2`` picks the cooked header for ``-i any``; any other
    ``-y`` names a link type the device does not have."""
    if name is None:
        return None
    link = linktypes.lookup(name)
    if link.dlt not in sockfilter.COOKED:
        raise BpfcError(f"-y {link.name}: a live capture uses the device's own link type; "
                        "-y only chooses LINUX_SLL or LINUX_SLL2 for cooked captures (-i any)")
    return link


def _summary(captured: int, stats: Stats) -> str:
    def line(n: int, what: str) -> str:
        return f"{n} packet{'' if n == 1 else 's'} {what}"

    return "\n".join((line(captured, "captured"), line(stats.received, "received by filter"),
                      line(stats.dropped, "dropped by kernel")))


class _Output:
    """Where captured packets go: a pcap/pcapng writer (``-w``), a count, or printed lines."""

    def __init__(self, args: Any, capture: Capture) -> None:
        from . import pcapfile

        self._writer: pcapfile.PcapWriter | pcapfile.PcapngWriter | None = None
        self._count_only = bool(getattr(args, "count", False))
        self._printer: Callable[[Packet], str] | None = None
        target: str | IO[bytes] | None = args.write
        if target is not None:
            stream = sys.stdout.buffer if target == "-" else target
            dlt = capture.linktype.dlt
            try:
                if getattr(args, "out_format", None) == "pcapng":
                    self._writer = pcapfile.PcapngWriter(stream, dlt, capture.snaplen,
                                                         ts_units=NANOSECONDS)
                else:
                    self._writer = pcapfile.PcapWriter(stream, dlt, capture.snaplen)
            except OSError as exc:
                raise BpfcError(f"cannot write '{target}': {exc.strerror}") from None
        elif not self._count_only:
            self._printer = _printer(args, capture)

    def emit(self, packets: list[Packet]) -> None:
        if self._writer is not None:
            for packet in packets:
                self._writer.write(packet)
            self._writer.flush()
        elif self._printer is not None:
            for packet in packets:
                print(self._printer(packet))
            sys.stdout.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _printer(args: Any, capture: Capture) -> Callable[[Packet], str]:
    """tcpdump-like one-line summaries from ``bpfc.printer`` (the offline path's printer),
    or, where it is missing, a minimal line with the time, the link type and the length."""
    try:
        from .printer import Printer
    except ImportError:
        name = capture.linktype.name

        def line(packet: Packet) -> str:
            stamp = time.strftime("%H:%M:%S", time.localtime(packet.ts_sec))
            return f"{stamp}.{packet.ts_frac // 1000:06d} {name}, length {packet.wirelen}"

        return line
    factory: Any = Printer  # the printer is typed by its owner; only ``line`` is relied on
    printer = factory(link_header=bool(getattr(args, "link_header", False)),
                      quiet=bool(getattr(args, "quiet", False)),
                      verbose=int(getattr(args, "verbose", 0)))
    return cast("Callable[[Packet], str]", printer.line)


def run(args: Any) -> int:
    """``bpfc -i IFACE ...`` and ``bpfc -D``: capture until ``-c`` packets, Ctrl-C or SIGTERM,
    then print tcpdump's three-line summary on stderr."""
    # ``cli.main`` runs without the cyclic collector (its commands are short and end in
    # ``os._exit``); a capture runs as long as the user wants, so it collects.
    gc.enable()
    if args.list_interfaces:
        for number, row in enumerate(list_devices(), 1):
            print(row.line(number))
        return 0
    name = _device_name(args.interface)
    capture = Capture(name, args.expression_text or None, snaplen=args.snaplen,
                      promisc=not args.no_promisc, direction=args.direction,
                      buffer_kib=args.buffer_kib, linktype=_cooked_choice(args.linktype),
                      optimize=not args.no_optimize, netmask=args.netmask)
    with capture:
        if getattr(args, "dump", 0) or getattr(args, "asm", False):
            if capture.program is None:
                raise BpfcError("no filter expression to print")
            fmt = "asm" if args.asm else {0: "d", 1: "d", 2: "dd"}.get(args.dump, "ddd")
            sys.stdout.write(capture.program.dump(fmt))  # type: ignore[arg-type]
            return 0
        for warning in capture.warnings:
            print(f"bpfc: warning: {warning}", file=sys.stderr)
        link = capture.linktype
        print(f"bpfc: listening on {name}, link-type {link.name} ({link.description}), "
              f"snapshot length {capture.snaplen} bytes", file=sys.stderr, flush=True)
        captured = _capture_loop(capture, _Output(args, capture), args.max_count)
        stats = capture.stats()
    if getattr(args, "count", False):
        print(f"{captured} packet{'' if captured == 1 else 's'}")
    print(_summary(captured, stats), file=sys.stderr)
    return 0


def _capture_loop(capture: Capture, output: _Output, limit: int | None) -> int:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        capture.stop()

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, on_signal)
        except ValueError:  # not the main thread: Ctrl-C stays KeyboardInterrupt
            pass
    captured = 0
    try:
        while not capture.stopped:
            packets = capture.poll(0.2)
            if limit is not None and captured + len(packets) >= limit:
                packets = packets[:limit - captured]
                capture.stop()
            output.emit(packets)
            captured += len(packets)
    except BrokenPipeError:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        try:
            output.close()
        except BrokenPipeError:
            pass
    return captured


__all__ = ["Capture", "Device", "DeviceListing", "RingLayout", "Stats", "device",
           "direction_guard", "list_devices", "run"]
