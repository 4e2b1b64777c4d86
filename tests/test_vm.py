"""The reference interpreter against its oracles: the kernel's test vectors, and libpcap's own
``bpf_filter()`` on hand-made edge programs and on thousands of random checked programs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from bpfc import isa, vm
from bpfc.errors import ProgramError
from bpfc.isa import Insn

from . import strategies as S

VECTORS = S.kernel_vectors()
needs_libpcap = pytest.mark.skipif(not S.libpcap_available(), reason="libpcap not installed")


def _ids(vectors: list[S.Vector]) -> list[str]:
    return [v.id for v in vectors]


PORTABLE = [v for v in VECTORS if v.category == "portable"]
LINUX_ONLY = [v for v in VECTORS if v.category not in ("portable", "validator")]


@pytest.mark.parametrize("vector", PORTABLE, ids=_ids(PORTABLE))
def test_portable_kernel_vectors(vector: S.Vector) -> None:
    assert vm.run(vector.insns, vector.packet, vector.wirelen) == vector.expected


@pytest.mark.parametrize("vector", LINUX_ONLY, ids=_ids(LINUX_ONLY))
def test_linux_only_vectors_give_libpcaps_result(vector: S.Vector) -> None:
    """Signed ``x + k``, SKF_LL_OFF/SKF_NET_OFF and ancillary loads: the VM follows libpcap,
    which treats them all as out-of-bounds loads."""
    assert vector.libpcap_result is not None
    assert vm.run(vector.insns, vector.packet, vector.wirelen) == vector.libpcap_result


def test_vector_categories_are_all_present() -> None:
    if not VECTORS:
        pytest.skip("corpus not available")
    assert {v.category for v in VECTORS} >= {"portable", "linux-semantics",
                                             "linux-special-offset", "linux-ancillary"}
    assert len(PORTABLE) >= 80


# Hand-made edge programs; the expected value of each is libpcap's bpf_filter() result.
_LD, _LDX, _RET_A = isa.BPF_LD | isa.BPF_IMM, isa.BPF_LDX | isa.BPF_IMM, isa.BPF_RET | isa.BPF_A
_ALU_X = isa.BPF_ALU | isa.BPF_X


def _alu_x(op: int, a: int, x: int) -> list[Insn]:
    return [Insn(_LD, 0, 0, a), Insn(_LDX, 0, 0, x), Insn(_ALU_X | op), Insn(_RET_A)]


def _ind(code: int, x: int, k: int) -> list[Insn]:
    return [Insn(_LDX, 0, 0, x), Insn(code, 0, 0, k), Insn(_RET_A)]


EDGE_PROGRAMS: list[tuple[str, list[Insn], bytes, int | None]] = [
    *[(f"lsh-x-{x}", _alu_x(isa.BPF_LSH, 0x92345679, x), b"", None)
      for x in (0, 1, 31, 32, 33, 64, 0xFFFFFFFF)],
    *[(f"rsh-x-{x}", _alu_x(isa.BPF_RSH, 0x92345679, x), b"", None)
      for x in (0, 1, 31, 32, 33, 64, 0xFFFFFFFF)],
    ("div-x-0", _alu_x(isa.BPF_DIV, 7, 0), b"", None),
    ("mod-x-0", _alu_x(isa.BPF_MOD, 7, 0), b"", None),
    ("div-x-big", _alu_x(isa.BPF_DIV, 0xFFFFFFFF, 0x10), b"", None),
    ("mul-x-wrap", _alu_x(isa.BPF_MUL, 0xFFFFFFFF, 0xFFFFFFFF), b"", None),
    ("sub-x-wrap", _alu_x(isa.BPF_SUB, 1, 2), b"", None),
    ("neg-min", [Insn(_LD, 0, 0, 0x80000000), Insn(isa.BPF_ALU | isa.BPF_NEG), Insn(_RET_A)],
     b"", None),
    ("ldb-ind-wrap", _ind(isa.BPF_LD | isa.BPF_B | isa.BPF_IND, 10, 0xFFFFFFFF),
     bytes(range(40)), None),
    ("ldh-ind-wrap", _ind(isa.BPF_LD | isa.BPF_H | isa.BPF_IND, 0xFFFFFFF0, 0x20),
     bytes(range(40)), None),
    ("ld-ind-last-word", _ind(isa.BPF_LD | isa.BPF_W | isa.BPF_IND, 30, 6), bytes(range(40)),
     None),
    ("ld-ind-one-past", _ind(isa.BPF_LD | isa.BPF_W | isa.BPF_IND, 30, 7), bytes(range(40)),
     None),
    ("ldh-abs-last", [Insn(0x28, 0, 0, 38), Insn(_RET_A)], bytes(range(40)), None),
    ("ldh-abs-one-past", [Insn(0x28, 0, 0, 39), Insn(_RET_A)], bytes(range(40)), None),
    ("msh-last", [Insn(0xB1, 0, 0, 39), Insn(isa.BPF_MISC | isa.BPF_TXA), Insn(_RET_A)],
     bytes(range(40)), None),
    ("msh-past", [Insn(0xB1, 0, 0, 40), Insn(_RET_A)], bytes(range(40)), None),
    ("len-is-wirelen", [Insn(isa.BPF_LD | isa.BPF_W | isa.BPF_LEN), Insn(_RET_A)], b"abc", 1500),
    ("ldx-len", [Insn(isa.BPF_LDX | isa.BPF_W | isa.BPF_LEN), Insn(isa.BPF_MISC | isa.BPF_TXA),
                 Insn(_RET_A)], b"abcd", None),
    ("empty-packet-load", [Insn(0x30, 0, 0, 0), Insn(isa.BPF_RET, 0, 0, 9)], b"", None),
    ("ancillary-xor-x", [Insn(_LD, 0, 0, 10), Insn(_LDX, 0, 0, 300),
                         Insn(0x20, 0, 0, isa.SKF_AD_OFF + isa.SKF_AD_ALU_XOR_X),
                         Insn(isa.BPF_RET, 0, 0, 5)], bytes(64), None),
    ("special-net-off", [Insn(0x30, 0, 0, isa.SKF_NET_OFF), Insn(_RET_A)], bytes(64), None),
    ("jset-x", [Insn(_LD, 0, 0, 6), Insn(_LDX, 0, 0, 1),
                Insn(isa.BPF_JMP | isa.BPF_JSET | isa.BPF_X, 0, 1), Insn(isa.BPF_RET, 0, 0, 1),
                Insn(isa.BPF_RET, 0, 0, 2)], b"", None),
]


@needs_libpcap
@pytest.mark.parametrize("program,packet,wirelen", [e[1:] for e in EDGE_PROGRAMS],
                         ids=[e[0] for e in EDGE_PROGRAMS])
def test_edge_programs_match_libpcap(program: list[Insn], packet: bytes,
                                     wirelen: int | None) -> None:
    assert vm.run(program, packet, wirelen) == S.libpcap_run(program, packet, wirelen)


@needs_libpcap
@settings(max_examples=300)
@given(S.checked_programs(), S.packets(), S.packets())
def test_matches_libpcap_bpf_filter(program: list[Insn], packet: bytes, extra: bytes) -> None:
    """Any checked program, ancillary, special and 'negative' offsets included: the VM never
    raises and returns what libpcap's bpf_filter() returns, also when wirelen > caplen."""
    assert vm.run(program, packet) == S.libpcap_run(program, packet)
    wirelen = len(packet) + len(extra)
    assert vm.run(program, packet, wirelen) == S.libpcap_run(program, packet, wirelen)


