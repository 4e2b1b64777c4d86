"""Dumps: tcpdump's ``-d``/``-dd``/``-ddd`` text, and the assemblers that read text back.

Stage: instructions -> text (``format_d``, ``format_dd``, ``format_ddd``, ``format_asm``) and
text -> instructions (``parse_dump`` for the three dump formats, ``assemble`` for a label-based
syntax in the spirit of Linux ``tools/bpf/bpf_asm``).

The printers are byte-for-byte what libpcap 1.10.3's ``bpf_dump``/``bpf_image`` print, which is
what tcpdump 4.99 prints for ``-d``/``-dd``/``-ddd``; tests/golden/dump holds that libpcap's own
output. Both directions are driven by ``isa.OPCODES``: only the libpcap conventions the table
cannot know live here (which constants print in hex, how ancillary loads are spelled, the one
kernel opcode libpcap cannot print).

``-dd`` and ``-ddd`` carry every field. ``-d`` and the assembler, like libpcap, show only the
fields an opcode uses: no jt/jf on a non-conditional opcode, no k on ``ret a``, ``neg``, ``tax``,
``txa`` or a length load, and ``-d`` shows an opcode it does not know as ``unimp 0x..`` with no
fields at all. Fields not shown read back as 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from . import isa
from .errors import ProgramError
from .isa import (
    ANCILLARY,
    BPF_A,
    BPF_CLASS,
    BPF_JA,
    BPF_JMP,
    BPF_LDX,
    BPF_LEN,
    BPF_MEMWORDS,
    BPF_OP,
    BPF_RET,
    BPF_W,
    CONDITIONAL_JUMPS,
    OPCODES,
    SKF_AD_ALU_XOR_X,
    SKF_AD_OFF,
    SKF_AD_RANDOM,
    SKF_AD_VLAN_TAG_PRESENT,
    Insn,
    OpInfo,
)

__all__ = [
    "BPF_ASM_AD_NAMES",
    "LIBPCAP_AD_NAMES",
    "AsmError",
    "assemble",
    "canonical",
    "format_asm",
    "format_d",
    "format_dd",
    "format_ddd",
    "image",
    "parse_d",
    "parse_dd",
    "parse_ddd",
    "parse_dump",
]

_U32 = 0xFFFFFFFF

#: How libpcap's ``bpf_image`` (Linux build) spells ``[SKF_AD_OFF + off]`` absolute loads: the
#: names of ``isa.ANCILLARY``, which records them that way.
LIBPCAP_AD_NAMES: dict[int, str] = dict(isa.ANCILLARY)

#: How ``bpf_asm`` spells them, which ``format_asm`` prints so that bpf_asm reads its output too.
#: bpf_asm has no name for SKF_AD_ALU_XOR_X, so that one prints as a number.
BPF_ASM_AD_NAMES: dict[int, str] = {
    **{off: name for off, name in LIBPCAP_AD_NAMES.items() if off != SKF_AD_ALU_XOR_X},
    SKF_AD_VLAN_TAG_PRESENT: "vlan_avail",
    SKF_AD_RANDOM: "rand",
}

#: Every spelling either tool uses (bpf_asm also says ``vlan_pr``), all accepted when reading.
_AD_OFFSETS: dict[str, int] = {
    **{name: off for off, name in LIBPCAP_AD_NAMES.items()},
    **{name: off for off, name in BPF_ASM_AD_NAMES.items()},
    "vlan_pr": SKF_AD_VLAN_TAG_PRESENT,
}
assert set(LIBPCAP_AD_NAMES) == set(ANCILLARY), "isa.ANCILLARY and the dump spellings disagree"

# libpcap prints bitwise and comparison constants in hex, arithmetic and return values in decimal.
_HEX_K = frozenset({"and", "or", "xor", "jeq", "jgt", "jge", "jset"})

# libpcap's bpf_image has no case for BPF_LDX|BPF_W|BPF_LEN (the kernel accepts it): "unimp".
_LIBPCAP_UNPRINTED = frozenset({BPF_LDX | BPF_W | BPF_LEN})


class AsmError(ProgramError):
    """Dump or assembler text that cannot be read; names the 1-based line and quotes it."""

    def __init__(self, message: str, line: int, text: str) -> None:
        super().__init__(f"line {line}: {message} (in '{_clip(text.strip())}')")
        self.line = line
        self.text = text


def _clip(text: str, limit: int = 60) -> str:
    """User text to quote in a message, cut short so that a pasted megabyte stays readable."""
    return text if len(text) <= limit else text[:limit] + "..."


class _LineError(Exception):
    """Raised inside a line's reader; the line loop adds the line number and text."""


