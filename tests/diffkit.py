"""Differential harness: compile one expression with libpcap and with bpfc, run both, report.

The oracle is the real libpcap. Two builds are at hand and they are not the same library:

- ``libpcap 1.10.3``, the system library tcpdump 4.99.3 links, called here through ctypes. The
  expression is compiled **on a savefile handle** (a header-only capture file of the link type and
  snapshot length), exactly as ``tcpdump -r`` does and as the corpus' expected counts were made, so
  offline rules apply (``inbound`` on Ethernet is refused, for instance). Its ``bpf_filter`` takes
  the wire length separately from the captured length, so ``len``/``less``/``greater`` on cut
  packets are checked too. This is the default oracle: bpfc's contract is libpcap 1.10.
- ``pcapy`` (pcapy-ng) bundles libpcap 1.9 and compiles on a dead handle (live-capture rules); its
  ``filter()`` uses the captured length as the wire length. It is kept as a second opinion
  (``oracle="pcapy"``), and the tables' self-check compares the two builds.

``tcpdump -d`` is the third opinion, slower (a process per expression), used in reports and in the
``tcpdump``-marked acceptance test.

``diff()`` returns a ``DiffReport``: an outcome class (both compile and agree, both refuse, one
refuses, or they differ on packets) and, when something is wrong, a readable text with the first
differing packets in hex and both programs' ``-d`` dumps.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import functools
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from bpfc.isa import Insn

# --------------------------------------------------------------------------------------------
# Link types in scope and their numbers (DLT as pcap_datalink() returns; LINKTYPE in files).

#: libpcap DLT name -> DLT number, for the link types the compiler lowers.
DLTS: dict[str, int] = {
    "EN10MB": 1, "LINUX_SLL": 113, "LINUX_SLL2": 276, "RAW": 12, "IPV4": 228, "IPV6": 229,
    "NULL": 0, "LOOP": 108, "PPP": 9, "PPP_SERIAL": 50, "C_HDLC": 104, "SLIP": 8, "FRELAY": 107,
}
DLT_NAMES: dict[int, str] = {number: name for name, number in DLTS.items()}

#: DLT -> the LINKTYPE value a capture file stores (they differ only where a DLT number clashed
#: between platforms; libpcap's pcap_datalink() maps back).
_LINKTYPE_OF_DLT = {12: 101}


def dlt_number(dlt: str | int) -> int:
    return dlt if isinstance(dlt, int) else DLTS[dlt]


def dlt_name(dlt: str | int) -> str:
    return dlt if isinstance(dlt, str) else DLT_NAMES.get(dlt, str(dlt))


@dataclass(frozen=True, slots=True)
class Packet:
    """One test packet: the captured bytes, the original length, and where it came from."""

    data: bytes
    wirelen: int
    label: str


# --------------------------------------------------------------------------------------------
# libpcap 1.10.3 through ctypes.


class _BpfInsn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn))]


class _PcapPkthdr(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long),
                ("caplen", ctypes.c_uint32), ("len", ctypes.c_uint32)]


PCAP_ERRBUF_SIZE = 256


@functools.cache
def _libpcap() -> Any:
    """The system libpcap (what tcpdump links), or None when it cannot be loaded."""
    path = ctypes.util.find_library("pcap")
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    lib.pcap_lib_version.restype = ctypes.c_char_p
    lib.pcap_open_offline.restype = ctypes.c_void_p
    lib.pcap_open_offline.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p,
                                 ctypes.c_int, ctypes.c_uint32]
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = [ctypes.c_void_p]
    lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
    lib.pcap_datalink.argtypes = [ctypes.c_void_p]
    lib.pcap_snapshot.argtypes = [ctypes.c_void_p]
    lib.pcap_next_ex.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(_PcapPkthdr)),
                                 ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))]
    lib.bpf_filter.restype = ctypes.c_uint
    lib.bpf_filter.argtypes = [ctypes.POINTER(_BpfInsn), ctypes.c_char_p, ctypes.c_uint,
                               ctypes.c_uint]
    return lib


def libpcap_version() -> str | None:
    lib = _libpcap()
    return None if lib is None else str(lib.pcap_lib_version().decode())


def have_libpcap() -> bool:
    return _libpcap() is not None


@functools.cache
def _scratch_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="bpfc-diffkit-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def savefile_stub(dlt: int, snaplen: int) -> Path:
    """A capture file with a header and no packets: compiling on it gives tcpdump -r's rules."""
    path = _scratch_dir() / f"dlt{dlt}-snap{snaplen}.pcap"
    linktype = _LINKTYPE_OF_DLT.get(dlt, dlt)
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
    return path


