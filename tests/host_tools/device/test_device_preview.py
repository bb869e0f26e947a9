"""`smartbin preview` with a stand-in board: the page's data, the board's calls, the CLI.

The stand-in runs the real board-side routine (firmware smartbin/preview.py) on fake
hardware in this process and answers the host's raw-REPL calls with what it prints, so
only the serial line is imitated."""
import contextlib
import hashlib
import io
import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from host_tools import contract as host_contract
from host_tools.cli import main
from host_tools.device import preview_board, preview_frame
from host_tools.device.preview import find_model, frame_sizes, link_figures, preview
from host_tools.device.preview_page import PageServer, PreviewState
from host_tools.errors import SmartbinError
from host_tools.firmware_modules import firmware_module
from host_tools.paths import COMMITTED_DEFAULT, FIRMWARE_DIR

MODEL_BYTES = (COMMITTED_DEFAULT / "model.tflite").read_bytes()
# the committed default isolates the item in a larger frame; PLAIN is the same model
# exported without the block (`smartbin export --no-isolate`): the frame is its input
CONTRACT = json.loads((COMMITTED_DEFAULT / "model.json").read_text())
PLAIN = {key: value for key, value in CONTRACT.items() if key != "isolate"}
BLOCK = CONTRACT["isolate"]
BIN_SIZE = (BLOCK["frame_width"], BLOCK["frame_height"])
CONFIG_TEXT = (FIRMWARE_DIR / "config.json").read_text()


def scene(colour, size=(96, 96), square=None, where=(0.25, 0.25, 0.75, 0.75)):
    """An RGB565 frame: a plain background with a square of another colour, from `where`'s
    (left, top) to (right, bottom) shares of the frame."""
    width, height = size
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[...] = colour
    if square is not None:
        left, top, right, bottom = where
        rgb[int(top * height):int(bottom * height), int(left * width):int(right * width)] = square
    return host_contract.rgb888_to_rgb565(rgb)


RED = scene((200, 40, 30), square=(240, 240, 230))
BLUE = scene((30, 60, 200), square=(20, 20, 20))
RED_BIN = scene((200, 40, 30), BIN_SIZE, square=(240, 240, 230))
BLUE_BIN = scene((30, 60, 200), BIN_SIZE, square=(20, 20, 20))
# the isolate model's chamber: empty, then with an item in its upper left
CHAMBER = (120, 110, 100)
EMPTY_FRAME = scene(CHAMBER, BIN_SIZE)
ITEM_FRAME = scene(CHAMBER, BIN_SIZE, square=(230, 200, 40), where=(0.1, 0.15, 0.4, 0.35))
ITEM_FRAME_2 = scene(CHAMBER, BIN_SIZE, square=(250, 250, 240), where=(0.5, 0.5, 0.9, 0.8))


def empty_chamber_thumbnail(frame=EMPTY_FRAME):
    """What the bin keeps in /empty_chamber.bin after looking at `frame` (its own code)."""
    isolator = firmware_module("isolate").Isolator(BLOCK, CONTRACT["input"]["width"],
                                                   CONTRACT["input"]["height"], True,
                                                   allow_native=False)
    isolator.remember_empty(frame)
    return bytes(isolator.empty)


def rgb(frame, size=BIN_SIZE):
    return host_contract.rgb565_to_rgb888(frame, *size)


class CyclingCamera:
    """The camera interface of firmware smartbin/board.py; each capture gives the next
    frame of its size, in turn."""

    def __init__(self, frames):
        self.frames = frames  # {(width, height): [frame, ...]}
        self.size = (96, 96)
        self.is_on = False
        self.captures = 0

    def configure(self, width, height, grayscale):
        self.size = (width, height)

    def on(self):
        self.is_on = True

    def off(self):
        self.is_on = False

    def capture(self):
        if not self.is_on:
            raise OSError("camera is off")
        frames = self.frames.get(self.size)
        if not frames:
            raise OSError("camera capture failed")
        self.captures += 1
        return bytearray(frames[(self.captures - 1) % len(frames)])


