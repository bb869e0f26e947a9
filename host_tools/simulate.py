"""`smartbin simulate`: run the bin's own firmware on photos, on this computer.

Each photo becomes what the camera would send (RGB565 big-endian or grayscale at the
model's input size, via the same contract as training and evaluation). The unchanged
firmware package (`firmware/smartbin`) then handles it exactly as after a wake from deep
sleep - boot, model load, capture, classify, lid, log - on fake hardware from
`firmware/sim`, with the real TFLM kernels through `host_tools.microlite_shim`.
A simulated clock charges the board's durations from config.json's "power" section, so
the report shows how long the bin stays awake per item and how much of that is the lid
hold.

A model.json with an "isolate" block makes the camera frame the larger isolate frame, and
the bin looks at its empty chamber at power-on and after each item: `empty` gives those
frames (one photo of the empty chamber, or a folder holding one at each photo's place,
the bin seeing photo i+1's after item i); without it the simulated bin has no reference
and classifies every whole frame."""
import contextlib
import io
import json
import sys
from pathlib import Path

from host_tools import contract as host_contract
from host_tools import microlite_shim
from host_tools.data.images import is_image_name
from host_tools.errors import SmartbinError
from host_tools.firmware_modules import pin_warnings
from host_tools.power import DEFAULT_CONFIG, FIRMWARE_DIR, power_settings, read_config


def _firmware():
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_DIR))
    from sim import fakes
    from smartbin import app

    return app, fakes


class _NoCollect:
    """Stands in for `gc` inside the firmware while simulating: the board's collection takes
    milliseconds, CPython's full collection in a process holding TensorFlow takes ~0.5 s,
    and nothing in a simulation depends on it."""

    @staticmethod
    def collect():
        pass


@contextlib.contextmanager
def without_gc_pauses():
    from smartbin import app, cycle

    saved = app.gc, cycle.gc
    app.gc = cycle.gc = _NoCollect
    try:
        yield
    finally:
        app.gc, cycle.gc = saved


def list_photos(images_dir):
    """[(path, label or None)]: photos in the folder itself, then in its class folders."""
    images_dir = Path(images_dir)
    if images_dir.is_file():
        raise SmartbinError("%s is a file; give the folder of photos it is in" % images_dir)
    if not images_dir.is_dir():
        raise SmartbinError("no such folder: %s" % images_dir)
    photos = [(p, None) for p in sorted(images_dir.iterdir()) if p.is_file() and is_image_name(p)]
    for folder in sorted(p for p in images_dir.iterdir()
                         if p.is_dir() and not p.name.startswith((".", "_"))):
        photos += [(p, folder.name) for p in sorted(folder.iterdir())
                   if p.is_file() and is_image_name(p)]
    if not photos:
        raise SmartbinError("no photos in %s (expected *.jpg/*.png, or class folders of them)"
                            % images_dir)
    return photos


def camera_frame(path, contract):
    """The bytes the OV2640 would send for this scene at the model's input size (or at
    the isolate frame size, when model.json isolates the item)."""
    if contract.get("isolate") is not None:
        from host_tools import isolate

        pixels = isolate.frame_of(host_contract.load_image(path), contract)
    else:
        pixels = host_contract.image_to_pixels(host_contract.load_image(path), contract)
    if contract["input"]["colour_order"] == "RGB":
        return host_contract.rgb888_to_rgb565(pixels)
    return pixels.tobytes()


class _TimedMicrolite:
    """The shim, charging the board's model-load and inference time to the fake clock."""

    def __init__(self, clock, settings):
        self.clock = clock
        self.settings = settings

    def interpreter(self, model, arena_size, input_callback, output_callback):
        self.clock.advance(self.settings["model_load_ms"])
        clock, inference_ms = self.clock, self.settings["inference_ms"]

        def charged_input(interpreter):
            clock.advance(inference_ms)
            input_callback(interpreter)

        return microlite_shim.interpreter(model, arena_size, charged_input, output_callback)


def _hold_ms(servo, lid, step_ms):
    """How long the lid stood open, from the servo's pulse recording: the time at the open
    pulse minus the ramp's last step (the servo still travelling)."""
    opened = None
    for t, pulse in servo.records:
        if pulse == lid["open_us"] and opened is None:
            opened = t
        elif opened is not None and pulse != lid["open_us"]:
            return max(0, t - opened - step_ms)
    return 0


