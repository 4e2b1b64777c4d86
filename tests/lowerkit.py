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

import atexit
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
from bpfc.errors import FilterSemanticError
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
                 byte_order: ByteOrder = "little", source: str = "", live: bool = False) -> Context:
    return Context(linktypes.lookup(dlt), snaplen=snaplen, netmask=netmask,
                   byte_order=byte_order, source=source, live=live)


def lower_text(expr: str, dlt: int | str = 1, **options: object) -> cfg.Pred:
    """Parse and lower ``expr``: what errors come from."""
    ctx = make_context(dlt, source=expr, **options)  # type: ignore[arg-type]
    return lower(parse(expr), ctx)


def compile_insns(expr: str | nodes.Expr, dlt: int | str = 1, snaplen: int = 262144,
                  netmask: int | None = None, byte_order: ByteOrder = "little",
                  live: bool = False) -> list[Insn]:
    """bpfc's program for ``expr`` (text or AST) on link type ``dlt``; checked."""
    source = expr if isinstance(expr, str) else ""
    node = parse(expr) if isinstance(expr, str) else expr
    ctx = make_context(dlt, snaplen, netmask, byte_order, source, live)
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
    """An empty classic pcap file: the handle pcap_compile needs for savefile semantics (removed
    when the test process exits)."""
    fmt = "<IHHiIII" if byte_order == "little" else ">IHHiIII"
    header = struct.pack(fmt, 0xA1B2C3D4, 2, 4, 0, 0, snaplen, dlt)
    fd, path = tempfile.mkstemp(suffix=".pcap", prefix=f"bpfc-dlt{dlt}-")
    with os.fdopen(fd, "wb") as f:
        f.write(header)
    atexit.register(os.unlink, path)
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


@functools.cache
def _insn_array(insns: tuple[Insn, ...]) -> ctypes.Array[_BpfInsn]:
    return (_BpfInsn * len(insns))(*(_BpfInsn(*i) for i in insns))


def libpcap_filter(insns: Sequence[Insn], packet: bytes, wirelen: int | None = None) -> int:
    """libpcap's bpf_filter() on ``packet``."""
    array = _insn_array(tuple(insns))
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


# ---------------------------------------------------------------------------------------------
# Generated packets: every header shape the link/net/encap primitives look at, byte by byte.
# Built with struct (not scapy) so they are fast and exactly what they say.

MAC_A = bytes.fromhex("001122334455")
MAC_B = bytes.fromhex("66778899aabb")
MAC_BCAST = b"\xff" * 6
MAC_MCAST = bytes.fromhex("01005e0000fb")
MAC_STP = bytes.fromhex("0180c2000000")


def _ip4(text: str) -> bytes:
    return bytes(int(x) for x in text.split("."))


def ipv4(src: str, dst: str, proto: int = 6, payload: bytes = b"", frag: int = 0,
         options: bytes = b"") -> bytes:
    """An IPv4 header (no checksum) and payload; ``frag`` is the flags+offset field."""
    ihl = 5 + len(options) // 4
    header = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), 1,
                         frag, 64, proto, 0, _ip4(src), _ip4(dst)) + options
    return header + payload


def ipv6(src: str, dst: str, nh: int = 6, payload: bytes = b"") -> bytes:
    import ipaddress

    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), nh, 64,
                       ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed) \
        + payload


def ports(sport: int, dport: int, rest: int = 16) -> bytes:
    return struct.pack(">HH", sport, dport) + bytes(rest)


def arp(op: int, sha: bytes, spa: str, tha: bytes, tpa: str) -> bytes:
    return struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, _ip4(spa), tha, _ip4(tpa))


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack(">H", ethertype) + payload


def dot3(dst: bytes, src: bytes, payload: bytes) -> bytes:
    return dst + src + struct.pack(">H", len(payload)) + payload


def llc(dsap: int, ssap: int, control: int, payload: bytes = b"") -> bytes:
    return bytes([dsap, ssap, control]) + payload


def snap(oui: int, ptype: int, payload: bytes = b"") -> bytes:
    return llc(0xAA, 0xAA, 0x03, oui.to_bytes(3, "big") + ptype.to_bytes(2, "big") + payload)


