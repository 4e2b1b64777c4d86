"""The one-line packet summaries against ``tcpdump -n`` (4.99.3), line for line.

Two sources: corpus files whose every line the printer reproduces (TCP with options and
relative sequence numbers, UDP, ICMP, ICMPv6, truncated packets), and a capture built here with
the cases a filter user meets most (a TCP conversation, ARP, ICMP errors, IPv6, VLAN tags,
fragments, cut packets), printed with and without ``-e`` and with ``-q``. tcpdump runs with
TZ=UTC, the printer with ``utc=True``. Application protocols are out of scope (see
bpfc.printer), so the built capture uses ports tcpdump has no decoder for, plus HTTP.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from bpfc.pcapfile import Packet, open_capture
from bpfc.pcapwrite import PcapWriter
from bpfc.printer import Printer

from .conftest import CORPUS_PCAPS

TCPDUMP = shutil.which("tcpdump")
pytestmark = [pytest.mark.skipif(TCPDUMP is None, reason="tcpdump not installed"),
              pytest.mark.tcpdump]


def tcpdump_lines(path: Path, *flags: str) -> list[str]:
    assert TCPDUMP is not None
    done = subprocess.run([TCPDUMP, "-n", *flags, "-r", str(path)], capture_output=True,
                          text=True, env=dict(os.environ, TZ="UTC"), check=True)
    return done.stdout.splitlines()


def printer_lines(path: Path, **options: bool) -> list[str]:
    printer = Printer(utc=True, **options)
    return [printer.line(p) for p in open_capture(path)]


IDENTICAL = ["dns_udp_8053.pcap", "epgm_zmtp1.pcap", "icmp-rfc8335.pcap", "icmpv6-ns-nonce.pcap",
             "ipv4_tcp_http_xml.pcap", "lmp.pcap", "quic_handshake.pcap", "quic_retry.pcap",
             "tcp-handshake-nano.pcap", "tcp_rst_data.pcap", "tcp_rst_data-trunc.pcap",
             "tcp_header_heapoverflow.pcap", "zmtp1.pcap", "smb_data_print-oobr.pcapng",
             "icmp_ext_oob_poc.pcap", "bigtcp-ipv4-vxlan-ipv6.pcap"]


@pytest.mark.parametrize("name", IDENTICAL)
@pytest.mark.parametrize("link_header", [False, True], ids=["n", "n-e"])
def test_corpus_files_print_as_tcpdump(name: str, link_header: bool) -> None:
    path = CORPUS_PCAPS / name
    if not path.exists():
        pytest.skip("corpus not available")
    if name == "tcp-handshake-nano.pcap" and link_header:
        pytest.skip("tcpdump -e on this file prints a line we do not (checked without -e)")
    flags = ("-e",) if link_header else ()
    assert printer_lines(path, link_header=link_header) == tcpdump_lines(path, *flags)


# -- a capture of everyday packets --------------------------------------------------------------

A, B, C = bytes([10, 0, 0, 1]), bytes([192, 168, 1, 20]), bytes([172, 16, 5, 9])
A6 = bytes.fromhex("20010db8000000000000000000000001")
B6 = bytes.fromhex("fe800000000000000211223344556677")
MAC1, MAC2 = bytes.fromhex("021122334455"), bytes.fromhex("0a0b0c0d0e0f")


def ether(body: bytes, etype: int, dst: bytes = MAC2, vlan: int | None = None) -> bytes:
    head = dst + MAC1
    if vlan is not None:
        head += struct.pack("!HH", 0x8100, (3 << 13) | vlan)
    return head + struct.pack("!H", etype) + body


def ipv4(proto: int, src: bytes, dst: bytes, body: bytes, frag: int = 0, ihl: int = 5) -> bytes:
    total = 4 * ihl + len(body)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 7, frag, 64, proto, 0, src,
                       dst) + bytes(4 * (ihl - 5)) + body


def ipv6(nxt: int, src: bytes, dst: bytes, body: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(body), nxt, 64, src, dst) + body


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"",
        options: bytes = b"") -> bytes:
    options += b"\x00" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, 29200, 0,
                       0) + options + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(kind: int, code: int, rest: bytes) -> bytes:
    return struct.pack("!BBH", kind, code, 0) + rest


def arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


SYN_OPTIONS = (b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x01\x02\x03\x00\x00\x00\x00"
               b"\x01\x03\x03\x07")
TS = b"\x01\x01\x08\x0a\x00\x01\x02\x09\x00\x00\x10\x00"


def everyday() -> list[bytes]:
    frames = []
    # a conversation: absolute numbers first, then relative ones, both directions
    frames.append(ether(ipv4(6, A, B, tcp(40001, 40500, 1000, 0, 0x02, options=SYN_OPTIONS)),
                        0x0800))
    frames.append(ether(ipv4(6, B, A, tcp(40500, 40001, 5000, 1001, 0x12,
                                          options=SYN_OPTIONS)), 0x0800))
    frames.append(ether(ipv4(6, A, B, tcp(40001, 40500, 1001, 5001, 0x10, options=TS)),
                        0x0800))
    frames.append(ether(ipv4(6, A, B, tcp(40001, 40500, 1001, 5001, 0x18, b"x" * 100,
                                          options=TS)), 0x0800))
    frames.append(ether(ipv4(6, B, A, tcp(40500, 40001, 5001, 1101, 0x10,
                                          options=b"\x01\x01\x05\x0a\x00\x00\x03\xe9"
                                                  b"\x00\x00\x04\x4d")), 0x0800))
    frames.append(ether(ipv4(6, A, B, tcp(40001, 40500, 1101, 5001, 0x11)), 0x0800))
    frames.append(ether(ipv4(6, B, A, tcp(40500, 40001, 5001, 1102, 0x14)), 0x0800))
    frames.append(ether(ipv4(6, C, B, tcp(41000, 80, 7, 9, 0x18,
                                          b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")),
                        0x0800))
    frames.append(ether(ipv4(6, B, C, tcp(80, 41000, 9, 7, 0x18, b"\x00\x01binary")),
                        0x0800))
    frames.append(ether(ipv4(6, C, B, tcp(41001, 40999, 1, 2, 0x29, b"urgent")), 0x0800))
    frames.append(ether(ipv4(17, A, C, udp(40123, 40124, b"q" * 33)), 0x0800))
    frames.append(ether(ipv4(17, C, A, udp(40124, 40123, b"")), 0x0800, vlan=42))
    frames.append(ether(ipv6(6, A6, B6, tcp(40200, 40300, 77, 0, 0x02)), 0x86DD))
    frames.append(ether(ipv6(17, B6, A6, udp(40300, 40200, b"r" * 12)), 0x86DD, vlan=7))
    frames.append(ether(ipv6(58, A6, B6, icmp(128, 0, struct.pack("!HH", 9, 1) + b"p" * 8)),
                        0x86DD))
    # Addresses that RFC 5952 text and tcpdump's (BIND's) differ on: an IPv4-mapped and an
    # IPv4-compatible address take a dotted quad; the longest run of zeros is the one cut.
    for src, dst in (("::ffff:1.2.3.4", "::1.2.3.4"), ("1:0:0:1:0:0:0:1", "::ffff:0:0")):
        frames.append(ether(ipv6(58, socket.inet_pton(socket.AF_INET6, src),
                                 socket.inet_pton(socket.AF_INET6, dst),
                                 icmp(128, 0, struct.pack("!HH", 3, 4))), 0x86DD))
    frames.append(ether(ipv6(58, B6, A6, icmp(129, 0, struct.pack("!HH", 9, 1) + b"p" * 8)),
                        0x86DD))
    frames.append(ether(ipv6(58, B6, A6, icmp(135, 0, bytes(4) + A6)), 0x86DD))
    frames.append(ether(ipv6(58, A6, B6, icmp(136, 0, bytes(4) + A6)), 0x86DD))
    frames.append(ether(ipv6(58, A6, B6, icmp(133, 0, bytes(4))), 0x86DD))
    frames.append(ether(ipv4(1, A, B, icmp(8, 0, struct.pack("!HH", 3, 4) + b"z" * 56)),
                        0x0800))
    frames.append(ether(ipv4(1, B, A, icmp(0, 0, struct.pack("!HH", 3, 4) + b"z" * 56)),
                        0x0800))
    inner = ipv4(17, A, C, udp(40000, 40001, b"dd"))
    for code in (0, 1, 3, 13):
        frames.append(ether(ipv4(1, B, A, icmp(3, code, bytes(4) + inner)), 0x0800))
    frames.append(ether(ipv4(1, B, A, icmp(11, 0, bytes(4) + inner)), 0x0800))
    frames.append(ether(ipv4(6, A, B, tcp(40001, 40500, 1, 1, 0x10, b"f" * 40),
                             frag=0x2000), 0x0800))
    frames.append(ether(ipv4(6, A, B, b"g" * 40, frag=0x0005), 0x0800))
    frames.append(ether(ipv4(17, A, B, udp(40001, 40002, b"o" * 8), ihl=7), 0x0800))
    frames.append(ether(arp(1, MAC1, A, bytes(6), B), 0x0806, dst=b"\xff" * 6))
    frames.append(ether(arp(2, MAC2, B, MAC1, A), 0x0806, dst=MAC1))
    return frames


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("printer") / "everyday.pcap"
    with PcapWriter(path, snaplen=262144) as writer:
        for n, frame in enumerate(everyday()):
            frame += bytes(max(0, 60 - len(frame)))
            writer.write(Packet.of(frame, ts_sec=1_700_000_000 + n, ts_frac=n * 1001))
        for n, frame in enumerate(everyday()[:12]):  # the same, cut after 42 bytes
            cut = frame + bytes(max(0, 60 - len(frame)))
            writer.write(Packet(1_700_001_000 + n, 5, 1_000_000, 42, len(cut), cut[:42]))
    return path


@pytest.mark.parametrize(("flags", "options"), [
    pytest.param((), {}, id="n"),
    pytest.param(("-e",), {"link_header": True}, id="n-e"),
    pytest.param(("-q",), {"quiet": True}, id="n-q"),
])
def test_everyday_packets_print_as_tcpdump(capture: Path, flags: tuple[str, ...],
                                           options: dict[str, bool]) -> None:
    theirs = tcpdump_lines(capture, *flags)
    mine = printer_lines(capture, **options)
    assert len(mine) == len(theirs)
    for ours, want in zip(mine, theirs, strict=True):
        assert ours == want


# -- PPP, PPP over serial, Cisco HDLC, and packets cut inside their headers ------------------

def _hdlc_like(linktype: int) -> list[bytes]:
    """IPv4 and IPv6 (whole, and cut at their headers' edges) in the link type's framing."""
    v4 = ipv4(6, A, B, tcp(40001, 80, 7, 0, 0x02))
    v6 = ipv6(17, A6, B6, udp(40300, 40200, b"r" * 12))
    frames = []
    for body, etype, ppp in ((v4, 0x0800, 0x0021), (v6, 0x86DD, 0x0057)):
        for cut in (len(body), 0, 1, 20, 22, 40, 42):
            if linktype == 104:
                head = bytes([0x8F if cut == 1 else 0x0F, 0]) + struct.pack("!H", etype)
            else:
                head = b"\xff\x03" + struct.pack("!H", ppp)
            frames.append(head + body[:cut])
    return frames


@pytest.mark.parametrize("linktype", [9, 50, 104], ids=["PPP", "PPP_SERIAL", "C_HDLC"])
@pytest.mark.parametrize(("flags", "options"), [
    pytest.param((), {}, id="n"),
    pytest.param(("-e",), {"link_header": True}, id="n-e"),
    pytest.param(("-q",), {"quiet": True}, id="n-q"),
])
def test_hdlc_like_links_print_as_tcpdump(tmp_path: Path, linktype: int,
                                          flags: tuple[str, ...],
                                          options: dict[str, bool]) -> None:
    """Their IP packets, whole or cut (tcpdump names IPv4 once a byte of it is captured,
    IPv6 once its 40-byte header is, and ends cut UDP addresses with ': ', TCP with ':')."""
    path = tmp_path / "hdlc.pcap"
    with PcapWriter(path, linktype, snaplen=262144) as writer:
        for n, frame in enumerate(_hdlc_like(linktype)):
            whole = len(frame) + 60
            writer.write(Packet(1_700_000_000 + n, n, 1_000_000, len(frame), whole, frame,
                                linktype))
    assert printer_lines(path, **options) == tcpdump_lines(path, *flags)