class Counter:
    sent = 0
    received = 0


class StandInBoard:
    """Answers the calls preview makes on a transport.Board, running the board-side
    preview on fake hardware."""

    port = "/dev/ttyFAKE"

    def __init__(self, frames=None, files=None, application=True, contract=CONTRACT):
        import sys

        if str(FIRMWARE_DIR) not in sys.path:
            sys.path.insert(0, str(FIRMWARE_DIR))
        from sim.fakes import RamStorage, build_fake_hardware
        from smartbin.preview import Preview

        self.files = {"/config.json": CONFIG_TEXT.encode(),
                      "/model.json": json.dumps(contract).encode(), "/model.tflite": MODEL_BYTES}
        self.files.update(files or {})
        self.files = {path: data for path, data in self.files.items() if data is not None}
        storage = RamStorage()
        storage.files.update(self.files)
        config = firmware_module("config").load(storage)
        hardware = build_fake_hardware(config, storage=storage)
        hardware.camera = CyclingCamera(frames or {(96, 96): [RED, BLUE],
                                                   BIN_SIZE: [RED_BIN, BLUE_BIN]})
        self.preview = Preview(hardware, config)
        self.application = application
        self.traffic = Counter()
        self.commands = []
        self.interrupted = False
        self.closed = False

    # ---- the transport.Board calls preview uses ----
    def count_traffic(self):
        return self.traffic

    def exec(self, code, action=""):
        self.commands.append(code)
        self.traffic.sent += len(code)
        if "from smartbin import preview" in code:
            output = b"1\n" if self.application else b"0\n"
        else:
            output = self._run(code)
        self.traffic.received += len(output)
        return output

    def _run(self, code):
        namespace = {"_preview": self}
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, write_through=True)
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
            out.flush()
        return raw.getvalue()

    def session(self):  # `_preview.session()`, as the board-side module answers it
        return self.preview

    def eval(self, expression, action="", quiet_seconds=10):
        self.commands.append(expression)
        return eval(expression, {"_preview": self})

    def size(self, path):
        data = self.files.get(path)
        return None if data is None else len(data)

    def read_file(self, path):
        return self.files[path]

    def sha256(self, path):
        data = self.files.get(path)
        return None if data is None else hashlib.sha256(data).hexdigest()

    def interrupt(self):
        self.interrupted = True

    def close(self):
        self.closed = True


def scorer_for(config_text=CONFIG_TEXT, contract=PLAIN, empty_chamber=None):
    config = preview_frame.board_config(config_text.encode())
    return preview_frame.FrameScorer(config, contract, MODEL_BYTES, empty_chamber)


def model_view_pixels(images):
    """The model's input as the page's model view shows it (whole pixels, so every third)."""
    from PIL import Image

    view = np.asarray(Image.open(io.BytesIO(images["model"])).convert("RGB"))
    return view[::3, ::3]


def magenta(images):
    """(x, y) of the camera view's pixels in the box colour."""
    from PIL import Image

    view = np.asarray(Image.open(io.BytesIO(images["camera"])).convert("RGB"))
    ys, xs = np.nonzero(np.all(view == preview_frame.BOX_COLOUR, axis=-1))
    return xs, ys


# ---- the bin's decision for a frame ----------------------------------------------------------
def test_scores_are_the_models_own_on_the_contracts_input_and_change_with_the_frame():
    from host_tools.model.predict import run_int8

    scorer = scorer_for()
    decisions = [scorer.decide(frame) for frame in (RED, BLUE)]
    inputs = [host_contract.pixels_to_input(host_contract.rgb565_to_rgb888(frame, 96, 96), PLAIN)
              for frame in (RED, BLUE)]
    _, expected = run_int8(PLAIN, MODEL_BYTES, np.stack(inputs))
    for decision, row in zip(decisions, expected):
        assert [entry["label"] for entry in decision["scores"]] == PLAIN["labels"]
        assert [entry["score"] for entry in decision["scores"]] == pytest.approx(row, abs=1e-4)
        assert decision["label"] == PLAIN["labels"][int(row.argmax())]
    assert decisions[0]["scores"] != decisions[1]["scores"]


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_the_lid_follows_the_boards_config_and_threshold(threshold):
    config = json.loads(CONFIG_TEXT)
    config["decide"]["threshold"] = threshold
    scorer = scorer_for(json.dumps(config))
    decision = scorer.decide(RED)
    if threshold == 0.0 and decision["label"] != "trash":
        assert decision["lid"] == config["class_to_lid"][decision["label"]]
        assert decision["confident"]
    elif threshold == 1.0:
        assert decision["lid"] == "general" and not decision["confident"]


