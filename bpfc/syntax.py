"""Stage 1, parsing: pcap-filter text -> ``nodes.Expr``.

Input is a filter expression as tcpdump takes it; output is the AST of ``bpfc.nodes`` with a
source ``span`` on every node. The language is libpcap's (grammar.y.in and scanner.l, libpcap
1.10, plus ``vxlan``, ``batadv`` and ``ifindex`` from 1.11), and so is the outcome: a string that
libpcap's parser rejects raises ``FilterSyntaxError``; the checks libpcap's grammar actions make
(802.11 type values, ``port`` applied to an IP address, numbers over 32 bits, ...) raise
``FilterSemanticError``. Names are not resolved here; lowering does that.

Three parts, in pipeline order:

* the **scanner** emulates libpcap's flex scanner rather than lark's: flex takes the longest match
  over all rules and keywords are reserved everywhere, so ``portrange 1-1000`` is one word,
  ``len-1`` is a name, ``123456789012`` is a MAC address and ``ip proto tcp`` is an error. A
  context-dependent (lark "contextual") lexer would accept that last one, so the grammar declares
  its terminals and this module produces them;
* the **parser** is lark's LALR(1) over ``grammar/pcap-filter.lark``, built once and cached on
  disk (keyed by a hash of the grammar and the lark version). Its tables are exported beside
  that cache as plain data, and ``bpfc.lalr`` drives them, so a process whose filter parses
  never imports lark (a fifth of a cold ``bpfc -d``); a filter the tables refuse goes to lark,
  whose exception the error diagnosis below is written against;
* the **builder** walks the parse tree with libpcap's inherited qualifiers (grammar.y's
  ``$<blk>0.q``): a bare id after ``and``/``or``/``not`` reuses the qualifiers of the term
  before it,
  a parenthesised expression passes on the qualifiers from before its ``(``, and every other kind
  of term passes on none, so a bare id after it is an error, as in libpcap.

``unparse`` prints an AST back as canonical pcap-filter text that parses to the same AST.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from bpfc import lalr, nodes
from bpfc.errors import FilterSemanticError, FilterSyntaxError
from bpfc.lalr import Token, Tree

if TYPE_CHECKING:
    import lark
    from lark.exceptions import UnexpectedInput

__all__ = ["KEYWORDS", "NAMED_CONSTANTS", "parse", "unparse"]

# =============================================================================================
# The scanner: libpcap's scanner.l rules, in its order.

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

_PUNCT2: Final = {">=": "GEQ", "<=": "LEQ", "!=": "NEQ", "==": "EQ", "<<": "LSH", ">>": "RSH",
                  "&&": "AND", "||": "OR"}
_PUNCT1: Final = {"+": "PLUS", "-": "MINUS", "*": "STAR", "/": "SLASH", "%": "PERCENT",
                  ":": "COLON", "[": "LSQB", "]": "RSQB", "!": "NOT", "<": "LT", ">": "GT",
                  "(": "LPAR", ")": "RPAR", "&": "AMP", "|": "PIPE", "^": "CARET", "=": "EQ"}


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


def _scan(text: str) -> Iterator[Token]:
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
            if two in _PUNCT2:
                kind, stop = _PUNCT2[two], pos + 2
            elif c in _PUNCT1:
                kind = _PUNCT1[c]
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


def _flex_lexer() -> type[Any]:
    """``FlexLexer``: an adapter that feeds ``_scan``'s tokens to lark's LALR parser, as lark's
    own ``Token``s. Defined on first use, because subclassing lark's ``Lexer`` imports lark."""
    global _FLEX_LEXER
    if _FLEX_LEXER is not None:
        return _FLEX_LEXER
    from lark.lexer import Lexer, LexerState
    from lark.lexer import Token as LarkToken

    class FlexLexer(Lexer):
        __future_interface__ = 2  # lark: call lex(lexer_state, parser_state) directly

        def __init__(self, lexer_conf: Any) -> None:
            del lexer_conf  # terminals are all %declare'd; the scanner knows them

        def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[LarkToken]:
            del parser_state
            text = lexer_state.text
            for t in _scan(text.text if hasattr(text, "text") else str(text)):
                yield LarkToken(t.type, t.value, start_pos=t.start_pos, line=1,
                                column=t.start_pos + 1, end_line=1, end_column=t.end_pos + 1,
                                end_pos=t.end_pos)

    _FLEX_LEXER = FlexLexer
    return FlexLexer


_FLEX_LEXER: type[Any] | None = None


def __getattr__(name: str) -> Any:
    if name == "FlexLexer":
        return _flex_lexer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# =============================================================================================
