"""Test helpers for the lowering stage: compile with bpfc, compile and run with real libpcap.

``compile_insns`` runs parse → lower → cfg.build → emit → isa.check. It uses the project's
``bpfc.syntax`` and ``bpfc.emit`` when they exist and otherwise a private, deliberately naive
emitter (every value recomputed from scratch, every edge an ``ja``), so lowering can be tested
before the real emitter lands and independently of it.

The oracle is libpcap 1.10 itself, through ctypes: ``libpcap_compile`` calls ``pcap_compile`` on
a *savefile* handle (an empty capture file of the wanted link type and byte order), which is
what ``tcpdump -r`` does and what the corpus' expected counts were made with; pcapy's
``compile`` uses a ``pcap_open_dead`` handle, which differs for DLT_NULL's IPv6 families and in
error messages. ``libpcap_filter`` runs a program with libpcap's own ``bpf_filter``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bpfc import cfg, isa, linktypes, nodes
from bpfc.isa import Insn
from bpfc.lower import lower
from bpfc.lower.context import ByteOrder, Context

CORPUS_PCAPS = Path(os.environ.get("BPFC_SHARED", Path(__file__).resolve().parents[2] / "shared")) \
    / "corpus" / "pcaps"


# ---------------------------------------------------------------------------------------------
# bpfc side


def parse(text: str) -> nodes.Expr:
    """Parse with bpfc.syntax (raises ImportError until the parser lands)."""
    from bpfc import syntax  # type: ignore[attr-defined]

    result: nodes.Expr = syntax.parse(text)
    return result


def make_context(dlt: int | str, snaplen: int = 262144, netmask: int | None = None,
                 byte_order: ByteOrder = "little", source: str = "") -> Context:
    return Context(linktypes.lookup(dlt), snaplen=snaplen, netmask=netmask,
                   byte_order=byte_order, source=source)


def compile_insns(expr: str | nodes.Expr, dlt: int | str = 1, snaplen: int = 262144,
                  netmask: int | None = None, byte_order: ByteOrder = "little") -> list[Insn]:
    """bpfc's program for ``expr`` (text or AST) on link type ``dlt``; checked."""
    source = expr if isinstance(expr, str) else ""
    node = parse(expr) if isinstance(expr, str) else expr
    ctx = make_context(dlt, snaplen, netmask, byte_order, source)
    pred = lower(node, ctx)
    b = ctx.builder
    root = cfg.build(b, pred, b.ret(snaplen), b.ret(0))
    insns = _emit(root)
    isa.check(insns)
    return insns


def _emit(root: cfg.Node) -> list[Insn]:
    try:
        from bpfc import emit  # type: ignore[attr-defined]
    except ImportError:
        return NaiveEmitter().emit(root)
    result: list[Insn] = emit.emit(root)
    return result


