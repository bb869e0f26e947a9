"""`smartbin bench`: train and measure several model operating points on one fixed split.

Each point is a set of training options. For each, the bench trains, exports the full-int8
model (measuring its TFLM arena), scores it as deployed (photo -> contract resize -> int8
-> TFLM) on the test split, and records accuracy (int8 and float), per-class recall,
flatbuffer bytes, arena bytes, MACs, the estimated ESP32 latency (`host_tools.model.latency`)
and the training time. The result is one table (printed) and `bench.json` (the same
figures), rewritten atomically after every point so a stopped run keeps what it measured;
it goes in together with the run's `split.json`, and each point's folder (train/ and model/)
is swapped in whole, so a failure partway (a full disk) never mixes two runs.

Beside TrashNet's test split every point is scored on the out-of-domain yardstick
(`host_tools.model.ood`: held-out drinking-waste photos, TrashNet test items on backgrounds
training never used with a dim OV2640-like look, any `--ood` folder): top-1, macro recall
and F1 and the worst class per set, their mean top-1 (`ood_score`, what the default is
chosen by) and the few-shot curve (top-1 on one fixed bin chamber after adding 0, 10, 30
of its photos per class). `--models` scores existing model folders the same way without
training.
"""
import dataclasses
import json
import time
from pathlib import Path

from host_tools import atomic

from host_tools.model import latency
from host_tools.errors import SmartbinError

BENCH_FILE = "bench.json"
SPLIT_FILE = "split.json"
DEFAULT_DATA = "data/trashnet"
DEFAULT_DRINKING = "data/drinking_waste"
# Targets of a model the bin can run well (see docs/model-quality.md).
TARGETS = {"flatbuffer_bytes": 350 * 1024, "arena_bytes": 128 * 1024, "latency_ms_esp_nn": 380.0}

# name -> (what it is, TrainOptions fields that differ from the defaults).
# The TrashNet-only recipe (the default before composites): 30 epochs, no composites.
_TRASHNET_ONLY = {"composite": 0.0, "finetune_epochs": 30}
POINTS = {
    "frozen-96": ("MobileNetV1-0.25 96x96 (13 blocks), frozen ImageNet features, linear head",
                  dict(_TRASHNET_ONLY, finetune_epochs=0, blocks=13)),
    "finetune-96-bnfrozen": ("TrashNet only, batch-norm statistics frozen (ImageNet)",
                             dict(_TRASHNET_ONLY, freeze_batchnorm=True)),
    "finetune-96": ("TrashNet only: 12 blocks, batch norm trained and re-estimated on "
                    "clean photos, bin-like augmentation 0.5", _TRASHNET_ONLY),
    "finetune-96-keras-aug": ("TrashNet only, plain Keras augmentation",
                              dict(_TRASHNET_ONLY, augment_style="keras")),
    "finetune-96-13blocks": ("TrashNet only, all 13 MobileNetV1 blocks",
                             dict(_TRASHNET_ONLY, blocks=13)),
    "finetune-128": ("TrashNet only at 128x128 (arena over 128 KB)",
                     dict(_TRASHNET_ONLY, input_size=128)),
}
# Real-world points: `True` for drinking_waste means the bench's --drinking-waste folder.
_SOURCES = {"drinking_waste": True, "composite": 0.0}
_COMPOSITE = {"drinking_waste": True}
POINTS.update({
    "sources": ("TrashNet plus the drinking-waste training photos (share 0.25)", _SOURCES),
    "composite": ("the default recipe: plus TrashNet items on other backgrounds half of "
                  "the time", _COMPOSITE),
    "composite-freeze4": ("composite, blocks 1-4 kept at ImageNet weights",
                          dict(_COMPOSITE, freeze_blocks=4)),
    "composite-interp": ("composite, weights halfway between head-only and fine-tuned",
                         dict(_COMPOSITE, interpolate=0.5)),
    "composite-strong": ("composite 0.8 and stronger bin-like augmentation",
                         dict(_SOURCES, composite=0.8, augment=0.8)),
    "composite-grey": ("composite, a third of the training photos turned grey",
                       dict(_COMPOSITE, colour_drop=0.33)),
    "composite-isolated": ("composite, one of the two backgrounds per photo framed as the "
                           "bin's item isolation crops it", dict(_COMPOSITE,
                                                                  isolated_composites=1)),
    "composite-v4": ("composite, 4 backgrounds made per photo instead of 2",
                     dict(_COMPOSITE, composite_variants=4)),
    "composite-only": ("composites but no drinking-waste training photos: the drinking-"
                       "waste set is then wholly unseen", {}),
    "composite-only-strong": ("composite-strong without the drinking-waste training photos",
                              {"composite": 0.8, "augment": 0.8}),
})
DEFAULT_POINTS = ("finetune-96", "sources", "composite")

