"""The Python JIT: a checked program becomes one Python function ``f(pkt, wirelen) -> int``.

Stage: ``Program`` → Python source → code object, compiled once per program and cached by the
program's ``struct sock_filter`` bytes. It computes exactly what ``vm.run`` computes (libpcap's
``bpf_filter()`` semantics, see ``bpfc.vm``), several times faster, because the dispatch, the
operand decoding and the constant arithmetic are all done once at compile time.

Shape of the generated code: classic BPF jumps only go forward, so the control-flow graph is a
DAG. Basic blocks with a single predecessor are nested inside that predecessor's ``if``/``else``
(a libpcap program is mostly a chain of tests whose other arm is ``return 0``, which becomes a
flat ``if not test: return 0``). A block reached from several places becomes a top-level
section ``if b == <block>:``; jumping to it sets ``b``. Sections appear in program order and
every jump goes forward, so falling through the later section guards reaches the right one.
Registers and scratch slots are plain locals (``A``, ``X``, ``m0``..``m15``); multi-byte loads
use precompiled ``struct`` readers after an explicit bounds check.
"""

from __future__ import annotations

import builtins
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from . import isa
from .isa import Insn

#: What ``compile_filter`` returns: packet bytes and wire length in, the filter's value out.
FilterFunc = Callable[[bytes, int], int]

#: Nesting beyond this turns inlined blocks into sections: CPython's compiler has a recursion
#: limit, and a 4096-instruction chain must still compile.
MAX_DEPTH = 40
#: Indentation depth of the filter function's body (inside ``_make`` and ``_filter``).
_BODY = 2

_READERS: dict[int, Callable[[bytes, int], tuple[int]]] = {
    4: struct.Struct(">I").unpack_from,
    2: struct.Struct(">H").unpack_from,
}

_ALU_K = {
    isa.BPF_ADD: "A = (A + {k}) & 0xFFFFFFFF",
    isa.BPF_SUB: "A = (A - {k}) & 0xFFFFFFFF",
    isa.BPF_MUL: "A = (A * {k}) & 0xFFFFFFFF",
    isa.BPF_DIV: "A //= {k}",
    isa.BPF_MOD: "A %= {k}",
    isa.BPF_AND: "A &= {k}",
    isa.BPF_OR: "A |= {k}",
    isa.BPF_XOR: "A ^= {k}",
    isa.BPF_LSH: "A = (A << {k}) & 0xFFFFFFFF",
    isa.BPF_RSH: "A >>= {k}",
}

_ALU_X = {
    isa.BPF_ADD: ["A = (A + X) & 0xFFFFFFFF"],
    isa.BPF_SUB: ["A = (A - X) & 0xFFFFFFFF"],
    isa.BPF_MUL: ["A = (A * X) & 0xFFFFFFFF"],
    isa.BPF_DIV: ["if not X:", "    return 0", "A //= X"],
    isa.BPF_MOD: ["if not X:", "    return 0", "A %= X"],
    isa.BPF_AND: ["A &= X"],
    isa.BPF_OR: ["A |= X"],
    isa.BPF_XOR: ["A ^= X"],
    # libpcap: a shift by 32 or more gives 0; never build a 2**32-bit integer.
    isa.BPF_LSH: ["A = (A << X) & 0xFFFFFFFF if X < 32 else 0"],
    isa.BPF_RSH: ["A = A >> X if X < 32 else 0"],
}

_JMP = {isa.BPF_JEQ: "A == {v}", isa.BPF_JGT: "A > {v}", isa.BPF_JGE: "A >= {v}",
        isa.BPF_JSET: "A & {v}"}
_JMP_NOT = {isa.BPF_JEQ: "A != {v}", isa.BPF_JGT: "A <= {v}", isa.BPF_JGE: "A < {v}",
            isa.BPF_JSET: "not A & {v}"}


