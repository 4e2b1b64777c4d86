"""Emission: CFG → classic BPF instructions.

Input: the root ``cfg.Node`` of a DAG. Output: a list of ``isa.Insn`` that the checker accepts.

The driver reads like the stages: ``_block_order`` lays the nodes out in a topological order
(every edge points forward, as cBPF requires; an assignment falls into its successor where it
can); ``_blocks`` turns each node into a block (compute the tested value into A and, for register
operands, into X; then one conditional jump, an assignment, or a return); ``_cross_jump`` merges
identical code, whole blocks and common block ends; ``_layout`` resolves jump offsets.

With ``reuse_registers`` (the default when optimizing) it tracks what A and X hold on every path
into a block, as sets of equal values, and skips a computation when a register already holds the
value: after ``ldh [12]; jeq #0x800``, the next test of ``ldh [12]`` loads nothing, and a value
X holds reaches A by ``txa``. Skipping is safe for faults, because a value held in a register was
computed, without faulting, on every path here.

Variables: a ``cfg.Var`` lives in X when nothing else needs X while the variable is live
(``_x_variables``), so the IPv4 header length assigned by ``ldxb 4*([14]&0xf)`` on one path and
the IPv6 one by ``ldx #40`` on another feed one shared ``ldh [x + 14]``. The others get scratch
slots counted up from M[0], except those every reader finds in a register (no store at all);
temporaries for operands that need both registers are taken from the top (M[15] downwards).

Long jumps: a conditional jump reaches at most 255 instructions. Far targets get shared
one-instruction islands within reach (a copy of the ``ret``, or a ``ja``), not a ``ja`` per
jump, so a list of a thousand hosts stays under the kernel's 4096 instructions.

The kernel's check of scratch reads is one linear pass in which a ``ret`` passes its state to
the next instruction; returns are therefore laid out last, and islands for far returns are
``ja``s whenever the program reads M[].
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from . import cfg, isa
from .errors import ProgramError
from .isa import Insn

_LOAD_SIZE = {4: isa.BPF_W, 2: isa.BPF_H, 1: isa.BPF_B}
_COMMUTATIVE = frozenset({"+", "*", "&", "|", "^"})
_EMPTY: frozenset[cfg.Value] = frozenset()


@dataclass(slots=True)
class _Regs:
    """The values A and X are known to hold (several names for one number; empty: unknown)."""

    a: frozenset[cfg.Value] = _EMPTY
    x: frozenset[cfg.Value] = _EMPTY

    def copy(self) -> _Regs:
        return _Regs(self.a, self.x)

    def meet(self, other: _Regs) -> _Regs:
        return _Regs(self.a & other.a, self.x & other.x)

    def forget(self, var: int) -> None:
        """``var`` was assigned: names that read it mean something else now."""
        self.a = frozenset(v for v in self.a if not cfg.mentions(v, var))
        self.x = frozenset(v for v in self.x if not cfg.mentions(v, var))


class _Tail:
    """The label of the second part of a block that suffix merging split (``_cross_jump``)."""

    __slots__ = ()


#: What a jump goes to: a node's block, or the tail of a split block.
Label: TypeAlias = cfg.Node | _Tail


@dataclass(slots=True)
class _Block:
    """One node's instructions; jump targets are labels until offsets are resolved."""

    node: Label
    body: list[Insn] = field(default_factory=list)
    #: For a branch: (code, k, true target, false target).
    jump: tuple[int, int, Label, Label] | None = None
    #: For an assignment (or a block whose end was merged away): where it continues.
    next: Label | None = None
    #: Set when suffix merging split this block: (offset, the block holding the rest).
    split: tuple[int, _Block] | None = None


