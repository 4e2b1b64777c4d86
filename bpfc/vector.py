"""The numpy batch engine: one checked program over many packets at once.

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
  small contiguous array (``recindex`` gathers it with the record headers, one cache miss per
  record), so a fixed-offset load is a strided column read; only loads beyond it go back to the
  file's bytes.

Packets that a ``ret #0`` or a failed load rejects simply leave their group: the result array
starts at 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from . import isa, vm
from .isa import Insn

U8Array = npt.NDArray[np.uint8]
U32Array = npt.NDArray[np.uint32]
I64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: A register or scratch word: one value for the whole group, or one per packet.
Reg = int | U32Array

U32: Final = 0xFFFFFFFF
#: Bytes per row of a head matrix: a pcap record header and the first 112 bytes of its packet
#: (Ethernet, VLAN, IPv6 and a TCP header's ports and flags fit). Two cache lines. Here, where
#: ``pack`` builds its rows, so that ``recindex``, which gathers a file's, can import it.
ROW: Final = 128


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
        return vm.ALU_OPS[op](a, b)
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
