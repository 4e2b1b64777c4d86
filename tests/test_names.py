"""``bpfc.names`` against libpcap 1.10 and the C library on this machine.

Each lookup is checked against what libpcap makes of the same name: for ports, by compiling
``[tcp|udp|sctp] port NAME`` with libpcap and running the program over probe packets (every
transport, IPv4 and IPv6, the port and its neighbours); for protocols and EtherTypes, by
comparing libpcap's programs for the name and for our number. The built-in tables are checked
the same way with the system files hidden (``SERVICES_PATH`` pointed at a missing file), which
is what a slim container without ``/etc/services`` sees.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import ipaddress
import itertools
import socket
import struct
from pathlib import Path

import pytest

from bpfc import namedb, names
from tests import lowerkit

TRANSPORT_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132}
QUALIFIERS: list[names.Transport | None] = [None, "tcp", "udp", "sctp"]


def _system_services() -> bool:
    return names.SERVICES_PATH.exists()


needs_services = pytest.mark.skipif(not _system_services(),
                                    reason="libpcap needs /etc/services to resolve port names")


@functools.cache
def probe(transport: int, version: int, port: int) -> bytes:
    """An Ethernet frame of ``transport`` over IPv``version`` whose ports are both ``port``."""
    ports = struct.pack(">HH", port, port) + b"\x00" * 16
    if version == 4:
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(ports), 0, 0, 64, transport, 0,
                         b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02")
        return b"\x00" * 12 + b"\x08\x00" + ip + ports
    ip6 = struct.pack(">IHBB16s16s", 6 << 28, len(ports), transport, 64, b"\x00" * 15 + b"\x01",
                      b"\x00" * 15 + b"\x02")
    return b"\x00" * 12 + b"\x86\xdd" + ip6 + ports


def libpcap_accepts(expr: str, ports: set[int]) -> set[tuple[str, int, int]]:
    """The (transport, IP version, port) probes libpcap's program for ``expr`` accepts."""
    program = lowerkit.libpcap_compile(expr)
    return {(name, version, port)
            for name, number in TRANSPORT_NUMBERS.items() for version in (4, 6)
            for port in ports if lowerkit.libpcap_filter(program, probe(number, version, port))}


def expected_accepts(low: int, high: int, proto: str | None,
                     ports: set[int]) -> set[tuple[str, int, int]]:
    transports = list(TRANSPORT_NUMBERS) if proto is None else [proto]
    return {(t, v, p) for t in transports for v in (4, 6) for p in ports if low <= p <= high}


def libpcap_error(expr: str) -> str | None:
    try:
        lowerkit.libpcap_compile(expr)
    except lowerkit.LibpcapError as e:
        return str(e)
    return None


def same_error(ours: str, theirs: str | None) -> bool:
    """Our message is libpcap's, possibly followed by a suggestion."""
    return theirs is not None and (ours == theirs or ours.startswith(theirs + " (did you mean"))


def check_port_name(name: str, qualifier: names.Transport | None) -> str | None:
    """None if bpfc resolves ``[qualifier] port name`` as libpcap does, else what differs."""
    expr = f"{qualifier + ' ' if qualifier else ''}port \\{name}"
    try:
        found = names.service_port(name, qualifier)
    except names.NameLookupError as e:
        theirs = libpcap_error(expr)
        return None if same_error(str(e), theirs) else f"{expr}: ours {e!r}, libpcap {theirs!r}"
    ports = {found.port, (found.port + 1) & 0xFFFF, (found.port - 1) & 0xFFFF}
    want = expected_accepts(found.port, found.port, found.proto, ports)
    got = libpcap_accepts(expr, ports)
    return None if got == want else f"{expr}: ours {found}, libpcap accepts {sorted(got)}"


@functools.cache
def system_service_names() -> tuple[str, ...]:
    return tuple(names.parse_services(names.SERVICES_PATH.read_text()).names())


