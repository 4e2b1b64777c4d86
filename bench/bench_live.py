"""Live capture under a flood: tcpdump and ``bpfc -i`` on the same veth, same filter, same run.

A namespace of our own gets a veth pair; a sender process inside it floods one end with a
fixed mix of frames (a third of them match the filter) at a paced rate for a fixed time,
while ``tcpdump -w`` and ``bpfc -w`` capture on the other end with the same filter, snapshot
length and ring size (``-B``). After the flood both get SIGINT, and their own summaries give
"received by filter" and "dropped by kernel"; the files they wrote are counted with our reader.
Every rate runs both tools at once, so they see the same packets on the same loaded machine.

The target: at the highest rate tcpdump sustains without drops, bpfc drops no more than it.
Usage: ``python bench/bench_live.py [--rates 50000,100000,0] [--seconds S] [--buffers 2048,256]``
(rate 0 means as fast as the sender can go). Needs root, ``ip netns`` and tcpdump; without
them it says why and exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bpfc import pcapfile  # noqa: E402 - after the sys.path line, to run from a checkout
from tests import netns  # noqa: E402

FILTER = "udp port 53"

SENDER = r"""
import math, mmap, socket, struct, sys, time
import numpy as np
from bpfc import pcapfile
# A TPACKET_V2 transmit ring holding whole cycles of the frame mix, written once: sending a
# batch is marking its slots TP_STATUS_SEND_REQUEST (one numpy store) and one send(), so the
# sender costs no Python work per frame and is limited by the kernel, not the interpreter.
SOL_PACKET, PACKET_VERSION, PACKET_TX_RING, TPACKET_V2 = 263, 10, 13, 1
TP_STATUS_SEND_REQUEST, DATA_OFFSET, FRAME = 1, 32, 2048
device, rate, seconds, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
with pcapfile.open_capture(path) as reader:
    frames = [p.data for p in reader]
