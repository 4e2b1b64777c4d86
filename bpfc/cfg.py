"""The IR between lowering and emission: pure values, and a DAG of hash-consed tests.

Lowering builds ``Pred`` trees (boolean structure over ``Test``s); ``build`` turns a predicate into
the CFG by wiring each test's true and false edges (``and``/``or``/``not`` are just edge choices).
CFG nodes are interned: two ``Branch`` nodes with the same test and the same successors are the
same object, so shared tails are shared for free and a branch whose two edges agree disappears.

Values are pure expressions over the packet. The emitter decides how to compute them (which loads
go through X, what to keep in scratch memory). Semantics follow libpcap's ``bpf_filter``: a load
outside the captured bytes, or a division by zero, makes the whole filter return 0, so passes may
remove a value only where the program would not have evaluated it anyway.

Invariants: values are immutable and compared structurally; ``Node``s are only created through
``branch``/``ret``/``assign`` (never directly), are compared by identity, and form a DAG whose
edges all go "forward" (no cycles), ending in ``Return`` leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from . import isa

# ---------------------------------------------------------------------------------------------
# Values
#
# Composite values cache their hash: the optimizer keys its facts by value, and a dataclass's
# own hash would walk the whole expression tree on every lookup.

AluOp: TypeAlias = Literal["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]

ALU_CODES: dict[str, int] = {
    "+": isa.BPF_ADD, "-": isa.BPF_SUB, "*": isa.BPF_MUL, "/": isa.BPF_DIV, "%": isa.BPF_MOD,
    "&": isa.BPF_AND, "|": isa.BPF_OR, "^": isa.BPF_XOR, "<<": isa.BPF_LSH, ">>": isa.BPF_RSH,
}


@dataclass(frozen=True, slots=True)
class Const:
    """An unsigned 32-bit constant."""

    k: int

    def __post_init__(self) -> None:
        assert 0 <= self.k <= 0xFFFFFFFF, self.k


@dataclass(frozen=True, slots=True)
class PacketLen:
    """The packet's original (wire) length, ``ld #pktlen``."""


@dataclass(frozen=True, slots=True)
class Load:
    """``size`` bytes (1, 2 or 4, big-endian) at packet offset ``offset``; faults when out of
    range."""

    offset: Value
    size: int
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        assert self.size in (1, 2, 4), self.size

    def __hash__(self) -> int:
        h = self._hash
        if not h:
            h = hash((Load, self.offset, self.size)) or 1
            object.__setattr__(self, "_hash", h)
        return h


@dataclass(frozen=True, slots=True)
class HeaderLen:
    """``4 * (byte at offset & 0xf)``: the IPv4 header length idiom, ``ldxb 4*([k]&0xf)``."""

    offset: Value
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        h = self._hash
        if not h:
            h = hash((HeaderLen, self.offset)) or 1
            object.__setattr__(self, "_hash", h)
        return h


@dataclass(frozen=True, slots=True)
class Ancillary:
    """A Linux ancillary load (``SKF_AD_OFF + which``): only meaningful on live sockets."""

    which: int
    size: int = 4


@dataclass(frozen=True, slots=True)
class Alu:
    """``a op b`` in unsigned 32-bit arithmetic; ``/`` and ``%`` by zero fault."""

    op: AluOp
    a: Value
    b: Value
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        h = self._hash
        if not h:
            h = hash((Alu, self.op, self.a, self.b)) or 1
            object.__setattr__(self, "_hash", h)
        return h


@dataclass(frozen=True, slots=True)
class Neg:
    """``-a`` modulo 2**32."""

    a: Value
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        h = self._hash
        if not h:
            h = hash((Neg, self.a)) or 1
            object.__setattr__(self, "_hash", h)
        return h


@dataclass(frozen=True, slots=True)
class Var:
    """The value most recently given to variable ``id`` by an ``Assign`` on the path here.

    Variables let paths that computed a value differently meet again (protochain's header walk,
    a header offset found at run time); the emitter gives each one a scratch slot.
    """

    id: int


Value: TypeAlias = Const | PacketLen | Load | HeaderLen | Ancillary | Alu | Neg | Var


