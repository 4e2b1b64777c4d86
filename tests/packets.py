"""Deterministic packet sets, one per link type, for differential filter tests.

Each set is the corpus' packets of that link type plus generated ones: a catalogue of network-layer
payloads (IPv4 with and without options and fragments, IPv6 with extension-header chains, ARP,
RARP, ...) built once with scapy, put in Ethernet frames and in every encapsulation the filter
language can see through (802.1Q and QinQ, MPLS stacks, PPPoE, GENEVE, VXLAN, 802.3/LLC/SNAP),
then re-wrapped for the cooked, raw and loopback link types. Truncated copies cut at several
lengths (the original length kept as the wire length, as a snapshot length would) make every
out-of-bounds path of a filter run.

Nothing here is random: the same packets, in the same order, every run. ``packets_for(dlt)`` builds
a link type's set once per process (scapy is slow) and caches it.

The values the expression tables use (addresses, ports, VLAN ids, MPLS labels, VNIs, ...) are
constants of this module, so a reader can see that each expression has packets it matches.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLReport,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_Redirect,
    ICMPv6ND_RS,
)
from scapy.layers.l2 import ARP, STP
from scapy.packet import Raw

from tests.diffkit import DLTS, Packet, read_capture

CORPUS = Path(os.environ.get("BPFC_SHARED", Path(__file__).resolve().parents[2] / "shared")) \
    / "corpus"

# --------------------------------------------------------------------------------------------
# The values the tables refer to.

MAC_A = "00:11:22:33:44:55"
MAC_B = "66:77:88:99:aa:bb"
MAC_C = "02:00:00:00:00:01"
MAC_BCAST = "ff:ff:ff:ff:ff:ff"
MAC_MCAST4 = "01:00:5e:00:00:01"
MAC_MCAST6 = "33:33:00:00:00:01"
MAC_STP = "01:80:c2:00:00:00"
MAC_ZERO = "00:00:00:00:00:00"
MAC_PAIRS = ((MAC_B, MAC_A), (MAC_A, MAC_B), (MAC_BCAST, MAC_C), (MAC_MCAST4, MAC_A),
             (MAC_MCAST6, MAC_B), (MAC_C, MAC_ZERO), (MAC_A, MAC_A))

V4_PAIRS = (("10.0.0.1", "10.0.0.2"), ("10.0.0.2", "10.0.0.1"), ("192.168.1.1", "192.168.1.255"),
            ("172.16.5.4", "224.0.0.1"), ("10.1.2.3", "239.1.2.3"),
            ("192.168.1.1", "255.255.255.255"), ("127.0.0.1", "127.0.0.1"),
            ("0.0.0.0", "255.255.255.255"), ("8.8.8.8", "10.0.0.1"),
            ("172.31.255.254", "192.168.200.7"), ("10.0.0.1", "10.0.0.1"),
            ("255.255.255.255", "10.0.0.0"), ("169.254.0.0", "127.0.0.0"))
V6_PAIRS = (("2001:db8::1", "2001:db8::2"), ("2001:db8::2", "2001:db8::1"), ("fe80::1", "ff02::1"),
            ("fe80::2", "fe80::1"), ("2001:db8:1::5", "ff02::1:ff00:1"), ("::1", "::1"),
            ("::", "ff02::2"), ("2001:db8:ffff::9", "2001:db8::1"),
            ("2001:db8::", "::ffff:10.0.0.1"))

TCP_PORTS = ((12345, 80), (80, 12345), (51000, 443), (2222, 22), (20, 21), (1024, 8080),
             (53, 53), (179, 40000), (6081, 4789), (65535, 1), (443, 80))
UDP_PORTS = ((33333, 53), (53, 33333), (67, 68), (68, 67), (123, 123), (161, 162), (5353, 5353),
             (546, 547), (1700, 1812), (500, 500), (0, 0), (4789, 20), (1023, 1024))
SCTP_PORTS = ((5000, 80), (2905, 2905), (36412, 38412), (80, 9), (53, 1024))

VLAN_IDS = (0, 1, 100, 200, 4094, 4095)
MPLS_STACKS = ((100704,), (16, 100704), (1000, 2000, 3000), (5,), (0xFFFFF,), (100, 200))
PPPOE_SESSIONS = (0x0001, 0x1234, 0xFFFF)
GENEVE_VNIS = (0, 100, 0xABCDEF)
VXLAN_VNIS = (0, 100, 1234)
SLL_PKTTYPES = (0, 1, 2, 3, 4)  # host, broadcast, multicast, otherhost, outgoing
SLL2_IFINDEXES = (1, 2, 3, 7, 1000, 0x01020304)

ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, ETH_P_RARP = 0x0800, 0x86DD, 0x0806, 0x8035
ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ1 = 0x8100, 0x88A8, 0x9100
ETH_P_MPLS_UC, ETH_P_MPLS_MC = 0x8847, 0x8848
ETH_P_PPP_DISC, ETH_P_PPP_SES = 0x8863, 0x8864
ETH_P_TEB = 0x6558


# --------------------------------------------------------------------------------------------
# Byte builders (checksums are left zero: no filter reads them and it keeps the bytes stable).

def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def tcp(sport: int, dport: int, flags: str = "S", payload: bytes = b"",
        options: bool = False) -> bytes:
    opts = [("MSS", 1460), ("NOP", None), ("WScale", 7)] if options else []
    seg = TCP(sport=sport, dport=dport, flags=flags, seq=1000, ack=2000 if "A" in flags else 0,
              window=8192, options=opts, chksum=0)
    return bytes(seg / Raw(payload)) if payload else bytes(seg)


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return bytes(UDP(sport=sport, dport=dport, chksum=0) / Raw(payload)) if payload \
        else bytes(UDP(sport=sport, dport=dport, chksum=0))


def sctp(sport: int, dport: int) -> bytes:
    # common header + one INIT chunk header, built by hand (scapy's SCTP adds a CRC32c)
    return struct.pack("!HHII", sport, dport, 0x01020304, 0) + struct.pack("!BBH", 1, 0, 20) \
        + bytes(16)


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64, flags: str = "",
         frag: int = 0, options: bytes = b"", tos: int = 0, ident: int = 1) -> bytes:
    hdr = IP(src=src, dst=dst, proto=proto, ttl=ttl, flags=flags, frag=frag, tos=tos, id=ident,
             options=IPOption(options) if options else [])
    return bytes(hdr / Raw(payload)) if payload else bytes(hdr)


def ipv6(src: str, dst: str, nh: int, payload: bytes, hlim: int = 64) -> bytes:
    from scapy.layers.inet6 import IPv6

    hdr = IPv6(src=src, dst=dst, nh=nh, hlim=hlim)
    return bytes(hdr / Raw(payload)) if payload else bytes(hdr)


def ext_opts(nh: int, router_alert: bool = False) -> bytes:
    """A hop-by-hop or destination-options header of 8 bytes (PadN, or a router alert)."""
    body = b"\x05\x02\x00\x00\x01\x00" if router_alert else b"\x01\x04\x00\x00\x00\x00"
    return bytes([nh, 0]) + body


def ext_routing(nh: int, rtype: int = 0) -> bytes:
    return bytes([nh, 2, rtype, 1]) + bytes(4) + bytes.fromhex("20010db8" + "00" * 11 + "05")


def ext_fragment(nh: int, offset: int, more: bool) -> bytes:
    return bytes([nh, 0]) + struct.pack("!HI", (offset << 3) | int(more), 0xCAFE)


def ah(nh: int) -> bytes:
    """An AH header with a 12-byte ICV (payload length field 4: (24 / 4) - 2)."""
    return bytes([nh, 4, 0, 0]) + struct.pack("!II", 0x1000, 1) + bytes(range(12))


def esp(payload_len: int = 24) -> bytes:
    return struct.pack("!II", 0x2000, 7) + bytes((i * 7) & 0xFF for i in range(payload_len))


def ether(dst: str, src: str, ethertype: int, payload: bytes) -> bytes:
    return mac(dst) + mac(src) + struct.pack("!H", ethertype) + payload


def dot3(dst: str, src: str, payload: bytes, length: int | None = None) -> bytes:
    """An 802.3 frame: the type field is a length (of the LLC payload)."""
    return mac(dst) + mac(src) + struct.pack("!H", len(payload) if length is None else length) \
        + payload


def vlan_tag(vid: int, ethertype: int, prio: int = 0, dei: int = 0) -> bytes:
    return struct.pack("!HH", (prio << 13) | (dei << 12) | vid, ethertype)


def mpls_stack(labels: Iterable[int], bottom: bool = True) -> bytes:
    labels = list(labels)
    out = b""
    for i, label in enumerate(labels):
        s = int(bottom and i == len(labels) - 1)
        out += struct.pack("!I", (label << 12) | (i << 9) | (s << 8) | (64 - i))
    return out


def pppoe(code: int, session: int, payload: bytes) -> bytes:
    return struct.pack("!BBHH", 0x11, code, session, len(payload)) + payload


def geneve(vni: int, proto: int, payload: bytes, opt_words: int = 0) -> bytes:
    options = b""
    if opt_words:
        # one option: class 0x0102, type 0x80, length opt_words-1 words of data
        options = struct.pack("!HBB", 0x0102, 0x80, opt_words - 1) + bytes(4 * (opt_words - 1))
    return struct.pack("!BBHI", opt_words & 0x3F, 0, proto, vni << 8) + options + payload


def vxlan(vni: int, payload: bytes, flags: int = 0x08) -> bytes:
    return struct.pack("!BxxxI", flags, vni << 8) + payload


# --------------------------------------------------------------------------------------------
# Network-layer payloads: (label, ethertype, bytes).

L3 = tuple[str, int, bytes]


def _ipv4_payloads() -> Iterator[L3]:
    pairs = V4_PAIRS
    for i, (sport, dport) in enumerate(TCP_PORTS):
        src, dst = pairs[i % len(pairs)]
        flags = ("S", "SA", "A", "FA", "R", "PA", "S", "A", "S", "SA", "S")[i]
        payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" if flags == "PA" else b""
        yield (f"ipv4/tcp {src}>{dst} {sport}>{dport} {flags}", ETH_P_IP,
               ipv4(src, dst, 6, tcp(sport, dport, flags, payload, options=i % 3 == 0),
                    ttl=(64, 1, 128, 255, 32)[i % 5]))
    for i, (sport, dport) in enumerate(UDP_PORTS):
        src, dst = pairs[(i + 3) % len(pairs)]
        yield (f"ipv4/udp {src}>{dst} {sport}>{dport}", ETH_P_IP,
               ipv4(src, dst, 17, udp(sport, dport, b"\x12\x34\x01\x00" + bytes(8)),
                    ttl=(64, 10)[i % 2]))
    for i, (sport, dport) in enumerate(SCTP_PORTS):
        src, dst = pairs[(i + 5) % len(pairs)]
        yield f"ipv4/sctp {src}>{dst} {sport}>{dport}", ETH_P_IP, ipv4(src, dst, 132,
                                                                        sctp(sport, dport))
    icmps = ((8, 0, "echo"), (0, 0, "echoreply"), (3, 3, "unreach"), (11, 0, "timxceed"),
             (5, 1, "redirect"), (13, 0, "tstamp"), (4, 0, "sourcequench"),
             (12, 0, "paramprob"), (17, 0, "maskreq"), (15, 0, "ireq"))
    for i, (itype, code, name) in enumerate(icmps):
        src, dst = pairs[i % len(pairs)]
        body = bytes(ICMP(type=itype, code=code, chksum=0)) + bytes(8)
        yield f"ipv4/icmp {name} {src}>{dst}", ETH_P_IP, ipv4(src, dst, 1, body)
    others = ((2, "igmp", "172.16.5.4", "224.0.0.1", b"\x11\x64\x00\x00" + bytes(4)),
              (2, "igmp-report", "10.0.0.2", "239.1.2.3", b"\x16\x00\x00\x00\xef\x01\x02\x03"),
              (9, "igrp", "10.0.0.1", "255.255.255.255", b"\x11\x00" + bytes(10)),
              (103, "pim", "10.0.0.1", "224.0.0.13", b"\x20\x00\x00\x00" + bytes(8)),
              (112, "vrrp", "192.168.1.1", "224.0.0.18", b"\x21\x01\x64\x01" + bytes(12)),
              (51, "ah/tcp", "10.0.0.1", "10.0.0.2", ah(6) + tcp(12345, 80)),
              (50, "esp", "10.0.0.2", "10.0.0.1", esp()),
              (47, "gre", "10.0.0.1", "8.8.8.8", b"\x00\x00\x08\x00" + bytes(20)),
              (89, "ospf", "192.168.1.1", "224.0.0.5", b"\x02\x01" + bytes(22)),
              (41, "ipv6-in-ipv4", "10.0.0.1", "10.0.0.2",
               ipv6("2001:db8::1", "2001:db8::2", 6, tcp(12345, 80))),
              (4, "ipip", "10.0.0.1", "10.0.0.2", ipv4("10.9.9.9", "10.8.8.8", 17, udp(1, 53))),
              (255, "proto255", "10.0.0.1", "10.0.0.2", bytes(16)),
              (0, "proto0", "10.0.0.1", "10.0.0.2", bytes(8)))
    for proto, name, src, dst, body in others:
        yield f"ipv4/{name} {src}>{dst}", ETH_P_IP, ipv4(src, dst, proto, body)
    # options: the transport header moves (IHL 6 and IHL 15)
    yield ("ipv4+ra/tcp 10.0.0.1>10.0.0.2 12345>80", ETH_P_IP,
           ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80), options=b"\x94\x04\x00\x00"))
    yield ("ipv4+ra/udp 10.0.0.2>224.0.0.1 33333>53", ETH_P_IP,
           ipv4("10.0.0.2", "224.0.0.1", 17, udp(33333, 53), options=b"\x94\x04\x00\x00"))
    yield ("ipv4+40opt/tcp 192.168.1.1>10.0.0.1 80>12345", ETH_P_IP,
           ipv4("192.168.1.1", "10.0.0.1", 6, tcp(80, 12345, "SA"),
                options=b"\x01" * 39 + b"\x00"))
    yield ("ipv4+ra/igmp 10.0.0.2>224.0.0.22", ETH_P_IP,
           ipv4("10.0.0.2", "224.0.0.22", 2, b"\x22\x00\x00\x00" + bytes(4),
                options=b"\x94\x04\x00\x00"))
    # fragments: a first one (ports visible), a non-first one whose payload looks like ports
    yield ("ipv4/tcp frag first MF 10.0.0.1>10.0.0.2 12345>80", ETH_P_IP,
           ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80), flags="MF"))
    yield ("ipv4/tcp frag non-first off=185 10.0.0.1>10.0.0.2", ETH_P_IP,
           ipv4("10.0.0.1", "10.0.0.2", 6, struct.pack("!HH", 12345, 80) + bytes(16), frag=185))
    yield ("ipv4/udp frag last off=3 10.0.0.2>10.0.0.1", ETH_P_IP,
           ipv4("10.0.0.2", "10.0.0.1", 17, struct.pack("!HH", 53, 33333) + bytes(12), frag=3))
    yield ("ipv4/udp frag first MF 10.0.0.2>10.0.0.1 53>33333", ETH_P_IP,
           ipv4("10.0.0.2", "10.0.0.1", 17, udp(53, 33333, bytes(20)), flags="MF"))
    yield ("ipv4/tcp DF 10.0.0.2>10.0.0.1 443>51000", ETH_P_IP,
           ipv4("10.0.0.2", "10.0.0.1", 6, tcp(443, 51000, "A"), flags="DF", tos=0x10))
    yield ("ipv4/icmp frag non-first off=100", ETH_P_IP,
           ipv4("10.0.0.1", "10.0.0.2", 1, bytes([8, 0]) + bytes(10), frag=100))
    # big ones (greater / len / ip[2:2] > 576)
    yield ("ipv4/tcp big 10.0.0.1>10.0.0.2 12345>80 PA", ETH_P_IP,
           ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80, "PA", b"GET " + bytes(1200))))
    yield ("ipv4/udp 600B 10.0.0.2>10.0.0.1 53>33333", ETH_P_IP,
           ipv4("10.0.0.2", "10.0.0.1", 17, udp(53, 33333, bytes(580))))
    # the wrong version nibble behind an IPv4 ethertype; a header shorter than 20 bytes
    yield ("ipv4-type/version 6 payload", ETH_P_IP,
           ipv6("2001:db8::1", "2001:db8::2", 17, udp(33333, 53)))
    yield ("ipv4/ihl 4 bogus", ETH_P_IP,
           b"\x44" + ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80))[1:])


def _ipv6_payloads() -> Iterator[L3]:
    pairs = V6_PAIRS
    for i, (sport, dport) in enumerate(TCP_PORTS[:7]):
        src, dst = pairs[i % len(pairs)]
        yield (f"ipv6/tcp {src}>{dst} {sport}>{dport}", ETH_P_IPV6,
               ipv6(src, dst, 6, tcp(sport, dport, ("S", "SA", "A", "FA", "R", "PA", "S")[i],
                                     options=i % 2 == 0), hlim=(64, 1, 255)[i % 3]))
    for i, (sport, dport) in enumerate(UDP_PORTS[:9]):
        src, dst = pairs[(i + 2) % len(pairs)]
        yield (f"ipv6/udp {src}>{dst} {sport}>{dport}", ETH_P_IPV6,
               ipv6(src, dst, 17, udp(sport, dport, bytes(8))))
    for sport, dport in SCTP_PORTS[:2]:
        yield (f"ipv6/sctp {sport}>{dport}", ETH_P_IPV6,
               ipv6("2001:db8::1", "2001:db8::2", 132, sctp(sport, dport)))
    icmp6 = (("echo", ICMPv6EchoRequest(cksum=0), "2001:db8::1", "2001:db8::2"),
             ("echoreply", ICMPv6EchoReply(cksum=0), "2001:db8::2", "2001:db8::1"),
             ("ns", ICMPv6ND_NS(tgt="fe80::1", cksum=0), "fe80::2", "ff02::1:ff00:1"),
             ("na", ICMPv6ND_NA(tgt="fe80::1", cksum=0), "fe80::1", "fe80::2"),
             ("ra", ICMPv6ND_RA(cksum=0), "fe80::1", "ff02::1"),
             ("mld-report", ICMPv6MLReport(cksum=0), "fe80::1", "ff02::16"),
             ("rs", ICMPv6ND_RS(cksum=0), "fe80::2", "ff02::2"),
             ("redirect", ICMPv6ND_Redirect(cksum=0), "fe80::1", "fe80::2"))
    for name, message, src, dst in icmp6:
        yield f"ipv6/icmp6 {name} {src}>{dst}", ETH_P_IPV6, ipv6(src, dst, 58, bytes(message))
    a, b = "2001:db8::1", "2001:db8::2"
    chains: tuple[tuple[str, bytes, int], ...] = (
        ("hbh/tcp 12345>80", ext_opts(6) + tcp(12345, 80), 0),
        ("hbh(ra)/icmp6 mld", ext_opts(58, True) + bytes(ICMPv6MLReport(cksum=0)), 0),
        ("dst/udp 33333>53", ext_opts(17) + udp(33333, 53), 60),
        ("rt0/tcp 80>12345", ext_routing(6) + tcp(80, 12345, "SA"), 43),
        ("rt4/udp 53>33333", ext_routing(17, 4) + udp(53, 33333), 43),
        ("frag first/tcp 12345>80", ext_fragment(6, 0, True) + tcp(12345, 80), 44),
        ("frag non-first/udp", ext_fragment(17, 100, False) + struct.pack("!HH", 53, 53)
         + bytes(8), 44),
        ("ah/tcp 12345>80", ah(6) + tcp(12345, 80), 51),
        ("esp", esp(), 50),
        ("hbh/dst/rt0/frag/tcp 22>2222", ext_opts(60) + ext_opts(43) + ext_routing(44)
         + ext_fragment(6, 0, False) + tcp(22, 2222, "A"), 0),
        ("hbh/ah/udp 500>500", ext_opts(51) + ah(17) + udp(500, 500), 0),
        ("dst/dst/icmp6 echo", ext_opts(60) + ext_opts(58) + bytes(ICMPv6EchoRequest(cksum=0)),
         60),
        ("hbh/sctp 5000>80", ext_opts(132) + sctp(5000, 80), 0),
        ("hbh/no-next", ext_opts(59), 0),
        ("dst/esp", ext_opts(50) + esp(), 60),
        ("ipv4-in-ipv6/tcp", ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80)), 4),
        ("hbh/pim", ext_opts(103) + b"\x20\x00\x00\x00" + bytes(8), 0),
    )
    for label, body, nh in chains:
        yield f"ipv6/{label}", ETH_P_IPV6, ipv6(a, b, nh, body)
    yield ("ipv6/udp big 2001:db8::2>2001:db8::1", ETH_P_IPV6,
           ipv6("2001:db8::2", "2001:db8::1", 17, udp(53, 33333, bytes(1100))))
    yield ("ipv6-type/version 4 payload", ETH_P_IPV6,
           ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80)))


def _arp_payloads() -> Iterator[L3]:
    yield ("arp who-has 10.0.0.2 tell 10.0.0.1", ETH_P_ARP,
           bytes(ARP(op=1, hwsrc=MAC_A, psrc="10.0.0.1", hwdst=MAC_ZERO, pdst="10.0.0.2")))
    yield ("arp reply 10.0.0.2 is-at", ETH_P_ARP,
           bytes(ARP(op=2, hwsrc=MAC_B, psrc="10.0.0.2", hwdst=MAC_A, pdst="10.0.0.1")))
    yield ("arp gratuitous 192.168.1.1", ETH_P_ARP,
           bytes(ARP(op=1, hwsrc=MAC_C, psrc="192.168.1.1", hwdst=MAC_BCAST,
                     pdst="192.168.1.1")))
    yield ("arp hwtype 6", ETH_P_ARP,
           bytes(ARP(hwtype=6, op=1, hwsrc=MAC_A, psrc="172.16.5.4", pdst="10.0.0.1")))
    yield ("rarp request", ETH_P_RARP,
           bytes(ARP(op=3, hwsrc=MAC_A, psrc="0.0.0.0", hwdst=MAC_A, pdst="0.0.0.0")))
    yield ("rarp reply 10.0.0.1", ETH_P_RARP,
           bytes(ARP(op=4, hwsrc=MAC_B, psrc="10.0.0.2", hwdst=MAC_A, pdst="10.0.0.1")))


def _other_ethertypes() -> Iterator[L3]:
    filler = bytes(range(46))
    for ethertype, name in ((0x6003, "decnet"), (0x6004, "lat"), (0x6001, "mopdl"),
                            (0x6002, "moprc"), (0x6007, "sca"), (0x88CC, "lldp"),
                            (0x809B, "atalk"), (0x80F3, "aarp"), (0x8137, "ipx"),
                            (0x9000, "loopback"), (0x88E5, "macsec"), (0x0600, "xns-0x600"),
                            (0x05DD, "type 1501"), (0x0842, "wol"), (0x86DE, "ip6-ish"),
                            (0xFFFF, "0xffff")):
        yield f"ethertype {name}", ethertype, filler


def l3_payloads() -> tuple[L3, ...]:
    """Every network-layer payload, in a fixed order."""
    return (*_ipv4_payloads(), *_ipv6_payloads(), *_arp_payloads())


# --------------------------------------------------------------------------------------------
# Ethernet frames: plain, 802.3/LLC, and every encapsulation.

Frame = tuple[str, bytes]


def _plain_frames(l3: tuple[L3, ...]) -> Iterator[Frame]:
    for i, (label, ethertype, body) in enumerate((*l3, *_other_ethertypes())):
        dst, src = MAC_PAIRS[i % len(MAC_PAIRS)]
        yield f"eth {src}>{dst}/{label}", ether(dst, src, ethertype, body)


def _llc_frames() -> Iterator[Frame]:
    stp = b"\x42\x42\x03" + bytes(STP(rootid=0x8000, rootmac=MAC_A, bridgeid=0x8000,
                                      bridgemac=MAC_A))
    ipx_hdr = b"\xff\xff\x00\x1e\x00\x04" + bytes(4) + mac(MAC_BCAST) + b"\x04\x55" \
        + bytes(4) + mac(MAC_A) + b"\x04\x55"
    bodies: tuple[tuple[str, str, bytes], ...] = (
        ("llc stp", MAC_STP, stp),
        ("llc iso clnp", MAC_B, b"\xfe\xfe\x03\x81" + bytes(30)),
        ("llc iso esis", "09:00:2b:00:00:04", b"\xfe\xfe\x03\x82" + bytes(30)),
        ("llc iso isis", "01:80:c2:00:00:14", b"\xfe\xfe\x03\x83" + bytes(30)),
        *((f"llc iso isis pdu {pdu}", "01:80:c2:00:00:15",
           b"\xfe\xfe\x03\x83\x1b\x01\x00" + bytes([pdu]) + b"\x01\x00\x00" + bytes(24))
          for pdu in (15, 16, 17, 18, 20, 24, 25, 26, 27)),
        ("llc netbeui ui", "03:00:00:00:00:01", b"\xf0\xf0\x03" + bytes(40)),
        ("llc netbeui i-frame", MAC_B, b"\xf0\xf0\x00\x02" + bytes(40)),
        ("llc ipx 802.2", MAC_BCAST, b"\xe0\xe0\x03" + ipx_hdr),
        ("ipx 802.3 raw", MAC_BCAST, ipx_hdr),
        ("snap ipx", MAC_BCAST, b"\xaa\xaa\x03\x00\x00\x00\x81\x37" + ipx_hdr),
        ("snap atalk", "09:00:07:ff:ff:ff", b"\xaa\xaa\x03\x08\x00\x07\x80\x9b" + bytes(30)),
        ("snap aarp", "09:00:07:ff:ff:ff", b"\xaa\xaa\x03\x00\x00\x00\x80\xf3" + bytes(28)),
        ("snap ip", MAC_B, b"\xaa\xaa\x03\x00\x00\x00\x08\x00"
         + ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80))),
        ("snap cdp", "01:00:0c:cc:cc:cc", b"\xaa\xaa\x03\x00\x00\x0c\x20\x00" + bytes(30)),
        ("llc s rr", MAC_B, b"\x42\x42\x01\x00" + bytes(20)),
        ("llc s rnr", MAC_B, b"\x42\x42\x05\x02" + bytes(20)),
        ("llc s rej", MAC_B, b"\xf0\xf0\x09\x01" + bytes(20)),
        ("llc u sabme", MAC_B, b"\x42\x42\x7f" + bytes(20)),
        ("llc u sabme nop", MAC_B, b"\x42\x42\x6f" + bytes(20)),
        ("llc u disc", MAC_B, b"\x42\x42\x43" + bytes(20)),
        ("llc u ua", MAC_B, b"\x42\x43\x63" + bytes(20)),
        ("llc u xid", MAC_B, b"\x00\x01\xaf\x81\x01\x00" + bytes(20)),
        ("llc u test", MAC_B, b"\x00\x01\xe3" + bytes(20)),
        ("llc u frmr", MAC_B, b"\x42\x43\x87" + bytes(20)),
        ("llc u dm", MAC_B, b"\x42\x43\x0f" + bytes(20)),
        ("llc i-frame sap 6", MAC_B, b"\x06\x06\x04\x00" + bytes(20)),
        ("llc sap 0x98 (arp-ish)", MAC_B, b"\x98\x98\x03" + bytes(20)),
        ("llc sap 0xbc (ip-ish)", MAC_B, b"\x06\x06\x03" + bytes(20)),
    )
    for label, dst, body in bodies:
        yield f"eth802.3 {MAC_A}>{dst}/{label}", dot3(dst, MAC_A, body)
    yield "eth802.3 length 1500/llc stp", dot3(MAC_STP, MAC_A, stp, length=1500)
    yield "eth802.3 length 0/llc u ui", dot3(MAC_B, MAC_A, b"\x42\x42\x03" + bytes(8), length=0)


def _vlan_payloads() -> tuple[L3, ...]:
    v4 = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80))
    v6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(33333, 53))
    arp = bytes(ARP(op=1, hwsrc=MAC_A, psrc="10.0.0.1", pdst="10.0.0.2"))
    icmp = ipv4("10.0.0.2", "10.0.0.1", 1, bytes(ICMP(type=8, chksum=0)) + bytes(8))
    return (("ipv4/tcp 12345>80", ETH_P_IP, v4), ("ipv6/udp 33333>53", ETH_P_IPV6, v6),
            ("arp", ETH_P_ARP, arp), ("ipv4/icmp echo", ETH_P_IP, icmp))


def _vlan_frames(l3: tuple[L3, ...]) -> Iterator[Frame]:
    payloads = _vlan_payloads()
    for i, vid in enumerate(VLAN_IDS):
        for j, (label, ethertype, body) in enumerate(payloads):
            prio, dei = (i + j) % 8, (i + j) % 2
            yield (f"eth/vlan {vid} prio {prio}/{label}",
                   ether(MAC_B, MAC_A, ETH_P_8021Q, vlan_tag(vid, ethertype, prio, dei) + body))
    v4 = payloads[0][2]
    for outer in (ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ1):
        for k, (ovid, ivid) in enumerate(((100, 200), (200, 100), (4095, 1))):
            for name, ethertype, body in payloads[k % 2:k % 2 + 3]:
                yield (f"eth/qinq 0x{outer:04x} {ovid}/vlan {ivid}/{name}",
                       ether(MAC_B, MAC_A, outer, vlan_tag(ovid, ETH_P_8021Q)
                             + vlan_tag(ivid, ethertype) + body))
    yield ("eth/vlan 100/vlan 200/vlan 300/ipv4",
           ether(MAC_B, MAC_A, ETH_P_8021Q, vlan_tag(100, ETH_P_8021Q) + vlan_tag(200, ETH_P_8021Q)
                 + vlan_tag(300, ETH_P_IP) + v4))
    yield ("eth/0x88a8 100/ipv4", ether(MAC_B, MAC_A, ETH_P_8021AD, vlan_tag(100, ETH_P_IP) + v4))
    yield ("eth/vlan 100/802.3 llc stp",
           ether(MAC_STP, MAC_A, ETH_P_8021Q, vlan_tag(100, 38) + b"\x42\x42\x03" + bytes(35)))
    yield ("eth/vlan 100/mpls 100704/ipv4",
           ether(MAC_B, MAC_A, ETH_P_8021Q, vlan_tag(100, ETH_P_MPLS_UC)
                 + mpls_stack([100704]) + v4))
    yield ("eth/vlan 200/pppoes 0x1234/ipv4",
           ether(MAC_B, MAC_A, ETH_P_8021Q, vlan_tag(200, ETH_P_PPP_SES)
                 + pppoe(0, 0x1234, b"\x00\x21" + v4)))
    yield ("eth/vlan 100/ipv6 hbh/udp 33333>53",
           ether(MAC_B, MAC_A, ETH_P_8021Q, vlan_tag(100, ETH_P_IPV6)
                 + ipv6("2001:db8::1", "2001:db8::2", 0, ext_opts(17) + udp(33333, 53))))
    yield ("eth/vlan 100/ipv4/udp 6081/geneve 100/eth ipv4",
           ether(MAC_B, MAC_A, ETH_P_8021Q, vlan_tag(100, ETH_P_IP)
                 + ipv4("10.0.0.1", "10.0.0.2", 17, udp(12345, 6081, geneve(
                     100, ETH_P_TEB, ether(MAC_B, MAC_C, ETH_P_IP,
                                           ipv4("192.168.1.1", "10.0.0.1", 1, bytes(12))))))))
    yield ("eth/vlan 100/ipv4 ra/udp",
           ether(MAC_B, MAC_A, ETH_P_8021Q, vlan_tag(100, ETH_P_IP)
                 + ipv4("10.0.0.2", "224.0.0.1", 17, udp(33333, 53),
                        options=b"\x94\x04\x00\x00")))


def _mpls_frames() -> Iterator[Frame]:
    v4 = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80))
    v6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(33333, 53))
    for stack in MPLS_STACKS:
        for name, body in (("ipv4/tcp 12345>80", v4), ("ipv6/udp 33333>53", v6)):
            yield (f"eth/mpls {stack}/{name}",
                   ether(MAC_B, MAC_A, ETH_P_MPLS_UC, mpls_stack(stack) + body))
    yield ("eth/mpls 100704 no bottom/ipv4",
           ether(MAC_B, MAC_A, ETH_P_MPLS_UC, mpls_stack((100704,), bottom=False) + v4))
    yield ("eth/mpls-mc 100/ipv4", ether(MAC_MCAST4, MAC_A, ETH_P_MPLS_MC,
                                         mpls_stack((100,)) + v4))


def _pppoe_frames() -> Iterator[Frame]:
    v4 = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80))
    v6 = ipv6("2001:db8::1", "2001:db8::2", 17, udp(33333, 53))
    tags = b"\x01\x01\x00\x00\x01\x03\x00\x04\xde\xad\xbe\xef"
    for code, session, name in ((0x09, 0, "padi"), (0x07, 0, "pado"), (0x65, 0x1234, "pads"),
                                (0xA7, 0x1234, "padt")):
        yield (f"eth/pppoed {name}",
               ether(MAC_BCAST if code == 9 else MAC_A, MAC_B, ETH_P_PPP_DISC,
                     pppoe(code, session, tags)))
    for i, session in enumerate(PPPOE_SESSIONS):
        yield (f"eth/pppoes 0x{session:04x}/ppp ipv4",
               ether(MAC_B, MAC_A, ETH_P_PPP_SES, pppoe(0, session, b"\x00\x21" + v4)))
        yield (f"eth/pppoes 0x{session:04x}/ppp ipv6",
               ether(MAC_A, MAC_B, ETH_P_PPP_SES, pppoe(0, session, b"\x00\x57" + v6)))
        if i == 0:
            yield ("eth/pppoes 0x0001/ppp lcp",
                   ether(MAC_B, MAC_A, ETH_P_PPP_SES, pppoe(0, session, b"\xc0\x21" + bytes(10))))


def _tunnel_frames() -> Iterator[Frame]:
    inner_v4 = ether(MAC_B, MAC_C, ETH_P_IP, ipv4("192.168.1.1", "10.0.0.1", 6, tcp(12345, 80)))
    inner_v6 = ether(MAC_C, MAC_B, ETH_P_IPV6,
                     ipv6("2001:db8::1", "2001:db8::2", 17, udp(33333, 53)))
    inner_arp = ether(MAC_BCAST, MAC_C, ETH_P_ARP,
                      bytes(ARP(op=1, hwsrc=MAC_C, psrc="10.0.0.1", pdst="10.0.0.2")))
    inners = (("eth ipv4/tcp", inner_v4), ("eth ipv6/udp", inner_v6), ("eth arp", inner_arp))
    for i, vni in enumerate(GENEVE_VNIS):
        name, inner = inners[i % 3]
        for outer in ("ipv4", "ipv6"):
            body = udp(12345, 6081, geneve(vni, ETH_P_TEB, inner, opt_words=(0, 2, 4)[i]))
            packet = ipv4("10.0.0.1", "10.0.0.2", 17, body) if outer == "ipv4" \
                else ipv6("2001:db8::1", "2001:db8::2", 17, body)
            yield (f"eth/{outer}/udp 6081/geneve vni {vni} opt {(0, 2, 4)[i]}/{name}",
                   ether(MAC_B, MAC_A, ETH_P_IP if outer == "ipv4" else ETH_P_IPV6, packet))
    yield ("eth/ipv4/udp 6081/geneve vni 100 proto ipv4",
           ether(MAC_B, MAC_A, ETH_P_IP, ipv4("10.0.0.1", "10.0.0.2", 17, udp(
               12345, 6081, geneve(100, ETH_P_IP, ipv4("10.9.9.9", "10.0.0.1", 17,
                                                          udp(33333, 53)))))))
    nested = (("eth vlan 100/ipv4", ether(MAC_B, MAC_C, ETH_P_8021Q, vlan_tag(100, ETH_P_IP)
                                          + ipv4("192.168.1.1", "10.0.0.1", 6, tcp(1, 80)))),
              ("eth mpls 100704/ipv4", ether(MAC_B, MAC_C, ETH_P_MPLS_UC, mpls_stack((100704,))
                                             + ipv4("192.168.1.1", "10.0.0.1", 6, tcp(1, 80)))),
              ("eth ipv4/udp 6081/geneve 7/eth ipv4", ether(MAC_B, MAC_C, ETH_P_IP, ipv4(
                  "10.7.7.7", "10.8.8.8", 17, udp(1, 6081, geneve(7, ETH_P_TEB, inner_v4))))))
    for name, inner in nested:
        yield (f"eth/ipv4/udp 6081/geneve 100/{name}",
               ether(MAC_B, MAC_A, ETH_P_IP, ipv4("10.0.0.1", "10.0.0.2", 17,
                                                  udp(12345, 6081, geneve(100, ETH_P_TEB,
                                                                          inner)))))
    yield ("eth/ipv4/udp 6081/geneve short",
           ether(MAC_B, MAC_A, ETH_P_IP, ipv4("10.0.0.1", "10.0.0.2", 17,
                                              udp(12345, 6081, b"\x00\x00"))))
    for i, vni in enumerate(VXLAN_VNIS):
        name, inner = inners[i % 3]
        yield (f"eth/ipv4/udp 4789/vxlan {vni}/{name}",
               ether(MAC_B, MAC_A, ETH_P_IP, ipv4("10.0.0.1", "10.0.0.2", 17,
                                                  udp(54321, 4789, vxlan(vni, inner)))))
    yield (f"eth/ipv6/udp 4789/vxlan 100/{inners[0][0]}",
           ether(MAC_B, MAC_A, ETH_P_IPV6, ipv6("2001:db8::1", "2001:db8::2", 17,
                                                udp(54321, 4789, vxlan(100, inner_v4)))))
    yield ("eth/ipv4+ra/udp 4789/vxlan 100/eth ipv4",
           ether(MAC_B, MAC_A, ETH_P_IP, ipv4("10.0.0.1", "10.0.0.2", 17,
                                              udp(54321, 4789, vxlan(100, inner_v4)),
                                              options=b"\x94\x04\x00\x00")))
    yield ("eth/ipv4/udp src 4789/not vxlan",
           ether(MAC_B, MAC_A, ETH_P_IP, ipv4("10.0.0.1", "10.0.0.2", 17,
                                              udp(4789, 33333, vxlan(100, inner_v4)))))


@functools.cache
def ethernet_frames() -> tuple[Frame, ...]:
    l3 = l3_payloads()
    return (*_plain_frames(l3), *_llc_frames(), *_vlan_frames(l3), *_mpls_frames(),
            *_pppoe_frames(), *_tunnel_frames())


# --------------------------------------------------------------------------------------------
# Re-wrapping for the other link types.

LINUX_SLL_P_802_3 = 0x0001
LINUX_SLL_P_802_2 = 0x0004
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772


def _split_ethernet(frame: bytes) -> tuple[bytes, int, bytes]:
    """(source MAC, protocol as SLL would carry it, payload after the Ethernet header)."""
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    payload = frame[14:]
    if ethertype <= 1500:
        raw = payload[:2] == b"\xff\xff"
        return frame[6:12], LINUX_SLL_P_802_3 if raw else LINUX_SLL_P_802_2, payload
    return frame[6:12], ethertype, payload


def _sll_frames() -> Iterator[Frame]:
    for i, (label, frame) in enumerate(ethernet_frames()):
        src, proto, payload = _split_ethernet(frame)
        pkttype = SLL_PKTTYPES[i % len(SLL_PKTTYPES)]
        hatype = ARPHRD_LOOPBACK if i % 11 == 5 else ARPHRD_ETHER
        hdr = struct.pack("!HHH", pkttype, hatype, 6) + src + b"\0\0" + struct.pack("!H", proto)
        yield f"sll pkttype {pkttype}/{label.split('/', 1)[-1]}", hdr + payload


def _sll2_frames() -> Iterator[Frame]:
    for i, (label, frame) in enumerate(ethernet_frames()):
        src, proto, payload = _split_ethernet(frame)
        pkttype = SLL_PKTTYPES[(i + 2) % len(SLL_PKTTYPES)]
        ifindex = SLL2_IFINDEXES[i % len(SLL2_IFINDEXES)]
        hdr = struct.pack("!HHIHBB", proto, 0, ifindex, ARPHRD_ETHER, pkttype, 6) + src + b"\0\0"
        yield f"sll2 ifindex {ifindex} pkttype {pkttype}/{label.split('/', 1)[-1]}", hdr + payload


def _ip_payloads() -> tuple[L3, ...]:
    """Every IPv4/IPv6 payload, including the tunnels' outer packets."""
    out = [x for x in l3_payloads() if x[1] in (ETH_P_IP, ETH_P_IPV6)]
    for label, frame in _tunnel_frames():
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        out.append((label.split("/", 1)[1], ethertype, frame[14:]))
    return tuple(out)


