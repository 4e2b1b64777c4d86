"""Optimizer benchmark: program sizes and compile-time scaling, bpfc next to libpcap, one run.

Prints
  * per expression, libpcap 1.10.3's optimized instruction count (``pcap_compile`` on a savefile
    handle, through tests/diffkit.py), bpfc's, and the ratio: the corpus's expressions on
    EN10MB, then every (row, link type) of the differential table tests/expressions/
    compile_diff.txt;
  * totals, and how many are smaller / equal / larger;
  * every case where bpfc is larger, with the reason proved on libpcap's program (the kernel
    refuses it, libpcap's optimizer changes libpcap's own verdict on a packet, or a documented
    libpcap bug), as tests/test_optimize.py checks;
  * compile time and size for ``host h1 or ... hN`` (N = 10, 100, 1000) and ``port p1 or ...
    pN`` (N = 10, 100, 500), bpfc next to libpcap.

``--summary`` prints only the totals, the larger cases and the scaling table.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import bpfc  # noqa: E402
from bpfc.errors import BpfcError  # noqa: E402
from tests.diffkit import (  # noqa: E402
    LibpcapProgram,
    libpcap_compile,
    libpcap_version,
    load_table,
)
from tests.test_optimize import _hosts, _ports, why_libpcap_is_smaller  # noqa: E402

SHARED = Path(os.environ.get("BPFC_SHARED", REPO.parent / "shared"))
CORPUS_EXPRESSIONS = SHARED / "corpus" / "expressions.txt"
TABLE = REPO / "tests" / "expressions" / "compile_diff.txt"
SNAPLEN = 262144


@dataclass(frozen=True, slots=True)
class Case:
    group: str
    ident: str
    dlt: str
    expr: str
    snaplen: int = SNAPLEN
    netmask: int = 0


@dataclass(frozen=True, slots=True)
class Result:
    case: Case
    theirs: int
    ours: int
    why: str | None

    @property
    def protochain(self) -> bool:
        return "protochain" in self.case.expr


def cases() -> list[Case]:
    out = []
    if CORPUS_EXPRESSIONS.exists():
        lines = [line.strip() for line in CORPUS_EXPRESSIONS.read_text().splitlines()]
        out += [Case("corpus", f"E{i}", "EN10MB", e) for i, e in enumerate(lines, 1) if e]
    for row in load_table(TABLE):
        if row.reference is None:  # rows libpcap 1.10 cannot compile as written (vxlan)
            out += [Case("table", row.id, dlt, row.expr, row.snaplen, row.netmask)
                    for dlt in row.dlts]
    return out


def measure(case: Case) -> Result | None:
    theirs = libpcap_compile(case.expr, case.dlt, case.snaplen, True, case.netmask)
    if isinstance(theirs, str):
        return None  # libpcap refuses (bpfc does too: the differential tests check it)
    try:
        ours = bpfc.compile(case.expr, linktype=case.dlt, snaplen=case.snaplen,
                            netmask=case.netmask)
    except BpfcError:
        return None  # bpfc proves it never matches (see tests/test_compile_diff.py)
    why = None
    if len(ours.insns) > len(theirs.insns):
        why = why_libpcap_is_smaller(case.ident, case.expr, case.dlt, case.snaplen,
                                     case.netmask) or "UNEXPLAINED"
    return Result(case, len(theirs.insns), len(ours.insns), why)


def print_rows(results: list[Result]) -> None:
    print(f"{'group':<7} {'id':<26} {'link':<10} {'libpcap':>7} {'bpfc':>5} {'ratio':>6}  "
          "expression")
    for r in results:
        c = r.case
        expr = c.expr if len(c.expr) <= 70 else c.expr[:67] + "..."
        mark = "<" if r.ours < r.theirs else (">" if r.ours > r.theirs else " ")
        print(f"{c.group:<7} {c.ident[:26]:<26} {c.dlt:<10} {r.theirs:7d} {r.ours:5d} "
              f"{r.ours / r.theirs:6.2f}{mark} {expr}")


def totals(label: str, results: list[Result]) -> None:
    theirs = sum(r.theirs for r in results)
    ours = sum(r.ours for r in results)
    smaller = sum(r.ours < r.theirs for r in results)
    larger = sum(r.ours > r.theirs for r in results)
    equal = len(results) - smaller - larger
    print(f"{label:<44} {len(results):6d} {theirs:8d} {ours:8d} {ours / theirs:7.1%} "
          f"{smaller:6d} ({smaller / len(results):4.0%}) {equal:6d} {larger:6d}")


def print_totals(results: list[Result]) -> None:
    print(f"\n{'':<44} {'cases':>6} {'libpcap':>8} {'bpfc':>8} {'ratio':>7} "
          f"{'smaller':>13} {'equal':>6} {'larger':>6}")
    totals("corpus expressions (EN10MB)", [r for r in results if r.case.group == "corpus"])
    totals("differential table (8 link types)", [r for r in results if r.case.group == "table"])
    totals("all", results)
    totals("all but protochain", [r for r in results if not r.protochain])
    totals("protochain only", [r for r in results if r.protochain])
    print("targets (issue 4): ratio <= 90% of libpcap, smaller on >= 25%, never larger without "
          "a reason")


def print_larger(results: list[Result]) -> None:
    larger = [r for r in results if r.ours > r.theirs]
    print(f"\nlarger than libpcap: {len(larger)} cases")
    reasons: dict[str, list[Result]] = {}
    for r in larger:
        assert r.why is not None
        key = r.why.split(" (")[0]
        reasons.setdefault(key, []).append(r)
    for key, group in sorted(reasons.items(), key=lambda item: -len(item[1])):
        extra = sum(r.ours - r.theirs for r in group)
        print(f"  {len(group):4d} cases, {extra:+d} instructions: {key}")
        for r in group[:6]:
            witness = (r.why or "").partition(" (")[2].rstrip(")")
            print(f"       {r.case.dlt:<10} {r.theirs:4d} -> {r.ours:4d}  {r.case.expr[:60]}"
                  + (f"\n{'':<35}{witness}" if witness else ""))
        if len(group) > 6:
            print(f"       ... and {len(group) - 6} more")


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time of ``fn()`` over ``repeat`` calls, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def scaling() -> list[str]:
    """The scaling table's lines (measured first, in a fresh process, printed last)."""
    lines = ["\ncompile time and size for long lists (EN10MB; random addresses and ports)",
             f"{'list':<8} {'n':>5} {'bpfc ms':>9} {'bpfc insns':>11} {'libpcap ms':>11} "
             f"{'libpcap insns':>14}"]
    lists = (("hosts", _hosts, (10, 100, 1000)), ("ports", _ports, (10, 100, 500)))
    for name, make, sizes in lists:
        for n in sizes:
            expr = make(n)
            t_ours, ours = _time(functools.partial(bpfc.compile, expr), 3)
            assert isinstance(ours, bpfc.Program)
            t_theirs, theirs = _time(functools.partial(libpcap_compile, expr, "EN10MB"),
                                     1 if n >= 100 else 5)  # 1000 hosts take libpcap ~40 s
            size = str(len(theirs.insns)) if isinstance(theirs, LibpcapProgram) else "refused"
            note = "  (over the kernel's 4096)" if size.isdigit() and int(size) > 4096 else ""
            lines.append(f"{name:<8} {n:5d} {t_ours * 1e3:9.0f} {len(ours.insns):11d} "
                         f"{t_theirs * 1e3:11.0f} {size:>14}{note}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="totals and scaling only")
    args = parser.parse_args()
    print(f"libpcap: {libpcap_version()}", flush=True)
    scaled = scaling()
    results = [r for r in map(measure, cases()) if r is not None]
    if not args.summary:
        print_rows(results)
    print_totals(results)
    print_larger(results)
    print("\n".join(scaled))


if __name__ == "__main__":
    main()
