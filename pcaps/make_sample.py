"""Writes pcaps/sample.pcap: a small deterministic Ethernet capture for the README's first command.

Run ``python pcaps/make_sample.py`` to regenerate it byte for byte; it uses only the standard
library and bpfc's own pcap writer. 200 packets: HTTP and HTTPS over IPv4 and IPv6, DNS over
UDP, ICMP echo, ARP, an 802.1Q-tagged UDP flow and a few IPv4 fragments.
"""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bpfc.pcapfile import Packet, PcapWriter  # noqa: E402

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ether(ethertype: int, payload: bytes, vlan: int | None = None) -> bytes:
    if vlan is not None:
        return MAC_B + MAC_A + struct.pack("!HHH", 0x8100, vlan, ethertype) + payload
    return MAC_B + MAC_A + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int = 1, frag: int = 0) -> bytes:
    s = bytes(int(x) for x in src.split("."))
    d = bytes(int(x) for x in dst.split("."))
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                         s, d)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def ipv6(src: int, dst: int, nh: int, payload: bytes) -> bytes:
    prefix = bytes.fromhex("20010db8000000000000000000000000")
    s = prefix[:15] + bytes([src])
    d = prefix[:15] + bytes([dst])
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + s + d + payload


def tcp(sport: int, dport: int, flags: int, data: bytes = b"", seq: int = 1000) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 0x50, flags, 65535, 0, 0) + data


def udp(sport: int, dport: int, data: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def packets() -> list[bytes]:
    rng = random.Random(20261122)
    out: list[bytes] = []
    for i in range(200):
        kind = i % 10
        client = f"10.0.0.{1 + rng.randrange(20)}"
        port = 40000 + rng.randrange(20000)
        if kind in (0, 1, 2):
            flags = (0x02, 0x18, 0x11)[kind]
            data = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n" if kind == 1 else b""
            out.append(ether(0x0800, ipv4(client, "192.0.2.80", 6, tcp(port, 80, flags, data))))
        elif kind == 3:
            out.append(ether(0x0800, ipv4(client, "192.0.2.43", 6,
                                          tcp(port, 443, 0x18, rng.randbytes(100)))))
        elif kind == 4:
            out.append(ether(0x0800, ipv4(client, "192.0.2.53", 17,
                                          udp(port, 53, rng.randbytes(30)))))
        elif kind == 5:
            echo = struct.pack("!BBHHH", 8, 0, 0, 7, i) + b"ping" * 8
            echo = echo[:2] + struct.pack("!H", checksum(echo)) + echo[4:]
            out.append(ether(0x0800, ipv4(client, "192.0.2.1", 1, echo)))
        elif kind == 6:
            arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC_A + bytes([10, 0, 0, 1]) \
                + bytes(6) + bytes([10, 0, 0, 2 + i % 5])
            out.append(ether(0x0806, arp))
        elif kind == 7:
            out.append(ether(0x86DD, ipv6(1, 2, 6, tcp(port, 80, 0x02))))
        elif kind == 8:
            out.append(ether(0x0800, ipv4(client, "192.0.2.99", 17, udp(port, 5000, b"x" * 40)),
                             vlan=100 + i % 3))
        else:
            first = ipv4(client, "192.0.2.7", 17, udp(port, 9, b"f" * 24), ident=i, frag=0x2000)
            rest = ipv4(client, "192.0.2.7", 17, b"r" * 16, ident=i, frag=4)
            out.extend([ether(0x0800, first), ether(0x0800, rest)])
    return [p + bytes(max(0, 60 - len(p))) for p in out]


def main() -> None:
    target = Path(__file__).resolve().parent / "sample.pcap"
    with open(target, "wb") as f:
        writer = PcapWriter(f, linktype=1, snaplen=262144)
        for i, data in enumerate(packets()):
            writer.write(Packet.of(data, ts_sec=1700000000 + i // 10, ts_frac=(i % 10) * 100000))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
