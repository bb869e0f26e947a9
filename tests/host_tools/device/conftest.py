"""Fixtures for the board tooling: one virtual board for the whole folder, a tiny model."""
import hashlib
import json
import shutil

import pytest

from virtual_board import REPO_ROOT, VirtualBoard

LABELS = ["cardboard", "glass", "metal", "paper", "plastic", "trash"]


def write_model(folder, tflite=b"TFL3" + bytes(range(256)) * 8):
    """A model folder the host accepts (valid model.json, matching sha256)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(tflite)
    (folder / "model.json").write_text(json.dumps({
        "schema": 1, "labels": LABELS,
        "input": {"width": 96, "height": 96, "channels": 3, "colour_order": "RGB",
                  "resize": "bilinear", "dtype": "int8", "scale": 1.0, "zero_point": -128},
        "output": {"dtype": "int8", "scale": 0.00390625, "zero_point": -128},
        "tflite": "model.tflite", "flatbuffer_bytes": len(tflite),
        "sha256": hashlib.sha256(tflite).hexdigest(), "arena_bytes": 60000}, indent=1))
    return folder


@pytest.fixture(scope="session")
def board(tmp_path_factory):
    with VirtualBoard(tmp_path_factory.mktemp("virtual-board"), capacity=1024 * 1024) as virtual:
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