class _ValueEmitter:
    """Generates the code for values, tracking registers within one block."""

    def __init__(self, slots: dict[int, int], in_x: frozenset[int], reuse: bool,
                 loaded: set[int]) -> None:
        self.slots = slots
        self.in_x = in_x
        self.reuse = reuse
        #: Variables read back from their slot (shared by the blocks of one emission).
        self.loaded = loaded
        self.regs = _Regs()
        self.out: list[Insn] = []
        self._temps_in_use = 0

    def _emit(self, code: int, k: int = 0) -> None:
        self.out.append(Insn(code, 0, 0, k & 0xFFFFFFFF))

    def _slot(self, var: int) -> int:
        slot = self.slots.get(var)
        assert slot is not None, f"v{var} is read but no path assigns it (see cfg.check_graph)"
        return slot

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
        if self.reuse and value in self.regs.a:
            return
        if self.reuse and value in self.regs.x:
            self._emit(isa.BPF_MISC | isa.BPF_TXA)
            self.regs.a = self.regs.x
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
                self.regs.a = self.regs.x
                return
            case cfg.HeaderLen(offset=offset):
                self.to_a(cfg.Load(offset, 1))
                self._emit(isa.BPF_ALU | isa.BPF_AND | isa.BPF_K, 0xF)
                self._emit(isa.BPF_ALU | isa.BPF_LSH | isa.BPF_K, 2)
            case cfg.Ancillary(which=which, size=size):
                self._emit(isa.BPF_LD | _LOAD_SIZE[size] | isa.BPF_ABS, isa.SKF_AD_OFF + which)
            case cfg.Var(id=var):
                assert var not in self.in_x, f"v{var} lives in X but X does not hold it here"
                self._emit(isa.BPF_LD | isa.BPF_MEM, self._slot(var))
                self.loaded.add(var)
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
        self.regs.a = frozenset((value,))

    # -- X ----------------------------------------------------------------------------------

    def to_x(self, value: cfg.Value) -> None:
        if self.reuse and value in self.regs.x:
            return
        match value:
            case cfg.Const(k=k):
                self._emit(isa.BPF_LDX | isa.BPF_W | isa.BPF_IMM, k)
            case cfg.PacketLen():
                self._emit(isa.BPF_LDX | isa.BPF_W | isa.BPF_LEN)
            case cfg.HeaderLen(offset=cfg.Const(k=k)):
                self._emit(isa.BPF_LDX | isa.BPF_B | isa.BPF_MSH, k)
            case cfg.Var(id=var):
                assert var not in self.in_x, f"v{var} lives in X but X does not hold it here"
                self._emit(isa.BPF_LDX | isa.BPF_W | isa.BPF_MEM, self._slot(var))
                self.loaded.add(var)
            case _:
                self.to_a(value)
                self._emit(isa.BPF_MISC | isa.BPF_TAX)
                self.regs.x = self.regs.a
                return
        self.regs.x = frozenset((value,))

    def _better_in_x(self, a: cfg.Value, b: cfg.Value) -> bool:
        """Whether ``a`` (not ``b``) should go to X: it is there already, or loads there directly
        while ``b`` does not (``4*([14]&0xf)`` is an ``ldxb``, so ``hdrlen + v`` computes ``v``)."""
        if self.reuse and a in self.regs.x and b not in self.regs.x:
            return True
        return _loads_x_directly(a, self.in_x) and not _loads_x_directly(b, self.in_x)

    def a_and_x(self, a: cfg.Value, x: cfg.Value) -> None:
        """Leave ``a`` in A and ``x`` in X (for ``op x`` and ``jxx x``)."""
        if _loads_x_directly(x, self.in_x) or (self.reuse and x in self.regs.x):
            self.to_a(a)
            self.to_x(x)
        elif not _needs_x(a, self.in_x):
            self.to_x(x)
            self.to_a(a)
        else:
            slot = self._temp()
            self.to_a(x)
            self._emit(isa.BPF_ST, slot)
            self.to_a(a)
            self._emit(isa.BPF_LDX | isa.BPF_W | isa.BPF_MEM, slot)
            self.regs.x = frozenset((x,))
            self._release()

    # -- assignments ------------------------------------------------------------------------

    def assign(self, var: int, value: cfg.Value, dead: bool = False) -> None:
        """``var = value``: into X for the variables that live there, else into its slot.

        A ``dead`` assignment (nothing reads ``var`` before it changes again) is kept only for
        the faults its value may raise: the value is computed into A and goes nowhere.
        """
        if dead:
            self.to_a(value)
            self.regs.forget(var)
            return
        if var in self.in_x:
            if _loads_x_directly(value, self.in_x) or (self.reuse and value in self.regs.x):
                self.to_x(value)
            else:
                self.to_a(value)
                self._emit(isa.BPF_MISC | isa.BPF_TAX)
                self.regs.x = self.regs.a
            held = self.regs.x
            self.regs.forget(var)
            self.regs.x = frozenset(v for v in held if not cfg.mentions(v, var)) | {cfg.Var(var)}
        else:
            self.to_a(value)
            if var in self.slots:  # else every read finds it in a register: no store
                self._emit(isa.BPF_ST, self.slots[var])
            held = self.regs.a
            self.regs.forget(var)
            self.regs.a = frozenset(v for v in held if not cfg.mentions(v, var)) | {cfg.Var(var)}


