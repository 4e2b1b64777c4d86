"""The scanner: pcap-filter text -> tokens, cut and classified as libpcap's flex scanner does.

Stage: the first half of parsing (``bpfc.syntax``). Input: a filter expression as tcpdump takes
it; output: ``bpfc.lalr.Token``s (terminal name, text, half-open source range), produced lazily,
so that a word libpcap's scanner already refuses (a bogus MAC or IPv6 address, a number over 32
bits) raises ``FilterSemanticError`` at the same token as in libpcap.

It emulates flex rather than using lark's lexer: flex takes the longest match over all rules
(scanner.l's order breaking ties) and keywords are reserved everywhere, so ``portrange 1-1000``
is one word, ``len-1`` is a name, ``123456789012`` is a MAC address and ``ip proto tcp`` is an
error. A context-dependent (lark "contextual") lexer would accept that last one, so the grammar
``%declare``s its terminals and this module produces them.

This module also owns the token vocabulary the later parts of parsing share: the keyword table,
the named constants, the operator tables, and the canonical protocol name of each protocol
token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Final

from bpfc.errors import FilterSemanticError
from bpfc.lalr import Token

__all__ = ["ARITH_OPS", "KEYWORDS", "NAMED_CONSTANTS", "PROTO_NAMES", "PUNCT1", "PUNCT2",
           "RELOPS", "number_value", "scan"]

# =============================================================================================
# The token vocabulary: libpcap's scanner.l rules, in its order.

KEYWORDS: Final[dict[str, str]] = {
    "dst": "DST", "src": "SRC",
    "link": "LINK", "ether": "LINK", "ppp": "LINK", "slip": "LINK",
    "fddi": "LINK", "tr": "LINK", "wlan": "LINK",
    "arp": "ARP", "rarp": "RARP", "ip": "IP", "sctp": "SCTP", "tcp": "TCP", "udp": "UDP",
    "icmp": "ICMP", "igmp": "IGMP", "igrp": "IGRP", "pim": "PIM", "vrrp": "VRRP", "carp": "CARP",
    "radio": "RADIO", "ip6": "IPV6", "icmp6": "ICMPV6", "ah": "AH", "esp": "ESP",
    "atalk": "ATALK", "aarp": "AARP", "decnet": "DECNET", "lat": "LAT", "sca": "SCA",
    "moprc": "MOPRC", "mopdl": "MOPDL",
    "iso": "ISO", "esis": "ESIS", "es-is": "ESIS", "isis": "ISIS", "is-is": "ISIS",
    "l1": "L1", "l2": "L2", "iih": "IIH", "lsp": "LSP", "snp": "SNP", "csnp": "CSNP",
    "psnp": "PSNP", "clnp": "CLNP", "stp": "STP", "ipx": "IPX", "netbeui": "NETBEUI",
    "host": "HOST", "net": "NET", "mask": "NETMASK", "port": "PORT", "portrange": "PORTRANGE",
    "proto": "PROTO", "protochain": "PROTOCHAIN", "gateway": "GATEWAY",
    "type": "TYPE", "subtype": "SUBTYPE", "direction": "DIR", "dir": "DIR",
    "address1": "ADDR1", "addr1": "ADDR1", "address2": "ADDR2", "addr2": "ADDR2",
    "address3": "ADDR3", "addr3": "ADDR3", "address4": "ADDR4", "addr4": "ADDR4",
    "ra": "RA", "ta": "TA",
    "less": "LESS", "greater": "GREATER", "byte": "CBYTE",
    "broadcast": "TK_BROADCAST", "multicast": "TK_MULTICAST",
    "and": "AND", "&&": "AND", "or": "OR", "||": "OR", "not": "NOT",
    "len": "LEN", "length": "LEN", "inbound": "INBOUND", "outbound": "OUTBOUND",
    "ifindex": "IFINDEX",
    "vlan": "VLAN", "mpls": "MPLS", "pppoed": "PPPOED", "pppoes": "PPPOES", "geneve": "GENEVE",
    "vxlan": "VXLAN", "batadv": "BATADV",
    "lane": "LANE", "llc": "LLC", "metac": "METAC", "bcc": "BCC", "oam": "OAM",
    "oamf4": "OAMF4", "oamf4ec": "OAMF4EC", "oamf4sc": "OAMF4SC", "sc": "SC", "ilmic": "ILMIC",
    "vpi": "VPI", "vci": "VCI", "connectmsg": "CONNECTMSG", "metaconnect": "METACONNECT",
    "on": "PF_IFNAME", "ifname": "PF_IFNAME", "rset": "PF_RSET", "ruleset": "PF_RSET",
    "rnr": "PF_RNR", "rulenum": "PF_RNR", "srnr": "PF_SRNR", "subrulenum": "PF_SRNR",
    "reason": "PF_REASON", "action": "PF_ACTION",
    "fisu": "FISU", "lssu": "LSSU", "lsu": "LSSU", "msu": "MSU", "hfisu": "HFISU",
    "hlssu": "HLSSU", "hmsu": "HMSU", "sio": "SIO", "opc": "OPC", "dpc": "DPC", "sls": "SLS",
    "hsio": "HSIO", "hopc": "HOPC", "hdpc": "HDPC", "hsls": "HSLS",
}
"""Every reserved word of libpcap's scanner (case-sensitive, as flex matches them) -> token."""

