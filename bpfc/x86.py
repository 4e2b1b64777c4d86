"""A small x86-64 assembler: the instructions ``native`` needs, encoded by hand.

Stage: a tool of the native engine (``bpfc.native``), which writes a filter and the record walk
around it as machine code. Only what that code uses is here: 32- and 64-bit moves, loads and
stores with a ``[base + index + disp32]`` operand, the ALU group, shifts, ``imul``/``div``,
``bswap``, and ``jmp``/``jcc`` to labels, always with 32-bit displacements (fixed up once the
code is laid out), so an instruction's size never depends on where its label lands.

Encoding (Intel SDM vol. 2, chapter 2): an optional REX prefix ``0100WRXB`` (W: 64-bit operand;
R, X, B: the fourth bit of ModRM.reg, SIB.index and ModRM.rm/SIB.base), the opcode, a ModRM
byte, a SIB byte when the operand has an index or its base is rsp/r12, then the displacement
and the immediate, little-endian. Memory operands always take the ``mod = 10`` (disp32) form,
which also sidesteps the rbp/r13 special case of ``mod = 00``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final


class R(IntEnum):
    """The sixteen general registers, by their encoding number."""

    RAX = 0
    RCX = 1
    RDX = 2
    RBX = 3
    RSP = 4
    RBP = 5
    RSI = 6
    RDI = 7
    R8 = 8
    R9 = 9
    R10 = 10
    R11 = 11
    R12 = 12
    R13 = 13
    R14 = 14
    R15 = 15


class CC(IntEnum):
    """Condition codes, as the low nibble of ``jcc``'s opcode."""

    B = 0x2  # unsigned <
    AE = 0x3  # unsigned >=
    E = 0x4
    NE = 0x5
    BE = 0x6  # unsigned <=
    A = 0x7  # unsigned >
    L = 0xC  # signed <
    GE = 0xD  # signed >=
    LE = 0xE  # signed <=
    G = 0xF  # signed >


@dataclass(frozen=True, slots=True)
class Mem:
    """A memory operand ``[base + index + disp]`` (no scale)."""

    base: R
    index: R | None = None
    disp: int = 0


#: ``/digit`` of the 0x81 (op r/m, imm32) group, and the opcode of the ``op r/m, reg`` form.
class Alu(IntEnum):
    ADD = 0
    OR = 1
    AND = 4
    SUB = 5
    XOR = 6
    CMP = 7


_ALU_RM_REG: Final = {Alu.ADD: 0x01, Alu.OR: 0x09, Alu.AND: 0x21, Alu.SUB: 0x29,
                      Alu.XOR: 0x31, Alu.CMP: 0x39}
_ALU_REG_RM: Final = {op: code + 2 for op, code in _ALU_RM_REG.items()}


