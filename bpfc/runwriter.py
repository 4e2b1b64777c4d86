"""The byte-range writer: matching records go out as ranges of the mapped input file.

Stage: the output edge of the mapped offline path (``bpfc -r IN -w OUT``, classic pcap to
classic pcap). Input: a chunk of records (``recindex.Chunk``) with its verdicts, or byte ranges
``[begins[i], ends[i])`` of the input; output: those bytes written to the output, in order,
byte for byte as they lie in the input, so that no record is rebuilt in Python (only a matching
record longer than the snapshot is, since libpcap delivers it cut).

Short ranges are gathered into ``pwritev``/``writev`` calls of up to IOV_MAX slices of the map;
long ones are copied inside the kernel (``copy_file_range``; ``sendfile`` to a pipe). A regular
output file is written at explicit offsets, so that the two processes of ``bpfc.parallel`` can
fill one file. numpy is imported only inside the functions that need it, as ``offline`` does.
"""

from __future__ import annotations

import errno
import functools
import mmap
import os
import stat
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Final

from .errors import WritingTo

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .pcapfile import Packet
    from .recindex import Chunk

    BoolArray = npt.NDArray[np.bool_]
    I64Array = npt.NDArray[np.int64]
    U8Array = npt.NDArray[np.uint8]

#: Runs of matching records at least this long are copied inside the kernel.
KERNEL_COPY_MIN: Final = 1 << 20
IOV_MAX: Final = 1024


class RunWriter:
    """Writes byte ranges of the mapped input to the output: short ones gathered into
    ``pwritev``/``writev`` calls of up to IOV_MAX slices of the map, long ones copied inside the
    kernel (``copy_file_range``; ``sendfile`` to a pipe). ``positional`` (a regular output file)
    writes at explicit offsets, so that two processes can fill one file."""

    def __init__(self, fd: int, src_fd: int, buf: mmap.mmap, position: int,
                 name: str = "the output") -> None:
        self.fd = fd
        #: Failed writes are reported as failures to write to ``name`` (errors.WritingTo).
        self.failing = WritingTo(name)
        self.src_fd = src_fd
        self.view: memoryview | None = memoryview(buf)
        self.positional = stat.S_ISREG(os.fstat(fd).st_mode)
        self.position = position
        self.kernel_copy = True
        #: The map's bytes as a numpy array (for their address), made on first use.
        self._bytes: U8Array | None = None

    def write(self, begins: I64Array, ends: I64Array, at: int | None = None) -> int:
        """Writes [begins[i], ends[i]) of the input, in order, at output offset ``at`` (default:
        where the last write ended); returns the offset after them."""
        with self.failing:
            return self._write(begins, ends, at)

    def _write(self, begins: I64Array, ends: I64Array, at: int | None) -> int:
        view = self.view
        assert view is not None
        pos = self.position if at is None else at
        if not self.kernel_copy or int((ends - begins).max(initial=0)) < KERNEL_COPY_MIN:
            # Short runs only (the common case).
            calls = _libc_vector_writes()
            if calls is not None:
                pos = self._write_iovecs(calls, begins, ends, pos)
                if at is None:
                    self.position = pos
                return pos
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

    def _write_iovecs(self, calls: tuple[Callable[..., int], Callable[..., int]],
                      begins: I64Array, ends: I64Array, pos: int) -> int:
        """Writes the ranges with libc's ``pwritev``/``writev`` from an iovec array that numpy
        fills (address of the map + offset, length): no Python object per run."""
        import numpy as np

        count = len(begins)
        if not count:
            return pos
        iov = np.empty((count, 2), dtype=np.uint64)
        np.add(begins, self._map_address(begins, ends), out=iov[:, 0], casting="unsafe")
        np.subtract(ends, begins, out=iov[:, 1], casting="unsafe")
        return self._send_iovecs(calls, iov, pos)

    def write_records(self, heads: U8Array, begins: I64Array, ends: I64Array) -> int:
        """Writes record ``i`` as ``heads[i]`` (its header, made by the caller: one row of a
        C-contiguous matrix) followed by [begins[i], ends[i]) of the input, at the output's
        position, for every ``i``; returns the position after them."""
        import numpy as np

        with self.failing:
            count = len(begins)
            calls = _libc_vector_writes()
            if calls is None or not count:
                assert self.view is not None
                parts: list[memoryview] = []
                for i, (b, e) in enumerate(zip(begins.tolist(), ends.tolist(), strict=True)):
                    parts += [memoryview(heads[i]), self.view[b:e]]
                for first in range(0, len(parts), IOV_MAX):
                    self.position = self._vector(parts[first:first + IOV_MAX], self.position,
                                                 None)
                return self.position
            assert heads.flags.c_contiguous and len(heads) == count
            width = heads.shape[1]
            iov = np.empty((count, 2, 2), dtype=np.uint64)
            iov[:, 0, 0] = heads.ctypes.data + width * np.arange(count, dtype=np.uint64)
            iov[:, 0, 1] = width
            np.add(begins, self._map_address(begins, ends), out=iov[:, 1, 0], casting="unsafe")
            np.subtract(ends, begins, out=iov[:, 1, 1], casting="unsafe")
            self.position = self._send_iovecs(calls, iov.reshape(2 * count, 2), self.position)
            return self.position

    def _map_address(self, begins: I64Array, ends: I64Array) -> int:
        """The address of the map's first byte, once the ranges are checked to lie in it."""
        import numpy as np

        assert self.view is not None
        if len(begins) and (int(begins.min()) < 0 or int(ends.max()) > len(self.view)
                            or bool(np.any(ends < begins))):
            raise AssertionError("a run of matches outside the mapped file")
        if self._bytes is None:
            self._bytes = np.frombuffer(self.view, dtype=np.uint8)
        address: int = self._bytes.ctypes.data
        return address

    def _send_iovecs(self, calls: tuple[Callable[..., int], Callable[..., int]],
                     iov: npt.NDArray[np.uint64], pos: int) -> int:
        """Writes what the (address, length) rows of ``iov`` point to, IOV_MAX per call."""
        import numpy as np

        count = len(iov)
        totals = np.add.reduceat(iov[:, 1], np.arange(0, count, IOV_MAX)).tolist()
        address = iov.ctypes.data
        for call, first in enumerate(range(0, count, IOV_MAX)):
            pos = self._send_batch(calls, address + 16 * first, min(IOV_MAX, count - first),
                                   totals[call], pos)
        return pos

    def send_iovecs(self, address: int, count: int, total: int) -> None:
        """Writes, at the output's position, the ``total`` bytes that the ``count`` (at most
        IOV_MAX) iovecs at ``address`` point to (``native`` fills them, in the mapped input).
        Only where ``vector_writes_available()``."""
        calls = _libc_vector_writes()
        assert calls is not None and count <= IOV_MAX
        with self.failing:
            self.position = self._send_batch(calls, address, count, total, self.position)

    def _send_batch(self, calls: tuple[Callable[..., int], Callable[..., int]], where: int,
                    count: int, total: int, pos: int) -> int:
        """One ``pwritev``/``writev`` of ``count`` iovecs at ``where``; a short write finishes
        the pieces the ordinary way. Returns the position after them."""
        import ctypes

        if not count:
            return pos
        pwritev, writev = calls
        while True:
            done = (pwritev(self.fd, where, count, pos) if self.positional
                    else writev(self.fd, where, count))
            if done >= 0 or ctypes.get_errno() != errno.EINTR:
                break
        if done < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        pos += done
        if done != total:  # a pipe, a signal: the rest of this call, piece by piece
            flat = (ctypes.c_uint64 * (2 * count)).from_address(where)
            rest = [memoryview((ctypes.c_char * int(flat[i + 1])).from_address(int(flat[i])))
                    .cast("B") for i in range(0, 2 * count, 2)]
            pos = self._vector(_after(rest, done), pos, total - done)
        return pos

    def vector(self, parts: list[memoryview], pos: int, total: int | None = None) -> int:
        """Writes ``parts`` (``total`` bytes, when the caller knows) at ``pos`` (or at the
        stream's position); the offset after them."""
        with self.failing:
            return self._vector(parts, pos, total)

    def copy_range(self, begin: int, end: int, at: int) -> int:
        """Writes [begin, end) of the input at output offset ``at`` (inside the kernel where
        it can); returns the offset after it."""
        with self.failing:
            return self._copy(begin, end, at)

    def truncate(self, size: int) -> None:
        """Ends the output file at ``size`` bytes."""
        with self.failing:
            os.ftruncate(self.fd, size)

    def _vector(self, parts: list[memoryview], pos: int, total: int | None) -> int:
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
            parts = _after(parts, done)
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
        self._bytes = None  # it holds on to the view
        if self.view is not None:
            self.view.release()
            self.view = None


