"""``bpfc.attach``/``detach``/``lock`` on every kind of socket the kernel filters, and the
rewrites that move a filter to a socket's offset 0.

The cooked rewrite is checked against the VM alone (no root needed): the original program on
the cooked packet and the rewritten one on the packet without its header, with the ancillary
loads read from the header's fields, must agree on every packet of the LINUX_SLL/LINUX_SLL2
sets. The socket tests send real packets: UDP and TCP over loopback and UNIX datagrams need no
privileges; packet sockets use a veth pair in a namespace of our own (root).
"""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6

import bpfc
from bpfc import isa, kernel, sockfilter
from bpfc.errors import AttachError
from bpfc.isa import Insn
from tests import livekit, netns
from tests.packets import packets_for

# -- the cooked rewrite, against the VM ----------------------------------------------------------

COOKED_EXPRESSIONS = [
    "ip", "ip6", "arp", "udp port 53", "tcp port 80 or tcp port 443", "icmp or icmp6",
    "host 10.0.0.1", "net 192.168.0.0/16", "ip6 protochain 6", "ip[6:2] & 0x3fff != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn", "inbound", "outbound and ip",
    "greater 100", "less 80", "len - 14 > 40", "ip[len - 40] = 0",
    "ether proto 0x8100 or ether proto 0x8847",
    "pppoes", "pppoes 0x1234 and ip", "ip and udp[len - 50:2] > 0", "ip multicast",
]


def _ancillary(dlt: int, header: bytes) -> dict[int, int]:
    if dlt == bpfc.linktypes.DLT_LINUX_SLL2:
        protocol, _, ifindex, hatype, pkttype = struct.unpack_from(">HHIHB", header)
        return {isa.SKF_AD_PROTOCOL: protocol, isa.SKF_AD_IFINDEX: ifindex,
                isa.SKF_AD_HATYPE: hatype, isa.SKF_AD_PKTTYPE: pkttype}
    pkttype, hatype = struct.unpack_from(">HH", header)
    return {isa.SKF_AD_PKTTYPE: pkttype, isa.SKF_AD_HATYPE: hatype,
            isa.SKF_AD_PROTOCOL: struct.unpack_from(">H", header, 14)[0]}


@pytest.mark.parametrize("dlt_name", ["LINUX_SLL2", "LINUX_SLL"])
@pytest.mark.parametrize("expression", COOKED_EXPRESSIONS)
def test_cooked_rewrite_agrees_with_the_vm(dlt_name: str, expression: str) -> None:
    try:
        program = bpfc.compile(expression, dlt_name, live=True)
    except bpfc.FilterSemanticError:
        pytest.skip(f"'{expression}' does not compile for {dlt_name}")
    dlt = program.linktype.dlt  # type: ignore[union-attr]
    header = sockfilter.cooked_header_len(dlt)
    moved = sockfilter.cooked_program(program.insns, dlt)
    assert moved is not None
    verdicts = 0
    for packet in packets_for(dlt_name):
        data = packet.data
        if len(data) < header:
            continue
        rewritten = livekit.specialized(moved, _ancillary(dlt, data[:header]))
        expected = program.match(data)
        assert (rewritten.match(data[header:]) != 0) == (expected != 0), data.hex()
        verdicts += expected != 0
    assert verdicts > 0


def test_cooked_rewrite_adds_the_header_to_len_in_x() -> None:
    program = bpfc.Program.from_asm("ldx len\ntxa\njge #100, yes, no\nyes: ret #1\nno: ret #0\n")
    moved = sockfilter.cooked_program(program.insns, bpfc.linktypes.DLT_LINUX_SLL2)
    assert moved is not None
    for size in (79, 80, 81, 120):
        assert bpfc.Program(moved).match(bytes(size)) == program.match(bytes(size + 20))


