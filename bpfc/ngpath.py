"""``bpfc -r`` over a big pcapng file, vectorised: ``ngscan``'s segments through the numpy engine,
matching EPBs written as byte ranges of the input (pcapng out) or as classic pcap records.

Stage: the pcapng branch of the offline driver, beside the classic one (``offline._run_mapped``).
Input: the options, the filters; output: the counts and the written capture, exactly what the
stream path (``offline._run_stream``) gives for the same file. It takes only what it can do
without deciding anything the stream path decides: a file it finds unusual part way through
(``nglayout.Unusual``: damage included) is handed back, the output not yet committed (counting,
or a regular file that the stream path empties and writes again), so the stream path starts
over and reports whatever there is to report.

On Linux x86-64 a little-endian file is walked by machine code instead (``nativepath``, which
hands unusual files back the same way); the numpy walk below is the way everywhere else.

A big file is cut in two at a block near its middle (``_two_halves``): this process takes the
first half, a child the second, writing into a scratch file that is appended to the output.
Simpler than the classic path's segments claimed in turn (``parallel``), since a start-over on
the stream path is always at hand.
"""

from __future__ import annotations

import io
import mmap
import os
import stat
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NoReturn

from .offline import (
    PARALLEL_MIN_BYTES,
    VECTOR_MIN_BYTES,
    Counts,
    Filters,
    Options,
    Output,
    Progress,
    Stages,
    announce,
    forget,
)

if TYPE_CHECKING:
    from .nglayout import NgLayout
    from .ngscan import NgScan, NgSegment
    from .program import Program
    from .runwriter import RunWriter
    from .vector import BoolArray


def takes(opts: Options) -> bool:
    """Whether this path may try the input: a regular file big enough for numpy to pay (or
    ``--engine vector``), no ``-c``, and an output it can hand back: counting, or a regular file
    (or one still to be made) in pcapng or pcap. Printing stays on the stream path."""
    if opts.source == "-" or opts.engine in ("jit", "vm") or opts.max_count is not None:
        return False
    if not opts.count_only:
        if opts.write is None or opts.write == "-":
            return False
        try:
            if not stat.S_ISREG(os.stat(opts.write).st_mode):
                return False
        except OSError:
            pass  # not there yet: it will be a regular file (or opening it says why not)
    try:
        info = os.stat(opts.source)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    return not (opts.engine == "auto" and info.st_size < VECTOR_MIN_BYTES)


def run(opts: Options, filters: Filters, counts: Counts, stages: Stages) -> bool | None:
    """Filters the file, if it is one this path takes: True when done (the counts are final
    and the output written); None when it is not one (nothing was done); False when it turned
    out unusual part way through and the stream path must do it all again (nothing of this
    run's counts or output is kept; the first line is printed already)."""
    with open(opts.source, "rb") as file:
        try:
            buf = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        try:
            return _run(opts, filters, counts, stages, buf, file.fileno())
        finally:
            try:
                buf.close()
            except BufferError:
                pass  # a numpy view still refers to it: the collector unmaps it


def _run(opts: Options, filters: Filters, counts: Counts, stages: Stages, buf: mmap.mmap,
         src_fd: int) -> bool | None:
    from .errors import CaptureFileError, WritingTo, output_name
    from .nativepath import pcapng_takes, run_pcapng
    from .nglayout import Unusual, read_layout

    pcap = opts.out_format == "pcap"
    scan = None
    try:
        layout = read_layout(opts.source)
        if len(buf) % 4:
            raise Unusual("not a whole number of words")
        native = pcapng_takes(layout, opts)
        if not native:
            from .ngscan import NgScan

            scan = NgScan.of(layout, buf)
    except (Unusual, CaptureFileError, OSError):
        return None
    first = layout.interface
    announce(opts.source, first.linktype, first.snaplen)
    output = None if opts.count_only else Output.start(opts.write or "")
    writer = None
    try:
        if output is not None:
            writer = _writer(layout, buf, output, src_fd, pcap)
        if scan is None:
            run_pcapng(layout, buf, opts, filters, counts, stages, writer, pcap)
        else:
            _segments(scan, opts, filters, counts, stages, writer, pcap)
    except Unusual:
        counts.read = counts.matched = 0
        return False
    finally:
        if writer is not None:
            writer.release()
        if output is not None:
            with WritingTo(output_name(output.path)):
                output.ready().close()
    return True


