"""What `smartbin preview` shows for one camera frame: the model's input, its scores and the
lid the bin would choose, the exposure, and the two pictures.

The decision is the bin's own code on this computer: the firmware's config rules,
`Preprocessor`, `Classifier` (over `microlite_shim`, the same TFLM kernels) and `Decider`,
built from the board's config.json and model.json, so the lid shown is the lid the bin
would open for this frame. A frame at the bin's capture size (the model's input, or the
larger frame of model.json's "isolate" block) is exactly what the bin classifies; a larger
one (for aiming) is first resized to that size here. With an isolate block the bin's
`Isolator` finds the item against the board's empty-chamber thumbnail and the model sees
only its box, as on the board; without a thumbnail, the whole frame, as the bin does.
"""
import io
import json

import numpy as np

from host_tools import contract as host_contract
from host_tools import isolate as host_isolate
from host_tools import microlite_shim
from host_tools.device.pull import frame_to_image
from host_tools.errors import SmartbinError
from host_tools.firmware_modules import firmware_module

# Shares of black (0) or white (255) pixels past which the page warns: detail is lost there.
CLIPPED_WARNING_SHARE = 0.02
MODEL_VIEW_SIDE = 288  # the model's input, blown up by whole pixels to about this size
CAMERA_VIEW_WIDTH = 480
BOX_COLOUR = (255, 0, 255)  # the item's box on the camera view: magenta, rare in a bin
BOX_LINE = 3


class _OneFile:
    """The one file the firmware's config loader reads, as the board's Storage would."""

    def __init__(self, path, data):
        self.path = path
        self.data = data

    def read(self, path):
        return self.data if path == self.path else None


def board_config(config_bytes, path="/config.json"):
    """The board's config.json (bytes, or None when it has none) read by the firmware's own
    rules: bad values become defaults, as on the board."""
    return firmware_module("config").load(_OneFile(path, config_bytes), path)


def board_contract(contract_bytes):
    """The board's model.json, checked by the firmware's rules: (raw dict, ModelContract)."""
    model_contract = firmware_module("model_contract")
    try:
        raw = json.loads(contract_bytes)
        return raw, model_contract.ModelContract(raw)
    except (ValueError, model_contract.ContractError) as error:
        raise SmartbinError("the board's model.json is not valid (%s): deploy again" % error)