def test_a_larger_frame_is_resized_to_the_model_by_the_contracts_rule():
    scorer = scorer_for()
    large = scene((200, 40, 30), (160, 120), square=(240, 240, 230))
    meta = {"width": 160, "height": 120, "format": "RGB565"}
    data, images = scorer.look(large, meta)
    image = preview_frame.frame_to_image(large, meta)
    expected = host_contract.rgb888_to_rgb565(host_contract.image_to_pixels(image, PLAIN))
    assert scorer.bin_frame(large, meta) == expected
    assert data["model_input"]["resized_here"] is True
    assert data["frame"] == meta
    assert data["bin_frame"] == {"width": 96, "height": 96} and data["isolate"] is None
    assert scorer.look(RED, {"width": 96, "height": 96, "format": "RGB565"})[0][
        "model_input"]["resized_here"] is False


def test_the_model_view_is_the_input_blown_up_by_whole_pixels():
    from PIL import Image

    scorer = scorer_for()
    _, images = scorer.look(BLUE, {"width": 96, "height": 96, "format": "RGB565"})
    model_view = Image.open(io.BytesIO(images["model"]))
    assert model_view.size == (288, 288)
    small = preview_frame.frame_to_image(BLUE, {"width": 96, "height": 96, "format": "RGB565"})
    assert np.array_equal(np.asarray(model_view)[::3, ::3], np.asarray(small))
    assert Image.open(io.BytesIO(images["camera"])).width == preview_frame.CAMERA_VIEW_WIDTH
    assert magenta(images)[0].size == 0  # no box: the model sees the whole frame


# ---- an isolate model: the bin's frame, the item's box ------------------------------------------
def test_an_isolate_model_is_shown_the_items_box_found_against_the_boards_empty_chamber():
    from host_tools import isolate as host_isolate
    from host_tools.model.predict import run_int8

    scorer = scorer_for(contract=CONTRACT, empty_chamber=empty_chamber_thumbnail())
    assert scorer.bin_size == BIN_SIZE and scorer.model_size == (96, 96)
    meta = {"width": BIN_SIZE[0], "height": BIN_SIZE[1], "format": "RGB565"}
    data, images = scorer.look(ITEM_FRAME, meta)
    # the host's twin of the bin's rule finds the same box ...
    box = host_isolate.find_box(host_isolate.cells_of(rgb(ITEM_FRAME), BLOCK["grid"]),
                                host_isolate.cells_of(rgb(EMPTY_FRAME), BLOCK["grid"]),
                                BLOCK, 96, 96)
    assert box[4] is True and box[2] < BIN_SIZE[0] / 2 and box[3] < BIN_SIZE[1] / 2
    isolation = data["isolate"]
    assert isolation["reference"] is True and isolation["found"] is True
    assert isolation["box"] == list(box[:4])
    # ... and the model view and the scores are that box, resized by the bin's rule
    pixels = host_isolate.crop(rgb(ITEM_FRAME), box, 96, 96)
    assert np.array_equal(model_view_pixels(images), pixels)
    _, expected = run_int8(CONTRACT, MODEL_BYTES, host_contract.pixels_to_input(pixels, CONTRACT)[None])
    assert [entry["score"] for entry in data["scores"]] == pytest.approx(expected[0], abs=1e-4)
    assert data["frame"] == meta and data["model_input"]["resized_here"] is False
    assert data["bin_frame"] == {"width": BIN_SIZE[0], "height": BIN_SIZE[1]}


