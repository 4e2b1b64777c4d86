"""The builder: parse tree -> ``nodes.Expr``, with libpcap's inherited qualifiers.

Stage: the last part of parsing (``bpfc.syntax``). Input: the tree the LALR tables (or lark)
built for the start rule of ``grammar/pcap-filter.lark``, and the source text for carets;
output: the AST of ``bpfc.nodes``, a source ``span`` on every node. Names are not resolved here;
lowering does that.

Qualifiers are inherited as in libpcap's grammar.y (its ``$<blk>0.q``): a bare id after
``and``/``or``/``not`` reuses the qualifiers of the term before it, a parenthesised expression
passes on the qualifiers from before its ``(``, and every other kind of term passes on none, so
a bare id after it is an error, as in libpcap. The checks libpcap's grammar actions make (802.11
type values, ``port`` applied to an IP address, numbers over 32 bits, ...) raise
``FilterSemanticError`` here, with libpcap's wording where it has one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from bpfc import nodes
from bpfc.errors import FilterSemanticError, FilterSyntaxError
from bpfc.lalr import Token, Tree
from bpfc.scanner import ARITH_OPS, PROTO_NAMES, RELOPS, number_value

__all__ = ["BATADV_TYPES", "IEEE80211_FC0_SUBTYPE_MASK", "IEEE80211_FC0_TYPE_MASK",
           "LLC_SUBTYPES", "build"]

_DIRS: Final = {"SRC": "src", "DST": "dst", "ADDR1": "addr1", "ADDR2": "addr2",
                "ADDR3": "addr3", "ADDR4": "addr4", "RA": "ra", "TA": "ta"}
_NEGATED: Final = {"LEQ": ">", "LT": ">=", "NEQ": "="}
"""libpcap's ``irelop``: ``<=``, ``<`` and ``!=`` are the negations of ``>``, ``>=`` and ``=``."""

_ID_TREES: Final = frozenset({
    "nid_name", "nid_cidr", "nid_mask", "nid_host", "nid_cidr6", "nid_host6", "nid_mac",
    "nid_arcnet", "nid_not", "id_pnum", "id_paren", "pid_and", "pid_or", "qid_pnum"})

IEEE80211_FC0_TYPE_MASK: Final = 0x0C
IEEE80211_FC0_SUBTYPE_MASK: Final = 0xF0
_WLAN_TYPES: Final = {"data": 0x08, "mgt": 0x00, "management": 0x00, "ctl": 0x04, "control": 0x04}
_WLAN_SUBTYPES: Final[dict[int, dict[str, int]]] = {
    0x00: {"assocreq": 0x00, "assoc-req": 0x00, "assocresp": 0x10, "assoc-resp": 0x10,
           "reassocreq": 0x20, "reassoc-req": 0x20, "reassocresp": 0x30, "reassoc-resp": 0x30,
           "probereq": 0x40, "probe-req": 0x40, "proberesp": 0x50, "probe-resp": 0x50,
           "beacon": 0x80, "atim": 0x90, "disassoc": 0xA0, "disassociation": 0xA0,
           "auth": 0xB0, "authentication": 0xB0, "deauth": 0xC0, "deauthentication": 0xC0},
    0x04: {"bar": 0x80, "ba": 0x90, "ps-poll": 0xA0, "rts": 0xB0, "cts": 0xC0, "ack": 0xD0,
           "cf-end": 0xE0, "cf-end-ack": 0xF0},
    0x08: {"data": 0x00, "data-cf-ack": 0x10, "data-cf-poll": 0x20, "data-cf-ack-poll": 0x30,
           "null": 0x40, "cf-ack": 0x50, "cf-poll": 0x60, "cf-ack-poll": 0x70,
           "qos-data": 0x80, "qos-data-cf-ack": 0x90, "qos-data-cf-poll": 0xA0,
           "qos-data-cf-ack-poll": 0xB0, "qos": 0xC0, "qos-cf-poll": 0xE0,
           "qos-cf-ack-poll": 0xF0},
}
_WLAN_DIRS: Final = {"nods": 0, "tods": 1, "fromds": 2, "dstods": 3}
LLC_SUBTYPES: Final = frozenset({"i", "s", "u", "rr", "rnr", "rej", "ui", "ua", "disc", "dm",
                                 "sabme", "test", "xid", "frmr"})
