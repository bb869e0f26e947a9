"""`smartbin inbox`: file pulled debug frames into dataset class folders.

Each inbox entry is <stem>.png + <stem>.json (+ <stem>.raw) as `smartbin pull` wrote it.
Filing copies the PNG into DATA/<class>/ atomically, then moves the entry into
<inbox>/filed/ so it is not offered again. Interactively the prediction is the default
answer; `--accept-predictions` files everything as predicted, `--label CLASS FILE...`
files the given entries as CLASS.
"""
import json
import shutil
from pathlib import Path

from host_tools import atomic
from host_tools.errors import SmartbinError
from host_tools.device.capture import check_label
from host_tools.device.pull import FILED_DIR
# What the bin logs as the label of an item it could not classify (smartbin/cycle.py).
NO_PREDICTION = "unknown"


def entries(inbox):
    """[(stem, png_path, metadata)] of the unfiled entries, oldest name first."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise SmartbinError("no inbox at %s (run `smartbin pull` first)" % inbox)
    found = []
    for png_path in sorted(inbox.glob("*.png")):
        json_path = png_path.with_suffix(".json")
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        found.append((png_path.stem, png_path, meta))
    return found


def file_entry(inbox, stem, label, data_dir):
    """Copy one entry's PNG into DATA/label/ and move the entry to inbox/filed/."""
    check_label(label)
    inbox = Path(inbox)
    png_path = inbox / (stem + ".png")
    if not png_path.is_file():
        raise SmartbinError("no inbox entry %s in %s" % (stem, inbox))
    target = Path(data_dir) / label / (stem + ".png")
    atomic.write_bytes(target, png_path.read_bytes())
    filed = inbox / FILED_DIR
    filed.mkdir(exist_ok=True)
    for ext in (".png", ".json", ".raw"):
        source = inbox / (stem + ext)
        if source.exists():
            shutil.move(str(source), str(filed / source.name))
    return target


def _stem_of(name):
    path = Path(name)
    return path.stem if path.suffix in (".png", ".json", ".raw") else path.name


def predicted_class(meta):
    """The class the bin predicted for a frame, or None when it made no usable prediction:
    none logged, "unknown" (it could not classify), a name not among the model's labels
    (when the frame lists them) or not a valid class folder name."""
    label = meta.get("label")
    labels = meta.get("labels")
    if not isinstance(label, str) or not label or label == NO_PREDICTION:
        return None
    if isinstance(labels, list) and label not in labels:
        return None
    try:
        return check_label(label)
    except SmartbinError:
        return None


def file_inbox(inbox, data_dir, accept_predictions=False, label=None, names=(), ask=None):
    """File inbox entries; return {"filed": [(stem, label, path)], "skipped": [stem]}.

    `ask(stem, meta, png_path)` returns a class name, "" to skip or None to stop; it is
    used when neither `accept_predictions` nor `label` is given.
    """
    report = {"filed": [], "skipped": []}
    if label is not None:
        if not names:
            raise SmartbinError("--label needs the inbox files to file (e.g. 000012-ab12cd34ef56.png)")
        for name in names:
            stem = _stem_of(name)
            report["filed"].append((stem, label, str(file_entry(inbox, stem, label, data_dir))))
        return report
    for stem, png_path, meta in entries(inbox):
        if accept_predictions:
            choice = predicted_class(meta)
            if not choice:
                report["skipped"].append(stem)
                continue
        else:
            choice = ask(stem, meta, png_path)
            if choice is None:
                break
            if not choice:
                report["skipped"].append(stem)
                continue
        report["filed"].append((stem, choice, str(file_entry(inbox, stem, choice, data_dir))))
    return report


def _prompt(stem, meta, png_path, show=False):
    if show:
        from host_tools.data import images

        try:
            image = images.open_photo(png_path)[0]
        except SmartbinError as error:
            raise SmartbinError("cannot show %s: %s" % (png_path, error)) from None
        image.resize((image.width * 3, image.height * 3)).show()
    predicted = predicted_class(meta) or ""
    confidence = meta.get("confidence")
    shown = "%s (%.0f%%)" % (predicted, 100 * confidence) if isinstance(
        confidence, (int, float)) and predicted else (predicted or "no prediction")
    print("%s  predicted: %s" % (png_path, shown))
    while True:
        try:
            answer = input("  class [Enter = %s, s = skip, q = quit, or a class name]: "
                           % (predicted or "skip")).strip()
        except EOFError:  # Ctrl-D, or no more answers piped in: stop as with q
            print()
            return None
        if answer == "q":
            return None
        if answer == "s" or (not answer and not predicted):
            return ""
        choice = answer or predicted
        try:
            return check_label(choice)
        except SmartbinError as error:
            print("  %s" % error)


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--inbox", default="data/inbox", help="pulled frames (default: %(default)s)")
    parser.add_argument("--data", required=True, help="dataset folder of class folders")
    parser.add_argument("--accept-predictions", action="store_true",
                        help="file every frame under the class the bin predicted")
    parser.add_argument("--label", help="file the given FILEs under this class")
    parser.add_argument("--show", action="store_true",
                        help="open each image in the image viewer while asking")
    parser.add_argument("files", nargs="*", metavar="FILE", help="inbox entries for --label")


def run(args):
    if args.files and args.label is None:
        raise SmartbinError("FILE arguments need --label CLASS")
    report = file_inbox(args.inbox, args.data, args.accept_predictions, args.label,
                        args.files, ask=lambda *entry: _prompt(*entry, show=args.show))
    print("%d frame(s) filed into %s, %d skipped" % (len(report["filed"]), args.data,
                                                    len(report["skipped"])))
    return 0
