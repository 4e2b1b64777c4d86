"""Offline filtering: ``bpfc -r FILE [-w OUT] [-c N] [--count] [-e] [expression]``.

Stage: the driver for capture files. Input: a pcap or pcapng file (or a stream of one) and a
filter expression; output: the matching records written (``-w``), printed one line each like
tcpdump's, or counted, then a summary on stderr.

    run(args)
      open the input ─┬─ a mapped classic pcap, written to pcap or counted, on x86-64 Linux:
      │               │   the native engine walks, filters and gathers the matches as iovecs
      │               │   in machine code (nativepath, native), no numpy
      │               ├─ any other mapped classic pcap: index the record headers
      │               │   (recindex.PcapScan, a lockstep walk), filter chunk after chunk with
      │               │   the numpy engine, write runs of consecutive matching records as
      │               │   byte ranges of the input (runwriter: pwritev of map slices,
      │               │   copy_file_range for long runs); big files are cut into segments
      │               │   for two processes (parallel.TwoCores); the empty filter copies
      │               │   the whole file in a kernel-copy thread while the native walk or
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
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final, Protocol

from .errors import BpfcError, CaptureFileError, WritingTo, output_name
from .runwriter import CopySink

if TYPE_CHECKING:
    import threading

    import numpy as np
    import numpy.typing as npt

    from .pcapfile import CaptureReader, Packet, PcapFileHeader, PcapngWriter, PcapWriter
    from .program import Program
    from .recindex import Chunk, PcapScan

    BoolArray = npt.NDArray[np.bool_]
    I64Array = npt.NDArray[np.int64]
    Verdicts = Callable[[list[Packet]], Iterable[bool]]

EXIT_OK: Final = 0
EXIT_DAMAGED: Final = 1
#: Files at least this big take the mapped, vectorised path under ``--engine auto``.
VECTOR_MIN_BYTES: Final = 1 << 20
#: Files at least this big are filtered by two processes (``bpfc.parallel``) when two CPUs
#: are free to us.
PARALLEL_MIN_BYTES: Final = 32 << 20
#: Packets batched per call of the numpy engine on the stream path.
STREAM_BATCH: Final = 4096
#: Bytes per copy_file_range call of the empty filter's copier thread.
COPY_STEP: Final = 64 << 20
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
        self.failing = WritingTo("standard output")

    def packet(self, packet: Packet) -> None:
        with self.failing:
            self.out.write(self.printer.line(packet) + "\n")

    def chunk(self, chunk: Chunk, mask: BoolArray) -> None:
        import numpy as np

        self.packets(chunk.packet(i) for i in np.flatnonzero(mask).tolist())

    def packets(self, packets: Iterable[Packet]) -> None:
        """Many packets' lines, written at once."""
        line = self.printer.line
        text = "".join(line(packet) + "\n" for packet in packets)
        with self.failing:
            self.out.write(text)

    def close(self) -> None:
        with self.failing:
            self.out.flush()


class WriterSink:
    """``-w`` through a packet writer: a format change, or an input that is not mapped."""

    def __init__(self, writer: PcapWriter | PcapngWriter, name: str = "the output") -> None:
        self.writer = writer
        self.failing = WritingTo(name)

    def packet(self, packet: Packet) -> None:
        with self.failing:
            self.writer.write(packet)

    def chunk(self, chunk: Chunk, mask: BoolArray) -> None:
        import numpy as np

        with self.failing:
            for i in np.flatnonzero(mask).tolist():
                self.writer.write(chunk.packet(i))

    def close(self) -> None:
        with self.failing:
            self.writer.close()


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
    # Left as the caller had it (``cli.main`` has it off: re-enabling costs a pass over all).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        if collecting:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    opts = Options.from_args(args)
    stages = Stages()
    filters = Filters(opts.expression, optimize=opts.optimize, netmask=opts.netmask,
                      stages=stages)
    counts = Counts()
    _refuse_to_overwrite_input(opts)
    mapped = _open_mapped(opts)
    if opts.engine == "native":
        from .nativepath import refusal

        reason = refusal(mapped, opts)
        if reason is not None:
            if mapped is not None:
                mapped.close()
            raise BpfcError(f"--engine native: {reason}")
    if mapped is not None:
        try:
            damage = _run_mapped(mapped, opts, filters, counts, stages)
        finally:
            mapped.close()
    else:
        done: bool | None = None
        from . import ngpath

        if ngpath.takes(opts):
            done = ngpath.run(opts, filters, counts, stages)
        damage = None if done else _run_stream(opts, filters, counts, stages,
                                               first_line=done is None)
    with WritingTo("standard output"):
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


