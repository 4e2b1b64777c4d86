"""The native engine: a filter compiled to x86-64 machine code, with the walk over a capture
file's records around it, called through ctypes.

Stage: the fastest offline path (``bpfc -r big.pcap -w out.pcap EXPR`` or ``--count``). Input: a
checked program and a mapped capture file whose lengths are in this machine's byte order (a
classic pcap, or the usual pcapng file: ``Layout``); output: per call, the records walked, the
matches counted, and the runs of consecutive matching records as an ``iovec`` array ready for
``pwritev`` (pcapng to pcap: a header made here, then the packet). No numpy, no Python object per
packet: a call walks records until its stop offset, a full iovec array, damage, a record longer
than the snapshot, the ``-c`` count or (pcapng) a block the stream path must read, and says which
(``Status``). What it cannot do is left to the numpy path (classic pcap), which takes over from
the offset it stopped at, or to the stream path (pcapng), which starts over.

Why machine code: everything else on the offline path costs per packet (numpy's per-operation
overhead is paid per chunk, but its record index still touches each record several times),
whereas tcpdump walks, filters and writes each record once. The emitted code does exactly that,
as libpcap's ``bpf_filter()`` would, one record at a time:

    loop:  pos >= stop → STOP; touch the cache lines up to AHEAD bytes on
           header or record cut by the end of the file, caplen above the link type's maximum
             → DAMAGE;  caplen above the snapshot → CLIPPED
           A = X = 0; the program, its packet loads bounds-checked against caplen (a failed
             check, a division by X == 0, ``ret #0`` → reject)
           accept: extend the last iovec when this record follows it, else add one (none
             left → FULL, this record not counted); matched += 1
           read += 1; pos += 16 + caplen; accepted and matched == limit → ENOUGH

A pcapng block (``_block``) is checked as the numpy walk checks it (a sane length, the same at
both ends, within the file and the stream reader's limit; an EPB of interface 0 whose data fits
the block and the snapshot); other blocks that carry no packet are stepped over, the rest are
UNUSUAL. A matching EPB is copied as it lies (if its pad bytes are zero, as the stream path's
writer would write them) or becomes a pcap record (seconds and fraction divided out of the
64-bit timestamp).

Register use: r15 the control block (``Control``), r14 the file's address, r13 the record's
offset (pcapng: the block's; its length is kept on the stack), r12 the stop offset, rbx the next
free iovec, rbp caplen, r8 the wire length, rdi the records walked in this call, r11 the first
cache line not yet touched (``AHEAD``), rsi the packet's address, eax A, ecx X (so that a shift
by X is ``shl eax, cl``), edx, r9 and r10 scratch; M[] lives on the stack.

Only on Linux x86-64 (``available``); elsewhere, or when executable memory is refused, the numpy
path does the work. Every program is checked (``isa.check``) before it is compiled, so jumps stay
in range, no constant divides by zero and no scratch word is read before it is written.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from . import isa
from .isa import Insn
from .x86 import CC, Alu, Assembler, Mem, R

#: iovecs per call, by default: one ``pwritev`` takes at most IOV_MAX (1024 on Linux).
IOVECS: Final = 1024
#: Loads at constant offsets at or past this are always out of bounds (no caplen reaches it).
_NEVER: Final = 1 << 31
#: "No -c": more matches than any file holds.
NO_LIMIT: Final = 1 << 62
#: Every cache line of the file up to this many bytes past the record being walked is touched
#: (``prefetcht0``) as the walk passes: the walk itself reads only each record's first line,
#: too sparse for the hardware prefetcher to follow; touching every line makes the stream
#: dense. Measured on the 1M-packet bench capture: the walk takes 89 ms instead of 150.
AHEAD: Final = 256


class Status(IntEnum):
    """Why a call returned; ``Control.pos`` is then the offset of the first record not walked."""

    STOP = 0  # reached the stop offset
    FULL = 1  # no iovec left: write them out and call again
    DAMAGE = 2  # the record at pos is damaged
    CLIPPED = 3  # the record at pos is longer than the snapshot: libpcap cuts it
    ENOUGH = 4  # the -c count is reached
    UNUSUAL = 5  # pcapng: the block at pos is one the stream path must read


class Layout(IntEnum):
    """What is walked, and what a match becomes."""

    PCAP = 0  # classic pcap records; a match: its record, as it lies
    PCAPNG = 1  # pcapng blocks; a match: its EPB, as it lies
    PCAPNG_TO_PCAP = 2  # pcapng blocks; a match: a classic pcap header made here, its data


class Control(ctypes.Structure):
    """What a call reads and updates: its only argument (field offsets are the code's)."""

    _fields_ = [
        ("buf", ctypes.c_int64),  # address of the file's first byte
        ("pos", ctypes.c_int64),  # in: a record boundary; out: the first record not walked
        ("stop", ctypes.c_int64),  # walk records starting below this offset
        ("size", ctypes.c_int64),  # the file's size
        ("limit", ctypes.c_int64),  # the largest sane caplen for the link type
        ("snapshot", ctypes.c_int64),  # longer records are CLIPPED (pcapng: UNUSUAL)
        ("iov_base", ctypes.c_int64),  # address of the iovec array
        ("iov_end", ctypes.c_int64),  # address just past it
        ("iov_at", ctypes.c_int64),  # in/out: the next free iovec
        ("read", ctypes.c_int64),  # += records walked
        ("matched", ctypes.c_int64),  # += records accepted
        ("max_matched", ctypes.c_int64),  # ENOUGH once matched reaches this
        ("bytes", ctypes.c_int64),  # += bytes the iovecs added
        ("max_block", ctypes.c_int64),  # pcapng: longer blocks are UNUSUAL
        ("units", ctypes.c_int64),  # pcapng to pcap: timestamp units per second
        ("head_at", ctypes.c_int64),  # pcapng to pcap: in/out: where the next header goes
    ]


def _at(name: str) -> Mem:
    offset: int = getattr(Control, name).offset
    return Mem(R.R15, disp=offset)


_SCRATCH: Final = 8 * isa.BPF_MEMWORDS // 2  # M[] as 16 u32 on the stack
_TOTAL: Final = Mem(R.RSP, disp=_SCRATCH)  # pcapng: the block's length, across the program
_FRAME: Final = _SCRATCH + 8  # keeps rsp 16-byte aligned (six pushes and the return address)
_SAVED: Final = (R.RBX, R.RBP, R.R12, R.R13, R.R14, R.R15)
#: pcapng block types (the pcapng specification, section 4 and appendix)
_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6
#: An EPB's fixed part before the packet: type, length, interface, timestamp, two lengths.
EPB_HEAD: Final = 28

_ALU_OPS: Final = {isa.BPF_ADD: Alu.ADD, isa.BPF_SUB: Alu.SUB, isa.BPF_AND: Alu.AND,
                   isa.BPF_OR: Alu.OR, isa.BPF_XOR: Alu.XOR}
_JUMP_CC: Final = {isa.BPF_JEQ: CC.E, isa.BPF_JGT: CC.A, isa.BPF_JGE: CC.AE}
_NEGATED: Final = {CC.E: CC.NE, CC.A: CC.BE, CC.AE: CC.B, CC.NE: CC.E}


def emit(insns: Sequence[Insn] | None, layout: Layout = Layout.PCAP, writes: bool = True
         ) -> bytes:
    """The machine code of one call (``Status rax = scan(Control *rdi)``) for ``insns``
    (None: the empty filter, every record accepted) over records laid out as ``layout``;
    without ``writes`` (counting), a match only counts."""
    asm = Assembler()
    for reg in _SAVED:
        asm.push(reg)
    asm.alu_ri(Alu.SUB, R.RSP, _FRAME, w=True)
    asm.mov_rr(R.R15, R.RDI, w=True)
    asm.load(R.R14, _at("buf"), w=True)
    asm.load(R.R13, _at("pos"), w=True)
    asm.load(R.R12, _at("stop"), w=True)
    asm.load(R.RBX, _at("iov_at"), w=True)
    asm.alu_rr(Alu.XOR, R.RDI, R.RDI)
    asm.mov_rr(R.R11, R.R13, w=True)

    asm.label("loop")
    asm.alu_rr(Alu.CMP, R.R13, R.R12, w=True)
    asm.jcc(CC.GE, Status.STOP)
    asm.lea(R.R9, Mem(R.R13, disp=AHEAD))
    asm.label("touch")  # r11: the first line not touched yet
    asm.alu_rr(Alu.CMP, R.R11, R.R9, w=True)
    asm.jcc(CC.AE, "touched")
    asm.prefetch(Mem(R.R14, R.R11))
    asm.alu_ri(Alu.ADD, R.R11, 64, w=True)
    asm.jump("touch")
    asm.label("touched")
    if layout is Layout.PCAP:
        _record(asm)
    else:
        _block(asm)
    if insns is None:
        asm.jump("accept")
    else:
        asm.alu_rr(Alu.XOR, R.RAX, R.RAX)
        asm.alu_rr(Alu.XOR, R.RCX, R.RCX)
        _Program(asm, insns).emit()

    asm.label("accept")  # r9 and r10: what the match adds to the output (address, length)
    if not writes:
        asm.alu_rr(Alu.XOR, R.R10, R.R10)
    elif layout is Layout.PCAPNG_TO_PCAP:
        _made_header(asm)
    else:
        if layout is Layout.PCAP:
            asm.lea(R.R9, Mem(R.R14, R.R13))  # the record's address
            asm.lea(R.R10, Mem(R.RBP, disp=16))  # and size
        else:
            _zero_padding(asm)
            asm.lea(R.R9, Mem(R.R14, R.R13))  # the block's address
            asm.load(R.R10, _TOTAL, w=True)  # and size
        _add_run(asm)
    asm.inc_m(_at("matched"))
    asm.alu_mr(Alu.ADD, _at("bytes"), R.R10)
    _next_record(asm, layout)
    asm.load(R.R9, _at("matched"), w=True)
    asm.alu_rm(Alu.CMP, R.R9, _at("max_matched"))
    asm.jcc(CC.GE, Status.ENOUGH)
    asm.jump("loop")

    asm.label("reject")
    _next_record(asm, layout)
    asm.jump("loop")

    for status in Status:
        asm.label(status)
        asm.mov_ri(R.RAX, status)
        asm.jump("return")
    asm.label("return")
    asm.store(_at("pos"), R.R13, w=True)
    asm.store(_at("iov_at"), R.RBX, w=True)
    asm.alu_mr(Alu.ADD, _at("read"), R.RDI)
    asm.alu_ri(Alu.ADD, R.RSP, _FRAME, w=True)
    for reg in reversed(_SAVED):
        asm.pop(reg)
    asm.ret()
    return asm.finish()


def _record(asm: Assembler) -> None:
    """A classic pcap record at r13: checked (DAMAGE, CLIPPED), its caplen in rbp, its wire
    length in r8, its packet's address in rsi."""
    asm.lea(R.R9, Mem(R.R13, disp=16))
    asm.alu_rm(Alu.CMP, R.R9, _at("size"))
    asm.jcc(CC.G, Status.DAMAGE)  # the record header is cut
    asm.load(R.RBP, Mem(R.R14, R.R13, 8))
    asm.load(R.R8, Mem(R.R14, R.R13, 12))
    asm.alu_rm(Alu.CMP, R.RBP, _at("limit"))
    asm.jcc(CC.A, Status.DAMAGE)
    asm.alu_rr(Alu.ADD, R.R9, R.RBP, w=True)
    asm.alu_rm(Alu.CMP, R.R9, _at("size"))
    asm.jcc(CC.G, Status.DAMAGE)  # the record's data is cut
    asm.alu_rm(Alu.CMP, R.RBP, _at("snapshot"))
    asm.jcc(CC.A, Status.CLIPPED)
    asm.lea(R.RSI, Mem(R.R14, R.R13, 16))


def _block(asm: Assembler) -> None:
    """A pcapng block at r13, its length kept in ``_TOTAL``: anything but a plain block of a
    sane length, the same at both ends, is UNUSUAL (the stream path reads it); an EPB goes on
    (interface 0, caplen within the block and the snapshot: else UNUSUAL) with its caplen in
    rbp, its original length in r8, its packet's address in rsi; a block that is not a packet
    (name resolution, statistics, custom) is stepped over, not counted."""
    asm.lea(R.R9, Mem(R.R13, disp=12))
    asm.alu_rm(Alu.CMP, R.R9, _at("size"))
    asm.jcc(CC.G, Status.UNUSUAL)  # the block header is cut
    asm.load(R.R10, Mem(R.R14, R.R13, 4))
    asm.alu_ri(Alu.CMP, R.R10, 12, w=True)
    asm.jcc(CC.B, Status.UNUSUAL)
    asm.test_ri(R.R10, 3)
    asm.jcc(CC.NE, Status.UNUSUAL)
    asm.alu_rm(Alu.CMP, R.R10, _at("max_block"))
    asm.jcc(CC.A, Status.UNUSUAL)
    asm.lea(R.R9, Mem(R.R13, R.R10))
    asm.alu_rm(Alu.CMP, R.R9, _at("size"))
    asm.jcc(CC.G, Status.UNUSUAL)  # the block is cut
    asm.load(R.RAX, Mem(R.R14, R.R9, -4))
    asm.alu_rr(Alu.CMP, R.RAX, R.R10)
    asm.jcc(CC.NE, Status.UNUSUAL)  # its length differs at its end
    asm.store(_TOTAL, R.R10, w=True)
    asm.load(R.RAX, Mem(R.R14, R.R13))  # the block type
    asm.alu_ri(Alu.CMP, R.RAX, _EPB)
    asm.jcc(CC.E, "packet")
    for kind in (_SHB, _IDB, _PB, _SPB):  # another section, interface or kind of packet
        asm.alu_ri(Alu.CMP, R.RAX, kind)
        asm.jcc(CC.E, Status.UNUSUAL)
    asm.alu_rr(Alu.ADD, R.R13, R.R10, w=True)
    asm.jump("loop")
    asm.label("packet")
    asm.alu_ri(Alu.CMP, R.R10, 32, w=True)
    asm.jcc(CC.B, Status.UNUSUAL)
    asm.load(R.RAX, Mem(R.R14, R.R13, 8))
    asm.test_rr(R.RAX, R.RAX)
    asm.jcc(CC.NE, Status.UNUSUAL)  # not the first interface
    asm.load(R.RBP, Mem(R.R14, R.R13, 20))
    asm.load(R.R8, Mem(R.R14, R.R13, 24))
    asm.lea(R.R9, Mem(R.R10, disp=-32))
    asm.alu_rr(Alu.CMP, R.RBP, R.R9, w=True)
    asm.jcc(CC.A, Status.UNUSUAL)  # more data than the block holds
    asm.alu_rm(Alu.CMP, R.RBP, _at("snapshot"))
    asm.jcc(CC.A, Status.UNUSUAL)
    asm.lea(R.RSI, Mem(R.R14, R.R13, EPB_HEAD))


def _zero_padding(asm: Assembler) -> None:
    """UNUSUAL unless the bytes between the EPB's data and the next word are zero: the stream
    path's writer writes zeros there, so only then is the block as it lies what it writes."""
    asm.mov_rr(R.RCX, R.RBP)
    asm.alu_ri(Alu.AND, R.RCX, 3)
    asm.jcc(CC.E, "padded")
    asm.shift_ri(True, R.RCX, 3)
    asm.mov_ri(R.RDX, 0xFFFFFFFF)
    asm.shift_cl(True, R.RDX)  # the pad bytes of the last word (little-endian)
    asm.mov_rr(R.R9, R.RBP, w=True)
    asm.alu_ri(Alu.AND, R.R9, -4, w=True)
    asm.load(R.RAX, Mem(R.RSI, R.R9))
    asm.test_rr(R.RAX, R.RDX)
    asm.jcc(CC.NE, Status.UNUSUAL)
    asm.label("padded")


def _made_header(asm: Assembler) -> None:
    """An EPB as a classic pcap record: a 16-byte header made at ``head_at`` (seconds and
    fraction from the 64-bit timestamp; UNUSUAL when the seconds overflow 32 bits), then the
    packet's data, as two iovecs (FULL when two do not fit)."""
    asm.lea(R.R9, Mem(R.RBX, disp=32))
    asm.alu_rm(Alu.CMP, R.R9, _at("iov_end"))
    asm.jcc(CC.A, Status.FULL)  # this record is walked again by the next call
    asm.load(R.RAX, Mem(R.R14, R.R13, 12))  # the timestamp's high word
    asm.shift_ri(True, R.RAX, 32, w=True)
    asm.load(R.R9, Mem(R.R14, R.R13, 16))
    asm.alu_rr(Alu.OR, R.RAX, R.R9, w=True)
    asm.alu_rr(Alu.XOR, R.RDX, R.RDX)
    asm.load(R.R9, _at("units"), w=True)
    asm.div_r(R.R9, w=True)  # rax: seconds, rdx: the fraction
    asm.mov_rr(R.R10, R.RAX, w=True)
    asm.shift_ri(False, R.R10, 32, w=True)
    asm.jcc(CC.NE, Status.UNUSUAL)  # a timestamp a pcap file cannot hold
    asm.load(R.R9, _at("head_at"), w=True)
    asm.store(Mem(R.R9), R.RAX)
    asm.store(Mem(R.R9, disp=4), R.RDX)
    asm.store(Mem(R.R9, disp=8), R.RBP)
    asm.store(Mem(R.R9, disp=12), R.R8)
    asm.store(Mem(R.RBX), R.R9, w=True)
    asm.mov_ri(R.R10, 16)
    asm.store(Mem(R.RBX, disp=8), R.R10, w=True)
    asm.store(Mem(R.RBX, disp=16), R.RSI, w=True)
    asm.store(Mem(R.RBX, disp=24), R.RBP, w=True)
    asm.alu_ri(Alu.ADD, R.RBX, 32, w=True)
    asm.lea(R.R9, Mem(R.R9, disp=16))
    asm.store(_at("head_at"), R.R9, w=True)
    asm.lea(R.R10, Mem(R.RBP, disp=16))


def _add_run(asm: Assembler) -> None:
    """[r9, r9 + r10) joins the last iovec when it follows it, else takes a new one (FULL
    when none is left: the record is then walked again by the next call)."""
    asm.alu_rm(Alu.CMP, R.RBX, _at("iov_base"))
    asm.jcc(CC.E, "new run")
    asm.load(R.RDX, Mem(R.RBX, disp=-16), w=True)
    asm.alu_rm(Alu.ADD, R.RDX, Mem(R.RBX, disp=-8))
    asm.alu_rr(Alu.CMP, R.RDX, R.R9, w=True)
    asm.jcc(CC.NE, "new run")
    asm.alu_mr(Alu.ADD, Mem(R.RBX, disp=-8), R.R10)
    asm.jump("counted")
    asm.label("new run")
    asm.alu_rm(Alu.CMP, R.RBX, _at("iov_end"))
    asm.jcc(CC.AE, Status.FULL)
    asm.store(Mem(R.RBX), R.R9, w=True)
    asm.store(Mem(R.RBX, disp=8), R.R10, w=True)
    asm.alu_ri(Alu.ADD, R.RBX, 16, w=True)
    asm.label("counted")


def _next_record(asm: Assembler, layout: Layout) -> None:
    asm.alu_ri(Alu.ADD, R.RDI, 1, w=True)
    if layout is Layout.PCAP:
        asm.lea(R.R13, Mem(R.R13, R.RBP, 16))
    else:
        asm.alu_rm(Alu.ADD, R.R13, _TOTAL)


@dataclass(slots=True)
class _Program:
    """Emits a checked program's instructions, each at label ``("pc", i)``; ``ret`` and failed
    checks jump to ``accept``/``reject``."""

    asm: Assembler
    insns: Sequence[Insn]

    def emit(self) -> None:
        for pc, insn in enumerate(self.insns):
            self.asm.label(("pc", pc))
            self._one(pc, insn)

    def _goto(self, pc: int, target: int) -> None:
        """Continues at instruction ``target`` (a jump unless it comes next)."""
        if target != pc + 1:
            self.asm.jump(("pc", target))

    def _check(self, end: int) -> None:
        """Rejects the packet unless its first ``end`` bytes are captured."""
        if end >= _NEVER:
            self.asm.jump("reject")
        else:
            self.asm.alu_ri(Alu.CMP, R.RBP, end, w=True)
            self.asm.jcc(CC.B, "reject")

    def _one(self, pc: int, insn: Insn) -> None:
        asm, code, k = self.asm, insn.code, insn.k
        info = isa.OPCODES[code]
        cls = isa.BPF_CLASS(code)
        dst = R.RCX if cls == isa.BPF_LDX else R.RAX
        if cls in (isa.BPF_LD, isa.BPF_LDX):
            match info.operand:
                case "abs":
                    self._check(k + info.size)
                    if k + info.size < _NEVER:
                        self._load(info.size, Mem(R.RSI, disp=k))
                case "ind":
                    asm.mov_rr(R.R9, R.RCX)  # X + k, without wrapping: 64-bit
                    asm.mov_ri(R.R10, k)
                    asm.alu_rr(Alu.ADD, R.R9, R.R10, w=True)
                    asm.lea(R.R10, Mem(R.R9, disp=info.size))
                    asm.alu_rr(Alu.CMP, R.R10, R.RBP, w=True)
                    asm.jcc(CC.A, "reject")
                    self._load(info.size, Mem(R.RSI, R.R9))
                case "msh":
                    self._check(k + 1)
                    if k + 1 < _NEVER:
                        asm.load_u8(R.RCX, Mem(R.RSI, disp=k))
                        asm.alu_ri(Alu.AND, R.RCX, 0xF)
                        asm.shift_ri(True, R.RCX, 2)
                case "len":
                    asm.mov_rr(dst, R.R8)
                case "imm":
                    asm.mov_ri(dst, k)
                case "mem":
                    asm.load(dst, Mem(R.RSP, disp=4 * k))
        elif cls in (isa.BPF_ST, isa.BPF_STX):
            asm.store(Mem(R.RSP, disp=4 * k), R.RAX if cls == isa.BPF_ST else R.RCX)
        elif cls == isa.BPF_ALU:
            self._alu(isa.BPF_OP(code), info.operand == "x", k)
        elif cls == isa.BPF_JMP:
            self._jump(pc, insn, info.operand)
        elif cls == isa.BPF_RET:
            if info.operand == "a":
                asm.test_rr(R.RAX, R.RAX)
                asm.jcc(CC.NE, "accept")
                asm.jump("reject")
            else:
                asm.jump("accept" if k else "reject")
        elif code == isa.BPF_MISC | isa.BPF_TAX:
            asm.mov_rr(R.RCX, R.RAX)
        else:  # txa
            asm.mov_rr(R.RAX, R.RCX)

    def _load(self, size: int, mem: Mem) -> None:
        """A big-endian packet load into A."""
        asm = self.asm
        if size == 4:
            asm.load(R.RAX, mem)
            asm.bswap(R.RAX)
        elif size == 2:
            asm.load_u16(R.RAX, mem)
            asm.rol16_8(R.RAX)
        else:
            asm.load_u8(R.RAX, mem)

    def _alu(self, op: int, from_x: bool, k: int) -> None:
        asm = self.asm
        if op in _ALU_OPS:
            if from_x:
                asm.alu_rr(_ALU_OPS[op], R.RAX, R.RCX)
            else:
                asm.alu_ri(_ALU_OPS[op], R.RAX, k)
        elif op == isa.BPF_MUL:
            if from_x:
                asm.imul_rr(R.RAX, R.RCX)
            else:
                asm.imul_ri(R.RAX, R.RAX, k)
        elif op in (isa.BPF_DIV, isa.BPF_MOD):
            if from_x:
                asm.test_rr(R.RCX, R.RCX)
                asm.jcc(CC.E, "reject")  # libpcap: division by zero returns 0
                divisor = R.RCX
            else:
                asm.mov_ri(R.R9, k)  # the checker refused k == 0
                divisor = R.R9
            asm.alu_rr(Alu.XOR, R.RDX, R.RDX)
            asm.div_r(divisor)
            if op == isa.BPF_MOD:
                asm.mov_rr(R.RAX, R.RDX)
        elif op in (isa.BPF_LSH, isa.BPF_RSH):
            left = op == isa.BPF_LSH
            if not from_x:
                if k:  # the checker refused k >= 32
                    asm.shift_ri(left, R.RAX, k)
            else:
                # x86 takes the count modulo 32; libpcap's shift by 32 or more gives 0.
                asm.shift_cl(left, R.RAX)
                asm.alu_ri(Alu.CMP, R.RCX, 32)
                asm.sbb_rr(R.R9, R.R9)  # all ones when X < 32, else 0
                asm.alu_rr(Alu.AND, R.RAX, R.R9)
        else:  # neg
            asm.neg_r(R.RAX)

    def _jump(self, pc: int, insn: Insn, operand: str) -> None:
        asm = self.asm
        if operand == "ja":
            self._goto(pc, pc + 1 + insn.k)
            return
        op = isa.BPF_OP(insn.code)
        true, false = pc + 1 + insn.jt, pc + 1 + insn.jf
        if true == false:
            self._goto(pc, true)
            return
        if op == isa.BPF_JSET:
            if operand == "x":
                asm.test_rr(R.RAX, R.RCX)
            else:
                asm.test_ri(R.RAX, insn.k)
            cc = CC.NE
        else:
            if operand == "x":
                asm.alu_rr(Alu.CMP, R.RAX, R.RCX)
            else:
                asm.alu_ri(Alu.CMP, R.RAX, insn.k)
            cc = _JUMP_CC[op]
        if true == pc + 1:
            asm.jcc(_NEGATED[cc], ("pc", false))
        else:
            asm.jcc(cc, ("pc", true))
            self._goto(pc, false)


# -- the runtime -------------------------------------------------------------------------------

_Scan = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.POINTER(Control))