class _Handle:
    """An open pcap_t, closed when garbage-collected."""

    def __init__(self, path: Path) -> None:
        self.lib = _libpcap()
        errbuf = ctypes.create_string_buffer(PCAP_ERRBUF_SIZE)
        self.ptr = self.lib.pcap_open_offline(str(path).encode(), errbuf)
        if not self.ptr:
            raise OSError(f"pcap_open_offline({path}): {errbuf.value.decode(errors='replace')}")

    def __del__(self) -> None:
        if getattr(self, "ptr", None):
            self.lib.pcap_close(self.ptr)
            self.ptr = None


@functools.cache
def _stub_handle(dlt: int, snaplen: int) -> _Handle:
    return _Handle(savefile_stub(dlt, snaplen))


class LibpcapProgram:
    """A program compiled by libpcap 1.10.3 (owned: freed with pcap_freecode)."""

    def __init__(self, prog: _BpfProgram) -> None:
        self._lib = _libpcap()
        self._prog: _BpfProgram | None = prog
        self.insns = tuple(Insn(prog.bf_insns[i].code, prog.bf_insns[i].jt, prog.bf_insns[i].jf,
                                prog.bf_insns[i].k) for i in range(prog.bf_len))

    def run(self, data: bytes, wirelen: int) -> int:
        assert self._prog is not None
        return int(self._lib.bpf_filter(self._prog.bf_insns, data, wirelen, len(data)))

    def __del__(self) -> None:
        prog = getattr(self, "_prog", None)
        if prog is not None:
            self._lib.pcap_freecode(ctypes.byref(prog))
            self._prog = None


def libpcap_compile_on(handle: _Handle, expr: str, optimize: bool = True,
                       netmask: int = 0) -> LibpcapProgram | str:
    """Compile on an open handle; the program, or libpcap's error text."""
    lib = handle.lib
    prog = _BpfProgram()
    if lib.pcap_compile(handle.ptr, ctypes.byref(prog), expr.encode(), int(optimize),
                        netmask) != 0:
        return str(lib.pcap_geterr(handle.ptr).decode(errors="replace"))
    return LibpcapProgram(prog)


def libpcap_compile(expr: str, dlt: str | int, snaplen: int = 262144, optimize: bool = True,
                    netmask: int = 0) -> LibpcapProgram | str:
    """libpcap 1.10.3 on a savefile handle of ``dlt``/``snaplen`` (tcpdump -r's way)."""
    return libpcap_compile_on(_stub_handle(dlt_number(dlt), snaplen), expr, optimize, netmask)


@dataclass(frozen=True, slots=True)
class CaptureFile:
    """What libpcap 1.10.3 reads from a capture file: its DLT, snapshot length and records."""

    dlt: int
    snaplen: int
    packets: tuple[Packet, ...]


def read_capture(path: str | Path) -> CaptureFile:
    """Read every record with libpcap's own reader (pcap and pcapng alike)."""
    handle = _Handle(Path(path))
    lib = handle.lib
    hdr = ctypes.POINTER(_PcapPkthdr)()
    data = ctypes.POINTER(ctypes.c_ubyte)()
    packets: list[Packet] = []
    name = Path(path).name
    while lib.pcap_next_ex(handle.ptr, ctypes.byref(hdr), ctypes.byref(data)) == 1:
        caplen, wirelen = hdr.contents.caplen, hdr.contents.len
        packets.append(Packet(ctypes.string_at(data, caplen), wirelen, f"{name}#{len(packets)}"))
    return CaptureFile(lib.pcap_datalink(handle.ptr), lib.pcap_snapshot(handle.ptr),
                       tuple(packets))


# --------------------------------------------------------------------------------------------
# pcapy (libpcap 1.9, dead handle).


class PcapyProgram:
    def __init__(self, prog: Any) -> None:
        self._prog = prog
        self.insns = tuple(Insn(*i) for i in prog.get_bpf())

    def run(self, data: bytes, wirelen: int) -> int:
        return int(self._prog.filter(data))  # pcapy passes wirelen = len(data)


def pcapy_compile(expr: str, dlt: str | int, snaplen: int = 262144, optimize: bool = True,
                  netmask: int = 0) -> PcapyProgram | str:
    import pcapy  # type: ignore[import-not-found]

    try:
        return PcapyProgram(pcapy.compile(dlt_number(dlt), snaplen, expr, int(optimize),
                                          netmask))
    except pcapy.PcapError as error:
        return str(error)


