"""bpfc: a classic-BPF packet-filter compiler, engine and capture tool.

The public API is what this module exports; everything else is an implementation detail.

    >>> import bpfc
    >>> prog = bpfc.compile("tcp port 80", linktype="EN10MB")
    >>> print(prog.dump("d"))         # tcpdump -d, byte for byte
    >>> prog.match(packet_bytes)      # libpcap's return value: 0 rejects
"""

from __future__ import annotations

from .compiler import compile
from .errors import (
    AttachError,
    BpfcError,
    CaptureFileError,
    FilterSemanticError,
    FilterSyntaxError,
    ProgramError,
)
from .isa import Insn
from .program import Program
from .sockfilter import attach, detach, lock

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
    "lock",
]

__version__ = "0.1.0"
