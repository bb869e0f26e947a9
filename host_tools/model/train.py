"""`smartbin train`: fit the classifier on the training split by transfer learning.

Recipe (defaults): ImageNet MobileNetV1 alpha 0.25 at 96x96 RGB, cut after block 12;
first train only the new head on frozen features (computed once), then fine-tune the
whole network (batch norm trained, then re-estimated on clean photos). Photos are decoded
once into a uint8 array at the input size (the same resize the bin's contract
prescribes); each epoch half of the TrashNet photos are shown as their item on another
background (`host_tools.data.composite`), other sources join with their share of the loss
(`host_tools.model.sources`), and the batch is augmented on the fly and class-balanced.

Writes to the output folder (atomically): ``model.keras``, ``history.json`` (loss and
accuracy per epoch, train and val) and ``train_config.json`` (the options, labels and
input, which `smartbin export` reads).
"""
import dataclasses
import json
import math
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from host_tools import atomic, contract

from host_tools.model import backbones
from host_tools.data.images import file_sha256
from host_tools.errors import SmartbinError
from host_tools.option_numbers import above_zero
from host_tools.progress import ProgressBars

MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
CONFIG_FILE = "train_config.json"
_DECODE_THREADS = 4


@dataclasses.dataclass
class TrainOptions:
    """Every training knob in one place (the CLI, the bench and the tests fill it in).

    backbone: "mobilenet_v1" (ImageNet transfer learning) or "scratch" (small CNN, no
    pretrained weights; trained for `finetune_epochs` at `head_learning_rate`).
    weights: MobileNetV1 ImageNet weights file; None looks in the Keras cache, then
    downloads (`weights_url` overrides the address); "none" starts from random weights.
    augment: strength of augmentation, 0 (off) .. 1 (default) .. 2 (strong).
    patience: epochs without a better val accuracy before a phase stops early (and the
    best epoch's weights come back); 0 = run the whole schedule (the default: with batch
    norm trained on augmented photos, val accuracy before re-estimation is too noisy to
    pick an epoch; measured on TrashNet it stopped mid-schedule and lost points).
    lr_schedule: "cosine" (decay to 5% over each phase) or "constant".
    augment_style: "bin" (`host_tools.model.augment`: the bin's framing, backgrounds, light, flash
    glare, blur, RGB565) or "keras" (flips, rotation, zoom, brightness, contrast).
    colour_drop: share of training photos turned grey (bin augmentation), so that colour
    alone (a brownish floor, a warm light) cannot decide the class.
    blocks: MobileNetV1 depthwise-separable blocks kept (13 = all; 12 fits 380 ms).
    recalibrate_batchnorm: after training, re-estimate batch-norm statistics on clean
    training photos (training leaves statistics of augmented ones).

    Sources (`host_tools.model.sources`): drinking_waste = a drinking-waste folder whose training
    photos (`ood.split_drinking_waste`) join with `drinking_share` of the loss; composite =
    chance that a TrashNet photo is shown, in an epoch, as its item on another background
    (one of `composite_variants` made once, seeded; the first `isolated_composites` of them
    framed as the bin's item isolation crops them); backgrounds = a folder of extra
    backgrounds for them (e.g. the bin's empty-chamber frames); mine = a user's folder of
    class folders with `mine_share` of the loss; cache_dir keeps item cut-outs between runs.
    Robust fine-tuning: freeze_blocks = MobileNetV1 blocks (from the input) kept at their
    ImageNet weights while fine-tuning; interpolate = final weights are
    head-only + interpolate x (fine-tuned - head-only) (1 = fine-tuned, 0 = head only).
    """
    backbone: str = "mobilenet_v1"
    alpha: float = 0.25
    input_size: int = 96
    colour: str = "RGB"
    head_epochs: int = 30
    finetune_epochs: int = 18
    head_learning_rate: float = 1e-3
    finetune_learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    batch_size: int = 32
    augment: float = 0.5
    augment_style: str = "bin"
    colour_drop: float = 0.0
    blocks: int = 12
    recalibrate_batchnorm: bool = True
    dropout: float = 0.2
    label_smoothing: float = 0.1
    class_weights: bool = True
    freeze_batchnorm: bool = False
    patience: int = 0
    seed: int = 1234
    weights: str = None
    weights_url: str = None
    drinking_waste: str = None
    drinking_share: float = 0.25
    composite: float = 0.5
    composite_variants: int = 2
    isolated_composites: int = 0
    backgrounds: str = None
    mine: str = None
    mine_share: float = 0.5
    cache_dir: str = None
    freeze_blocks: int = 0
    interpolate: float = 1.0

    def check(self):
        """Raise SmartbinError on a value training cannot use."""
        if self.backbone not in backbones.BACKBONES:
            raise SmartbinError("unknown backbone %r (choose from %s)"
                                % (self.backbone, ", ".join(backbones.BACKBONES)))
        if self.colour not in contract.COLOUR_ORDERS:
            raise SmartbinError("colour must be one of %s" % ", ".join(contract.COLOUR_ORDERS))
        if not 16 <= self.input_size <= 512:
            raise SmartbinError("input size must be between 16 and 512 pixels")
        if self.backbone == "mobilenet_v1" and self.input_size < 32:
            raise SmartbinError("MobileNetV1 needs an input of at least 32 pixels")
        if self.head_epochs < 0 or self.finetune_epochs < 0 or \
                self.head_epochs + self.finetune_epochs == 0:
            raise SmartbinError("epochs must be >= 0 and not all zero")
        if self.lr_schedule not in ("constant", "cosine"):
            raise SmartbinError("learning-rate schedule must be constant or cosine")
        if self.batch_size < 1:
            raise SmartbinError("batch size must be at least 1")
        if not (self.head_learning_rate > 0 and self.finetune_learning_rate > 0) or \
                not math.isfinite(self.head_learning_rate + self.finetune_learning_rate):
            raise SmartbinError("learning rates must be numbers above 0")
        if not (0 <= self.dropout < 1 and 0 <= self.label_smoothing < 1):
            raise SmartbinError("dropout and label smoothing must be shares from 0 to below 1")
        if self.patience < 0:
            raise SmartbinError("patience must be 0 (off) or more epochs")
        if not 0 <= self.augment <= 3:
            raise SmartbinError("augment strength must be between 0 and 3")
        if not 0 <= self.colour_drop <= 1:
            raise SmartbinError("colour drop must be a share between 0 and 1")
        if self.augment_style not in ("bin", "keras"):
            raise SmartbinError("augment style must be bin or keras")
        if not 1 <= self.blocks <= backbones.MOBILENET_V1_BLOCKS:
            raise SmartbinError("blocks must be between 1 and %d" % backbones.MOBILENET_V1_BLOCKS)
        if not 0 <= self.composite <= 1:
            raise SmartbinError("composite chance must be between 0 and 1")
        if self.composite > 0 and self.composite_variants < 1:
            raise SmartbinError("composite variants must be at least 1")
        if not 0 <= self.isolated_composites <= self.composite_variants:
            raise SmartbinError("isolated composites must be between 0 and the composite "
                                "variants (%d)" % self.composite_variants)
        if self.backgrounds and not self.composite:
            raise SmartbinError("backgrounds are used by composites: set --composite above 0")
        for name in ("drinking_share", "mine_share"):
            if getattr(self, name) < 0:
                raise SmartbinError("%s must be at least 0" % name.replace("_", " "))
        if not 0 <= self.freeze_blocks < max(self.blocks, 1):
            raise SmartbinError("freeze blocks must be between 0 and blocks - 1")
        if not 0 <= self.interpolate <= 1:
            raise SmartbinError("interpolate must be between 0 and 1")
        if self.backbone == "mobilenet_v1":
            backbones.weights_file_name(self.alpha)