# --------------------------------------------------------------------------------------------
# tcpdump.


def tcpdump_path() -> str | None:
    return shutil.which("tcpdump")


def tcpdump_dump(expr: str, dlt: str | int, snaplen: int = 262144, flag: str = "-d",
                 optimize: bool = True) -> tuple[bool, str]:
    """``tcpdump -d -r <stub>`` for the link type: (compiled?, dump or error text)."""
    exe = tcpdump_path()
    if exe is None:
        return False, "tcpdump is not installed"
    args = [exe, flag, "-r", str(savefile_stub(dlt_number(dlt), snaplen))]
    if not optimize:
        args.append("-O")
    proc = subprocess.run([*args, "--", expr], check=False, capture_output=True, text=True,
                          timeout=30)
    if proc.returncode == 0:
        return True, proc.stdout
    lines = proc.stderr.strip().splitlines() or [""]
    return False, lines[-1].removeprefix("tcpdump: ")


def parse_ddd(text: str) -> tuple[Insn, ...]:
    """tcpdump ``-ddd`` output: a count line, then ``code jt jf k`` in decimal per line."""
    lines = text.split()
    count, fields = int(lines[0]), [int(x) for x in lines[1:]]
    assert len(fields) == 4 * count, "truncated -ddd output"
    return tuple(Insn(*fields[i:i + 4]) for i in range(0, len(fields), 4))


# --------------------------------------------------------------------------------------------
# bpfc.


def bpfc_api() -> Any:
    """The ``bpfc`` package if ``bpfc.compile`` exists, else None. Once ``compile`` exists every
    other piece the harness uses (``bpfc.vm.run``, ``Program.insns``) must exist too: a missing
    one then fails the tests instead of skipping them."""
    import bpfc

    return bpfc if hasattr(bpfc, "compile") else None


BPFC_MISSING = "bpfc.compile does not exist yet (the lead is writing bpfc/compiler.py)"


def require_bpfc() -> None:
    """Skip (with the reason shown) only while ``bpfc.compile`` does not exist."""
    if bpfc_api() is None:
        import pytest

        pytest.skip(BPFC_MISSING)


def bpfc_compile(expr: str, dlt: str | int, snaplen: int = 262144, netmask: int | None = 0,
                 optimize: bool = True) -> Any:
    """bpfc's Program, or the BpfcError it raised (any other exception propagates: a bug)."""
    import bpfc
    from bpfc.errors import BpfcError

    try:
        return bpfc.compile(expr, linktype=dlt_name(dlt), snaplen=snaplen, optimize=optimize,
                            netmask=netmask)
    except BpfcError as error:
        return error


def format_insns(insns: Sequence[Insn]) -> str:
    """``-d`` text of a program (bpfc.dump's when present: it is byte-exact tcpdump)."""
    try:
        from bpfc.dump import format_d

        return format_d(list(insns)).rstrip("\n")
    except Exception:  # noqa: BLE001 - a report must print even if the dumper is broken
        return "\n".join(f"({pc:03d}) code=0x{i.code:02x} jt={i.jt} jf={i.jf} k=0x{i.k:x}"
                         for pc, i in enumerate(insns))


# --------------------------------------------------------------------------------------------
# The diff.

#: libpcap's refusal of an expression its optimizer reduced to "ret #0".
REJECTS_ALL = "expression rejects all packets"

Outcome = Literal["agree", "both-refuse", "libpcap-refuses", "bpfc-refuses", "differ"]


@dataclass(frozen=True, slots=True)
class Mismatch:
    index: int
    packet: Packet
    libpcap: int
    vm: int
    match: int | None


