"""The native engine (``bpfc.native``, ``bpfc.x86``, ``bpfc.nativepath``), against its oracles.

The encoder against objdump's reading of every instruction form it emits (a golden table: the
bytes, and what ``objdump -M intel`` says they are); the compiled walk against the reference VM
(hypothesis and seeded programs, the kernel's test vectors) and libpcap's own programs over the
corpus (libpcap's ``bpf_filter`` through pcapy); the walk's own duties (damage, long records,
``-c``, full iovec arrays, merged runs); and the driver's refusals. End-to-end equality with
tcpdump on the generated capture is in ``test_offline.py`` (mode ``native``).
"""

from __future__ import annotations

import mmap
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc import cli, isa, native, nativepath, vm
from bpfc.errors import ProgramError
from bpfc.isa import Insn
from bpfc.x86 import CC, Alu, Assembler, Mem, R

from . import strategies as S

needs_native = pytest.mark.skipif(not native.available(),
                                  reason="machine code does not run here (Linux x86-64 only)")

# -- the encoder ---------------------------------------------------------------------------------

#: (method, arguments, bytes, objdump -M intel's reading of them)
ENCODINGS: list[tuple[str, tuple[object, ...], str, str]] = [
    ("mov_rr", (R.R15, R.RDI, True), "4989ff", "mov r15,rdi"),
    ("mov_rr", (R.RAX, R.R8), "4489c0", "mov eax,r8d"),
    ("mov_ri", (R.R10, 0xFFFFFFFF), "41baffffffff", "mov r10d,0xffffffff"),
    ("load", (R.RBP, Mem(R.R14, R.R13, 8)), "438bac2e08000000",
     "mov ebp,DWORD PTR [r14+r13*1+0x8]"),
    ("load", (R.R14, Mem(R.R15), True), "4d8bb700000000", "mov r14,QWORD PTR [r15+0x0]"),
    ("load", (R.RAX, Mem(R.RSP, disp=60)), "8b84243c000000", "mov eax,DWORD PTR [rsp+0x3c]"),
    ("store", (Mem(R.RSP, disp=4), R.RCX), "898c2404000000", "mov DWORD PTR [rsp+0x4],ecx"),
    ("store", (Mem(R.RBX, disp=-8), R.R10, True), "4c8993f8ffffff",
     "mov QWORD PTR [rbx-0x8],r10"),
    ("load", (R.RAX, Mem(R.R12, disp=3)), "418b842403000000", "mov eax,DWORD PTR [r12+0x3]"),
    ("load", (R.RAX, Mem(R.RBP, R.R12)), "428b842500000000",
     "mov eax,DWORD PTR [rbp+r12*1+0x0]"),
    ("load_u8", (R.RCX, Mem(R.RSI, disp=14)), "0fb68e0e000000", "movzx ecx,BYTE PTR [rsi+0xe]"),
    ("load_u16", (R.RAX, Mem(R.RSI, R.R9)), "420fb7840e00000000",
     "movzx eax,WORD PTR [rsi+r9*1+0x0]"),
    ("lea", (R.R13, Mem(R.R13, R.RBP, 16)), "4d8dac2d10000000", "lea r13,[r13+rbp*1+0x10]"),
    ("alu_ri", (Alu.CMP, R.RBP, 14, True), "4881fd0e000000", "cmp rbp,0xe"),
    ("alu_ri", (Alu.SUB, R.RSP, 72, True), "4881ec48000000", "sub rsp,0x48"),
    ("alu_ri", (Alu.XOR, R.RAX, 0x80000000), "81f000000080", "xor eax,0x80000000"),
    ("alu_rr", (Alu.CMP, R.R13, R.R12, True), "4d39e5", "cmp r13,r12"),
    ("alu_rr", (Alu.ADD, R.RAX, R.RCX), "01c8", "add eax,ecx"),
    ("alu_rm", (Alu.CMP, R.RBX, Mem(R.R15, disp=56)), "493b9f38000000",
     "cmp rbx,QWORD PTR [r15+0x38]"),
    ("alu_mr", (Alu.ADD, Mem(R.R15, disp=72), R.RDI), "4901bf48000000",
     "add QWORD PTR [r15+0x48],rdi"),
    ("test_rr", (R.RAX, R.RCX), "85c8", "test eax,ecx"),
    ("test_ri", (R.RAX, 0x1FFF), "f7c0ff1f0000", "test eax,0x1fff"),
    ("inc_m", (Mem(R.R15, disp=80),), "49ff8750000000", "inc QWORD PTR [r15+0x50]"),
    ("imul_rr", (R.RAX, R.RCX), "0fafc1", "imul eax,ecx"),
    ("imul_ri", (R.RAX, R.RAX, 0xFFFFFFFF), "69c0ffffffff", "imul eax,eax,0xffffffff"),
    ("div_r", (R.R9,), "41f7f1", "div r9d"),
    ("neg_r", (R.RAX,), "f7d8", "neg eax"),
    ("shift_ri", (True, R.RCX, 2), "c1e102", "shl ecx,0x2"),
    ("shift_ri", (False, R.RAX, 31), "c1e81f", "shr eax,0x1f"),
    ("shift_cl", (True, R.RAX), "d3e0", "shl eax,cl"),
    ("shift_cl", (False, R.RAX), "d3e8", "shr eax,cl"),
    ("sbb_rr", (R.R9, R.R9), "4519c9", "sbb r9d,r9d"),
    ("bswap", (R.RAX,), "0fc8", "bswap eax"),
    ("bswap", (R.R9,), "410fc9", "bswap r9d"),
    ("rol16_8", (R.RAX,), "66c1c008", "rol ax,0x8"),
    ("prefetch", (Mem(R.R14, R.R11),), "430f188c1e00000000",
     "prefetcht0 BYTE PTR [r14+r11*1+0x0]"),
    ("push", (R.R15,), "4157", "push r15"),
    ("push", (R.RBX,), "53", "push rbx"),
    ("pop", (R.R12,), "415c", "pop r12"),
    ("ret", (), "c3", "ret"),
]


