"""Crafted frames for live tests, and a model of what the kernel's filter sees of each one.

``frames(mac_a, mac_b)`` is a fixed set of Ethernet frames built with scapy: IPv4 and IPv6 over
UDP, TCP and ICMP, IPv4 options and fragments, IPv6 extension headers and fragments, ARP,
802.1Q, 802.1ad QinQ and priority-tagged frames, 802.3/LLC, broadcast, multicast and other
hosts' unicast. Every frame carries a unique marker, so a capture is compared as a set of bytes.

The oracle is our VM, run on what the kernel's filter sees: on the receiving side the kernel
has already moved the outer VLAN tag into metadata (``skb_vlan_untag``) and classified the
frame (``eth_type_trans``). ``received_view``/``sent_view`` model that, and ``expected`` runs
the live program on it with every ancillary load replaced by the metadata value as a constant
(``ld #v``), which is exactly what the kernel's ancillary load yields.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR, fragment
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, LLC, STP, Dot1AD, Dot1Q, Dot3, Ether
from scapy.packet import Packet, Raw

from bpfc import isa
from bpfc.isa import Insn
from bpfc.program import Program

PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING = range(5)
ETH_P_802_3 = 0x0001
ETH_P_802_2 = 0x0004
BROADCAST = "ff:ff:ff:ff:ff:ff"


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def frames(mac_a: bytes, mac_b: bytes, base: int = 0) -> list[bytes]:
    """The test frames, sent from ``mac_a`` (mostly to ``mac_b``), their markers numbered from
    ``base``."""
    src, dst = mac_text(mac_a), mac_text(mac_b)
    other = "02:00:00:00:00:99"

    def eth(to: str = dst) -> Ether:
        return Ether(src=src, dst=to)

    v4 = IP(src="10.0.0.1", dst="10.0.0.2")
    v6 = IPv6(src="2001:db8::1", dst="2001:db8::2")
    big = UDP(sport=4000, dport=53) / Raw(b"x" * 1200)
    layers: list[Packet] = [
        eth() / v4 / UDP(sport=1000, dport=53),
        eth() / v4 / UDP(sport=53, dport=5353),
        eth() / v4 / TCP(sport=40000, dport=80, flags="S"),
        eth() / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=40000, flags="A"),
        eth() / IP(src="10.0.0.1", dst="10.1.2.3") / ICMP(type=8),
        eth() / IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption_RR()]) / UDP(dport=53),
        eth() / v6 / UDP(sport=1000, dport=53),
        eth() / v6 / TCP(dport=22, flags="S"),
        eth() / v6 / ICMPv6EchoRequest(),
        eth() / v6 / IPv6ExtHdrHopByHop() / UDP(dport=53),
        eth() / v6 / IPv6ExtHdrFragment(m=1, id=7) / UDP(dport=53),
        eth(BROADCAST) / ARP(op=1, hwsrc=src, psrc="10.0.0.1", pdst="10.0.0.2"),
        eth() / ARP(op=2, hwsrc=src, psrc="10.0.0.2", hwdst=dst, pdst="10.0.0.1"),
        eth() / Dot1Q(vlan=7) / v4 / UDP(sport=1000, dport=53),
        eth() / Dot1Q(vlan=8) / v4 / TCP(dport=80, flags="S"),
        eth() / Dot1Q(vlan=7) / v6 / UDP(dport=53),
        eth(BROADCAST) / Dot1Q(vlan=7) / ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.3"),
        eth() / Dot1AD(vlan=100) / Dot1Q(vlan=7) / v4 / UDP(dport=53),
        eth() / Dot1Q(vlan=0, prio=5) / v4 / UDP(dport=53),
        Dot3(src=src, dst="01:80:c2:00:00:00") / LLC() / STP(),
        Ether(src=src, dst="01:00:5e:00:00:fb") / IP(src="10.0.0.1", dst="224.0.0.251")
        / UDP(sport=5353, dport=5353),
        eth(BROADCAST) / IP(src="10.0.0.1", dst="255.255.255.255") / UDP(dport=67),
        eth() / v4 / big,
        eth(other) / IP(src="10.9.9.9", dst="10.9.9.8") / TCP(dport=443, flags="S"),
    ]
    layers += [eth() / f for f in fragment(IP(src="10.0.0.1", dst="10.0.0.9", id=77)
                                           / UDP(sport=1000, dport=53) / Raw(b"y" * 60),
                                           fragsize=32)]
    layers += [eth() / Dot1Q(vlan=7) / f
               for f in fragment(IP(src="10.0.0.1", dst="10.0.0.9", id=78)
                                 / UDP(dport=53) / Raw(b"z" * 40), fragsize=24)[1:]]
    out = []
    for i, layer in enumerate(layers, base):
        data = bytes(layer)
        if Raw not in layer or ARP in layer or STP in layer:
            data += b"bpfc#%04d" % i  # a trailer: the marker, past every header the filters read
        else:
            data = data[:-1] + bytes([i & 0xFF])  # the last payload byte is the marker
        out.append(data)
    assert len(set(out)) == len(out)
    return out


@dataclass(frozen=True, slots=True)
class View:
    """A frame as the kernel's filter sees it, with the metadata ancillary loads read."""

    data: bytes
    ancillary: dict[int, int]