@dataclass(frozen=True, slots=True)
class DiffReport:
    """Everything one comparison found; ``ok`` when both compile and agree, or both refuse."""

    expr: str
    dlt: str
    snaplen: int
    netmask: int | None
    oracle: str
    outcome: Outcome
    packets: int = 0
    accepted: int = 0
    libpcap_error: str | None = None
    bpfc_error: str | None = None
    mismatches: tuple[Mismatch, ...] = ()
    mismatch_count: int = 0
    libpcap_insns: tuple[Insn, ...] = ()
    bpfc_insns: tuple[Insn, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.outcome in ("agree", "both-refuse")

    def __str__(self) -> str:
        lines = [(f"expression: {self.expr!r}  link type: {self.dlt}  "
                  f"snaplen: {self.snaplen}  netmask: {self.netmask}  oracle: {self.oracle}"),
                 f"outcome: {self.outcome}"]
        if self.libpcap_error is not None:
            lines.append(f"  libpcap refuses: {self.libpcap_error}")
        if self.bpfc_error is not None:
            lines.append(f"  bpfc refuses: {self.bpfc_error}")
        if self.outcome == "differ":
            lines.append(f"  {self.mismatch_count} of {self.packets} packets differ "
                         f"(libpcap accepts {self.accepted}); first ones:")
            for m in self.mismatches:
                match = "" if m.match is None else f", bpfc match {m.match}"
                lines.append(f"  #{m.index} {m.packet.label} (caplen {len(m.packet.data)}, "
                             f"wirelen {m.packet.wirelen}): libpcap {m.libpcap}, "
                             f"bpfc vm {m.vm}{match}")
                lines.extend("    " + row for row in hexdump(m.packet.data))
        lines.extend(self.notes)
        if self.libpcap_insns:
            lines += [f"libpcap ({self.oracle}) -d:", format_insns(self.libpcap_insns)]
        if self.bpfc_insns:
            lines += ["bpfc -d:", format_insns(self.bpfc_insns)]
        if not self.ok and tcpdump_path() is not None:
            compiled, text = tcpdump_dump(self.expr, self.dlt, self.snaplen)
            lines += ["tcpdump -d (libpcap 1.10.3, savefile rules):" if compiled
                      else "tcpdump refuses:", text.rstrip("\n")]
        return "\n".join(lines)


def hexdump(data: bytes, width: int = 16, limit: int = 128) -> list[str]:
    rows = [f"{off:04x}: {data[off:off + width].hex(' ')}"
            for off in range(0, min(len(data), limit), width)]
    if len(data) > limit:
        rows.append(f"... ({len(data) - limit} more bytes)")
    return rows or ["(empty)"]


CompileFn = Callable[[str, "str | int", int, bool, int], "LibpcapProgram | PcapyProgram | str"]
ORACLES: dict[str, CompileFn] = {"libpcap": libpcap_compile, "pcapy": pcapy_compile}


def default_oracle() -> str:
    return "libpcap" if have_libpcap() else "pcapy"


def diff(expr: str, dlt: str | int, packets: Iterable[Packet], snaplen: int = 262144,
         netmask: int = 0, oracle: str | None = None, reference: str | None = None,
         max_shown: int = 5) -> DiffReport:
    """Compile ``expr`` for ``dlt`` with libpcap and bpfc, run both over ``packets``, compare
    every return value (not just accept/reject: the accept value is the snapshot length).

    ``reference`` is what libpcap compiles instead of ``expr``, for primitives newer than the
    libpcap at hand (an equivalent expression written by hand).
    """
    oracle = oracle or default_oracle()
    ref = ORACLES[oracle](reference or expr, dlt, snaplen, True, netmask)
    ours = bpfc_compile(expr, dlt, snaplen, netmask)
    packets = list(packets)
    report = compare(expr, dlt, ref, ours, packets, snaplen=snaplen, netmask=netmask,
                     oracle=oracle if reference is None else f"{oracle} on {reference!r}",
                     max_shown=max_shown)
    if report.outcome == "differ":
        unoptimized = ORACLES[oracle](reference or expr, dlt, snaplen, False, netmask)
        if not isinstance(unoptimized, str) and not isinstance(ref, str):
            # The documented deviation (README): where libpcap's optimizer changes libpcap's
            # own verdict (a load it dropped or moved would have gone out of bounds), bpfc keeps
            # the unoptimized verdict. Only packets where both hold are excused.
            report = compare(expr, dlt, ref, ours, packets, snaplen=snaplen, netmask=netmask,
                             oracle=report.oracle, max_shown=max_shown, unoptimized=unoptimized)
        if report.outcome == "differ":
            report = replace(report, notes=report.notes + _unoptimized_note(report, unoptimized))
    return report


def _unoptimized_note(report: DiffReport, unoptimized: LibpcapProgram | PcapyProgram | str
                      ) -> tuple[str, ...]:
    """libpcap's optimizer may drop or reorder loads, which changes verdicts on truncated
    packets; saying what the unoptimized program returns tells that case apart at a glance."""
    if isinstance(unoptimized, str):
        return (f"  libpcap -O (unoptimized) refuses: {unoptimized}",)
    results = [unoptimized.run(m.packet.data, m.packet.wirelen) for m in report.mismatches]
    same = all(r == m.vm for r, m in zip(results, report.mismatches, strict=True))
    verdict = ("agrees with bpfc on all of them: libpcap's optimizer changed the verdict"
               if same else "")
    return (f"  libpcap -O (unoptimized) on the packets shown: {results} {verdict}".rstrip(),)


def compare(expr: str, dlt: str | int, ref: LibpcapProgram | PcapyProgram | str, ours: Any,
            packets: Iterable[Packet], snaplen: int = 262144, netmask: int | None = 0,
            oracle: str = "libpcap", max_shown: int = 5,
            unoptimized: LibpcapProgram | PcapyProgram | None = None) -> DiffReport:
    """The comparison itself: ``ref`` is the oracle's program or error text, ``ours`` anything
    with ``insns`` (and maybe ``match``) or the exception bpfc raised to refuse."""
    base: dict[str, Any] = {"expr": expr, "dlt": dlt_name(dlt), "snaplen": snaplen,
                            "netmask": netmask, "oracle": oracle}
    ref_error = ref if isinstance(ref, str) else None
    our_error = f"{type(ours).__name__}: {ours}" if isinstance(ours, BaseException) else None
    if ref_error is not None or our_error is not None:
        outcome: Outcome = ("both-refuse" if ref_error and our_error
                            else "libpcap-refuses" if ref_error else "bpfc-refuses")
        insns = () if our_error else tuple(ours.insns)
        notes: tuple[str, ...] = ()
        if ref_error == REJECTS_ALL and insns == (Insn(0x06, 0, 0, 0),):
            notes = (("  bpfc's program is 'ret #0'; libpcap refuses any expression its "
                      "optimizer reduces to that (pcap_compile: 'expression rejects all "
                      "packets')"),)
        return DiffReport(**base, outcome=outcome, libpcap_error=ref_error,
                          bpfc_error=our_error,
                          libpcap_insns=() if isinstance(ref, str) else ref.insns,
                          bpfc_insns=insns, notes=notes)
    assert not isinstance(ref, str)
    return _run_both(ref, ours, list(packets), base, max_shown, unoptimized)


def _run_both(ref: LibpcapProgram | PcapyProgram, ours: Any, packets: list[Packet],
              base: dict[str, Any], max_shown: int,
              unoptimized: LibpcapProgram | PcapyProgram | None = None) -> DiffReport:
    """Every packet through both programs. With ``unoptimized`` (libpcap's -O program), a
    packet on which libpcap's two programs disagree and bpfc equals the unoptimized one is
    excused and counted in the notes instead of as a mismatch."""
    from bpfc import vm

    insns = tuple(ours.insns)
    match = getattr(ours, "match", None)
    shown: list[Mismatch] = []
    count = accepted = excused = 0
    for index, packet in enumerate(packets):
        expected = ref.run(packet.data, packet.wirelen)
        accepted += expected != 0
        got = vm.run(insns, packet.data, packet.wirelen)
        got_match = match(packet.data, packet.wirelen) if match is not None else None
        if got != expected or (got_match is not None and got_match != expected):
            if unoptimized is not None:
                plain = unoptimized.run(packet.data, packet.wirelen)
                if plain != expected and plain == got and got_match in (None, got):
                    excused += 1
                    continue
            count += 1
            if len(shown) < max_shown:
                shown.append(Mismatch(index, packet, expected, got, got_match))
    notes: tuple[str, ...] = ()
    if excused:
        notes = (f"  {excused} packet(s) where libpcap's optimizer changes libpcap's own verdict; "
                 "bpfc returns what libpcap's unoptimized program returns",)
    return DiffReport(**base, outcome="differ" if count else "agree", packets=len(packets),
                      accepted=accepted, mismatches=tuple(shown), mismatch_count=count,
                      libpcap_insns=ref.insns, bpfc_insns=insns, notes=notes)


def oracle_diff(expr: str, dlt: str | int, packets: Iterable[Packet], snaplen: int = 262144,
                netmask: int = 0) -> tuple[str, str | None]:
    """Compare the two libpcap builds with each other (the harness' self-check, no bpfc).

    Returns (outcome, detail): outcome is "agree", "both-refuse", "one-refuses" or "differ".
    Only run on packets where the wire length equals the captured length (pcapy cannot pass
    another wire length).
    """
    a = libpcap_compile(expr, dlt, snaplen, True, netmask)
    b = pcapy_compile(expr, dlt, snaplen, True, netmask)
    if isinstance(a, str) or isinstance(b, str):
        if isinstance(a, str) and isinstance(b, str):
            return "both-refuse", None
        return "one-refuses", (f"1.10.3: {a if isinstance(a, str) else 'compiles'}; "
                               f"pcapy: {b if isinstance(b, str) else 'compiles'}")
    for packet in packets:
        if packet.wirelen != len(packet.data):
            continue
        ra, rb = a.run(packet.data, packet.wirelen), b.run(packet.data, packet.wirelen)
        if ra != rb:
            return "differ", f"{packet.label}: 1.10.3 {ra}, pcapy {rb}"
    return "agree", None


# --------------------------------------------------------------------------------------------
# Expression tables (tests/expressions/*.txt).

GROUPS: dict[str, tuple[str, ...]] = {
    "all": tuple(DLTS),
    "l2": ("EN10MB", "LINUX_SLL", "LINUX_SLL2"),
    "l3": ("RAW", "IPV4", "IPV6", "NULL", "LOOP"),
}
_COOKED, _RAW, _LOOPBACK = ("LINUX_SLL", "LINUX_SLL2"), ("RAW", "IPV4", "IPV6"), ("NULL", "LOOP")


@dataclass(frozen=True, slots=True)
class Row:
    """One table row: an expression and the link types it is compiled for.

    ``reference`` is what libpcap compiles instead of ``expr`` when the primitive is newer than
    the libpcap at hand (``vxlan``): an equivalent 1.10 expression written by hand.
    """

    id: str
    dlts: tuple[str, ...]
    expr: str
    reference: str | None = None
    netmask: int = 0
    snaplen: int = 262144
    line: int = 0


def _rotation(index: int) -> tuple[str, ...]:
    return ("EN10MB", _COOKED[index % 2], _RAW[index % 3], _LOOPBACK[(index // 2) % 2])


def _dotted(text: str) -> int:
    return int.from_bytes(bytes(int(part) for part in text.split(".")), "big")


def load_table(path: str | Path) -> tuple[Row, ...]:
    """Parse ``id | links [@options] | expression [=> reference]``; '#' starts a comment line."""
    rows: list[Row] = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ident, links, expr = (part.strip() for part in line.split("|", 2))
        spec, _, options = links.partition("@")
        opts = dict(opt.split("=", 1) for opt in options.split())
        dlts: list[str] = []
        for word in spec.split():
            if word == "rot":
                dlts.extend(_rotation(len(rows)))
            else:
                dlts.extend(GROUPS.get(word, (word,)))
        unknown = [d for d in dlts if d not in DLTS]
        if unknown or not dlts:
            raise ValueError(f"{path}:{number}: bad link types {spec!r}")
        expr, _, reference = expr.partition(" => ")
        rows.append(Row(ident, tuple(dict.fromkeys(dlts)), expr.strip(),
                        reference.strip() or None,
                        _dotted(opts.get("netmask", "0.0.0.0")),
                        int(opts.get("snaplen", 262144)), number))
    return tuple(rows)


# --------------------------------------------------------------------------------------------
# `python -m tests.diffkit [table]`: the table's outcome classes, for a quick look at the state.


def summarize(rows: Iterable[Row]) -> dict[str, list[str]]:
    """Outcome class -> case ids; a class is the outcome, plus the refusal text or, for packet
    differences, whether libpcap's unoptimized program sides with bpfc."""
    from tests.packets import packets_for

    classes: dict[str, list[str]] = {}
    for row in rows:
        for dlt in row.dlts:
            report = diff(row.expr, dlt, packets_for(dlt), snaplen=row.snaplen,
                          netmask=row.netmask, reference=row.reference, max_shown=1)
            key: str = report.outcome
            if report.outcome == "libpcap-refuses":
                key += f": {report.libpcap_error}"
            elif report.outcome == "bpfc-refuses":
                key += f": {report.bpfc_error}"
            elif report.outcome == "differ":
                key += (" (libpcap -O agrees with bpfc)"
                        if any("optimizer changed" in note for note in report.notes) else "")
            classes.setdefault(key, []).append(f"{row.id}-{dlt}")
    return classes


def _main(argv: Sequence[str]) -> None:
    table = Path(argv[0]) if argv else Path(__file__).parent / "expressions" / "compile_diff.txt"
    classes = summarize(load_table(table))
    for key, ids in sorted(classes.items(), key=lambda item: -len(item[1])):
        shown = "" if key in ("agree", "both-refuse") else "  " + " ".join(ids[:8])
        print(f"{len(ids):5d}  {key}{shown}")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
