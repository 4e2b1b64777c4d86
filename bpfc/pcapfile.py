"""Capture files read: classic pcap and pcapng, streamed or memory-mapped.

Stage: the input edge of the offline path. Input: a path or a binary stream; output: ``Packet``
records tagged with their DLT, in file order, and the header facts (``Interface``,
``PcapFileHeader``) a writer needs to reproduce the file. The writers are ``bpfc.pcapwrite``; the
numpy record index of a mapped classic file is ``bpfc.pcapindex`` (kept out of here, so that
this module imports without numpy). Both are still importable from this module, loaded on use.

libpcap (sf-pcap.c, sf-pcapng.c, pcap-common.c) is the oracle for what a reader accepts, what it
reports and what it calls damage; where we deliberately differ, the docstring of the function says
so. The notable choices:

- Classic pcap seconds are the file's unsigned 32-bit field. libpcap 1.9/1.10 on a 64-bit host
  sign-extend it (``time_2106_max.pcap`` reads as -1 through pcapy); the file format says unsigned
  and pcapng has no such quirk, so we keep the unsigned value and the tests map pcapy's view.
- A classic pcap record longer than the file's snaplen (but within the link type's maximum) is
  cut to the snaplen, as libpcap delivers it; ``clip_to_snaplen=False`` delivers it whole, which
  is what copying a file byte for byte needs.
- Fractions stay in the file's own units (``ts_units``: 10**6, 10**9, or any pcapng ``if_tsresol``
  power of 10 or 2), so a record written back is byte-for-byte the record that was read.
- pcapng sections may each have their own byte order, and interfaces any mix of link types and
  snaplens (libpcap 1.10 refuses all three); every packet carries the DLT of its own interface.
- Damage is raised as ``CaptureFileError`` naming the byte offset of the damaged record, only after
  every good packet before it has been yielded, as ``tcpdump -r`` prints them before its error.
- libpcap rewrites a few host-byte-order pseudo-headers (Linux USB, NFLOG, SocketCAN in SLL) when
  it reads a file of the other byte order; we return the file's bytes unchanged.
"""

from __future__ import annotations

import importlib
import io
import mmap
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final, Literal, NamedTuple, Self

from bpfc.errors import CaptureFileError

if TYPE_CHECKING:
    from .pcapindex import RecordIndex as RecordIndex
    from .pcapindex import build_index as build_index
    from .pcapwrite import PcapngWriter as PcapngWriter
    from .pcapwrite import PcapWriter as PcapWriter

ByteOrder = Literal["<", ">"]

TCPDUMP_MAGIC: Final = 0xA1B2C3D4
NSEC_TCPDUMP_MAGIC: Final = 0xA1B23C4D
KUZNETZOV_TCPDUMP_MAGIC: Final = 0xA1B2CD34
PCAP_VERSION_MAJOR: Final = 2
PCAP_VERSION_MINOR: Final = 4
LT_LINKTYPE_MASK: Final = 0x03FFFFFF  # the upper 6 bits carry FCS information

BT_SHB: Final = 0x0A0D0D0A
BT_IDB: Final = 0x00000001
BT_PB: Final = 0x00000002  # the obsolete Packet Block
BT_SPB: Final = 0x00000003
BT_EPB: Final = 0x00000006
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
BT_SHB_INSANE_MAX: Final = 1024 * 1024
INITIAL_MAX_BLOCKSIZE: Final = 16 * 1024 * 1024
OPT_ENDOFOPT: Final = 0
IF_NAME: Final = 2
IF_TSRESOL: Final = 9
IF_TSOFFSET: Final = 14

MAXIMUM_SNAPLEN: Final = 262144
INT_MAX: Final = 0x7FFFFFFF
DLT_EN10MB: Final = 1
DLT_ATM_RFC1483: Final = 11
DLT_RAW: Final = 12
DLT_SLIP_BSDOS: Final = 15
DLT_PPP_BSDOS: Final = 16
DLT_ATM_CLIP: Final = 19
DLT_DBUS: Final = 231
DLT_USBPCAP: Final = 249
DLT_EBHSCR: Final = 279

