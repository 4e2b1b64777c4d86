"""The vectorised offline path for the usual pcapng file: one section, one interface, packets in
enhanced packet blocks (what dumpcap, Wireshark and ``bpfc --pcapng`` write).

Stage: the pcapng branch of ``offline``'s mapped path. Input: a mapped pcapng file whose section
header and first interface description block the stream reader has read (``NgScan.of`` a
``nglayout.NgLayout``);
output: segment after segment (``NgScan.segment``), its EPBs as a batch for ``vector.run`` with
what writing them takes (offsets, lengths, timestamps), and where the segment ended.

Everything else (a second section or interface, simple or obsolete packet blocks, an EPB the
stream reader would refuse or write back differently, damage) raises ``Unusual``: ``offline``
then starts over on the stream path, which reads every file, so this path never has to decide a
hard case, and its output is the stream path's byte for byte.

Blocks are 4-byte aligned, so the file is walked as 32-bit words: a block at word q has its type
at q and its total length (bytes) at q + 1, and the next block starts total/4 words on. As in
``recindex``, many chains are walked at once, in lockstep, from guessed block starts (an EPB's
length stands at its start and again at its end, which makes a guess easy to check), and a chain
counts only where the one before it lands exactly on its first block.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .nglayout import NgLayout, Unusual
from .pcapfile import BT_EPB, BT_IDB, BT_PB, BT_SHB, BT_SPB, ByteOrder, Interface
from .recindex import gather_rows, row_view
from .vector import ROW, Batch, I64Array, U8Array

#: An EPB's fixed part: type, length, interface, timestamp (2 words), captured and original length.
EPB_HEAD: Final = 28
#: Words per segment (64 MB); chains start about CHAIN_WORDS apart (at most MAX_CHAINS of them),
#: and numpy steps them while at least MIN_ACTIVE go on; a guess looks GUESS_WORDS ahead.
SEGMENT_WORDS: Final = 1 << 24
CHAIN_WORDS: Final = 1 << 14
MIN_CHAINS: Final = 8
MAX_CHAINS: Final = 4096
MIN_ACTIVE: Final = 48
GUESS_WORDS: Final = 512
#: The block types a packet may come in that this path leaves to the stream path.
_NOT_HERE: Final = (BT_SHB, BT_IDB, BT_PB, BT_SPB)


@dataclass(frozen=True, slots=True, eq=False)
class NgSegment:
    """The EPBs of one segment, in the order the walk met them (not file order): byte offsets,
    total lengths, captured and original lengths, timestamps (in the interface's units), head
    rows (the 28-byte EPB header and the packet's first bytes); ``end`` is the byte offset after
    the segment's last block."""

    buf: mmap.mmap | bytes
    offset: I64Array
    total: I64Array
    caplen: I64Array
    wirelen: I64Array
    stamp: npt.NDArray[np.uint64]
    rows: U8Array
    end: int

    def __len__(self) -> int:
        return len(self.offset)

    def batch(self) -> Batch:
        return Batch(np.frombuffer(self.buf, dtype=np.uint8), self.offset + EPB_HEAD,
                     self.caplen, self.wirelen, self.rows, EPB_HEAD)


class NgScan:
    """Walks the blocks of a mapped one-section, one-interface pcapng file."""

    def __init__(self, buf: mmap.mmap | bytes, order: ByteOrder, interface: Interface,
                 first: int, max_block: int) -> None:
        if len(buf) % 4 or first % 4:
            raise Unusual("not a whole number of words")
        self.buf = buf
        self.size = len(buf)
        self.order = order
        self.interface = interface
        self.first = first
        self.max_block = max_block
        self.words = self.size // 4
        self._w = np.frombuffer(buf, dtype=np.dtype(order + "u4"))
        self._bytes = np.frombuffer(buf, dtype=np.uint8)
        self._rows = row_view(buf)
        self._heads: npt.NDArray[np.void] | None = None
        self._fields: I64Array | None = None
        u4 = order + "u4"
        self._word = np.dtype(u4)
        #: A head row's view as a block header (an EPB's fields; a block's type and length).
        self._header = np.dtype({"names": ["kind", "total", "interface", "high", "low",
                                           "caplen", "wirelen"],
                                 "formats": [u4] * 7, "offsets": list(range(0, 28, 4)),
                                 "itemsize": ROW})

    @classmethod
    def of(cls, layout: NgLayout, buf: mmap.mmap | bytes) -> NgScan:
        """The scan of a usual pcapng file (``nglayout.read_layout``), mapped as ``buf``, from
        its first block after the section header and the interface description."""
        return cls(buf, layout.order, layout.interface, layout.first, layout.max_block)

    # -- the walk ---------------------------------------------------------------------------

    def _walk(self, q: int, stop: int) -> tuple[list[int], int]:
        """Block starts (words) from ``q`` while below ``stop``, one by one; where it ended."""
        item, words = self._w.item, self.words
        at: list[int] = []
        mark = at.append
        while q < stop:
            if q + 3 > words:
                raise Unusual("a block header cut by the end of the file")
            total = item(q + 1)
            if total < 12 or total & 3 or q + (total >> 2) > words:
                raise Unusual("a block of impossible length")
            if item(q + (total >> 2) - 1) != total:
                raise Unusual("a block whose length differs at its end")
            mark(q)
            q += total >> 2
        return at, q

    def _guess(self, base: int, spacing: int, count: int) -> I64Array:
        """For each nominal word ``base + spacing * i`` (``i < count``), the first EPB start in
        the GUESS_WORDS from it whose length is plausible and stands again at its end (-1: none,
        or a window that would run off the end of the file). The windows are one strided view
        of the file, so nothing is gathered to look at them."""
        w, words = self._w, self.words
        found = np.full(count, -1, dtype=np.int64)
        fits = min(count, max(0, (words - 3 - GUESS_WORDS - base) // max(spacing, 1) + 1))
        if fits <= 0:
            return found
        windows = np.lib.stride_tricks.as_strided(
            w[base:], shape=(fits, GUESS_WORDS), strides=(spacing * 4, 4), writeable=False)
        row, col = np.nonzero(windows == BT_EPB)
        at = base + spacing * row + col
        total = w[at + 1].astype(np.int64)
        end = at + (total >> 2)
        ok = (total & 3 == 0) & (total >= 32) & (total <= self.max_block) & (end <= words)
        row, at, total, end = row[ok], at[ok], total[ok], end[ok]
        ok = w[end - 1] == total
        row, at = row[ok], at[ok]
        first, where = np.unique(row, return_index=True)
        found[first] = at[where]
        return found

    def blocks(self, start: int, stop: int) -> tuple[I64Array, U8Array, int]:
        """Every block start (words) from ``start`` (a block start) up to the first at or past
        ``stop``, with the block's head row, and the word after the last of them. The rows are
        fetched as the walk steps onto each block (one trip to memory per block) and come in
        *walk order*, not file order; they lie in a buffer the next call reuses."""
        span = stop - start
        chains = min(span // CHAIN_WORDS, MAX_CHAINS)
        if chains < MIN_CHAINS:
            marks, after = self._walk(start, stop)
            found = np.array(marks, dtype=np.int64)
            return found, self._gather(found * 4), after
        spacing = span // chains
        guesses = self._guess(start + spacing, spacing, chains - 1)
        # Two windows may find the same block; a guess at or past ``stop`` starts no chain.
        starts = np.unique(np.concatenate([np.array([start], dtype=np.int64),
                                           guesses[(guesses > start) & (guesses < stop)]]))
        stops = np.append(starts[1:], np.int64(stop))
        rows_of, header = self._rows, self._header
        landing = starts.copy()
        # A whole row must lie in the file; the exact walk takes a chain on from there.
        limit = np.minimum(stops, (len(rows_of) - 1) // 4 + 1)
        chain = np.flatnonzero(starts < limit)
        here, limit = starts[chain], limit[chain]
        ids: list[I64Array] = []
        seen: list[I64Array] = []
        buffer = self._buffer(span // 64 + len(starts))
        filled = 0
        w, words = self._w, self.words
        bad = np.zeros(len(starts), dtype=bool)
        while len(chain) >= MIN_ACTIVE:
            head = buffer[filled:filled + len(here)]
            head[...] = rows_of[here * 4]
            filled += len(here)
            ids.append(chain)
            seen.append(here)
            total = head.view(header)["total"]
            # A wrong guess's chain may read any length: it still moves on, and is dropped below.
            here = here + np.maximum(total >> 2, 3)
            # The length again at the block's end: the word before the next block, whose row
            # the next step fetches (so this costs no trip to memory of its own).
            differs = w[np.minimum(here, words) - 1] != total
            if differs.any():
                bad[chain[differs]] = True
            going = here < limit
            if not going.all():
                landing[chain[~going]] = here[~going]
                chain, here, limit = chain[going], here[going], limit[going]
        landing[chain] = here
        trusted = np.zeros(len(starts), dtype=bool)
        pieces: list[I64Array] = []
        expected = start
        for i, (chain_start, chain_stop) in enumerate(zip(starts.tolist(), stops.tolist(),
                                                          strict=True)):
            if chain_start == expected:
                trusted[i] = True
                marks, expected = self._walk(int(landing[i]), chain_stop)
            else:  # a wrong guess (rare): this stretch, exactly
                marks, expected = self._walk(expected, chain_stop)
            if marks:
                pieces.append(np.array(marks, dtype=np.int64))
        if bool(np.any(bad & trusted)):
            raise Unusual("a block whose length differs at its end")
        positions = np.concatenate([*seen, *pieces]) if seen or pieces else np.zeros(
            0, dtype=np.int64)
        # The exact walks' rows go after the lockstep's, in the same buffer: a fresh array of
        # this size per segment would cost more in page faults (and zeroed pages) than the
        # gathers themselves.
        if pieces:
            tail = np.concatenate(pieces)
            buffer = self._buffer(filled + len(tail), keep=filled)
            buffer[filled:filled + len(tail)] = self._gather(tail * 4).view(buffer.dtype).ravel()
            filled += len(tail)
        rows = buffer[:filled].view(np.uint8).reshape(filled, ROW)
        if ids and not trusted.all():
            keep = np.concatenate([trusted[np.concatenate(ids)],
                                   np.ones(len(positions) - sum(map(len, ids)), dtype=bool)])
            positions, rows = positions[keep], rows[keep]
        return positions, rows, expected

    def _buffer(self, size: int, keep: int = 0) -> npt.NDArray[np.void]:
        """The row buffer of ``blocks``, at least ``size`` rows, kept from call to call (fresh
        arrays every step would cost more in page faults than the gathers); growing keeps its
        first ``keep`` rows."""
        old = self._heads
        if old is None or len(old) < size:
            self._heads = np.empty(max(size, 2 * len(old) if old is not None else 0),
                                   dtype=self._rows.dtype)
            if old is not None and keep:
                self._heads[:keep] = old[:keep]
        assert self._heads is not None
        return self._heads

    # -- one segment ------------------------------------------------------------------------

    def middle(self) -> int:
        """A block start (bytes) guessed near the middle of the packets (-1: none found):
        where a second process may start. Only a walk up to it proves it one."""
        first = self.first >> 2
        found = int(self._guess(first + (self.words - first) // 2, 1, 1)[0])
        return found * 4 if found > first else -1

    def segment(self, start: int, stop: int | None = None) -> NgSegment:
        """The EPBs of the blocks from byte ``start`` (a block start) for about a segment, and
        not past the first block at or after byte ``stop``; ``Unusual`` for anything the stream
        reader reads differently from a plain EPB."""
        first = start >> 2
        end = self.words if stop is None else -(-stop // 4)
        starts, rows, after = self.blocks(first, min(first + SEGMENT_WORDS, end))
        if after > self.words:
            raise Unusual("a block cut by the end of the file")
        # The fixed fields of every block's header (an EPB's seven words), read from its head
        # row in one pass. (The walk checked that each length stands again at the block's end.)
        offset = starts * 4
        head = self._fields_for(len(rows))
        np.copyto(head, rows[:, :EPB_HEAD].view(self._word))
        kind, total = head[:, 0], head[:, 1]
        if int(total.max(initial=12)) > self.max_block:
            raise Unusual("a block longer than the stream reader takes")
        packet = kind == BT_EPB
        if not packet.all():
            if bool(np.isin(kind[~packet], _NOT_HERE).any()):
                raise Unusual("another section, interface or kind of packet block")
            offset, rows, head, total = offset[packet], rows[packet], head[packet], total[packet]
        caplen = head[:, 5]
        if (bool(np.any(head[:, 2] != 0)) or int(total.min(initial=32)) < 32
                or bool(np.any(caplen > np.minimum(total - 32, self.interface.snapshot)))):
            raise Unusual("an EPB the stream reader refuses")
        stamp = (head[:, 3].astype(np.uint64) << np.uint64(32)) | head[:, 4].astype(np.uint64)
        return NgSegment(self.buf, offset, total, caplen, head[:, 6], stamp, rows, after * 4)

    def _fields_for(self, count: int) -> I64Array:
        """``count`` rows of seven int64 header fields, in a buffer kept between segments."""
        if self._fields is None or len(self._fields) < count:
            self._fields = np.empty((max(count, 2 * len(self._fields) if self._fields is not None
                                         else 0), 7), dtype=np.int64)
        return self._fields[:count]

    def _gather(self, offsets: I64Array) -> U8Array:
        return gather_rows(self._rows, self._bytes, offsets)

    def nonzero_padding(self, seg: NgSegment, mask: npt.NDArray[np.bool_]) -> bool:
        """Whether a chosen EPB has non-zero bytes between its data and the next word (the
        stream path writes zeros there, so such an EPB cannot be copied as it lies)."""
        cap = seg.caplen[mask]
        pad = -cap & 3
        ends = seg.offset[mask] + EPB_HEAD + cap
        found = False
        for k in range(3):
            some = pad > k
            found = found or bool(np.any(self._bytes[ends[some] + k] != 0))
        return found
