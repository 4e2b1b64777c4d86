"""``isa.check_conversion_jumps`` against the kernel: the programs ``bpf_convert_filter`` refuses.

The kernel converts every classic program it accepts to eBPF before attaching it, and refuses
it (EINVAL) when a converted jump does not fit eBPF's s16 offset. How far a jump reaches in
eBPF depends on how many eBPF instructions each classic instruction between it and its target
becomes, so every size the rule assumes is measured here the same way: put a jump in front of
(or behind) ``n`` copies of one instruction and binary-search the largest ``n`` the kernel
still accepts; the rule must find the same ``n``, and agree on both sides of it. Fillers of
``ldxb 4*([0]&0xf)`` (the largest common expansion) bring each case near the limit quickly.

As in tests/test_checker.py, ENOMEM counts as accepted: the kernel charges the converted
program to net.core.optmem_max only after converting it, so a long program that converts
cleanly is refused for its size, not for its jumps.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc import isa
from bpfc.errors import ProgramError
from bpfc.isa import Insn
from tests.strategies import attach_works, kernel_says_valid

from . import strategies as S

pytestmark = pytest.mark.skipif(not attach_works(), reason="no SO_ATTACH_FILTER here")


def _largest_accepted(accepts: Callable[[int], bool], hi: int) -> int | None:
    """The largest n in [0, hi] that ``accepts``, which must hold at 0 and be monotone; None
    when even ``hi`` is accepted (the case never reaches the limit)."""
    assert accepts(0)
    if accepts(hi):
        return None
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if accepts(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _assert_same_threshold(make: Callable[[int], list[Insn]], hi: int) -> int:
    """Binary-search the kernel's threshold and the checker's; they must be equal, exist, and
    the two must agree just below, at and just above it. Returns the threshold."""
    kernel_n = _largest_accepted(lambda n: kernel_says_valid(make(n)), hi)
    ours = _largest_accepted(lambda n: isa.is_valid(make(n)), hi)
    assert kernel_n is not None, "the case never reaches the kernel's limit: make it longer"
    assert ours == kernel_n, f"kernel accepts up to n={kernel_n}, isa.check up to n={ours}"
    for n in range(max(0, kernel_n - 1), kernel_n + 2):
        program = make(n)
        assert isa.is_valid(program) == kernel_says_valid(program) == (n <= kernel_n), n
    with pytest.raises(ProgramError, match="cBPF-to-eBPF conversion"):
        isa.check(make(kernel_n + 1))
    return kernel_n


def _msh(k: int = 0) -> Insn:
    return Insn(isa.BPF_LDX | isa.BPF_B | isa.BPF_MSH, 0, 0, k)


def _ja(k: int) -> Insn:
    return Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0, k)


RET = Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 1)
TXA = Insn(isa.BPF_MISC | isa.BPF_TXA)
MSH = _msh()
#: Fillers that leave a few hundred eBPF instructions of room under the limit.
FILLERS = 1800


# --- the corpus vector ------------------------------------------------------------------------

def test_corpus_vector_jump_over_msh() -> None:
    """lib/test_bpf.c's "BPF_MAXINSNS: jump over MSH": refused by both, for its first jump."""
    [vector] = [p for p in S.kernel_vector_programs() if p.id == "BPF_MAXINSNS: jump over MSH"]
    assert not kernel_says_valid(vector.insns)
    with pytest.raises(ProgramError, match="conversion limit") as info:
        isa.check(vector.insns)
    assert info.value.index == 0
    assert str(info.value).startswith("instruction 0: ")


def test_jump_over_msh_threshold() -> None:
    """``ja`` over n copies of ``ldxb 4*([0]&0xf)``: the exact n at which the kernel starts to
    refuse, found by binary search on the kernel, is the checker's (1820 on 6.18 x86-64)."""
    _assert_same_threshold(lambda n: [_ja(n), *[MSH] * n, RET], isa.BPF_MAXINSNS - 2)


# --- what each classic instruction becomes ----------------------------------------------------

def _body(name: str, insn: Insn) -> object:
    return pytest.param(insn, id=name)


