"""The out-of-domain yardstick: photos that do not look like TrashNet, never trained on.

Sets (each a list of (photo, label)):

- ``drinking-waste``: drinking-waste crops (cans, PET bottles on grass, wood, fabric,
  concrete) of the original photos held out from training (`split_drinking_waste`, by
  photo, so no photo is on both sides). The same few dozen cans and bottles recur across
  photos, so an item may still be seen in training on another photo.
- ``composites``: TrashNet *test* items cut from their board and put on backgrounds of
  families training never uses (`backgrounds.OOD_FAMILIES`, and the surfaces of the
  held-out drinking-waste photos), then given a dim/warm, OV2640-like look with noise and
  JPEG (`camera_look`).
- ``chamber``: TrashNet test items in one fixed empty bin chamber (`backgrounds.CHAMBER`)
  with the same camera look: the stand-in for "the bin's own photos" in the few-shot
  curve (`few_shot_curve`).
- any folder of class folders a user passes (`--ood DIR`), under its folder name.

Beside ``chamber`` and ``composites``, ``chamber-empty`` and ``composites-empty`` hold,
at the same place, each photo's scene without its item as the bin sees it while idle:
the same light and camera look, its own sensor noise and JPEG (`empty_chamber_set`), for
item isolation (`smartbin evaluate --empty`).

Composite sets are written once as JPEG class folders under the bench's folder (and
reused while their recipe and the photos stay the same), so `smartbin evaluate --data`
can score any model on them too.
"""
import hashlib
import json
from pathlib import Path

import numpy as np

from host_tools import atomic

from host_tools.data import backgrounds, camera_look, composite
from host_tools.errors import SmartbinError

DRINKING_TEST_FRACTION = 0.3
SET_SIDE = 192            # pixels of a written composite photo
_RECIPE = 2               # bump when the way sets are made changes
MARKER = "ood_set.json"
FEW_SHOT_COUNTS = (0, 10, 30)


def _unit_hash(seed, text):
    return int(hashlib.sha256(("%s:%s" % (seed, text)).encode()).hexdigest()[:12], 16) / 16 ** 12


def split_drinking_waste(crops, test_fraction=DRINKING_TEST_FRACTION, seed=1234):
    """(train crops, test crops): whole original photos (groups) go to one side, drawn by a
    hash of the seed and the group, so the split depends only on the photos."""
    train, test = [], []
    for crop in crops:
        (test if _unit_hash(seed, crop["group"]) < test_fraction else train).append(crop)
    return train, test


def _write_set(folder, recipe, make_photos, progress=None):
    """Write a class-folder set atomically unless `folder` already holds this recipe;
    return its (path, label) list."""
    folder = Path(folder)
    marker = folder / MARKER
    if marker.is_file():
        try:
            stored = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = None
        if stored and stored.get("recipe") == recipe:
            return [(folder / relpath, label) for relpath, label in stored["photos"]]
    from PIL import Image

    photos = []
    with atomic.atomic_dir(folder) as tmp_dir:
        tmp_dir = Path(tmp_dir)
        for index, (name, label, pixels) in enumerate(make_photos()):
            relpath = "%s/%s.jpg" % (label, name)
            (tmp_dir / label).mkdir(exist_ok=True)
            Image.fromarray(pixels).save(tmp_dir / relpath, "JPEG", quality=95)
            photos.append([relpath, label])
            if progress:
                progress("write " + folder.name, index + 1, None)
        (tmp_dir / MARKER).write_text(json.dumps({"recipe": recipe, "photos": photos}) + "\n")
    return [(folder / relpath, label) for relpath, label in photos]


def _set_recipe(items, seed, **extra):
    """What a written set is made from: a set whose recipe.json differs is written again."""
    return {"recipe": _RECIPE, "seed": seed, "side": SET_SIDE, **extra,
            "items": hashlib.sha256("\n".join(
                "%s|%s" % (Path(p).name, label) for p, label in items).encode()).hexdigest()}


def composite_set(folder, items, cutouts, background_for, seed, progress=None):
    """Write (or reuse) a set of composites: each item's cut-out on the background that
    `background_for(rng)` gives, then the camera look. `items` are (path, label) pairs."""
    recipe = _set_recipe(items, seed)

    def photos():
        for index, ((path, label), cut) in enumerate(zip(items, cutouts)):
            if cut is None:
                continue
            rng = np.random.default_rng([seed, index])
            scene = composite.paste(cut, background_for(rng), rng, scale=(0.4, 0.85))
            yield Path(path).stem, label, camera_look.camera_look(scene, rng)

    return _write_set(folder, recipe, photos, progress)


