"""The AST: what a filter expression says, after parsing and before lowering.

``syntax.parse`` produces these nodes; ``lower`` consumes them. Every node carries ``span``, the
half-open character range ``(start, end)`` of its source text, so any later stage can point a caret
at the words responsible for an error.

Parsing already resolves libpcap's implicit qualifier reuse: in ``host a or b`` the second operand
is a full ``Match(Qualifiers(kind="host"), Name("b"))``, exactly as if it had been written out.
Names (hosts, services, protocols) stay unresolved strings here: resolving them depends on the
qualifiers and the link type, which is lowering's business.

Invariants: nodes are immutable; ``Qualifiers`` fields hold the keyword as written in lowercase
canonical form (``"ip6"`` for ``ip6``, ``"src or dst"``, ``"host"``), or ``None`` for "not given".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Literal, TypeAlias

Span: TypeAlias = tuple[int, int]
NO_SPAN: Span = (0, 0)


def _span() -> Span:
    """Every node's ``span``: where its text is, not part of its identity (not compared)."""
    result: Span = dataclass_field(default=NO_SPAN, compare=False)
    return result

# ---------------------------------------------------------------------------------------------
# Identifiers: the "id" of a qualified primitive, classified by shape as libpcap's lexer does.


@dataclass(frozen=True, slots=True)
class Name:
    """A word that is not a keyword: host name, service, protocol name, ethers name, ..."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Number:
    """An unsigned number as libpcap reads it: decimal, ``0x`` hex or leading-``0`` octal."""

    value: int
    text: str = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IPv4:
    """A dotted IPv4 address or partial network (``10``, ``10.1``, ``10.1.2``, ``10.1.2.3``).

    ``text`` is kept because libpcap treats partial forms differently for ``host`` and ``net``;
    ``prefix``/``mask`` are set for ``a.b.c.d/len`` and ``a.b.c.d mask m.m.m.m``.
    """

    text: str
    prefix: int | None = None
    mask: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IPv6:
    """An IPv6 address, optionally with ``/prefix``."""

    text: str
    prefix: int | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class MAC:
    """A MAC address in any form libpcap accepts (``a:b:c:d:e:f``, ``a-b-...``,
    ``aabb.ccdd.eeff``)."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ArcnetAddr:
    """An ARCnet address, ``$xx``."""

    text: str
    span: Span = _span()


Id: TypeAlias = Name | Number | IPv4 | IPv6 | MAC | ArcnetAddr

# ---------------------------------------------------------------------------------------------
# Qualified primitives: [proto] [dir] [kind] id.

Proto: TypeAlias = str  # "link" "ether" "ip" "ip6" "arp" "rarp" "tcp" "udp" ... (libpcap's pname)
Direction: TypeAlias = Literal[
    "src", "dst", "src or dst", "src and dst", "addr1", "addr2", "addr3", "addr4", "ra", "ta"
]
Kind: TypeAlias = Literal["host", "net", "port", "portrange", "gateway", "proto", "protochain"]


