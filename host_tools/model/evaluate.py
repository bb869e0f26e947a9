"""`smartbin evaluate`: score the int8 model as deployed on photos with known labels.

The photos go through the contract's preprocessing and the int8 model runs in
TensorFlow Lite Micro. The photos are either one subset of a split manifest, or any
folder of class folders (e.g. photos taken with the bin, not in the training data).
Besides accuracy: the sorting curve (share of items reaching a recycling lid and share of
those in the wrong lid, per threshold; `host_tools.model.sorting`) and how honest the scores are
on these photos (ECE and NLL; `host_tools.model.calibration`).
"""
import json
from pathlib import Path

import numpy as np

from host_tools.model import calibration, model_choice, predict, report, sorting
from host_tools.errors import SmartbinError

METRICS_FILE = "metrics.json"
_MISTAKES_KEPT = 200


def labelled_files(data_dir, split_manifest=None, subset="test"):
    """(path, label) pairs: one subset of a split, or every photo of a class-folder tree."""
    from host_tools.data import images, split as splits

    if split_manifest is not None:
        manifest = split_manifest if isinstance(split_manifest, dict) \
            else splits.load_split(split_manifest)
        return splits.split_files(manifest, data_dir, subset)
    return [(path, label) for label, paths in images.list_class_folders(data_dir).items()
            for path in paths]


def classification_metrics(truth, predicted, labels):
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    count = len(labels)
    confusion = np.zeros((count, count), np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = {}
    for index, label in enumerate(labels):
        true_positive = confusion[index, index]
        predicted_here = confusion[:, index].sum()
        support = confusion[index].sum()
        precision = true_positive / predicted_here if predicted_here else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": round(float(precision), 4),
                            "recall": round(float(recall), 4),
                            "f1": round(float(f1), 4), "support": int(support)}
    present = [row["f1"] for row in per_class.values() if row["support"]]
    return {"accuracy": round(float(np.mean(truth == predicted)), 4) if len(truth) else 0.0,
            "macro_f1": round(float(np.mean(present)), 4) if present else 0.0,
            "per_class": per_class, "confusion": confusion.tolist()}


def _relative(path, data_dir):
    """`path` relative to the data folder ('/' separators) when it lies inside it."""
    try:
        return Path(path).relative_to(data_dir).as_posix()
    except ValueError:
        return str(path)


def _read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as error:
        raise SmartbinError("cannot read %s: %s" % (path, error))


def sorting_metrics(truth, scores, labels, model_contract,
                    target=sorting.DEFAULT_TARGET_CONTAMINATION, bin_config=None,
                    lids_name=None):
    """The sorting curve of scored items, its recommended threshold for `target`, and the
    point at the threshold the bin would use with this model (model.json's, else 0.6)."""
    table = sorting.LidTable(labels, bin_config)
    curve = sorting.sorting_curve(truth, scores, table)
    threshold = sorting.threshold_for(None, model_contract)
    recommended_by_model = (model_contract.get("sorting") or {}).get("threshold") is not None
    return {"lids": lids_name or "one per recycling class",
            "lid_names": table.names,
            "model_threshold": threshold,
            "model_threshold_from": "model.json's" if recommended_by_model else "the default",
            "at_model_threshold": sorting.point(truth, scores, threshold, table),
            "recommended": sorting.recommend(curve, target),
            "curve": curve}


def calibration_metrics(truth, scores, output):
    """ECE, NLL and the reliability bins of dequantised int8 scores."""
    floor = output["scale"] / 2  # a score of 0 stands for anything below half a step
    return dict(calibration.figures(scores, truth, floor), ece_bins=calibration.ECE_BINS,
                reliability=calibration.reliability(scores, truth))


