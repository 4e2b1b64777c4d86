"""Read throughput of bpfc.pcapfile against libpcap (pcapy-ng), in one run, on one file.

Builds deterministic classic pcaps (default 200,000 records each, Ethernet) in a temporary
directory, one of mixed frame sizes and one of short header-only records, then times:

- ``stream``: open_capture(path, use_mmap=False), one Packet per record;
- ``mmap``:   open_capture(path), one Packet per record from the memory map;
- ``index``:  build_index(path), numpy arrays of offsets, lengths and timestamps;
- ``pcapy``:  pcapy.open_offline(path) and a ``next()`` loop (libpcap's pcap_next_ex).

Each reader runs ``--repeat`` times and the best time is reported (the file is in the page cache
after the first run, so every reader sees the same warm file). Usage:
``python bench/bench_pcapfile.py [--records N] [--repeat R] [--profile mixed|small|both]``.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bpfc.pcapfile import build_index, open_capture


def make_capture(path: Path, records: int, profile: str) -> int:
    """Writes the benchmark file; returns its size. ``mixed`` sizes follow a bimodal mix (ACK-
    and MTU-sized frames, some in between); ``small`` is a ``-s 96`` style capture of headers
    (54 to 96 bytes), where per-record cost rather than memory bandwidth decides. A fixed seed
    makes every run read the same bytes."""
    rng = random.Random(20240229)
    payload = bytes(rng.getrandbits(8) for _ in range(1514))
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        sec, usec = 1_700_000_000, 0
        for _ in range(records):
            pick = rng.random()
            if profile == "small":
                size = 54 if pick < 0.4 else 66 if pick < 0.7 else 96
            else:
                size = 60 if pick < 0.45 else 1514 if pick < 0.8 else rng.randint(61, 1513)
            usec += rng.randint(1, 2000)
            sec, usec = sec + usec // 1_000_000, usec % 1_000_000
            out.write(struct.pack("<IIII", sec, usec, size, size))
            out.write(payload[:size])
    return path.stat().st_size


def read_stream(path: Path) -> int:
    with open_capture(path, use_mmap=False) as reader:
        return sum(1 for _ in reader)


def read_mmap(path: Path) -> int:
    with open_capture(path) as reader:
        return sum(1 for _ in reader)


def read_index(path: Path) -> int:
    return len(build_index(path))


def read_pcapy(path: Path) -> int:
    import pcapy  # type: ignore[import-not-found]

    handle = pcapy.open_offline(str(path))
    count = 0
    while True:
        header, _ = handle.next()
        if header is None:
            return count
        count += 1


def best_time(fn: Callable[[Path], int], path: Path, repeat: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn(path)
        best = min(best, time.perf_counter() - start)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=["mixed", "small", "both"], default="both")
    args = parser.parse_args()
    readers: list[tuple[str, Callable[[Path], int]]] = [
        ("stream", read_stream), ("mmap", read_mmap), ("index", read_index)]
    try:
        import pcapy  # noqa: F401

        readers.append(("pcapy", read_pcapy))
    except ImportError:
        print("pcapy not installed: libpcap column skipped")
    profiles = ["mixed", "small"] if args.profile == "both" else [args.profile]
    for profile in profiles:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.pcap"
            size = make_capture(path, args.records, profile)
            print(f"\n{profile}: {args.records} records, {size / 1e6:.1f} MB "
                  f"(best of {args.repeat})")
            results = {name: best_time(fn, path, args.repeat) for name, fn in readers}
        base = results.get("pcapy", results["stream"])[0]
        print(f"{'reader':8} {'seconds':>9} {'records/s':>12} {'MB/s':>9} {'vs pcapy':>9}")
        for name, (seconds, count) in results.items():
            if count != args.records:
                raise SystemExit(f"{name} read {count} records, expected {args.records}")
            print(f"{name:8} {seconds:9.4f} {count / seconds:12,.0f} "
                  f"{size / seconds / 1e6:9.1f} {base / seconds:8.2f}x")


if __name__ == "__main__":
    main()
