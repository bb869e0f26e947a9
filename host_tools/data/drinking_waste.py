"""Drinking-waste crops (cans and PET bottles on grass, wood, blankets, concrete; CC0): make
them from the source repository's photos, or import a local copy, and verify what arrived.

The 966 crops are cut from photos of PDooDP/opencv_RecyclableWastes_Detection at a pinned
commit. `drinking_waste.csv` (committed beside this module) names, for every crop, the
photo (`dataset/train/VOCdevkit/VOC2021/JPEGImages/<repo_photo>.jpg`), the photo's sha256
and size, the crop square, the item's box inside the crop, the crop's sha256 and an 8x8
grey thumbnail of it.

Download: every photo is fetched by its path at the pinned commit from the first mirror
that has it, into `<dest>.originals.part/` (one file per photo, each resumable, retried,
kept only when its sha256 is right); photos no mirror gave are then taken from the
repository's archive zip of that commit, picked by sha256. Each crop is cut, resized to
256x256 (bicubic) and saved as JPEG (quality 92); it must equal the published crop byte
for byte, or, where another Pillow/libjpeg encodes differently, match its thumbnail
(originals are always checked byte for byte). `--from DIR` imports a copy of the crops and
checks each one's sha256. Everything is built in a temporary folder and renamed into place.
"""
import concurrent.futures
import csv
import hashlib
import io
import json
import os
import shutil
import threading
import time
import zipfile
from collections import namedtuple
from pathlib import Path, PurePosixPath

from host_tools import atomic
from host_tools.data import fetch, images
from host_tools.errors import SmartbinError

REPOSITORY = "PDooDP/opencv_RecyclableWastes_Detection"
COMMIT = "3ede055947847b4c7a7f55462bb66e9fe56b649e"
PHOTO_FOLDER = "dataset/train/VOCdevkit/VOC2021/JPEGImages"
# Base URLs of the repository at COMMIT; a photo's URL is base + PHOTO_FOLDER/<n>.jpg.
DEFAULT_MIRRORS = (
    "https://raw.githubusercontent.com/%s/%s/" % (REPOSITORY, COMMIT),
    "https://github.com/%s/raw/%s/" % (REPOSITORY, COMMIT),
)
# GitHub builds archives on demand and their bytes are not guaranteed stable, so the zip
# itself has no pinned checksum: the photos inside are picked and checked by sha256.
DEFAULT_ARCHIVE_URL = "https://github.com/%s/archive/%s.zip" % (REPOSITORY, COMMIT)
TABLE_FILE = Path(__file__).with_name("drinking_waste.csv")
MARKER = ".drinking_waste.json"
BOXES_FILE = "boxes.csv"
BOXES_COLUMNS = ("file", "label", "group", "box_left", "box_top", "box_right", "box_bottom",
                 "item_cut")
CROP_SIDE = 256
JPEG_QUALITY = 92
THUMB_SIDE = 8
# A re-encoded crop counts as the published one when no 8x8 grey thumbnail cell differs by
# more than this. Measured on every third crop: bilinear or Lanczos instead of bicubic, or
# JPEG quality 75, differ by at most 1; a crop square shifted by 1/32 of its side by 6 or
# more, one 10% smaller by 15 or more.
THUMB_TOLERANCE = 4
# Free space wanted before starting, on top of the photos themselves: crops and slack.
_SPARE_BYTES = 64 << 20
_ATTEMPTS = 3
_RETRY_DELAY = 0.5  # seconds before the first retry; doubled for each further one
_RETRY_STATUS = (408, 429, 500, 502, 503, 504)
# A mirror that failed this many photos is not asked for the rest (offline, rate-limited).
_MIRROR_FAILURES = 3
_WORKERS = 4

Crop = namedtuple("Crop", "file label repo_photo original_sha256 original_bytes crop_left "
                          "crop_top crop_side box_left box_top box_right box_bottom "
                          "crop_sha256 thumb")
_INT_FIELDS = ("repo_photo", "original_bytes", "crop_left", "crop_top", "crop_side",
               "box_left", "box_top", "box_right", "box_bottom")


def load_table(path=None):
    """The crops of the data set, as a list of Crop rows, from `drinking_waste.csv`."""
    path = TABLE_FILE if path is None else Path(path)
    lines = [line for line in path.read_text(encoding="ascii").splitlines()
             if line and not line.startswith("#")]
    rows = []
    for record in csv.DictReader(lines):
        values = dict(record)
        for field in _INT_FIELDS:
            values[field] = int(values[field])
        rows.append(Crop(**values))
    return rows


