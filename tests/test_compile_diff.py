"""The big differential table: bpfc against libpcap 1.10.3 on every (expression, link type).

Rows live in tests/expressions/compile_diff.txt (format in its header). For each row and each of
its link types, libpcap compiles the expression on a savefile handle (tcpdump -r's rules) and bpfc
compiles it with the same snapshot length and netmask; then both programs run over the link
type's packet set (tests/packets.py) and every return value must be equal. When libpcap refuses,
bpfc must refuse too (the wording is free), and the other way round.

The harness checks at the bottom need no bpfc: they run the table through the two libpcap builds
we have (1.10.3 through ctypes, 1.9 inside pcapy) and through the reference VM, which is how the
harness itself was validated before the compiler existed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from bpfc.isa import Insn
from tests.diffkit import (
    DLTS,
    LibpcapProgram,
    Row,
    bpfc_compile,
    compare,
    diff,
    libpcap_compile,
    load_table,
    oracle_diff,
    parse_ddd,
    require_bpfc,
    tcpdump_dump,
    tcpdump_path,
)
from tests.packets import packets_for

TABLE = Path(__file__).parent / "expressions" / "compile_diff.txt"
ROWS: tuple[Row, ...] = load_table(TABLE)
CASES = [pytest.param(row, dlt, id=f"{row.id}-{dlt}") for row in ROWS for dlt in row.dlts]


@dataclass(frozen=True, slots=True)
class LibpcapBug:
    """A case where libpcap is provably wrong, not merely different.

    ``why`` says what is wrong and where; ``libpcap_does`` asserts libpcap's specific wrong
    behaviour on its program (strict: the entry fails the day libpcap changes, so it cannot
    outlive the bug); ``corrected`` is a libpcap expression with the meaning the primitive should
    have had, and bpfc is compared with that instead.
    """

    why: str
    libpcap_does: Callable[[LibpcapProgram], bool]
    corrected: str
    #: Compare on untruncated packets only: the corrected expression tests in another order,
    #: so on a cut packet it may load out of bounds where the original would not, or not where
    #: it would.
    whole_packets_only: bool = False


def _reads_no_packet_byte(prog: LibpcapProgram) -> bool:
    """No instruction of the program loads from the packet: its verdict ignores the packet."""
    return not any(i.code & 0x07 in (0x00, 0x01) and i.code & 0xE0 in (0x20, 0x40, 0xA0)
                   for i in prog.insns)


_BYTEOP_BUG = ("libpcap's gen_byteop (gencode.c, 1.10.3) emits 'and #M' / 'or #M' for the '&' "
               "and '|' forms of 'byte N op M' without loading the byte at N first, so the "
               "test runs on the accumulator's initial 0 and never looks at the packet "
               "(tcpdump -d 'byte 0 & 0x40' is 'jset #0x40' alone)")

def _reads_unwritten_scratch(prog: LibpcapProgram) -> bool:
    """The program reads a scratch slot before writing it on some path: libpcap's interpreter
    then reads whatever the slot held, and the kernel refuses to attach the program."""
    from bpfc import isa

    try:
        isa.check(prog.insns)
    except Exception as e:  # noqa: BLE001 - any refusal is a ProgramError
        return "read before it is written" in str(e)
    return False


_GENEVE_OR_BUG = ("after 'geneve', libpcap's gen_geneve keeps the inner offsets in scratch "
                  "registers that only the geneve path writes, so in 'geneve or X' the X branch "
                  "of a non-geneve packet reads unwritten M[] (garbage in bpf_filter, refused by "
                  "the kernel). bpfc keeps the outer offsets there: 'X or geneve'.")

#: row id -> the documented libpcap bug for that row, on every link type of the row.
LIBPCAP_BUGS: dict[str, LibpcapBug] = {
    "geneve-or-udp": LibpcapBug(_GENEVE_OR_BUG, _reads_unwritten_scratch, "udp port 53 or geneve",
                                whole_packets_only=True),
    "rel-byte-and": LibpcapBug(_BYTEOP_BUG, _reads_no_packet_byte, "link[0] & 0x40 != 0"),
    "rel-byte-or": LibpcapBug(_BYTEOP_BUG, _reads_no_packet_byte, "link[0] | 1 != 0"),
}


_NULL_CONTRADICTION = (
    "a contradiction ('tcp and udp', 'tcp and not tcp'): on NULL/LOOP libpcap tests IPv6 through "
    "four address-family values and its optimizer loses track of the protocol byte across them, "
    "so it compiles a program that rejects every packet; on the other link types it refuses, "
    "as bpfc does everywhere")

#: (row id, link type) -> why bpfc refuses a filter libpcap compiles: bpfc's optimizer proves the
#: filter can never match where libpcap's does not (libpcap refuses the ones its optimizer proves;
#: see compiler.py). The test checks libpcap's program indeed accepts none of the packets.
PROVEN_NEVER_MATCHES: dict[tuple[str, str], str] = {
    ("vlan-ether-acc", "EN10MB"): (
        "'ether[12:2]' is not moved by 'vlan' (libpcap's OR_LINKHDR), so after a VLAN tag it is "
        "0x8100, 0x88a8 or 0x9100 and never 0x0800; libpcap's program tests exactly that and "
        "rejects every packet, without noticing"),
    ("abbr-tcp-and-udp", "NULL"): _NULL_CONTRADICTION,
    ("abbr-tcp-and-udp", "LOOP"): _NULL_CONTRADICTION,
    ("bool-contra", "LOOP"): _NULL_CONTRADICTION,
}


@pytest.mark.parametrize(("row", "dlt"), CASES)
def test_bpfc_matches_libpcap(row: Row, dlt: str) -> None:
    require_bpfc()
    packets = packets_for(dlt)
    never = PROVEN_NEVER_MATCHES.get((row.id, dlt))
    if never is not None:
        prog = libpcap_compile(row.expr, dlt, row.snaplen, True, row.netmask)
        assert not isinstance(prog, str), "libpcap refuses now: drop the entry"
        assert all(prog.run(p.data, p.wirelen) == 0 for p in packets), never
        ours = bpfc_compile(row.expr, dlt, row.snaplen, row.netmask)
        assert isinstance(ours, BaseException) and "rejects all packets" in str(ours), never
        return
    bug = LIBPCAP_BUGS.get(row.id)
    if bug is not None:
        prog = libpcap_compile(row.expr, dlt, row.snaplen, True, row.netmask)
        assert not isinstance(prog, str) and bug.libpcap_does(prog), \
            f"libpcap no longer shows the documented bug, drop the entry: {bug.why}"
        if bug.whole_packets_only:
            packets = [p for p in packets if len(p.data) == p.wirelen]
        report = diff(row.expr, dlt, packets, snaplen=row.snaplen, netmask=row.netmask,
                      reference=bug.corrected)
        assert report.ok, f"{bug.why}\n{report}"
        return
    report = diff(row.expr, dlt, packets, snaplen=row.snaplen, netmask=row.netmask,
                  reference=row.reference)
    assert report.ok, str(report)


# --------------------------------------------------------------------------------------------
# The table's shape.


def test_table_is_big_and_ids_are_unique() -> None:
    ids = [row.id for row in ROWS]
    assert len(ROWS) >= 500
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})
    assert {dlt for row in ROWS for dlt in row.dlts} == set(DLTS)


def test_every_link_type_has_many_compiling_cases() -> None:
    """A table where libpcap refuses everything for a link type would test nothing there."""
    for dlt in DLTS:
        compiled = sum(not isinstance(libpcap_compile(row.reference or row.expr, dlt,
                                                      row.snaplen, True, row.netmask), str)
                       for row in ROWS if dlt in row.dlts)
        assert compiled >= 100, (dlt, compiled)


def test_every_row_matches_some_packet_somewhere() -> None:
    """Each expression libpcap compiles selects at least one packet on some link type, unless
    it is listed as selecting nothing on purpose: a row cannot be vacuous by accident (a packet
    set without, say, VLAN-tagged ARP would make ``vlan and arp`` test nothing)."""
    nothing: set[str] = set()
    for row in ROWS:
        compiled = hits = 0
        for dlt in row.dlts:
            prog = libpcap_compile(row.reference or row.expr, dlt, row.snaplen, True, row.netmask)
            if isinstance(prog, str):
                continue
            compiled += 1
            hits += sum(prog.run(p.data, p.wirelen) != 0 for p in packets_for(dlt))
            if hits:
                break
        if compiled and not hits:
            nothing.add(row.id)
    assert nothing == VACUOUS_BY_DESIGN, (sorted(nothing - VACUOUS_BY_DESIGN),
                                          sorted(VACUOUS_BY_DESIGN - nothing))


#: Rows that compile but select no packet, on purpose: contradictions, values no header can
#: hold, loads beyond every packet, and layerings libpcap cannot see (the guards in front of
#: their loads are still compared, and on truncated packets they are what decides).
VACUOUS_BY_DESIGN = frozenset({
    "abbr-tcp-and-udp", "bool-contra", "protochain-twice", "len-neg", "len-greater-big",
    "ether-proto-1500", "ether-proto-too-big", "proto-ip-256", "protochain-256",
    "host-partial-1", "rel-ip-big-index", "rel-icmp-in-ip6", "vlan-ether-acc",
    "pppoes-pppoes", "pppoes-mpls", "pppoes-arp",
    "rel-byte-and",  # libpcap never loads the byte (see LIBPCAP_BUGS)
})


# --------------------------------------------------------------------------------------------
# The harness against itself: no bpfc needed.


def _kernel_runnable(insns: tuple[Insn, ...]) -> bool:
    """libpcap's protochain loops with a backward ``ja``; the VM (kernel rules) refuses it."""
    return all(not (i.code == 0x05 and i.k >= 0x80000000) for i in insns)


