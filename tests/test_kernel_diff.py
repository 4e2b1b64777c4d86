"""The VM and the JIT against the Linux kernel's own classic BPF interpreter.

Each program is attached with SO_ATTACH_FILTER to one end of an AF_UNIX datagram socket pair
and each packet is sent from the other end: the kernel drops the datagram when the filter
returns 0 and trims it to min(ret, len) otherwise, so ``FilterProbe.verdict`` shows the
filter's result. Generated programs use ``Options.portable(observable_ret=True)``, which turns
some ``ret a`` into ``A % len + 1`` so that the socket reveals A itself.

Where libpcap (which the VM follows) and Linux differ, the random comparison leaves the case
out and a test below pins the difference down against both:

- ancillary loads (SKF_AD_OFF + n) and special offsets (SKF_NET_OFF, SKF_LL_OFF): kernel only;
  left out of the generator, since they are visible in the program;
- ``[x + k]`` when the unbounded sum reaches SKF_LL_OFF (2**32 - 2**21) or beyond: Linux adds
  modulo 2**32 and reads the result as signed, libpcap refuses the overflow;
- shifts by X >= 32: Linux (x86-64) shifts by X & 31, libpcap gives 0.
The last two depend on run-time values, so ``_divergence`` finds them in the VM's trace.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc import isa, jit, kernel, vm
from bpfc.errors import AttachError
from bpfc.isa import Insn

from . import strategies as S


def _kernel_filters_unix_sockets() -> bool:
    try:
        with kernel.FilterProbe() as probe:
            probe.load([Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 2)])
            return probe.verdict(b"abc") == 2
    except (OSError, AttachError):
        return False


pytestmark = pytest.mark.skipif(not _kernel_filters_unix_sockets(),
                                reason="no SO_ATTACH_FILTER on AF_UNIX sockets here")

OPTIONS = S.Options.portable(observable_ret=True, max_insns=40)
_SHIFTS_X = frozenset((isa.BPF_ALU | isa.BPF_LSH | isa.BPF_X,
                       isa.BPF_ALU | isa.BPF_RSH | isa.BPF_X))


def _divergence(trace: vm.Trace) -> str | None:
    """The documented libpcap/Linux difference this run hit, if any."""
    for step in trace.steps:
        info = isa.OPCODES[step.insn.code]
        if info.operand == "ind" and step.x + step.insn.k >= isa.SKF_LL_OFF:
            return "ind-offset-wraps"
        if step.insn.code in _SHIFTS_X and step.x >= 32:
            return "shift-by-x-32-or-more"
    return None


@pytest.fixture(scope="module")
def probe() -> Iterator[kernel.FilterProbe]:
    with kernel.FilterProbe() as p:
        yield p


def _compare(probe: kernel.FilterProbe, program: list[Insn],
             packets: list[bytes]) -> tuple[int, int]:
    """Compare VM, JIT and kernel on each packet; returns (compared, left out)."""
    probe.load(program)
    func = jit.compile_filter(program)
    compared = left_out = 0
    for packet in packets:
        trace = vm.trace(program, packet)
        assert func(packet, len(packet)) == trace.result
        if _divergence(trace):
            left_out += 1
            continue
        want = kernel.expected_verdict(trace.result, len(packet))
        assert probe.verdict(packet) == want, (program, packet.hex(), trace.result)
        compared += 1
    return compared, left_out


@settings(max_examples=300)
@given(S.checked_programs(OPTIONS), st.lists(S.packets(OPTIONS), min_size=1, max_size=6))
def test_agrees_with_kernel(probe: kernel.FilterProbe, program: list[Insn],
                            packets: list[bytes]) -> None:
    _compare(probe, program, packets)


def test_agrees_with_kernel_bulk(probe: kernel.FilterProbe) -> None:
    """3,000 seeded programs × 4 packets; checks that the comparison is not vacuous (few
    cases left out; drops, trims and whole packets all seen)."""
    chooser = S.RandomChooser(1989)
    compared = left_out = 0
    outcomes = {"dropped": 0, "trimmed": 0, "whole": 0}
    for _ in range(3000):
        program = S.checked_program(chooser, OPTIONS)
        packets = [S.packet(chooser, OPTIONS) for _ in range(4)]
        done, skipped = _compare(probe, program, packets)
        compared += done
        left_out += skipped
        for packet in packets:
            result = vm.run(program, packet)
            outcome = ("dropped" if result == 0 else
                       "trimmed" if result < len(packet) else "whole")
            outcomes[outcome] += 1
    assert compared >= 11_000
    assert left_out < 0.03 * (compared + left_out)
    assert min(outcomes.values()) > 0.1 * sum(outcomes.values()), outcomes


# --- the documented differences, each checked against both oracles ---------------------------

def _ld(k: int) -> Insn:
    return Insn(isa.BPF_LD | isa.BPF_IMM, 0, 0, k)


def _ldx(k: int) -> Insn:
    return Insn(isa.BPF_LDX | isa.BPF_IMM, 0, 0, k)


RET_A = Insn(isa.BPF_RET | isa.BPF_A)
PACKET = bytes(range(200)) + bytes(300)


def _kernel_result(probe: kernel.FilterProbe, program: list[Insn], packet: bytes) -> int | None:
    probe.load(program)
    return probe.verdict(packet)


@pytest.mark.parametrize("x", [32, 33, 36, 63, 0xFFFFFFFF])
@pytest.mark.parametrize("op", [isa.BPF_LSH, isa.BPF_RSH], ids=["lsh", "rsh"])
def test_shift_by_x_32_or_more(probe: kernel.FilterProbe, op: int, x: int) -> None:
    """libpcap: 0 (so the filter drops); Linux: a shift by x & 31."""
    a = 0x40 if op == isa.BPF_LSH else 0x4000
    program = [_ld(a), _ldx(x), Insn(isa.BPF_ALU | op | isa.BPF_X), RET_A]
    assert vm.run(program, PACKET) == jit.run(program, PACKET) == S.libpcap_run(program, PACKET)
    assert vm.run(program, PACKET) == 0
    masked = (a << (x & 31)) & 0xFFFFFFFF if op == isa.BPF_LSH else a >> (x & 31)
    assert _kernel_result(probe, program, PACKET) == kernel.expected_verdict(masked, len(PACKET))


@pytest.mark.parametrize("x,k", [(10, 0xFFFFFFFF), (0xFFFFFFF0, 0x20), (0x80000010, 0x80000000),
                                 (40, isa.SKF_LL_OFF)])
def test_indexed_load_with_wrapping_offset(probe: kernel.FilterProbe, x: int, k: int) -> None:
    """libpcap: x + k overflows, so the load is out of bounds and the filter returns 0;
    Linux: the offset is (x + k) mod 2**32, read as signed (and SKF_LL_OFF + n is special)."""
    program = [_ldx(x), Insn(isa.BPF_LD | isa.BPF_B | isa.BPF_IND, 0, 0, k), RET_A]
    assert vm.run(program, PACKET) == jit.run(program, PACKET) == S.libpcap_run(program, PACKET)
    assert vm.run(program, PACKET) == 0
    offset = (x + k) & 0xFFFFFFFF
    if offset < len(PACKET):
        assert _kernel_result(probe, program, PACKET) == kernel.expected_verdict(
            PACKET[offset], len(PACKET))
    else:
        assert _kernel_result(probe, program, PACKET) is None  # no mac header on AF_UNIX


def test_non_wrapping_far_indexed_load_agrees(probe: kernel.FilterProbe) -> None:
    """Up to SKF_LL_OFF, a far [x + k] is out of bounds for both."""
    program = [_ldx(0x7FFFFFF0), Insn(isa.BPF_LD | isa.BPF_B | isa.BPF_IND, 0, 0, 0x20), RET_A]
    assert vm.run(program, PACKET) == S.libpcap_run(program, PACKET) == 0
    assert _kernel_result(probe, program, PACKET) is None


def test_ancillary_load(probe: kernel.FilterProbe) -> None:
    """SKF_AD_ALU_XOR_X: Linux computes A ^ X, libpcap's load is out of bounds."""
    program = [_ld(10), _ldx(300), Insn(0x20, 0, 0, isa.SKF_AD_OFF + isa.SKF_AD_ALU_XOR_X), RET_A]
    assert vm.run(program, PACKET) == jit.run(program, PACKET) == S.libpcap_run(program, PACKET)
    assert vm.run(program, PACKET) == 0
    assert _kernel_result(probe, program, PACKET) == kernel.expected_verdict(10 ^ 300, len(PACKET))