def add(a: Value, b: Value | int) -> Value:
    """``a + b`` with constants folded, so offsets stay in the ``Const`` / ``x + k`` shapes."""
    if isinstance(b, int):
        b = Const(b)
    if isinstance(a, Const) and isinstance(b, Const):
        return Const((a.k + b.k) & 0xFFFFFFFF)
    if isinstance(b, Const) and b.k == 0:
        return a
    if isinstance(a, Const) and a.k == 0:
        return b
    if isinstance(b, Const) and isinstance(a, Alu) and a.op == "+" and isinstance(a.b, Const):
        return add(a.a, (a.b.k + b.k) & 0xFFFFFFFF)
    if isinstance(a, Const):
        a, b = b, a
    return Alu("+", a, b)


def load(offset: Value | int, size: int) -> Load:
    return Load(Const(offset) if isinstance(offset, int) else offset, size)


def split_offset(offset: Value) -> tuple[Value | None, int]:
    """Split an offset into (variable part, constant part): ``x + k`` addressing."""
    if isinstance(offset, Const):
        return None, offset.k
    if isinstance(offset, Alu) and offset.op == "+" and isinstance(offset.b, Const):
        return offset.a, offset.b.k
    return offset, 0


def children(value: Value) -> tuple[Value, ...]:
    match value:
        case Load(offset=o) | HeaderLen(offset=o):
            return (o,)
        case Alu(a=a, b=b):
            return (a, b)
        case Neg(a=a):
            return (a,)
        case _:
            return ()


def variables(value: Value) -> frozenset[int]:
    """The ids of the variables ``value`` reads."""
    if isinstance(value, Var):
        return frozenset((value.id,))
    out: frozenset[int] = frozenset()
    for child in children(value):
        out |= variables(child)
    return out


def mentions(value: Value, var: int) -> bool:
    """Whether ``value`` reads variable ``var`` (its meaning changes when ``var`` is assigned)."""
    if isinstance(value, Var):
        return value.id == var
    return any(mentions(c, var) for c in children(value))


def can_fault(value: Value) -> bool:
    """Whether computing ``value`` may abort the filter: a load (an ancillary one too, which
    libpcap's ``bpf_filter`` treats as out of bounds, as ``evaluate`` does), or a division by a
    computed value or by a constant 0."""
    match value:
        case Load() | HeaderLen() | Ancillary():
            return True
        case Alu(op="/" | "%", b=b) if not isinstance(b, Const) or b.k == 0:
            return True
        case _:
            return any(can_fault(c) for c in children(value))


def proven_length(value: Value) -> int:
    """How many bytes the packet has, at least, once ``value`` was computed without a fault
    (from its loads at constant offsets; 0 if it has none)."""
    match value:
        case Load(offset=Const(k=k), size=s):
            own = k + s
        case HeaderLen(offset=Const(k=k)):
            own = k + 1
        case _:
            own = 0
    return max([own, *(proven_length(c) for c in children(value))])


def safe_within(value: Value, length: int) -> bool:
    """Whether computing ``value`` cannot fault on a packet of ``length`` bytes or more: its
    loads are at constant offsets inside them, and it divides by no computed value."""
    match value:
        case Load(offset=Const(k=k), size=s):
            return k + s <= length
        case HeaderLen(offset=Const(k=k)):
            return k + 1 <= length
        case Load() | HeaderLen():
            return False
        case Alu(op="/" | "%", b=b) if not isinstance(b, Const):
            return False
    return all(safe_within(c, length) for c in children(value))


def test_can_fault(test: Test) -> bool:
    return can_fault(test.value) or can_fault(test.operand)


# ---------------------------------------------------------------------------------------------
# Tests and CFG nodes

JumpOp: TypeAlias = Literal["==", ">", ">=", "&"]

JUMP_CODES: dict[str, int] = {"==": isa.BPF_JEQ, ">": isa.BPF_JGT, ">=": isa.BPF_JGE,
                              "&": isa.BPF_JSET}


@dataclass(frozen=True, slots=True)
class Test:
    """``value op operand``: one cBPF conditional jump (``&`` is ``jset``: true when nonzero)."""

    value: Value
    op: JumpOp
    operand: Value

    def __str__(self) -> str:
        return f"{format_value(self.value)} {self.op} {format_value(self.operand)}"


class Node:
    """A CFG node. Create through ``branch``, ``ret``, ``assign``; identity is equality."""

    __slots__ = ("__weakref__",)