def test_the_box_is_drawn_on_the_camera_view_where_it_lies_in_the_frame():
    scorer = scorer_for(contract=CONTRACT, empty_chamber=empty_chamber_thumbnail())
    for frame in (ITEM_FRAME, ITEM_FRAME_2):
        data, images = scorer.look(frame, {"width": BIN_SIZE[0], "height": BIN_SIZE[1],
                                           "format": "RGB565"})
        assert data["isolate"]["found"] is True
        left, top, width, height = data["isolate"]["box"]
        scale = preview_frame.CAMERA_VIEW_WIDTH / BIN_SIZE[0]
        xs, ys = magenta(images)
        assert xs.size > 0
        assert (xs.min(), ys.min()) == (round(left * scale), round(top * scale))
        assert (xs.max(), ys.max()) == (round((left + width) * scale) - 1,
                                        round((top + height) * scale) - 1)


@pytest.mark.parametrize("thumbnail", [None, b"\x00" * 10])
def test_without_a_fitting_empty_chamber_picture_an_isolate_model_sees_the_whole_frame(thumbnail):
    from host_tools import isolate as host_isolate

    scorer = scorer_for(contract=CONTRACT, empty_chamber=thumbnail)
    data, images = scorer.look(ITEM_FRAME, {"width": BIN_SIZE[0], "height": BIN_SIZE[1],
                                            "format": "RGB565"})
    assert data["isolate"]["reference"] is False and data["isolate"]["found"] is False
    whole = (0, 0) + BIN_SIZE
    assert data["isolate"]["box"] == list(whole)
    assert np.array_equal(model_view_pixels(images),
                          host_isolate.crop(rgb(ITEM_FRAME), whole, 96, 96))
    assert magenta(images)[0].size == 0


def test_a_changed_light_is_reported_and_the_whole_frame_shown():
    lit_chamber = scene((250, 240, 230), BIN_SIZE)  # the flash on, say, since the reference
    scorer = scorer_for(contract=CONTRACT, empty_chamber=empty_chamber_thumbnail())
    data, images = scorer.look(lit_chamber, {"width": BIN_SIZE[0], "height": BIN_SIZE[1],
                                             "format": "RGB565"})
    isolation = data["isolate"]
    assert isolation["reference"] is True and isolation["found"] is False
    assert isolation["changed_cells"] == isolation["cells"] > isolation["max_cells"]
    assert magenta(images)[0].size == 0


def test_a_larger_frame_is_resized_to_the_bins_frame_and_the_box_drawn_to_its_scale():
    from PIL import Image

    from host_tools import isolate as host_isolate

    scorer = scorer_for(contract=CONTRACT, empty_chamber=empty_chamber_thumbnail())
    # the empty chamber and the item of the bin's frame, seen wider for aiming
    large = host_contract.rgb888_to_rgb565(np.asarray(
        Image.fromarray(rgb(ITEM_FRAME)).resize((320, 240), Image.NEAREST)))
    meta = {"width": 320, "height": 240, "format": "RGB565"}
    expected = host_contract.rgb888_to_rgb565(
        host_isolate.frame_of(preview_frame.frame_to_image(large, meta), CONTRACT))
    assert scorer.bin_frame(large, meta) == expected
    data, images = scorer.look(large, meta)
    assert data["model_input"]["resized_here"] is True and data["isolate"]["found"] is True
    left, top, width, height = data["isolate"]["box"]
    xs, ys = magenta(images)
    scale_x = preview_frame.CAMERA_VIEW_WIDTH / BIN_SIZE[0]
    scale_y = 360 / BIN_SIZE[1]  # the 320x240 frame shown 480 wide
    assert (xs.min(), ys.min()) == (round(left * scale_x), round(top * scale_y))
    assert (xs.max(), ys.max()) == (round((left + width) * scale_x) - 1,
                                    round((top + height) * scale_y) - 1)