def announce(path: str, linktype: int, snaplen: int) -> None:
    """tcpdump's first line, on stderr."""
    from .linktypes import lookup

    link = lookup(linktype)
    print(f"reading from file {path}, link-type {link.name} ({link.description}), "
          f"snapshot length {snaplen}", file=sys.stderr, flush=True)


def _open_output(path: str) -> IO[bytes]:
    return Output.start(path).ready()


@dataclass(slots=True)
class Output:
    """The ``-w`` file, being opened. An existing regular file is emptied by a second thread
    (``ftruncate`` releases the GIL): giving a 40 MB file's pages back to the kernel takes
    ~9 ms, which then overlaps importing numpy instead of coming before it. Nothing may be
    written before ``ready()``, which waits for the emptying and reports its failure."""

    path: str
    file: IO[bytes]
    emptying: threading.Thread | None = None
    failure: OSError | None = None

    @classmethod
    def start(cls, path: str) -> Output:
        if path == "-":
            sys.stdout.flush()
            return cls(path, open(sys.stdout.fileno(), "wb", buffering=0, closefd=False))
        with WritingTo(path):  # what ``open(path, "wb")`` does, but for O_TRUNC
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        out = cls(path, open(fd, "wb", buffering=0))
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_size > 0:
            import threading

            out.emptying = threading.Thread(target=out._empty, name="bpfc-truncate",
                                            daemon=True)
            out.emptying.start()
        return out

    def _empty(self) -> None:
        try:
            os.ftruncate(self.file.fileno(), 0)
        except OSError as err:
            self.failure = err

    def ready(self) -> IO[bytes]:
        if self.emptying is not None:
            self.emptying.join()
            self.emptying = None
        if self.failure is not None:
            self.file.close()
            with WritingTo(self.path):
                raise self.failure
        return self.file


def _refuse_to_overwrite_input(opts: Options) -> None:
    """``-w`` naming the file ``-r`` reads would empty the capture while it is read (tcpdump
    stops with "truncated dump file", the capture gone): refused before anything is opened."""
    if opts.write is None or opts.write == "-":
        return
    try:
        out = os.stat(opts.write)
        source = os.fstat(sys.stdin.fileno()) if opts.source == "-" else os.stat(opts.source)
    except (OSError, ValueError):
        return  # no such output yet, or no input to compare: opening them says what is wrong
    if stat.S_ISREG(out.st_mode) and (out.st_dev, out.st_ino) == (source.st_dev, source.st_ino):
        raise CaptureFileError("-w names the capture file being read; refusing to overwrite "
                               "it (write to another file)", path=opts.write)


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
        from .recindex import PcapScan

        return PcapScan(self.buf, self.header.byteorder, self.linktype, self.snapshot,
                        self.header.ts_units)

    def forget(self, begin: int, end: int) -> None:
        forget(self.buf, begin, end)

    def close(self) -> None:
        try:
            self.buf.close()
        except BufferError:
            pass  # a numpy view still refers to it (say, a traceback frame): the GC unmaps it
        self.file.close()


def forget(buf: mmap.mmap, begin: int, end: int) -> None:
    """Drops the pages of [begin, end) of a map from this process's memory (they stay in the
    page cache), so that resident memory does not grow with the file."""
    begin -= begin % PAGE
    if end > begin:
        buf.madvise(mmap.MADV_DONTNEED, begin, min(end, len(buf)) - begin)


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
    announce(m.path, m.linktype, m.header.snaplen)
    output = None if opts.count_only or opts.write is None else Output.start(opts.write)
    from . import nativepath

    native = nativepath.takes(m, opts)
    if not native:
        # Every other way through here takes the record index and numpy (~40 ms to import):
        # imported now, while an existing output file is emptied on the other core.
        from . import recindex  # noqa: F401
    sink = _mapped_sink(m, opts, output)
    try:
        if (filters.accepts_all and isinstance(sink, CopySink) and sink.writer.positional
                and opts.max_count is None):
            return _copy_everything(m, opts, filters, counts, stages, sink, native)
        if native:
            return nativepath.run(m, opts, filters, counts, stages, sink)
        if _two_cores_pay(m, opts, sink):
            from .parallel import TwoCores

            return TwoCores(m, filters, counts, stages, sink).run()
        return run_chunks(m, opts, filters, counts, stages, sink)
    finally:
        sink.close()


