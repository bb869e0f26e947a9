"""Item isolation (smartbin/isolate.py and its host twin host_tools/isolate.py): the box is
found for an item, the whole frame is kept when nothing or everything changed, and host
and board find the same box and feed the model the same bytes."""
import numpy as np
import pytest

from host_tools import contract as host_contract
from host_tools import isolate as host_isolate
from smartbin.isolate import Isolator
from smartbin.model_contract import ContractError, ModelContract
from smartbin.preprocess import Preprocessor

from .helpers import contract_dict

BLOCK = {"frame_width": 240, "frame_height": 240, "grid": 24, "threshold": 12,
         "margin": 1, "min_cells": 4, "max_share": 0.7}


def isolating_contract(block=None, **input_options):
    raw = contract_dict(**input_options)
    raw["isolate"] = dict(BLOCK if block is None else block)
    return raw


def chamber(seed, side=240, noise=3.0):
    """A dim chamber with a bright spot and sensor noise (RGB888)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    shade = 60 + 50 * np.exp(-((x - 0.55) ** 2 + (y - 0.4) ** 2) / 0.08)
    image = np.stack([shade * 0.9, shade, shade * 0.85], -1)
    return np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)


def with_item(frame, top, left, height, width, colour=(200, 170, 120)):
    frame = frame.copy()
    frame[top:top + height, left:left + width] = colour
    return frame


def board_box(frame888, contract, empty888):
    """The firmware's box for an RGB888 scene, fed as the camera's RGB565 frame."""
    isolator = Preprocessor(ModelContract(contract), allow_native=False).isolator
    isolator.remember_empty(host_contract.rgb888_to_rgb565(empty888))
    isolator.prepare(host_contract.rgb888_to_rgb565(frame888))
    return (isolator.left, isolator.top, isolator.width, isolator.height, isolator.found)


def host_box(frame888, contract, empty888):
    block = contract["isolate"]
    return host_isolate.find_box(host_isolate.cells_of(frame888, block["grid"]),
                                 host_isolate.cells_of(empty888, block["grid"]), block,
                                 contract["input"]["width"], contract["input"]["height"])


def test_the_box_surrounds_the_item_with_the_margin_and_is_square():
    contract = isolating_contract()
    empty = chamber(1)
    frame = with_item(chamber(2), top=100, left=60, height=50, width=90)
    left, top, width, height, found = board_box(frame, contract, empty)
    assert found
    assert width == height  # the model input is square
    assert left <= 60 - 10 and left + width >= 150 + 10  # one 10-pixel cell of margin
    assert top <= 100 - 10 and top + height >= 150 + 10
    assert width <= 90 + 2 * 10 + 10  # not much more than the item and its margin


def test_a_box_near_the_edge_stays_inside_the_frame():
    contract = isolating_contract()
    frame = with_item(chamber(2), top=200, left=0, height=40, width=120)
    left, top, width, height, found = board_box(frame, contract, chamber(1))
    assert found
    assert left == 0 and top + height == 240 and top >= 0
    assert width == height >= 130


def test_without_an_empty_reference_the_whole_frame_is_used():
    isolator = Preprocessor(ModelContract(isolating_contract()), allow_native=False).isolator
    isolator.prepare(host_contract.rgb888_to_rgb565(with_item(chamber(2), 50, 50, 60, 60)))
    assert not isolator.found
    assert (isolator.left, isolator.top, isolator.width, isolator.height) == (0, 0, 240, 240)


def test_an_empty_chamber_with_only_noise_finds_nothing():
    box = board_box(chamber(2, noise=8.0), isolating_contract(), chamber(1, noise=8.0))
    assert box == (0, 0, 240, 240, False)


def test_a_light_change_falls_back_to_the_whole_frame():
    brighter = np.clip(chamber(2).astype(int) + 60, 0, 255).astype(np.uint8)
    frame = with_item(brighter, top=100, left=100, height=40, width=40)
    assert board_box(frame, isolating_contract(), chamber(1)) == (0, 0, 240, 240, False)


def test_a_few_changed_cells_alone_are_noise_and_find_nothing():
    frame = chamber(1)
    frame = with_item(frame, 0, 0, 10, 10, (255, 255, 255))      # one cell in a corner
    frame = with_item(frame, 230, 230, 10, 10, (255, 255, 255))  # and one in the other
    frame = with_item(frame, 120, 0, 10, 10, (255, 255, 255))
    frame = with_item(frame, 0, 120, 10, 10, (255, 255, 255))
    frame = with_item(frame, 120, 120, 10, 10, (255, 255, 255))
    assert board_box(frame, isolating_contract(), chamber(1)) == (0, 0, 240, 240, False)


@pytest.mark.parametrize("seed", range(6))
def test_host_and_board_find_the_same_box(seed):
    rng = np.random.default_rng(seed)
    empty = chamber(100 + seed, noise=rng.uniform(1, 8))
    scene = chamber(200 + seed, noise=rng.uniform(1, 8))
    for _ in range(int(rng.integers(0, 3))):
        height, width = rng.integers(5, 150, 2)
        top, left = rng.integers(0, 200, 2)
        scene = with_item(scene, top, left, height, width, rng.integers(0, 256, 3))
    contract = isolating_contract(dict(BLOCK, threshold=int(rng.integers(4, 30)),
                                       margin=int(rng.integers(0, 3))))
    assert board_box(scene, contract, empty) == host_box(scene, contract, empty)


@pytest.mark.parametrize("width,height,grid", [(96, 96, 32), (80, 64, 16)])
def test_host_and_board_feed_the_model_the_same_bytes(width, height, grid):
    block = dict(BLOCK, frame_width=160, frame_height=160, grid=grid)
    contract = isolating_contract(block, width=width, height=height)
    empty = chamber(1, side=160)
    scene = with_item(chamber(2, side=160), top=30, left=70, height=60, width=30,
                      colour=(30, 200, 90))
    # the camera's RGB565 as the host sees it: its widened RGB888
    scene = host_contract.rgb565_to_rgb888(host_contract.rgb888_to_rgb565(scene), 160, 160)
    preprocessor = Preprocessor(ModelContract(contract), allow_native=False)
    preprocessor.isolator.remember_empty(host_contract.rgb888_to_rgb565(empty))
    out = bytearray(width * height * 3)
    preprocessor.run(host_contract.rgb888_to_rgb565(scene), out)
    assert preprocessor.isolator.found
    grid_cells = host_isolate.cells_of(empty, grid)
    box = host_isolate.find_box(host_isolate.cells_of(scene, grid), grid_cells, block,
                                width, height)
    pixels = host_isolate.crop(scene, box, width, height)
    expected = host_contract.pixels_to_input(pixels, contract).reshape(-1)
    assert np.array_equal(np.frombuffer(bytes(out), np.int8), expected)


def test_a_grey_model_isolates_from_the_luma_frame_as_the_host_does():
    contract = isolating_contract(colour_order="GRAY")
    empty = chamber(1)[..., 1]
    scene = with_item(chamber(2), 40, 120, 80, 50)[..., 1]
    preprocessor = Preprocessor(ModelContract(contract), allow_native=False)
    preprocessor.isolator.remember_empty(empty.tobytes())
    out = bytearray(96 * 96)
    preprocessor.run(scene.tobytes(), out)
    box = host_isolate.find_box(host_isolate.cells_of(scene, 24),
                                host_isolate.cells_of(empty, 24), BLOCK, 96, 96)
    assert box[4] and box == (preprocessor.isolator.left, preprocessor.isolator.top,
                              preprocessor.isolator.width, preprocessor.isolator.height, True)
    expected = host_contract.pixels_to_input(host_isolate.crop(scene, box, 96, 96), contract)
    assert np.array_equal(np.frombuffer(bytes(out), np.int8), expected.reshape(-1))


def test_the_frame_must_have_the_isolate_size():
    preprocessor = Preprocessor(ModelContract(isolating_contract()), allow_native=False)
    with pytest.raises(ValueError):
        preprocessor.run(bytes(96 * 96 * 2), bytearray(96 * 96 * 3))


def test_a_stored_reference_of_the_wrong_size_is_not_used():
    isolator = Isolator(BLOCK, 96, 96, True)
    assert not isolator.load_empty(bytes(10))
    assert not isolator.has_empty
    assert isolator.load_empty(bytes(24 * 24)) and isolator.has_empty


@pytest.mark.parametrize("change,message", [
    ({"grid": 7}, "isolate.grid must divide the frame"),
    ({"grid": 1}, "isolate.grid must be an integer from 2"),
    ({"frame_width": 64}, "isolate.frame_width must be an integer from the input's 96"),
    ({"frame_height": "240"}, "isolate.frame_height"),
    ({"threshold": 0}, "isolate.threshold"),
    ({"threshold": 2.5}, "isolate.threshold"),
    ({"margin": -1}, "isolate.margin"),
    ({"min_cells": 0}, "isolate.min_cells"),
    ({"max_share": 0}, "isolate.max_share"),
    ({"max_share": float("nan")}, "isolate.max_share"),
    ({"max_share": True}, "isolate.max_share"),
])
def test_a_bad_isolate_block_is_refused_with_a_one_line_reason(change, message):
    with pytest.raises(ContractError) as error:
        ModelContract(isolating_contract(dict(BLOCK, **change)))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith("model.json: ")


def test_a_block_that_is_not_an_object_is_refused():
    raw = contract_dict()
    raw["isolate"] = [240, 240]
    with pytest.raises(ContractError, match="'isolate' must be an object"):
        ModelContract(raw)


def test_without_the_block_the_model_sees_the_whole_frame_as_before():
    contract = ModelContract(contract_dict())
    assert contract.isolate is None
    assert Preprocessor(contract, allow_native=False).isolator is None


# ---- the bin: empty chamber after each item and at power-on, item cropped to its box ----

def _rgb565(frame888):
    return host_contract.rgb888_to_rgb565(frame888)


def _dark_chamber():
    return np.full((240, 240, 3), 10, np.uint8)


def _item_scene(level=150):
    """A 100-pixel square item on the dark chamber: its box (with a margin) averages to
    "metal" for the fake model, the whole frame to "cardboard"."""
    scene = _dark_chamber()
    scene[70:170, 60:160] = level
    return scene


def _isolating_flash(storage=None):
    from .helpers import flash_with

    return flash_with(contract=isolating_contract(), storage=storage)


def test_the_bin_looks_at_the_empty_chamber_at_power_on_and_crops_the_next_item(make_bin):
    from smartbin.cycle import EMPTY_CHAMBER

    frames = [_rgb565(_dark_chamber()), _rgb565(_item_scene()), _rgb565(_dark_chamber())]
    smart_bin = make_bin(_isolating_flash(), frames=frames, wakes=["power_on", "sensor"])
    served = smart_bin.run(wakes=2)
    isolator = served.cycle.preprocessor.isolator
    assert isolator.found and (isolator.left, isolator.width) == (50, 120)
    assert smart_bin.moves() == ["containers"]  # metal: the box, not the dark frame
    assert smart_bin.counts()["classes"] == {"metal": 1}
    assert smart_bin.hw.camera.width == 240 and smart_bin.hw.camera.height == 240
    stored = smart_bin.storage.read(EMPTY_CHAMBER)
    assert stored is not None and len(stored) == 24 * 24
    assert set(stored) == {host_isolate.cells_of(_dark_chamber(), 24)[0, 0]}
    assert smart_bin.hw.camera.power_ups == 3  # power-on look, the item, the empty again


def test_without_an_empty_chamber_the_first_item_is_classified_on_the_whole_frame(make_bin):
    frames = [_rgb565(_item_scene()), _rgb565(_dark_chamber())]
    smart_bin = make_bin(_isolating_flash(), frames=frames, wakes=["sensor"],
                         reset_cause="deep_sleep")
    smart_bin.run()
    assert smart_bin.counts()["classes"] == {"cardboard": 1}  # the dark frame's mean
    assert smart_bin.storage.read("/empty_chamber.bin") is not None  # ready for the next


def test_the_reference_on_flash_survives_deep_sleep(make_bin):
    storage = _isolating_flash()
    first = make_bin(storage, frames=[_rgb565(_dark_chamber())], wakes=["power_on"])
    first.run()
    again = make_bin(storage, frames=[_rgb565(_item_scene()), _rgb565(_dark_chamber())],
                     wakes=["sensor"], reset_cause="deep_sleep")
    again.run()
    assert again.counts()["classes"] == {"metal": 1}


def test_a_light_change_since_the_empty_frame_classifies_the_whole_frame(make_bin):
    storage = _isolating_flash()
    make_bin(storage, frames=[_rgb565(_dark_chamber())], wakes=["power_on"]).run()
    brighter = _item_scene()
    brighter[brighter == 10] = 200  # the lamp changed: every cell differs
    smart_bin = make_bin(storage, frames=[_rgb565(brighter), _rgb565(brighter)],
                         wakes=["sensor"], reset_cause="deep_sleep")
    served = smart_bin.run()
    assert not served.cycle.preprocessor.isolator.found
    # the whole frame's mean, 0.17 * 150 + 0.83 * 200, is plastic's for the fake model
    assert smart_bin.counts()["classes"] == {"plastic": 1}


def test_a_camera_failure_while_looking_at_the_empty_chamber_keeps_the_old_reference(
        make_bin):
    storage = _isolating_flash()
    make_bin(storage, frames=[_rgb565(_dark_chamber())], wakes=["power_on"]).run()
    before = storage.read("/empty_chamber.bin")
    smart_bin = make_bin(storage, frames=[_rgb565(_item_scene())], wakes=["sensor"],
                         reset_cause="deep_sleep")
    original_on = smart_bin.hw.camera.on
    calls = []

    def second_on_fails():
        calls.append(1)
        if len(calls) == 2:
            raise OSError("camera gone")
        original_on()

    smart_bin.hw.camera.on = second_on_fails
    smart_bin.run()
    assert smart_bin.counts()["classes"] == {"metal": 1}
    assert storage.read("/empty_chamber.bin") == before
    assert "empty chamber" in smart_bin.errors()


def test_a_latch_powered_bin_takes_no_empty_frame_at_power_on(make_bin):
    """Its every power-on is an item: only after the item is the chamber empty."""
    import json

    from sim.fakes import PowerCut

    from .helpers import FIRMWARE, flash_with

    raw = json.loads((FIRMWARE / "config.json").read_text())
    raw["power"]["mode"] = "latch"
    storage = flash_with(config_text=json.dumps(raw), contract=isolating_contract())
    smart_bin = make_bin(storage, frames=[_rgb565(_item_scene()), _rgb565(_dark_chamber())],
                         wakes=["power_on"], reset_cause="power_on")
    try:
        smart_bin.run()
    except PowerCut:
        pass  # the bin switched itself off after the item
    assert smart_bin.counts()["items"] == 1
    stored = storage.read("/empty_chamber.bin")
    assert set(stored) == {host_isolate.cells_of(_dark_chamber(), 24)[0, 0]}  # not the item


# ---- the viper twins ----------------------------------------------------------------------

def load_isolate_viper_as_python():
    """isolate_viper.py as plain Python (viper a no-op, ptr8/ptr32 the buffers themselves):
    checks the twins' arithmetic; mpy-cross and the unix build check the native code."""
    import sys
    import types

    from .helpers import FIRMWARE

    source = (FIRMWARE / "smartbin" / "isolate_viper.py").read_text()
    fake_micropython = types.ModuleType("micropython")
    fake_micropython.viper = lambda function: function
    module = types.ModuleType("isolate_viper_as_python")
    module.__dict__["ptr8"] = module.__dict__["ptr32"] = lambda buffer: buffer
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = fake_micropython
    try:
        exec(compile(source, "isolate_viper.py", "exec"), module.__dict__)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return module


