"""The pipeline, start to end: text → AST → predicate → CFG → optimized CFG → checked Program.

This function is the table of contents of bpfc; each line is one stage with one owner module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import cfg, linktypes, nodes
from .errors import FilterSemanticError
from .linktypes import LinkType
from .program import Program

DEFAULT_SNAPLEN = 262144


@dataclass(frozen=True, slots=True)
class Stages:
    """Every intermediate form of one compilation, for ``--dump-after``/``--dot``/explain."""

    source: str
    ast: nodes.Expr
    pred: cfg.Pred
    unoptimized: cfg.Node
    optimized: cfg.Node
    program: Program


def compile(expr: str, linktype: str | int | LinkType = "EN10MB", snaplen: int = DEFAULT_SNAPLEN,
            optimize: bool = True, netmask: int | str | None = None, *,
            live: bool = False) -> Program:
    """Compile a pcap-filter expression for a link type, as ``pcap_compile`` does.

    ``optimize=False`` is tcpdump's ``-O``. ``netmask`` (an int or dotted quad) is needed only
    by ``ip broadcast``. ``live=True`` compiles for a live Linux socket, as libpcap does on an
    activated handle (VLAN tags and packet direction come from ancillary loads, because the
    kernel strips the tag before the filter runs). Raises ``FilterSyntaxError`` /
    ``FilterSemanticError`` for bad filters.
    """
    return compile_stages(expr, linktype, snaplen, optimize, netmask, live=live).program


def compile_stages(expr: str, linktype: str | int | LinkType = "EN10MB",
                   snaplen: int = DEFAULT_SNAPLEN, optimize: bool = True,
                   netmask: int | str | None = None, *, byte_order: str | None = None,
                   live: bool = False,
                   after_pass: Callable[[str, cfg.Node], None] | None = None) -> Stages:
    """``compile``, keeping every stage's output."""
    from . import emit, syntax
    from . import optimize as optimizer
    from .lower import lower
    from .lower.context import Context

    link = linktypes.lookup(linktype)
    snaplen = _check_snaplen(snaplen)
    ast = syntax.parse(expr)
    builder = cfg.Builder()
    ctx = Context(link=link, builder=builder, snaplen=snaplen, netmask=_netmask(netmask),
                  source=expr, live=live)
    if byte_order is not None:
        ctx.byte_order = byte_order  # type: ignore[assignment]
    pred = lower(ast, ctx)
    root = cfg.build(builder, pred, builder.ret(snaplen), builder.ret(0))
    best = optimizer.optimize(root, builder, after_pass) if optimize else root
    if optimize and isinstance(best, cfg.Return) and best.k == 0 and not _has_protochain(ast):
        # libpcap's optimizer refuses such filters too, and a user is better told than given
        # a program that can never match. libpcap's protochain is a loop its optimizer cannot
        # see through, so libpcap compiles those (a program that rejects everything); we do too.
        raise FilterSemanticError(
            f"expression rejects all packets (it can never match on link type {link.name})",
            expr, 0, len(expr))
    insns = emit.emit(best, reuse_registers=optimize)
    program = Program(insns, link, snaplen, expr)
    return Stages(expr, ast, pred, root, best, program)


def _has_protochain(ast: nodes.Expr) -> bool:
    return any(isinstance(node, nodes.Match) and node.quals.kind == "protochain"
               for node in nodes.primitives(ast))


def _check_snaplen(snaplen: int) -> int:
    from .errors import BpfcError

    if not 0 < snaplen <= 0xFFFFFFFF:
        raise BpfcError(f"invalid snapshot length {snaplen} (1 to 4294967295)")
    return snaplen


def _netmask(netmask: int | str | None) -> int | None:
    """An IPv4 netmask as an int, from an int, a dotted quad, or a prefix length ``/24``."""
    from .errors import BpfcError

    if netmask is None or isinstance(netmask, int):
        return netmask
    text = netmask.strip()
    try:
        if text.startswith("/") or text.isdigit():
            bits = int(text.lstrip("/"))
            if not 0 <= bits <= 32:
                raise ValueError
            return (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
        import ipaddress

        return int(ipaddress.IPv4Address(text))
    except ValueError:
        raise BpfcError(f"invalid netmask '{netmask}' (a dotted quad such as 255.255.255.0, "
                        "or a prefix length such as 24)") from None
