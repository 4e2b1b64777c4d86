"""The program cache (``bpfc/progcache.py``): a cached program is the compiler's program, and an
entry is used only when everything it was compiled from is unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bpfc
from bpfc import compiler, progcache

CASES = [
    ("tcp port 80", "EN10MB"),
    ("ip6 and icmp6", "EN10MB"),
    ("vlan and udp", "EN10MB"),
    ("net 10.0.0.0/16 and not port 22", "LINUX_SLL"),
    ("ip proto \\tcp and tcp[tcpflags] & tcp-syn != 0", "RAW"),
    ("port domain", "NULL"),
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("BPFC_NO_CACHE", raising=False)
    return tmp_path / "bpfc" / "programs"


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.bpf")) if cache.exists() else []


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the compiler ran although the program was cached")

    monkeypatch.setattr(compiler, "compile_stages", refuse)


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The expressions the compiler is asked for from now on (it still compiles them)."""
    calls: list[str] = []
    real = compiler.compile_stages

    def counting(expr: str, *args: object, **kwargs: object) -> compiler.Stages:
        calls.append(expr)
        return real(expr, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compiler, "compile_stages", counting)
    return calls


@pytest.mark.parametrize(("expr", "link"), CASES, ids=[f"{e}@{lt}" for e, lt in CASES])
def test_cached_program_is_the_compilers(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                         expr: str, link: str) -> None:
    fresh = bpfc.compile(expr, link, 65535)
    first = progcache.compile_cached(expr, link, 65535)
    assert first.insns == fresh.insns
    assert len(_entries(cache)) == 1
    _no_compiling(monkeypatch)
    again = progcache.compile_cached(expr, link, 65535)
    assert again.insns == fresh.insns
    assert (again.linktype, again.snaplen, again.source) == (fresh.linktype, 65535, expr)


def test_every_option_is_part_of_the_key(cache: Path) -> None:
    variants = [
        ("tcp port 80", "EN10MB", 65535, True, None),
        ("tcp port 80", "EN10MB", 65535, False, None),
        ("tcp port 80", "EN10MB", 96, True, None),
        ("tcp port 80", "LINUX_SLL", 65535, True, None),
        ("tcp port 80 ", "EN10MB", 65535, True, None),
        ("ip broadcast", "EN10MB", 65535, True, "255.255.255.0"),
        ("ip broadcast", "EN10MB", 65535, True, "255.255.0.0"),
    ]
    for expr, link, snaplen, optimize, netmask in variants:
        got = progcache.compile_cached(expr, link, snaplen, optimize, netmask)
        want = bpfc.compile(expr, link, snaplen, optimize, netmask)
        assert got.insns == want.insns, (expr, link, snaplen, optimize, netmask)
    assert len(_entries(cache)) == len(variants)
    # Read back, each variant still gets its own program.
    for expr, link, snaplen, optimize, netmask in variants:
        got = progcache.compile_cached(expr, link, snaplen, optimize, netmask)
        assert got.insns == bpfc.compile(expr, link, snaplen, optimize, netmask).insns


def test_live_programs_are_kept_apart(cache: Path) -> None:
    offline = progcache.compile_cached("vlan 10", "EN10MB", 65535)
    live = progcache.compile_cached("vlan 10", "EN10MB", 65535, live=True)
    assert live.insns == bpfc.compile("vlan 10", "EN10MB", 65535, live=True).insns
    assert live.insns != offline.insns


def test_host_names_are_never_stored(cache: Path) -> None:
    progcache.compile_cached("host localhost and tcp", "EN10MB", 65535)
    assert _entries(cache) == []
    progcache.compile_cached("host 127.0.0.1 and port http", "EN10MB", 65535)
    assert len(_entries(cache)) == 1


