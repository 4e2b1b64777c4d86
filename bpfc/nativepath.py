"""The native offline path: a mapped capture file walked and filtered by machine code
(``bpfc.native``), matching records written as byte ranges of the map, without numpy.

Stage: the first choice of ``offline``'s mapped path (classic pcap: ``-w`` into pcap, ``--count``
and printing) and of ``ngpath`` (the usual pcapng file, written as pcapng or ``--pcap``, or
counted); other byte orders and other machines go the numpy or the stream way. Input: the
mapped file, the filter, where matches go; output: the same records written, counted or printed
as those ways give, the same damage report.

Each call of the walk fills up to IOV_MAX iovecs (runs of consecutive matching records), which
go out with one ``pwritev``; the file is walked WINDOW bytes at a time, so that pages behind the
walk are dropped (resident memory stays bounded) and a progress bar moves, while a second thread
maps the pages ahead (``Populator``). A classic record longer than the snapshot, which libpcap
cuts before filtering and writing, hands the rest of the file to the numpy path from that record
on; damage is reported by the reader's own words, as there. A pcapng block the walk does not
take raises ``nglayout.Unusual``: the stream path then starts over.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Final

from . import native
from .runwriter import IOV_MAX, CopySink, vector_writes_available

if TYPE_CHECKING:
    from .errors import CaptureFileError
    from .nglayout import NgLayout
    from .offline import Counts, Filters, Mapped, Options, PrintSink, Progress, Sink, Stages
    from .pcapfile import Packet
    from .program import Program
    from .runwriter import RunWriter

#: Bytes walked between two drops of the pages behind the walk.
WINDOW: Final = 32 << 20
#: How far ahead of the walk the other CPU maps the file's pages (``Populator``), and how
#: much at a time.
LEAD: Final = 32 << 20
POPULATE_STEP: Final = 2 << 20
#: Files smaller than this are walked without the page-mapping thread.
POPULATE_MIN_BYTES: Final = 8 << 20
MADV_POPULATE_READ: Final = 22  # Linux 5.14


def takes(m: Mapped, opts: Options) -> bool:
    """Whether the native path does this job (``--engine auto`` or ``native``)."""
    return opts.engine in ("auto", "native") and refusal(m, opts) is None


def reads(m: Mapped, engine: str) -> bool:
    """Whether the native walk reads this mapped classic pcap (``filter_file``): ``engine``
    auto or native, machine code runs here, the file is little-endian."""
    return engine in ("auto", "native") and native.available() and m.header.byteorder == "<"


def refusal(m: Mapped | None, opts: Options) -> str | None:
    """Why the native path cannot do this job (None: it can): machine code must run here, the
    input must be a mapped classic pcap (``m``; None: see ``_pcapng_refusal``) with lengths in
    this machine's byte order, and the matches must be written to pcap or counted."""
    import platform

    if not native.available():
        return (f"machine code runs only on Linux x86-64 (this is {platform.machine()} "
                f"on {sys.platform}), with executable memory allowed")
    if m is None:
        return _pcapng_refusal(opts)
    if m.header.byteorder != "<":
        return "the capture file is big-endian; it reads little-endian pcap files"
    if opts.count_only or opts.write is None:
        return None
    if opts.out_format not in (None, "pcap"):
        return "it writes a pcap file as pcap; writing pcapng takes --engine vector or jit"
    if not vector_writes_available():
        return "libc's pwritev cannot be called here"
    return None


def _pcapng_refusal(opts: Options) -> str | None:
    """Why the native walk cannot do a job on an input that is not a mapped classic pcap: it
    reads a file, and a pcapng file only of the usual kind (``nglayout``), little-endian, to
    write (``-w``, a regular file) or count, without ``-c``."""
    from . import ngpath
    from .errors import CaptureFileError
    from .nglayout import Unusual, read_layout

    if opts.source == "-":
        return "it reads a file, not standard input"
    try:
        layout = read_layout(opts.source)
    except Unusual as err:
        return ("it reads classic pcap files and pcapng files of one section and one "
                f"interface with micro- or nanosecond timestamps ({err})")
    except (CaptureFileError, OSError):
        return None  # unreadable: the stream path says why
    if layout.order != "<":
        return "the capture file is big-endian; it reads little-endian files"
    if opts.max_count is not None:
        return "it does not stop at -c in a pcapng file (--engine jit does)"
    if not ngpath.takes(opts):
        return ("it writes a regular file (-w) or counts (--count); printing packets or "
                "writing to a pipe takes --engine vector or jit")
    return None