def network_payloads() -> list[tuple[int, bytes, str]]:
    """(EtherType, payload, label) for the IPv4/IPv6/ARP packets the address tests use."""
    tcp = ports(1234, 80)
    udp = ports(5353, 53, 4)
    return [
        (0x0800, ipv4("10.0.0.1", "192.168.1.1", 6, tcp), "ip-tcp"),
        (0x0800, ipv4("192.168.1.1", "10.1.2.3", 17, udp), "ip-udp"),
        (0x0800, ipv4("10.1.0.5", "224.0.0.251", 17, udp), "ip-mcast"),
        (0x0800, ipv4("192.168.1.7", "192.168.1.255", 17, udp), "ip-bcast24"),
        (0x0800, ipv4("192.168.1.7", "255.255.255.255", 17, udp), "ip-bcast"),
        (0x0800, ipv4("192.168.1.7", "192.168.1.0", 17, udp), "ip-bcast0"),
        (0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udp, frag=0x2000), "ip-frag-first"),
        (0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udp, frag=100), "ip-frag-later"),
        (0x0800, ipv4("10.0.0.2", "172.16.0.1", 47, bytes(8), options=bytes(4)), "ip-opts-gre"),
        (0x0800, ipv4("127.0.0.1", "127.0.0.1", 1, bytes(8)), "ip-icmp-lo"),
        (0x0800, ipv4("0.0.0.10", "1.2.3.4", 103, bytes(8)), "ip-pim-host10"),
        (0x86DD, ipv6("2001:db8::1", "fe80::1", 6, tcp), "ip6-tcp"),
        (0x86DD, ipv6("fe80::1", "2001:db8::1", 44, bytes([17, 0, 0, 1]) + bytes(4) + udp),
         "ip6-frag-udp"),
        (0x86DD, ipv6("fe80::2", "ff02::1", 0, bytes([58, 0]) + bytes(6) + bytes(8)),
         "ip6-hbh-icmp6-mcast"),
        (0x86DD, ipv6("::1", "::1", 58, bytes(8)), "ip6-icmp6-lo"),
        (0x86DD, ipv6("2001:db8::2", "2001:db8:1::3", 44, bytes([44]) + bytes(7) + bytes(8)),
         "ip6-frag-frag"),
        (0x0806, arp(1, MAC_A, "10.0.0.1", bytes(6), "10.0.0.2"), "arp-request"),
        (0x0806, arp(2, MAC_B, "192.168.1.1", MAC_A, "10.0.0.1"), "arp-reply"),
        (0x8035, arp(3, MAC_A, "0.0.0.0", MAC_A, "10.0.0.1"), "rarp"),
    ]


def _decnet(flags: bytes, dst: int, src: int) -> bytes:
    """A DECnet routing header after the 2-byte length: ``flags`` (with any pad) then addresses."""
    long_header = flags[-1] & 0x07 == 0x06
    if long_header:
        body = bytes(2) + bytes(4) + struct.pack("<H", dst) + bytes(2) + bytes(4) \
            + struct.pack("<H", src) + bytes(6)
    else:
        body = struct.pack("<HH", dst, src) + bytes(2)
    return struct.pack("<H", len(flags) + len(body)) + flags + body


