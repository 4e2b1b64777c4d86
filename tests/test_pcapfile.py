"""Tests for bpfc.pcapfile, differential wherever an oracle exists.

Oracles: pcapy-ng (libpcap 1.9.1, in process) for packets and damage; the system libpcap 1.10.3
through ctypes (what tcpdump 4.99.3 links) for pcap_datalink/pcap_snapshot; tcpdump for reading
what we write; scapy's raw pcapng reader for mixed-link-type files that libpcap refuses; the
corpus inventory. Synthetic pcapng files are built here with struct.

Two documented differences from the oracles, applied in ``libpcap_view``/``linktype_oracle``:
libpcap sign-extends classic pcap's 32-bit seconds and microseconds (we keep them unsigned, as the
format defines them), and libpcap 1.9.1 (pcapy) does not map LINKTYPE_ATM_CLIP 106 to DLT 19
while 1.10.3 does (we follow 1.10.3, as tcpdump and the inventory do).
"""

from __future__ import annotations

import csv
import ctypes
import ctypes.util
import functools
import io
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpfc.errors import CaptureFileError
from bpfc.pcapfile import (
    BT_EPB,
    BT_IDB,
    BT_PB,
    BT_SHB,
    BT_SPB,
    BYTE_ORDER_MAGIC,
    CaptureReader,
    Packet,
    dlt_to_linktype,
    linktype_to_dlt,
    open_capture,
)
from bpfc.pcapindex import build_index
from bpfc.pcapwrite import PcapngWriter, PcapWriter
from tests.conftest import CORPUS, CORPUS_PCAPS

pcapy = pytest.importorskip("pcapy")

REPO = Path(__file__).resolve().parent.parent
CORPUS_FILES = sorted(p for p in CORPUS_PCAPS.glob("*") if p.suffix in (".pcap", ".pcapng"))
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason="corpus not present")
needs_tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="no tcpdump")
MODES = ["stream", "mmap"]


def corpus_ids(files: list[Path]) -> list[str]:
    return [p.name for p in files]


@functools.cache
def inventory() -> dict[str, dict[str, str]]:
    with (CORPUS / "inventory.tsv").open(newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def classic(files: list[Path]) -> list[Path]:
    return [p for p in files if p.read_bytes()[:4] != b"\n\r\r\n"]


# -- oracles -----------------------------------------------------------------------------------

LibpcapPacket = tuple[int, int, int, int, bytes]  # sec, usec, caplen, len, data


@dataclass(frozen=True)
class LibpcapRead:
    dlt: int | None
    packets: tuple[LibpcapPacket, ...]
    error: str | None


def pcapy_read(path: Path) -> LibpcapRead:
    """Everything libpcap (pcapy) delivers from a file, and the error that stopped it."""
    try:
        handle = pcapy.open_offline(str(path))
    except pcapy.PcapError as err:
        return LibpcapRead(None, (), str(err))
    packets: list[LibpcapPacket] = []
    error = None
    while True:
        try:
            header, data = handle.next()
        except pcapy.PcapError as err:
            error = str(err)
            break
        if header is None:
            break
        sec, frac = header.getts()
        packets.append((sec, frac, header.getcaplen(), header.getlen(), bytes(data)))
    return LibpcapRead(handle.datalink(), tuple(packets), error)


@functools.cache
def pcapy_corpus(name: str) -> LibpcapRead:
    return pcapy_read(CORPUS_PCAPS / name)


@functools.cache
def libpcap110() -> ctypes.CDLL | None:
    """The system libpcap (1.10.3, the one tcpdump uses), for facts pcapy does not expose."""
    name = ctypes.util.find_library("pcap")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.pcap_open_offline.restype = ctypes.c_void_p
    lib.pcap_open_offline.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    for fn in (lib.pcap_datalink, lib.pcap_snapshot):
        fn.argtypes = [ctypes.c_void_p]
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    lib.pcap_lib_version.restype = ctypes.c_char_p
    return lib


def libpcap110_header(path: Path) -> tuple[int, int]:
    """(pcap_datalink, pcap_snapshot) from the system libpcap."""
    lib = libpcap110()
    if lib is None:
        pytest.skip("no system libpcap")
    errbuf = ctypes.create_string_buffer(512)
    handle = lib.pcap_open_offline(str(path).encode(), errbuf)
    assert handle, errbuf.value
    try:
        return lib.pcap_datalink(handle), lib.pcap_snapshot(handle)
    finally:
        lib.pcap_close(handle)


def signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def libpcap_view(packet: Packet, fmt: str) -> LibpcapPacket:
    """Our packet as libpcap on a 64-bit host reports it at microsecond precision.

    Classic pcap: libpcap reads both timestamp fields as signed 32-bit and sign-extends them (a
    libpcap 1.9/1.10 quirk: the format says unsigned), and scales nanoseconds down with C's
    truncating division. pcapng: 64-bit arithmetic, fraction scaled to microseconds.
    """
    if fmt == "pcap":
        sec, frac = signed32(packet.ts_sec), signed32(packet.ts_frac)
        if packet.ts_units == 1_000_000_000:
            frac = int(frac / 1000)
    else:
        sec, frac = packet.ts_sec, packet.frac_in(1_000_000)
    return (sec, frac, packet.caplen, packet.wirelen, packet.data)


def read_all(source: Path | bytes, mode: str = "mmap",
             path_for_bytes: Path | None = None) -> tuple[list[Packet], CaptureFileError | None]:
    """Every packet our reader yields, and the error that ended it (None at a clean end)."""
    packets: list[Packet] = []
    if isinstance(source, bytes):
        if mode == "mmap":
            assert path_for_bytes is not None
            path_for_bytes.write_bytes(source)
            target: Path | io.BytesIO = path_for_bytes
        else:
            target = io.BytesIO(source)
    else:
        target = source if mode == "mmap" else io.BytesIO(source.read_bytes())
    try:
        with open_capture(target, use_mmap=None if mode == "mmap" else False) as reader:
            assert reader.mapped == (mode == "mmap")
            packets.extend(reader)
    except CaptureFileError as err:
        return packets, err
    return packets, None


# -- the corpus, against libpcap ---------------------------------------------------------------

@needs_corpus
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", CORPUS_FILES, ids=corpus_ids(CORPUS_FILES))
def test_corpus_packets_match_libpcap(path: Path, mode: str) -> None:
    expected = pcapy_corpus(path.name)
    assert expected.error is None
    packets, error = read_all(path, mode)
    assert error is None
    with open_capture(path) as reader:
        fmt = reader.format
    assert [libpcap_view(p, fmt) for p in packets] == list(expected.packets)
    assert len(packets) == int(inventory()[path.name]["packets"])
    assert all(p.caplen == len(p.data) and p.interface == 0 for p in packets)


def linktype_oracle(pcapy_dlt: int | None, raw_linktype: int) -> int:
    """pcapy's DLT, corrected for the one LINKTYPE that libpcap 1.9.1 fails to map."""
    assert pcapy_dlt is not None
    return 19 if raw_linktype == 106 and pcapy_dlt == 106 else pcapy_dlt


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=corpus_ids(CORPUS_FILES))
def test_corpus_header_facts_match_libpcap(path: Path) -> None:
    row = inventory()[path.name]
    with open_capture(path) as reader:
        assert reader.format == row["format"]
        first = reader.interfaces[0]
        assert first.snaplen == int(row["snaplen"])
        ours = (reader.linktype, reader.snaplen)
        raw = first.raw_linktype
        packets = list(reader)
    assert ours == libpcap110_header(path)
    assert row["libpcap_dlt"].endswith(f"({reader.linktype})")
    assert reader.linktype == linktype_oracle(pcapy_corpus(path.name).dlt, raw)
    assert all(p.linktype == reader.linktype for p in packets)