def test_cooked_rewrite_gives_up() -> None:
    ld_len = Insn(isa.BPF_LD | isa.BPF_W | isa.BPF_LEN)
    ret = Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 1)
    far = [Insn(isa.BPF_JMP | isa.BPF_JEQ | isa.BPF_K, 200, 0, 1), *[ld_len] * 200, ret, ret]
    assert sockfilter.cooked_program(far, bpfc.linktypes.DLT_LINUX_SLL2) is None
    inside = bpfc.compile("link[12:4] = 1", "LINUX_SLL2")
    assert sockfilter.cooked_program(inside.insns, bpfc.linktypes.DLT_LINUX_SLL2) is None
    narrow = bpfc.Program.from_asm("ldb [0]\nret a\n")  # a byte of the protocol field
    assert sockfilter.cooked_program(narrow.insns, bpfc.linktypes.DLT_LINUX_SLL2) is None


# -- sockets anyone may filter --------------------------------------------------------------------

UDP_FILTERS = [
    ("src-port", "udp src port 40001"),
    ("dst-port-range", "udp dst portrange 1-65535 and src port 40002"),
    ("host", "src host 127.0.0.1"),
    ("payload", "udp[8:4] = 0x41424344"),
    ("ttl", "ip[8] = 64 and udp src port 40003"),
    ("ip6-next-header", "ip6[6] = 17 and udp src port 40001"),
    ("header-length", "ip[0] & 0xf = 5 and udp[8] = 0x5a"),
    ("either", "udp src port 40001 or udp[8:2] = 0x4142"),
]
UDP_SOURCES = (40001, 40002, 40003)
UDP_PAYLOADS = (b"ABCD1", b"ZZZZ2", b"AB3")


def _udp_sent(family: int, sport: int, dport: int, payload: bytes) -> bytes:
    """The IP packet the kernel builds for a datagram (the fields the filters read)."""
    if family == socket.AF_INET:
        return bytes(IP(src="127.0.0.1", dst="127.0.0.1", ttl=64, flags="DF")
                     / UDP(sport=sport, dport=dport) / payload)
    return bytes(IPv6(src="::1", dst="::1", hlim=64) / UDP(sport=sport, dport=dport) / payload)


def _datagrams(family: int, text: str) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    with socket.socket(family, socket.SOCK_DGRAM) as rx:
        rx.bind((host, 0))
        port = rx.getsockname()[1]
        program = bpfc.attach(rx, text)
        sent = []
        for sport in UDP_SOURCES:
            with socket.socket(family, socket.SOCK_DGRAM) as tx:
                tx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tx.bind((host, sport))
                for payload in UDP_PAYLOADS:
                    tx.sendto(payload, (host, port))
                    sent.append((sport, payload))
        got = []
        rx.settimeout(0.05)
        try:
            while True:
                data, source = rx.recvfrom(2048)
                got.append((source[1], data))
        except TimeoutError:
            pass
    offline = bpfc.compile(text, "RAW")
    expected = [(s, p) for s, p in sent if offline.match(_udp_sent(family, s, port, p))]
    packet_loads = [i for i in program.insns
                    if (isa.BPF_CLASS(i.code) == isa.BPF_LD
                        and isa.BPF_MODE(i.code) in (isa.BPF_ABS, isa.BPF_IND))
                    or i.code == isa.BPF_LDX | isa.BPF_B | isa.BPF_MSH]
    assert packet_loads  # it reads the packet, every time through the network window
    assert all(i.k >= isa.SKF_NET_OFF for i in packet_loads), program.dump("d")
    return got, expected


FAMILIES = {"udp4": socket.AF_INET, "udp6": socket.AF_INET6}


@pytest.fixture(scope="module")
def udp_results() -> dict[tuple[str, str], tuple[list[tuple[int, bytes]],
                                                 list[tuple[int, bytes]]]]:
    return {(family, name): _datagrams(FAMILIES[family], text)
            for family in FAMILIES for name, text in UDP_FILTERS}


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("name", [n for n, _ in UDP_FILTERS])
def test_udp_socket_sees_the_ip_header(udp_results: dict, family: str,  # type: ignore[type-arg]
                                       name: str) -> None:
    got, expected = udp_results[(family, name)]
    assert sorted(got) == sorted(expected)