# The LINKTYPE values (what files hold) that differ from Linux's DLT values (what libpcap hands
# out); every other value is the same number on both sides (pcap-common.c's map[]).
_LINKTYPE_TO_DLT: Final = {100: DLT_ATM_RFC1483, 101: DLT_RAW, 102: DLT_SLIP_BSDOS,
                           103: DLT_PPP_BSDOS, 106: DLT_ATM_CLIP}
_DLT_TO_LINKTYPE: Final = {dlt: lt for lt, dlt in _LINKTYPE_TO_DLT.items()}
# DLTs below LINKTYPE_MATCHING_MIN (104) that have a LINKTYPE; any other one below 104 has none.
_SAVEABLE_LOW_DLTS: Final = frozenset([*range(11), 50, 51, 99, *_DLT_TO_LINKTYPE])

_STREAM_CHUNK: Final = 1 << 18


def linktype_to_dlt(linktype: int) -> int:
    """The DLT libpcap reports for a file's LINKTYPE field (FCS bits masked off first)."""
    linktype &= LT_LINKTYPE_MASK
    return _LINKTYPE_TO_DLT.get(linktype, linktype)


def dlt_to_linktype(dlt: int) -> int:
    """The LINKTYPE a writer stores for a DLT; refuses DLTs that have none, as pcap_dump_open."""
    if dlt < 104 and dlt not in _SAVEABLE_LOW_DLTS:
        raise CaptureFileError(f"link-layer type {dlt} isn't supported in savefiles")
    return _DLT_TO_LINKTYPE.get(dlt, dlt)


def max_snaplen_for_dlt(dlt: int) -> int:
    """The largest captured length libpcap considers sane for a link type."""
    return {DLT_DBUS: 128 * 1024 * 1024, DLT_EBHSCR: 8 * 1024 * 1024,
            DLT_USBPCAP: 1024 * 1024}.get(dlt, MAXIMUM_SNAPLEN)


def adjust_snapshot(dlt: int, snaplen: int) -> int:
    """libpcap's pcap_adjust_snapshot: a snaplen of 0 or one that does not fit in an int means
    the link type's maximum; any other value stands, even above that maximum (libpcap then
    checks captured lengths against the maximum, not the snaplen)."""
    return max_snaplen_for_dlt(dlt) if snaplen == 0 or snaplen > INT_MAX else snaplen


class Packet(NamedTuple):
    """One captured packet as libpcap hands it over, plus what it takes to write it back.

    A NamedTuple rather than a dataclass because readers build one per record on the hot path and
    tuple construction is several times cheaper. ``ts_frac`` counts ``ts_units`` per second (the
    file's resolution, kept so that writing reproduces the record). ``interface`` indexes the
    reader's ``interfaces`` (for a one-section pcapng file it is the EPB's interface id).
    ``options`` are an EPB's raw option bytes in the byte order ``byteorder`` of the source.
    """

    ts_sec: int
    ts_frac: int
    ts_units: int
    caplen: int
    wirelen: int
    data: bytes
    linktype: int = DLT_EN10MB
    interface: int = 0
    options: bytes = b""
    byteorder: ByteOrder = "<"

    @classmethod
    def of(cls, data: bytes, *, ts_sec: int = 0, ts_frac: int = 0, ts_units: int = 1_000_000,
           wirelen: int | None = None, linktype: int = DLT_EN10MB) -> Packet:
        """A packet built from its bytes; caplen is len(data), wirelen defaults to it."""
        return cls(ts_sec, ts_frac, ts_units, len(data),
                   len(data) if wirelen is None else wirelen, bytes(data), linktype)

    def frac_in(self, units: int) -> int:
        """The fraction in other units, truncated the way libpcap scales resolutions."""
        if units == self.ts_units:
            return self.ts_frac
        return self.ts_frac * units // self.ts_units

    @property
    def ts_ns(self) -> int:
        """The timestamp as integer nanoseconds since the epoch."""
        return self.ts_sec * 1_000_000_000 + self.frac_in(1_000_000_000)


