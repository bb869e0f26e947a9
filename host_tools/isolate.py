"""The host's twin of the bin's item isolation (firmware smartbin/isolate.py, whose
docstring states the rule): numpy, the same integers, so host and board find the same box
and feed the model the same pixels. model.json's "isolate" block holds the numbers;
without it, nothing here is used and the model sees the whole photo.

A frame here is an H x W x C uint8 array at the isolate block's frame size (RGB888, or
luma for GRAY models); an RGB888 pixel's 5- and 6-bit fields (r >> 3, g >> 2, b >> 3) are
what the camera's RGB565 pixel holds, so the thumbnail does not depend on which of the
two the host starts from."""
from pathlib import Path

import numpy as np

from host_tools import contract as host_contract
from host_tools.errors import SmartbinError

# The settings `smartbin export --isolate` writes, chosen on chamber photos of the split's
# val items (docs/model-quality.md, "Isolating the item against the empty chamber"): a
# 240x240 capture (an OV2640 frame size), 24x24 cells of 10x10 pixels.
DEFAULT_SETTINGS = {"frame_width": 240, "frame_height": 240, "grid": 24, "threshold": 12,
                    "margin": 1, "min_cells": 4, "max_share": 0.7}


def _board_isolate():
    from host_tools.firmware_modules import firmware_module

    return firmware_module("isolate")


def settings(model_contract):
    """model.json's "isolate" block, or None (the model sees the whole frame)."""
    return model_contract.get("isolate")


def frame_of(image, model_contract):
    """A Pillow photo as the camera's frame: scaled to the isolate frame size (bilinear,
    standing in for the sensor's own scaling) and converted to the model's colours."""
    block = settings(model_contract)
    frame_contract = {"input": dict(model_contract["input"], width=block["frame_width"],
                                    height=block["frame_height"], resize="bilinear")}
    return host_contract.image_to_pixels(image, frame_contract)


