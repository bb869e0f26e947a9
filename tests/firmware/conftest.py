"""Fixtures for the firmware tests (helpers live in helpers.py)."""
import pytest

from .helpers import Bin


@pytest.fixture
def make_bin():
    return Bin


@pytest.fixture
def tiny_model(tiny_int8_model):
    return tiny_int8_model