@dataclass(frozen=True, slots=True)
class Interface:
    """A capture interface: the classic pcap file header, or one pcapng IDB.

    ``snaplen`` is the file's value, ``snapshot`` libpcap's adjusted one (what it reports and what
    captured lengths are checked against); ``id`` is the interface id within ``section``.
    """

    linktype: int
    snaplen: int
    snapshot: int
    raw_linktype: int
    ts_units: int = 1_000_000
    tsoffset: int = 0
    section: int = 0
    id: int = 0
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PcapFileHeader:
    """The 24-byte classic pcap file header, raw, so that a writer can reproduce it."""

    magic: int
    byteorder: ByteOrder
    version_major: int
    version_minor: int
    thiszone: int
    sigfigs: int
    snaplen: int
    linktype_field: int

    @property
    def ts_units(self) -> int:
        return 1_000_000_000 if self.magic == NSEC_TCPDUMP_MAGIC else 1_000_000

    @property
    def record_header_size(self) -> int:
        return 24 if self.magic == KUZNETZOV_TCPDUMP_MAGIC else 16

    @property
    def lengths_swapped(self) -> Literal["no", "yes", "maybe"]:
        """Before 2.3 (and in DG/UX's 543.0) caplen and len were stored the other way round;
        2.3 files exist both ways, so libpcap swaps those only when caplen > len."""
        if self.version_major == 543 or (self.version_major == 2 and self.version_minor < 3):
            return "yes"
        return "maybe" if self.version_major == 2 and self.version_minor == 3 else "no"

    def pack(self) -> bytes:
        return struct.pack(self.byteorder + "IHHiIII", self.magic, self.version_major,
                           self.version_minor, self.thiszone, self.sigfigs, self.snaplen,
                           self.linktype_field)


def _truncated(what: str, wanted: int, got: int, offset: int, path: str | None,
               pcapng: bool = False) -> CaptureFileError:
    kind = "pcapng dump file" if pcapng else "dump file"
    return CaptureFileError(f"truncated {kind}; tried to read {wanted} {what}, only got {got}",
                            offset=offset, path=path)


class _Input:
    """The bytes of a capture: one whole memory map, or a stream read in chunks.

    ``buf`` holds file bytes [base, base + len(buf)); ``fill(pos, need)`` makes sure that
    ``need`` bytes from ``pos`` are in ``buf`` when the file has them, and returns the new
    position of that byte (a stream drops what lies before it; a map has nothing to do).
    """

    def __init__(self, stream: IO[bytes], mapped: mmap.mmap | None, start: int) -> None:
        self.stream = stream
        self.mapped = mapped
        self.buf: bytes | mmap.mmap
        if mapped is not None:
            self.buf, self.base, self.pos = mapped, 0, start
        else:
            self.buf, self.base, self.pos = b"", start, 0
        self.eof = mapped is not None

    def fill(self, pos: int, need: int) -> int:
        if self.eof or pos + need <= len(self.buf):
            return pos
        pieces = [self.buf[pos:]]
        have = len(pieces[0])
        # read1 hands over what a pipe has now instead of waiting for a whole chunk, so a
        # live `tcpdump -w -` feeding us is not held back.
        read = getattr(self.stream, "read1", None) or self.stream.read
        while have < need:
            chunk = read(max(_STREAM_CHUNK, need - have))
            if not chunk:
                self.eof = True
                break
            pieces.append(chunk)
            have += len(chunk)
        self.base += pos
        self.buf = b"".join(pieces)
        return 0

    def close(self) -> None:
        if self.mapped is not None:
            self.mapped.close()


def _open_input(source: str | os.PathLike[str] | IO[bytes],
                use_mmap: bool | None) -> tuple[_Input, str | None, IO[bytes] | None]:
    """Maps a regular file unless told not to; streams anything else (pipes, sockets, BytesIO)."""
    owned: IO[bytes] | None = None
    if isinstance(source, (str, os.PathLike)):
        path: str | None = os.fsdecode(source)
        try:
            stream: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed by the reader
        except OSError as err:
            raise CaptureFileError(err.strerror or str(err), path=path) from None
        owned = stream
    else:
        stream = source
        name = getattr(source, "name", None)
        path = name if isinstance(name, str) else None
    mapped, regular = None, False
    if use_mmap is not False:
        mapped, regular = _try_map(stream)
        if use_mmap and not regular:
            raise CaptureFileError("cannot memory-map a capture that is not a regular file",
                                   path=path)
    if mapped is None:
        return _Input(stream, None, _position(stream)), path, owned
    start = _position(stream)
    if owned is not None:
        owned.close()  # the map keeps its own reference to the file
        owned = None
    return _Input(stream, mapped, start), path, owned


