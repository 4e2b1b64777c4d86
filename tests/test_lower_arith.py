"""Accessors, arithmetic, relations, ``len``/``less``/``greater`` and ``byte`` against libpcap.

Same method as ``test_lower_transport``: compile the text with bpfc and with libpcap 1.10 and
compare the return values on every corpus and generated packet of the link type, truncated
copies included. The rows cover every accessor libpcap allows, every operator and relation,
the guards libpcap puts before loads (including the ones it drops: ``len + tcp[0]``), its
optimizer's folding (``ip[100] & 0`` is 0 even on a short packet), 32-bit wraparound, run-time
division by zero, and the compile-time errors.
"""

from __future__ import annotations

import pytest

from bpfc.errors import FilterSemanticError
from tests import lowerkit
from tests.test_lower_transport import (
    EN10MB,
    IPV4,
    IPV6,
    LINUX_SLL,
    LINUX_SLL2,
    LOOP,
    NULL,
    RAW,
    assert_same,
    generated_packets,
    packets,
)

ACCESSORS = [
    "ether[0] & 1 = 1", "link[12:2] = 0x800", "ether[12:2] = 0x86dd", "ip[0] = 0x45",
    "ip[2:2] > 576", "ip[12:4] = 0x0a000001", "ip[0:4] = 0x45000028", "ip6[6] = 17",
    "ip6[0:4] & 0xfff00000 = 0x60000000", "arp[7] = 1", "rarp[7] = 3", "atalk[0] = 0",
    "decnet[0] = 0", "sca[0] = 0", "lat[0] = 0", "moprc[0] = 0", "mopdl[0] = 0",
    "tcp[13] & 2 != 0", "tcp[0:2] = 1234", "tcp[2:2] = 80", "tcp[12] >> 4 = 5",
    "tcp[tcpflags] & tcp-syn != 0", "udp[0:2] = 53", "udp[4:2] > 8", "sctp[0:2] = 1000",
    "icmp[0] = 8", "igmp[0] = 0x11", "igrp[0] = 0x11", "pim[0] = 0x20", "vrrp[0] = 0x21",
    "carp[0] = 0x21", "icmp6[0] = 128", "icmp6[4:4] = 0x00010001",
]

INDEXES = [
    "tcp[ip[0] & 0xf] = 0", "ip[len - 60] = 0", "tcp[(tcp[12] >> 4) * 4] = 0",
    "ether[ip[9]] = 0", "icmp6[ip6[4:2] - 8] = 0x80", "udp[udp[4:2] - 2:2] = 0",
    "ip[ip[0] - 0x45] = 0",
]

OPERATORS = [
    "len + 4 = 64", "len - 60 > 0x7fffffff", "len * 0x10000000 = 0", "len / 3 = 20",
    "len % 7 = 3", "ip[0] & 0xf = 5", "ip[0] | 0x40 = 0x45", "ip[0] ^ 0x40 = 5",
    "ip[0] << 4 = 0x450", "ip[0] >> 4 = 4", "-len = 0xffffffc4", "-ip[0] > 0x7fffffff",
    "len - len = 0", "len * len > 1000", "1 + 2 * 3 = 7", "(len + 1) * 2 - len = len + 2",
]

RELATIONS = [
    "len = 60", "len != 60", "len < 60", "len <= 60", "len > 60", "len >= 60", "60 < len",
    "64 = len", "0x46 > ip[0]", "0x50 >= ip[0]", "0x45 != ip[0]", "ip[0] >= tcp[0]",
    "ip[2:2] != udp[4:2]", "ip[0] <= ip6[0]", "1 = 1", "1 = 2", "2 > 1",
]

GUARDS = [
    "len - tcp[0] = 54", "tcp[0] + len = 54", "ip[0] + tcp[0] = 0x45", "ip6[0] - tcp[0] = 0",
    "0 - tcp[0] = 0", "-tcp[0] = 0", "len + icmp6[0] = 0x80", "arp[0] + ip[0] = 0",
]