def _loads_x_directly(value: cfg.Value, in_x: frozenset[int]) -> bool:
    """Whether ``ldx`` can load ``value`` without touching A."""
    match value:
        case cfg.Const() | cfg.PacketLen() | cfg.HeaderLen(offset=cfg.Const()):
            return True
        case cfg.Var(id=var):
            return var not in in_x
        case _:
            return False


def _needs_x(value: cfg.Value, in_x: frozenset[int]) -> bool:
    """Whether computing ``value`` into A may overwrite X."""
    match value:
        case cfg.Const() | cfg.PacketLen() | cfg.Ancillary() | cfg.Var():
            return False
        case cfg.Load(offset=offset):
            return cfg.split_offset(offset)[0] is not None
        case cfg.HeaderLen():
            return True
        case cfg.Alu(b=cfg.Const(k=k), op=op, a=a) if not (op in ("<<", ">>") and k >= 32):
            return _needs_x(a, in_x)
        case cfg.Alu():
            return True
        case cfg.Neg(a=a):
            return _needs_x(a, in_x)
    raise AssertionError(value)


# ---------------------------------------------------------------------------------------------
# Which variables live in X


def _keeps_x(value: cfg.Value, var: cfg.Var) -> bool:
    """Whether computing ``value`` into A leaves X holding ``var`` (using X only to read it)."""
    match value:
        case cfg.Const() | cfg.PacketLen() | cfg.Ancillary() | cfg.Var():
            return True
        case cfg.Load(offset=offset):
            part = cfg.split_offset(offset)[0]
            return part is None or part == var
        case cfg.HeaderLen(offset=cfg.Const()):
            return False
        case cfg.HeaderLen(offset=offset):
            return _keeps_x(cfg.Load(offset, 1), var)
        case cfg.Alu(b=cfg.Const(k=k), op=op, a=a) if not (op in ("<<", ">>") and k >= 32):
            return _keeps_x(a, var)
        case cfg.Alu(op=op, a=a, b=b):
            if b == var:
                return _keeps_x(a, var)
            return op in _COMMUTATIVE and a == var and _keeps_x(b, var)
        case cfg.Neg(a=a):
            return _keeps_x(a, var)
    raise AssertionError(value)


def _node_keeps_x(node: cfg.Node, var: cfg.Var) -> bool:
    """Whether ``node``'s code leaves X holding ``var`` from entry to exit."""
    match node:
        case cfg.Branch(test=test):
            if isinstance(test.operand, cfg.Const):
                return _keeps_x(test.value, var)
            if test.operand == var:
                return _keeps_x(test.value, var)
            return test.op == "==" and test.value == var and _keeps_x(test.operand, var)
        case cfg.Assign(var=target, value=value):
            return target != var.id and _keeps_x(value, var)
    return True


def _liveness(order: list[cfg.Node]) -> dict[int, frozenset[int]]:
    """The variables live on entry to each node (read before assigned on some path on)."""
    live: dict[int, frozenset[int]] = {}
    for node in reversed(order):
        match node:
            case cfg.Branch(test=test, if_true=t, if_false=f):
                live[id(node)] = (live[id(t)] | live[id(f)] | cfg.variables(test.value)
                                  | cfg.variables(test.operand))
            case cfg.Assign(var=var, value=value, next=nxt):
                live[id(node)] = (live[id(nxt)] - {var}) | cfg.variables(value)
            case _:
                live[id(node)] = frozenset()
    return live


