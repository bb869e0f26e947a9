"""The real ESP32-CAM devices behind the small interfaces the app uses. Only this module
touches `machine`, `esp32` and `camera`; its imports are guarded so the package still
imports (and mpy-cross compiles it) where they do not exist.

Interfaces (the fakes in firmware/sim implement the same):
  camera       configure(width, height, grayscale), on(), capture() -> frame buffer
               (reused; raises OSError on failure), off()
  lids         list of servo outputs: pulse_us(us), stop(); None for a lid without a pin
  wake         reason() -> "sensor" | "button" | "timer" | "power_on", active() -> bool,
               arm(sensor=True)
  status_led, flash_led   on(), off()
  clock        ticks_ms(), sleep_ms(ms), time()
  power        reset_cause() -> "power_on" | "deep_sleep" | "watchdog" | "soft" | "hard",
               start_watchdog(ms), feed_watchdog(), deep_sleep() (until an item or the
               button), deep_sleep_for(ms) (until the timer or the button)
  storage      smartbin.storage.Storage
  latch        None, or (power.mode "latch") hold(), release(), park(): the keep-alive
               line of the power latch (docs/power-latch.md)

MicroPython 1.27 names no brownout: ports/esp32/modmachine.c maps ESP_RST_BROWNOUT to
PWRON_RESET, so a brownout reads "power_on" here (the app looks for other evidence).
Outputs are parked with the pad hold (`Pin(..., hold=True)`, ports/esp32/machine_pin.c),
not esp32.gpio_deep_sleep_hold (absent or a no-op on the ESP32). The default pins are RTC
GPIOs, whose hold lasts through deep sleep: the flash LED stays off, the servo signals
stay low, the camera stays powered down. Each device releases its hold (`hold=False`)
before it drives the pin again.
"""
import time

try:
    import esp32
    import machine
    from machine import PWM, Pin
except ImportError:  # CPython, the MicroPython VM: board.py is never called there
    esp32 = machine = PWM = Pin = None

# model input size -> the camera driver's FrameSize name (sizes the OV2640 gives directly)
_FRAME_SIZES = {
    (96, 96): "R96X96", (128, 128): "R128x128", (160, 120): "QQVGA", (176, 144): "QCIF",
    (240, 176): "HQVGA", (240, 240): "R240X240", (320, 240): "QVGA", (320, 320): "R320X320",
}
_SERVO_HZ = 50


class Hardware:
    def __init__(self, camera, lids, wake, status_led, flash_led, clock, power, storage,
                 latch=None):
        self.camera = camera
        self.lids = lids
        self.wake = wake
        self.status_led = status_led
        self.flash_led = flash_led
        self.clock = clock
        self.power = power
        self.storage = storage
        self.latch = latch


class PowerLatch:
    """The keep-alive line of a latch-powered bin. The wake sensor (or the button) switches
    the supply on; this line, driven to `level`, keeps it on until the item is served;
    released, the supply goes off (unless the sensor still holds it, or USB feeds the
    board). Constructing it asserts the line: the app does that before anything slow."""

    def __init__(self, pin, level):
        self.level = level
        self.pin = Pin(pin, Pin.OUT, value=level, hold=False)

    def hold(self):
        self.pin.value(self.level)

    def release(self):
        self.pin.value(1 - self.level)

    def park(self):
        """Released, and held released through a fallback deep sleep."""
        self.pin.init(Pin.OUT, value=1 - self.level, hold=True)


def hold_power(config):
    """The latch with its keep-alive asserted (power.mode "latch"), else None."""
    if not config.latch:
        return None
    return PowerLatch(config.pins["keep_alive"], config.keep_alive_level)


class BoardCamera:
    """cnadler86/micropython-camera-API on the AI-Thinker pins; powered only while needed
    (PWDN high cuts the sensor, held through deep sleep)."""

    def __init__(self, pins, xclk_hz):
        self.pins = pins
        self.xclk_hz = xclk_hz
        self.camera = None
        self.width = 96
        self.height = 96
        self.grayscale = False
        self.frame = None

    def configure(self, width, height, grayscale):
        self.width = width
        self.height = height
        self.grayscale = grayscale
        self.frame = bytearray(width * height * (1 if grayscale else 2))

    def on(self):
        if self.camera is not None:
            return
        from camera import Camera, FrameSize, GrabMode, PixelFormat

        if self.frame is None:
            self.configure(self.width, self.height, self.grayscale)
        name = _FRAME_SIZES.get((self.width, self.height))
        if name is None:
            raise OSError("camera cannot capture %dx%d" % (self.width, self.height))
        pins = self.pins
        power = pins["camera_power"]
        if power >= 0:
            Pin(power, Pin.OUT, value=0, hold=False)  # release the sleep hold, power up
        self.camera = Camera(
            data_pins=pins["camera_data"], vsync_pin=pins["camera_vsync"],
            href_pin=pins["camera_href"], sda_pin=pins["camera_sda"],
            scl_pin=pins["camera_scl"], pclk_pin=pins["camera_pclk"],
            xclk_pin=pins["camera_xclk"], xclk_freq=self.xclk_hz, powerdown_pin=power,
            reset_pin=pins["camera_reset"],
            pixel_format=PixelFormat.GRAYSCALE if self.grayscale else PixelFormat.RGB565,
            frame_size=getattr(FrameSize, name), fb_count=1, grab_mode=GrabMode.LATEST)

    def capture(self):
        view = self.camera.capture()  # a view of the driver's buffer, or None on failure
        if view is None or len(view) != len(self.frame):
            self.camera.free_buffer()
            raise OSError("camera capture failed")
        self.frame[:] = view
        self.camera.free_buffer()
        return self.frame

    def off(self):
        if self.camera is not None:
            try:
                self.camera.deinit()
            finally:
                self.camera = None
        power = self.pins["camera_power"]
        if power >= 0:
            Pin(power, Pin.OUT, value=1, hold=True)  # sensor off through deep sleep