COLUMNS = ("point", "int8_accuracy", "float_accuracy", "int8_minus_float_points", "recall",
           "flatbuffer_bytes", "arena_bytes", "macs", "latency_ms_esp_nn",
           "latency_ms_reference", "train_seconds")


def point_options(name, points=None, drinking_dir=None, overrides=None):
    """TrainOptions for a named point (`overrides`: fields set for every point, e.g.
    fewer epochs for a quick comparison)."""
    from host_tools.model.train import TrainOptions

    points = POINTS if points is None else points
    if name not in points:
        raise SmartbinError("unknown bench point %r (choose from %s)"
                            % (name, ", ".join(points)))
    fields = dict(points[name][1], **(overrides or {}))
    if fields.get("drinking_waste") is True:
        if drinking_dir is None:
            raise SmartbinError("point %s needs the drinking-waste photos (--drinking-waste "
                                "DIR, or `make data`)" % name)
        fields["drinking_waste"] = str(drinking_dir)
    return dataclasses.replace(TrainOptions(), **fields)


def measure_point(name, options, data_dir, manifest, point_dir, progress=None,
                  yardstick=None):
    """Train, export and score one point into `point_dir` (train/ and model/); return its
    row (a dict with every column)."""
    # train/ and model/ are swapped in together: a failure partway (a full disk) leaves
    # the point folder of the previous run whole, never its training beside a new model
    with atomic.atomic_dir(point_dir) as staging:
        return _measure_into(name, options, data_dir, manifest, Path(staging), progress,
                             yardstick)


def _measure_into(name, options, data_dir, manifest, point_dir, progress, yardstick):
    from host_tools import isolate
    from host_tools.model import evaluate, export, train

    summary = train.train(data_dir, manifest, point_dir / "train", options, progress)
    # The bench measures every point, also one whose int8 model loses accuracy; each is
    # exported with item isolation in model.json, as `make model` does.
    exported = export.export_model(point_dir / "train", data_dir, manifest, point_dir / "model",
                                   max_int8_drop=100.0, progress=progress,
                                   isolate=dict(isolate.DEFAULT_SETTINGS))
    metrics = evaluate.evaluate_model(point_dir / "model", data_dir, manifest, "test",
                                      progress=progress)
    figures = exported["export"]
    macs = int(exported["macs"])
    row = {
        "point": name,
        "int8_accuracy": metrics["accuracy"],
        "float_accuracy": figures["float_accuracy"],
        "int8_minus_float_points": round(100 * (metrics["accuracy"]
                                                - figures["float_accuracy"]), 2),
        "recall": {label: metrics["per_class"][label]["recall"] for label in metrics["labels"]},
        "flatbuffer_bytes": int(exported["flatbuffer_bytes"]),
        "arena_bytes": int(exported["arena_bytes"]),
        "arena_bytes_measured": int(exported["arena_bytes_measured"]),
        "macs": macs,
        "latency_ms_esp_nn": round(latency.estimate_ms(macs, "esp_nn"), 1),
        "latency_ms_reference": round(latency.estimate_ms(macs, "reference"), 1),
        "train_seconds": summary["train_seconds"],
        "test_images": metrics["images"],
        "options": dataclasses.asdict(options),
    }
    row["meets_targets"] = {key: row[key] <= limit for key, limit in TARGETS.items()}
    if yardstick is not None:
        row.update(score_out_of_domain(point_dir / "model", yardstick, progress,
                                       point_dir / "train"))
    return row


def score_out_of_domain(model_dir, yardstick, progress=None, train_dir=None):
    """{"ood": per-set figures, "ood_score": their mean top-1, "few_shot": curve or None}
    of an int8 model folder; the few-shot curve needs the Keras model (`train_dir`)."""
    from host_tools.model import ood

    scored = ood.score_int8(model_dir, yardstick["sets"], progress)
    figures = {"ood": scored, "ood_score": ood.ood_score(scored), "few_shot": None}
    chamber = yardstick["sets"].get("chamber")
    if train_dir is not None and chamber and (Path(train_dir) / "model.keras").is_file():
        pixels, labels = yardstick["train_arrays"](Path(train_dir))
        figures["few_shot"] = ood.few_shot_curve(train_dir, pixels, labels, chamber,
                                                 yardstick["labels"])
    return figures


def build_yardstick(out_dir, data_dir, manifest, drinking_dir=None, ood_dirs=(),
                    cache_dir=None, progress=None):
    """The out-of-domain sets (written under out_dir/ood) and a cached loader of the
    TrashNet training photos at a model's input size (for the few-shot curve)."""
    from host_tools.model import ood, train

    sets = ood.build_yardstick(Path(out_dir) / "ood", data_dir, manifest, drinking_dir,
                               ood_dirs, manifest.get("seed", 1234), cache_dir, progress)
    decoded = {}

    def train_arrays(train_dir):
        spec = json.loads((train_dir / train.CONFIG_FILE).read_text())["input"]
        key = json.dumps(spec, sort_keys=True)
        if key not in decoded:
            decoded[key] = train.load_split_arrays(data_dir, manifest, "train", spec, progress)
        return decoded[key]

    return {"sets": sets, "labels": manifest["labels"], "train_arrays": train_arrays,
            "counts": {name: len(files) for name, files in sets.items()}}


