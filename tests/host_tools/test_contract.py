"""The model contract: its pixel rule, RGB565 widening and validation."""
import json

import numpy as np
import pytest

from host_tools import contract
from host_tools.errors import SmartbinError


def _contract(**input_overrides):
    model_input = {"width": 4, "height": 2, "channels": 3, "colour_order": "RGB",
                   "resize": "bilinear", "dtype": "int8", "scale": 1.0, "zero_point": -128}
    model_input.update(input_overrides)
    return {"schema": 1, "labels": ["a", "b"], "input": model_input,
            "output": {"dtype": "int8", "scale": 1 / 256, "zero_point": -128},
            "arena_bytes": 1000}


def test_input_lut_is_pixel_minus_128_for_the_contract_quantisation():
    lut = contract.input_lut(1.0, -128)
    assert lut.dtype == np.int8
    assert list(lut[[0, 1, 128, 255]]) == [-128, -127, 0, 127]


def test_rgb565_round_trip_keeps_the_top_bits_and_replicates_them():
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [0x84, 0x82, 0x84], [200, 100, 50]]],
                   dtype=np.uint8)
    frame = contract.rgb888_to_rgb565(rgb)
    assert len(frame) == 8 and frame[:2] == b"\xff\xff"
    widened = contract.rgb565_to_rgb888(frame, 4, 1)
    assert widened[0, 0].tolist() == [255, 255, 255]
    assert widened[0, 1].tolist() == [0, 0, 0]
    assert widened[0, 2].tolist() == [0x84, 0x82, 0x84]
    assert widened[0, 3].tolist() == [206, 101, 49]


def test_pixels_to_input_rejects_the_wrong_size():
    with pytest.raises(SmartbinError, match="expects"):
        contract.pixels_to_input(np.zeros((3, 3, 3), np.uint8), _contract())


def test_load_rejects_a_contract_with_mismatched_channels(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps(_contract(channels=1)))
    with pytest.raises(SmartbinError, match="channels"):
        contract.load(tmp_path)


def test_save_then_load_round_trips(tmp_path):
    contract.save(_contract(), tmp_path)
    assert contract.load(tmp_path)["input"]["width"] == 4


def test_corrupt_image_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(SmartbinError, match="cannot read image"):
        contract.load_image(bad)


def _with_sorting(threshold, target=0.1):
    raw = _contract()
    raw["sorting"] = {"threshold": threshold, "target_contamination": target,
                      "target_met": True, "measured_on": "val subset (9 photos), int8 model"}
    return raw


def test_the_recommended_threshold_round_trips_and_the_firmware_reads_it(tmp_path):
    from host_tools.model import sorting

    contract.save(_with_sorting(0.73), tmp_path)
    loaded = contract.load(tmp_path)
    assert loaded["sorting"]["threshold"] == 0.73
    assert loaded["sorting"]["measured_on"].startswith("val subset")
    decide = sorting.firmware_decide()  # also puts the firmware package on sys.path
    from smartbin import model_contract

    board = model_contract.ModelContract(json.loads((tmp_path / "model.json").read_text()))
    assert board.threshold == 0.73
    assert decide.choose_threshold(None, board.threshold) == 0.73


def test_a_model_json_without_a_threshold_means_the_default():
    from host_tools.model import sorting

    assert sorting.threshold_for(None, _contract()) == 0.6
    assert sorting.threshold_for(None, _with_sorting(None)) == 0.6
    assert sorting.threshold_for(None, _with_sorting(0.8)) == 0.8
    assert sorting.threshold_for(0.5, _with_sorting(0.8)) == 0.5


@pytest.mark.parametrize("threshold, target", [(1.2, 0.1), (-0.1, 0.1), ("0.7", 0.1),
                                               (True, 0.1), (0.7, 0.0), (0.7, 1.5)])
def test_load_refuses_a_bad_sorting_block(tmp_path, threshold, target):
    (tmp_path / "model.json").write_text(json.dumps(_with_sorting(threshold, target)))
    with pytest.raises(SmartbinError, match="sorting"):
        contract.load(tmp_path)


def test_load_image_decodes_16bit_grey_as_the_data_tools_do(tmp_path):
    from PIL import Image
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(path)
    assert abs(float(np.asarray(contract.load_image(path)).mean()) - 128) <= 1


def _lying(change):
    raw = _contract()
    change(raw)
    return raw


LIES = {
    "zero width": lambda m: m["input"].update(width=0),
    "absurd width": lambda m: m["input"].update(width=10 ** 9),
    "absurd height": lambda m: m["input"].update(height=100_000),
    "boolean height": lambda m: m["input"].update(height=True),
    "absurd channels": lambda m: m["input"].update(channels=10 ** 6),
    "input scale 0": lambda m: m["input"].update(scale=0),
    "negative input scale": lambda m: m["input"].update(scale=-1.0),
    "infinite input scale": lambda m: m["input"].update(scale=float("inf")),
    "input zero point past int8": lambda m: m["input"].update(zero_point=-1000),
    "output scale 0": lambda m: m["output"].update(scale=0),
    "confidences past 100%": lambda m: m["output"].update(scale=0.5),
    "output zero point past int8": lambda m: m["output"].update(zero_point=300),
    "absurd arena": lambda m: m.update(arena_bytes=10 ** 12),
    "duplicate labels": lambda m: m.update(labels=["a", "a"]),
    "unknown resize": lambda m: m["input"].update(resize="lanczos"),
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_host_and_firmware_refuse_the_same_lying_model_json(tmp_path, lie):
    from host_tools.firmware_modules import firmware_module
    board_contract = firmware_module("model_contract")
    raw = _lying(LIES[lie])
    (tmp_path / "model.json").write_text(json.dumps(raw))
    with pytest.raises(SmartbinError, match="model.json: "):
        contract.load(tmp_path)
    with pytest.raises(board_contract.ContractError):
        board_contract.ModelContract(raw)


def test_host_and_firmware_accept_the_same_honest_model_json(tmp_path):
    from host_tools.firmware_modules import firmware_module
    contract.save(_contract(), tmp_path)
    assert contract.load(tmp_path)["labels"] == ["a", "b"]
    assert firmware_module("model_contract").ModelContract(_contract()).labels == ["a", "b"]


def test_a_deeply_nested_model_json_is_a_one_line_error_on_host_and_board(tmp_path):
    from host_tools.firmware_modules import firmware_module
    board_contract = firmware_module("model_contract")
    nested = "[" * 100_000 + "]" * 100_000
    (tmp_path / "model.json").write_text(nested)
    with pytest.raises(SmartbinError, match="nested too deeply"):
        contract.load(tmp_path)

    class Storage:
        def read(self, path):
            return nested.encode()

    with pytest.raises(board_contract.ContractError, match="not valid JSON"):
        board_contract.load(Storage(), "/model.json")