@dataclass(frozen=True, slots=True, eq=False)
class Return(Node):
    """Leaf: the filter returns ``k`` (0 rejects; the snapshot length accepts)."""

    k: int


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Branch(Node):
    test: Test
    if_true: Node
    if_false: Node

    def __repr__(self) -> str:
        # Not the dataclass repr: that prints the successors too, exponentially in a DAG.
        return f"<Branch {self.test} at {id(self):#x}>"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Assign(Node):
    """Give variable ``var`` the value ``value``, then continue at ``next``."""

    var: int
    value: Value
    next: Node

    def __repr__(self) -> str:
        return f"<Assign v{self.var} = {format_value(self.value)} at {id(self):#x}>"


def _rejects(node: Node) -> bool:
    """A fault returns 0, so a test leading only to ``return 0`` may fault harmlessly."""
    return isinstance(node, Return) and node.k == 0


class Builder:
    """Interns CFG nodes, so structurally equal subgraphs are one object.

    One builder per compilation; its tables die with it.
    """

    def __init__(self) -> None:
        self._returns: dict[int, Return] = {}
        self._branches: dict[tuple[Test, int, int], Branch] = {}
        self._assigns: dict[tuple[int, Value, int], Assign] = {}
        self._next_var = 0
        self._shared: dict[str, Var] = {}

    def ret(self, k: int) -> Return:
        node = self._returns.get(k)
        if node is None:
            node = self._returns[k] = Return(k)
        return node

    def branch(self, test: Test, if_true: Node, if_false: Node, *, evaluated: bool = False) -> Node:
        """The node testing ``test``. A test whose two edges agree is dropped only if dropping it
        cannot change the verdict: its values cannot fault, or (``evaluated``) the caller knows
        they were already computed on every path here, or the edges reject (a fault rejects
        too). libpcap drops such tests regardless,
        which is how its optimizer can accept a packet its unoptimized program rejects."""
        if if_true is if_false and (evaluated or _rejects(if_true) or not test_can_fault(test)):
            return if_true
        key = (test, id(if_true), id(if_false))
        node = self._branches.get(key)
        if node is None:
            node = self._branches[key] = Branch(test, if_true, if_false)
        return node

    def assign(self, var: int, value: Value, next: Node) -> Node:
        """The node assigning ``var``; just ``next`` when that rejects (a fault would too)."""
        if _rejects(next):
            return next
        key = (var, value, id(next))
        node = self._assigns.get(key)
        if node is None:
            node = self._assigns[key] = Assign(var, value, next)
        return node

    def new_var(self) -> Var:
        self._next_var += 1
        return Var(self._next_var)

    def shared_var(self, name: str) -> Var:
        """The one variable called ``name`` in this compilation, made on first use.

        Lowerings that compute the same kind of offset on several paths (the transport header
        behind IPv4 or IPv6) share one variable, so the code after the paths meet is one
        subgraph and an assignment repeated on a path is visibly redundant.
        """
        var = self._shared.get(name)
        if var is None:
            var = self._shared[name] = self.new_var()
        return var


def successors(node: Node) -> tuple[Node, ...]:
    match node:
        case Branch(if_true=t, if_false=f):
            return (t, f)
        case Assign(next=n):
            return (n,)
        case _:
            return ()


