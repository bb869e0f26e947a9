"""Image files of a data set: find class folders, check that photos decode, and find
exact and near-duplicate photos with a perceptual hash."""
import hashlib
import io
import os
import stat
from pathlib import Path

import numpy as np

from host_tools.errors import SmartbinError, why_missing

# The photo formats every command reads, and the suffix a downloaded photo of that format is
# saved under. Anything else Pillow could open (icons, PSD, PDF...) is not a photo to us.
# A multi-picture file (animated GIF/WebP, multi-page TIFF, a camera's MPO) counts as its
# first picture, everywhere.
SUFFIX_BY_FORMAT = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "BMP": ".bmp",
                    "GIF": ".gif", "WEBP": ".webp", "TIFF": ".tif"}
# Pillow opens an MPO through its JPEG plugin.
_OPEN_FORMATS = tuple(name for name in SUFFIX_BY_FORMAT if name != "MPO")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Transparent pixels of a photo are shown as if on a white board.
_BACKDROP = (255, 255, 255)
# Pillow's own guard (Image.MAX_IMAGE_PIXELS) stays on; we also refuse anything past it
# ourselves, because Pillow only warns between 1x and 2x of its limit.
MAX_PIXELS = 89_478_485
# No photo file we read is bigger (a 90-megapixel PNG of noise is about 270 MB).
MAX_FILE_BYTES = 300 << 20
# Two photos are near-duplicates (a re-encoded, resized or lightly edited copy, or the same
# scene shot twice) when their 64-bit pHashes differ in at most NEAR_DUPLICATE_BITS bits AND
# their 32x32 grey thumbnails correlate at NEAR_DUPLICATE_CORRELATION or more with no pixel
# more than NEAR_DUPLICATE_GREY levels apart. Tuned by eye on TrashNet's candidate pairs:
# re-shot scenes correlate at 0.95-1.0, different objects on the same white board at 0.95
# and below.
NEAR_DUPLICATE_BITS = 10
NEAR_DUPLICATE_CORRELATION = 0.95
NEAR_DUPLICATE_GREY = 60
_HASH_SIDE = 8
_DCT_SIDE = 32
_THUMB_SIDE = 32
_DCT = np.cos(np.pi * (2 * np.arange(_DCT_SIDE)[None, :] + 1) * np.arange(_DCT_SIDE)[:, None]
              / (2 * _DCT_SIDE))


def is_image_name(path):
    """True for a visible file whose suffix is one we read as a photo."""
    name = Path(path).name
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES


def _is_class_folder(path):
    # Hidden folders and tool folders (__MACOSX, _inbox) are not classes.
    return path.is_dir() and not path.name.startswith((".", "_"))


def refuse_case_twins(labels, where):
    """Raise SmartbinError when two class names differ only in case (`Glass`, `glass`):
    on some disks they are one folder, and a model would learn two classes of one thing."""
    seen = {}
    for label in sorted(labels):
        twin = seen.setdefault(label.casefold(), label)
        if twin != label:
            raise SmartbinError("class folders %s and %s in %s differ only in case; merge them "
                                "into one" % (twin, label, where))


def list_class_folders(data_dir):
    """Map each class label (a sub-folder's name) to its sorted image paths.

    Raises SmartbinError when `data_dir` is missing, is not a folder, has no class
    folders, or has a class folder without images (a class the model would silently lose).
    """
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise SmartbinError("data folder %s %s" % (data_dir, why_missing(data_dir)))
    if not data_dir.is_dir():
        raise SmartbinError("%s is not a folder (expected a folder of class folders)" % data_dir)
    classes = {}
    for folder in sorted(p for p in data_dir.iterdir() if _is_class_folder(p)):
        # a photo name that is no file (a dangling link, a pipe) is listed, to be reported
        classes[folder.name] = sorted(p for p in folder.iterdir()
                                      if is_image_name(p) and not p.is_dir())
    if not classes:
        raise SmartbinError("%s has no class folders (expected %s/<label>/*.jpg)"
                            % (data_dir, data_dir))
    refuse_case_twins(classes, data_dir)
    empty = [label for label, paths in classes.items() if not paths]
    if empty:
        raise SmartbinError("class folder%s %s in %s ha%s no images"
                            % ("s" if len(empty) > 1 else "", ", ".join(empty), data_dir,
                               "ve" if len(empty) > 1 else "s"))
    return classes


