"""The numpy batch engine: one checked program over many packets at once, and the record walk
that feeds it from a memory-mapped classic pcap file.

Stage: ``Program`` × ``Batch`` → one return value per packet, exactly ``vm.run``'s (libpcap's
``bpf_filter()`` semantics: u32 arithmetic, a load past the captured bytes or a division by
X == 0 returns 0, ``[x + k]`` never wraps, shifts by 32 or more give 0).

How it runs: classic BPF jumps only go forward, so instructions are visited once each, in index
order. Every instruction holds the *group* of packets whose program counter is there, with their
registers and scratch words; a straight-line instruction transforms its group and hands it to the
next one, a conditional jump splits it in two with a boolean mask, and groups arriving at a
shared instruction are concatenated. So each instruction costs a few numpy operations over only
the packets that reach it, whatever the program's shape. Three things keep those operations few:

- registers the same for the whole group (the initial zeros, ``ld #k``) stay Python ints, so a
  test on them picks a side without a mask;
- a split or merge carries only the registers that are live where the packets go (a backward
  liveness pass over the DAG), so ``ldh [12]; jeq ...`` moves row numbers and nothing else;
- packet bytes are read from a *head matrix*, the first bytes of every packet copied into one
  small contiguous array (the record walk gathers it with the record headers, one cache miss per
  record), so a fixed-offset load is a strided column read; only loads beyond it go back to the
  file's bytes.

Packets that a ``ret #0`` or a failed load rejects simply leave their group: the result array
starts at 0.

``PcapScan`` is the record index of a mapped pcap: the hop from one record header to the next is
inherently sequential, so it is one tight Python loop per record (a strided ``.item`` read, the
cheapest form we measured); everything else is gathered with numpy.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from . import isa
from .isa import Insn
from .pcapfile import Packet

U8Array = npt.NDArray[np.uint8]
U32Array = npt.NDArray[np.uint32]
I64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: A register or scratch word: one value for the whole group, or one per packet.
Reg = int | U32Array

U32: Final = 0xFFFFFFFF
RECORD_HEADER: Final = 16
#: Bytes per row of a head matrix: a pcap record header and the first 112 bytes of its packet
#: (Ethernet, VLAN, IPv6 and a TCP header's ports and flags fit). Two cache lines.
ROW: Final = 128
#: Records per chunk handed to the engine: its arrays stay a few MB.
CHUNK_RECORDS: Final = 1 << 15
#: Bytes of a file indexed at a time; chains of the lockstep walk start about CHAIN_BYTES
#: apart (at most MAX_CHAINS per index), and numpy steps them while at least MIN_ACTIVE go on.
INDEX_BYTES: Final = 1 << 26
CHAIN_BYTES: Final = 1 << 16
MIN_CHAINS: Final = 8
MAX_CHAINS: Final = 4096
MIN_ACTIVE: Final = 48
#: Bytes after a chain's nominal start searched for a plausible record header; the first
#: GUESS_FIRST of them in every window at once, the rest only where those held none.
GUESS_WINDOW: Final = 2048
GUESS_FIRST: Final = 1024
#: Candidates tried per window, in order, before the window is given up.
GUESS_TRIES: Final = 8
#: Seconds a guessed record's timestamp may lie from the file's first one (a year).
MAX_SPAN: Final = 366 * 86400


@dataclass(frozen=True, slots=True, eq=False)
class Batch:
    """Packets lying in one byte buffer: packet ``i`` is ``raw[start[i]:start[i] + caplen[i]]``,
    ``wirelen[i]`` its original length (what ``len`` loads).

    ``head`` (optional) is a C-contiguous matrix whose row ``i`` holds, from column ``head_at``
    on, the first bytes of packet ``i`` (anything past its caplen: loads are bounds-checked
    against ``caplen`` first). Every packet must lie wholly inside ``raw``.
    """

    raw: U8Array
    start: I64Array
    caplen: I64Array
    wirelen: I64Array
    head: U8Array | None = None
    head_at: int = 0

    def __len__(self) -> int:
        return len(self.start)


def pack(packets: Iterable[bytes], wirelens: Iterable[int] | None = None) -> Batch:
    """A ``Batch`` of separate byte strings, copied end to end into one buffer (with a head
    matrix, so that small batches run the same code as file chunks)."""
    datas = [bytes(p) for p in packets]
    count = len(datas)
    caplen = np.fromiter((len(d) for d in datas), dtype=np.int64, count=count)
    start = np.zeros(count, dtype=np.int64)
    if count > 1:
        np.cumsum(caplen[:-1], out=start[1:])
    wire = caplen.copy() if wirelens is None else np.fromiter(wirelens, dtype=np.int64,
                                                              count=count)
    raw = np.frombuffer(b"".join(datas) + bytes(ROW), dtype=np.uint8)
    rows = np.ndarray((len(raw) - ROW + 1,), dtype=np.dtype((np.void, ROW)), buffer=raw,
                      strides=(1,))
    head = rows[start].view(np.uint8).reshape(count, ROW)
    return Batch(raw, start, caplen, wire, head, 0)


# -- the plan: each instruction decoded once, with what is live after it ----------------------

class Kind(IntEnum):
    """What a decoded instruction does, one member per handler of the engine."""

    LOAD = 0
    LOAD_IND = 1
    MSH = 2
    LEN = 3
    IMM = 4
    MEM = 5
    STORE = 6
    ALU = 7
    NEG = 8
    TAX = 9
    TXA = 10
    JA = 11
    JUMP = 12
    RET_K = 13
    RET_A = 14


#: Liveness bits: A, X, then M[k] at bit 2 + k.
LIVE_A: Final = 1
LIVE_X: Final = 2


def _mem_bit(k: int) -> int:
    return 4 << k


@dataclass(frozen=True, slots=True)
class _Step:
    """One decoded instruction. ``to_x``: the load writes X. ``src_x``: the operand is X.
    ``size``: packet load width. ``op``: ALU or jump operation. ``true``/``false``: absolute
    jump targets, or -1 where the target is ``ret #0`` (those packets need no more work).
    ``live``: the registers some later instruction reads, once this one has run (for a jump:
    ``live_true``/``live_false``, per target)."""

    kind: Kind
    k: int
    to_x: bool = False
    src_x: bool = False
    size: int = 0
    op: int = 0
    true: int = -1
    false: int = -1
    live: int = 0
    live_true: int = 0
    live_false: int = 0


def _decode(insns: Sequence[Insn], pc: int) -> _Step:
    insn = insns[pc]
    code, k = insn.code, insn.k
    info = isa.OPCODES[code]
    cls = isa.BPF_CLASS(code)
    to_x = cls == isa.BPF_LDX
    match cls, info.operand:
        case isa.BPF_LD, "abs":
            return _Step(Kind.LOAD, k, size=info.size)
        case isa.BPF_LD, "ind":
            return _Step(Kind.LOAD_IND, k, size=info.size)
        case isa.BPF_LDX, "msh":
            return _Step(Kind.MSH, k, to_x=True)
        case _, "len":
            return _Step(Kind.LEN, k, to_x)
        case _, "imm":
            return _Step(Kind.IMM, k, to_x)
        case (isa.BPF_LD | isa.BPF_LDX), "mem":
            return _Step(Kind.MEM, k, to_x)
        case (isa.BPF_ST | isa.BPF_STX), _:
            return _Step(Kind.STORE, k, src_x=cls == isa.BPF_STX)
        case isa.BPF_ALU, "none":
            return _Step(Kind.NEG, k)
        case isa.BPF_ALU, _:
            return _Step(Kind.ALU, k, src_x=info.operand == "x", op=isa.BPF_OP(code))
        case isa.BPF_JMP, "ja":
            return _Step(Kind.JA, k, true=pc + 1 + k)
        case isa.BPF_JMP, _:
            return _Step(Kind.JUMP, k, src_x=info.operand == "x", op=isa.BPF_OP(code),
                         true=pc + 1 + insn.jt, false=pc + 1 + insn.jf)
        case isa.BPF_RET, _:
            return _Step(Kind.RET_A, k) if info.operand == "a" else _Step(Kind.RET_K, k)
        case isa.BPF_MISC, _:
            return _Step(Kind.TXA if code == isa.BPF_MISC | isa.BPF_TXA else Kind.TAX, k)
    raise AssertionError(f"opcode 0x{code:02x} has no batch step")


def _uses_defines(step: _Step) -> tuple[int, int]:
    """The liveness bits an instruction reads and the ones it overwrites."""
    reg = LIVE_X if step.to_x else LIVE_A
    match step.kind:
        case Kind.LOAD | Kind.LEN | Kind.IMM:
            return 0, reg
        case Kind.LOAD_IND:
            return LIVE_X, LIVE_A
        case Kind.MSH:
            return 0, LIVE_X
        case Kind.MEM:
            return _mem_bit(step.k), reg
        case Kind.STORE:
            return (LIVE_X if step.src_x else LIVE_A), _mem_bit(step.k)
        case Kind.ALU:
            return LIVE_A | (LIVE_X if step.src_x else 0), LIVE_A
        case Kind.NEG:
            return LIVE_A, LIVE_A
        case Kind.TAX:
            return LIVE_A, LIVE_X
        case Kind.TXA:
            return LIVE_X, LIVE_A
        case Kind.JUMP:
            return LIVE_A | (LIVE_X if step.src_x else 0), 0
        case Kind.RET_A:
            return LIVE_A, 0
        case Kind.JA | Kind.RET_K:
            return 0, 0
    raise AssertionError(f"step kind {step.kind}")


@lru_cache(maxsize=64)
def plan(insns: tuple[Insn, ...]) -> tuple[_Step, ...]:
    """The decoded program with liveness; checks it first (the engine trusts its jumps and
    scratch slots). One backward pass is exact: every jump goes forward."""
    isa.check(insns)
    steps = [_decode(insns, pc) for pc in range(len(insns))]
    live_in = [0] * len(steps)
    reject = Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 0)
    for pc in reversed(range(len(steps))):
        step = steps[pc]
        uses, defines = _uses_defines(step)
        if step.kind == Kind.JUMP:
            lt, lf = live_in[step.true], live_in[step.false]
            steps[pc] = step = _replace_jump(step, insns, reject, lt, lf)
            out = lt | lf
        elif step.kind == Kind.JA:
            out = live_in[step.true]
            target = -1 if insns[step.true] == reject else step.true
            steps[pc] = step = _Step(Kind.JA, step.k, true=target, live=out)
        elif step.kind in (Kind.RET_A, Kind.RET_K):
            out = 0
        else:
            out = live_in[pc + 1]
            steps[pc] = step = _with_live(step, out)
        live_in[pc] = uses | (out & ~defines)
    return tuple(steps)


def _replace_jump(step: _Step, insns: Sequence[Insn], reject: Insn, lt: int, lf: int) -> _Step:
    true = -1 if insns[step.true] == reject else step.true
    false = -1 if insns[step.false] == reject else step.false
    return _Step(step.kind, step.k, src_x=step.src_x, op=step.op, true=true, false=false,
                 live=lt | lf, live_true=lt, live_false=lf)


def _with_live(step: _Step, live: int) -> _Step:
    return _Step(step.kind, step.k, step.to_x, step.src_x, step.size, step.op, step.true,
                 step.false, live)


# -- groups ---------------------------------------------------------------------------------

class _Group:
    """The packets at one program counter: their rows in the batch (``None``: all of them, in
    order), A, X and the scratch words written so far (only the live ones are kept up to
    date). ``low`` is a length every packet of the group is known to have captured."""

    __slots__ = ("a", "low", "mem", "rows", "size", "x")

    def __init__(self, rows: I64Array | None, size: int, a: Reg, x: Reg, mem: dict[int, Reg],
                 low: int) -> None:
        self.rows, self.size = rows, size
        self.a, self.x, self.mem, self.low = a, x, mem, low

    def where(self, mask: BoolArray, live: int, low: int | None = None) -> _Group:
        """The packets of the group for which ``mask`` holds, with the ``live`` registers."""
        rows = np.flatnonzero(mask) if self.rows is None else self.rows[mask]
        a = _pick(self.a, mask) if live & LIVE_A else 0
        x = _pick(self.x, mask) if live & LIVE_X else 0
        mem = {k: _pick(v, mask) for k, v in self.mem.items() if live & _mem_bit(k)}
        return _Group(rows, len(rows), a, x, mem, self.low if low is None else low)

    def indices(self) -> I64Array:
        return np.arange(self.size, dtype=np.int64) if self.rows is None else self.rows


def _pick(value: Reg, mask: BoolArray) -> Reg:
    return value if isinstance(value, int) else value[mask]


def _spread(value: Reg, size: int) -> U32Array:
    if isinstance(value, int):
        return np.full(size, value, dtype=np.uint32)
    return value


def _join(values: list[Reg], sizes: list[int]) -> Reg:
    first = values[0]
    if isinstance(first, int) and all(isinstance(v, int) and v == first for v in values):
        return first
    return np.concatenate([_spread(v, s) for v, s in zip(values, sizes, strict=True)])


def _merge(groups: list[_Group], live: int) -> _Group:
    """The groups that reach one instruction by different paths, as one group."""
    sizes = [g.size for g in groups]
    a = _join([g.a for g in groups], sizes) if live & LIVE_A else 0
    x = _join([g.x for g in groups], sizes) if live & LIVE_X else 0
    slots = {k for g in groups for k in g.mem if live & _mem_bit(k)}
    mem = {k: _join([g.mem.get(k, 0) for g in groups], sizes) for k in slots}
    rows = np.concatenate([g.indices() for g in groups])
    return _Group(rows, len(rows), a, x, mem, min(g.low for g in groups))


# -- packet loads ---------------------------------------------------------------------------

class _Loader:
    """Reads big-endian u8/u16/u32 from the packets of a batch: columns of the head matrix
    where the bytes are in it, gathers from the raw buffer where they are not."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.head = batch.head
        self.at = batch.head_at
        self.width = 0 if batch.head is None else batch.head.shape[1] - batch.head_at
        self.columns: dict[tuple[int, int], npt.NDArray[np.generic]] = {}
        self.flat: U8Array | None = None

    def fixed(self, rows: I64Array | None, k: int, size: int) -> U32Array:
        """Bytes ``k`` to ``k + size`` of every packet in ``rows``."""
        if k + size <= self.width:
            column = self.columns.get((k, size))
            if column is None:
                column = self._column(k, size)
                self.columns[(k, size)] = column
            picked = column if rows is None else column[rows]
            return picked.astype(np.uint32)
        starts = self.batch.start if rows is None else self.batch.start[rows]
        return _compose(self.batch.raw, starts + k, size)

    def varying(self, rows: I64Array | None, offsets: I64Array, size: int) -> U32Array:
        """Bytes ``offsets[i]`` to ``offsets[i] + size`` of packet ``rows[i]``."""
        head = self.head
        if head is not None and int(offsets.max()) + size <= self.width:
            if self.flat is None:
                self.flat = head.reshape(-1)
            line = head.shape[1]
            base = (np.arange(len(offsets), dtype=np.int64) if rows is None else rows) * line
            return _compose(self.flat, base + (offsets + self.at), size)
        starts = self.batch.start if rows is None else self.batch.start[rows]
        return _compose(self.batch.raw, starts + offsets, size)

    def _column(self, k: int, size: int) -> npt.NDArray[np.generic]:
        head = self.head
        assert head is not None
        if size == 1:
            return head[:, self.at + k]
        return np.ndarray((head.shape[0],), dtype=f">u{size}", buffer=head,
                          offset=self.at + k, strides=(head.shape[1],))