@pytest.mark.parametrize("anc", sorted(isa.ANCILLARY), ids=lambda a: isa.ANCILLARY[a])
@pytest.mark.parametrize("code", [0x20, 0x28, 0x30], ids=["ld", "ldh", "ldb"])
def test_every_ancillary_load_is_out_of_bounds_for_the_vm(code: int, anc: int) -> None:
    program = [Insn(code, 0, 0, isa.SKF_AD_OFF + anc), Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 1)]
    assert vm.run(program, PACKET) == jit.run(program, PACKET) == S.libpcap_run(program, PACKET)
    assert kernel.kernel_accepts(program)


@pytest.mark.parametrize("code", [0x30, 0xB1], ids=["ldb", "ldxb-msh"])
def test_net_offset_load(probe: kernel.FilterProbe, code: int) -> None:
    """SKF_NET_OFF: Linux reads from the network header, which on an AF_UNIX datagram is its
    first byte; libpcap's load is out of bounds."""
    program = [Insn(code, 0, 0, isa.SKF_NET_OFF), *([Insn(0x87)] if code == 0xB1 else []), RET_A]
    assert vm.run(program, PACKET) == jit.run(program, PACKET) == S.libpcap_run(program, PACKET)
    assert vm.run(program, PACKET) == 0
    packet = bytes([0x45]) + PACKET
    want = packet[0] if code == 0x30 else (packet[0] & 0xF) << 2
    assert _kernel_result(probe, program, packet) == kernel.expected_verdict(want, len(packet))