BATADV_TYPES: Final[dict[int, dict[str, int]]] = {
    14: {"iv_ogm": 0x01, "icmp": 0x02, "unicast": 0x03, "bcast": 0x04, "vis": 0x05,
         "unicast_frag": 0x06, "tt_query": 0x07, "roam_adv": 0x08, "unicast_4addr": 0x09,
         "coded": 0x0A},
    15: {"iv_ogm": 0x00, "bcast": 0x01, "coded": 0x02, "elp": 0x03, "ogm2": 0x04,
         "mcast": 0x05, "unicast": 0x40, "unicast_frag": 0x41, "unicast_4addr": 0x42,
         "icmp": 0x43, "unicast_tvlv": 0x44},
}
_PF_FIELDS: Final = {"PF_IFNAME": "ifname", "PF_RSET": "ruleset", "PF_RNR": "rulenum",
                     "PF_SRNR": "srulenum", "PF_REASON": "reason", "PF_ACTION": "action"}
_MTP_ALIASES: Final = {"lsu": "lssu"}

Q = nodes.Qualifiers | None
"""Inherited qualifiers; ``None`` is libpcap's ``qerr``: nothing to reuse."""


def build(source: str, tree: Tree) -> nodes.Expr:
    """The AST of ``source``, whose parse tree (the start rule's) is ``tree``."""
    expr, _ = _Builder(source).expr(tree.children[0], None)
    return expr


def _span(item: Tree | Token) -> nodes.Span:
    return (item.start_pos, item.end_pos)


def _tok(item: Tree | Token) -> Token:
    assert isinstance(item, Token), item
    return item


def _tree(item: Tree | Token) -> Tree:
    assert isinstance(item, Tree), item
    return item


def _tokens_in(item: Tree | Token) -> list[Token]:
    """The tokens under ``item``, left to right (iterative: lists such as ``vpi (1 or 2 ...)``
    nest one level per element)."""
    found: list[Token] = []
    stack = [item]
    while stack:
        top = stack.pop()
        if isinstance(top, Token):
            found.append(top)
        else:
            stack.extend(reversed(top.children))
    return found


def _first_token(item: Tree | Token) -> Token:
    while isinstance(item, Tree):
        item = item.children[0]
    return item


