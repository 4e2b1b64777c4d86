"""The record index of mapped classic pcap files (``bpfc/recindex.py``): the lockstep walk finds
exactly the records the reader finds, wrong boundary guesses cost time and never a record,
damage is found where the reader finds it, and ``index_rows`` (walk order, rows gathered on the
way) holds the same records or declines."""

from __future__ import annotations

import mmap
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from bpfc import recindex, vector, vm
from bpfc.errors import CaptureFileError
from bpfc.isa import Insn
from bpfc.pcapindex import build_index

# -- the record index ------------------------------------------------------------------------

def _capture(path: Path, sizes: list[int], *, seed: int = 1, fake_headers: bool = False,
             cut: int | None = None) -> Path:
    """A little-endian µs pcap whose records have the given captured lengths (wire length
    ``cut`` or more when ``cut`` clips them). ``fake_headers`` fills payloads with a chain of
    plausible record headers 64 bytes apart, to lead the index's boundary guesses astray."""
    rng = random.Random(seed)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    sec = 1_700_000_000
    for n, size in enumerate(sizes):
        if fake_headers:
            fake = struct.pack("<IIII", sec, rng.randrange(10**6), 48, 48) + bytes(48)
            data = (fake * (size // 64 + 1))[:size]
        else:
            data = rng.randbytes(size)
        out.append(struct.pack("<IIII", sec + n // 1000, rng.randrange(10**6), size,
                               size if cut is None else max(size, cut)))
        out.append(data)
    path.write_bytes(b"".join(out))
    return path


def _sizes(kind: str, count: int) -> list[int]:
    rng = random.Random(kind)
    match kind:
        case "ethernet":
            return [rng.choice((60, 60, 66, 1514, rng.randint(60, 1514))) for _ in range(count)]
        case "tiny":
            return [rng.randint(0, 40) for _ in range(count)]
        case "jumbo":
            return [rng.choice((64, 9000, 9000, rng.randint(2000, 20000))) for _ in range(count)]
        case "mixed":
            return [rng.choice((0, 60, 1514, 65535, rng.randint(1, 3000))) for _ in range(count)]
    raise AssertionError(kind)


def _scan(path: Path) -> tuple[recindex.PcapScan, mmap.mmap]:
    f = path.open("rb")
    buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    f.close()
    return recindex.PcapScan(buf, "<", 1, 262144, 1_000_000), buf


CAPTURES = [
    pytest.param("ethernet", 30_000, False, id="ethernet-30k"),
    pytest.param("tiny", 60_000, False, id="tiny-records-60k"),
    pytest.param("jumbo", 4_000, False, id="jumbo-records"),
    pytest.param("mixed", 6_000, False, id="mixed-sizes"),
    pytest.param("ethernet", 30_000, True, id="payloads-of-fake-headers"),
]


@pytest.mark.parametrize(("kind", "count", "fakes"), CAPTURES)
def test_index_finds_every_record(tmp_path: Path, kind: str, count: int, fakes: bool) -> None:
    """The lockstep index, over whole files and over windows starting at record boundaries,
    finds exactly the records build_index finds."""
    path = _capture(tmp_path / "t.pcap", _sizes(kind, count), fake_headers=fakes)
    truth = build_index(path).offset
    scan, buf = _scan(path)
    offsets, after = scan.index(24, len(buf))
    assert np.array_equal(offsets, truth)
    assert after == len(buf)
    middle = int(truth[len(truth) // 3])
    part, end = scan.index(middle, middle + 3_000_000)
    first = int(np.searchsorted(truth, middle))
    assert np.array_equal(part, truth[first:first + len(part)])
    assert end == (int(truth[first + len(part)]) if first + len(part) < len(truth)
                   else len(buf))
    chunked = np.concatenate([c.offset for c in scan.chunks(24, len(buf), 1000, 1 << 20)])
    assert np.array_equal(chunked, truth)
    del scan


def test_guesses_are_checked_not_trusted(tmp_path: Path) -> None:
    """Payloads made of sane-looking headers make boundary guesses go wrong; the index must
    notice (a chain not landing on the next one's start) and still be exact."""
    path = _capture(tmp_path / "t.pcap", [1514] * 20_000, fake_headers=True)
    scan, buf = _scan(path)
    spacing = 1 << 16
    nominal = 24 + spacing * np.arange(1, (len(buf) - 24) // spacing, dtype=np.int64)
    truth = build_index(path).offset
    guesses = scan.guess(nominal, spacing)
    wrong = np.count_nonzero(~np.isin(guesses[guesses >= 0], truth))
    assert wrong > len(nominal) // 2  # the trap works: most guesses land inside payloads
    offsets, _ = scan.index(24, len(buf))
    assert np.array_equal(offsets, truth)


def _damage(path: Path, how: str) -> Path:
    data = bytearray(path.read_bytes())
    truth = build_index(path).offset
    victim = int(truth[len(truth) * 2 // 3])
    match how:
        case "cut-in-data":
            del data[victim + 20:]
        case "cut-in-header":
            del data[victim + 7:]
        case "huge-caplen":
            struct.pack_into("<I", data, victim + 8, 0x7FFFFFFF)
        case "caplen-past-end":
            struct.pack_into("<I", data, victim + 8, len(data))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("how", ["cut-in-data", "cut-in-header", "huge-caplen",
                                 "caplen-past-end"])
def test_damage_is_found_where_the_reader_finds_it(tmp_path: Path, how: str) -> None:
    path = _damage(_capture(tmp_path / "t.pcap", _sizes("ethernet", 20_000)), how)
    index = build_index(path, strict=False)
    assert isinstance(index.error, CaptureFileError)
    scan, _ = _scan(path)
    offsets = np.concatenate([c.offset for c in scan.chunks(24, len(scan.buf))])
    assert np.array_equal(offsets, index.offset)
    assert scan.damage_at == index.error.offset


def test_head_matrix_near_the_end_of_the_file(tmp_path: Path) -> None:
    """The last records are closer to the end of the file than a head-matrix row: their rows
    are filled from a padded copy, and loads in them still see the right bytes."""
    path = _capture(tmp_path / "t.pcap", [40, 3, 0, 1, 90, 7])
    scan, buf = _scan(path)
    (chunk,) = list(scan.chunks(24, len(buf)))
    program = [Insn(0x30, 0, 0, 2), Insn(0x16)]  # ldb [2]; ret a
    got = vector.run(program, chunk.batch()).tolist()
    want = [vm.run(program, chunk.packet(i).data) for i in range(len(chunk))]
    assert got == want


def _walked_equals_truth(chunk: recindex.Chunk, truth: vector.I64Array, begin: int,
                         scan: recindex.PcapScan) -> None:
    """A walk-order chunk holds exactly the records from ``begin`` on, each with its own head
    row and lengths, and ends where the last one ends."""
    order = np.argsort(chunk.offset)
    first = int(np.searchsorted(truth, begin))
    want = truth[first:first + len(chunk)]
    assert np.array_equal(chunk.offset[order], want)
    exact = list(scan.split(want, int(want[0]), chunk.end, chunk.end))
    rows = np.concatenate([c.rows for c in exact])
    assert np.array_equal(chunk.rows[order], rows)
    assert np.array_equal(chunk.rawcap[order], np.concatenate([c.rawcap for c in exact]))
    assert np.array_equal(chunk.wirelen[order], np.concatenate([c.wirelen for c in exact]))
    last = int(want[-1])
    assert chunk.end == last + 16 + int(chunk.rawcap[order][-1])


@pytest.mark.parametrize(("kind", "count", "fakes"), CAPTURES)
def test_index_rows_walks_every_record_once(tmp_path: Path, kind: str, count: int,
                                            fakes: bool) -> None:
    """``index_rows`` (the two-process path's walk, in walk order) finds the same records as
    build_index, or declines (None) — it never returns a wrong set. On ordinary files it
    must not decline."""
    path = _capture(tmp_path / "t.pcap", _sizes(kind, count), fake_headers=fakes)
    truth = build_index(path).offset
    scan, buf = _scan(path)
    stop = len(buf)
    chunk = scan.index_rows(24, stop)
    if not fakes and kind != "jumbo":
        assert chunk is not None
    if chunk is not None:
        _walked_equals_truth(chunk, truth, 24, scan)
        assert chunk.end >= stop
    middle = int(truth[len(truth) // 3])
    part = scan.index_rows(middle, middle + 2_000_000)
    if part is not None:
        _walked_equals_truth(part, truth, middle, scan)


def test_index_rows_to_the_end_of_the_file(tmp_path: Path) -> None:
    """The last records lie closer to the end than a row: walked one by one, rows padded."""
    path = _capture(tmp_path / "t.pcap", [*_sizes("ethernet", 20_000), 40, 3, 0, 1, 90, 7])
    truth = build_index(path).offset
    scan, buf = _scan(path)
    chunk = scan.index_rows(24, len(buf))
    assert chunk is not None
    _walked_equals_truth(chunk, truth, 24, scan)
    assert chunk.end == len(buf)
    assert len(chunk) == len(truth)


@pytest.mark.parametrize("how", ["cut-in-data", "cut-in-header", "huge-caplen",
                                 "caplen-past-end"])
def test_index_rows_declines_damage(tmp_path: Path, how: str) -> None:
    """Damage is for the exact walk to find and report: index_rows returns None."""
    damaged = _damage(_capture(tmp_path / "t.pcap", _sizes("ethernet", 20_000)), how)
    scan, buf = _scan(damaged)
    assert scan.index_rows(24, len(buf)) is None


def test_index_rows_declines_short_ranges(tmp_path: Path) -> None:
    path = _capture(tmp_path / "t.pcap", _sizes("ethernet", 20_000))
    scan, _ = _scan(path)
    assert scan.index_rows(24, 24 + 4096) is None  # too few chains for numpy to pay