def _position(stream: IO[bytes]) -> int:
    try:
        return stream.tell() if stream.seekable() else 0
    except (OSError, ValueError):
        return 0


def _try_map(stream: IO[bytes]) -> tuple[mmap.mmap | None, bool]:
    """A read-only map of a regular file, and whether it is one (an empty one cannot be
    mapped; it is streamed, to fail the way libpcap does)."""
    try:
        fd = stream.fileno()
        info = os.fstat(fd)
    except (OSError, ValueError, io.UnsupportedOperation):
        return None, False
    if not stat.S_ISREG(info.st_mode):
        return None, False
    if info.st_size == 0:
        return None, True
    mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
        mapped.madvise(mmap.MADV_SEQUENTIAL)  # one forward pass: read ahead, drop behind
    return mapped, True


class CaptureReader:
    """An open capture file: header facts as attributes, packets by iteration (one pass).

    ``linktype``, ``snaplen`` and ``ts_units`` describe the first interface, as pcap_datalink()
    and pcap_snapshot() do; ``interfaces`` grows as pcapng IDBs are read. ``offset`` is the byte
    offset of the record of the packet yielded last.
    """

    format: Literal["pcap", "pcapng"]
    byteorder: ByteOrder
    header: PcapFileHeader | None
    # pcapng state: the current section's byte order and its interfaces (global indices)
    _order: ByteOrder
    _section: int
    _section_ifaces: list[int]
    _max_block: int

    def __init__(self, source: str | os.PathLike[str] | IO[bytes], *,
                 use_mmap: bool | None = None, clip_to_snaplen: bool = True) -> None:
        self._input, self.path, self._owned = _open_input(source, use_mmap)
        self._clip = clip_to_snaplen
        self.interfaces: list[Interface] = []
        self.header = None
        self.offset = 0
        self._started = False
        try:
            self._read_file_header()
        except BaseException:
            self.close()
            raise

    @property
    def mapped(self) -> bool:
        return self._input.mapped is not None

    @property
    def linktype(self) -> int:
        return self.interfaces[0].linktype

    @property
    def next_offset(self) -> int:
        """The file offset of the next record or block this reader will read."""
        return self._input.base + self._input.pos

    @property
    def max_block(self) -> int:
        """pcapng: the longest block this reader accepts (libpcap's limit) so far."""
        return self._max_block

    @property
    def snaplen(self) -> int:
        return self.interfaces[0].snapshot

    @property
    def ts_units(self) -> int:
        return self.interfaces[0].ts_units

    def close(self) -> None:
        self._input.close()
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Packet]:
        if self._started:
            raise CaptureFileError("a capture can be iterated only once", path=self.path)
        self._started = True
        if self.format == "pcap":
            return self._pcap_packets()
        return self._pcapng_packets()

    # -- for the record index (bpfc.pcapindex) ----------------------------------------------

    def mapped_records(self) -> tuple[mmap.mmap | bytes, int]:
        """The file's bytes (the whole map, for a mapped reader) and the offset of the first
        record, so that an index can walk the records without this reader."""
        return self._input.buf, self._input.pos

    def damage_at(self, offset: int) -> CaptureFileError | None:
        """Reads the record at ``offset`` the ordinary way and returns the error it raises: the
        message and offset iterating would have given there. The reader is spent afterwards."""
        self._input.pos = offset
        self._started = False
        try:
            for _ in self:
                break
        except CaptureFileError as err:
            return err
        return None  # pragma: no cover - the index asks only about damaged records

    # -- file headers -----------------------------------------------------------------------

    def _read_file_header(self) -> None:
        inp = self._input
        start = inp.base + inp.pos
        pos = inp.pos = inp.fill(inp.pos, 24)
        head = bytes(inp.buf[pos:pos + 24])
        if len(head) < 4:
            raise _truncated("file header bytes", 4, len(head), start, self.path)
        magic = head[:4]
        if struct.unpack("<I", magic)[0] == BT_SHB:
            self.format = "pcapng"
            if self._pcapng_first_section(start):
                return
        le = struct.unpack("<I", magic)[0]
        known = (TCPDUMP_MAGIC, NSEC_TCPDUMP_MAGIC, KUZNETZOV_TCPDUMP_MAGIC)
        order: ByteOrder
        if le in known:
            order = "<"
        elif struct.unpack(">I", magic)[0] in known:
            order = ">"
        else:
            raise CaptureFileError("unknown file format", offset=start, path=self.path)
        self.format, self.byteorder = "pcap", order
        if len(head) < 24:
            raise _truncated("file header bytes", 24, len(head) - 4, start, self.path)
        inp.pos = pos + 24
        hdr = PcapFileHeader(struct.unpack(order + "I", magic)[0], order,
                             *struct.unpack(order + "HHiIII", head[4:]))
        if hdr.version_major < PCAP_VERSION_MAJOR:
            raise CaptureFileError("archaic pcap savefile format", offset=start, path=self.path)
        if not ((hdr.version_major == PCAP_VERSION_MAJOR
                 and hdr.version_minor <= PCAP_VERSION_MINOR)
                or (hdr.version_major, hdr.version_minor) == (543, 0)):
            raise CaptureFileError(
                f"unsupported pcap savefile version {hdr.version_major}.{hdr.version_minor}",
                offset=start, path=self.path)
        self.header = hdr
        dlt = linktype_to_dlt(hdr.linktype_field)
        snapshot = adjust_snapshot(dlt, hdr.snaplen)
        if hdr.magic == KUZNETZOV_TCPDUMP_MAGIC and dlt == DLT_EN10MB:
            # As libpcap: such captures may have added a fake Ethernet header.
            snapshot = min(snapshot + 14, INT_MAX)
        self.interfaces.append(Interface(dlt, hdr.snaplen, snapshot,
                                         hdr.linktype_field & LT_LINKTYPE_MASK, hdr.ts_units))

    # -- classic pcap -------------------------------------------------------------------------

    def _pcap_packets(self) -> Iterator[Packet]:
        """The hot loop: one unpack, a few compares, one slice, one tuple per record."""
        hdr, inp, path = self.header, self._input, self.path
        assert hdr is not None
        iface = self.interfaces[0]
        order, units, dlt, snapshot = hdr.byteorder, iface.ts_units, iface.linktype, iface.snapshot
        limit = max_snaplen_for_dlt(dlt)
        guard = min(snapshot, limit) if self._clip else limit
        hs = hdr.record_header_size
        swap = {"no": 0, "maybe": 1, "yes": 2}[hdr.lengths_swapped]
        unpack = struct.Struct(order + "IIII").unpack_from
        new = tuple.__new__
        buf, n, pos = inp.buf, len(inp.buf), inp.pos
        while True:
            if pos + hs > n:
                pos = inp.fill(pos, hs)
                buf, n = inp.buf, len(inp.buf)
                if pos + hs > n:
                    if pos == n:
                        return
                    raise _truncated("header bytes", hs, n - pos, inp.base + pos, path)
            sec, frac, cap, wire = unpack(buf, pos)
            if swap and (swap == 2 or cap > wire):
                cap, wire = wire, cap
            keep = cap
            if cap > guard:
                if cap > limit:
                    what = (f"snaplen of {snapshot}" if cap > snapshot
                            else f"maximum of {limit}")
                    raise CaptureFileError(
                        f"invalid packet capture length {cap}, bigger than {what}",
                        offset=inp.base + pos, path=path)
                keep = snapshot  # libpcap reads the snapshot's worth and discards the rest
            end = pos + hs + cap
            if end > n:
                pos = inp.fill(pos, hs + cap)
                buf, n = inp.buf, len(inp.buf)
                end = pos + hs + cap
                if end > n:
                    got = n - pos - hs
                    raise _truncated("captured bytes", snapshot if keep < cap and got < keep
                                     else cap, got, inp.base + pos, path)
            self.offset = inp.base + pos
            yield new(Packet, (sec, frac, units, keep, wire, buf[pos + hs:pos + hs + keep],
                               dlt, 0, b"", order))
            pos = end

    # -- pcapng -------------------------------------------------------------------------------

    def _pcapng_first_section(self, start: int) -> bool:
        """Reads the first SHB and the blocks up to the first IDB, as pcap_ng_check_header.
        False when the file is not pcapng after all (libpcap then tries the other formats).

        Unlike libpcap, the first SHB gets the multiple-of-4 and trailer checks every other
        block gets: a file that fails them is damaged from its first byte on."""
        inp = self._input
        head = bytes(inp.buf[inp.pos:inp.pos + 12])
        order = _section_order(head[8:12])
        if order is None:
            return False
        self.byteorder = order
        self._order = order
        self._section = -1
        self._section_ifaces = []
        self._max_block = INITIAL_MAX_BLOCKSIZE
        total = struct.unpack(order + "I", head[4:8])[0]
        if total < 28 or total > BT_SHB_INSANE_MAX:
            raise CaptureFileError(
                "section header block in pcapng dump file has invalid length "
                f"28 < _{total}_ < {BT_SHB_INSANE_MAX} (BT_SHB_INSANE_MAX)",
                offset=start, path=self.path)
        first = True
        while not self.interfaces:
            block = self._next_block()
            if block is None:
                raise CaptureFileError("the capture file has no interface description blocks",
                                       offset=inp.base + inp.pos, path=self.path)
            btype, pos, total = block
            if btype == BT_SHB:
                self._new_section(pos, total, first)
            elif btype == BT_IDB:
                self._add_interface(pos, total)
            elif btype in (BT_EPB, BT_SPB, BT_PB):
                raise CaptureFileError("the capture file has a packet block before any "
                                       "interface description blocks",
                                       offset=inp.base + pos, path=self.path)
            first = False
            inp.pos = pos + total
        dlt_limit = max_snaplen_for_dlt(self.interfaces[0].linktype)
        self._max_block = max(self._max_block, 8 + 20 + dlt_limit + 131072 + 4)
        return True

    def _next_block(self) -> tuple[int, int, int] | None:
        """The next whole block in ``buf`` as (type, position, total length); None at a clean
        end of file. Checks the lengths as libpcap's read_block and raises on damage."""
        inp, path = self._input, self.path
        pos = inp.pos = inp.fill(inp.pos, 12)
        buf = inp.buf
        have = len(buf) - pos
        if have == 0:
            return None
        offset = inp.base + pos
        if have < 8:
            raise _truncated("bytes", 8, have, offset, path, pcapng=True)
        order = self._order
        btype = struct.unpack_from(order + "I", buf, pos)[0]
        if btype == BT_SHB and have >= 12:
            # The block type reads the same in both orders; the magic says which one follows.
            order = _section_order(buf[pos + 8:pos + 12]) or order
        total = struct.unpack_from(order + "I", buf, pos + 4)[0]
        if total < 12:
            raise CaptureFileError(
                f"block in pcapng dump file has a length of {total} < 12", offset=offset,
                path=path)
        if total % 4:
            raise CaptureFileError(f"block in pcapng dump file has a length of {total} that is "
                                   "not a multiple of 4", offset=offset, path=path)
        if total > self._max_block:
            raise CaptureFileError(f"pcapng block size {total} > maximum {self._max_block}",
                                   offset=offset, path=path)
        pos = inp.pos = inp.fill(pos, total)
        buf = inp.buf
        if len(buf) - pos < total:
            raise _truncated("bytes", total - 8, len(buf) - pos - 8, offset, path, pcapng=True)
        trailer = struct.unpack_from(order + "I", buf, pos + total - 4)[0]
        if trailer != total:
            raise CaptureFileError(f"block total length in header {total} and trailer "
                                   f"{trailer} don't match", offset=offset, path=path)
        return btype, pos, total

    def _too_short(self, btype: int, pos: int) -> CaptureFileError:
        return CaptureFileError(f"block of type {btype} in pcapng dump file is too short",
                                offset=self._input.base + pos, path=self.path)

    def _new_section(self, pos: int, total: int, first: bool) -> None:
        inp = self._input
        if total < 28:  # header, magic, versions, section length, trailer
            raise self._too_short(BT_SHB, pos)
        order = _section_order(inp.buf[pos + 8:pos + 12])
        if order is None:
            raise CaptureFileError("the file has a section with a bad byte order magic field",
                                   offset=inp.base + pos, path=self.path)
        major, minor = struct.unpack_from(order + "HH", inp.buf, pos + 12)
        if major != 1 or (first and minor not in (0, 2)):
            raise CaptureFileError(f"unsupported pcapng savefile version {major}.{minor}",
                                   offset=inp.base + pos, path=self.path)
        self._order = order
        self._section += 1
        self._section_ifaces = []

    def _add_interface(self, pos: int, total: int) -> None:
        inp, order = self._input, self._order
        if total < 12 + 8:
            raise self._too_short(BT_IDB, pos)
        raw_linktype, _, snaplen = struct.unpack_from(order + "HHI", inp.buf, pos + 8)
        units, tsoffset, name = 1_000_000, 0, None
        seen: set[int] = set()
        for code, value in self._options(BT_IDB, pos, pos + 16, pos + total - 4):
            if code == IF_TSRESOL:
                units = self._tsresol(value, IF_TSRESOL in seen, pos)
            elif code == IF_TSOFFSET:
                if len(value) != 8:
                    raise self._idb_error(
                        f"has if_tsoffset option with length {len(value)} != 8", pos)
                if IF_TSOFFSET in seen:
                    raise self._idb_error("has more than one if_tsoffset option", pos)
                tsoffset = struct.unpack(order + "q", value)[0]
            elif code == IF_NAME and name is None:
                name = value.rstrip(b"\0").decode("utf-8", "replace")
            seen.add(code)
        dlt = linktype_to_dlt(raw_linktype)
        iface = Interface(dlt, snaplen, adjust_snapshot(dlt, snaplen), raw_linktype, units,
                          tsoffset, self._section, len(self._section_ifaces), name)
        self._section_ifaces.append(len(self.interfaces))
        self.interfaces.append(iface)

    def _idb_error(self, what: str, pos: int) -> CaptureFileError:
        return CaptureFileError(f"interface description block {what}",
                                offset=self._input.base + pos, path=self.path)

    def _tsresol(self, value: bytes, again: bool, pos: int) -> int:
        if len(value) != 1:
            raise self._idb_error(f"has if_tsresol option with length {len(value)} != 1", pos)
        if again:
            raise self._idb_error("has more than one if_tsresol option", pos)
        code = value[0]
        if code & 0x80:
            if code & 0x7F > 63:
                raise self._idb_error(
                    f"if_tsresol option resolution 2^-{code & 0x7F} is too high", pos)
            return 1 << (code & 0x7F)
        if code > 19:
            raise self._idb_error(f"if_tsresol option resolution 10^-{code} is too high", pos)
        return int(10 ** code)

    def _options(self, btype: int, pos: int, start: int,
                 end: int) -> Iterator[tuple[int, bytes]]:
        """Option TLVs up to opt_endofopt or the end of the block body."""
        buf, order = self._input.buf, self._order
        while start < end:
            if end - start < 4:
                raise self._too_short(btype, pos)
            code, length = struct.unpack_from(order + "HH", buf, start)
            padded = (length + 3) & ~3
            if end - start - 4 < padded:
                raise self._too_short(btype, pos)
            if code == OPT_ENDOFOPT:
                if length:
                    raise self._idb_error(f"has opt_endofopt option with length {length} != 0",
                                          pos)
                return
            yield code, bytes(buf[start + 4:start + 4 + length])
            start += 4 + padded

    def _epb_run(self) -> Iterator[Packet]:
        """The fast path: consecutive well-formed EPBs already in the buffer, one unpack each.
        It stops at the first block that is anything else (another type, any damage, a block cut
        by the end of a stream chunk) and leaves it to the careful path, which reads it or
        raises the proper error."""
        inp, interfaces, section = self._input, self.interfaces, self._section_ifaces
        order, limit, new = self._order, self._max_block, tuple.__new__
        head = struct.Struct(order + "IIIIIII").unpack_from
        tail = struct.Struct(order + "I").unpack_from
        buf, n, pos = inp.buf, len(inp.buf), inp.pos
        while pos + 28 <= n:
            btype, total, ifid, hi, lo, cap, wire = head(buf, pos)
            if (btype != BT_EPB or total < 32 or total & 3 or total > limit or pos + total > n
                    or ifid >= len(section) or tail(buf, pos + total - 4)[0] != total):
                break
            index = section[ifid]
            iface = interfaces[index]
            if cap > iface.snapshot or cap > total - 32:
                break
            stamp, units, data_at = hi << 32 | lo, iface.ts_units, pos + 28
            options = b""
            if total - 32 - cap > 3:
                options = buf[data_at + ((cap + 3) & ~3):pos + total - 4]
            self.offset = inp.base + pos
            inp.pos = pos + total
            yield new(Packet, (stamp // units + iface.tsoffset, stamp % units, units, cap, wire,
                               buf[data_at:data_at + cap], iface.linktype, index, options,
                               order))
            pos += total

    def _pcapng_packets(self) -> Iterator[Packet]:
        inp, path = self._input, self.path
        while True:
            yield from self._epb_run()
            block = self._next_block()
            if block is None:
                return
            btype, pos, total = block
            buf, order, body, end = inp.buf, self._order, pos + 8, pos + total - 4
            if btype == BT_EPB or btype == BT_PB:
                fixed = 20
                if end - body < fixed:
                    raise self._too_short(btype, pos)
                if btype == BT_EPB:
                    ifid, hi, lo, cap, wire = struct.unpack_from(order + "IIIII", buf, body)
                else:  # the obsolete PB: a 16-bit interface id, then a drops count
                    ifid, _, hi, lo, cap, wire = struct.unpack_from(order + "HHIIII", buf, body)
                stamp = hi << 32 | lo
            elif btype == BT_SPB:
                fixed = 4
                if end - body < fixed:
                    raise self._too_short(btype, pos)
                ifid, stamp = 0, 0
                wire = struct.unpack_from(order + "I", buf, body)[0]
                cap = -1  # the minimum of len and the snapshot, once the interface is known
            else:
                if btype == BT_SHB:
                    self._new_section(pos, total, False)
                elif btype == BT_IDB:
                    self._add_interface(pos, total)
                inp.pos = pos + total
                continue
            if ifid >= len(self._section_ifaces):
                raise CaptureFileError(
                    f"a packet arrived on interface {ifid}, but there's no interface "
                    "description block for that interface", offset=inp.base + pos, path=path)
            index = self._section_ifaces[ifid]
            iface = self.interfaces[index]
            if cap < 0:
                cap = min(wire, iface.snapshot)
            elif cap > iface.snapshot:
                raise CaptureFileError(f"invalid packet capture length {cap}, bigger than "
                                       f"snaplen of {iface.snapshot}", offset=inp.base + pos,
                                       path=path)
            data_at = body + fixed
            if end - data_at < cap:
                raise self._too_short(btype, pos)
            units = iface.ts_units
            options = b""
            if btype == BT_EPB:
                options = bytes(buf[min(data_at + ((cap + 3) & ~3), end):end])
            self.offset = inp.base + pos
            inp.pos = pos + total
            yield Packet(stamp // units + iface.tsoffset, stamp % units, units, cap, wire,
                         bytes(buf[data_at:data_at + cap]), iface.linktype, index, options,
                         order)