# ---------------------------------------------------------------------------------------------
# Printing


def _s32(k: int) -> int:
    """``k`` as C's ``%d`` prints a u32 stored in an int."""
    return k - 0x1_0000_0000 if k & 0x8000_0000 else k


def _d_operand(info: OpInfo, k: int, pc: int) -> str:
    match info.operand:
        case "abs":
            name = LIBPCAP_AD_NAMES.get(k - SKF_AD_OFF) if k >= SKF_AD_OFF else None
            return f"[{name}]" if name is not None else f"[{_s32(k)}]"
        case "ind":
            return f"[x + {_s32(k)}]"
        case "msh":
            return f"4*([{_s32(k)}]&0xf)"
        case "len":
            return "#pktlen"
        case "imm":
            return f"#0x{k:x}"
        case "mem":
            return f"M[{_s32(k)}]"
        case "k":
            return f"#0x{k:x}" if info.mnemonic in _HEX_K else f"#{_s32(k)}"
        case "x":
            return "x"
        case "a" | "none":
            return ""
        case "ja":
            return str(_s32((pc + 1 + k) & _U32))
    raise AssertionError(f"operand kind {info.operand!r} has no -d spelling")


_PRINTABLE: dict[int, OpInfo] = {
    code: info for code, info in OPCODES.items() if code not in _LIBPCAP_UNPRINTED
}


def _shows_targets(code: int) -> bool:
    """Whether -d prints ``jt``/``jf``: libpcap decides by the class and op bits alone, so an
    unknown jump-class opcode (eBPF's ``jne``, say) shows its targets next to ``unimp``."""
    return BPF_CLASS(code) == BPF_JMP and BPF_OP(code) != BPF_JA


def image(insn: Insn, pc: int) -> str:
    """One ``-d`` line without its newline: libpcap's ``bpf_image(insn, pc)``."""
    code = insn.code
    info = _PRINTABLE.get(code)
    if info is None:
        mnemonic, operand = "unimp", f"0x{code:x}"
    else:
        mnemonic, operand = info.mnemonic, _d_operand(info, insn.k, pc)
    if _shows_targets(code):
        return (f"({pc:03d}) {mnemonic:<8} {operand:<16} "
                f"jt {pc + 1 + insn.jt}\tjf {pc + 1 + insn.jf}")
    return f"({pc:03d}) {mnemonic:<8} {operand}"


def canonical(insn: Insn) -> Insn:
    """``insn`` with the fields -d does not show set to 0: for a known opcode, the fields it
    ignores (libpcap sometimes leaves a stale k on ``tax``); for an unknown one, all but the
    code and, on a jump-class code, jt/jf. ``parse_d(format_d(p)) == [canonical(i) for i in p]``
    and, for known opcodes, ``assemble(format_asm(p))`` gives the same."""
    code = insn.code
    info = OPCODES.get(code)
    if info is None or info.operand in ("len", "a", "none", "x"):
        k = 0
    else:
        k = insn.k
    if _shows_targets(code):
        return Insn(code, insn.jt, insn.jf, k)
    return Insn(code, 0, 0, k)


def format_d(insns: Sequence[Insn]) -> str:
    """``tcpdump -d``: one ``bpf_image`` line per instruction, jump targets absolute."""
    return "".join(image(insn, pc) + "\n" for pc, insn in enumerate(insns))


def format_dd(insns: Sequence[Insn]) -> str:
    """``tcpdump -dd``: a C array body, ``{ code, jt, jf, k },`` per line."""
    return "".join(f"{{ 0x{i.code:x}, {i.jt}, {i.jf}, 0x{i.k:08x} }},\n" for i in insns)