class NaiveEmitter:
    """Correct, unoptimized code: each branch computes its values from scratch into A.

    Temporaries use M[0..7] by expression depth; variables use M[15], M[14], ...
    """

    def __init__(self) -> None:
        self.code: list[tuple[int, int, int, int | str]] = []  # k may be a label
        self.var_slots: dict[int, int] = {}

    def _var(self, var: int) -> int:
        if var not in self.var_slots:
            self.var_slots[var] = 15 - len(self.var_slots)
            assert self.var_slots[var] > 7, "too many variables"
        return self.var_slots[var]

    def _op(self, code: int, k: int | str = 0, jt: int = 0, jf: int = 0) -> None:
        self.code.append((code, jt, jf, k))

    def value(self, v: cfg.Value, depth: int = 0) -> None:
        """Leave ``v`` in A (clobbers X and M[depth..7])."""
        assert depth < 8, "expression too deep"
        match v:
            case cfg.Const(k=k):
                self._op(isa.BPF_LD | isa.BPF_IMM, k)
            case cfg.PacketLen():
                self._op(isa.BPF_LD | isa.BPF_W | isa.BPF_LEN)
            case cfg.Load(offset=off, size=size):
                mode = {1: isa.BPF_B, 2: isa.BPF_H, 4: isa.BPF_W}[size]
                var, k = cfg.split_offset(off)
                if var is None:
                    self._op(isa.BPF_LD | isa.BPF_ABS | mode, k)
                else:
                    self.value(var, depth)
                    self._op(isa.BPF_MISC | isa.BPF_TAX)
                    self._op(isa.BPF_LD | isa.BPF_IND | mode, k)
            case cfg.HeaderLen(offset=off):
                var, k = cfg.split_offset(off)
                if var is None:
                    self._op(isa.BPF_LDX | isa.BPF_MSH | isa.BPF_B, k)
                    self._op(isa.BPF_MISC | isa.BPF_TXA)
                else:
                    self.value(var, depth)
                    self._op(isa.BPF_MISC | isa.BPF_TAX)
                    self._op(isa.BPF_LD | isa.BPF_IND | isa.BPF_B, k)
                    self._op(isa.BPF_ALU | isa.BPF_AND | isa.BPF_K, 0xF)
                    self._op(isa.BPF_ALU | isa.BPF_LSH | isa.BPF_K, 2)
            case cfg.Ancillary(which=which, size=size):
                mode = {1: isa.BPF_B, 2: isa.BPF_H, 4: isa.BPF_W}[size]
                self._op(isa.BPF_LD | isa.BPF_ABS | mode, isa.SKF_AD_OFF + which)
            case cfg.Alu(op=op, a=a, b=b):
                code = isa.BPF_ALU | cfg.ALU_CODES[op]
                if isinstance(b, cfg.Const):
                    self.value(a, depth)
                    self._op(code | isa.BPF_K, b.k)
                else:
                    self.value(b, depth)
                    self._op(isa.BPF_ST, depth)
                    self.value(a, depth + 1)
                    self._op(isa.BPF_LDX | isa.BPF_MEM, depth)
                    self._op(code | isa.BPF_X)
            case cfg.Neg(a=a):
                self.value(a, depth)
                self._op(isa.BPF_ALU | isa.BPF_NEG)
            case cfg.Var(id=i):
                self._op(isa.BPF_LD | isa.BPF_MEM, self._var(i))
            case _:
                raise AssertionError(v)

    def emit(self, root: cfg.Node) -> list[Insn]:
        order = cfg.topological(root)
        labels: dict[int, int] = {}
        for node in order:
            labels[id(node)] = len(self.code)
            match node:
                case cfg.Return(k=k):
                    self._op(isa.BPF_RET | isa.BPF_K, k)
                case cfg.Assign(var=var, value=value, next=nxt):
                    self.value(value)
                    self._op(isa.BPF_ST, self._var(var))
                    self._op(isa.BPF_JMP | isa.BPF_JA, f"L{id(nxt)}")
                case cfg.Branch(test=test, if_true=t, if_false=f):
                    code = isa.BPF_JMP | cfg.JUMP_CODES[test.op]
                    if isinstance(test.operand, cfg.Const):
                        self.value(test.value)
                        self._op(code | isa.BPF_K, test.operand.k, 0, 1)
                    else:
                        self.value(test.operand)
                        self._op(isa.BPF_ST, 0)
                        self.value(test.value, 1)
                        self._op(isa.BPF_LDX | isa.BPF_MEM, 0)
                        self._op(code | isa.BPF_X, 0, 0, 1)
                    self._op(isa.BPF_JMP | isa.BPF_JA, f"L{id(t)}")
                    self._op(isa.BPF_JMP | isa.BPF_JA, f"L{id(f)}")
        out: list[Insn] = []
        for pc, (code, jt, jf, k) in enumerate(self.code):
            if isinstance(k, str):
                k = labels[int(k[1:])] - (pc + 1)
            out.append(Insn(code, jt, jf, k))
        return out


def run(insns: Sequence[Insn], packet: bytes, wirelen: int | None = None) -> int:
    """Our VM's return value for ``packet``."""
    from bpfc import vm

    return vm.run(insns, packet, wirelen)


# ---------------------------------------------------------------------------------------------
# libpcap side (the oracle)


class LibpcapError(Exception):
    """pcap_compile refused the expression; the message is pcap_geterr()'s text."""


class _BpfInsn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn))]


@functools.cache
def _libpcap() -> ctypes.CDLL:
    name = ctypes.util.find_library("pcap") or "libpcap.so"
    lib = ctypes.CDLL(name)
    lib.pcap_open_offline.restype = ctypes.c_void_p
    lib.pcap_open_offline.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p,
                                 ctypes.c_int, ctypes.c_uint32]
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = [ctypes.c_void_p]
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
    lib.bpf_filter.restype = ctypes.c_uint
    lib.bpf_filter.argtypes = [ctypes.POINTER(_BpfInsn), ctypes.c_char_p, ctypes.c_uint,
                               ctypes.c_uint]
    return lib