def cells_of(frame, grid):
    """The grid x grid thumbnail (uint8) of an H x W x C frame, as the board computes it:
    RGB: 2 * sum(r5 + g6 + b5) // pixels per cell; GRAY: sum(luma) // pixels per cell."""
    frame = np.asarray(frame, np.uint8)
    height, width = frame.shape[:2]
    if height % grid or width % grid:
        raise SmartbinError("a %dx%d frame does not split into %d x %d cells"
                            % (width, height, grid, grid))
    if frame.ndim == 3 and frame.shape[2] == 3:
        grey = ((frame[..., 0] >> 3).astype(np.int64) + (frame[..., 1] >> 2)
                + (frame[..., 2] >> 3)) * 2
    else:
        grey = frame.reshape(height, width).astype(np.int64)
    cell_h, cell_w = height // grid, width // grid
    sums = grey.reshape(grid, cell_h, grid, cell_w).sum(axis=(1, 3))
    return (sums // (cell_h * cell_w)).astype(np.uint8)


def _has_changed_neighbour(changed):
    padded = np.pad(changed.astype(np.int64), 1)
    rows, cols = changed.shape
    around = sum(padded[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
                 for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)
    return around > 0


def find_box(cells, empty_cells, block, input_width, input_height):
    """(left, top, width, height, found) of the item in frame pixels; found False: the
    whole frame (no reference, nothing found, or the light changed)."""
    frame_width, frame_height = block["frame_width"], block["frame_height"]
    whole = (0, 0, frame_width, frame_height, False)
    if empty_cells is None:
        return whole
    grid = block["grid"]
    difference = np.abs(np.asarray(cells, np.int64) - np.asarray(empty_cells, np.int64))
    changed = difference > block["threshold"]
    if changed.sum() > _board_isolate().max_changed_cells(block["max_share"], grid * grid):
        return whole
    kept = changed & _has_changed_neighbour(changed)
    if kept.sum() < block["min_cells"]:
        return whole
    ys, xs = np.nonzero(kept)
    margin = block["margin"]
    cell_w, cell_h = frame_width // grid, frame_height // grid
    left = max(0, int(xs.min()) - margin) * cell_w
    top = max(0, int(ys.min()) - margin) * cell_h
    width = (min(grid - 1, int(xs.max()) + margin) + 1) * cell_w - left
    height = (min(grid - 1, int(ys.max()) + margin) + 1) * cell_h - top
    if width * input_height < height * input_width:
        wanted = min(frame_width, -(-height * input_width // input_height))
        left -= (wanted - width) // 2
        width = wanted
    elif width * input_height > height * input_width:
        wanted = min(frame_height, -(-width * input_height // input_width))
        top -= (wanted - height) // 2
        height = wanted
    left = max(0, min(left, frame_width - width))
    top = max(0, min(top, frame_height - height))
    return (left, top, width, height, True)


def crop(frame, box, input_width, input_height):
    """The box of `frame` resized to the input by the board's nearest-neighbour rule."""
    left, top, width, height = box[:4]
    columns = left + (2 * np.arange(input_width) + 1) * width // (2 * input_width)
    rows = top + (2 * np.arange(input_height) + 1) * height // (2 * input_height)
    return np.asarray(frame)[rows[:, None], columns[None, :]]


class Isolation:
    """The rule for one model contract and one empty-chamber reference."""

    def __init__(self, model_contract, empty_image=None):
        self.contract = model_contract
        self.block = settings(model_contract)
        if self.block is None:
            raise SmartbinError("model.json has no \"isolate\" block (export with --isolate)")
        self.input_width = model_contract["input"]["width"]
        self.input_height = model_contract["input"]["height"]
        self.empty_cells = None
        if empty_image is not None:
            self.empty_cells = cells_of(frame_of(empty_image, model_contract),
                                        self.block["grid"])

    def box(self, frame):
        return find_box(cells_of(frame, self.block["grid"]), self.empty_cells, self.block,
                        self.input_width, self.input_height)

    def pixels(self, image):
        """Photo -> (the model's H x W x C pixels, box)."""
        frame = frame_of(image, self.contract)
        box = self.box(frame)
        return crop(frame, box, self.input_width, self.input_height), box

    def input(self, image):
        pixels, box = self.pixels(image)
        return host_contract.pixels_to_input(pixels, self.contract), box


def empty_image_for(photo, data_dir, empty):
    """The empty-chamber photo for `photo`: `empty` itself when it is a file, else the file
    at the same place under the folder `empty` as `photo` under `data_dir` (with no
    `data_dir`, or a photo outside it: the file of the same name)."""
    empty = Path(empty)
    if empty.is_file():
        return empty
    try:
        relative = Path(photo).relative_to(data_dir) if data_dir is not None else None
    except ValueError:
        relative = None
    if relative is None:
        relative = Path(Path(photo).name)
    candidate = empty / relative
    if not candidate.is_file():
        raise SmartbinError("no empty-chamber frame for %s (looked for %s)" % (photo, candidate))
    return candidate


def with_settings(model_contract, apply_default=False):
    """The contract with an isolate block: its own, else (apply_default) DEFAULT_SETTINGS,
    else None."""
    if settings(model_contract) is not None:
        return model_contract
    if not apply_default:
        return None
    return dict(model_contract, isolate=dict(DEFAULT_SETTINGS))


def files_to_pixels(paths, model_contract, data_dir=None, empty=None, progress=None,
                    stage="decode"):
    """Photos -> (N x H x W x C uint8 pixels at the model's input size, share of photos
    whose item was found), each isolated against its empty-chamber frame
    (`empty_image_for`) as the bin would; with `empty` None, the bin before its first
    empty frame: the whole frame."""
    model_input = model_contract["input"]
    pixels = np.zeros((len(paths), model_input["height"], model_input["width"],
                       model_input["channels"]), np.uint8)
    references = {}
    found = 0
    for index, path in enumerate(paths):
        reference = None
        if empty is not None:
            empty_path = empty_image_for(path, data_dir, empty)
            if empty_path not in references:
                references[empty_path] = Isolation(model_contract,
                                                   host_contract.load_image(empty_path))
            reference = references[empty_path]
        else:
            reference = references.setdefault(None, Isolation(model_contract))
        photo, box = reference.pixels(host_contract.load_image(path))
        pixels[index] = photo.reshape(pixels.shape[1:])
        found += box[4]
        if progress:
            progress(stage, index + 1, len(paths))
    return pixels, (found / len(paths) if paths else 0.0)


def files_to_inputs(paths, model_contract, data_dir=None, empty=None, progress=None,
                    stage="decode"):
    """`files_to_pixels` as the model's int8 input tensors."""
    pixels, found = files_to_pixels(paths, model_contract, data_dir, empty, progress, stage)
    model_input = model_contract["input"]
    lut = host_contract.input_lut(model_input["scale"], model_input["zero_point"])
    return lut[pixels], found