def ethernet_frames() -> list[tuple[bytes, str]]:
    """Ethernet frames: every network payload, and the non-IP families."""
    frames = [(ether(MAC_B, MAC_A, t, p), label) for t, p, label in network_payloads()]
    frames += [
        (ether(MAC_BCAST, MAC_A, 0x0806, arp(1, MAC_A, "10.0.0.1", bytes(6), "10.0.0.9")),
         "arp-bcast"),
        (ether(MAC_MCAST, MAC_B, 0x0800, ipv4("10.0.0.9", "224.0.0.251", 17, bytes(8))),
         "ip-mac-mcast"),
        (ether(MAC_A, MAC_A, 0x0800, ipv4("10.0.0.1", "10.0.0.1", 6, bytes(20))), "self"),
        (ether(MAC_B, MAC_A, 0x809B, bytes(20)), "atalk"),
        (ether(MAC_B, MAC_A, 0x80F3, bytes(28)), "aarp"),
        (ether(MAC_B, MAC_A, 0x8137, b"\xff\xff" + bytes(28)), "ipx-ethernet2"),
        (ether(MAC_B, MAC_A, 0x6004, bytes(20)), "lat"),
        (ether(MAC_B, MAC_A, 0x6007, bytes(20)), "sca"),
        (ether(MAC_B, MAC_A, 0x6001, bytes(20)), "mopdl"),
        (ether(MAC_B, MAC_A, 0x6002, bytes(20)), "moprc"),
        (ether(MAC_STP, MAC_A, 0x88CC, bytes(20)), "lldp"),
        (ether(MAC_BCAST, MAC_A, 0x8863, bytes([0x11, 0x09, 0, 0, 0, 0])), "pppoed"),
        (dot3(MAC_STP, MAC_A, llc(0x42, 0x42, 0x03, bytes(35))), "stp"),
        (dot3(MAC_B, MAC_A, llc(0xF0, 0xF0, 0x03, bytes(20))), "netbeui"),
        (dot3(MAC_B, MAC_A, llc(0x06, 0x06, 0x03, ipv4("10.0.0.1", "10.0.0.2", 6, bytes(20)))),
         "ip-over-llc"),
        (dot3(MAC_B, MAC_A, snap(0x080007, 0x809B, bytes(20))), "snap-atalk"),
        (dot3(MAC_B, MAC_A, snap(0x000000, 0x80F3, bytes(28))), "snap-aarp"),
        (dot3(MAC_B, MAC_A, snap(0x000000, 0x8137, bytes(28))), "snap-ipx"),
        (dot3(MAC_B, MAC_A, snap(0x000000, 0x0800, bytes(20))), "snap-ip"),
        (dot3(MAC_B, MAC_A, b"\xff\xff" + bytes(28)), "ipx-raw-8023"),
        (dot3(MAC_B, MAC_A, llc(0xE0, 0xE0, 0x03, bytes(28))), "ipx-llc"),
    ]
    for nlpid, pdu in ((0x81, 0), (0x82, 0), (0x83, 15), (0x83, 16), (0x83, 17), (0x83, 18),
                       (0x83, 20), (0x83, 24), (0x83, 25), (0x83, 26), (0x83, 27), (0x83, 5)):
        osi = bytes([nlpid, 27, 1, 0, pdu]) + bytes(20)
        frames.append((dot3(MAC_B, MAC_A, llc(0xFE, 0xFE, 0x03, osi)), f"osi-{nlpid:x}-{pdu}"))
    for control in (0x00, 0x02, 0x01, 0x05, 0x09, 0x03, 0x13, 0x63, 0x43, 0x0F, 0x6F, 0xE3,
                    0xAF, 0x87, 0x7F):
        frames.append((dot3(MAC_B, MAC_A, llc(0x42, 0x43, control, bytes(10))),
                       f"llc-control-{control:02x}"))
    for flags, label in ((b"\x02", "short"), (b"\x81\x02", "pad-short"), (b"\x06", "long"),
                         (b"\x81\x06", "pad-long"), (b"\x0a", "other")):
        for dst, src in ((10 << 10 | 20, 1 << 10 | 2), (1 << 10 | 2, 1023), (1023, 10 << 10 | 20),
                         (1 << 10 | 2, 1 << 10 | 2)):
            frames.append((ether(MAC_B, MAC_A, 0x6003, _decnet(flags, dst, src)),
                           f"decnet-{label}-{dst}-{src}"))
    return frames + encapsulated_frames()


def mpls_label(label: int, bottom: bool, ttl: int = 64) -> bytes:
    return struct.pack(">I", label << 12 | int(bottom) << 8 | ttl)


def pppoe_session(session: int, ppp_proto: int, payload: bytes) -> bytes:
    return struct.pack(">BBHHH", 0x11, 0, session, len(payload) + 2, ppp_proto) + payload


def geneve(vni: int, proto: int, payload: bytes, option_words: int = 0, version: int = 0) -> bytes:
    return struct.pack(">BBHI", version << 6 | option_words, 0, proto, vni << 8) \
        + bytes(4 * option_words) + payload