class _OwnNoise:
    """Stands in for a photo's random generator: every draw as the photo's (so the same
    light, look and JPEG quality), but the sensor noise (`normal`) from another one."""

    def __init__(self, photo_rng, noise_rng):
        self.photo_rng = photo_rng
        self.noise_rng = noise_rng

    def normal(self, *args, **kwargs):
        self.photo_rng.normal(*args, **kwargs)  # keep the photo's stream in step
        return self.noise_rng.normal(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.photo_rng, name)


def empty_chamber_set(folder, items, cutouts, background_for, seed, progress=None):
    """Write (or reuse) the empty-chamber twin of `composite_set(..., background_for, seed)`:
    for each of its photos, the same scene without the item (an invisible cut-out drawn
    with the same random steps, so light and place are the photo's), then the photo's
    camera look with its own noise draw."""
    recipe = _set_recipe(items, seed, empty=True)

    def photos():
        for index, ((path, label), cut) in enumerate(zip(items, cutouts)):
            if cut is None:
                continue
            rng = np.random.default_rng([seed, index])
            invisible = cut.copy()
            invisible[..., 3] = 0
            scene = composite.paste(invisible, background_for(rng), rng, scale=(0.4, 0.85))
            look = _OwnNoise(rng, np.random.default_rng([seed, index, 1]))
            yield Path(path).stem, label, camera_look.camera_look(scene, look)

    return _write_set(folder, recipe, photos, progress)


def calibration_composites(folder, trashnet_dir, manifest, seed=1234, cache_dir=None,
                           progress=None, empty_folder=None):
    """The split's *val* items on backgrounds of families that neither training nor the
    yardstick uses (`backgrounds.CALIBRATION_FAMILIES`), with the camera look: photos off
    the white board, on surfaces the model never saw (as a bin's own chamber is), for
    fitting the temperature and the recommended threshold. Items whose board could not be
    found are left out. With `empty_folder`, each photo's scene without its item is written
    there too (for item isolation, as `empty_chamber_set`)."""
    from host_tools.model import sources
    from host_tools.data import split as splits

    val_items = splits.split_files(manifest, trashnet_dir, "val")
    cutouts = sources.cached_cut_outs([path for path, _ in val_items], cache_dir, progress)
    families = backgrounds.CALIBRATION_FAMILIES

    def unseen_background(rng):
        family = families[int(rng.integers(len(families)))]
        return backgrounds.procedural(family, rng, SET_SIDE)

    if empty_folder is not None:
        empty_chamber_set(empty_folder, val_items, cutouts, unseen_background, seed + 2,
                          progress)
    return composite_set(folder, val_items, cutouts, unseen_background, seed + 2, progress)


def build_yardstick(out_dir, trashnet_dir, manifest, drinking_dir=None, user_dirs=(),
                    seed=1234, cache_dir=None, progress=None):
    """Every out-of-domain set: {name: [(path, label), ...]} (see the module docstring)."""
    from host_tools.model import sources
    from host_tools.data import images, split as splits

    out_dir = Path(out_dir)
    sets = {}
    surfaces = []
    if drinking_dir is not None:
        crops = backgrounds.read_crops_csv(drinking_dir)
        _, held_out = split_drinking_waste(crops, seed=seed)
        sets["drinking-waste"] = [(Path(drinking_dir) / c["file"], c["label"]) for c in held_out]
        surfaces = backgrounds.surface_patches(drinking_dir, held_out, SET_SIDE)
    test_items = splits.split_files(manifest, trashnet_dir, "test")
    cutouts = sources.cached_cut_outs([path for path, _ in test_items], cache_dir, progress)
    families = backgrounds.OOD_FAMILIES

    def held_out_background(rng):
        choice = int(rng.integers(len(families) + (1 if surfaces else 0)))
        if choice < len(families):
            return backgrounds.procedural(families[choice], rng, SET_SIDE)
        return backgrounds.variant(surfaces[int(rng.integers(len(surfaces)))], rng, SET_SIDE)

    def chamber_background(rng):
        return backgrounds.procedural(backgrounds.CHAMBER, rng, SET_SIDE)

    sets["composites"] = composite_set(out_dir / "composites", test_items, cutouts,
                                       held_out_background, seed, progress)
    empty_chamber_set(out_dir / "composites-empty", test_items, cutouts,
                      held_out_background, seed, progress)
    sets["chamber"] = composite_set(out_dir / "chamber", test_items, cutouts,
                                    chamber_background, seed + 1, progress)
    empty_chamber_set(out_dir / "chamber-empty", test_items, cutouts, chamber_background,
                      seed + 1, progress)
    for folder in user_dirs:
        folder = Path(folder)
        if not folder.is_dir():
            raise SmartbinError("no out-of-domain folder at %s" % folder)
        name = folder.name or str(folder)
        if name in sets:
            name = str(folder)
        sets[name] = [(path, label) for label, paths in
                      images.list_class_folders(folder).items() for path in paths]
    return {name: files for name, files in sets.items() if files}