def test_exposure_gives_the_brightness_and_warns_about_clipped_pixels():
    from PIL import Image

    grey = preview_frame.exposure(Image.new("RGB", (10, 10), (128, 128, 128)))
    assert grey == {"brightness": 128.0, "dark": 0.0, "bright": 0.0, "warning": None}
    blown = Image.new("RGB", (10, 10), (128, 128, 128))
    blown.paste((255, 255, 255), (0, 0, 10, 1))  # a tenth of the pixels white
    assert "10% of the pixels are blown out" in preview_frame.exposure(blown)["warning"]
    black = preview_frame.exposure(Image.new("RGB", (10, 10), (0, 0, 0)))
    assert black["dark"] == 1.0 and "black" in black["warning"]


# ---- the board's side of the line ------------------------------------------------------------
def test_frames_are_read_back_whole_and_the_line_bytes_counted():
    board = StandInBoard()
    link = preview_board.PreviewBoard(board)
    link.load()
    frame, meta = link.frame(96, 96, False, True)
    assert frame == RED and meta["flash"] is True
    assert link.last_frame_bytes == board.traffic.sent + board.traffic.received - len(
        board.commands[0]) - 2
    assert link.frame(96, 96, False, False)[0] == BLUE


def test_a_damaged_frame_is_an_error_and_a_camera_failure_a_glitch():
    board = StandInBoard()
    link = preview_board.PreviewBoard(board)
    link.load()
    board.exec = lambda code, action="": b"AAAA\n{'width': 96, 'height': 96, 'bytes': 18432}\n"
    with pytest.raises(SmartbinError, match="frame arrived damaged"):
        link.frame(96, 96, False, False)
    board.exec = lambda code, action="": b"Traceback\n"
    with pytest.raises(SmartbinError, match="not a frame"):
        link.frame(96, 96, False, False)
    board.exec = lambda code, action="": b"{'error': 'camera: OSError 5', 'flash': False}\n"
    with pytest.raises(preview_board.CameraGlitch, match="OSError 5"):
        link.frame(96, 96, False, False)


def test_an_application_without_preview_asks_for_a_deploy():
    link = preview_board.PreviewBoard(StandInBoard(application=False))
    with pytest.raises(SmartbinError, match="run `smartbin deploy --port /dev/ttyFAKE` first"):
        link.load()


def test_the_frame_rate_is_computed_from_the_bytes_at_ten_bits_per_byte():
    assert preview_board.frames_per_second(11520, 115200) == pytest.approx(1.0)
    assert preview_board.seconds_on_the_line(92160, 921600) == pytest.approx(1.0)
    figures = link_figures(24745, 0.5)
    assert figures["fps_115200"] == pytest.approx(115200 / 247450, abs=1e-3)
    assert figures["fps_921600"] == pytest.approx(8 * figures["fps_115200"], abs=1e-2)


# ---- the model the board runs ----------------------------------------------------------------
def test_the_model_is_found_by_the_boards_sha256_and_another_one_refused(tmp_path,
                                                                         monkeypatch):
    board_sha = hashlib.sha256(MODEL_BYTES).hexdigest()
    assert find_model(board_sha, COMMITTED_DEFAULT)[1] == MODEL_BYTES
    monkeypatch.chdir(tmp_path)  # a half-built build/model is passed over for models/default
    (tmp_path / "build" / "model").mkdir(parents=True)
    (tmp_path / "build" / "model" / "model.json").write_text("{")
    assert find_model(board_sha)[1] == MODEL_BYTES
    with pytest.raises(SmartbinError, match="model.json"):
        find_model(board_sha, tmp_path / "build" / "model")
    with pytest.raises(SmartbinError, match="the board runs another model than"):
        find_model("0" * 64, COMMITTED_DEFAULT)


def test_a_board_without_a_model_asks_for_a_deploy():
    board = StandInBoard(files={"/model.tflite": None})
    with pytest.raises(SmartbinError, match="the board has no model"):
        preview(board.port, board=board)