@pytest.mark.parametrize("dlt", list(DLTS))
def test_vm_agrees_with_bpf_filter_on_libpcaps_programs(dlt: str) -> None:
    """bpfc.vm.run on libpcap's own program equals libpcap's bpf_filter on every packet: the
    comparison loop, the wire lengths and the VM are consistent before bpfc is in the picture."""
    packets = packets_for(dlt)
    checked = 0
    for row in ROWS[::7]:
        if dlt not in row.dlts:
            continue
        ref = libpcap_compile(row.reference or row.expr, dlt, row.snaplen, True, row.netmask)
        if isinstance(ref, str) or not _kernel_runnable(ref.insns):
            continue
        report = compare(row.expr, dlt, ref, SimpleNamespace(insns=ref.insns), packets)
        assert report.outcome == "agree", str(report)
        checked += 1
    assert checked >= 10


def test_harness_reports_a_difference_readably() -> None:
    ref = libpcap_compile("tcp port 80", "EN10MB")
    wrong = libpcap_compile("tcp port 81", "EN10MB")
    assert not isinstance(ref, str) and not isinstance(wrong, str)
    report = compare("tcp port 80", "EN10MB", ref, SimpleNamespace(insns=wrong.insns),
                     packets_for("EN10MB"))
    assert report.outcome == "differ" and not report.ok
    text = str(report)
    assert "'tcp port 80'" in text and "EN10MB" in text and "0000: " in text
    assert "ldh" in text and "(000)" in text  # both -d dumps
    assert report.mismatch_count > 0 and len(report.mismatches) <= 5