def vxlan(vni: int, payload: bytes, flags: int = 0x08) -> bytes:
    return struct.pack(">BBHI", flags, 0, 0, vni << 8) + payload


def _udp_to(port: int, payload: bytes) -> bytes:
    return struct.pack(">HHHH", 40000, port, 8 + len(payload), 0) + payload


def encapsulated_frames() -> list[tuple[bytes, str]]:
    """VLAN/QinQ, MPLS stacks, PPPoE sessions, Geneve and VXLAN tunnels."""
    ip_a = ipv4("10.0.0.1", "192.168.1.1", 6, ports(1234, 80))
    ip6_a = ipv6("2001:db8::1", "fe80::1", 17, ports(5353, 53, 4))
    arp_a = arp(1, MAC_A, "10.0.0.1", bytes(6), "10.0.0.2")
    inner = ether(MAC_A, MAC_B, 0x0800, ip_a)
    frames: list[tuple[bytes, str]] = []
    for tpid in (0x8100, 0x88A8, 0x9100):
        for vid, ethertype, payload in ((100, 0x0800, ip_a), (200, 0x86DD, ip6_a),
                                        (100, 0x0806, arp_a), (4095, 0x0800, ip_a)):
            frames.append((ether(MAC_B, MAC_A, tpid, struct.pack(">HH", 0x2000 | vid, ethertype)
                                 + payload), f"vlan-{tpid:x}-{vid}-{ethertype:x}"))
    frames += [
        (ether(MAC_B, MAC_A, 0x88A8, struct.pack(">HH", 100, 0x8100)
               + struct.pack(">HH", 200, 0x0800) + ip_a), "qinq-100-200-ip"),
        (ether(MAC_B, MAC_A, 0x8100, struct.pack(">HH", 300, 0x8100)
               + struct.pack(">HH", 100, 0x86DD) + ip6_a), "qinq-300-100-ip6"),
        (ether(MAC_B, MAC_A, 0x8100, struct.pack(">HH", 100, 0x8847)
               + mpls_label(16, True) + ip_a), "vlan-mpls-ip"),
        (ether(MAC_STP, MAC_A, 0x8100, struct.pack(">HH", 7, 38) + llc(0x42, 0x42, 3, bytes(35))),
         "vlan-stp"),
        (ether(MAC_B, MAC_A, 0x8847, mpls_label(100704, True) + ip_a), "mpls-100704-ip"),
        (ether(MAC_B, MAC_A, 0x8847, mpls_label(16, False) + mpls_label(100704, True) + ip6_a),
         "mpls-16-100704-ip6"),
        (ether(MAC_B, MAC_A, 0x8847, mpls_label(1000, False) + mpls_label(2000, False)
               + mpls_label(3000, True) + ip_a), "mpls-3-labels"),
        (ether(MAC_B, MAC_A, 0x8847, mpls_label(5, False) + ip_a), "mpls-no-bottom"),
        (ether(MAC_B, MAC_A, 0x8848, mpls_label(5, True) + ip_a), "mpls-multicast"),
        (ether(MAC_B, MAC_A, 0x8864, pppoe_session(5, 0x0021, ip_a)), "pppoes-5-ip"),
        (ether(MAC_B, MAC_A, 0x8864, pppoe_session(0x1234, 0x0057, ip6_a)), "pppoes-ip6"),
        (ether(MAC_B, MAC_A, 0x8864, pppoe_session(5, 0x002B, bytes(30))), "pppoes-ipx"),
        (ether(MAC_B, MAC_A, 0x8864, pppoe_session(5, 0x0281, mpls_label(7, True) + ip_a)),
         "pppoes-mpls-ip"),
        (ether(MAC_B, MAC_A, 0x8864, pppoe_session(5, 0x0031, bytes(30))), "pppoes-bpdu"),
        (ether(MAC_B, MAC_A, 0x8864, pppoe_session(5, 0x0806, arp_a)), "pppoes-arp-raw"),
    ]
    tunnels = [
        (geneve(10, 0x6558, inner), 6081, "geneve-10-teb-ip"),
        (geneve(0xABCDEF, 0x6558, inner, option_words=2), 6081, "geneve-opts-teb"),
        (geneve(10, 0x0800, ip_a), 6081, "geneve-bare-ip"),
        (geneve(10, 0x86DD, ip6_a), 6081, "geneve-bare-ip6"),
        (geneve(10, 0x6558, inner, version=1), 6081, "geneve-v1"),
        (geneve(20, 0x6558, ether(MAC_A, MAC_B, 0x8100, struct.pack(">HH", 100, 0x0800) + ip_a)),
         6081, "geneve-teb-vlan-ip"),
        (vxlan(100, inner), 4789, "vxlan-100-ip"),
        (vxlan(100, ether(MAC_A, MAC_B, 0x86DD, ip6_a)), 4789, "vxlan-100-ip6"),
        (vxlan(7, inner, flags=0), 4789, "vxlan-noflag"),
        (vxlan(100, inner), 4790, "vxlan-wrong-port"),
    ]
    for payload, port, label in tunnels:
        outer4 = ipv4("172.16.0.1", "172.16.0.2", 17, _udp_to(port, payload))
        frames.append((ether(MAC_B, MAC_A, 0x0800, outer4), label))
        outer6 = ipv6("2001:db8::a", "2001:db8::b", 17, _udp_to(port, payload))
        frames.append((ether(MAC_B, MAC_A, 0x86DD, outer6), label + "-over-ip6"))
    outer_opts = ipv4("172.16.0.1", "172.16.0.2", 17, _udp_to(6081, geneve(10, 0x6558, inner)),
                      options=bytes(8))
    frames.append((ether(MAC_B, MAC_A, 0x0800, outer_opts), "geneve-outer-options"))
    return frames