def evaluate_model(model_dir, data_dir, split_manifest=None, subset="test", report_dir=None,
                   history=None, progress=None,
                   target_contamination=sorting.DEFAULT_TARGET_CONTAMINATION,
                   bin_config_path=None, empty=None, isolate=False):
    """Score the int8 model in `model_dir` on labelled photos; return the metrics dict.

    A model whose model.json has an "isolate" block (or any model, with `isolate`: the
    default settings, to measure before exporting them) sees each photo as the bin would:
    the item found against `empty` (one empty-chamber photo, or a folder holding one at
    each photo's place), cropped and resized (host_tools/isolate.py); without `empty`,
    the whole frame, as the bin before its first empty frame.

    The sorting curve counts lids as the bin config at `bin_config_path` maps classes to
    them (default: one lid per recycling class). With `report_dir`, also write
    metrics.json, confusion.png, sorting.png, calibration.png, report.md, report.html and
    (when a training history is given, or history.json sits in the model folder)
    curves.png, as one set (`host_tools.model.report.write`).
    """
    model_dir = Path(model_dir)
    model_contract, model_bytes = predict.load_model_folder(model_dir)
    labels = model_contract["labels"]
    predict.input_path(model_contract, empty, isolate)  # a wrong --empty fails at once
    bin_config = None
    if bin_config_path is not None:
        from host_tools.power import read_config

        bin_config = read_config(bin_config_path)[1]
    history_data = None
    if report_dir is not None:  # read before scoring: a wrong --history fails at once
        history_data = _read_json(history) if history else _read_json(model_dir / "history.json")
        if history and history_data is None:
            raise SmartbinError("no training history at %s" % history)
    files = labelled_files(data_dir, split_manifest, subset)
    if not files:
        if split_manifest is not None:
            where = "" if isinstance(split_manifest, dict) else " (%s)" % split_manifest
            raise SmartbinError("the %s part of the split%s is empty: nothing to evaluate"
                                % (subset, where))
        raise SmartbinError("no photos to evaluate in %s" % data_dir)
    unknown = sorted({label for _, label in files} - set(labels))
    if unknown:
        raise SmartbinError("%s has class folder%s %s that the model does not know (it knows "
                            "%s)" % (data_dir, "s" if len(unknown) > 1 else "",
                                     ", ".join(unknown), ", ".join(labels)))
    inputs, isolated = predict.bin_inputs([path for path, _ in files], model_contract, empty,
                                          data_dir, progress, isolate)
    _, scores = predict.run_int8(model_contract, model_bytes, inputs, progress)
    truth = np.array([labels.index(label) for _, label in files])
    predicted = scores.argmax(axis=1)
    metrics = {"model": str(model_dir), "data": str(data_dir),
               "subset": subset if split_manifest is not None else None,
               "images": len(files), "labels": labels}
    if isolated is not None:
        metrics["isolate"] = isolated
    metrics.update(classification_metrics(truth, predicted, labels))
    mistakes = [{"file": _relative(path, data_dir), "label": label,
                 "predicted": labels[int(guess)],
                 "confidence": round(float(row[guess]), 4)}
                for (path, label), guess, row in zip(files, predicted, scores)
                if labels[int(guess)] != label]
    metrics["sorting"] = sorting_metrics(
        truth, scores, labels, model_contract, target_contamination, bin_config,
        "lids of %s" % bin_config_path if bin_config_path else None)
    metrics["calibration"] = calibration_metrics(truth, scores, model_contract["output"])
    # the most confident mistakes first: a wrong label or a useless photo tops the list
    mistakes.sort(key=lambda mistake: (-mistake["confidence"], mistake["file"]))
    metrics["mistakes_total"] = len(mistakes)
    metrics["mistakes"] = mistakes[:_MISTAKES_KEPT]
    for key in ("flatbuffer_bytes", "arena_bytes", "macs"):
        if key in model_contract:
            metrics[key] = model_contract[key]
    if report_dir is not None:
        report.write(report_dir, metrics, model_contract,
                     _read_json(model_dir / "export.json"), history_data)
    return metrics


def _point_text(row):
    wrong = ("%.1f%% of them in the wrong lid" % (100 * row["contamination"])
             if row["contamination"] is not None else "none recycled")
    return "%.1f%% of items to a recycling lid, %s" % (100 * row["coverage"], wrong)