def file_sha256(path):
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _to_rgb8(image):
    """A loaded Pillow image of any mode as 8-bit RGB: 16-bit and 32-bit grey scaled down
    (not clipped to white), float grey read as 0..1 (or 0..255 when it goes past 1),
    transparency laid on a white backdrop, CMYK, palette and the rest converted by Pillow."""
    from PIL import Image

    if image.mode.startswith("I"):
        # PNG and TIFF store 16-bit grey as I;16* or I: 0..65535.
        values = np.asarray(image, dtype=np.float64)
        grey = np.clip(values, 0, 65535) / 257.0
        return Image.fromarray(np.rint(grey).astype(np.uint8), "L").convert("RGB")
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        scale = 255.0 if values.max(initial=0.0) <= 1.0 else 1.0
        grey = np.clip(values * scale, 0, 255)
        return Image.fromarray(np.rint(grey).astype(np.uint8), "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, _BACKDROP + (255,))
        return Image.alpha_composite(backdrop, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


# A JPEG cut short and closed with an EOI marker (FF D9) decodes without an error: libjpeg
# only warns, and fills the missing blocks with mid-grey. To tell it from a whole photo,
# these bytes (no FF, so no marker; the first bit a 1, unlike libjpeg's zero fill) are put
# just before the EOI that ends the picture, and both versions are decoded at full scale (a
# cut that loses only a block's fine detail shows there alone): a whole photo ignores the
# bytes (its last block came before them), a photo cut short decodes them as its missing
# data and looks different. Not seen: a progressive JPEG that lost only its last
# refinement bits (one grey level at most).
_PROBE_BYTES = b"\xa5" * 64
_JPEG_STANDALONE = frozenset([0x01] + list(range(0xD0, 0xD8)))


def _jpeg_picture_end(data):
    """Index of the EOI marker ending a JPEG's (first) picture, or None when its segments
    cannot be walked to one. Bytes after it (a camera's padding, a second MPO picture)
    are not part of it."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 1 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0xD9:
            return i
        if marker in _JPEG_STANDALONE:
            i += 2
            continue
        if i + 4 > len(data):
            return None
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:  # scan data: up to the next marker that is not stuffing or RSTn
            while True:
                i = data.find(b"\xff", i)
                if i < 0 or i + 1 >= len(data):
                    return None
                following = data[i + 1]
                if following == 0 or 0xD0 <= following <= 0xD7:
                    i += 2
                elif following == 0xFF:
                    i += 1
                else:
                    break
    return None


def _decode_whole(data):
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
        image.load()
        return np.asarray(image)


def _refuse_jpeg_cut_short(data, decoded=None):
    """`decoded`: the photo already decoded at full scale, if it was."""
    end = _jpeg_picture_end(data)
    if end is None:
        return  # the decoder has already judged a JPEG whose segments do not walk
    probed = data[:end] + _PROBE_BYTES + data[end:]
    whole = _decode_whole(data) if decoded is None else decoded
    if not np.array_equal(whole, _decode_whole(probed)):
        raise SmartbinError("JPEG cut short (its data ends before its last block)")


def open_photo(source, draft_size=None):
    """Decode a photo (a path or its bytes) the one way every command does; return
    (8-bit RGB Pillow image with EXIF rotation applied, its format, (width, height)).

    A usable photo is one of SUFFIX_BY_FORMAT's formats, at most MAX_PIXELS, that decodes
    to its last byte (a truncated file is refused even if another library has turned on
    Pillow's LOAD_TRUNCATED_IMAGES, and so is a JPEG cut short and closed with an EOI
    marker); a multi-picture file gives its first picture. Bytes after a JPEG's EOI (an
    OV2640's padding) are ignored.
    `draft_size` lets JPEG decode at a reduced scale (every byte is still read).
    Raises SmartbinError (message without the file name) otherwise.
    """
    from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    if isinstance(stream, (str, Path)):
        stream = _read_photo_file(stream)
    truncated_allowed = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(stream, formats=_OPEN_FORMATS) as image:
            size = image.size
            if size[0] * size[1] > MAX_PIXELS:
                raise SmartbinError("image too large (%dx%d pixels, limit %d)"
                                    % (size[0], size[1], MAX_PIXELS))
            if size[0] < 1 or size[1] < 1:
                raise SmartbinError("image has no pixels (%dx%d)" % size)
            image_format = image.format
            image.seek(0)
            if draft_size:
                image.draft("RGB", draft_size)
            image.load()
            if image_format in ("JPEG", "MPO"):
                _refuse_jpeg_cut_short(stream.getvalue(),
                                       None if draft_size else np.asarray(image))
            image = ImageOps.exif_transpose(image)
            return _to_rgb8(image), image_format, size
    except FileNotFoundError:
        raise SmartbinError("no such file")
    except UnidentifiedImageError:
        raise SmartbinError("not an image format we read (JPEG, PNG, BMP, GIF, WebP, TIFF)")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise SmartbinError(str(error).split("\n")[0] or type(error).__name__)
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
            KeyError, ZeroDivisionError, MemoryError) as error:
        # Pillow's decoders raise many types on corrupt input; all mean "not an image".
        raise SmartbinError("does not decode (%s)" % (str(error).split("\n")[0]
                                                      or type(error).__name__))
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_allowed


def _read_photo_file(path):
    """A photo file's bytes in memory (the JPEG check reads them twice)."""
    try:
        kind = os.stat(path).st_mode
        if stat.S_ISDIR(kind):
            raise SmartbinError("is a folder, not a photo")
        if not stat.S_ISREG(kind):
            raise SmartbinError("is not a regular file (a pipe or a device?), not a photo")
        with open(path, "rb") as stream:
            if os.fstat(stream.fileno()).st_size > MAX_FILE_BYTES:
                raise SmartbinError("file too large for a photo (over %d MB)"
                                    % (MAX_FILE_BYTES >> 20))
            return io.BytesIO(stream.read())
    except FileNotFoundError:
        raise SmartbinError(why_missing(path).replace("does not exist", "no such file")) from None
    except PermissionError:
        raise SmartbinError("cannot be read (permission denied)") from None
    except OSError as error:
        raise SmartbinError("cannot be read (%s)" % (error.strerror or error)) from None


def fingerprint(image):
    """Perceptual fingerprint of a Pillow image: a 64-bit DCT hash and a 32x32 grey thumbnail.

    The hash (pHash: low 8x8 DCT frequencies against their median) finds candidates fast;
    the thumbnail confirms them, because on TrashNet-like photos (a small object on a white
    board) the hash alone is dominated by the lighting and matches different objects.
    """
    from PIL import Image

    grey = image.convert("L")
    pixels = np.asarray(grey.resize((_DCT_SIDE, _DCT_SIDE), Image.BILINEAR), dtype=np.float64)
    low = (_DCT @ pixels @ _DCT.T)[:_HASH_SIDE, :_HASH_SIDE].flatten()
    bits = low > np.median(low[1:])
    thumb = np.asarray(grey.resize((_THUMB_SIDE, _THUMB_SIDE), Image.BILINEAR), dtype=np.uint8)
    return int(np.packbits(bits).view(">u8")[0]), thumb


def inspect_image(source):
    """Decode an image (a path or its bytes) with open_photo; return {"width", "height",
    "format", "phash", "thumb"}.

    Raises SmartbinError (message without the file name) when it is not a usable photo.
    """
    image, image_format, (width, height) = open_photo(source, draft_size=(64, 64))
    phash, thumb = fingerprint(image)
    return {"width": width, "height": height, "format": image_format, "phash": phash,
            "thumb": thumb}


def inspect_images(paths, progress=None):
    """Inspect many files; return ({path: info}, {path: reason it does not decode})."""
    infos, failures = {}, {}
    paths = list(paths)
    for done, path in enumerate(paths, 1):
        try:
            infos[path] = inspect_image(path)
        except SmartbinError as error:
            failures[path] = str(error)
        if progress:
            progress(done, len(paths))
    return infos, failures


def hamming(a, b):
    """Number of differing bits between two 64-bit hashes."""
    return bin(int(a) ^ int(b)).count("1")


def thumbs_match(thumb_a, thumb_b, min_correlation=NEAR_DUPLICATE_CORRELATION,
                 max_step=NEAR_DUPLICATE_GREY):
    """True when two grey thumbnails show the same picture: their correlation is at least
    `min_correlation` and, after matching overall brightness, no pixel differs by more
    than `max_step` grey levels."""
    a = thumb_a.astype(np.float64)
    b = thumb_b.astype(np.float64)
    difference = a - b
    if np.abs(difference - np.median(difference)).max() > max_step:
        return False
    a -= a.mean()
    b -= b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    # Two flat (featureless) thumbnails: alike only if the brightness step test passed.
    return bool(norm == 0 or (a * b).sum() / norm >= min_correlation)


def near_duplicate_pairs(infos, others=None, max_bits=NEAR_DUPLICATE_BITS):
    """Index pairs of near-duplicate images among `infos` (dicts from inspect_image).

    With `others`, pairs (i, k) match infos[i] against others[k]; without, pairs i < j
    within `infos`. Hash distances are computed in blocks so memory stays small.
    """
    infos = list(infos)
    others_list = infos if others is None else list(others)
    if not infos or not others_list:
        return []
    left = np.array([info["phash"] for info in infos], dtype=np.uint64)
    right = np.array([info["phash"] for info in others_list], dtype=np.uint64)
    pairs = []
    block = 512
    for start in range(0, len(left), block):
        distance = np.bitwise_count(left[start:start + block, None] ^ right[None, :])
        rows, cols = np.nonzero(distance <= max_bits)
        for row, col in zip(rows.tolist(), cols.tolist()):
            i = start + row
            if (others is not None or i < col) and thumbs_match(infos[i]["thumb"],
                                                                others_list[col]["thumb"]):
                pairs.append((i, col))
    return pairs


def group_near_duplicates(infos):
    """Partition indices of `infos` into groups linked by near-duplicate pairs (union-find).

    Returns a list of index lists, each sorted, groups ordered by their smallest index.
    """
    infos = list(infos)
    parent = list(range(len(infos)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in near_duplicate_pairs(infos):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups = {}
    for i in range(len(infos)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda members: members[0])
