"""Classic BPF on real sockets: attach, detach and lock a filter, and ask the kernel for a verdict.

Stage: ``Program`` → ``SO_ATTACH_FILTER``. The capture code attaches its filter through
``attach_filter``; the tests use ``kernel_accepts`` to hold the checker to the kernel's rules
and ``FilterProbe`` to hold the VM and the JIT to the kernel's interpreter.

The kernel checks a classic program when it is attached (``sk_attach_filter`` →
``bpf_check_classic``) and refuses it with EINVAL; only then does it charge the converted
program to the socket's ``net.core.optmem_max`` budget, which a valid but large program can
exceed (ENOMEM). Both surface here as ``AttachError``, whose ``__cause__`` keeps the ``OSError``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
from collections.abc import Sequence
from typing import Self

from .errors import AttachError
from .isa import Insn

SOL_SOCKET = socket.SOL_SOCKET
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
SO_LOCK_FILTER = 44

#: ``struct sock_fprog.len`` is an unsigned short.
_MAX_FPROG_LEN = 0xFFFF


class SockFilter(ctypes.Structure):
    """``struct sock_filter`` from ``linux/filter.h``."""

    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    """``struct sock_fprog``: the count and a pointer to the instructions."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def _fprog(insns: Sequence[Insn]) -> tuple[bytes, ctypes.Array[SockFilter]]:
    """The ``sock_fprog`` bytes for setsockopt, and the array it points to, which the caller
    must keep alive until the call returns."""
    if len(insns) > _MAX_FPROG_LEN:
        raise AttachError(f"{len(insns)} instructions do not fit struct sock_fprog "
                          f"(at most {_MAX_FPROG_LEN})")
    array = (SockFilter * max(1, len(insns)))()
    for slot, insn in zip(array, insns, strict=False):  # an empty program keeps one slot
        slot.code, slot.jt, slot.jf, slot.k = insn
    prog = SockFprog(len(insns), ctypes.cast(array, ctypes.POINTER(SockFilter)))
    return bytes(prog), array


def _refusal(what: str, exc: OSError) -> AttachError:
    code = exc.errno or 0
    name = errno.errorcode.get(code, str(code))
    text = os.strerror(code).lower()
    hint = ""
    if code == errno.ENOMEM and what == "SO_ATTACH_FILTER":
        hint = " (the filter passed the kernel's checks but exceeds net.core.optmem_max)"
    elif code == errno.EPERM and what == "SO_ATTACH_FILTER":
        hint = " (the socket's filter is locked)"
    return AttachError(f"the kernel refused {what}: {text} [{name}]{hint}")


def attach_filter(sock: socket.socket, insns: Sequence[Insn]) -> None:
    """Attach ``insns`` to ``sock``, replacing any filter it has."""
    # ``keepalive`` owns the instructions ``value`` points to; the kernel copies them during
    # the call, so the array must outlive it (a local does).
    value, keepalive = _fprog(insns)
    try:
        sock.setsockopt(SOL_SOCKET, SO_ATTACH_FILTER, value)
    except OSError as exc:
        raise _refusal("SO_ATTACH_FILTER", exc) from exc
    del keepalive


def detach_filter(sock: socket.socket) -> None:
    """Remove the socket's filter (ENOENT if it has none)."""
    try:
        sock.setsockopt(SOL_SOCKET, SO_DETACH_FILTER, 0)
    except OSError as exc:
        raise _refusal("SO_DETACH_FILTER", exc) from exc


def lock_filter(sock: socket.socket) -> None:
    """Forbid any later attach or detach on this socket, for the life of the socket."""
    try:
        sock.setsockopt(SOL_SOCKET, SO_LOCK_FILTER, 1)
    except OSError as exc:
        raise _refusal("SO_LOCK_FILTER", exc) from exc


def kernel_accepts(insns: Sequence[Insn]) -> bool:
    """Whether the kernel's classic checker accepts ``insns``: False when attaching fails with
    EINVAL. Any other refusal (ENOMEM: valid, but too big for optmem_max) is raised, because it
    says nothing about validity."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            attach_filter(sock, insns)
        except AttachError as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and cause.errno == errno.EINVAL:
                return False
            raise
    return True


class FilterProbe:
    """A datagram socket pair whose receiving end carries a filter: send a packet, and see what
    the kernel let through.

    On a socket the filter's return value is a length: 0 drops the datagram, anything else
    trims it to ``min(value, len)`` (``sk_filter_trim_cap``). The packet is the whole datagram,
    so the filter sees exactly the sent bytes and ``len`` is their count.
    """

    #: Receive buffer size: larger than any datagram the tests send.
    BUFSIZE = 1 << 16

    def __init__(self) -> None:
        self._send, self._recv = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._send.close()
        self._recv.close()

    def load(self, insns: Sequence[Insn]) -> None:
        """Attach ``insns`` to the receiving socket (raises ``AttachError`` if refused)."""
        attach_filter(self._recv, insns)

    def verdict(self, packet: bytes) -> int | None:
        """The number of bytes the filter kept, or None when it dropped the packet."""
        self._send.send(packet)
        try:
            data = self._recv.recv(self.BUFSIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        return len(data)


def expected_verdict(result: int, packet_len: int) -> int | None:
    """What ``FilterProbe.verdict`` shows for a filter that returned ``result``."""
    return None if result == 0 else min(result, packet_len)


__all__ = [
    "SO_ATTACH_FILTER", "SO_DETACH_FILTER", "SO_LOCK_FILTER", "FilterProbe", "SockFilter",
    "SockFprog", "attach_filter", "detach_filter", "expected_verdict", "kernel_accepts",
    "lock_filter",
]
