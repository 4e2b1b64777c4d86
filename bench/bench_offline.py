"""Offline filtering, side by side in one run: ``tcpdump -r F -w O EXPR`` against
``bpfc -r F -w O EXPR`` on a generated 1,000,000-packet Ethernet capture (about 465 MB, built once
by ``make_big_pcap.py`` and cached under bench/data/).

For every benchmark expression, each tool runs ``--repeat`` times as a fresh process, the
tools taking turns, each run preceded (outside the timing) by removing the output and reading
the input once so that it starts in the page cache; the best wall time is reported as
packets/s with the bpfc/tcpdump throughput ratio (bpfc reading the filter's program from its
program cache, as every run after the first does; the "1st" column compiles it), both peak
resident sizes
(``wait4``'s ru_maxrss, which covers bpfc's second process too), and bpfc's stage times from
its ``BPFC_STAGES`` report (startup is everything before the driver runs: interpreter, site,
imports; the native engine's stages are compile, emit (the machine code) and walk (walking,
filtering and writing at once); the numpy path's index, filter, write and its second
process's). Both outputs must hold the same bytes, or the run fails. ``--engine vector`` times
the numpy path instead, which machines without the native engine (not x86-64 Linux) take.

Then the same job on the capture converted to pcapng (one interface, EPBs; made once by bpfc
and cached beside it): tcpdump (which writes classic pcap) against ``bpfc --pcap`` (whose output
must be byte-identical to tcpdump's) and against bpfc's default pcapng output (``--no-pcapng``
skips it). Then, on a 100,000-packet slice: the same work through pcapy-ng (libpcap's filter,
its dumper) and through scapy (``sniff(offline=..., filter=...)`` and ``wrpcap``), both timed in
a fresh process. ``--big`` (or ``BPFC_BENCH_10M=1``) adds the ratio on a 10,000,000-packet capture
(about 4.7 GB under bench/data/; generating it takes about a minute, once; the 8 expressions
then take about 1.5 minutes, one run per tool each; the whole run with --big about 6 minutes,
most of it scapy). The machine's page cache must hold the capture, or both tools read disk.
``--printing`` adds the same expressions printed (``tcpdump -n -r F EXPR`` against ``bpfc -r F
EXPR``, standard output to /dev/null; five of the eight: the others print too many lines).
Usage: ``python bench/bench_offline.py [--repeat R] [--expr EXPR ...] [--big] [--engine E]
[--printing]``.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

EXPRESSIONS = [
    "",
    "tcp port 80",
    "ip and tcp port 8080",
    "host 10.0.0.1 or host 10.0.0.2",
    "tcp[tcpflags] & tcp-syn != 0",
    "vlan and udp",
    "ip6 and icmp6",
    "net 10.0.0.0/16 and not port 22",
]
SLICE = 100_000


def cached(packets: int) -> Path:
    """The generated capture (built once, in its own process so that this one stays small)."""
    done = subprocess.run([sys.executable, str(HERE / "make_big_pcap.py"), "--packets",
                           str(packets)], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def _bpfc_env(**extra: str) -> dict[str, str]:
    """The environment bpfc runs in: this one, except that Python may keep its bytecode
    caches (a sandbox that sets PYTHONDONTWRITEBYTECODE would otherwise make every run compile
    every module from source, which no installed bpfc does) and stdout is buffered."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class Timing:
    seconds: float
    max_rss_kib: int
    stderr: str


TIME = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)


def timed(argv: list[str], env: dict[str, str] | None = None) -> Timing:
    """Wall time and peak RSS of one fresh process (and the children it waited for).

    The peak comes from GNU time when it is there: a process started straight from this one
    would inherit this process's high-water mark (Linux carries it across exec)."""
    rss_file = Path(tempfile.gettempdir()) / f"bench-rss-{os.getpid()}"
    if TIME is not None:
        argv = [TIME, "-q", "-f", "%M", "-o", str(rss_file), *argv]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {err.decode(errors='replace')}")
    rss = usage.ru_maxrss
    if TIME is not None:
        rss = int(rss_file.read_text().split()[-1])
        rss_file.unlink()
    return Timing(seconds, rss, err.decode(errors="replace"))


