"""The parts of MicroPython's `esp32` module the application touches: the ext0 wake is
armed in board.mjs (an item at the sensor wakes a board asleep with it armed); the rest
is inert (the virtual board has no button and no touch pads)."""
import js

WAKEUP_ALL_LOW = 0
WAKEUP_ANY_HIGH = 1


def wake_on_ext0(pin, level):
    js.board_machine.wake_on_ext0()


def wake_on_ext1(pins, level):
    pass


def wake_on_touch(wake):
    pass


def raw_temperature():
    return 120
