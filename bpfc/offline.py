"""Offline filtering: ``bpfc -r FILE [-w OUT] [-c N] [--count] [-e] [expression]``.

Stage: the driver for capture files. Input: a pcap or pcapng file (or a stream of one) and a
filter expression; output: the matching records written (``-w``), printed one line each like
tcpdump's, or counted, then a summary on stderr.

    run(args)
      open the input ─┬─ a mapped classic pcap: index the record headers (vector.PcapScan,
      │               │   a lockstep walk), filter chunk after chunk with the numpy engine,
      │               │   write runs of consecutive matching records as byte ranges of the
      │               │   input (pwritev of map slices, copy_file_range for long runs);
      │               │   big files are cut into segments for two processes (_TwoCores); the
      │               │   empty filter copies the whole file in a kernel-copy thread while
      │               │   the index checks it (_copy_everything)
      │               └─ anything else (stdin, pcapng, small files): packet by packet through
      │                   the JIT (or the VM), or in batches through the numpy engine
      ├─ compile once per link type met (pcapng interfaces may differ; libpcap refuses those)
      └─ damage: every good packet before it is kept, then the offset is reported, exit 1

The fast path builds no Python object per packet (only per matching packet, where a printer
needs one). Its stages are timed and printed on stderr when ``BPFC_STAGES`` is set, which is
what ``bench/bench_offline.py`` reads.
"""

from __future__ import annotations

import argparse
import io
import mmap
import os
import stat
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final, Protocol

from .errors import CaptureFileError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .pcapfile import CaptureReader, Packet, PcapFileHeader, PcapngWriter, PcapWriter
    from .program import Program
    from .vector import Chunk, PcapScan

    BoolArray = npt.NDArray[np.bool_]
    I64Array = npt.NDArray[np.int64]
    Verdicts = Callable[[list[Packet]], Iterable[bool]]

EXIT_OK: Final = 0
EXIT_DAMAGED: Final = 1
#: Files at least this big take the mapped, vectorised path under ``--engine auto``.
VECTOR_MIN_BYTES: Final = 1 << 20
#: Files at least this big are filtered by two processes when two CPUs are free to us.
PARALLEL_MIN_BYTES: Final = 32 << 20
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
#: Packets batched per call of the numpy engine on the stream path.
STREAM_BATCH: Final = 4096
#: Bytes per copy_file_range call of the empty filter's copier thread.
COPY_STEP: Final = 64 << 20
#: Runs of matching records at least this long are copied inside the kernel.
KERNEL_COPY_MIN: Final = 1 << 20
IOV_MAX: Final = 1024
PAGE: Final = mmap.PAGESIZE


# -- timing --------------------------------------------------------------------------------------

