"""Throwaway network namespaces with veth pairs, for tests that need a real link.

Every namespace is ours: named ``bpfct-<pid>-<n>``, created with ``ip netns add``, holding only
the veth pairs made in it and its own loopback device, with IPv6 (and so its router and
neighbour solicitations) off, so the only packets on its links are the ones a test sends.
``namespace()`` deletes it on exit (which deletes its devices too); an ``atexit`` hook deletes
any a crashed test left. At most ``MAX_NAMESPACES`` exist at once and every ``ip`` call is
bounded in time.

The test process itself stays in its own namespace; ``Netns.entered()`` moves the calling thread
into the namespace (``setns``) just long enough to open sockets there, which stay bound to it.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
MAX_NAMESPACES = 4
IP_TIMEOUT_S = 10
ETH_P_ALL = 0x0003

#: Resolved once, so that commands still find it when a test empties PATH for a child.
IP = shutil.which("ip") or "ip"

_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()
_alive: set[str] = set()
_lock = threading.Lock()


def unavailable() -> str | None:
    """Why these tests cannot run here, or None: they need root and iproute2's ``ip netns``."""
    if os.geteuid() != 0:
        return "live capture tests need root (network namespaces and packet sockets)"
    if shutil.which("ip") is None:
        return "'ip' (iproute2) is not installed, so 'ip netns' is unavailable"
    return None


def _ip(*argv: str) -> str:
    done = subprocess.run([IP, *argv], capture_output=True, text=True, timeout=IP_TIMEOUT_S,
                          check=False)
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


class NetnsError(RuntimeError):
    """An ``ip`` command failed."""


@dataclass(frozen=True, slots=True)
class Veth:
    """One veth pair inside a namespace: frames sent on ``a`` arrive on ``b`` and back."""

    a: str
    b: str
    mac_a: bytes
    mac_b: bytes
    index_a: int
    index_b: int


class Netns:
    """One namespace of ours."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pairs = itertools.count()

    def exec_argv(self, *argv: str) -> list[str]:
        """A command line that runs ``argv`` inside the namespace."""
        return [IP, "netns", "exec", self.name, *argv]

    def add_veth(self, mtu: int = 1500) -> Veth:
        n = next(self._pairs)
        a, b = f"va{n}", f"vb{n}"
        _ip("-n", self.name, "link", "add", a, "mtu", str(mtu), "type", "veth", "peer", "name",
            b, "mtu", str(mtu))
        for dev in (a, b):
            _ip("-n", self.name, "link", "set", dev, "up")
        with self.entered():
            probe = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            with probe:
                probe.bind((a, 0))
                _, _, _, _, mac_a = probe.getsockname()
                probe_b = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
                with probe_b:
                    probe_b.bind((b, 0))
                    mac_b = probe_b.getsockname()[4]
            index_a, index_b = socket.if_nametoindex(a), socket.if_nametoindex(b)
        return Veth(a, b, bytes(mac_a), bytes(mac_b), index_a, index_b)

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run the body with the calling thread in this namespace."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(target)
            os.close(own)

    def sender(self, device: str) -> socket.socket:
        """A packet socket that sends raw frames out of ``device``."""
        with self.entered():
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            sock.bind((device, 0))
        return sock


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise NetnsError(f"setns: {os.strerror(code)}")


def _delete(name: str) -> None:
    try:
        _ip("netns", "del", name)
    except (NetnsError, subprocess.TimeoutExpired):
        pass
    with _lock:
        _alive.discard(name)


@atexit.register
def _delete_leftovers() -> None:
    for name in list(_alive):
        _delete(name)


@contextmanager
def namespace() -> Iterator[Netns]:
    """A fresh namespace with loopback up and IPv6 off; deleted on exit."""
    with _lock:
        if len(_alive) >= MAX_NAMESPACES:
            raise NetnsError(f"more than {MAX_NAMESPACES} test namespaces at once")
        name = f"bpfct-{os.getpid()}-{next(_counter)}"
        _alive.add(name)
    try:
        _ip("netns", "add", name)
    except BaseException:
        with _lock:
            _alive.discard(name)
        raise
    try:
        ns = Netns(name)
        with ns.entered():
            for key in ("all", "default"):
                with open(f"/proc/sys/net/ipv6/conf/{key}/disable_ipv6", "w") as f:
                    f.write("1")
        _ip("-n", name, "link", "set", "lo", "up")
        yield ns
    finally:
        _delete(name)


@contextmanager
def veth_or_skip() -> Iterator[tuple[Netns, Veth]]:
    """A fresh namespace with one veth pair, or the calling test skipped when namespaces
    cannot be made here. Only the setup skips: a failure inside the block fails the test."""
    import pytest

    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    try:
        context = namespace()
        ns = context.__enter__()
    except NetnsError as exc:
        pytest.skip(f"'ip netns' is unavailable: {exc}")
    try:
        yield ns, ns.add_veth()
    finally:
        context.__exit__(None, None, None)