def _split(frame: bytes) -> tuple[int, bytes]:
    """EtherType (or the SLL pseudo-protocol for 802.3 frames) and payload of a frame."""
    (ethertype,) = struct.unpack(">H", frame[12:14])
    payload = frame[14:]
    if ethertype <= 1500:
        return (0x0001 if payload[:2] == b"\xff\xff" else 0x0004), payload
    return ethertype, payload


def _ip_frames() -> list[tuple[bytes, str]]:
    return [(p, label) for t, p, label in network_payloads() if t in (0x0800, 0x86DD)]


@functools.cache
def generated_packets(dlt: int, byte_order: ByteOrder = "little") -> tuple[Packet, ...]:
    """Generated packets of link type ``dlt`` (NULL's family word in ``byte_order``)."""
    out: list[tuple[bytes, str]] = []
    if dlt == linktypes.DLT_EN10MB:
        out = ethernet_frames()
    elif dlt in (linktypes.DLT_LINUX_SLL, linktypes.DLT_LINUX_SLL2):
        for i, (frame, label) in enumerate(ethernet_frames()):
            proto, payload = _split(frame)
            pkttype = i % 5
            if dlt == linktypes.DLT_LINUX_SLL:
                header = struct.pack(">HHH8sH", pkttype, 1, 6, frame[6:12] + bytes(2), proto)
            else:
                header = struct.pack(">HHIHBB8s", proto, 0, 1 + i % 3, 1, pkttype, 6,
                                     frame[6:12] + bytes(2))
            out.append((header + payload, label))
        if dlt == linktypes.DLT_LINUX_SLL2:  # LLC SAPs in the protocol field: libpcap's quirk
            for proto in (0x42, 0xFE, 0xE0, 0xF0, 0x06):
                out.append((struct.pack(">HHIHBB8s", proto, 0, 1, 1, 0, 6, bytes(8)) + bytes(30),
                            f"sll2-proto-{proto:x}"))
    elif dlt == linktypes.DLT_RAW:
        out = _ip_frames() + [(b"\x50" + bytes(30), "version-5"), (b"\x05" + bytes(3), "junk")]
    elif dlt == linktypes.DLT_IPV4:
        out = [(p, label) for p, label in _ip_frames() if p[0] >> 4 == 4]
    elif dlt == linktypes.DLT_IPV6:
        out = [(p, label) for p, label in _ip_frames() if p[0] >> 4 == 6]
    elif dlt in (linktypes.DLT_NULL, linktypes.DLT_LOOP):
        order = "big" if dlt == linktypes.DLT_LOOP else byte_order
        for payload, label in _ip_frames():
            families = (2, 10, 23) if payload[0] >> 4 == 4 else (24, 28, 30, 10, 2)
            for af in families:
                out.append((af.to_bytes(4, order) + payload, f"af{af}-{label}"))
    return tuple(Packet(data, len(data), label) for data, label in out)


