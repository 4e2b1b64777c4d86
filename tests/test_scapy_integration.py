"""scapy with ``bpfc.scapy.install()``: ``sniff(filter=...)`` live and offline, with tcpdump
absent from PATH and libpcap out of reach.

scapy is made unable to use either: its libpcap binding module is replaced by ``None`` in
``sys.modules`` (so importing it fails) and PATH holds no tcpdump. As a control, the same
``sniff(filter=...)`` fails before ``install()``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bpfc
import bpfc.scapy
from bpfc import pcapfile
from tests import livekit, netns

REPO = Path(__file__).resolve().parent.parent

LIVE_FILTERS = ["udp port 53", "vlan 7", "arp", "ip6", "tcp[tcpflags] & tcp-syn != 0",
                "vlan and ip6"]


@pytest.fixture
def no_tcpdump_no_libpcap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setitem(sys.modules, "scapy.libs.winpcapy", None)  # type: ignore[arg-type]
    yield
    bpfc.scapy.uninstall()


def test_compile_filter_is_bpfc(no_tcpdump_no_libpcap: None) -> None:
    from scapy.arch import common

    bpfc.scapy.install()
    bpfc.scapy.install()  # idempotent
    program = common.compile_filter("tcp port 80", linktype=1)
    insns = [(program.bf_insns[i].code, program.bf_insns[i].jt, program.bf_insns[i].jf,
              program.bf_insns[i].k) for i in range(program.bf_len)]
    assert insns == [tuple(i) for i in bpfc.compile("tcp port 80")]
    from scapy.error import Scapy_Exception

    message = "Failed to compile filter expression 'tcp prot 80' \\(unknown keyword"
    with pytest.raises(Scapy_Exception, match=message):
        common.compile_filter("tcp prot 80", linktype=1)
    bpfc.scapy.uninstall()
    assert not bpfc.scapy.installed()
    with pytest.raises(ImportError):
        common.compile_filter("tcp port 80", linktype=1)


def test_sniff_offline_without_tcpdump(no_tcpdump_no_libpcap: None, tmp_path: Path) -> None:
    from scapy.sendrecv import sniff

    frames = livekit.frames(b"\x02" * 6, b"\x04" * 6)
    path = tmp_path / "frames.pcap"
    with pcapfile.PcapWriter(path) as writer:
        for i, frame in enumerate(frames):
            writer.write(pcapfile.Packet.of(frame, ts_sec=1_700_000_000 + i))
    text = "udp port 53 or arp"
    with pytest.raises((ImportError, OSError)):  # the control: scapy needs libpcap and tcpdump
        sniff(offline=str(path), filter=text)
    bpfc.scapy.install()
    program = bpfc.compile(text)
    got = [p.original for p in sniff(offline=str(path), filter=text)]
    assert got == [f for f in frames if program.match(f)]
    packets = sniff(offline=str(path))  # no filter: read as it is
    listed = [p.original for p in sniff(offline=list(packets), filter=text)]
    assert listed == got


SCRIPT = r"""
import json, shutil, sys, threading, time
sys.modules["scapy.libs.winpcapy"] = None
from scapy.config import conf
from scapy.error import Scapy_Exception
from scapy.sendrecv import AsyncSniffer, sendp, sniff
import bpfc.scapy

spec = json.loads(sys.argv[1])
report = {"tcpdump": shutil.which("tcpdump")}
try:
    sniff(iface=spec["rx"], filter="udp", count=1, timeout=0.1)
    report["without"] = "worked"
except Scapy_Exception as exc:
    report["without"] = str(exc)
bpfc.scapy.install()
sniffers = []
for text in spec["filters"]:
    ready = threading.Event()
    sniffer = AsyncSniffer(iface=spec["rx"], filter=text, started_callback=ready.set)
    sniffer.start()
    ready.wait(5)
    sniffers.append(sniffer)
frames = [bytes.fromhex(f) for f in spec["frames"]]
sendp(frames, iface=spec["tx"], verbose=False)
time.sleep(0.5)
report["got"] = {text: [p.original.hex() for p in s.stop()]
                 for text, s in zip(spec["filters"], sniffers)}
print(json.dumps(report))
"""


def test_sniff_live_without_tcpdump(tmp_path: Path) -> None:
    with netns.veth_or_skip() as (ns, veth):
        frames = livekit.frames(veth.mac_a, veth.mac_b)
        spec = {"rx": veth.b, "tx": veth.a, "filters": LIVE_FILTERS,
                "frames": [f.hex() for f in frames]}
        empty = tmp_path / "bin"
        empty.mkdir()
        env = dict(os.environ, PATH=str(empty), PYTHONPATH=str(REPO))
        done = subprocess.run(ns.exec_argv(sys.executable, "-c", SCRIPT, json.dumps(spec)),
                              capture_output=True, text=True, timeout=120, env=env, cwd=REPO,
                              check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["tcpdump"] is None
    assert "Cannot set filter" in report["without"]
    for text in LIVE_FILTERS:
        program = bpfc.compile(text, live=True)
        expected = livekit.expected(program, frames,
                                    lambda f: livekit.received_view(f, veth.mac_b, veth.index_b))
        assert sorted(bytes.fromhex(h) for h in report["got"][text]) == sorted(expected), text
        assert expected, text