NAMED_CONSTANTS: Final[dict[str, int]] = {
    "icmptype": 0, "icmpcode": 1,
    "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
    "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
    "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
    "icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
    "icmp6type": 0, "icmp6code": 1,
    "icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
    "icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
    "icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
    "icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
    "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
    "icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
    "icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
    "icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
    "icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
    "icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
    "icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
    "icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
    "icmp6-multicastrouterterm": 153,
    "tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
    "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}
"""The scanner's named numbers (header offsets, ICMP types, TCP flags): they lex as NUM."""

PUNCT2: Final = {">=": "GEQ", "<=": "LEQ", "!=": "NEQ", "==": "EQ", "<<": "LSH", ">>": "RSH",
                 "&&": "AND", "||": "OR"}
"""Two-character operators -> token; tried before ``PUNCT1``, as flex's longest match does."""
PUNCT1: Final = {"+": "PLUS", "-": "MINUS", "*": "STAR", "/": "SLASH", "%": "PERCENT",
                 ":": "COLON", "[": "LSQB", "]": "RSQB", "!": "NOT", "<": "LT", ">": "GT",
                 "(": "LPAR", ")": "RPAR", "&": "AMP", "|": "PIPE", "^": "CARET", "=": "EQ"}
"""One-character operators and punctuation -> token."""

PROTO_NAMES: Final = {
    "LINK": "link", "IP": "ip", "ARP": "arp", "RARP": "rarp", "SCTP": "sctp", "TCP": "tcp",
    "UDP": "udp", "ICMP": "icmp", "IGMP": "igmp", "IGRP": "igrp", "PIM": "pim", "VRRP": "vrrp",
    "CARP": "carp", "ATALK": "atalk", "AARP": "aarp", "DECNET": "decnet", "LAT": "lat",
    "SCA": "sca", "MOPDL": "mopdl", "MOPRC": "moprc", "IPV6": "ip6", "ICMPV6": "icmp6",
    "AH": "ah", "ESP": "esp", "ISO": "iso", "ESIS": "esis", "ISIS": "isis", "L1": "l1",
    "L2": "l2", "IIH": "iih", "LSP": "lsp", "SNP": "snp", "PSNP": "psnp", "CSNP": "csnp",
    "CLNP": "clnp", "STP": "stp", "IPX": "ipx", "NETBEUI": "netbeui", "RADIO": "radio",
}
"""Token -> the canonical ``Qualifiers.proto``. ``ether``, ``fddi``, ``tr``, ``wlan``, ``ppp``
and ``slip`` are scanner aliases of ``link`` and come out as ``"link"``."""

RELOPS: Final = {"GT": ">", "GEQ": ">=", "EQ": "=", "LEQ": "<=", "LT": "<", "NEQ": "!="}
"""Comparison token -> its operator as ``nodes.Relation`` spells it."""
ARITH_OPS: Final = {"PIPE": "|", "AMP": "&", "LSH": "<<", "RSH": ">>", "PLUS": "+",
                    "MINUS": "-", "STAR": "*", "SLASH": "/", "PERCENT": "%", "CARET": "^"}
"""Arithmetic operator token -> its operator as ``nodes.BinOp`` spells it."""

# =============================================================================================
# The scanner proper.


def _v6_pattern() -> str:
    """scanner.l's V6 alternatives: 8 groups, or fewer around one '::', optionally ending in a
    dotted IPv4 address in place of the last two groups."""
    w, n = "[0-9A-Fa-f]{1,4}", "(?:[0-9]+|0[xX][0-9A-Fa-f]+)"
    v4 = rf"{n}\.{n}\.{n}\.{n}"

    def groups(k: int) -> str:
        return ":".join([w] * k)

    alts = [groups(8), groups(6) + ":" + v4]
    for total, tail in ((7, ""), (5, v4)):
        for explicit in range(total, -1, -1):
            for before in range(explicit + 1):
                after = explicit - before
                text = groups(before) + "::" + groups(after)
                if tail:
                    text += (":" if after else "") + tail
                alts.append(text)
    return "|".join(f"(?:{a})" for a in alts)


@cache
def _v6_regex() -> re.Pattern[str]:
    """Compiled on first use: the 60 alternatives take ~15 ms, which filters without IPv6
    addresses should not pay at start-up."""
    return re.compile(_v6_pattern())


_B, _B2 = "[0-9A-Fa-f]{1,2}", "[0-9A-Fa-f]{4}"
_MAC_RE: Final = re.compile(
    rf"{_B}(?::{_B}){{5}}|{_B}(?:-{_B}){{5}}|{_B}(?:\.{_B}){{5}}|{_B2}\.{_B2}\.{_B2}|(?:{_B2}){{3}}")
_N_RE: Final = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]+")
_HID_RE: Final = re.compile(r"(?:[0-9]+|0[xX][0-9A-Fa-f]+)(?:\.(?:[0-9]+|0[xX][0-9A-Fa-f]+)){1,3}")
_BOGUS_MAC_RE: Final = re.compile(rf"{_B}:+(?:{_B}:+)+")
_ID_RE: Final = re.compile(r"[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?")
_RUN_RE: Final = re.compile(r"[A-Za-z0-9_.:-]+")
_AID_RE: Final = re.compile(r"\$[0-9A-Fa-f]{1,2}")
_ESCAPED_RE: Final = re.compile(r"\\[^ !()\n\t]+")
_WORD_START: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:")


