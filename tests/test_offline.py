"""``bpfc -r``: the records written are the ones tcpdump writes, whatever path the driver takes.

Oracles: the tcpdump binary (``tcpdump -r F -w O EXPR``, byte for byte on a generated 20,000
packet capture, and after damage), and libpcap in process (pcapy: ``setfilter`` on the savefile
handle, which is what tcpdump does) for every corpus file. The paths under test: the mapped
vectorised path in one process and in two (forced on small files by shrinking the thresholds),
the stream path through the JIT, the VM and batched numpy, standard input and output.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfc import cli, native, ngpath, offline, parallel
from bpfc.pcapfile import Packet, open_capture
from bpfc.pcapwrite import PcapngWriter

from .conftest import CORPUS_PCAPS, REPO

pcapy = pytest.importorskip("pcapy")
TCPDUMP = shutil.which("tcpdump")
needs_tcpdump = pytest.mark.skipif(TCPDUMP is None, reason="tcpdump not installed")

GENERATED_PACKETS = 20_000

Record = tuple[tuple[int, int], int, int, bytes]


def _bench_module(name: str) -> Any:
    """A script of bench/, loaded as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


#: The benchmark's expressions (bench/bench_offline.py), each checked byte for byte here.
BENCH_EXPRESSIONS: list[str] = _bench_module("bench_offline").EXPRESSIONS


def _load_generator() -> Any:
    return _bench_module("make_big_pcap")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "gen.pcap"
    _load_generator().make_capture(path, GENERATED_PACKETS, 4242)
    return path


def records(path: Path) -> list[Record]:
    """Every record of a capture as libpcap reads it (µs timestamps, whatever the file's)."""
    reader = pcapy.open_offline(str(path))
    found = []
    while True:
        header, data = reader.next()
        if header is None:
            return found
        found.append((header.getts(), header.getcaplen(), header.getlen(), bytes(data)))


def libpcap_matches(path: Path, expr: str) -> list[Record] | None:
    """What ``tcpdump -r path -w out expr`` writes, computed in process; None when libpcap
    refuses the expression for the file's link type."""
    reader = pcapy.open_offline(str(path))
    try:
        reader.setfilter(expr)
    except pcapy.PcapError:
        return None
    found = []
    while True:
        try:
            header, data = reader.next()
        except pcapy.PcapError:
            return found
        if header is None:
            return found
        found.append((header.getts(), header.getcaplen(), header.getlen(), bytes(data)))


def bpfc(*argv: str) -> int:
    return cli.run(list(argv))


