"""Random classic BPF programs and packets, and the oracles and corpus data they meet.

One generator, two sources of choices: ``HypothesisChooser`` (shrinkable, for ``@given``) and
``RandomChooser`` (a seeded ``random.Random``, for thousands of cheap cases in a loop). Both
build from the ``isa.OPCODES`` table, so a new opcode is generated without touching this file.

``checked_program`` always passes ``isa.check``. ``Options`` says which operands may appear;
``Options.portable()`` leaves out exactly what libpcap and Linux are documented to disagree on
at compile time (ancillary and special-offset loads, and indexed loads whose constant already
reaches past 2**31); ``maybe_invalid_program`` breaks checked programs in the ways the kernel's
checker looks for.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar, cast

from hypothesis import strategies as st

from bpfc import isa
from bpfc.isa import Insn

from .conftest import CORPUS, CORPUS_PCAPS

T = TypeVar("T")

U32 = 0xFFFFFFFF
#: Bytes of low-entropy packets; jump constants are often built from them too.
ALPHABET = (0x00, 0x01, 0x45, 0xFF)
#: Constants that tend to expose wrap-around, sign and shift mistakes.
EDGE_VALUES = (0, 1, 2, 3, 4, 7, 8, 14, 31, 32, 33, 63, 64, 255, 256, 1500, 0xFFFF, 0x10000,
               262144, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, U32)


class Chooser(Protocol):
    """Where the generator's decisions come from."""

    def integer(self, lo: int, hi: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...

    def chance(self, p: float) -> bool: ...

    def data(self, size: int) -> bytes: ...


class HypothesisChooser:
    """Choices drawn from hypothesis, so failures shrink."""

    def __init__(self, draw: Callable[[st.SearchStrategy[object]], object]) -> None:
        self._draw = draw

    def integer(self, lo: int, hi: int) -> int:
        value = self._draw(st.integers(lo, hi))
        assert isinstance(value, int)
        return value

    def choice(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def chance(self, p: float) -> bool:
        # Hypothesis shrinks integers towards 0, and so these answers towards "no".
        return self.integer(0, 999) >= 1000 - int(p * 1000)

    def data(self, size: int) -> bytes:
        value = self._draw(st.binary(min_size=size, max_size=size))
        assert isinstance(value, bytes)
        return value


class RandomChooser:
    """Choices from a seeded ``random.Random``: fast, repeatable, not shrinkable."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self._rng.randint(lo, hi)

    def choice(self, options: Sequence[T]) -> T:
        return options[self._rng.randrange(len(options))]

    def chance(self, p: float) -> bool:
        return self._rng.random() < p

    def data(self, size: int) -> bytes:
        return self._rng.randbytes(size)


@dataclass(frozen=True, slots=True)
class Options:
    """What a generated program may contain.

    ``ancillary``: ABS loads at ``SKF_AD_OFF`` + a known id. ``special_offsets``: ABS and MSH
    loads at ``SKF_LL_OFF``/``SKF_NET_OFF`` + n. ``big_ind``: indexed loads whose ``k`` is
    2**31 or more ("negative"). ``observable_ret``: some ``ret a`` become ``ldx len; mod x;
    add #1; ret a``, which returns a value in 1..len, so that a socket, which only shows
    ``min(ret, len)``, shows A itself (mod len).
    """

    max_insns: int = 24
    max_packet: int = 72
    ancillary: bool = True
    special_offsets: bool = True
    big_ind: bool = True
    observable_ret: bool = False

    @classmethod
    def portable(cls, **changes: object) -> Options:
        """Nothing libpcap and Linux are documented to disagree on at compile time."""
        base = cls(ancillary=False, special_offsets=False, big_ind=False)
        return replace(base, **changes)  # type: ignore[arg-type]


# --- operands ---------------------------------------------------------------------------------

def u32(c: Chooser) -> int:
    """Any u32, skewed to small numbers and edge values."""
    match c.integer(0, 3):
        case 0:
            return c.choice(EDGE_VALUES)
        case 1:
            return c.integer(0, 300)
        case 2:
            return (c.choice(EDGE_VALUES) + c.integer(-3, 3)) & U32
        case _:
            return c.integer(0, U32)


def _jump_constant(c: Chooser) -> int:
    """Often a value a load from a low-entropy packet can produce, so both arms get taken."""
    if c.chance(0.5):
        return u32(c)
    width = c.choice((1, 2, 4))
    return int.from_bytes(bytes(c.choice(ALPHABET) for _ in range(width)), "big")


def _packet_offset(c: Chooser, opts: Options, size: int, ancillary_ok: bool) -> int:
    """An ABS/MSH offset: mostly near the packet (in and out of bounds), sometimes far."""
    roll = c.integer(0, 19)
    if roll < 15:
        return c.integer(0, opts.max_packet + 8)
    if roll < 17:
        # Far but not special: both libpcap and Linux treat it as out of bounds.
        return c.choice((0x10000, 0x7FFFFFFF, 0x80000000, isa.SKF_LL_OFF - size,
                         isa.SKF_LL_OFF - 1))
    if roll < 19 and opts.special_offsets:
        return c.choice((isa.SKF_LL_OFF, isa.SKF_NET_OFF)) + c.integer(0, 40)
    if opts.ancillary and ancillary_ok:
        return isa.SKF_AD_OFF + c.choice(sorted(isa.ANCILLARY))
    return c.integer(0, opts.max_packet)


def _ind_offset(c: Chooser, opts: Options) -> int:
    if opts.big_ind and c.chance(0.2):
        return c.choice((U32, U32 - 1, U32 - 3, 0x80000000, isa.SKF_LL_OFF, isa.SKF_NET_OFF,
                         isa.SKF_AD_OFF))
    return c.integer(0, opts.max_packet + 4)


# --- programs ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Jump:
    """A jump before layout: targets are item indices, turned into offsets by ``_layout``."""

    code: int
    k: int
    true: int
    false: int


_Item = Insn | _Jump

_CODES = sorted(isa.OPCODES)
_OBSERVABLE_RET = (
    Insn(isa.BPF_LDX | isa.BPF_W | isa.BPF_LEN),
    Insn(isa.BPF_ALU | isa.BPF_MOD | isa.BPF_X),
    Insn(isa.BPF_ALU | isa.BPF_ADD | isa.BPF_K, 0, 0, 1),
    Insn(isa.BPF_RET | isa.BPF_A),
)
#: Jumps reach at most this many items ahead, so that offsets stay below 256 after layout.
_REACH = 50


_STRAIGHT_CODES = [code for code in _CODES
                   if isa.BPF_CLASS(code) not in (isa.BPF_JMP, isa.BPF_RET)]
_COND_CODES = sorted(isa.CONDITIONAL_JUMPS)


def _item(c: Chooser, opts: Options, index: int, count: int, stored: set[int],
          codes: Sequence[int] = _CODES) -> _Item:
    code = c.choice(codes)
    info = isa.OPCODES[code]
    cls = isa.BPF_CLASS(code)
    op = isa.BPF_OP(code)
    last = count - 1
    match info.operand:
        case "abs" | "msh":
            return Insn(code, 0, 0, _packet_offset(c, opts, info.size, cls == isa.BPF_LD))
        case "ind":
            return Insn(code, 0, 0, _ind_offset(c, opts))
        case "mem":
            if cls in (isa.BPF_ST, isa.BPF_STX):
                slot = c.integer(0, isa.BPF_MEMWORDS - 1)
                stored.add(slot)
            else:
                # Prefer slots stored earlier, so that fewer reads need repairing.
                slot = (c.choice(sorted(stored)) if stored and c.chance(0.8)
                        else c.integer(0, isa.BPF_MEMWORDS - 1))
            return Insn(code, 0, 0, slot)
        case "ja":
            return _Jump(code, 0, c.integer(index + 1, min(last, index + _REACH)), -1)
        case "k" if cls == isa.BPF_JMP:
            true = c.integer(index + 1, min(last, index + _REACH))
            false = c.integer(index + 1, min(last, index + _REACH))
            return _Jump(code, _jump_constant(c), true, false)
        case "x" if cls == isa.BPF_JMP:
            true = c.integer(index + 1, min(last, index + _REACH))
            false = c.integer(index + 1, min(last, index + _REACH))
            return _Jump(code, 0, true, false)
        case "k" if cls == isa.BPF_ALU and op in (isa.BPF_LSH, isa.BPF_RSH):
            return Insn(code, 0, 0, c.integer(0, 31))
        case "k" if cls == isa.BPF_ALU and op in (isa.BPF_DIV, isa.BPF_MOD):
            return Insn(code, 0, 0, u32(c) or 1)
        case "k" | "imm":
            return Insn(code, 0, 0, u32(c))
        case _:  # len, x, a, none: k is ignored, so make it noise
            return Insn(code, 0, 0, u32(c) if c.chance(0.2) else 0)


def _ret(c: Chooser, opts: Options) -> tuple[Insn, ...]:
    lead: tuple[Insn, ...] = ()
    if c.chance(0.25):
        # Not a bare return: a block that is more than a return but always returns.
        lead = (Insn(isa.BPF_ALU | isa.BPF_ADD | isa.BPF_K, 0, 0, c.integer(0, 3)),)
    return lead + _bare_ret(c, opts)


def _bare_ret(c: Chooser, opts: Options) -> tuple[Insn, ...]:
    if c.chance(0.5):
        return (Insn(isa.BPF_RET | isa.BPF_K, 0, 0, u32(c)),)
    if opts.observable_ret and c.chance(0.7):
        return _OBSERVABLE_RET
    return (Insn(isa.BPF_RET | isa.BPF_A),)


def _layout(items: list[tuple[_Item, ...]]) -> list[Insn]:
    """Flatten items into instructions, turning jump targets (item indices) into offsets."""
    starts: list[int] = []
    pc = 0
    for group in items:
        starts.append(pc)
        pc += len(group)
    program: list[Insn] = []
    for group in items:
        for item in group:
            here = len(program)
            if isinstance(item, _Jump):
                true = starts[item.true] - here - 1
                if item.false < 0:  # ja
                    program.append(Insn(item.code, 0, 0, true))
                else:
                    program.append(Insn(item.code, true, starts[item.false] - here - 1, item.k))
            else:
                program.append(item)
    return program


def scratch_valid(insns: Sequence[Insn]) -> list[int]:
    """The kernel's ``check_load_and_stores`` as data: for each pc, the mask of M[] slots that
    count as written when it runs."""
    everything = (1 << isa.BPF_MEMWORDS) - 1
    masks = [everything] * len(insns)
    valid = 0
    result: list[int] = []
    for pc, insn in enumerate(insns):
        valid &= masks[pc]
        result.append(valid)
        if insn.code in (isa.BPF_ST, isa.BPF_STX):
            valid |= 1 << insn.k
        elif insn.code == isa.BPF_JMP | isa.BPF_JA:
            masks[pc + 1 + insn.k] &= valid
            valid = everything
        elif isa.is_conditional_jump(insn.code):
            masks[pc + 1 + insn.jt] &= valid
            masks[pc + 1 + insn.jf] &= valid
            valid = everything
    return result


def _repair_scratch_reads(insns: list[Insn]) -> list[Insn]:
    """Turn reads of never-written slots into immediate loads (reads change no mask, so one
    pass suffices)."""
    valid = scratch_valid(insns)
    repaired = list(insns)
    for pc, insn in enumerate(insns):
        if insn.code == isa.BPF_LD | isa.BPF_MEM and not valid[pc] & (1 << insn.k):
            repaired[pc] = Insn(isa.BPF_LD | isa.BPF_IMM, 0, 0, insn.k)
        elif insn.code == isa.BPF_LDX | isa.BPF_MEM and not valid[pc] & (1 << insn.k):
            repaired[pc] = Insn(isa.BPF_LDX | isa.BPF_IMM, 0, 0, insn.k)
    return repaired


def _flat(c: Chooser, opts: Options, stored: set[int]) -> list[tuple[_Item, ...]]:
    """Any opcode anywhere, jumps to any later instruction: many shared blocks."""
    count = c.integer(1, opts.max_insns)
    items: list[tuple[_Item, ...]] = []
    for index in range(count - 1):
        if c.chance(0.12):
            items.append(_ret(c, opts))  # a return mid-program: a new path starts after it
        else:
            items.append((_item(c, opts, index, count, stored),))
    items.append(_ret(c, opts))
    return items


def _tree(c: Chooser, opts: Options, stored: set[int]) -> list[tuple[_Item, ...]]:
    """A decision tree whose leaves return or jump to a few shared tails, like the code
    libpcap emits: mostly blocks with one predecessor, nested arbitrarily deep."""
    items: list[tuple[_Item, ...]] = []
    tails = c.integer(0, 3)
    # Tails get labels -2, -3, ... until they are placed after the tree.
    labels = [-2 - t for t in range(tails)]
    limit = min(opts.max_insns, 40)

    def subtree(budget: int) -> None:
        for _ in range(c.integer(0, 2)):
            items.append((_item(c, opts, len(items), len(items) + 2, stored, _STRAIGHT_CODES),))
        if budget <= 0 or len(items) >= limit or c.chance(0.2):
            if labels and c.chance(0.4):
                items.append((_Jump(isa.BPF_JMP | isa.BPF_JA, 0, c.choice(labels), -1),))
            else:
                items.append(_ret(c, opts))
            return
        code = c.choice(_COND_CODES)
        k = _jump_constant(c) if isa.BPF_SRC(code) == isa.BPF_K else 0
        at = len(items)
        items.append(())
        true = len(items)
        if labels and c.chance(0.15):
            true = c.choice(labels)
        else:
            subtree(budget - 1 - c.integer(0, 2))
        false = len(items)
        if labels and c.chance(0.15):
            false = c.choice(labels)
        else:
            subtree(budget - 1 - c.integer(0, 2))
        items[at] = (_Jump(code, k, true, false),)

    subtree(c.integer(0, max(0, opts.max_insns // 4)))
    place = {}
    for label in labels:
        place[label] = len(items)
        for _ in range(c.integer(0, 2)):
            items.append((_item(c, opts, len(items), len(items) + 2, stored, _STRAIGHT_CODES),))
        items.append(_ret(c, opts))

    def resolve(target: int) -> int:
        return place.get(target, target)

    return [tuple(replace(item, true=resolve(item.true), false=resolve(item.false))
                  if isinstance(item, _Jump) else item for item in group) for group in items]


def checked_program(c: Chooser, opts: Options = Options()) -> list[Insn]:
    """A random program that passes ``isa.check``: either any instructions with random
    forward jumps, or a decision tree with shared tails."""
    stored: set[int] = set()
    program = _layout(_tree(c, opts, stored)) if c.chance(0.5) else None
    if program is None or any(max(i.jt, i.jf) > 255 for i in program):
        program = _layout(_flat(c, opts, stored))  # rare: a tree too wide for 8-bit jumps
    program = _repair_scratch_reads(program)
    isa.check(program)
    return program


def packet(c: Chooser, opts: Options = Options()) -> bytes:
    """Random bytes; often over a tiny alphabet, so that loads meet the constants jumps test
    against, and sometimes with a plausible IPv4 nibble where ``ldxb 4*([14]&0xf)`` looks."""
    size = c.integer(0, opts.max_packet)
    if c.chance(0.5):
        data = bytearray(c.data(size))
    else:
        data = bytearray(c.choice(ALPHABET) for _ in range(size))
    if size > 14 and c.chance(0.3):
        data[14] = 0x40 | c.integer(5, 15)
    return bytes(data)


# --- breaking programs ------------------------------------------------------------------------

_NOT_ANCILLARY = [offset for offset in range(0x1000) if offset not in isa.ANCILLARY]


def _unknown_ancillary(c: Chooser) -> int:
    return isa.SKF_AD_OFF + c.choice(_NOT_ANCILLARY)


def _mutate(c: Chooser, program: list[Insn]) -> list[Insn]:
    """One of the ways a program can break a checker rule (or, sometimes, not break it)."""
    n = len(program)
    if n == 0:
        return program
    pc = c.integer(0, n - 1)
    insn = program[pc]
    match c.integer(0, 13):
        case 0:  # any opcode at all, mostly near the real ones
            code = c.integer(0, 0xFF) if c.chance(0.9) else c.integer(0, 0xFFFF)
            program[pc] = insn._replace(code=code)
        case 1:  # a jump reaching the end or past it
            reach = n - pc - 1 + c.integer(-1, 2)
            if c.chance(0.5):
                program[pc] = Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0, max(0, reach) & U32)
            else:
                code = c.choice(sorted(isa.CONDITIONAL_JUMPS))
                other = c.integer(0, max(0, n - pc - 2))
                jt, jf = (reach, other) if c.chance(0.5) else (other, reach)
                program[pc] = Insn(code, min(255, max(0, jt)), min(255, max(0, jf)), u32(c))
        case 2:  # a scratch read somewhere, possibly before any write
            code = c.choice((isa.BPF_LD | isa.BPF_MEM, isa.BPF_LDX | isa.BPF_MEM))
            program.insert(pc, Insn(code, 0, 0, c.integer(0, isa.BPF_MEMWORDS - 1)))
        case 3:  # constant division or modulo, often by zero
            op = c.choice((isa.BPF_DIV, isa.BPF_MOD))
            program[pc] = Insn(isa.BPF_ALU | op | isa.BPF_K, 0, 0, 0 if c.chance(0.7) else u32(c))
        case 4:  # constant shift around 32
            op = c.choice((isa.BPF_LSH, isa.BPF_RSH))
            program[pc] = Insn(isa.BPF_ALU | op | isa.BPF_K, 0, 0, c.choice((31, 32, 33, 255, U32)))
        case 5:  # no final return
            if c.chance(0.5):
                program.pop()
            else:
                program[-1] = Insn(isa.BPF_LD | isa.BPF_IMM, 0, 0, u32(c))
        case 6:  # ancillary load, unknown or known
            code = c.choice((0x20, 0x28, 0x30))
            k = _unknown_ancillary(c) if c.chance(0.6) else \
                isa.SKF_AD_OFF + c.choice(sorted(isa.ANCILLARY))
            program[pc] = Insn(code, 0, 0, k)
        case 7:  # scratch slot out of range
            code = c.choice((isa.BPF_ST, isa.BPF_STX, isa.BPF_LD | isa.BPF_MEM,
                             isa.BPF_LDX | isa.BPF_MEM))
            program[pc] = Insn(code, 0, 0, c.choice((15, 16, 17, 255, U32)))
        case 8:  # nothing at all
            program.clear()
        case 9:  # right at, or one past, the kernel's size limit (relative jumps survive)
            size = isa.BPF_MAXINSNS + c.integer(0, 1)
            filler = Insn(isa.BPF_LD | isa.BPF_IMM, 0, 0, 1)
            program[:0] = [filler] * max(0, size - len(program))
        case 10:  # jt/jf noise on an instruction that is not a conditional jump
            program[pc] = insn._replace(jt=c.integer(0, 255), jf=c.integer(0, 255))
        case 11:  # special or far offsets on other load forms
            code = c.choice((0x40, 0x48, 0x50, 0xB1, 0x20, 0x28, 0x30))
            program[pc] = Insn(code, 0, 0, c.choice((isa.SKF_LL_OFF, isa.SKF_NET_OFF,
                                                      isa.SKF_AD_OFF, _unknown_ancillary(c),
                                                      U32, 0x80000000)))
        case 12:  # a return with odd operand bits
            program[pc] = Insn(isa.BPF_RET | c.choice((0x00, 0x08, 0x10, 0x18)), 0, 0, u32(c))
        case _:  # k noise anywhere
            program[pc] = insn._replace(k=u32(c))
    return program


def maybe_invalid_program(c: Chooser, opts: Options = Options(max_insns=16)) -> list[Insn]:
    """A checked program broken by zero to three mutations."""
    program = checked_program(c, opts)
    for _ in range(c.integer(0, 3)):
        program = _mutate(c, program)
    return program


# --- hypothesis wrappers ----------------------------------------------------------------------

@st.composite
def checked_programs(draw: st.DrawFn, opts: Options = Options()) -> list[Insn]:
    return checked_program(HypothesisChooser(draw), opts)


@st.composite
def packets(draw: st.DrawFn, opts: Options = Options()) -> bytes:
    return packet(HypothesisChooser(draw), opts)


@st.composite
def maybe_invalid_programs(draw: st.DrawFn,
                           opts: Options = Options(max_insns=16)) -> list[Insn]:
    return maybe_invalid_program(HypothesisChooser(draw), opts)


# --- oracles and corpus data ------------------------------------------------------------------
# Shared by the VM, JIT, kernel and checker tests (and free for the batch engine's).

class _LibpcapFilter(Protocol):
    def __call__(self, program: bytes, packet: bytes, wirelen: int, buflen: int) -> int: ...


def _load_libpcap_filter() -> _LibpcapFilter | None:
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("pcap") or "libpcap.so.0.8")
    except OSError:
        return None
    func = lib.bpf_filter
    func.restype = ctypes.c_uint
    func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint]
    return cast(_LibpcapFilter, func)


_LIBPCAP_FILTER = _load_libpcap_filter()


def libpcap_available() -> bool:
    return _LIBPCAP_FILTER is not None


def libpcap_run(insns: Sequence[Insn], packet: bytes, wirelen: int | None = None) -> int:
    """libpcap's own ``bpf_filter()`` (the system library, through ctypes) on any program,
    not only on the ones ``pcap_compile`` emits."""
    assert _LIBPCAP_FILTER is not None, "libpcap is not installed"
    return _LIBPCAP_FILTER(isa.pack(insns), packet,
                           len(packet) if wirelen is None else wirelen, len(packet))


@dataclass(frozen=True, slots=True)
class Vector:
    """One program/packet pair of the kernel's ``lib/test_bpf.c`` (see the corpus README)."""

    id: str
    category: str
    insns: tuple[Insn, ...]
    packet: bytes
    wirelen: int
    expected: int
    libpcap_result: int | None


@dataclass(frozen=True, slots=True)
class VectorProgram:
    """One test of ``kernel_cbpf_tests.json`` without packets (validator and checker tests)."""

    id: str
    category: str
    insns: tuple[Insn, ...]
    reject_reason: str | None


def _corpus_tests() -> list[dict[str, Any]]:
    path = CORPUS / "kernel_cbpf_tests.json"
    if not path.exists():
        return []
    tests: list[dict[str, Any]] = json.loads(path.read_text())["tests"]
    return tests


def kernel_vector_programs() -> list[VectorProgram]:
    return [VectorProgram(test["name"], test["category"],
                          tuple(Insn(*i) for i in test["insns"]), test["reject_reason"])
            for test in _corpus_tests()]


def kernel_vectors() -> list[Vector]:
    vectors = []
    for test in _corpus_tests():
        for n, sub in enumerate(test["subtests"]):
            vectors.append(Vector(
                f"{test['name']}#{n}", test["category"], tuple(Insn(*i) for i in test["insns"]),
                bytes.fromhex(sub["packet_hex"]), sub["wirelen"], sub["expected"],
                sub["libpcap_result"]))
    return vectors


LibpcapProgram = tuple[int, str, list[Insn], Callable[[bytes], int]]


def libpcap_corpus_programs(dlts: Sequence[int]
                            ) -> tuple[list[LibpcapProgram], set[tuple[int, str]]]:
    """libpcap's optimized program (pcapy's ``compile``) for every corpus expression on each
    link type of ``dlts`` where it compiles, with its ``bpf_filter``: those ``isa.check``
    accepts, and the (dlt, expression) pairs whose program it refuses (``protochain`` loops
    backwards)."""
    import pcapy  # optional test dependency: imported only by the tests that compare with it

    expressions = (CORPUS / "expressions.txt").read_text().splitlines()
    programs: list[LibpcapProgram] = []
    refused: set[tuple[int, str]] = set()
    for dlt in dlts:
        for expr in expressions:
            try:
                bpf = pcapy.compile(dlt, 262144, expr, 1, 0)
            except pcapy.PcapError:
                continue
            program = [Insn(*i) for i in bpf.get_bpf()]
            if isa.is_valid(program):
                programs.append((dlt, expr, program, bpf.filter))
            else:
                refused.add((dlt, expr))
    return programs, refused


def corpus_packets() -> dict[int, list[bytes]]:
    """The captured bytes of every corpus packet, by the DLT libpcap reports for its file.
    Read with pcapy (libpcap itself), not with our own reader."""
    import pcapy  # optional test dependency: imported only by the tests that read pcaps

    by_dlt: dict[int, list[bytes]] = {}
    for path in sorted(CORPUS_PCAPS.glob("*.pcap*")):
        try:
            reader = pcapy.open_offline(str(path))
        except pcapy.PcapError:
            continue
        dlt = reader.datalink()
        while True:
            try:
                header, data = reader.next()
            except pcapy.PcapError:
                break
            if header is None:
                break
            by_dlt.setdefault(dlt, []).append(bytes(data))
    return by_dlt


def attach_works() -> bool:
    """Whether this machine lets a test attach a classic filter to a socket at all."""
    from bpfc import kernel
    from bpfc.errors import AttachError

    try:
        return kernel.kernel_accepts([Insn(isa.BPF_RET | isa.BPF_K)])
    except (OSError, AttachError):
        return False


def kernel_says_valid(program: list[Insn] | tuple[Insn, ...]) -> bool:
    """The kernel's verdict on ``program``; ENOMEM (optmem accounting, after every check) counts
    as accepted."""
    import errno

    from bpfc import kernel
    from bpfc.errors import AttachError

    try:
        return kernel.kernel_accepts(program)
    except AttachError as exc:
        assert isinstance(exc.__cause__, OSError) and exc.__cause__.errno == errno.ENOMEM, exc
        return True