def topological(root: Node) -> list[Node]:
    """Every node reachable from ``root``, each before all of its successors."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, Iterator[Node]]] = [(root, iter(successors(root)))]
    seen.add(id(root))
    while stack:
        node, it = stack[-1]
        for nxt in it:
            if id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append((nxt, iter(successors(nxt))))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def check_graph(root: Node) -> None:
    """Assert the CFG's invariants (the optimizer checks them between passes when asked).

    Every reachable node is a ``Return``, ``Branch`` or ``Assign``; the graph has no cycle
    (every edge goes forward, as cBPF needs); and every variable a node reads was assigned on
    every path from the root to it (a read of an unset variable would read an unwritten
    scratch slot, which the kernel refuses).
    """
    order = topological(root)
    position = {id(n): i for i, n in enumerate(order)}
    assigned: dict[int, frozenset[int]] = {id(root): frozenset()}
    for node in order:
        before = assigned[id(node)]
        after = before
        reads: frozenset[int] = frozenset()
        match node:
            case Return(k=k):
                assert 0 <= k <= 0xFFFFFFFF, k
            case Branch(test=test):
                assert test.op in JUMP_CODES, test
                reads = variables(test.value) | variables(test.operand)
            case Assign(var=var, value=value):
                reads = variables(value)
                after = before | {var}
            case _:
                raise AssertionError(f"not a CFG node: {node!r}")
        assert reads <= before, f"{node!r} reads v{sorted(reads - before)} before it is set"
        for succ in successors(node):
            assert position[id(succ)] > position[id(node)], f"cycle through {succ!r}"
            seen = assigned.get(id(succ))
            assigned[id(succ)] = after if seen is None else seen & after


# ---------------------------------------------------------------------------------------------
# Predicates: boolean structure, built into the CFG by ``build``.


@dataclass(frozen=True, slots=True)
class Always:
    """A predicate decided at compile time."""

    value: bool


@dataclass(frozen=True, slots=True)
class And:
    left: Pred
    right: Pred


@dataclass(frozen=True, slots=True)
class Or:
    left: Pred
    right: Pred


@dataclass(frozen=True, slots=True)
class Not:
    operand: Pred


@dataclass(frozen=True, slots=True)
class Let:
    """Assign ``value`` to ``var``, then decide ``body`` (which may read ``var``)."""

    var: Var
    value: Value
    body: Pred


@dataclass(frozen=True, slots=True, eq=False)
class Graph:
    """Escape hatch for shapes that are not trees of tests (protochain's walk): ``make(b, t, f)``
    builds the subgraph with builder ``b`` that continues at ``t`` when true, ``f`` when false."""

    make: Callable[[Builder, Node, Node], Node] = field(repr=False)
    label: str = "graph"


Pred: TypeAlias = Test | Always | And | Or | Not | Let | Graph

TRUE = Always(True)
FALSE = Always(False)


def all_of(*preds: Pred) -> Pred:
    """Conjunction in source order, dropping ``TRUE``s (libpcap's gen_and chain)."""
    result: Pred | None = None
    for p in preds:
        if p == TRUE:
            continue
        result = p if result is None else And(result, p)
    return TRUE if result is None else result


def any_of(*preds: Pred) -> Pred:
    """Disjunction in source order, dropping ``FALSE``s."""
    result: Pred | None = None
    for p in preds:
        if p == FALSE:
            continue
        result = p if result is None else Or(result, p)
    return FALSE if result is None else result


def _chain(pred: Pred, kind: type[And] | type[Or]) -> list[Pred]:
    """The operands of a nested chain of one connective, in source order."""
    out: list[Pred] = []
    stack: list[Pred] = [pred]
    while stack:
        p = stack.pop()
        if isinstance(p, kind):
            stack.append(p.right)
            stack.append(p.left)
        else:
            out.append(p)
    return out


def build(b: Builder, pred: Pred, if_true: Node, if_false: Node) -> Node:
    """The CFG deciding ``pred``: continues at ``if_true`` or ``if_false``.

    Each predicate node is visited once per call, so the graph is linear in the predicate's size.
    """
    match pred:
        case Test():
            return b.branch(pred, if_true, if_false)
        case Always(value=v):
            return if_true if v else if_false
        case And():
            # Chains of thousands (``host a or host b or ...``) are built right to left in a
            # loop: recursion depth follows and/or alternation, not chain length.
            node = if_true
            for operand in reversed(_chain(pred, And)):
                node = build(b, operand, node, if_false)
            return node
        case Or():
            node = if_false
            for operand in reversed(_chain(pred, Or)):
                node = build(b, operand, if_true, node)
            return node
        case Not(operand=o):
            return build(b, o, if_false, if_true)
        case Let(var=v, value=value, body=body):
            return b.assign(v.id, value, build(b, body, if_true, if_false))
        case Graph(make=make):
            return make(b, if_true, if_false)
    raise AssertionError(f"unknown predicate {pred!r}")


# ---------------------------------------------------------------------------------------------
# Text form, for --dump-after, tests and error messages.

_SIZE = {1: "b", 2: "h", 4: ""}


def format_value(value: Value) -> str:
    match value:
        case Const(k=k):
            return str(k) if k < 10 else hex(k)
        case PacketLen():
            return "len"
        case Load(offset=o, size=s):
            return f"ld{_SIZE[s]}[{format_value(o)}]"
        case HeaderLen(offset=o):
            return f"4*(ldb[{format_value(o)}]&0xf)"
        case Ancillary(which=w):
            return f"anc[{isa.ANCILLARY.get(w, w)}]"
        case Alu(op=op, a=a, b=b):
            return f"({format_value(a)} {op} {format_value(b)})"
        case Neg(a=a):
            return f"-{format_value(a)}"
        case Var(id=i):
            return f"v{i}"
    raise AssertionError(value)


def format_graph(root: Node) -> str:
    """One line per node in topological order: ``n3: ldh[12] == 0x800 ? n4 : n9``."""
    order = topological(root)
    names = {id(n): f"n{i}" for i, n in enumerate(order)}
    lines = []
    for n in order:
        match n:
            case Return(k=k):
                lines.append(f"{names[id(n)]}: return {k}")
            case Branch(test=t, if_true=a, if_false=c):
                lines.append(f"{names[id(n)]}: {t} ? {names[id(a)]} : {names[id(c)]}")
            case Assign(var=v, value=val, next=nx):
                lines.append(f"{names[id(n)]}: v{v} = {format_value(val)}; {names[id(nx)]}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Reference semantics, for tests and --explain: what the CFG means, with no emitter involved.


class Fault(Exception):
    """Evaluation touched a byte beyond the capture or divided by zero: the filter returns 0."""


def evaluate_value(value: Value, packet: bytes, wirelen: int, env: dict[int, int]) -> int:
    match value:
        case Const(k=k):
            return k
        case PacketLen():
            return wirelen & 0xFFFFFFFF
        case Load(offset=o, size=s):
            start = _offset(o, packet, wirelen, env)
            if start + s > len(packet):
                raise Fault
            return int.from_bytes(packet[start:start + s], "big")
        case HeaderLen(offset=o):
            start = _offset(o, packet, wirelen, env)
            if start >= len(packet):
                raise Fault
            return (packet[start] & 0xF) * 4
        case Ancillary():
            raise Fault  # as libpcap's bpf_filter: not a packet offset
        case Alu(op=op, a=a, b=b):
            x = evaluate_value(a, packet, wirelen, env)
            y = evaluate_value(b, packet, wirelen, env)
            return alu(op, x, y)
        case Neg(a=a):
            return -evaluate_value(a, packet, wirelen, env) & 0xFFFFFFFF
        case Var(id=i):
            return env[i]
    raise AssertionError(value)


def _offset(offset: Value, packet: bytes, wirelen: int, env: dict[int, int]) -> int:
    """A load's byte offset as the emitted ``[x + k]`` computes it: X wraps like any register,
    but libpcap adds k to it without wrapping (an overflowing sum is out of bounds)."""
    var, k = split_offset(offset)
    if var is None:
        return k
    return evaluate_value(var, packet, wirelen, env) + k


def alu(op: str, x: int, y: int) -> int:
    """``x op y`` on 32-bit words as the filter machine computes it (raises ``Fault`` on a
    division by zero; shifts by 32 or more give 0): one definition for evaluation and folding."""
    match op:
        case "+":
            return (x + y) & 0xFFFFFFFF
        case "-":
            return (x - y) & 0xFFFFFFFF
        case "*":
            return (x * y) & 0xFFFFFFFF
        case "/" | "%":
            if y == 0:
                raise Fault
            return x // y if op == "/" else x % y
        case "&":
            return x & y
        case "|":
            return x | y
        case "^":
            return x ^ y
        case "<<":
            return (x << y) & 0xFFFFFFFF if y < 32 else 0
        case ">>":
            return x >> y if y < 32 else 0
    raise AssertionError(op)


def evaluate_test(test: Test, packet: bytes, wirelen: int, env: dict[int, int]) -> bool:
    v = evaluate_value(test.value, packet, wirelen, env)
    k = evaluate_value(test.operand, packet, wirelen, env)
    return holds(test.op, v, k)


def holds(op: str, v: int, k: int) -> bool:
    """Whether a test ``v op k`` holds: one definition for evaluation and jump threading."""
    match op:
        case "==":
            return v == k
        case ">":
            return v > k
        case ">=":
            return v >= k
        case "&":
            return bool(v & k)
    raise AssertionError(op)


def evaluate(root: Node, packet: bytes, wirelen: int | None = None) -> int:
    """The filter's return value for ``packet`` by walking the CFG (0 on a fault)."""
    wirelen = len(packet) if wirelen is None else wirelen
    env: dict[int, int] = {}
    node = root
    try:
        while True:
            match node:
                case Return(k=k):
                    return k
                case Branch(test=t, if_true=a, if_false=b):
                    node = a if evaluate_test(t, packet, wirelen, env) else b
                case Assign(var=v, value=val, next=nxt):
                    env[v] = evaluate_value(val, packet, wirelen, env)
                    node = nxt
                case _:
                    raise AssertionError(node)
    except Fault:
        return 0