def _x_variables(order: list[cfg.Node]) -> frozenset[int]:
    """Variables kept in X: while one is live, every node's code uses X only to read it, and no
    other X variable is live. Greedy, most-read first; any choice is correct, some are smaller.

    A variable live at the root (read before any assignment) is never chosen.
    """
    live = _liveness(order)
    span: dict[int, list[cfg.Node]] = {}  # where each variable must stay in X
    reads: dict[int, int] = {}
    assigned: set[int] = set()
    for node in order:
        for var in live[id(node)]:
            span.setdefault(var, []).append(node)
        if isinstance(node, cfg.Assign):
            assigned.add(node.var)
            span.setdefault(node.var, []).append(node)
        for var in _indexes(node):
            reads[var] = reads.get(var, 0) + 1
    root_live = live[id(order[0])] if order else frozenset()
    chosen: set[int] = set()
    taken: set[int] = set()  # nodes where a chosen variable holds X
    # Only variables used as X (load indexes, register operands) gain from living there.
    for var in sorted(set(reads) & assigned - root_live, key=lambda v: (-reads[v], v)):
        nodes = span[var]
        ids = {id(n) for n in nodes}
        if ids & taken:
            continue
        if all(_node_keeps_x(n, cfg.Var(var)) or _assigns_itself(n, var) for n in nodes):
            chosen.add(var)
            taken |= ids
    return frozenset(chosen)


def _indexes(node: cfg.Node) -> set[int]:
    """Variables ``node``'s code wants in X: load indexes, and whole operands of register ALU
    operations and jumps."""
    stack: list[cfg.Value] = []
    out: set[int] = set()
    match node:
        case cfg.Branch(test=test):
            stack = [test.value, test.operand]
            for side in (test.value, test.operand):
                if isinstance(side, cfg.Var) and not isinstance(test.operand, cfg.Const):
                    out.add(side.id)
        case cfg.Assign(value=value):
            stack = [value]
    while stack:
        value = stack.pop()
        match value:
            case cfg.Load(offset=offset) | cfg.HeaderLen(offset=offset):
                part = cfg.split_offset(offset)[0]
                if isinstance(part, cfg.Var):
                    out.add(part.id)
            case cfg.Alu(a=a, b=b) if not isinstance(b, cfg.Const):
                out.update(side.id for side in (a, b) if isinstance(side, cfg.Var))
        stack.extend(cfg.children(value))
    return out


def _assigns_itself(node: cfg.Node, var: int) -> bool:
    """``var = value``: X may be used freely while computing ``value``, unless ``value`` reads
    ``var`` (then X must still hold it until it is read)."""
    return (isinstance(node, cfg.Assign) and node.var == var
            and (not cfg.mentions(node.value, var) or _keeps_x(node.value, cfg.Var(var))))


def _slots(order: list[cfg.Node], in_x: frozenset[int]) -> dict[int, int]:
    slots: dict[int, int] = {}
    for node in order:
        if isinstance(node, cfg.Assign) and node.var not in slots and node.var not in in_x:
            slots[node.var] = len(slots)
    if len(slots) > isa.BPF_MEMWORDS - 2:
        raise ProgramError("the filter needs more than 14 scratch variables")
    return slots


# ---------------------------------------------------------------------------------------------
# The driver


def _returns_last(order: list[cfg.Node]) -> list[cfg.Node]:
    """``order`` with the returns moved to the end.

    The kernel checks scratch reads in one linear pass in which a ``ret`` passes its state on
    to the next instruction; a ``ret #0`` reached from paths that stored nothing, placed before
    a block that reads M[], would make the kernel refuse a correct program.
    """
    return ([n for n in order if not isinstance(n, cfg.Return)]
            + [n for n in order if isinstance(n, cfg.Return)])