def write_table(rows, path):
    """Write Crop rows as a table that `load_table` reads (header comment included)."""
    buffer = io.StringIO()
    buffer.write("# Drinking-waste crops: photo %s/<repo_photo>.jpg of %s at %s;\n"
                 "# crop square and item box in pixels (right/bottom exclusive); thumb: 8x8 "
                 "grey thumbnail of the crop, hex.\n" % (PHOTO_FOLDER, REPOSITORY, COMMIT))
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(Crop._fields)
    writer.writerows(rows)
    atomic.write_text(path, buffer.getvalue())


def expected_counts(table):
    counts = {}
    for row in table:
        counts[row.label] = counts.get(row.label, 0) + 1
    return counts


def photo_url(mirror, row):
    """URL of a crop's source photo on a mirror (a base URL of the repository)."""
    return "%s%s/%d.jpg" % (mirror, PHOTO_FOLDER, row.repo_photo)


def thumbnail(image):
    """8x8 grey thumbnail (box filter) of a Pillow image, as 128 hex digits."""
    from PIL import Image

    grey = image.convert("L").resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    return grey.tobytes().hex()


def thumb_difference(thumb_a, thumb_b):
    """Largest difference between two thumbnails' cells (0-255)."""
    return max(abs(a - b) for a, b in zip(bytes.fromhex(thumb_a), bytes.fromhex(thumb_b)))


def cut_crop(photo_path, row):
    """The crop of `row` from its source photo: a Pillow image, CROP_SIDE square."""
    from PIL import Image

    try:
        photo = images.open_photo(photo_path)[0]
    except SmartbinError as error:
        raise SmartbinError("cannot read photo %s for %s: %s" % (photo_path, row.file, error))
    width, height = photo.size
    right, bottom = row.crop_left + row.crop_side, row.crop_top + row.crop_side
    if row.crop_left < 0 or row.crop_top < 0 or right > width or bottom > height:
        raise SmartbinError("crop %s lies outside its %dx%d photo" % (row.file, width, height))
    square = photo.crop((row.crop_left, row.crop_top, right, bottom))
    return square.resize((CROP_SIDE, CROP_SIDE), Image.Resampling.BICUBIC)


def encode_crop(image):
    """JPEG bytes of a crop, encoded as the published crops were."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


# ---- the source photos: mirrors, then the archive zip ------------------------------------

def _cached_path(cache_dir, row):
    return Path(cache_dir) / (row.original_sha256 + ".jpg")


def _have_photo(cache_dir, row):
    path = _cached_path(cache_dir, row)
    if not path.is_file():
        return False
    if path.stat().st_size == row.original_bytes and images.file_sha256(path) == \
            row.original_sha256:
        return True
    path.unlink()
    return False


def _download_with_retries(url, part_path, timeout, progress=None):
    for attempt in range(_ATTEMPTS):
        try:
            return fetch.download_resumable(url, part_path, timeout=timeout,
                                            progress=progress)
        except fetch.HttpError as error:
            if error.code not in _RETRY_STATUS or attempt == _ATTEMPTS - 1:
                raise
        except SmartbinError:
            # A network hiccup: wait a little, then resume from the bytes we have.
            if attempt == _ATTEMPTS - 1:
                raise
        time.sleep(_RETRY_DELAY * 2 ** attempt)


class _Mirrors:
    """The mirrors in order; one that keeps failing is dropped for the rest of the run."""

    def __init__(self, bases):
        self.bases = list(bases)
        self.failures = {base: 0 for base in self.bases}
        self.first_error = {}
        self.lock = threading.Lock()

    def usable(self):
        with self.lock:
            return [base for base in self.bases if self.failures[base] < _MIRROR_FAILURES]

    def failed(self, base, message):
        with self.lock:
            self.failures[base] += 1
            self.first_error.setdefault(base, message)


def _fetch_photo(row, mirrors, cache_dir, timeout):
    """Put `row`'s photo into the cache from the first mirror that has the right bytes."""
    final_path = _cached_path(cache_dir, row)
    part_path = final_path.with_name(final_path.name + ".part")
    for base in mirrors.usable():
        url = photo_url(base, row)
        try:
            _download_with_retries(url, part_path, timeout)
        except SmartbinError as error:
            mirrors.failed(base, str(error))
            continue
        digest = images.file_sha256(part_path)
        if digest == row.original_sha256:
            os.replace(part_path, final_path)
            return True
        part_path.unlink()
        mirrors.failed(base, "%s has sha256 %s, expected %s" % (url, digest,
                                                               row.original_sha256))
    return False


