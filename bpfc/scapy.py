"""Scapy without tcpdump or libpcap: ``bpfc.scapy.install()`` makes scapy compile its BPF filters
with bpfc.

Stage: scapy's filter hooks → ``bpfc.compile`` / ``bpfc.attach``.

Scapy (2.5 to 2.8) has three places where a filter string becomes bytecode, and each calls out:

- ``scapy.arch.linux.attach_filter(sock, filter, iface)``, called by ``L2Socket``,
  ``L2ListenSocket`` and ``L3PacketSocket`` (so by ``sniff(filter=...)``, ``srp`` and friends)
  before they bind their packet socket, compiles through ``compile_filter``;
- ``scapy.arch.common.compile_filter(filter, iface, linktype)`` loads libpcap through ctypes
  and uses ``pcap_open_dead``/``pcap_open_live`` + ``pcap_compile``;
- ``sniff(offline=..., filter=...)`` pipes the packets through a ``tcpdump`` process.

``install()`` replaces the three module attributes (they are looked up at call time, so every
later call is ours) and ``uninstall()`` puts scapy's back. The live path compiles with
``live=True`` for the device's link type, which libpcap's ``pcap_open_dead`` path scapy uses
does not: with it, ``vlan`` filters see the tag the kernel moved into metadata. Compilation
errors surface as scapy's ``Scapy_Exception``, which scapy's callers already handle.
"""

from __future__ import annotations

import ctypes
import importlib
import socket
import tempfile
from typing import IO, Any

from . import linktypes, live, pcapfile, sockfilter
from .compiler import compile as compile_filter_bpfc
from .errors import BpfcError
from .program import Program

#: (module name, attribute) → scapy's original, while installed.
_saved: dict[tuple[str, str], Any] = {}


def _scapy_error(expression: str, exc: BpfcError) -> Exception:
    error: type[Exception] = importlib.import_module("scapy.error").Scapy_Exception
    return error(f"Failed to compile filter expression {expression!r} ({exc})")


def _iface_name(iface: Any) -> str:
    network_name = importlib.import_module("scapy.interfaces").network_name
    return str(network_name(iface))


def _device_linktype(iface: Any) -> int:
    """The link type bpfc compiles for on ``iface``: its DLT, or LINUX_SLL2 for devices a raw
    packet socket cannot filter (as ``bpfc -i`` falls back to cooked mode)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as probe:
        hatype = live.device(probe, _iface_name(iface)).hatype
    return sockfilter.ARPHRD_TO_DLT.get(hatype, linktypes.DLT_LINUX_SLL2)


def compile_filter(filter_exp: str, iface: Any = None, linktype: int | None = None,
                   promisc: bool = False) -> Any:
    """scapy's ``compile_filter``: a ``bpf_program`` for ``filter_exp``, compiled for
    ``linktype`` or for ``iface``'s link type (scapy's ``conf.iface`` when neither is given)."""
    structures = importlib.import_module("scapy.libs.structures")
    try:
        if linktype is None:
            if iface is None:
                iface = importlib.import_module("scapy.config").conf.iface
            linktype = _device_linktype(iface)
        program = compile_filter_bpfc(filter_exp, linktype)
    except BpfcError as exc:
        raise _scapy_error(filter_exp, exc) from exc
    insns = (structures.bpf_insn * len(program))(
        *(structures.bpf_insn(i.code, i.jt, i.jf, i.k) for i in program))
    # Assigning the pointer keeps ``insns`` alive in the structure's ctypes ``_objects``.
    return structures.bpf_program(len(program), ctypes.cast(insns,
                                                            ctypes.POINTER(structures.bpf_insn)))


def free_filter(bp: Any) -> None:
    """Nothing to free: the instructions belong to the ``bpf_program`` object."""


def attach_filter(sock: socket.socket, bpf_filter: str, iface: Any) -> None:
    """scapy's Linux ``attach_filter``: compile for ``iface``, live, and attach to the (not yet
    bound) packet socket, draining anything queued."""
    try:
        dlt = _device_linktype(iface)
        if sock.type == socket.SOCK_DGRAM and dlt not in sockfilter.COOKED:
            dlt = linktypes.DLT_LINUX_SLL2
        sockfilter.attach(sock, bpf_filter, dlt)
    except BpfcError as exc:
        raise _scapy_error(bpf_filter, exc) from exc


def _offline_pcap_reader(source: Any, flt: str | None, quiet: bool) -> Any:
    """``sniff(offline=...)``'s reader, filtering with bpfc instead of a tcpdump process: the
    matching packets go to an anonymous temporary file that scapy's ``PcapReader`` reads."""
    utils = importlib.import_module("scapy.utils")
    if flt is None:
        return utils.PcapReader(source)
    raw: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the reader
    if isinstance(source, str):
        with open(source, "rb") as f:
            _copy(f, raw)
    elif hasattr(source, "iter"):  # scapy's IterSocket over packets
        writer = utils.PcapWriter(raw)  # not closed: that would close ``raw``
        writer.write(list(source.iter))
        writer.flush()
    else:
        _copy(source, raw)
    raw.seek(0)
    matched: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        _filter_capture(raw, matched, flt)
    except BpfcError as exc:
        raise _scapy_error(flt, exc) from exc
    finally:
        raw.close()
    matched.seek(0)
    return utils.PcapReader(matched)


def _copy(src: IO[bytes], dst: IO[bytes]) -> None:
    while chunk := src.read(1 << 20):
        dst.write(chunk)


def _filter_capture(src: IO[bytes], dst: IO[bytes], expression: str) -> None:
    programs: dict[int, Program] = {}
    with pcapfile.open_capture(src, use_mmap=False) as reader, \
            pcapfile.PcapngWriter(dst, reader.linktype, reader.snaplen,
                                  ts_units=reader.ts_units) as writer:
        for packet in reader:
            program = programs.get(packet.linktype)
            if program is None:
                program = programs[packet.linktype] = compile_filter_bpfc(expression,
                                                                          packet.linktype)
            if program.match(packet.data, packet.wirelen):
                writer.write(packet)


_HOOKS = (
    ("scapy.arch.common", "compile_filter", compile_filter),
    ("scapy.arch.common", "free_filter", free_filter),
    ("scapy.arch.linux", "compile_filter", compile_filter),
    ("scapy.arch.linux", "free_filter", free_filter),
    ("scapy.arch.linux", "attach_filter", attach_filter),
    ("scapy.sendrecv", "_offline_pcap_reader", _offline_pcap_reader),
)


def install() -> None:
    """Make scapy compile and attach every filter with bpfc (idempotent)."""
    for module_name, name, replacement in _HOOKS:
        module = importlib.import_module(module_name)
        if (module_name, name) not in _saved:
            _saved[(module_name, name)] = getattr(module, name)
        setattr(module, name, replacement)


def uninstall() -> None:
    """Give scapy its own filter functions back."""
    for (module_name, name), original in list(_saved.items()):
        setattr(importlib.import_module(module_name), name, original)
        del _saved[(module_name, name)]


def installed() -> bool:
    return bool(_saved)


__all__ = ["attach_filter", "compile_filter", "free_filter", "install", "installed",
           "uninstall"]
