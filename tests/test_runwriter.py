"""Byte ranges of matching records (``bpfc/runwriter.py``)."""

from __future__ import annotations

import numpy as np

from bpfc.runwriter import sorted_runs


def test_sorted_runs_merges_adjacent_records() -> None:
    begins = np.array([300, 100, 200, 500, 0], dtype=np.int64)
    ends = np.array([400, 200, 300, 600, 50], dtype=np.int64)
    b, e = sorted_runs(begins, ends)
    assert b.tolist() == [0, 100, 500]
    assert e.tolist() == [50, 400, 600]
    empty = np.zeros(0, dtype=np.int64)
    assert [x.tolist() for x in sorted_runs(empty, empty)] == [[], []]
