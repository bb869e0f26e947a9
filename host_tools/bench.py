"""`smartbin bench`: train and measure several model operating points on one fixed split.

Each point is a set of training options. For each, the bench trains, exports the full-int8
model (measuring its TFLM arena), scores it as deployed (photo -> contract resize -> int8
-> TFLM) on the test split, and records accuracy (int8 and float), per-class recall,
flatbuffer bytes, arena bytes, MACs, the estimated ESP32 latency (`host_tools.latency`)
and the training time. The result is one table (printed) and `bench.json` (the same
figures), rewritten atomically after every point so a stopped run keeps what it measured.
"""
import dataclasses
import json
import time
from pathlib import Path

from host_tools import atomic, latency
from host_tools.errors import SmartbinError

BENCH_FILE = "bench.json"
SPLIT_FILE = "split.json"
DEFAULT_DATA = "data/trashnet"
# Targets of a model the bin can run well (see README, "model quality").
TARGETS = {"flatbuffer_bytes": 350 * 1024, "arena_bytes": 128 * 1024, "latency_ms_esp_nn": 380.0}

# name -> (what it is, TrainOptions fields that differ from the defaults).
POINTS = {
    "frozen-96": ("MobileNetV1-0.25 96x96 (13 blocks), frozen ImageNet features, linear head",
                  {"finetune_epochs": 0, "blocks": 13}),
    "finetune-96-bnfrozen": ("the default recipe with batch-norm statistics frozen (ImageNet)",
                             {"freeze_batchnorm": True}),
    "finetune-96": ("the default recipe: 12 blocks, batch norm trained and re-estimated on "
                    "clean photos, bin-like augmentation 0.5", {}),
    "finetune-96-keras-aug": ("the default recipe with plain Keras augmentation",
                              {"augment_style": "keras"}),
    "finetune-96-13blocks": ("the default recipe with all 13 MobileNetV1 blocks", {"blocks": 13}),
    "finetune-128": ("the default recipe at 128x128 (arena over 128 KB)", {"input_size": 128}),
}
DEFAULT_POINTS = ("frozen-96", "finetune-96-bnfrozen", "finetune-96")

COLUMNS = ("point", "int8_accuracy", "float_accuracy", "int8_minus_float_points", "recall",
           "flatbuffer_bytes", "arena_bytes", "macs", "latency_ms_esp_nn",
           "latency_ms_reference", "train_seconds")


def point_options(name, points=None):
    """TrainOptions for a named point."""
    from host_tools.train import TrainOptions

    points = POINTS if points is None else points
    if name not in points:
        raise SmartbinError("unknown bench point %r (choose from %s)"
                            % (name, ", ".join(points)))
    return dataclasses.replace(TrainOptions(), **points[name][1])


def measure_point(name, options, data_dir, manifest, point_dir, progress=None):
    """Train, export and score one point; return its row (a dict with every column)."""
    from host_tools import evaluate, export, train

    point_dir = Path(point_dir)
    summary = train.train(data_dir, manifest, point_dir / "train", options, progress)
    # The bench measures every point, also one whose int8 model loses accuracy.
    exported = export.export_model(point_dir / "train", data_dir, manifest, point_dir / "model",
                                   max_int8_drop=100.0, progress=progress)
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
    return row


def run_bench(data_dir, out_dir, point_names=None, points=None, progress=None):
    """Measure the named points (default DEFAULT_POINTS) on the fixed split of `data_dir`;
    write `out_dir/bench.json` after each point; return the bench dict."""
    from host_tools.data import split as splits

    points = POINTS if points is None else points
    names = list(point_names or (DEFAULT_POINTS if points is POINTS else points))
    for name in names:
        point_options(name, points)  # unknown names fail before any training
    if len(set(names)) != len(names):
        raise SmartbinError("a bench point is named twice")
    out_dir = Path(out_dir)
    manifest = splits.make_split(data_dir)
    splits.save_split(manifest, out_dir / SPLIT_FILE)
    bench = {"schema": 1, "data": str(data_dir), "split": str(out_dir / SPLIT_FILE),
             "labels": manifest["labels"], "test_images": len(manifest["subsets"]["test"]),
             "latency_anchor": {"model": latency.ANCHOR, "macs": latency.ANCHOR_MACS,
                                "ms": latency.ANCHOR_MS,
                                "cycles_per_mac": {k: round(latency.cycles_per_mac(k), 2)
                                                   for k in latency.ANCHOR_MS}},
             "targets": TARGETS, "columns": list(COLUMNS), "rows": [], "complete": False}
    started = time.monotonic()
    for index, name in enumerate(names):
        if progress:
            progress("point %s (%d/%d)" % (name, index + 1, len(names)), 0, 1)
        row = measure_point(name, point_options(name, points), data_dir, manifest,
                            out_dir / name, progress)
        row["description"] = points[name][0]
        bench["rows"].append(row)
        bench["seconds"] = round(time.monotonic() - started, 1)
        bench["complete"] = index + 1 == len(names)
        atomic.write_text(out_dir / BENCH_FILE, json.dumps(bench, indent=2) + "\n")
    return bench


def format_table(bench):
    """The bench as one Markdown table (the same figures as bench.json)."""
    labels = bench["labels"]
    head = (["point", "int8 %", "float %", "int8-float"] + ["recall %s" % l for l in labels]
            + ["flatbuffer B", "arena B", "MACs", "ms ESP-NN", "ms ref", "train s"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in bench["rows"]:
        cells = ([row["point"], "%.1f" % (100 * row["int8_accuracy"]),
                  "%.1f" % (100 * row["float_accuracy"]),
                  "%+.1f" % row["int8_minus_float_points"]]
                 + ["%.2f" % row["recall"][label] for label in labels]
                 + ["{:,}".format(row["flatbuffer_bytes"]), "{:,}".format(row["arena_bytes"]),
                    "{:,}".format(row["macs"]), "%.0f" % row["latency_ms_esp_nn"],
                    "%.0f" % row["latency_ms_reference"], "%.0f" % row["train_seconds"]])
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
    parser.add_argument("--json", action="store_true", help="print bench.json instead")


def run(args):
    from host_tools.progress import ProgressBars

    data_dir = Path(args.data or DEFAULT_DATA)
    if args.data is None and not data_dir.is_dir():
        raise SmartbinError("no data at %s: run `make data` (or pass --data DIR)" % data_dir)
    names = [n.strip() for n in args.points.split(",") if n.strip()] if args.points else None
    if args.points is not None and not names:
        raise SmartbinError("--points names no point")
    bars = ProgressBars()
    try:
        bench = run_bench(data_dir, args.out, names, progress=bars)
    finally:
        bars.close()
    if args.json:
        print(json.dumps(bench, indent=2))
    else:
        print(format_table(bench))
        print("(test split: %d photos; latency scaled from %s; written to %s)"
              % (bench["test_images"], latency.ANCHOR, Path(args.out) / BENCH_FILE))
    return 0
