"""Fixtures of the data-stage tests; makes the generated-photo helpers importable."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def web():
    """A fake web server on 127.0.0.1 (see data_helpers.FakeWeb)."""
    from data_helpers import FakeWeb

    server = FakeWeb()
    yield server
    server.close()
