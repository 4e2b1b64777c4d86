"""Byte ranges of matching records (``bpfc/runwriter.py``)."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from bpfc import runwriter
from bpfc.errors import CaptureFileError
from bpfc.runwriter import IOV_MAX, RunWriter, sorted_runs


def test_sorted_runs_merges_adjacent_records() -> None:
    begins = np.array([300, 100, 200, 500, 0], dtype=np.int64)
    ends = np.array([400, 200, 300, 600, 50], dtype=np.int64)
    b, e = sorted_runs(begins, ends)
    assert b.tolist() == [0, 100, 500]
    assert e.tolist() == [50, 400, 600]
    empty = np.zeros(0, dtype=np.int64)
    assert [x.tolist() for x in sorted_runs(empty, empty)] == [[], []]


# -- RunWriter: runs of matches written from iovecs that numpy fills ----------------------------

def _mapped(tmp_path: Path, size: int = 300_000) -> tuple[mmap.mmap, int]:
    src = tmp_path / "src.bin"
    src.write_bytes(np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes())
    fd = os.open(src, os.O_RDONLY)
    return mmap.mmap(fd, 0, access=mmap.ACCESS_READ), fd


def _runs(size: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` disjoint ranges in file order, some empty, some touching the end."""
    rng = np.random.default_rng(count)
    cuts = np.sort(rng.choice(size, 2 * count, replace=False))
    begins, ends = cuts[0::2].astype(np.int64), cuts[1::2].astype(np.int64)
    ends[-1] = size
    ends[::7] = begins[::7]
    return begins, ends


def _written_by(tmp_path: Path, name: str, buf: mmap.mmap, src_fd: int,
                begins: np.ndarray, ends: np.ndarray) -> bytes:
    out = tmp_path / name
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        writer = RunWriter(fd, src_fd, buf, 10)
        assert writer.write(begins, ends) == 10 + int((ends - begins).sum())
        writer.release()
    finally:
        os.close(fd)
    return out.read_bytes()[10:]


def _expected(buf: mmap.mmap, begins: np.ndarray, ends: np.ndarray) -> bytes:
    return b"".join(buf[b:e] for b, e in zip(begins.tolist(), ends.tolist(), strict=True))


@pytest.mark.parametrize("count", [1, 5, IOV_MAX, 3 * IOV_MAX + 17])
def test_iovec_writes_equal_slice_writes(tmp_path: Path, count: int,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    buf, src_fd = _mapped(tmp_path)
    begins, ends = _runs(len(buf), count)
    assert runwriter._libc_vector_writes() is not None
    fast = _written_by(tmp_path, "fast", buf, src_fd, begins, ends)
    monkeypatch.setattr(runwriter, "_libc_vector_writes", lambda: None)
    slow = _written_by(tmp_path, "slow", buf, src_fd, begins, ends)
    assert fast == slow == _expected(buf, begins, ends)


def _gathered(where: int, batch: int) -> bytes:
    iov = (ctypes.c_uint64 * (2 * batch)).from_address(where)
    return b"".join(ctypes.string_at(iov[2 * i], iov[2 * i + 1]) for i in range(batch))


def test_short_writes_and_interrupted_calls_lose_nothing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe or a signal may take fewer bytes than asked (or none, EINTR): the rest of the
    call's ranges still go out, in order."""
    buf, src_fd = _mapped(tmp_path)
    begins, ends = _runs(len(buf), 2 * IOV_MAX + 3)
    calls = {"all": 0, "short": 0}

    def stingy_pwritev(fd: int, where: int, batch: int, pos: int) -> int:
        calls["all"] += 1
        if calls["all"] % 2:
            ctypes.set_errno(errno.EINTR)
            return -1
        calls["short"] += 1
        data = _gathered(where, batch)
        return os.pwrite(fd, data[:max(1, len(data) // 3)], pos)

    monkeypatch.setattr(runwriter, "_libc_vector_writes", lambda: (stingy_pwritev, None))
    assert _written_by(tmp_path, "out", buf, src_fd, begins, ends) == _expected(buf, begins, ends)
    assert calls == {"all": 6, "short": 3}  # each of the 3 calls interrupted once, then short


def test_a_failed_write_raises_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf, src_fd = _mapped(tmp_path)
    begins, ends = _runs(len(buf), 10)

    def full_disk(fd: int, where: int, batch: int, pos: int) -> int:
        ctypes.set_errno(errno.ENOSPC)
        return -1

    monkeypatch.setattr(runwriter, "_libc_vector_writes", lambda: (full_disk, None))
    with pytest.raises(CaptureFileError) as caught:
        _written_by(tmp_path, "out", buf, src_fd, begins, ends)
    assert str(caught.value) == "the output: cannot write: No space left on device"


def test_a_closed_pipe_stays_a_closed_pipe(tmp_path: Path) -> None:
    """``bpfc -r big.pcap -w - | head``: the reader going away is not a write failure."""
    buf, src_fd = _mapped(tmp_path)
    begins, ends = _runs(len(buf), 50)
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        writer = RunWriter(write_fd, src_fd, buf, 0, "standard output")
        with pytest.raises(BrokenPipeError):
            writer.write(begins, ends)
        writer.release()
    finally:
        os.close(write_fd)


def test_ranges_outside_the_map_are_never_handed_to_libc(tmp_path: Path) -> None:
    buf, src_fd = _mapped(tmp_path)
    for begins, ends in (([0], [len(buf) + 1]), ([-1], [5]), ([9], [8])):
        with pytest.raises(AssertionError, match="outside the mapped file"):
            _written_by(tmp_path, "out", buf, src_fd, np.array(begins, dtype=np.int64),
                        np.array(ends, dtype=np.int64))


def test_iovec_writes_into_a_pipe(tmp_path: Path) -> None:
    """Not a regular file: ``writev`` at the stream's position, a slow reader on the other end
    (the pipe fills, writes block and may come back short)."""
    buf, src_fd = _mapped(tmp_path, 2_000_000)
    begins, ends = _runs(len(buf), 3000)
    read_fd, write_fd = os.pipe()
    got: list[bytes] = []

    def drain() -> None:
        while chunk := os.read(read_fd, 4096):
            got.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        writer = RunWriter(write_fd, src_fd, buf, 0)
        assert not writer.positional
        writer.write(begins, ends)
        writer.release()
    finally:
        os.close(write_fd)
        reader.join()
        os.close(read_fd)
    assert b"".join(got) == _expected(buf, begins, ends)


def test_records_with_made_headers_with_and_without_libc(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``write_records``: header i, then range i of the map, for every i, at the position."""
    buf, src_fd = _mapped(tmp_path)
    begins, ends = _runs(len(buf), 3 * IOV_MAX + 5)  # more than one call's worth of iovecs
    heads = np.arange(len(begins) * 16, dtype=np.uint64).astype(np.uint8).reshape(-1, 16)
    want = b"".join(bytes(heads[i]) + buf[b:e]
                    for i, (b, e) in enumerate(zip(begins.tolist(), ends.tolist(), strict=True)))
    found = []
    for libc in (True, False):
        if not libc:
            monkeypatch.setattr(runwriter, "_libc_vector_writes", lambda: None)
        out = tmp_path / f"records-{libc}"
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            writer = RunWriter(fd, src_fd, buf, 7)
            assert writer.write_records(heads, begins, ends) == 7 + len(want)
            writer.release()
        finally:
            os.close(fd)
        found.append(out.read_bytes()[7:])
    assert found == [want, want]
