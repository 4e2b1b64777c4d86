"""Encapsulation lowering against libpcap 1.10: vlan (QinQ), mpls stacks, pppoed/pppoes,
geneve, and the offset state they leave for everything parsed after them.

``vxlan`` is libpcap 1.11's and 1.10 cannot compile it, so its cases compare with the same
tests written out in 1.10's byte-accessor language.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc.errors import FilterSemanticError
from tests.lowerkit import (
    LibpcapError,
    check_same,
    check_same_error,
    compile_insns,
    corpus_packets,
    generated_packets,
    libpcap_compile,
    libpcap_compile_live,
    libpcap_filter,
    packet_set,
    run,
    run_with_metadata,
)

EN10MB, SLL, SLL2, RAW, NULL = 1, 113, 276, 12, 0

VLAN_EXPRS = (
    "vlan", "vlan 100", "vlan 200", "vlan 4095", "not vlan", "vlan and vlan",
    "vlan 100 and vlan 200", "vlan 300 and vlan 100 and ip6", "vlan and ip", "vlan and ip6",
    "vlan 100 and ip host 10.0.0.1", "vlan and arp", "vlan and stp", "vlan and llc",
    "vlan and ether src 00:11:22:33:44:55", "vlan or ip", "ip or vlan", "vlan and not ip",
    "(vlan and ip) or ip6", "vlan and mpls and ip", "vlan and mpls 16", "vlan and vlan and arp",
)
MPLS_EXPRS = (
    "mpls", "mpls 100704", "mpls 16", "mpls and mpls", "mpls and mpls and mpls",
    "mpls 16 and mpls 100704 and ip6", "mpls 1000 and mpls 2000 and mpls 3000 and ip",
    "mpls and ip", "mpls and ip6", "mpls and not ip", "mpls and host 10.0.0.1",
    "mpls and net 10.0.0.0/8", "mpls and ip proto 6", "mpls and proto 17", "mpls or ip",
    "mpls and ip6 host 2001:db8::1",
)
PPPOE_EXPRS = (
    "pppoed", "pppoes", "pppoes 5", "pppoes 0x1234", "pppoes 0x1234 and ip6", "pppoes and ip",
    "pppoes and host 10.0.0.1", "pppoes and ipx", "pppoes and stp", "pppoes and iso",
    "pppoes and mpls and ip", "pppoes and mpls 7", "pppoes and arp", "pppoes or arp",
    "pppoes and pppoes", "pppoed or pppoes",
)
GENEVE_EXPRS = (
    "geneve", "geneve 10", "geneve 0xabcdef", "geneve 11", "not geneve", "geneve and ip",
    "geneve and ip6", "geneve and ip host 10.0.0.1", "geneve 10 and arp",
    "geneve and ether src 66:77:88:99:aa:bb", "geneve and ether broadcast",
    "geneve and ether multicast", "geneve and vlan 100 and ip", "geneve and llc",
    "geneve and mpls", "geneve and ip proto 6", "geneve and net 192.168.1.0/24",
)


@pytest.mark.parametrize("expr", VLAN_EXPRS + MPLS_EXPRS + PPPOE_EXPRS + GENEVE_EXPRS)
def test_encapsulation_on_ethernet(expr: str) -> None:
    check_same(expr, EN10MB)


@pytest.mark.parametrize("expr", ["vlan 100", "vlan and vlan", "vlan 100 and ip host 10.0.0.1",
                                  "mpls 100704", "mpls and mpls and ip6", "pppoes 5 and ip",
                                  "pppoes and mpls and ip", "geneve 10 and ip",
                                  "geneve and ether src 66:77:88:99:aa:bb", "geneve and ip6",
                                  "geneve and vlan 100"])
def test_encapsulation_tables_match_something(expr: str) -> None:
    assert check_same(expr, EN10MB, generated_packets(EN10MB)) > 0


@pytest.mark.parametrize("dlt", [SLL, SLL2, RAW, NULL])
@pytest.mark.parametrize("expr", ["pppoes and ip", "pppoes 5 and ip6", "pppoed",
                                  "geneve and ip", "geneve 10 and ip6", "pppoes and mpls"])
def test_encapsulation_on_other_link_types(dlt: int, expr: str) -> None:
    check_same(expr, dlt)


ENCAP_REFUSALS = (
    "vlan 4096", "mpls 1048576", "pppoes 65536", "geneve 16777216", "mpls and vlan",
    "pppoes and vlan", "mpls and arp", "mpls and atalk", "pppoes and ether host 1:2:3:4:5:6",
    "pppoes and llc", "pppoes and inbound",
)


@pytest.mark.parametrize("expr", ENCAP_REFUSALS)
def test_refusals(expr: str) -> None:
    check_same_error(expr, EN10MB)


@pytest.mark.parametrize("dlt", [SLL, SLL2])
@pytest.mark.parametrize("expr", ["pppoes and inbound", "pppoes and ifindex 1"])
def test_pppoe_payload_has_no_cooked_header(dlt: int, expr: str) -> None:
    """After ``pppoes`` the link type is PPP, which records no direction or interface."""
    check_same_error(expr, dlt)


# ---------------------------------------------------------------------------------------------
# vxlan: compared with the same tests in libpcap 1.10's accessor language. Over IPv4 the
# VXLAN header is udp[8:8] and the inner frame starts at udp[16]; over IPv6 (no extension
# headers) the UDP header is ip6[40:8].

_VXLAN4 = "(ip and ip[9] = 17 and ip[6:2] & 0x1fff = 0 and udp[2:2] = 4789 and udp[8] = 8{v4})"
_VXLAN6 = "(ip6 and ip6[6] = 17 and ip6[42:2] = 4789 and ip6[48] = 8{v6})"
VXLAN_CASES = (
    ("vxlan", "", ""),
    ("vxlan 100", " and udp[12:4] & 0xffffff00 = 0x6400",
     " and ip6[52:4] & 0xffffff00 = 0x6400"),
    ("vxlan 7", " and udp[12:4] & 0xffffff00 = 0x700", " and ip6[52:4] & 0xffffff00 = 0x700"),
    ("vxlan and ip", " and udp[28:2] = 0x800", " and ip6[68:2] = 0x800"),
    ("vxlan and ip6", " and udp[28:2] = 0x86dd", " and ip6[68:2] = 0x86dd"),
    ("vxlan 100 and ether src 66:77:88:99:aa:bb",
     " and udp[12:4] & 0xffffff00 = 0x6400 and udp[24:4] = 0x8899aabb and udp[22:2] = 0x6677",
     (" and ip6[52:4] & 0xffffff00 = 0x6400 and ip6[64:4] = 0x8899aabb"
      " and ip6[62:2] = 0x6677")),
    ("vxlan and ip src host 10.0.0.1", " and udp[28:2] = 0x800 and udp[42:4] = 0x0a000001",
     " and ip6[68:2] = 0x800 and ip6[82:4] = 0x0a000001"),
)


@pytest.mark.parametrize(("expr", "v4", "v6"), VXLAN_CASES, ids=[c[0] for c in VXLAN_CASES])
def test_vxlan(expr: str, v4: str, v6: str) -> None:
    equivalent = f"{_VXLAN4.format(v4=v4)} or {_VXLAN6.format(v6=v6)}"
    matched = check_same(expr, EN10MB, generated_packets(EN10MB), libpcap_text=equivalent)
    assert matched > 0 or expr == "vxlan 7"  # the VNI-7 packet lacks the I flag


def test_vxlan_vni_range() -> None:
    with pytest.raises(FilterSemanticError, match="VXLAN VNI 16777216 greater than maximum"):
        compile_insns("vxlan 16777216", EN10MB)


# ---------------------------------------------------------------------------------------------
# Live captures: the kernel may have moved the outer tag into metadata


def _strip_tag(data: bytes) -> tuple[bytes, int]:
    return data[:12] + data[16:], int.from_bytes(data[14:16], "big")


@pytest.mark.parametrize("expr", ["vlan", "vlan 100", "vlan and ip", "vlan 200 and ip6",
                                  "vlan 100 and ip host 10.0.0.1", "vlan and vlan",
                                  "vlan 300 and vlan 100", "vlan or arp", "not vlan and ip"])
def test_live_vlan_matches_libpcap_live(expr: str) -> None:
    """libpcap tests SKF_AD_VLAN_TAG_PRESENT first and shifts the offsets only when the tag is
    in the packet; run both programs on tagged frames as they are, and with the outer tag
    moved to metadata as the kernel does."""
    theirs = libpcap_compile_live(expr)
    if theirs is None:
        pytest.skip("cannot open a live capture on lo")
    ours = compile_insns(expr, EN10MB, live=True)
    checked = 0
    for packet in generated_packets(EN10MB):
        cases = [(packet.data, {48: 0, 44: 0})]
        if packet.origin.startswith(("vlan-", "qinq-")):
            stripped, tci = _strip_tag(packet.data)
            cases.append((stripped, {48: 1, 44: tci}))
        for data, meta in cases:
            assert run_with_metadata(ours, data, meta) == run_with_metadata(theirs, data, meta), \
                (packet.origin, meta)
            checked += 1
    assert checked > len(generated_packets(EN10MB))


# ---------------------------------------------------------------------------------------------
# After a failed tunnel test: libpcap's registers are unset there (its program reads garbage
# and the kernel refuses it), so there is no oracle; bpfc keeps the outer offsets instead.


@pytest.mark.parametrize(("expr", "first", "then", "on_match"), [
    ("geneve or udp port 53", "geneve", "udp port 53", True),
    ("vxlan or ip host 192.168.1.1", f"{_VXLAN4.format(v4='')} or {_VXLAN6.format(v6='')}",
     "ip host 192.168.1.1", True),
    ("not geneve and ip", "geneve", "ip", False),
], ids=["geneve-or-outer-udp", "vxlan-or-outer-host", "not-geneve-and-outer-ip"])
def test_primitives_after_a_failed_tunnel_read_the_outer_packet(
        expr: str, first: str, then: str, on_match: bool) -> None:
    """Where the tunnel test fails the rest of the expression sees the outer headers: bpfc's
    verdict is libpcap's ``then`` there, and decided by the tunnel test elsewhere."""
    ours = compile_insns(expr, EN10MB)
    tunnel, rest = libpcap_compile(first, EN10MB), libpcap_compile(then, EN10MB)
    seen = {True: 0, False: 0}
    for p in generated_packets(EN10MB) + corpus_packets(EN10MB):
        inside = libpcap_filter(tunnel, p.data, p.wirelen) != 0
        if inside:
            expected = 262144 if on_match else 0
        else:
            expected = libpcap_filter(rest, p.data, p.wirelen)
        assert run(ours, p.data, p.wirelen) == expected, p.origin
        seen[inside] += 1
    assert seen[True] and seen[False]


