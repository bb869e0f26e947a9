"""Surfaces to put items on: procedural textures, real surfaces cut from photos, a folder.

A background is an H x W x 3 uint8 array. Procedural families imitate what a bin's camera
may look at (wood, concrete, fabric, floors, gradients, cardboard, bin plastic, tiles,
terrazzo, carpet, marble, speckled lino, an empty bin chamber); `surface_patches` cuts the
part of a drinking-waste crop outside its item's box; `folder_backgrounds` reads any
folder of photos (for example the bin's own empty-chamber frames, `make model
BACKGROUNDS=DIR`).

Families are split on purpose: training composites use `TRAIN_FAMILIES`, the
out-of-domain yardstick uses `OOD_FAMILIES` only, `CALIBRATION_FAMILIES` are kept for the
photos the export fits the temperature and the threshold on (surfaces training never saw,
as a bin's own chamber is, without using the yardstick's), and `CHAMBER` (one fixed empty
bin) is kept for the few-shot simulation, so a model is never scored on a surface it
trained on.
"""
import csv
from pathlib import Path

import numpy as np

from host_tools.errors import SmartbinError

TRAIN_FAMILIES = ("wood", "concrete", "fabric", "floor", "gradient", "cardboard")
OOD_FAMILIES = ("tiles", "terrazzo", "bin_plastic")
CALIBRATION_FAMILIES = ("carpet", "marble", "lino")
CHAMBER = "chamber"
CROPS_FILES = ("boxes.csv", "crops.csv")


def _smooth_noise(rng, size, cells):
    """Value noise in 0..1: a random `cells` x `cells` grid, bilinearly enlarged."""
    from PIL import Image

    grid = rng.random((cells, cells)).astype(np.float32)
    image = Image.fromarray(grid, mode="F").resize((size, size), Image.BICUBIC)
    return np.clip(np.asarray(image), 0.0, 1.0)


def _coords(size):
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    return np.meshgrid(axis, axis, indexing="ij")


def _colour(rng, base, spread):
    return np.clip(np.asarray(base, np.float32) + rng.uniform(-spread, spread, 3), 0, 255)


def _tint(shade, colour):
    """A one-channel shade (around 1) times an RGB colour."""
    return shade[..., None] * colour[None, None, :]


def wood(rng, size):
    y, x = _coords(size)
    warp = _smooth_noise(rng, size, 4) * rng.uniform(2, 6)
    rings = np.sin((x * rng.uniform(15, 45) + warp) * np.pi)
    grain = _smooth_noise(rng, size, 48) * 0.15
    plank = np.floor(y * rng.integers(2, 6)) % 2 * rng.uniform(-0.08, 0.08)
    shade = 0.85 + 0.1 * rings + grain + plank
    return _tint(shade, _colour(rng, (160, 110, 65), 40))


def concrete(rng, size):
    shade = 0.8 + 0.25 * _smooth_noise(rng, size, 6) + rng.normal(0, 0.05, (size, size))
    grey = rng.uniform(90, 190)
    return _tint(shade, _colour(rng, (grey, grey, grey * 0.97), 8))


def fabric(rng, size):
    y, x = _coords(size)
    period = rng.uniform(6, 18)
    stripes_x = (np.sin(x * period * np.pi * 2) > rng.uniform(-0.5, 0.5)).astype(np.float32)
    stripes_y = (np.sin(y * period * np.pi * 2) > rng.uniform(-0.5, 0.5)).astype(np.float32)
    weave = 0.9 + 0.1 * ((np.arange(size)[:, None] + np.arange(size)[None, :]) % 2)
    base, first, second = (_colour(rng, rng.uniform(40, 200, 3), 0) for _ in range(3))
    image = base[None, None] * (1 - 0.5 * stripes_x[..., None] - 0.5 * stripes_y[..., None]) \
        + first * 0.5 * stripes_x[..., None] + second * 0.5 * stripes_y[..., None]
    return image * weave[..., None]


def floor(rng, size):
    grey = rng.uniform(25, 150)
    shade = 1.0 + 0.1 * _smooth_noise(rng, size, 3) + rng.normal(0, 0.03, (size, size))
    return _tint(shade, _colour(rng, (grey, grey, grey), 12))