def _download_photos(rows, mirror_bases, cache_dir, timeout, progress):
    """Fetch the photos of `rows` (deduplicated by sha256) into the cache; return the rows
    whose photo no mirror gave, and the mirrors' first errors."""
    mirrors = _Mirrors(mirror_bases)
    total = sum(row.original_bytes for row in rows)
    done = 0
    if progress:
        progress(done, total)
    missing = []
    pool = concurrent.futures.ThreadPoolExecutor(_WORKERS)
    try:
        futures = {pool.submit(_fetch_photo, row, mirrors, cache_dir, timeout): row
                   for row in rows}
        for future in concurrent.futures.as_completed(futures):
            row = futures[future]
            if not future.result():
                missing.append(row)
            done += row.original_bytes
            if progress:
                progress(done, total)
    finally:
        # On Ctrl-C or an error, drop the queued photos instead of fetching them all first.
        pool.shutdown(wait=True, cancel_futures=True)
    return missing, mirrors.first_error


def _is_url(text):
    return str(text).lower().startswith(("http://", "https://"))


def _photos_from_zip(zip_path, rows, cache_dir, progress):
    """Copy the photos of `rows` found in a zip (picked by size, then sha256) into the
    cache; return the rows not found."""
    wanted = {row.original_sha256: row for row in rows}
    sizes = {row.original_bytes for row in rows}
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise SmartbinError("%s is not a readable zip file: %s" % (zip_path, error))
    with archive:
        candidates = [info for info in archive.infolist()
                      if not info.is_dir() and info.file_size in sizes]
        for done, info in enumerate(candidates, 1):
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
                raise SmartbinError("%s is damaged (cannot read %s: %s); delete it and run "
                                    "the command again" % (zip_path, info.filename, error))
            row = wanted.pop(hashlib.sha256(data).hexdigest(), None)
            if row is not None:
                atomic.write_bytes(_cached_path(cache_dir, row), data)
            if progress:
                progress(done, len(candidates))
    return list(wanted.values())


def _photos_from_folder(folder, rows, cache_dir, progress):
    """Copy the photos of `rows` found anywhere under `folder` (by sha256) into the cache."""
    wanted = {row.original_sha256: row for row in rows}
    sizes = {row.original_bytes for row in rows}
    candidates = [path for path in sorted(Path(folder).rglob("*"))
                  if path.is_file() and path.stat().st_size in sizes]
    for done, path in enumerate(candidates, 1):
        row = wanted.pop(images.file_sha256(path), None)
        if row is not None:
            shutil.copyfile(path, _cached_path(cache_dir, row))
        if progress:
            progress(done, len(candidates))
    return list(wanted.values())


def _photos_from_archive(archive, rows, cache_dir, part_path, timeout, stage):
    """Take the photos of `rows` from `archive` (a zip URL, a zip file or a folder)."""
    if _is_url(archive):
        _download_with_retries(archive, part_path, timeout, stage("archive"))
        try:
            return _photos_from_zip(part_path, rows, cache_dir, stage("unpack"))
        except SmartbinError as error:
            # A resumed download of an archive that changed on the server is a broken zip.
            part_path.unlink()
            raise SmartbinError("%s (downloaded from %s; removed, the next run downloads "
                                "it anew)" % (error, archive))
    archive = Path(archive)
    if archive.is_dir():
        return _photos_from_folder(archive, rows, cache_dir, stage("unpack"))
    if not archive.is_file():
        raise SmartbinError("%s does not exist (expected the repository's archive zip or a "
                            "folder of its photos)" % archive)
    return _photos_from_zip(archive, rows, cache_dir, stage("unpack"))