@dataclass(slots=True)
class Assembler:
    """Appends instructions to ``code``; ``label``/``jump``/``jcc`` lay out forward and
    backward jumps, resolved by ``finish``."""

    code: bytearray = field(default_factory=bytearray)
    labels: dict[object, int] = field(default_factory=dict)
    fixups: list[tuple[int, object]] = field(default_factory=list)

    # -- encoding helpers ------------------------------------------------------------------

    def _rex(self, w: bool, reg: int, index: int, base: int) -> None:
        rex = 0x40 | (8 if w else 0) | ((reg >> 3) << 2) | ((index >> 3) << 1) | (base >> 3)
        if rex != 0x40:
            self.code.append(rex)

    def _rr(self, opcode: bytes, reg: int, rm: int, w: bool) -> None:
        """``opcode`` with a register-direct ModRM (mod = 11)."""
        self._rex(w, reg, 0, rm)
        self.code += opcode
        self.code.append(0xC0 | ((reg & 7) << 3) | (rm & 7))

    def _rm(self, opcode: bytes, reg: int, mem: Mem, w: bool, prefix: bytes = b"") -> None:
        """``opcode`` with a memory ModRM (mod = 10, disp32), SIB where needed."""
        if not -(1 << 31) <= mem.disp < (1 << 31):
            raise ValueError(f"displacement {mem.disp} does not fit in 32 bits")
        index = mem.index
        if index == R.RSP:
            raise ValueError("rsp cannot be an index")
        self.code += prefix
        self._rex(w, reg, 0 if index is None else index, mem.base)
        self.code += opcode
        if index is None and (mem.base & 7) != 4:
            self.code.append(0x80 | ((reg & 7) << 3) | (mem.base & 7))
        else:
            self.code.append(0x80 | ((reg & 7) << 3) | 4)
            sib_index = 4 if index is None else index & 7  # 100: no index
            self.code.append((sib_index << 3) | (mem.base & 7))
        self.code += struct.pack("<i", mem.disp)

    @staticmethod
    def _imm32(value: int) -> bytes:
        """A 32-bit immediate: any u32 pattern, or a value that sign-extends to 64 bits."""
        if 0 <= value <= 0xFFFFFFFF:
            return struct.pack("<I", value)
        return struct.pack("<i", value)

    # -- moves -----------------------------------------------------------------------------

    def mov_rr(self, dst: R, src: R, w: bool = False) -> None:
        """mov dst, src (32-bit: zero-extends into the upper half)."""
        self._rr(b"\x89", src, dst, w)

    def mov_ri(self, dst: R, value: int) -> None:
        """mov dst32, imm32 (zero-extended to 64 bits)."""
        self._rex(False, 0, 0, dst)
        self.code.append(0xB8 + (dst & 7))
        self.code += struct.pack("<I", value & 0xFFFFFFFF)

    def load(self, dst: R, mem: Mem, w: bool = False) -> None:
        """mov dst, [mem] (4 or 8 bytes)."""
        self._rm(b"\x8b", dst, mem, w)

    def store(self, mem: Mem, src: R, w: bool = False) -> None:
        """mov [mem], src (4 or 8 bytes)."""
        self._rm(b"\x89", src, mem, w)

    def load_u8(self, dst: R, mem: Mem) -> None:
        """movzx dst32, byte [mem]."""
        self._rm(b"\x0f\xb6", dst, mem, False)

    def load_u16(self, dst: R, mem: Mem) -> None:
        """movzx dst32, word [mem]."""
        self._rm(b"\x0f\xb7", dst, mem, False)

    def prefetch(self, mem: Mem) -> None:
        """prefetcht0 [mem]: a hint, it never faults."""
        self._rm(b"\x0f\x18", 1, mem, False)

    def lea(self, dst: R, mem: Mem) -> None:
        """lea dst64, [mem]."""
        self._rm(b"\x8d", dst, mem, True)

    # -- arithmetic ------------------------------------------------------------------------

    def alu_ri(self, op: Alu, dst: R, value: int, w: bool = False) -> None:
        """op dst, imm32 (with ``w``, the immediate is sign-extended to 64 bits)."""
        if w and not -(1 << 31) <= value < (1 << 31):
            raise ValueError(f"{value} does not sign-extend from 32 bits")
        self._rr(b"\x81", op, dst, w)
        self.code += self._imm32(value)

    def alu_rr(self, op: Alu, dst: R, src: R, w: bool = False) -> None:
        """op dst, src."""
        self._rr(bytes([_ALU_RM_REG[op]]), src, dst, w)

    def alu_rm(self, op: Alu, dst: R, mem: Mem, w: bool = True) -> None:
        """op dst, [mem]."""
        self._rm(bytes([_ALU_REG_RM[op]]), dst, mem, w)

    def alu_mr(self, op: Alu, mem: Mem, src: R, w: bool = True) -> None:
        """op [mem], src."""
        self._rm(bytes([_ALU_RM_REG[op]]), src, mem, w)

    def test_rr(self, a: R, b: R) -> None:
        """test a32, b32."""
        self._rr(b"\x85", b, a, False)

    def test_ri(self, dst: R, value: int) -> None:
        """test dst32, imm32."""
        self._rr(b"\xf7", 0, dst, False)
        self.code += self._imm32(value)

    def inc_m(self, mem: Mem) -> None:
        """inc qword [mem]."""
        self._rm(b"\xff", 0, mem, True)

    def imul_rr(self, dst: R, src: R) -> None:
        """imul dst32, src32 (the low 32 bits are the unsigned product's)."""
        self._rr(b"\x0f\xaf", dst, src, False)

    def imul_ri(self, dst: R, src: R, value: int) -> None:
        """imul dst32, src32, imm32."""
        self._rr(b"\x69", dst, src, False)
        self.code += self._imm32(value)

    def div_r(self, src: R, w: bool = False) -> None:
        """div src: edx:eax / src → eax, remainder → edx (``w``: rdx:rax, 64 bits)."""
        self._rr(b"\xf7", 6, src, w)

    def neg_r(self, dst: R) -> None:
        """neg dst32."""
        self._rr(b"\xf7", 3, dst, False)

    def shift_ri(self, left: bool, dst: R, count: int, w: bool = False) -> None:
        """shl/shr dst, imm8 (32 bits, or 64 with ``w``)."""
        self._rr(b"\xc1", 4 if left else 5, dst, w)
        self.code.append(count & 0xFF)

    def shift_cl(self, left: bool, dst: R) -> None:
        """shl/shr dst32, cl (the count is taken modulo 32)."""
        self._rr(b"\xd3", 4 if left else 5, dst, False)

    def sbb_rr(self, dst: R, src: R) -> None:
        """sbb dst32, src32."""
        self._rr(b"\x19", src, dst, False)

    def bswap(self, dst: R) -> None:
        """bswap dst32."""
        self._rex(False, 0, 0, dst)
        self.code += bytes([0x0F, 0xC8 + (dst & 7)])

    def rol16_8(self, dst: R) -> None:
        """rol dst16, 8: swaps the two low bytes."""
        self.code.append(0x66)
        self._rr(b"\xc1", 0, dst, False)
        self.code.append(8)

    def push(self, reg: R) -> None:
        self._rex(False, 0, 0, reg)
        self.code.append(0x50 + (reg & 7))

    def pop(self, reg: R) -> None:
        self._rex(False, 0, 0, reg)
        self.code.append(0x58 + (reg & 7))

    def ret(self) -> None:
        self.code.append(0xC3)

    # -- control flow ----------------------------------------------------------------------

    def label(self, name: object) -> None:
        if name in self.labels:
            raise ValueError(f"label {name!r} placed twice")
        self.labels[name] = len(self.code)

    def jump(self, target: object) -> None:
        """jmp target (rel32)."""
        self.code.append(0xE9)
        self._rel32(target)

    def jcc(self, cc: CC, target: object) -> None:
        """j<cc> target (rel32)."""
        self.code += bytes([0x0F, 0x80 + cc])
        self._rel32(target)

    def _rel32(self, target: object) -> None:
        self.fixups.append((len(self.code), target))
        self.code += b"\0\0\0\0"

    def finish(self) -> bytes:
        """The code, every jump pointed at its label."""
        for at, target in self.fixups:
            if target not in self.labels:
                raise ValueError(f"jump to label {target!r}, never placed")
            struct.pack_into("<i", self.code, at, self.labels[target] - (at + 4))
        return bytes(self.code)