def _writer(layout: NgLayout, buf: mmap.mmap, output: Output, src_fd: int,
            pcap: bool) -> RunWriter:
    """The output, its file header written as the stream path's writers write it for this
    file (``PcapWriter.like``, ``PcapngWriter.like``)."""
    from .errors import output_name
    from .pcapwrite import PcapngWriter, PcapWriter
    from .runwriter import RunWriter

    first = layout.interface
    header = io.BytesIO()
    if pcap:
        PcapWriter(header, first.linktype, first.snaplen,
                   nanosecond=first.ts_units > 1_000_000, byteorder=layout.order)
    else:
        PcapngWriter(header, first.linktype, first.snaplen, byteorder=layout.order,
                     ts_units=first.ts_units)
    out = output.ready()
    writer = RunWriter(out.fileno(), src_fd, buf, 0, output_name(output.path))
    writer.position = writer.vector([memoryview(header.getvalue())], 0)
    return writer


@dataclass(slots=True)
class _Job:
    """What every stretch of the file is filtered with, and where its matches go."""

    scan: NgScan
    program: Program | None
    stages: Stages
    writer: RunWriter | None
    pcap: bool


def _segments(scan: NgScan, opts: Options, filters: Filters, counts: Counts, stages: Stages,
              writer: RunWriter | None, pcap: bool) -> None:
    first = scan.interface
    program = None if filters.accepts_all else filters.program(first.linktype, first.snapshot)
    job = _Job(scan, program, stages, writer, pcap)
    progress = Progress.maybe(scan.size, opts)
    try:
        if _two_halves_pay(scan, opts, writer):
            _two_halves(job, counts, progress, opts.write or "")
        else:
            _span(job, scan.first, scan.size, counts, progress)
    finally:
        if progress is not None:
            progress.done()


def _span(job: _Job, start: int, stop: int, counts: Counts, progress: Progress | None) -> int:
    """Filters the blocks from byte ``start`` (a block start) up to the first at or after
    ``stop``, segment by segment, and writes their matches; returns where the last one ended."""
    import numpy as np

    from . import vector

    scan, stages = job.scan, job.stages
    since = time.perf_counter()
    pos = start
    while pos < stop:
        seg = scan.segment(pos, stop)
        since = stages.add("index", since)
        if job.program is None:
            mask = np.ones(len(seg), dtype=bool)
        else:
            mask = vector.run(job.program.insns, seg.batch()) != 0
        counts.read += len(seg)
        counts.matched += int(np.count_nonzero(mask))
        since = stages.add("filter", since)
        if job.writer is not None:
            _write(scan, seg, mask, job.writer, job.pcap)
        if isinstance(scan.buf, mmap.mmap):
            forget(scan.buf, pos, seg.end)
        since = stages.add("write", since)
        if progress is not None:
            progress.update(seg.end)
        pos = seg.end
    return pos


# -- two processes: the first half here, the second in a child ------------------------------

#: The child's report: status (0 done, 1 unusual, 2 failed: an error message of ``size`` bytes
#: follows), packets read, matched, bytes written.
_REPORT: Final = struct.Struct("<qqqq")
_DONE, _UNUSUAL, _FAILED = 0, 1, 2


def _two_halves_pay(scan: NgScan, opts: Options, writer: RunWriter | None) -> bool:
    """A big file, two CPUs, and an output file at hand (or only counting)."""
    if scan.size < PARALLEL_MIN_BYTES or os.environ.get("BPFC_ONE_CORE"):
        return False
    if writer is not None and not writer.positional:
        return False
    return len(os.sched_getaffinity(0)) >= 2


def _two_halves(job: _Job, counts: Counts, progress: Progress | None, out_path: str) -> None:
    """The file cut at a block near its middle: this process filters and writes the first half,
    a child the second, into a scratch file (O_TMPFILE) that is then appended to the output
    inside the kernel. The child's half counts only if this half's walk ends exactly where the
    child began; else (a wrong guess) this process goes on through the second half itself."""
    from . import vector  # noqa: F401 - imported once, before the fork
    from .parallel import reap

    scan, writer = job.scan, job.writer
    middle = scan.middle()
    scratch = _scratch(out_path) if writer is not None else None
    if middle < 0 or (writer is not None and scratch is None):
        _span(job, scan.first, scan.size, counts, progress)
        return
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(report_r)
        _child(job, middle, scratch, report_w)
    os.close(report_w)
    finished, end = False, -1
    try:
        end = _span(job, scan.first, middle, counts, progress)
        if end != middle:  # the middle was no block start: the rest is this process's
            _span(job, end, scan.size, counts, progress)
        else:
            _take(job, counts, report_r, scratch)
        finished = True
    finally:
        os.close(report_r)
        if scratch is not None:
            os.close(scratch)
        reap(pid, wait=finished and end == middle)