def _straight(insn: Insn, known: int) -> tuple[list[str], int]:
    """Python statements for one non-branching, non-returning instruction.

    ``known`` is a length the packet is already known to have on every path here (a bound
    checked earlier); loads within it skip their check. Returns the statements and the new
    known length.
    """
    info = isa.OPCODES[insn.code]
    k = insn.k
    cls = isa.BPF_CLASS(insn.code)
    reg = "X" if cls == isa.BPF_LDX else "A"
    match cls, info.operand:
        case isa.BPF_LD, "abs":
            return _packet_load(reg, str(k), k + info.size, info.size, known)
        case isa.BPF_LD, "ind":
            # Python ints never wrap, so ``X + k`` past 2**32 is simply out of bounds, as
            # libpcap's overflow checks make it.
            lines, _ = _packet_load(reg, "o", None, info.size, known)
            return [f"o = X + {k}", *lines], known
        case isa.BPF_LDX, "msh":
            lines, known = _bound(k + 1, known)
            return [*lines, f"X = (pkt[{k}] & 15) << 2"], known
        case (isa.BPF_LD | isa.BPF_LDX), "len":
            return [f"{reg} = wirelen"], known
        case (isa.BPF_LD | isa.BPF_LDX), "imm":
            return [f"{reg} = {k}"], known
        case (isa.BPF_LD | isa.BPF_LDX), "mem":
            return [f"{reg} = m{k}"], known
        case isa.BPF_ST, _:
            return [f"m{k} = A"], known
        case isa.BPF_STX, _:
            return [f"m{k} = X"], known
        case isa.BPF_ALU, "k":
            return [_ALU_K[isa.BPF_OP(insn.code)].format(k=k)], known
        case isa.BPF_ALU, "x":
            return list(_ALU_X[isa.BPF_OP(insn.code)]), known
        case isa.BPF_ALU, "none":
            return ["A = -A & 0xFFFFFFFF"], known
        case isa.BPF_MISC, _:
            return (["A = X"] if insn.code == isa.BPF_MISC | isa.BPF_TXA else ["X = A"]), known
    raise AssertionError(f"{info.mnemonic} (0x{insn.code:02x}) is not a straight-line opcode")


def _bound(end: int | None, known: int) -> tuple[list[str], int]:
    """The check that ``end`` bytes are captured (``None``: ``o + size``, checked by caller)."""
    if end is not None and end <= known:
        return [], known
    return [f"if n < {end}:", "    return 0"], max(known, end or 0)


def _packet_load(reg: str, offset: str, end: int | None, size: int,
                 known: int) -> tuple[list[str], int]:
    if end is None:
        lines = [f"if n < o + {size}:", "    return 0"]
    else:
        lines, known = _bound(end, known)
    if size == 1:
        lines.append(f"{reg} = pkt[{offset}]")
    else:
        lines.append(f"{reg} = _r{size}(pkt, {offset})[0]")
    return lines, known


@dataclass(frozen=True, slots=True)
class _Block:
    """Instructions ``start`` .. ``end - 1``; the last one is a jump or a return, or the block
    falls through into ``end``."""

    start: int
    end: int


def _blocks(insns: Sequence[Insn]) -> dict[int, _Block]:
    """Basic blocks by start index."""
    leaders = {0}
    for pc, insn in enumerate(insns):
        if insn.code == isa.BPF_JMP | isa.BPF_JA:
            leaders.add(pc + 1 + insn.k)
        elif isa.is_conditional_jump(insn.code):
            leaders.update((pc + 1 + insn.jt, pc + 1 + insn.jf))
        else:
            continue
        leaders.add(pc + 1)
    for pc, insn in enumerate(insns):
        if isa.is_return(insn.code):
            leaders.add(pc + 1)
    starts = sorted(s for s in leaders if s < len(insns))
    ends = starts[1:] + [len(insns)]
    return {s: _Block(s, e) for s, e in zip(starts, ends, strict=True)}


def _successors(insns: Sequence[Insn], block: _Block) -> tuple[int, ...]:
    last = block.end - 1
    insn = insns[last]
    if isa.is_return(insn.code):
        return ()
    if insn.code == isa.BPF_JMP | isa.BPF_JA:
        return (last + 1 + insn.k,)
    if isa.is_conditional_jump(insn.code):
        return (last + 1 + insn.jt, last + 1 + insn.jf)
    return (block.end,)


