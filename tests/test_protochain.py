"""``[ip|ip6] protochain N``: the unrolled walk against libpcap's loop, and what it costs.

The oracle is libpcap 1.10 itself: its *unoptimized* program for the same text (its optimizer
gives up on protochain's backward jump anyway) run by its own ``bpf_filter``. libpcap's loop has
no bound and may never stop (an AH whose length points back at itself), so it is only asked about
packets whose walk ends within ``protochain.MAX_HEADERS`` extension headers; there the two must
agree exactly. Beyond the bound bpfc's documented answer is "no match", which ``expected`` below
spells out by walking the chain the way libpcap does (a model that is itself checked against
libpcap on every packet where libpcap can be asked).

bpfc's program is run by libpcap's ``bpf_filter`` and by bpfc's VM. Packets: hand-made chains
(table), and a hypothesis property over random IPv6/IPv4 chains of option headers, fragments and
AH headers, longer than the bound or cut short anywhere, for ``N`` inside and outside the set of
skipped headers, under ``not`` too (a fault rejects, a non-match accepts under ``not``).
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpfc
from bpfc import cfg
from bpfc.isa import BPF_ST, Insn
from bpfc.lower import protochain
from bpfc.lower.protochain import IPPROTO_AH, IPV6_OPTION_HEADERS, MAX_HEADERS
from tests import lowerkit
from tests.strategies import attach_works, kernel_says_valid
from tests.test_lower_transport import steps_to_finish

SNAPLEN = 262144
IPPROTO_TCP, IPPROTO_UDP, IPPROTO_NONE = 6, 17, 59
AF_INET, AF_INET6_BSD = 2, 24

Family = Literal["ip", "ip6"]

# ---------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class Link:
    """A link layer to wrap packets in, and the words before ``protochain`` that reach them.

    The link layers cover every way the unqualified walk asks "IPv6?" on an option path: the
    link layer's IPv6 test again (Ethernet, cooked SLL, behind a ``vlan`` tag), its IPv4 test
    negated (LOOP, whose AF_INET6 has three values), the stored value of the IPv4 test (RAW's
    version nibble), and a variable each entry sets (``mpls``, whose tests are two jumps).
    """

    name: str
    dlt: int
    nl: int  # where the network header starts
    prefix: str = ""  # for ``vlan and protochain 6``

    def header(self, family: Family) -> bytes:
        ethertype = struct.pack(">H", 0x0800 if family == "ip" else 0x86DD)
        match self.name:
            case "EN10MB":
                return bytes(range(1, 13)) + ethertype
            case "EN10MB-vlan":
                return bytes(range(1, 13)) + struct.pack(">HH", 0x8100, 100) + ethertype
            case "LINUX_SLL":
                return struct.pack(">HHH8s", 0, 1, 6, bytes(range(1, 9))) + ethertype
            case "LOOP":
                return struct.pack(">I", AF_INET if family == "ip" else AF_INET6_BSD)
            case "EN10MB-mpls":  # one label, bottom of the stack
                return bytes(range(1, 13)) + struct.pack(">HI", 0x8847, 16 << 12 | 1 << 8 | 64)
        return b""

    def family(self, frame: bytes) -> Family | None:
        """Which family the link layer says (the test's loads fault on a frame too short)."""
        if self.name in ("RAW", "EN10MB-mpls"):
            version = _byte(frame, self.nl) >> 4
            return "ip" if version == 4 else "ip6" if version == 6 else None
        if self.name == "LOOP":
            _byte(frame, 3)
            af = int.from_bytes(frame[:4], "big")
            return "ip" if af == AF_INET else "ip6" if af in (24, 28, 30) else None
        at = self.nl - 2
        _byte(frame, at + 1)
        ethertype = int.from_bytes(frame[at:at + 2], "big")
        return "ip" if ethertype == 0x0800 else "ip6" if ethertype == 0x86DD else None


LINKS = {link.name: link for link in (
    Link("EN10MB", 1, 14), Link("RAW", 12, 0), Link("LINUX_SLL", 113, 16), Link("LOOP", 108, 4),
    Link("EN10MB-vlan", 1, 18, "vlan and "), Link("EN10MB-mpls", 1, 18, "mpls and "),
)}
EN10MB = LINKS["EN10MB"]


@dataclass(frozen=True, slots=True)
class Header:
    """One extension header the builder lays out where libpcap's walk will look for it."""

    kind: int  # its protocol number (what the previous header names)
    length: int  # its second byte


def network(family: Family, chain: list[Header], last: int, ihl: int = 5,
            payload: int = 20) -> bytes:
    """An IP packet whose next-header walk, as libpcap does it, meets ``chain`` then ``last``.

    Each header's first byte names the next one; the walk moves by ``8 * (len + 1)`` for the
    option headers and to ``4 * (len + 2)`` from the network header for AH (libpcap's
    arithmetic), so a later header may overwrite an earlier one: the packet means what its bytes
    say, which is what both the model and the programs read.
    """
    kinds = [h.kind for h in chain] + [last]
    if family == "ip6":
        out = bytearray(40)
        out[0] = 0x60
        out[6] = kinds[0]
        offset = 40
    else:
        out = bytearray(4 * ihl)
        out[0] = 0x40 | ihl
        out[9] = kinds[0]
        offset = 4 * ihl
    for header, following in zip(chain, kinds[1:], strict=True):
        if len(out) < offset + 2:
            out.extend(bytes(offset + 2 - len(out)))
        out[offset], out[offset + 1] = following, header.length
        if header.kind == IPPROTO_AH:
            offset = 4 * (header.length + 2)
        else:
            offset += 8 * (header.length + 1)
    end = max(len(out), offset) + payload
    out.extend(bytes(end - len(out)))
    if family == "ip":
        out[2:4] = struct.pack(">H", len(out) & 0xFFFF)
    else:
        out[4:6] = struct.pack(">H", (len(out) - 40) & 0xFFFF)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# The model: libpcap's loop, with bpfc's bound


class Fault(Exception):
    """A load past the captured bytes: the whole filter returns 0."""


def _byte(frame: bytes, at: int) -> int:
    if at >= len(frame):
        raise Fault
    return frame[at]


@dataclass(frozen=True, slots=True)
class Walk:
    matched: bool
    beyond_bound: bool  # MAX_HEADERS headers skipped and the next one too: libpcap walks on


def walk(frame: bytes, nl: int, family: Family, number: int) -> Walk:
    """libpcap's protochain loop on the packet at ``nl``; raises ``Fault`` where it faults."""
    if family == "ip":
        proto = _byte(frame, nl + 9)
        offset = 4 * (_byte(frame, nl) & 0xF)
    else:
        proto = _byte(frame, nl + 6)
        offset = 40
    for _ in range(MAX_HEADERS):
        if proto == number:
            return Walk(True, False)
        if family == "ip6" and proto in IPV6_OPTION_HEADERS:
            proto, length = _byte(frame, nl + offset), _byte(frame, nl + offset + 1)
            offset += 8 * (length + 1)
        elif proto == IPPROTO_AH:
            proto, length = _byte(frame, nl + offset), _byte(frame, nl + offset + 1)
            offset = 4 * (length + 2)
        else:
            return Walk(False, False)
    skippable = proto == IPPROTO_AH or (family == "ip6" and proto in IPV6_OPTION_HEADERS)
    return Walk(proto == number, proto != number and skippable)


@dataclass(frozen=True, slots=True)
class Expected:
    verdict: int
    beyond_bound: bool


def expected(frame: bytes, link: Link, family: Family | None, number: int,
             negated: bool) -> Expected:
    """bpfc's documented verdict for ``[not] [family] protochain number`` on ``frame``."""
    try:
        seen = link.family(frame)
        if seen is None or family not in (None, seen):
            matched, beyond = False, False
        else:
            w = walk(frame, link.nl, seen, number)
            matched, beyond = w.matched, w.beyond_bound
    except Fault:
        return Expected(0, False)
    return Expected(SNAPLEN if matched != negated else 0, beyond)


# ---------------------------------------------------------------------------------------------
# Programs


def _text(link: Link, family: Family | None, number: int, negated: bool) -> str:
    text = f"{family + ' ' if family else ''}protochain {number}"
    return f"{link.prefix}{'not ' if negated else ''}{text}"


@functools.cache
def ours(text: str, dlt: int) -> tuple[Insn, ...]:
    """bpfc's optimized program (the public pipeline)."""
    return tuple(bpfc.compile(text, linktype=dlt).insns)


@functools.cache
def ours_unoptimized(text: str, dlt: int) -> tuple[Insn, ...]:
    """The lowered CFG emitted as it is (no optimizer passes)."""
    return tuple(lowerkit.compile_insns(text, dlt))


@functools.cache
def theirs(text: str, dlt: int) -> tuple[Insn, ...]:
    return lowerkit.libpcap_compile(text, dlt, optimize=False)


def check(frame: bytes, link: Link, family: Family | None, number: int, negated: bool) -> bool:
    """Assert bpfc's verdict on ``frame``; returns whether libpcap could be asked too."""
    text = _text(link, family, number, negated)
    dlt = link.dlt
    want = expected(frame, link, family, number, negated)
    program = ours(text, dlt)
    got = lowerkit.libpcap_filter(program, frame)
    assert got == want.verdict, (text, frame.hex())
    assert lowerkit.run(program, frame) == got, (text, frame.hex())
    assert lowerkit.run(ours_unoptimized(text, dlt), frame) == got, (text, frame.hex())
    if want.beyond_bound:
        return False
    reference = theirs(text, dlt)
    assert steps_to_finish(reference, frame) is not None, (text, frame.hex())
    assert lowerkit.libpcap_filter(reference, frame) == want.verdict, (text, frame.hex())
    return True


# ---------------------------------------------------------------------------------------------
# Table

HBH, DST, RT, FRAG = 0, 60, 43, 44
OPT = Header(DST, 0)


@dataclass(frozen=True, slots=True)
class Case:
    family: Family
    chain: tuple[Header, ...]
    last: int
    cut: int = 0  # bytes removed from the end of the network packet
    ihl: int = 5


CASES = {
    "v6-tcp": Case("ip6", (), IPPROTO_TCP),
    "v6-hbh-dst-rt-frag-tcp": Case("ip6", (Header(HBH, 0), Header(DST, 1), Header(RT, 2),
                                           Header(FRAG, 0)), IPPROTO_TCP),
    "v6-ah-tcp": Case("ip6", (Header(IPPROTO_AH, 4),), IPPROTO_TCP),
    "v6-hbh-ah-dst-udp": Case("ip6", (Header(HBH, 0), Header(IPPROTO_AH, 12), OPT), IPPROTO_UDP),
    "v6-dst-none": Case("ip6", (OPT,), IPPROTO_NONE),
    "v6-7-dst-tcp": Case("ip6", (OPT,) * 7, IPPROTO_TCP),
    "v6-8-dst-tcp": Case("ip6", (OPT,) * MAX_HEADERS, IPPROTO_TCP),
    "v6-9-dst-tcp": Case("ip6", (OPT,) * (MAX_HEADERS + 1), IPPROTO_TCP),
    "v6-12-mixed-udp": Case("ip6", (Header(HBH, 1), Header(IPPROTO_AH, 3)) * 6, IPPROTO_UDP),
    "v6-hbh-ah-8-dst-tcp": Case("ip6", (Header(HBH, 0), Header(IPPROTO_AH, 12)) + (OPT,) * 8,
                                IPPROTO_TCP),
    "v6-dst-cut-after-next": Case("ip6", (OPT,), IPPROTO_TCP, cut=27),
    "v6-dst-cut-in-length": Case("ip6", (OPT, OPT), IPPROTO_TCP, cut=27),
    "v6-ah-long-tcp": Case("ip6", (Header(IPPROTO_AH, 255),), IPPROTO_TCP),
    "v4-udp": Case("ip", (), IPPROTO_UDP),
    "v4-options-ah-udp": Case("ip", (Header(IPPROTO_AH, 4),), IPPROTO_UDP, ihl=7),
    "v4-ah-ah-udp": Case("ip", (Header(IPPROTO_AH, 6), Header(IPPROTO_AH, 9)), IPPROTO_UDP),
    "v4-dst-udp-not-skipped": Case("ip", (OPT,), IPPROTO_UDP),
    "v4-9-ah-udp": Case("ip", tuple(Header(IPPROTO_AH, 6 + 2 * i) for i in range(9)),
                        IPPROTO_UDP),
    "v4-ah-cut-in-length": Case("ip", (Header(IPPROTO_AH, 6),), IPPROTO_UDP, cut=31),
}

NUMBERS = (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_NONE, HBH, DST, FRAG, IPPROTO_AH, 256)


def _frame(case: Case, link: Link) -> bytes:
    packet = network(case.family, list(case.chain), case.last, case.ihl)
    return link.header(case.family) + packet[:len(packet) - case.cut]


@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("name", CASES)
def test_table(name: str, link: str, number: int) -> None:
    frame = _frame(CASES[name], LINKS[link])
    for family in (None, "ip", "ip6"):
        for negated in (False, True):
            check(frame, LINKS[link], family, number, negated)


def test_table_reaches_every_outcome() -> None:
    """The table matches, misses, faults and runs past the bound (else it proves little)."""
    outcomes = {expected(_frame(case, EN10MB), EN10MB, case.family, IPPROTO_TCP
                         if case.family == "ip6" else IPPROTO_UDP, False)
                for case in CASES.values()}
    assert {o.verdict for o in outcomes} == {0, SNAPLEN}
    assert any(o.beyond_bound for o in outcomes)
    faults = [name for name, case in CASES.items() if case.cut]
    for name in faults:
        case = CASES[name]
        with pytest.raises(Fault):
            walk(_frame(case, EN10MB), EN10MB.nl, case.family, 255)


# ---------------------------------------------------------------------------------------------
# Property

_KINDS = (HBH, DST, RT, FRAG, IPPROTO_AH)
_LASTS = (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_NONE, 58, 255, *_KINDS)


@st.composite
def chains(draw: st.DrawFn) -> tuple[bytes, Link]:
    family: Family = draw(st.sampled_from(("ip6", "ip6", "ip")))
    kinds = _KINDS if family == "ip6" else (IPPROTO_AH, IPPROTO_AH, DST)
    lengths = st.one_of(st.integers(0, 3), st.integers(0, 255))
    chain = draw(st.lists(st.builds(Header, st.sampled_from(kinds), lengths),
                          max_size=MAX_HEADERS + 3))
    last = draw(st.sampled_from(_LASTS))
    ihl = draw(st.integers(5, 15)) if family == "ip" else 5
    packet = network(family, chain, last, ihl, payload=draw(st.integers(0, 24)))
    if draw(st.booleans()):
        packet = packet[:draw(st.integers(0, len(packet)))]
    link = draw(st.sampled_from(tuple(LINKS.values())))
    return link.header(family) + packet, link


@settings(max_examples=400)
@given(chain=chains(), number=st.sampled_from(NUMBERS),
       which=st.sampled_from((None, "ip", "ip6")), negated=st.booleans())
def test_random_chains_agree_with_libpcap(chain: tuple[bytes, Link], number: int,
                                          which: Family | None, negated: bool) -> None:
    frame, link = chain
    check(frame, link, which, number, negated)


# ---------------------------------------------------------------------------------------------
# The header dispatch and the cost of a step


@pytest.mark.parametrize("number", [6, 0, 43, 44, 51, 60, 59, 255, 256])
@pytest.mark.parametrize("family", ["ip", "ip6"])
def test_dispatch_sends_every_byte_where_jeqs_would(family: Family, number: int) -> None:
    """``_dispatch`` (a multiplicative hash where that is shorter than one ``jeq`` per header)
    sends each of the 256 protocol values where a chain of ``jeq``s would."""
    b = cfg.Builder()
    proto = cfg.load(0, 1)
    option, ah, otherwise = b.ret(1), b.ret(2), b.ret(3)
    options = tuple(h for h in IPV6_OPTION_HEADERS if h != number) if family == "ip6" else ()
    skips_ah = number != IPPROTO_AH
    root = protochain._dispatch(b, proto, options, option, skips_ah, ah, otherwise,
                                frozenset({number}))
    for x in range(256):
        if x == number:
            continue
        want = 1 if x in options else 2 if x == IPPROTO_AH and skips_ah else 3
        assert cfg.evaluate(root, bytes([x])) == want, x


def _size(text: str, dlt: int, bound: int, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(protochain, "MAX_HEADERS", bound)
    return len(bpfc.compile(text, linktype=dlt).insns)


@pytest.mark.parametrize(("text", "per_step"), [
    pytest.param("ip6 protochain 6", 14, id="ip6"),
    pytest.param("ip6 protochain 44", 14, id="ip6-skipped-header"),
    pytest.param("ip6 protochain 51", 10, id="ip6-ah"),
    pytest.param("ip protochain 17", 7, id="ip"),
    pytest.param("protochain 6", 16, id="both"),
])
def test_instructions_per_step(text: str, per_step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """What one more header in the bound costs, by design (it was 18 for IPv6, 8 for IPv4):

    - IPv6: 4 tests (``jeq N``; ``mul``, ``jset`` for the five skipped headers; ``jeq`` telling
      AH apart), 4 for an option header's length (``ldb``; ``mul``; ``add x``; ``add``) and a
      ``ja``, 2 for AH's, 3 shared (``st``; ``ldb [x + 22]``; ``ldx``);
    - ``ip6 protochain 51``: AH matches, so 3 tests, and only option headers are skipped;
    - IPv4, which skips AH only: 2 tests, ``ldb``; ``mul``; ``st``; ``ldb``; ``ldx``;
    - both families: IPv6's step and "IPv6?" (``ldh [12]``; ``jeq``) on the option path.
    """
    sizes = [_size(text, EN10MB.dlt, bound, monkeypatch) for bound in (4, 5, 6)]
    assert sizes[1] - sizes[0] == sizes[2] - sizes[1] <= per_step, sizes


def test_walk_keeps_the_protocol_in_a() -> None:
    """A qualified walk stores only the next offset (M[0]); the unqualified one at most also
    the family where the link layer cannot be asked again cheaply. The protocol is never
    stored: it stays in A from its load to its tests."""
    for link in LINKS.values():
        for text, slots in (("ip6 protochain 6", {0}), ("ip protochain 6", {0}),
                            ("protochain 6", {0} if link.name in ("EN10MB", "LOOP") else {0, 1})):
            program = ours(link.prefix + text, link.dlt)
            stores = {i.k for i in program if i.code == BPF_ST}
            assert stores and stores <= slots, (link.name, text, stores)


@pytest.mark.skipif(not attach_works(), reason="this machine refuses SO_ATTACH_FILTER")
@pytest.mark.parametrize("link", LINKS)
def test_the_kernel_accepts_every_walk(link: str) -> None:
    """libpcap's loop is refused by the kernel (a backward ``ja``); bpfc's walks, with their
    ``mul``/``jset`` dispatch and the scratch slot read only after it is written on every
    path, are accepted (SO_ATTACH_FILTER)."""
    for family in (None, "ip", "ip6"):
        for number in NUMBERS:
            for negated in (False, True):
                text = _text(LINKS[link], family, number, negated)
                assert kernel_says_valid(ours(text, LINKS[link].dlt)), text