def test_harness_classifies_refusals() -> None:
    refused = libpcap_compile("tcp port", "EN10MB")
    ok = libpcap_compile("tcp", "EN10MB")
    assert isinstance(refused, str) and not isinstance(ok, str)
    err = ValueError("no")
    assert compare("x", "EN10MB", refused, err, ()).outcome == "both-refuse"
    assert compare("x", "EN10MB", refused, SimpleNamespace(insns=ok.insns), ()).outcome \
        == "libpcap-refuses"
    assert compare("x", "EN10MB", ok, err, ()).outcome == "bpfc-refuses"


#: How libpcap 1.9 (pcapy) and 1.10.3 differ on this table; each is a change between the two
#: releases, and any other disagreement fails the test below.
VERSION_DIFFERENCES: tuple[tuple[str, Callable[[Row, str, str | None], bool]], ...] = (
    ("1.10 accepts the BSD AF_INET6 values 24/28/30 on NULL/LOOP, 1.9 only the host's",
     lambda row, dlt, detail: dlt in ("NULL", "LOOP")),
    ("1.10 refuses inbound/outbound on savefiles of link types without a direction",
     lambda row, dlt, detail: "bound" in row.expr),
    ("ifindex is new in 1.10", lambda row, dlt, detail: "ifindex" in row.expr),
    ("'aarp' as an ether proto name is new in 1.10", lambda row, dlt, detail: "aarp" in row.expr),
    ("1.10 refuses numbers over 32 bits", lambda row, dlt, detail: "0x100000000" in row.expr),
)