def set_metrics(truth, predicted, labels):
    """Top-1, macro recall and F1, and the worst class's recall, over the classes present."""
    from host_tools.model.evaluate import classification_metrics

    metrics = classification_metrics(truth, predicted, labels)
    present = {label: row for label, row in metrics["per_class"].items() if row["support"]}
    worst = min(present, key=lambda label: present[label]["recall"])
    return {"images": int(len(truth)), "accuracy": metrics["accuracy"],
            "macro_recall": round(float(np.mean([r["recall"] for r in present.values()])), 4),
            "macro_f1": metrics["macro_f1"],
            "worst_class": worst, "worst_recall": present[worst]["recall"],
            "recall": {label: row["recall"] for label, row in present.items()}}


def empty_folder_for(files):
    """The folder of empty scenes beside a set's class folders (`chamber` ->
    `chamber-empty`), or None."""
    if not files:
        return None
    root = Path(files[0][0]).parent.parent
    folder = root.with_name(root.name + "-empty")
    return folder if folder.is_dir() else None


def score_int8(model_dir, sets, progress=None):
    """Each set scored by the int8 model as deployed: {name: set_metrics}. A model that
    isolates the item (model.json's "isolate") sees each photo against its empty scene
    where the set has them (`empty_folder_for`), else the whole frame, as the bin would."""
    from host_tools import isolate
    from host_tools.model import predict

    model_contract, model_bytes = predict.load_model_folder(model_dir)
    labels = model_contract["labels"]
    scored = {}
    for name, files in sets.items():
        unknown = sorted({label for _, label in files} - set(labels))
        if unknown:
            raise SmartbinError("out-of-domain set %s has classes the model does not know: %s"
                                % (name, ", ".join(unknown)))
        paths = [path for path, _ in files]
        truth = np.array([labels.index(label) for _, label in files])
        found = None
        empty = None
        if isolate.settings(model_contract) is not None:
            empty = empty_folder_for(files)
            inputs, found = isolate.files_to_inputs(
                paths, model_contract, Path(paths[0]).parent.parent, empty, progress,
                stage="decode " + name)
        else:
            inputs = predict.files_to_inputs(paths, model_contract, progress,
                                             stage="decode " + name)
        _, scores = predict.run_int8(model_contract, model_bytes, inputs, progress)
        scored[name] = set_metrics(truth, scores.argmax(1), labels)
        if found is not None:
            scored[name]["isolated"] = round(float(found), 4)
        if empty is not None:
            # the same photos as the bin sees them before it has an empty frame (or as a
            # photo from elsewhere): the whole frame
            inputs, _ = isolate.files_to_inputs(paths, model_contract, progress=progress,
                                                stage="decode %s whole" % name)
            _, scores = predict.run_int8(model_contract, model_bytes, inputs, progress)
            scored[name]["whole_accuracy"] = float(np.mean(scores.argmax(1) == truth))
    return scored


def ood_score(scored, names=("drinking-waste", "composites")):
    """The one number the default model is chosen by: mean top-1 over the built-in
    out-of-domain sets present (the chamber set belongs to the few-shot curve)."""
    values = [scored[name]["accuracy"] for name in names if name in scored]
    return round(float(np.mean(values)), 4) if values else None


