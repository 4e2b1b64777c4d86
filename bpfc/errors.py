"""The error hierarchy: one root, a few leaves, each rendered like a compiler diagnostic.

Every user-facing failure is a ``BpfcError``; the CLI prints ``bpfc: error: <message>`` (plus any
source context) and exits with ``exit_status``. Internal invariant failures stay assertions.
"""

from __future__ import annotations


class BpfcError(Exception):
    """Root of every error a user can cause; ``render()`` is what the CLI prints."""

    exit_status = 1

    def render(self) -> str:
        return f"bpfc: error: {self}"


class FilterSyntaxError(BpfcError):
    """The expression does not parse; carries the source text and a 0-based column for a caret."""

    def __init__(self, message: str, source: str = "", column: int | None = None,
                 width: int = 1) -> None:
        super().__init__(message)
        self.source = source
        self.column = column
        self.width = max(1, width)

    def render(self) -> str:
        text = f"bpfc: error: {self}"
        if self.source and self.column is not None:
            caret = " " * self.column + "^" + "~" * (self.width - 1)
            text += f"\n  {self.source}\n  {caret}"
        return text


class FilterSemanticError(FilterSyntaxError):
    """The expression parses but cannot be compiled: unknown name, value out of range,
    a primitive the link type cannot express. Same rendering as a syntax error."""


class ProgramError(BpfcError):
    """A BPF program breaks a rule of the checker or cannot be assembled; names the instruction."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message if index is None else f"instruction {index}: {message}")
        self.index = index


class CaptureFileError(BpfcError):
    """A capture file is unreadable or damaged; ``offset`` is the byte offset of the damage."""

    def __init__(self, message: str, offset: int | None = None, path: str | None = None) -> None:
        where = ""
        if path is not None:
            where += f"{path}: "
        if offset is not None:
            where += f"at byte offset {offset}: "
        super().__init__(where + message)
        self.offset = offset
        self.path = path


class WritingTo:
    """``with WritingTo(name):`` around writes to an output: a failed write (a full disk, an
    I/O error, a file that takes no writes at an offset) becomes a ``CaptureFileError`` naming
    the output, after what was written before it. A closed pipe stays ``BrokenPipeError``: the
    reader has gone, as ``bpfc -r big.pcap -w - | head`` expects it may."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, err: BaseException | None, trace: object) -> None:
        if isinstance(err, OSError) and not isinstance(err, BrokenPipeError):
            raise CaptureFileError(f"cannot write: {err.strerror or err}",
                                   path=self.name) from None


def output_name(path: str) -> str:
    """How messages name the ``-w`` output (``-`` is standard output)."""
    return "standard output" if path == "-" else path


class AttachError(BpfcError):
    """The kernel refused a socket operation (attach, detach, lock, ring setup)."""
