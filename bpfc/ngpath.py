"""``bpfc -r`` over a big pcapng file, vectorised: ``ngscan``'s segments through the numpy engine,
matching EPBs written as byte ranges of the input (pcapng out) or as classic pcap records.

Stage: the pcapng branch of the offline driver, beside the classic one (``offline._run_mapped``).
Input: the options, the filters; output: the counts, the written capture and any damage, exactly
what the stream path (``offline._run_stream``) gives for the same file. It takes only what it
can do without deciding anything the stream path decides: a file it finds unusual part way
through (``ngscan.Unusual``) is handed back, the output not yet committed (counting, or a regular
file that the stream path empties and writes again), so the stream path starts over.

One process: the index walk, filter and writes of a segment follow one another; the classic
path's two-process split is not done here.
"""

from __future__ import annotations

import io
import mmap
import os
import stat
import time
from typing import TYPE_CHECKING

from .offline import (
    VECTOR_MIN_BYTES,
    Counts,
    Filters,
    Options,
    Progress,
    Stages,
    _announce,
    _Output,
)

if TYPE_CHECKING:
    from .ngscan import NgScan, NgSegment
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
    from .ngscan import NgScan, Unusual

    try:
        scan = NgScan.open(opts.source, buf)
    except (Unusual, CaptureFileError, OSError):
        return None
    first = scan.interface
    _announce(opts.source, first.linktype, first.snaplen)
    output = None if opts.count_only else _Output.start(opts.write or "")
    writer = None
    try:
        if output is not None:
            writer = _writer(scan, output, src_fd, opts.out_format == "pcap")
        _segments(scan, opts, filters, counts, stages, writer, opts.out_format == "pcap")
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


def _writer(scan: NgScan, output: _Output, src_fd: int, pcap: bool) -> RunWriter:
    """The output, its file header written as the stream path's writers write it for this
    file (``PcapWriter.like``, ``PcapngWriter.like``)."""
    from .errors import output_name
    from .pcapwrite import PcapngWriter, PcapWriter
    from .runwriter import RunWriter

    first = scan.interface
    header = io.BytesIO()
    if pcap:
        PcapWriter(header, first.linktype, first.snaplen,
                   nanosecond=first.ts_units > 1_000_000, byteorder=scan.order)
    else:
        PcapngWriter(header, first.linktype, first.snaplen, byteorder=scan.order,
                     ts_units=first.ts_units)
    out = output.ready()
    assert isinstance(scan.buf, mmap.mmap)
    writer = RunWriter(out.fileno(), src_fd, scan.buf, 0, output_name(output.path))
    writer.position = writer.vector([memoryview(header.getvalue())], 0)
    return writer


def _segments(scan: NgScan, opts: Options, filters: Filters, counts: Counts, stages: Stages,
              writer: RunWriter | None, pcap: bool) -> None:
    import numpy as np

    from . import vector

    first = scan.interface
    program = None if filters.accepts_all else filters.program(first.linktype, first.snapshot)
    progress = Progress.maybe(scan.size, opts)
    since = time.perf_counter()
    pos = scan.first
    try:
        while pos < scan.size:
            seg = scan.segment(pos)
            since = stages.add("index", since)
            if program is None:
                mask = np.ones(len(seg), dtype=bool)
            else:
                mask = vector.run(program.insns, seg.batch()) != 0
            counts.read += len(seg)
            counts.matched += int(np.count_nonzero(mask))
            since = stages.add("filter", since)
            if writer is not None:
                _write(scan, seg, mask, writer, pcap)
            if isinstance(scan.buf, mmap.mmap):
                begin = pos - pos % mmap.PAGESIZE
                scan.buf.madvise(mmap.MADV_DONTNEED, begin, min(seg.end, scan.size) - begin)
            since = stages.add("write", since)
            if progress is not None:
                progress.update(seg.end)
            pos = seg.end
    finally:
        if progress is not None:
            progress.done()


def _write(scan: NgScan, seg: NgSegment, mask: BoolArray, writer: RunWriter, pcap: bool) -> None:
    """The chosen EPBs: as they lie (pcapng out: the stream path's writer would write the same
    bytes), or as classic pcap records (a header made here, then the packet's bytes)."""
    import numpy as np

    from .ngscan import EPB_HEAD, Unusual
    from .runwriter import sorted_runs

    offset = seg.offset[mask]
    if not pcap:
        if scan.nonzero_padding(seg, mask):
            raise Unusual("padding the stream path would write as zeros")
        writer.write(*sorted_runs(offset, offset + seg.total[mask]))
        return
    units = np.uint64(scan.interface.ts_units)
    stamp = seg.stamp[mask]
    sec = stamp // units
    if len(sec) and int(sec.max()) > 0xFFFFFFFF:
        raise Unusual("a timestamp a pcap file cannot hold")
    caplen = seg.caplen[mask]
    heads = np.empty((len(offset), 4), dtype=np.dtype(scan.order + "u4"))
    heads[:, 0] = sec
    heads[:, 1] = stamp % units
    heads[:, 2] = caplen
    heads[:, 3] = seg.wirelen[mask]
    data = offset + EPB_HEAD
    writer.write_records(heads.view(np.uint8), data, data + caplen)