def _raw_frames() -> Iterator[Frame]:
    for label, _, body in _ip_payloads():
        yield label, body
    yield "arp bytes", bytes(ARP(op=1, hwsrc=MAC_A, psrc="10.0.0.1", pdst="10.0.0.2"))
    yield "version 5 nibble", b"\x55" + bytes(39)
    yield "version 0 nibble", bytes(40)


AF_VALUES_V4 = ((2, "<", "AF_INET le"), (2, ">", "AF_INET be"))
AF_VALUES_V6 = ((24, "<", "AF_INET6(24) le"), (28, "<", "AF_INET6(28) le"),
                (30, "<", "AF_INET6(30) le"), (24, ">", "AF_INET6(24) be"),
                (28, ">", "AF_INET6(28) be"), (30, ">", "AF_INET6(30) be"),
                (10, "<", "AF_INET6(linux 10) le"))
AF_OTHER = ((7, "<", "AF 7 le"), (23, ">", "AF 23 be"), (0, "<", "AF 0"),
            (0x02000000, "<", "AF 0x02000000 le"))


def _loopback_frames(prefer: str) -> Iterator[Frame]:
    """NULL (host order, ``prefer`` '<') and LOOP (network order, '>'), with the other order
    and other family values mixed in."""
    for i, (label, ethertype, body) in enumerate(_ip_payloads()):
        values = AF_VALUES_V4 if ethertype == ETH_P_IP else AF_VALUES_V6
        preferred = [v for v in values if v[1] == prefer]
        chosen = [preferred[i % len(preferred)]]
        if i % 4 == 1:
            chosen.append([v for v in values if v[1] != prefer][i % 2 - 1])
        for af, order, name in chosen:
            yield f"{name}/{label}", struct.pack(order + "I", af) + body
    v4 = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80))
    for af, order, name in AF_OTHER:
        yield f"{name}/ipv4/tcp", struct.pack(order + "I", af) + v4


