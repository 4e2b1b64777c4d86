"""bpfc.syntax's diagnostics: the message and the caret for the mistakes people make.

Each row pins the error class, the message and the caret (0-based column and width). The texts
are ours; that each row *is* an error is the oracle's call, so every row is also checked to be
refused by libpcap 1.10.3 (or, for the 1.11 ``batadv`` rows, by libpcap's parser).
"""

from __future__ import annotations

import pytest

from bpfc import syntax
from bpfc.errors import FilterSemanticError, FilterSyntaxError
from tests import diffkit

SYN, SEM = FilterSyntaxError, FilterSemanticError
QERR = ("has no qualifiers to reuse: a bare value after 'and'/'or' borrows them from the "
        "primitive before it (as 443 does in 'port 80 or 443'), and that one has none; "
        "write them out, as in")

CASES: list[tuple[str, type[FilterSyntaxError], str, int, int]] = [
    # Wireshark display-filter syntax
    ("tcp.port == 80", SYN,
     "'tcp.port' is Wireshark display-filter syntax, not pcap-filter: try 'tcp port 80'", 0, 8),
    ("ip.src == 1.2.3.4", SYN,
     "'ip.src' is Wireshark display-filter syntax, not pcap-filter: try 'src host 1.2.3.4'",
     0, 6),
    ("ip.addr==10.0.0.1", SYN,
     "'ip.addr' is Wireshark display-filter syntax, not pcap-filter: try 'host 10.0.0.1'", 0, 7),
    ("udp.srcport == 53", SYN, ("'udp.srcport' is Wireshark display-filter syntax, not "
     "pcap-filter: try 'udp src port 53'"), 0, 11),
    ("eth.dst == ff:ff:ff:ff:ff:ff", SYN, ("'eth.dst' is Wireshark display-filter syntax, not "
     "pcap-filter: try 'ether dst ff:ff:ff:ff:ff:ff'"), 0, 7),
    ("frame.len > 100", SYN,
     "'frame.len' is Wireshark display-filter syntax, not pcap-filter: try 'len > 100'", 0, 9),
    ("ipv6.addr == ::1", SYN,
     "'ipv6.addr' is Wireshark display-filter syntax, not pcap-filter: try 'ip6 host ::1'",
     0, 9),
    ("tcp.flags.syn == 1", SYN,
     "'tcp.flags.syn' is Wireshark display-filter syntax, not pcap-filter: try 'tcp'", 0, 13),
    ("tcp port 22 and ip.dst == 10.0.0.1", SYN, ("'ip.dst' is Wireshark display-filter "
     "syntax, not pcap-filter: try 'dst host 10.0.0.1'"), 16, 6),
    # '==' where pcap-filter wants juxtaposition
    ("host == 1.2.3.4", SYN, ("'==' does not go after 'host': write the value right after the "
     "qualifier, as in 'host 10.0.0.1'"), 5, 2),
    ("port == 80", SYN, ("'==' does not go after 'port': write the value right after the "
     "qualifier, as in 'port 80'"), 5, 2),
    ("ether proto == 0x800", SYN, ("'==' does not go after 'proto': write the value right "
     "after the qualifier, as in 'proto 6'"), 12, 2),
    ("host localhost == 1.2.3.4", SYN, ("'==' compares numbers, not names or addresses: match "
     "a value with a qualifier instead, as in 'host 10.0.0.1' or 'port 80'"), 15, 2),
    # misspelled keywords
    ("tpc port 80", SYN, "unknown keyword 'tpc' (did you mean 'tcp'?)", 0, 3),
    ("hots 1.2.3.4", SYN, "unknown keyword 'hots' (did you mean 'host'?)", 0, 4),
    ("prot 80", SYN, "unknown keyword 'prot' (did you mean 'proto' or 'port'?)", 0, 4),
    ("tcp prot 80", SYN, "unknown keyword 'prot' (did you mean 'proto' or 'port'?)", 4, 4),
    ("icpm and udp", SYN, "unknown keyword 'icpm' (did you mean 'icmp'?)", 0, 4),
    ("tcp portrange 1-10 and dts port 3", SYN,
     "unknown keyword 'dts' (did you mean 'dst'?)", 23, 3),
    ("TCP port 80", SYN, "unknown keyword 'TCP' (keywords are lowercase: did you mean 'tcp'?)",
     0, 3),
    # parentheses
    ("(tcp port 80", SYN, "missing ')': this '(' is never closed", 0, 1),
    ("port 80 and (tcp or udp", SYN, "missing ')': this '(' is never closed", 12, 1),
    ("((tcp)", SYN, "missing ')': this '(' is never closed", 0, 1),
    ("tcp port 80)", SYN, "unbalanced ')': there is no '(' before it", 11, 1),
    ("tcp)) or (udp", SYN, "unbalanced ')': there is no '(' before it", 3, 1),
    ("()", SYN, "empty parentheses", 0, 2),
    ("tcp and ()", SYN, "empty parentheses", 8, 2),
    # dangling connectives
    ("tcp port 80 and", SYN, "the filter ends with 'and': expected a primitive after it",
     12, 3),
    ("tcp or", SYN, "the filter ends with 'or': expected a primitive after it", 4, 2),
    ("tcp and not", SYN, "the filter ends with 'not': expected a primitive after it", 8, 3),
    ("not", SYN, "the filter ends with 'not': expected a primitive after it", 0, 3),
    ("and tcp", SYN, "'and' needs a primitive before it", 0, 3),
    ("or udp", SYN, "'or' needs a primitive before it", 0, 2),
    ("tcp port 80 udp", SYN, "missing 'and' or 'or' before 'udp'", 12, 3),
    ("vlan 100 200", SYN, "missing 'and' or 'or' before '200'", 9, 3),
    # values without qualifiers
    ("80", SYN, "'80' needs a qualifier before it, as in 'port 80' or 'proto 80'", 0, 2),
    ("1.2.3.4", SYN,
     "'1.2.3.4' needs a qualifier before it, as in 'host 1.2.3.4' or 'net 1.2.3.4'", 0, 7),
    ("less 10 or 20", SYN, f"'20' {QERR} 'port 20'", 11, 2),
    ("(tcp port 80) or 443", SYN, f"'443' {QERR} 'port 443'", 17, 3),
    ("ip[0] = 1 or aa:bb:cc:dd:ee:ff", SEM,
     f"'aa:bb:cc:dd:ee:ff' {QERR} 'ether host aa:bb:cc:dd:ee:ff'", 13, 17),
    # keywords and characters the scanner treats specially
    ("ip proto tcp", SYN, "'tcp' is a keyword, not a value: write '\\tcp' to use it as a name",
     9, 3),
    ("port 80 #", SYN, "unexpected character '#'", 8, 1),
    ("host localhost;", SYN, "unexpected character ';'", 14, 1),
    # generic: what was found, what would have been accepted
    ("host", SYN, "unexpected end of filter: expected a value: a name, number or address",
     4, 1),
    ("ip[0] = ", SYN,
     "unexpected end of filter: expected a number, 'len', 'proto[offset]' or '('", 8, 1),
    ("ip[0:] = 1", SYN, "unexpected ']': expected a number", 5, 1),
    ("ip[0] 1", SYN, ("unexpected '1': expected a comparison ('=', '!=', '<', '<=', '>', '>=') "
     "or an arithmetic operator"), 6, 1),
    # checks libpcap makes while parsing
    ("port 08", SEM, "number '08' contains non-octal digit", 5, 2),
    ("port 4294967296", SEM, "number '4294967296' overflows 32 bits", 5, 10),
    ("ether host 1:2:3", SEM, "bogus ethernet address '1:2:'", 11, 4),
    ("host ::ffff:0x1.2.3.4", SEM, "bogus IPv6 address '::ffff:0x1.2.3.4'", 5, 16),
    ("type 1", SEM, "invalid 802.11 type value 0x01", 5, 1),
    ("type 8 subtype 3", SEM, "invalid 802.11 subtype value 0x03", 15, 1),
    ("type foo", SEM, "unknown 802.11 type name 'foo'", 5, 3),
    ("type mgt subtype data", SEM, "unknown 802.11 subtype name 'data'", 17, 4),
    ("subtype foo", SEM, "unknown 802.11 subtype name 'foo'", 8, 3),
    ("dir foo", SEM, "unknown 802.11 direction 'foo'", 4, 3),
    ("llc foo", SEM, "unknown LLC type name 'foo'", 4, 3),
    ("port 80 or 1.2.3.4", SEM, "'port' modifier applied to IP address", 11, 7),
    ("port ::1", SEM, "'port' modifier applied to IP address", 5, 3),
    ("portrange 10.0.0.0/8", SEM,
     "'portrange' modifier applied to IP address and prefix length", 10, 10),
    ("proto 10.0.0.0 mask 255.0.0.0", SEM, "'proto' modifier applied to IP address and netmask",
     6, 23),
    ("batadv 13 unicast", SEM, "batman-adv compatibility version number 13 unsupported", 7, 2),
    ("batadv 15 foo", SEM, "invalid batman-adv packet type value 'foo'", 10, 3),
]