@needs_corpus
@pytest.mark.parametrize("path", classic(CORPUS_FILES), ids=corpus_ids(classic(CORPUS_FILES)))
def test_corpus_index_matches_packets(path: Path) -> None:
    index = build_index(path)
    packets, _ = read_all(path)
    assert len(index) == len(packets)
    assert index.caplen.tolist() == [p.caplen for p in packets]
    assert index.wirelen.tolist() == [p.wirelen for p in packets]
    assert index.ts_sec.tolist() == [p.ts_sec for p in packets]
    assert index.ts_frac.tolist() == [p.ts_frac for p in packets]
    assert [index.data(i) for i in range(len(index))] == [p.data for p in packets]
    assert (index.data_offset - index.offset == 16).all()
    if packets:
        width = 48
        rows = index.gather(width)
        for row, p in zip(rows, packets, strict=True):
            head = p.data[:width]
            assert bytes(row[:len(head)]) == head and not row[len(head):].any()


@needs_corpus
def test_time_2106_shows_the_signed_seconds_quirk() -> None:
    """The reason for libpcap_view's sign extension, pinned on the corpus file that shows it."""
    packets, _ = read_all(CORPUS_PCAPS / "time_2106_max.pcap")
    assert packets[-1].ts_sec == 0xFFFFFFFF
    assert pcapy_corpus("time_2106_max.pcap").packets[-1][0] == -1