def _gather_photos(table, cache_dir, mirrors, archive, timeout, stage, archive_part):
    """Fill the cache with every source photo; raise SmartbinError naming what is missing."""
    by_photo = {}
    for row in table:
        by_photo.setdefault(row.original_sha256, row)
    missing = [row for row in by_photo.values() if not _have_photo(cache_dir, row)]
    errors = {}
    if missing and mirrors:
        for base in mirrors:
            fetch.check_http_url(base)
        missing, errors = _download_photos(missing, mirrors, cache_dir, timeout,
                                           stage("download"))
    archive_error = None
    if missing and archive:
        try:
            missing = _photos_from_archive(archive, missing, cache_dir, archive_part, timeout,
                                           stage)
        except SmartbinError as error:
            archive_error = str(error)
    if missing:
        reasons = list(errors.values()) + ([archive_error] if archive_error else [])
        raise SmartbinError(
            "could not get %d of the %d drinking-waste photos%s (what arrived is kept for "
            "the next run; a local copy of the crops can be imported with --from DIR)"
            % (len(missing), len(by_photo), ": " + "; ".join(reasons) if reasons else
               " from %s" % archive if archive else ""))


# ---- verification --------------------------------------------------------------------

def _make_crops(table, cache_dir, target, progress):
    """Cut every crop into `target`; return how many equal the published bytes exactly."""
    exact = 0
    for done, row in enumerate(table, 1):
        image = cut_crop(_cached_path(cache_dir, row), row)
        data = encode_crop(image)
        if hashlib.sha256(data).hexdigest() == row.crop_sha256:
            exact += 1
        else:
            difference = thumb_difference(thumbnail(image), row.thumb)
            if difference > THUMB_TOLERANCE:
                raise SmartbinError(
                    "%s cut from photo %d.jpg does not look like the published crop "
                    "(thumbnail differs by %d grey levels, at most %d allowed)"
                    % (row.file, row.repo_photo, difference, THUMB_TOLERANCE))
        out_path = target.joinpath(*row.file.split("/"))
        out_path.parent.mkdir(exist_ok=True)
        out_path.write_bytes(data)
        if progress:
            progress(done, len(table))
    return exact


def verify_crops(folder, table=None, shown_as=None):
    """Check that `folder` holds exactly the published crops, byte for byte (sha256).

    Raises SmartbinError naming the first difference; returns the class counts.
    """
    table = load_table() if table is None else table
    folder = Path(folder)
    shown_as = str(folder) if shown_as is None else str(shown_as)
    _check_no_extra_files(folder, table, shown_as)
    for row in table:
        path = folder.joinpath(*row.file.split("/"))
        if not path.is_file():
            raise SmartbinError("%s is not the drinking-waste set: %s is missing"
                                % (shown_as, row.file))
        if images.file_sha256(path) != row.crop_sha256:
            raise SmartbinError("%s differs from the published drinking-waste crop "
                                "(sha256), in %s" % (row.file, shown_as))
    return expected_counts(table)


def _check_no_extra_files(folder, table, shown_as):
    found = {"%s/%s" % (label, path.name)
             for label, paths in images.list_class_folders(folder).items() for path in paths}
    extra = sorted(found - {row.file for row in table})
    if extra:
        raise SmartbinError("%s is not the drinking-waste set: %s is not one of its crops "
                            "(%d such file%s)" % (shown_as, extra[0], len(extra),
                                                  "" if len(extra) == 1 else "s"))


def write_boxes(table, folder):
    """Write `boxes.csv`: each crop's label, group (its source photo's sha256) and item box.

    The box is clipped to the crop; `item_cut` is 1 where the item reaches past the crop's
    edge (39 long bottles, whose crop square was clipped to the photo), else 0.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BOXES_COLUMNS)
    for row in sorted(table, key=lambda r: r.file):
        box = (row.box_left, row.box_top, row.box_right, row.box_bottom)
        clipped = tuple(min(max(value, 0), CROP_SIDE) for value in box)
        writer.writerow((row.file, row.label, row.original_sha256) + clipped
                        + (int(clipped != box),))
    atomic.write_text(Path(folder) / BOXES_FILE, buffer.getvalue())


def read_boxes(folder):
    """The rows of a drinking-waste folder's `boxes.csv`, as dicts (box values as ints)."""
    path = Path(folder) / BOXES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SmartbinError("cannot read %s: %s" % (path, error.strerror or error))
    rows = []
    for record in csv.DictReader(text.splitlines()):
        try:
            rows.append(dict(record, **{key: int(record[key]) for key in BOXES_COLUMNS[3:]}))
        except (KeyError, TypeError, ValueError):
            raise SmartbinError("%s is not a drinking-waste boxes.csv (columns: %s)"
                                % (path, ",".join(BOXES_COLUMNS)))
    return rows


# ---- the command ---------------------------------------------------------------------

