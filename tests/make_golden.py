"""Regenerate tests/golden/dump/ from the real libpcap and tcpdump, and wrap them as test oracles.

Run from the repository root: ``python -m tests.make_golden``. It needs libpcap.so.0.8 and
tcpdump; the live filters (the ones libpcap compiles with Linux ancillary loads) also need root
and a loopback interface.

Synthetic programs (``PROGRAMS``) go through libpcap's own ``bpf_dump`` via ctypes: they reach
opcodes, operands and fields no filter expression produces. Real filters (``FILTERS``) go
through ``tcpdump -d/-dd/-ddd``, reading an empty savefile of the wanted link type (so no
interface is needed) or, for the live ones, ``-i lo``. Each golden file is one header line that
names the program or filter, the link type and the tool, then the tool's output byte for byte.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bpfc.isa import (
    BPF_ABS,
    BPF_B,
    BPF_H,
    BPF_IND,
    BPF_LD,
    BPF_LDX,
    BPF_MSH,
    BPF_W,
    OPCODES,
    SKF_AD_OFF,
    SKF_LL_OFF,
    SKF_NET_OFF,
    Insn,
)

GOLDEN = Path(__file__).resolve().parent / "golden" / "dump"

#: bpf_dump's option: 1 prints -d, 2 prints -dd, 3 prints -ddd (tcpdump passes its -d count).
OPTIONS = {"d": 1, "dd": 2, "ddd": 3}


# ---------------------------------------------------------------------------------------------
# libpcap through ctypes


class _BpfInsn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn))]


@functools.cache
def libpcap() -> ctypes.CDLL | None:
    """The installed libpcap, or None where there is none (tests then skip)."""
    for name in ("libpcap.so.0.8", ctypes.util.find_library("pcap")):
        if name:
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                continue
            lib.bpf_image.restype = ctypes.c_char_p
            lib.bpf_image.argtypes = [ctypes.POINTER(_BpfInsn), ctypes.c_int]
            lib.bpf_dump.restype = None
            lib.bpf_dump.argtypes = [ctypes.POINTER(_BpfProgram), ctypes.c_int]
            lib.pcap_lib_version.restype = ctypes.c_char_p
            lib.pcap_open_dead.restype = ctypes.c_void_p
            lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram),
                                         ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32]
            lib.pcap_geterr.restype = ctypes.c_char_p
            lib.pcap_geterr.argtypes = [ctypes.c_void_p]
            lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
            lib.pcap_close.argtypes = [ctypes.c_void_p]
            return lib
    return None


def _lib() -> ctypes.CDLL:
    lib = libpcap()
    if lib is None:
        raise RuntimeError("libpcap is not installed")
    return lib


def libpcap_version() -> str:
    return str(_lib().pcap_lib_version().decode())


def libpcap_image(insn: Insn, pc: int) -> str:
    """libpcap's ``bpf_image(insn, pc)``: one -d line."""
    raw = _BpfInsn(insn.code, insn.jt, insn.jf, insn.k)
    return str(_lib().bpf_image(ctypes.byref(raw), pc).decode())


def libpcap_compile(linktype: str, expr: str, optimize: bool) -> list[Insn]:
    """The installed libpcap's program for ``expr`` (``pcap_open_dead`` + ``pcap_compile``,
    netmask 0 as tcpdump uses on a savefile). pcapy-ng is no substitute here: its wheel
    bundles libpcap 1.9.1, whose programs differ from 1.10's."""
    lib = _lib()
    handle = lib.pcap_open_dead(DLT[linktype], SNAPLEN)
    program = _BpfProgram()
    try:
        if lib.pcap_compile(handle, ctypes.byref(program), expr.encode(), int(optimize), 0):
            raise ValueError(lib.pcap_geterr(handle).decode())
        raw = program.bf_insns[:program.bf_len]
        return [Insn(i.code, i.jt, i.jf, i.k) for i in raw]
    finally:
        lib.pcap_freecode(ctypes.byref(program))
        lib.pcap_close(handle)


