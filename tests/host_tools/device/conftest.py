"""Fixtures for the board tooling: one virtual board for the whole folder, a tiny model."""
import shutil

import pytest

from device_fixtures import level_board, write_model
from host_tools.paths import REPO_ROOT


@pytest.fixture(scope="session")
def board(tmp_path_factory):
    with level_board(tmp_path_factory.mktemp("virtual-board"), capacity=1024 * 1024) as virtual:
        yield virtual


@pytest.fixture(scope="session")
def firmware_copy(tmp_path_factory):
    """The real firmware tree, copied so a test may change a file."""
    target = tmp_path_factory.mktemp("firmware") / "firmware"
    shutil.copytree(REPO_ROOT / "firmware", target,
                    ignore=shutil.ignore_patterns("__pycache__", "sim", "image"))
    return target


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return write_model(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture(scope="session")
def deployed(board, firmware_copy, tiny_model):
    """The board after one full deploy of the real application (report of that deploy)."""
    from host_tools.device.deploy import deploy

    return deploy(board.port, firmware_copy, tiny_model, boot_seconds=30)
