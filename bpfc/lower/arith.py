"""Arithmetic and relations: ``proto[i:n]`` accessors, ``len``, ``+ - * / % & | ^ << >>``,
``= != < <= > >=``, ``less``/``greater`` and ``byte N op M``.

Stage: AST primitive → ``cfg.Pred`` (libpcap 1.10's gen_load, gen_arth, gen_neg,
gen_relation, gen_less/gen_greater, gen_byteop). An arithmetic expression lowers to an
``Operand``: its value and the *guards* libpcap attaches to it, the protocol tests that must
pass before any of its loads run. The guards decide what a filter returns on packets of another
protocol and on short packets, so they follow libpcap exactly, quirks included:

- ``ip[i]``, ``arp[i]``, ``ip6[i]`` ...: the index's guards, then "the link layer says so";
- ``tcp[i]``, ``udp[i]``, ``icmp[i]`` ...: "the link layer says IPv4", the index's guards, the
  bare protocol test (``tcp`` is IPv6-or-IPv4 TCP), then fragment offset 0; the header is
  found through the IPv4 header length even for IPv6 packets, as in libpcap;
- ``icmp6[i]``: the index's guards, IPv6, next header 58; the header is 40 bytes in;
- ``link[i]``/``ether[i]``: no guard;
- ``a op b`` keeps only ``a``'s guards: libpcap's gen_arth drops ``b``'s, so ``len + tcp[0]``
  loads ``tcp[0]`` from any packet;
- a relation runs the left side's guards, the right side's, then the comparison.

Constants are folded as libpcap's optimizer folds them, because tcpdump optimizes by default and
the folding changes results: ``x & 0``, ``x * 0``, ``0 * x``, ``0 & x``, ``0 / x``, ``0 % x``,
``0 << x``, ``0 >> x`` are 0 without computing ``x`` (so a load in ``x`` beyond the packet no
longer rejects it), and ``x + 0``, ``0 + x`` ... are ``x``. A division or modulus by a constant
0 is an error, and so is a constant shift by more than 31. libpcap 1.10 also refuses a divisor
or shift count whose *first instruction* loads such a constant (``len / ip[0]`` is "division by
zero" there, the ``0`` being the accessor's index); bpfc compiles those, as the text means.
Likewise ``byte N & M`` and ``byte N | M`` test the byte (libpcap forgets to load it).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import cfg, nodes
from ..cfg import FALSE, TRUE, Const, Not, PacketLen, Pred, Test, Value, all_of
from . import link, net, transport
from .context import Context

#: Accessors relative to the link-layer header (libpcap's Q_LINK: the lexer's names for it).
LINK_ACCESSORS = frozenset({"link", "ether", "fddi", "tr", "wlan"})

#: Accessors relative to the network header, and the EtherType that guards them.
NETWORK_ACCESSORS: dict[str, int] = {
    "ip": link.ETHERTYPE_IP, "ip6": link.ETHERTYPE_IPV6, "arp": link.ETHERTYPE_ARP,
    "rarp": link.ETHERTYPE_REVARP, "atalk": link.ETHERTYPE_ATALK, "decnet": link.ETHERTYPE_DN,
    "sca": link.ETHERTYPE_SCA, "lat": link.ETHERTYPE_LAT, "moprc": link.ETHERTYPE_MOPRC,
    "mopdl": link.ETHERTYPE_MOPDL,
}

#: Accessors relative to the transport header behind an IPv4 header.
TRANSPORT_ACCESSORS = frozenset({"tcp", "udp", "sctp", "icmp", "igmp", "igrp", "pim", "vrrp",
                                 "carp"})

_MASK = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Operand:
    """A lowered arithmetic expression: its value, and the tests that guard its loads."""

    value: Value
    guards: tuple[Pred, ...] = ()


# ---------------------------------------------------------------------------------------------
# primitives


def lower_relation(ctx: Context, rel: nodes.Relation) -> Pred:
    """``a relop b``: a's guards, b's guards, then the comparison (libpcap's gen_relation)."""
    left = lower_arith(ctx, rel.left)
    right = lower_arith(ctx, rel.right)
    test = compare(rel.op, left.value, right.value)
    if test == FALSE:
        return FALSE  # guards can only reject (or fault, which rejects too)
    return all_of(*left.guards, *right.guards, test)


def lower_length(ctx: Context, node: nodes.LengthCheck) -> Pred:
    """``less N`` is ``len <= N``, ``greater N`` is ``len >= N`` (wire length)."""
    if node.op == "less":
        return Not(Test(PacketLen(), ">", Const(node.value & _MASK)))
    return Test(PacketLen(), ">=", Const(node.value & _MASK))


def lower_byteop(ctx: Context, node: nodes.ByteOp) -> Pred:
    """``byte N op M``: the byte N into the link-layer header against M (gen_byteop).

    ``&`` and ``|`` mean ``(byte & M) != 0`` and ``(byte | M) != 0``. libpcap 1.10 forgets to
    load the byte for those two (it tests whatever the accumulator held, 0 at the start of
    the program), so there it is ``ether[N] & M != 0`` that means what ``byte N & M`` says.
    """
    byte = _load(cfg.add(_link_header(ctx), node.offset & _MASK), 1)
    k = Const(node.value & _MASK)
    match node.op:
        case "=":
            return Test(byte, "==", k)
        case "<":
            return Not(Test(byte, ">=", k))
        case ">":
            return Test(byte, ">", k)
        case "&":
            return Not(Test(cfg.Alu("&", byte, k), "==", Const(0)))
        case "|":
            return Not(Test(cfg.Alu("|", byte, k), "==", Const(0)))
    ctx.error(f"unknown operator '{node.op}' in 'byte'", node)


def compare(op: nodes.RelOp, a: Value, b: Value) -> Pred:
    """``a op b`` as a cBPF test; ``!=``, ``<``, ``<=`` are negations, as in libpcap. Two
    constants fold to TRUE or FALSE by the same test semantics the filter runs."""
    if isinstance(a, Const) and not isinstance(b, Const):  # keep the constant as the operand
        swapped: dict[nodes.RelOp, nodes.RelOp] = {
            "=": "=", "!=": "!=", ">": "<", "<": ">", ">=": "<=", "<=": ">="}
        a, b, op = b, a, swapped[op]
    match op:
        case "=":
            test, negated = Test(a, "==", b), False
        case "!=":
            test, negated = Test(a, "==", b), True
        case ">":
            test, negated = Test(a, ">", b), False
        case ">=":
            test, negated = Test(a, ">=", b), False
        case "<":
            test, negated = Test(a, ">=", b), True
        case "<=":
            test, negated = Test(a, ">", b), True
    if isinstance(a, Const) and isinstance(b, Const):
        return TRUE if cfg.holds(test.op, a.k, b.k) != negated else FALSE
    return Not(test) if negated else test


# ---------------------------------------------------------------------------------------------
# arithmetic


def lower_arith(ctx: Context, expr: nodes.Arith) -> Operand:
    """The value of an arithmetic expression and the guards libpcap puts before it."""
    match expr:
        case nodes.Const(value=v):
            return Operand(Const(v & _MASK))
        case nodes.PacketLength():
            return Operand(PacketLen())
        case nodes.Negate(operand=inner):
            operand = lower_arith(ctx, inner)
            value = operand.value
            folded = Const(-value.k & _MASK) if isinstance(value, Const) else cfg.Neg(value)
            return Operand(folded, operand.guards)
        case nodes.BinOp(op=op, left=left, right=right):
            a = lower_arith(ctx, left)
            b = lower_arith(ctx, right)
            return Operand(fold(ctx, expr, op, a.value, b.value), a.guards)
        case nodes.Accessor():
            return _accessor(ctx, expr)


def fold(ctx: Context, node: nodes.BinOp, op: cfg.AluOp, a: Value, b: Value) -> Value:
    """``a op b`` with libpcap's compile-time checks and its optimizer's constant folding."""
    if isinstance(b, Const):
        if op in ("<<", ">>") and b.k > 31:
            ctx.error("shift by more than 31 bits", node.right)
        if b.k == 0:
            if op == "/":
                ctx.error("division by zero", node.right)
            if op == "%":
                ctx.error("modulus by zero", node.right)
            if op in ("*", "&"):
                return Const(0)
            return a
        if isinstance(a, Const):
            return Const(cfg.alu(op, a.k, b.k))
    if isinstance(a, Const) and a.k == 0:
        if op in ("+", "|", "^"):
            return b
        if op != "-":
            return Const(0)
    return cfg.Alu(op, a, b)


def _accessor(ctx: Context, acc: nodes.Accessor) -> Operand:
    """``proto[index:size]``: where the header is, and what must hold before loading it."""
    index = lower_arith(ctx, acc.index)
    if acc.size not in (1, 2, 4):
        ctx.error("data size must be 1, 2, or 4", acc)
    proto = acc.proto
    if proto in LINK_ACCESSORS:
        return Operand(_load(_at(_link_header(ctx), index.value), acc.size), index.guards)
    if proto in NETWORK_ACCESSORS:
        value = _load(_at(ctx.network_offset(), index.value), acc.size)
        guard = link.network_protocol(ctx, NETWORK_ACCESSORS[proto])
        return Operand(value, (*index.guards, guard))
    if proto in TRANSPORT_ACCESSORS:
        value = _load(_at(net.ipv4_transport_offset(ctx), index.value), acc.size)
        guards = (link.network_protocol(ctx, link.ETHERTYPE_IP), *index.guards,
                  transport.lower_proto_abbrev(ctx, proto), net.ipv4_not_fragment(ctx))
        return Operand(value, guards)
    if proto == "icmp6":
        nl = ctx.network_offset()
        value = _load(_at(cfg.add(nl, 40), index.value), acc.size)
        next_header = Test(cfg.load(cfg.add(nl, 6), 1), "==", Const(transport.IPPROTO_ICMPV6))
        return Operand(value, (*index.guards, link.network_protocol(ctx, link.ETHERTYPE_IPV6),
                               next_header))
    if proto == "radio":
        ctx.error("radio information not present in capture", acc)
    ctx.error(f"'{proto}[...]' is not supported: libpcap has no header offset for '{proto}'",
              acc)


def _link_header(ctx: Context) -> Value:
    """Start of the link-layer header now (libpcap's off_linkhdr: 0 but after tunnels)."""
    header = ctx.layout.linkhdr
    return Const(0) if header is None else header


def _at(base: Value, index: Value) -> Value:
    """``base + index`` in the shape libpcap's optimized code has, which decides faults.

    A constant index is folded into the load's constant (modulo 2**32, as libpcap's optimizer
    does: ``tcp[13]`` is ``ld [x + 27]``, ``ip[0xffffffff]`` is ``ld [13]``). A computed index
    stays whole in X, its own constant included, with the header's constant in the load:
    ``ip[len - 16]`` is ``X = len - 16; ld [x + 14]``. Moving ``-16`` into the load's constant
    would change the result, because ``bpf_filter`` checks ``x + k`` for unsigned overflow
    instead of wrapping it.
    """
    if isinstance(index, Const):
        return cfg.add(base, index)
    base_var, base_k = cfg.split_offset(base)
    var = index if base_var is None else cfg.Alu("+", index, base_var)
    return cfg.Alu("+", var, Const(base_k))


#: Where a constant offset that can be in no packet is loaded from instead (see ``_load``).
BEYOND_ANY_PACKET = 0x7FFFFFFF


def _load(offset: Value, size: int) -> cfg.Load:
    """A load; a constant offset of 2**31 or more becomes ``BEYOND_ANY_PACKET``.

    libpcap's ``bpf_filter`` faults on such an offset like on any other beyond the packet, but
    the kernel reads offsets from SKF_LL_OFF (0xffe00000) up as its link-layer, network-header
    and ancillary areas, and its checker refuses most of them; the substitute faults everywhere.
    """
    if isinstance(offset, Const) and offset.k >= 0x80000000:
        offset = Const(BEYOND_ANY_PACKET)
    return cfg.Load(offset, size)