class PwmServo:
    """One servo signal pin: 50 Hz PWM while moving; otherwise held low (no pulses, so the
    servo neither jitters nor draws holding current), also through deep sleep."""

    def __init__(self, pin):
        self.pin = pin
        self.pwm = None

    def pulse_us(self, us):
        if self.pwm is None:
            Pin(self.pin, Pin.OUT, value=0, hold=False)  # release the sleep hold
            self.pwm = PWM(Pin(self.pin), freq=_SERVO_HZ, duty_ns=us * 1000)
        else:
            self.pwm.duty_ns(us * 1000)

    def stop(self):
        if self.pwm is not None:
            self.pwm.deinit()
            self.pwm = None
        Pin(self.pin, Pin.OUT, value=0, hold=True)

    park = stop


class Led:
    def __init__(self, pin, active_low=False):
        self.active_low = active_low
        self.pin = None
        if pin >= 0:  # released from the sleep hold, off
            self.pin = Pin(pin, Pin.OUT, value=1 if active_low else 0, hold=False)

    def on(self):
        if self.pin is not None:
            self.pin.value(0 if self.active_low else 1)

    def off(self):
        if self.pin is not None:
            self.pin.value(1 if self.active_low else 0)

    def park(self):
        """Off, and held off through deep sleep (a floating GPIO4 lets the flash LED glow)."""
        if self.pin is not None:
            self.pin.init(Pin.OUT, value=1 if self.active_low else 0, hold=True)


class Wake:
    """Item sensor on an RTC GPIO (ext0 wake) and an optional button (ext1 wake). The
    sensor pin is pulled to its idle level, so an unplugged sensor reads idle."""

    def __init__(self, pin, level, button):
        self.pin = pin
        self.level = level
        self.button = button

    def reason(self):
        cause = machine.wake_reason()
        if cause == machine.EXT0_WAKE:
            return "sensor"
        if cause == machine.EXT1_WAKE:
            return "button"
        if cause == machine.TIMER_WAKE:
            return "timer"
        return "power_on"

    def _sensor_pin(self):
        return Pin(self.pin, Pin.IN, Pin.PULL_DOWN if self.level else Pin.PULL_UP)

    def active(self):
        return self._sensor_pin().value() == self.level

    def arm(self, sensor=True):
        """ext0 is level-triggered: armed while the sensor is active it wakes at once, so
        the caller arms the sensor only once it is idle."""
        if sensor:
            level = esp32.WAKEUP_ANY_HIGH if self.level else esp32.WAKEUP_ALL_LOW
            esp32.wake_on_ext0(pin=self._sensor_pin(), level=level)
        if self.button >= 0:
            esp32.wake_on_ext1(pins=(Pin(self.button, Pin.IN, Pin.PULL_DOWN),),
                               level=esp32.WAKEUP_ANY_HIGH)


class Clock:
    def ticks_ms(self):
        return time.ticks_ms()

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def time(self):
        return time.time()


class Power:
    def __init__(self, wake, parked=()):
        self.wake = wake
        self.parked = parked  # devices with park(): outputs held safe through deep sleep
        self.watchdog = None

    def reset_cause(self):
        cause = machine.reset_cause()
        if cause == machine.DEEPSLEEP_RESET:
            return "deep_sleep"
        if cause == machine.WDT_RESET:
            return "watchdog"
        if cause == machine.SOFT_RESET:
            return "soft"
        if cause == machine.HARD_RESET:
            return "hard"
        return "power_on"  # also a brownout on MicroPython 1.27

    def start_watchdog(self, timeout_ms):
        # On the esp32 the WDT cannot be stopped and a second WDT() only changes the
        # timeout (machine_wdt.c: esp_task_wdt_reconfigure); the host tools rely on that.
        self.watchdog = machine.WDT(timeout=timeout_ms)

    def feed_watchdog(self):
        if self.watchdog is not None:
            self.watchdog.feed()

    def _park(self):
        for device in self.parked:
            device.park()

    def deep_sleep(self):
        self.wake.arm(sensor=True)
        self._park()
        machine.deepsleep()

    def deep_sleep_for(self, ms):
        self.wake.arm(sensor=False)
        self._park()
        machine.deepsleep(ms)


def build_hardware(config, storage, latch=None):
    """Construct every device from the validated config (nothing moves yet); `latch` is
    hold_power()'s, made before anything else."""
    pins = config.pins
    wake = Wake(pins["wake"], pins["wake_level"], pins["button"])
    servos = [PwmServo(lid["pin"]) if lid["pin"] >= 0 else None for lid in config.lids]
    status_led = Led(pins["status_led"], pins["status_led_active_low"])
    flash_led = Led(pins["flash_led"])
    parked = [servo for servo in servos if servo is not None] + [status_led, flash_led]
    if latch is not None:
        parked.append(latch)
    return Hardware(
        camera=BoardCamera(pins, config.xclk_hz), lids=servos, wake=wake,
        status_led=status_led, flash_led=flash_led, clock=Clock(),
        power=Power(wake, parked), storage=storage, latch=latch)