def summary_lines(metrics):
    """Sorting and calibration in a few lines of text."""
    sorting_figures = metrics["sorting"]
    calibration_figures = metrics["calibration"]
    return [
        "sorting (%s): at %s threshold %.2f, %s"
        % (sorting_figures["lids"], sorting_figures["model_threshold_from"],
           sorting_figures["model_threshold"],
           _point_text(sorting_figures["at_model_threshold"])),
        "target contamination %.0f%%: %s"
        % (100 * sorting_figures["recommended"]["target_contamination"],
           sorting_figures["recommended"]["statement"]),
        "calibration: ECE %.3f (%d bins), NLL %.3f"
        % (calibration_figures["ece"], calibration_figures["ece_bins"],
           calibration_figures["nll"]),
    ]


# ---- command line -----------------------------------------------------------------------

def configure(parser):
    parser.add_argument("--model", default=None,
                        help="model folder (default: build/model, else models/default)")
    parser.add_argument("--data", required=True, help="folder of class folders")
    parser.add_argument("--split", default=None,
                        help="split manifest; without it every photo in DATA is scored")
    parser.add_argument("--subset", choices=("train", "val", "test"), default="test",
                        help="which part of the split to score (default %(default)s)")
    parser.add_argument("--report", action="store_true",
                        help="write the report: report.html (one page with the photos it got "
                             "wrong), report.md, metrics.json and the figures")
    parser.add_argument("--out", default=None,
                        help="folder for the report (default: the model folder; for the "
                             "committed models/default, whose report stays as committed, "
                             "%s)" % model_choice.DEFAULT_REPORT_DIR.as_posix())
    parser.add_argument("--history", default=None,
                        help="training history.json for the curves (default: the model's)")
    parser.add_argument("--target-contamination", type=float,
                        default=sorting.DEFAULT_TARGET_CONTAMINATION,
                        help="largest share of recycling-lid items in the wrong lid for the "
                             "recommended threshold (default %(default)s)")
    parser.add_argument("--config", default=None,
                        help="bin config.json whose lids the sorting curve counts (default: "
                             "one lid per recycling class, the strictest)")
    parser.add_argument("--empty", default=None, metavar="FRAME",
                        help="empty-chamber photo (or a folder with one at each photo's "
                             "place) to isolate the item against, as the bin does with a "
                             "model.json \"isolate\" block")
    parser.add_argument("--isolate", action="store_true",
                        help="isolate with the default settings even if model.json has none")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")


def run(args):
    from host_tools.progress import ProgressBars

    if not 0 < args.target_contamination < 1:
        raise SmartbinError("--target-contamination must be between 0 and 1 (0.1 is 10%%), "
                            "not %s" % args.target_contamination)
    model_dir = Path(args.model) if args.model else predict.default_model_dir()
    report_dir = None
    if args.report:
        from host_tools.model.model_choice import DEFAULT_REPORT_DIR, is_committed_default

        # the committed default's report stays as committed
        report_dir = Path(args.out) if args.out else (
            DEFAULT_REPORT_DIR if is_committed_default(model_dir) else model_dir)
        if is_committed_default(report_dir):
            raise SmartbinError("models/default holds the committed report: give --out "
                                "another folder")
    with ProgressBars(quiet=args.json) as bars:
        metrics = evaluate_model(model_dir, args.data, args.split, args.subset, report_dir,
                                 args.history, bars, args.target_contamination, args.config,
                                 args.empty, args.isolate)
    if args.json:
        print(json.dumps({k: v for k, v in metrics.items() if k != "mistakes"}, indent=2))
        return 0
    print("model %s: accuracy %.1f%% on %d photos (int8, TFLM)"
          % (model_dir, 100 * metrics["accuracy"], metrics["images"]))
    if "isolate" in metrics:
        print(predict.isolation_line(metrics["isolate"]))
    print("%-12s %9s %7s %6s %7s" % ("class", "precision", "recall", "F1", "photos"))
    for label, row in metrics["per_class"].items():
        print("%-12s %9.3f %7.3f %6.3f %7d" % (label, row["precision"], row["recall"],
                                               row["f1"], row["support"]))
    for line in summary_lines(metrics):
        print(line)
    if report_dir is not None:
        print("report: %s and report.html" % (report_dir / "report.md"))
    return 0