def _compose(data: U8Array, at: I64Array, size: int) -> U32Array:
    """Big-endian words of ``size`` bytes at the byte offsets ``at`` of ``data``, built from byte
    gathers (numpy gathers single bytes several times faster than unaligned wider words)."""
    value = data.take(at).astype(np.uint32)
    for i in range(1, size):
        value <<= np.uint32(8)
        value |= data.take(at + i)
    return value


# -- ALU and jumps --------------------------------------------------------------------------

def _alu(op: int, a: Reg, b: Reg) -> Reg:
    """u32 ``a op b``; the divisor and shift count are never problematic here (see callers)."""
    if isinstance(a, int) and isinstance(b, int):
        match op:
            case isa.BPF_ADD:
                return (a + b) & U32
            case isa.BPF_SUB:
                return (a - b) & U32
            case isa.BPF_MUL:
                return (a * b) & U32
            case isa.BPF_DIV:
                return a // b
            case isa.BPF_MOD:
                return a % b
            case isa.BPF_AND:
                return a & b
            case isa.BPF_OR:
                return a | b
            case isa.BPF_XOR:
                return a ^ b
            case isa.BPF_LSH:
                return (a << b) & U32 if b < 32 else 0
            case isa.BPF_RSH:
                return a >> b if b < 32 else 0
        raise AssertionError(f"ALU operation 0x{op:02x}")
    va = np.uint32(a) if isinstance(a, int) else a
    vb = np.uint32(b) if isinstance(b, int) else b
    match op:
        case isa.BPF_ADD:
            return np.add(va, vb, dtype=np.uint32)
        case isa.BPF_SUB:
            return np.subtract(va, vb, dtype=np.uint32)
        case isa.BPF_MUL:
            return np.multiply(va, vb, dtype=np.uint32)
        case isa.BPF_DIV:
            return np.floor_divide(va, vb, dtype=np.uint32)
        case isa.BPF_MOD:
            return np.remainder(va, vb, dtype=np.uint32)
        case isa.BPF_AND:
            return np.bitwise_and(va, vb, dtype=np.uint32)
        case isa.BPF_OR:
            return np.bitwise_or(va, vb, dtype=np.uint32)
        case isa.BPF_XOR:
            return np.bitwise_xor(va, vb, dtype=np.uint32)
        case isa.BPF_LSH | isa.BPF_RSH:
            # A count of 32 or more gives 0 (libpcap); numpy, like C, would use it mod 32.
            shift = np.left_shift if op == isa.BPF_LSH else np.right_shift
            if isinstance(b, int):
                return shift(va, vb, dtype=np.uint32) if b < 32 else _zeros_like(a, b)
            out = shift(va, np.minimum(vb, 31), dtype=np.uint32)
            return np.where(vb < 32, out, np.uint32(0))
    raise AssertionError(f"ALU operation 0x{op:02x}")