FOLDING = [
    "ip[100] & 0 = 0", "ip[100] * 0 = 0", "0 * ip[100] = 0", "0 & tcp[100] = 0",
    "0 / ip[100] = 0", "0 % ip[100] = 0", "0 << tcp[1] = 0", "0 >> ip[1] = 0",
    "(ip[100] & 0) + 1 = 1", "ip[100] + 0 = ip[100]", "0 | ip[0] = 0x45", "0 ^ ip[0] = 0x45",
    "ip[0] - 0 = 0x45", "ip[0] << 0 = 0x45", "ip[100] | 0xffffffff = 0xffffffff",
]

WRAPAROUND = [
    "ip[0xffffffff] = 0", "ip[0xfffffffe:2] = 0x0800", "ether[0xfffffff0:4] = 0",
    "len + 0xffffffff = 59", "len * 0x80000000 = 0", "-len > len",
]

RUNTIME_FAULTS = [
    "len / (len - len) = 0", "len % (len - len) = 0", "ip[1:2] / ip[3] = 0",
    "len % (ip[1] & 0xff) = 0", "tcp[100:4] = 0", "ip[65535] = 0",
]

LENGTHS = ["less 60", "greater 100", "less 0", "greater 0", "less 4294967295", "greater 61"]

BYTES = ["byte 23 = 6", "byte 12 < 8", "byte 12 > 8", "byte 100 = 0", "byte 14 = 0x45",
         "byte 9 = 17"]

TABLE = ACCESSORS + INDEXES + OPERATORS + RELATIONS + GUARDS + FOLDING + WRAPAROUND \
    + RUNTIME_FAULTS + LENGTHS + BYTES

#: For the link types whose header is all that differs.
PER_LINK = ["ip[0] = 0x45", "tcp[13] & 2 != 0", "ip6[6] = 17", "icmp6[0] = 128",
            "link[0] & 0xf0 = 0x40", "len + tcp[0] = 0", "udp[0:2] = 53", "byte 0 = 0x45",
            "ip[0xffffffff] = 0", "less 80"]


@pytest.mark.parametrize("expr", TABLE)
@pytest.mark.parametrize("dlt", [EN10MB, RAW], ids=["EN10MB", "RAW"])
def test_matches_libpcap(expr: str, dlt: int) -> None:
    assert_same(expr, dlt)


@pytest.mark.parametrize("expr", PER_LINK)
@pytest.mark.parametrize("dlt", [LINUX_SLL, LINUX_SLL2, IPV4, IPV6, NULL, LOOP],
                         ids=["LINUX_SLL", "LINUX_SLL2", "IPV4", "IPV6", "NULL", "LOOP"])
def test_matches_libpcap_on_every_link_type(expr: str, dlt: int) -> None:
    assert_same(expr, dlt)


def test_rows_are_not_constant() -> None:
    """Most rows both match and miss some packet: a lowering that folded them away to a
    constant would not pass unnoticed (the rows that are constant by design are listed)."""
    constant = {"1 = 1", "1 = 2", "2 > 1", "less 4294967295", "greater 0", "len - len = 0",
                "less 0", "0 * ip[100] = 0", "0 / ip[100] = 0", "0 % ip[100] = 0",
                "0 >> ip[1] = 0", "-len > len", "ip[65535] = 0", "len * 0x80000000 = 0",
                "ip[100] | 0xffffffff = 0xffffffff", "(len + 1) * 2 - len = len + 2",
                "len + 0xffffffff = 59", "ether[0xfffffff0:4] = 0", "ip[0] <= ip6[0]",
                "len / (len - len) = 0", "len % (len - len) = 0", "0 & tcp[100] = 0",
                "0 << tcp[1] = 0", "1 + 2 * 3 = 7"}
    sample = packets(EN10MB)
    always = []
    for expr in TABLE:
        if expr in constant:
            continue
        program = lowerkit.compile_insns(expr, EN10MB)
        if len({lowerkit.run(program, p.data, p.wirelen) != 0 for p in sample}) != 2:
            always.append(expr)
    assert not always


