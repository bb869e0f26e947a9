"""One item, start to finish: look, classify, decide, actuate, log.

The cycle receives the hardware (camera, lids, LEDs, clock, storage) and never imports
`machine`: the board hands it real devices, tests and the simulator hand it fakes.
From capture to decision nothing is allocated: the frame, the input tensor and the scores
are buffers made at boot and filled in place."""
import gc

UNKNOWN = -1
_MOVING = "/moving"  # present only while a lid moves: found at boot, a restart mid-move
EMPTY_CHAMBER = "/empty_chamber.bin"  # thumbnail of the empty chamber (smartbin/isolate.py)


class Cycle:
    def __init__(self, hw, config, contract, preprocessor, classifier, decider, lids,
                 counts, debug, errors):
        self.hw = hw
        self.config = config
        self.contract = contract
        self.preprocessor = preprocessor
        self.classifier = classifier  # None when the model could not be loaded
        self.decider = decider
        self.lids = lids
        self.counts = counts
        self.debug = debug
        self.errors = errors
        self.frame = None
        self.label = UNKNOWN
        self.score = -128
        self.lid = decider.general
        self.timings = {}

    def run(self):
        """Handle the item that woke the bin."""
        self.label = UNKNOWN
        self.score = -128
        self.frame = None
        clock = self.hw.clock
        started = clock.ticks_ms()
        try:
            self.look()
        finally:
            self.hw.camera.off()
            self.hw.flash_led.off()
        decided = clock.ticks_ms()
        self.lid = self.decider.lid_for(self.label, self.score)
        self.actuate(self.lid)
        moved = clock.ticks_ms()
        self.timings["look_ms"] = decided - started
        self.timings["lid_ms"] = moved - decided
        self.timings["result_ms"] = decided  # since start-up: a cold boot's boot-to-result
        self.log()
        self.remember_empty()

    def look(self):
        """Camera on, let exposure settle, capture, classify; once more if unsure."""
        camera = self.hw.camera
        try:
            camera.on()
            for _ in range(self.config.warmup_frames):
                camera.capture()  # auto-exposure needs a few frames after power-up
            if self.config.flash:
                self.hw.flash_led.on()
            self.classify(camera.capture())
            if (self.config.recapture and self.label != UNKNOWN
                    and not self.decider.confident(self.score)):
                self.classify(camera.capture())
        except OSError as error:
            # a dead camera must not trap the item: it goes to the general lid
            self.errors.add("camera: %r" % (error,))

    def classify(self, frame):
        self.frame = frame
        if self.classifier is None:
            return
        classifier = self.classifier
        self.preprocessor.run(frame, classifier.input_view)
        gc.collect()  # inference is the peak of the cycle's memory use
        classifier.classify()
        self.label = classifier.best
        self.score = classifier.best_score

    def isolator(self):
        return self.preprocessor.isolator if self.preprocessor is not None else None

    def load_empty(self):
        """The empty chamber's thumbnail kept on flash (deep sleep forgets RAM)."""
        isolator = self.isolator()
        if isolator is None:
            return
        stored = self.hw.storage.read(EMPTY_CHAMBER)
        if stored is not None:
            isolator.load_empty(stored)

    def remember_empty(self):
        """The item is gone and the lid closed: look at the empty chamber, in the items'
        light, and keep its thumbnail as the reference the next item is found against."""
        isolator = self.isolator()
        if isolator is None:
            return
        camera = self.hw.camera
        try:
            camera.on()
            for _ in range(self.config.warmup_frames):
                camera.capture()
            if self.config.flash:
                self.hw.flash_led.on()
            isolator.remember_empty(camera.capture())
        except OSError as error:
            self.errors.add("camera (empty chamber): %r" % (error,))
            return  # the last reference stays
        finally:
            camera.off()
            self.hw.flash_led.off()
        try:
            self.hw.storage.write(EMPTY_CHAMBER, isolator.empty)
        except OSError as error:
            self.errors.add("empty chamber: %r" % (error,))

    def actuate(self, lid):
        storage = self.hw.storage
        try:
            storage.write(_MOVING, b"1")
        except OSError:
            pass  # flash full: only the brownout hint is lost
        try:
            self.lids.serve(lid)
        finally:  # only a restart (no Python left running) may leave the marker behind
            storage.remove(_MOVING)

    def log(self):
        labels = self.contract.labels if self.contract else ()
        label = labels[self.label] if self.label >= 0 else "unknown"
        lid = self.config.lids[self.lid]["name"]
        confident = self.label >= 0 and self.decider.confident(self.score)
        # One line per item on the serial console (`smartbin monitor` shows it live); the
        # lid has already moved, so the formatting costs the item nothing.
        print("item %s %.2f -> lid %s (look %d ms, lid %d ms)" % (
            label, self.contract.confidence(self.score) if self.label >= 0 else 0.0, lid,
            self.timings["look_ms"], self.timings["lid_ms"]))
        try:
            self.counts.add_item(label, lid, confident)
        except OSError as error:
            self.errors.add("counts: %r" % (error,))
        if self.frame is not None and self.debug is not None:
            meta = {"time": self.hw.clock.time(), "label": label, "lid": lid,
                    "width": self.contract.frame_width if self.contract else 0,
                    "height": self.contract.frame_height if self.contract else 0,
                    "format": "GRAY" if self.contract and self.contract.channels == 1
                    else "RGB565", "look_ms": self.timings["look_ms"],
                    "lid_ms": self.timings["lid_ms"], "result_ms": self.timings["result_ms"]}
            if self.classifier is not None and self.label >= 0:
                meta["confidence"] = self.contract.confidence(self.score)
                meta["scores"] = list(self.classifier.scores)
                meta["labels"] = labels
            self.debug.keep(self.frame, meta)


def moving_marker_found(storage):
    return storage.exists(_MOVING)


def clear_moving_marker(storage):
    storage.remove(_MOVING)