def tcpdump(*argv: str, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    assert TCPDUMP is not None
    os.chmod(tmp, 0o777)  # tcpdump writes -w files as its own user
    return subprocess.run([TCPDUMP, *argv], capture_output=True, check=False)


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The two-process path on a small file: many small segments. Fails the test if the
    driver did not take it."""
    monkeypatch.setattr(offline, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "SEGMENT_BYTES", 1 << 20)
    monkeypatch.delenv("BPFC_ONE_CORE", raising=False)
    no_machine_code(monkeypatch)
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU")
    runs = []
    real = parallel.TwoCores.run

    def spy(self: parallel.TwoCores) -> object:
        runs.append(self.total)
        return real(self)

    monkeypatch.setattr(parallel.TwoCores, "run", spy)
    yield
    assert runs and runs[0] > 4


@pytest.fixture
def one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline, "VECTOR_MIN_BYTES", 0)
    monkeypatch.setenv("BPFC_ONE_CORE", "1")
    no_machine_code(monkeypatch)


def no_machine_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """The numpy path under ``--engine auto``, as on a machine where the native engine cannot
    run."""
    monkeypatch.setattr(native, "available", lambda: False)


#: two-cores takes the program from the program cache before forking (the earlier modes put
#: it there); two-cores-compiling compiles it after forking, while the child indexes ahead.
MODES = ["native", "one-core", "two-cores", "two-cores-compiling", "jit", "vm-stream",
         "vector-stream"]


def _mode_args(mode: str, request: pytest.FixtureRequest) -> list[str]:
    match mode:
        case "native":
            if not native.available():
                pytest.skip("machine code does not run here (Linux x86-64 only)")
            return ["--engine", "native"]
        case "one-core":
            request.getfixturevalue("one_core")
            return ["--engine", "vector"]
        case "two-cores":
            request.getfixturevalue("two_cores")
            return ["--engine", "vector"]
        case "two-cores-compiling":
            request.getfixturevalue("two_cores")
            request.getfixturevalue("monkeypatch").setenv("BPFC_NO_CACHE", "1")
            return ["--engine", "vector"]
        case "jit":
            return ["--engine", "jit"]
        case "vm-stream":
            return ["--engine", "vm"]
        case "vector-stream":
            return ["--engine", "vector", "--pcap"]
    raise AssertionError(mode)


# -- the generated capture, against the tcpdump binary ----------------------------------------

@pytest.fixture(scope="module")
def tcpdump_outputs(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if TCPDUMP is None:
        pytest.skip("tcpdump not installed")
    work = tmp_path_factory.mktemp("tcpdump")
    outputs = {}
    for n, expr in enumerate(BENCH_EXPRESSIONS):
        out = work / f"{n}.pcap"
        done = tcpdump("-r", str(generated), "-w", str(out), *expr.split(), tmp=work)
        assert done.returncode == 0, done.stderr
        outputs[expr] = out.read_bytes()
    return outputs


@needs_tcpdump
@pytest.mark.tcpdump
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("expr", BENCH_EXPRESSIONS, ids=lambda e: e.replace(" ", "-") or "empty")
def test_generated_capture_byte_for_byte(generated: Path, tcpdump_outputs: dict[str, bytes],
                                         tmp_path: Path, expr: str, mode: str,
                                         request: pytest.FixtureRequest) -> None:
    if mode in ("vm-stream", "jit") and expr not in ("", "tcp port 80", "vlan and udp"):
        pytest.skip("the per-packet engines are covered on a few expressions (time)")
    if mode.startswith("two-cores") and not expr:
        pytest.skip("the empty filter copies the file in one process (the one-core case)")
    out = tmp_path / "out.pcap"
    extra = _mode_args(mode, request)
    if mode == "two-cores":
        from bpfc import progcache

        with generated.open("rb") as f:
            snaplen = struct.unpack_from("<I", f.read(24), 16)[0]
        assert progcache.compile_cached(expr, "EN10MB", snaplen) is not None
        assert progcache.lookup(expr, "EN10MB", snaplen) is not None
    assert bpfc("-r", str(generated), "-w", str(out), *extra, *expr.split()) == 0
    assert out.read_bytes() == tcpdump_outputs[expr]


_FORK_PROBE = """
import os, sys
from bpfc import cli, native, ngpath, offline, parallel
offline.PARALLEL_MIN_BYTES = 0
parallel.SEGMENT_BYTES = 1 << 20
seen = []
real_fork = os.fork
def fork():
    seen.append(sorted(m for m in ("numpy", "bpfc.recindex", "bpfc.vector") if m in sys.modules))
    return real_fork()
os.fork = fork
status = cli.run(["-r", sys.argv[1], "-w", sys.argv[2], "--engine", "vector", "tcp"])
print(status, seen)
"""


def test_the_second_process_inherits_its_imports(generated: Path, tmp_path: Path) -> None:
    """numpy and the engine are imported before the fork: imported after it, each process
    imports them on its own (~35 ms on each core, a fifth of a 1M-packet job)."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU")
    done = subprocess.run([sys.executable, "-c", _FORK_PROBE, str(generated),
                           str(tmp_path / "out.pcap")], capture_output=True, text=True,
                          check=True, env={**os.environ, "BPFC_NO_CACHE": "1"})
    assert done.stdout.split("\n")[0] == "0 [['bpfc.recindex', 'bpfc.vector', 'numpy']]", \
        done.stdout + done.stderr



@pytest.mark.parametrize("mode", ["native", "one-core", "two-cores", "jit", "vector-stream"])
def test_an_existing_output_file_is_replaced(generated: Path, tmp_path: Path, mode: str,
                                             request: pytest.FixtureRequest) -> None:
    """An output file that exists is emptied first (by a second thread, on the mapped path):
    what was in it, even past the end of the new capture, is gone."""
    extra = _mode_args(mode, request)
    fresh, reused = tmp_path / "fresh.pcap", tmp_path / "reused.pcap"
    assert bpfc("-r", str(generated), "-w", str(fresh), *extra, "udp") == 0
    reused.write_bytes(b"\xee" * (generated.stat().st_size + 65536))
    assert bpfc("-r", str(generated), "-w", str(reused), *extra, "udp") == 0
    assert reused.read_bytes() == fresh.read_bytes()
    assert records(reused) == libpcap_matches(generated, "udp")


