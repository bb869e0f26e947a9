"""Put an item photographed on a plain board onto another background.

`cut_out` separates a TrashNet item from its white posterboard: it models the board's
colour from the photo's border (a smooth fit, since the board is lit unevenly), scores
each pixel by its colour distance from that model (darkening counts less than a change of
hue, so the item's shadow stays mostly board), turns the score into a soft alpha, closes
and fills the mask, and keeps the largest component(s). Transparent glass and plastic come
out partly see-through: inside the item's outline alpha never drops below `_INNER_ALPHA`,
so some of the board's tint stays with them, as a real bottle carries its surroundings.

`paste` puts such a cut-out onto a background at a random scale, position and rotation,
with a soft drop shadow and a change of light on the item and on the whole scene.
Everything is numpy and Pillow, deterministic for a given `numpy.random.Generator`.
"""
import numpy as np

from host_tools.errors import SmartbinError

WORK_SIDE = 160           # longer side at which photos are segmented
_BORDER = 4               # pixels of each edge taken as board
_SOFT_LOW, _SOFT_HIGH = 14.0, 34.0   # colour distance: alpha 0 below, 1 above
_INNER_ALPHA = 0.7        # least alpha inside the item's filled outline
_HULL_ALPHA = 0.4         # least alpha inside its convex hull (transparent parts)
_KEEP_COMPONENT = 0.25    # keep components at least this share of the largest
_MIN_AREA, _MAX_AREA = 0.01, 0.92    # item share of the photo a usable cut-out has


def _design(height, width, ys, xs):
    y, x = ys / height - 0.5, xs / width - 0.5
    return np.stack([np.ones_like(x), x, y, x * y, x * x, y * y], 1)


def board_model(pixels):
    """The board's colour at every pixel (H x W x 3 float): a quadratic surface per
    channel fitted to the border pixels, refitted without outliers (an item touching the
    edge)."""
    height, width = pixels.shape[:2]
    edge = np.zeros((height, width), bool)
    edge[:_BORDER], edge[-_BORDER:], edge[:, :_BORDER], edge[:, -_BORDER:] = True, True, True, True
    ys, xs = np.nonzero(edge)
    values = pixels[ys, xs].astype(np.float64)
    design = _design(height, width, ys.astype(np.float64), xs.astype(np.float64))
    keep = np.ones(len(values), bool)
    for _ in range(3):
        coefficients, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        residual = np.linalg.norm(values - design @ coefficients, axis=1)
        threshold = max(12.0, 2.5 * float(np.median(residual[keep])))
        new_keep = residual < threshold
        if new_keep.sum() < 0.3 * len(values) or (new_keep == keep).all():
            break
        keep = new_keep
    all_y, all_x = np.mgrid[:height, :width]
    full = _design(height, width, all_y.ravel().astype(np.float64),
                   all_x.ravel().astype(np.float64)) @ coefficients
    return full.reshape(height, width, 3)


def item_distance(pixels, board):
    """Per-pixel evidence of an item: colour change that shading cannot explain (the pixel
    is not a multiple of the board colour), much darker or brighter than the board, or
    local texture (items have edges and print, shadows are smooth)."""
    pixels = pixels.astype(np.float64)
    shading = (pixels * board).sum(axis=2) / np.maximum((board * board).sum(axis=2), 1.0)
    hue = np.linalg.norm(pixels - shading[..., None] * board, axis=2)
    brightness = 200.0 * np.maximum(0.0, 0.6 - shading) + 150.0 * np.maximum(0.0, shading - 1.12)
    grey = pixels.mean(axis=2)
    texture = np.sqrt(np.maximum(_box_mean(grey ** 2) - _box_mean(grey) ** 2, 0.0))
    return 1.5 * hue + brightness + 2.0 * np.maximum(texture - 6.0, 0.0)


def _box_mean(values, radius=2):
    """Mean over a (2r+1)^2 window (edges padded by reflection)."""
    size = 2 * radius + 1
    padded = np.pad(values, radius + 1, mode="reflect")
    total = padded.cumsum(0).cumsum(1)
    window = total[size:, size:] - total[:-size, size:] - total[size:, :-size] \
        + total[:-size, :-size]
    return window[:values.shape[0], :values.shape[1]] / (size * size)


