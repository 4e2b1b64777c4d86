"""The numpy batch engine (``bpfc.vector``), against its oracles.

The engine must return exactly what the reference VM returns, for every checked program and
packet (hypothesis, and thousands of seeded cases), the kernel's test vectors, and libpcap's own
programs over the corpus (libpcap's ``bpf_filter`` through pcapy is the oracle there). The record
index has its own tests (``test_recindex.py``).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfc import isa, vector, vm
from bpfc.errors import ProgramError
from bpfc.isa import Insn

from . import strategies as S

VECTORS = S.kernel_vectors()
PORTABLE = [v for v in VECTORS if v.category == "portable"]
LINUX_ONLY = [v for v in VECTORS if v.category not in ("portable", "validator")]


def _run_one(insns: tuple[Insn, ...] | list[Insn], packet: bytes, wirelen: int) -> int:
    return int(vector.run(insns, vector.pack([packet], [wirelen]))[0])


@pytest.mark.parametrize("vector_case", PORTABLE, ids=[v.id for v in PORTABLE])
def test_portable_kernel_vectors(vector_case: S.Vector) -> None:
    v = vector_case
    assert _run_one(v.insns, v.packet, v.wirelen) == v.expected


@pytest.mark.parametrize("vector_case", LINUX_ONLY, ids=[v.id for v in LINUX_ONLY])
def test_linux_only_vectors_give_libpcaps_result(vector_case: S.Vector) -> None:
    v = vector_case
    assert v.libpcap_result is not None
    assert _run_one(v.insns, v.packet, v.wirelen) == v.libpcap_result


@settings(max_examples=300)
@given(S.checked_programs(S.Options(max_insns=40)),
       st.lists(st.tuples(S.packets(), st.integers(0, 3)), min_size=1, max_size=24))
def test_agrees_with_vm(program: list[Insn], cases: list[tuple[bytes, int]]) -> None:
    """Random checked programs over a batch of random packets (wire lengths at or a little
    above the captured ones): every verdict is the VM's."""
    packets = [p for p, _ in cases]
    wirelens = [len(p) + extra for p, extra in cases]
    got = vector.run(program, vector.pack(packets, wirelens)).tolist()
    assert got == [vm.run(program, p, w) for p, w in zip(packets, wirelens, strict=True)]


def test_agrees_with_vm_bulk() -> None:
    """Many more seeded cases than hypothesis runs: trees with shared tails, flat programs with
    mid-program returns, big batches where every instruction sees split and merged groups."""
    for seed in range(1500):
        c = S.RandomChooser(seed)
        program = S.checked_program(c, S.Options(max_insns=48))
        packets = [S.packet(c) for _ in range(48)]
        wirelens = [len(p) + c.integer(0, 2) for p in packets]
        got = vector.run(program, vector.pack(packets, wirelens)).tolist()
        want = [vm.run(program, p, w) for p, w in zip(packets, wirelens, strict=True)]
        assert got == want, seed


LONG_LOADS = [
    pytest.param([Insn(0x30, 0, 0, 200), Insn(0x16)], id="ldb-200-past-head"),
    pytest.param([Insn(0x20, 0, 0, 110), Insn(0x16)], id="ld-110-straddles-head"),
    pytest.param([Insn(0x01, 0, 0, 150), Insn(0x48, 0, 0, 40), Insn(0x16)], id="ldh-x-190"),
    pytest.param([Insn(0xB1, 0, 0, 0), Insn(0x40, 0, 0, 100), Insn(0x16)], id="ld-msh-x-100"),
    pytest.param([Insn(0x80), Insn(0x07), Insn(0x50, 0, 0, 0xFFFFFFFF), Insn(0x16)],
                 id="ldb-x-wraps-never"),
]


@pytest.mark.parametrize("program", LONG_LOADS)
def test_loads_beyond_the_head_matrix(program: list[Insn]) -> None:
    """Loads past the head matrix's window go back to the packet bytes, with the same bounds
    checks; short and long packets in one batch."""
    rng = random.Random(5)
    packets = [rng.randbytes(n) for n in (0, 1, 60, 111, 112, 113, 150, 191, 192, 300, 1514)]
    packets = [bytes([0x4F]) + p[1:] if p else p for p in packets]
    got = vector.run(program, vector.pack(packets)).tolist()
    assert got == [vm.run(program, p) for p in packets]


def test_empty_batch_and_refused_program() -> None:
    assert len(vector.run([Insn(isa.BPF_RET | isa.BPF_K, 0, 0, 1)], vector.pack([]))) == 0
    with pytest.raises(ProgramError):
        vector.run([Insn(isa.BPF_LD | isa.BPF_IMM)], vector.pack([b""]))


# -- libpcap's programs over the corpus --------------------------------------------------------

DLTS = (1, 113, 12, 0, 108, 276, 228, 229)


@pytest.fixture(scope="module")
def libpcap_programs() -> list[S.LibpcapProgram]:
    pytest.importorskip("pcapy")
    if not (S.CORPUS / "expressions.txt").exists():
        pytest.skip("corpus not available")
    return S.libpcap_corpus_programs(DLTS)[0]


def test_agrees_with_libpcap_on_corpus(libpcap_programs: list[S.LibpcapProgram]) -> None:
    """Every program libpcap emits for the corpus expressions, over every corpus packet of its
    link type in one batch: the verdicts are libpcap's."""
    packets_by_dlt = S.corpus_packets()
    batches = {dlt: vector.pack(ps) for dlt, ps in packets_by_dlt.items()}
    checked = 0
    for dlt, expr, program, libpcap_filter in libpcap_programs:
        packets = packets_by_dlt.get(dlt, [])
        if not packets:
            continue
        got = vector.run(program, batches[dlt]).tolist()
        assert got == [libpcap_filter(p) for p in packets], (dlt, expr)
        checked += len(packets)
    assert checked > 100_000