def _copy_everything(m: Mapped, opts: Options, filters: Filters, counts: Counts,
                     stages: Stages, sink: CopySink, native: bool) -> CaptureFileError | None:
    """The empty filter into a pcap file: every record is written as it lies, so the whole
    file is copied inside the kernel by a second thread (``copy_file_range`` releases the GIL)
    while this one walks the record headers to check them (``native``: with the native walk,
    else with the record index). Damage ends the output just before the damaged record (the
    copy is cut back); a record longer than the snapshot, which must be written cut, hands the
    rest of the file to the ordinary chunk loop from that record on."""
    import threading

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
    progress = Progress.maybe(size, opts)
    since = time.perf_counter()
    stop_at = size
    try:
        if native:
            from .nativepath import check_records

            stop_at, damage_at, clipped_at = check_records(m, counts, progress)
        else:
            stop_at, damage_at, clipped_at = _check_records(m, counts, progress)
    finally:
        limit[0] = min(limit[0], stop_at)
        thread.join()
        if progress is not None:
            progress.done()
    since = stages.add("walk" if native else "index", since)
    if done[0] < stop_at:
        writer.copy_range(done[0], stop_at, done[0] + base)
    writer.truncate(stop_at + base)
    writer.position = stop_at + base
    counts.matched = counts.read
    stages.add("write", since)
    if clipped_at is not None:
        return run_chunks(m, opts, filters, counts, stages, sink, clipped_at)
    return None if damage_at is None else replay_damage(m, damage_at)


def _check_records(m: Mapped, counts: Counts, progress: Progress | None
                   ) -> tuple[int, int | None, int | None]:
    """Walks every record header with the record index, counting the good records, up to the
    first damaged one or the first one longer than the snapshot. Returns where the good
    records end, and the offset of that damaged (or long) record, if any."""
    import numpy as np

    from .recindex import INDEX_BYTES

    scan = m.scan()
    size = len(m.buf)
    q, damage_at, clipped_at = 24, None, None
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
            return stop_at, damage_at, clipped_at
        q = after
    return size, None, None


def _mapped_sink(m: Mapped, opts: Options, output: Output | None) -> Sink:
    if output is None:
        if opts.count_only:
            return CountSink()
        return PrintSink(sys.stdout, link_header=opts.link_header, quiet=opts.quiet,
                         verbose=opts.verbose)
    from .pcapfile import PcapngWriter

    out = output.ready()
    if opts.out_format in (None, "pcap"):
        return CopySink(out, m.file.fileno(), m.buf, m.header.pack(), output_name(output.path))
    with WritingTo(output_name(output.path)):  # the file header
        writer = PcapngWriter(out, m.linktype, m.header.snaplen, byteorder=m.header.byteorder,
                              ts_units=m.header.ts_units)
    return WriterSink(writer, output_name(output.path))


def _two_cores_pay(m: Mapped, opts: Options, sink: Sink) -> bool:
    """Two processes for big files, when their work can be merged from byte ranges and counts
    (writing pcap, counting) and no ``-c`` asks to stop at an exact packet."""
    if len(m.buf) < PARALLEL_MIN_BYTES or opts.max_count is not None:
        return False
    if not isinstance(sink, (CopySink, CountSink)) or os.environ.get("BPFC_ONE_CORE"):
        return False
    return len(os.sched_getaffinity(0)) >= 2


def verdicts_of(program: Program | None, chunk: Chunk) -> BoolArray:
    """Which records of a chunk the program accepts (every one, for the empty filter)."""
    from . import vector

    if program is None:
        return vector.all_true(len(chunk))
    verdicts: BoolArray = vector.run(program.insns, chunk.batch()) != 0
    return verdicts