def format_ddd(insns: Sequence[Insn]) -> str:
    """``tcpdump -ddd``: the count, then ``code jt jf k`` in decimal per line."""
    return f"{len(insns)}\n" + "".join(f"{i.code} {i.jt} {i.jf} {i.k}\n" for i in insns)


# ---------------------------------------------------------------------------------------------
# Reading operands (shared by the -d reader and the assembler)

_NUM = r"[-+]?(?:0x[0-9a-f]+|0b[01]+|[0-9]+)"
_WORD = r"[a-z_][a-z0-9_]*"
_OPERAND_RE = re.compile(
    rf"""\#\s*(?P<imm>{_NUM})
    | \#\s*(?P<hword>{_WORD})
    | \[\s*%?x\s*\+\s*(?P<ind>{_NUM})\s*\]
    | \[\s*(?P<abs>{_NUM})\s*\]
    | \[\s*(?P<name>{_WORD})\s*\]
    | 4\s*\*\s*\(\s*\[\s*(?P<msh>{_NUM})\s*\]\s*&\s*0xf\s*\)
    | m\s*\[\s*(?P<mem>{_NUM})\s*\]
    | %(?P<reg>[xa])
    | (?P<bare>{_NUM})
    | (?P<word>{_WORD})""",
    re.VERBOSE,
)


def _integer(text: str) -> int:
    """A number as bpf_asm reads it: 0x hex, 0b binary, C octal after a leading 0, else decimal."""
    body = text.lstrip("+-")
    try:
        if body.startswith("0x"):
            value = int(body, 16)
        elif body.startswith("0b"):
            value = int(body, 2)
        elif len(body) > 1 and body[0] == "0":
            value = int(body[1:], 8)
        else:
            value = int(body, 10)
    except ValueError:
        raise _LineError(f"bad number '{_clip(text)}'") from None
    return -value if text.startswith("-") else value


def _u32(text: str) -> int:
    return _wrap(_integer(text), text)


def _wrap(value: int, text: str) -> int:
    """A 32-bit field: negative numbers wrap as C's ``%d`` printed them."""
    if not -0x8000_0000 <= value <= _U32:
        raise _LineError(f"k out of range: '{_clip(text)}' does not fit in 32 bits")
    return value & _U32


def _named(word: str) -> tuple[str, int]:
    if word in ("len", "pktlen"):
        return "len", 0
    off = _AD_OFFSETS.get(word)
    if off is None:
        raise _LineError(f"unknown operand '{_clip(word)}'")
    return "abs", SKF_AD_OFF + off


def _operand(text: str) -> tuple[str, int]:
    """Classify an operand into a form (the ``OpInfo.operand`` vocabulary, plus ``bare``)."""
    if not text:
        return "none", 0
    m = _OPERAND_RE.fullmatch(text.lower())
    if m is None:
        raise _LineError(f"cannot read operand '{_clip(text)}'")
    form = m.lastgroup
    value = m.group(form) if form is not None else ""
    match form:
        case "imm" | "abs" | "ind" | "msh" | "mem":
            return form, _u32(value)
        case "hword" | "name":
            return _named(value)
        case "word":
            return (value, 0) if value in ("x", "a") else _named(value)
        case "reg":
            return value, 0
        case "bare":
            return "bare", _integer(value)
    raise AssertionError(f"operand form {form!r}")


# Operand kinds of the table as the readers classify them: a constant is "#k" either way.
_FORM_OF_KIND = {"abs": "abs", "ind": "ind", "msh": "msh", "len": "len", "imm": "imm",
                 "mem": "mem", "k": "imm", "x": "x", "a": "a", "none": "none", "ja": "label"}
_FORM_SPELLING = {"abs": "[k]", "ind": "[x + k]", "msh": "4*([k]&0xf)", "len": "#len",
                  "imm": "#k", "mem": "M[k]", "x": "x", "a": "a", "none": "no operand",
                  "label": "a label", "bare": "a bare number"}


