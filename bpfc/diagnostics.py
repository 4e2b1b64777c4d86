"""Diagnostics: lark's exception for a filter the grammar refuses -> ``FilterSyntaxError``.

Stage: the error path of parsing (``bpfc.syntax``), loaded only when a filter fails to parse.
Input: the source text and lark's ``UnexpectedInput`` (its culprit token and the parser's exact
set of acceptable terminals at that point); output: a ``FilterSyntaxError`` whose caret sits
under the culprit and whose message says what went wrong in the user's words: a Wireshark
display-filter field and its pcap-filter translation, a misspelt keyword and the nearest ones
the parser would accept, a missing qualifier, operator or parenthesis, and failing all those,
"unexpected X: expected Y".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from bpfc.errors import FilterSyntaxError
from bpfc.lalr import Token
from bpfc.scanner import ARITH_OPS, KEYWORDS, PROTO_NAMES, PUNCT1, PUNCT2, RELOPS, scan

if TYPE_CHECKING:
    from lark.exceptions import UnexpectedInput

__all__ = ["explain"]

_WIRESHARK_FIELD: Final = \
    r"(eth|ip|ipv6|tcp|udp|sctp|icmp|icmpv6|arp|frame|vlan|dns|http|tls|wlan)\.[A-Za-z_.]+"
"""A Wireshark field name; compiled (``re``'s cache) only on the error path."""
_WIRESHARK_HINTS: Final = {
    "tcp.port": "tcp port {}", "udp.port": "udp port {}", "sctp.port": "sctp port {}",
    "tcp.srcport": "tcp src port {}", "tcp.dstport": "tcp dst port {}",
    "udp.srcport": "udp src port {}", "udp.dstport": "udp dst port {}",
    "ip.src": "src host {}", "ip.dst": "dst host {}", "ip.addr": "host {}",
    "ip.host": "host {}", "ipv6.src": "ip6 src host {}", "ipv6.dst": "ip6 dst host {}",
    "ipv6.addr": "ip6 host {}", "eth.src": "ether src {}", "eth.dst": "ether dst {}",
    "eth.addr": "ether host {}", "eth.type": "ether proto {}", "ip.proto": "ip proto {}",
    "vlan.id": "vlan {}",
}
_WIRESHARK_PROTOS: Final = {"eth": "ether", "ipv6": "ip6", "icmpv6": "icmp6", "frame": "",
                            "dns": "udp port 53", "http": "tcp port 80", "tls": "tcp port 443"}
_VALUE_TOKENS: Final = frozenset({"ID", "NUM", "HID", "HID6", "EID", "AID"})
_QUALIFIER_TOKENS: Final = frozenset({"HOST", "NET", "PORT", "PORTRANGE", "SRC", "DST", "PROTO",
                                      "PROTOCHAIN", "GATEWAY", "ADDR1", "ADDR2", "ADDR3",
                                      "ADDR4", "RA", "TA"})
_DESCRIPTIONS: Final = {
    "NUM": "a number", "ID": "a name", "HID": "an IPv4 address", "HID6": "an IPv6 address",
    "EID": "a MAC address", "AID": "an ARCnet address", "$END": "the end of the filter",
    "LEX_ERROR": "a character", **{v: f"'{k}'" for k, v in {**PUNCT1, **PUNCT2}.items()},
    "AND": "'and'", "OR": "'or'", "NOT": "'not'", "EQ": "'='",
}
_SPELLING: Final = {tok: word for word, tok in reversed(list(KEYWORDS.items()))
                    if word.isalpha() or "-" in word}
_SPELLING["LINK"] = "ether"


def _describe(token_type: str) -> str:
    if token_type in _DESCRIPTIONS:
        return _DESCRIPTIONS[token_type]
    return f"'{_SPELLING.get(token_type, token_type.lower())}'"


def _expected_phrase(expected: set[str]) -> str:
    """Human words for the acceptable-terminal set, shortest first, long sets summarised."""
    if {"HOST", "TCP", "LPAR", "NOT"} <= expected:
        return "a primitive such as 'host 10.0.0.1', 'port 80', 'tcp' or 'not'"
    if {"ID", "NUM", "HID"} <= expected:
        return "a value: a name, number or address"
    if {"NUM", "LEN", "LPAR", "TCP"} <= expected:
        return "a number, 'len', 'proto[offset]' or '('"
    groups: list[str] = []
    rest = set(expected) - {"LEX_ERROR"}
    if set(RELOPS) <= rest:
        groups.append("a comparison ('=', '!=', '<', '<=', '>', '>=')")
        rest -= set(RELOPS)
    if len(rest & set(ARITH_OPS)) >= 3:
        groups.append("an arithmetic operator")
        rest -= set(ARITH_OPS)
    words = groups + sorted({_describe(t) for t in rest}, key=lambda w: (len(w), w))
    if len(words) > 8:
        words = words[:8] + ["..."]
    if len(words) <= 1:
        return words[0] if words else "nothing"
    return ", ".join(words[:-1]) + " or " + words[-1]


def _shown(tok: Token) -> str:
    return "end of filter" if tok.type == "$END" else f"'{tok}'"


def _all_tokens(source: str) -> list[Token]:
    """The scanner's tokens up to the first one it refuses (error path only)."""
    out: list[Token] = []
    try:
        out.extend(scan(source))
    except FilterSyntaxError:
        pass
    return out


_EXAMPLES: Final = {"HOST": "host 10.0.0.1", "NET": "net 10.0.0.0/8", "PORT": "port 80",
                    "PORTRANGE": "portrange 1-1023", "SRC": "src 10.0.0.1",
                    "DST": "dst 10.0.0.1", "PROTO": "proto 6", "PROTOCHAIN": "protochain 6",
                    "GATEWAY": "gateway router"}
_PRIMITIVE_STARTS: Final = frozenset(set(PROTO_NAMES) | {
    "HOST", "NET", "PORT", "PORTRANGE", "SRC", "DST", "LESS", "GREATER", "VLAN", "MPLS",
    "INBOUND", "OUTBOUND", "LEN", "NOT", "LPAR", "NUM"})
_KEYWORD_TYPES: Final = frozenset(KEYWORDS.values())
_COMMON_KEYWORDS: Final = frozenset({
    "host", "net", "port", "portrange", "src", "dst", "ether", "ip", "ip6", "tcp", "udp",
    "icmp", "icmp6", "arp", "rarp", "proto", "protochain", "and", "or", "not", "less",
    "greater", "len", "broadcast", "multicast", "vlan", "mpls", "gateway", "sctp", "inbound",
    "outbound"})


def explain(source: str, exc: UnexpectedInput) -> FilterSyntaxError:
    """``_explain``, or a plain message should diagnosing the error itself fail: a bug in a
    hint must never turn into a traceback."""
    try:
        return _explain(source, exc)
    except Exception:  # noqa: BLE001
        column = getattr(exc, "pos_in_stream", None)
        return FilterSyntaxError("syntax error", source,
                                 column if isinstance(column, int) else len(source), 1)


def _explain(source: str, exc: UnexpectedInput) -> FilterSyntaxError:
    """Turn lark's exception into a FilterSyntaxError with a caret and a reason.

    The checks go from the most specific diagnosis to the generic "unexpected X, expected Y";
    Y comes from the parser's exact set of acceptable tokens at the failure point.
    """
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(exc, UnexpectedCharacters):  # the scanner never leaves text unmatched
        return FilterSyntaxError("unexpected character", source, exc.pos_in_stream, 1)
    assert isinstance(exc, UnexpectedToken)
    culprit = exc.token
    try:
        accepts = set(exc.accepts) - {"LEX_ERROR"}
    except Exception:  # noqa: BLE001 - fall back to LALR's coarser set
        accepts = set(exc.expected)
    at = len(source) if culprit.type == "$END" or culprit.start_pos is None else \
        culprit.start_pos
    width = 1 if culprit.type == "$END" else max(1, (culprit.end_pos or at) - at)
    tok = Token(culprit.type, str(culprit), at, at + width)
    tokens = _all_tokens(source)
    before = [t for t in tokens if t.start_pos < at]
    prev = before[-1] if before else None

    def error(message: str, column: int = at, size: int = width) -> FilterSyntaxError:
        return FilterSyntaxError(message, source, column, size)

    def where(t: Token) -> tuple[int, int]:
        return t.start_pos, t.end_pos - t.start_pos

    ws = _wireshark(source, tokens, upto=len(before))
    if ws is not None:
        return ws
    if tok.type == "LEX_ERROR":
        return error(f"unexpected character '{tok}'")
    opened: list[Token] = []
    for b in before:
        if b.type == "LPAR":
            opened.append(b)
        elif b.type == "RPAR" and opened:
            opened.pop()
    if tok.type == "RPAR" and prev is not None and prev.type == "LPAR":
        return error("empty parentheses", prev.start_pos or 0, at + 1 - (prev.start_pos or 0))
    if tok.type == "RPAR" and not opened:
        return error("unbalanced ')': there is no '(' before it")
    if tok.type == "$END" and prev is not None and prev.type in ("AND", "OR", "NOT"):
        return error(f"the filter ends with '{prev}': expected a primitive after it",
                     *where(prev))
    if tok.type == "$END" and opened and "RPAR" in accepts:
        return error("missing ')': this '(' is never closed", where(opened[-1])[0], 1)
    if tok.type in ("AND", "OR") and prev is None:
        return error(f"'{tok}' needs a primitive before it")
    if tok.type in RELOPS and prev is not None and prev.type in _QUALIFIER_TOKENS:
        return error(f"'{tok}' does not go after '{prev}': write the value right after the "
                     f"qualifier, as in '{_EXAMPLES.get(prev.type, f'{prev} 10.0.0.1')}'")
    if tok.type in RELOPS and prev is not None and prev.type in _VALUE_TOKENS - {"NUM"}:
        return error(f"'{tok}' compares numbers, not names or addresses: match a value with "
                     "a qualifier instead, as in 'host 10.0.0.1' or 'port 80'")
    if tok.type == "ID":
        hint = _did_you_mean(str(tok), accepts)
        if hint:
            return error(f"unknown keyword '{tok}' ({hint})")
    if prev is not None and prev.type == "ID" and tok.type in _KEYWORD_TYPES:
        hint = _did_you_mean(str(prev), set())  # 'dts port 3': the typo was taken as a value
        if hint:
            return error(f"unknown keyword '{prev}' ({hint})", *where(prev))
    if len(before) == 1 and prev is not None and prev.type in _VALUE_TOKENS and \
            not accepts & {"AND", "OR"}:
        return error(_needs_qualifier(prev), *where(prev))
    if tok.type in _VALUE_TOKENS and prev is None:
        return error(_needs_qualifier(tok))
    if tok.type in _KEYWORD_TYPES and "ID" in accepts and "HOST" not in accepts:
        return error(f"'{tok}' is a keyword, not a value: write '\\{tok}' to use it as a name")
    if {"AND", "OR"} <= accepts and tok.type in _PRIMITIVE_STARTS:
        return error(f"missing 'and' or 'or' before {_shown(tok)}")
    return error(f"unexpected {_shown(tok)}: expected {_expected_phrase(accepts)}")


def _needs_qualifier(tok: Token) -> str:
    examples = {"NUM": ("port", "proto"), "HID": ("host", "net"), "HID6": ("host", "net"),
                "EID": ("ether host", "ether src")}.get(tok.type, ("host", "port"))
    return (f"'{tok}' needs a qualifier before it, as in '{examples[0]} {tok}' or "
            f"'{examples[1]} {tok}'")


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: a transposition ('tpc' -> 'tcp') costs 1."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _did_you_mean(word: str, accepts: set[str]) -> str | None:
    """Keywords within one edit (two for words of five letters or more) of ``word``,
    preferring those the parser would accept at this point."""
    import difflib  # error path only

    lowered = word.lower()
    if lowered != word and lowered in KEYWORDS:
        return f"keywords are lowercase: did you mean '{lowered}'?"
    limit = 1 if len(word) < 5 else 2
    everything = [w for w in KEYWORDS if w.isalnum()]
    for pool in ([w for w in everything if KEYWORDS[w] in accepts], everything):
        scored = sorted((_edit_distance(lowered, w), w not in _COMMON_KEYWORDS,
                         -difflib.SequenceMatcher(None, lowered, w).ratio(), w) for w in pool)
        best = [w for dist, rare, _, w in scored
                if dist <= limit and (dist, rare) == scored[0][:2]][:2]
        if best:
            return "did you mean " + " or ".join(f"'{m}'" for m in best) + "?"
    return None


def _wireshark(source: str, tokens: list[Token], upto: int) -> FilterSyntaxError | None:
    """Recognise Wireshark display-filter fields (``tcp.port == 80``) at or before the failure
    and translate the comparison when it is a common one."""
    for i, tok in enumerate(tokens[:upto + 1]):
        if tok.type != "ID" or not re.fullmatch(_WIRESHARK_FIELD, str(tok)):
            continue
        field = str(tok)
        rest = tokens[i + 1:i + 3]
        value = str(rest[1]) if len(rest) == 2 and rest[0].type in RELOPS else None
        op = str(rest[0]) if value is not None else ""
        if field == "frame.len" and value is not None:
            suggestion = f"len {'=' if op == '==' else op} {value}"
        elif field in _WIRESHARK_HINTS and op in ("==", "="):
            suggestion = _WIRESHARK_HINTS[field].format(value)
        else:
            proto = field.split(".", 1)[0]
            suggestion = _WIRESHARK_PROTOS.get(proto, proto) or "len"
        return FilterSyntaxError(
            f"'{field}' is Wireshark display-filter syntax, not pcap-filter: "
            f"try '{suggestion}'", source, tok.start_pos, tok.end_pos - tok.start_pos)
    return None