def test_udp_filters_discriminate(udp_results: dict) -> None:  # type: ignore[type-arg]
    every = len(FAMILIES) * len(UDP_SOURCES) * len(UDP_PAYLOADS)
    for name, _ in UDP_FILTERS:
        kept = sum(len(udp_results[(family, name)][1]) for family in FAMILIES)
        assert 0 < kept < every, name


def test_udp_socket_refuses_len() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, \
            pytest.raises(AttachError, match="'len' is not available"):
        bpfc.attach(sock, "greater 100")


def _connects(port: int, sport: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        client.bind(("127.0.0.1", sport))
        client.settimeout(0.4)
        try:
            client.connect(("127.0.0.1", port))
        except (TimeoutError, OSError):
            return False
        client.sendall(b"hello")
    return True


def test_tcp_listener_filters_syns() -> None:
    """On a TCP socket the filter sees each segment from its TCP header on; the listener's
    filter decides which SYNs reach it, and accepted connections inherit it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        bpfc.attach(server, "tcp src port 40011 or tcp src port 40013")
        port = server.getsockname()[1]
        results = {sport: _connects(port, sport) for sport in (40011, 40012, 40013)}
    assert results == {40011: True, 40012: False, 40013: True}


def _drain(sock: socket.socket) -> list[bytes]:
    """Every datagram waiting on ``sock``."""
    got = []
    while True:
        try:
            got.append(sock.recv(4096, socket.MSG_DONTWAIT))
        except BlockingIOError:
            return got


def test_unix_socket_sees_the_message() -> None:
    frames = livekit.frames(b"\x02" * 6, b"\x04" * 6)
    text = "udp port 53 or vlan 7"
    rx, tx = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with rx, tx:
        program = bpfc.attach(rx, text)
        for frame in frames:
            tx.send(frame)
        got = _drain(rx)
    assert program == bpfc.compile(text)
    assert sorted(got) == sorted(f for f in frames if program.match(f))
    assert 0 < len(got) < len(frames)


def test_sock_fprog_is_what_setsockopt_takes() -> None:
    """``Program.sock_fprog()`` for callers who attach themselves: the kernel runs it."""
    frames = livekit.frames(b"\x02" * 6, b"\x04" * 6)
    program = bpfc.compile("udp port 53 or vlan 7")
    fprog = program.sock_fprog()
    assert fprog.len == len(program.insns)
    assert [(f.code, f.jt, f.jf, f.k) for f in fprog.filter[:fprog.len]] == list(program.insns)
    rx, tx = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with rx, tx:
        rx.setsockopt(socket.SOL_SOCKET, kernel.SO_ATTACH_FILTER, bytes(fprog))
        for frame in frames:
            tx.send(frame)
        got = _drain(rx)
    assert sorted(got) == sorted(f for f in frames if program.match(f))
    assert 0 < len(got) < len(frames)


def test_detach_and_lock() -> None:
    rx, tx = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with rx, tx:
        assert bpfc.detach(rx) is False
        bpfc.attach(rx, bpfc.Program([Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 0)]))
        tx.send(b"dropped")
        assert bpfc.detach(rx) is True
        tx.send(b"kept")
        assert rx.recv(64) == b"kept"
        bpfc.attach(rx, bpfc.Program([Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 2)]))
        bpfc.lock(rx)
        with pytest.raises(AttachError, match="locked") as refused:
            bpfc.attach(rx, bpfc.Program([Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 0)]))
        assert isinstance(refused.value.__cause__, OSError)
        assert refused.value.__cause__.errno == errno.EPERM
        with pytest.raises(AttachError):
            bpfc.detach(rx)
        tx.send(b"trimmed")
        assert rx.recv(64) == b"tr"


def test_socket_views() -> None:
    cases = [
        (socket.AF_INET, socket.SOCK_DGRAM, "RAW", "network"),
        (socket.AF_INET6, socket.SOCK_STREAM, "RAW", "network"),
        (socket.AF_UNIX, socket.SOCK_DGRAM, "EN10MB", "none"),
    ]
    for family, kind, linktype, rewrite in cases:
        with socket.socket(family, kind) as sock:
            view = sockfilter.socket_view(sock)
            assert (view.linktype.name, view.rewrite, view.live) == (linktype, rewrite, False)


# -- packet sockets (root) -------------------------------------------------------------------------

needs_netns = pytest.mark.skipif(netns.unavailable() is not None,
                                 reason=netns.unavailable() or "")


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[netns.Netns, netns.Veth, list[bytes]]]:
    with netns.veth_or_skip() as (ns, veth):
        yield ns, veth, livekit.frames(veth.mac_a, veth.mac_b)


@dataclass
class _Flood:
    """A thread sending ``frames`` round after round until ``stop`` is set; ``rounds`` counts
    the rounds it has finished."""

    stop: threading.Event
    thread: threading.Thread
    rounds: int = 0

    def wait_rounds(self, count: int, limit: float = 5.0) -> None:
        """Until ``count`` more whole rounds have gone out (the frames sent after this call)."""
        target = self.rounds + count
        deadline = time.monotonic() + limit
        while self.rounds < target and time.monotonic() < deadline:
            time.sleep(0.001)
        assert self.rounds >= target, "the flood stalled"


def _flooding(ns: netns.Netns, device: str, frames: list[bytes]) -> _Flood:
    flood = _Flood(threading.Event(), threading.Thread(daemon=True))

    def send() -> None:
        with ns.sender(device) as sock:
            while not flood.stop.is_set():
                for frame in frames:
                    sock.send(frame)
                flood.rounds += 1

    flood.thread = threading.Thread(target=send, daemon=True)
    flood.thread.start()
    return flood


def _read_all(sock: socket.socket, quiet: float = 0.1) -> list[bytes]:
    got = []
    sock.settimeout(quiet)
    try:
        while len(got) < 10000:
            got.append(sock.recv(65536))
    except TimeoutError:
        pass
    return got


@needs_netns
@pytest.mark.parametrize("drain", [True, False], ids=["drained", "not-drained"])
def test_attach_to_a_busy_packet_socket(pair: tuple[netns.Netns, netns.Veth, list[bytes]],
                                        drain: bool) -> None:
    """Attaching to a packet socket that is already receiving: with the drain (the default),
    nothing received before the filter was in place is read afterwards; without it, the
    frames queued before show up, which is what the drain is for."""
    ns, veth, frames = pair
    text = "udp port 53 and not vlan"
    program = bpfc.compile(text, live=True)
    keep = {f for f in frames
            if livekit.verdict(program, livekit.received_view(f, veth.mac_b, veth.index_b))}
    flood = _flooding(ns, veth.a, frames)
    try:
        with ns.entered():
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        with sock:
            sock.bind((veth.b, 3))
            time.sleep(0.05)  # let frames of every kind queue up
            attached = bpfc.attach(sock, text, drain=drain)
            flood.wait_rounds(2)  # at least one whole round sent with the filter in place
            flood.stop.set()
            flood.thread.join(5)
            got = _read_all(sock)
    finally:
        flood.stop.set()
    assert attached == program
    leaked = [g for g in got if g not in keep]
    assert got
    assert (not leaked) if drain else leaked


@needs_netns
def test_attach_to_a_cooked_packet_socket(pair: tuple[netns.Netns, netns.Veth, list[bytes]]
                                          ) -> None:
    ns, veth, frames = pair
    text = "udp port 53 or arp"
    with ns.entered():
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    with sock:
        program = bpfc.attach(sock, text)
        sock.bind((veth.b, 3))
        with ns.sender(veth.a) as tx:
            for frame in frames:
                tx.send(frame)
        got = _read_all(sock)
    live = bpfc.compile(text, live=True)
    views = [livekit.received_view(f, veth.mac_b, veth.index_b) for f in frames]
    # A cooked socket's data starts at the network header: after the (stripped) tag.
    expected = [v.data[14:] for v in views if livekit.verdict(live, v)]
    assert program.linktype is not None and program.linktype.name == "LINUX_SLL2"
    assert sorted(got) == sorted(expected)