#: EtherTypes as PPP protocol numbers (libpcap's ethertype_to_ppptype), the rest as they are.
PPP_OF_ETHERTYPE = {ETH_P_IP: 0x0021, ETH_P_IPV6: 0x0057, 0x6003: 0x0027, 0x809B: 0x0029,
                    0x0600: 0x0025, 0x8137: 0x002B}
PPP_MPLS_UCAST, PPP_OSI, PPP_LCP = 0x0281, 0x0023, 0xC021
#: ISO payloads as PPP (protocol 0x0023) and Cisco HDLC (0xFEFE) carry them: NLPID first.
_ISO_PDUS = (("clnp", b"\x81" + bytes(30)), ("esis", b"\x82" + bytes(30)),
             ("isis", b"\x83\x1b\x01\x00\x0f\x01\x00\x00" + bytes(24)))


def _hdlc_frames(cisco: bool) -> Iterator[Frame]:
    """PPP in HDLC-like framing (address 0xff, control 0x03, then the PPP protocol), or Cisco
    HDLC (address 0x0f unicast / 0x8f multicast, control 0, then an EtherType): every
    network-layer payload, MPLS, ISO, and a few protocols no filter names."""
    def frame(i: int, proto: int, body: bytes) -> bytes:
        head = bytes([0x8F if i % 5 == 3 else 0x0F, 0]) if cisco else b"\xff\x03"
        return head + struct.pack("!H", proto) + body

    kind = "chdlc" if cisco else "ppp"
    for i, (label, ethertype, body) in enumerate((*l3_payloads(), *_other_ethertypes())):
        proto = ethertype if cisco else PPP_OF_ETHERTYPE.get(ethertype, ethertype)
        yield f"{kind}/{label}", frame(i, proto, body)
    v4 = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(12345, 80))
    for stack in MPLS_STACKS:
        proto = ETH_P_MPLS_UC if cisco else PPP_MPLS_UCAST
        yield f"{kind}/mpls {stack}/ipv4", frame(0, proto, mpls_stack(stack) + v4)
    for i, (name, pdu) in enumerate(_ISO_PDUS):
        yield f"{kind}/iso {name}", frame(i, 0xFEFE if cisco else PPP_OSI, pdu)
    if not cisco:
        yield "ppp/lcp", frame(0, PPP_LCP, b"\x01\x01\x00\x04")
        yield "ppp/pppoes protocol/ipv4", frame(0, ETH_P_PPP_SES,
                                                 pppoe(0, 0x1234, b"\x00\x21" + v4))
    yield f"{kind}/protocol 0", frame(0, 0, bytes(20))


