"""``isa.check`` accepts exactly what the kernel's SO_ATTACH_FILTER accepts.

The kernel is asked directly (``kernel.kernel_accepts``): every 16-bit opcode, the corpus
vectors, hand-made edge cases, and random programs broken in every way the kernel's
``bpf_check_classic`` looks for. An ENOMEM refusal counts as "accepted": the kernel charges a
filter to net.core.optmem_max only after it has checked and converted it (``__get_filter`` →
``bpf_prepare_filter``, then ``__sk_attach_prog`` → ``__sk_filter_charge``), so a program
refused that way passed every check.
"""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings

from bpfc import isa, kernel
from bpfc.errors import AttachError
from bpfc.isa import Insn
from tests.strategies import attach_works, kernel_says_valid

from . import strategies as S

pytestmark = pytest.mark.skipif(not attach_works(), reason="no SO_ATTACH_FILTER here")


def _assert_same(program: list[Insn] | tuple[Insn, ...]) -> None:
    ours = isa.is_valid(program)
    assert ours == kernel_says_valid(program), (
        f"isa.is_valid says {ours}, the kernel disagrees; program: {list(map(tuple, program))}")


# --- every opcode -----------------------------------------------------------------------------

def test_every_16_bit_opcode() -> None:
    """Each code as ``code 0 0 1; ret #0``: the opcode set is exactly the kernel's."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        for code in range(0x10000):
            program = [Insn(code, 0, 0, 1), Insn(isa.BPF_RET | isa.BPF_K)]
            try:
                kernel.attach_filter(sock, program)
                accepted = True
            except AttachError:
                accepted = False
            assert isa.is_valid(program) == accepted, hex(code)


@pytest.mark.parametrize("k", [0, 1, 16, 32, isa.SKF_AD_OFF, isa.SKF_AD_OFF + 1, 0xFFFFFFFF])
def test_every_8_bit_opcode_alone_and_before_ret(k: int) -> None:
    """Which codes may end a program, and how k interacts with each opcode."""
    for code in range(0x100):
        _assert_same([Insn(code, 0, 0, k)])
        _assert_same([Insn(code, 0, 0, k), Insn(isa.BPF_RET | isa.BPF_A)])


# --- corpus vectors ---------------------------------------------------------------------------

PROGRAMS = S.kernel_vector_programs()
VALIDATOR = [p for p in PROGRAMS if p.category == "validator"]
#: The one validator vector the kernel refuses for a reason outside the classic checker: its
#: cBPF→eBPF conversion overflows a jump offset (see the vector's reject_reason).
CONVERSION_ARTEFACT = "BPF_MAXINSNS: jump over MSH"


@pytest.mark.parametrize("vector", VALIDATOR, ids=[p.id for p in VALIDATOR])
def test_validator_vectors_are_refused_by_the_kernel(vector: S.VectorProgram) -> None:
    assert not kernel_says_valid(vector.insns)


@pytest.mark.parametrize("vector", [pytest.param(p, id=p.id) for p in VALIDATOR])
def test_validator_vectors_are_refused_by_the_checker(vector: S.VectorProgram) -> None:
    assert not isa.is_valid(vector.insns)


LINUX_ONLY = [p for p in PROGRAMS if p.category in ("linux-ancillary", "linux-special-offset")]


@pytest.mark.parametrize("vector", LINUX_ONLY, ids=[p.id for p in LINUX_ONLY])
def test_ancillary_and_special_offset_vectors_are_accepted(vector: S.VectorProgram) -> None:
    isa.check(vector.insns)
    assert kernel_says_valid(vector.insns)


OTHERS = [p for p in PROGRAMS if p.category in ("portable", "linux-semantics")]


@pytest.mark.parametrize("vector", OTHERS, ids=[p.id for p in OTHERS])
def test_other_vectors_agree(vector: S.VectorProgram) -> None:
    _assert_same(vector.insns)


# --- hand-made edge cases ---------------------------------------------------------------------

RET0 = Insn(isa.BPF_RET | isa.BPF_K)
RET_A = Insn(isa.BPF_RET | isa.BPF_A)
LD1 = Insn(isa.BPF_LD | isa.BPF_IMM, 0, 0, 1)
JA = isa.BPF_JMP | isa.BPF_JA
JEQ = isa.BPF_JMP | isa.BPF_JEQ | isa.BPF_K
ST, STX = isa.BPF_ST, isa.BPF_STX
LDM, LDXM = isa.BPF_LD | isa.BPF_MEM, isa.BPF_LDX | isa.BPF_MEM


def _abs(k: int, size: int = isa.BPF_W) -> Insn:
    return Insn(isa.BPF_LD | size | isa.BPF_ABS, 0, 0, k)


EDGE_CASES: list[tuple[str, list[Insn]]] = [
    ("empty", []),
    ("ret-k", [RET0]),
    ("ret-a", [RET_A]),
    ("4096-insns", [LD1] * 4095 + [RET0]),
    ("4097-insns", [LD1] * 4096 + [RET0]),
    ("ja-to-last", [Insn(JA, 0, 0, 1), LD1, RET0]),
    ("ja-past-end", [Insn(JA, 0, 0, 2), LD1, RET0]),
    ("ja-backwards", [LD1, Insn(JA, 0, 0, 0xFFFFFFFF), RET0]),
    ("ja-0-last", [RET0, Insn(JA)]),
    ("jt-to-last", [Insn(JEQ, 1, 0, 0), LD1, RET0]),
    ("jt-past-end", [Insn(JEQ, 2, 0, 0), LD1, RET0]),
    ("jf-past-end", [Insn(JEQ, 0, 2, 0), LD1, RET0]),
    ("jt-255-in-range", [Insn(JEQ, 255, 255, 0)] + [LD1] * 255 + [RET0]),
    ("jt-255-out-of-range", [Insn(JEQ, 255, 0, 0)] + [LD1] * 254 + [RET0]),
    ("jump-then-nothing", [Insn(JEQ, 0, 0, 0), RET0]),
    ("st-m15", [Insn(ST, 0, 0, 15), Insn(LDM, 0, 0, 15), RET_A]),
    ("st-m16", [Insn(ST, 0, 0, 16), RET_A]),
    ("ldx-m16", [Insn(STX, 0, 0, 0), Insn(LDXM, 0, 0, 16), RET_A]),
    ("read-before-write", [Insn(LDM, 0, 0, 3), RET_A]),
    ("write-other-slot", [Insn(ST, 0, 0, 2), Insn(LDM, 0, 0, 3), RET_A]),
    ("write-one-arm-only", [Insn(JEQ, 0, 1, 0), Insn(ST, 0, 0, 0), Insn(LDM, 0, 0, 0), RET_A]),
    ("write-both-arms", [Insn(JEQ, 0, 2, 0), Insn(ST, 0, 0, 0), Insn(JA, 0, 0, 1),
                         Insn(STX, 0, 0, 0), Insn(LDM, 0, 0, 0), RET_A]),
    ("write-before-jump", [Insn(ST, 0, 0, 4), Insn(JEQ, 0, 1, 0), LD1, Insn(LDXM, 0, 0, 4),
                           RET_A]),
    ("read-in-dead-code-after-ret", [RET0, Insn(LDM, 0, 0, 0), RET_A]),
    ("write-survives-ret", [Insn(ST, 0, 0, 0), RET0, Insn(LDM, 0, 0, 0), RET_A]),
    ("jump-resets-fallthrough", [Insn(ST, 0, 0, 0), Insn(JA, 0, 0, 1), RET0,
                                 Insn(LDM, 0, 0, 0), RET_A]),
    ("jump-into-read-skipping-write", [Insn(JA, 0, 0, 1), Insn(ST, 0, 0, 0), Insn(LDM, 0, 0, 0),
                                       RET_A]),
    ("div-k-0", [Insn(isa.BPF_ALU | isa.BPF_DIV | isa.BPF_K, 0, 0, 0), RET_A]),
    ("mod-k-0", [Insn(isa.BPF_ALU | isa.BPF_MOD | isa.BPF_K, 0, 0, 0), RET_A]),
    ("div-x", [Insn(isa.BPF_ALU | isa.BPF_DIV | isa.BPF_X), RET_A]),
    ("lsh-31", [Insn(isa.BPF_ALU | isa.BPF_LSH | isa.BPF_K, 0, 0, 31), RET_A]),
    ("lsh-32", [Insn(isa.BPF_ALU | isa.BPF_LSH | isa.BPF_K, 0, 0, 32), RET_A]),
    ("rsh-32", [Insn(isa.BPF_ALU | isa.BPF_RSH | isa.BPF_K, 0, 0, 32), RET_A]),
    ("rsh-max", [Insn(isa.BPF_ALU | isa.BPF_RSH | isa.BPF_K, 0, 0, 0xFFFFFFFF), RET_A]),
    ("ancillary-max", [_abs(isa.SKF_AD_OFF + isa.SKF_AD_MAX), RET_A]),
    ("ancillary-unaligned", [_abs(isa.SKF_AD_OFF + 1), RET_A]),
    ("ancillary-last", [_abs(isa.SKF_AD_OFF + 0xFFF), RET_A]),
    ("ancillary-byte", [_abs(isa.SKF_AD_OFF + isa.SKF_AD_PROTOCOL, isa.BPF_B), RET_A]),
    ("below-ancillary", [_abs(isa.SKF_AD_OFF - 1), RET_A]),
    ("net-off", [_abs(isa.SKF_NET_OFF), RET_A]),
    ("ll-off", [_abs(isa.SKF_LL_OFF), RET_A]),
    ("ind-at-ancillary", [Insn(isa.BPF_LD | isa.BPF_W | isa.BPF_IND, 0, 0, isa.SKF_AD_OFF + 1),
                          RET_A]),
    ("msh-at-ancillary", [Insn(isa.BPF_LDX | isa.BPF_B | isa.BPF_MSH, 0, 0, isa.SKF_AD_OFF + 1),
                          RET_A]),
    ("ret-x", [Insn(isa.BPF_RET | isa.BPF_X)]),
    ("ldx-abs", [Insn(isa.BPF_LDX | isa.BPF_W | isa.BPF_ABS), RET_A]),
    ("ldh-imm", [Insn(isa.BPF_LD | isa.BPF_H | isa.BPF_IMM), RET_A]),
    ("neg-with-x-bit", [Insn(isa.BPF_ALU | isa.BPF_NEG | isa.BPF_X), RET_A]),
    ("jt-jf-noise-on-alu", [Insn(isa.BPF_ALU | isa.BPF_ADD | isa.BPF_K, 7, 9, 1), RET_A]),
    ("code-above-0xff", [Insn(0x106), RET0]),
]


@pytest.mark.parametrize("program", [e[1] for e in EDGE_CASES], ids=[e[0] for e in EDGE_CASES])
def test_edge_cases(program: list[Insn]) -> None:
    _assert_same(program)


# --- random programs, valid and broken ---------------------------------------------------------

@settings(max_examples=400)
@given(S.maybe_invalid_programs())
def test_random_programs(program: list[Insn]) -> None:
    _assert_same(program)


def test_random_programs_bulk() -> None:
    """6,000 seeded programs, each broken by zero to three mutations; both verdicts occur."""
    chooser = S.RandomChooser(4096)
    accepted = 0
    for _ in range(6000):
        program = S.maybe_invalid_program(chooser)
        _assert_same(program)
        accepted += isa.is_valid(program)
    assert 1000 < accepted < 5000