def test_a_changed_name_database_recompiles(cache: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    services = tmp_path / "services"
    services.write_text("http 80/tcp\n")
    monkeypatch.setattr(progcache, "NAME_DATABASES", (str(services),))
    progcache.compile_cached("tcp port 80", "EN10MB", 65535)
    services.write_text("http 80/tcp\nhttps 443/tcp\n")
    calls = _count_compiles(monkeypatch)
    progcache.compile_cached("tcp port 80", "EN10MB", 65535)
    assert calls == ["tcp port 80"]


def test_a_changed_source_file_recompiles(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    progcache.compile_cached("udp", "EN10MB", 65535)
    stamp = progcache._sources_stamp()
    monkeypatch.setattr(progcache, "_sources_stamp", lambda: stamp + "\nedited")
    progcache.compile_cached("udp", "EN10MB", 65535)
    assert len(_entries(cache)) == 2


def test_sources_stamp_sees_an_edit(tmp_path: Path) -> None:
    # The real stamp covers the package's modules: touching one changes it.
    module = Path(progcache.__file__)
    before = progcache._sources_stamp()
    info = module.stat()
    try:
        os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
        assert progcache._sources_stamp() != before
    finally:
        os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert progcache._sources_stamp() == before


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other-key", "bad-program"])
def test_a_damaged_or_foreign_entry_is_ignored(cache: Path, damage: str) -> None:
    want = bpfc.compile("tcp port 80", "EN10MB", 65535)
    progcache.compile_cached("tcp port 80", "EN10MB", 65535)
    [entry] = _entries(cache)
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[:-3])
    elif damage == "garbage":
        entry.write_bytes(b"\x00" * len(data))
    elif damage == "other-key":
        # An entry for another filter that landed on this name: its key says so.
        other = progcache._key("udp", 1, 65535, True, None, False)
        program = bpfc.compile("udp", "EN10MB", 65535)
        entry.unlink()
        progcache._store(entry, other, program)
    else:
        # A well-formed entry whose program the checker refuses (a jump out of the program).
        key = progcache._key("tcp port 80", 1, 65535, True, None, False)
        bad = progcache.HEADER.pack(progcache.MAGIC, len(key), 1) + key + \
            bpfc.isa.pack([bpfc.Insn(0x05, 0, 0, 7)])
        entry.write_bytes(bad)
    got = progcache.compile_cached("tcp port 80", "EN10MB", 65535)
    assert got.insns == want.insns
    assert progcache.compile_cached("tcp port 80", "EN10MB", 65535).insns == want.insns


def test_an_untrusted_directory_is_not_used(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    progcache.compile_cached("arp", "EN10MB", 65535)
    cache.chmod(0o777)
    try:
        assert progcache._directory() is None
        calls = _count_compiles(monkeypatch)
        progcache.compile_cached("arp", "EN10MB", 65535)
        assert calls == ["arp"]
    finally:
        cache.chmod(0o700)


def test_no_cache_variable_turns_it_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BPFC_NO_CACHE", "1")
    progcache.compile_cached("icmp", "EN10MB", 65535)
    assert _entries(cache) == []


def test_old_entries_are_pruned(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progcache, "MAX_ENTRIES", 8)
    for port in range(1, 10):
        progcache.compile_cached(f"tcp port {port}", "EN10MB", 65535)
    assert len(_entries(cache)) <= 8
    assert progcache.compile_cached("tcp port 9", "EN10MB", 65535).insns == \
        bpfc.compile("tcp port 9", "EN10MB", 65535).insns


def test_offline_runs_fill_and_use_the_cache(cache: Path, tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parent.parent / "pcaps" / "sample.pcap"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    outputs = []
    for run in range(2):
        out = tmp_path / f"out{run}.pcap"
        done = subprocess.run([sys.executable, "-m", "bpfc", "-r", str(sample), "-w", str(out),
                               "--engine", "vector", "tcp port 80"], env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
        assert len(_entries(cache)) == 1
    assert outputs[0] == outputs[1]


def test_lookup_never_compiles(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert progcache.lookup("tcp port 81", "EN10MB", 65535) is None
    assert _entries(cache) == []
    progcache.compile_cached("tcp port 81", "EN10MB", 65535)
    _no_compiling(monkeypatch)
    found = progcache.lookup("tcp port 81", "EN10MB", 65535)
    assert found is not None
    assert found.insns == progcache.compile_cached("tcp port 81", "EN10MB", 65535).insns
    assert progcache.lookup("tcp port 81", "EN10MB", 65535, optimize=False) is None
