"""The evaluation report: confusion matrix, sorting curve, reliability diagram and training
curves as PNGs, a short Markdown page and a self-contained HTML page, written as one set."""
import io
import json
import os

import numpy as np

from host_tools import atomic

# Every file a report may hold: a new report replaces all of them (host_tools.atomic).
REPORT_FILES = ("metrics.json", "report.md", "report.html", "confusion.png", "sorting.png",
                "calibration.png", "curves.png")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def _png(figure):
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def confusion_png(confusion, labels, title="int8 model"):
    """Confusion matrix (rows: true label, columns: predicted), counts and row shares."""
    plt = _pyplot()
    confusion = np.asarray(confusion)
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.75 * len(labels)
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for row in range(len(labels)):
        for col in range(len(labels)):
            axes.text(col, row, str(confusion[row, col]), ha="center", va="center",
                      color="white" if shares[row, col] > 0.5 else "black", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the true class")
    return _png(figure)


def curves_png(history):
    """Loss and accuracy per epoch, train vs validation, with the training phases marked."""
    plt = _pyplot()
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for axes, key, name in ((loss_axes, "loss", "loss"), (accuracy_axes, "accuracy", "accuracy")):
        if history.get(key):
            axes.plot(epochs, history[key], label="train")
        if history.get("val_" + key):
            axes.plot(epochs, history["val_" + key], label="validation")
        phases = history.get("phase") or []
        for index in range(1, len(phases)):
            if phases[index] != phases[index - 1]:
                axes.axvline(index + 0.5, color="grey", linestyle=":", linewidth=1)
                axes.text(index + 0.6, axes.get_ylim()[1], phases[index], va="top",
                          fontsize=8, color="grey")
        axes.set_xlabel("epoch")
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle("training curves (float model)")
    return _png(figure)


def sorting_png(sorting_figures, title="sorting curve"):
    """Coverage, contamination and recovery against the threshold, with the target and the
    thresholds the bin would use (the model's) and the recommended one marked."""
    plt = _pyplot()
    curve = sorting_figures["curve"]
    thresholds = [row["threshold"] for row in curve]
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for key, name in (("coverage", "items to a recycling lid"),
                      ("contamination", "of those, in the wrong lid"),
                      ("recovered", "recyclables in their own lid")):
        values = [np.nan if row[key] is None else 100 * row[key] for row in curve]
        axes.plot(thresholds, values, label=name)
    recommended = sorting_figures["recommended"]
    axes.axhline(100 * recommended["target_contamination"], color="grey", linestyle=":",
                 linewidth=1, label="target contamination")
    axes.axvline(sorting_figures["model_threshold"], color="black", linestyle="--",
                 linewidth=1, label="%s threshold %.2f" % (sorting_figures["model_threshold_from"],
                                                         sorting_figures["model_threshold"]))
    if recommended["threshold"] is not None:
        axes.axvline(recommended["threshold"], color="purple" if recommended["target_met"]
                     else "red", linewidth=1,
                     label="%s %.2f" % ("meets the target at" if recommended["target_met"]
                                        else "cleanest (target not met)",
                                        recommended["threshold"]))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 100)
    axes.set_xlabel("threshold on the top score")
    axes.set_ylabel("%")
    axes.set_title("%s (%s)" % (title, sorting_figures["lids"]))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="center left")
    return _png(figure)


def calibration_png(calibration_figures, title="reliability"):
    """Accuracy against mean top score per bin; the diagonal is perfect calibration."""
    plt = _pyplot()
    rows = [row for row in calibration_figures["reliability"] if row["count"]]
    figure, axes = plt.subplots(figsize=(4.6, 4.2))
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    width = 1.0 / len(calibration_figures["reliability"])
    axes.bar([row["low"] for row in rows], [row["accuracy"] for row in rows], width=width,
             align="edge", edgecolor="black", alpha=0.6, label="accuracy")
    axes.plot([row["confidence"] for row in rows], [row["accuracy"] for row in rows], "o",
              color="black", markersize=3, label="mean score")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("top score")
    axes.set_ylabel("accuracy")
    axes.set_title("%s: ECE %.3f" % (title, calibration_figures["ece"]))
    axes.legend(fontsize=8, loc="upper left")
    return _png(figure)


_REPORTED_THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def sorting_rows(sorting_figures):
    """The sorting curve at the reported thresholds and at the marked ones: a list of
    (threshold with its mark, to a recycling lid, in the wrong lid, recyclables in their
    lid) as text."""
    recommended = sorting_figures["recommended"]
    marks = {sorting_figures["model_threshold"]: sorting_figures["model_threshold_from"]}
    if recommended["threshold"] is not None:
        marks[recommended["threshold"]] = ", ".join(filter(None, [
            marks.get(recommended["threshold"]),
            "meets the target" if recommended["target_met"] else "cleanest, target not met"]))
    rows = {row["threshold"]: row for row in sorting_figures["curve"]}
    rows[sorting_figures["model_threshold"]] = sorting_figures["at_model_threshold"]

    def share(value):
        return "-" if value is None else "%.1f%%" % (100 * value)

    table = []
    for threshold in sorted(set(_REPORTED_THRESHOLDS) | set(marks)):
        row = rows.get(threshold)
        if row is not None:
            name = "%.2f%s" % (threshold,
                               " (%s)" % marks[threshold] if threshold in marks else "")
            table.append((name, share(row["coverage"]), share(row["contamination"]),
                          share(row["recovered"])))
    return table


SORTING_EXPLAINED = ("An item reaches a recycling lid when its top class is a recycling class "
                     "scoring at least the threshold; otherwise it goes to the general lid. "
                     "Contamination: the share of recycling-lid items whose true class belongs "
                     "in another lid (true trash included).")


