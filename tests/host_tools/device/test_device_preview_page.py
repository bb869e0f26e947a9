"""`smartbin preview` end to end: the command against the virtual board running the
deployed application and the committed model (which isolates the item in a 240x240 frame
against the empty chamber), its page driven in headless Chromium."""
import json
import os
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browser import broken_images, chromium, console_errors
from host_tools import contract
from host_tools.firmware_modules import firmware_module
from host_tools.paths import COMMITTED_DEFAULT, FIRMWARE_DIR, REPO_ROOT
from host_tools.virtual.board import VirtualBoard

SCREENSHOT = REPO_ROOT / "build" / "preview.png"
MODEL = json.loads((COMMITTED_DEFAULT / "model.json").read_text())
BIN_SIZE = (MODEL["isolate"]["frame_width"], MODEL["isolate"]["frame_height"])
CHAMBER = (110, 100, 90)


def scene(background, square=None, size=BIN_SIZE):
    width, height = size
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[...] = background
    if square is not None:
        rgb[height // 4:3 * height // 4, width // 3:2 * width // 3] = square
    return contract.rgb888_to_rgb565(rgb)


def keep_empty_chamber(board, frame):
    """Leave on the board the empty-chamber picture the bin would take of `frame`."""
    from host_tools.device.transport import Board

    isolator = firmware_module("isolate").Isolator(
        MODEL["isolate"], MODEL["input"]["width"], MODEL["input"]["height"], True,
        allow_native=False)
    isolator.remember_empty(frame)
    show(board, [frame])  # what the application sees should it look at its chamber itself
    events = []
    board.listen(events.append)
    with Board(board.port) as link:
        link.write_file(firmware_module("cycle").EMPTY_CHAMBER, bytes(isolator.empty))
    # the board restarts into the application: wait until it has looked and gone to sleep
    deadline = time.monotonic() + 60
    while not any("sleep" in event for event in events if "reset" not in event):
        assert time.monotonic() < deadline, events
        time.sleep(0.1)


def show(board, frames):
    """Make `frames` what the virtual camera sends, in turn."""
    for path in board.frames_dir.iterdir():
        path.unlink()
    for index, frame in enumerate(frames):
        (board.frames_dir / ("%02d.raw" % index)).write_bytes(frame)


@pytest.fixture(scope="module")
def sorting_bin(tmp_path_factory):
    """A virtual bin with the application, its config and the committed model deployed."""
    from host_tools.device.deploy import deploy

    with VirtualBoard(tmp_path_factory.mktemp("preview-bin")) as virtual:
        deploy(virtual.port, FIRMWARE_DIR, COMMITTED_DEFAULT, boot_seconds=30)
        yield virtual


def start_preview(board):
    process = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "preview", "--port", board.port, "--no-browser",
         "--model", str(COMMITTED_DEFAULT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT)
    deadline = time.monotonic() + 120
    line = b""
    while time.monotonic() < deadline and process.poll() is None:
        if select.select([process.stdout], [], [], 0.5)[0]:
            line = process.stdout.readline()
            if line.startswith(b"preview: http://127.0.0.1:"):
                return process, line.split()[1].decode()
    process.kill()
    raise AssertionError("preview never printed its address: %r %r"
                         % (line, process.stderr.read()))


def wait_until(driver, condition, what, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition(driver)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the page never showed %s: %s" % (what, driver.find_element(
        By.TAG_NAME, "body").text))