def _zeros_like(a: Reg, b: Reg) -> Reg:
    for v in (a, b):
        if not isinstance(v, int):
            return np.zeros(len(v), dtype=np.uint32)
    return 0


def _test(op: int, a: Reg, b: Reg) -> bool | BoolArray:
    if isinstance(a, int) and isinstance(b, int):
        match op:
            case isa.BPF_JEQ:
                return a == b
            case isa.BPF_JGT:
                return a > b
            case isa.BPF_JGE:
                return a >= b
            case isa.BPF_JSET:
                return a & b != 0
    va = np.uint32(a) if isinstance(a, int) else a
    vb = np.uint32(b) if isinstance(b, int) else b
    match op:
        case isa.BPF_JEQ:
            return np.asarray(va == vb)
        case isa.BPF_JGT:
            return np.asarray(va > vb)
        case isa.BPF_JGE:
            return np.asarray(va >= vb)
        case isa.BPF_JSET:
            return np.asarray(np.bitwise_and(va, vb) != 0)
    raise AssertionError(f"jump operation 0x{op:02x}")


# -- the engine -----------------------------------------------------------------------------

def run(insns: Sequence[Insn], batch: Batch) -> U32Array:
    """The program's return value for every packet of ``batch`` (0: rejected).

    Raises ``ProgramError`` if ``insns`` does not pass ``isa.check``; a checked program never
    raises, on any packets."""
    steps = plan(tuple(Insn(*i) for i in insns))
    n = len(batch)
    result = np.zeros(n, dtype=np.uint32)
    if n == 0:
        return result
    loader = _Loader(batch)
    pending: list[list[_Group] | None] = [None] * len(steps)
    pending[0] = [_Group(None, n, 0, 0, {}, 0)]

    def send(pc: int, g: _Group) -> None:
        if pc >= 0 and g.size:
            waiting = pending[pc]
            if waiting is None:
                pending[pc] = [g]
            else:
                waiting.append(g)

    for pc, step in enumerate(steps):
        arrived = pending[pc]
        if arrived is None:
            continue
        pending[pc] = None
        g = arrived[0] if len(arrived) == 1 else _merge(arrived, _live_in(steps, pc))
        kind = step.kind
        if kind == Kind.JUMP:
            cond = _test(step.op, g.a, g.x if step.src_x else step.k)
            if isinstance(cond, (bool, np.bool_)):
                send(step.true if cond else step.false, g)
            elif step.true == step.false:
                send(step.true, g)
            else:
                hits = int(np.count_nonzero(cond))
                if hits == g.size:
                    send(step.true, g)
                elif hits == 0:
                    send(step.false, g)
                else:
                    if step.true >= 0:
                        send(step.true, g.where(cond, step.live_true))
                    if step.false >= 0:
                        send(step.false, g.where(~cond, step.live_false))
        elif kind == Kind.RET_K:
            if step.k:
                result[g.indices()] = step.k
        elif kind == Kind.RET_A:
            result[g.indices()] = g.a
        elif kind == Kind.JA:
            send(step.true, g)
        else:
            after = _straight(step, g, loader, batch)
            if after is not None:
                send(pc + 1, after)
    return result