@pytest.mark.parametrize("rgb", [True, False])
def test_viper_twins_compute_what_the_plain_versions_compute(rgb):
    from smartbin import isolate as board_isolate

    twin = load_isolate_viper_as_python()
    contract = ModelContract(isolating_contract(dict(BLOCK, frame_width=160, frame_height=120,
                                                     grid=8), width=80, height=64,
                                                colour_order="RGB" if rgb else "GRAY"))
    preprocessor = Preprocessor(contract, allow_native=False)
    isolator = preprocessor.isolator
    rng = np.random.default_rng(9)
    frame = rng.integers(0, 256, isolator.frame_bytes, dtype=np.uint8).tobytes()
    plain_cells, twin_cells = bytearray(64), bytearray(64)
    plain_grey = board_isolate.plain_grey_rgb565 if rgb else board_isolate.plain_grey_luma
    twin_grey = twin.grey_rgb565 if rgb else twin.grey_luma
    plain_grey(frame, plain_cells, isolator.sums, isolator.shape)
    twin_grey(frame, twin_cells, isolator.sums, isolator.shape)
    assert twin_cells == plain_cells and len(set(plain_cells)) > 1
    isolator._set_box(30, 10, 50, 60)
    plain_out, twin_out = bytearray(80 * 64 * 3), bytearray(80 * 64 * 3)
    isolator.fill(frame, plain_out, preprocessor.tables)
    if rgb:
        isolator._crop_rgb565 = twin.crop_rgb565
    else:
        isolator._crop_luma = twin.crop_luma
    isolator.fill(frame, twin_out, preprocessor.tables)
    assert twin_out == plain_out and any(plain_out)


@pytest.mark.parametrize("share,cells,most", [(0.7, 576, 403), (0.29, 100, 29), (1, 64, 64),
                                              (0.0004, 576, 0), (0.5, 9, 4)])
def test_the_light_change_limit_is_a_whole_number_of_cells_on_board_and_host(share, cells,
                                                                             most):
    from smartbin.isolate import max_changed_cells

    assert max_changed_cells(share, cells) == most
