"""Shared test configuration: a derandomized hypothesis profile for CI, corpus paths."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BPFC_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
CORPUS_PCAPS = CORPUS / "pcaps"