def simulate(images_dir, model_dir, config_path=DEFAULT_CONFIG, progress=None, empty=None):
    """Run the firmware on every photo; return {"items": [...], "summary": {...}}."""
    app, fakes = _firmware()
    photos = list_photos(images_dir)
    # Checked against model.json's sha256 as `deploy` does: what runs here is what would ship.
    from host_tools.model.predict import load_model_folder

    contract, model_bytes = load_model_folder(model_dir)
    empty_frames = _empty_frames(photos, images_dir, contract, empty)
    # the firmware runs with its defaults for a config's problems and the report lists them
    raw_config, config = read_config(config_path, strict=False)
    warnings = pin_warnings(config, str(config_path))  # a pin clash is refused, as by deploy
    # A latch-powered bin sorts exactly like a deep-sleeping one; only its power differs,
    # and `smartbin power` models that. Simulated as deep sleep, each wake is one item.
    config.latch = False
    settings = power_settings(raw_config)

    # The board's flash after `smartbin deploy`.
    storage = fakes.RamStorage(capacity_bytes=3 * 1024 * 1024)
    storage.files["/config.json"] = Path(config_path).read_bytes()
    storage.files[config.contract_path] = json.dumps(contract).encode()
    storage.files[config.model_path] = model_bytes
    clock = fakes.FakeClock()
    microlite = _TimedMicrolite(clock, settings)

    def wake(reason, reset_cause, frame=None, empty_frame=None):
        frames = [frame] if frame is not None else []
        if empty_frame is not None:
            frames.append(empty_frame)  # what the bin sees once the item is gone
        hw = fakes.build_fake_hardware(
            config, frames=frames, wakes=[reason],
            reset_cause=reset_cause, storage=storage, clock=clock,
            camera_start_ms=settings["camera_start_ms"], frame_ms=settings["frame_ms"])
        woke_at = clock.ticks_ms()
        clock.advance(settings["boot_ms"])
        original_sleep = hw.power.deep_sleep

        def deep_sleep():
            clock.advance(settings["log_ms"] if frame is not None else 0)
            original_sleep()

        hw.power.deep_sleep = deep_sleep
        # What the bin prints on its serial console (one line per item) is kept for the
        # report, not mixed into this command's own output.
        with contextlib.redirect_stdout(io.StringIO()) as console:
            smart_bin = app.main(hw, config, microlite, wakes=1)
        smart_bin.console = console.getvalue().strip()
        return smart_bin, hw, hw.power.sleeps[-1] - woke_at

    with without_gc_pauses():
        report = _run(photos, images_dir, contract, config, storage, wake, progress,
                      empty_frames)
    report["summary"]["pin_warnings"] = warnings
    return report


def _empty_frames(photos, images_dir, contract, empty):
    """The empty-chamber frame the bin sees before each photo, or None (no isolation, or
    no empty frames given)."""
    if empty is None:
        return None
    if contract.get("isolate") is None:
        raise SmartbinError("--empty needs a model.json with an \"isolate\" block (export "
                            "--isolate)")
    from host_tools import isolate

    if not Path(empty).exists():
        raise SmartbinError("no empty-chamber photo or folder at %s" % empty)
    return [camera_frame(isolate.empty_image_for(path, images_dir, empty), contract)
            for path, _ in photos]


def _run(photos, images_dir, contract, config, storage, wake, progress, empty_frames=None):
    # first power-up: close every lid (and, isolating, look at the empty chamber)
    boot_bin, _, _ = wake("power_on", "power_on",
                          empty_frame=empty_frames[0] if empty_frames else None)
    labels = contract["labels"]
    items = []
    forget_empty = contract.get("isolate") is not None and not empty_frames
    for index, (path, truth) in enumerate(photos):
        if forget_empty:  # what the camera saw after the last item is no empty chamber
            from smartbin.cycle import EMPTY_CHAMBER

            storage.remove(EMPTY_CHAMBER)
        following = None
        if empty_frames:
            following = empty_frames[min(index + 1, len(empty_frames) - 1)]
        smart_bin, hw, awake_ms = wake("sensor", "deep_sleep", camera_frame(path, contract),
                                       following)
        cycle = smart_bin.cycle
        lid = config.lids[cycle.lid]
        predicted = labels[cycle.label] if cycle.label >= 0 else None
        hold_ms = _hold_ms(hw.lids[cycle.lid], lid, config.step_ms) if hw.lids[cycle.lid] else 0
        item = {
            "image": str(path.relative_to(images_dir)), "truth": truth,
            "predicted": predicted,
            "confidence": (round(smart_bin.contract.confidence(cycle.score), 4)
                           if predicted else None),
            "confident": bool(predicted) and cycle.decider.confident(cycle.score),
            "lid": lid["name"], "awake_ms": awake_ms, "hold_ms": hold_ms,
            "awake_outside_hold_ms": awake_ms - hold_ms,
            "console": smart_bin.console,
        }
        isolator = cycle.preprocessor.isolator if cycle.preprocessor is not None else None
        if isolator is not None:  # the box the model saw; None: the whole frame
            item["isolated_box"] = ([isolator.left, isolator.top, isolator.width,
                                     isolator.height] if isolator.found else None)
        if truth is not None:
            expected = config.class_to_lid.get(truth, config.general_lid)
            item["correct"] = predicted == truth
            item["right_lid"] = lid["name"] == (config.general_lid if truth == "trash"
                                                else expected)
        items.append(item)
        if progress:
            progress(index + 1, len(photos))
    return {"items": items, "summary": _summary(items, config, storage, boot_bin)}