def _block_order(root: cfg.Node) -> list[cfg.Node]:
    """``cfg.topological``'s depth-first order, arranged so assignments fall through.

    An assignment's block ends in a ``ja`` unless its successor comes right after it, which is
    possible once every other edge into the successor is placed. So an assignment whose
    successor still waits for other predecessors is put off while anything else can go first
    (``t = 4*IHL`` waits for the IPv6 test jumping to the same port tests), and once placed it
    is followed by its successor whenever that has become ready.
    """
    order = _returns_last(cfg.topological(root))
    rank = {id(n): i for i, n in enumerate(order)}
    preds: dict[int, int] = {}
    for node in order:
        for succ in cfg.successors(node):
            preds[id(succ)] = preds.get(id(succ), 0) + 1

    def waits(node: cfg.Node) -> bool:
        return isinstance(node, cfg.Assign) and preds[id(node.next)] > 1

    out: list[cfg.Node] = []
    ready: list[int] = [0]
    nxt: cfg.Node | None = None
    while ready or nxt is not None:
        if nxt is None:
            put_off = []
            while len(ready) > 1 and waits(order[ready[0]]):
                put_off.append(heapq.heappop(ready))
            nxt = order[heapq.heappop(ready)]
            for r in put_off:
                heapq.heappush(ready, r)
        node, nxt = nxt, None
        out.append(node)
        for succ in cfg.successors(node):
            preds[id(succ)] -= 1
            if preds[id(succ)] == 0:
                if isinstance(node, cfg.Assign):
                    nxt = succ
                else:
                    heapq.heappush(ready, rank[id(succ)])
    return out


def emit(root: cfg.Node, *, reuse_registers: bool = True) -> list[Insn]:
    """The instructions deciding the CFG rooted at ``root``."""
    from .optimize import without_gc

    with without_gc():
        return _emit(root, reuse_registers)


def _emit(root: cfg.Node, reuse_registers: bool) -> list[Insn]:
    order = _block_order(root) if reuse_registers else _returns_last(cfg.topological(root))
    in_x = _x_variables(order) if reuse_registers else frozenset()
    slots = _slots(order, in_x)
    loaded: set[int] = set()
    blocks = _blocks(order, slots, in_x, reuse_registers, loaded)
    if reuse_registers and not set(slots) <= loaded:
        # Variables always read from a register (the protocol protochain just loaded into A)
        # need no slot and no store. Dropping ``st`` changes no register, so the second
        # emission reads every variable exactly as the first did.
        slots = {var: i for i, var in enumerate(v for v in slots if v in loaded)}
        blocks = _blocks(order, slots, in_x, reuse_registers, set())
    return _layout(_cross_jump(blocks))


def _blocks(order: list[cfg.Node], slots: dict[int, int], in_x: frozenset[int],
            reuse_registers: bool, loaded: set[int]) -> list[_Block]:
    live = _liveness(order)
    entry: dict[int, _Regs] = {}
    blocks: list[_Block] = []
    for node in order:
        regs = entry.pop(id(node), _Regs()) if reuse_registers else _Regs()
        gen = _ValueEmitter(slots, in_x, reuse_registers, loaded)
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
                gen.assign(var, value, dead=reuse_registers and var not in live[id(nxt)])
                block.next = nxt
            case _:
                raise AssertionError(node)
        block.body = gen.out
        blocks.append(block)
        for succ in cfg.successors(node):
            seen = entry.get(id(succ))
            entry[id(succ)] = gen.regs.copy() if seen is None else seen.meet(gen.regs)
    return blocks


