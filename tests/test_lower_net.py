"""Network-layer lowering against libpcap 1.10: protocols, hosts, nets, names, DECnet, OSI,
broadcast and multicast, and libpcap's refusals word for word.

Each case compiles the same text with libpcap (for a capture file of the link type) and with
bpfc, and runs both on the corpus, the generated packets and their truncations.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from bpfc import names, nodes
from bpfc.errors import FilterSemanticError
from tests.lowerkit import (
    LibpcapError,
    check_same,
    check_same_error,
    compile_insns,
    libpcap_compile,
)

EN10MB, SLL, SLL2, RAW, IPV4, IPV6, NULL, LOOP = 1, 113, 276, 12, 228, 229, 0, 108

PROTO_EXPRS = (
    "ip proto 6", "ip proto 17", "ip proto 47", "ip proto 103", "ip proto 0", "proto 17",
    "proto 58", "proto 44", "ip6 proto 58", "ip6 proto 17", "ip6 proto 44", "ip6 proto 0",
    "ip proto \\udp", "ip6 proto \\ipv6-icmp", "proto \\tcp", "not proto 6",
)


@pytest.mark.parametrize("dlt", [EN10MB, SLL, SLL2, RAW, NULL, LOOP, IPV4, IPV6])
@pytest.mark.parametrize("expr", PROTO_EXPRS)
def test_ip_protocol(dlt: int, expr: str) -> None:
    check_same(expr, dlt)


HOST_EXPRS = (
    "host 10.0.0.1", "src host 10.0.0.1", "dst host 192.168.1.1", "src and dst host 10.0.0.1",
    "src or dst host 10.0.0.2", "ip host 10.0.0.1", "ip src host 192.168.1.1",
    "arp host 10.0.0.1", "arp dst host 10.0.0.2", "rarp host 10.0.0.1", "rarp src 0.0.0.0",
    "host 10.1", "host 10", "host 0x0a000001", "net 10", "net 10.1", "net 192.168.1",
    "src net 10.1.2", "net 10.0.0.0/8", "dst net 192.168.1.0/24", "net 0.0.0.0/0",
    "net 224.0.0.0/4", "net 10.0.0.0 mask 255.0.0.0", "net 192.168 mask 255.255.0.0",
    "ip net 127.0.0.0/8", "arp net 10.0.0.0/30", "net 0", "host 0.0.0.0",
    "ip6 host 2001:db8::1", "host fe80::1", "src host ::1", "ip6 src net fe80::/10",
    "ip6 dst net ff02::/16", "ip6 net ::/0", "net 2001:db8::/32", "ip6 net 8000::/1",
    "dst net 2001:db8::/127", "host localhost", "ip host localhost", "arp src host localhost",
    "net loopback", "src net link-local", "not host 10.0.0.1 and ip",
)


@pytest.mark.parametrize("expr", HOST_EXPRS)
def test_hosts_and_nets_on_ethernet(expr: str) -> None:
    check_same(expr, EN10MB)


@pytest.mark.parametrize("dlt", [SLL, SLL2, RAW, IPV4, IPV6, NULL, LOOP])
@pytest.mark.parametrize("expr", ["host 10.0.0.1", "src net 192.168.0.0/16", "arp host 10.0.0.1",
                                  "ip6 host fe80::1", "host localhost", "net 10"])
def test_hosts_on_other_link_types(dlt: int, expr: str) -> None:
    """On RAW/IPV4/IPV6 a host *name* means ip (or ip6) only: there is no type field to tell
    ARP; a host *address* still means ip or arp or rarp, which is the same there."""
    check_same(expr, dlt)


@pytest.mark.parametrize("expr", ["host 10.0.0.1", "net 10.1", "ip6 host fe80::1",
                                  "net 192.168.1.0/24", "src host localhost"])
def test_host_tables_match_something(expr: str) -> None:
    assert check_same(expr, EN10MB) > 0


@pytest.mark.parametrize("netmask", [0xFFFFFF00, 0xFFFF0000, 0])
@pytest.mark.parametrize("expr", ["ip broadcast", "not ip broadcast", "ip broadcast and udp"])
def test_ip_broadcast(expr: str, netmask: int) -> None:
    check_same(expr, EN10MB, netmask=netmask)


@pytest.mark.parametrize("dlt", [EN10MB, SLL, RAW, NULL])
@pytest.mark.parametrize("expr", ["ip multicast", "ip6 multicast", "ip multicast or ip6 multicast"])
def test_ip_multicast(dlt: int, expr: str) -> None:
    assert check_same(expr, dlt) > 0


def test_ip_broadcast_needs_the_netmask() -> None:
    with pytest.raises(LibpcapError) as theirs:
        libpcap_compile("ip broadcast", EN10MB, netmask=0xFFFFFFFF)
    with pytest.raises(FilterSemanticError) as ours:
        compile_insns("ip broadcast", EN10MB)
    assert str(ours.value) == str(theirs.value)


DECNET_EXPRS = ("decnet host 10.20", "decnet src host 1.2", "decnet dst 1.2", "decnet host 1023",
                "decnet src 10.20 and decnet dst 1023", "decnet src and dst 1.2", "decnet")


@pytest.mark.parametrize("expr", DECNET_EXPRS)
def test_decnet(expr: str) -> None:
    assert check_same(expr, EN10MB) > 0


def test_proto_with_a_direction() -> None:
    """``ip src proto 6`` does not parse (in libpcap either); an AST built by hand gets
    libpcap's gen_proto refusal."""
    node = nodes.Match(nodes.Qualifiers("ip", "src", "proto"), nodes.Number(6))
    with pytest.raises(FilterSemanticError, match="direction applied to 'proto'"):
        compile_insns(node, EN10MB)


