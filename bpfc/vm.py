"""The reference interpreter: a checked program and one packet in, the filter's return value out.

Stage: ``Program`` → verdict. It is the executable specification the JIT, the batch engine and
the optimizer are tested against, so it favours being obviously right over being fast: every
opcode is dispatched through the ``isa.OPCODES`` table to one small handler, and ``trace()``
shares the same handlers, so what a trace shows is exactly what ``run()`` computes.

Semantics are libpcap's ``bpf_filter()`` (1.10), not the kernel's; where the two differ the
kernel-differential tests say so:

- A, X and M[0..15] are u32, all arithmetic is modulo 2**32, M[] and both registers start at 0;
- a packet load past the captured bytes, a division or modulo by X == 0 make the program
  return 0 at once;
- ``[x + k]`` is an unbounded sum: libpcap checks it for unsigned overflow, so a "negative"
  ``k`` never reaches back into the packet (Linux adds modulo 2**32 and reads it as signed);
- a shift by X >= 32 gives 0 (Linux masks the count to its low 5 bits);
- ancillary and special-offset loads (``SKF_AD_OFF``, ``SKF_NET_OFF``, ``SKF_LL_OFF``) are just
  out-of-bounds loads returning 0, as in libpcap without aux data; only the kernel gives them
  meaning;
- ``len`` is the wire length, which defaults to the captured length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from . import isa
from .isa import Insn

U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Step:
    """The machine just before instruction ``pc`` runs (what a debugger would print)."""

    pc: int
    insn: Insn
    a: int
    x: int
    mem: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Trace:
    """Every executed step of one run, in order, and the value the program returned."""

    steps: tuple[Step, ...]
    result: int


class _Machine:
    """The mutable registers of one run. Handlers mutate it; ``pc`` already points past the
    running instruction when its handler is called, so jumps just add their offset."""

    __slots__ = ("a", "mem", "pc", "pkt", "wirelen", "x")

    def __init__(self, pkt: bytes, wirelen: int) -> None:
        self.a = 0
        self.x = 0
        self.mem = [0] * isa.BPF_MEMWORDS
        self.pc = 0
        self.pkt = pkt
        self.wirelen = wirelen


#: A handler runs one instruction; it returns the program's result to stop, or None to go on.
_Handler = Callable[[_Machine, Insn], int | None]


def _fetch(pkt: bytes, offset: int, size: int) -> int | None:
    """Big-endian load of ``size`` bytes at ``offset``, or None when any byte is not captured.

    ``offset`` is a Python int, so ``x + k`` never wraps: this is libpcap's overflow-checked
    bound, and why ancillary offsets near 2**32 simply fall off the end of the packet.
    """
    if offset + size > len(pkt):
        return None
    return int.from_bytes(pkt[offset:offset + size], "big")


# --- ALU --------------------------------------------------------------------------------------

def _shl(a: int, n: int) -> int:
    # libpcap: a shift by 32 or more gives 0 (in C it would be undefined).
    return (a << n) & U32 if n < 32 else 0


def _shr(a: int, n: int) -> int:
    return a >> n if n < 32 else 0


#: ``a op b`` on u32 words per BPF ALU operation (the divisor is nonzero: callers check).
ALU_OPS: dict[int, Callable[[int, int], int]] = {
    isa.BPF_ADD: lambda a, b: (a + b) & U32,
    isa.BPF_SUB: lambda a, b: (a - b) & U32,
    isa.BPF_MUL: lambda a, b: (a * b) & U32,
    isa.BPF_DIV: lambda a, b: a // b,
    isa.BPF_MOD: lambda a, b: a % b,
    isa.BPF_AND: lambda a, b: a & b,
    isa.BPF_OR: lambda a, b: a | b,
    isa.BPF_XOR: lambda a, b: a ^ b,
    isa.BPF_LSH: _shl,
    isa.BPF_RSH: _shr,
}

_DIVIDES = frozenset((isa.BPF_DIV, isa.BPF_MOD))

_JMP_TESTS: dict[int, Callable[[int, int], bool]] = {
    isa.BPF_JEQ: lambda a, b: a == b,
    isa.BPF_JGT: lambda a, b: a > b,
    isa.BPF_JGE: lambda a, b: a >= b,
    isa.BPF_JSET: lambda a, b: (a & b) != 0,
}


def _alu_handler(info: isa.OpInfo) -> _Handler:
    op = isa.BPF_OP(info.code)
    if op == isa.BPF_NEG:
        def neg(m: _Machine, insn: Insn) -> None:
            m.a = -m.a & U32
        return neg
    fn = ALU_OPS[op]
    from_x = info.operand == "x"
    divides = op in _DIVIDES

    def alu(m: _Machine, insn: Insn) -> int | None:
        operand = m.x if from_x else insn.k
        if divides and operand == 0:
            return 0  # only reachable with X: the checker refuses a constant 0 divisor
        m.a = fn(m.a, operand)
        return None
    return alu


def _jmp_handler(info: isa.OpInfo) -> _Handler:
    if info.operand == "ja":
        def ja(m: _Machine, insn: Insn) -> None:
            m.pc += insn.k
        return ja
    test = _JMP_TESTS[isa.BPF_OP(info.code)]
    from_x = info.operand == "x"

    def jump(m: _Machine, insn: Insn) -> None:
        m.pc += insn.jt if test(m.a, m.x if from_x else insn.k) else insn.jf
    return jump


# --- loads and stores -------------------------------------------------------------------------

def _load_handler(info: isa.OpInfo) -> _Handler:
    to_x = isa.BPF_CLASS(info.code) == isa.BPF_LDX
    size = info.size

    def store(m: _Machine, value: int) -> None:
        if to_x:
            m.x = value
        else:
            m.a = value

    match info.operand:
        case "abs" | "ind":
            indexed = info.operand == "ind"

            def packet(m: _Machine, insn: Insn) -> int | None:
                value = _fetch(m.pkt, insn.k + (m.x if indexed else 0), size)
                if value is None:
                    return 0
                store(m, value)
                return None
            return packet
        case "msh":
            def msh(m: _Machine, insn: Insn) -> int | None:
                value = _fetch(m.pkt, insn.k, 1)
                if value is None:
                    return 0
                m.x = (value & 0xF) << 2
                return None
            return msh
        case "len":
            def length(m: _Machine, insn: Insn) -> None:
                store(m, m.wirelen)
            return length
        case "imm":
            def imm(m: _Machine, insn: Insn) -> None:
                store(m, insn.k)
            return imm
        case "mem":
            def mem(m: _Machine, insn: Insn) -> None:
                store(m, m.mem[insn.k])
            return mem
    raise AssertionError(f"load operand {info.operand!r} has no handler")


def _st(m: _Machine, insn: Insn) -> None:
    m.mem[insn.k] = m.a


def _stx(m: _Machine, insn: Insn) -> None:
    m.mem[insn.k] = m.x


def _ret_k(m: _Machine, insn: Insn) -> int:
    return insn.k


def _ret_a(m: _Machine, insn: Insn) -> int:
    return m.a


def _tax(m: _Machine, insn: Insn) -> None:
    m.x = m.a


def _txa(m: _Machine, insn: Insn) -> None:
    m.a = m.x


def _handler(info: isa.OpInfo) -> _Handler:
    match isa.BPF_CLASS(info.code):
        case isa.BPF_LD | isa.BPF_LDX:
            return _load_handler(info)
        case isa.BPF_ST:
            return _st
        case isa.BPF_STX:
            return _stx
        case isa.BPF_ALU:
            return _alu_handler(info)
        case isa.BPF_JMP:
            return _jmp_handler(info)
        case isa.BPF_RET:
            return _ret_a if info.operand == "a" else _ret_k
        case isa.BPF_MISC:
            return _txa if info.code == isa.BPF_MISC | isa.BPF_TXA else _tax
    raise AssertionError(f"opcode 0x{info.code:02x} has no handler")


#: One handler per opcode, built from the ISA table so that a new opcode there is a KeyError
#: here rather than a silent mis-execution.
HANDLERS: dict[int, _Handler] = {code: _handler(info) for code, info in isa.OPCODES.items()}


@lru_cache(maxsize=256)
def _decode(insns: tuple[Insn, ...]) -> tuple[tuple[_Handler, Insn], ...]:
    isa.check(insns)
    return tuple((HANDLERS[insn.code], insn) for insn in insns)


def _load(insns: Sequence[Insn]) -> tuple[tuple[_Handler, Insn], ...]:
    return _decode(tuple(Insn(*insn) for insn in insns))


def run(insns: Sequence[Insn], packet: bytes, wirelen: int | None = None) -> int:
    """Run ``insns`` on ``packet``; ``wirelen`` is the original length (``len``), default
    ``len(packet)``. Raises ``ProgramError`` if the program does not pass ``isa.check``;
    a checked program never raises."""
    code = _load(insns)
    m = _Machine(packet, len(packet) if wirelen is None else wirelen)
    while True:
        handler, insn = code[m.pc]
        m.pc += 1
        result = handler(m, insn)
        if result is not None:
            return result


def trace(insns: Sequence[Insn], packet: bytes, wirelen: int | None = None) -> Trace:
    """Like ``run``, but also record the machine before every executed instruction."""
    code = _load(insns)
    m = _Machine(packet, len(packet) if wirelen is None else wirelen)
    steps: list[Step] = []
    while True:
        handler, insn = code[m.pc]
        steps.append(Step(m.pc, insn, m.a, m.x, tuple(m.mem)))
        m.pc += 1
        result = handler(m, insn)
        if result is not None:
            return Trace(tuple(steps), result)