@pytest.mark.parametrize(("method", "args", "encoded", "reading"), ENCODINGS,
                         ids=[f"{e[0]}-{e[3]}" for e in ENCODINGS])
def test_each_instruction_form_encodes_as_the_manual_says(method: str, args: tuple[object, ...],
                                                          encoded: str, reading: str) -> None:
    asm = Assembler()
    getattr(asm, method)(*args)
    assert asm.finish().hex() == encoded


def test_jumps_land_on_their_labels_both_ways() -> None:
    asm = Assembler()
    asm.label("top")  # 0
    asm.jcc(CC.E, "end")  # 0f 84 rel32: 6 bytes, next at 6
    asm.jump("top")  # e9 rel32: 5 bytes, next at 11; back 11
    asm.label("end")  # 11
    asm.ret()
    assert asm.finish().hex() == "0f8405000000" + "e9f5ffffff" + "c3"


def test_encoder_refusals() -> None:
    asm = Assembler()
    with pytest.raises(ValueError, match="rsp cannot be an index"):
        asm.load(R.RAX, Mem(R.RAX, R.RSP))
    with pytest.raises(ValueError, match="does not sign-extend"):
        asm.alu_ri(Alu.CMP, R.RAX, 0x80000000, w=True)
    asm.jump("nowhere")
    with pytest.raises(ValueError, match="never placed"):
        asm.finish()


# -- the compiled walk against the VM -------------------------------------------------------

def pcap_of(packets: Sequence[bytes], wirelens: Sequence[int] | None = None,
            snaplen: int = 262144) -> bytes:
    """A little-endian classic pcap file holding ``packets``."""
    wirelens = [len(p) for p in packets] if wirelens is None else wirelens
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)]
    for i, (data, wire) in enumerate(zip(packets, wirelens, strict=True)):
        parts.append(struct.pack("<IIII", i, 0, len(data), wire) + data)
    return b"".join(parts)


