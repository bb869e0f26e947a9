"""`smartbin export`: quantize a trained model to full int8 and write what the bin loads.

First the scores are made honest: a temperature fitted on held-out photos (the split's
val subset and the same val items on surfaces training never saw, or folders given with
--calibrate-on; `held_out_photos`) is folded into the last Dense layer
(`host_tools.model.calibration`). Then post-training full-integer quantization (int8 weights,
activations, input and output; only TFLITE_BUILTINS_INT8 ops), its ranges taken from
training photos. On the bin-like part of the held-out photos the int8 model's sorting
curve, for the lids of --config, gives the recommended confidence threshold for a target
contamination with 95% confidence (`host_tools.model.sorting`), written to model.json's
"sorting" block, which the bin uses unless its config.json sets a threshold.

The output folder gets ``model.tflite``, ``model.h`` (C array for Arduino/ESP-IDF users),
``model.json`` (the contract, see `host_tools.contract`), ``export.json`` (float vs int8
accuracy, calibration error before and after) and copies of the training history and
config, so the folder is a complete record.

The export refuses, writing nothing, when the model's int8 input quantisation is not
the contract's (scale 1, zero point -128), when TFLM cannot load it, or when int8
accuracy falls more than `max_int8_drop` points below float.
"""
import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from host_tools import atomic, contract

from host_tools.model import backbones, calibration, sorting, tflm
from host_tools.model import train as training
from host_tools.errors import SmartbinError
from host_tools.option_numbers import above_zero
from host_tools.progress import ProgressBars

TFLITE_FILE = "model.tflite"
HEADER_FILE = "model.h"
EXPORT_FILE = "export.json"
DEFAULT_MAX_INT8_DROP = 2.0
DEFAULT_CALIBRATION_IMAGES = 300
PIXEL_RULE = "int8 = pixel - 128 (pixel is the 0..255 channel value)"


@contextlib.contextmanager
def _quiet_output():
    """Silence the converter (it prints the model's signature to stdout and C++ logs to
    fd 2 directly); on failure, the captured text is attached to the exception."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except Exception as error:
            sys.stdout.flush()
            captured.seek(0)
            error.converter_log = captured.read().decode(errors="replace")
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def calibration_samples(pixels, count, seed):
    """Up to `count` training photos for calibration, the first with a pixel at 0 and one at
    255 in every channel, so the input range is exactly 0..255 (scale 1, zero point -128)."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(pixels))[:count]
    samples = pixels[chosen].astype(np.float32)
    samples[0, 0, 0, :] = 0.0
    samples[0, 0, 1, :] = 255.0
    return samples