def score_model_row(model_dir, data_dir, manifest, yardstick, progress=None):
    """The row of an existing model folder: TrashNet test (int8) and out-of-domain."""
    from host_tools.model import evaluate

    metrics = evaluate.evaluate_model(model_dir, data_dir, manifest, "test", progress=progress)
    row = {"point": str(model_dir), "int8_accuracy": metrics["accuracy"],
           "recall": {label: metrics["per_class"][label]["recall"]
                      for label in metrics["labels"]},
           "test_images": metrics["images"]}
    for key in ("flatbuffer_bytes", "arena_bytes", "macs"):
        row[key] = metrics.get(key)
    row.update(score_out_of_domain(model_dir, yardstick, progress))
    return row


def run_bench(data_dir, out_dir, point_names=None, points=None, progress=None,
              drinking_dir=None, ood_dirs=(), overrides=None, models=(), cache_dir=None):
    """Measure the named points (default DEFAULT_POINTS) on the fixed split of `data_dir`
    and the out-of-domain yardstick; or, with `models`, score those model folders only.
    Writes `out_dir/bench.json` after each point; returns the bench dict."""
    from host_tools.data import split as splits

    points = POINTS if points is None else points
    names = [] if models else list(point_names or (DEFAULT_POINTS if points is POINTS
                                                    else points))
    for name in names:  # unknown names and missing data fail before any training
        point_options(name, points, drinking_dir, overrides)
    if len(set(names)) != len(names):
        raise SmartbinError("a bench point is named twice")
    out_dir = Path(out_dir)
    manifest = splits.make_split(data_dir)
    yardstick = build_yardstick(out_dir, data_dir, manifest, drinking_dir, ood_dirs,
                                cache_dir or out_dir / "cache", progress)
    bench = {"schema": 2, "data": str(data_dir), "split": str(out_dir / SPLIT_FILE),
             "labels": manifest["labels"], "test_images": len(manifest["subsets"]["test"]),
             "ood_sets": yardstick["counts"], "overrides": overrides or {},
             "latency_anchor": {"model": latency.ANCHOR, "macs": latency.ANCHOR_MACS,
                                "ms": latency.ANCHOR_MS,
                                "cycles_per_mac": {k: round(latency.cycles_per_mac(k), 2)
                                                   for k in latency.ANCHOR_MS}},
             "targets": TARGETS, "columns": list(COLUMNS), "rows": [], "complete": False}
    # split.json and the new run's bench.json go in together: the bench.json beside a
    # split.json is always the one measured on it
    with atomic.atomic_files(out_dir, owned=(SPLIT_FILE, BENCH_FILE)) as staging:
        splits.save_split(manifest, staging / SPLIT_FILE)
        _write_bench(staging, bench)
    started = time.monotonic()
    jobs = [(str(model), None) for model in models] + [(name, name) for name in names]
    for index, (name, point) in enumerate(jobs):
        if progress:
            progress("point %s (%d/%d)" % (name, index + 1, len(jobs)), 0, 1)
        if point is None:
            row = score_model_row(Path(name), data_dir, manifest, yardstick, progress)
            row["description"] = "existing model folder"
        else:
            row = measure_point(name, point_options(name, points, drinking_dir, overrides),
                                data_dir, manifest, out_dir / name, progress, yardstick)
            row["description"] = points[name][0]
        bench["rows"].append(row)
        bench["seconds"] = round(time.monotonic() - started, 1)
        bench["complete"] = index + 1 == len(jobs)
        _write_bench(out_dir, bench)
    return bench


def _write_bench(folder, bench):
    atomic.write_text(Path(folder) / BENCH_FILE, json.dumps(bench, indent=2) + "\n")


def _cell(value, pattern="{:,}"):
    return "-" if value is None else pattern.format(value)


