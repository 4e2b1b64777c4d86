"""Capture files written: classic pcap and pcapng, to a path or any binary stream.

Stage: the output edge of the offline and live paths (``-w``). Input: ``Packet`` records, as
``bpfc.pcapfile`` reads them or a capture hands them over; output: the bytes of a pcap or pcapng
file, written as they come (no seeking, so stdout and pipes work).

The writers keep what the reader keeps: a packet carries its timestamp in its file's own units
and, from pcapng, its EPB options in its file's byte order, so a file read and written back with
the same header (``PcapWriter.like``/``PcapngWriter.like``) comes out byte for byte. A DLT
without a LINKTYPE is refused as libpcap's pcap_dump_open refuses it.
"""

from __future__ import annotations

import os
import struct
from typing import IO, Self

from .errors import CaptureFileError
from .pcapfile import (
    BT_EPB,
    BT_IDB,
    BT_SHB,
    BYTE_ORDER_MAGIC,
    DLT_EN10MB,
    IF_TSRESOL,
    MAXIMUM_SNAPLEN,
    NSEC_TCPDUMP_MAGIC,
    OPT_ENDOFOPT,
    PCAP_VERSION_MAJOR,
    PCAP_VERSION_MINOR,
    TCPDUMP_MAGIC,
    ByteOrder,
    CaptureReader,
    Packet,
    PcapFileHeader,
    dlt_to_linktype,
    linktype_to_dlt,
)


class _Writer:
    """Owns the output stream when given a path; never seeks, so stdout and pipes work."""

    def __init__(self, file: str | os.PathLike[str] | IO[bytes]) -> None:
        if isinstance(file, (str, os.PathLike)):
            self._file: IO[bytes] = open(file, "wb")  # noqa: SIM115 - closed by close()
            self._owned = True
        else:
            self._file, self._owned = file, False

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if self._owned:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapWriter(_Writer):
    """Writes a classic pcap file: the header at once, then one record per ``write``.

    Timestamps are converted to the file's resolution only when the packet's differs, so a packet
    read from a file of the same byte order and resolution is written back byte for byte.
    """

    def __init__(self, file: str | os.PathLike[str] | IO[bytes], linktype: int = DLT_EN10MB,
                 snaplen: int = MAXIMUM_SNAPLEN, *, nanosecond: bool = False,
                 byteorder: ByteOrder = "<", header: PcapFileHeader | None = None) -> None:
        if header is None:
            header = PcapFileHeader(NSEC_TCPDUMP_MAGIC if nanosecond else TCPDUMP_MAGIC,
                                    byteorder, PCAP_VERSION_MAJOR, PCAP_VERSION_MINOR, 0, 0,
                                    snaplen, dlt_to_linktype(linktype))
        if header.record_header_size != 16 or header.lengths_swapped == "yes":
            raise CaptureFileError("cannot write pcap savefile version "
                                   f"{header.version_major}.{header.version_minor} records")
        super().__init__(file)
        self.header = header
        self.linktype = linktype_to_dlt(header.linktype_field)
        self._units = header.ts_units
        self._pack = struct.Struct(header.byteorder + "IIII").pack
        self._file.write(header.pack())

    @classmethod
    def like(cls, file: str | os.PathLike[str] | IO[bytes],
             reader: CaptureReader) -> PcapWriter:
        """A writer whose file header is the reader's (a classic pcap) or matches its first
        interface (pcapng), so that copying every packet reproduces a classic file exactly."""
        if reader.header is not None:
            return cls(file, header=reader.header)
        return cls(file, reader.linktype, reader.interfaces[0].snaplen,
                   nanosecond=reader.ts_units > 1_000_000, byteorder=reader.byteorder)

    def write(self, packet: Packet) -> None:
        if packet.linktype != self.linktype:
            raise CaptureFileError(f"a packet of link type {packet.linktype} cannot go into a "
                                   f"pcap file of link type {self.linktype}; write pcapng")
        frac = packet.ts_frac
        if packet.ts_units != self._units:
            frac = frac * self._units // packet.ts_units
        if not 0 <= packet.ts_sec <= 0xFFFFFFFF:
            raise CaptureFileError(f"timestamp {packet.ts_sec} s does not fit in a pcap file")
        self._file.write(self._pack(packet.ts_sec, frac, len(packet.data), packet.wirelen))
        self._file.write(packet.data)


