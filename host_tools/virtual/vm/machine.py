"""The parts of MicroPython's `machine` module the ESP32-CAM application touches: inert,
except what board.mjs keeps outside the VM so that it outlives a reset as the chip's does
(watchdog, reset(), reset_cause(), deep sleep and its wake, RTC memory), and the PWM of
the servo pins, which board.mjs reports to the host (the lids it moves)."""
import time

import js

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5

    def __init__(self, pin_id, mode=-1, pull=-1, value=None, **kwargs):
        self._id = pin_id
        # nothing is wired to the virtual pins: an input reads its pull
        self._value = (1 if pull == Pin.PULL_UP else 0) if value is None else value

    def init(self, *args, **kwargs):
        pass

    def value(self, value=None):
        if value is None:
            return self._value
        self._value = 1 if value else 0

    def __call__(self, value=None):
        return self.value(value)

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0

    def irq(self, handler=None, trigger=0, **kwargs):
        return None


def _pin_number(pin):
    return pin._id if isinstance(pin, Pin) else pin


def _report_pulse(pin, ns):
    js.board_pins.pwm(pin, ns // 1000, time.ticks_ms())


class PWM:
    def __init__(self, pin, freq=50, duty_u16=0, duty_ns=0, **kwargs):
        self._pin = _pin_number(pin)
        self._freq = freq
        self._duty_u16 = duty_u16
        self._duty_ns = duty_ns
        _report_pulse(self._pin, duty_ns)

    def freq(self, value=None):
        if value is None:
            return self._freq
        self._freq = value

    def duty_u16(self, value=None):
        if value is None:
            return self._duty_u16
        self._duty_u16 = value

    def duty_ns(self, value=None):
        if value is None:
            return self._duty_ns
        self._duty_ns = value
        _report_pulse(self._pin, value)

    def deinit(self):
        _report_pulse(self._pin, 0)


class ADC:
    def __init__(self, pin, **kwargs):
        pass

    def read_u16(self):
        return 0

    def read_uv(self):
        return 0

    def atten(self, value):
        pass


class RTC:
    def memory(self, data=None):
        """RTC slow memory: kept through deep sleep and resets, lost at power-on."""
        if data is None:
            return bytes.fromhex(js.board_machine.rtc_memory())
        js.board_machine.rtc_memory(bytes(data).hex())


class WDT:
    """One watchdog; only feed() (the esp32 port has no deinit and no timeout_ms)."""

    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        js.board_machine.wdt_start(timeout)

    def feed(self):
        js.board_machine.wdt_feed()


def freq(value=None):
    return 240000000 if value is None else None


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def reset_cause():
    return js.board_machine.reset_cause()


def wake_reason():
    return js.board_machine.wake_reason()


def lightsleep(ms=0):
    time.sleep_ms(ms)


def deepsleep(ms=0):
    # A board powers down here (its watchdog with it) and boots afresh at the wake; the
    # virtual board ends the program, as the reset would, and board.mjs wakes it.
    js.board_machine.deep_sleep(ms)
    raise SystemExit


def reset():
    js.board_machine.reset()  # the board resets once this command has ended
    raise SystemExit


def soft_reset():
    raise SystemExit


def idle():
    pass