# ---------------------------------------------------------------------------------------------
# services


@needs_services
@pytest.mark.parametrize("qualifier", QUALIFIERS, ids=["any", "tcp", "udp", "sctp"])
def test_every_service_name_resolves_as_libpcap(qualifier: names.Transport | None) -> None:
    problems = [p for n in system_service_names() if (p := check_port_name(n, qualifier))]
    assert not problems, problems[:5]


@needs_services
@pytest.mark.parametrize("qualifier", QUALIFIERS, ids=["any", "tcp", "udp", "sctp"])
def test_builtin_services_resolve_as_libpcap_with_the_system_file(
        qualifier: names.Transport | None, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """With /etc/services missing, the built-in table gives what libpcap gets from the file."""
    monkeypatch.setattr(names, "SERVICES_PATH", tmp_path / "missing-services")
    builtin = names.parse_services(namedb.SERVICES)
    assert names.services() == builtin
    problems = [p for n in builtin.names() if (p := check_port_name(n, qualifier))]
    assert not problems, problems[:5]


def test_builtin_services_are_tcp_and_udp_entries_of_a_services_file() -> None:
    table = names.parse_services(namedb.SERVICES)
    assert {proto for _, proto in table.ports} == {"tcp", "udp"}
    assert len(table.names()) > 250


def test_services_file_is_read_in_order_with_aliases(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    services = tmp_path / "services"
    services.write_text("# comment\nalpha 100/tcp a1 a2  # first\nalpha 200/tcp\n"
                        "alpha 100/udp\nbeta 300/udp\ngamma 400/tcp\ngamma 401/udp\nbad x/tcp\n")
    monkeypatch.setattr(names, "SERVICES_PATH", services)
    assert names.service_port("alpha") == names.ServicePort(100, None)
    assert names.service_port("a2", "tcp") == names.ServicePort(100, "tcp")
    assert names.service_port("beta") == names.ServicePort(300, "udp")
    # libpcap's rule: different TCP and UDP numbers mean the TCP entry, TCP only.
    assert names.service_port("gamma") == names.ServicePort(400, "tcp")
    with pytest.raises(names.NameLookupError, match="port 'gamma' is tcp"):
        names.service_port("gamma", "udp")
    with pytest.raises(names.NameLookupError, match="^unknown port 'bad'$"):
        names.service_port("bad")


@needs_services
def test_unknown_port_suggests_a_close_name() -> None:
    with pytest.raises(names.NameLookupError) as info:
        names.service_port("domian")
    assert str(info.value) == libpcap_error("port domian") + " (did you mean 'domain'?)"


# ---------------------------------------------------------------------------------------------
# port ranges

RANGES = [
    "1-100", "100-1", "010-020", "0-65535", "ftp-ssh", "ssh-ftp", "20-http", "http-70000",
    "domain-http", "http-http", "80-90x", "ftp-data-ssh", "20-ftp-data", "0x10-0x20",
    "nosuch-ssh", "ssh-nosuch", "http", "1-70000",
]


@needs_services
@pytest.mark.parametrize("text", RANGES)
@pytest.mark.parametrize("qualifier", QUALIFIERS, ids=["any", "tcp", "udp", "sctp"])
def test_port_range_resolves_as_libpcap(text: str, qualifier: names.Transport | None) -> None:
    expr = f"{qualifier + ' ' if qualifier else ''}portrange {text}"
    try:
        found = names.port_range(text, qualifier)
    except names.NameLookupError as e:
        assert same_error(str(e), libpcap_error(expr)), (str(e), libpcap_error(expr))
        return
    low, high = sorted((found.low, found.high))
    if high > 65535:  # refused by the lowering, not the lookup
        assert libpcap_error(expr) == f"illegal port number {high} > 65535"
        return
    ports = {low, high, (low - 1) & 0xFFFF, (high + 1) & 0xFFFF, (low + high) // 2}
    assert libpcap_accepts(expr, ports) == expected_accepts(low, high, found.proto, ports)


# ---------------------------------------------------------------------------------------------
# protocols


def libpcap_ip_proto(name: str) -> int | str:
    """The number libpcap compares ``ip[9]`` with for ``ip proto NAME``, or its error."""
    try:
        program = lowerkit.libpcap_compile(f"ip proto \\{name}")
    except lowerkit.LibpcapError as e:
        return str(e)
    for load, test in itertools.pairwise(program):
        if load.code == 0x30 and load.k == 23:  # ldb [23]
            return test.k
    raise AssertionError(program)


def check_protocols(table: dict[str, int]) -> list[str]:
    problems = []
    for name in table:
        theirs = libpcap_ip_proto(name)
        try:
            ours: int | str = names.ip_protocol_number(name)
        except names.NameLookupError as e:
            ours = str(e)
        if ours != theirs:
            problems.append(f"{name}: ours {ours!r}, libpcap {theirs!r}")
    return problems


needs_protocols = pytest.mark.skipif(not names.PROTOCOLS_PATH.exists(),
                                     reason="libpcap needs /etc/protocols")


@needs_protocols
def test_every_protocol_name_resolves_as_libpcap() -> None:
    table = names.parse_protocols(names.PROTOCOLS_PATH.read_text())
    assert not check_protocols(table)


@needs_protocols
def test_builtin_protocols_resolve_as_libpcap_with_the_system_file(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(names, "PROTOCOLS_PATH", tmp_path / "missing-protocols")
    table = names.parse_protocols(namedb.PROTOCOLS)
    assert {"tcp", "udp", "icmp", "ipv6-frag", "IPv6-Frag"} <= set(table)
    assert not check_protocols(table)


@needs_protocols
def test_unknown_protocol_matches_libpcap_and_suggests() -> None:
    with pytest.raises(names.NameLookupError) as info:
        names.ip_protocol_number("ipv6-fragg")
    assert str(info.value) == libpcap_ip_proto("ipv6-fragg") + " (did you mean 'ipv6-frag'?)"


# ---------------------------------------------------------------------------------------------
# libpcap's EtherType and LLC SAP names

#: Names some libpcap versions knew (1.9 had pup, xns, sprite ...): 1.10 does not.
NOT_IN_LIBPCAP_1_10 = ["pup", "xns", "sprite", "lanbridge", "vexp", "vprod", "atalkarp",
                       "decdts", "decdns", "batadv", "ipv6", "vlan", "novell"]


@pytest.mark.parametrize("name", sorted({*names.ETHERTYPES, *names.LLC_SAPS}))
def test_link_protocol_names_match_libpcap(name: str) -> None:
    number = names.link_protocol_number(name)
    assert lowerkit.libpcap_compile(f"ether proto \\{name}") == \
        lowerkit.libpcap_compile(f"ether proto {number}")
    lookup = names.ethertype_number if name in names.ETHERTYPES else names.llc_sap_number
    assert lookup(name) == number


@pytest.mark.parametrize("name", NOT_IN_LIBPCAP_1_10)
def test_link_protocol_names_unknown_to_libpcap(name: str) -> None:
    with pytest.raises(names.NameLookupError) as info:
        names.link_protocol_number(name)
    assert same_error(str(info.value), libpcap_error(f"ether proto \\{name}"))


def test_link_protocol_suggestion() -> None:
    with pytest.raises(names.NameLookupError, match=r"\(did you mean 'netbeui'\?\)"):
        names.link_protocol_number("netbui")
    with pytest.raises(names.NameLookupError, match="unknown ether proto 'ip4'"):
        names.ethertype_number("ip4")
    with pytest.raises(names.NameLookupError, match="unknown ether proto 'arp'"):
        names.llc_sap_number("arp")


# ---------------------------------------------------------------------------------------------
# hosts, networks, ethers


def test_host_addresses_are_getaddrinfos() -> None:
    infos = socket.getaddrinfo("localhost", None, socket.AF_UNSPEC, socket.SOCK_STREAM,
                               socket.IPPROTO_TCP)
    want = [ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos]
    assert names.host_addresses("localhost") == want
    # libpcap compares with the same addresses
    program = lowerkit.libpcap_compile("ip host localhost")
    constants = {insn.k for insn in program}
    assert all(int(a) in constants for a in want if a.version == 4)


def test_host_literal_addresses() -> None:
    assert names.host_addresses("192.0.2.7") == [ipaddress.ip_address("192.0.2.7")]
    assert names.host_addresses("2001:db8::1") == [ipaddress.ip_address("2001:db8::1")]


def test_unknown_host_matches_libpcap() -> None:
    name = "no-such-host.invalid"
    with pytest.raises(names.NameLookupError) as info:
        names.host_addresses(name)
    assert same_error(str(info.value), libpcap_error(f"host {name}"))


class _NetEnt(ctypes.Structure):
    _fields_ = [("n_name", ctypes.c_char_p), ("n_aliases", ctypes.c_void_p),
                ("n_addrtype", ctypes.c_int), ("n_net", ctypes.c_uint32)]


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.getnetbyname.restype = ctypes.POINTER(_NetEnt)
    libc.getnetbyname.argtypes = [ctypes.c_char_p]
    libc.inet_network.restype = ctypes.c_uint32
    libc.inet_network.argtypes = [ctypes.c_char_p]
    return libc


@pytest.mark.parametrize("text", ["127", "10.1", "10.1.2", "169.254.0.0", "0x7f", "0x7f.1",
                                  "010.1", "0", "255.255.255.255", "256", "1.2.3.4.5", "",
                                  "a.b", "1..2", "08", "0xg"])
def test_inet_network_is_the_c_librarys(text: str) -> None:
    theirs = _libc().inet_network(text.encode())
    ours = names.inet_network(text)
    assert (0xFFFFFFFF if ours is None else ours) == theirs


@pytest.mark.skipif(not names.NETWORKS_PATH.exists(), reason="no /etc/networks")
def test_network_names_are_getnetbyname() -> None:
    table = names.parse_networks(names.NETWORKS_PATH.read_text())
    assert table
    for name in table:
        entry = _libc().getnetbyname(name.encode())
        theirs = entry.contents.n_net if entry else 0
        if theirs == 0:  # libpcap: number 0 is "unknown network"
            with pytest.raises(names.NameLookupError):
                names.network_number(name)
            assert same_error(f"unknown network '{name}'", libpcap_error(f"net {name}"))
        else:
            assert names.network_number(name) == theirs
            assert libpcap_error(f"net {name}") is None


def test_ethers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ethers = tmp_path / "ethers"
    ethers.write_text("# MAC name\n0:1:2:3:4:5 alpha\n00:11:22:33:44:55 beta  # comment\n"
                      "00:11:22:33:44 short\nzz:11:22:33:44:55 bad\n66:77:88:99:AA:BB alpha\n")
    monkeypatch.setattr(names, "ETHERS_PATH", ethers)
    assert names.ether_address("alpha") == bytes([0, 1, 2, 3, 4, 5])
    assert names.ether_address("beta") == bytes.fromhex("001122334455")
    with pytest.raises(names.NameLookupError, match=r"unknown ether host 'alpah' \(did you"):
        names.ether_address("alpah")
    for name in ("short", "bad"):
        with pytest.raises(names.NameLookupError):
            names.ether_address(name)


def test_missing_ethers_file_matches_libpcap(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(names, "ETHERS_PATH", tmp_path / "missing")
    with pytest.raises(names.NameLookupError) as info:
        names.ether_address("nosuchhost")
    if not Path("/etc/ethers").exists():
        assert str(info.value) == libpcap_error("ether host nosuchhost")
