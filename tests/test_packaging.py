"""Packaging: the wheel carries the grammar, and the console script and ``python -m`` both run."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(out), str(REPO)],
        check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("bpfc-*.whl")
    return built


def test_wheel_ships_the_grammar(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "bpfc/grammar/pcap-filter.lark" in names
    assert "bpfc/cli.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "bpfc = bpfc.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_grammar_is_the_source_grammar(wheel: Path) -> None:
    shipped = zipfile.ZipFile(wheel).read("bpfc/grammar/pcap-filter.lark")
    assert shipped == (REPO / "grammar" / "pcap-filter.lark").read_bytes()


def test_python_dash_m_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "bpfc", "-L"], capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 0
    assert "EN10MB" in result.stdout