def test_an_output_that_cannot_be_emptied_is_reported(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The emptying thread's failure (an append-only file, say) comes out of ``ready()``, as
    opening's would, and nothing is written."""
    out = tmp_path / "o.pcap"
    out.write_bytes(b"old contents")

    def refuse(fd: int, size: int) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "ftruncate", refuse)
    pending = offline.Output.start(str(out))
    with pytest.raises(offline.CaptureFileError,
                       match=f"^{out}: cannot write: Operation not permitted$"):
        pending.ready()
    assert pending.file.closed and out.read_bytes() == b"old contents"

def test_an_output_that_cannot_be_written_is_reported(generated: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert bpfc("-r", str(generated), "-w", str(tmp_path / "no" / "such" / "dir.pcap"),
                "udp") != 0
    assert "cannot write: No such file or directory" in capsys.readouterr().err


_FULL_DISK_PROBE = """
import os, resource, signal, sys
from bpfc import cli, native, ngpath, offline, parallel
mode, source, out, limit = sys.argv[1:5]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
if mode == "two-cores":
    offline.PARALLEL_MIN_BYTES = 0
    parallel.SEGMENT_BYTES = 1 << 20
else:
    offline.VECTOR_MIN_BYTES = 0
    os.environ["BPFC_ONE_CORE"] = "1"
extra = {"jit": ["--engine", "jit"], "pcapng": ["--pcapng"], "native": ["--engine", "native"],
         "one-core": ["--engine", "vector"], "two-cores": ["--engine", "vector"]}[mode]
sys.exit(cli.run(["-r", source, "-w", out, *extra, "udp"]))
"""


@pytest.mark.parametrize("mode", ["native", "one-core", "two-cores", "jit", "pcapng"])
def test_a_write_that_fails_is_reported_after_what_was_written(generated: Path, tmp_path: Path,
                                                               mode: str) -> None:
    """A file size limit (the same failure as a full disk, EFBIG instead of ENOSPC): one
    ``cannot write`` error naming the output, exit status 1, no traceback, and the output
    holds what was written before the failure."""
    if mode == "two-cores" and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU")
    if mode == "native" and not native.available():
        pytest.skip("machine code does not run here (Linux x86-64 only)")
    out = tmp_path / "out.pcap"
    limit = 300_000
    done = subprocess.run([sys.executable, "-c", _FULL_DISK_PROBE, mode, str(generated),
                           str(out), str(limit)], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 1, done.stderr
    assert done.stderr.endswith(f"bpfc: error: {out}: cannot write: File too large\n"), \
        done.stderr
    assert "Traceback" not in done.stderr
    assert 0 < out.stat().st_size <= limit
    whole = tmp_path / "whole.pcap"
    assert bpfc("-r", str(generated), "-w", str(whole),
                *(["--pcapng"] if mode == "pcapng" else []), "udp") == 0
    written = out.read_bytes()
    if mode != "two-cores":  # one writer, in order: the output is a prefix of the whole
        assert whole.read_bytes().startswith(written)
    else:  # two writers: the file header and the first segment's records are in place
        assert whole.read_bytes()[:len(written) // 4] == written[:len(written) // 4]


@pytest.mark.parametrize("argv", [["-w", "-"], [], ["-w", "-", "--engine", "jit"]],
                         ids=["mapped-to-stdout", "printing", "stream-to-stdout"])
def test_a_full_standard_output_is_reported(generated: Path, argv: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "bpfc", "-r", str(generated), *argv, "udp"],
                              stdout=full, stderr=subprocess.PIPE, text=True, check=False,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 1, done.stderr
    assert done.stderr.endswith("bpfc: error: standard output: cannot write: No space left on "
                                "device\n"), done.stderr


def fail_writes_in_children(monkeypatch: pytest.MonkeyPatch) -> int:
    """Makes every ``RunWriter.write`` in a forked child fail as a full disk does; returns this
    (the parent's) pid."""
    from bpfc.runwriter import RunWriter

    parent = os.getpid()
    real = RunWriter.write

    def failing_in_the_child(self: RunWriter, begins: Any, ends: Any, at: int | None = None
                             ) -> int:
        if os.getpid() != parent:
            with self.failing:
                raise OSError(28, "No space left on device")
        return real(self, begins, ends, at)

    monkeypatch.setattr(RunWriter, "write", failing_in_the_child)
    return parent


def test_a_write_failing_in_the_second_process_is_reported(generated: Path, tmp_path: Path,
                                                           two_cores: None,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    """The child writes its own segments; when one of those writes fails, the child sends its
    error to the parent, which reports it (not "the second filtering process died")."""
    parent = fail_writes_in_children(monkeypatch)
    real_work = parallel._Worker.work

    def slow_in_the_parent(self: parallel._Worker, index: int, stages: Any) -> Any:
        if os.getpid() == parent:
            time.sleep(0.2)  # meanwhile the child claims (and will write) segments of its own
        return real_work(self, index, stages)

    monkeypatch.setattr(parallel._Worker, "work", slow_in_the_parent)
    out = tmp_path / "out.pcap"
    assert bpfc("-r", str(generated), "-w", str(out), "udp") == 1
    err = capsys.readouterr().err
    assert err.endswith(f"bpfc: error: {out}: cannot write: No space left on device\n"), err
    assert "died" not in err


@pytest.mark.parametrize("when", ["at-once", "after-a-segment"])
def test_the_second_process_dying_is_an_error_never_a_success(
        generated: Path, tmp_path: Path, two_cores: None, when: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A child killed from outside (the OOM killer, say) leaves its pipes closed: neither the
    parent's next message meeting a closed pipe (which must not pass for a reader that went
    away), nor results or a last word that never come, may end in exit 0 with half an output."""
    parent = os.getpid()
    real_live, real_done = parallel._Worker.live, parallel._Worker.done

    def dies_at_once(self: parallel._Worker, *args: Any) -> None:
        os._exit(9)

    def dies_after_a_segment(self: parallel._Worker, *args: Any) -> None:
        real_done(self, *args)
        os._exit(9)

    if when == "at-once":
        monkeypatch.setattr(parallel._Worker, "live", dies_at_once)
    else:
        monkeypatch.setattr(parallel._Worker, "done", dies_after_a_segment)
    real_work = parallel._Worker.work

    def slow_in_the_parent(self: parallel._Worker, index: int, stages: Any) -> Any:
        if os.getpid() == parent:
            time.sleep(0.1)
        return real_work(self, index, stages)

    monkeypatch.setattr(parallel._Worker, "work", slow_in_the_parent)
    assert real_live is not None
    assert bpfc("-r", str(generated), "-w", str(tmp_path / "out.pcap"), "udp") == 1
    assert capsys.readouterr().err.endswith("bpfc: error: the second filtering process died\n")

@pytest.mark.parametrize("engine", ["auto", "jit"])
def test_writing_over_the_capture_being_read_is_refused(generated: Path, tmp_path: Path,
                                                        engine: str,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """tcpdump empties the capture it is reading (see the next test); bpfc refuses, whatever
    name the output is given (the same path, another spelling, a hard link, standard input)."""
    source = tmp_path / "in.pcap"
    shutil.copy(generated, source)
    os.link(source, tmp_path / "link.pcap")
    before = source.read_bytes()
    for out in (source, tmp_path / "." / "in.pcap", tmp_path / "link.pcap"):
        assert bpfc("-r", str(source), "-w", str(out), "--engine", engine, "udp") == 1
        err = capsys.readouterr().err
        assert f"{out}: -w names the capture file being read; refusing to overwrite" in err
        assert source.read_bytes() == before
    with source.open("rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "bpfc", "-r", "-", "-w", str(source), "udp"],
                              stdin=stdin, capture_output=True, check=False,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 1 and b"refusing to overwrite" in done.stderr, done.stderr
    assert source.read_bytes() == before


@needs_tcpdump
@pytest.mark.tcpdump
def test_tcpdump_empties_the_capture_it_is_told_to_write_over(generated: Path,
                                                              tmp_path: Path) -> None:
    """What the refusal above spares the user: tcpdump empties the file while it reads it,
    stops at the end of what it had buffered with "truncated dump file", and leaves a few of
    the capture's records where the whole capture was."""
    source = tmp_path / "in.pcap"
    shutil.copy(generated, source)
    source.chmod(0o666)
    size = source.stat().st_size
    done = tcpdump("-r", str(source), "-w", str(source), "udp", tmp=tmp_path)
    assert done.returncode == 1
    assert b"truncated dump file" in done.stderr
    assert source.stat().st_size < size // 100

def test_the_run_leaves_the_collector_as_it_found_it(generated: Path, tmp_path: Path) -> None:
    import gc

    assert gc.isenabled()
    assert bpfc("-r", str(generated), "-w", str(tmp_path / "o.pcap"), "udp") == 0
    assert gc.isenabled()
    gc.disable()
    try:
        assert bpfc("-r", str(generated), "-w", str(tmp_path / "o.pcap"), "udp") == 0
        assert not gc.isenabled()
    finally:
        gc.enable()

# -- every corpus file, against libpcap ----------------------------------------------------------

def _corpus() -> list[Path]:
    return sorted(CORPUS_PCAPS.glob("*.pcap*")) if CORPUS_PCAPS.exists() else []


@pytest.mark.parametrize("engine", ["auto", "vector"])
def test_corpus_files_match_libpcap(tmp_path: Path, engine: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every corpus file and benchmark expression: bpfc writes the records libpcap's filter
    passes, in the input's format (pcapng stays pcapng); it refuses what libpcap refuses. On
    link types the compiler does not lower yet, only the empty filter is compared."""
    from bpfc.linktypes import SUPPORTED

    files = _corpus()
    if not files:
        pytest.skip("corpus not available")
    monkeypatch.setattr(offline, "VECTOR_MIN_BYTES", 0)  # --engine vector maps even tiny files
    out = tmp_path / "out"
    compared = 0
    for path in files:
        try:
            dlt = pcapy.open_offline(str(path)).datalink()
        except pcapy.PcapError:
            continue
        for expr in BENCH_EXPRESSIONS if dlt in SUPPORTED else [""]:
            want = libpcap_matches(path, expr)
            status = bpfc("-r", str(path), "-w", str(out), "--engine", engine, *expr.split())
            if want is None:
                if not expr:
                    continue  # pcapy's libpcap 1.9 does not know this link type at all
                assert status != 0, (path.name, expr)
                continue
            assert status == 0, (path.name, expr)
            assert records(out) == want, (path.name, expr, engine)
            compared += 1
    assert compared > 1500


@needs_tcpdump
@pytest.mark.tcpdump
@pytest.mark.parametrize("name", ["afs.pcap", "tcp-handshake-nano.pcap", "dns_tcp.pcap",
                                  "bgp-extended-msg.pcapng", "time_2106_max.pcap"])
def test_corpus_files_match_tcpdump(tmp_path: Path, name: str) -> None:
    """A few files through the tcpdump binary itself (nanosecond and pcapng inputs too: tcpdump
    writes µs pcap, bpfc keeps the input's format, the records are the same)."""
    path = CORPUS_PCAPS / name
    if not path.exists():
        pytest.skip("corpus not available")
    for expr in ("", "tcp", "udp or icmp"):
        mine, theirs = tmp_path / "b.out", tmp_path / "t.out"
        assert bpfc("-r", str(path), "-w", str(mine), *expr.split()) == 0
        assert tcpdump("-r", str(path), "-w", str(theirs), *expr.split(),
                       tmp=tmp_path).returncode == 0
        assert records(mine) == records(theirs), (name, expr)


# -- damaged input ------------------------------------------------------------------------------

def _damaged(source: Path, tmp: Path, how: str) -> Path:
    data = bytearray(source.read_bytes())
    index = open_capture(source)
    offsets = []
    for _ in index:
        offsets.append(index.offset)
    index.close()
    victim = offsets[len(offsets) * 3 // 5]
    match how:
        case "truncated-data":
            del data[victim + 30:]
        case "truncated-header":
            del data[victim + 9:]
        case "bad-caplen":
            struct.pack_into("<I", data, victim + 8, 0x00FFFFFF)
    path = tmp / f"{how}.pcap"
    path.write_bytes(bytes(data))
    return path


@needs_tcpdump
@pytest.mark.tcpdump
@pytest.mark.parametrize(("mode", "expr"), [("native", "tcp"), ("one-core", "tcp"),
                                            ("two-cores", "tcp"), ("jit", "tcp"),
                                            ("native", ""), ("one-core", "")],
                         ids=["native", "one-core", "two-cores", "jit", "copy-everything-native",
                              "copy-everything-index"])
@pytest.mark.parametrize("how", ["truncated-data", "truncated-header", "bad-caplen"])
def test_damage_keeps_good_packets_then_fails(generated: Path, tmp_path: Path, how: str,
                                              mode: str, expr: str,
                                              request: pytest.FixtureRequest,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _damaged(generated, tmp_path, how)
    theirs, mine = tmp_path / "t.pcap", tmp_path / "b.pcap"
    done = tcpdump("-r", str(path), "-w", str(theirs), *expr.split(), tmp=tmp_path)
    assert done.returncode == 1
    status = bpfc("-r", str(path), "-w", str(mine), *_mode_args(mode, request), *expr.split())
    err = capsys.readouterr().err
    assert status == 1
    assert mine.read_bytes() == theirs.read_bytes()
    reader_error = None
    try:
        for _ in open_capture(path):
            pass
    except Exception as exc:  # noqa: BLE001 - the reader's own error is the expected text
        reader_error = str(exc)
    assert reader_error is not None and reader_error in err


@needs_tcpdump
@pytest.mark.tcpdump
@pytest.mark.parametrize("mode", ["native", "one-core", "two-cores", "jit"])
@pytest.mark.parametrize("expr", ["", "tcp", "udp"])
def test_records_longer_than_the_snapshot_are_written_cut(generated: Path, tmp_path: Path,
                                                          expr: str, mode: str,
                                                          request: pytest.FixtureRequest) -> None:
    """A file whose header says snaplen 1000 but holds longer records: libpcap delivers (and
    tcpdump writes) them cut to 1000 bytes, so they cannot be copied as they lie."""
    if mode == "two-cores" and not expr:
        pytest.skip("the empty filter copies the file in one process")
    data = bytearray(generated.read_bytes())
    struct.pack_into("<I", data, 16, 1000)
    path = tmp_path / "snap1000.pcap"
    path.write_bytes(bytes(data))
    theirs, mine = tmp_path / "t.pcap", tmp_path / "b.pcap"
    assert tcpdump("-r", str(path), "-w", str(theirs), *expr.split(),
                   tmp=tmp_path).returncode == 0
    assert bpfc("-r", str(path), "-w", str(mine), *_mode_args(mode, request),
                *expr.split()) == 0
    assert records(mine) == records(theirs)
    assert mine.read_bytes()[24:] == theirs.read_bytes()[24:]


@needs_tcpdump
@pytest.mark.tcpdump
@pytest.mark.parametrize("mode", ["native", "one-core", "jit"])
def test_a_count_that_stops_among_long_records(generated: Path, tmp_path: Path, mode: str,
                                               request: pytest.FixtureRequest) -> None:
    """``-c`` cuts a chunk's verdicts short while some of its records are longer than the
    snapshot (this once raised an internal error: the cut verdicts met the whole chunk's
    lengths)."""
    data = bytearray(generated.read_bytes())
    struct.pack_into("<I", data, 16, 1000)
    path = tmp_path / "snap1000.pcap"
    path.write_bytes(bytes(data))
    theirs, mine = tmp_path / "t.pcap", tmp_path / "b.pcap"
    for count in ("5", "1234"):
        assert tcpdump("-r", str(path), "-w", str(theirs), "-c", count, "tcp",
                       tmp=tmp_path).returncode == 0
        assert bpfc("-r", str(path), "-w", str(mine), "-c", count,
                    *_mode_args(mode, request), "tcp") == 0
        assert mine.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("engine", ["auto", "native", "vector", "jit"])
@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_filter_the_link_type_cannot_express_fails_even_without_packets(
        tmp_path: Path, engine: str, kind: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Compiled before the first packet whatever the path (tcpdump compiles before reading)."""
    if engine == "native" and not native.available():
        pytest.skip("machine code does not run here (Linux x86-64 only)")
    monkeypatch.setattr(offline, "VECTOR_MIN_BYTES", 0)
    monkeypatch.setattr(ngpath, "VECTOR_MIN_BYTES", 0)
    path = tmp_path / f"empty.{kind}"
    if kind == "pcap":
        path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 2))
    else:
        body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        path.write_bytes(struct.pack("<II", 0x0A0D0D0A, 28) + body + struct.pack("<I", 28)
                         + struct.pack("<IIHHII", 1, 20, 2, 0, 262144, 20))
    assert bpfc("-r", str(path), "--engine", engine, "--count", "udp") == 1
    assert capsys.readouterr().err.endswith(
        "bpfc: error: bpfc cannot compile filters for link type DLT_2 yet\n")


# -- pcapng with several link types --------------------------------------------------------

def _tcp80_v4() -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, bytes([10, 0, 0, 1]),
                     bytes([10, 0, 0, 2]))
    tcp = struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 0x50, 0x02, 1000, 0, 0)
    return ip + tcp


def test_pcapng_with_two_link_types(tmp_path: Path) -> None:
    """libpcap refuses such files; bpfc compiles once per link type and judges each packet by
    its own interface's program."""
    path = tmp_path / "mixed.pcapng"
    v4 = _tcp80_v4()
    ether = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + v4
    other = bytearray(ether)
    other[14 + 22:14 + 24] = b"\x00\x16"  # port 22 instead of 80
    packets = [Packet.of(ether), Packet.of(v4, linktype=12), Packet.of(bytes(other)),
               Packet.of(v4[:22], linktype=12, wirelen=40), Packet.of(ether, linktype=12)]
    with PcapngWriter(path) as writer:
        for p in packets:
            writer.write(p)
    out = tmp_path / "out.pcapng"
    for engine in ("auto", "vector", "vm"):
        assert bpfc("-r", str(path), "-w", str(out), "--engine", engine, "tcp", "port",
                    "80") == 0
        got = [(p.linktype, p.data) for p in open_capture(out)]
        assert got == [(1, ether), (12, v4)], engine
    assert bpfc("-r", str(path), "-w", str(out), "--pcap", "tcp") == 1  # two link types


# -- the command line -------------------------------------------------------------------------

def _run(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "bpfc", *argv], input=stdin,
                          capture_output=True, env=env, check=False)


@needs_tcpdump
@pytest.mark.tcpdump
def test_count_and_stop_after(generated: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    theirs = tcpdump("-r", str(generated), "--count", "udp", tmp=tmp_path).stdout.decode()
    assert bpfc("-r", str(generated), "--count", "udp") == 0
    assert capsys.readouterr().out == theirs
    for mode in ("auto", "vector", "jit"):
        mine, want = tmp_path / "b.pcap", tmp_path / "t.pcap"
        assert bpfc("-r", str(generated), "-w", str(mine), "-c", "123", "--engine", mode,
                    "tcp") == 0
        tcpdump("-r", str(generated), "-w", str(want), "-c", "123", "tcp", tmp=tmp_path)
        assert mine.read_bytes() == want.read_bytes()
    err = capsys.readouterr().err
    assert "123 packets matched" in err


def test_standard_input_and_output(generated: Path) -> None:
    data = generated.read_bytes()
    done = _run("-r", "-", "-w", "-", "udp", stdin=data)
    assert done.returncode == 0, done.stderr
    want = libpcap_matches(generated, "udp")
    reader = open_capture(io.BytesIO(done.stdout))
    got = [((p.ts_sec, p.ts_frac), p.caplen, p.wirelen, p.data) for p in reader]
    assert got == want
    assert b"packets matched" in done.stderr
    done = _run("-r", str(generated), "-w", "-", "udp")  # the mapped path into a pipe
    assert done.stdout[24:] == b"".join(
        struct.pack("<IIII", s, u, c, w) + d for (s, u), c, w, d in want)


def test_pcapng_output_of_a_pcap(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.pcapng"
    assert bpfc("-r", str(generated), "-w", str(out), "--pcapng", "icmp") == 0
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert records(out) == libpcap_matches(generated, "icmp")


API_ENGINES = ["auto", "native", "jit", "vector"]


def _api_engine(engine: str) -> None:
    if engine == "native" and not native.available():
        pytest.skip("machine code does not run here (Linux x86-64 only)")


@pytest.mark.parametrize("engine", API_ENGINES)
def test_filter_file_api(generated: Path, tmp_path: Path, engine: str) -> None:
    """The same packets, field for field, whichever engine; also from a file whose records are
    longer than its snapshot (libpcap cuts them: the native walk hands those to numpy)."""
    import bpfc as api

    _api_engine(engine)
    snap = tmp_path / "snap1000.pcap"
    data = bytearray(generated.read_bytes())
    struct.pack_into("<I", data, 16, 1000)
    snap.write_bytes(bytes(data))
    for path in (generated, snap):
        packets = list(api.filter_file(path, "vlan and udp", engine=engine))
        got = [((p.ts_sec, p.ts_frac), p.caplen, p.wirelen, p.data) for p in packets]
        assert got == libpcap_matches(path, "vlan and udp"), (engine, path.name)
        assert {(p.ts_units, p.linktype, p.byteorder) for p in packets} == {(1_000_000, 1, "<")}


@pytest.mark.parametrize("engine", API_ENGINES)
def test_filter_file_raises_after_the_good_packets(generated: Path, tmp_path: Path,
                                                   engine: str) -> None:
    import bpfc as api

    _api_engine(engine)
    path = _damaged(generated, tmp_path, "truncated-data")
    got: list[Packet] = []
    with pytest.raises(api.CaptureFileError, match="truncated dump file"):
        for packet in api.filter_file(path, "udp", engine=engine):
            got.append(packet)
    assert len(got) > 1000
    whole = [p.data for p in api.filter_file(generated, "udp", engine="jit")]
    assert [p.data for p in got] == whole[:len(got)]


def test_filter_file_stopped_early_lets_go(generated: Path) -> None:
    """A loop that stops early closes the walk: its page-mapping thread ends, the file's map
    is released."""
    import threading

    import bpfc as api

    _api_engine("native")
    before = threading.active_count()
    packets = api.filter_file(generated, "udp", engine="native")
    assert next(packets).data
    packets.close()  # type: ignore[attr-defined]
    assert threading.active_count() == before


def test_filter_file_engine_native_refuses_what_it_cannot_read(generated: Path) -> None:
    import bpfc as api

    _api_engine("native")
    with generated.open("rb") as stream, pytest.raises(api.BpfcError, match="engine native"):
        next(api.filter_file(stream, "udp", engine="native"))


def test_printing_lines(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bpfc("-r", str(generated), "-c", "5", "arp") == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 5 and all(" ARP, " in line for line in lines)
    assert "reading from file" in out.err


@pytest.mark.parametrize("flags", [[], ["-e"], ["-q"], ["-v"], ["-c", "7"]],
                         ids=["plain", "link-header", "quiet", "verbose", "count-limit"])
def test_printing_is_the_same_whichever_engine(generated: Path, flags: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The native walk hands its matches to the same printer: the same lines, in the same
    order, as the numpy path and the stream path print."""
    if not native.available():
        pytest.skip("machine code does not run here (Linux x86-64 only)")
    for expr in ("udp", "ip6 and icmp6", "tcp[tcpflags] & tcp-syn != 0"):
        seen = []
        for engine in ("native", "vector", "jit"):
            assert bpfc("-r", str(generated), "--engine", engine, *flags, *expr.split()) == 0
            out = capsys.readouterr()
            seen.append((out.out, out.err))
        assert seen[0] == seen[1] == seen[2], (expr, flags)
        assert seen[0][0].count("\n") > 5


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_and_clears() -> None:
    stream = _FakeTerminal()
    bar = offline.Progress.maybe(1 << 30, None, stream)
    assert bar is not None
    bar.shown -= 1.0
    bar.update(1 << 29)
    bar.done()
    text = stream.getvalue()
    assert "50%" in text and text.endswith("\r\033[K")
    assert offline.Progress.maybe(1 << 30, None, io.StringIO()) is None  # not a terminal
    assert offline.Progress.maybe(1 << 20, None, _FakeTerminal()) is None  # small file
