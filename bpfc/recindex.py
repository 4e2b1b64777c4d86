"""The record index of a memory-mapped classic pcap file: where each record lies, and the head
matrix the numpy batch engine reads.

Stage: the feed of the vectorised offline path. Input: a mapped classic pcap file (16-byte record
headers, lengths in their usual order) and a byte range of it that starts at a record boundary;
output: ``Chunk``s, runs of consecutive records as parallel arrays (offsets, lengths, head rows),
each one ``Chunk.batch()`` away from ``vector.run``, and ``PcapScan.damage_at``, the offset of
the first damaged record, once every record before it has been handed out.

The hop from one record header to the next is inherently sequential, so the exact walk
(``PcapScan.walk``) is one tight Python loop per record (a strided ``.item`` read, the cheapest
form we measured); everything else is gathered with numpy. A long range is walked as many chains
at once, in lockstep, from guessed record boundaries (``PcapScan.guess``); a chain is trusted only
where the one before it lands exactly on its first record, so a wrong guess costs time, never a
record. ``PcapScan.index_rows`` is the same walk for the two-process path: it gathers each
record's head row as it steps onto it (one trip to memory per record, not two) and hands the
records over in walk order, declining (None) wherever the exact walk must decide.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .pcapfile import Packet
from .vector import ROW, U32, Batch, BoolArray, I64Array, U8Array

RECORD_HEADER: Final = 16
#: Records per chunk handed to the engine: its arrays stay a few MB.
CHUNK_RECORDS: Final = 1 << 15
#: Bytes of a file indexed at a time; chains of the lockstep walk start about CHAIN_BYTES
#: apart (at most MAX_CHAINS per index), and numpy steps them while at least MIN_ACTIVE go on.
INDEX_BYTES: Final = 1 << 26
CHAIN_BYTES: Final = 1 << 16
MIN_CHAINS: Final = 8
MAX_CHAINS: Final = 4096
MIN_ACTIVE: Final = 48
#: Bytes after a chain's nominal start searched for a plausible record header; the first
#: GUESS_FIRST of them in every window at once, the rest only where those held none.
GUESS_WINDOW: Final = 2048
GUESS_FIRST: Final = 1024
#: Candidates tried per window, in order, before the window is given up.
GUESS_TRIES: Final = 8
#: Seconds a guessed record's timestamp may lie from the file's first one (a year).
MAX_SPAN: Final = 366 * 86400


@dataclass(frozen=True, slots=True, eq=False)
class Chunk:
    """Consecutive records of a mapped classic pcap file, as parallel arrays.

    ``offset`` is each record header's file offset, ``rawcap`` the caplen the file says,
    ``caplen`` what libpcap delivers (cut to the snapshot; ``clipped`` is True when some record
    was cut), ``end`` the offset just past the last record. ``rows`` is the head matrix: each
    record's header and the first bytes of its packet.
    """

    buf: mmap.mmap | bytes
    offset: I64Array
    rawcap: I64Array
    caplen: I64Array
    wirelen: I64Array
    rows: U8Array
    clipped: bool
    end: int
    units: int
    linktype: int
    byteorder: str

    def __len__(self) -> int:
        return len(self.offset)

    def batch(self) -> Batch:
        return Batch(np.frombuffer(self.buf, dtype=np.uint8), self.offset + RECORD_HEADER,
                     self.caplen, self.wirelen, self.rows, RECORD_HEADER)

    def timestamps(self, i: int) -> tuple[int, int]:
        sec, frac = struct.unpack_from(self.byteorder + "II", self.rows[i])
        return sec, frac

    def packet(self, i: int) -> Packet:
        at = int(self.offset[i]) + RECORD_HEADER
        cap = int(self.caplen[i])
        sec, frac = self.timestamps(i)
        return Packet(sec, frac, self.units, cap, int(self.wirelen[i]),
                      bytes(self.buf[at:at + cap]), self.linktype, 0, b"",
                      "<" if self.byteorder == "<" else ">")

    def record_bytes(self, i: int) -> bytes:
        """Record ``i`` as libpcap delivers it: header and data, cut to the snapshot."""
        at = int(self.offset[i])
        cap = int(self.caplen[i])
        sec, frac = self.timestamps(i)
        head = struct.pack(self.byteorder + "IIII", sec, frac, cap, int(self.wirelen[i]))
        return head + bytes(self.buf[at + RECORD_HEADER:at + RECORD_HEADER + cap])


def row_view(buf: mmap.mmap | bytes) -> npt.NDArray[np.void]:
    """A ROW-byte record at every byte offset of ``buf`` (no copy): indexing it with record
    offsets gathers their header and head bytes in one go."""
    return np.ndarray((max(len(buf) - ROW + 1, 0),), dtype=np.dtype((np.void, ROW)),
                      buffer=buf, strides=(1,))


def gather_rows(rows: npt.NDArray[np.void], raw: U8Array, offsets: I64Array) -> U8Array:
    """ROW bytes from each of the increasing ``offsets`` (``rows`` is ``raw``'s ``row_view``),
    zero past the end of ``raw``."""
    last = len(rows) - 1
    if not len(offsets) or int(offsets[-1]) <= last:
        return rows[offsets].view(np.uint8).reshape(len(offsets), ROW)
    near_end = int(np.searchsorted(offsets, last, side="right"))
    found = np.zeros((len(offsets), ROW), dtype=np.uint8)
    if near_end:
        found[:near_end] = rows[offsets[:near_end]].view(np.uint8).reshape(-1, ROW)
    for i in range(near_end, len(offsets)):
        tail = raw[int(offsets[i]):int(offsets[i]) + ROW]
        found[i, :len(tail)] = tail
    return found


def _step(chain: I64Array, here: I64Array, caplen: npt.NDArray[np.uint32], limit: I64Array,
          landing: I64Array) -> tuple[I64Array, I64Array, I64Array]:
    """One lockstep step: every chain moves past the record at ``here`` (of ``caplen`` bytes);
    those that reach their ``limit`` leave, their position noted in ``landing``."""
    here = caplen + here
    here += RECORD_HEADER
    going = here < limit
    if going.all():
        return chain, here, limit
    landing[chain] = here
    return chain[going], here[going], limit[going]


class PcapScan:
    """Walks the records of a mapped classic pcap (16-byte record headers, lengths in their
    usual order) chunk by chunk. ``damage_at`` is set, once ``chunks`` is exhausted, to the
    offset of the first damaged record (a caplen beyond the link type's maximum, a record or a
    record header cut by the end of the file), every record before it having been handed out.
    """

    def __init__(self, buf: mmap.mmap | bytes, byteorder: str, linktype: int, snapshot: int,
                 units: int) -> None:
        from .pcapfile import max_snaplen_for_dlt

        self.buf = buf
        self.size = size = len(buf)
        self.byteorder = byteorder
        self.linktype = linktype
        self.snapshot = snapshot
        self.units = units
        self.limit = max_snaplen_for_dlt(linktype)
        self.damage_at: int | None = None
        self.stopped_at = 0
        u4 = byteorder + "u4"
        # A ROW-byte record at every byte offset (no copy); indexing it with record offsets
        # gathers header and head bytes in one go.
        self._fields = np.dtype({"names": ["caplen", "len"], "formats": [u4, u4],
                                 "offsets": [8, 12], "itemsize": ROW})
        self._rows = row_view(buf)
        # Any u32 of the file, at any offset; the caplen field of a record at q is item q of
        # the second view.
        self._word = np.ndarray((max(size - 3, 0),), dtype=u4, buffer=buf, strides=(1,))
        self._bytes = np.frombuffer(buf, dtype=np.uint8)
        self._heads: npt.NDArray[np.void] | None = None
        self.first_sec = int(self._word[24]) if size >= 28 else 0
        self._caplen_at = np.ndarray((max(size - 11, 0),), dtype=u4, buffer=buf,
                                     offset=8 if size >= 12 else 0, strides=(1,))

    def walk(self, start: int, stop: int) -> tuple[list[int], int]:
        """Record offsets from ``start`` (a record boundary) while they are below ``stop`` and
        their header lies in the file; and the offset after the last one."""
        at: list[int] = []
        mark = at.append
        item = self._caplen_at.item
        q = start
        lim = min(stop, self.size - 15)
        while q < lim:
            mark(q)
            q += 16 + item(q)
        return at, q

    def gather(self, offsets: I64Array) -> U8Array:
        """The head matrix of the records at ``offsets``: ROW bytes from each, zero past the
        end of the file."""
        return gather_rows(self._rows, self._bytes, offsets)

    def chunks(self, start: int, stop: int, chunk_records: int = CHUNK_RECORDS,
               index_bytes: int = INDEX_BYTES) -> Iterator[Chunk]:
        """Chunks of at most ``chunk_records`` records, from ``start`` (a record boundary) up
        to the first record at or past ``stop``; ``stopped_at`` is then the offset after the
        last record handed out. The file is indexed ``index_bytes`` at a time (``index``), so
        memory stays bounded whatever its size."""
        q = start
        self.stopped_at = start
        while q < stop:
            self.prefetch(q + index_bytes, index_bytes)
            offsets, after = self.index(q, min(q + index_bytes, stop))
            yield from self.split(offsets, q, after, stop, chunk_records)
            if self.damage_at is not None or not len(offsets):
                return
            q = after

    def prefetch(self, begin: int, size: int) -> None:
        """Asks the kernel to start reading [begin, begin + size) of the file now, so that a
        capture not (wholly) in the page cache is read ahead of the index, not under it."""
        if isinstance(self.buf, mmap.mmap) and begin < self.size:
            begin -= begin % mmap.PAGESIZE
            self.buf.madvise(mmap.MADV_WILLNEED, begin, min(size, self.size - begin))

    def split(self, offsets: I64Array, start: int, after: int, stop: int,
              chunk_records: int = CHUNK_RECORDS) -> Iterator[Chunk]:
        """The chunks of the records ``offsets`` that ``index(start, ...)`` found (``after``:
        where it ended), up to the first damaged one."""
        if not len(offsets):
            self.chunk(offsets, start, after, stop)  # notes damage at ``start``, if any
            return
        for first in range(0, len(offsets), chunk_records):
            part = offsets[first:first + chunk_records]
            last = first + chunk_records >= len(offsets)
            end = after if last else int(offsets[first + chunk_records])
            chunk = self.chunk(part, int(part[0]), end, stop)
            if chunk is not None:
                yield chunk
            if self.damage_at is not None:
                return

    def index(self, start: int, stop: int) -> tuple[I64Array, int]:
        """The offsets of the records from ``start`` (a known boundary) up to the first at or
        past ``stop`` or the end of the file, and the offset where that walk ended.

        Walking record to record is sequential, and a Python loop costs ~150 ns a record; so a
        long range is walked as many chains at once, in lockstep, with numpy: chains start at
        guessed boundaries (``guess``) spread over the range, and each step moves every chain
        one record. A chain is trusted only if the chain before it (or ``start``) lands exactly
        on its first record; an untrusted one is walked again, the slow exact way, from where
        the previous one really ended. So a wrong guess costs time, never a record."""
        chained = self._chains(start, stop)
        if chained is None:
            marks, after = self.walk(start, stop)
            return np.array(marks, dtype=np.int64), after
        starts, stops = chained
        ids, positions, landing, tails = self._lockstep(starts, stops)
        positions = positions[np.argsort(ids, kind="stable")]
        if not tails and np.array_equal(landing[:-1], starts[1:]):
            return positions, int(landing[-1])  # every guess confirmed: the common case
        ends = np.cumsum(np.bincount(ids, minlength=len(starts)))
        pieces: list[I64Array] = []
        expected, begin = start, 0
        for i, (chain_start, end) in enumerate(zip(starts.tolist(), ends.tolist(),
                                                   strict=True)):
            if chain_start == expected:
                pieces.append(positions[begin:end])
                tail = tails.get(i)
                if tail is not None:
                    pieces.append(np.array(tail, dtype=np.int64))
                expected = int(landing[i])
            else:  # a wrong guess (or the previous chain hit damage): walk this range exactly
                marks, expected = self.walk(expected, int(stops[i]))
                pieces.append(np.array(marks, dtype=np.int64))
            begin = end
        return np.concatenate(pieces), expected

    def _chains(self, start: int, stop: int) -> tuple[I64Array, I64Array] | None:
        """Where the lockstep chains over [start, stop) begin (``start``, then the boundaries
        guessed about CHAIN_BYTES apart) and where each must stop (the next one's start); None
        when the range is too short for numpy to pay."""
        span = stop - start
        chains = min(span // CHAIN_BYTES, MAX_CHAINS)
        if chains < MIN_CHAINS:
            return None
        spacing = span // chains
        guesses = self.guess(start + spacing * np.arange(1, chains, dtype=np.int64), spacing)
        starts = np.concatenate([np.array([start], dtype=np.int64), guesses[guesses >= 0]])
        return starts, np.append(starts[1:], np.int64(stop))

    def _lockstep(self, starts: I64Array, stops: I64Array
                  ) -> tuple[npt.NDArray[np.int16], I64Array, I64Array, dict[int, list[int]]]:
        """Walks every chain ``i`` from ``starts[i]`` while below ``stops[i]`` (and while a
        record header fits in the file). Returns the chain id and offset of every record, in
        step order; where each chain ended; and, for the chains that were still going when too
        few remained for numpy to pay, the rest of their records, walked one by one."""
        caplen_at = self._caplen_at
        pos = starts.copy()
        bound = np.minimum(stops, self.size - 15)
        chain = np.flatnonzero(pos < bound)
        # The chains still going, compacted: their positions, bounds and ids side by side, so
        # that a step is one gather, two adds and one compare.
        here, limit = pos[chain], bound[chain]
        ids: list[npt.NDArray[np.int64]] = []
        seen: list[I64Array] = []
        while len(chain) >= MIN_ACTIVE:
            ids.append(chain)
            seen.append(here)
            chain, here, limit = _step(chain, here, caplen_at[here], limit, pos)
        pos[chain] = here
        active = chain
        tails: dict[int, list[int]] = {}
        for i in active.tolist():
            tails[i], pos[i] = self.walk(int(pos[i]), int(stops[i]))
        if not ids:
            return (np.zeros(0, dtype=np.int16), np.zeros(0, dtype=np.int64), pos, tails)
        # int16 ids: numpy sorts them with a radix sort (a stable sort by chain, in O(n)).
        return (np.concatenate(ids).astype(np.int16), np.concatenate(seen), pos, tails)

    def index_rows(self, start: int, stop: int) -> Chunk | None:
        """The records from ``start`` (a known boundary) up to the first at or past ``stop``,
        as one chunk in *walk order*, not file order: the lockstep walk (see ``index``) gathers
        each record's head row as it steps onto it, so a record's header is fetched from
        memory once, not once to walk and again to filter. None when the fast way cannot
        vouch for the result (a wrong guess, damage, the end of the file within reach, too
        short a range): the caller then takes ``index``, which sorts all of that out. The
        chunk's rows live in a buffer the next call reuses: filter it before walking on."""
        stop = min(stop, self.size)
        chained = self._chains(start, stop)
        if chained is None:
            return None
        starts, ends = chained
        # A chain leaves the lockstep where a whole row no longer fits in the file; the walk
        # one by one takes it to its end (``gather`` pads those last rows).
        limit = np.minimum(ends, self.size - ROW + 1)
        rows_of, fields = self._rows, self._fields
        chain = np.arange(len(starts))
        here = starts
        landing = np.empty(len(starts), dtype=np.int64)
        seen: list[I64Array] = []
        # Rows go straight into one buffer kept from call to call: a fresh array per step
        # (and their concatenation) would cost more in page faults than the gathers do.
        self._heads_for((stop - start) // 256 + len(starts))
        filled = 0
        while len(chain) >= MIN_ACTIVE:
            head = self._put_rows(filled, rows_of[here])
            filled += len(here)
            seen.append(here)
            chain, here, limit = _step(chain, here, head.view(fields)["caplen"], limit, landing)
        landing[chain] = here
        for i in np.flatnonzero(landing < ends).tolist():
            marks, landing[i] = self.walk(int(landing[i]), int(ends[i]))
            if marks:
                tail = np.array(marks, dtype=np.int64)
                self._put_rows(filled, self.gather(tail).view(rows_of.dtype).ravel())
                filled += len(tail)
                seen.append(tail)
        if not np.array_equal(landing[:-1], starts[1:]) or not seen:
            return None
        if stop == self.size and int(landing[-1]) != stop:
            return None  # a record header cut by the end of the file: damage
        offsets = np.concatenate(seen)
        assert self._heads is not None
        rows = self._heads[:filled].view(np.uint8).reshape(filled, ROW)
        chunk = self._chunk_of(offsets, rows, int(landing[-1]))
        if chunk is None or bool(np.any(chunk.offset + 16 + chunk.rawcap > self.size)):
            return None
        return chunk

    def _heads_for(self, size: int) -> npt.NDArray[np.void]:
        """The row buffer of ``index_rows``, at least ``size`` rows; when it has to grow, it
        doubles and keeps what it held."""
        old = self._heads
        if old is not None and len(old) >= size:
            return old
        new = np.empty(max(size, 2 * len(old) if old is not None else 0), dtype=self._rows.dtype)
        if old is not None:
            new[:len(old)] = old
        self._heads = new
        return new

    def _put_rows(self, filled: int, rows: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
        """Stores ``rows`` after the first ``filled`` of the row buffer (growing it); returns
        where they now lie."""
        place = self._heads_for(filled + len(rows))[filled:filled + len(rows)]
        place[...] = rows
        return place

    def _chunk_of(self, offsets: I64Array, rows: U8Array, after: int) -> Chunk | None:
        """A chunk of records whose head rows are gathered; None if one is damaged (a caplen
        beyond the link type's maximum)."""
        fields = rows.reshape(-1).view(self._fields)
        rawcap = fields["caplen"].astype(np.int64)
        if int(rawcap.max(initial=0)) > self.limit:
            return None
        caplen = rawcap
        clipped = int(rawcap.max(initial=0)) > self.snapshot
        if clipped:
            caplen = np.minimum(rawcap, self.snapshot)
        return Chunk(self.buf, offsets, rawcap, caplen, fields["len"].astype(np.int64), rows,
                     clipped, after, self.units, self.linktype, self.byteorder)

    def guess(self, nominal: I64Array, spacing: int, window: int = GUESS_WINDOW) -> I64Array:
        """For each of the equally spaced offsets ``nominal``, the first offset in the
        ``window`` bytes after it from which a few record headers in a row look sane
        (``sane_chains``); -1 where none does."""
        found = np.full(len(nominal), -1, dtype=np.int64)
        if not len(nominal):
            return found
        width = min(window, max(spacing // 2, 1), self.size - 16 - int(nominal[-1]))
        if width <= 0:
            return found
        # Most windows hold a record boundary near their start; only those that do not are
        # searched further, so most of the window is never looked at.
        first = min(width, GUESS_FIRST)
        grid = np.lib.stride_tricks.as_strided(self._bytes[int(nominal[0]):], writeable=False,
                                               shape=(len(nominal), first + 3),
                                               strides=(spacing, 1))
        self._pick(found, nominal, grid, np.arange(len(nominal)), 0)
        rest = np.flatnonzero(found < 0)
        if len(rest) and width > first:
            grid = self._bytes[nominal[rest, None] + np.arange(first, width + 3)]
            self._pick(found, nominal, grid, rest, first)
        return found

    def _pick(self, found: I64Array, nominal: I64Array, grid: U8Array, rows: I64Array,
              skip: int) -> None:
        """Sets ``found[rows[i]]`` to the first offset ``nominal[rows[i]] + skip + d`` whose
        header passes ``sane_chains``, ``grid[i, d]`` being the byte at that offset (``grid``
        has 3 columns more than there are offsets to try: a header's fourth byte)."""
        word = self._word
        # The most significant byte of a header's seconds must be one the first record's
        # allows: one byte compared per offset, and random bytes or runs of zeros seldom pass.
        low = max(self.first_sec - MAX_SPAN, 0) >> 24
        high = min(self.first_sec + MAX_SPAN, U32) >> 24
        top = grid[:, 3:] if self.byteorder == "<" else grid[:, :-3]
        if low == high:
            hits = np.flatnonzero(top == low)
        else:
            hits = np.flatnonzero((top - np.uint8(low)) <= np.uint8(high - low))
        width = top.shape[1]
        rows = rows[hits // width]
        cand = nominal[rows] + skip + hits % width
        # One cheap look at each candidate's own header first (most random hits fail it), then
        # the chain test on the first few survivors of each window only.
        sane = word[cand + 8] <= self.limit
        rows, cand = rows[sane], cand[sane]
        sane = np.abs(word[cand].astype(np.int64) - self.first_sec) <= MAX_SPAN
        if self.units <= 1_000_000_000:
            sane &= word[cand + 4] < self.units
        rows, cand = rows[sane], cand[sane]
        pending = np.ones(len(found), dtype=np.bool_)
        for _ in range(GUESS_TRIES):
            if not len(cand):
                break
            first_rows, first = np.unique(rows, return_index=True)
            good = self.sane_chains(cand[first])
            found[first_rows[good]] = cand[first[good]]
            pending[first_rows[good]] = False
            keep = np.ones(len(cand), dtype=np.bool_)
            keep[first] = False
            keep &= pending[rows]
            rows, cand = rows[keep], cand[keep]

    def sane_chains(self, starts: I64Array, hops: int = 4) -> BoolArray:
        """Whether ``hops`` record headers in a row, from each of ``starts``, look like ones
        (fraction below a second, caplen within the link type's maximum, seconds within a day
        of the first), or the chain ends exactly at the end of the file."""
        word, size = self._word, self.size
        first = word[starts].astype(np.int64)
        ok = np.ones(len(starts), dtype=np.bool_)
        ended = np.zeros(len(starts), dtype=np.bool_)
        q = starts.copy()
        for _ in range(hops):
            ended |= q == size
            inside = q <= size - 16
            at = np.where(inside, q, 0)
            sec = word[at].astype(np.int64)
            frac = word[at + 4]
            cap = word[at + 8].astype(np.int64)
            sane = inside & (cap <= self.limit) & (np.abs(sec - first) <= 86400)
            if self.units <= 1_000_000_000:
                sane &= frac < self.units
            ok &= sane | ended
            q = np.where(sane & ~ended, q + 16 + cap, q)
        return ok

    def chunk(self, marks: list[int] | I64Array, start: int, after: int,
              stop: int) -> Chunk | None:
        """The chunk of walked records ``marks`` (from ``start``; ``after`` is where the walk
        ended), cut at the first damaged record, which ``damage_at`` then names."""
        size = self.size
        offsets = np.asarray(marks, dtype=np.int64)
        rows = self.gather(offsets)
        fields = rows.reshape(-1).view(self._fields)
        rawcap = fields["caplen"].astype(np.int64)
        bad = np.flatnonzero((rawcap > self.limit) | (offsets + 16 + rawcap > size))
        if len(bad):
            cut = int(bad[0])
            self.damage_at = int(offsets[cut])
            offsets, rows, rawcap, fields = offsets[:cut], rows[:cut], rawcap[:cut], fields[:cut]
            after = int(offsets[-1] + 16 + rawcap[-1]) if cut else start
        elif size - 15 <= after < min(size, stop):
            self.damage_at = after  # a record header cut by the end of the file
        self.stopped_at = after
        if not len(offsets):
            return None
        caplen = rawcap
        clipped = int(rawcap.max()) > self.snapshot
        if clipped:
            caplen = np.minimum(rawcap, self.snapshot)
        return Chunk(self.buf, offsets, rawcap, caplen, fields["len"].astype(np.int64), rows,
                     clipped, after, self.units, self.linktype, self.byteorder)