def input_spec(options):
    """The contract's image facts for these options (the `input` block minus quantisation)."""
    channels = contract.COLOUR_ORDERS[options.colour]
    return {"width": options.input_size, "height": options.input_size, "channels": channels,
            "colour_order": options.colour, "resize": "bilinear"}


def initial_weights(options, progress=None):
    """Path of the ImageNet weights to start from, or None (scratch, or weights "none")."""
    if options.backbone != "mobilenet_v1":
        return None
    if isinstance(options.weights, str) and options.weights.lower() == "none":
        return None
    return backbones.resolve_weights(options.alpha, options.weights, options.weights_url,
                                     progress)


def load_pixels(files, spec, progress=None, stage="decode"):
    """Decode photos once into an N x H x W x C uint8 array, exactly as the bin's contract
    resizes them. `files` is a list of (path, label)."""
    fake_contract = {"input": spec}

    def decode(path):
        return contract.image_to_pixels(contract.load_image(path), fake_contract)

    pixels = np.zeros((len(files), spec["height"], spec["width"], spec["channels"]), np.uint8)
    with ThreadPoolExecutor(_DECODE_THREADS) as pool:
        for index, array in enumerate(pool.map(decode, [path for path, _ in files])):
            pixels[index] = array
            if progress:
                progress(stage, index + 1, len(files))
    return pixels


