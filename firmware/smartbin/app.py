"""The bin's program: boot once, then serve each wake and go back to deep sleep, or (a
latch-powered bin, power.mode "latch") switch its own power off.

boot: read the config (bad values -> defaults + LED code), start the watchdog, notice a
restart in the middle of a lid move (gentle moves for a while if it looks like a
brownout), close every lid after a cold start, load the model once.
serve: a wake from the item sensor or the button runs one cycle; any exception is written
to /errors.log and the bin sleeps and tries again on the next item.
On the board deep sleep resets the chip, so every wake boots afresh; with fakes (tests,
simulator) `deep_sleep` returns and the loop serves the next wake.
Latch mode: the sensor or the button switched the supply on, so every power-on is an item.
The keep-alive is asserted before anything slow (run_on_board); after the item, with its
count and logs written and every lid closed, the bin waits (bounded) for the sensor to go
idle and releases the keep-alive. A marker written just before that tells the next boot
the last power-off was a clean one (no lid to close, nothing to report)."""
import gc

from smartbin import config as config_module
from smartbin import model_contract
from smartbin.classifier import Classifier, load_model
from smartbin.counts import Counts
from smartbin.cycle import Cycle, clear_moving_marker, moving_marker_found
from smartbin.debug_store import DebugStore
from smartbin.decide import Decider, choose_threshold
from smartbin.errors_log import ErrorLog
from smartbin.gentle import GentleMode
from smartbin.lids import Lids
from smartbin.preprocess import Preprocessor

CONFIG_PATH = "/config.json"
# Items left in gentle mode after a suspected brownout (see smartbin/gentle.py).
GENTLE_MARKER = "/gentle"
# Status LED codes (blinks, repeated twice at boot).
CODE_CONFIG = 2
CODE_MODEL = 3
CODE_BROWNOUT = 4
_ITEM_WAKES = ("sensor", "button")
# Written just before the keep-alive is released; found at power-on: a clean power-off.
RELEASED_MARKER = "/released"