def _max_filter(mask, size):
    """Boolean dilation by a size x size square (separable: rows, then columns)."""
    radius = size // 2
    out = mask
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)])
        length = out.shape[axis]
        grown = np.zeros_like(out)
        for shift in range(size):
            grown |= np.take(padded, range(shift, shift + length), axis=axis)
        out = grown
    return out


def _min_filter(mask, size):
    return ~_max_filter(~mask, size)


def _propagate(seeds, allowed):
    """Pixels of `allowed` 4-connected to a seed (a flood fill by repeated dilation)."""
    reached = seeds & allowed
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= allowed
        if (grown == reached).all():
            return reached
        reached = grown


def fill_holes(mask):
    """`mask` with every region not connected to the image edge filled in."""
    edge = np.zeros_like(mask)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    return ~_propagate(edge, ~mask)


def components(mask):
    """Connected components of a boolean mask: a list of boolean masks, largest first."""
    found, left = [], mask.copy()
    while left.any():
        seed = np.zeros_like(mask)
        seed.flat[int(np.flatnonzero(left)[0])] = True
        part = _propagate(seed, left)
        found.append(part)
        left &= ~part
        if len(found) > 50:  # speckle: the rest cannot be a large component
            break
    return sorted(found, key=lambda part: -int(part.sum()))


def item_mask(pixels):
    """Soft alpha (H x W float 0..1) of the item on its board in `pixels` (H x W x 3)."""
    distance = item_distance(pixels, board_model(pixels))
    soft = np.clip((distance - _SOFT_LOW) / (_SOFT_HIGH - _SOFT_LOW), 0.0, 1.0)
    hard = soft > 0.5
    hard = _min_filter(_max_filter(hard, 7), 7)       # close gaps in the outline
    hard = _max_filter(_min_filter(hard, 3), 3)       # drop specks
    hard = fill_holes(hard)
    parts = components(hard)
    if not parts:
        return np.zeros(pixels.shape[:2], np.float32)
    largest = parts[0].sum()
    kept = np.zeros_like(hard)
    for part in parts:
        if part.sum() >= _KEEP_COMPONENT * largest:
            kept |= part
    hull = convex_hull_mask(kept)
    floor = np.where(kept, _INNER_ALPHA, np.where(hull, _HULL_ALPHA, 0.0))
    alpha = np.where(hull, np.maximum(soft, floor), 0.0)
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(np.round(alpha * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.8)), np.float32) / 255.0


def convex_hull_mask(mask):
    """The convex hull of a boolean mask's pixels, as a boolean mask (empty stays empty)."""
    from PIL import Image, ImageDraw

    ys, xs = np.nonzero(mask)
    if len(ys) < 3:
        return mask.copy()
    # Monotone chain over each row's outermost pixels (enough to span the hull);
    # np.nonzero lists pixels row by row, so each row is one run.
    starts = np.flatnonzero(np.r_[True, ys[1:] != ys[:-1]])
    row_ys = ys[starts].tolist()
    lows = np.minimum.reduceat(xs, starts).tolist()
    highs = np.maximum.reduceat(xs, starts).tolist()
    points = sorted({(x, y) for y, low, high in zip(row_ys, lows, highs) for x in (low, high)})

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(sequence):
        chain = []
        for point in sequence:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], point) <= 0:
                chain.pop()
            chain.append(point)
        return chain

    lower, upper = half(points), half(points[::-1])
    polygon = lower[:-1] + upper[:-1]
    image = Image.new("L", (mask.shape[1], mask.shape[0]), 0)
    if len(polygon) >= 3:
        ImageDraw.Draw(image).polygon(polygon, fill=255, outline=255)
    return (np.asarray(image) > 0) | mask


