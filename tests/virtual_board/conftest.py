"""One virtual board per test module (the VM starts in about a second)."""
import pytest

from host_tools.virtual.board import VirtualBoard


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    with VirtualBoard(tmp_path_factory.mktemp("board"), capacity=256 * 1024) as virtual_board:
        yield virtual_board
