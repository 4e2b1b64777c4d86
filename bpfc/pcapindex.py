"""The whole-file record index of a memory-mapped classic pcap file, as numpy arrays.

Stage: a mapped classic pcap file → ``RecordIndex`` (offset, data offset, captured and wire
length, timestamp of every record, as parallel arrays), built without a ``Packet`` per record.
Input: a path or a regular binary file holding classic pcap; output: the index, and the damage
that ended it early, if any. It is the plain, exact form of what ``bpfc.recindex`` does in
chunks for the numpy engine: the truth ``tests/test_recindex.py`` checks that module against,
and one of the read paths ``bench/bench_pcapfile.py`` times.

It lives apart from the reader so that ``bpfc.pcapfile``, and with it a ``bpfc -r`` of a small file
(the JIT, no numpy), imports without numpy; ``bpfc.pcapfile.build_index`` still finds it. It reads
the file through a ``CaptureReader``, which owns the header checks, the map and the error messages:
a damaged record is re-read by the reader itself, so the index reports exactly what iterating would.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from typing import IO

import numpy as np
import numpy.typing as npt

from .errors import CaptureFileError
from .pcapfile import ByteOrder, CaptureReader, max_snaplen_for_dlt

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class RecordIndex:
    """Where every record of a mapped classic pcap file lies, as parallel numpy arrays.

    ``offset`` is the record header, ``data_offset`` its packet bytes, ``caplen`` what libpcap
    delivers (cut to the snapshot). ``error`` is the damage that ended the index early, when it
    was built with ``strict=False``. ``buffer`` is the file's map, for ``data``/``gather``.
    """

    offset: Int64Array
    data_offset: Int64Array
    caplen: Int64Array
    wirelen: Int64Array
    ts_sec: Int64Array
    ts_frac: Int64Array
    ts_units: int
    linktype: int
    snaplen: int
    buffer: mmap.mmap | bytes
    error: CaptureFileError | None = None

    def __len__(self) -> int:
        return len(self.offset)

    def close(self) -> None:
        """Unmaps the file; arrays returned by ``gather`` must be gone by then."""
        if isinstance(self.buffer, mmap.mmap):
            self.buffer.close()

    def data(self, i: int) -> bytes:
        start = int(self.data_offset[i])
        return bytes(self.buffer[start:start + int(self.caplen[i])])

    def gather(self, width: int) -> npt.NDArray[np.uint8]:
        """The first ``width`` bytes of every packet as one (n, width) array, zero past caplen:
        the layout a vectorised filter engine reads fixed offsets from."""
        raw = np.frombuffer(self.buffer, dtype=np.uint8)
        cols = np.arange(width, dtype=np.int64)
        idx = self.data_offset[:, None] + cols
        inside = cols < self.caplen[:, None]
        np.minimum(idx, max(len(raw) - 1, 0), out=idx)
        out = raw[idx] if len(raw) else np.zeros(idx.shape, dtype=np.uint8)
        out[~inside] = 0
        return out


def build_index(source: str | os.PathLike[str] | IO[bytes], *,
                strict: bool = True) -> RecordIndex:
    """Indexes a classic pcap file through a memory map without building a Packet per record.

    The walk from one record header to the next is inherently sequential, so it is a tight loop
    of one ``unpack_from`` per record; every other field, and every check libpcap makes, is then
    done on whole numpy arrays. Damage raises ``CaptureFileError`` (``strict``) or ends the index
    with ``error`` set; either way the same error, at the same offset, as iterating would give.
    """
    reader = CaptureReader(source, use_mmap=True)
    hdr = reader.header
    if hdr is None:
        reader.close()
        raise CaptureFileError("a record index needs a classic pcap file, not pcapng",
                               path=reader.path)
    buffer, start = reader.mapped_records()
    if hdr.record_header_size == 16 and hdr.lengths_swapped == "no":
        fields, error = _walk(reader, buffer, start)
    else:
        fields, error = _scan(reader)
    if error is not None and strict:
        reader.close()
        raise error
    offset, caplen, wirelen, ts_sec, ts_frac = fields
    iface = reader.interfaces[0]
    return RecordIndex(offset, offset + hdr.record_header_size, caplen, wirelen, ts_sec,
                       ts_frac, iface.ts_units, iface.linktype, iface.snapshot, buffer, error)


_Fields = tuple[Int64Array, Int64Array, Int64Array, Int64Array, Int64Array]


def _walk(reader: CaptureReader, buf: mmap.mmap | bytes,
          start: int) -> tuple[_Fields, CaptureFileError | None]:
    hdr, iface = reader.header, reader.interfaces[0]
    assert hdr is not None
    order = hdr.byteorder
    unpack = struct.Struct(order + "I").unpack_from
    at: list[int] = []
    mark = at.append
    q = start + 8  # the caplen field of the record at q - 8
    try:
        while True:
            mark(q)
            q += 16 + unpack(buf, q)[0]
    except struct.error:
        pass  # the caplen field of the last mark lies (partly) past the end of the file
    n = len(buf)
    offs = np.array(at, dtype=np.int64) - 8
    # Every record but the last mark had a readable caplen; the last of those may be cut short.
    count = len(offs) - 1
    if count and offs[count - 1] + 16 > n:
        count -= 1
    walked = offs[:count]
    heads = _record_view(buf, order)[walked]  # one 16-byte gather: one cache miss per record
    caps = heads["caplen"].astype(np.int64)
    bad = np.flatnonzero((caps > max_snaplen_for_dlt(iface.linktype)) | (walked + 16 + caps > n))
    good = int(bad[0]) if len(bad) else len(walked)
    error = None
    if good < len(offs) - 1 or int(offs[-1]) != n:
        # Re-read the damaged record the ordinary way: the same message, the same offset.
        error = reader.damage_at(int(offs[good]))
    heads = heads[:good]
    fields = (walked[:good], np.minimum(caps[:good], iface.snapshot),
              heads["len"].astype(np.int64), heads["sec"].astype(np.int64),
              heads["frac"].astype(np.int64))
    return fields, error


def _record_view(buf: mmap.mmap | bytes, order: ByteOrder) -> npt.NDArray[np.void]:
    """A record header at every byte offset of the file (unaligned, no copy): indexing it with
    record offsets gathers whole headers."""
    u4 = order + "u4"
    dtype = np.dtype([("sec", u4), ("frac", u4), ("caplen", u4), ("len", u4)])
    return np.ndarray((max(len(buf) - 15, 0),), dtype=dtype, buffer=buf, strides=(1,))


def _scan(reader: CaptureReader) -> tuple[_Fields, CaptureFileError | None]:
    """The general path (Kuznetzov headers, pre-2.3 swapped lengths): one Packet per record."""
    rows: list[tuple[int, int, int, int, int]] = []
    error = None
    try:
        for p in reader:
            rows.append((reader.offset, p.caplen, p.wirelen, p.ts_sec, p.ts_frac))
    except CaptureFileError as err:
        error = err
    table = np.array(rows, dtype=np.int64).reshape(-1, 5)
    return (table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), table[:, 3].copy(),
            table[:, 4].copy()), error