# The parser: plain LALR tables (bpfc.lalr) on the way that succeeds, lark's parser to diagnose
# errors; both built once per process and cached on disk across processes.

_CACHE_FORMAT = "3"


class LalrParser:
    """lark's LALR(1) parser proper, fed by ``_scan``; returns lark's tree.

    A cached parser is lark's ``LALR_Parser`` object pickled whole: unpickling it takes ~2 ms,
    where ``Lark.load`` spends ~15 ms re-deserialising the same tables. The cache key includes
    lark's version, and anything unexpected in a cache file just means rebuilding.
    """

    def __init__(self, lalr: Any) -> None:
        self._lalr = lalr
        self._lexer = _flex_lexer()(None)

    def parse(self, text: str) -> Any:
        from lark.lexer import LexerThread

        return self._lalr.parse(LexerThread.from_text(self._lexer, text), "start")


class Parser:
    """The parser ``parse`` uses: ``bpfc.lalr``'s driver over plain tables when they are at
    hand, lark's parser otherwise and for every string the tables refuse, so that a syntax error
    reads exactly as lark's exception lets ``_explain`` diagnose it. lark is imported only then.
    """

    def __init__(self, tables: lalr.Tables | None, fallback: LalrParser | None = None) -> None:
        self.tables = tables
        self._lark = fallback

    def parse(self, text: str) -> lalr.Tree:
        if self.tables is not None:
            tree = lalr.parse(self.tables, _scan(text))
            if isinstance(tree, lalr.Tree):
                return tree
        return self._lark_parse(text)

    def _lark_parse(self, text: str) -> lalr.Tree:
        from lark.exceptions import UnexpectedInput

        if self._lark is None:
            self._lark = _lark_parser(_grammar_text())[0]
        try:
            tree = lalr.from_lark(self._lark.parse(text))
        except UnexpectedInput as exc:
            raise _explain_safely(text, exc) from None
        assert isinstance(tree, lalr.Tree), tree
        return tree


_parser: Parser | None = None
_SELF_CHECK: Final = "tcp port 80 or (443) and not len % 4 + 1 = 0 or vpi (1 or 2)"
"""Stored with its parse tree in both caches: a loaded parser must parse it the same way."""


def _grammar_text() -> str:
    """The grammar from the installed package (``bpfc.grammar``) or from the source tree.

    Found through the ``bpfc.grammar`` package's own file (a wheel and an editable install both
    map it), not ``importlib.resources``, whose imports cost a cold start several milliseconds.
    """
    try:
        import importlib

        package = importlib.import_module("bpfc.grammar")  # grammar/ mapped into the package
        path = os.path.join(os.path.dirname(package.__file__ or ""), "pcap-filter.lark")
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (ImportError, OSError):
        here = os.path.dirname(os.path.realpath(__file__))
        with open(os.path.join(here, os.pardir, "grammar", "pcap-filter.lark"),
                  encoding="utf-8") as f:
            return f.read()


def _cache_dirs() -> list[str]:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return [os.path.join(base, "bpfc"), os.path.join(tmp, f"bpfc-{os.getuid()}")]


def _private(directory: str) -> bool:
    """Only trust (unpickle from) a directory that is ours and that nobody else can write:
    the fallback lives in a shared temporary directory."""
    try:
        st = os.stat(directory)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _build(grammar: str) -> lark.Lark:
    import lark

    return lark.Lark(grammar, parser="lalr", lexer=_flex_lexer(), propagate_positions=True,
                     maybe_placeholders=False)