_PACKET_KS = {"k0": 0, "k1": 1, "k32767": 0x7FFF, "k32768": 0x8000, "k2g-1": 0x7FFFFFFF,
              "k2g": 0x80000000, "net-off": isa.SKF_NET_OFF, "ll-off": isa.SKF_LL_OFF,
              "below-ad-off": isa.SKF_AD_OFF - 1}

BODIES = [
    *[_body(f"msh-{name}", _msh(k)) for name, k in _PACKET_KS.items()],
    *[_body(f"{mnemonic}-{name}", Insn(isa.BPF_LD | size | mode, 0, 0, k))
      for mnemonic, size, mode in (("ld", isa.BPF_W, isa.BPF_ABS), ("ldh", isa.BPF_H, isa.BPF_ABS),
                                   ("ldb", isa.BPF_B, isa.BPF_ABS),
                                   ("ld-ind", isa.BPF_W, isa.BPF_IND),
                                   ("ldh-ind", isa.BPF_H, isa.BPF_IND),
                                   ("ldb-ind", isa.BPF_B, isa.BPF_IND))
      for name, k in _PACKET_KS.items()],
    *[_body(f"{mnemonic}-{name}", Insn(isa.BPF_LD | size | isa.BPF_ABS, 0, 0, isa.SKF_AD_OFF + anc))
      for anc, name in sorted(isa.ANCILLARY.items())
      for mnemonic, size in (("ld", isa.BPF_W), ("ldh", isa.BPF_H), ("ldb", isa.BPF_B))],
    _body("div-x", Insn(isa.BPF_ALU | isa.BPF_DIV | isa.BPF_X)),
    _body("mod-x", Insn(isa.BPF_ALU | isa.BPF_MOD | isa.BPF_X)),
    _body("div-k", Insn(isa.BPF_ALU | isa.BPF_DIV | isa.BPF_K, 0, 0, 3)),
    _body("mul-x", Insn(isa.BPF_ALU | isa.BPF_MUL | isa.BPF_X)),
    _body("neg", Insn(isa.BPF_ALU | isa.BPF_NEG)),
    _body("ret-k", RET),
    _body("ret-a", Insn(isa.BPF_RET | isa.BPF_A)),
    _body("ld-len", Insn(isa.BPF_LD | isa.BPF_W | isa.BPF_LEN)),
    _body("ldx-imm", Insn(isa.BPF_LDX | isa.BPF_IMM, 0, 0, 7)),
    _body("st", Insn(isa.BPF_ST, 0, 0, 3)),
    _body("tax", Insn(isa.BPF_MISC | isa.BPF_TAX)),
    _body("ja-0", _ja(0)),
    _body("jeq-0-0", Insn(isa.BPF_JMP | isa.BPF_JEQ | isa.BPF_K, 0, 0, 5)),
    _body("jeq-1-1", Insn(isa.BPF_JMP | isa.BPF_JEQ | isa.BPF_K, 1, 1, 5)),
    _body("jeq-neg-k-1-1", Insn(isa.BPF_JMP | isa.BPF_JEQ | isa.BPF_K, 1, 1, 0x80000000)),
    _body("jgt-0-1", Insn(isa.BPF_JMP | isa.BPF_JGT | isa.BPF_K, 0, 1, 5)),
    _body("jset-0-1", Insn(isa.BPF_JMP | isa.BPF_JSET | isa.BPF_K, 0, 1, 5)),
    _body("jset-x-neg-k-0-1", Insn(isa.BPF_JMP | isa.BPF_JSET | isa.BPF_X, 0, 1, 0x80000000)),
]


@pytest.mark.parametrize("body", BODIES)
def test_expansion_of_each_instruction(body: Insn) -> None:
    """``ja`` over FILLERS fillers and n copies of ``body``: the threshold in n pins down how
    many eBPF instructions ``body`` becomes (and, for jumps, where they fall)."""
    isa.check([body, RET, RET])

    def make(n: int) -> list[Insn]:
        return [_ja(FILLERS + n + 1), *[MSH] * FILLERS, *[body] * n, RET, RET]

    _assert_same_threshold(make, isa.BPF_MAXINSNS - FILLERS - 3)