# ---------------------------------------------------------------------------------------------
# Where libpcap 1.10 is wrong, bpfc compiles what the text says: compare with an equivalent
# that libpcap compiles right.

EQUIVALENTS = [
    # libpcap forgets to load the byte for '&' and '|' (tests whatever A holds)
    ("byte 0 & 1", "ether[0] & 1 != 0"),
    ("byte 13 & 0xff", "ether[13] & 0xff != 0"),
    ("byte 14 | 0", "ether[14] | 0 != 0"),
    ("byte 100 | 1", "ether[100] | 1 != 0"),
    # libpcap refuses a divisor whose first instruction loads 0 (the accessor's index)
    ("len / ip[0] = 1", "len / (1 * ip[0]) = 1"),
    ("len % ether[0] = 5", "len % (1 * ether[0]) = 5"),
    ("tcp[0] / tcp[0] = 1", "tcp[0] / (1 * tcp[0]) = 1"),
    # ... and a shift count whose first instruction loads a constant over 31
    ("ip[0] >> tcp[40] = 0", "ip[0] >> (0 + 1 * tcp[40]) = 0"),
]


@pytest.mark.parametrize(("ours", "theirs"), EQUIVALENTS, ids=[e[0] for e in EQUIVALENTS])
def test_where_libpcap_errs_we_mean_the_text(ours: str, theirs: str) -> None:
    diffs = lowerkit.differences(ours, EN10MB, packets(EN10MB), libpcap_text=theirs)
    assert not diffs, diffs[:3]


def test_libpcap_really_errs_on_those() -> None:
    """The equivalents above are needed: libpcap gets the originals wrong."""
    for ours, _ in EQUIVALENTS:
        try:
            program = lowerkit.libpcap_compile(ours, EN10MB)
        except lowerkit.LibpcapError:
            continue
        loads = [i for i in program if i.code & 0x07 in (0, 1) and i.code & 0xE0 != 0]
        assert not loads, f"{ours}: libpcap loads something after all"


# ---------------------------------------------------------------------------------------------
# Errors

ERRORS = [
    "len / 0 = 1", "len % 0 = 1", "1 / 0 = 1", "len << 32 = 0", "len >> 33 = 0",
    "len / (len & 0) = 1", "len / (1 - 1) = 1", "len % (len * 0) = 1", "len << (40 + 0) = 1",
    "len << (len * 0 + 32) = 1", "ip[0:3] = 1", "ip[0:0] = 1", "tcp[0:8] = 1",
    "radio[0] = 1",
]


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_use_libpcap_wording(expr: str) -> None:
    with pytest.raises(lowerkit.LibpcapError) as theirs:
        lowerkit.libpcap_compile(expr, EN10MB)
    with pytest.raises(FilterSemanticError) as ours:
        lowerkit.compile_insns(expr, EN10MB)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("proto", ["ah", "esp", "iso", "stp", "aarp", "ipx", "netbeui", "clnp",
                                   "isis", "esis", "l1"])
def test_accessors_libpcap_cannot_index(proto: str) -> None:
    expr = f"{proto}[0] = 1"
    with pytest.raises(lowerkit.LibpcapError, match="unsupported index operation"):
        lowerkit.libpcap_compile(expr, EN10MB)
    with pytest.raises(FilterSemanticError, match=f"'{proto}\\[...\\]' is not supported"):
        lowerkit.compile_insns(expr, EN10MB)


def test_error_caret_points_at_the_divisor() -> None:
    expr = "ip[2:2] / (len & 0) > 1"
    with pytest.raises(FilterSemanticError) as info:
        lowerkit.compile_insns(expr, EN10MB)
    assert info.value.column == expr.index("len &")


def test_generated_packets_include_truncations() -> None:
    cut = [p for p in generated_packets(EN10MB) if len(p.data) < p.wirelen]
    assert len(cut) > len(generated_packets(EN10MB)) // 2
