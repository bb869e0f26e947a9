"""Make a photo look as if the bin's OV2640 took it in a dim, warm-lit chamber.

Used to build out-of-domain test photos (never in training, whose own augmentation is
`host_tools.model.augment`): dim or warm light, the OV2640's typical green-magenta cast and low
saturation, a soft lens, sensor noise and JPEG compression at the quality the camera
driver uses for debug frames.
"""
import io

import numpy as np


def camera_look(pixels, rng):
    """H x W x 3 uint8 -> H x W x 3 uint8 with a random dim/warm/OV2640 look and JPEG."""
    from PIL import Image, ImageFilter

    image = pixels.astype(np.float32)
    image *= rng.uniform(0.4, 0.85)                                  # dim chamber
    warmth = rng.uniform(0.0, 0.25)
    image *= np.array([1.0 + warmth, 1.0, 1.0 - warmth], np.float32)   # warm lamp or LED
    cast = rng.uniform(-0.08, 0.12)                                   # OV2640: green or magenta
    image *= np.array([1.0 - cast / 2, 1.0 + cast, 1.0 - cast / 2], np.float32)
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * rng.uniform(0.55, 0.9)            # weak saturation
    image = 255.0 * (np.clip(image, 0, 255) / 255.0) ** rng.uniform(0.8, 1.15)
    image += rng.normal(0.0, rng.uniform(3.0, 9.0), image.shape[:2] + (1,))   # luma noise
    image += rng.normal(0.0, 2.0, image.shape)                                 # chroma noise
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.2)))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=int(rng.integers(25, 70)))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))