def exposure(image):
    """{"brightness": mean luma 0..255, "dark": share at 0, "bright": share at 255,
    "warning": one line or None} of a Pillow image."""
    luma = np.asarray(image.convert("L"), dtype=np.uint8)
    dark = float((luma == 0).mean())
    bright = float((luma == 255).mean())
    warning = None
    if bright >= CLIPPED_WARNING_SHARE:
        warning = ("%.0f%% of the pixels are blown out (white): less light, or the flash off"
                   % (100 * bright))
    elif dark >= CLIPPED_WARNING_SHARE:
        warning = ("%.0f%% of the pixels are black: more light, or the flash on"
                   % (100 * dark))
    return {"brightness": round(float(luma.mean()), 1), "dark": round(dark, 4),
            "bright": round(bright, 4), "warning": warning}


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class FrameScorer:
    """The bin's decision for a frame, built once from the board's config, contract and
    empty-chamber thumbnail (bytes, or None) and the model's bytes (the same file as on the
    board)."""

    def __init__(self, config, contract_raw, model_bytes, empty_chamber=None):
        model_contract = firmware_module("model_contract")
        decide = firmware_module("decide")
        classifier = firmware_module("classifier")
        self.config = config
        self.raw = contract_raw
        self.contract = model_contract.ModelContract(contract_raw)
        self.grayscale = self.contract.channels == 1
        self.preprocessor = firmware_module("preprocess").Preprocessor(self.contract,
                                                                        allow_native=False)
        self.isolator = self.preprocessor.isolator  # None: the model sees the whole frame
        if self.isolator is not None and empty_chamber is not None:
            self.isolator.load_empty(empty_chamber)  # a thumbnail that does not fit: none
        try:
            self.classifier = classifier.Classifier(microlite_shim, bytearray(model_bytes),
                                                    self.contract)
        except classifier.ModelError as error:
            raise SmartbinError("the model does not match its model.json: %s" % error)
        threshold = decide.choose_threshold(config.threshold, self.contract.threshold)
        self.threshold = threshold
        self.decider = decide.Decider(config, self.contract.labels,
                                      self.contract.score_at_least(threshold))
        self.lid_names = [lid["name"] for lid in config.lids]

    @property
    def model_size(self):
        return self.contract.width, self.contract.height

    @property
    def bin_size(self):
        """The frame size the bin captures: the model's input, or the isolate frame."""
        return self.contract.frame_width, self.contract.frame_height

    def bin_frame(self, frame, meta):
        """The frame at the bin's capture size, as the camera would send it: the frame
        itself when it is at that size, else resized (the contract's rule; with an isolate
        block, its stand-in for the sensor's scaling)."""
        if (meta["width"], meta["height"]) == self.bin_size:
            return bytes(frame)
        image = frame_to_image(frame, meta)
        if self.isolator is not None:
            pixels = host_isolate.frame_of(image, self.raw)
        else:
            pixels = host_contract.image_to_pixels(image, self.raw)
        if self.grayscale:
            return pixels.tobytes()
        return host_contract.rgb888_to_rgb565(pixels)

    def decide(self, bin_frame):
        """{"label", "confidence", "confident", "lid", "scores": [{"label", "score"}]} for a
        frame at the bin's capture size: the bin's preprocessing (with its isolation),
        inference and lid rule."""
        classifier = self.classifier
        self.preprocessor.run(bin_frame, classifier.input_view)
        classifier.classify()
        labels = self.contract.labels
        lid = self.decider.lid_for(classifier.best, classifier.best_score)
        return {"label": labels[classifier.best],
                "confidence": round(self.contract.confidence(classifier.best_score), 4),
                "confident": self.decider.confident(classifier.best_score),
                "lid": self.lid_names[lid],
                "scores": [{"label": label, "score": round(self.contract.confidence(score), 4)}
                           for label, score in zip(labels, classifier.scores)]}

    def box(self):
        """(left, top, width, height) of the bin frame the last `decide` showed the model."""
        isolator = self.isolator
        if isolator is None:
            return (0, 0) + self.bin_size
        return isolator.left, isolator.top, isolator.width, isolator.height

    def isolation(self):
        """What the isolation did for the last `decide`, for the page; None without an
        isolate block."""
        isolator = self.isolator
        if isolator is None:
            return None
        return {"reference": isolator.has_empty, "found": isolator.found,
                "box": list(self.box()), "changed_cells": isolator.changed_cells,
                "kept_cells": isolator.kept_cells, "cells": isolator.grid * isolator.grid,
                "max_cells": isolator.max_cells, "min_cells": isolator.min_cells}

    def model_pixels(self, bin_frame):
        """The model's input pixels (H x W x C uint8) for the last `decide` of `bin_frame`:
        the box of the frame resized by the bin's nearest-neighbour rule, or the frame."""
        width, height = self.bin_size
        if self.grayscale:
            pixels = np.frombuffer(bytes(bin_frame), np.uint8).reshape(height, width, 1)
        else:
            pixels = host_contract.rgb565_to_rgb888(bin_frame, width, height)
        if self.isolator is None:
            return pixels
        return host_isolate.crop(pixels, self.box(), *self.model_size)

    def look(self, frame, meta):
        """Everything the page shows for one frame: (data dict, {"model": PNG, "camera":
        PNG}). The model view is the input blown up by whole pixels (nearest neighbour);
        the camera view has the item's box drawn on it when the bin would crop one."""
        from PIL import Image

        bin_frame = self.bin_frame(frame, meta)
        data = self.decide(bin_frame)
        pixels = self.model_pixels(bin_frame)
        model_image = Image.fromarray(pixels[..., 0] if self.grayscale else pixels)
        factor = max(1, MODEL_VIEW_SIDE // max(self.model_size))
        model_view = model_image.resize((model_image.width * factor,
                                         model_image.height * factor), Image.NEAREST)
        camera_image = frame_to_image(frame, meta)
        height = max(1, round(camera_image.height * CAMERA_VIEW_WIDTH / camera_image.width))
        camera_view = camera_image.resize((CAMERA_VIEW_WIDTH, height), Image.BILINEAR)
        isolation = self.isolation()
        if isolation is not None and isolation["found"]:
            camera_view = draw_box(camera_view, isolation["box"], self.bin_size)
        data.update({
            "frame": {"width": meta["width"], "height": meta["height"],
                      "format": meta["format"]},
            "bin_frame": {"width": self.bin_size[0], "height": self.bin_size[1]},
            "model_input": {"width": self.contract.width, "height": self.contract.height,
                            "colour_order": self.contract.colour_order,
                            "resized_here": (meta["width"], meta["height"]) != self.bin_size},
            "isolate": isolation,
            "threshold": self.threshold,
            "exposure": exposure(camera_image),
        })
        return data, {"model": png(model_view), "camera": png(camera_view)}


def draw_box(view, box, bin_size):
    """`view` (a Pillow image of the camera frame, any size) with `box` (left, top, width,
    height in pixels of the bin's frame, `bin_size`) drawn on it in BOX_COLOUR."""
    from PIL import ImageDraw

    view = view.convert("RGB")
    scale_x = view.width / bin_size[0]
    scale_y = view.height / bin_size[1]
    left, top, width, height = box
    corners = (round(left * scale_x), round(top * scale_y),
               round((left + width) * scale_x) - 1, round((top + height) * scale_y) - 1)
    ImageDraw.Draw(view).rectangle(corners, outline=BOX_COLOUR, width=BOX_LINE)
    return view