def sampled_truncations(packets: Iterable[Packet], stride: int = 3) -> Iterator[Packet]:
    """Prefixes of each packet, every ``stride`` bytes starting at a rotating phase, so that
    across packets every cut position occurs: loads past the end must fault the same way."""
    for index, p in enumerate(packets):
        for n in range(index % stride, len(p.data), stride):
            yield Packet(p.data[:n], p.wirelen, f"{p.origin}[:{n}]")


def packet_set(dlt: int, byte_order: ByteOrder = "little",
                 truncated: bool = True) -> tuple[Packet, ...]:
    """The corpus' packets of ``dlt`` (little-endian files only for NULL), the generated ones,
    and sampled truncations of the generated ones."""
    generated = generated_packets(dlt, byte_order)
    corpus = corpus_packets(dlt) if byte_order == "little" else ()
    cut = tuple(sampled_truncations(generated)) if truncated else ()
    return corpus + generated + cut


# ---------------------------------------------------------------------------------------------
# The checks the test tables use.


def check_same(expr: str, dlt: int, packets: Iterable[Packet] | None = None, *,
               netmask: int | None = None, byte_order: ByteOrder = "little",
               libpcap_text: str | None = None) -> int:
    """Assert bpfc and libpcap return the same value on every packet; return how many packets
    libpcap accepted (so tables can also assert their packets exercise the expression).

    When libpcap refuses with "expression rejects all packets" (its optimizer proved the filter
    constant), bpfc's program must reject every packet.
    """
    pkts = tuple(packets) if packets is not None else packet_set(dlt, byte_order)
    text = expr if libpcap_text is None else libpcap_text
    try:
        theirs = libpcap_compile(text, dlt, 262144, 0 if netmask is None else netmask,
                                 byte_order)
    except LibpcapError as error:
        assert str(error) == "expression rejects all packets", f"libpcap refuses: {error}"
        ours = compile_insns(expr, dlt, netmask=netmask, byte_order=byte_order)
        accepted = [p.origin for p in pkts if run(ours, p.data, p.wirelen)]
        assert not accepted, f"libpcap rejects all packets, bpfc accepts {accepted[:5]}"
        return 0
    ours = compile_insns(expr, dlt, netmask=netmask, byte_order=byte_order)
    diffs: list[Difference] = []
    matched = 0
    for p in pkts:
        a, b = run(ours, p.data, p.wirelen), libpcap_filter(theirs, p.data, p.wirelen)
        matched += b != 0
        if a != b:
            diffs.append(Difference(p.origin, a, b))
    assert not diffs, f"{len(diffs)} of {len(pkts)} packets differ, e.g. {diffs[:4]}"
    return matched


def check_same_error(expr: str, dlt: int, *, netmask: int | None = None) -> str:
    """Assert both refuse ``expr`` with the same message; return it. (libpcap ends a few
    messages with a stray newline; it is not part of the message.)"""
    try:
        libpcap_compile(expr, dlt, 262144, 0 if netmask is None else netmask)
    except LibpcapError as error:
        expected = str(error).rstrip("\n")
    else:
        raise AssertionError(f"libpcap compiles {expr!r}")
    try:
        compile_insns(expr, dlt, netmask=netmask)
    except FilterSemanticError as error:
        assert str(error) == expected, f"bpfc says {str(error)!r}, libpcap {expected!r}"
        return expected
    raise AssertionError(f"bpfc compiles {expr!r}; libpcap says {expected!r}")


# ---------------------------------------------------------------------------------------------
# Live-capture programs: libpcap compiled on a live handle, and an interpreter that gives
# ancillary loads (SKF_AD_*) the values a Linux socket would.