def _section_order(magic: bytes) -> ByteOrder | None:
    if len(magic) == 4:
        if struct.unpack("<I", magic)[0] == BYTE_ORDER_MAGIC:
            return "<"
        if struct.unpack(">I", magic)[0] == BYTE_ORDER_MAGIC:
            return ">"
    return None


def open_capture(source: str | os.PathLike[str] | IO[bytes], *,
                 use_mmap: bool | None = None, clip_to_snaplen: bool = True) -> CaptureReader:
    """Opens a classic pcap or pcapng capture from a path or a binary stream.

    A regular file is memory-mapped unless ``use_mmap=False``; pipes and other streams are read
    in bounded chunks, never whole. Both paths yield identical packets and errors.
    ``clip_to_snaplen=False`` keeps classic pcap records longer than the snaplen whole.
    """
    return CaptureReader(source, use_mmap=use_mmap, clip_to_snaplen=clip_to_snaplen)


# The writers and the record index moved to their own modules; this one still hands them out,
# importing them on first use (PEP 562) so that a reader alone never pays for numpy.
_MOVED: Final = {"PcapWriter": "pcapwrite", "PcapngWriter": "pcapwrite",
                 "RecordIndex": "pcapindex", "build_index": "pcapindex"}


def __getattr__(name: str) -> object:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(f"{__package__}.{home}"), name)
    globals()[name] = value
    return value