@needs_libpcap
def test_matches_libpcap_bpf_filter_bulk() -> None:
    """The same property over a seeded generator: 3,000 programs × 3 packets."""
    chooser = S.RandomChooser(20240501)
    opts = S.Options(max_insns=32)
    for _ in range(3000):
        program = S.checked_program(chooser, opts)
        for _ in range(3):
            packet = S.packet(chooser, opts)
            wirelen = len(packet) + chooser.integer(0, 3) * chooser.integer(0, 100)
            assert vm.run(program, packet, wirelen) == S.libpcap_run(program, packet, wirelen), \
                (program, packet.hex(), wirelen)


@settings(max_examples=150)
@given(S.checked_programs(), S.packets())
def test_trace_agrees_with_run(program: list[Insn], packet: bytes) -> None:
    result = vm.trace(program, packet)
    assert result.result == vm.run(program, packet)
    pcs = [step.pc for step in result.steps]
    assert pcs[0] == 0
    assert pcs == sorted(set(pcs)), "jumps only go forward"
    assert all(program[step.pc] == step.insn for step in result.steps)


def test_trace_records_state_before_each_step() -> None:
    program = [Insn(_LD, 0, 0, 7), Insn(isa.BPF_MISC | isa.BPF_TAX),
               Insn(isa.BPF_ST, 0, 0, 3), Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0, 1),
               Insn(isa.BPF_RET, 0, 0, 1), Insn(_RET_A)]
    result = vm.trace(program, b"")
    assert [(s.pc, s.a, s.x, s.mem[3]) for s in result.steps] == [
        (0, 0, 0, 0), (1, 7, 0, 0), (2, 7, 7, 0), (3, 7, 7, 7), (5, 7, 7, 7)]
    assert result.result == 7


UNCHECKED = [
    ("empty", []),
    ("no-final-ret", [Insn(_LD, 0, 0, 1)]),
    ("jump-past-end", [Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0, 1), Insn(isa.BPF_RET)]),
    ("read-before-write", [Insn(isa.BPF_LD | isa.BPF_MEM, 0, 0, 0), Insn(_RET_A)]),
    ("unknown-opcode", [Insn(0xFF), Insn(isa.BPF_RET)]),
    ("jt-out-of-u8", [Insn(0x15, 256, 0, 0), Insn(isa.BPF_RET)]),
]


@pytest.mark.parametrize("program", [u[1] for u in UNCHECKED], ids=[u[0] for u in UNCHECKED])
def test_refuses_unchecked_programs(program: list[Insn]) -> None:
    with pytest.raises(ProgramError):
        vm.run(program, b"\x00" * 64)


def test_accepts_plain_tuples() -> None:
    program = [(0x06, 0, 0, 42)]
    assert vm.run(program, b"") == vm.run([Insn(*i) for i in program], b"")  # type: ignore[arg-type]
