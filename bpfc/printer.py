"""One line per packet, the way ``tcpdump -n`` prints it: what ``bpfc -r FILE`` shows.

Stage: output. Input: a ``pcapfile.Packet``; output: a line of text. It covers what a filter
user looks at most: the timestamp (local time, microseconds), the link header with ``-e``
(Ethernet, 802.1Q, 802.3/LLC, Linux cooked v1/v2, BSD loopback), and IPv4, IPv6, ARP, ICMP,
ICMPv6, TCP (flags, relative sequence numbers per conversation, options) and UDP, with
tcpdump's wording, order and punctuation. Application protocols are not decoded: where tcpdump
would go on into DNS or NTP, this prints the transport summary (``UDP, length 56``), and after
a TCP payload on the HTTP or SMTP ports only the protocol's name, as tcpdump does for payloads
that are not text. A packet cut short ends its line with ``[|proto]``, tcpdump's mark.

Addresses are never resolved (``-n`` is the only mode); ``-q`` and ``-v`` select tcpdump's
shorter and longer forms for IPv4 and TCP.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Callable
from typing import Final

from .pcapfile import Packet

DLT_NULL: Final = 0
DLT_EN10MB: Final = 1
DLT_RAW: Final = 12
DLT_LOOP: Final = 108
DLT_LINUX_SLL: Final = 113
DLT_IPV4: Final = 228
DLT_IPV6: Final = 229
DLT_LINUX_SLL2: Final = 276
DLT_PPP: Final = 9
DLT_PPP_SERIAL: Final = 50
DLT_C_HDLC: Final = 104
#: PPP protocol numbers tcpdump names (ppptype2str), and the two whose payload is printed.
PPP_NAMES: Final = {0x0021: "IP", 0x0057: "IP6", 0x0023: "OSI", 0x002B: "IPX", 0x0281: "MPLS",
                    0xC021: "LCP", 0x8021: "IPCP", 0x8057: "IP6CP", 0xC023: "PAP",
                    0xC223: "CHAP", 0x80FD: "CCP", 0xC025: "LQM"}
PPP_IP: Final = 0x0021
PPP_IPV6: Final = 0x0057
#: Cisco HDLC's address byte (tcpdump's chdlc_cast_values).
CHDLC_CAST: Final = {0x0F: "unicast", 0x8F: "bcast"}

ETHERTYPE_IP: Final = 0x0800
ETHERTYPE_ARP: Final = 0x0806
ETHERTYPE_REVARP: Final = 0x8035
ETHERTYPE_VLAN: Final = 0x8100
ETHERTYPE_IPV6: Final = 0x86DD
ETHERTYPE_QINQ: Final = 0x88A8
#: The EtherType of IP as other headers name it: a version nibble, a PPP protocol number.
_IP_VERSIONS: Final = {4: ETHERTYPE_IP, 6: ETHERTYPE_IPV6}
_PPP_ETHERTYPES: Final = {PPP_IP: ETHERTYPE_IP, PPP_IPV6: ETHERTYPE_IPV6}

#: tcpdump's names for ethertypes (print-ether.c's ethertype_values, the common ones).
ETHERTYPES: Final = {
    ETHERTYPE_IP: "IPv4", ETHERTYPE_ARP: "ARP", ETHERTYPE_REVARP: "Reverse ARP",
    ETHERTYPE_VLAN: "802.1Q", ETHERTYPE_IPV6: "IPv6", ETHERTYPE_QINQ: "802.1Q-QinQ",
    0x8847: "MPLS unicast", 0x8848: "MPLS multicast", 0x8863: "PPPoE D", 0x8864: "PPPoE S",
    0x88CC: "LLDP", 0x888E: "EAPOL", 0x8809: "Slow Protocols", 0x88E5: "802.1AE MACsec",
    0x9000: "Loopback", 0x88F7: "PTP",
}
TCP_FLAGS: Final = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."),
                    (0x20, "U"), (0x40, "E"), (0x80, "W"), (0x100, "e"))
TCP_OPTIONS: Final = {0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack",
                      8: "TS", 19: "md5", 28: "utoval", 29: "tcp-ao", 30: "mptcp", 34: "tfo"}
#: Ports whose payload tcpdump hands to a line-oriented text printer (txtproto_print).
TEXT_PORTS: Final = {80: "HTTP", 8080: "HTTP", 25: "SMTP", 21: "FTP", 554: "RTSP"}
HTTP_WORDS: Final = (b"GET", b"PUT", b"COPY", b"HEAD", b"LOCK", b"MOVE", b"POLL", b"POST",
                     b"BCOPY", b"BMOVE", b"MKCOL", b"TRACE", b"LABEL", b"MERGE", b"DELETE",
                     b"SEARCH", b"UNLOCK", b"REPORT", b"UPDATE", b"NOTIFY", b"BDELETE",
                     b"CONNECT", b"OPTIONS", b"CHECKIN", b"PROPFIND", b"CHECKOUT",
                     b"CCM_POST", b"SUBSCRIBE", b"PROPPATCH", b"BPROPFIND", b"BPROPPATCH",
                     b"UNCHECKOUT", b"MKACTIVITY", b"MKWORKSPACE", b"UNSUBSCRIBE",
                     b"RPC_CONNECT", b"VERSION-CONTROL", b"BASELINE-CONTROL", b"HTTP/")
#: How an HTTP line that tcpdump prints starts: a method and a space, or a version.
_HTTP_STARTS: Final = (*(w + b" " for w in HTTP_WORDS if w != b"HTTP/"), b"HTTP/")
#: A line tcpdump prints as text: tabs and printable ASCII only.
_PRINTABLE: Final = re.compile(rb"[\t\x20-\x7e]*")
ICMP_UNREACH: Final = {0: "net {dst} unreachable", 1: "host {dst} unreachable",
                       4: "{dst} unreachable - need to frag",
                       5: "{dst} unreachable - source route failed",
                       6: "{dst} unreachable - unknown net", 7: "{dst} unreachable - unknown host",
                       9: "net {dst} unreachable - admin prohibited",
                       10: "host {dst} unreachable - admin prohibited",
                       13: "host {dst} unreachable - admin prohibited filter"}
ICMP_TYPES: Final = {4: "source quench", 9: "router advertisement", 10: "router solicitation",
                     13: "time stamp request", 14: "time stamp reply", 15: "information request",
                     16: "information reply", 17: "address mask request",
                     18: "address mask reply"}
ICMP6_TYPES: Final = {1: "destination unreachable", 2: "packet too big", 3: "time exceeded",
                      4: "parameter problem", 130: "multicast listener query",
                      131: "multicast listener report", 132: "multicast listener done",
                      133: "router solicitation", 134: "router advertisement",
                      137: "redirect", 143: "multicast listener report v2"}
SLL_TYPES: Final = {0: "In", 1: "B", 2: "M", 3: "P", 4: "Out"}
IP_PROTOCOLS: Final = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 41: "IPv6", 47: "GRE",
                       50: "ESP", 51: "AH", 58: "ICMPv6", 89: "OSPF", 103: "PIM", 112: "VRRP",
                       132: "SCTP"}


class Truncated(Exception):
    """A field lies past the captured bytes; ``proto`` names the printer that wanted it."""

    def __init__(self, proto: str) -> None:
        super().__init__(proto)
        self.proto = proto


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _ip4(b: bytes) -> str:
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"


def _ip6(b: bytes) -> str:
    """RFC 5952 text, IPv4-mapped and -compatible addresses with a dotted quad, as tcpdump's
    addrtostr6 (and libc's inet_ntop, from the same BIND code) writes them."""
    return socket.inet_ntop(socket.AF_INET6, b)


class _Cursor:
    """Bounds-checked reads of one packet's captured bytes (tcpdump's GET_ macros)."""

    __slots__ = ("data", "proto")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.proto = "ether"

    def need(self, at: int, size: int) -> bytes:
        if at < 0 or at + size > len(self.data):
            raise Truncated(self.proto)
        return self.data[at:at + size]

    # The readers below check bounds themselves rather than through ``need``: they run a few
    # times per printed packet, and a call less each is a tenth of a line's time.
    def u8(self, at: int) -> int:
        data = self.data
        if at < 0 or at >= len(data):
            raise Truncated(self.proto)
        return data[at]

    def u16(self, at: int) -> int:
        data = self.data
        if at < 0 or at + 2 > len(data):
            raise Truncated(self.proto)
        return data[at] << 8 | data[at + 1]

    def u32(self, at: int) -> int:
        data = self.data
        if at < 0 or at + 4 > len(data):
            raise Truncated(self.proto)
        return int.from_bytes(data[at:at + 4], "big")


class Printer:
    """Formats packets one line each. Keeps tcpdump's per-conversation TCP sequence origins,
    so one Printer should see a capture's packets in order.

    Each protocol printer appends its pieces to ``out``; a read past the captured bytes raises
    ``Truncated``, and the line is what was printed so far and tcpdump's ``[|proto]``.
    """

    def __init__(self, *, link_header: bool = False, quiet: bool = False, verbose: int = 0,
                 utc: bool = False) -> None:
        self.link_header = link_header
        self.quiet = quiet
        self.verbose = verbose
        self._clock = time.gmtime if utc else time.localtime
        self._second = -1
        self._hms = ""
        self._tcp_origins: dict[tuple[bytes, bytes, int], tuple[int, int]] = {}
        self._links: dict[int, Callable[[_Cursor, list[str], int], None]] = {
            DLT_EN10MB: self._ethernet, DLT_RAW: self._raw, DLT_IPV4: self._raw,
            DLT_IPV6: self._raw, DLT_NULL: self._null, DLT_LOOP: self._null,
            DLT_LINUX_SLL: self._sll, DLT_LINUX_SLL2: self._sll2, DLT_PPP: self._ppp,
            DLT_PPP_SERIAL: self._ppp_serial, DLT_C_HDLC: self._chdlc,
        }

    def line(self, packet: Packet) -> str:
        """``HH:MM:SS.uuuuuu`` and the packet's summary."""
        out = [self.timestamp(packet.ts_sec, packet.frac_in(1_000_000)), " "]
        link = self._links.get(packet.linktype)
        if link is None:
            return f"{out[0]} unsupported link-type {packet.linktype}, length {packet.wirelen}"
        try:
            link(_Cursor(packet.data), out, packet.wirelen)
        except Truncated as cut:
            out.append(f" [|{cut.proto}]")
        return "".join(out)

    def timestamp(self, sec: int, usec: int) -> str:
        if sec != self._second:
            self._second = sec
            try:
                t = self._clock(sec)
                self._hms = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
            except (OverflowError, OSError, ValueError):
                self._hms = "[timestamp overflow]"
        return f"{self._hms}.{usec:06d}"

    # -- link layers ----------------------------------------------------------------------

    def _ethernet(self, c: _Cursor, out: list[str], wirelen: int) -> None:
        c.proto = "ether"
        dst, src = c.need(0, 6), c.need(6, 6)
        etype = c.u16(12)
        if self.link_header:
            out.append(f"{_mac(src)} > {_mac(dst)}, ")
        at = 14
        if etype <= 1500:
            if self.link_header:
                out.append(f"802.3, length {wirelen}: ")
            self._llc(c, out, at, wirelen - at)
            return
        if self.link_header:
            out.append(f"ethertype {_etype(etype)}, length {wirelen}: ")
        while etype in (ETHERTYPE_VLAN, ETHERTYPE_QINQ):
            tci = c.u16(at)
            inner = c.u16(at + 2)
            if self.link_header:
                out.append(f"vlan {tci & 0xFFF}, p {tci >> 13}"
                           f"{', DEI' if tci & 0x1000 else ''}, ethertype {_etype(inner)}, ")
            etype, at = inner, at + 4
        self._network(c, out, etype, at, wirelen - at)

    def _llc(self, c: _Cursor, out: list[str], at: int, length: int) -> None:
        c.proto = "llc"
        dsap, ssap, ctrl = c.u8(at), c.u8(at + 1), c.u8(at + 2)
        out.append(f"LLC, dsap 0x{dsap & 0xFE:02x} {'Group' if dsap & 1 else 'Individual'}, "
                   f"ssap 0x{ssap & 0xFE:02x} {'Response' if ssap & 1 else 'Command'}, "
                   f"ctrl 0x{ctrl:02x}, length {length}")

    def _raw(self, c: _Cursor, out: list[str], wirelen: int) -> None:
        version = c.u8(0) >> 4
        if not self._ip(c, out, _IP_VERSIONS.get(version, -1), 0, wirelen, True):
            out.append(f"IP{version}")

    def _null(self, c: _Cursor, out: list[str], wirelen: int) -> None:
        c.proto = "null"
        family = struct.unpack_from("<I", c.need(0, 4))[0]
        if family > 0xFFFF:
            family = struct.unpack_from(">I", c.need(0, 4))[0]
        names = {2: "IPv4", 24: "IPv6", 28: "IPv6", 30: "IPv6"}
        if self.link_header:
            out.append(f"AF {names.get(family, 'Unknown')} ({family}), length {wirelen}: ")
        etype = ETHERTYPE_IP if family == 2 else ETHERTYPE_IPV6 if family in (24, 28, 30) else -1
        if not self._ip(c, out, etype, 4, wirelen - 4, not self.link_header) \
                and not self.link_header:
            out.append(f"AF {names.get(family, 'Unknown')} ({family}), length {wirelen}")

    def _sll(self, c: _Cursor, out: list[str], wirelen: int) -> None:
        c.proto = "sll"
        ptype, halen = c.u16(0), c.u16(4)
        addr = c.need(6, min(halen, 8))
        etype = c.u16(14)
        if self.link_header:
            out.append(f"{SLL_TYPES.get(ptype, str(ptype)):<3} {_mac(addr)} ethertype "
                       f"{_etype(etype)}, length {wirelen}: ")
        self._network(c, out, etype, 16, wirelen - 16)

    def _sll2(self, c: _Cursor, out: list[str], wirelen: int) -> None:
        c.proto = "sll2"
        etype, ifindex = c.u16(0), c.u32(4)
        ptype, halen = c.u8(10), c.u8(11)
        addr = c.need(12, min(halen, 8))
        out.append(f"{_interface(ifindex):<5} {SLL_TYPES.get(ptype, str(ptype)):<3} ")
        if self.link_header:
            out.append(f"ifindex {ifindex} {_mac(addr)} ethertype {_etype(etype)}, "
                       f"length {wirelen}: ")
        self._network(c, out, etype, 20, wirelen - 20)

    def _ppp(self, c: _Cursor, out: list[str], wirelen: int) -> None:
        """PPP in HDLC-like framing (tcpdump's ppp_if_print): with -e the protocol's name,
        number and the length come first, without -e only the payload's own line."""
        c.proto = "ppp"
        proto = c.u16(2)
        name = PPP_NAMES.get(proto)
        if self.link_header:
            out.append(f"{name or 'unknown'} (0x{proto:04x}), length {wirelen}: ")
        self._ppp_payload(c, out, proto, wirelen, not self.link_header)

    def _ppp_serial(self, c: _Cursor, out: list[str], wirelen: int) -> None:
        """PPP over serial (tcpdump's ppp_hdlc_if_print): the protocol's name and a colon,
        after the address, control and length with -e."""
        c.proto = "ppp"
        address, control, proto = c.u8(0), c.u8(1), c.u16(2)
        if self.link_header:
            out.append(f"{address:02x} {control:02x} {wirelen} ")
        out.append(f"{PPP_NAMES.get(proto, f'unknown PPP protocol (0x{proto:04x})')}: ")
        self._ppp_payload(c, out, proto, wirelen, not self.link_header)

    def _ppp_payload(self, c: _Cursor, out: list[str], proto: int, wirelen: int,
                     label: bool) -> None:
        if not self._ip(c, out, _PPP_ETHERTYPES.get(proto, -1), 4, wirelen - 4, label) and label:
            name = PPP_NAMES.get(proto)
            out.append(f"{name}, length {wirelen - 4}" if name
                       else f"unknown PPP protocol (0x{proto:04x}), length {wirelen - 4}")

    def _chdlc(self, c: _Cursor, out: list[str], wirelen: int) -> None:
        """Cisco HDLC (tcpdump's chdlc_print): an EtherType after the address and control."""
        c.proto = "chdlc"
        address, etype = c.u8(0), c.u16(2)
        if self.link_header:
            out.append(f"{CHDLC_CAST.get(address, f'0x{address:02x}')}, ethertype "
                       f"{_etype(etype)}, length {wirelen}: ")
        label = not self.link_header
        if not self._ip(c, out, etype, 4, wirelen - 4, label) and label:
            out.append(f"unknown CHDLC protocol (0x{etype:04x})")

    def _network(self, c: _Cursor, out: list[str], etype: int, at: int, length: int) -> None:
        label = not self.link_header
        if self._ip(c, out, etype, at, length, label):
            return
        if etype in (ETHERTYPE_ARP, ETHERTYPE_REVARP):
            self._arp(c, out, at, length, label, etype == ETHERTYPE_REVARP)
        elif label:
            out.append(f"ethertype {_etype(etype)}, length {length + at}")

    def _ip(self, c: _Cursor, out: list[str], etype: int, at: int, length: int,
            label: bool) -> bool:
        """The IPv4 or IPv6 packet at ``at``, by EtherType, printed; False for any other."""
        if etype == ETHERTYPE_IP:
            self._ipv4(c, out, at, length, label)
        elif etype == ETHERTYPE_IPV6:
            self._ipv6(c, out, at, length, label)
        else:
            return False
        return True

    # -- ARP ----------------------------------------------------------------------------------

    def _arp(self, c: _Cursor, out: list[str], at: int, length: int, label: bool,
             reverse: bool) -> None:
        c.proto = "arp"
        if label:
            out.append("RARP, " if reverse else "ARP, ")
        hrd, pro, hln, pln = c.u16(at), c.u16(at + 2), c.u8(at + 4), c.u8(at + 5)
        op = c.u16(at + 6)
        if pro != ETHERTYPE_IP or pln != 4 or hln != 6:
            out.append(f"Unknown Protocol (0x{pro:04x}), length {length}")
            return
        sha, spa = c.need(at + 8, 6), c.need(at + 14, 4)
        tha, tpa = c.need(at + 18, 6), c.need(at + 24, 4)
        del hrd
        if op == 1:
            who = f"Request who-has {_ip4(tpa)}"
            if any(tha):
                who += f" ({_mac(tha)})"
            out.append(f"{who} tell {_ip4(spa)}, length {length}")
        elif op == 2:
            out.append(f"Reply {_ip4(spa)} is-at {_mac(sha)}, length {length}")
        elif op == 3:
            out.append(f"Reverse Request who-is {_mac(tha)} tell {_mac(sha)}, length {length}")
        elif op == 4:
            out.append(f"Reverse Reply {_mac(tha)} at {_ip4(tpa)}, length {length}")
        else:
            out.append(f"Unknown ({op}), length {length}")

    # -- IP ---------------------------------------------------------------------------------

    def _ipv4(self, c: _Cursor, out: list[str], at: int, length: int, label: bool) -> None:
        c.proto = "ip"
        if label and at < len(c.data):  # tcpdump names the protocol once a byte of it is there
            out.append("IP ")
        vhl = c.u8(at)
        hlen = (vhl & 0xF) * 4
        if vhl >> 4 != 4:
            out.append(f"IP{vhl >> 4}")
            return
        if hlen < 20:
            out.append(f"bad-hlen {hlen}")
            return
        total = c.u16(at + 2)
        if total < hlen:
            out.append(f"bad-len {total}")
            return
        if length < total:
            out.append(f"truncated-ip - {total - length} bytes missing! ")
        off, proto = c.u16(at + 6), c.u8(at + 9)
        if self.verbose:
            tos, ident, ttl = c.u8(at + 1), c.u16(at + 4), c.u8(at + 8)
            flags = [n for bit, n in ((0x8000, "rsvd"), (0x4000, "DF"), (0x2000, "+"))
                     if off & bit]
            out.append(f"(tos 0x{tos:x}, ttl {ttl}, id {ident}, offset {(off & 0x1FFF) * 8}, "
                       f"flags [{'+'.join(flags) if flags else 'none'}], proto "
                       f"{IP_PROTOCOLS.get(proto, 'unknown')} ({proto}), length {total})\n    ")
        src_b, dst_b = c.need(at + 12, 4), c.need(at + 16, 4)
        src, dst = _ip4(src_b), _ip4(dst_b)
        if off & 0x1FFF:
            out.append(f"{src} > {dst}: ip-proto-{proto}")
            return
        self._transport(c, out, proto, at + hlen, total - hlen, src, dst, src_b, dst_b, False)

    def _ipv6(self, c: _Cursor, out: list[str], at: int, length: int, label: bool) -> None:
        c.proto = "ip6"
        if label and at + 40 <= len(c.data):  # ... and IPv6 once its fixed header is
            out.append("IP6 ")
        payload, nxt = c.u16(at + 4), c.u8(at + 6)
        src_b, dst_b = c.need(at + 8, 16), c.need(at + 24, 16)
        if length < payload + 40:
            out.append(f"truncated-ip6 - {payload + 40 - length} bytes missing!")
        self._transport(c, out, nxt, at + 40, payload, _ip6(src_b), _ip6(dst_b), src_b, dst_b,
                        True)

    def _transport(self, c: _Cursor, out: list[str], proto: int, at: int, length: int,
                   src: str, dst: str, src_b: bytes, dst_b: bytes, ip6: bool) -> None:
        if proto == 6:
            self._tcp(c, out, at, length, src, dst, src_b, dst_b)
        elif proto == 17:
            self._udp(c, out, at, length, src, dst)
        elif proto == 1 and not ip6:
            out.append(f"{src} > {dst}: ")
            self._icmp(c, out, at, length)
        elif proto == 58 and ip6:
            out.append(f"{src} > {dst}: ")
            self._icmp6(c, out, at, length)
        else:
            out.append(f"{src} > {dst}: ip-proto-{proto} {length}")

    # -- TCP and UDP ------------------------------------------------------------------------

    @staticmethod
    def _ports(c: _Cursor, out: list[str], proto: str, at: int, src: str,
               dst: str) -> tuple[int, int]:
        """``src.sport > dst.dport: `` of a TCP or UDP header at ``at`` (truncated: no ports)."""
        c.proto = proto
        if at + 4 > len(c.data):
            # tcpdump's udp_print ends the addresses with ": ", tcp_print with ":" (then both
            # print " [|proto]").
            out.append(f"{src} > {dst}: " if proto == "udp" else f"{src} > {dst}:")
            raise Truncated(proto)
        sport, dport = c.u16(at), c.u16(at + 2)
        out.append(f"{src}.{sport} > {dst}.{dport}: ")
        return sport, dport

    def _tcp(self, c: _Cursor, out: list[str], at: int, length: int, src: str, dst: str,
             src_b: bytes, dst_b: bytes) -> None:
        sport, dport = self._ports(c, out, "tcp", at, src, dst)
        hlen = (c.u8(at + 12) >> 4) * 4
        if hlen < 20:
            out.append(f" tcp {length - hlen} [bad hdr length {hlen} - too short, < 20]")
            return
        seq, ack = c.u32(at + 4), c.u32(at + 8)
        win, urp = c.u16(at + 14), c.u16(at + 18)
        if self.quiet:
            out.append(f"tcp {length - hlen}")
            return
        flags = c.u16(at + 12) & 0x1FF
        out.append(f"Flags [{''.join(n for bit, n in TCP_FLAGS if flags & bit) or 'none'}]")
        origin = (False, 0, 0)
        if flags & 0x10:
            seq, ack, origin = self._relative(seq, ack, flags, sport, dport, src_b, dst_b)
        if hlen > length:
            out.append(f" [bad hdr length {hlen} - too long, > {length}]")
            return
        payload = length - hlen
        if self.verbose > 1 or payload > 0 or flags & 0x07:
            out.append(f", seq {seq}" + (f":{(seq + payload) & 0xFFFFFFFF}" if payload else ""))
        if flags & 0x10:
            out.append(f", ack {ack}")
        out.append(f", win {win}")
        if flags & 0x20:
            out.append(f", urg {urp}")
        if hlen > 20:
            out.append(", options [")
            self._tcp_options(c, out, at + 20, hlen - 20, origin)
            out.append("]")
        out.append(f", length {payload}")
        if payload > 0:
            proto = TEXT_PORTS.get(sport) or TEXT_PORTS.get(dport)
            if proto is not None:
                out.append(_text(c.data[at + hlen:at + hlen + min(payload, 512)], proto))

    def _relative(self, seq: int, ack: int, flags: int, sport: int, dport: int,
                  src_b: bytes, dst_b: bytes) -> tuple[int, int, tuple[bool, int, int]]:
        """tcpdump's relative sequence numbers: the first packet with ACK of a conversation
        (or any SYN) records its origins and prints absolute numbers; later ones print
        offsets from the origins. One entry serves both directions. Also returns the
        direction and origins, which SACK blocks are printed relative to."""
        rev = sport > dport or (sport == dport and src_b > dst_b)
        key = (dst_b, src_b, dport << 16 | sport) if rev else (src_b, dst_b, sport << 16 | dport)
        origin = self._tcp_origins.get(key)
        if origin is None or flags & 0x02:
            before = (ack - 1) & 0xFFFFFFFF
            origin = (before, seq) if rev else (seq, before)
            self._tcp_origins[key] = origin
            return seq, ack, (rev, *origin)
        th_seq, th_ack = origin
        if rev:
            seq, ack = (seq - th_ack) & 0xFFFFFFFF, (ack - th_seq) & 0xFFFFFFFF
        else:
            seq, ack = (seq - th_seq) & 0xFFFFFFFF, (ack - th_ack) & 0xFFFFFFFF
        return seq, ack, (rev, th_seq, th_ack)

    def _tcp_options(self, c: _Cursor, out: list[str], at: int, size: int,
                     origin: tuple[bool, int, int]) -> None:
        end = at + size
        first = True
        while at < end:
            if not first:
                out.append(",")
            first = False
            opt = c.u8(at)
            name = TCP_OPTIONS.get(opt, f"unknown-{opt}")
            if opt in (0, 1):
                out.append(name)
                at += 1
                if opt == 0:
                    return  # tcpdump stops at the end-of-list option
                continue
            length = c.u8(at + 1)
            if length < 2 or at + length > end:
                out.append(f"{name}[bad opt]")
                return
            data = c.need(at + 2, length - 2)
            if opt == 2 and len(data) == 2:
                out.append(f"mss {struct.unpack('>H', data)[0]}")
            elif opt == 3 and len(data) == 1:
                out.append(f"wscale {data[0]}")
            elif opt == 4:
                out.append("sackOK")
            elif opt == 5 and len(data) % 8 == 0:
                rev, th_seq, th_ack = origin
                base = th_seq if rev else th_ack
                blocks = [(b - base) & 0xFFFFFFFF
                          for b in struct.unpack(f">{len(data) // 4}I", data)]
                spans = " ".join(f"{{{blocks[i]}:{blocks[i + 1]}}}"
                                 for i in range(0, len(blocks), 2))
                out.append(f"sack {len(data) // 8} {spans}")
            elif opt == 8 and len(data) == 8:
                val, ecr = struct.unpack(">II", data)
                out.append(f"TS val {val} ecr {ecr}")
            else:
                out.append(f"{name} 0x{data.hex()}" if data else name)
            at += length

    def _udp(self, c: _Cursor, out: list[str], at: int, length: int, src: str,
             dst: str) -> None:
        self._ports(c, out, "udp", at, src, dst)
        ulen = c.u16(at + 4)
        if ulen < 8:
            out.append(f"UDP, bad length {ulen} < 8")
        elif ulen > length:
            out.append(f"UDP, bad length {ulen} > {length}")
        else:
            out.append(f"UDP, length {ulen - 8}")

    # -- ICMP -------------------------------------------------------------------------------

    def _icmp(self, c: _Cursor, out: list[str], at: int, length: int) -> None:
        c.proto = "icmp"
        kind, code = c.u8(at), c.u8(at + 1)
        if kind in (0, 8):
            what = "echo reply" if kind == 0 else "echo request"
            out.append(f"ICMP {what}, id {c.u16(at + 4)}, seq {c.u16(at + 6)}, "
                       f"length {length}")
        elif kind == 3:
            dst = _ip4(c.need(at + 24, 4))
            inner = c.u8(at + 17)
            if code == 2:
                text = f"{dst} protocol {inner} unreachable"
            elif code == 3:
                port = c.u16(at + 8 + (c.u8(at + 8) & 0xF) * 4 + 2)
                name = {6: "tcp", 17: "udp"}.get(inner, f"ip-proto-{inner}")
                text = f"{dst} {name} port {port} unreachable"
            else:
                text = ICMP_UNREACH.get(code, "{dst} unreachable - #" + str(code)).format(
                    dst=dst)
            out.append(f"ICMP {text}, length {length}")
        elif kind == 11:
            what = "time exceeded in-transit" if code == 0 else "ip reassembly time exceeded"
            out.append(f"ICMP {what}, length {length}")
        elif kind in ICMP_TYPES:
            out.append(f"ICMP {ICMP_TYPES[kind]}, length {length}")
        else:
            out.append(f"ICMP type-#{kind}, length {length}")

    def _icmp6(self, c: _Cursor, out: list[str], at: int, length: int) -> None:
        c.proto = "icmp6"
        kind = c.u8(at)
        out.append("ICMP6, ")
        if kind in (128, 129):
            what = "echo request" if kind == 128 else "echo reply"
            out.append(f"{what}, id {c.u16(at + 4)}, seq {c.u16(at + 6)}, length {length}")
        elif kind == 135:
            out.append(f"neighbor solicitation, who has {_ip6(c.need(at + 8, 16))}, "
                       f"length {length}")
        elif kind == 136:
            out.append(f"neighbor advertisement, tgt is {_ip6(c.need(at + 8, 16))}, "
                       f"length {length}")
        elif kind in ICMP6_TYPES:
            out.append(f"{ICMP6_TYPES[kind]}, length {length}")
        else:
            out.append(f"unknown icmp6 type ({kind}), length {length}")


def _interface(ifindex: int) -> str:
    """The name of interface ``ifindex`` on this host, as tcpdump prints it for SLL2 (which
    makes it right only on the capturing host; tcpdump warns about that)."""
    try:
        return socket.if_indextoname(ifindex)
    except OSError:
        return f"#{ifindex}"


def _etype(etype: int) -> str:
    return f"{ETHERTYPES.get(etype, 'Unknown')} (0x{etype:04x})"


def _text(data: bytes, proto: str) -> str:
    """tcpdump's txtproto_print, reduced: the protocol's name, and the first line when it is a
    printable, complete line (for HTTP, one that starts with a method or a version)."""
    line, crlf, _ = data.partition(b"\r\n")
    printable = bool(crlf) and _PRINTABLE.fullmatch(line) is not None
    if printable and proto == "HTTP" and not line.startswith(_HTTP_STARTS):
        printable = False
    if printable and line:
        return f": {proto}: {line.decode('ascii')}"
    return f": {proto}"
