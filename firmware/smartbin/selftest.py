"""Board-side steps of `smartbin servo` (find a lid's pulse widths) and `smartbin selftest`
(every device once), called by the laptop over the REPL; nothing here runs at boot.

Each selftest step returns (ok, detail): a failing device is a result to show, not an
error, so the steps after it still run. The devices are the application's own, built
from the board's config, so the test sees what the bin will do."""
import gc

from smartbin import config as config_module
from smartbin import model_contract
from smartbin.classifier import Classifier, load_model
from smartbin.lids import PULSE_MAX_US, PULSE_MIN_US, Lids
from smartbin.preprocess import Preprocessor

_BLINKS = 3


def _why(error):
    return "%s: %s" % (type(error).__name__, error)


def _uniform(frame):
    first = frame[0]
    for value in frame:
        if value != first:
            return False
    return True


class Checks:
    """The steps, on hardware `hw` built from `config`; `microlite` is the firmware's TFLM
    module (None when the firmware has none)."""

    def __init__(self, hw, config, microlite=None):
        self.hw = hw
        self.config = config
        self.microlite = microlite
        self.frame = None
        self.frame_meta = None
        self.contract = None

    def lid_names(self):
        return [lid["name"] for lid in self.config.lids]

    def move_lid(self, name, us):
        """Drive lid `name` to `us` microseconds and keep the pulses on, so the servo holds
        the position; return the lid's GPIO."""
        names = self.lid_names()
        if name not in names:
            raise ValueError("no lid named %r in /config.json (lids: %s)"
                             % (name, ", ".join(names)))
        if not PULSE_MIN_US <= us <= PULSE_MAX_US:
            raise ValueError("pulse width %d us is outside %d..%d" % (us, PULSE_MIN_US,
                                                                       PULSE_MAX_US))
        index = names.index(name)
        output = self.hw.lids[index]
        if output is None:
            raise ValueError("lid %s has no usable pin in /config.json" % name)
        output.pulse_us(us)
        return self.config.lids[index]["pin"]

    def config_step(self):
        problems = self.config.problems
        if problems:
            return False, "%d problem(s), defaults used: %s" % (len(problems),
                                                                "; ".join(problems))
        return True, "%d lids: %s" % (len(self.config.lids), ", ".join(self.lid_names()))

    def lid(self, index):
        """Open lid `index` to open_us, hold, close to closed_us, stop (as for an item)."""
        lid = self.config.lids[index]
        if self.hw.lids[index] is None:
            return False, "%s: no usable pin in /config.json" % lid["name"]
        try:
            Lids(self.hw.lids, self.config, self.hw.clock, self.hw.power.feed_watchdog
                 ).serve(index)
        except Exception as error:
            return False, "%s (GPIO%d): %s" % (lid["name"], lid["pin"], _why(error))
        return True, ("%s (GPIO%d) opened to %d us and closed to %d us: did it move that way?"
                      % (lid["name"], lid["pin"], lid["open_us"], lid["closed_us"]))

    def leds(self):
        hw = self.hw
        pins = self.config.pins
        try:
            for _ in range(_BLINKS):
                hw.status_led.on()
                hw.clock.sleep_ms(200)
                hw.status_led.off()
                hw.clock.sleep_ms(300)
            hw.flash_led.on()
            hw.clock.sleep_ms(100)
            hw.flash_led.off()
        except Exception as error:
            return False, _why(error)
        return True, ("status LED (GPIO%d) blinked %d times, flash LED (GPIO%d) once: did "
                      "you see them?" % (pins["status_led"], _BLINKS, pins["flash_led"]))

    def photo(self):
        """One frame at the size the bin captures: the model input, or the isolate frame (96x96
        colour without a model.json)."""
        hw = self.hw
        width, height, grayscale = 96, 96, False
        try:
            self.contract = model_contract.load(hw.storage, self.config.contract_path)
            width, height = self.contract.frame_width, self.contract.frame_height
            grayscale = self.contract.channels == 1
        except Exception:
            self.contract = None  # the inference step says why
        camera = hw.camera
        started = hw.clock.ticks_ms()
        try:
            camera.configure(width, height, grayscale)
            camera.on()
            for _ in range(self.config.warmup_frames):
                camera.capture()
            frame = camera.capture()
        except Exception as error:
            return False, _why(error)
        finally:
            try:
                camera.off()
            except Exception:
                pass
        took = hw.clock.ticks_ms() - started
        self.frame = frame
        self.frame_meta = {"width": width, "height": height,
                           "format": "GRAY" if grayscale else "RGB565", "bytes": len(frame)}
        if _uniform(frame):
            return False, ("every byte of the %dx%d frame is 0x%02x: is the lens covered or "
                           "the sensor's ribbon loose?" % (width, height, frame[0]))
        return True, "%dx%d %s frame in %d ms" % (width, height,
                                                 "GRAY" if grayscale else "RGB565", took)

    def save_photo(self, path):
        """Write the last photo to `path` on the flash (for the laptop to fetch); return its
        {"width", "height", "format", "bytes"}."""
        self.hw.storage.write(path, self.frame)
        return self.frame_meta

    def inference(self):
        """Classify the photo with the deployed model, as the bin does."""
        if self.microlite is None:
            return False, ("no microlite module in this firmware: flash the smartbin "
                           "firmware image")
        if self.frame is None:
            return False, "no photo to classify (the photo step failed)"
        hw = self.hw
        try:
            contract = self.contract or model_contract.load(hw.storage,
                                                            self.config.contract_path)
            gc.collect()
            classifier = Classifier(self.microlite, load_model(hw.storage,
                                                               self.config.model_path),
                                    contract)
            started = hw.clock.ticks_ms()
            Preprocessor(contract).run(self.frame, classifier.input_view)
            classifier.classify()
            took = hw.clock.ticks_ms() - started
        except Exception as error:
            return False, _why(error)
        finally:
            gc.collect()
        return True, "%s %.2f in %d ms" % (contract.labels[classifier.best],
                                           contract.confidence(classifier.best_score), took)


_checks = None


def session(config_path="/config.json"):
    """The board's Checks, built once per REPL session from the board's config."""
    global _checks
    if _checks is None:
        from smartbin import board
        from smartbin.storage import Storage

        storage = Storage()
        config = config_module.load(storage, config_path)
        try:
            import microlite
        except ImportError:
            microlite = None
        # a latch-powered bin stays on while the host runs the checks
        hardware = board.build_hardware(config, storage, board.hold_power(config))
        _checks = Checks(hardware, config, microlite)
    return _checks