class _Builder:
    """One parse tree's conversion; ``source`` is kept for error carets."""

    def __init__(self, source: str) -> None:
        self.source = source

    def _syntax(self, message: str, span: nodes.Span) -> FilterSyntaxError:
        return FilterSyntaxError(message, self.source, span[0], span[1] - span[0])

    def _semantic(self, message: str, span: nodes.Span) -> FilterSemanticError:
        return FilterSemanticError(message, self.source, span[0], span[1] - span[0])

    def _num(self, tok: Token) -> int:
        return number_value(str(tok), self.source, tok.start_pos)

    # -- boolean structure ------------------------------------------------------------------

    def expr(self, t: Tree | Token, inherited: Q) -> tuple[nodes.Expr, Q]:
        """Convert a term or expression; return it and the qualifiers it passes on."""
        t = _tree(t)
        kind = t.data
        if kind in ("expr_and", "expr_or"):
            # Walk the left spine in a loop: generated filters can join thousands of terms.
            spine: list[Tree] = []
            while isinstance(t, Tree) and t.data in ("expr_and", "expr_or"):
                spine.append(t)
                t = t.children[0]
            result, q = self.expr(t, inherited)
            for link in reversed(spine):
                right_t = link.children[2]
                if isinstance(right_t, Tree) and right_t.data in _ID_TREES:
                    right: nodes.Expr = self.id(right_t, q)
                else:
                    right, q = self.expr(right_t, q)
                cls = nodes.And if link.data == "expr_and" else nodes.Or
                result = cls(result, right, span=_span(link))
            return result, q
        if kind == "term_not":
            inner, q = self.expr(t.children[1], inherited)
            return nodes.Not(inner, span=_span(t)), q
        if kind == "rterm_paren":
            inner, _ = self.expr(t.children[1], inherited)
            return inner, inherited
        if kind == "rterm_head":
            quals = self.head(_tree(t.children[0]))
            result = self.id(t.children[1], quals)
            if isinstance(result, nodes.Match):
                result = replace(result, span=_span(t))
            return result, quals
        return self.primitive(t), None

    def head(self, t: Tree) -> nodes.Qualifiers:
        proto: str | None = None
        direction: str | None = None
        addr: str | None = None
        for child in t.children:
            if isinstance(child, Tree) and child.data == "pname":
                proto = PROTO_NAMES[_first_token(child).type]
            elif isinstance(child, Tree) and child.data == "dqual":
                toks = [_tok(c).type for c in child.children]
                if len(toks) == 1:
                    direction = _DIRS[toks[0]]
                else:
                    direction = "src or dst" if toks[1] == "OR" else "src and dst"
            elif isinstance(child, Tree):  # aqual
                addr = str(_first_token(child))
            else:
                addr = str(child)
        return nodes.Qualifiers(proto, direction, addr)  # type: ignore[arg-type]

    def id(self, t: Tree | Token, q: Q) -> nodes.Expr:
        """A bare or qualified id under the qualifiers ``q`` (grammar.y's ``$<blk>0.q``)."""
        t = _tree(t)
        kind = t.data
        if kind == "nid_not":
            return nodes.Not(self.id(t.children[1], q), span=_span(t))
        if kind == "id_paren":
            return self.id(t.children[1], q)
        if kind in ("pid_and", "pid_or"):
            spine: list[Tree] = []
            while isinstance(t, Tree) and t.data in ("pid_and", "pid_or"):
                spine.append(t)
                t = t.children[0]
            result = self.id(t, q)
            for link in reversed(spine):
                cls = nodes.And if link.data == "pid_and" else nodes.Or
                result = cls(result, self.id(link.children[2], q), span=_span(link))
            return result
        value = self.id_value(t)
        span = _span(t)
        if q is None:
            shown = self.source[span[0]:span[1]]
            example = "port" if isinstance(value, nodes.Number) else \
                "ether host" if isinstance(value, nodes.MAC) else "host"
            message = (f"'{shown}' has no qualifiers to reuse: a bare value after 'and'/'or' "
                       f"borrows them from the primitive before it (as 443 does in 'port 80 "
                       f"or 443'), and that one has none; write them out, as in "
                       f"'{example} {shown}'")
            if isinstance(value, (nodes.Name, nodes.Number)) or (
                    isinstance(value, nodes.IPv4) and value.prefix is None
                    and value.mask is None):
                raise self._syntax(message, span)
            raise self._semantic(message, span)
        self.check_address_kind(value, q, span)
        if q.kind == "portrange" and isinstance(value, nodes.Name) and "-" in value.text:
            return nodes.Match(q, self.port_range(value), span=span)
        return nodes.Match(q, value, span=span)

    def id_value(self, t: Tree) -> nodes.Id:
        kind, kids, span = t.data, t.children, _span(t)
        if kind in ("id_pnum", "qid_pnum"):
            return self.pnum(_tree(kids[0]))
        first = _tok(kids[0])
        text = str(first)
        if kind == "nid_name":
            return nodes.Name(text, span=span)
        if kind == "nid_host":
            return nodes.IPv4(text, span=span)
        if kind == "nid_cidr":
            return nodes.IPv4(text, prefix=self._num(_tok(kids[2])), span=span)
        if kind == "nid_mask":
            return nodes.IPv4(text, mask=str(kids[2]), span=span)
        if kind == "nid_host6":
            return nodes.IPv6(text, span=span)
        if kind == "nid_cidr6":
            return nodes.IPv6(text, prefix=self._num(_tok(kids[2])), span=span)
        if kind == "nid_mac":
            return nodes.MAC(text, span=span)
        assert kind == "nid_arcnet", kind
        return nodes.ArcnetAddr(text, span=span)

    def check_address_kind(self, value: nodes.Id, q: nodes.Qualifiers, span: nodes.Span) -> None:
        """grammar.y refuses port/portrange/proto/protochain on an IP address at parse time."""
        if q.kind not in ("port", "portrange", "proto", "protochain"):
            return
        if isinstance(value, nodes.IPv4):
            what = ("IP address and prefix length" if value.prefix is not None else
                    "IP address and netmask" if value.mask is not None else "IP address")
        elif isinstance(value, nodes.IPv6):
            what = "IP address and prefix length" if value.prefix is not None else "IP address"
        else:
            return
        raise self._semantic(f"'{q.kind}' modifier applied to {what}", span)

    def port_range(self, name: nodes.Name) -> nodes.Range:
        """Split ``low-high`` at the first '-' (libpcap's pcap_nametoportrange)."""
        low, high = name.text.split("-", 1)
        start = name.span[0]

        def end(text: str, at: int) -> nodes.Name | nodes.Number:
            where = (at, at + len(text))
            if text.isdigit():
                return nodes.Number(int(text), text, span=where)
            return nodes.Name(text, span=where)

        return nodes.Range(end(low, start), end(high, start + len(low) + 1), span=name.span)

    def pnum(self, t: Tree) -> nodes.Number:
        """``NUM`` or ``( pnum )``: the number with the span of the whole, parentheses included."""
        inner: Tree | Token = t
        while isinstance(inner, Tree):
            inner = inner.children[0] if inner.data == "pnum" else inner.children[1]
        return nodes.Number(self._num(inner), str(inner), span=_span(t))

    # -- primitives ----------------------------------------------------------------------------

    def primitive(self, t: Tree) -> nodes.Expr:
        kind, kids, span = t.data, t.children, _span(t)
        if kind == "rterm_pname":
            return nodes.ProtoAbbrev(PROTO_NAMES[_first_token(kids[0]).type], span=span)
        if kind == "rterm_relation":
            op_tok = _first_token(kids[1])
            return nodes.Relation(RELOPS[op_tok.type], self.arith(kids[0]),  # type: ignore
                                  self.arith(kids[2]), span=span)
        if kind in ("broadcast", "multicast"):
            proto = PROTO_NAMES[_first_token(kids[0]).type] if len(kids) == 2 else None
            cls = nodes.Broadcast if kind == "broadcast" else nodes.Multicast
            return cls(proto, span=span)
        if kind == "length_check":
            op = "less" if _tok(kids[0]).type == "LESS" else "greater"
            return nodes.LengthCheck(op, self._num(_tok(kids[1])), span=span)  # type: ignore
        if kind == "byte_op":
            op = str(_first_token(kids[2]))
            return nodes.ByteOp(self._num(_tok(kids[1])), "=" if op == "==" else op,
                                self._num(_tok(kids[3])), span=span)
        if kind == "packet_direction":
            return nodes.PacketDirection(_tok(kids[0]).type == "OUTBOUND", span=span)
        if kind == "ifindex":
            return nodes.IfIndex(self._num(_tok(kids[1])), span=span)
        if kind == "encapsulation":
            name = _tok(kids[0]).type.lower()
            value = self.pnum(_tree(kids[1])).value if len(kids) > 1 else None
            return nodes.Encapsulation(name, value, span=span)  # type: ignore[arg-type]
        if kind == "batadv":
            return self.batadv(t)
        if kind == "pfvar":
            return self.pfvar(t)
        if kind == "wlan":
            return self.wlan(_tree(kids[-1]))
        if kind == "llc":
            return self.llc(t)
        if kind in ("rterm_atm", "rterm_mtp"):
            word = str(_first_token(kids[0]))
            cls2 = nodes.Atm if kind == "rterm_atm" else nodes.Mtp
            return cls2(_MTP_ALIASES.get(word, word), span=span)
        if kind in ("rterm_atm_field", "rterm_mtp_field"):
            return self.field_value(t)
        raise AssertionError(f"unhandled parse tree {kind}")

    def batadv(self, t: Tree) -> nodes.Encapsulation:
        kids, span = t.children, _span(t)
        if len(kids) == 1:
            return nodes.Encapsulation("batadv", span=span)
        version_t = _tree(kids[1])
        version = self.pnum(version_t).value
        if len(kids) == 2:
            return nodes.Encapsulation("batadv", version, span=span)
        if isinstance(kids[2], Tree):
            return nodes.Encapsulation("batadv", version, self.pnum(kids[2]).value, span=span)
        type_tok = kids[2]
        if version not in BATADV_TYPES:
            raise self._semantic(
                f"batman-adv compatibility version number {version} unsupported",
                _span(version_t))
        packet_type = BATADV_TYPES[version].get(str(type_tok).lower())
        if packet_type is None:
            raise self._semantic(f"invalid batman-adv packet type value '{type_tok}'",
                                 _span(type_tok))
        return nodes.Encapsulation("batadv", version, packet_type, span=span)

    def pfvar(self, t: Tree) -> nodes.PfField:
        key, arg = _tok(t.children[0]), _tok(t.children[1])
        value: str | int = self._num(arg) if arg.type == "NUM" else str(arg)
        return nodes.PfField(_PF_FIELDS[key.type], value, span=_span(t))  # type: ignore

    def wlan(self, t: Tree) -> nodes.Wlan:
        kind, kids, span = t.data, t.children, _span(t)
        if kind == "wlan_dir":
            tok = _tok(_tree(kids[1]).children[0])
            if tok.type == "NUM":
                return nodes.Wlan("dir", self._num(tok), 0, span=span)
            direction = _WLAN_DIRS.get(str(tok).lower())
            if direction is None:
                raise self._semantic(f"unknown 802.11 direction '{tok}'", _span(tok))
            return nodes.Wlan("dir", direction, 0, span=span)
        if kind == "wlan_subtype":
            tok = _tok(kids[1])
            for frame_type in (0x00, 0x04, 0x08):  # libpcap's search order: mgt, ctl, data
                sub = _WLAN_SUBTYPES[frame_type].get(str(tok).lower())
                if sub is not None:
                    return nodes.Wlan("subtype", frame_type | sub,
                                      IEEE80211_FC0_TYPE_MASK | IEEE80211_FC0_SUBTYPE_MASK,
                                      span=span)
            raise self._semantic(f"unknown 802.11 subtype name '{tok}'", _span(tok))
        frame_type = self.wlan_type(_tok(_tree(kids[1]).children[0]))
        if kind == "wlan_type":
            return nodes.Wlan("type", frame_type, IEEE80211_FC0_TYPE_MASK, span=span)
        tok = _tok(_tree(kids[3]).children[0])
        if tok.type == "NUM":
            sub = self._num(tok)
            if sub & ~IEEE80211_FC0_SUBTYPE_MASK:
                raise self._semantic(f"invalid 802.11 subtype value 0x{sub:02x}", _span(tok))
        else:
            table = _WLAN_SUBTYPES.get(frame_type)
            if table is None:
                raise self._semantic(f"unknown 802.11 type 0x{frame_type:02x} for a subtype name",
                                     _span(kids[1]))
            found = table.get(str(tok).lower())
            if found is None:
                raise self._semantic(f"unknown 802.11 subtype name '{tok}'", _span(tok))
            sub = found
        return nodes.Wlan("subtype", frame_type | sub,
                          IEEE80211_FC0_TYPE_MASK | IEEE80211_FC0_SUBTYPE_MASK, span=span)

    def wlan_type(self, tok: Token) -> int:
        if tok.type == "NUM":
            value = self._num(tok)
            if value & ~IEEE80211_FC0_TYPE_MASK:
                raise self._semantic(f"invalid 802.11 type value 0x{value:02x}", _span(tok))
            return value
        found = _WLAN_TYPES.get(str(tok).lower())
        if found is None:
            raise self._semantic(f"unknown 802.11 type name '{tok}'", _span(tok))
        return found

    def llc(self, t: Tree) -> nodes.Llc:
        if len(t.children) == 1:
            return nodes.Llc(span=_span(t))
        tok = _tok(t.children[1])
        name = str(tok).lower()
        if name not in LLC_SUBTYPES:
            raise self._semantic(f"unknown LLC type name '{tok}'", _span(tok))
        return nodes.Llc(name, span=_span(t))

    def field_value(self, t: Tree) -> nodes.Expr:
        """``vpi``/``vci``/MTP3 field followed by ``N``, ``relop N`` or ``(N or N ...)``."""
        word = str(_first_token(t.children[0]))
        value_t = _tree(t.children[1])
        cls = nodes.Atm if t.data == "rterm_atm_field" else nodes.Mtp
        if value_t.data == "field_rel":
            op_tok = _first_token(value_t.children[0])
            op = _NEGATED.get(op_tok.type, RELOPS[op_tok.type])
            return cls(word, op, self._num(_tok(value_t.children[1])),
                       negate=op_tok.type in _NEGATED, span=_span(t))
        if value_t.data == "field_eq":
            return cls(word, "=", self._num(_tok(value_t.children[0])), span=_span(t))
        numbers = [tok for tok in _tokens_in(value_t.children[1]) if tok.type == "NUM"]
        result: nodes.Expr = cls(word, "=", self._num(numbers[0]), span=_span(numbers[0]))
        for tok in numbers[1:]:
            right = cls(word, "=", self._num(tok), span=_span(tok))
            result = nodes.Or(result, right, span=(_span(numbers[0])[0], _span(tok)[1]))
        return result

    # -- arithmetic ----------------------------------------------------------------------------

    def arith(self, t: Tree | Token) -> nodes.Arith:
        t = _tree(t)
        kind, kids, span = t.data, t.children, _span(t)
        if kind in ("pnum", "pnum_paren"):
            return nodes.Const(self.pnum(t).value, span=span)
        if kind == "bin":
            spine: list[Tree] = []  # left-nested chains (1 + 1 + ...) without recursion
            while isinstance(t, Tree) and t.data == "bin":
                spine.append(t)
                t = t.children[0]
            result = self.arith(t)
            for link in reversed(spine):
                op = ARITH_OPS[_first_token(link.children[1]).type]
                result = nodes.BinOp(op, result, self.arith(link.children[2]),  # type: ignore
                                     span=_span(link))
            return result
        if kind == "neg":
            return nodes.Negate(self.arith(kids[1]), span=span)
        if kind == "paren_arith":
            return self.arith(kids[1])
        if kind == "packet_length":
            return nodes.PacketLength(span=span)
        assert kind == "accessor", kind
        proto = PROTO_NAMES[_first_token(kids[0]).type]
        size = self._num(_tok(kids[4])) if len(kids) == 6 else 1
        return nodes.Accessor(proto, self.arith(kids[2]), size, span=span)
