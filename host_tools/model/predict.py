"""`smartbin predict`: classify photos with an int8 model folder, as the bin would.

Each photo goes through the bin's input path (`bin_inputs`, the one `evaluate` uses too:
with model.json's "isolate" block the photo is the camera frame, isolated against an
empty-chamber frame or whole; else the contract's preprocessing) and the int8 model runs
in TensorFlow Lite Micro, the bin's runtime. The lid is the firmware's own rule
(`host_tools.model.sorting`) for the lids of a bin config (default: the bin as shipped,
firmware/config.json) at its threshold: --threshold, else the config's, else the model's.
"""
import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from host_tools import atomic, contract

from host_tools.model import tflm
from host_tools.errors import SmartbinError

_THUMB_SIDE = 160
_CAPTION_HEIGHT = 22
_SHEET_COLUMNS = 6
_DECODE_THREADS = 4


def default_model_dir():
    """The model you trained (build/model) if there is one, else the committed default;
    says which on stderr (one rule for every command: host_tools/model/model_choice.py)."""
    from host_tools.model import model_choice

    return model_choice.default_model_dir(announce=True)


def load_model_folder(model_dir):
    """(contract, flatbuffer bytes) of a model folder, checking the file against model.json."""
    model_contract = contract.load(model_dir)
    path = Path(model_dir) / model_contract.get("tflite", "model.tflite")
    try:
        model_bytes = path.read_bytes()
    except OSError as error:
        raise SmartbinError("cannot read %s: %s" % (path, error.strerror))
    expected = model_contract.get("sha256")
    if expected and hashlib.sha256(model_bytes).hexdigest() != expected:
        raise SmartbinError("%s does not match the sha256 in model.json (re-export it)" % path)
    return model_contract, model_bytes


def run_int8(model_contract, model_bytes, inputs, progress=None):
    """Run int8 inputs (N x H x W x C) in TFLM; return (int8 outputs, float scores)."""
    outputs = tflm.run(model_bytes, np.asarray(inputs, np.int8),
                       arena_bytes=model_contract["arena_bytes"], progress=progress)["outputs"]
    if outputs.shape[1] != len(model_contract["labels"]):
        raise SmartbinError("the model gives %d scores but model.json names %d labels"
                            % (outputs.shape[1], len(model_contract["labels"])))
    output = model_contract["output"]
    scores = (outputs.astype(np.float64) - output["zero_point"]) * output["scale"]
    return outputs, scores


def files_to_inputs(paths, model_contract, progress=None, stage="decode"):
    """Photos -> N x H x W x C int8 inputs, exactly as the bin's contract prescribes."""
    model_input = model_contract["input"]
    inputs = np.zeros((len(paths), model_input["height"], model_input["width"],
                       model_input["channels"]), np.int8)
    with ThreadPoolExecutor(_DECODE_THREADS) as pool:
        decoded = pool.map(lambda path: contract.image_file_to_input(path, model_contract), paths)
        for index, array in enumerate(decoded):
            inputs[index] = array
            if progress:
                progress(stage, index + 1, len(paths))
    return inputs


def input_path(model_contract, empty=None, isolate=False):
    """The contract photos go through on their way to the model, as the bin sees them: with
    an "isolate" block (its own, or with `isolate` the default settings) the isolating
    one, else None (the contract's preprocessing). Refuses `empty` (an empty-chamber photo
    or folder) that is missing or that a model without isolation cannot use."""
    from host_tools import isolate as isolation

    isolating = isolation.with_settings(model_contract, isolate)
    if empty is not None:
        if isolating is None:
            raise SmartbinError("--empty needs a model.json with an \"isolate\" block (export "
                                "--isolate), or --isolate to try the default settings")
        if not Path(empty).exists():
            raise SmartbinError("no empty-chamber photo or folder at %s" % empty)
    return isolating


def bin_inputs(paths, model_contract, empty=None, data_dir=None, progress=None,
               isolate=False):
    """Photos -> (N x H x W x C int8 inputs, isolation facts or None), as the bin feeds its
    model; `evaluate` and `predict` both score through here, so a photo scores the same.

    With an "isolate" block (`input_path`) each photo is the camera's frame and the item is
    found against `empty` (one photo, or a folder holding one at each photo's place under
    `data_dir`; host_tools/isolate.py) and resized by the board's nearest rule; without
    `empty`, the whole frame, as the bin before its first empty-chamber frame. The facts:
    {"settings", "empty", "found": share of photos whose item was found}. Without the
    block, the contract's preprocessing (`files_to_inputs`)."""
    from host_tools import isolate as isolation

    isolating = input_path(model_contract, empty, isolate)
    if isolating is None:
        return files_to_inputs(paths, model_contract, progress), None
    inputs, found = isolation.files_to_inputs(paths, isolating, data_dir, empty, progress)
    return inputs, {"settings": isolating["isolate"],
                    "empty": str(empty) if empty is not None else None,
                    "found": round(float(found), 4)}


def isolation_line(isolated):
    """One line on how the photos were isolated (`bin_inputs`' facts), for the terminal."""
    if isolated["empty"] is None:
        return ("photos scored whole, as the bin before its first empty-chamber frame (give "
                "--empty to isolate the item)")
    return ("item isolated against %s: found in %.1f%% of the photos, else the whole frame"
            % (isolated["empty"], 100 * isolated["found"]))