def _slip_frames() -> Iterator[Frame]:
    """SLIP's 16-byte pseudo-header (direction byte: 0 in, 1 out; then the compression
    state) before every IP payload; and, since libpcap reads the version nibble of the *first*
    byte of that header, frames whose first byte looks like an IP version."""
    for i, (label, body) in enumerate(_raw_frames()):
        direction = i % 2
        yield f"slip dir {direction}/{label}", bytes([direction, 0x45]) + bytes(14) + body
    for first in (0x45, 0x60, 0x40, 0x61):
        yield f"slip first byte 0x{first:02x}", bytes([first]) + bytes(15) + bytes(40)
    for label, ethertype, body in _ip_payloads()[:24]:
        if ethertype == ETH_P_IP:  # the version check passes on them: the IP fields count
            yield f"slip first byte 0x45/{label}", b"\x45" + bytes(15) + body


def _frame_relay_frames() -> Iterator[Frame]:
    """A Q.922 address (DLCI 100), the UI control byte, then an NLPID and its payload (IPv4,
    IPv6, the OSI protocols, SNAP, and one no filter names)."""
    address = b"\x18\x41"
    for label, ethertype, body in _ip_payloads():
        nlpid = 0xCC if ethertype == ETH_P_IP else 0x8E
        yield f"fr nlpid 0x{nlpid:02x}/{label}", address + bytes([0x03, nlpid]) + body
    for name, pdu in _ISO_PDUS:
        yield f"fr iso {name}", address + b"\x03" + pdu
    yield "fr snap", address + b"\x03\x00\x80\x00\x00\x00\x08\x00" + bytes(40)
    # libpcap reads the IP header at 0 and the NLPID at 2: an IPv4 packet whose total length
    # is 0x03cc passes the NLPID test, so its addresses and ports are what the filter sees.
    for label, ethertype, body in _ip_payloads()[:24]:
        if ethertype == ETH_P_IP:
            yield f"fr ip at 0/{label}", body[:2] + b"\x03\xcc" + body[4:]
    yield "fr nlpid 0x08", address + b"\x03\x08" + bytes(30)


