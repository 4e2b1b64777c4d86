"""Whatever a capture file holds, the native walk's path gives what the stream path gives.

The native engine checks records and blocks itself (damage, long records, blocks the stream
reader would read differently) and hands anything else back; that split is only right if it
never accepts what the stream reader refuses, nor stops where the reader goes on. Hypothesis
builds small classic pcap and pcapng files (packets of random sizes, other pcapng blocks, odd
padding, options) and then, often, damages one at a random place: overwrites a few bytes or cuts
the file. ``bpfc -r F`` under ``--engine auto`` (the native path) and under ``--engine jit`` (the
stream path) must then end the same: status, written bytes, counts, and error text.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfc import cli, native, ngpath, offline

pytestmark = pytest.mark.skipif(not native.available(),
                                reason="machine code does not run here (Linux x86-64 only)")

#: Packets: a little traffic the filters below tell apart (UDP to port 53, TCP, ARP, junk).
_FRAME = st.sampled_from([
    bytes(12) + b"\x08\x00\x45\x00\x00\x1c" + bytes(5) + b"\x11" + bytes(10) + b"\x00\x35\x00\x35",
    bytes(12) + b"\x08\x00\x45\x00\x00\x28" + bytes(5) + b"\x06" + bytes(10) + b"\x00\x50\x01\xbb",
    bytes(12) + b"\x08\x06" + bytes(28),
    b"",
])
_PACKET = st.tuples(_FRAME, st.binary(max_size=40), st.integers(0, 3)).map(
    lambda t: (t[0] + t[1], t[2]))
_DAMAGE = st.one_of(st.none(),
                    st.tuples(st.just("bytes"), st.integers(0, 10**6), st.binary(min_size=1,
                                                                                max_size=4)),
                    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(b"")))


def _classic(packets: list[tuple[bytes, int]], snaplen: int, order: str, magic: int) -> bytes:
    parts = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, 1)]
    for i, (data, extra) in enumerate(packets):
        parts.append(struct.pack(order + "IIII", 1000 + i, i, len(data), len(data) + extra)
                     + data)
    return b"".join(parts)


def _ng_block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack("<II", kind, total) + body + struct.pack("<I", total)


def _pcapng(packets: list[tuple[bytes, int]], extras: list[int], odd_pad: bool) -> bytes:
    shb = _ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = _ng_block(1, struct.pack("<HHI", 1, 0, 262144))
    blocks = [shb, idb]
    for i, (data, extra) in enumerate(packets):
        if i < len(extras):
            blocks.append(_ng_block(extras[i], b"\0" * 8) if extras[i] else b"")
        pad = b"\x5a" if odd_pad and len(data) % 4 else b""
        body = struct.pack("<IIIII", 0, 0, 1_000_000 * (1000 + i) + i, len(data),
                           len(data) + extra) + data + pad
        blocks.append(_ng_block(6, body))
    return b"".join(blocks)


def _damage(data: bytes, how: tuple[str, int, bytes] | None) -> bytes:
    if how is None or len(data) <= 24:
        return data
    kind, where, what = how
    at = 24 + where % (len(data) - 24)  # past the file header: its damage is the reader's
    if kind == "cut":
        return data[:at]
    return data[:at] + what + data[at + len(what):]


def _both(path: Path, tmp: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
          ) -> list[tuple[int, bytes, str, str]]:
    ends = []
    for engine in ("auto", "jit"):
        out = tmp / f"{engine}.out"
        out.unlink(missing_ok=True)
        args = [a if a != "OUT" else str(out) for a in argv]
        status = cli.run(["-r", str(path), "--engine", engine, *args])
        done = capsys.readouterr()
        ends.append((status, out.read_bytes() if out.exists() else b"", done.out, done.err))
    return ends


JOBS = [["-w", "OUT", "udp"], ["-w", "OUT", ""], ["--count", "tcp or udp"],
        ["-w", "OUT", "-c", "3", "udp"], ["not arp"]]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(packets=st.lists(_PACKET, max_size=30), snaplen=st.sampled_from([262144, 65535, 40]),
       kind=st.sampled_from([("<", 0xA1B2C3D4), ("<", 0xA1B23C4D), (">", 0xA1B2C3D4)]),
       damage=_DAMAGE, job=st.sampled_from(JOBS))
def test_classic_files(packets: list[tuple[bytes, int]], snaplen: int, kind: tuple[str, int],
                       damage: tuple[str, int, bytes] | None, job: list[str], tmp_path: Path,
                       capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Microsecond, nanosecond and big-endian files (the last two: the native walk reads
    nanosecond files; big-endian ones go the numpy way, held to the same standard)."""
    monkeypatch.setattr(offline, "VECTOR_MIN_BYTES", 0)  # auto maps even these small files
    path = tmp_path / "in.pcap"
    path.write_bytes(_damage(_classic(packets, snaplen, *kind), damage))
    native_end, stream_end = _both(path, tmp_path, [w for w in job if w], capsys)
    assert native_end == stream_end


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(packets=st.lists(_PACKET, max_size=30),
       extras=st.lists(st.sampled_from([0, 0, 0, 4, 5, 0xBAD, 3, 1]), max_size=30),
       odd_pad=st.booleans(), damage=_DAMAGE,
       job=st.sampled_from([["-w", "OUT", "udp"], ["-w", "OUT", "--pcap", "udp"],
                            ["-w", "OUT", ""], ["--count", "tcp or udp"]]))
def test_pcapng_files(packets: list[tuple[bytes, int]], extras: list[int], odd_pad: bool,
                      damage: tuple[str, int, bytes] | None, job: list[str], tmp_path: Path,
                      capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ngpath, "VECTOR_MIN_BYTES", 0)
    path = tmp_path / "in.pcapng"
    path.write_bytes(_damage(_pcapng(packets, extras, odd_pad), damage))
    native_end, stream_end = _both(path, tmp_path, [w for w in job if w], capsys)
    assert native_end == stream_end