@functools.cache
def _empty_savefile(dlt: int, snaplen: int, byte_order: ByteOrder) -> bytes:
    """An empty classic pcap file: the handle pcap_compile needs for savefile semantics."""
    fmt = "<IHHiIII" if byte_order == "little" else ">IHHiIII"
    header = struct.pack(fmt, 0xA1B2C3D4, 2, 4, 0, 0, snaplen, dlt)
    fd, path = tempfile.mkstemp(suffix=".pcap", prefix=f"bpfc-dlt{dlt}-")
    with os.fdopen(fd, "wb") as f:
        f.write(header)
    return path.encode()


@functools.cache
def libpcap_compile(expr: str, dlt: int = 1, snaplen: int = 262144, netmask: int = 0,
                    byte_order: ByteOrder = "little", optimize: bool = True) -> tuple[Insn, ...]:
    """libpcap's program for ``expr``, compiled as ``tcpdump -r`` would for such a file."""
    lib = _libpcap()
    errbuf = ctypes.create_string_buffer(512)
    handle = lib.pcap_open_offline(_empty_savefile(dlt, snaplen, byte_order), errbuf)
    if not handle:
        raise RuntimeError(errbuf.value.decode())
    try:
        prog = _BpfProgram()
        if lib.pcap_compile(handle, ctypes.byref(prog), expr.encode(), int(optimize),
                            netmask) != 0:
            raise LibpcapError(lib.pcap_geterr(handle).decode())
        try:
            return tuple(Insn(prog.bf_insns[i].code, prog.bf_insns[i].jt, prog.bf_insns[i].jf,
                              prog.bf_insns[i].k) for i in range(prog.bf_len))
        finally:
            lib.pcap_freecode(ctypes.byref(prog))
    finally:
        lib.pcap_close(handle)


def libpcap_filter(insns: Sequence[Insn], packet: bytes, wirelen: int | None = None) -> int:
    """libpcap's bpf_filter() on ``packet``."""
    array = (_BpfInsn * len(insns))(*(_BpfInsn(*i) for i in insns))
    wire = len(packet) if wirelen is None else wirelen
    result: int = _libpcap().bpf_filter(array, packet, wire, len(packet))
    return result


# ---------------------------------------------------------------------------------------------
# packets and the differential check


@dataclass(frozen=True, slots=True)
class Packet:
    data: bytes
    wirelen: int
    origin: str


@functools.cache
def corpus_packets(dlt: int) -> tuple[Packet, ...]:
    """Every packet of every corpus capture whose link type is ``dlt``."""
    import pcapy

    out: list[Packet] = []
    inventory = CORPUS_PCAPS.parent / "inventory.tsv"
    lines = inventory.read_text().splitlines()
    columns = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(columns, line.split("\t"), strict=False))
        if not row.get("libpcap_dlt", "").endswith(f"({dlt})"):
            continue
        reader = pcapy.open_offline(str(CORPUS_PCAPS / row["file"]))
        index = 0
        while True:
            try:
                header, data = reader.next()
            except pcapy.PcapError:
                break
            if header is None:
                break
            out.append(Packet(bytes(data), header.getlen(), f"{row['file']}#{index}"))
            index += 1
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Difference:
    origin: str
    ours: int
    libpcap: int


def differences(expr: str | nodes.Expr, dlt: int, packets: Iterable[Packet],
                libpcap_text: str | None = None, netmask: int | None = None,
                byte_order: ByteOrder = "little", snaplen: int = 262144) -> list[Difference]:
    """Packets on which bpfc's and libpcap's programs return different values."""
    text = libpcap_text if libpcap_text is not None else expr
    assert isinstance(text, str)
    theirs = libpcap_compile(text, dlt, snaplen, netmask or 0, byte_order)
    ours = compile_insns(expr, dlt, snaplen, netmask, byte_order)
    return [Difference(p.origin, a, b) for p in packets
            if (a := run(ours, p.data, p.wirelen)) != (b := libpcap_filter(theirs, p.data,
                                                                            p.wirelen))]


def truncations(packets: Iterable[Packet], step: int = 1) -> Iterator[Packet]:
    """Each packet, and each of its prefixes (``step`` apart): faults must match too."""
    for p in packets:
        for n in range(0, len(p.data), step):
            yield Packet(p.data[:n], p.wirelen, f"{p.origin}[:{n}]")
        yield p