def offsets_of(packets: Sequence[bytes]) -> list[int]:
    at, found = 24, []
    for data in packets:
        found.append(at)
        at += 16 + len(data)
    return found


def accepted(walk: native.Walk, offsets: Sequence[int]) -> list[bool]:
    """Which records (at ``offsets``) the filled iovecs cover."""
    runs = walk.runs()
    hits, r = [], 0
    for at in offsets:
        while r < len(runs) and runs[r][0] + runs[r][1] <= at:
            r += 1
        hits.append(r < len(runs) and runs[r][0] <= at)
    return hits


def native_verdicts(program: Sequence[Insn] | None, packets: Sequence[bytes],
                    wirelens: Sequence[int] | None = None) -> list[bool]:
    """Each packet's verdict from the compiled walk over a pcap file of them."""
    walk = native.Walk(native.Scanner(program), pcap_of(packets, wirelens),
                       native.WalkShape(snapshot=262144, limit=262144), iovecs=len(packets) + 1)
    try:
        assert walk.step() is native.Status.STOP
        hits = accepted(walk, offsets_of(packets))
        assert walk.control.read == len(packets)
        assert walk.control.matched == sum(hits)
        return hits
    finally:
        walk.release()


@needs_native
@settings(max_examples=300)
@given(S.checked_programs(S.Options(max_insns=40)),
       st.lists(st.tuples(S.packets(), st.integers(0, 3)), min_size=1, max_size=24))
def test_agrees_with_vm(program: list[Insn], cases: list[tuple[bytes, int]]) -> None:
    """Random checked programs (every opcode, edge constants, loads past the packet, division
    by X == 0, shifts by X >= 32) over random packets: every verdict is the VM's."""
    packets = [p for p, _ in cases]
    wirelens = [len(p) + extra for p, extra in cases]
    want = [vm.run(program, p, w) != 0 for p, w in zip(packets, wirelens, strict=True)]
    assert native_verdicts(program, packets, wirelens) == want


@needs_native
def test_agrees_with_vm_bulk() -> None:
    for seed in range(1500):
        c = S.RandomChooser(seed)
        program = S.checked_program(c, S.Options(max_insns=48))
        packets = [S.packet(c) for _ in range(48)]
        wirelens = [len(p) + c.integer(0, 2) for p in packets]
        want = [vm.run(program, p, w) != 0 for p, w in zip(packets, wirelens, strict=True)]
        assert native_verdicts(program, packets, wirelens) == want, seed


VECTORS = [v for v in S.kernel_vectors() if v.category != "validator"]


@needs_native
@pytest.mark.parametrize("case", VECTORS, ids=[v.id for v in VECTORS])
def test_kernel_vectors(case: S.Vector) -> None:
    """The kernel's test vectors, with libpcap's result where Linux's differs."""
    want = case.expected if case.category == "portable" else case.libpcap_result
    assert want is not None
    assert native_verdicts(case.insns, [case.packet], [case.wirelen]) == [want != 0]


@needs_native
def test_agrees_with_libpcap_on_corpus() -> None:
    """libpcap's programs for the corpus expressions, over every corpus packet of their link
    type: the verdicts are libpcap's ``bpf_filter``'s."""
    pytest.importorskip("pcapy")
    if not (S.CORPUS / "expressions.txt").exists():
        pytest.skip("corpus not available")
    packets_by_dlt = S.corpus_packets()
    programs, _ = S.libpcap_corpus_programs(sorted(packets_by_dlt))
    checked = 0
    for dlt, expr, program, libpcap_filter in programs:
        packets = packets_by_dlt[dlt]
        want = [libpcap_filter(p) != 0 for p in packets]
        assert native_verdicts(program, packets) == want, (dlt, expr)
        checked += len(packets)
    assert checked > 100_000


@needs_native
def test_a_program_the_checker_refuses_is_never_compiled() -> None:
    with pytest.raises(ProgramError):
        native.Scanner([Insn(isa.BPF_LD | isa.BPF_IMM)])  # no return


