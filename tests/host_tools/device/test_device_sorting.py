"""A bin in use on the virtual board: items wake it from deep sleep, and each one shows up
as one line on the serial console, which is what `smartbin monitor` relays."""
import re
import time

from host_tools.device.deploy import plan
from host_tools.device.transport import Board
from device_fixtures import level_board

from test_device_servo_selftest import rgb565_frame

ITEM_LINE = re.compile(r"^item (\w+) (\d\.\d\d) -> lid (\w+) \(look \d+ ms, lid \d+ ms\)$")


def item_lines(output):
    """The complete item lines seen so far."""
    return [line.strip() for line in output.splitlines(keepends=True)
            if line.startswith("item ") and line.endswith("\n")]


def test_each_item_prints_its_class_score_lid_and_times_on_the_console(
        tmp_path, firmware_copy, tiny_model):
    with level_board(tmp_path / "in-use", items=2) as sorting:
        for board_path, data in plan(firmware_copy, tiny_model):  # as deploy leaves it
            target = sorting.flash_dir / board_path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (sorting.frames_dir / "glass.raw").write_bytes(rgb565_frame(1 * 256 // 6 + 10))
        with Board(sorting.port) as board:
            # as `smartbin monitor`: restart the application and read what it prints
            output = board.soft_reset_and_watch(1.0)
            deadline = time.monotonic() + 300  # a bound, not a speed requirement
            while len(item_lines(output)) < 2 and time.monotonic() < deadline:
                output += board.read_output(0.5)
    items = item_lines(output)
    assert len(items) == 2, output
    for line in items:
        match = ITEM_LINE.match(line)
        assert match, line
        assert match.group(1, 2, 3) == ("glass", "1.00", "containers")
    assert output.count("rst:0x5 (DEEPSLEEP_RESET)") == 2