def gradient(rng, size):
    y, x = _coords(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    start, end = rng.uniform(20, 230, 3), rng.uniform(20, 230, 3)
    return start[None, None] * (1 - ramp[..., None]) + end[None, None] * ramp[..., None]


def cardboard(rng, size):
    y, x = _coords(size)
    flutes = 0.04 * np.sin(x * rng.uniform(40, 90) * np.pi)
    shade = 0.9 + flutes + 0.15 * _smooth_noise(rng, size, 8)
    return _tint(shade, _colour(rng, (175, 135, 90), 25))


def bin_plastic(rng, size):
    y, x = _coords(size)
    vignette = 1.0 - rng.uniform(0.2, 0.5) * ((x - 0.5) ** 2 + (y - 0.5) ** 2) * 2
    ribs = 0.06 * (np.sin(y * rng.uniform(8, 20) * np.pi) > 0.7)
    grey = rng.uniform(50, 140)
    shade = vignette - ribs + rng.normal(0, 0.02, (size, size))
    return _tint(shade, _colour(rng, (grey, grey * 1.02, grey * 1.06), 10))


def tiles(rng, size):
    y, x = _coords(size)
    count = rng.integers(2, 6)
    cell = (np.floor(x * count) + np.floor(y * count)) % 2
    grout = ((x * count) % 1 < 0.04) | ((y * count) % 1 < 0.04)
    first, second = _colour(rng, rng.uniform(60, 230, 3), 0), _colour(rng, rng.uniform(60, 230, 3), 0)
    image = np.where(cell[..., None] > 0, first, second) * (0.95 + 0.1 * _smooth_noise(
        rng, size, 5))[..., None]
    return np.where(grout[..., None], image * 0.6, image)


def terrazzo(rng, size):
    image = np.broadcast_to(_colour(rng, rng.uniform(110, 210, 3), 0), (size, size, 3)).copy()
    for _ in range(int(rng.integers(30, 90))):
        cy, cx = rng.integers(0, size, 2)
        radius = rng.uniform(1, size / 25 + 1)
        yy, xx = np.ogrid[:size, :size]
        chip = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
        image[chip] = rng.uniform(20, 240, 3)
    return image


def carpet(rng, size):
    """Loop pile: fine fibre noise over a faint large pattern."""
    y, x = _coords(size)
    period = rng.uniform(3, 8)
    pattern = 0.06 * np.sign(np.sin((x + y) * period * np.pi) * np.sin((x - y) * period * np.pi))
    fibres = rng.normal(0, 0.09, (size, size)) + 0.1 * _smooth_noise(rng, size, 24)
    return _tint(0.9 + pattern + fibres, _colour(rng, rng.uniform(40, 190, 3), 0))


def marble(rng, size):
    """A polished stone top: pale or dark, with winding veins."""
    y, x = _coords(size)
    turbulence = _smooth_noise(rng, size, 5) * rng.uniform(3, 8)
    veins = np.abs(np.sin((x * rng.uniform(2, 6) + y * rng.uniform(1, 4) + turbulence)
                          * np.pi)) ** rng.uniform(0.2, 0.6)
    grey = rng.choice([rng.uniform(35, 80), rng.uniform(170, 235)])
    shade = 0.75 + 0.25 * veins + 0.05 * _smooth_noise(rng, size, 16)
    return _tint(shade, _colour(rng, (grey, grey, grey), 15))


def lino(rng, size):
    """Speckled vinyl flooring: a base colour with small flecks of two others."""
    base = _colour(rng, rng.uniform(70, 200, 3), 0)
    image = np.broadcast_to(base, (size, size, 3)).astype(np.float32).copy()
    for fleck in (_colour(rng, rng.uniform(20, 240, 3), 0),
                  _colour(rng, rng.uniform(20, 240, 3), 0)):
        spots = rng.random((size, size)) < rng.uniform(0.03, 0.12)
        image[spots] = fleck
    return image * (0.95 + 0.1 * _smooth_noise(rng, size, 4))[..., None]


def chamber(rng, size):
    """One fixed empty bin chamber: dark plastic, the flash's bright spot, a corner shadow.
    Its look ignores `rng`, so every frame of it is the same bin."""
    fixed = np.random.default_rng(20240611)
    y, x = _coords(size)
    spot = np.exp(-((x - 0.55) ** 2 + (y - 0.4) ** 2) / 0.08)
    corner = np.clip(1.2 - 1.5 * np.maximum(x, y), 0.5, 1.0)
    texture = 0.08 * _smooth_noise(fixed, size, 12)
    shade = 0.55 + 0.6 * spot * corner + texture
    return _tint(shade, np.array([88.0, 96.0, 84.0]))


PROCEDURAL = {"wood": wood, "concrete": concrete, "fabric": fabric, "floor": floor,
              "gradient": gradient, "cardboard": cardboard, "bin_plastic": bin_plastic,
              "tiles": tiles, "terrazzo": terrazzo, "carpet": carpet, "marble": marble,
              "lino": lino, CHAMBER: chamber}


def procedural(family, rng, size):
    """One `size` x `size` uint8 background of a procedural family."""
    if family not in PROCEDURAL:
        raise SmartbinError("unknown background family %r (choose from %s)"
                            % (family, ", ".join(PROCEDURAL)))
    return np.clip(PROCEDURAL[family](rng, size), 0, 255).astype(np.uint8)


def read_crops_csv(data_dir):
    """The items of a drinking-waste folder: dicts with file (relative, '/'), group (the
    original photo's sha256), label (its class folder) and box (left, top, right, bottom
    of the item in the crop). Reads `boxes.csv` (as `smartbin data drinking-waste` writes
    it) or the source's `crops.csv`."""
    data_dir = Path(data_dir)
    path = next((data_dir / name for name in CROPS_FILES if (data_dir / name).is_file()), None)
    if path is None:
        raise SmartbinError("no %s in %s (is it the drinking-waste folder?)"
                            % (" or ".join(CROPS_FILES), data_dir))
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SmartbinError("cannot read %s: %s" % (path, error))
    crops = []
    for number, row in enumerate(rows, 2):
        try:
            if "box_in_crop_256" in row:
                box = tuple(int(v) for v in row["box_in_crop_256"].split(","))
                group = row["original_sha256"]
            else:
                box = tuple(int(row[key]) for key in
                            ("box_left", "box_top", "box_right", "box_bottom"))
                group = row["group"]
            if len(box) != 4 or not row["file"] or not group:
                raise ValueError
        except (KeyError, ValueError, AttributeError, TypeError):
            raise SmartbinError("%s line %d: needs a file, its photo's group and the item's "
                                "box" % (path, number))
        crops.append({"file": row["file"], "group": group,
                      "label": row["file"].split("/")[0], "box": box})
    return crops


def surface_patch(image, box, min_side=40):
    """The largest square of `image` (H x W x 3) outside the item's `box` (left, top,
    right, bottom), or None when every side strip is thinner than `min_side` pixels."""
    height, width = image.shape[:2]
    left, top, right, bottom = box
    strips = [(0, 0, width, top), (0, bottom, width, height),
              (0, 0, left, height), (right, 0, width, height)]
    best = max(strips, key=lambda s: min(s[2] - s[0], s[3] - s[1]))
    x0, y0, x1, y1 = best
    side = min(x1 - x0, y1 - y0)
    if side < min_side:
        return None
    cx, cy = (x0 + x1 - side) // 2, (y0 + y1 - side) // 2
    return np.ascontiguousarray(image[cy:cy + side, cx:cx + side])


def surface_patches(data_dir, crops, size):
    """Square surface patches (size x size uint8) cut around the items of `crops`."""
    from PIL import Image

    from host_tools import contract

    patches = []
    for crop in crops:
        pixels = np.asarray(contract.load_image(Path(data_dir) / crop["file"]))
        patch = surface_patch(pixels, crop["box"])
        if patch is not None:
            patches.append(np.asarray(Image.fromarray(patch).resize((size, size),
                                                                    Image.BILINEAR)))
    return patches


def folder_backgrounds(folder, size, limit=500):
    """Every photo in `folder` (recursively, up to `limit`), centre-cropped square and
    resized to size x size."""
    from PIL import Image, ImageOps

    from host_tools import contract
    from host_tools.data import images

    folder = Path(folder)
    if not folder.is_dir():
        raise SmartbinError("no backgrounds folder at %s" % folder)
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and images.is_image_name(p))
    if not paths:
        raise SmartbinError("no photos in backgrounds folder %s" % folder)
    return [np.asarray(ImageOps.fit(contract.load_image(path), (size, size), Image.BILINEAR))
            for path in paths[:limit]]


def pool(families, rng, size, count):
    """`count` procedural backgrounds drawn evenly from `families`."""
    return [procedural(families[index % len(families)], rng, size) for index in range(count)]


def variant(background, rng, size):
    """A random square crop, flip/quarter-turn and brightness change of a background,
    resized to size x size (float32)."""
    from PIL import Image

    side = background.shape[0]
    crop = int(side * rng.uniform(0.6, 1.0))
    y, x = rng.integers(0, side - crop + 1, 2)
    patch = background[y:y + crop, x:x + crop]
    patch = np.rot90(patch, int(rng.integers(4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if crop != size:
        patch = np.asarray(Image.fromarray(np.ascontiguousarray(patch)).resize(
            (size, size), Image.BILINEAR))
    return patch.astype(np.float32) * rng.uniform(0.75, 1.2)
