"""Emission: CFG → classic BPF instructions.

Input: the root ``cfg.Node`` of a DAG. Output: a list of ``isa.Insn`` that the checker accepts.

The emitter lays the nodes out in a topological order (every edge points forward, as cBPF
requires), turns each node into a block (compute the tested value into A and, for register
operands, into X; then one conditional jump, a store, or a return), and resolves jump offsets,
routing a conditional jump that would span more than 255 instructions through an ``ja``
trampoline placed right after it.

With ``reuse_registers`` (the default when optimizing) it tracks what A and X hold on every path
into a block and skips a computation when the register already holds the value: after
``ldh [12]; jeq #0x800``, the next test of ``ldh [12]`` loads nothing. Skipping is safe for faults,
because a value held in a register was computed, without faulting, on every path here.

Scratch memory: each ``cfg.Var`` gets its own slot, counted up from M[0]; temporaries for
operands that need both registers are taken from the top (M[15] downwards).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cfg, isa
from .errors import ProgramError
from .isa import Insn

_LOAD_SIZE = {4: isa.BPF_W, 2: isa.BPF_H, 1: isa.BPF_B}
_COMMUTATIVE = frozenset({"+", "*", "&", "|", "^"})


@dataclass(slots=True)
class _Regs:
    """What A and X are known to hold (``None``: unknown)."""

    a: cfg.Value | None = None
    x: cfg.Value | None = None

    def copy(self) -> _Regs:
        return _Regs(self.a, self.x)

    def meet(self, other: _Regs) -> _Regs:
        return _Regs(self.a if self.a == other.a else None, self.x if self.x == other.x else None)


@dataclass(slots=True)
class _Block:
    """One node's instructions; jump targets are nodes until offsets are resolved."""

    node: cfg.Node
    body: list[Insn] = field(default_factory=list)
    #: For a branch: (code, k, true target, false target); for an assign: the next node.
    jump: tuple[int, int, cfg.Node, cfg.Node] | None = None
    next: cfg.Node | None = None


class _ValueEmitter:
    """Generates the code for values, tracking registers within one block."""

    def __init__(self, slots: dict[int, int], reuse: bool) -> None:
        self.slots = slots
        self.reuse = reuse
        self.regs = _Regs()
        self.out: list[Insn] = []
        self._temps_in_use = 0

    def _emit(self, code: int, k: int = 0) -> None:
        self.out.append(Insn(code, 0, 0, k & 0xFFFFFFFF))

    def _temp(self) -> int:
        slot = isa.BPF_MEMWORDS - 1 - self._temps_in_use
        if slot < len(self.slots):
            raise ProgramError("the filter needs more than 16 scratch memory slots; simplify "
                               "its arithmetic")
        self._temps_in_use += 1
        return slot

    def _release(self) -> None:
        self._temps_in_use -= 1

    # -- A ----------------------------------------------------------------------------------

    def to_a(self, value: cfg.Value) -> None:
        if self.reuse and self.regs.a == value:
            return
        match value:
            case cfg.Const(k=k):
                self._emit(isa.BPF_LD | isa.BPF_IMM, k)
            case cfg.PacketLen():
                self._emit(isa.BPF_LD | isa.BPF_W | isa.BPF_LEN)
            case cfg.Load(offset=offset, size=size):
                var, k = cfg.split_offset(offset)
                if var is None:
                    self._emit(isa.BPF_LD | _LOAD_SIZE[size] | isa.BPF_ABS, k)
                else:
                    self.to_x(var)
                    self._emit(isa.BPF_LD | _LOAD_SIZE[size] | isa.BPF_IND, k)
            case cfg.HeaderLen(offset=cfg.Const()):
                self.to_x(value)
                self._emit(isa.BPF_MISC | isa.BPF_TXA)
            case cfg.HeaderLen(offset=offset):
                self.to_a(cfg.Load(offset, 1))
                self._emit(isa.BPF_ALU | isa.BPF_AND | isa.BPF_K, 0xF)
                self._emit(isa.BPF_ALU | isa.BPF_LSH | isa.BPF_K, 2)
            case cfg.Ancillary(which=which, size=size):
                self._emit(isa.BPF_LD | _LOAD_SIZE[size] | isa.BPF_ABS, isa.SKF_AD_OFF + which)
            case cfg.Var(id=var):
                self._emit(isa.BPF_LD | isa.BPF_MEM, self.slots[var])
            case cfg.Neg(a=a):
                self.to_a(a)
                self._emit(isa.BPF_ALU | isa.BPF_NEG)
            case cfg.Alu(op=op, a=a, b=cfg.Const(k=k)) if not (op in ("<<", ">>") and k >= 32):
                self.to_a(a)
                self._emit(isa.BPF_ALU | cfg.ALU_CODES[op] | isa.BPF_K, k)
            case cfg.Alu(op=op, a=a, b=b):
                if op in _COMMUTATIVE and self._better_in_x(a, b):
                    a, b = b, a
                self.a_and_x(a, b)
                self._emit(isa.BPF_ALU | cfg.ALU_CODES[op] | isa.BPF_X)
            case _:
                raise AssertionError(f"cannot emit value {value!r}")
        self.regs.a = value

    # -- X ----------------------------------------------------------------------------------

    def to_x(self, value: cfg.Value) -> None:
        if self.reuse and self.regs.x == value:
            return
        match value:
            case cfg.Const(k=k):
                self._emit(isa.BPF_LDX | isa.BPF_W | isa.BPF_IMM, k)
            case cfg.PacketLen():
                self._emit(isa.BPF_LDX | isa.BPF_W | isa.BPF_LEN)
            case cfg.HeaderLen(offset=cfg.Const(k=k)):
                self._emit(isa.BPF_LDX | isa.BPF_B | isa.BPF_MSH, k)
            case cfg.Var(id=var):
                self._emit(isa.BPF_LDX | isa.BPF_W | isa.BPF_MEM, self.slots[var])
            case _:
                self.to_a(value)
                self._emit(isa.BPF_MISC | isa.BPF_TAX)
        self.regs.x = value

    def _better_in_x(self, a: cfg.Value, b: cfg.Value) -> bool:
        """Whether ``a`` (not ``b``) should go to X: it is there already, or loads there directly
        while ``b`` does not (``4*([14]&0xf)`` is an ``ldxb``, so ``hdrlen + v`` computes ``v``)."""
        if self.reuse and self.regs.x == a and self.regs.x != b:
            return True
        return _loads_x_directly(a) and not _loads_x_directly(b)

    def a_and_x(self, a: cfg.Value, x: cfg.Value) -> None:
        """Leave ``a`` in A and ``x`` in X (for ``op x`` and ``jxx x``)."""
        if _loads_x_directly(x):
            self.to_a(a)
            self.to_x(x)
        elif not _needs_x(a):
            self.to_x(x)
            self.to_a(a)
        else:
            slot = self._temp()
            self.to_a(x)
            self._emit(isa.BPF_ST, slot)
            self.to_a(a)
            self._emit(isa.BPF_LDX | isa.BPF_W | isa.BPF_MEM, slot)
            self.regs.x = x
            self._release()