def _by_form() -> dict[tuple[str, str], int]:
    table: dict[tuple[str, str], int] = {}
    for code, info in OPCODES.items():
        key = (info.mnemonic, _FORM_OF_KIND[info.operand])
        assert key not in table, f"two opcodes spelled {key}"
        table[key] = code
    return table


_BY_FORM = _by_form()
_MNEMONICS = frozenset(m for m, _ in _BY_FORM)

# -d spells ``ret a`` as a bare ``ret`` and a ``ja`` operand as its absolute target.
_D_FORMS = {key: code for key, code in _BY_FORM.items() if key[1] != "label"}
_D_FORMS[("ret", "none")] = BPF_RET | BPF_A
_D_FORMS[("ja", "bare")] = _BY_FORM[("ja", "label")]


def _wrong_operand(mnemonic: str, form: str, forms: dict[tuple[str, str], int]) -> _LineError:
    takes = sorted(_FORM_SPELLING[f] for m, f in forms if m == mnemonic)
    return _LineError(f"'{mnemonic}' cannot take {_FORM_SPELLING.get(form, form)} "
                      f"(it takes {', '.join(takes)})")


# ---------------------------------------------------------------------------------------------
# Reading dumps

_D_LINE = re.compile(r"\(\s*([0-9]+)\)\s+([a-z]+)\s*(.*?)(?:\s+jt\s+([0-9]+)\s+jf\s+([0-9]+))?\s*")
_DD_LINE = re.compile(rf"\{{\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\}}\s*,?\s*",
                      re.IGNORECASE)
_HEX = re.compile(r"0x[0-9a-f]+")
_DDD_FIELDS = re.compile(r"\s*([0-9]+)\s+([0-9]+)\s+([0-9]+)\s+([0-9]+)\s*")
_COUNT = re.compile(r"\s*([0-9]+)\s*")