def _sorting_lines(sorting_figures):
    recommended = sorting_figures["recommended"]
    lines = ["## Sorting", "",
             "Lids: %s. %s" % (sorting_figures["lids"], SORTING_EXPLAINED), "",
             "Target contamination %.0f%%: %s." % (100 * recommended["target_contamination"],
                                                  recommended["statement"]), "",
             "| threshold | to a recycling lid | in the wrong lid | recyclables in their "
             "lid |", "| --- | --- | --- | --- |"]
    lines += ["| %s | %s | %s | %s |" % row for row in sorting_rows(sorting_figures)]
    return lines + ["", "![sorting curve](sorting.png)", ""]


def _calibration_lines(metrics, export_figures):
    figures = metrics["calibration"]
    lines = ["## Confidence", "",
             "On these photos the int8 scores have ECE %.3f (%d bins) and NLL %.3f. ECE is "
             "the item-weighted gap between mean top score and accuracy over bins of the top "
             "score; at 0, items scored 0.8 are right 80%% of the time."
             % (figures["ece"], figures["ece_bins"], figures["nll"]), ""]
    fitted = (export_figures or {}).get("calibration")
    if fitted:
        lines += ["Export: temperature %.2f fitted on %s. Before and after (float; int8 "
                  "after):" % (fitted["temperature"], fitted["fitted_on"]), "",
                  "| photos | ECE before | ECE after | NLL before | NLL after | int8 ECE | "
                  "int8 NLL |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, before in fitted["before"].items():
            after = fitted["after"][name]
            lines.append("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |"
                         % (name.replace("_", " "), before["float"]["ece"],
                            after["float"]["ece"], before["float"]["nll"],
                            after["float"]["nll"], after["int8"]["ece"],
                            after["int8"]["nll"]))
        lines.append("")
    return lines + ["![reliability diagram](calibration.png)", ""]


def markdown(metrics, model_contract=None, export_figures=None, has_curves=False):
    """A short Markdown report of an evaluation (and of the export, when known)."""
    lines = ["# Model report", ""]
    where = metrics["data"] + (" (%s split)" % metrics["subset"] if metrics.get("subset") else "")
    lines += ["int8 model as deployed (TensorFlow Lite Micro), on %d photos of %s: "
              "**accuracy %.1f%%**, macro F1 %.3f."
              % (metrics["images"], where, 100 * metrics["accuracy"], metrics["macro_f1"]), ""]
    if export_figures:
        lines += ["Quantization check at export (%s split, %d photos): float %.1f%%, int8 %.1f%% "
                  "(%+.1f points)."
                  % (export_figures["subset"], export_figures["images"],
                     100 * export_figures["float_accuracy"], 100 * export_figures["int8_accuracy"],
                     export_figures["int8_minus_float_points"]), ""]
    if model_contract:
        model_input = model_contract["input"]
        lines += ["| input | flatbuffer | TFLM arena | MACs |", "| --- | --- | --- | --- |",
                  "| %dx%d %s int8 | %s bytes | %s bytes | %s |"
                  % (model_input["width"], model_input["height"], model_input["colour_order"],
                     format(model_contract.get("flatbuffer_bytes", 0), ","),
                     format(model_contract["arena_bytes"], ","),
                     format(model_contract.get("macs", 0), ",")), ""]
    lines += ["| class | precision | recall | F1 | photos |", "| --- | --- | --- | --- | --- |"]
    for label, row in metrics["per_class"].items():
        lines.append("| %s | %.3f | %.3f | %.3f | %d |"
                     % (label, row["precision"], row["recall"], row["f1"], row["support"]))
    lines += ["", "![confusion matrix](confusion.png)", ""]
    if metrics.get("sorting"):
        lines += _sorting_lines(metrics["sorting"])
    if metrics.get("calibration"):
        lines += _calibration_lines(metrics, export_figures)
    if has_curves:
        lines += ["![training curves](curves.png)", ""]
    lines += ["The same report as one page, with the photos the model got wrong: "
              "[report.html](report.html).", ""]
    return "\n".join(lines)


def render(metrics, model_contract=None, export_figures=None, history=None):
    """Every file of the report, {name: bytes}: metrics.json, confusion.png, sorting.png,
    calibration.png, curves.png (when a history is given), report.md and report.html."""
    from host_tools.model import report_html

    subset = metrics.get("subset") or "photos"
    files = {"confusion.png": confusion_png(metrics["confusion"], metrics["labels"],
                                            "int8 model, %s: %.1f%%"
                                            % (subset, 100 * metrics["accuracy"]))}
    if metrics.get("sorting"):
        files["sorting.png"] = sorting_png(metrics["sorting"])
    if metrics.get("calibration"):
        files["calibration.png"] = calibration_png(metrics["calibration"],
                                                   "int8 model, %s" % subset)
    if history:
        files["curves.png"] = curves_png(history)
    files["metrics.json"] = (json.dumps(metrics, indent=2) + "\n").encode("utf-8")
    files["report.md"] = markdown(metrics, model_contract, export_figures,
                                  bool(history)).encode("utf-8")
    files["report.html"] = report_html.page(metrics, model_contract, files,
                                            export_figures=export_figures).encode("utf-8")
    return files


def write(report_dir, metrics, model_contract=None, export_figures=None, history=None):
    """Write the report's files into `report_dir` as one set (`render`): a failure at any
    point leaves the previous report whole, and nothing else in the folder (a model beside
    its report) is touched."""
    files = render(metrics, model_contract, export_figures, history)
    with atomic.atomic_files(report_dir, owned=REPORT_FILES) as staging:
        for name, data in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
