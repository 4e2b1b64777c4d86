"""Compiled programs kept on disk between runs, for the commands whose job is not compiling.

Stage: (expression, link type, snapshot, options) → ``Program``, skipping the compiler when an
earlier run compiled the same filter with the same bpfc. ``bpfc -r big.pcap 'tcp port 80'``
spends ~45 ms importing and running the compiler (lark, the AST and IR dataclasses) for a
program it could have read back in well under a millisecond; tcpdump does the whole 1M-packet
job in ~150 ms, so for offline filtering and live capture those milliseconds count. ``bpfc -d``
and the API always compile: there the compile *is* the job.

What makes an entry valid: its key covers the expression, every compile option, bpfc's own
sources (path, size and mtime of each module and the grammar: editing bpfc invalidates
everything) and the name databases the compiler may read (``/etc/services``, ``protocols``,
``networks``, ``ethers``, ``hosts``). A filter that names a host is never stored, since DNS can
answer differently tomorrow with no file changing. An entry is a ``struct sock_filter`` array
behind a magic, the entry's whole key and a count, never a pickle, and ``Program`` checks it
again on load; anything unexpected (a short file, another key, a directory we do not own or
that others can write) just means compiling.
``BPFC_NO_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Final

from . import isa, linktypes
from .errors import ProgramError
from .linktypes import LinkType
from .program import Program

if TYPE_CHECKING:
    from . import nodes

MAGIC: Final = b"BPFCPRG1"
HEADER: Final = struct.Struct("<8sII")  # magic, key length, instruction count
#: Entries kept; when a write finds more, the older half goes (a cache, not an archive).
MAX_ENTRIES: Final = 512
NAME_DATABASES: Final = ("/etc/services", "/etc/protocols", "/etc/networks", "/etc/ethers",
                         "/etc/hosts", "/etc/nsswitch.conf")


def lookup(expr: str, linktype: str | int | LinkType, snaplen: int, optimize: bool = True,
           netmask: int | str | None = None, *, live: bool = False) -> Program | None:
    """The cached program for this exact filter, or None (nothing is compiled)."""
    link = linktypes.lookup(linktype)
    directory = _directory()
    if directory is None:
        return None
    key = _key(expr, link.dlt, snaplen, optimize, netmask, live)
    return _load(_path(directory, key), key, link, snaplen, expr)


def compile_cached(expr: str, linktype: str | int | LinkType, snaplen: int,
                   optimize: bool = True, netmask: int | str | None = None, *,
                   live: bool = False) -> Program:
    """``bpfc.compile(...)``, read from the cache when this exact filter was compiled before."""
    link = linktypes.lookup(linktype)
    directory = _directory()
    path = key = None
    if directory is not None:
        key = _key(expr, link.dlt, snaplen, optimize, netmask, live)
        path = _path(directory, key)
        found = _load(path, key, link, snaplen, expr)
        if found is not None:
            return found
    from .compiler import compile_stages

    stages = compile_stages(expr, link, snaplen, optimize, netmask, live=live)
    if path is not None and key is not None and not _names_hosts(stages.ast):
        _store(path, key, stages.program)
    return stages.program


def _path(directory: Path, key: bytes) -> Path:
    return directory / f"{zlib.crc32(key):08x}{zlib.adler32(key):08x}.bpf"


def _directory() -> Path | None:
    """The cache directory, created private on first use; None when it cannot be trusted."""
    if os.environ.get("BPFC_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = Path(base) / "bpfc" / "programs"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = directory.stat()
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return directory


def _key(expr: str, dlt: int, snaplen: int, optimize: bool, netmask: int | str | None,
         live: bool) -> bytes:
    """Everything the program depends on, spelled out: an entry holds its whole key and is
    used only when that matches byte for byte, so the file name's hash may collide."""
    parts = (expr, dlt, snaplen, optimize, netmask, live, _sources_stamp(),
             _files_stamp(NAME_DATABASES))
    return "\0".join(repr(part) for part in parts).encode()


def _sources_stamp() -> str:
    """Path, size and mtime of every module of bpfc and of the grammar it loads."""
    package = Path(__file__).resolve().parent
    entries: list[str] = []
    pending = [package]
    while pending:
        with os.scandir(pending.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        pending.append(Path(entry.path))
                elif entry.name.endswith((".py", ".lark")):
                    st = entry.stat()
                    entries.append(f"{entry.path}:{st.st_size}:{st.st_mtime_ns}")
    grammar = package.parent / "grammar" / "pcap-filter.lark"
    entries.append(_files_stamp((str(grammar),)))
    return "\n".join(sorted(entries))


def _files_stamp(paths: tuple[str, ...]) -> str:
    parts = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            parts.append(f"{path}:-")
            continue
        parts.append(f"{path}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


def _load(path: Path, key: bytes, link: LinkType, snaplen: int, expr: str) -> Program | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < HEADER.size:
        return None
    magic, key_size, count = HEADER.unpack_from(data)
    body = data[HEADER.size + key_size:]
    if (magic != MAGIC or data[HEADER.size:HEADER.size + key_size] != key
            or len(body) != count * isa.SOCK_FILTER.size):
        return None
    try:
        return Program(isa.unpack(body), link, snaplen, expr)
    except ProgramError:
        return None


def _store(path: Path, key: bytes, program: Program) -> None:
    body = HEADER.pack(MAGIC, len(key), len(program.insns)) + key + isa.pack(program.insns)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def _prune(directory: Path) -> None:
    entries = [e for e in os.scandir(directory) if e.name.endswith(".bpf")]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for entry in entries[:len(entries) // 2]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def _names_hosts(ast: nodes.Expr) -> bool:
    """Whether the filter names a host (or a gateway) that the resolver must look up: such a
    program depends on DNS, which no file stamp covers."""
    from . import nodes

    return any(isinstance(node, nodes.Match) and isinstance(node.id, nodes.Name)
               and node.quals.kind in (None, "host", "gateway")
               and node.quals.proto not in ("ether", "link")
               for node in nodes.primitives(ast))