# --- libpcap's own programs on real packets ---------------------------------------------------

KERNEL_EXPRESSIONS = [
    "tcp port 80", "udp", "ip and not tcp", "ip6", "arp or rarp", "vlan", "icmp or icmp6",
    "ip[2:2] > 576", "tcp[tcpflags] & tcp-syn != 0", "len > 100", "net 10.0.0.0/8",
    "ether multicast", "ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) != 0",
]


def test_libpcap_programs_on_corpus_packets(probe: kernel.FilterProbe) -> None:
    """Ethernet corpus packets through libpcap's programs: the kernel accepts or drops each
    one exactly as the VM says (sent as datagrams, so ``len`` is the captured length)."""
    pcapy = pytest.importorskip("pcapy")
    packets = [p for p in S.corpus_packets().get(1, []) if len(p) < 60000]
    assert packets
    for expr in KERNEL_EXPRESSIONS:
        program = [Insn(*i) for i in pcapy.compile(1, 262144, expr, 1, 0).get_bpf()]
        probe.load(program)
        for packet in packets:
            want = kernel.expected_verdict(vm.run(program, packet), len(packet))
            assert probe.verdict(packet) == want, (expr, packet.hex())


def test_attach_detach_lock() -> None:
    """The helper's error paths: a refused program, detaching nothing, and a locked filter."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        with pytest.raises(AttachError, match="EINVAL"):
            kernel.attach_filter(sock, [_ld(1)])
        with pytest.raises(AttachError, match="ENOENT"):
            kernel.detach_filter(sock)
        kernel.attach_filter(sock, [Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 1)])
        kernel.detach_filter(sock)
        kernel.attach_filter(sock, [Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 1)])
        kernel.lock_filter(sock)
        with pytest.raises(AttachError, match="EPERM"):
            kernel.attach_filter(sock, [Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 2)])
        with pytest.raises(AttachError, match="EPERM"):
            kernel.detach_filter(sock)
