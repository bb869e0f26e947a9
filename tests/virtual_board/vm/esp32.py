"""The parts of MicroPython's `esp32` module the application touches, inert."""
WAKEUP_ALL_LOW = 0
WAKEUP_ANY_HIGH = 1


def wake_on_ext0(pin, level):
    pass


def wake_on_ext1(pins, level):
    pass


def wake_on_touch(wake):
    pass


def raw_temperature():
    return 120