def _lines(text: str) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers."""
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _decimal(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:  # more digits than Python converts
        raise _LineError(f"bad number '{_clip(text)}'") from None


def _fields(code: int, jt: int, jf: int, k: int) -> Insn:
    if code > 0xFFFF or jt > 0xFF or jf > 0xFF or k > _U32 or min(code, jt, jf, k) < 0:
        raise _LineError("field out of range (code u16, jt/jf u8, k u32)")
    return Insn(code, jt, jf, k)


def _d_insn(line: str, pc: int) -> Insn:
    m = _D_LINE.fullmatch(line)
    if m is None:
        raise _LineError("not a tcpdump -d line")
    number, mnemonic, operand, jt_text, jf_text = m.groups()
    if _decimal(number) != pc:
        raise _LineError(f"numbered ({number}) where instruction {pc} belongs")
    if mnemonic == "unimp":
        if not _HEX.fullmatch(operand):
            raise _LineError("'unimp' takes the opcode in hex")
        unknown = int(operand, 16)
        if unknown > 0xFFFF:
            raise _LineError("field out of range (code u16, jt/jf u8, k u32)")
        return Insn(unknown, *_d_targets(unknown, jt_text, jf_text, pc), 0)
    if mnemonic not in _MNEMONICS:
        raise _LineError(f"unknown mnemonic '{_clip(mnemonic)}'")
    form, value = _operand(operand)
    code = _D_FORMS.get((mnemonic, form))
    if code is None:
        raise _wrong_operand(mnemonic, form, _D_FORMS)
    jt, jf = _d_targets(code, jt_text, jf_text, pc)
    if form == "bare":
        if not -0x8000_0000 <= value <= 0x7FFF_FFFF:
            raise _LineError(f"jump target {value} out of range")
        value = (value - pc - 1) & _U32
    return Insn(code, jt, jf, value)


def _d_targets(code: int, jt_text: str | None, jf_text: str | None, pc: int) -> tuple[int, int]:
    """Relative jt/jf from the absolute targets -d shows (on jump-class opcodes only)."""
    if not _shows_targets(code):
        if jt_text is not None:
            raise _LineError("only a conditional jump has 'jt N jf N'")
        return 0, 0
    if jt_text is None or jf_text is None:
        raise _LineError("a conditional jump needs 'jt N jf N'")
    jt, jf = _decimal(jt_text) - pc - 1, _decimal(jf_text) - pc - 1
    if not (0 <= jt <= 0xFF and 0 <= jf <= 0xFF):
        raise _LineError(f"jump targets {jt_text} and {jf_text} must lie 1 to 256 instructions "
                         f"after {pc}")
    return jt, jf


def parse_d(text: str) -> list[Insn]:
    """Read ``tcpdump -d`` output; absolute jump targets become relative offsets."""
    insns: list[Insn] = []
    for n, line in _lines(text):
        try:
            insns.append(_d_insn(line, len(insns)))
        except _LineError as e:
            raise AsmError(str(e), n, line) from None
    return insns


def parse_dd(text: str) -> list[Insn]:
    """Read ``tcpdump -dd`` (or ``bpf_asm -c``) C array lines."""
    insns: list[Insn] = []
    for n, line in _lines(text):
        try:
            m = _DD_LINE.fullmatch(line)
            if m is None:
                raise _LineError("not a '{ code, jt, jf, k },' line")
            insns.append(_fields(*(_integer(f.lower()) for f in m.groups())))
        except _LineError as e:
            raise AsmError(str(e), n, line) from None
    return insns


def parse_ddd(text: str) -> list[Insn]:
    """Read ``tcpdump -ddd``: a count line, then ``code jt jf k`` lines. Also reads the one-line
    comma form ``count,code jt jf k,...`` that bpf_asm prints and ``xt_bpf --bytecode`` takes."""
    lines = _lines(text)
    if not lines:
        return []
    first_n, first = lines[0]
    if "," in first:
        if len(lines) > 1:
            raise AsmError("the comma form is a single line", lines[1][0], lines[1][1])
        parts = first.split(",")
        if not parts[-1].strip():
            parts.pop()
        entries = [(first_n, p) for p in parts]
    else:
        entries = lines
    count_n, count_text = entries[0]
    try:
        m = _COUNT.fullmatch(count_text)
        if m is None:
            raise _LineError("expected the instruction count")
        count = _decimal(m.group(1))
    except _LineError as e:
        raise AsmError(str(e), count_n, count_text) from None
    insns: list[Insn] = []
    for n, entry in entries[1:]:
        try:
            m = _DDD_FIELDS.fullmatch(entry)
            if m is None:
                raise _LineError("not a 'code jt jf k' line")
            insns.append(_fields(*(_decimal(f) for f in m.groups())))
        except _LineError as e:
            raise AsmError(str(e), n, entry) from None
    if count != len(insns):
        raise AsmError(f"the count says {count} instructions but {len(insns)} follow",
                       count_n, count_text)
    return insns


def parse_dump(text: str) -> list[Insn]:
    """Read any of tcpdump's ``-d``, ``-dd`` and ``-ddd`` outputs, telling them apart by their
    first non-blank line."""
    lines = _lines(text)
    if not lines:
        return []
    n, first = lines[0]
    head = first.lstrip()
    reader: Callable[[str], list[Insn]]
    if head.startswith("("):
        reader = parse_d
    elif head.startswith("{"):
        reader = parse_dd
    elif re.match(r"[0-9]+\s*(,|$)", head):
        reader = parse_ddd
    else:
        raise AsmError("not a -d, -dd or -ddd dump (expected '(000) ...', '{ 0x.. }' or a count)",
                       n, first)
    return reader(text)


# ---------------------------------------------------------------------------------------------
# The assembler

_ASM_FORMS = {**_BY_FORM, ("ldx", "msh"): _BY_FORM[("ldxb", "msh")]}
_ASM_ALIASES = {"jmp": "ja", "ldi": "ld", "ldxi": "ldx"}
#: bpf_asm's negated jumps: the same opcode with the targets swapped.
_NEGATED = {"jne": "jeq", "jneq": "jeq", "jlt": "jge", "jle": "jgt"}
_NEGATION_OF = {"jeq": "jne", "jge": "jlt", "jgt": "jle"}
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_LABEL_DEF = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*:")
_MNEMONIC = re.compile(r"\s*([A-Za-z]+)(?![A-Za-z0-9_])")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


class _Pending(NamedTuple):
    """An instruction whose jump labels are not resolved yet."""

    line: int
    text: str
    code: int
    k: int
    jt: str | None
    jf: str | None


def _strip_comment(line: str) -> str:
    for mark in (";", "//"):
        cut = line.find(mark)
        if cut >= 0:
            line = line[:cut]
    return "" if line.lstrip().startswith("#") else line


def _asm_insn(body: str, line: int, raw: str) -> _Pending:
    m = _MNEMONIC.match(body)
    if m is None:
        raise _LineError("expected a mnemonic")
    mnemonic, rest = m.group(1).lower(), body[m.end():]
    operand, *labels = (part.strip() for part in rest.split(","))
    name = _ASM_ALIASES.get(mnemonic) or _NEGATED.get(mnemonic) or mnemonic
    if name not in _MNEMONICS:
        raise _LineError(f"unknown mnemonic '{_clip(mnemonic)}'")
    if name == "ja":
        if labels or not _LABEL.fullmatch(operand):
            raise _LineError(f"'{mnemonic}' takes one label")
        return _Pending(line, raw, _BY_FORM[("ja", "label")], 0, operand, None)
    form, k = _operand(operand)
    if form == "bare" and mnemonic in ("ldi", "ldxi"):
        form, k = "imm", _wrap(k, operand)
    if mnemonic in ("ldi", "ldxi") and form != "imm":
        raise _LineError(f"'{mnemonic}' takes only #k")
    code = _ASM_FORMS.get((name, form))
    if code is None:
        raise _wrong_operand(mnemonic, form, _ASM_FORMS)
    if form == "mem" and k >= BPF_MEMWORDS:
        raise _LineError(f"k out of range: scratch slot M[{k}] does not exist "
                         f"(M[0] to M[{BPF_MEMWORDS - 1}])")
    if code not in CONDITIONAL_JUMPS:
        if labels:
            raise _LineError(f"'{mnemonic}' takes no jump labels")
        return _Pending(line, raw, code, k, None, None)
    if not 1 <= len(labels) <= 2:
        raise _LineError(f"'{mnemonic}' takes a true label and an optional false label, "
                         f"got {len(labels)} labels")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise _LineError(f"bad label '{_clip(label)}'")
    jt: str | None = labels[0]
    jf: str | None = labels[1] if len(labels) == 2 else None
    if mnemonic in _NEGATED:
        jt, jf = jf, jt
    return _Pending(line, raw, code, k, jt, jf)


def assemble(text: str) -> list[Insn]:
    """Assemble bpf_asm-style text: ``label:`` definitions, ``jeq #k, Ltrue[, Lfalse]`` (a
    missing target falls through), ``ja L``, comments after ``;`` or ``//``, in ``/* */``, or on
    lines starting with ``#``. Mnemonics and keywords are case-insensitive, labels are not."""
    text = "\n".join(text.splitlines())  # one line separator, so that counting "\n" is exact
    text = _BLOCK_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), text)
    if (start := text.find("/*")) >= 0:
        n = text.count("\n", 0, start) + 1
        raise AsmError("unterminated '/*' comment", n, text.splitlines()[n - 1])
    pending: list[_Pending] = []
    labels: dict[str, int] = {}
    label_lines: dict[str, tuple[int, str]] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        body = _strip_comment(raw)
        try:
            while (m := _LABEL_DEF.match(body)) is not None:
                name = m.group(1)
                if name in labels:
                    first = label_lines[name][0]
                    raise _LineError(f"label '{name}' is already defined on line {first}")
                labels[name] = len(pending)
                label_lines[name] = (n, raw)
                body = body[m.end():]
            if body.strip():
                pending.append(_asm_insn(body, n, raw))
        except _LineError as e:
            raise AsmError(str(e), n, raw) from None
    for name, target in labels.items():
        if target == len(pending):
            raise AsmError(f"label '{name}' is not followed by an instruction",
                           *label_lines[name])
    return [_resolve(p, pc, labels) for pc, p in enumerate(pending)]