def quantize(model, samples):
    """Convert a Keras model to a full-integer int8 TFLite flatbuffer (bytes)."""
    tf = backbones.tensorflow()

    def representative_dataset():
        for sample in samples:
            yield [sample[None, ...]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        with _quiet_output(), warnings.catch_warnings():
            # "Statistics for quantized inputs were expected": the representative dataset
            # gives them; the converter warns regardless.
            warnings.simplefilter("ignore", UserWarning)
            return bytes(converter.convert())
    except Exception as error:  # the converter raises many types
        log = getattr(error, "converter_log", "")
        lines = [line for line in (str(error) + "\n" + log).splitlines() if "rror" in line]
        raise SmartbinError("int8 conversion failed: %s"
                            % (lines[0].strip() if lines else type(error).__name__))


_MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def describe_flatbuffer(model_bytes):
    """(sorted operator names, multiply-accumulates per inference) of a .tflite model.

    MACs count the convolution, depthwise and fully-connected layers, from the tensor
    shapes in the flatbuffer: conv = outputs x kernel area x input channels, depthwise =
    outputs x kernel area, fully connected = outputs x inputs.
    """
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    names = {value: name for name, value in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
    except Exception as error:  # flatbuffers raises struct/index errors on junk
        raise SmartbinError("not a TFLite flatbuffer: %s" % error)
    ops, macs = set(), 0
    for subgraph in model.subgraphs:
        for op in subgraph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
            ops.add(name)
            if name not in _MAC_OPS:
                continue
            out_shape = [int(x) for x in subgraph.tensors[op.outputs[0]].shape]
            weights = [int(x) for x in subgraph.tensors[op.inputs[1]].shape]
            outputs = int(np.prod(out_shape))
            if name == "CONV_2D":  # weights: out_c, kh, kw, in_c
                macs += outputs * weights[1] * weights[2] * weights[3]
            elif name == "DEPTHWISE_CONV_2D":  # weights: 1, kh, kw, out_c
                macs += outputs * weights[1] * weights[2]
            else:  # weights: units, inputs
                macs += outputs * weights[1]
    return sorted(ops), int(macs)


def c_header(model_bytes, name, model_contract):
    """The model as a C/C++ header in the tinymlgen / EloquentTinyML layout, plus the facts
    of the contract as constants."""
    model_input, output = model_contract["input"], model_contract["output"]
    labels = ", ".join('"%s"' % label.replace('"', "") for label in model_contract["labels"])
    hex_bytes = ["0x%02x" % b for b in model_bytes]
    rows = [", ".join(hex_bytes[i:i + 12]) for i in range(0, len(hex_bytes), 12)]
    guard = name.upper() + "_H"
    return "\n".join([
        "// %s: int8 TFLite model for TensorFlow Lite Micro, written by `smartbin export`." % name,
        "// Input: int8 [1, %d, %d, %d] %s, %s; output: int8 scores (scale %r, zero point %d)."
        % (model_input["height"], model_input["width"], model_input["channels"],
           model_input["colour_order"], PIXEL_RULE, output["scale"], output["zero_point"]),
        "// Tensor arena: %d bytes (measured with tflite-micro, with margin)."
        % model_contract["arena_bytes"],
        "#ifndef %s" % guard, "#define %s" % guard, "",
        "#ifndef __cplusplus", "#include <stdalign.h>", "#endif", "",
        "alignas(16) const unsigned char %s[] = {" % name,
        ",\n".join("  " + row for row in rows),
        "};",
        "const unsigned int %s_len = %d;" % (name, len(model_bytes)), "",
        "const char *const %s_labels[] = {%s};" % (name, labels),
        "const int %s_num_labels = %d;" % (name, len(model_contract["labels"])),
        "const int %s_input_width = %d;" % (name, model_input["width"]),
        "const int %s_input_height = %d;" % (name, model_input["height"]),
        "const int %s_input_channels = %d;" % (name, model_input["channels"]),
        "const float %s_input_scale = %rf;" % (name, float(model_input["scale"])),
        "const int %s_input_zero_point = %d;" % (name, model_input["zero_point"]),
        "const float %s_output_scale = %rf;" % (name, float(output["scale"])),
        "const int %s_output_zero_point = %d;" % (name, output["zero_point"]),
        "const unsigned int %s_arena_bytes = %d;" % (name, model_contract["arena_bytes"]),
        "", "#endif  // %s" % guard, ""])


VAL_SUBSET = "val"  # in `calibrate_on`: the split's val subset
# in `calibrate_on`: the val items put on other backgrounds (`ood.calibration_composites`)
VAL_COMPOSITES = "val-composites"
DEFAULT_CALIBRATE_ON = (VAL_SUBSET, VAL_COMPOSITES)


def held_out_photos(data_dir, manifest, labels, spec, calibrate_on=None, split_name=None,
                    progress=None, isolate_block=None):
    """(pixels, label indices, description, threshold mask, its description) of the photos
    the temperature and the threshold are fitted on: each entry of `calibrate_on` is a
    folder of class folders or "val" (the split's val subset) or "val-composites" (the val
    items on other backgrounds), all put together; by default both val sets. With
    `isolate_block` (model.json's "isolate") the val photos are seen as the bin sees them:
    the val-composites isolated against their scenes without the item, the val subset as
    whole frames (no empty chamber to compare with); folders are read as they are.

    The last two values say which photos the recommended threshold is fitted on: the ones
    like a bin's (the val items on other backgrounds, and folders you give), not the val
    subset's white board, unless nothing else was given (a boolean mask and its
    description). The temperature is fitted on all of them."""
    from host_tools import isolate
    from host_tools.data import split as splits
    from host_tools.model import ood, sources

    isolating = None if isolate_block is None else {"input": spec, "isolate": isolate_block}

    chosen = calibrate_on is not None
    sets = [calibrate_on] if isinstance(calibrate_on, (str, Path)) \
        else list(calibrate_on or DEFAULT_CALIBRATE_ON)
    all_pixels, all_truth, names, bin_like = [], [], [], []
    for source in sets:
        if str(source) in (VAL_SUBSET, VAL_COMPOSITES) and not manifest["subsets"].get("val"):
            raise SmartbinError("the split has no val photos to calibrate on: pass "
                                "--calibrate-on DIR")
        if str(source) == VAL_COMPOSITES:
            with tempfile.TemporaryDirectory(prefix="smartbin-calibration-") as tmp:
                written, empty = Path(tmp) / "composites", Path(tmp) / "composites-empty"
                files = ood.calibration_composites(
                    written, data_dir, manifest, progress=progress,
                    empty_folder=empty if isolating else None)
                if not files and not chosen:
                    continue  # photos not on a plain board: the default keeps val alone
                if not files:
                    raise SmartbinError("no val photo of %s has a plain board to cut its "
                                        "item from: calibrate on 'val' or a folder instead"
                                        % data_dir)
                if isolating:
                    pixels, _ = isolate.files_to_pixels([path for path, _ in files], isolating,
                                                        written, empty, progress,
                                                        stage="isolate calibration")
                else:
                    pixels = training.load_pixels(files, spec, progress,
                                                  stage="decode calibration")
            truth = np.array([labels.index(label) for _, label in files], np.int64)
            names.append("val items on other backgrounds%s (%d photos)"
                         % (", isolated" if isolating else "", len(truth)))
        elif str(source) == VAL_SUBSET and isolating:
            files = splits.split_files(manifest, data_dir, "val")
            pixels, _ = isolate.files_to_pixels([path for path, _ in files], isolating,
                                                progress=progress, stage="decode val")
            truth = np.array([labels.index(label) for _, label in files], np.int64)
            where = " of %s" % split_name if split_name else ""
            names.append("val subset%s as whole frames (%d photos)" % (where, len(truth)))
        elif str(source) == VAL_SUBSET:
            pixels, truth = training.load_split_arrays(data_dir, manifest, "val", spec,
                                                       progress)
            where = " of %s" % split_name if split_name else ""
            names.append("val subset%s (%d photos)" % (where, len(truth)))
        else:
            pixels, truth = sources.labelled_folder(source, labels, spec, progress,
                                                    stage="decode calibration")
            names.append("folder %s (%d photos)" % (source, len(truth)))
        all_pixels.append(pixels)
        all_truth.append(truth)
        bin_like.append(str(source) != VAL_SUBSET)
    if not any(bin_like):
        bin_like = [True] * len(bin_like)
    mask = np.concatenate([np.full(len(truth), like, bool)
                           for truth, like in zip(all_truth, bin_like)])
    return (np.concatenate(all_pixels), np.concatenate(all_truth), " + ".join(names), mask,
            " + ".join(name for name, like in zip(names, bin_like) if like))


def int8_probabilities(int8_outputs, output):
    """Dequantised int8 scores (0..1) and the NLL floor for them: half an output step (a
    score of 0 means the true value was below that)."""
    scores = (np.asarray(int8_outputs, np.float64) - output["zero_point"]) * output["scale"]
    return scores, output["scale"] / 2


def export_model(train_dir, data_dir, split_manifest, out_dir,
                 max_int8_drop=DEFAULT_MAX_INT8_DROP, gate_subset="test",
                 calibration_images=DEFAULT_CALIBRATION_IMAGES, c_name="smartbin_model",
                 progress=None, calibrate_on=None, calibrate=True,
                 target_contamination=sorting.DEFAULT_TARGET_CONTAMINATION, isolate=None,
                 bin_config_path=None):
    """Calibrate the model in `train_dir` (temperature fitted on `calibrate_on`: folders of
    class folders and/or "val", see `held_out_photos`; by default the split's val subset
    and its items on other backgrounds; `calibrate` False keeps T = 1), quantize it to
    int8, check it in TFLM, gate int8 accuracy against float on `gate_subset`, recommend
    the threshold for `target_contamination` (with `sorting.DEFAULT_CONFIDENCE`, on the
    bin-like part of the calibration photos) and write the model folder `out_dir`.
    `isolate` (a settings dict, e.g. host_tools.isolate.DEFAULT_SETTINGS) goes into
    model.json: the bin then finds
    the item against its empty chamber before classifying (host_tools/isolate.py). The
    threshold is fitted for the lids of the bin config at `bin_config_path`, else for one
    lid per recycling class (the strictest grouping); model.json records which classes
    shared a lid, so `deploy` can warn a bin that keeps apart classes that shared one.

    Returns a summary dict (the model.json contract plus "export" figures).
    """
    from host_tools.data import split as splits

    started = time.monotonic()
    if isolate is not None:  # a bad block fails before the slow steps, not after them
        contract.validate({**_placeholder_contract(), "isolate": isolate})
    bin_config = None
    if bin_config_path is not None:  # like the isolate block: a bad config fails first
        from host_tools.power import read_config

        bin_config = read_config(bin_config_path)[1]
    train_dir = Path(train_dir)
    manifest = split_manifest if isinstance(split_manifest, dict) \
        else splits.load_split(split_manifest)
    if not 0 < target_contamination < 1:
        raise SmartbinError("the target contamination must be between 0 and 1, not %s"
                            % target_contamination)
    model, config = training.load_trained(train_dir)
    labels = list(config["labels"])
    if list(manifest["labels"]) != labels:
        raise SmartbinError("the split's labels %s differ from the trained model's %s"
                            % (manifest["labels"], labels))
    spec = config["input"]
    seed = config.get("options", {}).get("seed", 0)

    # Honest confidence first: the temperature goes into the weights that get quantised.
    split_name = None if isinstance(split_manifest, dict) else str(split_manifest)
    held_pixels, held_truth, held_name, threshold_mask, threshold_name = held_out_photos(
        data_dir, manifest, labels, spec, calibrate_on, split_name, progress, isolate)
    held_logits = calibration.logits(model, held_pixels)
    temperature = calibration.fit_temperature(held_logits, held_truth) if calibrate else 1.0
    if temperature != 1.0:
        calibration.fold_temperature(model, temperature)

    train_pixels, _ = training.load_split_arrays(data_dir, manifest, "train", spec, progress)
    samples = calibration_samples(train_pixels, calibration_images, seed)
    del train_pixels
    if progress:
        progress("quantize", 0, 1)
    model_bytes = quantize(model, samples)
    if progress:
        progress("quantize", 1, 1)

    checked = tflm.run(model_bytes, measure_arena=True)
    model_input, output = checked["input"], checked["output"]
    expected_shape = [1, spec["height"], spec["width"], spec["channels"]]
    if model_input["dtype"] != "int8" or model_input["shape"] != expected_shape or \
            abs(model_input["scale"] - 1.0) > 1e-6 or model_input["zero_point"] != -128:
        raise SmartbinError(
            "the int8 model's input is %s %s scale %g zero point %d; the contract needs int8 "
            "%s scale 1 zero point -128 (calibration must span pixels 0..255)"
            % (model_input["dtype"], model_input["shape"], model_input["scale"],
               model_input["zero_point"], expected_shape))
    if output["dtype"] != "int8" or output["shape"] != [1, len(labels)]:
        raise SmartbinError("the int8 model's output is %s %s, expected int8 [1, %d]"
                            % (output["dtype"], output["shape"], len(labels)))
    arena_measured = int(checked["arena_bytes_min"])
    arena_bytes = tflm.arena_with_margin(arena_measured)

    def int8_run(pixels, name):
        outputs = tflm.run(model_bytes, contract.input_lut(1.0, -128)[pixels],
                           arena_bytes=arena_bytes,
                           progress=(lambda stage, done, total:
                                     progress("%s %s" % (stage, name), done, total))
                           if progress else None)["outputs"]
        return int8_probabilities(outputs, output)

    subset = gate_subset if manifest["subsets"].get(gate_subset) else "val"
    pixels, truth = training.load_split_arrays(data_dir, manifest, subset, spec, progress)
    gate_logits = calibration.logits(model, pixels)  # already divided by the temperature
    float_accuracy = float(np.mean(gate_logits.argmax(1) == truth))
    int8_scores, int8_floor = int8_run(pixels, subset)
    int8_accuracy = float(np.mean(int8_scores.argmax(1) == truth))
    drop = 100 * (float_accuracy - int8_accuracy)
    if drop > max_int8_drop:
        raise SmartbinError(
            "int8 accuracy %.1f%% is %.1f points below float %.1f%% on the %s split (limit "
            "%.1f); nothing written. Retrain, or accept it with --max-int8-drop %.1f"
            % (100 * int8_accuracy, drop, 100 * float_accuracy, subset, max_int8_drop,
               max(drop, 0) + 0.1))

    held_int8_scores, _ = int8_run(held_pixels, "calibration")
    lid_table = sorting.LidTable(labels, bin_config)
    curve = sorting.sorting_curve(held_truth[threshold_mask],
                                  held_int8_scores[threshold_mask], lid_table)
    recommended = sorting.recommend(curve, target_contamination)
    sorting_block = {
        "threshold": recommended["threshold"],
        "target_contamination": target_contamination,
        "target_met": recommended["target_met"],
        "coverage": recommended["coverage"],
        "contamination": recommended["contamination"],
        "min_coverage": recommended["min_coverage"],
        "confidence": recommended["confidence"],
        "contamination_bound": recommended["contamination_bound"],
        "measured_on": threshold_name + ", int8 model",
        "lids": ("one per recycling class; trash and unsure items to the general lid"
                 if bin_config is None else
                 "lids of %s: %s; unsure items to the %s lid"
                 % (Path(bin_config_path).name, ", ".join(lid_table.names),
                    lid_table.names[lid_table.general])),
        "class_to_lid": lid_table.class_to_lid_names(labels),
    }
    calibration_figures = {
        "temperature": round(temperature, 4), "fitted": bool(calibrate),
        "temperature_at_search_limit": calibration.at_search_limit(temperature),
        "fitted_on": held_name, "ece_bins": calibration.ECE_BINS,
        "before": {
            "calibration_set": {"float": calibration.figures(
                calibration.softmax(held_logits), held_truth)},
            subset: {"float": calibration.figures(
                calibration.softmax(gate_logits, 1 / temperature), truth)}},
        "after": {
            "calibration_set": {
                "float": calibration.figures(calibration.softmax(held_logits, temperature),
                                             held_truth),
                "int8": calibration.figures(held_int8_scores, held_truth, int8_floor)},
            subset: {"float": calibration.figures(calibration.softmax(gate_logits), truth),
                     "int8": calibration.figures(int8_scores, truth, int8_floor)}},
    }

    ops, macs = describe_flatbuffer(model_bytes)
    model_contract = {
        "schema": contract.SCHEMA_VERSION,
        "labels": labels,
        "input": dict(spec, dtype="int8", scale=1.0, zero_point=-128, pixel_rule=PIXEL_RULE),
        "output": {"dtype": "int8", "scale": float(output["scale"]),
                   "zero_point": int(output["zero_point"])},
        "tflite": TFLITE_FILE,
        "flatbuffer_bytes": len(model_bytes),
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "arena_bytes": arena_bytes,
        "arena_bytes_measured": arena_measured,
        "macs": macs,
        "ops": ops,
        "sorting": sorting_block,
    }
    if isolate is not None:
        model_contract["isolate"] = dict(isolate)
    figures = {
        "subset": subset, "images": int(len(truth)),
        "float_accuracy": round(float_accuracy, 4), "int8_accuracy": round(int8_accuracy, 4),
        "int8_minus_float_points": round(-drop, 2), "max_int8_drop": max_int8_drop,
        "calibration_images": int(len(samples)),
        "calibration": calibration_figures,
        "sorting": dict(recommended, measured_on=sorting_block["measured_on"], curve=curve),
        "backbone": config.get("options", {}).get("backbone"),
        "train_seconds": config.get("train_seconds"),
        "export_seconds": round(time.monotonic() - started, 1),
    }
    write_model_folder(out_dir, model_bytes, c_name, model_contract, figures, train_dir)
    return dict(model_contract, export=figures)


def write_model_folder(out_dir, model_bytes, c_name, model_contract, figures, train_dir):
    """Write model.tflite, model.h, model.json, export.json and the training record into
    `out_dir` as one folder swap: a failure at any point (a full disk) leaves the previous
    model folder whole and no temporary files."""
    with atomic.atomic_dir(out_dir) as tmp_dir:
        tmp_dir = Path(tmp_dir)
        (tmp_dir / TFLITE_FILE).write_bytes(model_bytes)
        (tmp_dir / HEADER_FILE).write_text(c_header(model_bytes, c_name, model_contract))
        contract.save(model_contract, tmp_dir)
        (tmp_dir / EXPORT_FILE).write_text(json.dumps(figures, indent=2) + "\n")
        for name in (training.HISTORY_FILE, training.CONFIG_FILE):
            if (Path(train_dir) / name).is_file():
                (tmp_dir / name).write_bytes((Path(train_dir) / name).read_bytes())


def _placeholder_contract():
    """A minimal valid model.json, to check an isolate block before the model exists."""
    return {"schema": contract.SCHEMA_VERSION, "labels": ["a", "b"],
            "input": {"width": 96, "height": 96, "channels": 3, "colour_order": "RGB",
                      "dtype": "int8", "scale": 1.0, "zero_point": -128},
            "output": {"dtype": "int8", "scale": 1 / 256, "zero_point": -128},
            "arena_bytes": 1}


# ---- command line -----------------------------------------------------------------------

def configure(parser):
    parser.add_argument("train_dir", metavar="TRAIN_DIR", help="output of smartbin train")
    parser.add_argument("--data", required=True, help="folder of class folders")
    parser.add_argument("--split", required=True, help="split manifest (smartbin data split)")
    parser.add_argument("--out", required=True, help="model folder to write (e.g. build/model)")
    parser.add_argument("--max-int8-drop", type=float, default=DEFAULT_MAX_INT8_DROP,
                        help="fail when int8 accuracy is more than this many points below "
                             "float (default %(default)s)")
    parser.add_argument("--gate-subset", choices=("val", "test"), default="test",
                        help="split on which float and int8 accuracy are compared")
    parser.add_argument("--calibration-images", type=above_zero(int), default=DEFAULT_CALIBRATION_IMAGES)
    parser.add_argument("--c-name", default="smartbin_model",
                        help="C identifier of the array in model.h")
    parser.add_argument("--calibrate-on", metavar="DIR", action="append", default=None,
                        help="folder of class folders to fit the temperature and the "
                             "recommended threshold on, 'val' for the split's val subset, or "
                             "'val-composites' for its items on other backgrounds; repeat to "
                             "combine (default: val and val-composites)")
    parser.add_argument("--no-calibration", action="store_true",
                        help="keep the model's raw scores (temperature 1); the threshold is "
                             "still measured")
    parser.add_argument("--target-contamination", type=float,
                        default=sorting.DEFAULT_TARGET_CONTAMINATION,
                        help="largest share of recycling-lid items in the wrong lid that the "
                             "recommended threshold may allow (default %(default)s)")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="fit the threshold for the lids of this bin config (make model "
                             "passes firmware/config.json; without it, a lid per recycling "
                             "class, the strictest grouping)")
    parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=True,
                        help="write item isolation into model.json (the default): the bin "
                             "finds the item against its empty chamber and classifies only "
                             "its box (settings: host_tools/isolate.py DEFAULT_SETTINGS); "
                             "--no-isolate: the whole frame, always")


