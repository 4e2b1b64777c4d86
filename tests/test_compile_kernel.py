"""Random filter expressions: every program bpfc emits passes the checker and the Linux kernel.

``expressions()`` draws from the filter grammar: primitives of every family (protocol names,
host/net/port/portrange with all qualifier combinations, ether addresses, proto/protochain,
broadcast/multicast, less/greater, relations over arithmetic on accessors, llc, the
encapsulations that shift offsets) composed with and/or/not and parentheses, plus libpcap's
implicit qualifier reuse (``host a or b``). A drawn expression may be meaningless for its link
type; then bpfc must refuse it, as libpcap does.

Two properties:
- whatever bpfc compiles passes ``isa.check`` and is attached by the kernel (SO_ATTACH_FILTER on
  an AF_UNIX datagram socket, bpfc.kernel.kernel_accepts);
- bpfc and libpcap 1.10.3 agree on compiling or refusing, and on every verdict over a sample of
  the link type's packets.
"""

from __future__ import annotations

import functools
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc import isa
from tests.diffkit import DLTS, Packet, bpfc_compile, diff, require_bpfc
from tests.packets import packets_for

V4 = ("10.0.0.1", "10.0.0.2", "192.168.1.1", "224.0.0.1", "255.255.255.255", "127.0.0.1")
V6 = ("2001:db8::1", "2001:db8::2", "fe80::1", "ff02::1", "::1")
NETS4 = ("10.0.0.0/8", "192.168.0.0/16", "224.0.0.0/4", "10.0.0.0/24",
         "172.16.0.0 mask 255.240.0.0",
         "10", "192.168.1")
NETS6 = ("2001:db8::/32", "fe80::/10", "ff00::/8", "::/0")
MACS = ("00:11:22:33:44:55", "66:77:88:99:aa:bb", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01")
PORTS = ("80", "53", "443", "22", "http", "domain", "4789", "6081", "0", "65535")
DIRS = ("", "src ", "dst ", "src or dst ", "src and dst ")
ABBREVS = ("ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6", "igmp", "igrp",
           "pim", "vrrp", "carp", "ah", "esp", "atalk", "aarp", "decnet", "iso", "stp", "ipx",
           "netbeui", "lat", "mopdl", "moprc", "sca", "llc", "isis", "clnp", "esis", "llc i",
           "llc s", "llc u", "llc ui", "llc rr", "broadcast", "multicast", "ip broadcast",
           "ip multicast", "ip6 multicast", "ether broadcast", "ether multicast", "inbound",
           "outbound", "pppoed")
ACCESSORS = ("ether", "link", "ip", "ip6", "tcp", "udp", "icmp", "icmp6", "arp", "igmp", "sctp")
ARITH_OPS = ("+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>")
REL_OPS = ("=", "==", "!=", "<", "<=", ">", ">=")


def _pick(values: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(values)


def _host() -> st.SearchStrategy[str]:
    v4 = st.builds(lambda p, d, a: f"{p}{d}host {a}", _pick(("", "ip ", "arp ", "rarp ")),
                   _pick(DIRS), _pick(V4))
    v6 = st.builds(lambda p, d, a: f"{p}{d}host {a}", _pick(("", "ip6 ")), _pick(DIRS), _pick(V6))
    return st.one_of(v4, v6)


def _net() -> st.SearchStrategy[str]:
    v4 = st.builds(lambda p, d, n: f"{p}{d}net {n}", _pick(("", "ip ", "arp ")), _pick(DIRS),
                   _pick(NETS4))
    v6 = st.builds(lambda p, d, n: f"{p}{d}net {n}", _pick(("", "ip6 ")), _pick(DIRS),
                   _pick(NETS6))
    return st.one_of(v4, v6)


def _port() -> st.SearchStrategy[str]:
    single = st.builds(lambda p, d, n: f"{p}{d}port {n}", _pick(("", "tcp ", "udp ", "sctp ")),
                       _pick(DIRS), _pick(PORTS))
    ranges = st.builds(lambda p, d, a, b: f"{p}{d}portrange {a}-{b}",
                       _pick(("", "tcp ", "udp ", "sctp ")), _pick(DIRS),
                       st.integers(0, 2000), st.integers(0, 65535))
    return st.one_of(single, ranges)


def _ether() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda d, m: f"ether {d}host {m}" if d else f"ether host {m}",
                  _pick(("", "src ", "dst ")), _pick(MACS)),
        st.builds(lambda d, m: f"ether {d}{m}", _pick(("src ", "dst ")), _pick(MACS)),
        st.builds(lambda t: f"ether proto {t}",
                  _pick(("0x0800", "0x86dd", "0x0806", "0x88cc", "\\ip", "\\arp", "\\ip6",
                         "1500"))))


def _proto() -> st.SearchStrategy[str]:
    return st.builds(lambda q, kind, n: f"{q}{kind} {n}", _pick(("", "ip ", "ip6 ")),
                     _pick(("proto", "protochain")),
                     _pick(("6", "17", "1", "58", "132", "47", "0", "44", "\\tcp", "\\udp")))


