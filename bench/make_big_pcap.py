"""A large, deterministic Ethernet capture for the offline-filtering benchmark and tests.

``make_capture(path, packets, seed)`` writes a classic little-endian microsecond pcap (snaplen
262144) whose traffic exercises every benchmark expression: IPv4 TCP (ports 80, 443, 22, 8080
and others, SYN/ACK/FIN/RST mixes), UDP, ICMP, ARP, IPv6 (TCP, UDP, ICMPv6), 802.1Q VLAN tags
over IPv4 and IPv6, IPv4 fragments (first and later ones), IPv4 options, 802.3/LLC frames, and
addresses drawn so that ``host 10.0.0.1``, ``net 10.0.0.0/16`` and friends match a few percent
to a third of the packets. Frames are 60 to 1514 bytes (many short ACK-like ones, a block of
MTU-sized ones, the rest uniform); about one in fifty is cut to 96 captured bytes, as a ``-s``
capture would be, so that loads past the captured length get exercised.

The same (packets, seed) always gives the same bytes: one ``random.Random`` drives every choice.
``cached(packets)`` builds the file once under ``bench/data/`` (gitignored) and reuses it.
Usage: ``python bench/make_big_pcap.py [--packets N] [--seed S] [OUT]``.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_SEED = 20240501
SNAPLEN = 262144
CUT = 96  # captured length of the "-s 96" records

_PAYLOAD = random.Random(7).randbytes(1 << 16)
_ETH = struct.Struct("!6s6sH")
_VLAN = struct.Struct("!HH")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_ICMP = struct.Struct("!BBHHH")
_REC = struct.Struct("<IIII")

_TCP_PORTS = (80, 80, 443, 443, 443, 22, 8080, 3306, 25, 110)
_UDP_PORTS = (53, 53, 123, 5353, 161, 514, 1900)
# SYN, SYN|ACK, ACK, PSH|ACK, FIN|ACK, RST, RST|ACK
_TCP_FLAGS = (0x02, 0x12, 0x10, 0x10, 0x10, 0x18, 0x18, 0x11, 0x04, 0x14)


def _mac(rng: random.Random) -> bytes:
    return bytes((rng.choice((0x00, 0x02, 0x52, 0x01)),)) + rng.randbytes(5)


def _ip4(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.04:
        return bytes((10, 0, 0, 1))
    if pick < 0.08:
        return bytes((10, 0, 0, 2))
    if pick < 0.35:
        return bytes((10, 0, rng.randrange(256), rng.randrange(256)))
    if pick < 0.45:
        return bytes((10, 1, rng.randrange(256), rng.randrange(256)))
    if pick < 0.70:
        return bytes((192, 168, 1, rng.randrange(256)))
    if pick < 0.80:
        return bytes((172, 16, rng.randrange(256), rng.randrange(256)))
    return rng.randbytes(4)


def _ip6(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return b"\x20\x01\x0d\xb8" + bytes(10) + rng.randbytes(2)
    return b"\xfe\x80" + bytes(6) + rng.randbytes(8)


def _size(rng: random.Random) -> int:
    pick = rng.random()
    if pick < 0.62:
        return rng.randint(60, 120)
    if pick < 0.76:
        return 1514
    return rng.randint(60, 1514)


def _transport(rng: random.Random, proto: int, room: int) -> bytes:
    """A TCP/UDP/ICMP/ICMPv6 header for protocol ``proto`` (payload comes after)."""
    if proto == 6:
        sport, dport = rng.choice(_TCP_PORTS), rng.randint(1024, 65535)
        if rng.random() < 0.5:
            sport, dport = dport, sport
        offset = 5 if rng.random() < 0.7 or room < 40 else 8
        return _TCP.pack(sport, dport, rng.getrandbits(32), rng.getrandbits(32), offset << 4,
                         rng.choice(_TCP_FLAGS), 65535, 0, 0) + bytes(4 * (offset - 5))
    if proto == 17:
        sport, dport = rng.choice(_UDP_PORTS), rng.randint(1024, 65535)
        if rng.random() < 0.5:
            sport, dport = dport, sport
        return _UDP.pack(sport, dport, max(8, room), 0)
    if proto == 1:
        return _ICMP.pack(rng.choice((8, 0, 3, 11)), 0, 0, rng.getrandbits(16), rng.getrandbits(16))
    return _ICMP.pack(rng.choice((128, 129, 135, 136, 133)), 0, 0, 0, 0)  # ICMPv6


def _ipv4(rng: random.Random, size: int) -> bytes:
    proto = rng.choice((6, 6, 6, 6, 17, 17, 17, 1))
    ihl = 6 if rng.random() < 0.03 else 5
    frag = 0
    pick = rng.random()
    if pick < 0.04:
        frag = rng.randint(1, 180)  # a later fragment: no transport header in it
    elif pick < 0.07:
        frag = 0x2000  # more fragments, first one
    body = _transport(rng, proto, size - 14 - 4 * ihl) if frag & 0x1FFF == 0 else b""
    total = max(size - 14, 4 * ihl + len(body))
    head = _IP4.pack(0x40 | ihl, 0, total, rng.getrandbits(16), frag, rng.choice((64, 128, 255)),
                     proto, 0, _ip4(rng), _ip4(rng)) + bytes(4 * (ihl - 5))
    return head + body


def _ipv6(rng: random.Random, size: int) -> bytes:
    proto = rng.choice((6, 6, 17, 58))
    body = _transport(rng, proto, size - 54)
    return _IP6.pack(0x60000000, max(size - 54, len(body)), proto, 64, _ip6(rng), _ip6(rng)) + body


def _arp(rng: random.Random) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, rng.choice((1, 2)), _mac(rng),
                       _ip4(rng), bytes(6), _ip4(rng))


def frame(rng: random.Random) -> bytes:
    """One Ethernet frame, 60 to 1514 bytes."""
    size = _size(rng)
    dst, src = _mac(rng), _mac(rng)
    pick = rng.random()
    tags = b""
    if pick < 0.08:  # 802.1Q, then IPv4 or IPv6
        inner = 0x86DD if rng.random() < 0.3 else 0x0800
        tags = _ETH.pack(dst, src, 0x8100) + _VLAN.pack(rng.randint(1, 200), inner)
        size = min(size + 4, 1518)
        body = _ipv6(rng, max(size - 4, 94)) if inner == 0x86DD else _ipv4(rng, size - 4)
        head = tags + body
    elif pick < 0.20:
        head = _ETH.pack(dst, src, 0x86DD) + _ipv6(rng, max(size, 94))
    elif pick < 0.24:
        head = _ETH.pack(b"\xff" * 6, src, 0x0806) + _arp(rng)
    elif pick < 0.26:  # 802.3 length field and an LLC header (STP-like)
        head = _ETH.pack(dst, src, min(size - 14, 1500)) + b"\x42\x42\x03"
    else:
        head = _ETH.pack(dst, src, 0x0800) + _ipv4(rng, size)
    size = max(size, len(head))
    start = rng.randrange(len(_PAYLOAD) - size)
    return head + _PAYLOAD[start:start + size - len(head)]


def make_capture(path: Path, packets: int, seed: int = DEFAULT_SEED) -> int:
    """Writes ``packets`` frames to ``path``; returns the file size. Deterministic."""
    rng = random.Random(seed)
    sec, usec = 1_700_000_000, 0
    tmp = path.with_suffix(path.suffix + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1))
        pieces: list[bytes] = []
        for n in range(packets):
            data = frame(rng)
            usec += rng.randint(1, 400)
            if usec >= 1_000_000:
                sec, usec = sec + usec // 1_000_000, usec % 1_000_000
            wire = len(data)
            if rng.random() < 0.02 and wire > CUT:
                data = data[:CUT]
            pieces.append(_REC.pack(sec, usec, len(data), wire))
            pieces.append(data)
            if n % 8192 == 8191:
                out.write(b"".join(pieces))
                pieces.clear()
        out.write(b"".join(pieces))
    tmp.replace(path)
    return path.stat().st_size


def cached(packets: int, seed: int = DEFAULT_SEED) -> Path:
    """The capture of ``packets`` frames under bench/data/, built on first use."""
    path = DATA / f"big-{packets}-{seed}.pcap"
    if not path.exists():
        start = time.perf_counter()
        size = make_capture(path, packets, seed)
        print(f"generated {path.name}: {packets:,} packets, {size / 1e6:.0f} MB in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("out", nargs="?", type=Path)
    args = parser.parse_args()
    if args.out is None:
        print(cached(args.packets, args.seed))
    else:
        size = make_capture(args.out, args.packets, args.seed)
        print(f"{args.out}: {args.packets:,} packets, {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
