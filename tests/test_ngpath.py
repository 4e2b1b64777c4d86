"""The vectorised pcapng path (``bpfc/ngscan.py``, ``bpfc/ngpath.py``): whatever it takes, it
gives what the stream path gives, byte for byte (counts, pcapng out, ``--pcap`` out); whatever it
does not take, it hands back untouched, and the stream path does it all (errors included).

Oracles: the stream path (``--engine jit``, itself checked against libpcap in test_offline and
test_pcapfile), tcpdump's ``-w`` (classic pcap) for ``--pcap``, and an exact block walk written
here for the lockstep walk, with packets planted to look like blocks.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc import cli, native, nativepath, ngpath, ngscan, offline
from bpfc.pcapfile import Interface, Packet, open_capture
from bpfc.pcapwrite import PcapngWriter

from .conftest import CORPUS_PCAPS
from .test_offline import GENERATED_PACKETS, _load_generator, fail_writes_in_children

TCPDUMP = shutil.which("tcpdump")

EXPRESSIONS = ["", "tcp port 80", "udp", "ip6 and icmp6", "vlan and udp",
               "host 10.0.0.1 or host 10.0.0.2"]


@pytest.fixture(scope="module")
def packets(tmp_path_factory: pytest.TempPathFactory) -> list[Packet]:
    path = tmp_path_factory.mktemp("ng") / "gen.pcap"
    _load_generator().make_capture(path, GENERATED_PACKETS, 777)
    with open_capture(path) as reader:
        return list(reader)


def _pcapng(path: Path, packets: list[Packet], *, order: str = "<", units: int = 1_000_000,
            options: bool = False, extra: dict[int, bytes] | None = None) -> Path:
    """A one-interface pcapng file of ``packets`` (EPBs), with EPB comments when ``options``,
    and raw blocks from ``extra`` inserted before the packet of that index."""
    extra = extra or {}
    with path.open("wb") as f:
        writer = PcapngWriter(f, packets[0].linktype, 262144, byteorder=order,  # type: ignore[arg-type]
                              ts_units=units)
        for i, p in enumerate(packets):
            if i in extra:
                writer.flush()
                f.write(extra[i])
            opts = b""
            if options and i % 3 == 0:
                text = f"packet {i}".encode()
                opts = (struct.pack(order + "HH", 1, len(text)) + text + b"\0" * (-len(text) % 4)
                        + struct.pack(order + "HH", 0, 0))
            stamp = p.ts_sec * units + p.frac_in(units)
            writer.write(p._replace(ts_sec=stamp // units, ts_frac=stamp % units, ts_units=units,
                                    options=opts, byteorder=order))  # type: ignore[arg-type]
        writer.flush()
    return path


def _block(kind: int, body: bytes, order: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(order + "II", kind, total) + body + struct.pack(order + "I", total)


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool | None]]:
    """What ngpath.run answered, run after run (True: it did the job)."""
    answers: list[bool | None] = []
    real = ngpath.run

    def spy(*args: Any) -> bool | None:
        answers.append(real(*args))
        return answers[-1]

    monkeypatch.setattr(ngpath, "run", spy)
    yield answers


@pytest.fixture
def native_walks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The files the native walk was given (``nativepath.run_pcapng``)."""
    if not native.available():
        pytest.skip("machine code does not run here (Linux x86-64 only)")
    walked: list[str] = []
    real = nativepath.run_pcapng

    def spy(*args: Any) -> None:
        walked.append(args[2].source)
        real(*args)

    monkeypatch.setattr(nativepath, "run_pcapng", spy)
    yield walked


#: The two fast ways: the numpy walk (``--engine vector``) and, under ``--engine auto`` where it
#: runs, the native one.
FAST = ["vector", "auto"]


def _fast(engine: str, request: pytest.FixtureRequest) -> list[str]:
    """The native walks seen, for ``auto`` (which must take it: the test fails otherwise)."""
    if engine == "auto":
        walked: list[str] = request.getfixturevalue("native_walks")
        return walked
    request.getfixturevalue("monkeypatch").setattr(native, "available", lambda: False)
    return []