def run_chunks(m: Mapped, opts: Options, filters: Filters, counts: Counts, stages: Stages,
                sink: Sink, start: int = 24) -> CaptureFileError | None:
    """One process, chunk after chunk (from the record at ``start``): any sink, and ``-c``."""
    program = None if filters.accepts_all else filters.program(m.linktype, m.snapshot)
    scan = m.scan()
    progress = Progress.maybe(len(m.buf), opts)
    since = time.perf_counter()
    try:
        for chunk in scan.chunks(start, len(m.buf)):
            since = stages.add("index", since)
            mask = verdicts_of(program, chunk)
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
    return None if scan.damage_at is None else replay_damage(m, scan.damage_at)


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


def replay_damage(m: Mapped, offset: int) -> CaptureFileError:
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


# -- the stream path -------------------------------------------------------------------------

def _run_stream(opts: Options, filters: Filters, counts: Counts, stages: Stages,
                first_line: bool = True) -> CaptureFileError | None:
    """Any input, one packet at a time (or batched for ``--engine vector``); ``first_line``:
    print tcpdump's first line (not yet printed)."""
    from .pcapfile import open_capture

    since = time.perf_counter()
    source: str | IO[bytes] = sys.stdin.buffer if opts.source == "-" else opts.source
    reader = open_capture(source)
    with reader:
        first = reader.interfaces[0]
        if first_line:
            announce(opts.source, first.linktype, first.snaplen)
        sink = _stream_sink(reader, opts)
        verdicts = _verdicts(filters, opts.engine, reader)
        size = STREAM_BATCH if opts.engine == "vector" else 1
        try:
            if not filters.accepts_all:
                # Compiled for the first interface before any packet, as tcpdump does and as
                # the other paths do: a filter the link type cannot express fails even a file
                # without packets. (Other interfaces' link types are compiled when met.)
                filters.program(first.linktype, first.snapshot)
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
    """The reader's packets, ``size`` at a time; damage ends the batch it is found in, which
    is handed out (every good packet before the damage is filtered) before the error."""
    if size == 1:
        for packet in reader:
            yield [packet]
        return
    batch: list[Packet] = []
    try:
        for packet in reader:
            batch.append(packet)
            if len(batch) >= size:
                yield batch
                batch = []
    except CaptureFileError:
        if batch:
            yield batch
        raise
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
    name = output_name(opts.write)
    with WritingTo(name):  # the file header
        writer = (PcapWriter.like(out, reader) if out_format == "pcap"
                  else PcapngWriter.like(out, reader))
    return WriterSink(writer, name)


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
    classic pcap file is walked by the native engine where it runs (Linux x86-64), else
    filtered through the numpy engine chunk by chunk (bounded memory either way); anything
    else packet by packet through the JIT (``engine`` picks: auto, native, vector, jit, vm).
    A damaged file raises ``CaptureFileError`` after the last good matching packet.
    """
    filters = Filters(expression, optimize=optimize, netmask=netmask)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    mapped = None
    if name is not None:
        mapped = _open_mapped(Options(name, expression, engine=engine))
    if mapped is not None:
        from . import nativepath

        try:
            if nativepath.reads(mapped, engine):
                yield from nativepath.matches(mapped, filters)
            elif engine == "native":
                raise BpfcError("engine native: it reads little-endian classic pcap files, "
                                "on Linux x86-64")
            else:
                yield from mapped_matches(mapped, filters)
        finally:
            mapped.close()
        return
    if engine == "native":
        raise BpfcError("engine native: it reads classic pcap files, not streams or pcapng "
                        "(through filter_file)")
    from .pcapfile import open_capture

    with open_capture(source) as reader:
        verdicts = _verdicts(filters, engine, reader)
        size = STREAM_BATCH if engine == "vector" else 1
        for batch in _batches(reader, size):
            for packet, hit in zip(batch, verdicts(batch), strict=True):
                if hit:
                    yield packet


def mapped_matches(m: Mapped, filters: Filters, start: int = 24) -> Iterator[Packet]:
    """``filter_file``'s packets through the numpy engine, from the record at ``start``."""
    program = None if filters.accepts_all else filters.program(m.linktype, m.snapshot)
    scan = m.scan()
    for chunk in scan.chunks(start, len(m.buf)):
        mask = verdicts_of(program, chunk)
        for i in mask.nonzero()[0].tolist():
            yield chunk.packet(i)
        m.forget(int(chunk.offset[0]), chunk.end)
    if scan.damage_at is not None:
        raise replay_damage(m, scan.damage_at)