def _live_in(steps: tuple[_Step, ...], pc: int) -> int:
    """What is live on entry to ``pc``: for merging, a superset is enough, so take what is
    live after it plus everything it reads."""
    step = steps[pc]
    return _uses_defines(step)[0] | step.live


def _straight(step: _Step, g: _Group, loader: _Loader, batch: Batch) -> _Group | None:
    """Runs one non-branching instruction on a group; None when every packet of it failed."""
    match step.kind:
        case Kind.LOAD | Kind.MSH:
            end = step.k + (1 if step.kind == Kind.MSH else step.size)
            if end > g.low:
                caps = batch.caplen if g.rows is None else batch.caplen[g.rows]
                shortest = int(caps.min())
                if shortest >= end:
                    g.low = shortest
                else:
                    g = g.where(caps >= end, step.live & ~(LIVE_X if step.to_x else LIVE_A),
                                end)
                    if not g.size:
                        return None
            if step.kind == Kind.MSH:
                value = loader.fixed(g.rows, step.k, 1)
                g.x = np.left_shift(np.bitwise_and(value, np.uint32(0xF)), np.uint32(2))
            else:
                g.a = loader.fixed(g.rows, step.k, step.size)
        case Kind.LOAD_IND:
            x = g.x
            if isinstance(x, int):
                return _straight(_Step(Kind.LOAD, x + step.k, size=step.size, live=step.live),
                                 g, loader, batch)
            offsets = x.astype(np.int64) + step.k
            if int(offsets.max()) + step.size > g.low:
                caps = batch.caplen if g.rows is None else batch.caplen[g.rows]
                ok = offsets + step.size <= caps
                if not ok.all():
                    g = g.where(ok, step.live & ~LIVE_A)
                    if not g.size:
                        return None
                    offsets = offsets[ok]
            g.a = loader.varying(g.rows, offsets, step.size)
        case Kind.LEN:
            wire = batch.wirelen if g.rows is None else batch.wirelen[g.rows]
            _set(g, step.to_x, wire.astype(np.uint32))
        case Kind.IMM:
            _set(g, step.to_x, step.k)
        case Kind.MEM:
            _set(g, step.to_x, g.mem.get(step.k, 0))
        case Kind.STORE:
            g.mem = {**g.mem, step.k: g.x if step.src_x else g.a}
        case Kind.ALU:
            b = g.x if step.src_x else step.k
            if step.op in (isa.BPF_DIV, isa.BPF_MOD) and step.src_x:
                if isinstance(b, int):
                    if b == 0:
                        return None
                else:
                    nonzero = b != 0
                    if not nonzero.all():
                        g = g.where(nonzero, step.live | LIVE_A | LIVE_X)
                        if not g.size:
                            return None
                        b = g.x
            g.a = _alu(step.op, g.a, b)
        case Kind.NEG:
            g.a = (-g.a) & U32 if isinstance(g.a, int) else np.negative(g.a, dtype=np.uint32)
        case Kind.TAX:
            g.x = g.a
        case Kind.TXA:
            g.a = g.x
        case _:
            raise AssertionError(f"step kind {step.kind} is not straight-line")
    return g