def predict_images(model_dir, image_paths, progress=None, threshold=None,
                   bin_config_path=None, empty=None, isolate=False):
    """Label, confidence and lid of each photo: a list of {"file", "label", "confidence",
    "lid", "threshold", "scores": {label: score}, "isolated": `bin_inputs`' facts or None},
    in the order given.

    Photos are scored as `evaluate` scores them (`bin_inputs`, isolated against `empty`
    when the model isolates, or with `isolate` by the default settings). The lid follows
    the firmware's rule for the lids of the bin config at `bin_config_path` (None: one lid
    per recycling class) at `threshold`, else the config's decide.threshold, else the
    model's recommended one."""
    from host_tools.model import sorting

    if not image_paths:
        raise SmartbinError("no images given")
    if threshold is not None and not 0 <= threshold <= 1:
        raise SmartbinError("the threshold must be between 0 and 1, not %s" % threshold)
    bin_config = None
    if bin_config_path is not None:  # a bad config fails before any photo is scored
        from host_tools.power import read_config

        bin_config = read_config(bin_config_path)[1]
    model_contract, model_bytes = load_model_folder(model_dir)
    labels = model_contract["labels"]
    inputs, isolated = bin_inputs([Path(p) for p in image_paths], model_contract, empty,
                                  progress=progress, isolate=isolate)
    _, scores = run_int8(model_contract, model_bytes, inputs, progress)
    if threshold is None and bin_config is not None:
        threshold = bin_config.threshold
    threshold = sorting.threshold_for(threshold, model_contract)
    table = sorting.LidTable(labels, bin_config)
    lids = table.lids_for(scores.argmax(axis=1), scores.max(axis=1), threshold)
    results = []
    for path, row, lid in zip(image_paths, scores, lids):
        best = int(row.argmax())
        results.append({"file": str(path), "label": labels[best],
                        "confidence": round(float(row[best]), 4),
                        "lid": table.names[int(lid)], "threshold": threshold,
                        "scores": {label: round(float(s), 4) for label, s in zip(labels, row)},
                        "isolated": isolated})
    return results


def write_contact_sheet(results, out_path, columns=_SHEET_COLUMNS):
    """A PNG grid of the photos, each captioned with its label and confidence."""
    from PIL import Image, ImageDraw

    out_path = Path(out_path)
    if out_path.suffix.lower() != ".png":
        raise SmartbinError("the contact sheet must be a .png file, not %s" % out_path)
    columns = max(1, min(columns, len(results)))
    rows = -(-len(results) // columns)
    cell_height = _THUMB_SIDE + _CAPTION_HEIGHT
    sheet = Image.new("RGB", (columns * _THUMB_SIDE, rows * cell_height), "white")
    draw = ImageDraw.Draw(sheet)
    for index, result in enumerate(results):
        x, y = (index % columns) * _THUMB_SIDE, (index // columns) * cell_height
        thumb = contract.load_image(result["file"])
        thumb.thumbnail((_THUMB_SIDE, _THUMB_SIDE))
        sheet.paste(thumb, (x + (_THUMB_SIDE - thumb.width) // 2,
                            y + (_THUMB_SIDE - thumb.height) // 2))
        draw.text((x + 4, y + _THUMB_SIDE + 4),
                  "%s %.0f%%" % (result["label"], 100 * result["confidence"]), fill="black")
    # drawn whole in memory, then one atomic write: a full disk leaves the old sheet
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    atomic.write_bytes(out_path, buffer.getvalue())
    return out_path


# ---- command line -----------------------------------------------------------------------

def configure(parser):
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="photos to classify")
    parser.add_argument("--model", default=None,
                        help="model folder (default: build/model, else models/default)")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="bin config.json whose lids and threshold decide (default: "
                             "firmware/config.json, the bin as shipped)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="confidence the top class needs for its recycling lid "
                             "(default: the config's decide.threshold, else the model's "
                             "recommended one, as the bin)")
    parser.add_argument("--empty", default=None, metavar="FRAME",
                        help="empty-chamber photo (or a folder with one of the same name "
                             "as each photo) to isolate the item against, as the bin does "
                             "with a model.json \"isolate\" block; without it the photo is "
                             "scored whole")
    parser.add_argument("--isolate", action="store_true",
                        help="isolate with the default settings even if model.json has none")
    parser.add_argument("--contact-sheet", metavar="PNG", help="also write a captioned grid")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")


def run(args):
    if args.contact_sheet and not args.contact_sheet.lower().endswith(".png"):
        raise SmartbinError("the contact sheet must be a .png file, not %s" % args.contact_sheet)
    from host_tools.progress import ProgressBars

    from host_tools.power import DEFAULT_CONFIG

    model_dir = args.model or default_model_dir()
    with ProgressBars() as bars:  # many photos take a while; stdout keeps the --json
        results = predict_images(model_dir, args.images, bars, args.threshold,
                                 args.config or DEFAULT_CONFIG, args.empty, args.isolate)
    if args.contact_sheet:
        write_contact_sheet(results, args.contact_sheet)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        if results[0]["isolated"] is not None:
            print(isolation_line(results[0]["isolated"]))
        width = max(len(r["file"]) for r in results)
        for result in results:
            print("%-*s  %-10s %5.1f%%  -> %s lid" % (width, result["file"], result["label"],
                                                     100 * result["confidence"], result["lid"]))
    return 0
