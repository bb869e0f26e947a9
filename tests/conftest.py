"""Shared test fixtures: paths of the repository and of the optional shared data."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Tests must pass without ../shared; a few benchmarks-only checks use it when present.
SHARED_DATA = Path(os.environ.get("SMARTBIN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def repo_root():
    return REPO_ROOT