# -- the walk's own duties ------------------------------------------------------------------

UDP = [Insn(isa.BPF_LD | isa.BPF_B | isa.BPF_ABS, 0, 0, 0),  # ldb [0]
       Insn(isa.BPF_JMP | isa.BPF_JEQ | isa.BPF_K, 0, 1, 17),
       Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 1),
       Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 0)]


def walk_of(data: bytes | bytearray | mmap.mmap, program: Sequence[Insn] | None = UDP, *,
            iovecs: int = native.IOVECS, **shape: int) -> native.Walk:
    shape.setdefault("limit", 262144)
    shape.setdefault("snapshot", 262144)
    return native.Walk(native.Scanner(program), data, native.WalkShape(**shape), iovecs)


@needs_native
def test_consecutive_matches_are_one_run_and_a_full_array_stops_the_walk() -> None:
    packets = [bytes([17, i]) for i in range(5)] + [b"\x06"] + [bytes([17])] * 4
    offs = offsets_of(packets)
    walk = walk_of(pcap_of(packets), iovecs=1)
    assert walk.step() is native.Status.FULL  # the first run fills the only iovec...
    assert walk.runs() == [(24, 5 * 18)]  # ...with the five records in a row
    assert walk.control.pos == offs[6] and walk.control.read == 6
    walk.clear()
    assert walk.step() is native.Status.STOP
    assert walk.runs() == [(offs[6], 4 * 17)]
    assert (walk.control.read, walk.control.matched, walk.control.pos) == (10, 9, offs[-1] + 17)
    walk.release()


@needs_native
def test_the_count_stops_just_after_the_last_match_wanted() -> None:
    packets = [bytes([17]), b"\x06", bytes([17]), bytes([17]), b"\x06"]
    walk = walk_of(pcap_of(packets), max_matched=2)
    assert walk.step() is native.Status.ENOUGH
    assert (walk.control.read, walk.control.matched) == (3, 2)
    assert walk.control.pos == offsets_of(packets)[3]
    walk.release()


@needs_native
def test_the_stop_offset_is_a_record_start_bound() -> None:
    packets = [bytes([17]) * 10] * 4
    offs = offsets_of(packets)
    walk = walk_of(pcap_of(packets), stop=offs[1] + 1)  # records starting below it
    assert walk.step() is native.Status.STOP
    assert walk.control.pos == offs[2] and walk.control.read == 2
    walk.release()


def _damaged(how: str) -> tuple[bytes, int]:
    packets = [bytes([17]) * 30] * 3
    data = bytearray(pcap_of(packets))
    third = offsets_of(packets)[2]
    match how:
        case "header-cut":
            del data[third + 9:]
        case "data-cut":
            del data[third + 20:]
        case "caplen-above-limit":
            struct.pack_into("<I", data, third + 8, 262145)
    return bytes(data), third


@needs_native
@pytest.mark.parametrize("how", ["header-cut", "data-cut", "caplen-above-limit"])
def test_damage_stops_the_walk_at_the_damaged_record(how: str) -> None:
    data, third = _damaged(how)
    walk = walk_of(data)
    assert walk.step() is native.Status.DAMAGE
    assert (walk.control.pos, walk.control.read, walk.control.matched) == (third, 2, 2)
    assert walk.runs() == [(24, third - 24)]  # the good records before it are kept
    walk.release()


@needs_native
def test_a_record_longer_than_the_snapshot_is_left_to_the_caller() -> None:
    packets = [bytes([17]) * 10, bytes([17]) * 11, bytes([17]) * 9]
    walk = walk_of(pcap_of(packets), snapshot=10)
    assert walk.step() is native.Status.CLIPPED
    assert walk.control.pos == offsets_of(packets)[1] and walk.control.read == 1
    walk.release()