def warm(path: Path) -> None:
    """Reads the input once, so that each timed run starts with it in the page cache (this
    machine's kernel reclaims cold pages proactively, so a file read minutes ago may be gone)."""
    with path.open("rb", buffering=0) as f:
        chunk = bytearray(8 << 20)
        while f.readinto(chunk):
            pass


def best(argv: list[str], out: Path, repeat: int, env: dict[str, str] | None = None) -> Timing:
    runs = []
    for _ in range(repeat):
        out.unlink(missing_ok=True)
        runs.append(timed(argv, env))
    return min(runs, key=lambda t: t.seconds)


def interleaved(path: Path, runs: list[tuple[list[str], Path, dict[str, str] | None]],
                repeat: int) -> list[Timing]:
    """The best of ``repeat`` runs of each command, taken in turns (a, b, a, b, ...) with the
    input warmed before each, so that a passing load on the machine hits every tool alike."""
    times: list[list[Timing]] = [[] for _ in runs]
    for _ in range(repeat):
        for (argv, out, env), mine in zip(runs, times, strict=True):
            out.unlink(missing_ok=True)
            warm(path)
            mine.append(timed(argv, env))
    return [min(t, key=lambda x: x.seconds) for t in times]


def stage_times(stderr: str) -> dict[str, float]:
    match = re.search(r"bpfc: stages: (.*)", stderr)
    if match is None:
        return {}
    found = {}
    for part in match.group(1).split(", "):
        name, value, _ = part.rsplit(" ", 2)
        found[name] = float(value)
    return found


def compare_tools(path: Path, expressions: list[str], repeat: int, work: Path,
                  packets: int, engine: str = "auto") -> None:
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise SystemExit("tcpdump is not installed")
    bpfc = [sys.executable, "-m", "bpfc"]
    env = _bpfc_env(BPFC_STAGES="1")
    size = path.stat().st_size
    print(f"{path.name}: {packets:,} packets, {size / 1e6:.0f} MB; best of {repeat} fresh "
          f"processes each; bpfc --engine {engine}")
    print("ratio: bpfc's throughput / tcpdump's, the filter's program read from bpfc's program "
          "cache (as on every run after the first); 1st: the same, the program compiled")
    print(f"{'expression':34} {'matched':>9} {'tcpdump pkt/s':>14} {'bpfc pkt/s':>12} "
          f"{'ratio':>6} {'1st':>5} {'tcpd RSS':>9} {'bpfc RSS':>9}  bpfc stages (ms)")
    uncached = {**env, "BPFC_NO_CACHE": "1"}
    for expr in expressions:
        words = expr.split()
        t_out, b_out = work / "tcpdump.pcap", work / "bpfc.pcap"
        b_argv = [*bpfc, "-r", str(path), "-w", str(b_out), "--engine", engine, *words]
        timed(b_argv, env)  # fills the program cache
        t, b, first = interleaved(path, [([tcpdump, "-r", str(path), "-w", str(t_out), *words],
                                           t_out, None),
                                          (b_argv, b_out, env), (b_argv, b_out, uncached)],
                                  repeat)
        if not filecmp.cmp(t_out, b_out, shallow=False):
            raise SystemExit(f"outputs differ for {expr!r}")
        matched = re.search(r"(\d+) packets? matched", b.stderr)
        stages = stage_times(b.stderr)
        run = stages.pop("run", 0.0)
        shown = {"startup": b.seconds * 1000 - run, **stages}
        text = " ".join(f"{k} {v:.0f}" for k, v in shown.items())
        print(f"{expr or '(empty)':34} {matched.group(1) if matched else '?':>9} "
              f"{packets / t.seconds:14,.0f} {packets / b.seconds:12,.0f} "
              f"{t.seconds / b.seconds:6.2f} {t.seconds / first.seconds:5.2f} "
              f"{t.max_rss_kib / 1024:7.0f}MB "
              f"{b.max_rss_kib / 1024:7.0f}MB  {text}", flush=True)
        b_out.unlink(missing_ok=True)
        t_out.unlink(missing_ok=True)