def model_picture(driver):
    """The model view's pixels as the page shows them (a data URL of the <img>)."""
    return driver.execute_script(
        "const img = document.getElementById('model');"
        "if (!img.complete || !img.naturalWidth) return null;"
        "const canvas = document.createElement('canvas');"
        "canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;"
        "canvas.getContext('2d').drawImage(img, 0, 0); return canvas.toDataURL();")


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def test_preview_shows_live_frames_scores_and_toggles_then_hands_the_bin_back(sorting_bin):
    board = sorting_bin
    from host_tools import isolate as host_isolate

    empty = scene(CHAMBER)
    keep_empty_chamber(board, empty)
    items = [scene(CHAMBER, (250, 250, 240)), scene(CHAMBER, (15, 15, 15))]
    show(board, items)

    def cells(frame):
        return host_isolate.cells_of(contract.rgb565_to_rgb888(frame, *BIN_SIZE),
                                     MODEL["isolate"]["grid"])

    # the box the bin finds (smartbin/isolate.py's host twin), the same for both items
    boxes = {host_isolate.find_box(cells(item), cells(empty), MODEL["isolate"],
                                   MODEL["input"]["width"], MODEL["input"]["height"])
             for item in items}
    assert len(boxes) == 1
    box = boxes.pop()
    assert box[4] is True and box[2] < BIN_SIZE[0]
    events = []
    process, url = start_preview(board)
    try:
        with chromium() as driver:
            driver.get(url)
            wait_until(driver, lambda d: "%" in text(d, "decision"), "a decision")
            first = (model_picture(driver), text(driver, "scores"))
            assert first[0] and "cardboard" in first[1]
            # the camera sends the two scenes in turn: picture and scores must both move
            wait_until(driver, lambda d: model_picture(d) not in (None, first[0])
                       and text(d, "scores") != first[1], "a new frame and new scores")
            assert " lid" in text(driver, "decision")
            assert "brightness" in text(driver, "exposure")
            assert "240x240 RGB565, flash LED off" in text(driver, "camera-caption")
            # the item's box, found against the empty chamber the board keeps, drawn in magenta
            assert ("the item's box (%dx%d at %d,%d of the bin's 240x240 frame"
                    % (box[2], box[3], box[0], box[1])) in text(driver, "model-caption")
            assert "Magenta: the box the bin would crop" in text(driver, "camera-caption")

            driver.find_element(By.ID, "flash").click()
            wait_until(driver, lambda d: "flash LED on" in text(d, "camera-caption"),
                       "the flash LED lit on the board")

            show(board, [scene((60, 230, 60), (255, 255, 255), (320, 240))])
            select = Select(driver.find_element(By.ID, "frame-size"))
            assert [option.text for option in select.options] == ["240x240 (the bin's)",
                                                                  "320x240"]
            select.select_by_value("320x240")
            wait_until(driver, lambda d: "320x240" in text(d, "camera-caption"),
                       "a 320x240 frame from the board")
            assert "resized on this computer from the 320x240 frame" in text(driver,
                                                                             "model-caption")
            # a bright green scene against a grey chamber: every cell changed, the whole frame
            assert "cells differ from the empty chamber" in text(driver, "model-caption")
            wait_until(driver, lambda d: "blown out" in text(d, "warning"),
                       "the clipped-pixel warning")
            assert "frames/s at 115200 baud" in text(driver, "link")

            SCREENSHOT.parent.mkdir(exist_ok=True)
            driver.save_screenshot(str(SCREENSHOT))
            assert broken_images(driver) == []
            assert console_errors(driver) == []
        board.listen(events.append)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert b"camera off, flash LED off, lids closed" in out
    assert b"the board restarted into the application" in out
    # after stopping: each lid driven to closed_us and its PWM stopped, then machine.reset()
    resets = [index for index, event in enumerate(events) if "reset" in event]
    assert resets and events[resets[0]]["reset"] == "hard"
    pulses = [event for event in events[:resets[0]] if "pwm" in event]
    closed_us = {14: 1000, 15: 1000, 2: 1000}
    assert {event["pwm"] for event in pulses} == set(closed_us)
    for pin, us in closed_us.items():
        assert [event["us"] for event in pulses if event["pwm"] == pin][-2:] == [us, 0]
    # and the application runs again: it boots and goes to sleep waiting for an item
    deadline = time.monotonic() + 60
    while not any("sleep" in event for event in events[resets[0]:]):
        assert time.monotonic() < deadline, events[resets[0]:]
        time.sleep(0.1)


def test_the_frame_rates_in_the_docs_are_the_bytes_counted_on_the_virtual_board(sorting_bin):
    import re

    from host_tools.device.preview_board import PreviewBoard, frames_per_second
    from host_tools.device.transport import Board

    docs = (REPO_ROOT / "docs" / "building-the-bin.md").read_text()
    rows = re.findall(r"^\| (\d+)x(\d+) (RGB565|GRAY)[^|]*\| ([\d ]+) \| ([\d.]+) frames/s[^|]*"
                      r"\| ([\d.]+) frames/s \|$", docs, re.MULTILINE)
    assert len(rows) == 5
    assert ("%d" % BIN_SIZE[0], "%d" % BIN_SIZE[1], "RGB565") in [row[:3] for row in rows]
    try:
        with Board(sorting_bin.port) as board:
            link = PreviewBoard(board)
            link.load()
            for width, height, pixel_format, documented, at_115200, at_921600 in rows:
                width, height, grayscale = int(width), int(height), pixel_format == "GRAY"
                show(sorting_bin, [bytes(range(256)) * (width * height * (1 if grayscale else 2)
                                                        // 256)])
                link.frame(width, height, grayscale, False)
                documented = int(documented.replace(" ", ""))
                assert abs(link.last_frame_bytes - documented) <= 4, (width, height, pixel_format)
                for shown, baud in ((at_115200, 115200), (at_921600, 921600)):
                    decimals = len(shown.split(".")[1])
                    assert float(shown) == round(frames_per_second(documented, baud), decimals)
            link.stop()
    finally:
        show(sorting_bin, [])