def cut_out(image, side=WORK_SIDE):
    """An RGBA uint8 cut-out (cropped to the item) of a Pillow image of one item on a
    plain board, segmented at `side` pixels on the longer edge; None when no usable item
    is found (nothing stands out, or it fills the photo)."""
    from PIL import Image

    image = image.convert("RGB")
    scale = side / max(image.size)
    work = image.resize((max(8, round(image.width * scale)), max(8, round(image.height * scale))),
                        Image.BILINEAR)
    pixels = np.asarray(work)
    alpha = item_mask(pixels)
    share = float((alpha > 0.5).mean())
    if not _MIN_AREA <= share <= _MAX_AREA:
        return None
    ys, xs = np.nonzero(alpha > 0.05)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgba = np.concatenate([pixels, np.round(alpha * 255).astype(np.uint8)[..., None]], 2)
    return np.ascontiguousarray(rgba[y0:y1, x0:x1])


def _transformed(cutout, rng, longer_side):
    """The cut-out scaled so its longer side is `longer_side`, rotated and maybe mirrored:
    (RGB float, alpha float) arrays. Premultiplied, so edges do not darken."""
    from PIL import Image

    image = Image.fromarray(cutout, "RGBA").convert("RGBa")
    scale = longer_side / max(image.size)
    image = image.resize((max(2, round(image.width * scale)), max(2, round(image.height * scale))),
                         Image.BILINEAR)
    image = image.rotate(float(rng.uniform(0, 360)), Image.BILINEAR, expand=True)
    if rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    array = np.asarray(image.convert("RGBA"), np.float32)
    return array[..., :3], array[..., 3] / 255.0


def _place(canvas_side, layer_shape, rng):
    """Top-left corner that keeps the layer's centre inside the middle of the canvas."""
    height, width = layer_shape
    cy = rng.uniform(0.3, 0.7) * canvas_side
    cx = rng.uniform(0.3, 0.7) * canvas_side
    return int(round(cy - height / 2)), int(round(cx - width / 2))


def _paste_layer(canvas, layer, top, left):
    """Add `layer` (h x w x C) into `canvas` at (top, left), clipped at the edges; return
    the canvas-sized layer (zeros outside)."""
    out = np.zeros(canvas.shape[:2] + layer.shape[2:], np.float32)
    height, width = layer.shape[:2]
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(canvas.shape[0], top + height), min(canvas.shape[1], left + width)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = layer[y0 - top:y1 - top, x0 - left:x1 - left]
    return out


def paste(cutout, background, rng, scale=(0.45, 0.9), shadow=(0.15, 0.5)):
    """`cutout` (RGBA uint8) onto `background` (S x S x 3, uint8 or float 0..255) at a
    random size (longer side a share `scale` of S), rotation, mirror and position, with a
    soft shadow and a change of light; returns S x S x 3 uint8."""
    from PIL import Image, ImageFilter

    if cutout is None or cutout.ndim != 3 or cutout.shape[2] != 4:
        raise SmartbinError("a cut-out must be an RGBA array")
    canvas = np.asarray(background, np.float32).copy()
    side = canvas.shape[0]
    rgb, alpha = _transformed(cutout, rng, rng.uniform(*scale) * side)
    top, left = _place(side, alpha.shape, rng)
    alpha_full = _paste_layer(canvas, alpha[..., None], top, left)[..., 0]
    rgb_full = _paste_layer(canvas, rgb, top, left)

    blur = max(1.0, side / 40.0)
    shade = np.asarray(Image.fromarray(np.round(alpha_full * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(blur)), np.float32) / 255.0
    dy, dx = (rng.uniform(-0.03, 0.03, 2) * side).astype(int)
    shade = np.roll(np.roll(shade, dy, 0), dx, 1)
    canvas *= 1.0 - rng.uniform(*shadow) * shade[..., None]

    item_light = rng.uniform(0.75, 1.1) * rng.uniform(0.92, 1.08, 3)
    canvas = canvas * (1.0 - alpha_full[..., None]) + rgb_full * item_light \
        * alpha_full[..., None]
    return np.clip(scene_light(canvas, rng), 0, 255).astype(np.uint8)


def scene_light(pixels, rng):
    """White balance and a brightness gradient across the scene (float in, float out)."""
    side = pixels.shape[0]
    axis = np.linspace(-0.5, 0.5, side, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * axis[None, :] + np.sin(angle) * axis[:, None]
    lighting = 1.0 + rng.uniform(0.0, 0.4) * ramp
    return pixels * lighting[..., None] * rng.uniform(0.88, 1.12, 3)