def _encap() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda v: f"vlan {v}".strip(), _pick(("", "100", "200", "0", "4095"))),
        st.builds(lambda v: f"mpls {v}".strip(), _pick(("", "100704", "16"))),
        st.builds(lambda v: f"pppoes {v}".strip(), _pick(("", "0x1234", "1"))),
        st.builds(lambda v: f"geneve {v}".strip(), _pick(("", "100", "0"))),
    )


def _arith(depth: int = 2) -> st.SearchStrategy[str]:
    leaf = st.one_of(
        st.integers(0, 300).map(str),
        st.sampled_from(("0xff", "0x1fff", "4294967295", "len", "tcp-syn", "tcp-ack",
                         "icmp-echo")),
        st.builds(lambda p, i, s: f"{p}[{i}{s}]", _pick(ACCESSORS), st.integers(0, 60),
                  _pick(("", ":1", ":2", ":4"))),
    )
    if depth == 0:
        return leaf
    sub = _arith(depth - 1)
    return st.one_of(
        leaf,
        st.builds(lambda a, op, b: f"({a} {op} {b})", sub, _pick(ARITH_OPS), sub),
        st.builds(lambda p, i, s: f"{p}[{i}{s}]", _pick(ACCESSORS), sub, _pick(("", ":2"))),
        sub.map(lambda a: f"-{a}"),
    )


def _relation() -> st.SearchStrategy[str]:
    return st.builds(lambda a, op, b: f"{a} {op} {b}", _arith(), _pick(REL_OPS), _arith(1))


def _primitive() -> st.SearchStrategy[str]:
    return st.one_of(
        _pick(ABBREVS), _host(), _net(), _port(), _ether(), _proto(), _encap(), _relation(),
        st.builds(lambda w, n: f"{w} {n}", _pick(("less", "greater")), st.integers(0, 1600)),
        # implicit qualifier reuse: the second id takes the first one's qualifiers
        st.builds(lambda first, conn, again: f"{first} {conn} {again}",
                  st.one_of(_host(), _port()), _pick(("or", "and", "and not")),
                  _pick(V4 + PORTS[:4])),
    )


def expressions() -> st.SearchStrategy[str]:
    """Expressions of the grammar, up to a few levels of and/or/not."""
    return st.recursive(
        _primitive(),
        lambda inner: st.one_of(
            st.builds(lambda a, c, b: f"({a}) {c} ({b})", inner,
                      _pick(("and", "or", "&&", "||")), inner),
            st.builds(lambda a, b: f"{a} and {b}", inner, inner),
            inner.map(lambda a: f"not ({a})"),
            inner.map(lambda a: f"!{a}" if " " not in a else f"not {a}"),
        ),
        max_leaves=6,
    )


@functools.cache
def _sample(dlt: str) -> tuple[Packet, ...]:
    """Every 8th packet of the link type's set: the whole set is too slow per example."""
    return packets_for(dlt)[::8]


def _kernel_accepts(insns: tuple[isa.Insn, ...]) -> bool:
    from bpfc.kernel import kernel_accepts

    return bool(kernel_accepts(insns))


needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="SO_ATTACH_FILTER is Linux's")


@needs_linux
@settings(max_examples=300)
@given(expr=expressions(), dlt=st.sampled_from(sorted(DLTS)))
def test_compiled_programs_pass_checker_and_kernel(expr: str, dlt: str) -> None:
    require_bpfc()
    from bpfc.errors import BpfcError

    program = bpfc_compile(expr, dlt)
    if isinstance(program, BpfcError):
        return
    insns = tuple(program.insns)
    isa.check(insns)
    assert _kernel_accepts(insns), f"the kernel refuses bpfc's program for {expr!r} on {dlt}"


@settings(max_examples=200)
@given(expr=expressions(), dlt=st.sampled_from(sorted(DLTS)))
def test_random_expressions_agree_with_libpcap(expr: str, dlt: str) -> None:
    require_bpfc()
    report = diff(expr, dlt, _sample(dlt))
    assert report.ok, str(report)


def test_strategy_reaches_programs_and_refusals() -> None:
    """The grammar strategy is not degenerate: over a fixed sample, libpcap compiles most
    expressions on Ethernet and refuses some (so both paths of the properties run)."""
    from tests.diffkit import libpcap_compile

    outcomes = {"compiled": 0, "refused": 0}
    for expr in _fixed_sample():
        key = "refused" if isinstance(libpcap_compile(expr, "EN10MB"), str) else "compiled"
        outcomes[key] += 1
    assert outcomes["compiled"] >= 60 and outcomes["refused"] >= 5, outcomes


def _fixed_sample() -> list[str]:
    """100 expressions from the strategy, drawn deterministically with hypothesis' find."""
    from hypothesis import HealthCheck, Phase
    from hypothesis import settings as hsettings

    seen: list[str] = []

    @hsettings(max_examples=100, derandomize=True, phases=[Phase.generate], database=None,
               suppress_health_check=list(HealthCheck))
    @given(expressions())
    def collect(expr: str) -> None:
        seen.append(expr)

    collect()
    return seen
