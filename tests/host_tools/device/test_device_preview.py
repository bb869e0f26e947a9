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
CONTRACT = json.loads((COMMITTED_DEFAULT / "model.json").read_text())
CONFIG_TEXT = (FIRMWARE_DIR / "config.json").read_text()


def scene(colour, size=(96, 96), square=None):
    """An RGB565 frame: a plain background with a square of another colour."""
    width, height = size
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[...] = colour
    if square is not None:
        rgb[height // 4:3 * height // 4, width // 4:3 * width // 4] = square
    return host_contract.rgb888_to_rgb565(rgb)


RED = scene((200, 40, 30), square=(240, 240, 230))
BLUE = scene((30, 60, 200), square=(20, 20, 20))


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

    def __init__(self, frames=None, files=None, application=True):
        import sys

        if str(FIRMWARE_DIR) not in sys.path:
            sys.path.insert(0, str(FIRMWARE_DIR))
        from sim.fakes import RamStorage, build_fake_hardware
        from smartbin.preview import Preview

        self.files = {"/config.json": CONFIG_TEXT.encode(), "/model.json": json.dumps(CONTRACT).encode(),
                      "/model.tflite": MODEL_BYTES}
        self.files.update(files or {})
        self.files = {path: data for path, data in self.files.items() if data is not None}
        storage = RamStorage()
        storage.files.update(self.files)
        config = firmware_module("config").load(storage)
        hardware = build_fake_hardware(config, storage=storage)
        hardware.camera = CyclingCamera(frames or {(96, 96): [RED, BLUE]})
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


def scorer_for(config_text=CONFIG_TEXT):
    config = preview_frame.board_config(config_text.encode())
    return preview_frame.FrameScorer(config, CONTRACT, MODEL_BYTES)


# ---- the bin's decision for a frame ----------------------------------------------------------
def test_scores_are_the_models_own_on_the_contracts_input_and_change_with_the_frame():
    from host_tools.model.predict import run_int8

    scorer = scorer_for()
    decisions = [scorer.decide(frame) for frame in (RED, BLUE)]
    inputs = [host_contract.pixels_to_input(host_contract.rgb565_to_rgb888(frame, 96, 96), CONTRACT)
              for frame in (RED, BLUE)]
    _, expected = run_int8(CONTRACT, MODEL_BYTES, np.stack(inputs))
    for decision, row in zip(decisions, expected):
        assert [entry["label"] for entry in decision["scores"]] == CONTRACT["labels"]
        assert [entry["score"] for entry in decision["scores"]] == pytest.approx(row, abs=1e-4)
        assert decision["label"] == CONTRACT["labels"][int(row.argmax())]
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
    expected = host_contract.rgb888_to_rgb565(host_contract.image_to_pixels(image, CONTRACT))
    assert scorer.model_frame(large, meta) == expected
    assert data["model_input"]["resized_here"] is True
    assert data["frame"] == meta
    assert scorer.look(RED, {"width": 96, "height": 96, "format": "RGB565"})[0][
        "model_input"]["resized_here"] is False


def test_the_model_view_is_the_input_blown_up_by_whole_pixels():
    from PIL import Image

    scorer = scorer_for()
    _, images = scorer.look(BLUE, {"width": 96, "height": 96, "format": "RGB565"})
    model_view = Image.open(io.BytesIO(images["model"]))
    assert model_view.size == (288, 288)
    small = preview_frame.frame_to_image(BLUE, scorer.model_meta())
    assert np.array_equal(np.asarray(model_view)[::3, ::3], np.asarray(small))
    assert Image.open(io.BytesIO(images["camera"])).width == preview_frame.CAMERA_VIEW_WIDTH


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


def test_frame_sizes_start_with_the_models_and_offer_only_larger_sensor_sizes():
    assert frame_sizes(96, 96) == ["96x96", "160x120", "320x240"]
    assert frame_sizes(160, 120) == ["160x120", "320x240"]


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


def test_preview_serves_frames_applies_toggles_and_hands_the_bin_back():
    large = scene((90, 160, 90), (160, 120), square=(250, 250, 250))
    board = StandInBoard(frames={(96, 96): [RED, BLUE], (160, 120): [large]})
    stop = threading.Event()
    urls, result = [], {}
    worker = threading.Thread(target=lambda: result.update(
        preview(board.port, on_ready=urls.append, stop=stop, board=board)))
    worker.start()
    try:
        _wait_for(lambda state: True, _wait_url(urls))
        url = urls[0]
        first = _wait_for(lambda state: state["seq"] >= 1, url)
        # the camera shows RED and BLUE in turn: the scores must move
        _wait_for(lambda state: state["scores"] != first["scores"], url)
        assert first["flash"] is False and first["settings"]["frame_size"] == "96x96"
        assert _get(url + "model.png")[0] == 200
        assert _post(url + "settings", b'{"flash": true, "frame_size": "160x120"}')[0] == 200
        lit = _wait_for(lambda state: state.get("flash") and state["frame"]["width"] == 160, url)
        assert lit["model_input"]["resized_here"] is True
        assert lit["link"]["bytes_per_frame"] > 160 * 120 * 2 * 4 // 3
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


def _wait_url(urls, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while not urls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert urls, "preview never served its page"
    return urls[0]


def test_a_camera_that_keeps_failing_ends_the_preview_with_one_line():
    board = StandInBoard(frames={(96, 96): []})
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
        assert _post(url + "settings", b"not json")[0] == 400
        state.publish({"label": "glass"}, {"camera": b"PNG"})
        assert _get(url + "camera.png") == (200, b"PNG")
        assert json.loads(_get(url + "state.json")[1])["seq"] == 1


# ---- the command line ------------------------------------------------------------------------
def test_preview_without_a_port_or_with_a_bad_baud_is_one_line(capsys):
    assert main(["preview"]) == 1
    assert "no serial port given" in capsys.readouterr().err
    assert main(["preview", "--port", "/dev/null", "--baud", "0"]) == 1
    assert capsys.readouterr().err.strip() == ("error: --baud must be a positive number, "
                                              "e.g. 115200")


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