def load_split_arrays(data_dir, manifest, subset, spec, progress=None):
    """(pixels uint8 NxHxWxC, label indices int) of one subset of a split manifest."""
    from host_tools.data import split as splits

    labels = manifest["labels"]
    files = splits.split_files(manifest, data_dir, subset)
    if not files:
        raise SmartbinError("the %s split is empty" % subset)
    pixels = load_pixels(files, spec, progress, stage="decode " + subset)
    return pixels, np.array([labels.index(label) for _, label in files], np.int64)


def _augmenter(keras, strength, seed, style="keras", colour_drop=0.0):
    """Random flips, rotation, zoom/crop, shift, brightness and contrast on 0..255 pixels
    (style "keras"), or the bin-like chain of `host_tools.model.augment` (style "bin")."""
    if strength <= 0:
        return None
    if style == "bin":
        from host_tools.model import augment

        return lambda images, training=True: augment.bin_augment(images, strength,
                                                                 colour_drop)
    s = strength
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.08 * s, fill_mode="reflect", seed=seed + 1),
        keras.layers.RandomZoom((-0.2 * s, 0.1 * s), fill_mode="reflect", seed=seed + 2),
        keras.layers.RandomTranslation(0.08 * s, 0.08 * s, fill_mode="reflect", seed=seed + 3),
        keras.layers.RandomBrightness(0.2 * s, value_range=(0, 255), seed=seed + 4),
        keras.layers.RandomContrast(0.25 * s, value_range=(0, 255), seed=seed + 5),
    ], name="augment")


def _datasets(tf, keras, train_sources, val, options, num_classes):
    """(training dataset of (pixels, one-hot, weight) batches, steps per epoch, val set).

    Each epoch's photos come from `sources.epoch_arrays` (one composite variant or the
    original per photo, seeded by epoch), shuffled, then augmented in the graph."""
    from host_tools.model import sources as sourcing

    augment = _augmenter(keras, options.augment, options.seed, options.augment_style,
                         options.colour_drop)
    total = sum(len(source.labels) for source in train_sources)
    steps = -(-total // options.batch_size)
    size, channels = val[0].shape[1], val[0].shape[3]

    def batches():
        epoch = 0
        while True:
            pixels, labels, weights = sourcing.epoch_arrays(train_sources, num_classes, epoch,
                                                            options.seed,
                                                            options.class_weights)
            order = np.random.default_rng([options.seed, epoch, 1]).permutation(len(labels))
            for start in range(0, len(order), options.batch_size):
                chosen = order[start:start + options.batch_size]
                yield pixels[chosen], labels[chosen], weights[chosen]
            epoch += 1

    def prepare(images, labels, weights):
        images = tf.cast(images, tf.float32)
        if augment is not None:
            images = tf.clip_by_value(augment(images, training=True), 0.0, 255.0)
        return images, tf.one_hot(labels, num_classes), weights

    train_ds = (tf.data.Dataset.from_generator(batches, output_signature=(
        tf.TensorSpec([None, size, size, channels], tf.uint8),
        tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.float32)))
        .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE))
    val_ds = (tf.data.Dataset.from_tensor_slices(
        (val[0].astype(np.float32), np.eye(num_classes, dtype=np.float32)[val[1]]))
        .batch(options.batch_size))
    return train_ds, steps, val_ds