def _loads_x_directly(value: cfg.Value) -> bool:
    """Whether ``ldx`` can load ``value`` without touching A."""
    match value:
        case cfg.Const() | cfg.PacketLen() | cfg.Var() | cfg.HeaderLen(offset=cfg.Const()):
            return True
        case _:
            return False


def _needs_x(value: cfg.Value) -> bool:
    """Whether computing ``value`` into A may overwrite X."""
    match value:
        case cfg.Const() | cfg.PacketLen() | cfg.Ancillary() | cfg.Var():
            return False
        case cfg.Load(offset=offset):
            return cfg.split_offset(offset)[0] is not None
        case cfg.HeaderLen():
            return True
        case cfg.Alu(b=cfg.Const(k=k), op=op, a=a) if not (op in ("<<", ">>") and k >= 32):
            return _needs_x(a)
        case cfg.Alu():
            return True
        case cfg.Neg(a=a):
            return _needs_x(a)
    raise AssertionError(value)


def _mentions(value: cfg.Value, var: int) -> bool:
    if isinstance(value, cfg.Var):
        return value.id == var
    return any(_mentions(c, var) for c in cfg.children(value))


def _variables(order: list[cfg.Node]) -> dict[int, int]:
    slots: dict[int, int] = {}
    for node in order:
        if isinstance(node, cfg.Assign) and node.var not in slots:
            slots[node.var] = len(slots)
    if len(slots) > isa.BPF_MEMWORDS - 2:
        raise ProgramError("the filter needs more than 14 scratch variables")
    return slots