def _summary(items, config, storage, boot_bin):
    lids = {lid["name"]: 0 for lid in config.lids}
    for item in items:
        lids[item["lid"]] += 1
    count = len(items)
    summary = {
        "items": count, "lids": lids,
        "uncertain": sum(1 for item in items if not item["confident"]),
        "mean_awake_ms": sum(item["awake_ms"] for item in items) / count,
        "mean_awake_outside_hold_ms": sum(item["awake_outside_hold_ms"] for item in items) / count,
        "config_problems": list(config.problems),
        "errors_log": (storage.read(config.errors_path) or b"").decode(errors="replace"),
        "counts": json.loads(storage.read(config.counts_path) or b"{}"),
        "model_loaded": boot_bin.classifier is not None,
    }
    labelled = [item for item in items if item["truth"] is not None]
    if labelled:
        summary["labelled"] = len(labelled)
        summary["accuracy"] = sum(item["correct"] for item in labelled) / len(labelled)
        summary["right_lid"] = sum(item["right_lid"] for item in labelled) / len(labelled)
    return summary


def configure(parser):
    parser.add_argument("images", help="folder of photos (class folders optional: with them "
                                       "the report adds accuracy)")
    parser.add_argument("--model", default=None,
                        help="model folder with model.tflite and model.json (default: "
                             "build/model, else models/default)")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="bin config (default: firmware/config.json)")
    parser.add_argument("--empty", default=None, metavar="FRAME",
                        help="empty-chamber photo (or a folder with one at each photo's "
                             "place) for a model.json that isolates the item")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")


def run(args):
    from host_tools.progress import ProgressBars

    with ProgressBars({"simulate": ("simulating", "item")}, quiet=args.json) as bars:
        progress = bars.stage("simulate")
        from host_tools.model.predict import default_model_dir

        model_dir = args.model or default_model_dir()
        report = simulate(args.images, model_dir, args.config, progress=progress,
                          empty=args.empty)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for item in report["items"]:
        guess = ("%s %.2f%s" % (item["predicted"], item["confidence"],
                                "" if item["confident"] else " (unsure)")
                 if item["predicted"] else "no model")
        mark = ""
        if item["truth"] is not None:
            mark = "  ok" if item["right_lid"] else "  WRONG LID (is %s)" % item["truth"]
        print("%-40s -> %-11s %-24s awake %.1f s (%.1f s outside the lid hold)%s"
              % (item["image"], item["lid"], guess, item["awake_ms"] / 1000,
                 item["awake_outside_hold_ms"] / 1000, mark))
    summary = report["summary"]
    print("\n%d items: %s; %d unsure" % (summary["items"], ", ".join(
        "%s %d" % pair for pair in summary["lids"].items()), summary["uncertain"]))
    if "accuracy" in summary:
        print("class accuracy %.1f%%, right lid %.1f%% (%d labelled photos)"
              % (100 * summary["accuracy"], 100 * summary["right_lid"], summary["labelled"]))
    print("awake per item %.2f s, of which %.2f s outside the lid hold (simulated timeline)"
          % (summary["mean_awake_ms"] / 1000, summary["mean_awake_outside_hold_ms"] / 1000))
    for warning in summary["pin_warnings"]:
        print("pin warning: %s" % warning)
    for problem in summary["config_problems"]:
        print("config problem (the board would blink code 2): %s" % problem)
    if summary["errors_log"]:
        print("errors.log:\n" + summary["errors_log"].rstrip())
    return 0