def balanced_class_weights(label_indices, num_classes):
    """Weight each class by n / (k * count), so every class counts the same in the loss."""
    counts = np.bincount(label_indices, minlength=num_classes).astype(np.float64)
    weights = len(label_indices) / (num_classes * np.maximum(counts, 1))
    return {index: float(weight) for index, weight in enumerate(weights)}


def _epoch_callback(keras, progress, phase, total):
    """A Keras callback forwarding each finished epoch to the `progress` callback."""
    def on_train_begin(logs=None):
        if progress:
            progress(phase, 0, total)

    def on_epoch_end(epoch, logs=None):
        if progress:
            progress(phase, epoch + 1, total, dict(logs or {}))
    return keras.callbacks.LambdaCallback(on_train_begin=on_train_begin,
                                          on_epoch_end=on_epoch_end)


def _fit(keras, model, train_ds, val_ds, epochs, learning_rate, options, progress, phase,
         steps_per_epoch=None):
    if options.lr_schedule == "cosine":
        # Large steps early, small ones late: the last epochs settle instead of jitter.
        steps = max(1, epochs * int(steps_per_epoch or train_ds.cardinality()))
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps,
                                                               alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(
                      label_smoothing=options.label_smoothing),
                  metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max",
                                         patience=options.patience,
                                         restore_best_weights=True)
    fitted = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0,
                       steps_per_epoch=steps_per_epoch,
                       callbacks=([stop] if options.patience > 0 else [])
                       + [_epoch_callback(keras, progress, phase, epochs)])
    return {key: [float(v) for v in values] for key, values in fitted.history.items()}


def _fit_head_on_features(tf, keras, model, train, val, options, progress):
    """Train only the new head, on backbone features computed once (no augmentation).

    Seconds instead of minutes for the same warm start: the frozen backbone would compute
    the same features every epoch anyway.
    """
    extractor = keras.Model(model.inputs, model.get_layer("pool").output)

    def features(pixels):
        batches = tf.data.Dataset.from_tensor_slices(pixels).batch(64).map(
            lambda images: tf.cast(images, tf.float32))
        return extractor.predict(batches, verbose=0)

    num_classes = model.output_shape[-1]
    train_features, val_features = features(train[0]), features(val[0])
    inputs = keras.Input(train_features.shape[1:])
    outputs = keras.layers.Dense(num_classes, activation="softmax")(
        keras.layers.Dropout(options.dropout)(inputs))
    head = keras.Model(inputs, outputs)
    head.layers[-1].set_weights(model.get_layer("scores").get_weights())
    one_hot = np.eye(num_classes, dtype=np.float32)
    train_ds = (tf.data.Dataset.from_tensor_slices((train_features, one_hot[train[1]],
                                                    train[2]))
                .shuffle(len(train_features), seed=options.seed).batch(options.batch_size))
    val_ds = tf.data.Dataset.from_tensor_slices(
        (val_features, one_hot[val[1]])).batch(options.batch_size)
    fitted = _fit(keras, head, train_ds, val_ds, options.head_epochs,
                  options.head_learning_rate, options, progress, "head")
    model.get_layer("scores").set_weights(head.layers[-1].get_weights())
    return fitted