def _complete(dest, counts):
    try:
        recorded = json.loads((Path(dest) / MARKER).read_text(encoding="utf-8"))
        found = {label: len(paths)
                 for label, paths in images.list_class_folders(dest).items()}
    except (OSError, ValueError, SmartbinError):
        return None
    return recorded if found == counts and (Path(dest) / BOXES_FILE).is_file() else None


def _check_free_space(folder, needed):
    folder = Path(folder)
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise SmartbinError("not enough disk space in %s: %d MB free, about %d MB needed"
                            % (folder, free >> 20, -(-needed >> 20)))


def _import_crops(source, table, target, progress):
    """Hard-link (or copy) the crops listed in `table` from `source` into `target`."""
    for done, row in enumerate(table, 1):
        from_path = source.joinpath(*row.file.split("/"))
        out_path = target.joinpath(*row.file.split("/"))
        out_path.parent.mkdir(exist_ok=True)
        if from_path.is_file():
            try:
                os.link(from_path, out_path)
            except OSError:
                shutil.copy2(from_path, out_path)
        if progress:
            progress(done, len(table))


def get_drinking_waste(dest, source=None, archive=None, mirrors=None, archive_url=None,
                       table=None, progress=None, timeout=60.0):
    """Put the verified drinking-waste crops into `dest`; return a summary dict.

    `source`: import this local folder of crops (hard links where possible) instead of
    making them. `archive`: take the source photos from this archive zip (path or URL) or
    folder instead of the mirrors. `mirrors`/`archive_url` replace the default download
    places (`archive_url=""`: no archive fallback); `table` the committed crop table. Does
    nothing when `dest` is already complete. `progress(stage, done, total)` reports
    "download" and "archive" (bytes), "unpack", "crop" and "import" (files).
    """
    table = load_table() if table is None else list(table)
    counts = expected_counts(table)
    dest = Path(dest)
    recorded = _complete(dest, counts)
    if recorded is not None:
        return dict(recorded, dest=str(dest), action="already complete")
    if dest.exists():
        raise SmartbinError("%s exists but is not a complete drinking-waste set made by this "
                            "command; remove it or choose another --dest" % dest)

    def stage(name):
        return (lambda done, total: progress(name, done, total)) if progress else None

    if source is not None:
        source = Path(source)
        _check_no_extra_files(source, table, source)  # also: missing or empty folder
        with atomic.atomic_dir(dest) as tmp_dir:
            _import_crops(source, table, tmp_dir, stage("import"))
            verify_crops(tmp_dir, table, shown_as=source)
            summary = {"counts": counts, "source": str(source), "exact_crops": len(table),
                       "similar_crops": 0, "originals_checked": 0}
            write_boxes(table, tmp_dir)
            atomic.write_text(tmp_dir / MARKER, json.dumps(summary, indent=2) + "\n")
        return dict(summary, dest=str(dest), action="imported")

    mirrors = list(DEFAULT_MIRRORS if mirrors is None else mirrors)
    if archive is not None:
        mirrors = []  # the user's archive is the one source
    else:
        archive = DEFAULT_ARCHIVE_URL if archive_url is None else archive_url
    cache_dir = dest.with_name(dest.name + ".originals.part")
    archive_part = dest.with_name(dest.name + ".archive.zip.part")
    photos = {row.original_sha256: row.original_bytes for row in table}
    cached = sum(path.stat().st_size for path in cache_dir.glob("*")) \
        if cache_dir.is_dir() else 0
    _check_free_space(dest.parent, max(0, sum(photos.values()) - cached) + _SPARE_BYTES)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SmartbinError("cannot create folder %s: %s" % (cache_dir, error.strerror))
    _gather_photos(table, cache_dir, mirrors, archive, timeout, stage, archive_part)
    with atomic.atomic_dir(dest) as tmp_dir:
        exact = _make_crops(table, cache_dir, tmp_dir, stage("crop"))
        summary = {"counts": counts, "source": "%s@%s" % (REPOSITORY, COMMIT),
                   "photos_from": ", then ".join(mirrors + ([str(archive)] if archive else [])),
                   "exact_crops": exact, "similar_crops": len(table) - exact,
                   "originals_checked": len(photos)}
        write_boxes(table, tmp_dir)
        atomic.write_text(tmp_dir / MARKER, json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(cache_dir)
    if archive_part.exists():
        archive_part.unlink()
    return dict(summary, dest=str(dest), action="downloaded" if mirrors else "made")