def _child(job: _Job, middle: int, scratch: int | None, report_w: int) -> NoReturn:
    from .errors import CaptureFileError
    from .nglayout import Unusual
    from .runwriter import RunWriter

    status = 1
    try:
        writer = None
        if job.writer is not None:
            assert scratch is not None and isinstance(job.scan.buf, mmap.mmap)
            writer = RunWriter(scratch, job.writer.src_fd, job.scan.buf, 0,
                               job.writer.failing.name)
        mine = _Job(job.scan, job.program, Stages(), writer, job.pcap)
        counts = Counts()
        try:
            _span(mine, middle, job.scan.size, counts, None)
            report = _REPORT.pack(_DONE, counts.read, counts.matched,
                                  0 if writer is None else writer.position)
        except Unusual:
            report = _REPORT.pack(_UNUSUAL, 0, 0, 0)
        except CaptureFileError as err:
            text = str(err).encode()
            report = _REPORT.pack(_FAILED, 0, 0, len(text)) + text
        os.write(report_w, report)
        status = 0
    finally:
        os._exit(status)


def _take(job: _Job, counts: Counts, report_r: int, scratch: int | None) -> None:
    """The child's half: its counts, and its matches appended to the output."""
    from .errors import CaptureFileError
    from .nglayout import Unusual

    head = os.read(report_r, _REPORT.size)
    if len(head) < _REPORT.size:
        raise CaptureFileError("the second filtering process died")
    status, read, matched, size = _REPORT.unpack(head)
    if status == _UNUSUAL:
        raise Unusual("in the second half")
    if status == _FAILED:
        raise CaptureFileError(os.read(report_r, size).decode(errors="replace"))
    counts.read += read
    counts.matched += matched
    writer = job.writer
    if writer is None or scratch is None:
        return
    with writer.failing:
        done = 0
        while done < size:
            n = 0
            try:
                n = os.copy_file_range(scratch, writer.fd, size - done, done,
                                       writer.position + done)
            except OSError:
                pass
            if n <= 0:  # no copy in the kernel between these two: through this process
                n = os.pwrite(writer.fd, os.pread(scratch, min(size - done, 8 << 20), done),
                              writer.position + done)
            done += n
    writer.position += size


def _scratch(out_path: str) -> int | None:
    """An unnamed file beside the output (same file system, so the kernel can copy between
    them), or None where there is none to be had."""
    try:
        return os.open(os.path.dirname(os.path.abspath(out_path)),
                       os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (OSError, AttributeError):
        return None


def _write(scan: NgScan, seg: NgSegment, mask: BoolArray, writer: RunWriter, pcap: bool) -> None:
    """The chosen EPBs: as they lie (pcapng out: the stream path's writer would write the same
    bytes), or as classic pcap records (a header made here, then the packet's bytes)."""
    import numpy as np

    from .nglayout import Unusual
    from .ngscan import EPB_HEAD
    from .runwriter import sorted_runs

    chosen = np.flatnonzero(mask)
    chosen = chosen[np.argsort(seg.offset[chosen], kind="stable")]  # file order
    offset = seg.offset[chosen]
    if not pcap:
        if scan.nonzero_padding(seg, mask):
            raise Unusual("padding the stream path would write as zeros")
        writer.write(*sorted_runs(offset, offset + seg.total[chosen]))
        return
    units = np.uint64(scan.interface.ts_units)
    stamp = seg.stamp[chosen]
    sec = stamp // units
    if len(sec) and int(sec.max()) > 0xFFFFFFFF:
        raise Unusual("a timestamp a pcap file cannot hold")
    caplen = seg.caplen[chosen]
    heads = np.empty((len(offset), 4), dtype=np.dtype(scan.order + "u4"))
    heads[:, 0] = sec
    heads[:, 1] = stamp % units
    heads[:, 2] = caplen
    heads[:, 3] = seg.wirelen[chosen]
    data = offset + EPB_HEAD
    writer.write_records(heads.view(np.uint8), data, data + caplen)
