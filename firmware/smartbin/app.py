"""The bin's program: boot once, then serve each wake and go back to deep sleep.

boot: read the config (bad values -> defaults + LED code), start the watchdog, notice a
brownout, close every lid after a cold start, load the model once.
serve: a wake from the item sensor or the button runs one cycle; any exception is written
to /errors.log and the bin sleeps and tries again on the next item.
On the board deep sleep resets the chip, so every wake boots afresh; with fakes (tests,
simulator) `deep_sleep` returns and the loop serves the next wake."""
import gc

from smartbin import config as config_module
from smartbin import model_contract
from smartbin.classifier import Classifier, load_model
from smartbin.counts import Counts
from smartbin.cycle import Cycle, clear_moving_marker, moving_marker_found
from smartbin.debug_store import DebugStore
from smartbin.decide import Decider, choose_threshold
from smartbin.errors_log import ErrorLog
from smartbin.lids import Lids
from smartbin.preprocess import Preprocessor

CONFIG_PATH = "/config.json"
# Present after a brownout: lids keep moving gently until it is deleted (supply fixed).
GENTLE_MARKER = "/gentle"
# Status LED codes (blinks, repeated twice at boot).
CODE_CONFIG = 2
CODE_MODEL = 3
CODE_BROWNOUT = 4
_ITEM_WAKES = ("sensor", "button")


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

    def boot(self):
        hw = self.hw
        config = self.config
        storage = hw.storage
        self.errors = ErrorLog(storage, config.errors_path, config.errors_max_bytes, hw.clock)
        self.reset_cause = hw.power.reset_cause()
        cold = self.reset_cause != "deep_sleep"
        hw.power.start_watchdog(config.watchdog_ms)
        # MicroPython does not name brownouts (ports report them as power-on or watchdog
        # resets); a marker left by a lid that never finished moving gives them away.
        self.brownout = self.reset_cause == "brownout" or (
            cold and moving_marker_found(storage))
        if self.brownout:
            self.errors.add("brownout during a lid move: gentler servo moves from now on")
            clear_moving_marker(storage)
            self.codes.append(CODE_BROWNOUT)
            try:
                storage.write(GENTLE_MARKER, b"1")  # remembered across deep sleep
            except OSError:
                pass
        if cold and config.problems:
            for problem in config.problems:
                self.errors.add("config: " + problem)
            self.codes.append(CODE_CONFIG)
        self.counts = Counts(storage, config.counts_path)
        if self.counts.problem:
            self.errors.add(self.counts.problem)
        self.lids = Lids(hw.lids, config, hw.clock, hw.power.feed_watchdog)
        self.lids.gentle = self.brownout or storage.exists(GENTLE_MARKER)
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
        if contract:
            hw.camera.configure(contract.width, contract.height, contract.channels == 1)
        self.cycle = Cycle(hw, config, contract, preprocessor, self.classifier, decider,
                           self.lids, self.counts, self.debug, self.errors)
        self.show_codes()
        gc.collect()

    def load_model(self, cold):
        config = self.config
        try:
            self.contract = model_contract.load(self.hw.storage, config.contract_path)
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
        if reason not in _ITEM_WAKES:
            return
        try:
            self.cycle.run()
            self.served += 1
        except Exception as error:
            self.errors.add("cycle: %s %r" % (type(error).__name__, error))
            try:
                self.counts.add_error()
            except Exception:
                pass
        finally:
            self.lids.stop_all()
            self.hw.power.feed_watchdog()

    def sleep(self):
        """Wait (bounded) for the sensor to go quiet, then deep sleep until the next item."""
        hw = self.hw
        waited = 0
        while hw.wake.active() and waited < self.config.wait_idle_ms:
            hw.clock.sleep_ms(100)
            waited += 100
        hw.status_led.off()
        hw.power.deep_sleep()


def main(hw, config, microlite=None, wakes=0):
    """Boot, then serve wakes until `wakes` were served (0: forever; the board's deep sleep
    never returns, so there each call serves exactly one)."""
    smart_bin = SmartBin(hw, config, microlite)
    smart_bin.boot()
    count = 0
    while True:
        smart_bin.serve(hw.wake.reason())
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
    hw = board.build_hardware(config, storage)
    try:
        import microlite
    except ImportError:
        microlite = None
    main(hw, config, microlite)
