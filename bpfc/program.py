"""``Program``: a checked, immutable classic BPF program and everything one does with it.

Every ``Program`` has passed ``isa.check`` (the kernel's rules), whether it came from the compiler,
from a dump read back, or from raw ``struct sock_filter`` bytes, so anything holding one can attach
it to a socket or run it without further checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from . import isa
from .isa import Insn
from .linktypes import LinkType

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .kernel import SockFprog

DumpFormat = Literal["d", "dd", "ddd", "asm"]


@dataclass(frozen=True, slots=True)
class Program:
    """A checked program. ``linktype``/``snaplen``/``source`` say what it was compiled from, when
    it was compiled (a program read from a dump has none)."""

    insns: tuple[Insn, ...]
    linktype: LinkType | None = None
    snaplen: int | None = None
    source: str | None = None
    _match: Callable[[bytes, int], int] | None = field(default=None, repr=False, compare=False)

    def __init__(self, insns: Sequence[Insn] | Sequence[tuple[int, int, int, int]],
                 linktype: LinkType | None = None, snaplen: int | None = None,
                 source: str | None = None) -> None:
        checked = tuple(Insn(*i) for i in insns)
        isa.check(checked)
        object.__setattr__(self, "insns", checked)
        object.__setattr__(self, "linktype", linktype)
        object.__setattr__(self, "snaplen", snaplen)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_match", None)

    # -- construction from text and bytes ---------------------------------------------------------

    @classmethod
    def from_dump(cls, text: str) -> Program:
        """Read tcpdump's ``-d``, ``-dd`` or ``-ddd`` output (detected) back into a program."""
        from . import dump

        return cls(dump.parse_dump(text))

    @classmethod
    def from_asm(cls, text: str) -> Program:
        """Assemble the label-based syntax (in the spirit of Linux ``bpf_asm``)."""
        from . import dump

        return cls(dump.assemble(text))

    @classmethod
    def from_bytes(cls, data: bytes) -> Program:
        """From an array of ``struct sock_filter`` in host byte order."""
        return cls(isa.unpack(data))

    # -- views ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.insns)

    def __iter__(self) -> Iterator[Insn]:
        return iter(self.insns)

    def __getitem__(self, index: int) -> Insn:
        return self.insns[index]

    def __bytes__(self) -> bytes:
        return isa.pack(self.insns)

    def __str__(self) -> str:
        return self.dump("d")

    def dump(self, fmt: DumpFormat = "d") -> str:
        """tcpdump's ``-d`` / ``-dd`` / ``-ddd`` text (byte-identical), or the assembler syntax."""
        from . import dump

        match fmt:
            case "d":
                return dump.format_d(self.insns)
            case "dd":
                return dump.format_dd(self.insns)
            case "ddd":
                return dump.format_ddd(self.insns)
            case "asm":
                return dump.format_asm(self.insns)
        raise ValueError(f"unknown dump format {fmt!r} (d, dd, ddd or asm)")

    def sock_fprog(self) -> SockFprog:
        """A ``struct sock_fprog`` for ``setsockopt``; keeps its instruction array alive."""
        import ctypes

        from .kernel import SockFilter, SockFprog

        array = (SockFilter * len(self.insns))(*(SockFilter(*i) for i in self.insns))
        fprog = SockFprog(len(self.insns), ctypes.cast(array, ctypes.POINTER(SockFilter)))
        fprog._array = array  # keeps the pointer's target alive as long as the struct
        return fprog

    # -- running ----------------------------------------------------------------------------

    def match(self, packet: bytes, wirelen: int | None = None) -> int:
        """The filter's return value for ``packet`` (0: rejected), with libpcap's semantics.

        ``wirelen`` is the original length (``len``); it defaults to ``len(packet)``. Runs the
        program compiled to Python once (``jit``), cached per program.
        """
        fn = self._match
        if fn is None:
            from . import jit

            fn = jit.compile_filter(self.insns)
            object.__setattr__(self, "_match", fn)
        return fn(packet, len(packet) if wirelen is None else wirelen)

    def match_many(self, packets: Iterable[bytes],
                   wirelens: Iterable[int] | None = None) -> npt.NDArray[np.uint32]:
        """``match`` for many packets at once, through the numpy batch engine: an array of the
        filter's return values (0: rejected), one per packet. ``wirelens`` default to the
        packets' lengths."""
        from . import vector

        return vector.run(self.insns, vector.pack(packets, wirelens))

    def run(self, packet: bytes, wirelen: int | None = None) -> int:
        """Same as ``match`` through the reference interpreter (slow; for cross-checking)."""
        from . import vm

        return vm.run(self.insns, packet, wirelen)