def emit(root: cfg.Node, *, reuse_registers: bool = True) -> list[Insn]:
    """The instructions deciding the CFG rooted at ``root``."""
    order = cfg.topological(root)
    slots = _variables(order)
    entry: dict[int, _Regs] = {}
    blocks: list[_Block] = []
    for node in order:
        regs = entry.get(id(node), _Regs()) if reuse_registers else _Regs()
        gen = _ValueEmitter(slots, reuse_registers)
        gen.regs = regs.copy()
        block = _Block(node)
        match node:
            case cfg.Return(k=k):
                gen._emit(isa.BPF_RET | isa.BPF_K, k)
            case cfg.Branch(test=test, if_true=t, if_false=f):
                code = isa.BPF_JMP | cfg.JUMP_CODES[test.op]
                if isinstance(test.operand, cfg.Const):
                    gen.to_a(test.value)
                    block.jump = (code | isa.BPF_K, test.operand.k, t, f)
                else:
                    value, operand = test.value, test.operand
                    if test.op == "==" and gen._better_in_x(value, operand):
                        value, operand = operand, value
                    gen.a_and_x(value, operand)
                    block.jump = (code | isa.BPF_X, 0, t, f)
            case cfg.Assign(var=var, value=value, next=nxt):
                gen.to_a(value)
                gen._emit(isa.BPF_ST, slots[var])
                # From here on ``Var(var)`` means the new value, which A holds; anything tracked
                # in terms of the old one is stale.
                gen.regs.a = cfg.Var(var)
                if gen.regs.x is not None and _mentions(gen.regs.x, var):
                    gen.regs.x = None
                block.next = nxt
            case _:
                raise AssertionError(node)
        block.body = gen.out
        blocks.append(block)
        for succ in cfg.successors(node):
            seen = entry.get(id(succ))
            entry[id(succ)] = gen.regs.copy() if seen is None else seen.meet(gen.regs)
    return _layout(_cross_jump(blocks))


def _cross_jump(blocks: list[_Block]) -> list[_Block]:
    """Merge blocks whose instructions and targets are identical (cross-jumping).

    Two blocks can emit the same code for different values, because each relies on what its
    predecessors left in A: ``jeq #0x11`` tests the IPv4 protocol byte on one path and the IPv6
    next header on another. Each predecessor still runs exactly the code it ran before, so the
    merge is sound. The last of the duplicates in layout order is kept, so every jump into it
    still goes forward.
    """
    canon: dict[int, cfg.Node] = {}
    kept: dict[tuple[object, ...], cfg.Node] = {}

    def rep(node: cfg.Node) -> cfg.Node:
        return canon.get(id(node), node)

    for blk in reversed(blocks):
        if blk.jump is not None:
            code, k, t, f = blk.jump
            blk.jump = (code, k, rep(t), rep(f))
            key: tuple[object, ...] = (tuple(blk.body), code, k, id(blk.jump[2]), id(blk.jump[3]))
        elif blk.next is not None:
            blk.next = rep(blk.next)
            key = (tuple(blk.body), "next", id(blk.next))
        else:
            key = (tuple(blk.body),)
        same = kept.get(key)
        if same is None:
            kept[key] = blk.node
        else:
            canon[id(blk.node)] = same
    return [blk for blk in blocks if id(blk.node) not in canon]


def _layout(blocks: list[_Block]) -> list[Insn]:
    """Resolve jump targets to offsets, adding ``ja`` trampolines for jumps over 255."""
    # far[i] = (needs trampoline for true edge, for false edge); grows monotonically until stable.
    far = [[False, False] for _ in blocks]
    for _ in range(64):
        starts: dict[int, int] = {}
        pc = 0
        for i, blk in enumerate(blocks):
            starts[id(blk.node)] = pc
            pc += len(blk.body)
            if blk.jump is not None:
                pc += 1 + far[i][0] + far[i][1]
            elif blk.next is not None and (i + 1 >= len(blocks) or blocks[i + 1].node is not blk.next):
                pc += 1
        out: list[Insn] = []
        newly_far: list[tuple[int, int]] = []
        for i, blk in enumerate(blocks):
            out.extend(blk.body)
            if blk.jump is not None:
                code, k, t, f = blk.jump
                here = len(out)
                tramp = here + 1
                jt_target = tramp if far[i][0] else starts[id(t)]
                if far[i][0]:
                    tramp += 1
                jf_target = tramp if far[i][1] else starts[id(f)]
                jt, jf = jt_target - here - 1, jf_target - here - 1
                newly_far += [(i, edge) for edge, off in ((0, jt), (1, jf)) if off > 255]
                out.append(Insn(code, min(jt, 255), min(jf, 255), k))
                if far[i][0]:
                    out.append(Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0,
                                    starts[id(t)] - len(out) - 1))
                if far[i][1]:
                    out.append(Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0,
                                    starts[id(f)] - len(out) - 1))
            elif blk.next is not None and (i + 1 >= len(blocks) or blocks[i + 1].node is not blk.next):
                out.append(Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0, starts[id(blk.next)] - len(out) - 1))
        if not newly_far:
            return out
        for i, edge in newly_far:
            far[i][edge] = True
    raise ProgramError("could not lay out the jumps of this filter")