def _outputs(source: Path, tmp: Path, expr: str, fmt: list[str],
             capsys: pytest.CaptureFixture[str], fast: str = "vector"
             ) -> tuple[tuple[int, bytes, str], ...]:
    """(status, written bytes, stderr) from a fast path and from the stream path."""
    found = []
    for engine in (fast, "jit"):
        out = tmp / f"{engine}.out"
        status = cli.run(["-r", str(source), "-w", str(out), "--engine", engine, *fmt,
                          *expr.split()])
        found.append((status, out.read_bytes(), capsys.readouterr().err))
    return tuple(found)


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=lambda e: e.replace(" ", "-") or "empty")
@pytest.mark.parametrize("fmt", [[], ["--pcap"]], ids=["pcapng-out", "pcap-out"])
@pytest.mark.parametrize("variant", ["plain", "options", "big-endian", "nanoseconds",
                                     "other-blocks"])
@pytest.mark.parametrize("fast", FAST)
def test_usual_files_go_the_vectorised_way_and_match_the_stream_path(
        packets: list[Packet], tmp_path: Path, expr: str, fmt: list[str], variant: str,
        fast: str, taken: list[bool | None], monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    """Both fast ways; the native walk takes every little-endian variant (big-endian files
    go the numpy way under auto)."""
    walked = _fast(fast, request)
    monkeypatch.setattr(ngscan, "SEGMENT_WORDS", 1 << 18)  # several segments, 1 MB each
    kwargs: dict[str, Any] = {
        "plain": {}, "options": {"options": True}, "big-endian": {"order": ">"},
        "nanoseconds": {"units": 1_000_000_000},
        "other-blocks": {"extra": {0: _block(0xBAD, b"custom"), 5000: _block(4, b"\0" * 4),
                                   len(packets) - 1: _block(5, b"\0" * 20)}}}[variant]
    source = _pcapng(tmp_path / "in.pcapng", packets, **kwargs)
    quick, stream = _outputs(source, tmp_path, expr, fmt, capsys, fast)
    assert taken[0] is True
    assert quick == stream
    assert quick[0] == 0 and len(quick[1]) > 24
    if fast == "auto":
        assert walked == ([] if variant == "big-endian" else [str(source)])


@pytest.mark.skipif(TCPDUMP is None, reason="tcpdump not installed")
@pytest.mark.tcpdump
@pytest.mark.parametrize("expr", EXPRESSIONS[:3])
@pytest.mark.parametrize("fast", FAST)
def test_pcap_out_is_what_tcpdump_writes(packets: list[Packet], tmp_path: Path, expr: str,
                                         fast: str, taken: list[bool | None],
                                         request: pytest.FixtureRequest) -> None:
    assert TCPDUMP is not None
    walked = _fast(fast, request)
    source = _pcapng(tmp_path / "in.pcapng", packets, options=True)
    os.chmod(tmp_path, 0o777)
    theirs, mine = tmp_path / "tcpdump.pcap", tmp_path / "bpfc.pcap"
    done = subprocess.run([TCPDUMP, "-r", str(source), "-w", str(theirs), *expr.split()],
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert cli.run(["-r", str(source), "-w", str(mine), "--pcap", "--engine", fast,
                    *expr.split()]) == 0
    assert taken == [True]
    assert mine.read_bytes() == theirs.read_bytes()
    assert walked == ([str(source)] if fast == "auto" else [])


def _two_interfaces(path: Path, packets: list[Packet]) -> Path:
    data = bytearray(_pcapng(path, packets).read_bytes())
    idb = _block(1, struct.pack("<HHI", 1, 0, 262144))
    at = 28 + 20  # after the SHB and the first IDB
    path.write_bytes(bytes(data[:at]) + idb + bytes(data[at:]))
    return path


def _with_spb(path: Path, packets: list[Packet]) -> Path:
    spb = _block(3, struct.pack("<I", 60) + b"\x01" * 60)
    return _pcapng(path, packets, extra={1234: spb})


def _second_section(path: Path, packets: list[Packet]) -> Path:
    half = len(packets) // 2
    first = _pcapng(path.with_suffix(".a"), packets[:half]).read_bytes()
    second = _pcapng(path.with_suffix(".b"), packets[half:], order=">").read_bytes()
    path.write_bytes(first + second)
    return path


def _odd_padding(path: Path, packets: list[Packet]) -> Path:
    data = bytearray(_pcapng(path, packets).read_bytes())
    with open_capture(path) as reader:
        for p in reader:
            if p.caplen % 4:
                at = reader.offset + 28 + p.caplen
                data[at] = 0x5A
                if reader.offset > len(data) // 2:
                    break
    path.write_bytes(bytes(data))
    return path


def _damaged(how: str) -> Any:
    def make(path: Path, packets: list[Packet]) -> Path:
        data = bytearray(_pcapng(path, packets).read_bytes())
        with open_capture(path) as reader:
            offsets = [reader.offset for _ in reader]
        victim = offsets[len(offsets) * 3 // 5]
        match how:
            case "cut":
                del data[victim + 30:]
            case "length":
                struct.pack_into("<I", data, victim + 4, 0x7FFFFFF0)
            case "trailer":
                struct.pack_into("<I", data, victim + 4, struct.unpack_from("<I", data,
                                                                           victim + 4)[0] + 4)
            case "caplen":
                struct.pack_into("<I", data, victim + 20, 300000)
        path.write_bytes(bytes(data))
        return path
    return make


@pytest.mark.parametrize(("make", "pcap_too"), [
    (_two_interfaces, True), (_with_spb, True), (_second_section, True), (_odd_padding, False),
    (_damaged("cut"), True), (_damaged("length"), True), (_damaged("trailer"), True),
    (_damaged("caplen"), True)],
    ids=["two-interfaces", "simple-packet-block", "second-section", "odd-padding", "cut",
         "length", "trailer", "caplen"])
@pytest.mark.parametrize("fast", FAST)
def test_unusual_files_are_handed_back_to_the_stream_path(
        packets: list[Packet], tmp_path: Path, make: Any, pcap_too: bool, fast: str,
        taken: list[bool | None], monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    """Each goes the stream path's way in the end (its output, its error and status), whether
    the fast path declined at once (None) or part way through (False)."""
    _fast(fast, request)
    monkeypatch.setattr(ngscan, "SEGMENT_WORDS", 1 << 18)
    source = make(tmp_path / "in.pcapng", packets)
    for fmt in ([], ["--pcap"]) if pcap_too else ([],):
        quick, stream = _outputs(source, tmp_path, "udp", fmt, capsys, fast)
        assert taken.pop(0) is not True
        assert quick == stream


@pytest.mark.parametrize("fast", FAST)
def test_a_timestamp_past_2106_cannot_be_written_as_pcap(
        packets: list[Packet], tmp_path: Path, fast: str, taken: list[bool | None],
        request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    """A classic pcap header holds 32-bit seconds: such a packet sends the file back to the
    stream path (which says what it says), while pcapng out copies it as it lies."""
    _fast(fast, request)
    late = packets[:3000] + [packets[3000]._replace(ts_sec=1 << 33)] + packets[3001:]
    source = _pcapng(tmp_path / "in.pcapng", late)
    quick, stream = _outputs(source, tmp_path, "", ["--pcap"], capsys, fast)
    assert taken.pop(0) is False
    assert quick == stream
    quick, stream = _outputs(source, tmp_path, "", [], capsys, fast)
    assert taken.pop(0) is True
    assert quick == stream


NATIVE_REFUSALS = [
    (["--count", "-c", "5"], {}, "it does not stop at -c in a pcapng file"),
    ([], {}, "printing packets or writing to a pipe"),
    (["--count"], {"order": ">"}, "the capture file is big-endian"),
    (["--count"], {"units": 1000}, "of one section and one interface with micro- or "
                                   "nanosecond timestamps (a timestamp offset or an unusual "
                                   "resolution)"),
]


@pytest.mark.parametrize(("argv", "kwargs", "reason"), NATIVE_REFUSALS,
                         ids=["count-limit", "printing", "big-endian", "milliseconds"])
def test_engine_native_says_why_it_cannot_read_a_pcapng_file(
        packets: list[Packet], tmp_path: Path, argv: list[str], kwargs: dict[str, Any],
        reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    if not native.available():
        pytest.skip("machine code does not run here (Linux x86-64 only)")
    source = _pcapng(tmp_path / "in.pcapng", packets[:100], **kwargs)
    assert cli.run(["-r", str(source), *argv, "--engine", "native", "udp"]) == 1
    err = capsys.readouterr().err
    assert "bpfc: error: --engine native: " in err and reason in err, err


@pytest.mark.parametrize("fast", FAST)
def test_counting(packets: list[Packet], tmp_path: Path, taken: list[bool | None], fast: str,
                  request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    """Odd padding makes no difference to a count (nothing is written)."""
    walked = _fast(fast, request)
    source = _odd_padding(tmp_path / "in.pcapng", packets)
    counts = []
    for engine in (fast, "jit"):
        assert cli.run(["-r", str(source), "--count", "--engine", engine, "tcp"]) == 0
        counts.append(capsys.readouterr().out)
    assert taken == [True]
    assert counts[0] == counts[1] and int(counts[0].split()[0]) > 1000
    assert walked == ([str(source)] if fast == "auto" else [])


def test_printing_and_pipes_stay_on_the_stream_path(packets: list[Packet], tmp_path: Path,
                                                    taken: list[bool | None]) -> None:
    source = _pcapng(tmp_path / "in.pcapng", packets)
    opts = offline.Options(str(source), "udp", None, None, False, False, False, 0, None,
                           "vector", True, None)
    assert not ngpath.takes(opts)  # printing
    assert not ngpath.takes(dataclasses.replace(opts, write="-"))
    assert ngpath.takes(dataclasses.replace(opts, write=str(tmp_path / "o")))
    assert ngpath.takes(dataclasses.replace(opts, count_only=True))
    assert not ngpath.takes(dataclasses.replace(opts, write=str(tmp_path / "o"), max_count=5))
    assert not ngpath.takes(dataclasses.replace(opts, write=str(tmp_path / "o"), engine="jit"))


def _corpus_pcapngs() -> list[Path]:
    return sorted(CORPUS_PCAPS.glob("*.pcapng")) if CORPUS_PCAPS.exists() else []


@pytest.mark.parametrize("fast", FAST)
@pytest.mark.parametrize("path", _corpus_pcapngs(), ids=lambda p: p.name)
def test_corpus_pcapng_files(path: Path, tmp_path: Path, fast: str,
                             request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    _fast(fast, request)
    monkeypatch.setattr(ngpath, "VECTOR_MIN_BYTES", 0)  # auto takes the fast way on small files
    for fmt in ([], ["--pcap"]):
        quick, stream = _outputs(path, tmp_path, "", fmt, capsys, fast)
        assert quick == stream


# -- the lockstep walk against an exact one --------------------------------------------------

def _exact_blocks(data: bytes) -> list[int]:
    at, q = [], 0
    while q < len(data):
        at.append(q // 4)
        q += struct.unpack_from("<I", data, q + 4)[0]
    return at


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1400), st.booleans()), min_size=200, max_size=1500),
       st.integers(0, 2**32 - 1))
def test_the_lockstep_walk_finds_exactly_the_blocks(sizes: list[tuple[int, bool]],
                                                     seed: int) -> None:
    """Packets full of words that look like EPB starts (type 6, a plausible length, the same
    length where such a block would end) must not lead a chain astray for good. Chains start
    every 64 words here, so that even small files are walked in lockstep."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ngscan, "CHAIN_WORDS", 64)
        _check_walk(sizes, seed)


def _check_walk(sizes: list[tuple[int, bool]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    blocks = [_block(1, struct.pack("<HHI", 1, 0, 262144))]
    for size, planted in sizes:
        payload = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        if planted and size >= 48:
            fake = 32 + (size - 40) // 4 * 4
            at = (size // 3) & ~3
            struct.pack_into("<II", payload, at, 6, fake)
            if at + fake - 4 + 4 <= size:
                struct.pack_into("<I", payload, at + fake - 4, fake)
        blocks.append(_block(6, struct.pack("<IIIII", 0, 0, 0, size, size) + bytes(payload)))
    data = b"".join(blocks)
    scan = ngscan.NgScan(data, "<", Interface(1, 262144, 262144, 1),
                         0, 1 << 24)
    found, rows, after = scan.blocks(0, len(data) // 4)
    assert after * 4 == len(data)
    assert sorted(found.tolist()) == _exact_blocks(data)  # walk order: each block once
    assert rows.tobytes() == b"".join(data[q * 4:q * 4 + 128].ljust(128, b"\0")
                                      for q in found.tolist())


def test_the_lockstep_walk_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The property above runs with chains (not one exact walk) on its larger files."""
    monkeypatch.setattr(ngscan, "CHAIN_WORDS", 64)
    calls = []
    real = ngscan.NgScan._guess

    def spy(self: ngscan.NgScan, base: int, spacing: int, count: int) -> np.ndarray:
        calls.append(count)
        return real(self, base, spacing, count)

    monkeypatch.setattr(ngscan.NgScan, "_guess", spy)
    data = b"".join(_block(6, struct.pack("<IIIII", 0, 0, 0, 100, 100) + b"\0" * 100)
                    for _ in range(2000))
    scan = ngscan.NgScan(data, "<", Interface(1, 262144, 262144, 1),
                         0, 1 << 24)
    found, _, _ = scan.blocks(0, len(data) // 4)
    assert sorted(found.tolist()) == _exact_blocks(data)
    assert calls and calls[0] > 100


# -- two processes, one half each ------------------------------------------------------------

@pytest.fixture
def halves(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Two processes on the (small) generated file; records how the halves went."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU")
    monkeypatch.setattr(ngpath, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ngscan, "SEGMENT_WORDS", 1 << 18)
    monkeypatch.delenv("BPFC_ONE_CORE", raising=False)
    seen: list[str] = []
    real_take, real_span = ngpath._take, ngpath._span
    parent = os.getpid()

    def take(*args: Any) -> None:
        seen.append("child's half taken")
        real_take(*args)

    def span(job: Any, start: int, stop: int, *args: Any) -> int:
        if os.getpid() == parent and stop == job.scan.size and start != job.scan.first:
            seen.append("second half here")
        return real_span(job, start, stop, *args)

    monkeypatch.setattr(ngpath, "_take", take)
    monkeypatch.setattr(ngpath, "_span", span)
    yield seen


@pytest.mark.parametrize("expr", ["", "udp", "tcp port 80"], ids=["empty", "udp", "port"])
@pytest.mark.parametrize("fmt", [[], ["--pcap"]], ids=["pcapng-out", "pcap-out"])
def test_two_halves_write_what_the_stream_path_writes(packets: list[Packet], tmp_path: Path,
                                                      expr: str, fmt: list[str],
                                                      halves: list[str],
                                                      taken: list[bool | None],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    source = _pcapng(tmp_path / "in.pcapng", packets, options=True)
    fast, stream = _outputs(source, tmp_path, expr, fmt, capsys)
    assert taken == [True] and halves == ["child's half taken"]
    assert fast == stream
    assert cli.run(["-r", str(source), "--count", "--engine", "vector", *expr.split()]) == 0
    counted = capsys.readouterr().out
    assert cli.run(["-r", str(source), "--count", "--engine", "jit", *expr.split()]) == 0
    assert counted == capsys.readouterr().out
    assert halves == ["child's half taken"] * 2


def test_a_middle_that_is_no_block_start_leaves_the_child_out(
        packets: list[Packet], tmp_path: Path, halves: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = ngscan.NgScan.middle
    monkeypatch.setattr(ngscan.NgScan, "middle", lambda self: real(self) + 8)
    source = _pcapng(tmp_path / "in.pcapng", packets)
    fast, stream = _outputs(source, tmp_path, "udp", [], capsys)
    assert fast == stream
    assert halves == ["second half here"]


def test_an_unusual_second_half_sends_everything_to_the_stream_path(
        packets: list[Packet], tmp_path: Path, halves: list[str], taken: list[bool | None],
        capsys: pytest.CaptureFixture[str]) -> None:
    spb = _block(3, struct.pack("<I", 60) + b"\x01" * 60)
    source = _pcapng(tmp_path / "in.pcapng", packets, extra={len(packets) * 9 // 10: spb})
    fast, stream = _outputs(source, tmp_path, "udp", [], capsys)
    assert taken == [False]
    assert fast == stream


def test_the_child_failing_to_write_is_reported(packets: list[Packet], tmp_path: Path,
                                                halves: list[str],
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    fail_writes_in_children(monkeypatch)
    source = _pcapng(tmp_path / "in.pcapng", packets)
    out = tmp_path / "out.pcapng"
    assert cli.run(["-r", str(source), "-w", str(out), "--engine", "vector", "udp"]) == 1
    err = capsys.readouterr().err
    assert err.endswith(f"bpfc: error: {out}: cannot write: No space left on device\n"), err


def test_the_child_dying_is_an_error(packets: list[Packet], tmp_path: Path, halves: list[str],
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    def dies(*args: Any) -> None:
        os._exit(9)

    monkeypatch.setattr(ngpath, "_child", dies)
    source = _pcapng(tmp_path / "in.pcapng", packets)
    assert cli.run(["-r", str(source), "-w", str(tmp_path / "o"), "--engine", "vector",
                    "udp"]) == 1
    assert capsys.readouterr().err.endswith("bpfc: error: the second filtering process died\n")


def test_without_a_scratch_file_one_process_does_it_all(
        packets: list[Packet], tmp_path: Path, halves: list[str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ngpath, "_scratch", lambda path: None)
    source = _pcapng(tmp_path / "in.pcapng", packets)
    fast, stream = _outputs(source, tmp_path, "udp", [], capsys)
    assert fast == stream
    assert halves == []