@dataclass(frozen=True, slots=True)
class Qualifiers:
    """libpcap's qualifier triple; ``None`` means the default for that slot."""

    proto: Proto | None = None
    dir: Direction | None = None
    kind: Kind | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """``[proto] [dir] [kind] id`` (libpcap's ``head id``), e.g. ``tcp dst port 80``.

    ``id`` may be a ``portrange`` pair, as ``Range``.
    """

    quals: Qualifiers
    id: Id | Range
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Range:
    """``low-high`` for ``portrange``; each end a number or a service name."""

    low: Name | Number
    high: Name | Number
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ProtoAbbrev:
    """A bare protocol name used as a primitive: ``tcp``, ``ip6``, ``arp``, ``iso``, ``l1`` ..."""

    proto: Proto
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Broadcast:
    """``[ether|ip|ip6|...] broadcast``; ``proto`` None means the default (ether)."""

    proto: Proto | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Multicast:
    """``[ether|ip|ip6|...] multicast``."""

    proto: Proto | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LengthCheck:
    """``less N`` (``len <= N``) or ``greater N`` (``len >= N``)."""

    op: Literal["less", "greater"]
    value: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ByteOp:
    """The obscure ``byte N op M`` primitive (libpcap's CBYTE): ``op`` in ``& | < > =``."""

    offset: int
    op: str
    value: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PacketDirection:
    """``inbound`` or ``outbound``."""

    outbound: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IfIndex:
    """``ifindex N``."""

    index: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Encapsulation:
    """``vlan [id]``, ``mpls [label]``, ``pppoed``, ``pppoes [id]``, ``geneve [vni]``,
    ``vxlan [vni]``, ``batadv [version [type]]``.

    All but ``pppoed`` move the offsets of every primitive that comes after them in the source,
    whatever connective joins them (pcap-filter(7)); lowering keeps that state.
    """

    kind: Literal["vlan", "mpls", "pppoed", "pppoes", "geneve", "vxlan", "batadv"]
    value: int | None = None
    extra: int | None = None  # batadv packet type
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Llc:
    """``llc``, ``llc i|s|u``, or an LLC S/U subtype name (``llc rr``, ``llc ui`` ...)."""

    subtype: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PfField:
    """pflog fields: ``ifname X``/``on X``, ``rset``/``ruleset``, ``rnr``/``rulenum``, ``srnr``,
    ``reason``, ``action``. ``value`` is the name or number as written."""

    field: Literal["ifname", "ruleset", "rulenum", "srulenum", "reason", "action"]
    value: str | int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Wlan:
    """802.11 frame control: ``[wlan] type T [subtype S]``, ``subtype S``, ``dir D``.

    ``value``/``mask`` are the frame-control byte value and mask libpcap would test (types and
    subtypes already resolved to numbers by the parser, as libpcap's grammar does); for ``dir``,
    ``value`` is the direction code and ``mask`` is 0.
    """

    field: Literal["type", "subtype", "dir"]
    value: int
    mask: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Atm:
    """ATM primitives: ``lane``, ``oam``, ``metac`` ... (``name``) or ``vpi``/``vci`` relations
    (``field``, ``op``, ``value``; ``negate`` for ``<``, ``<=``, ``!=``)."""

    name: str
    op: str | None = None
    value: int | None = None
    negate: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Mtp:
    """SS7 MTP2 types (``fisu``, ``lssu``, ``msu``, ``hfisu`` ...) and MTP3 fields
    (``sio``, ``opc``, ``dpc``, ``sls``, ``h*``) with an optional relation as for ``Atm``."""

    name: str
    op: str | None = None
    value: int | None = None
    negate: bool = False
    span: Span = _span()


# ---------------------------------------------------------------------------------------------
# Arithmetic and relations.

ArithOp: TypeAlias = Literal["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]
RelOp: TypeAlias = Literal[">", ">=", "=", "<=", "<", "!="]


@dataclass(frozen=True, slots=True)
class Const:
    """A number in arithmetic (``80``, ``0x1f``, a named constant such as ``tcpflags``)."""

    value: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PacketLength:
    """``len``: the packet's original (wire) length."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Accessor:
    """``proto[index]`` or ``proto[index:size]``, size 1, 2 or 4; index relative to that
    protocol's header."""

    proto: Proto
    index: Arith
    size: int = 1
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BinOp:
    """``left op right``, unsigned 32-bit as in the BPF machine."""

    op: ArithOp
    left: Arith
    right: Arith
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Negate:
    """``-operand``, modulo 2**32."""

    operand: Arith
    span: Span = _span()


Arith: TypeAlias = Const | PacketLength | Accessor | BinOp | Negate


@dataclass(frozen=True, slots=True)
class Relation:
    """``arith relop arith``."""

    op: RelOp
    left: Arith
    right: Arith
    span: Span = _span()


# ---------------------------------------------------------------------------------------------
# Boolean structure.


@dataclass(frozen=True, slots=True)
class And:
    """``left and right``."""

    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Or:
    """``left or right``."""

    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    """``not operand``."""

    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Empty:
    """The empty filter: accepts every packet."""

    span: Span = _span()


Primitive: TypeAlias = (
    Match | ProtoAbbrev | Broadcast | Multicast | LengthCheck | ByteOp | PacketDirection | IfIndex
    | Encapsulation | Llc | PfField | Wlan | Atm | Mtp | Relation
)
Expr: TypeAlias = And | Or | Not | Empty | Primitive


def primitives(expr: Expr) -> Iterator[Primitive | Empty]:
    """Every primitive of ``expr``, through its ``and``/``or``/``not`` (iteratively: a
    generated filter can nest thousands deep)."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        match node:
            case And(left=a, right=b) | Or(left=a, right=b):
                stack += [b, a]
            case Not(operand=a):
                stack.append(a)
            case _:
                yield node