def _lark_version() -> str | None:
    """lark's version without importing lark (a cold start's largest single cost), for the
    cache key: read from its ``__init__.py``. None if that cannot be done, which only means
    importing lark to ask it."""
    module = sys.modules.get("lark")
    if module is not None:
        return str(module.__version__)
    import importlib.util

    try:
        spec = importlib.util.find_spec("lark")
        if spec is None or not spec.origin:
            return None
        with open(spec.origin, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (ImportError, ValueError, OSError):
        return None
    for line in lines:  # `__version__: str = "1.3.1"`
        name, equals, value = line.partition("=")
        if name.split(":")[0].strip() == "__version__" and equals:
            value = value.strip()
            if len(value) > 2 and value[0] == value[-1] and value[0] in "'\"":
                return value[1:-1]
    return None


def _cache_name(grammar: str, lark_version: str) -> str:
    """The cache files' common stem. Two 32-bit checksums name it (hashlib's OpenSSL import
    alone costs ~2 ms); a collision would only load a parser that fails its self-check."""
    import zlib

    key = f"{grammar}\0{lark_version}\0{sys.version}\0{_CACHE_FORMAT}".encode()
    return f"pcap-filter-{zlib.crc32(key):08x}{zlib.adler32(key):08x}"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _load_tables(stem: str) -> lalr.Tables | None:
    """The plain tables from a trusted cache directory, if they are there, were exported from
    the lark cache file beside them as it is now (its CRC is stored with them, so a lark cache
    that was rebuilt or replaced takes its tables with it), and still parse the self-check."""
    import zlib

    for directory in _cache_dirs():
        if not _private(directory):
            continue
        blob = _read(os.path.join(directory, stem + ".lalr-tables"))
        lark_blob = _read(os.path.join(directory, stem + ".lark-cache"))
        if blob is None or lark_blob is None:
            continue
        try:
            tables, lark_crc = lalr.Tables.loads(blob)
            if lark_crc != zlib.crc32(lark_blob):
                continue
            tree = lalr.parse(tables, _scan(_SELF_CHECK))
            if tree is not None and lalr.shape(tree) == tables.check:
                return tables
        except Exception:  # noqa: BLE001, S112 - a bad cache file only means rebuilding
            continue
    return None


def _lark_parser(grammar: str) -> tuple[LalrParser, str | None, bytes | None]:
    """lark's parser, unpickled from the on-disk cache when its key matches, else built (about
    70 ms) and saved; an unwritable or untrusted cache directory just means building. Also
    returns the cache directory and file contents it came from or went to (None if neither)."""
    import pickle

    import lark

    stem = _cache_name(grammar, lark.__version__)
    for directory in _cache_dirs():
        if not _private(directory):
            continue
        blob = _read(os.path.join(directory, stem + ".lark-cache"))
        if blob is None:
            continue
        try:
            lalr_parser, check_tree = pickle.loads(blob)
            loaded = LalrParser(lalr_parser)
            if loaded.parse(_SELF_CHECK) != check_tree:
                continue
            return loaded, directory, blob
        except Exception:  # noqa: BLE001, S112 - a bad cache file only means rebuilding
            continue
    built = LalrParser(_build(grammar).parser.parser)
    blob = _dumps((built._lalr, built.parse(_SELF_CHECK)))
    where = _save(stem + ".lark-cache", blob)
    return built, where, blob if where is not None else None


def _save(name: str, blob: bytes, directory: str | None = None) -> str | None:
    """Write ``blob`` atomically into ``directory`` or the first trusted cache directory that
    takes it; returns the directory, or None if none did."""
    for candidate in _cache_dirs() if directory is None else [directory]:
        try:
            os.makedirs(candidate, mode=0o700, exist_ok=True)
            if not _private(candidate):
                continue
            import tempfile

            fd, tmp = tempfile.mkstemp(dir=candidate, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, os.path.join(candidate, name))  # atomic for concurrent readers
            return candidate
        except OSError:
            continue
    return None


def get_parser() -> Parser:
    """The parser: plain tables when the cache has them (no lark import), else lark's parser,
    loaded or built, with the tables exported from it and saved beside its cache file."""
    global _parser
    if _parser is not None:
        return _parser
    grammar = _grammar_text()
    version = _lark_version()
    tables = _load_tables(_cache_name(grammar, version)) if version is not None else None
    if tables is not None:
        _parser = Parser(tables)
        return _parser
    import zlib

    fallback, directory, lark_blob = _lark_parser(grammar)
    tables = lalr.export(fallback._lalr)
    if tables is not None:
        tables.check = lalr.shape(lalr.from_lark(fallback.parse(_SELF_CHECK)))
        tree = lalr.parse(tables, _scan(_SELF_CHECK))
        if tree is None or lalr.shape(tree) != tables.check:
            tables = None  # lark builds trees in a way the driver does not: use lark alone
    if tables is not None and directory is not None and lark_blob is not None:
        import lark

        stem = _cache_name(grammar, lark.__version__)
        _save(stem + ".lalr-tables", tables.dumps(zlib.crc32(lark_blob)), directory)
    _parser = Parser(tables, fallback)
    return _parser


def _dumps(value: Any) -> bytes:
    """Pickle lark's parser, keeping its ``Shift``/``Reduce`` singletons (compared with ``is``)
    as references to lark's module globals rather than copies."""
    import io
    import pickle

    from lark.parsers.lalr_analysis import Action

    class Pickler(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, Action):
                return obj.name  # a global of lark.parsers.lalr_analysis: Shift or Reduce
            return NotImplemented

    buffer = io.BytesIO()
    Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def parse(text: str) -> nodes.Expr:
    """Parse a pcap-filter expression; raise ``FilterSyntaxError`` or ``FilterSemanticError``."""
    if not text.strip():
        return nodes.Empty(span=(0, len(text)))
    try:
        tree = get_parser().parse(text)
        expr, _ = _Builder(text).expr(tree.children[0], None)
    except RecursionError:
        raise FilterSyntaxError("expression nested too deeply", text, 0, len(text)) from None
    return expr

# =============================================================================================
# The builder: parse tree -> nodes, with libpcap's qualifier inheritance.

_PROTO_NAMES: Final = {
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

_DIRS: Final = {"SRC": "src", "DST": "dst", "ADDR1": "addr1", "ADDR2": "addr2",
                "ADDR3": "addr3", "ADDR4": "addr4", "RA": "ra", "TA": "ta"}
_RELOPS: Final = {"GT": ">", "GEQ": ">=", "EQ": "=", "LEQ": "<=", "LT": "<", "NEQ": "!="}
_ARITH_OPS: Final = {"PIPE": "|", "AMP": "&", "LSH": "<<", "RSH": ">>", "PLUS": "+",
                     "MINUS": "-", "STAR": "*", "SLASH": "/", "PERCENT": "%", "CARET": "^"}
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
                proto = _PROTO_NAMES[_first_token(child).type]
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
            return nodes.ProtoAbbrev(_PROTO_NAMES[_first_token(kids[0]).type], span=span)
        if kind == "rterm_relation":
            op_tok = _first_token(kids[1])
            return nodes.Relation(_RELOPS[op_tok.type], self.arith(kids[0]),  # type: ignore
                                  self.arith(kids[2]), span=span)
        if kind in ("broadcast", "multicast"):
            proto = _PROTO_NAMES[_first_token(kids[0]).type] if len(kids) == 2 else None
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
            op = _NEGATED.get(op_tok.type, _RELOPS[op_tok.type])
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
                op = _ARITH_OPS[_first_token(link.children[1]).type]
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
        proto = _PROTO_NAMES[_first_token(kids[0]).type]
        size = self._num(_tok(kids[4])) if len(kids) == 6 else 1
        return nodes.Accessor(proto, self.arith(kids[2]), size, span=span)


# =============================================================================================
# Friendly syntax errors.

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
    "LEX_ERROR": "a character", **{v: f"'{k}'" for k, v in {**_PUNCT1, **_PUNCT2}.items()},
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
    if set(_RELOPS) <= rest:
        groups.append("a comparison ('=', '!=', '<', '<=', '>', '>=')")
        rest -= set(_RELOPS)
    if len(rest & set(_ARITH_OPS)) >= 3:
        groups.append("an arithmetic operator")
        rest -= set(_ARITH_OPS)
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
        out.extend(_scan(source))
    except FilterSyntaxError:
        pass
    return out


_EXAMPLES: Final = {"HOST": "host 10.0.0.1", "NET": "net 10.0.0.0/8", "PORT": "port 80",
                    "PORTRANGE": "portrange 1-1023", "SRC": "src 10.0.0.1",
                    "DST": "dst 10.0.0.1", "PROTO": "proto 6", "PROTOCHAIN": "protochain 6",
                    "GATEWAY": "gateway router"}
_PRIMITIVE_STARTS: Final = frozenset(set(_PROTO_NAMES) | {
    "HOST", "NET", "PORT", "PORTRANGE", "SRC", "DST", "LESS", "GREATER", "VLAN", "MPLS",
    "INBOUND", "OUTBOUND", "LEN", "NOT", "LPAR", "NUM"})
_KEYWORD_TYPES: Final = frozenset(KEYWORDS.values())
_COMMON_KEYWORDS: Final = frozenset({
    "host", "net", "port", "portrange", "src", "dst", "ether", "ip", "ip6", "tcp", "udp",
    "icmp", "icmp6", "arp", "rarp", "proto", "protochain", "and", "or", "not", "less",
    "greater", "len", "broadcast", "multicast", "vlan", "mpls", "gateway", "sctp", "inbound",
    "outbound"})


def _explain_safely(source: str, exc: UnexpectedInput) -> FilterSyntaxError:
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
    if tok.type in _RELOPS and prev is not None and prev.type in _QUALIFIER_TOKENS:
        return error(f"'{tok}' does not go after '{prev}': write the value right after the "
                     f"qualifier, as in '{_EXAMPLES.get(prev.type, f'{prev} 10.0.0.1')}'")
    if tok.type in _RELOPS and prev is not None and prev.type in _VALUE_TOKENS - {"NUM"}:
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
        value = str(rest[1]) if len(rest) == 2 and rest[0].type in _RELOPS else None
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


# =============================================================================================
# unparse: AST -> canonical text.

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
        toks = list(_scan(text))
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
