"""Compile-time and program-size benchmark: bpfc next to libpcap, in one run.

Prints, for the corpus's 68 expressions (EN10MB) and more:
  * median in-process compile time, bpfc vs libpcap (``pcapy.compile``), and the ratio;
  * cold process time of ``bpfc -d 'tcp port 80'`` vs ``tcpdump -d`` vs ``python3 -c pass``;
  * instruction counts, bpfc vs libpcap's optimized program, per expression and in total.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pcapy

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import bpfc  # noqa: E402
from bpfc.errors import BpfcError  # noqa: E402

SHARED = Path(os.environ.get("BPFC_SHARED", REPO.parent / "shared"))
EXPRESSIONS = SHARED / "corpus" / "expressions.txt"
EXTRA = [
    "tcp port 80", "host 10.0.0.1 or host 10.0.0.2", "net 10.0.0.0/16 and not port 22",
    "tcp[tcpflags] & tcp-syn != 0", "vlan and udp", "ip6 and icmp6", "ip and tcp port 8080",
    "tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
    "udp portrange 1000-2000 or icmp", "ether broadcast or ether multicast",
]


def expressions() -> list[str]:
    listed = [line.strip() for line in EXPRESSIONS.read_text().splitlines() if line.strip()]
    return listed + [e for e in EXTRA if e not in listed]


def time_per_call(fn, repeat: int = 5, number: int = 20) -> float:  # type: ignore[no-untyped-def]
    best = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best.append((time.perf_counter() - start) / number)
    return min(best)


def cold(cmd: list[str], runs: int = 9) -> float:
    """Median wall time of a fresh process, as an installed user runs it: bytecode caching on
    (this sandbox sets PYTHONDONTWRITEBYTECODE), after one warm-up run that writes the caches."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                       env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rows = []
    for expr in expressions():
        try:
            ours = bpfc.compile(expr, "EN10MB")
        except BpfcError as e:
            rows.append((expr, None, None, None, None, str(e).splitlines()[0]))
            continue
        try:
            theirs = pcapy.compile(1, 262144, expr, 1, 0)
        except Exception as e:  # noqa: BLE001 - libpcap refuses: report, no timing
            rows.append((expr, None, None, len(ours), None, f"libpcap: {e}"))
            continue
        t_ours = time_per_call(lambda e=expr: bpfc.compile(e, "EN10MB"))
        t_theirs = time_per_call(lambda e=expr: pcapy.compile(1, 262144, e, 1, 0), number=200)
        rows.append((expr, t_ours, t_theirs, len(ours), len(theirs.get_bpf()), ""))

    print(f"{'expression':<58} {'bpfc µs':>9} {'libpcap µs':>10} {'ratio':>6} "
          f"{'bpfc n':>6} {'libpcap n':>9} {'n ratio':>7}")
    timed = []
    sizes = []
    for expr, t_o, t_t, n_o, n_t, note in rows:
        short = expr if len(expr) <= 57 else expr[:54] + "..."
        if t_o is None or t_t is None:
            print(f"{short:<58} {'':>9} {'':>10} {'':>6} {n_o or '':>6} {n_t or '':>9}   {note}")
            continue
        timed.append((t_o, t_t))
        sizes.append((n_o, n_t))
        print(f"{short:<58} {t_o * 1e6:9.0f} {t_t * 1e6:10.1f} {t_o / t_t:6.0f} "
              f"{n_o:6d} {n_t:9d} {n_o / n_t:7.2f}")
    if timed:
        med_o = statistics.median(t for t, _ in timed)
        med_t = statistics.median(t for _, t in timed)
        print(f"\nmedian compile time: bpfc {med_o * 1e6:.0f} µs, libpcap {med_t * 1e6:.1f} µs "
              f"(ratio {med_o / med_t:.0f}x; target: bpfc under 1000 µs)")
        total_o = sum(o for o, _ in sizes)
        total_t = sum(t for _, t in sizes)
        smaller = sum(1 for o, t in sizes if o < t)
        larger = sum(1 for o, t in sizes if o > t)
        print(f"instructions: bpfc {total_o}, libpcap {total_t} ({total_o / total_t:.1%} of "
              f"libpcap); smaller on {smaller}, equal on {len(sizes) - smaller - larger}, "
              f"larger on {larger} of {len(sizes)} expressions")

    python = cold([sys.executable, "-c", "pass"])
    ours_cold = cold([sys.executable, "-m", "bpfc", "-d", "tcp port 80"])
    line = (f"\ncold process: python3 -c pass {python * 1e3:.0f} ms, "
            f"bpfc -d 'tcp port 80' {ours_cold * 1e3:.0f} ms ({ours_cold / python:.1f}x python)")
    tcpdump = shutil.which("tcpdump")
    if tcpdump:
        sample = next((SHARED / "corpus" / "pcaps").glob("ssh.pcap"), None)
        if sample is not None:
            td = cold([tcpdump, "-r", str(sample), "-d", "tcp port 80"])
            line += f", tcpdump -d {td * 1e3:.0f} ms"
    print(line)


if __name__ == "__main__":
    main()
