"""Regression tests from libpcap's optimizer bug reports: bpfc must get every one of them right.

Each case is a filter that libpcap's optimizer miscompiled at some point (the issue number is in
the id). The reference answer is the filter's meaning: libpcap's *unoptimized* program, which
these reports agree is correct, and bpfc's own CFG evaluated without optimization. bpfc's
optimized program must match both on packets built to hit the bug.
"""

from __future__ import annotations

import struct

import pcapy
import pytest

import bpfc
from bpfc import cfg
from bpfc.compiler import compile_stages

SNAPLEN = 262144


def ether(ethertype: int, payload: bytes, dst: bytes = b"\x02" * 6) -> bytes:
    return dst + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", ethertype) + payload


def ipv4(proto: int, payload: bytes, src: int = 0x0A000001, dst: int = 0x0A000002,
         ident: int = 0) -> bytes:
    return struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0, src,
                       dst) + payload


def tcp(sport: int, dport: int = 80) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 1024, 0, 0)


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def arp() -> bytes:
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + b"\x02" * 6 + bytes(4) + bytes(10)


def vxlan(inner: bytes, vni: int = 18) -> bytes:
    return ether(0x0800, ipv4(17, udp(4789, 4789, struct.pack("!II", 0x08000000, vni << 8)
                                      + inner)))


TCP_PORTS = [ether(0x0800, ipv4(6, tcp(p))) for p in (0, 1, 78, 79, 80, 81, 82, 1000, 65535)]
IP_IDS = [ether(0x0800, ipv4(6, tcp(1), ident=i)) for i in (0, 2139, 2140, 2143, 2147, 2148,
                                                             0xF000 | 2145, 0xFFFF)]
ANY = [ether(0x0800, ipv4(6, tcp(80))), bytes(60), b"\x01" + bytes(59), ether(0x0806, arp())]
TCP_ACK_66 = ether(0x0800, ipv4(6, tcp(54192, 80) + bytes(12)))
VXLAN_ARP = vxlan(ether(0x0806, arp()))
VXLAN_TCP = vxlan(ether(0x0800, ipv4(6, tcp(80))))

CASES = [
    pytest.param("tcp[0:2] >= 79 and tcp[0:2] <= 81", TCP_PORTS, id="libpcap-42-range-on-tcp0"),
    pytest.param("ip[4:2] & 0x0fff >= 2140 and ip[4:2] & 0x0fff <= 2147", IP_IDS,
                 id="libpcap-58-masked-range"),
    pytest.param("ether[0:4] & 0xffffffff != 0", ANY, id="jset-0xffffffff-is-not-always-true"),
    pytest.param("ether[0] & 0xffffffff != 0", ANY, id="jset-0xffffffff-byte"),
    pytest.param("ether[1] > tcp[100] or ip", [TCP_ACK_66], id="libpcap-430-oob-then-or"),
    pytest.param("len >= 2147483648 & 2147483648 or len < 0 | 2147483648", ANY,
                 id="libpcap-434-high-bit-constants"),
    pytest.param("(1 = 0) || (1 / 4294967295 = 0) and (0 & 4294967295 = 0)", ANY,
                 id="libpcap-437-division-by-0xffffffff"),
    pytest.param("1/2=1/3&&1>4/5&&1>6/7", ANY, id="libpcap-1699-equal-constant-subexpressions"),
    pytest.param("vxlan and arp", [VXLAN_ARP, VXLAN_TCP, ether(0x0806, arp())],
                 id="libpcap-1726-vxlan-and-arp"),
    pytest.param("vxlan and ip", [VXLAN_ARP, VXLAN_TCP, ether(0x0800, ipv4(6, tcp(80)))],
                 id="libpcap-1726-vxlan-and-ip"),
]


def _truncations(packets: list[bytes]) -> list[bytes]:
    """Each packet whole and cut at every length: out-of-bounds behaviour is part of the answer."""
    return [p[:cut] for p in packets for cut in range(len(p) + 1)]


@pytest.mark.parametrize(("expr", "packets"), CASES)
def test_optimized_program_means_the_filter(expr: str, packets: list[bytes]) -> None:
    stages = compile_stages(expr, "EN10MB", SNAPLEN)
    unoptimized = bpfc.compile(expr, "EN10MB", SNAPLEN, optimize=False)
    for pkt in _truncations(packets):
        meaning = cfg.evaluate(stages.unoptimized, pkt)
        assert stages.program.match(pkt) == meaning, pkt.hex()
        assert unoptimized.match(pkt) == meaning, pkt.hex()


@pytest.mark.parametrize(("expr", "packets"),
                         [c for c in CASES if "vxlan" not in c.values[0]])
def test_matches_libpcap_unoptimized(expr: str, packets: list[bytes]) -> None:
    """libpcap without its optimizer is the agreed-correct answer for these reports
    (``vxlan`` is newer than the bundled libpcap, so those cases are checked above only)."""
    reference = pcapy.compile(1, SNAPLEN, expr, 0, 0)
    program = bpfc.compile(expr, "EN10MB", SNAPLEN)
    for pkt in _truncations(packets):
        assert program.match(pkt) == reference.filter(pkt), pkt.hex()


def test_libpcap_jset_bug_is_real() -> None:
    """Documents the libpcap bug itself: its optimizer treats ``jset #0xffffffff`` as always true
    and accepts an all-zero frame; its unoptimized program, and bpfc, reject it."""
    expr = "ether[0:4] & 0xffffffff != 0"
    zero = bytes(60)
    assert pcapy.compile(1, SNAPLEN, expr, 0, 0).filter(zero) == 0
    assert pcapy.compile(1, SNAPLEN, expr, 1, 0).filter(zero) == SNAPLEN  # libpcap's bug
    assert bpfc.compile(expr).match(zero) == 0


@pytest.mark.parametrize(("expr", "accepted", "rejected"), [
    pytest.param("vxlan and arp", vxlan(ether(0x0806, arp())),
                 [VXLAN_TCP, ether(0x0806, arp())], id="vxlan-and-arp"),
    pytest.param("vxlan and ip", vxlan(ether(0x0800, ipv4(6, tcp(80)))),
                 [vxlan(ether(0x0806, arp())), ether(0x0800, ipv4(6, tcp(80)))], id="vxlan-and-ip"),
    pytest.param("vxlan 18 and tcp port 80", vxlan(ether(0x0800, ipv4(6, tcp(80)))),
                 [vxlan(ether(0x0800, ipv4(6, tcp(80))), vni=19)], id="vxlan-vni-and-port"),
])
def test_vxlan_filters_match_the_inner_frame(expr: str, accepted: bytes,
                                             rejected: list[bytes]) -> None:
    """libpcap 1.11's optimizer drops a live store here (#1726); the inner frame must match."""
    program = bpfc.compile(expr)
    assert program.match(accepted) == SNAPLEN
    for pkt in rejected:
        assert program.match(pkt) == 0, pkt.hex()
