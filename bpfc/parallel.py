"""Two processes over one big mapped pcap file, so that ``bpfc -r`` uses both CPUs.

Stage: the parallel branch of the mapped offline path. Input: a mapped classic pcap
(``offline.Mapped``), the compiled filter and a sink whose work merges from byte ranges and
counts (``CopySink`` writing pcap, or ``CountSink``); output: exactly what ``offline``'s
one-process chunk loop gives: the same records written or counted, in file order, and the same
damage.

The parent forks one child after cutting the file into segments; the two share the segments
through a token pipe, the child's results (counts, runs of matches) come back through a result
pipe, and the parent's write orders go out through a third (``TwoCores`` says how the order of
the output and the absence of deadlock are kept). ``offline`` decides when this pays and imports
this module only then; this module imports ``offline`` for the pieces both paths share, so there
is no import cycle at import time. numpy is imported inside functions, as there.
"""

from __future__ import annotations

import os
import struct
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .errors import CaptureFileError
from .offline import Counts, Filters, Mapped, Progress, Sink, Stages, replay_damage, verdicts_of
from .runwriter import CopySink, runs_of, sorted_runs

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .program import Program
    from .recindex import Chunk

    I64Array = npt.NDArray[np.int64]

#: Bytes per segment of the two-process split (more segments for very large files).
SEGMENT_BYTES: Final = 32 << 20
#: At most this many segments: the parent's write orders (16 bytes each) then always fit in a
#: pipe's 64 KiB, so writing one never blocks.
MAX_SEGMENTS: Final = 2048
#: Bytes searched for a record boundary at the start of a segment.
SEGMENT_GUESS: Final = 1 << 18
#: Segments the child indexes ahead while the parent is still compiling.
BACKLOG: Final = 8
#: Segments the child may have filtered and not yet written (their pages stay mapped).
AHEAD: Final = 3
#: The pipes' messages: a segment's result (index, start, end, damage, read, matched, redo,
#: size, runs, 0; index -1 carries the child's stage times, index _FAILED the length of the
#: child's error message, which follows), a claimed segment's index, and a write order
#: (index, output offset).
_RESULT: Final = struct.Struct("<10q")
_FAILED: Final = -2
_TOKEN: Final = struct.Struct("<H")
_ORDER: Final = struct.Struct("<qq")


@dataclass(slots=True)
class Segment:
    """What one process found in one segment of the file: the records from ``start`` (a guessed
    boundary; -1 when none was found) to ``end``, their counts, the byte ranges of the runs of
    matches and their total size, and the offset of damage (-1: none). ``redo`` asks the parent
    to redo the range itself (matching records longer than the snapshot are written cut)."""

    index: int
    start: int
    end: int
    damage: int
    read: int
    matched: int
    redo: bool
    size: int
    begins: I64Array
    ends: I64Array

    def pack(self, with_runs: bool) -> bytes:
        runs = len(self.begins) if with_runs else 0
        head = _RESULT.pack(self.index, self.start, self.end, self.damage, self.read,
                            self.matched, int(self.redo), self.size, runs, 0)
        if not runs:
            return head
        return head + self.begins.tobytes() + self.ends.tobytes()


@dataclass(frozen=True, slots=True, eq=False)
class Indexed:
    """A segment's record offsets, found from ``start`` (-1: no boundary found in it), and
    where the walk ended."""

    index: int
    start: int
    offsets: I64Array
    after: int


