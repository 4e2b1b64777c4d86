"""``--dump-after`` and ``--dot``, the flags that show what the compiler did, end to end.

A misspelt pass name must be an error that lists the names (it used to print nothing); ``--dot``
with ``--dump-after`` draws one Graphviz cluster per stage the text dump shows; and the README's
picture (``docs/tcp-port-80.dot``) must be what bpfc draws today, so it cannot go stale.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bpfc import cfg, dot
from bpfc.compiler import compile_stages
from bpfc.optimize import PASSES
from tests.conftest import REPO

PASS_NAMES = [name for name, _ in PASSES]
VALID = ", ".join(["all", "lower", *PASS_NAMES])
DOCS = REPO / "docs"


def bpfc(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "bpfc", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def svg_of(text: str) -> str:
    renderer = shutil.which("dot")
    if renderer is None:
        pytest.skip("graphviz's dot is not installed")
    done = subprocess.run([renderer, "-Tsvg"], input=text, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0 and "<svg" in done.stdout, done.stderr
    return done.stdout


# ---------------------------------------------------------------------------------------------
# Unknown names


@pytest.mark.parametrize("args,message", [
    pytest.param(["--dump-after", "bogus"],
                 f"unknown pass 'bogus' for --dump-after; the names are: {VALID}", id="bogus"),
    pytest.param(["--dump-after", "jump-thread"],
                 "unknown pass 'jump-thread' for --dump-after (did you mean 'jump-threading'?); "
                 f"the names are: {VALID}", id="misspelt-suggests"),
    pytest.param(["--dump-after", "all", "--dump-after", "Lower"],
                 "unknown pass 'Lower' for --dump-after (did you mean 'lower'?); "
                 f"the names are: {VALID}", id="one-bad-among-good"),
    pytest.param(["--dump-after", "nope", "--dot", "-"],
                 f"unknown pass 'nope' for --dump-after; the names are: {VALID}",
                 id="with-dot"),
    pytest.param(["-O", "--dump-after", "jump-threading"],
                 "--dump-after names an optimizer pass, but -O turns the optimizer off: use "
                 "--dump-after lower", id="pass-without-optimizer"),
    pytest.param(["--dot", "-", "-d"],
                 "--dot - and -d/--asm would both write to standard output: write the picture "
                 "to a file with --dot FILE", id="dot-stdout-and-dump"),
])
def test_bad_debug_flags_are_one_diagnostic(args: list[str], message: str) -> None:
    result = bpfc(*args, "tcp port 80")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"bpfc: error: {message}\n")


@pytest.mark.parametrize("name", ["all", "lower", *PASS_NAMES])
def test_every_listed_name_is_accepted(name: str) -> None:
    result = bpfc("--dump-after", name, "tcp port 80")
    assert result.returncode == 0, result.stderr
    shown = headers(result.stdout)
    if name == "all":
        assert shown[:1 + len(PASS_NAMES)] == ["lower", *PASS_NAMES]
    else:
        assert shown[0] == name and {h.split(" ")[0] for h in shown} == {name}


# ---------------------------------------------------------------------------------------------
# Clusters


def clusters(text: str) -> list[tuple[str, str]]:
    """``(label, body with the pN prefixes removed)`` per cluster of a ``to_dot_passes``
    picture."""
    found = re.findall(r'  subgraph cluster_(\d+) \{\n    label="([^"]*)"; style=dashed;\n'
                       r'(.*?)\n  \}', text, flags=re.S)
    assert [int(i) for i, _, _ in found] == list(range(len(found)))
    return [(label, re.sub(rf"\bp{i}n", "n", body)) for i, label, body in found]


def headers(text: str) -> list[str]:
    return [line.removeprefix("; after ") for line in text.splitlines()
            if line.startswith("; after ")]


@pytest.mark.parametrize("expr,wanted", [
    pytest.param("tcp port 80", ["all"], id="tcp-port-80-all"),
    pytest.param("tcp port 80", ["jump-threading"], id="one-pass-every-round"),
    pytest.param("udp and host 10.0.0.1", ["lower", "hoist-assigns"], id="lower-and-a-pass"),
    pytest.param("ip6 and udp", ["lower"], id="lower-only"),
])
def test_dot_with_dump_after_draws_one_cluster_per_stage(tmp_path: Path, expr: str,
                                                         wanted: list[str]) -> None:
    out = tmp_path / "stages.dot"
    flags = [arg for name in wanted for arg in ("--dump-after", name)]
    result = bpfc(*flags, "--dot", str(out), expr)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    drawn = clusters(text)

    # The stages, straight from the compiler: lowering, then every pass as it ran.
    ran: list[tuple[str, cfg.Node]] = []
    stages = compile_stages(expr, after_pass=lambda name, root: ran.append((name, root)))
    expected = [("lower", stages.unoptimized)] if {"all", "lower"} & set(wanted) else []
    expected += [(name, root) for name, root in ran if "all" in wanted or name in wanted]

    assert len(drawn) == len(expected) == len(headers(result.stdout)) > 0
    for i, ((label, body), (name, root), header) in enumerate(
            zip(drawn, expected, headers(result.stdout), strict=True)):
        assert label.startswith(f"{i}: {header}") and header.startswith(name), (label, header)
        nodes = cfg.topological(root)
        assert body.count("shape=box") == sum(not isinstance(n, cfg.Return) for n in nodes)
        assert body.count("shape=ellipse") == sum(isinstance(n, cfg.Return) for n in nodes)
        # "unchanged" says exactly when the stage drew the same graph as the one before it.
        same = i > 0 and body == drawn[i - 1][1]
        assert label.endswith(", unchanged") == same, (label, i)
    svg_of(text)


def test_dot_to_stdout_with_dump_after_is_only_the_picture() -> None:
    result = bpfc("--dump-after", "all", "--dot", "-", "tcp port 80")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph bpfc {") and result.stdout.endswith("}\n")
    assert headers(result.stdout) == []
    assert len(clusters(result.stdout)) == len(headers(bpfc("--dump-after", "all",
                                                            "tcp port 80").stdout))
    svg_of(result.stdout)


def test_plain_dot_is_the_final_graph() -> None:
    result = bpfc("--dot", "-", "udp and host 10.0.0.1")
    assert result.returncode == 0, result.stderr
    final = compile_stages("udp and host 10.0.0.1").optimized
    assert result.stdout == dot.to_dot(final, title="udp and host 10.0.0.1")
    assert "subgraph" not in result.stdout


def test_stages_before_a_compile_error_are_still_shown() -> None:
    result = bpfc("--dump-after", "all", "ip and arp")
    assert result.returncode == 1
    assert result.stderr.startswith("bpfc: error: expression rejects all packets")
    assert headers(result.stdout)[:len(PASS_NAMES)] == PASS_NAMES
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# The README's picture


def test_readme_picture_source_is_what_bpfc_draws_today() -> None:
    result = bpfc("--dot", "-", "tcp port 80")
    assert result.returncode == 0, result.stderr
    assert (DOCS / "tcp-port-80.dot").read_text() == result.stdout, \
        "docs/tcp-port-80.dot is stale: run docs/render.sh"
    assert "![" in (REPO / "README.md").read_text().split("docs/tcp-port-80.svg")[0][-400:]


def test_readme_picture_shows_the_labels_of_its_source() -> None:
    source = (DOCS / "tcp-port-80.dot").read_text()
    committed = (DOCS / "tcp-port-80.svg").read_text()
    labels = sorted(re.findall(r'label="([^"]*)"', source))
    texts = sorted(re.findall(r">([^<]*)</text>", committed))
    unescape = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
    assert sorted(re.sub("&amp;|&lt;|&gt;", lambda m: unescape[m[0]], t) for t in texts) == labels
    # and graphviz draws the same words from the source today
    assert sorted(re.findall(r">([^<]*)</text>", svg_of(source))) == texts
