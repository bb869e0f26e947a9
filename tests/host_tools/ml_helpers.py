"""A tiny end-to-end model for the ML-stage tests: generated photos of coloured shapes,
split, trained (scratch CNN at 32x32), exported to int8. Built once per test session."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

LABELS = ("disc", "square", "triangle")
_COLOURS = {"disc": (220, 40, 40), "square": (40, 180, 60), "triangle": (50, 70, 220)}
PHOTOS_PER_CLASS = 30
_built = {}


def _draw_shape(image, label, rng, radii, margin):
    """Draw the label's shape in its colour (jittered) at a random place and size, at least
    `margin` pixels from the edges; returns the image."""
    size = image.size
    draw = ImageDraw.Draw(image)
    radius = int(rng.integers(*radii))
    cx = int(rng.integers(radius + margin, size[0] - radius - margin))
    cy = int(rng.integers(radius + margin, size[1] - radius - margin))
    colour = tuple(int(c) for c in np.clip(np.array(_COLOURS[label]) + rng.integers(-25, 26, 3),
                                           0, 255))
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if label == "disc":
        draw.ellipse(box, fill=colour)
    elif label == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)],
                     fill=colour)
    return image


def shape_photo(label, seed, size=(48, 40)):
    """A noisy background with one shape whose colour and form give its class."""
    rng = np.random.default_rng(seed)
    base = rng.integers(90, 200, size=3)
    noise = rng.integers(-30, 31, size=(size[1], size[0], 3))
    image = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    return _draw_shape(image, label, rng, radii=(9, 15), margin=0)


def make_shapes_dataset(root, per_class=PHOTOS_PER_CLASS, start_seed=0, labels=LABELS):
    """root/<label>/<label>N.png for each label; returns root."""
    seed = start_seed
    for label in labels:
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            shape_photo(label, seed).save(folder / ("%s%d.png" % (label, n)))
            seed += 1
    return root


def tiny_options(**overrides):
    from host_tools.model.train import TrainOptions

    values = dict(backbone="scratch", input_size=32, colour="RGB", finetune_epochs=14,
                  head_learning_rate=5e-3, batch_size=8, augment=0.3, patience=14, seed=7,
                  composite=0.0)
    values.update(overrides)
    return TrainOptions(**values)


def build_pipeline(root):
    """data -> split.json -> train/ -> model/ under `root`; returns a dict of paths and results."""
    from host_tools.model import export, train
    from host_tools.data import split

    data_dir = make_shapes_dataset(root / "photos")
    manifest = split.make_split(data_dir, seed=3)
    split_path = root / "split.json"
    split.save_split(manifest, split_path)
    train_dir, model_dir = root / "train", root / "model"
    summary = train.train(data_dir, split_path, train_dir, tiny_options())
    exported = export.export_model(train_dir, data_dir, split_path, model_dir,
                                   max_int8_drop=100.0, calibration_images=40)
    return {"root": root, "data": data_dir, "split": split_path, "manifest": manifest,
            "train": train_dir, "model": model_dir, "summary": summary, "export": exported}


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The tiny pipeline, built once per session whichever test module asks first."""
    if "pipeline" not in _built:
        _built["pipeline"] = build_pipeline(tmp_path_factory.mktemp("pipeline"))
    return _built["pipeline"]


def board_photo(label, seed, size=(64, 48)):
    """One shape on an off-white board lit unevenly (as TrashNet's posterboard is)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[:size[1], :size[0]]
    light = 235 - 25 * xs / size[0] - 10 * ys / size[1]
    board = np.stack([light, light - 3, light - 8], 2) + rng.normal(0, 1.5, (size[1], size[0], 3))
    image = Image.fromarray(np.clip(board, 0, 255).astype(np.uint8))
    return _draw_shape(image, label, rng, radii=(8, 12), margin=6)


def make_board_dataset(root, per_class=PHOTOS_PER_CLASS, start_seed=0, labels=LABELS):
    """root/<label>/<label>N.jpg: shapes on a board, so items can be cut out."""
    seed = start_seed
    for label in labels:
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            board_photo(label, seed).save(folder / ("%s%d.jpg" % (label, n)), quality=95)
            seed += 1
    return root
