"""What the fast pcapng paths need to know of a file before walking it, read without numpy.

Stage: the first step of ``ngpath`` (the numpy walk, ``ngscan``, and the native one). Input: a
pcapng file's path; output: its ``NgLayout`` (byte order, its one interface, the offset of the
first block after the section header and the interface description, the longest block the stream
reader takes), or ``Unusual`` when the file is not the usual kind: more than one interface, a
timestamp offset, a resolution other than microseconds or nanoseconds. The stream path reads
every file, those included.
"""

from __future__ import annotations

from dataclasses import dataclass

from .pcapfile import ByteOrder, Interface, open_capture


class Unusual(Exception):
    """This file is not one a fast pcapng path takes (the stream path will)."""


@dataclass(frozen=True, slots=True)
class NgLayout:
    """A usual pcapng file: one section, one interface (microsecond or nanosecond
    timestamps, no offset); its blocks from byte ``first`` on are to be walked."""

    order: ByteOrder
    interface: Interface
    first: int
    max_block: int


def read_layout(path: str) -> NgLayout:
    """The layout of the pcapng file at ``path``; ``Unusual`` if it is not the usual kind
    (``CaptureFileError``, ``OSError``: the reader's own complaint)."""
    with open_capture(path, use_mmap=False) as reader:
        if reader.format != "pcapng" or len(reader.interfaces) != 1:
            raise Unusual("not a one-interface pcapng file")
        interface = reader.interfaces[0]
        first = reader.next_offset
        max_block = reader.max_block
        order = reader.byteorder
    if interface.tsoffset or interface.ts_units not in (1_000_000, 1_000_000_000):
        raise Unusual("a timestamp offset or an unusual resolution")
    return NgLayout(order, interface, first, max_block)