class CopySink:
    """``-w`` from a mapped classic pcap to classic pcap: the input's file header, then every
    run of consecutive matching records as one byte range of the input, so records come out
    byte for byte (``RunWriter``)."""

    def __init__(self, out: IO[bytes], src_fd: int, buf: mmap.mmap, header: bytes,
                 name: str = "the output") -> None:
        self.out = out
        self.writer = RunWriter(out.fileno(), src_fd, buf, 0, name)
        self.writer.position = self.writer.vector([memoryview(header)], 0)

    def packet(self, packet: Packet) -> None:  # pragma: no cover - fed by chunks only
        raise AssertionError("CopySink takes chunks")

    def chunk(self, chunk: Chunk, mask: BoolArray) -> None:
        import numpy as np

        # ``mask`` may cover only the chunk's first records (``-c`` stops inside a chunk).
        cut = len(mask)
        if chunk.clipped and bool(np.any(mask & (chunk.rawcap[:cut] != chunk.caplen[:cut]))):
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
        with self.writer.failing:
            self.out.close()


def _after(parts: list[memoryview], done: int) -> list[memoryview]:
    """What is left of ``parts`` once their first ``done`` bytes are written."""
    first = 0
    while first < len(parts) and done >= len(parts[first]):
        done -= len(parts[first])
        first += 1
    if first == len(parts):
        return []
    return [parts[first][done:], *parts[first + 1:]]


def vector_writes_available() -> bool:
    """Whether libc's ``pwritev``/``writev`` can be called with iovecs made outside Python."""
    return _libc_vector_writes() is not None


@functools.cache
def _libc_vector_writes() -> tuple[Callable[..., int], Callable[..., int]] | None:
    """libc's ``pwritev`` and ``writev`` through ctypes, on a 64-bit platform (an iovec is then
    two u64, and ``off_t`` 64 bits); None where they cannot be had."""
    import ctypes

    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pwritev, writev = libc.pwritev, libc.writev
    except (OSError, AttributeError):
        return None
    pwritev.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64]
    writev.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    pwritev.restype = writev.restype = ctypes.c_ssize_t
    return pwritev, writev



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