def _generated(dlt: str) -> tuple[Frame, ...]:
    match dlt:
        case "SLIP":
            return tuple(_slip_frames())
        case "FRELAY":
            return tuple(_frame_relay_frames())
        case "PPP" | "PPP_SERIAL":
            return tuple(_hdlc_frames(cisco=False))
        case "C_HDLC":
            return tuple(_hdlc_frames(cisco=True))
        case "EN10MB":
            return ethernet_frames()
        case "LINUX_SLL":
            return tuple(_sll_frames())
        case "LINUX_SLL2":
            return tuple(_sll2_frames())
        case "RAW" | "IPV4" | "IPV6":
            return tuple(_raw_frames())
        case "NULL":
            return tuple(_loopback_frames("<"))
        case "LOOP":
            return tuple(_loopback_frames(">"))
    raise KeyError(dlt)


#: Where truncated copies are cut: around every header boundary the filters look at.
CUT_LENGTHS = (0, 1, 3, 4, 5, 6, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 27, 28,
               30, 32, 33, 34, 35, 36, 37, 38, 40, 41, 42, 43, 44, 46, 47, 48, 50, 52, 54, 55,
               56, 58, 60, 62, 64, 66, 68, 70, 74, 78, 82, 86, 90)


def truncations(frames: Iterable[Frame], per_frame: int = 4) -> Iterator[Packet]:
    """``per_frame`` cut copies of each frame, the cut lengths rotating through CUT_LENGTHS so
    that over a set every boundary is hit; the wire length stays the original."""
    for step, (label, data) in enumerate(frames):
        lengths = [n for n in CUT_LENGTHS if n < len(data)]
        for j in range(min(per_frame, len(lengths))):
            n = lengths[(step * 7 + j * 13) % len(lengths)]
            yield Packet(data[:n], len(data), f"cut {n}/{len(data)} {label}")