def format_table(bench):
    """The bench as Markdown tables (the same figures as bench.json): cost and TrashNet
    accuracy, then the out-of-domain yardstick."""
    labels = bench["labels"]
    head = (["point", "int8 %", "float %", "int8-float"] + ["recall %s" % l for l in labels]
            + ["flatbuffer B", "arena B", "MACs", "ms ESP-NN", "ms ref", "train s"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in bench["rows"]:
        float_accuracy = row.get("float_accuracy")
        cells = ([row["point"], "%.1f" % (100 * row["int8_accuracy"]),
                  _cell(float_accuracy and 100 * float_accuracy, "{:.1f}"),
                  _cell(row.get("int8_minus_float_points"), "{:+.1f}")]
                 + ["%.2f" % row["recall"][label] for label in labels]
                 + [_cell(row.get("flatbuffer_bytes")), _cell(row.get("arena_bytes")),
                    _cell(row.get("macs")), _cell(row.get("latency_ms_esp_nn"), "{:.0f}"),
                    _cell(row.get("latency_ms_reference"), "{:.0f}"),
                    _cell(row.get("train_seconds"), "{:.0f}")])
        lines.append("| " + " | ".join(cells) + " |")
    sets = list(bench.get("ood_sets") or {})
    if not sets:
        return "\n".join(lines)
    head = (["point", "OOD score %"]
            + ["%s top-1 / macro recall / worst" % name for name in sets]
            + ["few-shot N=%s" % n for n in ("0", "10", "30")])
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in bench["rows"]:
        ood = row.get("ood") or {}
        cells = [row["point"], _cell(row.get("ood_score") and 100 * row["ood_score"],
                                     "{:.1f}")]
        for name in sets:
            figures = ood.get(name)
            cell = "%.1f / %.1f / %s %.2f" % (
                100 * figures["accuracy"], 100 * figures["macro_recall"],
                figures["worst_class"], figures["worst_recall"]) if figures else "-"
            if figures and "whole_accuracy" in figures:
                cell += " (whole frame %.1f)" % (100 * figures["whole_accuracy"])
            cells.append(cell)
        curve = (row.get("few_shot") or {}).get("accuracy", {})
        cells += [_cell(curve.get(n) and 100 * curve[n], "{:.1f}") for n in ("0", "10", "30")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- command line -----------------------------------------------------------------------

def configure(parser):
    parser.add_argument("--data", default=None,
                        help="folder of class folders (default %s, from `make data`)"
                             % DEFAULT_DATA)
    parser.add_argument("--out", default="build/bench", help="output folder")
    parser.add_argument("--points", default=None,
                        help="comma-separated points (default %s; all: %s)"
                             % (",".join(DEFAULT_POINTS), ",".join(POINTS)))
    parser.add_argument("--drinking-waste", metavar="DIR", default=None,
                        help="drinking-waste folder (default %s when it exists): held-out "
                             "photos for the yardstick, training photos for points that "
                             "use them" % DEFAULT_DRINKING)
    parser.add_argument("--ood", metavar="DIR", action="append", default=[],
                        help="another out-of-domain set (class folders); repeatable")
    parser.add_argument("--models", default=None,
                        help="comma-separated model folders to score (no training)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="fine-tuning epochs for every point (a quicker comparison)")
    parser.add_argument("--head-epochs", type=int, default=None,
                        help="head epochs for every point")
    parser.add_argument("--weights", default=None,
                        help="MobileNetV1 ImageNet weights .h5 for every point")
    parser.add_argument("--cache", default=None,
                        help="folder for item cut-outs (default OUT/cache)")
    parser.add_argument("--json", action="store_true", help="print bench.json instead")


def run(args):
    from host_tools.progress import ProgressBars

    data_dir = Path(args.data or DEFAULT_DATA)
    if args.data is None and not data_dir.is_dir():
        raise SmartbinError("no data at %s: run `make data` (or pass --data DIR)" % data_dir)
    names = [n.strip() for n in args.points.split(",") if n.strip()] if args.points else None
    if args.points is not None and not names:
        raise SmartbinError("--points names no point")
    drinking_dir = Path(args.drinking_waste) if args.drinking_waste else Path(DEFAULT_DRINKING)
    if not drinking_dir.is_dir():
        if args.drinking_waste:
            raise SmartbinError("no drinking-waste folder at %s" % drinking_dir)
        drinking_dir = None
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else []
    for model in models:
        if not (Path(model) / "model.json").is_file():
            raise SmartbinError("%s is not a model folder (no model.json)" % model)
    overrides = {key: value for key, value in (("finetune_epochs", args.epochs),
                                               ("head_epochs", args.head_epochs),
                                               ("weights", args.weights))
                 if value is not None}
    bars = ProgressBars()
    try:
        bench = run_bench(data_dir, args.out, names, progress=bars, drinking_dir=drinking_dir,
                          ood_dirs=args.ood, overrides=overrides, models=models,
                          cache_dir=args.cache)
    finally:
        bars.close()
    if args.json:
        print(json.dumps(bench, indent=2))
    else:
        print(format_table(bench))
        print("(test split: %d photos; out-of-domain sets: %s; latency scaled from %s; "
              "written to %s)"
              % (bench["test_images"], ", ".join("%s %d" % item for item in
                                                 bench["ood_sets"].items()) or "none",
                 latency.ANCHOR, Path(args.out) / BENCH_FILE))
    return 0
