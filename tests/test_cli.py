"""The ``bpfc`` command line end to end: real processes, exit statuses, exact error text.

Every bad input must give one ``bpfc: error:`` diagnostic and exit status 1, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bpfc
from bpfc import dump
from tests.conftest import REPO


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "bpfc", *args], capture_output=True, text=True,
                          input=stdin, env=env, cwd=REPO, timeout=120)


@pytest.mark.parametrize("flag,fmt", [("-d", "d"), ("-dd", "dd"), ("-ddd", "ddd")])
def test_dump_flags_print_the_compiled_program(flag: str, fmt: str) -> None:
    result = run(flag, "tcp", "port", "80")  # words joined as tcpdump joins them
    assert result.returncode == 0, result.stderr
    assert result.stdout == bpfc.compile("tcp port 80").dump(fmt)  # type: ignore[arg-type]
    assert result.stderr == ""


def test_linktype_and_snaplen_reach_the_compiler() -> None:
    result = run("-ddd", "-y", "linux_sll2", "-s", "1500", "ip6")
    assert result.returncode == 0, result.stderr
    assert result.stdout == bpfc.compile("ip6", "LINUX_SLL2", 1500).dump("ddd")
    returns = {i.k for i in dump.parse_ddd(result.stdout) if i.code == 0x06}
    assert returns == {1500, 0}  # accept returns the snapshot length


def test_unoptimized_flag() -> None:
    optimized, plain = run("-d", "tcp port 80"), run("-O", "-d", "tcp port 80")
    assert plain.returncode == 0
    assert plain.stdout == bpfc.compile("tcp port 80", optimize=False).dump("d")
    assert len(plain.stdout.splitlines()) >= len(optimized.stdout.splitlines())


def test_empty_expression_accepts_everything() -> None:
    result = run("-d")
    assert result.returncode == 0
    assert result.stdout == "(000) ret      #262144\n"


def test_expression_from_file_with_comments(tmp_path: Path) -> None:
    f = tmp_path / "filter.txt"
    f.write_text("# web traffic\ntcp port 80   # plain http\n  or tcp port 443\n")
    result = run("-d", "-F", str(f))
    assert result.returncode == 0, result.stderr
    assert result.stdout == bpfc.compile("tcp port 80 or tcp port 443").dump("d")


@pytest.mark.parametrize(("args", "message", "caret"), [
    pytest.param(["-d", "tpc port 80"], "unknown keyword 'tpc' (did you mean 'tcp'?)", "  ^~~",
                 id="misspelled-keyword"),
    pytest.param(["-d", "tcp.port == 80"], "Wireshark display-filter syntax", "  ^~~~~~~~",
                 id="wireshark-syntax"),
    pytest.param(["-d", "port 70000"], "70000", None, id="port-out-of-range"),
    pytest.param(["-d", "ip broadcast"], "netmask", None, id="broadcast-without-netmask"),
    pytest.param(["-y", "IPV6", "-d", "ip"], "expression rejects all packets", "  ^~",
                 id="rejects-all"),
    pytest.param(["-y", "IEEE802_11", "-d", "tcp"], "IEEE802_11", None, id="unsupported-link"),
    pytest.param(["-y", "EN10M", "-d", "ip"], "did you mean 'EN10MB'", None,
                 id="unknown-linktype"),
    pytest.param(["-y", "LINUX_SLL", "-d", "vlan"], "vlan", None, id="vlan-on-cooked"),
    pytest.param(["-d", "host nosuchhost.invalid"], "nosuchhost.invalid", None,
                 id="unknown-host"),
    pytest.param(["-d", "(tcp"], "", None, id="unbalanced-parenthesis"),
])
def test_bad_filters_get_one_diagnostic_and_status_1(args: list[str], message: str,
                                                     caret: str | None) -> None:
    result = run(*args)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("bpfc: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if caret is not None:
        assert result.stderr.rstrip("\n").splitlines()[-1] == caret


def test_missing_filter_file_is_an_error() -> None:
    result = run("-d", "-F", "/nonexistent/filter")
    assert result.returncode == 1
    assert result.stderr.startswith("bpfc: error: cannot read filter file '/nonexistent/filter'")


def test_file_and_words_together_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("ip")
    result = run("-d", "-F", str(f), "tcp")
    assert result.returncode == 1
    assert "not both" in result.stderr


def test_nothing_to_do_says_what_to_do() -> None:
    result = run("tcp")
    assert result.returncode == 1
    assert "-d" in result.stderr and "-r FILE" in result.stderr


def test_bad_snaplen_is_a_usage_error() -> None:
    result = run("-s", "lots", "-d", "ip")
    assert result.returncode == 2  # argparse's usage status, as for any bad flag
    assert "invalid snapshot length 'lots'" in result.stderr


def test_list_linktypes_marks_what_compiles() -> None:
    result = run("-L")
    assert result.returncode == 0
    lines = {line.split()[1]: line for line in result.stdout.splitlines()[1:]
             if line.strip().startswith("*")}
    assert set(lines) == {"NULL", "EN10MB", "RAW", "LOOP", "LINUX_SLL", "IPV4", "IPV6",
                          "LINUX_SLL2", "PPP", "PPP_SERIAL", "C_HDLC", "SLIP", "FRELAY"}
    assert "IEEE802_11_RADIO" in result.stdout


@pytest.mark.parametrize("fmt", ["d", "dd", "ddd", "asm"])
def test_assemble_reads_every_format_back(tmp_path: Path, fmt: str) -> None:
    program = bpfc.compile("tcp port 80 or icmp")
    source = tmp_path / f"prog.{fmt}"
    source.write_text(program.dump(fmt))  # type: ignore[arg-type]
    result = run("--assemble", str(source), "-ddd")
    assert result.returncode == 0, result.stderr
    assert result.stdout == program.dump("ddd")


def test_assemble_from_stdin() -> None:
    result = run("--assemble", "-", stdin="ldh [12]\njeq #0x800, ok, drop\nok: ret #65535\n"
                                           "drop: ret #0\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "(000) ldh      [12]"


def test_assemble_refuses_what_the_kernel_refuses(tmp_path: Path) -> None:
    source = tmp_path / "bad.d"
    source.write_text("(000) ld       M[3]\n(001) ret      #0\n")
    result = run("--assemble", str(source))
    assert result.returncode == 1
    assert result.stderr == ("bpfc: error: instruction 0: M[3] is read before it is written on "
                             "some path\n")


def test_dot_output_is_graphviz(tmp_path: Path) -> None:
    out = tmp_path / "cfg.dot"
    result = run("--dot", str(out), "tcp port 80")
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("digraph bpfc {") and "accept" in text and "reject" in text


def test_dump_after_shows_each_pass() -> None:
    result = run("--dump-after", "all", "ip and tcp")
    assert result.returncode == 0, result.stderr
    passes = [line for line in result.stdout.splitlines() if line.startswith("; after ")]
    from bpfc.optimize import PASSES

    assert {p.removeprefix("; after ") for p in passes} >= {name for name, _ in PASSES}


def test_debug_shows_the_traceback() -> None:
    result = run("--debug", "-d", "tpc port 80")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "FilterSyntaxError" in result.stderr


@pytest.mark.parametrize("users", [None, "4"])
def test_main_runs_without_blas_threads_or_the_collector(users: str | None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``bpfc`` asks OpenBLAS (which numpy loads) for no thread pool, unless the user chose a
    size, and runs without the cyclic collector (it ends in ``os._exit``)."""
    import gc

    from bpfc import cli

    if users is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", users)
    seen: dict[str, object] = {}

    def fake_run(argv: list[str]) -> int:
        seen.update(threads=os.environ.get("OPENBLAS_NUM_THREADS"), collecting=gc.isenabled())
        return 3

    def fake_exit(status: int) -> None:
        raise SystemExit(status)

    monkeypatch.setattr(cli, "run", fake_run)
    monkeypatch.setattr(os, "_exit", fake_exit)
    try:
        with pytest.raises(SystemExit) as leaving:
            cli.main()
    finally:
        gc.enable()
    assert leaving.value.code == 3
    assert seen == {"threads": users or "1", "collecting": False}


def test_a_live_capture_collects_cycles_again(capsys: pytest.CaptureFixture[str]) -> None:
    """``cli.main`` turns the collector off for its short commands; a capture can run for
    hours, so ``live.run`` turns it back on (here through ``-D``, which lists devices)."""
    import argparse
    import gc

    from bpfc import live

    gc.disable()
    try:
        assert live.run(argparse.Namespace(list_interfaces=True)) == 0
        assert gc.isenabled()
    finally:
        gc.enable()
    assert "lo" in capsys.readouterr().out