@pytest.mark.parametrize(("text", "cls", "message", "column", "width"), CASES,
                         ids=[c[0] for c in CASES])
def test_message_and_caret(text: str, cls: type[FilterSyntaxError], message: str, column: int,
                           width: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        syntax.parse(text)
    exc = info.value
    assert type(exc) is cls
    assert str(exc) == message
    assert (exc.column, exc.width) == (column, width)


@pytest.mark.skipif(not diffkit.have_libpcap(), reason="libpcap not loadable")
@pytest.mark.parametrize("text", [c[0] for c in CASES])
def test_libpcap_refuses_it_too(text: str) -> None:
    for dlt in (1, 105, 123, 140):
        assert isinstance(diffkit.libpcap_compile(text, dlt, 65535, optimize=False), str), \
            f"libpcap 1.10.3 compiles {text!r} on DLT {dlt}"


def test_render_shows_the_caret_under_the_culprit() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        syntax.parse("tpc port 80")
    assert info.value.render() == (
        "bpfc: error: unknown keyword 'tpc' (did you mean 'tcp'?)\n"
        "  tpc port 80\n"
        "  ^~~")
    with pytest.raises(FilterSyntaxError) as info:
        syntax.parse("tcp port 80 and")
    assert info.value.render().splitlines()[-1] == "  " + " " * 12 + "^~~"


def test_end_of_filter_caret_sits_after_the_text() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        syntax.parse("tcp port")
    assert info.value.render().splitlines()[-1] == "  " + " " * len("tcp port") + "^"


def test_no_lark_exception_or_traceback_escapes() -> None:
    """Every failure is a FilterSyntaxError, chained to nothing from lark."""
    for text in ("(", ")", "[", "]", ":", "\\", "$", "$zz", "\x00", "é", "tcp[", "len ="):
        with pytest.raises(FilterSyntaxError) as info:
            syntax.parse(text)
        assert info.value.__cause__ is None
        assert info.value.__suppress_context__
