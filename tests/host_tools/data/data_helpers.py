"""Generated photos for the data-stage tests: small, distinct, and near-duplicate copies."""
import io

import numpy as np
from PIL import Image


def photo(seed, size=(32, 24)):
    """A distinct test photo: smooth random blobs, so copies of it survive re-encoding."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.BICUBIC)


def photo_bytes(seed, fmt="PNG", size=(32, 24), quality=90):
    buffer = io.BytesIO()
    image = photo(seed, size)
    if fmt == "JPEG":
        image.save(buffer, fmt, quality=quality)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def near_copy_bytes(seed):
    """The same picture, enlarged and re-encoded as JPEG: a near-duplicate, not an exact one."""
    return photo_bytes(seed, "JPEG", size=(48, 36), quality=80)


def make_dataset(root, counts, start_seed=0):
    """Write `counts` ({label: n}) distinct PNG photos as root/<label>/<label>N.png."""
    seed = start_seed
    for label, count in counts.items():
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, count + 1):
            (folder / ("%s%d.png" % (label, n))).write_bytes(photo_bytes(seed))
            seed += 1
    return root