# ---------------------------------------------------------------------------------------------
# Combinations: the offset state must follow source order through any and/or/not nesting.

_COMBINABLE = (
    "ip", "ip6", "arp", "vlan", "vlan 100", "vlan 200", "mpls", "mpls 16", "mpls 100704",
    "pppoes", "pppoes 5", "pppoed", "host 10.0.0.1", "src host 192.168.1.1", "net 10.0.0.0/8",
    "ip6 host 2001:db8::1", "ether src 66:77:88:99:aa:bb", "ether broadcast", "ip multicast",
    "ip proto 6", "proto 17", "ip6 proto 58", "stp", "iso", "ipx", "llc", "isis", "udp port 53",
)


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.integers(0, 9)) < 3:
        primitive = draw(st.sampled_from(_COMBINABLE))
        return f"not {primitive}" if draw(st.integers(0, 6)) == 0 else primitive
    left, right = draw(_expressions(depth - 1)), draw(_expressions(depth - 1))
    return f"({left} {draw(st.sampled_from(['and', 'or']))} {right})"


@settings(max_examples=40)
@given(_expressions())
def test_combinations_follow_libpcap(expr: str) -> None:
    """bpfc equals libpcap on every packet. On truncated packets libpcap's optimizer sometimes
    changes its own verdict (it drops or reorders loads that can fault); there bpfc may equal
    either libpcap's optimized or its unoptimized program, never neither."""
    try:
        optimized = libpcap_compile(expr, EN10MB)
    except LibpcapError:
        return  # "expression rejects all packets" and friends: covered by the tables
    unoptimized = libpcap_compile(expr, EN10MB, optimize=False)
    ours = compile_insns(expr, EN10MB)
    for p in packet_set(EN10MB, truncated=True)[-3000:]:
        verdict = run(ours, p.data, p.wirelen)
        assert verdict in (libpcap_filter(optimized, p.data, p.wirelen),
                           libpcap_filter(unoptimized, p.data, p.wirelen)), p.origin


@pytest.mark.parametrize("dlt", ["RAW", "IPV4", "NULL", "LOOP"])
def test_tunnel_or_outer_primitive_on_links_without_an_ethertype(dlt: str) -> None:
    """``geneve or udp port 53``: a plain DNS packet (no tunnel) still matches on link types whose
    own protocol rule is not an EtherType test (the version nibble, the address family)."""
    import struct

    import bpfc

    ip = bytes.fromhex("45000028000100004011e9aeac100504e0000001"
                       "823500350014000012340100000000000000000000")
    frame = {"RAW": ip, "IPV4": ip, "NULL": struct.pack("=I", 2) + ip,
             "LOOP": struct.pack("!I", 2) + ip}[dlt]
    assert bpfc.compile("geneve or udp port 53", dlt).match(frame) == 262144
    assert bpfc.compile("geneve or udp port 54", dlt).match(frame) == 0
    assert bpfc.compile("vxlan or ip", dlt).match(frame) == 262144