@functools.cache
def available() -> bool:
    """Whether machine code can run here: Linux on x86-64, and executable memory granted."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return False
    try:
        _Code(b"\xc3")  # ret
    except OSError:
        return False
    return True


class _Code:
    """Machine code in a private mapping, made executable and no longer writable."""

    def __init__(self, code: bytes) -> None:
        size = max(mmap.PAGESIZE, -(-len(code) // mmap.PAGESIZE) * mmap.PAGESIZE)
        self.map = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                             prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.map.write(code)
        self.holder = ctypes.c_char.from_buffer(self.map)
        self.address = ctypes.addressof(self.holder)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        if libc.mprotect(self.address, size, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            raise OSError(ctypes.get_errno(), "mprotect: cannot make the filter's code executable")


class Scanner:
    """One program's compiled walk over records laid out as ``layout`` (None: the empty
    filter)."""

    def __init__(self, insns: Sequence[Insn] | None, layout: Layout = Layout.PCAP,
                 writes: bool = True) -> None:
        if insns is not None:
            isa.check(insns)
        self._code = _Code(emit(insns, layout, writes))
        self._call = _Scan(self._code.address)

    def __call__(self, control: Control) -> Status:
        return Status(self._call(ctypes.byref(control)))


class _PyBuffer(ctypes.Structure):
    """CPython's ``Py_buffer`` (Include/pybuffer.h): the address of an object's bytes."""

    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.py_object), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int),
                ("ndim", ctypes.c_int), ("format", ctypes.c_char_p),
                ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p)]


class Pinned:
    """The address of a buffer's bytes (a map, even a read-only one, bytes, bytearray), held
    as a buffer export until ``release``: a map cannot be closed, nor a bytearray resized,
    under the code that reads it."""

    def __init__(self, buf: mmap.mmap | bytes | bytearray) -> None:
        self._view = _PyBuffer()
        get = ctypes.pythonapi.PyObject_GetBuffer
        get.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
        get.restype = ctypes.c_int
        if get(buf, ctypes.byref(self._view), 0) != 0:  # PyBUF_SIMPLE
            raise BufferError("cannot take the address of the capture's bytes")
        self.address: int = self._view.buf or 0
        self.held = True

    def release(self) -> None:
        if self.held:
            ctypes.pythonapi.PyBuffer_Release.argtypes = [ctypes.POINTER(_PyBuffer)]
            ctypes.pythonapi.PyBuffer_Release(ctypes.byref(self._view))
            self.held = False


@dataclass(frozen=True, slots=True)
class WalkShape:
    """What a walk needs to know of its file: the snapshot (longer records are CLIPPED,
    UNUSUAL in pcapng), where the first record lies (classic pcap: after the file header) and
    where to stop (None: the end), the largest sane caplen (classic pcap), the ``-c`` count,
    the longest block the stream reader takes and the timestamp units (pcapng)."""

    snapshot: int
    limit: int = 0
    start: int = 24
    stop: int | None = None
    max_matched: int | None = None
    max_block: int = 0
    units: int = 1_000_000


class Walk:
    """A capture file in memory (a classic pcap or pcapng file, as the scanner's layout says,
    its lengths in this machine's byte order) walked by a ``Scanner``: ``step`` runs one call
    from ``control.pos``; the iovecs it filled (``runs``; ``control.iov_base`` and ``filled``
    for ``pwritev``) and the headers they point to stay until ``clear``. ``release`` when
    done."""

    def __init__(self, scanner: Scanner, buf: mmap.mmap | bytes | bytearray, shape: WalkShape,
                 iovecs: int = IOVECS) -> None:
        self.scanner = scanner
        #: Why the last call returned (STOP before any).
        self.status = Status.STOP
        self.pinned = Pinned(buf)
        self.address = self.pinned.address
        self.iovecs = (ctypes.c_uint64 * (2 * iovecs))()
        #: Room for a made header per pair of iovecs (pcapng to pcap).
        self.heads = (ctypes.c_uint32 * (4 * (iovecs // 2)))()
        base = ctypes.addressof(self.iovecs)
        self.control = Control(
            buf=self.address, pos=shape.start,
            stop=len(buf) if shape.stop is None else shape.stop, size=len(buf),
            limit=shape.limit, snapshot=shape.snapshot, iov_base=base,
            iov_end=base + 16 * iovecs, iov_at=base, read=0, matched=0,
            max_matched=NO_LIMIT if shape.max_matched is None else shape.max_matched, bytes=0,
            max_block=shape.max_block, units=shape.units, head_at=ctypes.addressof(self.heads))

    def step(self) -> Status:
        """One call from ``control.pos``; its status is also kept in ``status``."""
        self.status = self.scanner(self.control)
        return self.status

    def filled(self) -> int:
        """How many iovecs the calls since ``clear`` filled."""
        return int(self.control.iov_at - self.control.iov_base) // 16

    def runs(self) -> list[tuple[int, int]]:
        """The filled iovecs as (file offset, length); a made header's offset is negative
        (it lies outside the file)."""
        flat = self.iovecs[:2 * self.filled()]
        return [(flat[i] - self.address, flat[i + 1]) for i in range(0, len(flat), 2)]

    def clear(self) -> None:
        """Empties the iovec array and the made headers (once written)."""
        self.control.iov_at = self.control.iov_base
        self.control.head_at = ctypes.addressof(self.heads)
        self.control.bytes = 0

    def release(self) -> None:
        self.pinned.release()