class SmartBin:
    def __init__(self, hw, config, microlite=None):
        self.hw = hw
        self.config = config
        self.microlite = microlite
        self.contract = None
        self.classifier = None
        self.cycle = None
        self.reset_cause = None
        self.brownout = False
        self.codes = []
        self.served = 0
        self.reason = None
        self.lids_unsure = False  # a cycle failed: a lid may be open
        self.camera_configured = False

    def boot(self):
        hw = self.hw
        config = self.config
        storage = hw.storage
        self.errors = ErrorLog(storage, config.errors_path, config.errors_max_bytes, hw.clock)
        self.reset_cause = hw.power.reset_cause()
        if (config.latch and self.reset_cause == "power_on"
                and storage.exists(RELEASED_MARKER)):
            self.reset_cause = "latch"  # switched off cleanly after the last item
            storage.remove(RELEASED_MARKER)
        cold = self.reset_cause not in ("deep_sleep", "latch")
        hw.power.start_watchdog(config.watchdog_ms)
        self.gentle = GentleMode(storage, GENTLE_MARKER, config.gentle_items)
        if cold and moving_marker_found(storage):
            self.restarted_mid_move()
        if cold and config.problems:
            for problem in config.problems:
                self.errors.add("config: " + problem)
            self.codes.append(CODE_CONFIG)
        self.counts = Counts(storage, config.counts_path)
        if self.counts.problem:
            self.errors.add(self.counts.problem)
        self.lids = Lids(hw.lids, config, hw.clock, hw.power.feed_watchdog)
        self.lids.gentle = self.gentle.active()
        if cold:
            try:
                self.lids.close_all()
            except Exception as error:  # one bad servo must not keep the others shut
                self.errors.add("boot: closing lids: %s %r" % (type(error).__name__, error))
                self.lids.stop_all()
        self.load_model(cold)
        self.debug = DebugStore(storage, config.debug_dir, config.debug_max_frames,
                                config.debug_max_bytes)
        contract = self.contract
        labels = contract.labels if contract else ()
        threshold_score = contract.score_at_least(
            choose_threshold(config.threshold, contract.threshold)) if contract else 128
        decider = Decider(config, labels, threshold_score)
        if cold and decider.unmapped:
            self.errors.add("config: no lid for " + ",".join(decider.unmapped)
                            + " (general lid used)")
        preprocessor = Preprocessor(contract) if contract else None
        if contract and not self.camera_configured:
            hw.camera.configure(contract.frame_width, contract.frame_height,
                                contract.channels == 1)
        self.cycle = Cycle(hw, config, contract, preprocessor, self.classifier, decider,
                           self.lids, self.counts, self.debug, self.errors)
        self.cycle.load_empty()
        self.show_codes()
        gc.collect()

    def restarted_mid_move(self):
        """The board restarted while a lid moved. MicroPython 1.27 reports a brownout as a
        power-on reset (ports/esp32/modmachine.c), so only a power-on restart is taken as a
        possible brownout; a watchdog or software reset says nothing about the supply."""
        clear_moving_marker(self.hw.storage)
        cause = self.reset_cause
        if cause != "power_on":
            self.errors.add("%s reset during a lid move" % cause)
            return
        self.brownout = True
        self.errors.add("power lost during a lid move (brownout or unplugged): gentle lid "
                        "moves for the next %d items" % self.config.gentle_items)
        self.codes.append(CODE_BROWNOUT)
        self.gentle.start()

    def load_model(self, cold):
        config = self.config
        try:
            self.contract = model_contract.load(self.hw.storage, config.contract_path)
            if config.latch:
                self.start_camera()
            if self.microlite is None:
                raise model_contract.ContractError("no microlite module in this firmware")
            model = load_model(self.hw.storage, config.model_path)
            self.classifier = Classifier(self.microlite, model, self.contract)
            if cold and not self.classifier.arena_internal():
                self.errors.add("model: TFLM arena (%d bytes) is in PSRAM, inference is slower; "
                                "a smaller model fits internal RAM" % self.contract.arena_bytes)
        except Exception as error:  # any model failure: keep sorting into the general lid
            self.classifier = None
            self.errors.add("model: %s" % (error,))
            self.codes.append(CODE_MODEL)

    def start_camera(self):
        """Latch mode, where every boot is an item: the camera starts before the model is
        read, so the sensor's auto-exposure settles while the flash is busy."""
        contract = self.contract
        camera = self.hw.camera
        camera.configure(contract.frame_width, contract.frame_height, contract.channels == 1)
        self.camera_configured = True
        try:
            camera.on()
        except OSError as error:  # the cycle tries once more, then uses the general lid
            self.errors.add("camera: %r" % (error,))

    def show_codes(self):
        led = self.hw.status_led
        clock = self.hw.clock
        for code in self.codes:
            for _ in range(2):
                for _ in range(code):
                    led.on()
                    clock.sleep_ms(150)
                    led.off()
                    clock.sleep_ms(250)
                clock.sleep_ms(600)

    def serve(self, reason):
        """Handle one wake; never raises (except KeyboardInterrupt, for development)."""
        self.reason = reason
        if reason not in _ITEM_WAKES:
            if reason == "power_on" and not self.config.latch:
                # switched on (or restarted) with nothing inside: the empty chamber's look
                self.remember_empty()
            return
        try:
            self.cycle.run()
            self.served += 1
            if self.gentle.active():
                self.gentle.item_done()
                self.lids.gentle = self.gentle.active()
        except Exception as error:
            self.lids_unsure = True
            self.errors.add("cycle: %s %r" % (type(error).__name__, error))
            try:
                self.counts.add_error()
            except Exception:
                pass
        finally:
            self.lids.stop_all()
            self.hw.power.feed_watchdog()

    def remember_empty(self):
        try:
            self.cycle.remember_empty()
        except Exception as error:
            self.errors.add("empty chamber: %s %r" % (type(error).__name__, error))

    def wake_reason(self, first):
        """What woke the bin: the chip's wake cause, corrected for restarts that carry none."""
        reason = self.hw.wake.reason()
        if not first:
            return reason
        if self.reset_cause == "soft":
            # A soft reset (the host tools restarting the app) keeps the chip's last
            # deep-sleep wake cause: that item was served long ago.
            return "power_on"
        if self.config.latch and self.reset_cause in ("power_on", "latch"):
            # only the sensor or the button switch a latch-powered bin on
            return "sensor" if self.hw.wake.active() else "button"
        return reason

    def power_off(self):
        """Latch mode: close any lid a failed cycle left open, wait (bounded) for the sensor
        to go idle so the latch does not switch straight back on, note the clean power-off
        and release the keep-alive. Returns only if the power stayed on (USB, or a sensor
        still active): then the caller deep sleeps as an unlatched bin would."""
        hw = self.hw
        config = self.config
        if self.lids_unsure:
            try:
                self.lids.close_all()
                self.lids_unsure = False
            except Exception as error:
                self.errors.add("power off: closing lids: %s %r" % (type(error).__name__,
                                                                    error))
            self.lids.stop_all()
        waited = 0
        while hw.wake.active() and waited < config.release_wait_ms:
            hw.clock.sleep_ms(100)
            hw.power.feed_watchdog()
            waited += 100
        hw.status_led.off()
        if not hw.storage.exists(RELEASED_MARKER):  # on USB it stays: spare the flash
            try:
                hw.storage.write(RELEASED_MARKER, b"1")
            except OSError:
                pass  # flash full: the next boot closes the lids once more, nothing worse
        hw.power.feed_watchdog()
        hw.latch.release()
        hw.clock.sleep_ms(config.off_fallback_ms)
        # Still running: USB feeds the board, or the sensor holds the supply on.
        print("power stayed on %d ms after the keep-alive was released: deep sleep"
              % config.off_fallback_ms)

    def sleep(self):
        """Wait (bounded) for the sensor to go quiet, then deep sleep until the next item.

        The sensor wake is level-triggered: armed while the sensor is still active (a PIR
        with a long hold time, or one whose output idles at the wake level) it would wake
        the bin at once, for nothing. Then the bin sleeps on a timer instead and looks
        again; the button still wakes it."""
        hw = self.hw
        config = self.config
        hw.camera.off()  # started at boot for an item that never came (a soft reset)
        if hw.latch is not None:
            self.power_off()
        waited = 0
        while hw.wake.active() and waited < config.wait_idle_ms:
            hw.clock.sleep_ms(100)
            waited += 100
        hw.status_led.off()
        if not hw.wake.active():
            hw.power.deep_sleep()
            return
        if self.reason != "timer":  # once per episode, not at every timer wake
            self.errors.add("wake sensor still active after %d ms: sleeping %d ms before "
                            "arming it (check pins.wake_level and the sensor's hold time)"
                            % (config.wait_idle_ms, config.busy_sensor_sleep_ms))
        hw.power.deep_sleep_for(config.busy_sensor_sleep_ms)


def main(hw, config, microlite=None, wakes=0):
    """Boot, then serve wakes until `wakes` were served (0: forever; the board's deep sleep
    never returns, so there each call serves exactly one)."""
    smart_bin = SmartBin(hw, config, microlite)
    smart_bin.boot()
    count = 0
    while True:
        smart_bin.serve(smart_bin.wake_reason(count == 0))
        smart_bin.sleep()
        count += 1
        if wakes and count >= wakes:
            return smart_bin


def run_on_board():
    """Entry point for main.py: real hardware, real config, the firmware's microlite."""
    from smartbin import board
    from smartbin.storage import Storage

    storage = Storage()
    config = config_module.load(storage, CONFIG_PATH)
    # Latch mode: keep the supply on before anything slow (model, camera, lids).
    latch = board.hold_power(config)
    hw = board.build_hardware(config, storage, latch)
    try:
        import microlite
    except ImportError:
        microlite = None
    main(hw, config, microlite)