# ---- few-shot: how fast the bin's own photos help ----------------------------------------

def _fit_head(features, targets, weights, kernel, bias, steps=300, learning_rate=0.05,
              decay=1e-3):
    """Softmax regression from (kernel, bias), full-batch Adam with weight decay towards
    the start: the trained head adapted to new photos."""
    start_kernel, start_bias = kernel.copy(), bias.copy()
    params = [kernel.copy(), bias.copy()]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    weights = weights / weights.sum()
    for step in range(1, steps + 1):
        logits = features @ params[0] + params[1]
        logits -= logits.max(1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(1, keepdims=True)
        error = (probabilities - targets) * weights[:, None]
        grads = [features.T @ error + decay * (params[0] - start_kernel),
                 error.sum(0) + decay * (params[1] - start_bias)]
        for param, grad, moment in zip(params, grads, moments):
            moment[0] = 0.9 * moment[0] + 0.1 * grad
            moment[1] = 0.999 * moment[1] + 0.001 * grad ** 2
            param -= learning_rate * (moment[0] / (1 - 0.9 ** step)) / (
                np.sqrt(moment[1] / (1 - 0.999 ** step)) + 1e-8)
    return params


def few_shot_curve(train_dir, train_pixels, train_labels, shot_files, labels,
                   counts=FEW_SHOT_COUNTS, own_share=0.5, repeats=3, seed=1234):
    """Top-1 on a held-out source after adding N of its photos per class (N in `counts`).

    Simulates a user adding N photos of their own bin: the trained network's features
    stay, its head is re-fitted on the training photos plus N photos per class of the
    `shot_files` source (weighted to carry `own_share` of the loss, as `make model MINE=`
    weighs a user's folder), and scored (float) on the source's other photos. A class
    with fewer than 2N photos gives half of them. Mean over `repeats` draws.
    """
    from host_tools.model import backbones, train as training
    from host_tools import contract

    model, config = training.load_trained(train_dir)
    keras = backbones.tensorflow().keras
    extractor = keras.Model(model.inputs, model.get_layer("pool").output)
    kernel, bias = [np.asarray(w, np.float64) for w in model.get_layer("scores").get_weights()]
    spec = config["input"]
    shot_pixels = np.stack([contract.image_to_pixels(contract.load_image(path),
                                                     {"input": spec}) for path, _ in shot_files])
    with backbones.quiet_keras():
        base = extractor.predict(train_pixels.astype(np.float32), batch_size=64, verbose=0)
        shots = extractor.predict(shot_pixels.astype(np.float32), batch_size=64, verbose=0)
    base, shots = base.astype(np.float64), shots.astype(np.float64)
    shot_labels = np.array([labels.index(label) for _, label in shot_files])
    eye = np.eye(len(labels))
    curve = {count: [] for count in counts}
    taken = {count: [] for count in counts}
    for repeat in range(repeats):
        rng = np.random.default_rng([seed, repeat])
        order = {c: rng.permutation(np.flatnonzero(shot_labels == c)) for c in range(len(labels))}
        most = max(counts)
        held = np.ones(len(shot_labels), bool)
        for c, members in order.items():
            held[members[:min(most, len(members) // 2)]] = False
        for count in counts:
            chosen = np.concatenate([members[:min(count, len(members) // 2)]
                                     for members in order.values()]).astype(int)
            if len(chosen):
                features = np.concatenate([base, shots[chosen]])
                weights = np.concatenate([np.full(len(base), (1 - own_share) / len(base)),
                                          np.full(len(chosen), own_share / len(chosen))])
                targets = eye[np.concatenate([train_labels, shot_labels[chosen]])]
                fitted_kernel, fitted_bias = _fit_head(features, targets, weights, kernel, bias)
            else:
                fitted_kernel, fitted_bias = kernel, bias
            predicted = (shots[held] @ fitted_kernel + fitted_bias).argmax(1)
            curve[count].append(float(np.mean(predicted == shot_labels[held])))
            taken[count].append(int(len(chosen)))
    return {"source": "chamber", "scored": "float, head re-fitted on frozen features",
            "own_share": own_share, "repeats": repeats,
            "accuracy": {str(count): round(float(np.mean(v)), 4) for count, v in curve.items()},
            "photos_added": {str(count): int(np.mean(v)) for count, v in taken.items()}}