def run(m: Mapped, opts: Options, filters: Filters, counts: Counts, stages: Stages,
        sink: Sink) -> CaptureFileError | None:
    """Walks, filters and writes, prints or counts the whole file; returns its damage, if
    any."""
    from .offline import PrintSink, replay_damage, run_chunks

    program = None if filters.accepts_all else filters.program(m.linktype, m.snapshot)
    consume: Consumer | None = None
    if isinstance(sink, CopySink):
        consume = _writing(sink.writer)
    elif isinstance(sink, PrintSink):
        consume = _printing(sink, m)
    status, pos = _walk_file(program, native.Layout.PCAP, m.buf, opts, counts, stages, consume,
                             native.WalkShape(snapshot=m.snapshot, limit=_limit(m),
                                              max_matched=opts.max_count))
    if status is native.Status.DAMAGE:
        return replay_damage(m, pos)
    if status is native.Status.CLIPPED:
        return run_chunks(m, opts, filters, counts, stages, sink, start=pos)
    return None


#: What becomes of the matches a call gathered (``Walk.runs``, or its iovecs as they are).
Consumer = Callable[[native.Walk], None]


def _writing(writer: RunWriter) -> Consumer:
    def write(walk: native.Walk) -> None:
        writer.send_iovecs(walk.control.iov_base, walk.filled(), walk.control.bytes)
    return write


def _printing(sink: PrintSink, m: Mapped) -> Consumer:
    """Each matching record's line printed (tcpdump's -r without -w)."""
    records = _records(m)

    def show(walk: native.Walk) -> None:
        sink.packets(records(walk))
    return show


def _records(m: Mapped) -> Callable[[native.Walk], Iterator[Packet]]:
    """The matching records a call gathered, as packets, in file order."""
    from .pcapfile import Packet

    buf, units, linktype = m.buf, m.header.ts_units, m.linktype
    header = struct.Struct("<IIII").unpack_from

    def packets(walk: native.Walk) -> Iterator[Packet]:
        for begin, length in walk.runs():
            at, end = begin, begin + length
            while at < end:
                sec, frac, cap, wire = header(buf, at)
                yield Packet(sec, frac, units, cap, wire, buf[at + 16:at + 16 + cap], linktype,
                             0, b"", "<")
                at += 16 + cap
    return packets


def matches(m: Mapped, filters: Filters) -> Iterator[Packet]:
    """``filter_file``'s packets from a classic pcap the native walk reads (``reads``), in file
    order; ``CaptureFileError`` after the last good match before damage."""
    from .offline import mapped_matches, replay_damage

    program = None if filters.accepts_all else filters.program(m.linktype, m.snapshot)
    walk = native.Walk(native.Scanner(None if program is None else program.insns), m.buf,
                       native.WalkShape(snapshot=m.snapshot, limit=_limit(m)), iovecs=IOV_MAX)
    records = _records(m)
    steps = _steps(walk, m.buf, None)
    try:
        for gathered in steps:
            yield from records(gathered)
    finally:
        steps.close()
        walk.release()
    if walk.status is native.Status.DAMAGE:
        raise replay_damage(m, int(walk.control.pos))
    if walk.status is native.Status.CLIPPED:
        yield from mapped_matches(m, filters, int(walk.control.pos))


def _walk_file(program: Program | None, layout: native.Layout, buf: mmap.mmap, opts: Options,
               counts: Counts, stages: Stages, consume: Consumer | None,
               shape: native.WalkShape) -> tuple[native.Status, int]:
    """The program compiled with the walk for ``layout``, run over the whole file (``_steps``),
    its matches handed to ``consume`` (None: only counted); the counts added up. Returns why
    the walk ended, and where."""
    from .offline import Progress

    since = time.perf_counter()
    scanner = native.Scanner(None if program is None else program.insns, layout,
                             writes=consume is not None)
    since = stages.add("emit", since)
    walk = native.Walk(scanner, buf, shape, iovecs=IOV_MAX)
    progress = Progress.maybe(len(buf), opts)
    steps = _steps(walk, buf, progress)
    try:
        for gathered in steps:
            if consume is not None:
                consume(gathered)
    finally:
        steps.close()  # the page-mapping thread ends before the map can be let go
        walk.release()
        counts.read += walk.control.read
        counts.matched += walk.control.matched
        if progress is not None:
            progress.done()
    stages.add("walk", since)
    return walk.status, int(walk.control.pos)


def _steps(walk: native.Walk, buf: mmap.mmap, progress: Progress | None,
           populate: bool = True) -> Generator[native.Walk, None, None]:
    """Calls the walk to the end of the file or until it stops short (``walk.status`` then
    says why: any status but STOP and FULL), yielding it after each call that gathered matches
    (they are cleared when the generator resumes). WINDOW bytes at a time, so that the pages
    behind the walk are dropped and the progress bar moves; with ``populate``, a second thread
    maps the pages ahead (``Populator``) when the file is big and a second CPU is free."""
    from .offline import forget

    control, size = walk.control, len(buf)
    populator = (Populator.start(walk.address, size) if populate and _populate_pays(size)
                 else None)
    try:
        dropped = control.pos
        control.stop = min(control.pos + WINDOW, size)
        while control.pos < size:
            status = walk.step()
            if populator is not None:
                populator.walked(control.pos)
            if walk.filled():
                yield walk
            walk.clear()
            if status is native.Status.FULL:
                continue
            forget(buf, dropped, control.pos)
            dropped = control.pos
            if progress is not None:
                progress.update(control.pos)
            if status is not native.Status.STOP:
                return
            control.stop = min(control.pos + WINDOW, size)
    finally:
        if populator is not None:
            populator.stop()