def test_libpcap_builds_agree_except_known_version_changes() -> None:
    unexplained = []
    for row in ROWS:
        for dlt in row.dlts:
            outcome, detail = oracle_diff(row.reference or row.expr, dlt, packets_for(dlt),
                                          row.snaplen, row.netmask)
            if outcome in ("agree", "both-refuse"):
                continue
            if not any(rule(row, dlt, detail) for _, rule in VERSION_DIFFERENCES):
                unexplained.append(f"{row.id}-{dlt}: {outcome}: {detail}")
    assert not unexplained, "\n".join(unexplained)


# --------------------------------------------------------------------------------------------
# tcpdump as a second oracle for acceptance (slow: one process per case).

TCPDUMP_ROWS = [pytest.param(row, id=row.id) for row in ROWS if row.netmask == 0]


needs_tcpdump = pytest.mark.skipif(tcpdump_path() is None, reason="tcpdump is not installed")


@pytest.mark.tcpdump
@needs_tcpdump
@pytest.mark.parametrize("row", TCPDUMP_ROWS)
def test_tcpdump_matches_in_process_libpcap(row: Row) -> None:
    """``tcpdump -ddd -r <stub of the link type>`` (what a user runs) gives exactly the program
    the in-process libpcap gives, or the same refusal: the harness compiles as tcpdump -r."""
    text = row.reference or row.expr
    problems = []
    for dlt in row.dlts:
        compiled, output = tcpdump_dump(text, dlt, row.snaplen, flag="-ddd")
        ref = libpcap_compile(text, dlt, row.snaplen, True, 0)
        if isinstance(ref, str):
            if compiled or output != ref:
                problems.append(f"{dlt}: in-process libpcap refuses ({ref}), tcpdump "
                                f"{'compiles' if compiled else repr(output)}")
        elif not compiled or parse_ddd(output) != ref.insns:
            problems.append(f"{dlt}: tcpdump {repr(output) if not compiled else 'compiles'} "
                            "a different program from the in-process libpcap")
    assert not problems, f"{text!r}:\n" + "\n".join(problems)


@pytest.mark.tcpdump
@needs_tcpdump
@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in ROWS
                                 if row.netmask == 0 and row.reference is None])
def test_tcpdump_acceptance_matches_bpfc(row: Row) -> None:
    """bpfc compiles exactly the expressions tcpdump compiles (rows with a hand-written
    reference are left out: tcpdump 4.99 has no vxlan)."""
    require_bpfc()
    from bpfc.errors import BpfcError

    problems = []
    for dlt in row.dlts:
        if (row.id, dlt) in PROVEN_NEVER_MATCHES:
            continue  # checked with its reason in test_bpfc_matches_libpcap
        compiled, output = tcpdump_dump(row.expr, dlt, row.snaplen)
        ours = bpfc_compile(row.expr, dlt, row.snaplen, 0)
        if isinstance(ours, BpfcError) == compiled:
            problems.append(f"{dlt}: tcpdump {'compiles' if compiled else repr(output)}, "
                            f"bpfc {ours if isinstance(ours, BpfcError) else 'compiles'}")
    assert not problems, f"{row.expr!r}:\n" + "\n".join(problems)
