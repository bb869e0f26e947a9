"""The board's preprocessing and the host's contract give the same int8 tensor for the same
camera frame (under CPython here; test_micropython_vm repeats it inside MicroPython)."""
import sys

import numpy as np
import pytest

from host_tools import contract as host_contract
from smartbin.model_contract import ModelContract, input_lut
from smartbin.preprocess import Preprocessor

from .helpers import contract_dict


def random_frame(seed, pixels, bytes_per_pixel=2):
    return np.random.default_rng(seed).integers(0, 256, pixels * bytes_per_pixel,
                                                dtype=np.uint8).tobytes()


def firmware_input(frame, contract):
    preprocessor = Preprocessor(ModelContract(contract), allow_native=False)
    out = bytearray(contract["input"]["width"] * contract["input"]["height"]
                    * contract["input"]["channels"])
    preprocessor.run(frame, out)
    return np.frombuffer(bytes(out), dtype=np.int8)


def host_input(frame, contract):
    model_input = contract["input"]
    if model_input["colour_order"] == "RGB":
        pixels = host_contract.rgb565_to_rgb888(frame, model_input["width"],
                                                model_input["height"])
    else:
        pixels = np.frombuffer(frame, dtype=np.uint8).reshape(model_input["height"],
                                                              model_input["width"])
    return host_contract.pixels_to_input(pixels, contract).reshape(-1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rgb565_frame_gives_the_hosts_int8_tensor(seed):
    contract = contract_dict()
    frame = random_frame(seed, 96 * 96)
    assert np.array_equal(firmware_input(frame, contract), host_input(frame, contract))


def test_every_rgb565_value_widens_like_the_host():
    contract = contract_dict(width=256, height=256)
    frame = np.arange(65536, dtype=">u2").tobytes()  # every possible pixel once
    assert np.array_equal(firmware_input(frame, contract), host_input(frame, contract))


def test_grayscale_frame_gives_the_hosts_int8_tensor():
    contract = contract_dict(colour_order="GRAY", width=64, height=48)
    frame = random_frame(5, 64 * 48, bytes_per_pixel=1)
    assert np.array_equal(firmware_input(frame, contract), host_input(frame, contract))


@pytest.mark.parametrize("scale,zero_point", [(1.0, -128), (0.5, -100), (2.0, 3), (1.7, -128)])
def test_input_table_matches_the_host_rule_for_other_quantisations(scale, zero_point):
    firmware = np.frombuffer(bytes(input_lut(scale, zero_point)), dtype=np.int8)
    assert np.array_equal(firmware, host_contract.input_lut(scale, zero_point))


def test_wrong_frame_size_is_refused():
    preprocessor = Preprocessor(ModelContract(contract_dict()), allow_native=False)
    with pytest.raises(ValueError):
        preprocessor.run(bytes(100), bytearray(96 * 96 * 3))


def load_viper_twin_as_python():
    """preprocess_viper.py run as plain Python: `@micropython.viper` as a no-op and `ptr8`
    as the buffer itself (a ptr8 load is an unsigned byte, as indexing a bytearray is).
    This checks the twin's arithmetic; mpy-cross checks that it compiles natively."""
    import types

    from .helpers import FIRMWARE

    source = (FIRMWARE / "smartbin" / "preprocess_viper.py").read_text()
    fake_micropython = types.ModuleType("micropython")
    fake_micropython.viper = lambda function: function
    module = types.ModuleType("preprocess_viper_as_python")
    module.__dict__["ptr8"] = lambda buffer: buffer
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = fake_micropython
    try:
        exec(compile(source, "preprocess_viper.py", "exec"), module.__dict__)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return module


def test_viper_twin_computes_what_the_plain_version_computes():
    from smartbin import preprocess

    twin = load_viper_twin_as_python()
    contract = ModelContract(contract_dict(scale=0.5, zero_point=-100))
    five, six = preprocess.channel_tables(contract.input_lut)
    frame = np.arange(65536, dtype=">u2").tobytes()
    plain_out, twin_out = bytearray(65536 * 3), bytearray(65536 * 3)
    preprocess.plain_rgb565(frame, plain_out, five, six, 65536)
    twin.rgb565(frame, twin_out, five, six, 65536)
    assert twin_out == plain_out
    gray = bytes(range(256)) * 4
    plain_out, twin_out = bytearray(1024), bytearray(1024)
    preprocess.plain_gray(gray, plain_out, contract.input_lut, 1024)
    twin.gray(gray, twin_out, contract.input_lut, 1024)
    assert twin_out == plain_out