MIXES = {
    "abs-ind-div-msh": [Insn(0x20, 0, 0, 14), Insn(0x48, 0, 0, 2), Insn(0x3C), _msh(5)],
    "ancillary-msh": [Insn(0x20, 0, 0, isa.SKF_AD_OFF + isa.SKF_AD_CPU), _msh(0x9000),
                      Insn(0x30, 0, 0, isa.SKF_AD_OFF + isa.SKF_AD_VLAN_TAG_PRESENT)],
    "jumps-and-loads": [Insn(0x15, 1, 2, 0xFFFFFFFF), Insn(0x28, 0, 0, 12), Insn(0x45, 0, 0, 4),
                        _msh(0x8000), Insn(0x9C), Insn(0x06, 0, 0, 0), Insn(0x20, 0, 0, 0x9000)],
}


@pytest.mark.parametrize("mix", list(MIXES.values()), ids=list(MIXES))
def test_mixed_expansions(mix: list[Insn]) -> None:
    """``ja`` over n repetitions of a mix of expanding instructions, no fillers."""
    def make(n: int) -> list[Insn]:
        return [_ja(len(mix) * n), *mix * n, RET]

    _assert_same_threshold(make, (isa.BPF_MAXINSNS - 2) // len(mix))


# --- how converted jumps are placed -----------------------------------------------------------

def _jeq(jt: int, jf: int, k: int = 5, src: int = isa.BPF_K) -> Insn:
    return Insn(isa.BPF_JMP | isa.BPF_JEQ | src, jt, jf, k)


JUMP_FORMS = {
    "ja": _ja(1),
    "jeq-jt": _jeq(1, 0),
    "jeq-jf-inverted": _jeq(0, 1),
    "jeq-both": _jeq(1, 1),
    "jeq-none": _jeq(0, 0),
    "jeq-neg-k-jt": _jeq(1, 0, 0x80000000),
    "jeq-neg-k-both": _jeq(1, 1, 0xFFFFFFFF),
    "jeq-x-neg-k-both": _jeq(1, 1, 0x80000000, isa.BPF_X),
    "jgt-jf-inverted": Insn(isa.BPF_JMP | isa.BPF_JGT | isa.BPF_K, 0, 1, 5),
    "jge-jf-inverted": Insn(isa.BPF_JMP | isa.BPF_JGE | isa.BPF_X, 0, 1),
    "jset-jf-two-jumps": Insn(isa.BPF_JMP | isa.BPF_JSET | isa.BPF_K, 0, 1, 5),
}


@pytest.mark.parametrize("jump", list(JUMP_FORMS.values()), ids=list(JUMP_FORMS))
def test_jump_placed_past_the_first_pass_limit(jump: Insn) -> None:
    """A short jump behind FILLERS fillers and n single-instruction ``txa``: the kernel refuses
    it once one of its eBPF jumps sits past address 32767, because in the conversion's first
    pass the not-yet-placed target still has address 0. The threshold moves by one for each
    instruction the jump's expansion puts before that eBPF jump."""
    def make(n: int) -> list[Insn]:
        return [*[MSH] * FILLERS, *[TXA] * n, jump, TXA, RET]

    n = _assert_same_threshold(make, isa.BPF_MAXINSNS - FILLERS - 3)
    with pytest.raises(ProgramError, match="would place this jump at eBPF instruction 32768"):
        isa.check(make(n + 1))


@pytest.mark.parametrize("lead", [0, 1, 17], ids=lambda n: f"after-{n}-msh")
def test_long_ja_offset_to_the_instruction(lead: int) -> None:
    """``ja`` over FILLERS fillers and n ``txa``, itself behind ``lead`` fillers: the offset is
    relative to the jump, to one eBPF instruction."""
    def make(n: int) -> list[Insn]:
        return [*[MSH] * lead, _ja(FILLERS + n), *[MSH] * FILLERS, *[TXA] * n, RET]

    _assert_same_threshold(make, isa.BPF_MAXINSNS - FILLERS - lead - 2)


def test_long_program_without_jumps_is_accepted() -> None:
    """Over 73,000 eBPF instructions and no jump: nothing to overflow (the kernel then refuses
    it for optmem_max, ENOMEM, which says it converted)."""
    program = [*[MSH] * (isa.BPF_MAXINSNS - 1), RET]
    isa.check(program)
    assert kernel_says_valid(program)


def test_returns_past_the_limit_are_not_jumps() -> None:
    """Returns and a jump before the limit; the returns after it convert to ``exit``."""
    program = [Insn(0x15, 0, 1, 0), RET, *[MSH] * 2000, RET, Insn(isa.BPF_RET | isa.BPF_A)]
    isa.check(program)
    assert kernel_says_valid(program)


# --- random long programs ---------------------------------------------------------------------

def _random_long_program(c: S.Chooser) -> list[Insn]:
    """1,500 to 4,096 instructions, mostly expanding loads, with short conditional jumps and
    ``ja`` of any length; valid for the classic checker by construction."""
    n = c.integer(1500, isa.BPF_MAXINSNS)
    program: list[Insn] = []
    for pc in range(n - 1):
        room = n - pc - 2  # how far a jump from here may go and still land on an instruction
        kind = c.integer(0, 99)
        k = c.choice((0, 1, 14, 0x7FFF, 0x8000, 0x7FFFFFFF, 0x80000000, isa.SKF_NET_OFF))
        if kind < 40:
            program.append(_msh(k))
        elif kind < 55:
            program.append(Insn(c.choice((0x20, 0x28, 0x30, 0x40, 0x48, 0x50)), 0, 0, k))
        elif kind < 62:
            anc = c.choice(sorted(isa.ANCILLARY))
            program.append(Insn(c.choice((0x20, 0x28, 0x30)), 0, 0, isa.SKF_AD_OFF + anc))
        elif kind < 68:
            program.append(Insn(c.choice((0x3C, 0x9C, 0x0C, 0x87, 0x07, 0x16))))
        elif kind < 90:
            jt, jf = c.integer(0, min(room, 255)), c.integer(0, min(room, 255))
            code = isa.BPF_JMP | c.choice((isa.BPF_JEQ, isa.BPF_JGT, isa.BPF_JGE, isa.BPF_JSET))
            program.append(Insn(code | c.choice((isa.BPF_K, isa.BPF_X)), jt, jf,
                                c.choice((0, 5, 0x80000000, 0xFFFFFFFF))))
        else:
            far = c.chance(0.5)
            program.append(_ja(c.integer(room // 2 if far else 0, room)))
    program.append(RET)
    return program


def test_random_long_programs() -> None:
    """250 seeded programs; the checker and the kernel agree on each, and both verdicts occur
    often (each refusal is the conversion rule's: the programs are classically valid)."""
    chooser = S.RandomChooser(2014)
    verdicts = {True: 0, False: 0}
    for _ in range(250):
        program = _random_long_program(chooser)
        try:
            isa.check(program)
            ours = True
        except ProgramError as exc:
            assert "cBPF-to-eBPF conversion" in str(exc), exc
            ours = False
        assert ours == kernel_says_valid(program), list(map(tuple, program))
        verdicts[ours] += 1
    assert min(verdicts.values()) > 50, verdicts


@settings(max_examples=150)
@given(st.integers(1700, 1830), st.integers(0, 400), st.sampled_from(sorted(JUMP_FORMS)),
       st.integers(0, 3), st.booleans())
def test_jump_near_the_limit(fillers: int, fine: int, form: str, lead: int, long: bool) -> None:
    """A jump form near the limit, either a long ``ja`` in front or the form itself at the
    end: the checker agrees with the kernel wherever the pieces fall."""
    jump = JUMP_FORMS[form]
    body = [*[MSH] * fillers, *[TXA] * fine]
    if long:
        program = [*[TXA] * lead, _ja(len(body) + 1), *body, jump, TXA, RET]
    else:
        program = [*[TXA] * lead, *body, jump, TXA, RET]
    assert isa.is_valid(program) == kernel_says_valid(program)