@contextlib.contextmanager
def _stdout_to(file: object) -> Iterator[None]:
    """Point fd 1 (where C's stdout writes) at ``file`` for the block, flushing both sides."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    saved = os.dup(1)
    os.dup2(file.fileno(), 1)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


def libpcap_dump(insns: Sequence[Insn], option: int) -> str:
    """What libpcap's ``bpf_dump(program, option)`` prints to stdout."""
    lib = _lib()
    array = (_BpfInsn * max(1, len(insns)))(*(_BpfInsn(*insn) for insn in insns))
    program = _BpfProgram(len(insns), array)
    with tempfile.TemporaryFile() as out:
        with _stdout_to(out):
            lib.bpf_dump(ctypes.byref(program), option)
        out.seek(0)
        return out.read().decode()


# ---------------------------------------------------------------------------------------------
# tcpdump


@dataclass(frozen=True, slots=True)
class Filter:
    """A filter expression whose dumps tcpdump produces; ``live`` compiles on ``-i lo``."""

    name: str
    expr: str
    linktype: str = "EN10MB"
    optimize: bool = True
    live: bool = False


#: DLT numbers of the link types the savefile filters use.
DLT = {"EN10MB": 1, "RAW": 12, "LINUX_SLL": 113, "IEEE802_11_RADIO": 127, "NULL": 0}
SNAPLEN = 262144

FILTERS = (
    Filter("ip-tcp-port-80", "ip and tcp port 80"),
    Filter("port-53", "port 53"),
    Filter("vlan-100-udp", "vlan 100 and udp"),
    Filter("ip6-protochain-6", "ip6 protochain 6"),
    Filter("tcp-flags", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0"),
    Filter("len-mod-4", "len % 4 == 0"),
    Filter("tcp-payload-len", "ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) != 0"),
    Filter("arith-unoptimized",
           "ip[1] * 3 / 2 % 7 | 1 ^ 2 == (ip[2] << 1 >> 1) & 0xff and -ip[0] != 0 "
           "and len - 1 > 0", optimize=False),
    Filter("not-tcp-or-udp-unoptimized", "not (tcp or udp)", optimize=False),
    Filter("net-mask", "net 172.16.0.0 mask 255.240.0.0 or ether broadcast"),
    Filter("icmp-echo", "icmp[icmptype] == icmp-echo or greater 1000"),
    Filter("host-list-260",
           " or ".join(f"host 10.0.{i // 250}.{i % 250}" for i in range(260))),
    Filter("sll-udp-53", "ip and udp port 53", linktype="LINUX_SLL"),
    Filter("raw-ip6-tcp", "ip6 and tcp", linktype="RAW"),
    Filter("null-ip", "ip", linktype="NULL"),
    Filter("radiotap-beacon", "wlan type mgt subtype beacon", linktype="IEEE802_11_RADIO"),
    Filter("live-vlan-10", "vlan 10", live=True),
    Filter("live-vlan-and-ip", "vlan and ip", live=True),
    Filter("live-inbound", "inbound", live=True),
    Filter("live-outbound-tcp", "outbound and tcp", live=True),
)


def empty_savefile(path: Path, linktype: str, snaplen: int = SNAPLEN) -> Path:
    """A pcap file with a header and no packets: tcpdump -r compiles against its link type."""
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, DLT[linktype]))
    return path