@dataclass(slots=True)
class Stages:
    """Wall seconds per stage, for ``BPFC_STAGES`` and the benchmark."""

    seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def add(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - since
        return now

    def report(self) -> str:
        parts = [f"{name} {secs * 1000:.1f} ms" for name, secs in self.seconds.items()]
        total = time.perf_counter() - self.started
        return "bpfc: stages: " + ", ".join(parts) + f", run {total * 1000:.1f} ms"


# -- one program per link type -------------------------------------------------------------

class Filters:
    """The expression, compiled once per link type on first need.

    An empty expression is never compiled: it accepts everything on any link type (libpcap's
    empty program is a lone ``ret #snaplen``), which also spares the compiler's imports; any
    other is read from the program cache when an earlier run compiled it (``progcache``).
    """

    def __init__(self, expression: str, *, optimize: bool = True,
                 netmask: int | str | None = None, stages: Stages | None = None) -> None:
        self.expression = expression.strip()
        self.optimize = optimize
        self.netmask = netmask
        self.stages = stages
        self._programs: dict[int, Program] = {}

    @property
    def accepts_all(self) -> bool:
        return not self.expression

    def cached_program(self, linktype: int, snaplen: int) -> Program | None:
        """The program if it needs no compiling (compiled already, or in the program cache)."""
        found = self._programs.get(linktype)
        if found is None:
            since = time.perf_counter()
            from .progcache import lookup

            found = lookup(self.expression, linktype, snaplen or 262144, self.optimize,
                           self.netmask)
            if found is not None:
                self._programs[linktype] = found
                if self.stages is not None:
                    self.stages.add("compile", since)
        return found

    def program(self, linktype: int, snaplen: int) -> Program:
        found = self._programs.get(linktype)
        if found is None:
            since = time.perf_counter()
            from .progcache import compile_cached

            found = compile_cached(self.expression, linktype, snaplen or 262144,
                                   self.optimize, self.netmask)
            self._programs[linktype] = found
            if self.stages is not None:
                self.stages.add("compile", since)
        return found


# -- where matching packets go -------------------------------------------------------------

class Sink(Protocol):
    """What happens to matching packets: written, printed or counted."""

    def packet(self, packet: Packet) -> None: ...

    def chunk(self, chunk: Chunk, mask: BoolArray) -> None: ...

    def close(self) -> None: ...


class CountSink:
    """``--count``: nothing per packet."""

    def packet(self, packet: Packet) -> None:
        pass

    def chunk(self, chunk: Chunk, mask: BoolArray) -> None:
        pass

    def close(self) -> None:
        pass


class PrintSink:
    """One tcpdump-like line per packet on standard output."""

    def __init__(self, out: IO[str], *, link_header: bool, quiet: bool, verbose: int) -> None:
        from .printer import Printer

        self.out = out
        self.printer = Printer(link_header=link_header, quiet=quiet, verbose=verbose)

    def packet(self, packet: Packet) -> None:
        self.out.write(self.printer.line(packet) + "\n")

    def chunk(self, chunk: Chunk, mask: BoolArray) -> None:
        import numpy as np

        line = self.printer.line
        self.out.write("".join(line(chunk.packet(i)) + "\n"
                               for i in np.flatnonzero(mask).tolist()))

    def close(self) -> None:
        self.out.flush()


class WriterSink:
    """``-w`` through a packet writer: a format change, or an input that is not mapped."""

    def __init__(self, writer: PcapWriter | PcapngWriter) -> None:
        self.writer = writer

    def packet(self, packet: Packet) -> None:
        self.writer.write(packet)

    def chunk(self, chunk: Chunk, mask: BoolArray) -> None:
        import numpy as np

        for i in np.flatnonzero(mask).tolist():
            self.writer.write(chunk.packet(i))

    def close(self) -> None:
        self.writer.close()


class RunWriter:
    """Writes byte ranges of the mapped input to the output: short ones gathered into
    ``pwritev``/``writev`` calls of up to IOV_MAX slices of the map, long ones copied inside the
    kernel (``copy_file_range``; ``sendfile`` to a pipe). ``positional`` (a regular output file)
    writes at explicit offsets, so that two processes can fill one file."""

    def __init__(self, fd: int, src_fd: int, buf: mmap.mmap, position: int) -> None:
        self.fd = fd
        self.src_fd = src_fd
        self.view: memoryview | None = memoryview(buf)
        self.positional = stat.S_ISREG(os.fstat(fd).st_mode)
        self.position = position
        self.kernel_copy = True

    def write(self, begins: I64Array, ends: I64Array, at: int | None = None) -> int:
        """Writes [begins[i], ends[i]) of the input, in order, at output offset ``at`` (default:
        where the last write ended); returns the offset after them."""
        view = self.view
        assert view is not None
        pos = self.position if at is None else at
        if not self.kernel_copy or int((ends - begins).max(initial=0)) < KERNEL_COPY_MIN:
            # Short runs only (the common case): slices made in bulk, IOV_MAX per call.
            sizes = ends - begins
            b, e = begins.tolist(), ends.tolist()
            for first in range(0, len(b), IOV_MAX):
                last = first + IOV_MAX
                views = [view[x:y] for x, y in zip(b[first:last], e[first:last], strict=True)]
                pos = self.vector(views, pos, int(sizes[first:last].sum()))
            if at is None:
                self.position = pos
            return pos
        parts: list[memoryview] = []
        for begin, end in zip(begins.tolist(), ends.tolist(), strict=True):
            if end - begin >= KERNEL_COPY_MIN and self.kernel_copy:
                pos = self.vector(parts, pos)
                parts = []
                pos = self._copy(begin, end, pos)
            else:
                parts.append(view[begin:end])
                if len(parts) >= IOV_MAX:
                    pos = self.vector(parts, pos)
                    parts = []
        pos = self.vector(parts, pos)
        if at is None:
            self.position = pos
        return pos

    def vector(self, parts: list[memoryview], pos: int, total: int | None = None) -> int:
        """Writes ``parts`` (``total`` bytes, when the caller knows) at ``pos`` (or at the
        stream's position); the offset after them."""
        fd, positional = self.fd, self.positional
        if total is None:
            total = sum(len(p) for p in parts)
        while parts:
            done = os.pwritev(fd, parts, pos) if positional else os.writev(fd, parts)
            pos += done
            total -= done
            if not total:
                return pos
            # A short write (a pipe, a signal): drop what went out, go on with the rest.
            first = 0
            while done >= len(parts[first]):
                done -= len(parts[first])
                first += 1
            parts = [parts[first][done:], *parts[first + 1:]]
        return pos

    def _copy(self, begin: int, end: int, pos: int) -> int:
        while begin < end:
            n = 0
            try:
                n = os.copy_file_range(self.src_fd, self.fd, end - begin, begin,
                                       pos if self.positional else None)
            except OSError:
                if not self.positional:
                    try:
                        n = os.sendfile(self.fd, self.src_fd, begin, end - begin)
                    except OSError:
                        n = 0
            if n <= 0:
                self.kernel_copy = False
                assert self.view is not None
                return self.vector([self.view[begin:end]], pos)
            begin += n
            pos += n
        return pos

    def release(self) -> None:
        if self.view is not None:
            self.view.release()
            self.view = None


class CopySink:
    """``-w`` from a mapped classic pcap to classic pcap: the input's file header, then every
    run of consecutive matching records as one byte range of the input, so records come out
    byte for byte (``RunWriter``)."""

    def __init__(self, out: IO[bytes], src_fd: int, buf: mmap.mmap, header: bytes) -> None:
        self.out = out
        self.writer = RunWriter(out.fileno(), src_fd, buf, 0)
        self.writer.position = self.writer.vector([memoryview(header)], 0)

    def packet(self, packet: Packet) -> None:  # pragma: no cover - fed by chunks only
        raise AssertionError("CopySink takes chunks")

    def chunk(self, chunk: Chunk, mask: BoolArray) -> None:
        import numpy as np

        if chunk.clipped and bool(np.any(mask & (chunk.rawcap != chunk.caplen))):
            # Records longer than the snapshot are delivered (and written) cut to it, as
            # libpcap does: those cannot be copied as they lie in the file.
            writer = self.writer
            for part in _batched(np.flatnonzero(mask).tolist(), IOV_MAX):
                records = [memoryview(chunk.record_bytes(i)) for i in part]
                writer.position = writer.vector(records, writer.position)
            return
        self.writer.write(*runs_of(chunk, mask))

    def close(self) -> None:
        self.writer.release()
        self.out.close()


def _batched(items: list[int], size: int) -> Iterator[list[int]]:
    for first in range(0, len(items), size):
        yield items[first:first + size]


def sorted_runs(begins: I64Array, ends: I64Array) -> tuple[I64Array, I64Array]:
    """The byte ranges of records ``[begins[i], ends[i])``, given in any order, merged where
    one ends exactly where the next begins, in file order."""
    import numpy as np

    if not len(begins):
        return begins, ends
    order = np.argsort(begins, kind="stable")
    begins, ends = begins[order], ends[order]
    first = np.flatnonzero(np.concatenate(([True], begins[1:] != ends[:-1])))
    last = np.append(first[1:] - 1, len(begins) - 1)
    return begins[first], ends[last]


def runs_of(chunk: Chunk, mask: BoolArray) -> tuple[I64Array, I64Array]:
    """The byte ranges of the runs of consecutive matching records of a chunk."""
    import numpy as np

    edges = np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    first = np.flatnonzero(edges == 1)
    last = np.flatnonzero(edges == -1) - 1
    return chunk.offset[first], chunk.offset[last] + 16 + chunk.rawcap[last]


# -- the run ----------------------------------------------------------------------------------

@dataclass(slots=True)
class Counts:
    read: int = 0
    matched: int = 0


@dataclass(frozen=True, slots=True)
class Options:
    """What ``bpfc -r`` was asked to do (the CLI flags that matter here)."""

    source: str
    expression: str = ""
    write: str | None = None
    max_count: int | None = None
    count_only: bool = False
    link_header: bool = False
    quiet: bool = False
    verbose: int = 0
    out_format: str | None = None
    engine: str = "auto"
    optimize: bool = True
    netmask: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(args.read, args.expression_text, args.write, args.max_count, args.count,
                   args.link_header, args.quiet, args.verbose, args.out_format, args.engine,
                   not args.no_optimize, args.netmask)


def run(args: argparse.Namespace) -> int:
    """``bpfc -r``: 0, or 1 when the input turned out to be damaged (after every good packet
    before the damage has been written, printed or counted)."""
    import gc

    # No reference cycles are made on the way, and the collector would otherwise walk the
    # young generation again and again while the writer makes a memoryview per run of matches.
    gc.disable()
    try:
        return _run(args)
    finally:
        gc.enable()


def _run(args: argparse.Namespace) -> int:
    opts = Options.from_args(args)
    stages = Stages()
    filters = Filters(opts.expression, optimize=opts.optimize, netmask=opts.netmask,
                      stages=stages)
    counts = Counts()
    mapped = _open_mapped(opts)
    if mapped is not None:
        try:
            damage = _run_mapped(mapped, opts, filters, counts, stages)
        finally:
            mapped.close()
    else:
        damage = _run_stream(opts, filters, counts, stages)
    sys.stdout.flush()
    if opts.count_only:
        print(f"{counts.matched} packet{_s(counts.matched)}", flush=True)
    else:
        lines = [f"{counts.read} packet{_s(counts.read)} read",
                 f"{counts.matched} packet{_s(counts.matched)} matched"]
        if opts.write is not None:
            lines.append(f"{counts.matched} packet{_s(counts.matched)} written")
        print("\n".join(lines), file=sys.stderr)
    if os.environ.get("BPFC_STAGES"):
        print(stages.report(), file=sys.stderr)
    if damage is not None:
        print(damage.render(), file=sys.stderr)
        return EXIT_DAMAGED
    return EXIT_OK


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _announce(path: str, linktype: int, snaplen: int) -> None:
    """tcpdump's first line, on stderr."""
    from .linktypes import lookup

    link = lookup(linktype)
    print(f"reading from file {path}, link-type {link.name} ({link.description}), "
          f"snapshot length {snaplen}", file=sys.stderr, flush=True)


def _open_output(path: str) -> IO[bytes]:
    if path == "-":
        sys.stdout.flush()
        return open(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
    try:
        return open(path, "wb", buffering=0)
    except OSError as err:
        raise CaptureFileError(f"cannot write: {err.strerror}", path=path) from None


# -- the mapped, vectorised path -------------------------------------------------------------

@dataclass(slots=True)
class Mapped:
    """A regular classic-pcap input file, mapped."""

    path: str
    file: IO[bytes]
    buf: mmap.mmap
    header: PcapFileHeader
    linktype: int
    snapshot: int

    def scan(self) -> PcapScan:
        from .vector import PcapScan

        return PcapScan(self.buf, self.header.byteorder, self.linktype, self.snapshot,
                        self.header.ts_units)

    def forget(self, begin: int, end: int) -> None:
        """Drops the pages of [begin, end) from this process's memory (they stay in the page
        cache), so that resident memory does not grow with the file."""
        begin -= begin % PAGE
        if end > begin:
            self.buf.madvise(mmap.MADV_DONTNEED, begin, min(end, len(self.buf)) - begin)

    def close(self) -> None:
        try:
            self.buf.close()
        except BufferError:
            pass  # a numpy view still refers to it (say, a traceback frame): the GC unmaps it
        self.file.close()


def _open_mapped(opts: Options) -> Mapped | None:
    """The input, mapped, when the fast path can take it: a regular classic pcap file whose
    records have 16-byte headers and unswapped lengths, big enough for numpy to pay off (or
    ``--engine vector``). None sends everything else down the stream path."""
    if opts.source == "-" or opts.engine in ("jit", "vm"):
        return None
    try:
        info = os.stat(opts.source)
    except OSError:
        return None  # the stream path reports it, in the reader's words
    if not stat.S_ISREG(info.st_mode) or info.st_size < 24:
        return None
    if opts.engine == "auto" and info.st_size < VECTOR_MIN_BYTES:
        return None
    from .pcapfile import open_capture

    try:
        reader = open_capture(opts.source)
    except CaptureFileError:
        return None
    with reader:
        header = reader.header
        if header is None or header.record_header_size != 16 or header.lengths_swapped != "no":
            return None
        linktype, snapshot = reader.linktype, reader.snaplen
    file = open(opts.source, "rb")  # noqa: SIM115 - closed by Mapped.close
    buf = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    return Mapped(opts.source, file, buf, header, linktype, snapshot)


def _run_mapped(m: Mapped, opts: Options, filters: Filters, counts: Counts,
                stages: Stages) -> CaptureFileError | None:
    _announce(m.path, m.linktype, m.header.snaplen)
    sink = _mapped_sink(m, opts)
    try:
        if (filters.accepts_all and isinstance(sink, CopySink) and sink.writer.positional
                and opts.max_count is None):
            return _copy_everything(m, opts, filters, counts, stages, sink)
        if _two_cores_pay(m, opts, sink):
            return _TwoCores(m, filters, counts, stages, sink).run()
        return _run_chunks(m, opts, filters, counts, stages, sink)
    finally:
        sink.close()


def _copy_everything(m: Mapped, opts: Options, filters: Filters, counts: Counts,
                     stages: Stages, sink: CopySink) -> CaptureFileError | None:
    """The empty filter into a pcap file: every record is written as it lies, so the whole
    file is copied inside the kernel by a second thread (``copy_file_range`` releases the GIL)
    while this one walks the record headers to check them. Damage ends the output just before
    the damaged record (the copy is cut back); a record longer than the snapshot, which must be
    written cut, hands the rest of the file to the ordinary chunk loop from that record on."""
    import threading

    import numpy as np

    from .vector import INDEX_BYTES

    writer, size = sink.writer, len(m.buf)
    base = writer.position - 24  # output offset = file offset + base
    limit = [size]  # the copier stops before this file offset
    done = [24]

    def copier() -> None:
        pos = 24
        try:
            while pos < limit[0]:
                n = os.copy_file_range(m.file.fileno(), writer.fd, min(COPY_STEP, limit[0] - pos),
                                       pos, pos + base)
                if n <= 0:
                    break
                pos += n
        except OSError:
            pass  # the main thread writes whatever is left
        done[0] = pos

    thread = threading.Thread(target=copier, name="bpfc-copy", daemon=True)
    thread.start()
    scan = m.scan()
    progress = Progress.maybe(size, opts)
    since = time.perf_counter()
    q, stop_at, damage_at, clipped_at = 24, size, None, None
    try:
        while q < size:
            offsets, after = scan.index(q, min(q + INDEX_BYTES, size))
            ends = np.append(offsets[1:], after)
            rawcap = ends - offsets - 16
            bad = np.flatnonzero((rawcap > scan.limit) | (ends > size))
            cut = np.flatnonzero(rawcap > m.snapshot)
            good = len(offsets)
            if len(bad):
                good, damage_at = int(bad[0]), int(offsets[bad[0]])
            elif size - 15 <= after < size:
                damage_at = after
            if len(cut) and int(cut[0]) < good:
                good, clipped_at, damage_at = int(cut[0]), int(offsets[cut[0]]), None
            counts.read += good
            m.forget(q, int(ends[good - 1]) if good else q)
            if progress is not None:
                progress.update(after)
            if damage_at is not None or clipped_at is not None or not len(offsets):
                stop_at = damage_at if damage_at is not None else clipped_at or after
                break
            q = after
        else:
            stop_at = size
    finally:
        limit[0] = min(limit[0], stop_at)
        thread.join()
        if progress is not None:
            progress.done()
    stages.add("index", since)
    since = time.perf_counter()
    if done[0] < stop_at:
        writer.write(np.array([done[0]]), np.array([stop_at]), done[0] + base)
    os.ftruncate(writer.fd, stop_at + base)
    writer.position = stop_at + base
    counts.matched = counts.read
    stages.add("write", since)
    if clipped_at is not None:
        return _run_chunks(m, opts, filters, counts, stages, sink, clipped_at)
    return None if damage_at is None else _replay_damage(m, damage_at)


def _mapped_sink(m: Mapped, opts: Options) -> Sink:
    if opts.count_only:
        return CountSink()
    if opts.write is None:
        return PrintSink(sys.stdout, link_header=opts.link_header, quiet=opts.quiet,
                         verbose=opts.verbose)
    from .pcapfile import PcapngWriter

    out = _open_output(opts.write)
    if opts.out_format in (None, "pcap"):
        return CopySink(out, m.file.fileno(), m.buf, m.header.pack())
    return WriterSink(PcapngWriter(out, m.linktype, m.header.snaplen,
                                   byteorder=m.header.byteorder, ts_units=m.header.ts_units))


def _two_cores_pay(m: Mapped, opts: Options, sink: Sink) -> bool:
    """Two processes for big files, when their work can be merged from byte ranges and counts
    (writing pcap, counting) and no ``-c`` asks to stop at an exact packet."""
    if len(m.buf) < PARALLEL_MIN_BYTES or opts.max_count is not None:
        return False
    if not isinstance(sink, (CopySink, CountSink)) or os.environ.get("BPFC_ONE_CORE"):
        return False
    return len(os.sched_getaffinity(0)) >= 2


def _verdicts_of(program: Program | None, chunk: Chunk) -> BoolArray:
    from . import vector

    if program is None:
        return vector.all_true(len(chunk))
    verdicts: BoolArray = vector.run(program.insns, chunk.batch()) != 0
    return verdicts


def _run_chunks(m: Mapped, opts: Options, filters: Filters, counts: Counts, stages: Stages,
                sink: Sink, start: int = 24) -> CaptureFileError | None:
    """One process, chunk after chunk (from the record at ``start``): any sink, and ``-c``."""
    program = None if filters.accepts_all else filters.program(m.linktype, m.snapshot)
    scan = m.scan()
    progress = Progress.maybe(len(m.buf), opts)
    since = time.perf_counter()
    try:
        for chunk in scan.chunks(start, len(m.buf)):
            since = stages.add("index", since)
            mask = _verdicts_of(program, chunk)
            mask, stop = _limit(mask, counts, opts.max_count)
            since = stages.add("filter", since)
            sink.chunk(chunk, mask)
            m.forget(int(chunk.offset[0]), chunk.end)
            since = stages.add("write", since)
            if progress is not None:
                progress.update(chunk.end)
            if stop:
                return None
    finally:
        if progress is not None:
            progress.done()
    return None if scan.damage_at is None else _replay_damage(m, scan.damage_at)


def _limit(mask: BoolArray, counts: Counts, max_count: int | None) -> tuple[BoolArray, bool]:
    """Counts a chunk's verdicts; with ``-c``, cuts the chunk just after the last match wanted
    (the packets after it count as not read, as tcpdump stops there)."""
    import numpy as np

    hits = int(np.count_nonzero(mask))
    if max_count is not None and counts.matched + hits >= max_count:
        want = max_count - counts.matched
        last = int(np.flatnonzero(mask)[want - 1])
        counts.read += last + 1
        counts.matched += want
        return mask[:last + 1], True
    counts.read += len(mask)
    counts.matched += hits
    return mask, False


def _replay_damage(m: Mapped, offset: int) -> CaptureFileError:
    """The stream reader's own error for the damaged record at ``offset``: the file header and
    the bytes from that record on are read by it, and its message is placed at the record's real
    offset. (The walk only finds where; the reader is the authority on what to say.)"""
    from .pcapfile import open_capture

    tail = m.buf[offset:offset + 16 + (1 << 28)]
    reader = open_capture(io.BytesIO(m.header.pack() + tail))
    try:
        for _ in reader:
            pass
    except CaptureFileError as err:
        text = str(err).removeprefix(f"at byte offset {err.offset}: ")
        return CaptureFileError(text, offset=offset, path=m.path)
    finally:
        reader.close()
    raise AssertionError(f"no damage at offset {offset}")  # pragma: no cover


# -- two processes -------------------------------------------------------------------------------

_RESULT: Final = struct.Struct("<10q")
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


class _TwoCores:
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
            if finished:
                # Let the child finish the writes it was ordered to do: take the segments it
                # has not claimed, close the order pipe, and read what it still says.
                while os.read(tok_r, 1 << 16):
                    pass
                _close_quietly(ord_w)
                _Results(res_r).finish(self.stages)
            for fd in (tok_r, ord_w, res_r):
                _close_quietly(fd)
            _reap(pid, wait=finished)

    def _parent(self, tok_r: int, prog_w: int, res_r: int, ord_w: int
                ) -> CaptureFileError | None:
        m, stages = self.m, self.stages
        program = self._program()
        from . import isa

        code = b"" if program is None else isa.pack(program.insns)
        os.write(prog_w, struct.pack("<i", len(code)) + code)
        _close_quietly(prog_w)
        worker = _Worker(self, tok_r)
        worker.program = program
        child = _Results(res_r)
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
                expected, damage = self._accept(seg, own, expected, ord_w)
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

    def _accept(self, seg: Segment, own: bool, expected: int,
                ord_w: int) -> tuple[int, CaptureFileError | None]:
        """Takes one segment, in file order: counts it and has its matches written if it starts
        where the last one ended; else (or when asked to) redoes its range here, from the true
        boundary. Returns where the segment ended, and its damage."""
        counts, writer = self.counts, self.writer
        begin, stop = self.bounds(seg.index)
        if seg.start != expected or seg.redo:
            scan = self.m.scan()
            program = self._program()
            for chunk in scan.chunks(expected, stop):
                mask = _verdicts_of(program, chunk)
                counts.read += len(mask)
                counts.matched += int(mask.sum())
                self.sink.chunk(chunk, mask)
            self.m.forget(begin, stop)
            if scan.damage_at is not None:
                return scan.stopped_at, _replay_damage(self.m, scan.damage_at)
            return max(scan.stopped_at, expected), None
        counts.read += seg.read
        counts.matched += seg.matched
        if writer is not None:
            if own or not self.child_writes:
                writer.write(seg.begins, seg.ends)
                self.m.forget(begin, seg.end)
            else:
                os.write(ord_w, _ORDER.pack(seg.index, writer.position))
                writer.position += seg.size
        if seg.damage >= 0:
            return seg.end, _replay_damage(self.m, seg.damage)
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

    def __init__(self, pair: _TwoCores, tok_r: int) -> None:
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

    def index(self, index: int, exact: bool = False) -> Indexed:
        """The records of segment ``index``, from a guessed first boundary (-1: none found);
        unless ``exact``, only that boundary when the segment can be walked ``index_rows``'s
        way (no offsets: the caller walks it)."""
        import numpy as np

        begin, stop = self.pair.bounds(index)
        # The two processes take segments in turn: have the kernel read the ones after the
        # next two while these are indexed (a no-op for a file already in the page cache).
        ahead, _ = self.pair.bounds(index + 2)
        self.scan.prefetch(ahead, 2 * self.pair.step)
        start = 24
        if index:
            start = int(self.scan.guess(np.array([begin], dtype=np.int64), 1 << 40,
                                        SEGMENT_GUESS)[0])
        if start < 0:
            return Indexed(index, -1, np.zeros(0, dtype=np.int64), -1)
        if not exact:
            return Indexed(index, start, np.zeros(0, dtype=np.int64), -1)
        offsets, after = self.scan.index(start, stop)
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
            mask = _verdicts_of(self.program, chunk)
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
        found = self.index(index)
        if found.start >= 0 and not len(found.offsets):
            chunk = self.scan.index_rows(found.start, self.pair.bounds(index)[1])
            if chunk is not None:
                stages.add("index", since)
                return self.walked(index, found.start, chunk, stages)
            found = self.index(index, exact=True)
        stages.add("index", since)
        return self.segment(found, stages)

    def walked(self, index: int, start: int, chunk: Chunk, stages: Stages) -> Segment:
        """Filters a segment that ``PcapScan.index_rows`` walked (records in walk order): the
        runs of matches come from the matches sorted by offset."""
        import numpy as np

        since = time.perf_counter()
        mask = _verdicts_of(self.program, chunk)
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
        """The child's life: index segments while the parent compiles, then filter them and
        everything it claims after, sending each result as soon as it has it; then write its
        segments as the parent orders, until the parent closes the order pipe."""
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
                found = self.index(index, exact=True)
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
        data = memoryview(seg.pack(not pair.child_writes))
        while data:
            data = data[os.write(res_w, data):]
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
        arrays = np.frombuffer(_read_exact(self.fd, 16 * runs), dtype=np.int64)
        return Segment(index, start, end, damage, read, matched, bool(redo), size,
                       arrays[:runs], arrays[runs:])

    def finish(self, stages: Stages) -> None:
        """Reads (and drops) any results the parent no longer needs, then the child's stage
        times, its last message, sent once it is done writing."""
        while True:
            head = _read_exact(self.fd, _RESULT.size)
            if len(head) < _RESULT.size:
                return
            fields = _RESULT.unpack(head)
            if fields[0] >= 0:
                _read_exact(self.fd, 16 * fields[8])
                continue
            for name, micros in zip(("child index", "child gather", "child filter"),
                                    fields[1:4], strict=True):
                stages.seconds[name] = micros / 1e6
            return


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


def _reap(pid: int, wait: bool) -> None:
    """Waits for the child to finish (its writes are part of the output); ends it first when
    the parent stopped early."""
    import signal

    if not wait:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    os.waitpid(pid, 0)


# -- the stream path -------------------------------------------------------------------------

def _run_stream(opts: Options, filters: Filters, counts: Counts,
                stages: Stages) -> CaptureFileError | None:
    """Any input, one packet at a time (or batched for ``--engine vector``)."""
    from .pcapfile import open_capture

    since = time.perf_counter()
    source: str | IO[bytes] = sys.stdin.buffer if opts.source == "-" else opts.source
    reader = open_capture(source)
    with reader:
        first = reader.interfaces[0]
        _announce(opts.source, first.linktype, first.snaplen)
        sink = _stream_sink(reader, opts)
        verdicts = _verdicts(filters, opts.engine, reader)
        size = STREAM_BATCH if opts.engine == "vector" else 1
        try:
            for batch in _batches(reader, size):
                for packet, hit in zip(batch, verdicts(batch), strict=True):
                    counts.read += 1
                    if hit:
                        counts.matched += 1
                        sink.packet(packet)
                        if opts.max_count is not None and counts.matched >= opts.max_count:
                            return None
        except CaptureFileError as err:
            return err
        finally:
            sink.close()
            stages.add("stream", since)
    return None


def _batches(reader: CaptureReader, size: int) -> Iterator[list[Packet]]:
    if size == 1:
        for packet in reader:
            yield [packet]
        return
    batch: list[Packet] = []
    for packet in reader:
        batch.append(packet)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _verdicts(filters: Filters, engine: str, reader: CaptureReader) -> Verdicts:
    """A function from a batch of packets to their verdicts, with the engine asked for; each
    packet is judged by the program compiled for its own interface's link type."""
    if filters.accepts_all:
        return lambda batch: [True] * len(batch)

    def program(packet: Packet) -> Program:
        iface = reader.interfaces[packet.interface]
        return filters.program(packet.linktype, iface.snapshot)

    if engine == "vector":
        from . import vector

        def batched(batch: list[Packet]) -> list[bool]:
            hits = [False] * len(batch)
            for linktype in {p.linktype for p in batch}:
                where = [i for i, p in enumerate(batch) if p.linktype == linktype]
                chosen = [batch[i] for i in where]
                values = vector.run(program(chosen[0]).insns,
                                    vector.pack((p.data for p in chosen),
                                                (p.wirelen for p in chosen)))
                for i, value in zip(where, values.tolist(), strict=True):
                    hits[i] = value != 0
            return hits
        return batched
    if engine == "vm":
        return lambda batch: [program(p).run(p.data, p.wirelen) != 0 for p in batch]
    return lambda batch: [program(p).match(p.data, p.wirelen) != 0 for p in batch]


def _stream_sink(reader: CaptureReader, opts: Options) -> Sink:
    from .pcapfile import PcapngWriter, PcapWriter

    if opts.count_only:
        return CountSink()
    if opts.write is None:
        return PrintSink(sys.stdout, link_header=opts.link_header, quiet=opts.quiet,
                         verbose=opts.verbose)
    out_format = opts.out_format or reader.format
    out = _open_output(opts.write)
    if out_format == "pcap":
        return WriterSink(PcapWriter.like(out, reader))
    return WriterSink(PcapngWriter.like(out, reader))


# -- progress ----------------------------------------------------------------------------------

class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second, for big files when
    stderr is a terminal (and standard output is not the same terminal)."""

    WIDTH: Final = 30
    MIN_BYTES: Final = 64 << 20

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.started = self.shown = time.perf_counter()
        self.drawn = False

    @classmethod
    def maybe(cls, total: int, opts: Options | None,
              stream: IO[str] | None = None) -> Progress | None:
        stream = sys.stderr if stream is None else stream
        if total < cls.MIN_BYTES or not stream.isatty():
            return None
        if (opts is not None and opts.write is None and not opts.count_only
                and sys.stdout.isatty()):
            return None  # packet lines would tear the bar apart
        return cls(total, stream)

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.shown < 0.1:
            return
        self.shown = now
        frac = min(done / self.total, 1.0)
        filled = int(frac * self.WIDTH)
        rate = done / max(now - self.started, 1e-9)
        left = (self.total - done) / max(rate, 1.0)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {frac:4.0%} "
                          f"{rate / 1e6:7.0f} MB/s {left:5.1f} s left")
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()


# -- the API -------------------------------------------------------------------------------------

def filter_file(source: str | os.PathLike[str] | IO[bytes], expression: str = "", *,
                optimize: bool = True, netmask: int | str | None = None,
                engine: str = "auto") -> Iterator[Packet]:
    """The packets of a capture file that ``expression`` accepts, in file order.

    Each packet is judged by the program compiled for its own interface's link type. A big
    classic pcap file is filtered through the numpy engine chunk by chunk (bounded memory);
    anything else packet by packet through the JIT (``engine`` picks: auto, vector, jit, vm).
    A damaged file raises ``CaptureFileError`` after the last good matching packet.
    """
    filters = Filters(expression, optimize=optimize, netmask=netmask)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    mapped = None
    if name is not None:
        mapped = _open_mapped(Options(name, expression, engine=engine))
    if mapped is not None:
        try:
            yield from _mapped_matches(mapped, filters)
        finally:
            mapped.close()
        return
    from .pcapfile import open_capture

    with open_capture(source) as reader:
        verdicts = _verdicts(filters, engine, reader)
        size = STREAM_BATCH if engine == "vector" else 1
        for batch in _batches(reader, size):
            for packet, hit in zip(batch, verdicts(batch), strict=True):
                if hit:
                    yield packet


def _mapped_matches(m: Mapped, filters: Filters) -> Iterator[Packet]:
    program = None if filters.accepts_all else filters.program(m.linktype, m.snapshot)
    scan = m.scan()
    for chunk in scan.chunks(24, len(m.buf)):
        mask = _verdicts_of(program, chunk)
        for i in mask.nonzero()[0].tolist():
            yield chunk.packet(i)
        m.forget(int(chunk.offset[0]), chunk.end)
    if scan.damage_at is not None:
        raise _replay_damage(m, scan.damage_at)
