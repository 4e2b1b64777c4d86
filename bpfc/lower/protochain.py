"""``[ip|ip6] protochain N``: follow the chain of IP extension headers looking for protocol N.

Stage: AST primitive → ``cfg.Pred`` (a ``cfg.Graph``). libpcap's gen_protochain walks the chain
with a *backward* jump, which its own ``bpf_filter`` runs but the Linux kernel refuses, and it
switches libpcap's optimizer off for the whole filter. Here the loop is unrolled: step *i*
looks at header *i* of the chain, and the steps share two variables, the current header's
protocol (libpcap's A) and its offset from the network header (libpcap's X), so the program
grows linearly with the bound and has forward jumps only.

What each step does, as libpcap does it:

- the protocol is N: match;
- IPv6 only: hop-by-hop (0), destination options (60), routing (43) or fragment (44): the next
  protocol is the header's first byte and the header is ``8 * (len + 1)`` bytes long, ``len``
  its second byte;
- AH (51): the next protocol is its first byte; the *new offset* is ``4 * (len + 2)`` measured
  from the network header, not from the AH header. That is libpcap 1.10's arithmetic (it drops
  the AH's own offset); we keep it so that verdicts agree with tcpdump, which only matters when
  another extension header follows an AH;
- anything else (including no-next-header, 59): no match.

The walk is bounded: after ``MAX_HEADERS`` extension headers, the primitive is false unless
header ``MAX_HEADERS`` itself is protocol N. libpcap has no bound (it stops when a load leaves
the packet, and loops forever on an AH that points back at itself); real chains are shorter
than the bound (RFC 8200's recommended order has six extension headers before the upper layer).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import cfg, names, nodes
from ..cfg import Const, Pred, Value
from . import link
from .context import Context
from .link import ETHERTYPE_IP, ETHERTYPE_IPV6

#: Extension headers walked before giving up (see the module docstring).
MAX_HEADERS = 8

IPPROTO_HOPOPTS = 0
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_AH = 51
IPPROTO_DSTOPTS = 60

#: Extension headers with the generic ``(len + 1) * 8`` layout, in libpcap's test order.
IPV6_OPTION_HEADERS = (IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT)


def lower_protochain(ctx: Context, m: nodes.Match) -> Pred:
    """``[ip|ip6] protochain N``: either family when unqualified, IPv4 first as libpcap."""
    proto = m.quals.proto
    if proto not in (None, "ip", "ip6"):
        ctx.error("bad protocol applied for 'protochain'", m)
    if m.quals.dir is not None:
        ctx.error("direction applied to 'protochain'", m)
    match m.id:
        case nodes.Number(value=value):
            number = value
        case nodes.Name(text=text):
            try:
                number = names.ip_protocol_number(text)
            except names.NameLookupError as e:
                ctx.error(str(e), m.id)
        case nodes.IPv4():
            ctx.error("'protochain' modifier applied to ip host", m.id)
        case _:
            ctx.error("a protocol number or name is needed after 'protochain'", m.id)
    families = ("ip", "ip6") if proto is None else (proto,)
    return cfg.any_of(*(chain(ctx, number, family) for family in families))


def chain(ctx: Context, number: int, family: str) -> Pred:
    """The link layer says ``family``, and walking its header chain reaches ``number``."""
    nl = ctx.network_offset()
    if family == "ip":
        guard = link.network_protocol(ctx, ETHERTYPE_IP)
        first: Value = cfg.load(cfg.add(nl, 9), 1)
        offset: Value = cfg.HeaderLen(nl)
        skippable: tuple[int, ...] = ()
    else:
        guard = link.network_protocol(ctx, ETHERTYPE_IPV6)
        first = cfg.load(cfg.add(nl, 6), 1)
        offset = Const(40)
        skippable = IPV6_OPTION_HEADERS
    proto_var = ctx.builder.new_var()
    offset_var = ctx.builder.new_var()
    next_var = ctx.builder.new_var()
    names = _Walk(proto_var, offset_var, next_var)

    def make(b: cfg.Builder, if_true: cfg.Node, if_false: cfg.Node) -> cfg.Node:
        node: cfg.Node | None = None  # the step after the current one, built last-first
        for step in range(MAX_HEADERS, -1, -1):
            proto, off = (first, offset) if step == 0 else (proto_var, offset_var)
            node = _step(b, nl, number, proto, off, skippable, node, if_true, if_false, names)
        assert node is not None
        return node

    return cfg.all_of(guard, cfg.Graph(make, label=f"{family} protochain {number}"))


@dataclass(frozen=True, slots=True)
class _Walk:
    """The walk's variables: the current header's protocol (libpcap's A) and offset from the
    network header (libpcap's X), and the next offset while the next protocol is read."""

    proto: cfg.Var
    offset: cfg.Var
    next: cfg.Var


def _step(b: cfg.Builder, nl: Value, number: int, proto: Value, off: Value,
          skippable: tuple[int, ...], after: cfg.Node | None, if_true: cfg.Node,
          if_false: cfg.Node, walk: _Walk) -> cfg.Node:
    """One header of the chain: match, skip it into ``after``, or give up.

    Skipping computes the next header's offset first (into ``walk.next``), then reads the next
    protocol at the current offset and moves the offset: that tail is the same for AH and the
    IPv6 option headers, so it is one shared subgraph, and the emitter keeps the protocol in A
    and the offset in X across it.

    (libpcap also tests for IPPROTO_NONE, 59, before the others; that test cannot change the
    outcome, since 59 is neither N nor a header it skips, so it is left out.)
    """
    otherwise = if_false
    if after is not None:
        moved = b.assign(walk.proto.id, _byte(nl, off, 0),
                         b.assign(walk.offset.id, walk.next, after))

        def advance(new_offset: Value) -> cfg.Node:
            return b.assign(walk.next.id, new_offset, moved)

        ah_length = cfg.Alu("*", cfg.add(_byte(nl, off, 1), 2), Const(4))
        otherwise = b.branch(_is(proto, IPPROTO_AH), advance(ah_length), if_false)
        if skippable:
            option_length = cfg.Alu("*", cfg.add(_byte(nl, off, 1), 1), Const(8))
            skip = advance(cfg.add(option_length, off))
            for header in reversed(skippable):
                otherwise = b.branch(_is(proto, header), skip, otherwise)
    return b.branch(_is(proto, number), if_true, otherwise)


def _is(value: Value, k: int) -> cfg.Test:
    return cfg.Test(value, "==", Const(k & 0xFFFFFFFF))


def _byte(nl: Value, off: Value, k: int) -> Value:
    """The byte ``k`` bytes into the header at ``off`` from the network header ``nl``."""
    variable, constant = cfg.split_offset(nl)
    base = off if variable is None else cfg.Alu("+", variable, off)
    return cfg.load(cfg.add(base, constant + k), 1)