def _resolve(p: _Pending, pc: int, labels: dict[str, int]) -> Insn:
    def offset(label: str | None, limit: int) -> int:
        if label is None:
            return 0
        target = labels.get(label)
        if target is None:
            raise AsmError(f"unknown label '{label}'", p.line, p.text)
        if target <= pc:
            raise AsmError(f"backward jump to '{label}' (instruction {target}) from instruction "
                           f"{pc}; cbpf jumps only forward", p.line, p.text)
        if target - pc - 1 > limit:
            raise AsmError(f"conditional jump to '{label}' is {target - pc - 1} instructions "
                           f"ahead; jt/jf reach at most {limit} (jump to a 'ja' instead)",
                           p.line, p.text)
        return target - pc - 1

    if p.code in CONDITIONAL_JUMPS:
        return Insn(p.code, offset(p.jt, 0xFF), offset(p.jf, 0xFF), p.k)
    if p.jt is not None:  # ja
        return Insn(p.code, 0, 0, offset(p.jt, _U32))
    return Insn(p.code, 0, 0, p.k)


def _asm_operand(info: OpInfo, k: int) -> str:
    match info.operand:
        case "abs":
            name = BPF_ASM_AD_NAMES.get(k - SKF_AD_OFF) if k >= SKF_AD_OFF else None
            return f"#{name}" if name is not None else f"[{_asm_number(k)}]"
        case "ind":
            return f"[x + {_asm_number(k)}]"
        case "msh":
            return f"4*([{_asm_number(k)}]&0xf)"
        case "len":
            return "#len"
        case "imm":
            return f"#0x{k:x}"
        case "mem":
            return f"M[{k}]"
        case "k":
            return f"#0x{k:x}" if info.mnemonic in _HEX_K else f"#{k}"
        case "x" | "a":
            return info.operand
        case "none" | "ja":
            return ""
    raise AssertionError(f"operand kind {info.operand!r} has no assembler spelling")