OSI_EXPRS = ("iso proto 0x82", "iso proto \\esis", "iso proto \\isis", "isis proto 15",
             "isis proto 27", "ether proto \\netbeui", "link proto \\stp")


@pytest.mark.parametrize("dlt", [EN10MB, SLL])
@pytest.mark.parametrize("expr", OSI_EXPRS)
def test_osi_protocols(dlt: int, expr: str) -> None:
    check_same(expr, dlt)


NET_REFUSALS = (
    "ip6 host 10.0.0.1", "host 10.0.0.0/8", "ip6 net ::1/64", "ip6 host ::1/64",
    "net 10.0.0.0/33", "gateway 10.0.0.1", "ether src host 10.0.0.1", "link net 10",
    "arp proto 1", "rarp proto 1", "atalk host 10.0.0.1", "ipx net 10", "iso host 10.0.0.1",
    "lat host 10.0.0.1", "tcp host 10.0.0.1", "udp net 10", "icmp host 1.2.3.4",
    "ip6 host ::1 or arp host ::1", "tcp host ::1", "atalk host ::1", "link host ::1",
    "ip host ::1", "decnet host foo", "net 10.1.2.3/8", "net 10.1.2.3 mask 255.0.0.0",
    "ip proto foo", "ether proto foo", "iso proto foo", "tcp proto 6", "udp proto \\tcp",
    "clnp proto 1", "atalk proto 1", "decnet proto 1", "host nosuchhost.",
    "net nosuchnet", "arp host nosuchhost.", "ether host nosuchhost", "ip6 multicast or lat host 1",
)


@pytest.mark.parametrize("expr", NET_REFUSALS)
def test_refusals(expr: str) -> None:
    check_same_error(expr, EN10MB)


@pytest.mark.parametrize("expr", ["ether host localhost", "link src localhost"])
def test_link_host_names_refused_without_ethernet(expr: str) -> None:
    check_same_error(expr, SLL)


def test_link_host_names_from_ethers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ether host NAME`` and ``gateway NAME`` take the MAC address from /etc/ethers."""
    ethers = tmp_path / "ethers"
    ethers.write_text("00:11:22:33:44:55 localhost\n")
    monkeypatch.setattr(names, "ETHERS_PATH", ethers)
    check_same("ether src localhost", EN10MB,
               libpcap_text="ether src 00:11:22:33:44:55")
    # libpcap built with IPv6 refuses 'gateway' outright; bpfc keeps its documented meaning:
    # to or from the host's MAC address, but neither to nor from its IPv4 addresses.
    addresses = [a for a in names.host_addresses("localhost")
                 if isinstance(a, ipaddress.IPv4Address)]
    hosts = " or ".join(f"host {a}" for a in addresses)
    with pytest.raises(LibpcapError, match="'gateway' not supported in this configuration"):
        libpcap_compile("gateway localhost", EN10MB)
    assert check_same("gateway localhost", EN10MB,
                      libpcap_text=f"ether host 00:11:22:33:44:55 and not ({hosts})") > 0
    src_gateway = nodes.Match(nodes.Qualifiers(None, "src", "gateway"), nodes.Name("localhost"))
    for expr, message in ((src_gateway, "direction applied to 'gateway'"),
                          ("tcp gateway localhost", "illegal modifier of 'gateway'"),
                          ("gateway nosuchhost", "unknown ether host: nosuchhost")):
        with pytest.raises(FilterSemanticError, match=message):
            compile_insns(expr, EN10MB)
    with pytest.raises(FilterSemanticError, match="'gateway' supported only on ethernet"):
        compile_insns("gateway localhost", SLL)