def libpcap_compile_live(expr: str, device: str = "lo") -> tuple[Insn, ...] | None:
    """libpcap's program for a live capture on ``device`` (None if it cannot be opened)."""
    lib = _libpcap()
    lib.pcap_open_live.restype = ctypes.c_void_p
    lib.pcap_open_live.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                   ctypes.c_char_p]
    errbuf = ctypes.create_string_buffer(512)
    handle = lib.pcap_open_live(device.encode(), 262144, 0, 0, errbuf)
    if not handle:
        return None
    try:
        prog = _BpfProgram()
        if lib.pcap_compile(handle, ctypes.byref(prog), expr.encode(), 1, 0) != 0:
            raise LibpcapError(lib.pcap_geterr(handle).decode())
        try:
            return tuple(Insn(prog.bf_insns[i].code, prog.bf_insns[i].jt, prog.bf_insns[i].jf,
                              prog.bf_insns[i].k) for i in range(prog.bf_len))
        finally:
            lib.pcap_freecode(ctypes.byref(prog))
    finally:
        lib.pcap_close(handle)


def run_with_metadata(insns: Sequence[Insn], packet: bytes, metadata: dict[int, int]) -> int:
    """Run a program as the kernel would for a socket: ``metadata`` maps SKF_AD_* offsets to
    the ancillary values; packet loads past the end return 0 for the whole filter."""
    a = x = 0
    mem = [0] * 16
    pc = 0

    def fetch(offset: int, size: int) -> int | None:
        if offset >= isa.SKF_AD_OFF:
            return metadata[offset - isa.SKF_AD_OFF]
        if offset + size > len(packet):
            return None
        return int.from_bytes(packet[offset:offset + size], "big")

    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = isa.BPF_CLASS(code)
        if cls in (isa.BPF_LD, isa.BPF_LDX):
            size = {isa.BPF_W: 4, isa.BPF_H: 2, isa.BPF_B: 1}[isa.BPF_SIZE(code)]
            mode = isa.BPF_MODE(code)
            if mode == isa.BPF_IMM:
                value: int | None = k
            elif mode == isa.BPF_MEM:
                value = mem[k]
            elif mode == isa.BPF_LEN:
                value = len(packet)
            elif mode == isa.BPF_MSH:
                byte = fetch(k, 1)
                value = None if byte is None else (byte & 0xF) * 4
            else:
                value = fetch(k + (x if mode == isa.BPF_IND else 0), size)
            if value is None:
                return 0
            if cls == isa.BPF_LD:
                a = value
            else:
                x = value
        elif cls == isa.BPF_ST:
            mem[k] = a
        elif cls == isa.BPF_STX:
            mem[k] = x
        elif cls == isa.BPF_ALU:
            operand = x if isa.BPF_SRC(code) == isa.BPF_X else k
            op = isa.BPF_OP(code)
            if op in (isa.BPF_DIV, isa.BPF_MOD) and operand == 0:
                return 0
            a = _alu(op, a, operand)
        elif cls == isa.BPF_JMP:
            if isa.BPF_OP(code) == isa.BPF_JA:
                pc += k
                continue
            operand = x if isa.BPF_SRC(code) == isa.BPF_X else k
            taken = {isa.BPF_JEQ: a == operand, isa.BPF_JGT: a > operand,
                     isa.BPF_JGE: a >= operand, isa.BPF_JSET: a & operand != 0}[isa.BPF_OP(code)]
            pc += jt if taken else jf
        elif cls == isa.BPF_RET:
            return a if isa.BPF_RVAL(code) == isa.BPF_A else k
        else:  # BPF_MISC
            if isa.BPF_MISCOP(code) == isa.BPF_TAX:
                x = a
            else:
                a = x


def _alu(op: int, a: int, b: int) -> int:
    match op:
        case isa.BPF_ADD:
            r = a + b
        case isa.BPF_SUB:
            r = a - b
        case isa.BPF_MUL:
            r = a * b
        case isa.BPF_DIV:
            r = a // b
        case isa.BPF_MOD:
            r = a % b
        case isa.BPF_AND:
            r = a & b
        case isa.BPF_OR:
            r = a | b
        case isa.BPF_XOR:
            r = a ^ b
        case isa.BPF_LSH:
            r = a << b if b < 32 else 0
        case isa.BPF_RSH:
            r = a >> b if b < 32 else 0
        case _:
            r = -a
    return r & 0xFFFFFFFF