def _set_backbone_trainable(model, trainable, freeze_batchnorm, freeze_blocks=0):
    keras = backbones.tensorflow().keras
    backbone = model.get_layer("backbone")
    backbone.trainable = trainable
    if trainable and freeze_blocks:
        # The first blocks see edges and colours, which transfer; keeping them fixed
        # leaves less to overfit to TrashNet's board.
        frozen = ("conv1",) + tuple("conv_%s_%d" % (kind, block) for block in
                                    range(1, freeze_blocks + 1) for kind in ("dw", "pw"))
        for layer in backbone.layers:
            if layer.name == "conv1" or layer.name.startswith(tuple(f + "_" for f in frozen)) \
                    or layer.name in frozen:
                layer.trainable = False
    if trainable and freeze_batchnorm:
        # A frozen batch-norm layer also runs in inference mode in Keras 3: the ImageNet
        # statistics stay, which keeps the activation ranges int8 quantisation calibrates on.
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False


def recalibrate_batchnorm(model, pixels, batch_size=128):
    """Re-estimate every trainable batch-norm layer's moving statistics as the plain mean
    over `pixels` (clean photos). Fine-tuning leaves statistics of augmented photos; this
    measured +3.5 to +4 points of accuracy on TrashNet."""
    keras = backbones.tensorflow().keras
    def walk(layer):
        yield layer
        for inner in getattr(layer, "layers", []):
            yield from walk(inner)

    layers = [layer for layer in walk(model)
              if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
    if not layers or not len(pixels):
        return 0
    saved = [layer.momentum for layer in layers]
    try:
        for index, start in enumerate(range(0, len(pixels), batch_size)):
            for layer in layers:
                layer.momentum = index / (index + 1.0)  # running mean over batches
            model(pixels[start:start + batch_size].astype(np.float32), training=True)
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    return len(layers)


def _run_phases(tf, keras, model, train_arrays, val_arrays, train_ds, steps, val_ds, options,
                progress):
    """Head then fine-tuning (or one phase for the scratch CNN); return the merged history."""
    history = {"phase": []}

    def record(phase, fitted):
        for key, values in fitted.items():
            history.setdefault(key, []).extend(values)
        history["phase"].extend([phase] * len(next(iter(fitted.values()), [])))

    if options.backbone == "scratch":
        record("train", _fit(keras, model, train_ds, val_ds, options.finetune_epochs,
                             options.head_learning_rate, options, progress, "train", steps))
    else:
        if options.head_epochs:
            _set_backbone_trainable(model, False, options.freeze_batchnorm)
            record("head", _fit_head_on_features(tf, keras, model, train_arrays, val_arrays,
                                                 options, progress))
        head_only = [np.array(w) for w in model.get_weights()]
        if options.finetune_epochs:
            _set_backbone_trainable(model, True, options.freeze_batchnorm, options.freeze_blocks)
            record("finetune", _fit(keras, model, train_ds, val_ds, options.finetune_epochs,
                                    options.finetune_learning_rate, options, progress,
                                    "finetune", steps))
            if options.interpolate < 1:
                # Weight-space ensemble of the head-only and the fine-tuned network: keeps
                # more of ImageNet's features, which generalise beyond the training photos.
                model.set_weights([start + options.interpolate * (np.array(end) - start)
                                   for start, end in zip(head_only, model.get_weights())])
    return history


def training_sources(data_dir, manifest, labels, spec, options, progress=None):
    """The `host_tools.model.sources.Source` list the options ask for (TrashNet's train split
    first, with its composite variants)."""
    from host_tools.data import backgrounds
    from host_tools.model import ood, sources

    pixels, label_indices = load_split_arrays(data_dir, manifest, "train", spec, progress)
    trashnet = sources.Source("trashnet", pixels, label_indices, 1.0)
    found = [trashnet]
    drinking_train = []
    if options.drinking_waste:
        crops = backgrounds.read_crops_csv(options.drinking_waste)
        drinking_train, _ = ood.split_drinking_waste(crops, seed=manifest.get("seed", 1234))
        if options.drinking_share > 0:
            found.append(sources.drinking_waste_source(options.drinking_waste, drinking_train,
                                                       labels, spec, options.drinking_share,
                                                       progress))
    if options.composite > 0:
        from host_tools.data import split as splits

        files = splits.split_files(manifest, data_dir, "train")
        cutouts = sources.cached_cut_outs([path for path, _ in files], options.cache_dir,
                                          progress)
        pool = sources.training_backgrounds(spec["width"], options.seed,
                                            options.drinking_waste, drinking_train,
                                            options.backgrounds)
        trashnet.variants = sources.composite_variants(
            cutouts, pixels, pool, spec["width"], options.composite_variants, options.seed,
            options.isolated_composites)
        trashnet.variant_chance = options.composite
    if options.mine:
        found.append(sources.folder_source("mine", options.mine, labels, spec,
                                           options.mine_share, progress))
    return found


def train(data_dir, split_manifest, out_dir, options=None, progress=None):
    """Train a classifier on the manifest's train split; write the model folder; return
    a summary dict (labels, best val accuracy, seconds, counts).

    `split_manifest` is a manifest dict or the path of a split.json. `progress(stage,
    done, total, info=None)` is called while decoding and after every epoch.
    """
    from host_tools.data import split as splits

    options = options or TrainOptions()
    options.check()
    started = time.monotonic()
    manifest = split_manifest if isinstance(split_manifest, dict) \
        else splits.load_split(split_manifest)
    labels = list(manifest["labels"])
    spec = input_spec(options)
    weights_path = initial_weights(options, progress)
    train_sources = training_sources(data_dir, manifest, labels, spec, options, progress)
    val_arrays = load_split_arrays(data_dir, manifest, "val", spec, progress)

    tf = backbones.tensorflow()
    keras = tf.keras
    keras.utils.set_random_seed(options.seed)
    random.seed(options.seed)
    model = backbones.build_classifier(options.backbone, options.input_size, options.colour,
                                       len(labels), options.alpha, weights_path,
                                       options.dropout, options.blocks)
    # The head and the batch-norm re-estimation see one clean draw of every source.
    from host_tools.model import sources as sourcing

    train_arrays = sourcing.epoch_arrays(train_sources, len(labels), 0, options.seed,
                                         options.class_weights)

    with backbones.quiet_keras():
        train_ds, steps, val_ds = _datasets(tf, keras, train_sources, val_arrays, options,
                                            len(labels))
        history = _run_phases(tf, keras, model, train_arrays, val_arrays, train_ds, steps,
                              val_ds, options, progress)
        if options.recalibrate_batchnorm:
            recalibrate_batchnorm(model, train_arrays[0])
        if not model.compiled:  # head-only training fits a separate head model
            model.compile(loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
        val_loss, val_accuracy = model.evaluate(val_ds, verbose=0)
    seconds = time.monotonic() - started
    summary = {
        "labels": labels, "input": spec, "options": dataclasses.asdict(options),
        "weights_file": weights_path.name if weights_path else None,
        "weights_sha256": file_sha256(weights_path) if weights_path else None,
        "data_dir": str(data_dir), "split_seed": manifest.get("seed"),
        "counts": {"train": int(len(train_arrays[1])), "val": int(len(val_arrays[1]))},
        "sources": {source.name: {"photos": int(len(source.labels)), "share": source.share,
                                  "composite_chance": source.variant_chance
                                  if source.variants is not None else 0.0}
                    for source in train_sources},
        "val_accuracy": float(val_accuracy), "val_loss": float(val_loss),
        "epochs": len(history["phase"]), "train_seconds": round(seconds, 1),
    }
    with atomic.atomic_dir(out_dir) as tmp_dir, backbones.quiet_keras():
        model.save(Path(tmp_dir) / MODEL_FILE)
        (Path(tmp_dir) / HISTORY_FILE).write_text(json.dumps(history, indent=1) + "\n")
        (Path(tmp_dir) / CONFIG_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def load_trained(train_dir):
    """(Keras model, train_config dict) from a `smartbin train` output folder."""
    train_dir = Path(train_dir)
    config_path = train_dir / CONFIG_FILE
    model_path = train_dir / MODEL_FILE
    if not config_path.is_file() or not model_path.is_file():
        raise SmartbinError("%s is not a training output (no %s/%s; run `smartbin train`)"
                            % (train_dir, MODEL_FILE, CONFIG_FILE))
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        raise SmartbinError("%s is not valid JSON: %s" % (config_path, error))
    keras = backbones.tensorflow().keras
    try:
        with backbones.quiet_keras():
            model = keras.models.load_model(model_path, compile=False)
    except Exception as error:  # Keras raises many types for a damaged file.
        raise SmartbinError("cannot load %s: %s" % (model_path, str(error).splitlines()[0]))
    return model, config


# ---- command line -----------------------------------------------------------------------

def configure(parser):
    defaults = TrainOptions()
    parser.add_argument("data", metavar="DATA", help="folder of class folders")
    parser.add_argument("--split", required=True, help="split manifest (smartbin data split)")
    parser.add_argument("--out", required=True, help="output folder (e.g. build/train)")
    parser.add_argument("--backbone", choices=backbones.BACKBONES, default=defaults.backbone)
    parser.add_argument("--alpha", type=above_zero(float), default=defaults.alpha,
                        help="MobileNetV1 width multiplier (0.25, 0.5, 0.75, 1.0)")
    parser.add_argument("--input-size", type=above_zero(int), default=defaults.input_size,
                        help="square input side in pixels (default %(default)s)")
    parser.add_argument("--colour", choices=tuple(contract.COLOUR_ORDERS),
                        default=defaults.colour)
    parser.add_argument("--weights", default=None,
                        help="MobileNetV1 ImageNet weights .h5 (default: Keras cache, then "
                             "download); 'none' for random initial weights")
    parser.add_argument("--weights-url", default=None,
                        help="download the weights from this URL instead of Keras's")
    parser.add_argument("--head-epochs", type=int, default=defaults.head_epochs)
    parser.add_argument("--epochs", "--finetune-epochs", dest="finetune_epochs", type=int,
                        default=defaults.finetune_epochs,
                        help="fine-tuning epochs (all epochs for --backbone scratch)")
    parser.add_argument("--head-lr", type=above_zero(float), default=defaults.head_learning_rate)
    parser.add_argument("--finetune-lr", type=above_zero(float),
                        default=defaults.finetune_learning_rate)
    parser.add_argument("--lr-schedule", choices=("constant", "cosine"),
                        default=defaults.lr_schedule,
                        help="learning rate over each phase (default %(default)s)")
    parser.add_argument("--batch-size", type=above_zero(int), default=defaults.batch_size)
    parser.add_argument("--augment", type=float, default=defaults.augment,
                        help="augmentation strength, 0 = off (default %(default)s)")
    parser.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    parser.add_argument("--patience", type=int, default=defaults.patience)
    parser.add_argument("--no-class-weights", action="store_true")
    parser.add_argument("--train-batchnorm", action="store_true",
                        help="let batch-norm statistics adapt while fine-tuning (default)")
    parser.add_argument("--freeze-batchnorm", action="store_true",
                        help="keep ImageNet batch-norm statistics while fine-tuning")
    parser.add_argument("--augment-style", choices=("bin", "keras"),
                        default=defaults.augment_style,
                        help="bin-like augmentation or plain Keras layers (default %(default)s)")
    parser.add_argument("--colour-drop", type=float, default=defaults.colour_drop,
                        help="share of training photos turned grey (default %(default)s)")
    parser.add_argument("--blocks", type=int, default=defaults.blocks,
                        help="MobileNetV1 blocks kept, 13 = all (default %(default)s)")
    parser.add_argument("--no-recalibrate-batchnorm", action="store_true",
                        help="keep the batch-norm statistics of the augmented photos")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    sources = parser.add_argument_group("training sources")
    sources.add_argument("--drinking-waste", metavar="DIR", default=None,
                         help="drinking-waste folder: its training photos join the data")
    sources.add_argument("--drinking-share", type=float, default=defaults.drinking_share,
                         help="their share of the loss (default %(default)s; TrashNet is 1)")
    sources.add_argument("--composite", type=float, default=defaults.composite,
                         help="chance a TrashNet photo is shown on another background "
                              "(default %(default)s)")
    sources.add_argument("--composite-variants", type=int,
                         default=defaults.composite_variants,
                         help="backgrounds made per TrashNet photo (default %(default)s)")
    sources.add_argument("--isolated-composites", type=int,
                         default=defaults.isolated_composites,
                         help="of those, how many are made as the bin's isolation crops "
                              "them (default %(default)s)")
    sources.add_argument("--backgrounds", metavar="DIR", default=None,
                         help="extra backgrounds for composites, e.g. empty-bin frames")
    sources.add_argument("--mine", metavar="DIR", default=None,
                         help="your own photos (class folders), e.g. from `smartbin capture`")
    sources.add_argument("--mine-share", type=float, default=defaults.mine_share,
                         help="their share of the loss (default %(default)s; TrashNet is 1)")
    sources.add_argument("--cache", dest="cache_dir", metavar="DIR", default=None,
                         help="keep item cut-outs here between runs (e.g. build/cache)")
    robust = parser.add_argument_group("robust fine-tuning")
    robust.add_argument("--freeze-blocks", type=int, default=defaults.freeze_blocks,
                        help="MobileNetV1 blocks kept at ImageNet weights (default %(default)s)")
    robust.add_argument("--interpolate", type=float, default=defaults.interpolate,
                        help="1 = fine-tuned weights, 0 = head only, between = the mix "
                             "(default %(default)s)")


def options_from_args(args):
    return TrainOptions(
        backbone=args.backbone, alpha=args.alpha, input_size=args.input_size,
        colour=args.colour, head_epochs=args.head_epochs,
        finetune_epochs=args.finetune_epochs, head_learning_rate=args.head_lr,
        finetune_learning_rate=args.finetune_lr, lr_schedule=args.lr_schedule,
        batch_size=args.batch_size,
        augment=args.augment, class_weights=not args.no_class_weights,
        label_smoothing=args.label_smoothing, dropout=args.dropout,
        freeze_batchnorm=args.freeze_batchnorm and not args.train_batchnorm,
        augment_style=args.augment_style, colour_drop=args.colour_drop, blocks=args.blocks,
        recalibrate_batchnorm=not args.no_recalibrate_batchnorm,
        patience=args.patience, seed=args.seed,
        drinking_waste=args.drinking_waste, drinking_share=args.drinking_share,
        composite=args.composite, composite_variants=args.composite_variants,
        isolated_composites=args.isolated_composites,
        backgrounds=args.backgrounds, mine=args.mine, mine_share=args.mine_share,
        cache_dir=args.cache_dir, freeze_blocks=args.freeze_blocks,
        interpolate=args.interpolate,
        weights=args.weights, weights_url=args.weights_url)


def run(args):
    for folder in (args.out, args.cache_dir):  # found now, not after the training
        if folder:
            atomic.refuse_file_in_the_way(folder)
    bars = ProgressBars()
    try:
        summary = train(args.data, args.split, args.out, options_from_args(args), bars)
    finally:
        bars.close()
    print("trained %s on %d photos in %.0f s: val accuracy %.1f%% -> %s"
          % (summary["options"]["backbone"], summary["counts"]["train"],
             summary["train_seconds"], 100 * summary["val_accuracy"], args.out))
    return 0