def _cross_jump(blocks: list[_Block]) -> list[_Block]:
    """Merge identical code: whole blocks, and common ends of blocks (cross-jumping).

    Two blocks can emit the same code for different values, because each relies on what its
    predecessors left in A: ``jeq #0x11`` tests the IPv4 protocol byte on one path and the IPv6
    next header on another. A block equal to the end of a later block (same instructions, same
    targets) goes away and its predecessors jump into the later one, which is split there if
    needed. A block that only *ends* like a later one keeps its beginning and jumps (``ja``)
    to the shared end, when that end is at least two instructions long, counting the block's
    exit: ``ld [38]; and #0xff000000; jeq ...`` and ``ld [30]; and #0xff000000; jeq ...`` share
    ``and; jeq``; ``add #40; st M[0]; ja L`` and a later ``mul #4; st M[0]`` falling into ``L``
    share ``st M[0]`` and the way to ``L`` (the ``ja`` now goes to the later ``st``). Every
    path still runs exactly the instructions it ran before, so merging is sound; blocks are
    visited last to first and only merged into later ones, so every jump still goes forward.
    """
    canon: dict[int, Label] = {}
    ends: dict[tuple[object, ...], tuple[_Block, int]] = {}

    def rep(label: Label) -> Label:
        return canon.get(id(label), label)

    kept: list[_Block] = []
    for blk in reversed(blocks):
        if blk.jump is not None:
            code, k, t, f = blk.jump
            blk.jump = (code, k, rep(t), rep(f))
            exit_key: tuple[object, ...] = (code, k, id(blk.jump[2]), id(blk.jump[3]))
        elif blk.next is not None:
            blk.next = rep(blk.next)
            exit_key = ("next", id(blk.next))
        else:
            exit_key = ("end",)
        body = tuple(blk.body)
        # A partial merge replaces the common end by a ``ja``, so the end must hold at least
        # one instruction besides the block's exit. A conditional jump is one more, and so is
        # the ``ja`` an assignment's block needs anyway: the later block sharing its end goes
        # to the same place, so this block cannot be laid out right before it and fall in.
        for start in range(len(body) + 1):
            found = ends.get((body[start:], exit_key))
            if found is None or 0 < start == len(body):
                continue
            target = _label_at(*found)
            if start == 0:
                canon[id(blk.node)] = target  # the whole block is a later block's end
            else:
                blk.body, blk.jump, blk.next = list(body[:start]), None, target
            break
        if id(blk.node) in canon:
            continue
        kept.append(blk)
        body = tuple(blk.body)
        if blk.next is not None:
            exit_key = ("next", id(blk.next))
        for start in range(len(body) + 1):
            ends.setdefault((body[start:], exit_key), (blk, start))
    out: list[_Block] = []
    for first in reversed(kept):
        part: _Block | None = first
        while part is not None:
            out.append(part)
            part = part.split[1] if part.split is not None else None
    return out


def _label_at(blk: _Block, offset: int) -> Label:
    """The label of the code ``offset`` instructions into ``blk``, splitting it if needed."""
    while blk.split is not None and offset >= blk.split[0]:
        offset -= blk.split[0]
        blk = blk.split[1]
    if offset == 0:
        return blk.node
    if blk.split is not None:  # the code continues into the tail already split off
        head, tail = blk.split
        inner = _Block(_Tail(), blk.body[offset:], None, tail.node)
        inner.split = (head - offset, tail)
        blk.body, blk.next, blk.split = blk.body[:offset], inner.node, (offset, inner)
        return inner.node
    tail = _Block(_Tail(), blk.body[offset:], blk.jump, blk.next, None)
    blk.body, blk.jump, blk.next, blk.split = blk.body[:offset], None, tail.node, (offset, tail)
    return tail.node


# ---------------------------------------------------------------------------------------------
# Jump offsets


#: How far past a jump an island is placed: short of 255, leaving room for islands that later
#: rounds put in between.
_REACH = 200