# --------------------------------------------------------------------------------------------
# Corpus packets.


@functools.cache
def corpus_files() -> tuple[tuple[str, str], ...]:
    """(file name, libpcap DLT name) from the inventory, in its order."""
    rows = (CORPUS / "inventory.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    col_file, col_dlt = header.index("file"), header.index("libpcap_dlt")
    out = []
    for row in rows[1:]:
        cols = row.split("\t")
        out.append((cols[col_file], cols[col_dlt].split("(")[0]))
    return tuple(out)


def corpus_available() -> bool:
    return (CORPUS / "inventory.tsv").exists()


def corpus_packets(dlt: str, per_file: int | None = None) -> tuple[Packet, ...]:
    """The corpus' packets of one DLT, at most ``per_file`` from each file (all when None)."""
    if not corpus_available():
        return ()
    out: list[Packet] = []
    for name, file_dlt in corpus_files():
        if file_dlt == dlt:
            packets = read_capture(CORPUS / "pcaps" / name).packets
            out.extend(packets if per_file is None else packets[:per_file])
    return tuple(out)


# --------------------------------------------------------------------------------------------
# The sets.

#: Corpus packets taken per file by default; BPFC_DIFF_CORPUS=all takes every one.
DEFAULT_PER_FILE = 4


def _per_file() -> int | None:
    value = os.environ.get("BPFC_DIFF_CORPUS", str(DEFAULT_PER_FILE))
    return None if value == "all" else int(value)


@functools.cache
def packets_for(dlt: str) -> tuple[Packet, ...]:
    """The whole deterministic set for one link type (by libpcap DLT name)."""
    if dlt not in DLTS:
        raise KeyError(f"no packet set for link type {dlt}")
    frames = _generated(dlt)
    whole = [Packet(data, len(data), f"gen {label}") for label, data in frames]
    cut = list(truncations(frames, per_frame=3 if dlt in ("EN10MB", "LINUX_SLL",
                                                          "LINUX_SLL2") else 5))
    unique: dict[tuple[bytes, int], Packet] = {}
    for packet in (*whole, *cut, *corpus_packets(dlt, _per_file())):
        unique.setdefault((packet.data, packet.wirelen), packet)
    return tuple(unique.values())
