"""Tests for bpfc.dump: the -d/-dd/-ddd printers against libpcap and tcpdump, the readers and the
assembler by round trips and against bpf_asm, and the assembler's errors.

Oracles: the golden files (written by tests/make_golden.py from libpcap's bpf_dump and from
tcpdump), libpcap's bpf_image/bpf_dump called in process, tcpdump run on an empty savefile,
libpcap's pcap_compile for the filters' programs, and the ``bpf-asm`` package (Linux's
tools/bpf/bpf_asm grammar) for the assembler syntax.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc.dump import (
    AsmError,
    assemble,
    canonical,
    format_asm,
    format_d,
    format_dd,
    format_ddd,
    image,
    parse_d,
    parse_dd,
    parse_ddd,
    parse_dump,
)
from bpfc.errors import ProgramError
from bpfc.isa import (
    ANCILLARY,
    BPF_JA,
    BPF_JMP,
    CONDITIONAL_JUMPS,
    OPCODES,
    SKF_AD_OFF,
    Insn,
)
from tests import make_golden as golden

try:
    import bpf_asm  # type: ignore[import-untyped]
except ImportError:  # optional oracle: the assembler tests that need it skip
    bpf_asm = None

FORMATTERS: dict[str, Callable[[Sequence[Insn]], str]] = {
    "d": format_d, "dd": format_dd, "ddd": format_ddd,
}
READERS: dict[str, Callable[[str], list[Insn]]] = {"d": parse_d, "dd": parse_dd, "ddd": parse_ddd}

needs_libpcap = pytest.mark.skipif(golden.libpcap() is None, reason="libpcap is not installed")
needs_tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="no tcpdump")
needs_bpf_asm = pytest.mark.skipif(bpf_asm is None, reason="the bpf-asm package is not installed")


# ---------------------------------------------------------------------------------------------
# Strategies

INTERESTING_K = [0, 1, 12, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF, SKF_AD_OFF - 1,
                 *(SKF_AD_OFF + off for off in range(0, 72, 4)), SKF_AD_OFF + 1]
K = st.one_of(st.integers(0, 0xFFFFFFFF), st.sampled_from(INTERESTING_K))
CODES = sorted(OPCODES)
#: Codes no table has, including the kernel's ldx-len that libpcap cannot print, and eBPF jumps.
UNKNOWN_CODES = [c for c in range(0x100) if c not in OPCODES] + [0x81, 0x1234, 0xFFFF]

any_insn = st.builds(
    Insn, st.one_of(st.sampled_from(CODES), st.integers(0, 0xFFFF)),
    st.integers(0, 255), st.integers(0, 255), K,
)


def _jump_class(code: int) -> bool:
    return code & 0x07 == BPF_JMP and code & 0xF0 != BPF_JA


@st.composite
def programs(draw: st.DrawFn, unknown: bool = False, max_size: int = 40) -> list[Insn]:
    """Programs whose jumps land inside them, scratch indices are real, and fields an opcode
    does not use are 0: what every format can carry exactly. ``unknown`` mixes in opcodes the
    table lacks (k 0, targets in range where -d shows them)."""
    n = draw(st.integers(1, max_size))
    out: list[Insn] = []
    for pc in range(n):
        room = n - pc - 1
        pool = CODES + UNKNOWN_CODES if unknown else CODES
        code = draw(st.sampled_from(pool))
        if room == 0 and (code in CONDITIONAL_JUMPS or _jump_class(code) or code == 0x05):
            code = 0x06
        info = OPCODES.get(code)
        jt = jf = k = 0
        if code in CONDITIONAL_JUMPS or (info is None and _jump_class(code)):
            jt = draw(st.integers(0, min(255, room - 1)))
            jf = draw(st.integers(0, min(255, room - 1)))
        if info is not None:
            match info.operand:
                case "mem":
                    k = draw(st.integers(0, 15))
                case "ja":
                    k = draw(st.integers(0, room - 1))
                case "len" | "a" | "none" | "x":
                    k = 0
                case _:
                    k = draw(K)
        out.append(Insn(code, jt, jf, k))
    return out


def _example(code: int) -> list[Insn]:
    """One instruction of ``code`` with its fields used, followed by returns to jump to."""
    info = OPCODES[code]
    k = {"mem": 5, "ja": 1, "len": 0, "a": 0, "none": 0, "x": 0}.get(info.operand, 0x8001F00D)
    jt, jf = (1, 2) if code in CONDITIONAL_JUMPS else (0, 0)
    return [Insn(code, jt, jf, k), Insn(0x06, 0, 0, 0), Insn(0x06, 0, 0, 1), Insn(0x16)]


def _opcode_id(code: int) -> str:
    info = OPCODES[code]
    return f"{info.mnemonic}-{info.operand}-0x{code:02x}"


# ---------------------------------------------------------------------------------------------
# Goldens: libpcap's and tcpdump's own output

GOLDEN_NAMES = list(golden.PROGRAMS) + [f.name for f in golden.FILTERS]
FILTERS = {f.name: f for f in golden.FILTERS}


def _golden_program(name: str) -> list[Insn]:
    if name in golden.PROGRAMS:
        return golden.PROGRAMS[name]
    return parse_ddd(golden.read_golden(name, "ddd")[1])


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_dumps_are_byte_identical(name: str) -> None:
    insns = _golden_program(name)
    for fmt, formatter in FORMATTERS.items():
        header, body = golden.read_golden(name, fmt)
        assert "linktype: " in header and "tool: " in header
        assert ("program: " if name in golden.PROGRAMS else "filter: ") in header
        assert formatter(insns) == body, f"{name}.{fmt}"


@pytest.mark.parametrize("name", list(golden.PROGRAMS))
def test_golden_ddd_holds_the_synthetic_program(name: str) -> None:
    # Fails when tests/make_golden.py changed a program without regenerating the goldens.
    assert parse_ddd(golden.read_golden(name, "ddd")[1]) == golden.PROGRAMS[name]


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_goldens_read_back(name: str) -> None:
    insns = _golden_program(name)
    assert parse_dump(golden.read_golden(name, "dd")[1]) == insns
    assert parse_dump(golden.read_golden(name, "ddd")[1]) == insns
    d_text = golden.read_golden(name, "d")[1]
    assert format_d(parse_dump(d_text)) == d_text
    assert parse_dump(d_text) == [canonical(i) for i in insns]
    if name in FILTERS and not _jumps_backward(insns):
        assert assemble(format_asm(insns)) == [canonical(i) for i in insns]


def _jumps_backward(insns: Sequence[Insn]) -> bool:
    return any(i.code == 0x05 and i.k >= 0x8000_0000 for i in insns)


def test_protochain_jumps_backward() -> None:
    # libpcap's protochain loop is a backward ja, which the kernel and our assembler refuse.
    insns = _golden_program("ip6-protochain-6")
    assert _jumps_backward(insns)
    with pytest.raises(ProgramError, match="ja jumps backward to instruction 4"):
        format_asm(insns)


@needs_libpcap
@pytest.mark.parametrize("name", [f.name for f in golden.FILTERS if not f.live])
def test_filter_goldens_are_libpcaps_program(name: str) -> None:
    flt = FILTERS[name]
    assert golden.libpcap_compile(flt.linktype, flt.expr, flt.optimize) == _golden_program(name)


@needs_tcpdump
@pytest.mark.parametrize("name", ["ip-tcp-port-80", "arith-unoptimized", "sll-udp-53"])
def test_matches_tcpdump_now(name: str, tmp_path: Path) -> None:
    flt = FILTERS[name]
    savefile = golden.empty_savefile(tmp_path / "empty.pcap", flt.linktype)
    outputs = {fmt: golden.tcpdump_dump(flt, fmt, savefile)[0] for fmt in FORMATTERS}
    insns = parse_dump(outputs["ddd"])
    for fmt, formatter in FORMATTERS.items():
        assert formatter(insns) == outputs[fmt]


# ---------------------------------------------------------------------------------------------
# Against libpcap in process


@needs_libpcap
@settings(max_examples=400)
@given(any_insn, st.integers(0, 5000))
def test_image_is_libpcaps_bpf_image(insn: Insn, pc: int) -> None:
    assert image(insn, pc) == golden.libpcap_image(insn, pc)


@needs_libpcap
@given(st.lists(any_insn, max_size=30))
def test_dumps_are_libpcaps_bpf_dump(insns: list[Insn]) -> None:
    for fmt, formatter in FORMATTERS.items():
        assert formatter(insns) == golden.libpcap_dump(insns, golden.OPTIONS[fmt])


# ---------------------------------------------------------------------------------------------
# Round trips


@settings(max_examples=400)
@given(st.lists(any_insn, max_size=60))
def test_dd_and_ddd_carry_every_field(insns: list[Insn]) -> None:
    for fmt in ("dd", "ddd"):
        text = FORMATTERS[fmt](insns)
        assert READERS[fmt](text) == insns
        if insns or fmt == "ddd":
            assert parse_dump(text) == insns


@settings(max_examples=400)
@given(st.lists(any_insn, max_size=60))
def test_d_reads_back_what_it_shows(insns: list[Insn]) -> None:
    text = format_d(insns)
    assert parse_dump(text) == [canonical(i) for i in insns]
    assert format_d(parse_dump(text)) == text


@settings(max_examples=400)
@given(programs(unknown=True))
def test_dumps_round_trip_exactly(insns: list[Insn]) -> None:
    for fmt, formatter in FORMATTERS.items():
        assert READERS[fmt](formatter(insns)) == insns
        assert parse_dump(formatter(insns)) == insns


@settings(max_examples=400)
@given(programs())
def test_asm_round_trips(insns: list[Insn]) -> None:
    assert assemble(format_asm(insns)) == insns


@needs_bpf_asm
@settings(max_examples=400)
@given(programs())
def test_format_asm_is_what_bpf_asm_reads(insns: list[Insn]) -> None:
    assert bpf_asm.assemble(format_asm(insns)) == [tuple(i) for i in insns]


@pytest.mark.parametrize("code", CODES, ids=_opcode_id)
def test_every_opcode_through_every_format(code: int) -> None:
    insns = _example(code)
    for fmt, formatter in FORMATTERS.items():
        assert READERS[fmt](formatter(insns)) == insns, fmt
    assert assemble(format_asm(insns)) == insns
    if golden.libpcap() is not None:
        assert format_d(insns) == golden.libpcap_dump(insns, 1)
    if bpf_asm is not None:
        assert bpf_asm.assemble(format_asm(insns)) == [tuple(i) for i in insns]


@pytest.mark.parametrize("offset", sorted(ANCILLARY), ids=lambda off: ANCILLARY[off])
@pytest.mark.parametrize("code", [0x20, 0x28, 0x30], ids=["ld", "ldh", "ldb"])
def test_ancillary_loads_round_trip(code: int, offset: int) -> None:
    insns = [Insn(code, 0, 0, SKF_AD_OFF + offset), Insn(0x16)]
    for fmt, formatter in FORMATTERS.items():
        assert READERS[fmt](formatter(insns)) == insns
    assert assemble(format_asm(insns)) == insns
    if bpf_asm is not None:
        assert bpf_asm.assemble(format_asm(insns)) == [tuple(i) for i in insns]


def test_empty_program() -> None:
    assert format_d([]) == format_dd([]) == "" and format_ddd([]) == "0\n"
    assert parse_dump("") == parse_dump("0\n") == assemble("") == []


# ---------------------------------------------------------------------------------------------
# The assembler's syntax, against bpf_asm

BPF_ASM_SYNTAX = {
    "aliases": "ldi #5\nldxi #7\nldi 3\njmp l1\nl1: ret #0",
    "percent-registers": "ld [%x + 5]\nadd %x\njeq %x, l1\nl1: ret %a",
    "length": "ld len\nld #len\nldx len\nldx #len\nret a",
    "extensions": "ld #proto\nldh type\nldb #vlan_pr\nld vlan_avail\nld #rand\nld poff\n"
                  "ld #ifidx\nld nla\nld nlan\nld mark\nld queue\nld hatype\nld rxhash\n"
                  "ld cpu\nld vlan_tci\nld #vlan_tpid\nret #0",
    "numbers": "ld #0x10\nld #0XfF\nld #010\nld #0b101\nld #-1\nld #+7\nld #0\nret #4294967295",
    "comments": "; header\n# hash line\nld #1 ; trailing\n\n   \nret #0",
    "label-on-its-own-line": "jeq #1, yes\nret #0\nyes:\nret #1",
    "case-insensitive": "LDH [12]\nJEQ #0x800, Yes, no\nno: RET #0\nYes: Ret #1",
    "negated-jumps": "jne #1, l1\njlt #2, l1\njle x, l1\njneq #3, l1\njlt %x, l1\nl1: ret #0",
    "msh": "ldx 4*([14]&0xf)\nldxb 4 * ( [14] & 0xf )\nret #0",
    "scratch": "st M[0]\nstx M[15]\nld M[0]\nldx M[15]\nret #0",
    "alu": "\n".join(f"{op} #3\n{op} x" for op in
                     ("add", "sub", "mul", "div", "mod", "and", "or", "xor", "lsh", "rsh"))
           + "\nneg\ntax\ntxa\nret a",
    "jumps": "jgt #1, l1, l2\njge x, l1\njset #4, l2, l1\nl1: ja l2\nl2: ret #0",
}


@needs_bpf_asm
@pytest.mark.parametrize("text", BPF_ASM_SYNTAX.values(), ids=BPF_ASM_SYNTAX.keys())
def test_assembles_like_bpf_asm(text: str) -> None:
    assert assemble(text) == [Insn(*i) for i in bpf_asm.assemble(text)]


#: Our extensions, each against the bpf_asm spelling it means.
EXTENSIONS = {
    "two-label-jne": ("jne #1, a1, b1\na1: ret #1\nb1: ret #0",
                      "jeq #1, b1, a1\na1: ret #1\nb1: ret #0"),
    "two-label-jlt": ("jlt x, a1, b1\na1: ret #1\nb1: ret #0",
                      "jge x, b1, a1\na1: ret #1\nb1: ret #0"),
    "slash-comments": ("ld #1 // c\n/* block\n comment */ ret #0", "ld #1\nret #0"),
    "x-plus-without-spaces": ("ld [x+5]\nldh [ x +0x10 ]\nret #0",
                              "ld [x + 5]\nldh [x + 16]\nret #0"),
    "libpcap-spellings": ("ld [proto]\nldb [vlanp]\nld #random\nld #pktlen\nret #0",
                          "ld #proto\nldb #vlan_avail\nld #rand\nld #len\nret #0"),
    "xor-x": ("ld #xor_x\nret #0", "ld [0xfffff028]\nret #0"),
    "stacked-labels": ("jeq #1, a1, b1\na1: b1: ret #0", "jeq #1, a1, a1\na1: ret #0"),
    "one-letter-labels": ("jeq #1, y\nret #0\ny: ret #1", "jeq #1, yy\nret #0\nyy: ret #1"),
    "hash-after-indent": ("  # indented comment\nret #0", "ret #0"),
}


@needs_bpf_asm
@pytest.mark.parametrize(("ours", "theirs"), EXTENSIONS.values(), ids=EXTENSIONS.keys())
def test_extensions_mean_the_bpf_asm_spelling(ours: str, theirs: str) -> None:
    assert assemble(ours) == [Insn(*i) for i in bpf_asm.assemble(theirs)]


# ---------------------------------------------------------------------------------------------
# Errors: a specific message, the line and the text, never a traceback

FAR = "jeq #1, far\n" + "ld #0\n" * 256 + "far: ret #0"
ASM_ERRORS = {
    "unknown-mnemonic": ("ld #1\nlda #1\nret #0", 2, "unknown mnemonic 'lda'"),
    "not-a-mnemonic": ("12 ld", 1, "expected a mnemonic"),
    "unknown-label": ("jeq #1, nowhere\nret #0", 1, "unknown label 'nowhere'"),
    "backward-jump": ("top: ld #1\njeq #1, top\nret #0", 2, "backward jump to 'top'"),
    "backward-ja": ("top: ld #1\nja top\nret #0", 2, "backward jump to 'top'"),
    "jump-to-self": ("me: ja me\nret #0", 1, "backward jump to 'me'"),
    "jump-over-255": (FAR, 1, "jt/jf reach at most 255"),
    "k-too-big": ("ld #0x100000000\nret #0", 1, "k out of range"),
    "k-too-negative": ("ret #-2147483649", 1, "k out of range"),
    "scratch-16": ("st M[16]", 1, "M[16] does not exist"),
    "ldx-abs": ("ldx [12]", 1, "'ldx' cannot take [k]"),
    "ret-x": ("ret x", 1, "'ret' cannot take x"),
    "st-imm": ("st #1", 1, "'st' cannot take #k"),
    "ldx-extension": ("ldx #proto", 1, "'ldx' cannot take [k]"),
    "ld-bare-number": ("ld 12", 1, "'ld' cannot take a bare number"),
    "ldi-mem": ("ldi M[1]", 1, "'ldi' takes only #k"),
    "labels-on-add": ("add #1, l1\nl1: ret #0", 1, "'add' takes no jump labels"),
    "jeq-without-label": ("jeq #1\nret #0", 1, "got 0 labels"),
    "jeq-three-labels": ("jeq #1, a, b, c\na: b: c: ret #0", 1, "got 3 labels"),
    "bad-label": ("jeq #1, 9x\nret #0", 1, "bad label '9x'"),
    "ja-without-label": ("ja\nret #0", 1, "'ja' takes one label"),
    "duplicate-label": ("aa: ld #1\naa: ret #0", 2, "label 'aa' is already defined on line 1"),
    "dangling-label": ("ret #0\nend:", 2, "label 'end' is not followed by an instruction"),
    "octal-digit": ("ld #08", 1, "bad number '08'"),
    "unknown-name": ("ld #bogus", 1, "unknown operand 'bogus'"),
    "unclosed-bracket": ("ld [12", 1, "cannot read operand '[12'"),
    "line-after-block-comment": ("/* one\ntwo */\nbad", 3, "unknown mnemonic 'bad'"),
    "unterminated-comment": ("ret #0\n/* one\ntwo", 2, "unterminated '/*' comment"),
    "long-line-is-clipped": ("ld #" + "9" * 5000, 1, "bad number '99999"),
}

DUMP_ERRORS = {
    "unknown-format": ("hello", 1, "not a -d, -dd or -ddd dump"),
    "d-misnumbered": ("(000) ret      #0\n(002) ret      #0", 2,
                      "numbered (002) where instruction 1 belongs"),
    "d-target-behind": ("(000) ldh      [12]\n(001) jeq      #0x800           jt 1\tjf 2", 2,
                        "must lie 1 to 256 instructions after 1"),
    "d-target-too-far": ("(000) jeq      #0x800           jt 258\tjf 1", 1, "must lie 1 to 256"),
    "d-missing-targets": ("(000) jeq      #0x800", 1, "needs 'jt N jf N'"),
    "d-targets-on-ret": ("(000) ret      #0 jt 1 jf 1", 1, "only a conditional jump"),
    "d-unknown-mnemonic": ("(000) lda      #1", 1, "unknown mnemonic 'lda'"),
    "d-unimp-decimal": ("(000) unimp    12", 1, "'unimp' takes the opcode in hex"),
    "d-unimp-too-big": ("(000) unimp    0x10000", 1, "field out of range"),
    "d-k-too-big": ("(000) ld       #0x100000000", 1, "k out of range"),
    "d-wrong-operand": ("(000) ldh      #0x1", 1, "'ldh' cannot take #k"),
    "d-no-number": ("000 ret #0", 1, "not a -d, -dd or -ddd dump"),
    "dd-short-line": ("{ 0x28, 0, 0 },", 1, "not a '{ code, jt, jf, k },' line"),
    "dd-jt-256": ("{ 0x15, 0, 0, 0x0 },\n{ 0x15, 256, 0, 0x0 },", 2, "field out of range"),
    "dd-negative": ("{ 0x6, 0, 0, -1 },", 1, "field out of range"),
    "ddd-count": ("2\n6 0 0 0\n", 1, "the count says 2 instructions but 1 follow"),
    "ddd-short-line": ("1\n6 0 0\n", 2, "not a 'code jt jf k' line"),
    "ddd-k-too-big": ("1\n6 0 0 4294967296\n", 2, "field out of range"),
    "ddd-comma-count": ("2,6 0 0 0,", 1, "the count says 2"),
    "ddd-huge-number": ("1\n6 0 0 " + "9" * 5000, 2, "bad number"),
}


def _raises_at(call: Callable[[str], object], text: str, line: int, fragment: str) -> None:
    with pytest.raises(ProgramError) as info:
        call(text)
    error = info.value
    assert isinstance(error, AsmError)
    assert error.line == line
    assert str(error).startswith(f"line {line}: ")
    assert fragment in str(error)
    assert error.text.strip()[:60] in str(error)
    assert len(str(error)) < 300
    assert error.render().startswith("bpfc: error: line ")


@pytest.mark.parametrize(("text", "line", "fragment"), ASM_ERRORS.values(),
                         ids=ASM_ERRORS.keys())
def test_assembler_errors(text: str, line: int, fragment: str) -> None:
    _raises_at(assemble, text, line, fragment)


@pytest.mark.parametrize(("text", "line", "fragment"), DUMP_ERRORS.values(),
                         ids=DUMP_ERRORS.keys())
def test_dump_errors(text: str, line: int, fragment: str) -> None:
    _raises_at(parse_dump, text, line, fragment)


def test_format_asm_refuses_what_it_cannot_spell() -> None:
    with pytest.raises(ProgramError, match="opcode 0x1234 has no assembler spelling"):
        format_asm([Insn(0x1234), Insn(0x06)])
    with pytest.raises(ProgramError, match="jumps past the end"):
        format_asm([Insn(0x15, 0, 1, 0), Insn(0x06)])


GARBAGE = st.text(alphabet=st.sampled_from("(){}[]#%x+-*&:,;/ \t\n0123456789abcdefjltqM."),
                  max_size=80)


@settings(max_examples=400)
@given(st.one_of(GARBAGE, st.text(max_size=80)))
def test_bad_text_raises_only_program_errors(text: str) -> None:
    for read in (parse_dump, assemble, parse_d, parse_dd, parse_ddd):
        try:
            read(text)
        except ProgramError:
            pass


@settings(max_examples=400)
@given(programs(unknown=True, max_size=8), st.sampled_from(["d", "dd", "ddd", "asm"]),
       st.integers(0, 10_000), st.integers(0, 3), st.sampled_from("(){}[]#%x+-*&:,; \n09afjM"))
def test_damaged_dumps_raise_only_program_errors(insns: list[Insn], fmt: str, where: int,
                                                 cut: int, char: str) -> None:
    if fmt == "asm":
        known = [i for i in insns if i.code in OPCODES]
        try:
            text, read = format_asm(known), assemble
        except ProgramError:  # dropping opcodes can leave a jump pointing past the end
            return
    else:
        text, read = FORMATTERS[fmt](insns), parse_dump
    where %= len(text) + 1
    damaged = text[:where] + char + text[where + cut:]
    try:
        read(damaged)
    except ProgramError:
        pass
