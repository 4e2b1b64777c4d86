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

Size: a step is 14 instructions for IPv6 and 7 for IPv4 (libpcap's loop body is about 28).
The shapes that make it so (``_step``, ``_dispatch``): one multiplicative-hash test (``mul``;
``jset``) picks out the five headers IPv6 skips where one ``jeq`` each would take five; the two
ways of skipping share everything but their scaling of the length byte; and the offset is kept
biased by 8, so that AH's ``4 * (len + 2)`` costs one ``mul``. Unqualified ``protochain`` is one
walk that both families enter (``either``), not two.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .. import cfg, names, nodes
from ..cfg import Const, Pred, Value
from . import link
from .context import Context
from .link import ETHERTYPE_IP, ETHERTYPE_IPV6

#: Extension headers walked before giving up (see the module docstring).
MAX_HEADERS = 8

#: After the first step the offset variable holds the header's offset minus this (``_step``).
BIAS = 8

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
    if proto is None:
        return either(ctx, number)
    return chain(ctx, number, proto)


def _variables(ctx: Context) -> _Walk:
    """One set of variables for every walk in the filter: each walk sets them before reading
    them, so several protochains need only one scratch slot."""
    return _Walk(*(ctx.builder.shared_var(f"protochain {name}") for name in _Walk.__slots__))


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
    walk = _variables(ctx)

    def make(b: cfg.Builder, if_true: cfg.Node, if_false: cfg.Node) -> cfg.Node:
        node: cfg.Node | None = None  # the step after the current one, built last-first
        for step in range(MAX_HEADERS, -1, -1):
            proto, off, bias = (first, offset, 0) if step == 0 else (walk.proto, walk.offset, BIAS)
            node = _step(b, nl, number, proto, off, bias, skippable, node, if_true, if_false,
                         walk)
        assert node is not None
        return node

    return cfg.all_of(guard, cfg.Graph(make, label=f"{family} protochain {number}"))


def either(ctx: Context, number: int) -> Pred:
    """Unqualified ``protochain N``: libpcap's ``ip protochain N or ip6 protochain N``, as one
    walk that both families enter.

    The two walks differ only in what an option header means (IPv6 skips it, IPv4 gives up), so
    a step asks "IPv6?" on its option path only: two instructions a step where a second walk
    costs eight. Only IPv4 and IPv6 packets enter the walk, so the question is the link
    layer's IPv6 test again, or its IPv4 test negated, where that is one load and one jump
    (Ethernet's ``ldh [12]``; ``jeq #0x86dd``; LOOP's ``ld [0]``; ``jeq #2``). Otherwise it is a
    variable, ``ld M[n]`` and a jump: the value the IPv4 test computes, stored before it (RAW's
    ``[0] & 0xf0``), or else 4 or 6, set by each entry. An IPv4 walk that does not match goes
    straight to false, where libpcap goes on to test the link layer for IPv6: the two tests read
    the same link-layer field for different values, so no packet passes both.
    """
    guards = {family: link.network_protocol(ctx, ETHERTYPE_IP if family == "ip"
                                            else ETHERTYPE_IPV6) for family in ("ip", "ip6")}
    if cfg.FALSE in guards.values():  # a link type with one family (DLT_IPV4, DLT_IPV6)
        return cfg.any_of(chain(ctx, number, "ip"), chain(ctx, number, "ip6"))
    nl = ctx.network_offset()
    walk = _variables(ctx)
    ip4, ip6 = guards["ip"], guards["ip6"]
    family: cfg.Var | None = None
    field: Value | None = None  # what ``family`` holds: the link layer's field, or 4 or 6
    ipv6: Pred
    if _packet_test(ip6):
        ipv6 = ip6
    elif _packet_test(ip4):
        ipv6 = cfg.Not(ip4)  # only IPv4 and IPv6 enter the walk
    elif isinstance(ip4, cfg.Test) and isinstance(ip4.operand, Const):
        family = ctx.builder.shared_var("protochain family")
        field = ip4.value  # RAW's ``[0] & 0xf0``, stored as the IPv4 test computes it
        ipv6 = cfg.Not(cfg.Test(family, ip4.op, ip4.operand))
    else:
        family = ctx.builder.shared_var("protochain family")
        ipv6 = cfg.Test(family, "==", Const(6))

    def make(b: cfg.Builder, if_true: cfg.Node, if_false: cfg.Node) -> cfg.Node:
        node: cfg.Node | None = None
        for step in range(MAX_HEADERS, -1, -1):
            node = _step(b, nl, number, walk.proto, walk.offset, BIAS if step else 0,
                         IPV6_OPTION_HEADERS, node, if_true, if_false, walk, ipv6)
        assert node is not None

        def enter(version: int, first: Value, offset: Value) -> cfg.Node:
            assert node is not None
            entry = b.assign(walk.proto.id, first, b.assign(walk.offset.id, offset, node))
            if family is None or field is not None:
                return entry
            return b.assign(family.id, Const(version), entry)

        v6 = cfg.build(b, ip6, enter(6, cfg.load(cfg.add(nl, 6), 1), Const(40)), if_false)
        root = cfg.build(b, ip4, enter(4, cfg.load(cfg.add(nl, 9), 1), cfg.HeaderLen(nl)), v6)
        if family is not None and field is not None:
            # The IPv4 test computes the field first on every path: storing it faults on no
            # more packets.
            root = b.assign(family.id, field, root)
        return root

    return cfg.Graph(make, label=f"protochain {number}")


def _packet_test(pred: Pred) -> bool:
    """Whether ``pred`` is one jump on one packet load: cheap to ask again."""
    return (isinstance(pred, cfg.Test) and isinstance(pred.value, cfg.Load)
            and isinstance(pred.operand, Const) and not cfg.variables(pred.value))


@dataclass(frozen=True, slots=True)
class _Walk:
    """The walk's variables: the current header's protocol (libpcap's A) and offset from the
    network header (libpcap's X), and two temporaries for the next offset (see ``_step``)."""

    proto: cfg.Var
    offset: cfg.Var
    scaled: cfg.Var
    next: cfg.Var


def _step(b: cfg.Builder, nl: Value, number: int, proto: Value, off: Value, bias: int,
          skippable: tuple[int, ...], after: cfg.Node | None, if_true: cfg.Node,
          if_false: cfg.Node, walk: _Walk, ipv6: Pred | None = None) -> cfg.Node:
    """One header of the chain: match, skip it into ``after``, or give up.

    The header starts ``off + bias`` bytes into the network header. From the second step on,
    the offset variable holds the offset minus ``BIAS`` (8), and loads add it back in their
    ``[x + k]``: an AH's next offset, ``4 * (len + 2)``, is then just ``4 * len``, and an option
    header's (``off + bias + 8 * (len + 1)``) is ``8 * len + off + bias``. Never negative, so
    ``[x + k]`` reads the same byte in libpcap (which does not wrap ``x + k``) as in the kernel.

    The two ways to skip differ only in that arithmetic, so each path computes its own into
    ``walk.scaled`` and the rest is one shared tail: copy it to ``walk.next`` (the one ``st``),
    read the next protocol at the current offset, and only then move the offset. In that order
    the emitter keeps the protocol in A and the offset in X across the tail, with one scratch
    slot for the new offset while the protocol is loaded through the old one (``st``;
    ``ldb [x + 22]``; ``ldx``), and ``scaled`` stays in A.

    Both length bytes are loaded on every path that skips a header, as in libpcap's loop, so a
    chain cut short inside a header is rejected on the same packets.

    ``ipv6``, for the walk both families share: skip option headers only where it holds.

    (libpcap also tests for IPPROTO_NONE, 59, before the others; that test cannot change the
    outcome, since 59 is neither N nor a header it skips, so it is left out.)
    """
    otherwise = if_false
    if after is not None:
        tail = b.assign(walk.next.id, cfg.add(walk.scaled, 8 - BIAS),
                        b.assign(walk.proto.id, _byte(nl, off, bias),
                                 b.assign(walk.offset.id, walk.next, after)))
        length = _byte(nl, off, bias + 1)
        ah = b.assign(walk.scaled.id, cfg.Alu("*", length, Const(4)), tail)
        option = b.assign(walk.scaled.id,
                          cfg.add(cfg.add(cfg.Alu("*", length, Const(8)), off), bias), tail)
        if ipv6 is not None:
            option = cfg.build(b, ipv6, option, if_false)
        options = tuple(h for h in skippable if h != number)
        otherwise = _dispatch(b, proto, options, option, IPPROTO_AH != number, ah, if_false,
                              frozenset({number}))
    return b.branch(_is(proto, number), if_true, otherwise)


def _dispatch(b: cfg.Builder, proto: Value, options: tuple[int, ...], option: cfg.Node,
              skips_ah: bool, ah: cfg.Node, otherwise: cfg.Node,
              dont_care: frozenset[int]) -> cfg.Node:
    """Send ``proto`` to ``option`` when it is one of ``options``, to ``ah`` when it is AH (if
    ``skips_ah``), else to ``otherwise``; values in ``dont_care`` never get here.

    One ``jeq`` per header is five jumps for IPv6. A multiplicative hash does it in three: for
    the multiplier and mask of ``_hash``, ``proto * c & m`` is zero exactly for the headers it
    skips (``mul``; ``jset``), and one ``jeq`` on the product tells AH from the others. The
    protocol is not needed after the dispatch (each skip path loads what it needs), so
    overwriting it in A costs nothing.
    """
    members = options + ((IPPROTO_AH,) if skips_ah else ())
    jumps = len(members)
    distinct = IPPROTO_AH if skips_ah and options else None
    # Without don't-cares first: then every ``protochain N`` with N outside the set shares one
    # (cached) search.
    hashed = (_hash(frozenset(members), frozenset(), distinct)
              or _hash(frozenset(members), dont_care, distinct))
    if hashed is not None and 2 + (skips_ah and bool(options)) < jumps:
        multiplier, mask = hashed
        product = cfg.Alu("*", proto, Const(multiplier))
        inside = option if not skips_ah else ah if not options else b.branch(
            _is(product, IPPROTO_AH * multiplier), ah, option)
        return b.branch(cfg.Test(product, "&", Const(mask)), otherwise, inside)
    node = b.branch(_is(proto, IPPROTO_AH), ah, otherwise) if skips_ah else otherwise
    for header in reversed(options):
        node = b.branch(_is(proto, header), option, node)
    return node


#: How far ``_hash`` looks for a multiplier: every set ``_dispatch`` asks for has one below
#: 14000 (IPv6's five skipped headers with AH told apart: 13503), found in a few milliseconds.
HASH_SEARCH = 1 << 15


@functools.cache
def _hash(members: frozenset[int], dont_care: frozenset[int],
          distinct: int | None) -> tuple[int, int] | None:
    """A multiplier ``c`` and a mask ``m`` such that, for every byte ``x`` not in
    ``dont_care``, ``(x * c) & m`` (32-bit) is zero exactly when ``x`` is in ``members``; and
    ``distinct * c`` differs from every other member's product. None if there is none small.

    ``m`` is everything the members' products leave clear, so the members pass by construction
    and the search only checks that every other byte sets one of those bits.
    """
    others = [x for x in range(256) if x not in members and x not in dont_care]
    for c in range(1, HASH_SEARCH):
        products = {x: x * c & 0xFFFFFFFF for x in members}
        used = 0
        for p in products.values():
            used |= p
        mask = ~used & 0xFFFFFFFF
        if distinct is not None and list(products.values()).count(products[distinct]) > 1:
            continue
        if all(x * c & mask for x in others):
            return c, mask
    return None


def _is(value: Value, k: int) -> cfg.Test:
    return cfg.Test(value, "==", Const(k & 0xFFFFFFFF))


def _byte(nl: Value, off: Value, k: int) -> Value:
    """The byte ``k`` bytes into the header at ``off`` from the network header ``nl``."""
    variable, constant = cfg.split_offset(nl)
    base = off if variable is None else cfg.Alu("+", variable, off)
    return cfg.load(cfg.add(base, constant + k), 1)