def _classify_word(word: str) -> str | None:
    """The token type flex would give ``word`` if it matched exactly, rule order breaking ties."""
    if word in KEYWORDS:
        return KEYWORDS[word]
    if _MAC_RE.fullmatch(word):
        return "EID"
    if _N_RE.fullmatch(word):
        return "NUM"
    if _HID_RE.fullmatch(word):
        return "HID"
    if ":" in word and _v6_regex().fullmatch(word):
        return "HID6"
    if _BOGUS_MAC_RE.fullmatch(word):
        return "BOGUS_EID"
    if word in NAMED_CONSTANTS:
        return "NUM"
    if _ID_RE.fullmatch(word):
        return "ID"
    return None


def number_value(text: str, source: str = "", column: int | None = None) -> int:
    """libpcap's ``stoulen``: decimal, ``0x`` hex or leading-``0`` octal, at most 32 bits."""
    if text in NAMED_CONSTANTS:
        return NAMED_CONSTANTS[text]
    if text[:2] in ("0x", "0X"):
        value = int(text, 16)
    elif text.startswith("0") and len(text) > 1:
        if not text.isdigit() or any(c in "89" for c in text):
            raise FilterSemanticError(f"number '{text}' contains non-octal digit",
                                      source, column, len(text))
        value = int(text, 8)
    else:
        value = int(text)
    if value > 0xFFFFFFFF:
        raise FilterSemanticError(f"number '{text}' overflows 32 bits", source, column, len(text))
    return value


def scan(text: str) -> Iterator[Token]:
    """Tokens of ``text`` exactly as libpcap's flex scanner would cut and classify them."""
    pos, end = 0, len(text)
    while pos < end:
        c = text[pos]
        if c in " \t\r\n":
            pos += 1
            continue
        kind: str | None = None
        stop = pos + 1
        value: str | None = None
        if c in _WORD_START:
            run = _RUN_RE.match(text, pos)
            if run is not None:
                word = run.group()
                for length in range(len(word), 0, -1):
                    kind = _classify_word(word[:length])
                    if kind is not None:
                        stop = pos + length
                        break
        if kind is None:
            two = text[pos:pos + 2]
            if two in PUNCT2:
                kind, stop = PUNCT2[two], pos + 2
            elif c in PUNCT1:
                kind = PUNCT1[c]
            elif c == "$" and (m := _AID_RE.match(text, pos)):
                kind, stop = "AID", m.end()
            elif c == "\\" and (m := _ESCAPED_RE.match(text, pos)):
                kind, stop, value = "ID", m.end(), m.group()[1:]
            else:
                kind = "LEX_ERROR"
        word = text[pos:stop]
        if kind == "BOGUS_EID":
            raise FilterSemanticError(f"bogus ethernet address '{word}'", text, pos, len(word))
        if kind == "NUM":
            number_value(word, text, pos)
        elif kind == "HID6":
            _check_ipv6(word, text, pos)
        yield Token(kind, word if value is None else value, pos, stop)
        pos = stop


def _check_ipv6(word: str, source: str, column: int) -> None:
    """libpcap asks getaddrinfo(AI_NUMERICHOST) about every IPv6-shaped word."""
    import ipaddress  # only filters with IPv6 addresses pay for the import

    try:
        ipaddress.IPv6Address(word)
    except ValueError:
        raise FilterSemanticError(f"bogus IPv6 address '{word}'", source, column,
                                  len(word)) from None