def _set(g: _Group, to_x: bool, value: Reg) -> None:
    if to_x:
        g.x = value
    else:
        g.a = value


def all_true(n: int) -> BoolArray:
    """The verdicts of the empty filter."""
    return np.ones(n, dtype=np.bool_)


# -- the record walk of a mapped classic pcap -------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class Chunk:
    """Consecutive records of a mapped classic pcap file, as parallel arrays.

    ``offset`` is each record header's file offset, ``rawcap`` the caplen the file says,
    ``caplen`` what libpcap delivers (cut to the snapshot; ``clipped`` is True when some record
    was cut), ``end`` the offset just past the last record. ``rows`` is the head matrix: each
    record's header and the first bytes of its packet.
    """

    buf: mmap.mmap | bytes
    offset: I64Array
    rawcap: I64Array
    caplen: I64Array
    wirelen: I64Array
    rows: U8Array
    clipped: bool
    end: int
    units: int
    linktype: int
    byteorder: str

    def __len__(self) -> int:
        return len(self.offset)

    def batch(self) -> Batch:
        return Batch(np.frombuffer(self.buf, dtype=np.uint8), self.offset + RECORD_HEADER,
                     self.caplen, self.wirelen, self.rows, RECORD_HEADER)

    def timestamps(self, i: int) -> tuple[int, int]:
        sec, frac = struct.unpack_from(self.byteorder + "II", self.rows[i])
        return sec, frac

    def packet(self, i: int) -> Packet:
        at = int(self.offset[i]) + RECORD_HEADER
        cap = int(self.caplen[i])
        sec, frac = self.timestamps(i)
        return Packet(sec, frac, self.units, cap, int(self.wirelen[i]),
                      bytes(self.buf[at:at + cap]), self.linktype, 0, b"",
                      "<" if self.byteorder == "<" else ">")

    def record_bytes(self, i: int) -> bytes:
        """Record ``i`` as libpcap delivers it: header and data, cut to the snapshot."""
        at = int(self.offset[i])
        cap = int(self.caplen[i])
        sec, frac = self.timestamps(i)
        head = struct.pack(self.byteorder + "IIII", sec, frac, cap, int(self.wirelen[i]))
        return head + bytes(self.buf[at + RECORD_HEADER:at + RECORD_HEADER + cap])


def _step(chain: I64Array, here: I64Array, caplen: npt.NDArray[np.uint32], limit: I64Array,
          landing: I64Array) -> tuple[I64Array, I64Array, I64Array]:
    """One lockstep step: every chain moves past the record at ``here`` (of ``caplen`` bytes);
    those that reach their ``limit`` leave, their position noted in ``landing``."""
    here = caplen + here
    here += RECORD_HEADER
    going = here < limit
    if going.all():
        return chain, here, limit
    landing[chain] = here
    return chain[going], here[going], limit[going]