@needs_corpus
def test_stdin_pipe_is_streamed() -> None:
    path = CORPUS_PCAPS / "of13_ericsson.pcapng"
    for source in (path, CORPUS_PCAPS / "pptp.pcap"):
        with subprocess.Popen(["cat", str(source)], stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            with open_capture(proc.stdout) as reader:
                assert not reader.mapped
                piped = list(reader)
        assert piped == read_all(source)[0]
    with subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with pytest.raises(CaptureFileError, match="not a regular file"):
            open_capture(proc.stdout, use_mmap=True)
        proc.stdout.read()


def bare(error: CaptureFileError) -> str:
    """The message without the path and offset prefixes."""
    text = str(error)
    if error.path is not None:
        text = text.removeprefix(f"{error.path}: ")
    return text.removeprefix(f"at byte offset {error.offset}: ")


class Trickle(io.RawIOBase):
    """A slow pipe: at most ``step`` bytes per read, no seeking, no read1."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.at = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.data[self.at:self.at + min(self.step, len(buffer))]
        buffer[:len(chunk)] = chunk
        self.at += len(chunk)
        return len(chunk)


@needs_corpus
@pytest.mark.parametrize("step", [1, 5, 64])
@pytest.mark.parametrize("name", ["pptp.pcap", "of13_ericsson.pcapng", "afs.pcap"])
def test_trickling_stream_with_tiny_chunks(name: str, step: int, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Every refill boundary falls somewhere inside a header or a packet, damaged copies too;
    the memory-mapped path is the reference."""
    monkeypatch.setattr("bpfc.pcapfile._STREAM_CHUNK", 7)
    blob = (CORPUS_PCAPS / name).read_bytes()
    if name == "afs.pcap" and step < 64:
        blob = blob[:20_000]
    for data in (blob, blob[:len(blob) * 2 // 3]):
        expected, error = read_all(data, "mmap", tmp_path / "ref")
        got: list[Packet] = []
        try:
            with open_capture(Trickle(data, step)) as reader:
                got.extend(reader)
        except CaptureFileError as err:
            assert error is not None and (err.offset, bare(err)) == (error.offset, bare(error))
        else:
            assert error is None
        assert got == expected


# -- linktype mapping -------------------------------------------------------------------------

def pcap_header(linktype: int, snaplen: int = 65535, order: str = "<",
                magic: int = 0xA1B2C3D4, version: tuple[int, int] = (2, 4)) -> bytes:
    return struct.pack(order + "IHHiIII", magic, *version, 0, 0, snaplen, linktype)


LINKTYPE_FIELDS = [*range(300), 0x04000001, 0x1C000069, 0xFC000065, 65535, 0x03FFFFFF]


def test_linktype_mapping_matches_libpcap(tmp_path: Path) -> None:
    """Every LINKTYPE 0..299, and some with FCS bits set, read as libpcap 1.10.3 reads them."""
    path = tmp_path / "lt.pcap"
    for field in LINKTYPE_FIELDS:
        path.write_bytes(pcap_header(field))
        with open_capture(path) as reader:
            assert (reader.linktype, reader.snaplen) == libpcap110_header(path), hex(field)
        assert reader.linktype == linktype_oracle(pcapy_read(path).dlt,
                                                  field & 0x03FFFFFF), hex(field)
        if field < 300:
            assert linktype_to_dlt(field) == reader.linktype


@pytest.mark.parametrize(("dlt", "linktype"), [(1, 1), (12, 101), (19, 106), (11, 100),
                                               (113, 113), (276, 276), (0, 0), (50, 50)],
                         ids=lambda v: str(v))
def test_dlt_to_linktype_inverts_the_read_mapping(dlt: int, linktype: int) -> None:
    assert dlt_to_linktype(dlt) == linktype and linktype_to_dlt(linktype) == dlt


def test_dlt_without_linktype_is_refused() -> None:
    with pytest.raises(CaptureFileError, match="isn't supported in savefiles"):
        dlt_to_linktype(13)


# -- writing -----------------------------------------------------------------------------------

@needs_corpus
@pytest.mark.parametrize("path", classic(CORPUS_FILES), ids=corpus_ids(classic(CORPUS_FILES)))
def test_pcap_copy_reproduces_the_file(path: Path) -> None:
    """Unclipped, every record is written back as it was. Clipped (libpcap's view), the copy
    differs exactly when some record is stored longer than the snaplen, and it reads back as
    libpcap reads the original."""
    copies, longest, snapshot = {}, 0, 0
    for clip in (False, True):
        out = io.BytesIO()
        with open_capture(path, clip_to_snaplen=clip) as reader, \
                PcapWriter.like(out, reader) as writer:
            for packet in reader:
                writer.write(packet)
                longest = max(longest, packet.caplen)
            snapshot = reader.snaplen
        copies[clip] = out.getvalue()
    assert copies[False] == path.read_bytes()
    assert (copies[True] == copies[False]) == (longest <= snapshot)
    back, error = read_all(copies[True], "stream")
    assert error is None
    assert [libpcap_view(p, "pcap") for p in back] == list(pcapy_corpus(path.name).packets)


def pcapng_blocks(blob: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(offset, type, whole block) for every block: an independent, minimal walker."""
    pos, order = 0, "<"
    while pos < len(blob):
        if blob[pos:pos + 4] == b"\n\r\r\n":
            order = "<" if struct.unpack("<I", blob[pos + 8:pos + 12])[0] == BYTE_ORDER_MAGIC \
                else ">"
        btype, total = struct.unpack(order + "II", blob[pos:pos + 8])
        yield pos, btype, blob[pos:pos + total]
        pos += total


PCAPNG_FILES = [p for p in CORPUS_FILES if p.suffix == ".pcapng"]


@needs_corpus
@pytest.mark.parametrize("path", PCAPNG_FILES, ids=corpus_ids(PCAPNG_FILES))
def test_pcapng_copy_reproduces_every_epb(path: Path) -> None:
    out = io.BytesIO()
    with open_capture(path) as reader, PcapngWriter.like(out, reader) as writer:
        for packet in reader:
            writer.write(packet, reader.interfaces[0].snaplen)
    original = [b for _, t, b in pcapng_blocks(path.read_bytes()) if t in (BT_EPB, BT_PB, BT_SPB)]
    copied = [b for _, t, b in pcapng_blocks(out.getvalue()) if t in (BT_EPB, BT_PB, BT_SPB)]
    assert copied == original
    assert read_all(out.getvalue(), "stream")[0] == read_all(path)[0]


WRITE_FORMATS = {
    "pcap-usec-le": lambda f, lt, snap: PcapWriter(f, lt, snap),
    "pcap-usec-be": lambda f, lt, snap: PcapWriter(f, lt, snap, byteorder=">"),
    "pcap-nsec-le": lambda f, lt, snap: PcapWriter(f, lt, snap, nanosecond=True),
    "pcap-nsec-be": lambda f, lt, snap: PcapWriter(f, lt, snap, nanosecond=True, byteorder=">"),
    "pcapng-le": lambda f, lt, snap: PcapngWriter(f, lt, snap),
    "pcapng-be": lambda f, lt, snap: PcapngWriter(f, lt, snap, byteorder=">"),
}
Writer = PcapWriter | PcapngWriter
WriterFactory = Callable[[io.BytesIO | Path, int, int], Writer]
SAMPLES = ["tcp-handshake-nano.pcap", "pptp.pcap", "of13_ericsson.pcapng", "time_2106_max.pcap",
           "isis-seg-fault-3.pcapng", "LINKTYPE_RAW_ipv6.pcap", "heap-overflow-2.pcap",
           "bpfc-synth-linux-sll2-a.pcap", "icmp-icmp_print-oobr-2.pcap", "empty.pcap"]


def expected_after_write(packet: Packet, fmt: str) -> tuple[int, int, int, int, bytes, int]:
    """What a packet must read back as: pcap files hold one resolution, pcapng any."""
    units = packet.ts_units
    if fmt.startswith("pcap-"):
        units = 1_000_000_000 if "nsec" in fmt else 1_000_000
    return (packet.ts_sec, packet.frac_in(units), packet.caplen, packet.wirelen, packet.data,
            packet.linktype)


def summary(packet: Packet) -> tuple[int, int, int, int, bytes, int]:
    return (packet.ts_sec, packet.ts_frac, packet.caplen, packet.wirelen, packet.data,
            packet.linktype)


@needs_corpus
@pytest.mark.parametrize("fmt", WRITE_FORMATS)
@pytest.mark.parametrize("name", SAMPLES)
def test_write_read_round_trip(name: str, fmt: str, tmp_path: Path) -> None:
    packets, _ = read_all(CORPUS_PCAPS / name)
    with open_capture(CORPUS_PCAPS / name) as reader:
        linktype, snaplen = reader.linktype, reader.interfaces[0].snaplen
    out = tmp_path / "out"
    with WRITE_FORMATS[fmt](out, linktype, snaplen) as writer:
        for packet in packets:
            writer.write(packet)
    for mode in MODES:
        back, error = read_all(out, mode)
        assert error is None
        assert [summary(p) for p in back] == [expected_after_write(p, fmt) for p in packets]


def tcpdump_copy(path: Path, nano: bool) -> bytes:
    """``tcpdump -r F -w -``: libpcap 1.10.3 reads our file and writes what it read."""
    cmd = ["tcpdump", "-r", str(path), "-w", "-"]
    if nano:
        cmd[1:1] = ["--time-stamp-precision=nano"]
    done = subprocess.run(cmd, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_tcpdump
@needs_corpus
@pytest.mark.parametrize("fmt", WRITE_FORMATS)
@pytest.mark.parametrize("name", SAMPLES[:5])
def test_tcpdump_reads_what_we_write(name: str, fmt: str, tmp_path: Path) -> None:
    packets, _ = read_all(CORPUS_PCAPS / name)
    with open_capture(CORPUS_PCAPS / name) as reader:
        linktype, snaplen = reader.linktype, reader.interfaces[0].snaplen
    ours = tmp_path / "ours"
    with WRITE_FORMATS[fmt](ours, linktype, snaplen) as writer:
        for packet in packets:
            writer.write(packet)
    nano = "nsec" in fmt or (fmt.startswith("pcapng") and packets
                             and packets[0].ts_units == 1_000_000_000)
    copy = tcpdump_copy(ours, nano)
    back, error = read_all(copy, "stream")
    assert error is None
    resolution = "pcap-nsec" if nano else "pcap-usec"
    assert [summary(p) for p in back] == [expected_after_write(p, resolution) for p in packets]
    if fmt in ("pcap-usec-le", "pcap-nsec-le"):
        assert copy == ours.read_bytes()  # libpcap writes exactly the bytes we wrote


def drain(stream: io.BufferedReader, sink: list[bytes]) -> None:
    sink.append(stream.read())


@needs_tcpdump
def test_writers_work_on_a_pipe_read_by_tcpdump() -> None:
    """stdout-like, non-seekable output: we write into tcpdump's stdin, it writes it back."""
    packets = [Packet.of(bytes(range(i, i + 60)), ts_sec=1_700_000_000 + i, ts_frac=i * 7)
               for i in range(50)]
    for make in (lambda f: PcapWriter(f), lambda f: PcapngWriter(f, 1)):
        with subprocess.Popen(["tcpdump", "-r", "-", "-w", "-"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            result: list[bytes] = []
            reader = threading.Thread(target=drain, args=(proc.stdout, result))
            reader.start()
            with make(proc.stdin) as writer:
                assert not proc.stdin.seekable()
                for packet in packets:
                    writer.write(packet)
            proc.stdin.close()
            reader.join()
            assert proc.wait() == 0
        assert read_all(result[0], "stream")[0] == packets


packet_strategy = st.builds(
    lambda data, sec, frac, extra: Packet.of(data, ts_sec=sec, ts_frac=frac,
                                             wirelen=len(data) + extra),
    st.binary(max_size=80), st.integers(0, 0xFFFFFFFF), st.integers(0, 999_999),
    st.integers(0, 1500))


@given(st.lists(packet_strategy, max_size=12), st.sampled_from(sorted(WRITE_FORMATS)))
def test_round_trip_property(packets: list[Packet], fmt: str) -> None:
    out = io.BytesIO()
    with WRITE_FORMATS[fmt](out, 1, 262144) as writer:
        for packet in packets:
            writer.write(packet)
    expected = [expected_after_write(p, fmt) for p in packets]
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:
            back, error = read_all(out.getvalue(), mode, Path(tmp) / "f")
            assert error is None
            assert [summary(p) for p in back] == expected


def test_pcap_writer_refuses_what_the_format_cannot_hold() -> None:
    writer = PcapWriter(io.BytesIO(), 1)
    with pytest.raises(CaptureFileError, match="link type 12"):
        writer.write(Packet.of(b"x", linktype=12))
    with pytest.raises(CaptureFileError, match="does not fit"):
        writer.write(Packet.of(b"x", ts_sec=1 << 32))


def test_pcapng_writer_keeps_link_types_and_resolutions_apart() -> None:
    out = io.BytesIO()
    packets = [Packet(5, 123_456_789, 1_000_000_000, 3, 3, b"abc", 1),
               Packet(6, 1, 1_000_000, 2, 9, b"de", 12),
               Packet(7, 3, 1 << 20, 1, 1, b"f", 113),
               Packet(8, 4, 1_000_000, 4, 4, b"ghij", 12)]
    with PcapngWriter(out) as writer:
        for packet in packets:
            writer.write(packet)
    with open_capture(io.BytesIO(out.getvalue())) as reader:
        back = list(reader)
        assert [(i.linktype, i.ts_units) for i in reader.interfaces] == [
            (1, 1_000_000_000), (12, 1_000_000), (113, 1 << 20)]
    assert [summary(p) for p in back] == [summary(p) for p in packets]
    assert [p.interface for p in back] == [0, 1, 2, 1]
    assert [p.ts_units for p in back] == [p.ts_units for p in packets]


# -- synthetic pcapng ------------------------------------------------------------------------

def block(order: str, btype: int, body: bytes, trailer: int | None = None) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return (struct.pack(order + "II", btype, total) + body
            + struct.pack(order + "I", total if trailer is None else trailer))


def option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(order: str, minor: int = 0) -> bytes:
    return block(order, BT_SHB, struct.pack(order + "IHHq", BYTE_ORDER_MAGIC, 1, minor, -1))


def idb(order: str, linktype: int, snaplen: int = 0, tsresol: int | None = None,
        tsoffset: int | None = None, name: str | None = None) -> bytes:
    opts = b""
    if name is not None:
        opts += option(order, 2, name.encode())
    if tsresol is not None:
        opts += option(order, 9, bytes([tsresol]))
    if tsoffset is not None:
        opts += option(order, 14, struct.pack(order + "q", tsoffset))
    if opts:
        opts += option(order, 0, b"")
    return block(order, BT_IDB, struct.pack(order + "HHI", linktype, 0, snaplen) + opts)


def epb(order: str, ifid: int, stamp: int, data: bytes, wirelen: int | None = None,
        opts: bytes = b"") -> bytes:
    fixed = struct.pack(order + "IIIII", ifid, stamp >> 32, stamp & 0xFFFFFFFF, len(data),
                        len(data) if wirelen is None else wirelen)
    return block(order, BT_EPB, fixed + data + b"\0" * (-len(data) % 4) + opts)


def spb(order: str, data: bytes, wirelen: int | None = None) -> bytes:
    return block(order, BT_SPB, struct.pack(order + "I", len(data) if wirelen is None
                                            else wirelen) + data)


def opb(order: str, ifid: int, stamp: int, data: bytes) -> bytes:
    fixed = struct.pack(order + "HHIIII", ifid, 7, stamp >> 32, stamp & 0xFFFFFFFF, len(data),
                        len(data) + 10)
    return block(order, BT_PB, fixed + data)


def other_blocks(order: str) -> bytes:
    """Blocks a packet reader must skip: a custom block, an ISB, a name resolution block."""
    return (block(order, 0x00000BAD, struct.pack(order + "I", 32473) + b"private")
            + block(order, 5, struct.pack(order + "III", 0, 1, 2))
            + block(order, 4, struct.pack(order + "HH", 0, 0)))


def payload(i: int, size: int = 40) -> bytes:
    return bytes((i * 31 + k) & 0xFF for k in range(size))


def libpcap_compatible(order: str) -> bytes:
    """Two sections, one link type and snaplen: what libpcap 1.9/1.10 accepts, but with every
    timestamp resolution form, tsoffset, SPB, the obsolete PB, options and skipped blocks."""
    s1 = (shb(order) + other_blocks(order)
          + idb(order, 1, 1500, name="eth0")
          + idb(order, 1, 1500, tsresol=9, tsoffset=1000)
          + idb(order, 1, 1500, tsresol=0x80 | 20)
          + epb(order, 0, 1_700_000_000_123_456, payload(1), 99,
                opts=option(order, 2, struct.pack(order + "I", 1)) + option(order, 0, b""))
          + epb(order, 1, 1_700_000_000_987_654_321, payload(2, 41))
          + other_blocks(order)
          + epb(order, 2, (1_700_000_000 << 20) + 777_777, payload(3, 1))
          + spb(order, payload(4, 1500), 1700)
          + opb(order, 1, 5_000_000_001, payload(5, 3)))
    s2 = (shb(order, minor=2)
          + idb(order, 1, 1500, tsresol=3, tsoffset=-5)
          + idb(order, 1, 1500)
          + epb(order, 0, 1_700_000_000_001, payload(6), opts=option(order, 0, b""))
          + spb(order, payload(7, 60))
          + epb(order, 1, 42, payload(8, 0), 0))
    return s1 + s2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", ["<", ">"], ids=["le", "be"])
def test_synthetic_sections_match_libpcap(order: str, mode: str, tmp_path: Path) -> None:
    blob = libpcap_compatible(order)
    (tmp_path / "s.pcapng").write_bytes(blob)
    expected = pcapy_read(tmp_path / "s.pcapng")
    assert expected.error is None and len(expected.packets) == 8
    packets, error = read_all(blob, mode, tmp_path / "m.pcapng")
    assert error is None
    assert [libpcap_view(p, "pcapng") for p in packets] == list(expected.packets)
    assert [p.interface for p in packets] == [0, 1, 2, 0, 1, 3, 3, 4]
    end_of_options = option(order, 0, b"")
    flags = option(order, 2, struct.pack(order + "I", 1)) + end_of_options
    assert [p.options for p in packets] == [flags, b"", b"", b"", b"", end_of_options, b"", b""]
    with open_capture(io.BytesIO(blob)) as reader:
        list(reader)
        assert [(i.section, i.id, i.ts_units, i.tsoffset) for i in reader.interfaces] == [
            (0, 0, 10**6, 0), (0, 1, 10**9, 1000), (0, 2, 1 << 20, 0),
            (1, 0, 10**3, -5), (1, 1, 10**6, 0)]
        assert reader.interfaces[0].name == "eth0"


def mixed_link_types(order: str) -> tuple[bytes, list[tuple[int, int, int]]]:
    """One section, interfaces of four link types and resolutions; libpcap refuses it."""
    ifaces = [(1, 10**6, 0), (101, 10**9, 0x09), (113, 1 << 16, 0x90), (276, 10**2, 0x02)]
    blob = shb(order)
    for lt, _, code in ifaces:
        blob += idb(order, lt, 9000, tsresol=code if lt != 1 else None)
    for i in range(12):
        ifid = (i * 7) % 4
        blob += epb(order, ifid, 1_650_000_000 * ifaces[ifid][1] + i * 12345, payload(i, 20 + i),
                    100 + i)
    return blob, ifaces


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", ["<", ">"], ids=["le", "be"])
def test_mixed_link_types_match_scapy(order: str, mode: str, tmp_path: Path) -> None:
    scapy_utils = pytest.importorskip("scapy.utils")
    blob, _ = mixed_link_types(order)
    (tmp_path / "x.pcapng").write_bytes(blob)
    expected = []
    with scapy_utils.RawPcapNgReader(str(tmp_path / "x.pcapng")) as oracle:
        for data, meta in oracle:
            stamp = meta.tshigh << 32 | meta.tslow
            expected.append((*divmod(stamp, meta.tsresol), meta.tsresol, len(data), meta.wirelen,
                             data, linktype_to_dlt(meta.linktype)))
    packets, error = read_all(blob, mode, tmp_path / "m.pcapng")
    assert error is None
    assert [(p.ts_sec, p.ts_frac, p.ts_units, p.caplen, p.wirelen, p.data, p.linktype)
            for p in packets] == expected
    assert {p.linktype for p in packets} == {1, 12, 113, 276}


def test_sections_of_both_byte_orders_and_link_types() -> None:
    """libpcap refuses a byte-order change and differing link types, scapy does not reset
    interfaces per section: the expectation is the pcapng definition, computed here."""
    first, second = mixed_link_types("<")[0], mixed_link_types(">")[0]
    third = (shb("<") + idb("<", 0, 100, tsresol=0x83, tsoffset=-100)
             + epb("<", 0, 81, b"\x02\0\0\0E", 5))
    packets, error = read_all(first + second + third, "stream")
    assert error is None
    _, ifaces = mixed_link_types("<")
    expected = []
    for order in "<>":
        for i in range(12):
            ifid = (i * 7) % 4
            lt, units, _ = ifaces[ifid]
            stamp = 1_650_000_000 * units + i * 12345
            expected.append((stamp // units, stamp % units, units, linktype_to_dlt(lt),
                             ifid + (4 if order == ">" else 0), order))
    expected.append((81 // 8 - 100, 81 % 8, 8, 0, 8, "<"))
    assert [(p.ts_sec, p.ts_frac, p.ts_units, p.linktype, p.interface, p.byteorder)
            for p in packets] == expected


# -- damage ------------------------------------------------------------------------------------

def boundaries(blob: bytes) -> tuple[list[int], int]:
    """Record (or block) start offsets from a minimal independent walk, plus the offset where
    the file header part ends (the first IDB's end for pcapng)."""
    if blob[:4] == b"\n\r\r\n":
        starts, ready = [], 0
        for pos, btype, whole in pcapng_blocks(blob):
            starts.append(pos)
            if btype == BT_IDB and not ready:
                ready = pos + len(whole)
        return [*starts, len(blob)], ready
    order = "<" if blob[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    starts, pos = [0], 24
    while pos < len(blob):
        starts.append(pos)
        pos += 16 + struct.unpack(order + "I", blob[pos + 8:pos + 12])[0]
    return [*starts, len(blob)], 24


def expected_damage_offset(cut: int, starts: list[int], ready: int) -> int | None:
    """Where a file cut after ``cut`` bytes is damaged: the record the cut falls in; None when
    the cut is a record boundary after the header part."""
    if cut in starts and cut >= ready:
        return None
    return max(s for s in starts if s <= cut)


TRUNCATED = ["pptp.pcap", "tcp-handshake-nano.pcap", "ipv6_no_next_header.pcap",
             "nfs-write-verf-cookie.pcapng", "smb_data_print-oobr.pcapng", "bgp-orf.pcapng"]


@needs_corpus
@pytest.mark.parametrize("name", TRUNCATED)
def test_truncation_anywhere_matches_libpcap(name: str, tmp_path: Path) -> None:
    blob = (CORPUS_PCAPS / name).read_bytes()
    starts, ready = boundaries(blob)
    cut_file, mapped = tmp_path / "cut", tmp_path / "mapped"
    fmt = "pcapng" if name.endswith("ng") else "pcap"
    for cut in range(len(blob)):
        cut_file.write_bytes(blob[:cut])
        expected = pcapy_read(cut_file)
        where = expected_damage_offset(cut, starts, ready)
        for mode in MODES:
            packets, error = read_all(blob[:cut], mode, mapped)
            assert [libpcap_view(p, fmt) for p in packets] == list(expected.packets), cut
            assert (error is None) == (expected.error is None), (cut, error, expected.error)
            if error is not None:
                assert error.offset == where, (cut, str(error))
                if fmt == "pcap":
                    assert str(error).endswith(str(expected.error)), cut
        if fmt == "pcap" and cut >= 24:
            index = build_index(cut_file, strict=False)
            _, error = read_all(cut_file)
            assert str(index.error) == str(error) and len(index) == len(expected.packets)


def patched(blob: bytes, at: int, fmt: str, *values: int) -> bytes:
    raw = bytearray(blob)
    struct.pack_into(fmt, raw, at, *values)
    return bytes(raw)


def pcap_damage_cases() -> Iterator[object]:
    blob = (CORPUS_PCAPS / "pptp.pcap").read_bytes() if CORPUS_FILES else b""
    if not blob:
        return
    starts, _ = boundaries(blob)
    rec = starts[5]
    yield pytest.param(patched(blob, 0, ">I", 0xA1B2C3D5), 0, id="bad-magic")
    yield pytest.param(patched(blob, 4, ">H", 1), 0, id="archaic-version")
    yield pytest.param(patched(blob, 4, ">HH", 2, 5), 0, id="unsupported-version")
    yield pytest.param(patched(blob, rec + 8, ">I", 300 << 20), rec, id="caplen-300MiB")
    yield pytest.param(patched(blob, rec + 8, ">I", 262145), rec, id="caplen-over-max")
    yield pytest.param(patched(patched(blob, 16, ">I", 0), rec + 8, ">I", 262145), rec,
                       id="caplen-over-max-snaplen-0")
    yield pytest.param(patched(patched(blob, 16, ">I", 1_000_000), rec + 8, ">I", 262145), rec,
                       id="caplen-over-max-snaplen-above-max")
    yield pytest.param(patched(blob, 16, ">I", 40), None, id="snaplen-cuts-packets")
    yield pytest.param(patched(blob, starts[-2] + 8, ">I", 100_000), starts[-2],
                       id="last-caplen-past-end")
    yield pytest.param(b"", 0, id="zero-bytes")
    yield pytest.param(blob[:24], None, id="header-only")
    yield pytest.param(b"\n\r\r\n" + b"x" * 30, 0, id="shb-type-then-garbage")


@needs_corpus
@pytest.mark.parametrize(("blob", "where"), list(pcap_damage_cases()))
def test_pcap_damage_matches_libpcap(blob: bytes, where: int | None, tmp_path: Path) -> None:
    (tmp_path / "d.pcap").write_bytes(blob)
    expected = pcapy_read(tmp_path / "d.pcap")
    for mode in MODES:
        packets, error = read_all(blob, mode, tmp_path / "m.pcap")
        assert [libpcap_view(p, "pcap") for p in packets] == list(expected.packets)
        assert (error is None) == (expected.error is None)
        if error is not None:
            assert error.offset == where
            assert str(error).endswith(str(expected.error))
            assert error.path == (str(tmp_path / "m.pcap") if mode == "mmap" else None)
    if where != 0:  # the file header is sound: index it too
        index = build_index(tmp_path / "d.pcap", strict=False)
        assert len(index) == len(expected.packets)
        assert (index.error is None) == (expected.error is None)
        if index.error is not None:
            with pytest.raises(CaptureFileError) as info:
                build_index(tmp_path / "d.pcap")
            assert str(info.value) == str(index.error) and info.value.offset == where


def pcapng_damage_cases() -> Iterator[object]:
    good = libpcap_compatible("<")
    starts = [pos for pos, _, _ in pcapng_blocks(good)]
    kinds = {pos: btype for pos, btype, _ in pcapng_blocks(good)}
    epbs = [pos for pos in starts if kinds[pos] == BT_EPB]
    idbs = [pos for pos in starts if kinds[pos] == BT_IDB]
    victim = epbs[1]
    yield pytest.param(patched(good, victim + 4, "<I", 62), victim, id="length-not-multiple-of-4")
    yield pytest.param(patched(good, victim + 4, "<I", 8), victim, id="length-below-12")
    yield pytest.param(patched(good, victim + 4, "<I", 0x7FFFFFF0), victim, id="length-huge")
    yield pytest.param(patched(good, victim + 4, "<I", 1 << 20), victim, id="length-past-end")
    end = victim + struct.unpack_from("<I", good, victim + 4)[0]
    yield pytest.param(patched(good, end - 4, "<I", 4), victim, id="trailer-mismatch")
    yield pytest.param(patched(good, victim + 8, "<I", 9), victim, id="unknown-interface")
    yield pytest.param(patched(good, victim + 20, "<I", 1501), victim, id="caplen-over-snaplen")
    yield pytest.param(patched(good, victim + 20, "<I", 1000), victim, id="caplen-past-block")
    small = shb("<") + idb("<", 1, 32) + epb("<", 0, 1, payload(1, 32))
    yield pytest.param(small + epb("<", 0, 2, payload(2, 33)), len(small),
                       id="caplen-over-snaplen-with-the-bytes")
    yield pytest.param(patched(good, idbs[1] + 16 + 2, "<H", 2), idbs[1],
                       id="tsresol-length-2")
    yield pytest.param(patched(good, idbs[1] + 20, "<B", 20), idbs[1], id="tsresol-10^-20")
    yield pytest.param(patched(good, idbs[2] + 20, "<B", 0x80 | 64), idbs[2],
                       id="tsresol-2^-64")
    yield pytest.param(patched(good, 8, "<I", 0x1A2B3C4E), 0, id="bad-byte-order-magic")
    yield pytest.param(patched(good, 4, "<I", 1 << 21), 0, id="shb-length-insane")
    yield pytest.param(patched(good, 12, "<H", 2), 0, id="shb-version-2")
    yield pytest.param(shb("<") + epb("<", 0, 1, b"x") + idb("<", 1), 28,
                       id="packet-before-idb")
    yield pytest.param(shb("<") + other_blocks("<"), len(shb("<") + other_blocks("<")),
                       id="no-idb")
    second = [pos for pos in starts if kinds[pos] == BT_SHB][1]
    # Only the magic says big-endian: read in that order the section's length is absurd.
    yield pytest.param(patched(good, second + 8, ">I", BYTE_ORDER_MAGIC), second,
                       id="second-section-magic-flipped")


@pytest.mark.parametrize(("blob", "where"), list(pcapng_damage_cases()))
def test_pcapng_damage_matches_libpcap(blob: bytes, where: int, tmp_path: Path) -> None:
    """pcapy decides whether the file is damaged and which packets precede the damage; the
    offset is the damaged block's, known from how the case was built."""
    (tmp_path / "d.pcapng").write_bytes(blob)
    expected = pcapy_read(tmp_path / "d.pcapng")
    for mode in MODES:
        packets, error = read_all(blob, mode, tmp_path / "m.pcapng")
        assert [libpcap_view(p, "pcapng") for p in packets] == list(expected.packets)
        assert (error is None) == (expected.error is None), (error, expected.error)
        assert error is not None and error.offset == where, str(error)


# -- the benchmark script ------------------------------------------------------------------

def test_benchmark_script_runs() -> None:
    done = subprocess.run([sys.executable, str(REPO / "bench" / "bench_pcapfile.py"),
                           "--records", "3000", "--repeat", "1"], capture_output=True, text=True,
                          check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    for reader in ("stream", "mmap", "index", "pcapy"):
        assert f"\n{reader} " in done.stdout


def test_index_of_large_synthetic_file_matches_numpy_model(tmp_path: Path) -> None:
    """Many records of varied sizes: offsets are the running sum of 16 + caplen."""
    rng = np.random.default_rng(7)
    sizes = rng.integers(0, 300, size=20_000)
    path = tmp_path / "big.pcap"
    with path.open("wb") as out, PcapWriter(out, snaplen=200) as writer:
        for i, size in enumerate(sizes.tolist()):
            writer.write(Packet.of(bytes([i & 0xFF]) * size, ts_sec=i, ts_frac=i % 1000,
                                   wirelen=size + 4))
    index = build_index(path)
    starts = 24 + np.concatenate(([0], np.cumsum(16 + sizes)[:-1]))
    assert index.offset.tolist() == starts.tolist()
    assert index.wirelen.tolist() == (sizes + 4).tolist()
    assert index.ts_sec.tolist() == list(range(len(sizes)))
    # Records longer than the file's snaplen are cut to it, as libpcap delivers them.
    assert index.caplen.tolist() == [p[2] for p in pcapy_read(path).packets]
    with CaptureReader(path) as reader:
        assert [p.caplen for p in reader] == index.caplen.tolist()