def received_view(frame: bytes, mac: bytes, ifindex: int) -> View:
    """What a packet socket's filter sees of ``frame`` arriving on the device with ``mac``."""
    present, tci, tpid = 0, 0, 0
    kind = struct.unpack_from(">H", frame, 12)[0]
    if kind in (0x8100, 0x88A8):
        present, tpid, tci = 1, kind, struct.unpack_from(">H", frame, 14)[0]
        frame = frame[:12] + frame[16:]
    dst = frame[:6]
    if dst == mac:
        pkttype = PACKET_HOST
    elif dst == b"\xff" * 6:
        pkttype = PACKET_BROADCAST
    elif dst[0] & 1:
        pkttype = PACKET_MULTICAST
    else:
        pkttype = PACKET_OTHERHOST
    protocol = struct.unpack_from(">H", frame, 12)[0]
    if protocol < 0x600:
        protocol = ETH_P_802_3 if frame[14:16] == b"\xff\xff" else ETH_P_802_2
    return View(frame, {isa.SKF_AD_PROTOCOL: protocol, isa.SKF_AD_PKTTYPE: pkttype,
                        isa.SKF_AD_IFINDEX: ifindex, isa.SKF_AD_HATYPE: 1,
                        isa.SKF_AD_VLAN_TAG_PRESENT: present, isa.SKF_AD_VLAN_TAG: tci,
                        isa.SKF_AD_VLAN_TPID: tpid})


def sent_view(frame: bytes, ifindex: int) -> View:
    """What the filter sees of ``frame`` leaving a device through a packet socket: the bytes as
    sent (a tag in the data stays there), packet type PACKET_OUTGOING."""
    return View(frame, {isa.SKF_AD_PROTOCOL: struct.unpack_from(">H", frame, 12)[0],
                        isa.SKF_AD_PKTTYPE: PACKET_OUTGOING, isa.SKF_AD_IFINDEX: ifindex,
                        isa.SKF_AD_HATYPE: 1, isa.SKF_AD_VLAN_TAG_PRESENT: 0,
                        isa.SKF_AD_VLAN_TAG: 0, isa.SKF_AD_VLAN_TPID: 0})


def specialized(insns: Sequence[Insn], ancillary: dict[int, int]) -> Program:
    """``insns`` with each ancillary load replaced by ``ld #value``; every other ancillary
    load is a test bug (the model does not know its value)."""
    out = []
    for insn in insns:
        if isa.BPF_CLASS(insn.code) == isa.BPF_LD and isa.BPF_MODE(insn.code) == isa.BPF_ABS \
                and insn.k >= isa.SKF_AD_OFF:
            out.append(Insn(isa.BPF_LD | isa.BPF_IMM, 0, 0, ancillary[insn.k - isa.SKF_AD_OFF]))
        else:
            out.append(insn)
    return Program(out)


def verdict(program: Program, view: View) -> bool:
    return specialized(program.insns, view.ancillary).match(view.data) != 0


def expected(program: Program | None, sent: Sequence[bytes],
             view: Callable[[bytes], View]) -> list[bytes]:
    """The frames of ``sent`` the kernel should deliver, as they were sent."""
    if program is None:
        return list(sent)
    return [frame for frame in sent if verdict(program, view(frame))]
