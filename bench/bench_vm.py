"""Filter throughput: bpfc's VM and JIT next to libpcap's C ``bpf_filter``, in one run.

For a handful of expressions, libpcap compiles the program (``pcapy.compile``, EN10MB,
optimized); the same instructions then run over every Ethernet packet of the corpus in
``vm.run``, in the JIT-compiled function, and in pcapy's ``BPFProgram.filter`` (libpcap's C
interpreter, called once per packet from Python, like ours). Each engine runs ``--repeat``
times over all packets and the best time is reported, in packets per second, with the
JIT/VM and C/JIT ratios. All three must agree on every packet, or the benchmark stops.
Usage: ``python bench/bench_vm.py [--repeat R] [--expr EXPR ...]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pcapy

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bpfc import jit, vm  # noqa: E402 - after the sys.path line, to run from a checkout
from bpfc.isa import Insn  # noqa: E402

SHARED = Path(os.environ.get("BPFC_SHARED", REPO.parent / "shared"))
PCAPS = SHARED / "corpus" / "pcaps"
DLT_EN10MB = 1
EXPRESSIONS = [
    "ip",
    "tcp port 80",
    "host 10.0.0.1 or host 10.0.0.2",
    "udp and (port 53 or port 123)",
    "vlan and tcp[tcpflags] & tcp-syn != 0",
    "ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) != 0",
]


def ethernet_packets() -> list[bytes]:
    """Captured bytes of every EN10MB corpus packet, read by libpcap itself."""
    packets: list[bytes] = []
    for path in sorted(PCAPS.glob("*.pcap*")):
        try:
            reader = pcapy.open_offline(str(path))
        except pcapy.PcapError:
            continue
        if reader.datalink() != DLT_EN10MB:
            continue
        while True:
            try:
                header, data = reader.next()
            except pcapy.PcapError:
                break
            if header is None:
                break
            packets.append(bytes(data))
    return packets


def best_time(run: Callable[[], list[int]], repeat: int) -> tuple[float, list[int]]:
    best, results = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        results = run()
        best = min(best, time.perf_counter() - start)
    return best, results


def bench(expr: str, packets: Sequence[bytes], repeat: int) -> tuple[float, float, float, int]:
    compiled = pcapy.compile(DLT_EN10MB, 262144, expr, 1, 0)
    program = [Insn(*i) for i in compiled.get_bpf()]
    func = jit.compile_filter(program)
    t_vm, r_vm = best_time(lambda: [vm.run(program, p) for p in packets], repeat)
    t_jit, r_jit = best_time(lambda: [func(p, len(p)) for p in packets], repeat)
    t_c, r_c = best_time(lambda: [compiled.filter(p) for p in packets], repeat)
    if not r_vm == r_jit == r_c:
        raise SystemExit(f"engines disagree on {expr!r}")
    n = len(packets)
    return n / t_vm, n / t_jit, n / t_c, len(program)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--expr", action="append", help="expression (repeatable)")
    args = parser.parse_args(argv)
    packets = ethernet_packets()
    print(f"{len(packets)} EN10MB corpus packets, best of {args.repeat}; packets/s")
    header = f"{'expression':<44} {'insns':>5} {'VM':>11} {'JIT':>11} {'libpcap C':>11}"
    print(header + f" {'JIT/VM':>7} {'C/JIT':>6}")
    print("-" * (len(header) + 15))
    totals = [0.0, 0.0, 0.0]
    exprs = args.expr or EXPRESSIONS
    for expr in exprs:
        r_vm, r_jit, r_c, insns = bench(expr, packets, args.repeat)
        for i, rate in enumerate((r_vm, r_jit, r_c)):
            totals[i] += 1 / rate
        name = expr if len(expr) <= 44 else expr[:41] + "..."
        print(f"{name:<44} {insns:>5} {r_vm:>11,.0f} {r_jit:>11,.0f} {r_c:>11,.0f}"
              f" {r_jit / r_vm:>6.1f}x {r_c / r_jit:>5.2f}x")
    mean = [len(exprs) / t for t in totals]
    print(f"{'(harmonic mean)':<44} {'':>5} {mean[0]:>11,.0f} {mean[1]:>11,.0f} {mean[2]:>11,.0f}"
          f" {mean[1] / mean[0]:>6.1f}x {mean[2] / mean[1]:>5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