def pcapng_takes(layout: NgLayout, opts: Options) -> bool:
    """Whether the native walk does a pcapng job that ``ngpath`` took (``--engine auto`` or
    ``native``): machine code runs here and the file is little-endian."""
    return (opts.engine in ("auto", "native") and native.available() and layout.order == "<"
            and (opts.count_only or vector_writes_available()))


def run_pcapng(layout: NgLayout, buf: mmap.mmap, opts: Options, filters: Filters,
               counts: Counts, stages: Stages, writer: RunWriter | None, pcap: bool) -> None:
    """The usual pcapng file walked, filtered and written (its EPBs as they lie, or as pcap
    records with ``pcap``) or counted by machine code; ``nglayout.Unusual`` when a block is
    one the stream path must read (the caller then starts over there)."""
    from .nglayout import Unusual

    interface = layout.interface
    program = (None if filters.accepts_all
               else filters.program(interface.linktype, interface.snapshot))
    status, pos = _walk_file(program, native.Layout.PCAPNG_TO_PCAP if pcap
                             else native.Layout.PCAPNG, buf, opts, counts, stages,
                             None if writer is None else _writing(writer),
                             native.WalkShape(snapshot=interface.snapshot, start=layout.first,
                                              max_block=layout.max_block,
                                              units=interface.ts_units))
    if status is not native.Status.STOP:
        raise Unusual(f"a block the stream path reads, at byte {pos}")


def check_records(m: Mapped, counts: Counts, progress: Progress | None
                  ) -> tuple[int, int | None, int | None]:
    """The empty filter's check, while another thread copies the file: walks every record
    header, counting the good records, up to the first damaged one or the first one longer
    than the snapshot. Returns where the good records end, and the offset of that damaged (or
    long) record, if any. (No page-mapping thread: the copier has the other CPU.)"""
    walk = native.Walk(native.Scanner(None, writes=False), m.buf,
                       native.WalkShape(snapshot=m.snapshot, limit=_limit(m)))
    try:
        for _ in _steps(walk, m.buf, progress, populate=False):
            pass  # nothing is gathered: the walk only counts
    finally:
        walk.release()
        counts.read += walk.control.read
    pos = int(walk.control.pos)
    if walk.status is native.Status.DAMAGE:
        return pos, pos, None
    if walk.status is native.Status.CLIPPED:
        return pos, None, pos
    return len(m.buf), None, None


def _limit(m: Mapped) -> int:
    from .pcapfile import max_snaplen_for_dlt

    return max_snaplen_for_dlt(m.linktype)


def _populate_pays(size: int) -> bool:
    return size >= POPULATE_MIN_BYTES and len(os.sched_getaffinity(0)) >= 2


class Populator:
    """Maps the file's pages into this process on the other CPU, at most LEAD bytes ahead of
    the walk (``madvise(MADV_POPULATE_READ)`` through ctypes, which lets go of the GIL).

    Each first touch of a page of the map costs a page fault, ~40% of a single-core walk (the
    page cache is warm: only the page tables are filled); filled ahead of it by a second
    thread, the walk finds its pages mapped. Bounded, so resident memory stays bounded as the
    walk drops the pages behind it. On a kernel without MADV_POPULATE_READ (before 5.14) the
    first call fails and the thread ends: the walk then faults its pages in itself."""

    def __init__(self, address: int, size: int) -> None:
        import threading

        self.address = address
        self.size = size
        self.position = 0
        self.done = False
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="bpfc-populate", daemon=True)

    @classmethod
    def start(cls, address: int, size: int) -> Populator:
        populator = cls(address, size)
        populator.thread.start()
        return populator

    def walked(self, position: int) -> None:
        """The walk has reached ``position``."""
        with self.changed:
            self.position = position
            self.changed.notify()

    def stop(self) -> None:
        with self.changed:
            self.done = True
            self.changed.notify()
        self.thread.join()

    def _run(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
        at = 0
        while at < self.size:
            with self.changed:
                while not self.done and at >= self.position + LEAD:
                    self.changed.wait()
                if self.done:
                    return
            step = min(POPULATE_STEP, self.size - at)
            if madvise(self.address + at, step, MADV_POPULATE_READ) != 0:
                return
            at += step