#: The expressions whose matches ``--printing`` prints (the other three print 120k-1M lines,
#: which takes tcpdump 6-20 s each).
PRINTED = ["tcp port 80", "ip and tcp port 8080", "tcp[tcpflags] & tcp-syn != 0",
           "vlan and udp", "ip6 and icmp6"]


def compare_printing(path: Path, expressions: list[str], repeat: int, work: Path,
                     packets: int) -> None:
    """``tcpdump -n -r F EXPR`` against ``bpfc -r F EXPR``, one line per match to /dev/null
    (bpfc's lines are tcpdump's in form, not byte for byte: see the README)."""
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise SystemExit("tcpdump is not installed")
    env = _bpfc_env()
    print(f"\n{path.name}: printing the matches (stdout to /dev/null), best of {repeat}")
    print(f"{'expression':34} {'lines':>9} {'tcpdump s':>10} {'bpfc s':>8} {'ratio':>6}")
    for expr in [e for e in expressions if e in PRINTED]:
        words = expr.split()
        b_argv = [sys.executable, "-m", "bpfc", "-r", str(path), *words]
        timed(b_argv, env)  # fills the program cache
        t, b = interleaved(path, [([tcpdump, "-n", "-r", str(path), *words], work / "t", None),
                                  (b_argv, work / "b", env)], repeat)
        lines = re.search(r"(\d+) packets? matched", b.stderr)
        print(f"{expr:34} {lines.group(1) if lines else '?':>9} {t.seconds:10.2f} "
              f"{b.seconds:8.2f} {t.seconds / b.seconds:6.2f}", flush=True)


def pcapng_of(path: Path) -> Path:
    """The capture as pcapng (one interface, EPBs, what dumpcap writes), made once by bpfc's
    own writer and kept beside it."""
    ng = path.with_suffix(".pcapng")
    if not ng.exists():
        part = ng.with_suffix(".part")
        subprocess.run([sys.executable, "-m", "bpfc", "-r", str(path), "-w", str(part),
                        "--pcapng"], env=_bpfc_env(), check=True, capture_output=True)
        part.rename(ng)
    return ng


def compare_pcapng(path: Path, expressions: list[str], repeat: int, work: Path,
                   packets: int) -> None:
    """The same job on the capture as pcapng. tcpdump writes classic pcap whatever it reads;
    bpfc keeps the input's format unless told: ``--pcap`` (byte-identical to tcpdump's output,
    checked) and pcapng out (as the stream path writes it) are both timed."""
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise SystemExit("tcpdump is not installed")
    ng = pcapng_of(path)
    env = _bpfc_env(BPFC_STAGES="1")
    print(f"\n{ng.name}: the same {packets:,} packets as pcapng, {ng.stat().st_size / 1e6:.0f} MB; "
          f"best of {repeat}")
    print(f"{'expression':34} {'tcpdump pkt/s':>14} {'--pcap pkt/s':>13} {'ratio':>6} "
          f"{'pcapng pkt/s':>13} {'ratio':>6}")
    subprocess.run(["cat", str(ng)], stdout=subprocess.DEVNULL, check=True)
    for expr in expressions:
        words = expr.split()
        t_out, p_out, n_out = work / "tcpdump.pcap", work / "bpfc.pcap", work / "bpfc.pcapng"
        bpfc = [sys.executable, "-m", "bpfc", "-r", str(ng)]
        timed([*bpfc, "-w", str(p_out), "--pcap", *words], env)  # fills the program cache
        t, p, n = interleaved(ng, [([tcpdump, "-r", str(ng), "-w", str(t_out), *words], t_out,
                                    None),
                                   ([*bpfc, "-w", str(p_out), "--pcap", *words], p_out, env),
                                   ([*bpfc, "-w", str(n_out), *words], n_out, env)], repeat)
        if not filecmp.cmp(t_out, p_out, shallow=False):
            raise SystemExit(f"pcapng input: outputs differ for {expr!r}")
        print(f"{expr or '(empty)':34} {packets / t.seconds:14,.0f} {packets / p.seconds:13,.0f} "
              f"{t.seconds / p.seconds:6.2f} {packets / n.seconds:13,.0f} "
              f"{t.seconds / n.seconds:6.2f}", flush=True)
        for out in (t_out, p_out, n_out):
            out.unlink(missing_ok=True)