class PcapngWriter(_Writer):
    """Writes a pcapng file: one SHB, one IDB per (link type, snaplen, resolution) first seen,
    one EPB per packet.

    With ``linktype`` given, that interface's IDB is written at once, so that even an empty
    capture is readable (libpcap refuses a file without IDBs). An EPB read from a file of the
    same byte order, written to the same interface layout, comes back byte for byte, options
    included; options of the other byte order are dropped, since their values cannot be swapped
    without knowing every option's type.
    """

    def __init__(self, file: str | os.PathLike[str] | IO[bytes], linktype: int | None = None,
                 snaplen: int = MAXIMUM_SNAPLEN, *, byteorder: ByteOrder = "<",
                 ts_units: int = 1_000_000) -> None:
        super().__init__(file)
        self.snaplen = snaplen
        self.byteorder = byteorder
        self._ids: dict[tuple[int, int, int], int] = {}
        self._file.write(struct.pack(byteorder + "IIIHHqI", BT_SHB, 28, BYTE_ORDER_MAGIC, 1, 0,
                                     -1, 28))
        if linktype is not None:
            self._interface(linktype, snaplen, ts_units)

    @classmethod
    def like(cls, file: str | os.PathLike[str] | IO[bytes],
             reader: CaptureReader) -> PcapngWriter:
        """A writer whose first IDB matches the reader's first interface (link type, snaplen,
        resolution) in the reader's byte order: a one-interface file's EPBs copy exactly."""
        first = reader.interfaces[0]
        return cls(file, first.linktype, first.snaplen, byteorder=reader.byteorder,
                   ts_units=first.ts_units)

    def _interface(self, dlt: int, snaplen: int, units: int) -> int:
        key = (dlt, snaplen, units)
        found = self._ids.get(key)
        if found is not None:
            return found
        order = self.byteorder
        options = b""
        if units != 1_000_000:
            options = struct.pack(order + "HHB3x", IF_TSRESOL, 1, _tsresol_code(units))
        options += struct.pack(order + "HH", OPT_ENDOFOPT, 0) if options else b""
        total = 20 + len(options)
        self._file.write(struct.pack(order + "IIHHI", BT_IDB, total, dlt_to_linktype(dlt), 0,
                                     snaplen) + options + struct.pack(order + "I", total))
        self._ids[key] = len(self._ids)
        return self._ids[key]

    def write(self, packet: Packet, snaplen: int | None = None) -> None:
        ifid = self._interface(packet.linktype, self.snaplen if snaplen is None else snaplen,
                               packet.ts_units)
        if packet.ts_sec < 0:
            raise CaptureFileError(f"timestamp {packet.ts_sec} s does not fit in a pcapng file")
        stamp = packet.ts_sec * packet.ts_units + packet.ts_frac
        if stamp > 0xFFFFFFFFFFFFFFFF:
            raise CaptureFileError(f"timestamp {packet.ts_sec} s does not fit in a pcapng file")
        order = self.byteorder
        options = packet.options if packet.byteorder == order else b""
        caplen = len(packet.data)
        pad = -caplen % 4
        total = 32 + caplen + pad + len(options)
        self._file.write(struct.pack(order + "IIIIIII", BT_EPB, total, ifid, stamp >> 32,
                                     stamp & 0xFFFFFFFF, caplen, packet.wirelen))
        self._file.write(packet.data)
        self._file.write(b"\0" * pad + options + struct.pack(order + "I", total))


def _tsresol_code(units: int) -> int:
    """The if_tsresol byte for a resolution: 10**k is k, 2**k is 0x80 | k."""
    if units & (units - 1) == 0 and units > 1:
        return 0x80 | (units.bit_length() - 1)
    code = len(str(units)) - 1
    if units != 10 ** code or code > 19:
        raise CaptureFileError(f"timestamp resolution 1/{units} s has no pcapng if_tsresol")
    return code