n = len(frames)
per_block = (1 << 16) // FRAME
slots = math.lcm(n, per_block)  # whole blocks of whole cycles: slot i always holds frame i % n
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
sock.setsockopt(SOL_PACKET, PACKET_TX_RING,
                struct.pack("IIII", 1 << 16, slots // per_block, FRAME, slots))
ring = mmap.mmap(sock.fileno(), slots * FRAME)
sock.bind((device, 0))
for i in range(slots):
    data = frames[i % n]
    ring[i * FRAME + DATA_OFFSET:i * FRAME + DATA_OFFSET + len(data)] = data
    struct.pack_into("II", ring, i * FRAME, 0, len(data))
status = np.frombuffer(ring, dtype=np.uint32)[::FRAME // 4]
sent = 0


def batch(count):
    global sent
    first = sent % slots
    count = min(count, slots - first)
    status[first:first + count] = TP_STATUS_SEND_REQUEST
    sock.send(b"")  # blocks until the kernel has sent the batch: the slots are free again
    sent += count


start = time.perf_counter()
end = start + seconds
per_tick = rate // 1000
while time.perf_counter() < end:
    if not per_tick:
        batch(slots)
        continue
    batch(per_tick)
    pause = start + sent / rate - time.perf_counter()
    if pause > 0:
        time.sleep(pause)
print(sent, time.perf_counter() - start)
"""


def make_frames(path: Path, mac_a: bytes, mac_b: bytes) -> list[bool]:
    """Writes a 300-frame mix, a third matching FILTER; returns which frames match."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Dot1Q, Ether

    import bpfc

    eth = Ether(src=":".join(f"{b:02x}" for b in mac_a), dst=":".join(f"{b:02x}" for b in mac_b))
    frames = []
    for i in range(100):
        ip = IP(src=f"10.0.{i // 250}.{i % 250 + 1}", dst="10.9.9.9")
        frames.append(bytes(eth / ip / UDP(sport=1024 + i, dport=53) / (b"q" * (i % 40))))
        frames.append(bytes(eth / ip / TCP(sport=2048 + i, dport=80, flags="A") / (b"d" * 64)))
        frames.append(bytes(eth / Dot1Q(vlan=7) / ip / UDP(sport=4000 + i, dport=123)))
    live = bpfc.compile(FILTER, live=True)
    with pcapfile.PcapWriter(path) as writer:
        for frame in frames:
            writer.write(pcapfile.Packet.of(frame))
    return [live.match(f) != 0 for f in frames]


@dataclass(frozen=True, slots=True)
class Result:
    received: int
    dropped: int
    written: int


def _summary(stderr: str, written: int) -> Result:
    def number(what: str) -> int:
        found = re.search(rf"(\d+) packets? {what}", stderr)
        return int(found.group(1)) if found else -1

    return Result(number("received by filter"), number("dropped by kernel"), written)


def _count(path: Path) -> int:
    try:
        with pcapfile.open_capture(path) as reader:
            return sum(1 for _ in reader)
    except (OSError, pcapfile.CaptureFileError):
        return -1


def _settle(*paths: Path, quiet: float = 1.5, limit: float = 20.0) -> None:
    """Wait until the capture files stop growing: the tools have caught up with their rings
    (tcpdump hands a ring block over after its 1 s timeout at the latest)."""
    sizes: tuple[int, ...] = ()
    end = time.monotonic() + limit
    while time.monotonic() < end:
        now = tuple(p.stat().st_size if p.exists() else 0 for p in paths)
        if now == sizes:
            return
        sizes = now
        time.sleep(quiet)


def run_rate(ns: netns.Netns, veth: netns.Veth, frames: Path, rate: int, seconds: float,
             buffer_kib: int, workdir: Path) -> tuple[int, int, float, Result, Result]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out_t, out_b = workdir / f"tcpdump-{rate}.pcap", workdir / f"bpfc-{rate}.pcap"
    tools = {
        "tcpdump": ns.exec_argv("tcpdump", "-i", veth.b, "-B", str(buffer_kib), "-w",
                                str(out_t), FILTER),
        "bpfc": ns.exec_argv(sys.executable, "-m", "bpfc", "-i", veth.b, "-B", str(buffer_kib),
                             "-w", str(out_b), FILTER),
    }
    procs = {name: subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    env=env, cwd=REPO, text=True)
             for name, argv in tools.items()}
    for proc in procs.values():
        assert proc.stderr is not None
        line = proc.stderr.readline()
        if "listening on" not in line:
            raise SystemExit(f"capture did not start: {line}{proc.stderr.read()}")
    sender = subprocess.run(ns.exec_argv(sys.executable, "-c", SENDER, veth.a, str(rate),
                                         str(seconds), str(frames)),
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
                            check=True)
    sent_text, took = sender.stdout.split()
    _settle(out_t, out_b)
    results = {}
    for name, proc in procs.items():
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        results[name] = _summary(err, _count(out_t if name == "tcpdump" else out_b))
    return int(sent_text), rate, float(took), results["tcpdump"], results["bpfc"]


def table(ns: netns.Netns, veth: netns.Veth, frames: Path, matches: list[bool],
          rates: list[int], seconds: float, buffer_kib: int, workdir: Path) -> None:
    count, matching = len(matches), sum(matches)
    print(f"\n-B {buffer_kib} KiB for both tools, filter '{FILTER}' ({matching} of every "
          f"{count} frames match), {seconds:g} s per rate")
    head = (f"{'rate/s':>9} {'sent':>9} {'match':>8} | {'tcpdump recv':>12} {'drop':>7} "
            f"{'written':>8} | {'bpfc recv':>9} {'drop':>7} {'written':>8}")
    print(head)
    print("-" * len(head))
    rows = []
    for rate in rates:
        sent, _, took, tcpdump, ours = run_rate(ns, veth, frames, rate, seconds, buffer_kib,
                                                workdir)
        wanted = sent // count * matching + sum(matches[:sent % count])
        shown = f"{sent / took:,.0f}*" if rate == 0 else f"{rate:,}"
        print(f"{shown:>9} {sent:>9,} {wanted:>8,} | {tcpdump.received:>12,} "
              f"{tcpdump.dropped:>7,} {tcpdump.written:>8,} | {ours.received:>9,} "
              f"{ours.dropped:>7,} {ours.written:>8,}", flush=True)
        rows.append((sent / took, wanted, tcpdump, ours))
    clean = [row for row in rows if row[2].dropped == 0 and row[2].written == row[1]]
    if not clean:
        print("target: tcpdump dropped at every rate, so there is no rate it sustains")
        return
    achieved, wanted, tcpdump, ours = max(clean, key=lambda row: row[0])
    verdict = "met" if ours.dropped <= tcpdump.dropped and ours.written == wanted else "MISSED"
    print(f"target {verdict}: at {achieved:,.0f} frames/s, the highest rate tcpdump kept up "
          f"with, bpfc dropped {ours.dropped} and wrote {ours.written:,} of {wanted:,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="50000,100000,200000,0",
                        help="comma-separated frames per second (0: as fast as possible)")
    parser.add_argument("--seconds", type=float, default=2.0, help="flood length per rate")
    parser.add_argument("--buffers", default="2048,256",
                        help="comma-separated -B values in KiB, one table each (2048 is "
                             "tcpdump's default; bpfc's ring is at least two 128 KiB blocks)")
    args = parser.parse_args()
    reason = netns.unavailable() or (None if shutil.which("tcpdump") else "tcpdump is missing")
    if reason is not None:
        print(f"bench_live: skipped: {reason}")
        return 0
    rates = [int(r) for r in args.rates.split(",")]
    with netns.namespace() as ns, tempfile.TemporaryDirectory() as tmp:
        veth = ns.add_veth()
        workdir = Path(tmp)
        frames_path = workdir / "frames.pcap"
        matches = make_frames(frames_path, veth.mac_a, veth.mac_b)
        print(f"a veth pair in a namespace of our own; a TPACKET_V2 sender, tcpdump and bpfc "
              f"share {os.cpu_count()} CPUs (* = as fast as the sender went)")
        for buffer_kib in (int(b) for b in args.buffers.split(",")):
            table(ns, veth, frames_path, matches, rates, args.seconds, buffer_kib, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