class _Emitter:
    """Writes the body of the filter function, block by block."""

    def __init__(self, insns: Sequence[Insn], max_depth: int) -> None:
        self.insns = insns
        self.max_depth = max_depth
        self.blocks = _blocks(insns)
        self.preds: dict[int, int] = dict.fromkeys(self.blocks, 0)
        for block in self.blocks.values():
            for succ in set(_successors(insns, block)):
                self.preds[succ] += 1
        self.sections: set[int] = set()
        self.lines: list[str] = []

    def _is_return(self, start: int) -> bool:
        return isa.is_return(self.insns[start].code)

    def _ret(self, start: int) -> str:
        insn = self.insns[start]
        return "return A" if insn.code == isa.BPF_RET | isa.BPF_A else f"return {insn.k}"

    def _put(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def goto(self, target: int, depth: int, known: int) -> bool:
        """Continue at block ``target``: inline it (a bare return, or a block only we reach),
        or hand over to its section. True when everything emitted ends in a return."""
        if self._is_return(target):
            self._put(depth, self._ret(target))
            return True
        if self.preds[target] == 1 and depth - _BODY < self.max_depth:
            return self.block(target, depth, known)
        self.sections.add(target)
        self._put(depth, f"b = {target}")
        return False

    def block(self, start: int, depth: int, known: int) -> bool:
        """Emit a block and, through ``goto``, what it leads to; ``known`` as in ``_straight``
        (valid here because an inlined block has a single predecessor)."""
        block = self.blocks[start]
        for pc in range(block.start, block.end - 1):
            lines, known = _straight(self.insns[pc], known)
            for line in lines:
                self._put(depth, line)
        last = self.insns[block.end - 1]
        if isa.is_return(last.code):
            self._put(depth, self._ret(block.end - 1))
            return True
        if last.code == isa.BPF_JMP | isa.BPF_JA:
            return self.goto(block.end + last.k, depth, known)
        if isa.is_conditional_jump(last.code):
            return self._branch(last, block.end, depth, known)
        lines, known = _straight(last, known)
        for line in lines:
            self._put(depth, line)
        return self.goto(block.end, depth, known)

    def _branch(self, insn: Insn, after: int, depth: int, known: int) -> bool:
        t, f = after + insn.jt, after + insn.jf
        if t == f:
            return self.goto(t, depth, known)
        op = isa.BPF_OP(insn.code)
        value = "X" if isa.BPF_SRC(insn.code) == isa.BPF_X else str(insn.k)
        if self._is_return(f) and not self._is_return(t):
            # The common libpcap shape "test, else reject": no else, no nesting.
            self._put(depth, f"if {_JMP_NOT[op].format(v=value)}:")
            self._put(depth + 1, self._ret(f))
            return self.goto(t, depth, known)
        self._put(depth, f"if {_JMP[op].format(v=value)}:")
        if self.goto(t, depth + 1, known):
            # The true arm always returns, so the false arm can follow flat.
            return self.goto(f, depth, known)
        self._put(depth, "else:")
        self.goto(f, depth + 1, known)
        return False  # the true arm hands over to a section on some path

    def function(self) -> str:
        used = sorted({i.k for i in self.insns if isa.OPCODES[i.code].operand == "mem"})
        self._put(1, "def _filter(pkt, wirelen):")
        self._put(_BODY, "n = len(pkt)")
        self._put(_BODY, "A = X = b = 0")
        if used:
            self._put(_BODY, " = ".join(f"m{k}" for k in used) + " = 0")
        returns = self.block(0, _BODY, 0)
        # A section is only ever discovered from an earlier block (jumps go forward), so
        # taking the lowest pending one each time emits them in program order.
        done: set[int] = set()
        while pending := sorted(self.sections - done):
            start = pending[0]
            done.add(start)
            self._put(_BODY, f"if b == {start}:")
            self.block(start, _BODY + 1, 0)
        if not returns:
            # Unreachable (every path of a checked program returns), but keeps the function's
            # result an int for any reader.
            self._put(_BODY, "return 0")
        self._put(1, "return _filter")
        return "def _make(_r4, _r2):\n" + "\n".join(self.lines) + "\n"


def source(insns: Sequence[Insn], max_depth: int = MAX_DEPTH) -> str:
    """The Python source the JIT generates for ``insns`` (checked first). A small
    ``max_depth`` turns most blocks into sections, which tests use to exercise them."""
    program = tuple(Insn(*insn) for insn in insns)
    isa.check(program)
    return _Emitter(program, max_depth).function()


@lru_cache(maxsize=1024)
def _compile(packed: bytes, max_depth: int) -> FilterFunc:
    program = isa.unpack(packed)
    isa.check(program)
    text = _Emitter(program, max_depth).function()
    namespace: dict[str, object] = {}
    exec(builtins.compile(text, "<bpfc-jit>", "exec"), namespace)  # noqa: S102 - our own code
    make = namespace["_make"]
    assert callable(make)
    func: FilterFunc = make(_READERS[4], _READERS[2])
    return func


def compile_filter(insns: Sequence[Insn], max_depth: int = MAX_DEPTH) -> FilterFunc:
    """Compile ``insns`` (or fetch it from the cache); raises ``ProgramError`` if unchecked.
    ``max_depth`` as in ``source``."""
    program = [Insn(*insn) for insn in insns]
    try:
        packed = isa.pack(program)
    except struct.error:
        isa.check(program)  # fields out of range: say which instruction, as a ProgramError
        raise
    return _compile(packed, max_depth)


def run(insns: Sequence[Insn], packet: bytes, wirelen: int | None = None) -> int:
    """Same contract as ``vm.run``."""
    return compile_filter(insns)(packet, len(packet) if wirelen is None else wirelen)
