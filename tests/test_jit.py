"""The Python JIT: identical to the VM on everything, identical to libpcap on libpcap's own
programs over the corpus packets. How much faster than the VM it is, is measured by
``bench/bench_vm.py``, not asserted here (no timing assertions in unit tests)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings

from bpfc import isa, jit, vm
from bpfc.errors import ProgramError
from bpfc.isa import Insn

from . import strategies as S
from .conftest import CORPUS

VECTORS = [v for v in S.kernel_vectors() if v.category != "validator"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_kernel_vectors(vector: S.Vector) -> None:
    want = vector.expected if vector.category == "portable" else vector.libpcap_result
    assert jit.run(vector.insns, vector.packet, vector.wirelen) == want


#: Nesting limits to compile with: the default, and ones small enough that random programs
#: hand most blocks over to sections (the path a 4096-instruction program takes).
DEPTHS = (jit.MAX_DEPTH, 0, 1, 3)


@settings(max_examples=400)
@given(S.checked_programs(S.Options(max_insns=40)), S.packets(), S.packets())
def test_agrees_with_vm(program: list[Insn], packet: bytes, extra: bytes) -> None:
    """Never raises, and returns what the VM returns, for any checked program."""
    wirelen = len(packet) + len(extra)
    want = vm.run(program, packet), vm.run(program, packet, wirelen)
    for depth in DEPTHS:
        func = jit.compile_filter(program, depth)
        assert (func(packet, len(packet)), func(packet, wirelen)) == want, depth


def test_agrees_with_vm_bulk() -> None:
    """3,000 seeded programs of up to 60 instructions, × 4 packets, × 2 nesting limits."""
    chooser = S.RandomChooser(7)
    opts = S.Options(max_insns=60)
    for n in range(3000):
        program = S.checked_program(chooser, opts)
        funcs = [jit.compile_filter(program), jit.compile_filter(program, DEPTHS[1 + n % 3])]
        for _ in range(4):
            packet = S.packet(chooser, opts)
            want = vm.run(program, packet)
            assert [f(packet, len(packet)) for f in funcs] == [want, want], \
                (program, packet.hex())


def _shared_tail_chain(length: int) -> list[Insn]:
    """A chain of tests that all jump to one shared, non-trivial block at the end: deep
    nesting if inlined, so it exercises sections and the nesting limit."""
    body = []
    for pc in range(length):
        body.append(Insn(isa.BPF_JMP | isa.BPF_JEQ | isa.BPF_K, 0, min(255, length - pc - 1),
                         pc & 0xFF))
    return [Insn(isa.BPF_LD | isa.BPF_B | isa.BPF_ABS, 0, 0, 0), *body,
            Insn(isa.BPF_ALU | isa.BPF_ADD | isa.BPF_K, 0, 0, 1000), Insn(isa.BPF_RET | isa.BPF_A)]


@pytest.mark.parametrize("length", [2, 3, 100, 254], ids=lambda n: f"chain-{n}")
def test_shared_blocks_become_sections(length: int) -> None:
    program = _shared_tail_chain(length)
    text = jit.source(program)
    assert "if b == " in text
    for first in (0, 1, 2, 255):
        packet = bytes([first]) + bytes(10)
        assert jit.run(program, packet) == vm.run(program, packet)


def test_deep_nesting_is_capped() -> None:
    """1,300 tests, each nested in the previous one's true arm (the false arm is a two-insn
    block only it reaches), still compile: past the depth limit blocks become sections."""
    program = [Insn(isa.BPF_LD | isa.BPF_B | isa.BPF_ABS, 0, 0, 0)]
    for level in range(1300):
        program += [Insn(isa.BPF_JMP | isa.BPF_JGT | isa.BPF_K, 2, 0, level % 256),
                    Insn(isa.BPF_LD | isa.BPF_IMM, 0, 0, level), Insn(isa.BPF_RET | isa.BPF_A)]
    program.append(Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 99))
    isa.check(program)
    assert "if b == " in jit.source(program)
    for first in (0, 3, 200, 255):
        packet = bytes([first])
        assert jit.run(program, packet) == vm.run(program, packet)


def test_cache_is_keyed_by_program_bytes() -> None:
    program = [Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 7)]
    assert jit.compile_filter(program) is jit.compile_filter([(0x06, 0, 0, 7)])  # type: ignore[list-item]
    assert jit.compile_filter(program) is not jit.compile_filter([Insn(0x06, 0, 0, 8)])


@pytest.mark.parametrize("program", [
    pytest.param([], id="empty"),
    pytest.param([Insn(isa.BPF_LD | isa.BPF_IMM)], id="no-final-ret"),
    pytest.param([Insn(0x15, 300, 0, 0), Insn(0x06)], id="jt-out-of-u8"),
    pytest.param([Insn(isa.BPF_ALU | isa.BPF_DIV | isa.BPF_K), Insn(0x06)], id="div-by-0"),
])
def test_refuses_unchecked_programs(program: list[Insn]) -> None:
    with pytest.raises(ProgramError):
        jit.compile_filter(program)


# --- against libpcap on its own programs ------------------------------------------------------

#: Our own expressions, on top of the corpus list: every primitive family, arithmetic, and
#: combinations that make libpcap's optimizer share blocks.
EXPRESSIONS = """
ip or ip6
ip and not tcp
tcp or udp or icmp
host 192.168.1.1
src host 10.1.1.1 or dst host 10.1.1.2
host 192.168.1.1 and host 192.168.1.2
net 192.168.0.0/24 and not net 192.168.0.128/25
dst net 10.0.0.0/8 or src net 172.16.0.0/12
ip src 10.0.0.1
ip dst 224.0.0.5
ip6 src fe80::1
ip6 dst ff02::1
host ::1
net 2001:db8::/32
net ::/0
ether src 00:00:00:00:00:00
ether host ff:ff:ff:ff:ff:ff
ether dst 33:33:00:00:00:01
ether src host 00:50:56:c0:00:08 or ether dst host 00:50:56:c0:00:08
broadcast
multicast
ip broadcast
ip6 multicast
port 22
port 80 or port 443
port 53 and udp
tcp port 22 and not src port 22
udp port 123
src port 1024
dst port 8080
port 0
port 65535
portrange 0-65535
portrange 6000-6010
tcp portrange 20-21
udp portrange 67-68
sctp port 9899
tcp dst port 80 and ip[2:2] > 100
tcp[13] & 2 != 0
tcp[13] == 18
tcp[tcpflags] & tcp-rst != 0
tcp[tcpflags] & (tcp-push|tcp-ack) == (tcp-push|tcp-ack)
tcp[tcpflags] & tcp-urg != 0
tcp[0:2] > 1023
tcp[2:2] < 1024
tcp[4:4] == 0
tcp[12] >> 4 > 5
udp[0:2] == 53 or udp[2:2] == 53
udp[4:2] > 512
icmp[0] == 8
icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply
icmp[icmptype] == icmp-unreach
icmp6[0] == 135 or icmp6[0] == 136
ip[0] & 0xf0 == 0x40
ip[1] & 0xfc != 0
ip[8] == 1
ip[9] == 6 and ip[6:2] & 0x3fff == 0
ip[12:4] == 0x0a000001
ip[16] >= 224
ip[2:2] & 1 == 1
ip[2:2] / 4 > 100
ip[2:2] * 2 < 3000
ip[2:2] - 20 > 0
ip[2:2] % 3 == 0
ip[2:2] + ip[0] > 100
ip[0] | 0x0f == 0x4f
ip[0] ^ 0x45 == 0
ip[3] << 1 > 100
ip[2:2] >> 8 == 5
len > 100
len <= 60
len >= 1500
len - 14 > 1000
len / 2 == 30
len * 3 > 500
len & 0xff == 0x40
less 128 and greater 64
greater 64 and ip
ip6[0] & 0xf0 == 0x60
ip6[7] < 10
ip6[40] == 128
ip6 and tcp
ip6 and udp port 546
ip6 and icmp6
ip proto 1
ip proto 2
ip proto 50 or ip proto 51
ip6 proto 58
ip6 proto 17 and udp
proto 6
proto \\udp
ether proto 0x0806
ether proto 0x86dd
ether proto \\ip
ether[0] & 1 == 1
ether[12:2] == 0x0800
ether[12:2] > 1500
ether[14] == 0xaa
arp and arp[7] == 1
arp[6:2] == 2
rarp or arp
vlan and tcp
vlan 1
vlan and vlan
vlan 100 and ip
vlan and udp port 53
mpls and ip
mpls 0
pppoed
pppoes and ip
pppoes 1
iso
stp
ipx
atalk
aarp
decnet
netbeui
llc
not llc
ip and (tcp or udp) and not port 22 and not port 53
(host 10.0.0.1 or host 10.0.0.2) and (port 80 or port 8080)
not (ip or ip6 or arp)
not broadcast and not multicast
tcp and (tcp[tcpflags] & (tcp-syn|tcp-ack)) == tcp-syn
(ip[2:2] > 1000 and tcp) or (ip[2:2] < 100 and udp)
udp and (udp[8] & 0x80) == 0x80
ip and ip[8] < 5
ip and not ip[6:2] & 0x1fff == 0
icmp or (udp and port 53) or (tcp and port 80)
ip host 10.0.0.1 and ip host 10.0.0.2
gateway 10.0.0.1 and not host 10.0.0.1
ip multicast or ip6 multicast
ether broadcast or ether multicast
inbound and ip
outbound or arp
ifindex 1
ifindex 2 and ip
""".strip().splitlines()

#: Link types with corpus packets worth filtering; each gets every expression libpcap accepts.
DLTS = (1, 113, 12, 0, 108, 276, 9, 127, 228, 229, 104, 107, 129, 242)


def _expressions() -> list[str]:
    corpus = (CORPUS / "expressions.txt")
    listed = corpus.read_text().splitlines() if corpus.exists() else []
    seen: dict[str, None] = dict.fromkeys(e.strip() for e in [*listed, *EXPRESSIONS])
    return [e for e in seen if e]


def _known_uncheckable(dlt: int, expr: str) -> bool:
    """What our checker refuses among libpcap's output, and why: ``protochain`` loops
    backwards (libpcap's own interpreter allows it; the kernel does not), and on radiotap
    (127) libpcap 1.10.3's ``pppoes`` code reads M[0] before writing it."""
    return "protochain" in expr or (dlt == 127 and "pppoes" in expr)


@pytest.fixture(scope="module")
def libpcap_programs() -> list[tuple[int, str, list[Insn], Callable[[bytes], int]]]:
    pcapy = pytest.importorskip("pcapy")
    programs = []
    refused = set()
    for dlt in DLTS:
        for expr in _expressions():
            try:
                bpf = pcapy.compile(dlt, 262144, expr, 1, 0)
            except pcapy.PcapError:
                continue
            program = [Insn(*i) for i in bpf.get_bpf()]
            if not isa.is_valid(program):
                refused.add((dlt, expr))
                continue
            programs.append((dlt, expr, program, bpf.filter))
    unexpected = {(dlt, expr) for dlt, expr in refused if not _known_uncheckable(dlt, expr)}
    assert not unexpected
    return programs


@pytest.fixture(scope="module")
def packets_by_dlt() -> dict[int, list[bytes]]:
    pytest.importorskip("pcapy")
    return S.corpus_packets()


def test_engines_agree_with_libpcap_on_corpus(
        libpcap_programs: list[tuple[int, str, list[Insn], Callable[[bytes], int]]],
        packets_by_dlt: dict[int, list[bytes]]) -> None:
    """Every program libpcap emits for our expressions on each link type, on every corpus
    packet of that link type: the JIT on all of them, the VM on a rotating fifth (every
    packet is still seen by the VM under some expression). ``filter()`` passes
    wirelen = caplen, and so do we."""
    cases = 0
    programs_per_dlt: dict[int, int] = {}
    for n, (dlt, expr, program, libpcap_filter) in enumerate(libpcap_programs):
        packets = packets_by_dlt.get(dlt, [])
        if not packets:
            continue
        programs_per_dlt[dlt] = programs_per_dlt.get(dlt, 0) + 1
        func = jit.compile_filter(program)
        for i, packet in enumerate(packets):
            want = libpcap_filter(packet)
            assert func(packet, len(packet)) == want, (dlt, expr, i)
            if (i + n) % 5 == 0:
                assert vm.run(program, packet) == want, (dlt, expr, i)
            cases += 1
    assert programs_per_dlt[1] >= 190
    assert len(libpcap_programs) >= 1000
    assert cases >= 500_000