def test_frame_sizes_start_with_the_bins_and_offer_only_larger_sensor_sizes():
    assert frame_sizes(96, 96) == ["96x96", "160x120", "320x240"]
    assert frame_sizes(160, 120) == ["160x120", "320x240"]
    assert frame_sizes(*BIN_SIZE) == ["240x240", "320x240"]


# ---- the whole loop: page data, toggles, hand-back -----------------------------------------------
def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def _post(url, body):
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_for(condition, url, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.loads(_get(url + "state.json")[1])
        if condition(state):
            return state
        time.sleep(0.05)
    raise AssertionError("the page never showed it: %r" % state)


@pytest.mark.parametrize("contract, bin_size, larger", [(PLAIN, (96, 96), (160, 120)),
                                                         (CONTRACT, BIN_SIZE, (320, 240))],
                         ids=["plain", "isolate"])
def test_preview_serves_frames_applies_toggles_and_hands_the_bin_back(contract, bin_size, larger):
    large = scene((90, 160, 90), larger, square=(250, 250, 250))
    board = StandInBoard(contract=contract, frames={
        bin_size: [scene((200, 40, 30), bin_size, square=(240, 240, 230)),
                   scene((30, 60, 200), bin_size, square=(20, 20, 20))],
        larger: [large]})
    stop = threading.Event()
    urls, result = [], {}
    worker = threading.Thread(target=lambda: result.update(
        preview(board.port, on_ready=urls.append, stop=stop, board=board)))
    worker.start()
    try:
        _wait_for(lambda state: True, _wait_url(urls))
        url = urls[0]
        first = _wait_for(lambda state: state["seq"] >= 1, url)
        # the camera shows the two scenes in turn: the scores must move
        _wait_for(lambda state: state["scores"] != first["scores"], url)
        bin_name = "%dx%d" % bin_size
        assert first["flash"] is False and first["settings"]["frame_size"] == bin_name
        assert first["frame_sizes"][0] == bin_name and first["frame"]["width"] == bin_size[0]
        assert first["model_input"]["resized_here"] is False
        assert _get(url + "model.png")[0] == 200
        larger_name = "%dx%d" % larger
        assert _post(url + "settings", b'{"flash": true, "frame_size": "%s"}'
                     % larger_name.encode())[0] == 200
        lit = _wait_for(lambda state: state.get("flash") and state["frame"]["width"] == larger[0],
                        url)
        assert lit["model_input"]["resized_here"] is True
        assert lit["link"]["bytes_per_frame"] > larger[0] * larger[1] * 2 * 4 // 3
        status, answer = _post(url + "settings", b'{"frame_size": "1x1"}')
        assert status == 400 and "frame_size must be one of" in answer["error"]
    finally:
        stop.set()
        worker.join(60)
    assert result["board"] == {"camera_on": False, "flash": False}
    assert board.commands[-1] == "_preview.session().stop()"
    assert result["frames"] >= 3
    with pytest.raises(OSError):
        _get(urls[0] + "state.json")  # the page's server is gone


@pytest.mark.parametrize("on_the_board", [True, False], ids=["reference", "no-reference"])
def test_preview_finds_the_item_against_the_empty_chamber_the_board_keeps(on_the_board):
    empty = empty_chamber_thumbnail() if on_the_board else None
    board = StandInBoard(files={"/empty_chamber.bin": empty},
                         frames={BIN_SIZE: [ITEM_FRAME, ITEM_FRAME_2]})
    stop = threading.Event()
    urls = []
    worker = threading.Thread(target=lambda: preview(board.port, on_ready=urls.append,
                                                     stop=stop, board=board))
    worker.start()
    seen = []

    def both_items_seen(state):
        if state["seq"]:
            seen.append(state)
        return len({tuple(entry["score"] for entry in state["scores"]) for state in seen}) == 2

    try:
        _wait_for(both_items_seen, _wait_url(urls))
    finally:
        stop.set()
        worker.join(60)
    assert {state["isolate"]["reference"] for state in seen} == {on_the_board}
    assert {state["isolate"]["found"] for state in seen} == {on_the_board}
    boxes = {tuple(state["isolate"]["box"]) for state in seen}
    if on_the_board:  # each item's own box, as the bin finds it
        assert boxes == {(10, 10, 100, 100), (110, 100, 120, 120)}
    else:
        assert boxes == {(0, 0) + BIN_SIZE}


def _wait_url(urls, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while not urls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert urls, "preview never served its page"
    return urls[0]


def test_a_camera_that_keeps_failing_ends_the_preview_with_one_line():
    board = StandInBoard(frames={BIN_SIZE: []})
    with pytest.raises(SmartbinError, match="the camera failed 5 times in a row"):
        preview(board.port, board=board, on_ready=lambda url: None)
    assert board.commands[-1] == "_preview.session().stop()"  # still switched off


# ---- the page's settings and server ----------------------------------------------------------
@pytest.mark.parametrize("request_body, message", [
    ([], "JSON object"), ({}, "JSON object"), ({"zoom": 2}, "unknown setting(s): zoom"),
    ({"flash": "yes"}, "flash must be true or false"),
    ({"frame_size": "640x480"}, "frame_size must be one of 96x96, 160x120"),
])
def test_bad_settings_are_refused_and_change_nothing(request_body, message):
    state = PreviewState(["96x96", "160x120"], flash=False)
    with pytest.raises(SmartbinError, match=message.replace("(", r"\(").replace(")", r"\)")):
        state.change(request_body)
    assert state.settings() == {"flash": False, "frame_size": "96x96"}


def test_the_server_answers_only_on_localhost_with_its_page_state_and_pictures():
    state = PreviewState(["96x96"], flash=True)
    with PageServer(state) as url:
        assert url.startswith("http://127.0.0.1:")
        status, page = _get(url)
        assert status == 200 and b"<title>smartbin preview</title>" in page
        assert b"http" not in page.split(b"<body>")[1]  # nothing from the network
        assert json.loads(_get(url + "state.json")[1])["settings"] == {"flash": True,
                                                                      "frame_size": "96x96"}
        with pytest.raises(urllib.error.HTTPError):
            _get(url + "camera.png")  # no frame yet
        for body in (b"not json", b"", b"\xff\xfe", b"[" * 100000, b"{" + b" " * 2000 + b"}"):
            status, answer = _post(url + "settings", body)
            assert status == 400 and answer["error"].startswith("settings must be a "), answer
            assert "JSON object" in answer["error"] and "line 1" not in answer["error"]
        assert json.loads(_get(url + "state.json")[1])["settings"]["flash"] is True
        state.publish({"label": "glass"}, {"camera": b"PNG"})
        assert _get(url + "camera.png") == (200, b"PNG")
        assert json.loads(_get(url + "state.json")[1])["seq"] == 1


# ---- the command line ------------------------------------------------------------------------
def test_preview_without_a_port_or_with_a_bad_baud_is_one_line(capsys):
    assert main(["preview"]) == 1
    assert "no serial port given" in capsys.readouterr().err
    assert main(["preview", "--port", "/dev/null", "--baud", "0"]) == 1
    assert capsys.readouterr().err.strip() == "error: --baud must be a whole number above 0, not 0"


def test_a_second_ctrl_c_mid_frame_still_hands_the_bin_back():
    board = StandInBoard()
    answer = board.exec
    frames = []

    def interrupted_on_the_third_frame(code, action=""):
        if "frame(" in code:
            frames.append(code)
            if len(frames) == 3:
                raise KeyboardInterrupt
        return answer(code, action)

    board.exec = interrupted_on_the_third_frame
    with pytest.raises(KeyboardInterrupt):
        preview(board.port, board=board)
    assert board.interrupted  # the board's command is stopped before anything else is sent
    assert board.commands[-1] == "_preview.session().stop()"
    assert board.preview.size is None and board.preview.hw.flash_led.lit is False
