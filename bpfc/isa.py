"""The classic BPF instruction set: opcodes, ``Insn``, ``struct sock_filter`` packing, the checker.

One table, ``OPCODES``, lists every opcode that Linux (``bpf_check_classic``) and libpcap
(``bpf_validate``) accept; the dumper, the assembler, the VM, the JIT and the checker all read it,
so adding an opcode in one place is impossible to forget elsewhere. Constant names follow
``linux/filter.h`` so they grep against the kernel.

The checker applies the kernel's rules exactly (the kernel is the oracle: a program we emit must be
accepted by ``SO_ATTACH_FILTER``), which are a superset of libpcap's ``bpf_validate``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .errors import ProgramError

# Instruction classes.
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_RET = 0x06
BPF_MISC = 0x07

# Load sizes.
BPF_W = 0x00
BPF_H = 0x08
BPF_B = 0x10

# Load modes.
BPF_IMM = 0x00
BPF_ABS = 0x20
BPF_IND = 0x40
BPF_MEM = 0x60
BPF_LEN = 0x80
BPF_MSH = 0xA0

# ALU operations.
BPF_ADD = 0x00
BPF_SUB = 0x10
BPF_MUL = 0x20
BPF_DIV = 0x30
BPF_OR = 0x40
BPF_AND = 0x50
BPF_LSH = 0x60
BPF_RSH = 0x70
BPF_NEG = 0x80
BPF_MOD = 0x90
BPF_XOR = 0xA0

# Jump operations.
BPF_JA = 0x00
BPF_JEQ = 0x10
BPF_JGT = 0x20
BPF_JGE = 0x30
BPF_JSET = 0x40

# Operand sources.
BPF_K = 0x00
BPF_X = 0x08
BPF_A = 0x10  # BPF_RVAL for ret

# Misc operations.
BPF_TAX = 0x00
BPF_TXA = 0x80

BPF_MAXINSNS = 4096
BPF_MEMWORDS = 16


def BPF_CLASS(code: int) -> int:  # noqa: N802 - kernel spelling
    return code & 0x07


def BPF_SIZE(code: int) -> int:  # noqa: N802
    return code & 0x18


def BPF_MODE(code: int) -> int:  # noqa: N802
    return code & 0xE0


def BPF_OP(code: int) -> int:  # noqa: N802
    return code & 0xF0


def BPF_SRC(code: int) -> int:  # noqa: N802
    return code & 0x08


def BPF_RVAL(code: int) -> int:  # noqa: N802
    return code & 0x18


def BPF_MISCOP(code: int) -> int:  # noqa: N802
    return code & 0xF8


# Linux special offsets for absolute loads (linux/filter.h).
SKF_AD_OFF = 0xFFFFF000  # -0x1000 as u32
SKF_NET_OFF = 0xFFF00000  # -0x100000
SKF_LL_OFF = 0xFFE00000  # -0x200000

SKF_AD_PROTOCOL = 0
SKF_AD_PKTTYPE = 4
SKF_AD_IFINDEX = 8
SKF_AD_NLATTR = 12
SKF_AD_NLATTR_NEST = 16
SKF_AD_MARK = 20
SKF_AD_QUEUE = 24
SKF_AD_HATYPE = 28
SKF_AD_RXHASH = 32
SKF_AD_CPU = 36
SKF_AD_ALU_XOR_X = 40
SKF_AD_VLAN_TAG = 44
SKF_AD_VLAN_TAG_PRESENT = 48
SKF_AD_PAY_OFFSET = 52
SKF_AD_RANDOM = 56
SKF_AD_VLAN_TPID = 60
SKF_AD_MAX = 64

#: Ancillary data the kernel understands, by offset from SKF_AD_OFF; names as libpcap prints them.
ANCILLARY = {
    SKF_AD_PROTOCOL: "proto",
    SKF_AD_PKTTYPE: "type",
    SKF_AD_IFINDEX: "ifidx",
    SKF_AD_NLATTR: "nla",
    SKF_AD_NLATTR_NEST: "nlan",
    SKF_AD_MARK: "mark",
    SKF_AD_QUEUE: "queue",
    SKF_AD_HATYPE: "hatype",
    SKF_AD_RXHASH: "rxhash",
    SKF_AD_CPU: "cpu",
    SKF_AD_ALU_XOR_X: "xor_x",
    SKF_AD_VLAN_TAG: "vlan_tci",
    SKF_AD_VLAN_TAG_PRESENT: "vlanp",
    SKF_AD_PAY_OFFSET: "poff",
    SKF_AD_RANDOM: "random",
    SKF_AD_VLAN_TPID: "vlan_tpid",
}


class Insn(NamedTuple):
    """One instruction, field for field a ``struct sock_filter`` (u16 code, u8 jt, u8 jf, u32 k)."""

    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0


SOCK_FILTER = struct.Struct("=HBBI")


@dataclass(frozen=True, slots=True)
class OpInfo:
    """What one opcode is: its mnemonic, its operand form, and what it reads and writes.

    ``operand`` is one of: ``"abs"`` ([k]), ``"ind"`` ([x + k]), ``"msh"`` (4*([k]&0xf)),
    ``"len"`` (#pktlen), ``"imm"`` (#k), ``"mem"`` (M[k]), ``"k"`` (ALU/jump constant),
    ``"x"`` (X register), ``"a"`` (ret a), ``"none"`` (neg, tax, txa), ``"ja"`` (jump offset).
    ``size`` is the load width in bytes for packet loads, else 0.
    """

    code: int
    mnemonic: str
    operand: str
    size: int = 0


def _table() -> dict[int, OpInfo]:
    ops: list[OpInfo] = []
    for size, suffix, nbytes in ((BPF_W, "", 4), (BPF_H, "h", 2), (BPF_B, "b", 1)):
        ops.append(OpInfo(BPF_LD | size | BPF_ABS, "ld" + suffix, "abs", nbytes))
        ops.append(OpInfo(BPF_LD | size | BPF_IND, "ld" + suffix, "ind", nbytes))
    ops += [
        OpInfo(BPF_LD | BPF_W | BPF_LEN, "ld", "len"),
        OpInfo(BPF_LD | BPF_IMM, "ld", "imm"),
        OpInfo(BPF_LD | BPF_MEM, "ld", "mem"),
        OpInfo(BPF_LDX | BPF_W | BPF_IMM, "ldx", "imm"),
        OpInfo(BPF_LDX | BPF_W | BPF_MEM, "ldx", "mem"),
        OpInfo(BPF_LDX | BPF_W | BPF_LEN, "ldx", "len"),
        OpInfo(BPF_LDX | BPF_B | BPF_MSH, "ldxb", "msh", 1),
        OpInfo(BPF_ST, "st", "mem"),
        OpInfo(BPF_STX, "stx", "mem"),
    ]
    alu = (("add", BPF_ADD), ("sub", BPF_SUB), ("mul", BPF_MUL), ("div", BPF_DIV),
           ("mod", BPF_MOD), ("and", BPF_AND), ("or", BPF_OR), ("xor", BPF_XOR),
           ("lsh", BPF_LSH), ("rsh", BPF_RSH))
    for name, op in alu:
        ops.append(OpInfo(BPF_ALU | op | BPF_K, name, "k"))
        ops.append(OpInfo(BPF_ALU | op | BPF_X, name, "x"))
    ops.append(OpInfo(BPF_ALU | BPF_NEG, "neg", "none"))
    ops.append(OpInfo(BPF_JMP | BPF_JA, "ja", "ja"))
    for name, op in (("jeq", BPF_JEQ), ("jgt", BPF_JGT), ("jge", BPF_JGE), ("jset", BPF_JSET)):
        ops.append(OpInfo(BPF_JMP | op | BPF_K, name, "k"))
        ops.append(OpInfo(BPF_JMP | op | BPF_X, name, "x"))
    ops += [
        OpInfo(BPF_RET | BPF_K, "ret", "k"),
        OpInfo(BPF_RET | BPF_A, "ret", "a"),
        OpInfo(BPF_MISC | BPF_TAX, "tax", "none"),
        OpInfo(BPF_MISC | BPF_TXA, "txa", "none"),
    ]
    return {op.code: op for op in ops}


#: Every opcode the Linux kernel accepts in a classic filter (and libpcap executes).
OPCODES: dict[int, OpInfo] = _table()

CONDITIONAL_JUMPS = frozenset(
    code for code in OPCODES if BPF_CLASS(code) == BPF_JMP and BPF_OP(code) != BPF_JA
)


def is_conditional_jump(code: int) -> bool:
    return code in CONDITIONAL_JUMPS


def is_return(code: int) -> bool:
    return code in (BPF_RET | BPF_K, BPF_RET | BPF_A)


def pack(insns: Iterable[Insn]) -> bytes:
    """The program as an array of ``struct sock_filter`` in host byte order."""
    return b"".join(SOCK_FILTER.pack(i.code, i.jt, i.jf, i.k) for i in insns)


def unpack(data: bytes) -> list[Insn]:
    """Inverse of ``pack``."""
    if len(data) % SOCK_FILTER.size:
        raise ProgramError(f"a sock_filter array must be a multiple of {SOCK_FILTER.size} bytes, "
                           f"got {len(data)}")
    return [Insn(*fields) for fields in SOCK_FILTER.iter_unpack(data)]


def check(insns: Sequence[Insn]) -> None:
    """Raise ``ProgramError`` unless the kernel's ``SO_ATTACH_FILTER`` would accept ``insns``.

    The rules, in the kernel's order (net/core/filter.c ``bpf_check_classic``): 1 to
    BPF_MAXINSNS instructions; every opcode known; no constant division or modulo by zero; no
    constant shift by 32 or more; scratch indices below BPF_MEMWORDS; jumps in range (they can
    only go forward, so every path ends); ancillary loads only at offsets the kernel knows; the
    last instruction a return; and no scratch slot read before it is written on every path.
    Then the one rule that is not the classic checker's: the kernel converts every accepted
    program to eBPF and refuses it when a converted jump no longer fits eBPF's 16-bit offset
    (``check_conversion_jumps``).
    """
    n = len(insns)
    if n == 0:
        raise ProgramError("a program needs at least one instruction")
    if n > BPF_MAXINSNS:
        raise ProgramError(f"{n} instructions is more than the kernel's limit of {BPF_MAXINSNS}")
    for pc, insn in enumerate(insns):
        _check_fields(insn, pc)
        code, k = insn.code, insn.k
        if code not in OPCODES:
            raise ProgramError(f"unknown opcode 0x{code:02x}", pc)
        info = OPCODES[code]
        if code in (BPF_ALU | BPF_DIV | BPF_K, BPF_ALU | BPF_MOD | BPF_K) and k == 0:
            raise ProgramError(f"{info.mnemonic} by the constant 0", pc)
        if code in (BPF_ALU | BPF_LSH | BPF_K, BPF_ALU | BPF_RSH | BPF_K) and k >= 32:
            raise ProgramError(f"{info.mnemonic} by {k} (a constant shift must be below 32)", pc)
        if info.operand == "mem" and k >= BPF_MEMWORDS:
            raise ProgramError(f"scratch slot M[{k}] does not exist (there are {BPF_MEMWORDS})",
                               pc)
        if code == BPF_JMP | BPF_JA:
            if k >= n - pc - 1:
                raise ProgramError(f"ja +{k} jumps past the end of the program", pc)
        elif code in CONDITIONAL_JUMPS:
            if pc + insn.jt + 1 >= n or pc + insn.jf + 1 >= n:
                raise ProgramError(
                    f"{info.mnemonic} jumps past the end of the program "
                    f"(jt {pc + insn.jt + 1}, jf {pc + insn.jf + 1}, last {n - 1})", pc)
        elif info.operand == "abs" and k >= SKF_AD_OFF and (k - SKF_AD_OFF) not in ANCILLARY:
            raise ProgramError(f"unknown ancillary load at SKF_AD_OFF+{k - SKF_AD_OFF}", pc)
    if not is_return(insns[-1].code):
        raise ProgramError("the last instruction must be a return", n - 1)
    _check_scratch_reads(insns)
    check_conversion_jumps(insns)


def _check_fields(insn: Insn, pc: int) -> None:
    if not (0 <= insn.code <= 0xFFFF and 0 <= insn.jt <= 0xFF and 0 <= insn.jf <= 0xFF
            and 0 <= insn.k <= 0xFFFFFFFF):
        raise ProgramError(f"field out of range in {tuple(insn)} (code u16, jt/jf u8, k u32)", pc)


def _check_scratch_reads(insns: Sequence[Insn]) -> None:
    """No ``ld``/``ldx M[k]`` before a store to M[k] on every path into it.

    A linear pass like the kernel's ``check_load_and_stores``: a jump narrows the valid set of
    its targets, and after a jump the fall-through state is "everything", because the next
    instruction is reached only through its own incoming jumps (or as dead code). Like the
    kernel, a return does not reset the state.
    """
    everything = (1 << BPF_MEMWORDS) - 1
    masks = [everything] * len(insns)
    valid = 0
    for pc, insn in enumerate(insns):
        valid &= masks[pc]
        code = insn.code
        if code in (BPF_ST, BPF_STX):
            valid |= 1 << insn.k
        elif code in (BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM):
            if not valid & (1 << insn.k):
                raise ProgramError(f"M[{insn.k}] is read before it is written on some path", pc)
        elif code == BPF_JMP | BPF_JA:
            masks[pc + 1 + insn.k] &= valid
            valid = everything
        elif code in CONDITIONAL_JUMPS:
            masks[pc + 1 + insn.jt] &= valid
            masks[pc + 1 + insn.jf] &= valid
            valid = everything


# --- the kernel's cBPF -> eBPF conversion (net/core/filter.c, bpf_convert_filter) -------------
#
# After ``bpf_check_classic`` accepts a program, ``bpf_migrate_filter`` rewrites it as eBPF, and
# ``bpf_convert_filter`` returns -EINVAL (the attach fails with EINVAL) when a classic jump, once
# every instruction before its target has been expanded, no longer fits ``struct bpf_insn.off``,
# an s16. The sizes below are those of the x86-64 and arm64 builds: efficient unaligned access
# (``CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS``), little-endian bitfields.

S16_MAX = 0x7FFF

#: eBPF instructions before the first converted one: A = 0, X = 0, CTX saved; and, when the
#: program reads the packet (``seen_ld_abs``), four more caching skb->data and the head length.
CONVERSION_PROLOGUE = 3
CONVERSION_PROLOGUE_LD_ABS = 4

#: eBPF instructions for each ancillary load (``convert_bpf_extensions``), whatever its width.
CONVERTED_ANCILLARY = {
    SKF_AD_PROTOCOL: 2,  # load, ntohs
    SKF_AD_PKTTYPE: 2,  # load, mask
    SKF_AD_IFINDEX: 4,  # load skb->dev, test NULL, exit, load field
    SKF_AD_HATYPE: 4,
    SKF_AD_MARK: 1,
    SKF_AD_RXHASH: 1,
    SKF_AD_QUEUE: 1,
    SKF_AD_VLAN_TAG: 1,
    SKF_AD_VLAN_TAG_PRESENT: 3,  # load, test, set 1
    SKF_AD_VLAN_TPID: 2,  # load, ntohs
    SKF_AD_PAY_OFFSET: 4,  # three argument moves and a helper call
    SKF_AD_NLATTR: 4,
    SKF_AD_NLATTR_NEST: 4,
    SKF_AD_CPU: 4,
    SKF_AD_RANDOM: 4,
    SKF_AD_ALU_XOR_X: 1,  # A ^= X
}


def _s32(k: int) -> int:
    return k - (1 << 32) if k & 0x80000000 else k


def _converted_packet_load(code: int, k: int) -> int:
    """eBPF instructions for ``ld [k]`` / ``ld [x + k]`` (``convert_bpf_ld_abs``).

    A direct load at a non-negative offset gets an inline fast path (headlen check, load, byte
    swap for h and w, jump over the slow path), with an extra subtraction when k is not 0 and a
    two-instruction address computation when k does not fit the s16 load offset. Every load
    then has the slow path: four argument moves (plus an add for ``[x + k]`` with k not 0), the
    helper call, and the sign test, clear and exit that make a failed load return 0.
    """
    n = 0
    indirect = BPF_MODE(code) == BPF_IND
    if not indirect and _s32(k) >= 0:
        n += 4 + (k != 0) + (2 if k > S16_MAX else 0) + (BPF_SIZE(code) != BPF_B)
    return n + 8 + (indirect and k != 0)


def converted_jumps(insn: Insn) -> tuple[int, tuple[tuple[int, int], ...]]:
    """How ``bpf_convert_filter`` expands one classic instruction that ``check`` accepts: the
    number of eBPF instructions, and each jump among them whose offset the conversion checks,
    as (its position in the expansion, the classic offset it takes: jt, jf or k).

    Conditional jumps: a K operand with the top bit set is first moved into a register (one
    more instruction), because eBPF immediates are signed. ``jf == 0`` gives one jump to jt;
    ``jt == 0`` gives one inverted jump to jf (jne, jle, jlt), except for ``jset``, which has no
    inverse; otherwise a jump to jt followed by ``ja`` to jf.
    """
    code, k = insn.code, insn.k
    cls = BPF_CLASS(code)
    if cls == BPF_JMP:
        if code == BPF_JMP | BPF_JA:
            return 1, ((0, k),)
        at = int(BPF_SRC(code) == BPF_K and k >= 0x80000000)
        if insn.jf == 0:
            return at + 1, ((at, insn.jt),)
        if insn.jt == 0 and BPF_OP(code) != BPF_JSET:
            return at + 1, ((at, insn.jf),)
        return at + 2, ((at, insn.jt), (at + 1, insn.jf))
    if cls == BPF_LD and BPF_MODE(code) == BPF_ABS and k >= SKF_AD_OFF:
        return CONVERTED_ANCILLARY[k - SKF_AD_OFF], ()
    if cls == BPF_LD and BPF_MODE(code) in (BPF_ABS, BPF_IND):
        return _converted_packet_load(code, k), ()
    if code == BPF_LDX | BPF_B | BPF_MSH:
        # X = A; A = byte [k]; A &= 0xf; A <<= 2; then swap A and X through a temporary.
        return 1 + _converted_packet_load(BPF_LD | BPF_B | BPF_ABS, k) + 5, ()
    if code in (BPF_ALU | BPF_DIV | BPF_X, BPF_ALU | BPF_MOD | BPF_X):
        # Truncate X, and return 0 when it is 0, before dividing.
        return 5, ()
    if code == BPF_RET | BPF_K:
        return 2, ()  # r0 = k; exit
    return 1, ()


def _reads_packet(insn: Insn) -> bool:
    """Whether the conversion sets ``seen_ld_abs`` for this instruction."""
    code = insn.code
    if code == BPF_LDX | BPF_B | BPF_MSH:
        return True
    if BPF_CLASS(code) != BPF_LD:
        return False
    return BPF_MODE(code) == BPF_IND or (BPF_MODE(code) == BPF_ABS and insn.k < SKF_AD_OFF)


def check_conversion_jumps(insns: Sequence[Insn]) -> None:
    """Refuse what the kernel refuses while converting the program to eBPF.

    ``bpf_convert_filter`` places each classic instruction at an eBPF address (the prologue
    first), and checks each jump it emits with ``BPF_EMIT_JMP``: the offset from the jump to the
    target's address must fit an s16. It runs the conversion twice; in the first run the
    addresses of instructions not yet reached are still 0, and every jump is forward, so a jump
    placed beyond address 32767 fails there even when its target is near. So each converted jump
    at address ``a`` to a target at ``t`` needs ``a <= 32767`` and ``t - a - 1 <= 32767``.
    Only packet loads expand enough to get there (up to 16 eBPF instructions for ``ld [k]``, 21
    for ``ldxb 4*([k]&0xf)``; nothing else more than 5): a ``ja`` over 1,821
    ``ldxb 4*([0]&0xf)`` (18 each) is refused, over 1,820 accepted.
    Expects a program that passes the classic checks; linear in its length.
    """
    sizes = [converted_jumps(insn) for insn in insns]
    address = CONVERSION_PROLOGUE
    if any(_reads_packet(insn) for insn in insns):
        address += CONVERSION_PROLOGUE_LD_ABS
    addrs: list[int] = []
    for count, _ in sizes:
        addrs.append(address)
        address += count
    for pc, (_, jumps) in enumerate(sizes):
        for slot, delta in jumps:
            at = addrs[pc] + slot
            if at > S16_MAX:
                raise ProgramError(
                    f"the kernel's cBPF-to-eBPF conversion would place this jump at eBPF "
                    f"instruction {at}, past its conversion limit of {S16_MAX}", pc)
            offset = addrs[pc + delta + 1] - at - 1
            if offset > S16_MAX:
                raise ProgramError(
                    f"the kernel's cBPF-to-eBPF conversion turns the jump to instruction "
                    f"{pc + delta + 1} into an eBPF offset of {offset}, past its conversion "
                    f"limit of {S16_MAX}", pc)


def is_valid(insns: Sequence[Insn]) -> bool:
    try:
        check(insns)
    except ProgramError:
        return False
    return True