def _layout(blocks: list[_Block]) -> list[Insn]:
    """Resolve jump targets to offsets, placing islands for conditional jumps over 255.

    An island is a one-instruction stand-in for a far target: a copy of the target's ``ret``,
    or a ``ja`` to it. A conditional jump too far from its target jumps to an island within
    reach instead, and islands are shared. They go after a block that cannot fall through (a
    conditional jump's two offsets are explicit, so any block ending in one qualifies), as late
    as the jump's reach allows, so one island serves every jump before it that is in reach.
    Islands only get added, so the loop, which recomputes positions each round, ends.
    """
    index = {id(blk.node): i for i, blk in enumerate(blocks)}
    falls = [blk.next is not None and i + 1 < len(blocks) and blocks[i + 1].node is blk.next
             for i, blk in enumerate(blocks)]
    islands: dict[int, list[Label]] = {}  # block number -> targets of islands after it
    for _ in range(256):
        starts: list[int] = []
        island_at: dict[tuple[int, int], int] = {}  # (block, target id) -> pc
        pc = 0
        for i, blk in enumerate(blocks):
            starts.append(pc)
            pc += len(blk.body) + (blk.jump is not None) + (blk.next is not None and not falls[i])
            for target in islands.get(i, ()):
                island_at[(i, id(target))] = pc
                pc += 1
        # For each target, the island pcs in order, to find one in reach of a jump.
        by_target: dict[int, list[int]] = {}
        for (_, tid), where in sorted(island_at.items(), key=lambda item: item[1]):
            by_target.setdefault(tid, []).append(where)
        needed: list[tuple[int, Label]] = []
        for i, blk in enumerate(blocks):
            if blk.jump is None:
                continue
            here = starts[i] + len(blk.body)
            for target in blk.jump[2:]:
                if starts[index[id(target)]] - here - 1 <= 255:
                    continue
                if _reachable(by_target.get(id(target), ()), here) is None:
                    needed.append((i, target))
        if not needed:
            return _resolve(blocks, starts, falls, islands, island_at, index)
        planned: dict[int, int] = {}  # target id -> end pc of the block of its newest island
        for i, target in needed:
            here = starts[i] + len(blocks[i].body)
            end = planned.get(id(target))
            if end is not None and here < end <= here + _REACH:
                continue  # an island placed this round for an earlier jump serves this one
            spot = _island_spot(blocks, starts, falls, i, index[id(target)])
            placed = islands.setdefault(spot, [])
            if all(t is not target for t in placed):
                placed.append(target)
            planned[id(target)] = starts[spot] + len(blocks[spot].body) + 1
    raise ProgramError("could not lay out the jumps of this filter")


def _reachable(pcs: Iterable[int], here: int) -> int | None:
    """An island pc a conditional jump at ``here`` can reach (forward, within 255)."""
    for where in pcs:
        if here < where <= here + 256:
            return where
    return None


def _island_spot(blocks: list[_Block], starts: list[int], falls: list[bool], source: int,
                 target: int) -> int:
    """The last block before ``target``, at or after ``source``, whose end is within reach of
    ``source``'s jump and which nothing falls out of."""
    here = starts[source] + len(blocks[source].body)
    best = source
    for j in range(source + 1, target):
        end = starts[j] + len(blocks[j].body) + (blocks[j].jump is not None)
        if end - here > _REACH:
            break
        if blocks[j].next is None or not falls[j]:
            best = j
    return best


def _resolve(blocks: list[_Block], starts: list[int], falls: list[bool],
             islands: dict[int, list[Label]], island_at: dict[tuple[int, int], int],
             index: dict[int, int]) -> list[Insn]:
    by_target: dict[int, list[int]] = {}
    for (_, tid), where in sorted(island_at.items(), key=lambda item: item[1]):
        by_target.setdefault(tid, []).append(where)
    # A ``ret`` island passes its state on to the next block in the kernel's linear check of
    # scratch reads (see ``_returns_last``); a ``ja`` island does not, and is as short.
    memory_loads = (isa.BPF_LD | isa.BPF_MEM, isa.BPF_LDX | isa.BPF_W | isa.BPF_MEM)
    reads_scratch = any(insn.code in memory_loads for blk in blocks for insn in blk.body)
    out: list[Insn] = []
    for i, blk in enumerate(blocks):
        assert len(out) == starts[i]
        out.extend(blk.body)
        if blk.jump is not None:
            code, k, t, f = blk.jump
            here = len(out)
            offsets = []
            for target in (t, f):
                dest = starts[index[id(target)]]
                if dest - here - 1 > 255:
                    island = _reachable(by_target[id(target)], here)
                    assert island is not None
                    dest = island
                offsets.append(dest - here - 1)
            out.append(Insn(code, offsets[0], offsets[1], k))
        elif blk.next is not None and not falls[i]:
            out.append(Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0,
                            starts[index[id(blk.next)]] - len(out) - 1))
        for target in islands.get(i, ()):
            if isinstance(target, cfg.Return) and not reads_scratch:
                out.append(Insn(isa.BPF_RET | isa.BPF_K, 0, 0, target.k))
            else:
                out.append(Insn(isa.BPF_JMP | isa.BPF_JA, 0, 0,
                                starts[index[id(target)]] - len(out) - 1))
    return out