class PcapScan:
    """Walks the records of a mapped classic pcap (16-byte record headers, lengths in their
    usual order) chunk by chunk. ``damage_at`` is set, once ``chunks`` is exhausted, to the
    offset of the first damaged record (a caplen beyond the link type's maximum, a record or a
    record header cut by the end of the file), every record before it having been handed out.
    """

    def __init__(self, buf: mmap.mmap | bytes, byteorder: str, linktype: int, snapshot: int,
                 units: int) -> None:
        from .pcapfile import max_snaplen_for_dlt

        self.buf = buf
        self.size = size = len(buf)
        self.byteorder = byteorder
        self.linktype = linktype
        self.snapshot = snapshot
        self.units = units
        self.limit = max_snaplen_for_dlt(linktype)
        self.damage_at: int | None = None
        self.stopped_at = 0
        u4 = byteorder + "u4"
        # A ROW-byte record at every byte offset (no copy); indexing it with record offsets
        # gathers header and head bytes in one go.
        self._fields = np.dtype({"names": ["caplen", "len"], "formats": [u4, u4],
                                 "offsets": [8, 12], "itemsize": ROW})
        self._rows = np.ndarray((max(size - ROW + 1, 0),), dtype=np.dtype((np.void, ROW)),
                                buffer=buf, strides=(1,))
        # Any u32 of the file, at any offset; the caplen field of a record at q is item q of
        # the second view.
        self._word = np.ndarray((max(size - 3, 0),), dtype=u4, buffer=buf, strides=(1,))
        self._bytes = np.frombuffer(buf, dtype=np.uint8)
        self._heads: npt.NDArray[np.void] | None = None
        self.first_sec = int(self._word[24]) if size >= 28 else 0
        self._caplen_at = np.ndarray((max(size - 11, 0),), dtype=u4, buffer=buf,
                                     offset=8 if size >= 12 else 0, strides=(1,))

    def walk(self, start: int, stop: int) -> tuple[list[int], int]:
        """Record offsets from ``start`` (a record boundary) while they are below ``stop`` and
        their header lies in the file; and the offset after the last one."""
        at: list[int] = []
        mark = at.append
        item = self._caplen_at.item
        q = start
        lim = min(stop, self.size - 15)
        while q < lim:
            mark(q)
            q += 16 + item(q)
        return at, q

    def gather(self, offsets: I64Array) -> U8Array:
        """The head matrix of the records at ``offsets``: ROW bytes from each, zero past the
        end of the file."""
        last = len(self._rows) - 1
        if len(offsets) == 0 or int(offsets[-1]) <= last:
            return self._rows[offsets].view(np.uint8).reshape(len(offsets), ROW)
        near_end = int(np.searchsorted(offsets, last, side="right"))
        rows = np.zeros((len(offsets), ROW), dtype=np.uint8)
        if near_end:
            rows[:near_end] = self._rows[offsets[:near_end]].view(np.uint8).reshape(-1, ROW)
        for i in range(near_end, len(offsets)):
            tail = self.buf[int(offsets[i]):int(offsets[i]) + ROW]
            rows[i, :len(tail)] = np.frombuffer(tail, dtype=np.uint8)
        return rows

    def chunks(self, start: int, stop: int, chunk_records: int = CHUNK_RECORDS,
               index_bytes: int = INDEX_BYTES) -> Iterator[Chunk]:
        """Chunks of at most ``chunk_records`` records, from ``start`` (a record boundary) up
        to the first record at or past ``stop``; ``stopped_at`` is then the offset after the
        last record handed out. The file is indexed ``index_bytes`` at a time (``index``), so
        memory stays bounded whatever its size."""
        q = start
        self.stopped_at = start
        while q < stop:
            self.prefetch(q + index_bytes, index_bytes)
            offsets, after = self.index(q, min(q + index_bytes, stop))
            yield from self.split(offsets, q, after, stop, chunk_records)
            if self.damage_at is not None or not len(offsets):
                return
            q = after

    def prefetch(self, begin: int, size: int) -> None:
        """Asks the kernel to start reading [begin, begin + size) of the file now, so that a
        capture not (wholly) in the page cache is read ahead of the index, not under it."""
        if isinstance(self.buf, mmap.mmap) and begin < self.size:
            begin -= begin % mmap.PAGESIZE
            self.buf.madvise(mmap.MADV_WILLNEED, begin, min(size, self.size - begin))

    def split(self, offsets: I64Array, start: int, after: int, stop: int,
              chunk_records: int = CHUNK_RECORDS) -> Iterator[Chunk]:
        """The chunks of the records ``offsets`` that ``index(start, ...)`` found (``after``:
        where it ended), up to the first damaged one."""
        if not len(offsets):
            self.chunk(offsets, start, after, stop)  # notes damage at ``start``, if any
            return
        for first in range(0, len(offsets), chunk_records):
            part = offsets[first:first + chunk_records]
            last = first + chunk_records >= len(offsets)
            end = after if last else int(offsets[first + chunk_records])
            chunk = self.chunk(part, int(part[0]), end, stop)
            if chunk is not None:
                yield chunk
            if self.damage_at is not None:
                return

    def index(self, start: int, stop: int) -> tuple[I64Array, int]:
        """The offsets of the records from ``start`` (a known boundary) up to the first at or
        past ``stop`` or the end of the file, and the offset where that walk ended.

        Walking record to record is sequential, and a Python loop costs ~150 ns a record; so a
        long range is walked as many chains at once, in lockstep, with numpy: chains start at
        guessed boundaries (``guess``) spread over the range, and each step moves every chain
        one record. A chain is trusted only if the chain before it (or ``start``) lands exactly
        on its first record; an untrusted one is walked again, the slow exact way, from where
        the previous one really ended. So a wrong guess costs time, never a record."""
        span = stop - start
        chains = min(span // CHAIN_BYTES, MAX_CHAINS)
        if chains < MIN_CHAINS:
            marks, after = self.walk(start, stop)
            return np.array(marks, dtype=np.int64), after
        spacing = span // chains
        guesses = self.guess(start + spacing * np.arange(1, chains, dtype=np.int64), spacing)
        starts = np.concatenate([np.array([start], dtype=np.int64), guesses[guesses >= 0]])
        stops = np.append(starts[1:], np.int64(stop))
        ids, positions, landing, tails = self._lockstep(starts, stops)
        positions = positions[np.argsort(ids, kind="stable")]
        if not tails and np.array_equal(landing[:-1], starts[1:]):
            return positions, int(landing[-1])  # every guess confirmed: the common case
        ends = np.cumsum(np.bincount(ids, minlength=len(starts)))
        pieces: list[I64Array] = []
        expected, begin = start, 0
        for i, (chain_start, end) in enumerate(zip(starts.tolist(), ends.tolist(),
                                                   strict=True)):
            if chain_start == expected:
                pieces.append(positions[begin:end])
                tail = tails.get(i)
                if tail is not None:
                    pieces.append(np.array(tail, dtype=np.int64))
                expected = int(landing[i])
            else:  # a wrong guess (or the previous chain hit damage): walk this range exactly
                marks, expected = self.walk(expected, int(stops[i]))
                pieces.append(np.array(marks, dtype=np.int64))
            begin = end
        return np.concatenate(pieces), expected

    def _lockstep(self, starts: I64Array, stops: I64Array
                  ) -> tuple[npt.NDArray[np.int16], I64Array, I64Array, dict[int, list[int]]]:
        """Walks every chain ``i`` from ``starts[i]`` while below ``stops[i]`` (and while a
        record header fits in the file). Returns the chain id and offset of every record, in
        step order; where each chain ended; and, for the chains that were still going when too
        few remained for numpy to pay, the rest of their records, walked one by one."""
        caplen_at = self._caplen_at
        pos = starts.copy()
        bound = np.minimum(stops, self.size - 15)
        chain = np.flatnonzero(pos < bound)
        # The chains still going, compacted: their positions, bounds and ids side by side, so
        # that a step is one gather, two adds and one compare.
        here, limit = pos[chain], bound[chain]
        ids: list[npt.NDArray[np.int64]] = []
        seen: list[I64Array] = []
        while len(chain) >= MIN_ACTIVE:
            ids.append(chain)
            seen.append(here)
            chain, here, limit = _step(chain, here, caplen_at[here], limit, pos)
        pos[chain] = here
        active = chain
        tails: dict[int, list[int]] = {}
        for i in active.tolist():
            tails[i], pos[i] = self.walk(int(pos[i]), int(stops[i]))
        if not ids:
            return (np.zeros(0, dtype=np.int16), np.zeros(0, dtype=np.int64), pos, tails)
        # int16 ids: numpy sorts them with a radix sort (a stable sort by chain, in O(n)).
        return (np.concatenate(ids).astype(np.int16), np.concatenate(seen), pos, tails)

    def index_rows(self, start: int, stop: int) -> Chunk | None:
        """The records from ``start`` (a known boundary) up to the first at or past ``stop``,
        as one chunk in *walk order*, not file order: the lockstep walk (see ``index``) gathers
        each record's head row as it steps onto it, so a record's header is fetched from
        memory once, not once to walk and again to filter. None when the fast way cannot
        vouch for the result (a wrong guess, damage, the end of the file within reach, too
        short a range): the caller then takes ``index``, which sorts all of that out. The
        chunk's rows live in a buffer the next call reuses: filter it before walking on."""
        stop = min(stop, self.size)
        span = stop - start
        chains = min(span // CHAIN_BYTES, MAX_CHAINS)
        if chains < MIN_CHAINS:
            return None
        spacing = span // chains
        guesses = self.guess(start + spacing * np.arange(1, chains, dtype=np.int64), spacing)
        starts = np.concatenate([np.array([start], dtype=np.int64), guesses[guesses >= 0]])
        ends = np.append(starts[1:], np.int64(stop))
        # A chain leaves the lockstep where a whole row no longer fits in the file; the walk
        # one by one takes it to its end (``gather`` pads those last rows).
        limit = np.minimum(ends, self.size - ROW + 1)
        rows_of, fields = self._rows, self._fields
        chain = np.arange(len(starts))
        here = starts
        landing = np.empty(len(starts), dtype=np.int64)
        seen: list[I64Array] = []
        # Rows go straight into one buffer kept from call to call: a fresh array per step
        # (and their concatenation) would cost more in page faults than the gathers do.
        self._heads_for(span // 256 + len(starts))
        filled = 0
        while len(chain) >= MIN_ACTIVE:
            head = self._put_rows(filled, rows_of[here])
            filled += len(here)
            seen.append(here)
            chain, here, limit = _step(chain, here, head.view(fields)["caplen"], limit, landing)
        landing[chain] = here
        for i in np.flatnonzero(landing < ends).tolist():
            marks, landing[i] = self.walk(int(landing[i]), int(ends[i]))
            if marks:
                tail = np.array(marks, dtype=np.int64)
                self._put_rows(filled, self.gather(tail).view(rows_of.dtype).ravel())
                filled += len(tail)
                seen.append(tail)
        if not np.array_equal(landing[:-1], starts[1:]) or not seen:
            return None
        if stop == self.size and int(landing[-1]) != stop:
            return None  # a record header cut by the end of the file: damage
        offsets = np.concatenate(seen)
        assert self._heads is not None
        rows = self._heads[:filled].view(np.uint8).reshape(filled, ROW)
        chunk = self._chunk_of(offsets, rows, int(landing[-1]))
        if chunk is None or bool(np.any(chunk.offset + 16 + chunk.rawcap > self.size)):
            return None
        return chunk

    def _heads_for(self, size: int) -> npt.NDArray[np.void]:
        """The row buffer of ``index_rows``, at least ``size`` rows; when it has to grow, it
        doubles and keeps what it held."""
        old = self._heads
        if old is not None and len(old) >= size:
            return old
        new = np.empty(max(size, 2 * len(old) if old is not None else 0), dtype=self._rows.dtype)
        if old is not None:
            new[:len(old)] = old
        self._heads = new
        return new

    def _put_rows(self, filled: int, rows: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
        """Stores ``rows`` after the first ``filled`` of the row buffer (growing it); returns
        where they now lie."""
        place = self._heads_for(filled + len(rows))[filled:filled + len(rows)]
        place[...] = rows
        return place

    def _chunk_of(self, offsets: I64Array, rows: U8Array, after: int) -> Chunk | None:
        """A chunk of records whose head rows are gathered; None if one is damaged (a caplen
        beyond the link type's maximum)."""
        fields = rows.reshape(-1).view(self._fields)
        rawcap = fields["caplen"].astype(np.int64)
        if int(rawcap.max(initial=0)) > self.limit:
            return None
        caplen = rawcap
        clipped = int(rawcap.max(initial=0)) > self.snapshot
        if clipped:
            caplen = np.minimum(rawcap, self.snapshot)
        return Chunk(self.buf, offsets, rawcap, caplen, fields["len"].astype(np.int64), rows,
                     clipped, after, self.units, self.linktype, self.byteorder)

    def guess(self, nominal: I64Array, spacing: int, window: int = GUESS_WINDOW) -> I64Array:
        """For each of the equally spaced offsets ``nominal``, the first offset in the
        ``window`` bytes after it from which a few record headers in a row look sane
        (``sane_chains``); -1 where none does."""
        found = np.full(len(nominal), -1, dtype=np.int64)
        if not len(nominal):
            return found
        width = min(window, max(spacing // 2, 1), self.size - 16 - int(nominal[-1]))
        if width <= 0:
            return found
        # Most windows hold a record boundary near their start; only those that do not are
        # searched further, so most of the window is never looked at.
        first = min(width, GUESS_FIRST)
        grid = np.lib.stride_tricks.as_strided(self._bytes[int(nominal[0]):], writeable=False,
                                               shape=(len(nominal), first + 3),
                                               strides=(spacing, 1))
        self._pick(found, nominal, grid, np.arange(len(nominal)), 0)
        rest = np.flatnonzero(found < 0)
        if len(rest) and width > first:
            grid = self._bytes[nominal[rest, None] + np.arange(first, width + 3)]
            self._pick(found, nominal, grid, rest, first)
        return found

    def _pick(self, found: I64Array, nominal: I64Array, grid: U8Array, rows: I64Array,
              skip: int) -> None:
        """Sets ``found[rows[i]]`` to the first offset ``nominal[rows[i]] + skip + d`` whose
        header passes ``sane_chains``, ``grid[i, d]`` being the byte at that offset (``grid``
        has 3 columns more than there are offsets to try: a header's fourth byte)."""
        word = self._word
        # The most significant byte of a header's seconds must be one the first record's
        # allows: one byte compared per offset, and random bytes or runs of zeros seldom pass.
        low = max(self.first_sec - MAX_SPAN, 0) >> 24
        high = min(self.first_sec + MAX_SPAN, U32) >> 24
        top = grid[:, 3:] if self.byteorder == "<" else grid[:, :-3]
        if low == high:
            hits = np.flatnonzero(top == low)
        else:
            hits = np.flatnonzero((top - np.uint8(low)) <= np.uint8(high - low))
        width = top.shape[1]
        rows = rows[hits // width]
        cand = nominal[rows] + skip + hits % width
        # One cheap look at each candidate's own header first (most random hits fail it), then
        # the chain test on the first few survivors of each window only.
        sane = word[cand + 8] <= self.limit
        rows, cand = rows[sane], cand[sane]
        sane = np.abs(word[cand].astype(np.int64) - self.first_sec) <= MAX_SPAN
        if self.units <= 1_000_000_000:
            sane &= word[cand + 4] < self.units
        rows, cand = rows[sane], cand[sane]
        pending = np.ones(len(found), dtype=np.bool_)
        for _ in range(GUESS_TRIES):
            if not len(cand):
                break
            first_rows, first = np.unique(rows, return_index=True)
            good = self.sane_chains(cand[first])
            found[first_rows[good]] = cand[first[good]]
            pending[first_rows[good]] = False
            keep = np.ones(len(cand), dtype=np.bool_)
            keep[first] = False
            keep &= pending[rows]
            rows, cand = rows[keep], cand[keep]

    def sane_chains(self, starts: I64Array, hops: int = 4) -> BoolArray:
        """Whether ``hops`` record headers in a row, from each of ``starts``, look like ones
        (fraction below a second, caplen within the link type's maximum, seconds within a day
        of the first), or the chain ends exactly at the end of the file."""
        word, size = self._word, self.size
        first = word[starts].astype(np.int64)
        ok = np.ones(len(starts), dtype=np.bool_)
        ended = np.zeros(len(starts), dtype=np.bool_)
        q = starts.copy()
        for _ in range(hops):
            ended |= q == size
            inside = q <= size - 16
            at = np.where(inside, q, 0)
            sec = word[at].astype(np.int64)
            frac = word[at + 4]
            cap = word[at + 8].astype(np.int64)
            sane = inside & (cap <= self.limit) & (np.abs(sec - first) <= 86400)
            if self.units <= 1_000_000_000:
                sane &= frac < self.units
            ok &= sane | ended
            q = np.where(sane & ~ended, q + 16 + cap, q)
        return ok

    def chunk(self, marks: list[int] | I64Array, start: int, after: int,
              stop: int) -> Chunk | None:
        """The chunk of walked records ``marks`` (from ``start``; ``after`` is where the walk
        ended), cut at the first damaged record, which ``damage_at`` then names."""
        size = self.size
        offsets = np.asarray(marks, dtype=np.int64)
        rows = self.gather(offsets)
        fields = rows.reshape(-1).view(self._fields)
        rawcap = fields["caplen"].astype(np.int64)
        bad = np.flatnonzero((rawcap > self.limit) | (offsets + 16 + rawcap > size))
        if len(bad):
            cut = int(bad[0])
            self.damage_at = int(offsets[cut])
            offsets, rows, rawcap, fields = offsets[:cut], rows[:cut], rawcap[:cut], fields[:cut]
            after = int(offsets[-1] + 16 + rawcap[-1]) if cut else start
        elif size - 15 <= after < min(size, stop):
            self.damage_at = after  # a record header cut by the end of the file
        self.stopped_at = after
        if not len(offsets):
            return None
        caplen = rawcap
        clipped = int(rawcap.max()) > self.snapshot
        if clipped:
            caplen = np.minimum(rawcap, self.snapshot)
        return Chunk(self.buf, offsets, rawcap, caplen, fields["len"].astype(np.int64), rows,
                     clipped, after, self.units, self.linktype, self.byteorder)
