"""Unparsing: ``nodes.Expr`` -> canonical pcap-filter text that parses back to the same AST.

Stage: the inverse of parsing, outside the compile pipeline (tests and tools use it; a cold
``bpfc -d`` never loads it). Input: an AST as ``bpfc.syntax.parse`` builds it; output: text in
which every primitive is fully qualified, so that no value relies on libpcap's qualifier reuse,
and names that would lex as something else are escaped with ``\\``.
"""

from __future__ import annotations

from typing import Final

from bpfc import nodes
from bpfc.astbuild import IEEE80211_FC0_SUBTYPE_MASK, IEEE80211_FC0_TYPE_MASK
from bpfc.errors import FilterSyntaxError
from bpfc.scanner import scan

__all__ = ["unparse"]

_PRECEDENCE: Final = {"|": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5}
_UNNEGATED: Final = {">": "<=", ">=": "<", "=": "!="}


def unparse(expr: nodes.Expr) -> str:
    """Canonical pcap-filter text for ``expr``: every primitive fully qualified (no implicit
    reuse), ``and``/``or`` chains left-nested without parentheses (libpcap gives them equal
    precedence, left-associative), arithmetic parenthesised wherever precedence needs it."""
    match expr:
        case nodes.Empty():
            return ""
        case nodes.And() | nodes.Or():
            parts: list[str] = []
            node: nodes.Expr = expr
            while isinstance(node, (nodes.And, nodes.Or)):  # left spine, without recursion
                right_text = unparse(node.right)
                if isinstance(node.right, (nodes.And, nodes.Or)):
                    right_text = f"({right_text})"
                parts.append(f"{'and' if isinstance(node, nodes.And) else 'or'} {right_text}")
                node = node.left
            return " ".join([unparse(node), *reversed(parts)])
        case nodes.Not(operand):
            inner = unparse(operand)
            if isinstance(operand, (nodes.And, nodes.Or)):
                inner = f"({inner})"
            return f"not {inner}"
        case _:
            return _unparse_primitive(expr)


def _unparse_primitive(p: nodes.Primitive) -> str:
    match p:
        case nodes.Match(quals, value):
            words = [w for w in (quals.proto, quals.dir, quals.kind) if w is not None]
            if quals.dir is None and quals.kind is None:
                raise ValueError(f"cannot unparse a match with no direction or type: {p!r}")
            return " ".join(words + [_unparse_id(value)])
        case nodes.ProtoAbbrev(proto):
            return proto
        case nodes.Broadcast(proto) | nodes.Multicast(proto):
            word = "broadcast" if isinstance(p, nodes.Broadcast) else "multicast"
            return word if proto is None else f"{proto} {word}"
        case nodes.LengthCheck(op, value):
            return f"{op} {value}"
        case nodes.ByteOp(offset, op, value):
            return f"byte {offset} {op} {value}"
        case nodes.PacketDirection(outbound):
            return "outbound" if outbound else "inbound"
        case nodes.IfIndex(index):
            return f"ifindex {index}"
        case nodes.Encapsulation(kind, value, extra):
            return " ".join(str(w) for w in (kind, value, extra) if w is not None)
        case nodes.Llc(subtype):
            return "llc" if subtype is None else f"llc {subtype}"
        case nodes.PfField(field, value):
            keyword = {"srulenum": "srnr", "rulenum": "rnr"}.get(field, field)
            shown = str(value) if isinstance(value, int) else _unparse_name(value)
            return f"{keyword} {shown}"
        case nodes.Wlan(field, value):
            if field == "dir":
                return f"dir {value}"
            if field == "type":
                return f"type {value}"
            return (f"type {value & IEEE80211_FC0_TYPE_MASK} "
                    f"subtype {value & IEEE80211_FC0_SUBTYPE_MASK}")
        case nodes.Atm(name, op, value, negate) | nodes.Mtp(name, op, value, negate):
            if op is None:
                return name
            shown_op = _UNNEGATED[op] if negate else op
            return f"{name} {shown_op} {value}"
        case nodes.Relation(op, left, right):
            return f"{_unparse_arith(left)} {op} {_unparse_arith(right)}"
    raise TypeError(f"not an expression node: {p!r}")


def _unparse_name(text: str) -> str:
    """A name as written, or ``\\name`` where it would otherwise lex as something else."""
    try:
        toks = list(scan(text))
    except FilterSyntaxError:
        toks = []
    if len(toks) == 1 and toks[0].type == "ID" and str(toks[0]) == text:
        return text
    return "\\" + text


def _unparse_id(value: nodes.Id | nodes.Range) -> str:
    match value:
        case nodes.Name(text):
            return _unparse_name(text)
        case nodes.Number(number, text):
            return text or str(number)
        case nodes.IPv4(text, prefix, mask):
            if prefix is not None:
                return f"{text}/{prefix}"
            return text if mask is None else f"{text} mask {mask}"
        case nodes.IPv6(text, prefix):
            return text if prefix is None else f"{text}/{prefix}"
        case nodes.MAC(text) | nodes.ArcnetAddr(text):
            return text
        case nodes.Range(low, high):  # one scanner word, escaped as a whole if need be
            ends = [end.text if isinstance(end, nodes.Name) else end.text or str(end.value)
                    for end in (low, high)]
            return _unparse_name("-".join(ends))
    raise TypeError(f"not an id: {value!r}")


def _unparse_arith(a: nodes.Arith) -> str:
    match a:
        case nodes.Const(value):
            return str(value)
        case nodes.PacketLength():
            return "len"
        case nodes.Accessor(proto, index, size):
            inner = _unparse_arith(index)
            return f"{proto}[{inner}]" if size == 1 else f"{proto}[{inner}:{size}]"
        case nodes.Negate(operand):
            inner = _unparse_arith(operand)
            return f"-({inner})" if isinstance(operand, nodes.BinOp) else f"-{inner}"
        case nodes.BinOp(op, left, right):
            return f"{_operand(left, op, False)} {op} {_operand(right, op, True)}"
    raise TypeError(f"not an arithmetic node: {a!r}")


def _operand(a: nodes.Arith, parent: str, on_right: bool) -> str:
    """Parenthesise ``a`` under ``parent`` unless libpcap's precedences make it unnecessary.
    '%' and '^' have no precedence in libpcap (they grab everything to their right), so any
    operator next to them is parenthesised."""
    text = _unparse_arith(a)
    if isinstance(a, nodes.Negate):
        return f"({text})" if parent in ("%", "^") else text
    if not isinstance(a, nodes.BinOp):
        return text
    if parent in ("%", "^") or a.op in ("%", "^"):
        return f"({text})"
    mine, theirs = _PRECEDENCE[a.op], _PRECEDENCE[parent]
    if mine > theirs or (mine == theirs and not on_right):
        return text
    return f"({text})"