def _asm_number(k: int) -> str:
    return str(k) if k <= 0xFFFF else f"0x{k:x}"


def format_asm(insns: Sequence[Insn]) -> str:
    """The program in the assembler's syntax, with an ``L<n>:`` label on every jump target, so
    that ``assemble(format_asm(p)) == p`` for any program whose unused fields are 0."""
    texts: list[str] = []
    targets: set[int] = set()
    for pc, insn in enumerate(insns):
        text, wanted = _asm_line(insn, pc)
        if wanted and max(wanted) >= len(insns):
            raise ProgramError(f"{text.split()[0]} jumps past the end of the program", pc)
        if wanted and min(wanted) <= pc:
            # libpcap's protochain loop does this; the kernel refuses it and so do we.
            raise ProgramError(f"ja jumps backward to instruction {min(wanted)}; the assembler "
                               "writes only forward jumps", pc)
        texts.append(text)
        targets.update(wanted)
    return "".join(f"{f'L{pc}:' if pc in targets else '':<8}{text}\n"
                   for pc, text in enumerate(texts))


def _asm_line(insn: Insn, pc: int) -> tuple[str, tuple[int, ...]]:
    """One instruction's text and the instructions its labels name."""
    info = OPCODES.get(insn.code)
    if info is None:
        raise ProgramError(f"opcode 0x{insn.code:x} has no assembler spelling", pc)
    operand = _asm_operand(info, insn.k)
    text = f"{info.mnemonic} {operand}".rstrip()
    if info.operand == "ja":
        target = pc + 1 + _s32(insn.k)
        return f"{text} L{target}", (target,)
    if insn.code not in CONDITIONAL_JUMPS:
        return text, ()
    t, f = pc + 1 + insn.jt, pc + 1 + insn.jf
    negation = _NEGATION_OF.get(info.mnemonic)
    if insn.jf == 0:
        return f"{text}, L{t}", (t,)
    if insn.jt == 0 and negation is not None:
        return f"{negation} {operand}, L{f}", (f,)
    return f"{text}, L{t}, L{f}", (t, f)
