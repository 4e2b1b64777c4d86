"""Names → numbers and addresses: services, protocols, hosts, networks, ethers, EtherTypes.

Stage: a service for ``lower`` (libpcap's nametoaddr.c). Filters name things the way the
system's databases do, so ``tcp port http`` means on bpfc what it means to tcpdump on the same
machine: services and protocols come from ``/etc/services`` and ``/etc/protocols``, hosts from
``getaddrinfo`` (``/etc/hosts`` and DNS), networks from ``/etc/networks``, MAC addresses from
``/etc/ethers``. Slim containers often ship without ``/etc/services`` and ``/etc/protocols``;
then the built-in copies in ``bpfc.namedb`` (the IANA tables as Debian's netbase has them) answer
instead of every name failing. EtherType and LLC SAP names are libpcap's own small tables.

libpcap's rules are kept where they decide what a filter means:

- a port name is looked up for TCP and for UDP only (``pcap_nametoport``); when both exist with
  the same number the port applies to every transport, otherwise the TCP entry wins;
- a port range is either ``N-M`` read as two decimal numbers, or split at the first ``-`` into
  two names (or numbers), each looked up as above (``pcap_nametoportrange``);
- a numeric service inside a range is taken modulo 65536, as glibc's ``getaddrinfo`` does.

Failures raise ``NameLookupError`` (a ``FilterSemanticError`` without a source position); the
lowering code re-raises it through ``Context.error`` so the caret points at the name. Messages
use libpcap's wording, with a "did you mean" when a close name exists.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from .errors import FilterSemanticError

SERVICES_PATH = Path("/etc/services")
PROTOCOLS_PATH = Path("/etc/protocols")
NETWORKS_PATH = Path("/etc/networks")
ETHERS_PATH = Path("/etc/ethers")
HOSTS_PATH = Path("/etc/hosts")

Transport: TypeAlias = Literal["tcp", "udp", "sctp"]
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


class NameLookupError(FilterSemanticError):
    """A name the databases do not know, or that does not fit its qualifier."""


# ---------------------------------------------------------------------------------------------
# libpcap's built-in tables (nametoaddr.c of libpcap 1.10: eproto_db and llc_db).

#: ``ether proto NAME`` (pcap_nametoeproto).
ETHERTYPES: dict[str, int] = {
    "aarp": 0x80F3, "arp": 0x0806, "atalk": 0x809B, "decnet": 0x6003, "ip": 0x0800,
    "ip6": 0x86DD, "lat": 0x6004, "loopback": 0x9000, "mopdl": 0x6001, "moprc": 0x6002,
    "rarp": 0x8035, "sca": 0x6007,
}

#: ``ether proto NAME`` when NAME is no EtherType: an 802.2 LLC SAP (pcap_nametollc).
LLC_SAPS: dict[str, int] = {"iso": 0xFE, "stp": 0x42, "ipx": 0xE0, "netbeui": 0xF0}


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    import difflib  # error path only: a cold start should not pay for it

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def ethertype_number(name: str) -> int:
    """The EtherType libpcap knows as ``name``."""
    if name in ETHERTYPES:
        return ETHERTYPES[name]
    raise NameLookupError(f"unknown ether proto '{name}'{_did_you_mean(name, ETHERTYPES)}")


def llc_sap_number(name: str) -> int:
    """The 802.2 SAP libpcap knows as ``name``."""
    if name in LLC_SAPS:
        return LLC_SAPS[name]
    raise NameLookupError(f"unknown ether proto '{name}'{_did_you_mean(name, LLC_SAPS)}")


def link_protocol_number(name: str) -> int:
    """``ether proto NAME``: an EtherType name, else an LLC SAP name (gencode's lookup_proto)."""
    if name in ETHERTYPES:
        return ETHERTYPES[name]
    if name in LLC_SAPS:
        return LLC_SAPS[name]
    hint = _did_you_mean(name, [*ETHERTYPES, *LLC_SAPS])
    raise NameLookupError(f"unknown ether proto '{name}'{hint}")


# ---------------------------------------------------------------------------------------------
# services(5) and protocols(5)


@dataclass(frozen=True, slots=True)
class ServiceTable:
    """One services database: ``(name or alias, protocol) -> port``, first entry winning as in
    glibc's ``getservbyname``."""

    ports: dict[tuple[str, str], int]

    def names(self, proto: str | None = None) -> list[str]:
        return sorted({n for n, p in self.ports if proto is None or p == proto})


def parse_services(text: str) -> ServiceTable:
    """Parse services(5) text: ``name port/protocol [aliases...] [# comment]``."""
    ports: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or "/" not in fields[1]:
            continue
        number, _, proto = fields[1].partition("/")
        if not number.isdigit():
            continue
        for name in (fields[0], *fields[2:]):
            ports.setdefault((name, proto), int(number))
    return ServiceTable(ports)


def parse_protocols(text: str) -> dict[str, int]:
    """Parse protocols(5) text: ``name number [aliases...]``; first entry wins."""
    table: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or not fields[1].isdigit():
            continue
        for name in (fields[0], *fields[2:]):
            table.setdefault(name, int(fields[1]))
    return table


@functools.cache
def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


@functools.cache
def _services(path: Path) -> ServiceTable:
    text = _read(path)
    if text is None:
        from . import namedb

        text = namedb.SERVICES
    return parse_services(text)


@functools.cache
def _protocols(path: Path) -> dict[str, int]:
    text = _read(path)
    if text is None:
        from . import namedb

        text = namedb.PROTOCOLS
    return parse_protocols(text)


def services() -> ServiceTable:
    """The services database in use: ``SERVICES_PATH``, or the built-in copy when it is absent."""
    return _services(SERVICES_PATH)


def ip_protocol_number(name: str) -> int:
    """``ip proto NAME``, ``protochain NAME`` (pcap_nametoproto: /etc/protocols)."""
    table = _protocols(PROTOCOLS_PATH)
    if name in table:
        return table[name]
    raise NameLookupError(f"unknown ip proto '{name}'{_did_you_mean(name, table)}")


# ---------------------------------------------------------------------------------------------
# ports


@dataclass(frozen=True, slots=True)
class ServicePort:
    """A port and the transport it belongs to; ``proto`` None means TCP, UDP and SCTP alike
    (libpcap's PROTO_UNDEF)."""

    port: int
    proto: Transport | None


@dataclass(frozen=True, slots=True)
class ServiceRange:
    """``portrange`` bounds as written (not yet ordered or range-checked) and their transport."""

    low: int
    high: int
    proto: Transport | None


def lookup_port(name: str) -> ServicePort | None:
    """libpcap's pcap_nametoport: TCP's entry, marked for both transports when UDP agrees.

    A string of digits is a port number (modulo 65536, as getaddrinfo's numeric services).
    """
    if name.isascii() and name.isdigit():
        return ServicePort(int(name) & 0xFFFF, None)
    table = services()
    tcp = table.ports.get((name, "tcp"))
    udp = table.ports.get((name, "udp"))
    if tcp is not None:
        return ServicePort(tcp, None if udp == tcp else "tcp")
    if udp is not None:
        return ServicePort(udp, "udp")
    return None


def _narrow(found: Transport | None, wanted: Transport | None, what: str) -> Transport | None:
    """Apply a ``tcp``/``udp``/``sctp`` qualifier to a looked-up port (gencode's gen_scode)."""
    if wanted is None:
        return found
    if found is not None and found != wanted:
        raise NameLookupError(f"{what} is {found}")
    return wanted


def service_port(name: str, proto: Transport | None = None) -> ServicePort:
    """``[tcp|udp|sctp] port NAME``: the port, and the transports it applies to."""
    found = lookup_port(name)
    if found is None:
        hint = _did_you_mean(name, services().names(proto if proto != "sctp" else None))
        raise NameLookupError(f"unknown port '{name}'{hint}")
    return ServicePort(found.port, _narrow(found.proto, proto, f"port '{name}'"))


_DECIMAL_PAIR = re.compile(r"\s*([+-]?\d+)-\s*([+-]?\d+)")


def port_range(text: str, proto: Transport | None = None) -> ServiceRange:
    """``[tcp|udp|sctp] portrange TEXT`` with TEXT ``low-high`` as written (pcap_nametoportrange).

    Two decimal numbers (``010-020`` is 10 to 20, as sscanf's ``%d`` reads it) apply to every
    transport; otherwise the text is split at its first ``-`` and each side looked up as a port
    name, the range belonging to one transport only if both sides do.
    """
    numbers = _DECIMAL_PAIR.match(text)
    if numbers:
        found = ServiceRange(int(numbers[1]), int(numbers[2]), None)
    else:
        first, dash, second = text.partition("-")
        low = lookup_port(first) if dash else None
        high = lookup_port(second) if low is not None else None
        if low is None or high is None:
            bad = first if dash and low is None else second
            hint = _did_you_mean(bad, services().names()) if dash else ""
            raise NameLookupError(f"unknown port in range '{text}'{hint}")
        both = low.proto if low.proto == high.proto else None
        found = ServiceRange(low.port, high.port, both)
    narrowed = _narrow(found.proto, proto, f"port in range '{text}'")
    return ServiceRange(found.low, found.high, narrowed)


# ---------------------------------------------------------------------------------------------
# hosts, networks, ethers


def host_addresses(name: str) -> list[IPAddress]:
    """Every address ``name`` resolves to, IPv4 and IPv6, in getaddrinfo's order
    (libpcap's pcap_nametoaddrinfo: one entry per address, as for a TCP socket)."""
    import socket  # only host names need it; a cold start without one should not pay ~2 ms

    try:
        infos = socket.getaddrinfo(name, None, socket.AF_UNSPEC, socket.SOCK_STREAM,
                                   socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        infos = []
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    if not addresses:
        raise NameLookupError(f"unknown host '{name}'{_did_you_mean(name, _host_names())}")
    return addresses


def _host_names() -> list[str]:
    text = _read(HOSTS_PATH) or ""
    return [n for line in text.splitlines() for n in line.split("#", 1)[0].split()[1:]]


def parse_ethers(text: str) -> dict[str, bytes]:
    """Parse ethers(5) text: ``xx:xx:xx:xx:xx:xx hostname``; first entry wins."""
    table: dict[str, bytes] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        octets = fields[0].split(":")
        if len(octets) != 6 or not all(re.fullmatch(r"[0-9A-Fa-f]{1,2}", o) for o in octets):
            continue
        table.setdefault(fields[1], bytes(int(o, 16) for o in octets))
    return table


def ether_address(name: str) -> bytes:
    """The MAC address ``/etc/ethers`` gives ``name`` (libpcap's pcap_ether_hostton)."""
    table = parse_ethers(_read(ETHERS_PATH) or "")
    if name in table:
        return table[name]
    raise NameLookupError(f"unknown ether host '{name}'{_did_you_mean(name, table)}")


def inet_network(text: str) -> int | None:
    """C's inet_network(): 1 to 4 dot-separated parts (decimal, 0x hex or 0 octal), each a
    byte, packed right-justified: ``10.1`` is 0x0a01. None if malformed."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    value = 0
    for part in parts:
        match = re.fullmatch(r"0[xX]([0-9A-Fa-f]+)|(0[0-7]*)|([1-9][0-9]*)", part)
        if match is None:
            return None
        byte = int(match[1], 16) if match[1] else int(match[2], 8) if match[2] else int(part)
        if byte > 0xFF:
            return None
        value = value << 8 | byte
    return value


def parse_networks(text: str) -> dict[str, int]:
    """Parse networks(5) text: ``name number [aliases...]``; first entry wins."""
    table: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        number = inet_network(fields[1])
        if number is None:
            continue
        for name in (fields[0], *fields[2:]):
            table.setdefault(name, number)
    return table


def network_number(name: str) -> int:
    """``net NAME``: the network number from ``/etc/networks`` (libpcap's pcap_nametonetaddr).

    As in libpcap, network number 0 (``default``) counts as unknown.
    """
    table = parse_networks(_read(NETWORKS_PATH) or "")
    number = table.get(name, 0)
    if number == 0:
        raise NameLookupError(f"unknown network '{name}'{_did_you_mean(name, table)}")
    return number


# ---------------------------------------------------------------------------------------------
# The built-in copies (bpfc/namedb.py), regenerated with ``python -m bpfc.names > bpfc/namedb.py``


def render_namedb(services_text: str, protocols_text: str) -> str:
    """Source of ``bpfc.namedb`` from a services and a protocols file: their TCP/UDP and
    protocol entries, comments stripped, in file order (order decides duplicates)."""
    service_lines = []
    for line in services_text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[1].endswith(("/tcp", "/udp")):
            service_lines.append(" ".join(fields))
    protocol_lines = []
    for line in protocols_text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[1].isdigit():
            protocol_lines.append(" ".join(fields))
    body = "\n".join(service_lines)
    protos = "\n".join(protocol_lines)
    return (
        '"""Built-in services and protocols tables, for systems without /etc/services or\n'
        "/etc/protocols (slim containers). Data only; generated by ``python -m bpfc.names``\n"
        'from Debian netbase\'s files (IANA assignments), TCP and UDP entries only."""\n\n'
        f'SERVICES = """\\\n{body}\n"""\n\nPROTOCOLS = """\\\n{protos}\n"""\n'
    )


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(render_namedb(SERVICES_PATH.read_text(), PROTOCOLS_PATH.read_text()), end="")