class TwoCores:
    """Filters a big mapped pcap in two processes.

    The file is cut into segments at fixed byte offsets. Each process claims the next segment
    (a 2-byte token read from a shared pipe: reads of a pipe are atomic), guesses the first
    record boundary in it (``PcapScan.guess``), indexes and filters it. The parent accepts
    segments in file order, each only if it starts exactly where the previous one ended, so a
    wrong guess costs a redo, never a wrong record; it then knows where the segment's matches go
    in the output, and writes them itself or sends the child that offset (the child writes
    its own segments with ``pwritev``: the pages are mapped in it already, and the copying is
    shared). The child is forked before the filter is compiled and indexes ahead while the
    parent compiles; the program reaches it through a pipe.

    No cycle of waits: the child's results come in segment order, the order the parent needs;
    the parent only waits for results, the child only for the program, for write orders once
    it has no more segments, or for the parent to read its results.
    """

    def __init__(self, m: Mapped, filters: Filters, counts: Counts, stages: Stages,
                 sink: Sink) -> None:
        self.m, self.filters, self.counts, self.stages, self.sink = m, filters, counts, stages, sink
        size = len(m.buf)
        self.step = max(SEGMENT_BYTES, -(-(size - 24) // MAX_SEGMENTS))
        self.total = -(-(size - 24) // self.step)
        self.writer = sink.writer if isinstance(sink, CopySink) else None
        # The child writes its own segments only into a regular file (pwritev needs offsets).
        self.child_writes = self.writer is not None and self.writer.positional
        self.known: tuple[Program | None] | None = None

    def bounds(self, index: int) -> tuple[int, int]:
        size = len(self.m.buf)
        return min(24 + index * self.step, size), min(24 + (index + 1) * self.step, size)

    def run(self) -> CaptureFileError | None:
        tok_r, tok_w = os.pipe()
        prog_r, prog_w = os.pipe()
        res_r, res_w = os.pipe()
        ord_r, ord_w = os.pipe()
        os.write(tok_w, b"".join(_TOKEN.pack(i) for i in range(self.total)))
        os.close(tok_w)
        self.known = self._known_program()
        # Everything both processes run is imported before the fork, once: imported after it,
        # a module is imported twice, once on each core (numpy alone takes ~32 ms).
        import select  # noqa: F401

        from . import recindex, vector  # noqa: F401

        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            status = 1
            try:
                for fd in (prog_w, res_r, ord_w):
                    os.close(fd)
                _Worker(self, tok_r).child(prog_r, res_w, ord_r)
                status = 0
            finally:
                os._exit(status)
        for fd in (prog_r, res_w, ord_r):
            os.close(fd)
        finished = False
        try:
            damage = self._parent(tok_r, prog_w, res_r, ord_w)
            finished = True
            return damage
        finally:
            _close_quietly(prog_w)
            try:
                if finished:
                    # Let the child finish the writes it was ordered to do: take the segments
                    # it has not claimed, close the order pipe, and read what it still says.
                    while os.read(tok_r, 1 << 16):
                        pass
                    _close_quietly(ord_w)
                    _Results(res_r).finish(self.stages)
            finally:
                for fd in (tok_r, ord_w, res_r):
                    _close_quietly(fd)
                reap(pid, wait=finished)

    def _parent(self, tok_r: int, prog_w: int, res_r: int, ord_w: int
                ) -> CaptureFileError | None:
        m, stages = self.m, self.stages
        program = self._program()
        from . import isa

        code = b"" if program is None else isa.pack(program.insns)
        child = _Results(res_r)
        child.tell(prog_w, struct.pack("<i", len(code)) + code)
        _close_quietly(prog_w)
        worker = _Worker(self, tok_r)
        worker.program = program
        progress = Progress.maybe(len(m.buf), None)
        expected = 24
        mine: Segment | None = None
        last_mine, exhausted, nxt = -1, False, 0
        since = time.perf_counter()
        try:
            while nxt < self.total:
                if mine is not None and mine.index == nxt:
                    seg, mine, own = mine, None, True
                elif nxt <= last_mine or exhausted:
                    seg, own = child.next(), False
                    since = stages.add("wait", since)
                    assert seg.index == nxt, (seg.index, nxt)
                else:
                    claimed = worker.claim()
                    if claimed is None:
                        exhausted = True
                    else:
                        last_mine = claimed
                        mine = worker.work(claimed, stages)
                        since = time.perf_counter()
                    continue
                expected, damage = self._accept(seg, own, expected, ord_w, child)
                since = stages.add("write", since)
                if progress is not None:
                    progress.update(expected)
                if damage is not None:
                    return damage
                nxt += 1
        finally:
            if progress is not None:
                progress.done()
        return None

    def _accept(self, seg: Segment, own: bool, expected: int, ord_w: int,
                child: _Results) -> tuple[int, CaptureFileError | None]:
        """Takes one segment, in file order: counts it and has its matches written if it starts
        where the last one ended; else (or when asked to) redoes its range here, from the true
        boundary. Returns where the segment ended, and its damage."""
        counts, writer = self.counts, self.writer
        begin, stop = self.bounds(seg.index)
        if seg.start != expected or seg.redo:
            scan = self.m.scan()
            program = self._program()
            for chunk in scan.chunks(expected, stop):
                mask = verdicts_of(program, chunk)
                counts.read += len(mask)
                counts.matched += int(mask.sum())
                self.sink.chunk(chunk, mask)
            self.m.forget(begin, stop)
            if scan.damage_at is not None:
                return scan.stopped_at, replay_damage(self.m, scan.damage_at)
            return max(scan.stopped_at, expected), None
        counts.read += seg.read
        counts.matched += seg.matched
        if writer is not None:
            if own or not self.child_writes:
                writer.write(seg.begins, seg.ends)
                self.m.forget(begin, seg.end)
            else:
                child.tell(ord_w, _ORDER.pack(seg.index, writer.position))
                writer.position += seg.size
        if seg.damage >= 0:
            return seg.end, replay_damage(self.m, seg.damage)
        return seg.end, None

    def _program(self) -> Program | None:
        if self.filters.accepts_all:
            return None
        return self.filters.program(self.m.linktype, self.m.snapshot)

    def _known_program(self) -> tuple[Program | None] | None:
        """The program, when it costs nothing to have before forking (no filter, or one in
        the program cache): the child then starts filtering at once. None: the parent
        compiles after forking while the child indexes."""
        if self.filters.accepts_all:
            return (None,)
        found = self.filters.cached_program(self.m.linktype, self.m.snapshot)
        return None if found is None else (found,)


class _Worker:
    """Claims segments, indexes and filters them; as the child, also waits for the program,
    sends results back and writes its segments where the parent says."""

    def __init__(self, pair: TwoCores, tok_r: int) -> None:
        self.pair = pair
        self.tok_r = tok_r
        self.scan = pair.m.scan()
        self.program: Program | None = None
        self.unwritten: dict[int, Segment] = {}

    def claim(self) -> int | None:
        token = os.read(self.tok_r, _TOKEN.size)
        if len(token) < _TOKEN.size:
            return None
        index: int = _TOKEN.unpack(token)[0]
        return index

    def first_boundary(self, index: int) -> int:
        """The first record boundary of segment ``index``, guessed (-1: none found)."""
        import numpy as np

        begin, _ = self.pair.bounds(index)
        # The two processes take segments in turn: have the kernel start reading the one two
        # ahead while this one is indexed, so each segment is asked for once (for a file
        # already in the page cache this costs a walk of its pages, ~0.3 ms a segment).
        ahead, _ = self.pair.bounds(index + 2)
        self.scan.prefetch(ahead, self.pair.step)
        if not index:
            return 24
        return int(self.scan.guess(np.array([begin], dtype=np.int64), 1 << 40,
                                   SEGMENT_GUESS)[0])

    def index(self, index: int, start: int) -> Indexed:
        """The records of segment ``index`` in file order, walked exactly from ``start`` (its
        guessed first boundary; -1: none found)."""
        import numpy as np

        if start < 0:
            return Indexed(index, -1, np.zeros(0, dtype=np.int64), -1)
        offsets, after = self.scan.index(start, self.pair.bounds(index)[1])
        return Indexed(index, start, offsets, after)

    def segment(self, found: Indexed, stages: Stages) -> Segment:
        """Filters an indexed segment: counts, runs of matches, damage."""
        import numpy as np

        since = time.perf_counter()
        scan, pair = self.scan, self.pair
        empty = np.zeros(0, dtype=np.int64)
        if found.start < 0:
            return Segment(found.index, -1, -1, -1, 0, 0, False, 0, empty, empty)
        stop = pair.bounds(found.index)[1]
        scan.damage_at = None
        scan.stopped_at = found.start
        read = matched = 0
        redo = False
        begins: list[I64Array] = []
        ends: list[I64Array] = []
        for chunk in scan.split(found.offsets, found.start, found.after, stop):
            since = stages.add("gather", since)
            mask = verdicts_of(self.program, chunk)
            read += len(mask)
            matched += int(np.count_nonzero(mask))
            if pair.writer is not None:
                if chunk.clipped and bool(np.any(mask & (chunk.rawcap != chunk.caplen))):
                    redo = True
                else:
                    b, e = runs_of(chunk, mask)
                    begins.append(b)
                    ends.append(e)
            since = stages.add("filter", since)
        end = scan.stopped_at if len(found.offsets) else found.after
        damage = -1 if scan.damage_at is None else scan.damage_at
        b = np.concatenate(begins) if begins else empty
        e = np.concatenate(ends) if ends else empty
        return Segment(found.index, found.start, end, damage, read, matched, redo,
                       int((e - b).sum()), b, e)

    def work(self, index: int, stages: Stages) -> Segment:
        since = time.perf_counter()
        start = self.first_boundary(index)
        if start >= 0:
            chunk = self.scan.index_rows(start, self.pair.bounds(index)[1])
            if chunk is not None:
                stages.add("index", since)
                return self.walked(index, start, chunk, stages)
        found = self.index(index, start)  # the exact walk decides what index_rows declined
        stages.add("index", since)
        return self.segment(found, stages)

    def walked(self, index: int, start: int, chunk: Chunk, stages: Stages) -> Segment:
        """Filters a segment that ``PcapScan.index_rows`` walked (records in walk order): the
        runs of matches come from the matches sorted by offset."""
        import numpy as np

        since = time.perf_counter()
        mask = verdicts_of(self.program, chunk)
        matched = int(np.count_nonzero(mask))
        empty = np.zeros(0, dtype=np.int64)
        begins = ends = empty
        redo = False
        if self.pair.writer is not None and matched:
            if chunk.clipped and bool(np.any(mask & (chunk.rawcap != chunk.caplen))):
                redo = True
            else:
                begins, ends = sorted_runs(chunk.offset[mask],
                                           chunk.offset[mask] + 16 + chunk.rawcap[mask])
        stages.add("filter", since)
        return Segment(index, start, chunk.end, -1, len(chunk), matched, redo,
                       int((ends - begins).sum()), begins, ends)

    def child(self, prog_r: int, res_w: int, ord_r: int) -> None:
        """The child's life (``live``); a write that fails is reported to the parent, which
        says so and stops, instead of a silent death."""
        try:
            self.live(prog_r, res_w, ord_r)
        except CaptureFileError as err:
            message = str(err).encode()
            _write_all(res_w, _RESULT.pack(_FAILED, len(message), *[0] * 8) + message)

    def live(self, prog_r: int, res_w: int, ord_r: int) -> None:
        """Index segments while the parent compiles, then filter them and everything claimed
        after, sending each result as soon as it is there; then write the child's segments as
        the parent orders, until the parent closes the order pipe."""
        import select

        times = Stages()
        backlog: list[Indexed] = []
        known = self.pair.known
        waiting = known is None
        if known is not None:
            self.program = known[0]
        while True:
            if waiting and (len(backlog) >= BACKLOG or select.select([prog_r], [], [], 0)[0]):
                if not self.receive(prog_r):
                    return  # the parent could not compile the filter
                waiting = False
                for found in backlog:
                    self.done(self.segment(found, times), res_w, ord_r)
                backlog.clear()
            while len(self.unwritten) >= AHEAD and self.obey(ord_r, block=True):
                pass  # the parent lags: wait for it rather than hold more pages mapped
            index = self.claim()
            if index is None:
                break
            if waiting:
                since = time.perf_counter()
                found = self.index(index, self.first_boundary(index))
                backlog.append(found)
                # Its pages come back when it is filtered; meanwhile they would only add up.
                self.pair.m.forget(found.start, found.after)
                times.add("index", since)
            else:
                self.done(self.work(index, times), res_w, ord_r)
        if waiting:
            if not self.receive(prog_r):
                return
            for found in backlog:
                self.done(self.segment(found, times), res_w, ord_r)
        while self.obey(ord_r, block=True):
            pass
        spent = [int(times.seconds.get(k, 0.0) * 1e6) for k in ("index", "gather", "filter")]
        os.write(res_w, _RESULT.pack(-1, *spent, 0, 0, 0, 0, 0, 0))

    def done(self, seg: Segment, res_w: int, ord_r: int) -> None:
        """Sends a result; keeps the segment's runs (and its pages) until the parent says where
        they go, when it writes them itself."""
        pair = self.pair
        if pair.child_writes:
            self.unwritten[seg.index] = seg
        else:
            pair.m.forget(*pair.bounds(seg.index))
        _write_all(res_w, seg.pack(not pair.child_writes))
        while self.obey(ord_r, block=False):
            pass

    def obey(self, ord_r: int, block: bool) -> bool:
        """Carries out one write order, if there is one (waiting for it when ``block``);
        False when there was none, or the parent closed the pipe."""
        import select

        if not self.pair.child_writes:
            return block and bool(os.read(ord_r, _ORDER.size))
        if not block and not select.select([ord_r], [], [], 0)[0]:
            return False
        order = _read_exact(ord_r, _ORDER.size)
        if len(order) < _ORDER.size:
            return False
        index, at = _ORDER.unpack(order)
        seg = self.unwritten.pop(index)
        writer = self.pair.writer
        assert writer is not None
        writer.write(seg.begins, seg.ends, at)
        self.pair.m.forget(*self.pair.bounds(index))
        return True

    def receive(self, prog_r: int) -> bool:
        """Reads the program from the parent; False when it closed the pipe without one."""
        from . import isa
        from .program import Program

        head = _read_exact(prog_r, 4)
        if len(head) < 4:
            return False
        size = struct.unpack("<i", head)[0]
        self.program = Program(isa.unpack(_read_exact(prog_r, size))) if size else None
        return True


class _Results:
    """The parent's end of the child's result pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def next(self) -> Segment:
        import numpy as np

        head = _read_exact(self.fd, _RESULT.size)
        if len(head) < _RESULT.size:
            raise CaptureFileError("the second filtering process died")
        index, start, end, damage, read, matched, redo, size, runs, _ = _RESULT.unpack(head)
        if index == _FAILED:
            raise self._failure(start)
        arrays = np.frombuffer(_read_exact(self.fd, 16 * runs), dtype=np.int64)
        return Segment(index, start, end, damage, read, matched, bool(redo), size,
                       arrays[:runs], arrays[runs:])

    def tell(self, fd: int, message: bytes) -> None:
        """Sends the child a message (the program, a write order). If the child is gone, the
        pipe is closed: that is its failure (or death) to report, never a closed output."""
        try:
            _write_all(fd, message)
        except BrokenPipeError:
            raise self.gone() from None

    def gone(self) -> CaptureFileError:
        """Why the child stopped listening: the error it sent last, if it sent one."""
        try:
            self._last_word()
        except CaptureFileError as err:
            return err
        return CaptureFileError("the second filtering process died")

    def finish(self, stages: Stages) -> None:
        """Reads (and drops) any results the parent no longer needs, then the child's stage
        times, its last message, sent once it is done writing. Without that message, the
        writes it was ordered to make may not have been made: the run failed."""
        fields = self._last_word()
        for name, micros in zip(("child index", "child gather", "child filter"), fields[1:4],
                                strict=True):
            stages.seconds[name] = micros / 1e6

    def _last_word(self) -> tuple[int, ...]:
        """Skips the results no one waits for any more, up to the child's last message: its
        stage times (returned) or its failure (raised); a child that ends without one died."""
        while True:
            head = _read_exact(self.fd, _RESULT.size)
            if len(head) < _RESULT.size:
                raise CaptureFileError("the second filtering process died")
            fields: tuple[int, ...] = _RESULT.unpack(head)
            if fields[0] == _FAILED:
                raise self._failure(fields[1])
            if fields[0] < 0:
                return fields
            _read_exact(self.fd, 16 * fields[8])

    def _failure(self, size: int) -> CaptureFileError:
        """The child's error (a write that failed), as it worded it."""
        return CaptureFileError(_read_exact(self.fd, size).decode(errors="replace"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, size: int) -> bytes:
    parts = []
    while size > 0:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def reap(pid: int, wait: bool) -> None:
    """Waits for a child to finish (its writes are part of the output); ends it first when
    ``wait`` is False (the parent stopped early, or has no more use for its work)."""
    if not wait:
        import signal  # here only: importing it builds enums, ~1 ms at the end of every run

        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    os.waitpid(pid, 0)