PCAPY_SCRIPT = """
import sys, pcapy
src, dst, expr = sys.argv[1:4]
reader = pcapy.open_offline(src)
reader.setfilter(expr)
dumper = reader.dump_open(dst)
while True:
    header, data = reader.next()
    if header is None:
        break
    dumper.dump(header, data)
dumper.close()
"""

SCAPY_SCRIPT = """
import sys
from scapy.all import sniff, wrpcap
src, dst, expr = sys.argv[1:4]
packets = sniff(offline=src, filter=expr or None, store=True)
wrpcap(dst, packets)
"""


def slice_capture(path: Path, out: Path, count: int) -> None:
    """The first ``count`` records of ``path``, header included."""
    import struct

    with path.open("rb") as src, out.open("wb") as dst:
        dst.write(src.read(24))
        for _ in range(count):
            head = src.read(16)
            if len(head) < 16:
                break
            caplen = struct.unpack("<I", head[8:12])[0]
            dst.write(head + src.read(caplen))


def compare_libraries(path: Path, expressions: list[str], repeat: int, work: Path) -> None:
    part = work / "slice.pcap"
    slice_capture(path, part, SLICE)
    tools: dict[str, list[str]] = {
        "tcpdump": [shutil.which("tcpdump") or "tcpdump", "-r", str(part), "-w"],
        "bpfc": [sys.executable, "-m", "bpfc", "-r", str(part), "-w"],
        "pcapy-ng": [sys.executable, "-c", PCAPY_SCRIPT, str(part)],
        "scapy": [sys.executable, "-c", SCAPY_SCRIPT, str(part)],
    }
    print(f"\n{SLICE:,}-packet slice, packets/s (fresh process each, best of {repeat}; scapy "
          "once)")
    print(f"{'expression':34} " + " ".join(f"{name:>12}" for name in tools))
    for expr in expressions:
        cells = []
        for name, argv in tools.items():
            out = work / f"{name}.pcap"
            if name in ("pcapy-ng", "scapy"):
                cmd = [*argv, str(out), expr]
            else:
                cmd = [*argv, str(out), *expr.split()]
            try:
                t = best(cmd, out, 1 if name == "scapy" else repeat, _bpfc_env())
                cells.append(f"{SLICE / t.seconds:12,.0f}")
            except SystemExit:
                cells.append(f"{'failed':>12}")
        print(f"{expr or '(empty)':34} " + " ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--expr", action="append", help="benchmark only these expressions")
    parser.add_argument("--big", action="store_true",
                        default=bool(os.environ.get("BPFC_BENCH_10M")),
                        help="also run the 10,000,000-packet capture")
    parser.add_argument("--no-libraries", action="store_true",
                        help="skip the pcapy-ng and scapy comparison")
    parser.add_argument("--no-pcapng", action="store_true",
                        help="skip the same job on the capture as pcapng")
    parser.add_argument("--printing", action="store_true",
                        help="also time printing the matches (tcpdump -n -r F EXPR)")
    parser.add_argument("--engine", default="auto", choices=("auto", "native", "vector"),
                        help="bpfc's --engine on the classic captures (vector: the numpy "
                             "path, which machines without the native engine take)")
    args = parser.parse_args()
    expressions = args.expr if args.expr is not None else EXPRESSIONS
    with tempfile.TemporaryDirectory(dir=HERE / "data" if (HERE / "data").exists() else None
                                     ) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o777)  # tcpdump drops to its own user before opening -w files
        path = cached(1_000_000)
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
        compare_tools(path, expressions, args.repeat, work, 1_000_000, args.engine)
        if args.printing:
            compare_printing(path, expressions, args.repeat, work, 1_000_000)
        if not args.no_pcapng:
            compare_pcapng(path, expressions, args.repeat, work, 1_000_000)
        if not args.no_libraries:
            compare_libraries(path, expressions, args.repeat, work)
        if args.big:
            started = time.perf_counter()
            big = cached(10_000_000)
            print(f"\n(10M capture ready after {time.perf_counter() - started:.0f} s)")
            subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)
            compare_tools(big, expressions, 1, work, 10_000_000, args.engine)


if __name__ == "__main__":
    main()