@needs_native
def test_the_empty_filter_accepts_everything_as_one_run() -> None:
    packets = [bytes([6]) * n for n in (0, 1, 60, 1514)]
    walk = walk_of(pcap_of(packets), None)
    assert walk.step() is native.Status.STOP
    assert walk.runs() == [(24, sum(16 + len(p) for p in packets))]
    walk.release()


@needs_native
def test_a_read_only_map_is_pinned_until_released(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    path.write_bytes(pcap_of([bytes([17])] * 3))
    with path.open("rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        walk = walk_of(buf)
        assert walk.step() is native.Status.STOP and walk.control.matched == 3
        with pytest.raises(BufferError):
            buf.close()  # the machine code still holds its address
        walk.release()
        buf.close()


@needs_native
def test_the_populator_maps_pages_ahead_and_no_further(tmp_path: Path) -> None:
    """It maps the file's pages at most LEAD bytes (plus the step in progress) past the walk,
    and goes on as the walk moves."""
    size = nativepath.LEAD + 8 * nativepath.POPULATE_STEP
    path = tmp_path / "big.bin"
    path.write_bytes(b"\x01" * size)
    with path.open("rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        pinned = native.Pinned(buf)
        populator = nativepath.Populator.start(pinned.address, size)
        try:
            bound = nativepath.LEAD + nativepath.POPULATE_STEP
            assert _settled_rss(pinned.address) <= bound
            populator.walked(size)
            assert _settled_rss(pinned.address, until=size) == size
        finally:
            populator.stop()
            pinned.release()
            buf.close()


def _settled_rss(address: int, until: int | None = None) -> int:
    """The resident size of the mapping at ``address``, once it stops growing (or reaches
    ``until``): the populating thread is then waiting for the walk, or done."""
    last, same = -1, 0
    for _ in range(400):
        now = _rss_of(address)
        same = same + 1 if now == last else 0
        if now == until or (until is None and same >= 5):
            return now
        last = now
        time.sleep(0.01)
    return last


def _rss_of(address: int) -> int:
    lines = Path("/proc/self/smaps").read_text().splitlines()
    for i, line in enumerate(lines):
        if "-" in line.split()[0] and int(line.split("-")[0], 16) == address:
            for field in lines[i + 1:]:
                if field.startswith("Rss:"):
                    return int(field.split()[1]) * 1024
    raise AssertionError("no such mapping")


# -- the driver ---------------------------------------------------------------------------

REFUSALS: list[tuple[Callable[[Path], list[str]], str]] = [
    (lambda d: ["-r", "-", "--count"], "it reads a file, not standard input"),
    (lambda d: ["-r", str(d / "c.pcap"), "-w", str(d / "o"), "--pcapng"], "writing pcapng"),
    (lambda d: ["-r", str(d / "big-endian.pcap"), "--count"], "the capture file is big-endian"),
]


@needs_native
@pytest.mark.parametrize(("argv", "reason"), REFUSALS,
                         ids=["stdin", "to-pcapng", "big-endian"])
def test_engine_native_says_why_it_cannot_do_a_job(tmp_path: Path, argv: Callable[[Path],
                                                   list[str]], reason: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.pcap").write_bytes(pcap_of([bytes([17])]))
    big = bytearray(pcap_of([bytes([17])]))
    struct.pack_into(">IHHiIII", big, 0, 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    struct.pack_into(">IIII", big, 24, 0, 0, 1, 1)
    (tmp_path / "big-endian.pcap").write_bytes(bytes(big))
    assert cli.run([*argv(tmp_path), "--engine", "native", "udp"]) == 1
    err = capsys.readouterr().err
    assert "bpfc: error: --engine native: " in err and reason in err, err


def test_elsewhere_the_engine_is_refused_by_name(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(native, "available", lambda: False)
    (tmp_path / "c.pcap").write_bytes(pcap_of([bytes([17])]))
    assert cli.run(["-r", str(tmp_path / "c.pcap"), "--count", "--engine", "native"]) == 1
    assert "machine code runs only on Linux x86-64" in capsys.readouterr().err
