"""The emitter and the optimizer against the CFG's reference semantics (``cfg.evaluate``).

Random predicates over random values are built into CFGs, emitted with and without register
reuse, optimized, and run by the VM over random packets: every route must give the value the
CFG itself means, and every program must pass the kernel's checker.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bpfc import cfg, emit, isa, vm
from bpfc.optimize import optimize

SNAPLEN = 262144

offsets = st.integers(min_value=0, max_value=40)
small_consts = st.sampled_from([0, 1, 2, 4, 6, 14, 17, 0x800, 0x86DD, 0xFF, 0xFFFFFFFF, 1500])


def values(depth: int = 2) -> st.SearchStrategy[cfg.Value]:
    leaves: st.SearchStrategy[cfg.Value] = st.one_of(
        small_consts.map(cfg.Const),
        st.just(cfg.PacketLen()),
        st.builds(cfg.load, offsets, st.sampled_from([1, 2, 4])),
        st.builds(lambda o: cfg.HeaderLen(cfg.Const(o)), offsets),
        st.builds(lambda o, k, s: cfg.Load(cfg.add(cfg.HeaderLen(cfg.Const(o)), k), s),
                  offsets, offsets, st.sampled_from([1, 2, 4])),
    )
    if depth == 0:
        return leaves
    sub = values(depth - 1)
    return st.one_of(
        leaves,
        st.builds(cfg.Alu, st.sampled_from(list(cfg.ALU_CODES)), sub, sub),
        st.builds(cfg.Neg, sub),
        st.builds(lambda v, k: cfg.Load(cfg.add(v, k), 1), sub, offsets),
    )


tests = st.builds(cfg.Test, values(), st.sampled_from(["==", ">", ">=", "&"]),
                  st.one_of(small_consts.map(cfg.Const), values(1)))


def preds(depth: int = 3) -> st.SearchStrategy[cfg.Pred]:
    if depth == 0:
        return tests
    sub = preds(depth - 1)
    return st.one_of(
        tests,
        st.builds(cfg.And, sub, sub),
        st.builds(cfg.Or, sub, sub),
        st.builds(cfg.Not, sub),
    )


packets = st.lists(st.binary(min_size=0, max_size=64), min_size=1, max_size=6)


def _valid_shifts(value: cfg.Value) -> bool:
    """Constant divisions by zero are refused by the compiler before emission; keep them out."""
    match value:
        case cfg.Alu(op="/" | "%", b=cfg.Const(k=0)):
            return False
    return all(_valid_shifts(c) for c in cfg.children(value))


def _ok(pred: cfg.Pred) -> bool:
    match pred:
        case cfg.Test(value=v, operand=o):
            return _valid_shifts(v) and _valid_shifts(o)
        case cfg.And(left=a, right=b) | cfg.Or(left=a, right=b):
            return _ok(a) and _ok(b)
        case cfg.Not(operand=a):
            return _ok(a)
    return True


@given(preds(), packets)
def test_emitted_programs_mean_what_the_cfg_means(pred: cfg.Pred, pkts: list[bytes]) -> None:
    if not _ok(pred):
        return
    b = cfg.Builder()
    root = cfg.build(b, pred, b.ret(SNAPLEN), b.ret(0))
    optimized = optimize(root, b)
    plain = emit.emit(root, reuse_registers=False)
    reused = emit.emit(root)
    best = emit.emit(optimized)
    for program in (plain, reused, best):
        isa.check(program)
    assert len(best) <= len(plain)
    for pkt in pkts:
        expected = cfg.evaluate(root, pkt)
        assert cfg.evaluate(optimized, pkt) == expected
        assert vm.run(plain, pkt) == expected
        assert vm.run(reused, pkt) == expected
        assert vm.run(best, pkt) == expected


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 0xFFFF)), min_size=1, max_size=12),
       packets)
def test_variables_survive_merging_paths(steps: list[tuple[int, int]], pkts: list[bytes]) -> None:
    """``Let`` chains (protochain's shape): each step reads the previous variable's value."""
    b = cfg.Builder()
    var = b.new_var()
    pred: cfg.Pred = cfg.Test(cfg.Load(cfg.add(var, 0), 1), ">", cfg.Const(0x40))
    for offset, k in reversed(steps):
        pred = cfg.Let(var, cfg.add(cfg.Alu("&", cfg.load(offset % 40, 1), cfg.Const(0x1F)), 0),
                       cfg.Or(cfg.Test(cfg.load(offset % 40, 2), "==", cfg.Const(k)), pred))
    root = cfg.build(b, pred, b.ret(SNAPLEN), b.ret(0))
    program = emit.emit(optimize(root, b))
    isa.check(program)
    for pkt in pkts:
        assert vm.run(program, pkt) == cfg.evaluate(root, pkt)


def test_long_jumps_go_through_shared_islands() -> None:
    """400 tests jumping to one far accept: copies of ``ret`` placed within reach serve them all,
    a couple of instructions in all instead of a ``ja`` per jump."""
    b = cfg.Builder()
    ether = cfg.Test(cfg.load(12, 2), "==", cfg.Const(0x800))
    hosts = [cfg.Test(cfg.load(26, 4), "==", cfg.Const(0x0A000000 + i)) for i in range(400)]
    root = cfg.build(b, cfg.And(ether, cfg.any_of(*hosts)), b.ret(SNAPLEN), b.ret(0))
    program = emit.emit(root)
    isa.check(program)
    assert all(i.jt <= 255 and i.jf <= 255 for i in program)
    rets = [i for i in program if i.code == isa.BPF_RET | isa.BPF_K]
    assert 2 < len(rets) <= 6
    assert len(program) <= 2 + 1 + 400 + 6
    frame = bytearray(60)
    frame[12:14] = b"\x08\x00"
    for i in (0, 1, 200, 399, 400):
        frame[26:30] = (0x0A000000 + i).to_bytes(4, "big")
        assert vm.run(program, bytes(frame)) == (SNAPLEN if i < 400 else 0)
    frame[12:14] = b"\x86\xdd"
    assert vm.run(program, bytes(frame)) == 0


def test_far_targets_that_are_not_returns_get_a_shared_ja() -> None:
    """A long chain whose far target is a test (not a return) reaches it through ``ja`` islands."""
    b = cfg.Builder()
    tail = cfg.Test(cfg.load(0, 1), "==", cfg.Const(7))
    chain = [cfg.Test(cfg.load(26, 4), "==", cfg.Const(i)) for i in range(600)]
    root = cfg.build(b, cfg.And(cfg.any_of(*chain), tail), b.ret(SNAPLEN), b.ret(0))
    program = emit.emit(root)
    isa.check(program)
    jas = [i for i in program if i.code == isa.BPF_JMP | isa.BPF_JA]
    assert 1 <= len(jas) <= 8
    frame = bytearray(40)
    for first, k, expected in ((7, 0, SNAPLEN), (7, 599, SNAPLEN), (6, 300, 0), (7, 600, 0)):
        frame[0] = first
        frame[26:30] = k.to_bytes(4, "big")
        assert vm.run(program, bytes(frame)) == expected


def test_registers_are_reused_across_blocks() -> None:
    """After ``ldh [12]; jeq #0x800`` the false edge still has [12] in A: no second load."""
    b = cfg.Builder()
    et = cfg.load(12, 2)
    pred = cfg.Or(cfg.Test(et, "==", cfg.Const(0x800)), cfg.Test(et, "==", cfg.Const(0x86DD)))
    program = emit.emit(cfg.build(b, pred, b.ret(SNAPLEN), b.ret(0)))
    loads = [i for i in program if i.code == isa.BPF_LD | isa.BPF_H | isa.BPF_ABS]
    assert len(loads) == 1
    assert len(program) == 5


def test_threading_removes_tests_decided_on_every_path() -> None:
    b = cfg.Builder()
    et = cfg.load(12, 2)
    ip = cfg.Test(et, "==", cfg.Const(0x800))
    # ``ip and ether[12:2] > 1500``: the second test is implied by the first.
    root = cfg.build(b, cfg.And(ip, cfg.Test(et, ">", cfg.Const(1500))), b.ret(SNAPLEN), b.ret(0))
    optimized = optimize(root, b)
    assert len(cfg.topological(optimized)) == 3
    assert len(cfg.topological(root)) == 4


def _host_list_cfg(b: cfg.Builder, hosts: list[int]) -> cfg.Node:
    """``host h1 or host h2 ...`` over IPv4 only, as lowering builds it."""
    ip = cfg.Test(cfg.load(12, 2), "==", cfg.Const(0x800))
    per_host = [cfg.all_of(ip, cfg.Or(cfg.Test(cfg.load(26, 4), "==", cfg.Const(h)),
                                      cfg.Test(cfg.load(30, 4), "==", cfg.Const(h))))
                for h in hosts]
    return cfg.build(b, cfg.any_of(*per_host), b.ret(SNAPLEN), b.ret(0))


def test_reordered_chains_keep_verdicts_on_truncated_packets() -> None:
    """Only tests whose loads already succeeded move: a packet cut between the source and the
    destination address is rejected exactly as the unoptimized program rejects it."""
    b = cfg.Builder()
    hosts = [0x0A000001 + i for i in range(5)]
    root = _host_list_cfg(b, hosts)
    optimized = optimize(root, b)
    plain, best = emit.emit(root, reuse_registers=False), emit.emit(optimized)
    assert len(best) < len(plain)
    for src, dst in [(hosts[2], 0), (0, hosts[3]), (hosts[0], 0), (0, 0), (hosts[4], hosts[1])]:
        frame = bytearray(60)
        frame[12:14] = b"\x08\x00"
        frame[26:30] = src.to_bytes(4, "big")
        frame[30:34] = dst.to_bytes(4, "big")
        for cut in range(0, 61):
            pkt = bytes(frame[:cut])
            expected = cfg.evaluate(root, pkt)
            assert vm.run(plain, pkt) == expected
            assert vm.run(best, pkt) == expected, (hex(src), hex(dst), cut)


def _transport_cfg(b: cfg.Builder) -> cfg.Node:
    """``tcp port 80``'s shape: IPv4 and IPv6 set one transport-offset variable, then share the
    port tests that read through it."""
    t = b.new_var()
    et = cfg.load(12, 2)
    port = cfg.Test(cfg.Load(cfg.add(t, 14), 2), "==", cfg.Const(80))
    v4 = cfg.all_of(cfg.Test(et, "==", cfg.Const(0x800)), cfg.Test(cfg.load(23, 1), "==",
                                                                    cfg.Const(6)),
                    cfg.Let(t, cfg.HeaderLen(cfg.Const(14)), port))
    v6 = cfg.all_of(cfg.Test(et, "==", cfg.Const(0x86DD)), cfg.Test(cfg.load(20, 1), "==",
                                                                     cfg.Const(6)),
                    cfg.Let(t, cfg.Const(40), port))
    return cfg.build(b, cfg.Or(v6, v4), b.ret(SNAPLEN), b.ret(0))


def test_a_variable_read_as_an_index_lives_in_x() -> None:
    b = cfg.Builder()
    root = optimize(_transport_cfg(b), b)
    program = emit.emit(root)
    isa.check(program)
    codes = [i.code for i in program]
    assert codes.count(isa.BPF_LD | isa.BPF_H | isa.BPF_IND) == 1  # one shared port load
    assert isa.BPF_ST not in codes and isa.BPF_LDX | isa.BPF_W | isa.BPF_MEM not in codes
    assert isa.BPF_LDX | isa.BPF_W | isa.BPF_IMM in codes  # ldx #40
    assert isa.BPF_LDX | isa.BPF_B | isa.BPF_MSH in codes  # ldxb 4*([14]&0xf)
    frame = bytearray(80)
    for ethertype, proto_at, port_at in ((0x800, 23, 34), (0x86DD, 20, 54)):
        frame[12:14] = ethertype.to_bytes(2, "big")
        frame[14] = 0x45
        frame[proto_at] = 6
        for port, verdict in ((80, SNAPLEN), (81, 0)):
            frame[port_at:port_at + 2] = port.to_bytes(2, "big")
            for cut in (len(frame), port_at + 1):
                pkt = bytes(frame[:cut])
                assert vm.run(program, pkt) == cfg.evaluate(root, pkt)
                assert vm.run(program, pkt) == (verdict if cut == len(frame) else 0)


def test_variables_always_found_in_a_register_get_no_store() -> None:
    """A variable every reader finds in A (protochain's next protocol) is never stored."""
    b = cfg.Builder()
    proto = b.new_var()
    pred = cfg.Let(proto, cfg.load(20, 1), cfg.Or(cfg.Test(proto, "==", cfg.Const(6)),
                                                   cfg.Test(proto, "==", cfg.Const(17))))
    root = cfg.build(b, pred, b.ret(SNAPLEN), b.ret(0))
    program = emit.emit(root)
    assert [i.code for i in program].count(isa.BPF_ST) == 0
    assert len(program) == 5  # ldb [20]; jeq #6; jeq #17; ret; ret
    plain = emit.emit(root, reuse_registers=False)
    assert isa.BPF_ST in [i.code for i in plain]


def _returns_only_at_the_end(program: list[isa.Insn]) -> bool:
    rets = [i for i, insn in enumerate(program) if insn.code == isa.BPF_RET | isa.BPF_K]
    return rets == list(range(rets[0], len(program)))


def test_returns_go_last_when_scratch_memory_is_read() -> None:
    """The kernel checks scratch reads in one linear pass in which a ``ret`` passes its state on
    to the next instruction: a ``ret #0`` reached before any store, placed before a block that
    reads M[], gets a correct program refused. So returns go last, and far returns are reached
    through ``ja`` islands rather than copies of the ``ret``, when the program reads M[]."""
    b = cfg.Builder()
    v = b.new_var()
    reads_v = b.branch(cfg.Test(v, "==", cfg.Const(5)), b.ret(1), b.ret(2))
    second = b.branch(cfg.Test(cfg.load(3, 1), "==", cfg.Const(7)), reads_v, b.ret(0))
    # Depth first, ``ret #0`` comes right before ``reads_v``, and is also reached from the
    # root, where nothing was stored yet.
    small = b.branch(cfg.Test(cfg.load(0, 1), "==", cfg.Const(1)),
                     b.assign(v.id, cfg.load(2, 2), second), b.ret(0))
    for reuse in (True, False):
        program = emit.emit(small, reuse_registers=reuse)
        isa.check(program)
        assert _returns_only_at_the_end(program)
        for pkt in (bytes([1, 0, 0, 5, 7]), bytes([1, 0, 0, 6, 7]), bytes([0, 0, 0, 5, 7])):
            assert vm.run(program, pkt) == cfg.evaluate(small, pkt)
    b = cfg.Builder()
    var = b.new_var()
    first = cfg.Test(cfg.load(0, 1), "==", cfg.Const(1))
    behind_ip = cfg.add(cfg.HeaderLen(cfg.Const(14)), 0)  # X is busy: the variable goes to M[]
    body = cfg.any_of(*(cfg.Test(cfg.Alu("+", var, cfg.Load(cfg.add(behind_ip, i % 20), 1)),
                                 "==", cfg.Const(i)) for i in range(150)))
    root = cfg.build(b, cfg.And(cfg.Not(first), cfg.Let(var, cfg.load(2, 2), body)),
                     b.ret(SNAPLEN), b.ret(0))
    for reuse in (True, False):
        program = emit.emit(root, reuse_registers=reuse)
        isa.check(program)
        codes = {i.code for i in program}
        assert codes & {isa.BPF_LD | isa.BPF_MEM, isa.BPF_LDX | isa.BPF_W | isa.BPF_MEM}
        assert _returns_only_at_the_end(program)
        assert any(i.code == isa.BPF_JMP | isa.BPF_JA for i in program)  # far jumps via islands
        for pkt in (bytes(60), b"\x01" + bytes(59), bytes([0, 0, 0, 5, 0x45]) + bytes(55)):
            assert vm.run(program, pkt) == cfg.evaluate(root, pkt)


def test_common_block_ends_are_shared() -> None:
    """``ld [38]; and #m; jeq #k`` and ``ld [30]; and #m; jeq #k`` with the same targets: the
    first keeps its load and jumps into the second's ``and``."""
    b = cfg.Builder()
    mask = cfg.Const(0xFF000000)

    def net(offset: int) -> cfg.Test:
        return cfg.Test(cfg.Alu("&", cfg.load(offset, 4), mask), "==", cfg.Const(0x0A000000))

    arp = cfg.all_of(cfg.Test(cfg.load(12, 2), "==", cfg.Const(0x806)),
                     cfg.Or(net(28), net(38)))
    ip = cfg.all_of(cfg.Test(cfg.load(12, 2), "==", cfg.Const(0x800)), cfg.Or(net(26), net(30)))
    root = optimize(cfg.build(b, cfg.Or(ip, arp), b.ret(SNAPLEN), b.ret(0)), b)
    program = emit.emit(root)
    isa.check(program)
    ands = [i for i in program if i.code == isa.BPF_ALU | isa.BPF_AND | isa.BPF_K]
    assert len(ands) == 3  # four masked tests, two of them sharing their end
    frame = bytearray(42)
    for ethertype, offset in ((0x800, 26), (0x800, 30), (0x806, 28), (0x806, 38)):
        for address, verdict in ((0x0A010203, SNAPLEN), (0x0B010203, 0)):
            frame[:] = bytes(42)
            frame[12:14] = ethertype.to_bytes(2, "big")
            frame[offset:offset + 4] = address.to_bytes(4, "big")
            assert vm.run(program, bytes(frame)) == verdict


def test_a_block_that_needs_a_ja_shares_its_last_instruction() -> None:
    """``add #40; tax; ja L`` and a later ``mul #4; tax`` falling into ``L``: the ``ja`` needed
    anyway goes to the later ``tax`` instead, one instruction less (a one-instruction common
    end is only worth it when it adds no jump)."""
    b = cfg.Builder()
    v = b.new_var()
    join = b.branch(cfg.Test(cfg.load(3, 1), "==", cfg.Const(7)),
                    b.branch(cfg.Test(cfg.load(4, 1), "==", v), b.ret(SNAPLEN), b.ret(0)),
                    b.ret(0))
    second = b.branch(cfg.Test(cfg.load(0, 1), "==", cfg.Const(2)),
                      b.assign(v.id, cfg.Alu("*", cfg.load(2, 1), cfg.Const(4)), join), b.ret(0))
    root = b.branch(cfg.Test(cfg.load(0, 1), "==", cfg.Const(1)),
                    b.assign(v.id, cfg.add(cfg.load(1, 1), 40), join), second)
    program = emit.emit(root)
    isa.check(program)
    ends = [i for i, insn in enumerate(program) if insn.code == isa.BPF_MISC | isa.BPF_TAX]
    assert len(ends) == 1  # both assignments end in the one ``tax``
    ja = [insn for insn in program if insn.code == isa.BPF_JMP | isa.BPF_JA]
    assert len(ja) == 1
    for first in (1, 2, 3):
        for mul, add, seven, value in ((5, 0, 7, 20), (5, 0, 7, 41), (0, 1, 7, 41), (0, 1, 8, 41)):
            pkt = bytes([first, add, mul, seven, value])
            assert vm.run(program, pkt) == cfg.evaluate(root, pkt)
            for cut in range(5):
                assert vm.run(program, pkt[:cut]) == cfg.evaluate(root, pkt[:cut])