def run(args):
    if not args.c_name.isidentifier():
        raise SmartbinError("--c-name must be a C identifier, not %r" % args.c_name)
    if args.calibration_images < 1:
        raise SmartbinError("--calibration-images must be at least 1")
    if not 0 < args.target_contamination < 1:
        raise SmartbinError("--target-contamination must be between 0 and 1 (0.1 is 10%%), "
                            "not %s" % args.target_contamination)
    bars = ProgressBars()
    try:
        summary = export_model(args.train_dir, args.data, args.split, args.out,
                               args.max_int8_drop, args.gate_subset, args.calibration_images,
                               args.c_name, bars, calibrate_on=args.calibrate_on,
                               calibrate=not args.no_calibration,
                               target_contamination=args.target_contamination,
                               isolate=_isolate_settings(args),
                               bin_config_path=args.config)
    finally:
        bars.close()
    figures = summary["export"]
    print("exported %s: %d bytes, arena %d bytes, %.1f M MACs; %s accuracy float %.1f%%, "
          "int8 %.1f%%"
          % (args.out, summary["flatbuffer_bytes"], summary["arena_bytes"],
             summary["macs"] / 1e6, figures["subset"], 100 * figures["float_accuracy"],
             100 * figures["int8_accuracy"]))
    fitted = figures["calibration"]
    before = fitted["before"]["calibration_set"]["float"]
    after = fitted["after"]["calibration_set"]["float"]
    print("calibration on %s: temperature %.2f; ECE %.3f -> %.3f, NLL %.3f -> %.3f (float)"
          % (fitted["fitted_on"], fitted["temperature"], before["ece"], after["ece"],
             before["nll"], after["nll"]))
    if fitted["temperature_at_search_limit"]:
        print("warning: the temperature is at the edge of its search range (%g..%g): on these "
              "photos the model's scores say little about which class is right"
              % calibration.TEMPERATURE_RANGE)
    print("sorting threshold in model.json: %s" % figures["sorting"]["statement"])
    if "isolate" in summary:
        print("item isolation in model.json: %s" % json.dumps(summary["isolate"]))
    return 0


def _isolate_settings(args):
    if not args.isolate:
        return None
    from host_tools import isolate

    return dict(isolate.DEFAULT_SETTINGS)
