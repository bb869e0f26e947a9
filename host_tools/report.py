"""The evaluation report: confusion-matrix and training-curve PNGs and a short Markdown page."""
from pathlib import Path

import numpy as np

from host_tools import atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path):
    with atomic.atomic_path(path, suffix=".png") as tmp_path:
        figure.savefig(tmp_path, format="png", dpi=110, bbox_inches="tight")


def confusion_png(confusion, labels, path, title="int8 model"):
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
    _save(figure, path)
    plt.close(figure)


def curves_png(history, path):
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
    _save(figure, path)
    plt.close(figure)


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
    if has_curves:
        lines += ["![training curves](curves.png)", ""]
    return "\n".join(lines)


def write(report_dir, metrics, model_contract=None, export_figures=None, history=None):
    """Write metrics.json, confusion.png, curves.png (when a history is given) and report.md."""
    import json

    report_dir = Path(report_dir)
    confusion_png(metrics["confusion"], metrics["labels"], report_dir / "confusion.png",
                  "int8 model, %s: %.1f%%" % (metrics.get("subset") or "photos",
                                             100 * metrics["accuracy"]))
    if history:
        curves_png(history, report_dir / "curves.png")
    atomic.write_text(report_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    atomic.write_text(report_dir / "report.md",
                      markdown(metrics, model_contract, export_figures, bool(history)))
