"""bpfc: a classic-BPF packet-filter compiler, engine and capture tool.

The public API is what this module exports; everything else is an implementation detail.

    >>> import bpfc
    >>> prog = bpfc.compile("tcp port 80", linktype="EN10MB")
    >>> print(prog.dump("d"))         # tcpdump -d, byte for byte
    >>> prog.match(packet_bytes)      # libpcap's return value: 0 rejects
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AttachError,
    BpfcError,
    CaptureFileError,
    FilterSemanticError,
    FilterSyntaxError,
    ProgramError,
)

if TYPE_CHECKING:
    from .compiler import compile
    from .isa import Insn
    from .offline import filter_file
    from .program import Program
    from .sockfilter import attach, detach, lock

#: Public name -> the module that defines it. Imported on first use, so that ``import bpfc``
#: (and a cold ``bpfc -d``) pays only for what it touches.
_LAZY = {
    "compile": "compiler",
    "Insn": "isa",
    "Program": "program",
    "filter_file": "offline",
    "attach": "sockfilter",
    "detach": "sockfilter",
    "lock": "sockfilter",
}

__all__ = [
    "AttachError",
    "BpfcError",
    "CaptureFileError",
    "FilterSemanticError",
    "FilterSyntaxError",
    "Insn",
    "Program",
    "ProgramError",
    "attach",
    "compile",
    "detach",
    "filter_file",
    "lock",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bpfc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