def tcpdump_version() -> str:
    out = subprocess.run(["tcpdump", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0]


def tcpdump_dump(flt: Filter, fmt: str, savefile: Path | None = None) -> tuple[str, str]:
    """tcpdump's ``-d``/``-dd``/``-ddd`` output for ``flt``, and the command line's description.

    Savefile filters need ``savefile``: an empty pcap of ``flt.linktype``."""
    flags = ["-" + fmt] + ([] if flt.optimize else ["-O"])
    if flt.live:
        source, shown = ["-i", "lo"], "-i lo"
    else:
        if savefile is None:
            raise ValueError(f"{flt.name} reads a savefile")
        source = ["-r", str(savefile)]
        shown = f"-r <empty {flt.linktype} savefile, snaplen {SNAPLEN}>"
    out = subprocess.run(["tcpdump", *flags, *source, flt.expr], capture_output=True, text=True,
                         check=True)
    return out.stdout, " ".join(["tcpdump", *flags, shown])


# ---------------------------------------------------------------------------------------------
# Synthetic programs


def _every_opcode() -> list[Insn]:
    """Every opcode with k values that print differently signed and unsigned, and nonzero
    jt/jf everywhere, to show what -d leaves out."""
    ks = (0, 1, 12, 1500, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF)
    out: list[Insn] = []
    for k in ks:
        for code in sorted(OPCODES):
            i = len(out)
            jt, jf = (i * 7) % 256, (i * 13 + 1) % 256
            out.append(Insn(code, jt, jf, k))
    return out


def _ancillary() -> list[Insn]:
    """Loads at every offset around SKF_AD_OFF (named, unnamed, odd), and the other bases."""
    codes = [BPF_LD | size | mode for mode in (BPF_ABS, BPF_IND) for size in (BPF_W, BPF_H, BPF_B)]
    codes.append(BPF_LDX | BPF_B | BPF_MSH)
    ks = [SKF_AD_OFF + off for off in range(-1, 72)] + [SKF_NET_OFF, SKF_LL_OFF, SKF_AD_OFF - 4]
    return [Insn(code, 0, 0, k) for code in codes for k in ks]


def _unknown_opcodes() -> list[Insn]:
    """Codes the table does not have (and 0x81, which libpcap cannot print), all fields set."""
    codes = [c for c in range(0x100) if c not in OPCODES]
    codes += [0x81, 0x100, 0x1234, 0x8000, 0xFFFF]
    return [Insn(code, 1 + i % 255, 2 + i % 254, 0xDEAD0000 + i) for i, code in enumerate(codes)]


def _long() -> list[Insn]:
    """1100 instructions: four-digit numbers and the widest jt/jf."""
    out: list[Insn] = []
    jeq, ja, ret = 0x15, 0x05, 0x06
    while len(out) < 1100:
        i = len(out)
        match i % 3:
            case 0:
                out.append(Insn(jeq, 255, 0, i))
            case 1:
                out.append(Insn(ja, 0, 0, 1100 - i - 1 if i < 1090 else 0))
            case _:
                out.append(Insn(ret, 0, 0, i))
    return out


PROGRAMS: dict[str, list[Insn]] = {
    "every-opcode": _every_opcode(),
    "ancillary": _ancillary(),
    "unknown-opcodes": _unknown_opcodes(),
    "long": _long(),
    "empty": [],
}

# ---------------------------------------------------------------------------------------------
# Golden files


def golden_path(name: str, fmt: str) -> Path:
    return GOLDEN / f"{name}.{fmt}"


def read_golden(name: str, fmt: str) -> tuple[str, str]:
    """The header line (without '# ') and the body of one golden file."""
    text = golden_path(name, fmt).read_text()
    header, _, body = text.partition("\n")
    if not header.startswith("# "):
        raise ValueError(f"{golden_path(name, fmt)} has no header line")
    return header[2:], body


def _write(name: str, fmt: str, header: str, body: str) -> None:
    golden_path(name, fmt).write_text(f"# {header}\n{body}")


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    version = libpcap_version()
    for name, insns in PROGRAMS.items():
        for fmt, option in OPTIONS.items():
            header = (f"bpfc dump golden; program: {name} (synthetic, tests/make_golden.py); "
                      f"linktype: none; tool: {version} bpf_dump(option={option}) via ctypes")
            _write(name, fmt, header, libpcap_dump(insns, option))
    if shutil.which("tcpdump") is None:
        print("tcpdump not found: filter goldens left as they are", file=sys.stderr)
        return 1
    tool = tcpdump_version()
    with tempfile.TemporaryDirectory() as tmp:
        for flt in FILTERS:
            savefile = None if flt.live else empty_savefile(Path(tmp) / "empty.pcap",
                                                            flt.linktype)
            for fmt in OPTIONS:
                body, command = tcpdump_dump(flt, fmt, savefile)
                header = (f"bpfc dump golden; filter: '{flt.expr}'; linktype: {flt.linktype}; "
                          f"tool: {tool} ({version}): {command}")
                _write(flt.name, fmt, header, body)
    print(f"wrote {len(list(GOLDEN.iterdir()))} files to {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
