"""TrashNet (Gary Thung and Mindy Yang, MIT): download `dataset-resized.zip` or import a
local copy into a folder of class folders, and verify what arrived.

Verification: the zip's sha256 (when downloading), then the images themselves: every
class count, and the sha256 of each of the 2390 non-trash photos against
`trashnet_resized.sha256` (the `trash/` photos have no public byte-exact copy to take
hashes from, so only their count is checked). Nothing is half-written: the download grows
in a `.part` file that later runs resume, the zip is extracted into a temporary folder,
checked, and only then renamed to the destination.
"""
import json
import os
import shutil
import stat
import time
import zipfile
from pathlib import Path, PurePosixPath

from host_tools import atomic
from host_tools.data import fetch, images
from host_tools.errors import SmartbinError

DEFAULT_URLS = (
    "https://github.com/garythung/trashnet/raw/master/data/dataset-resized.zip",
    # The authors' copy on Hugging Face: tried when the first is unreachable or differs.
    "https://huggingface.co/datasets/garythung/trashnet/resolve/main/dataset-resized.zip",
)
# The sha256 several public projects pin for the authors' dataset-resized.zip (42,834,870
# bytes). The images are verified one by one as well, see the module docstring.
DEFAULT_SHA256 = "c060e8abfe5d6de0578ca15be1ed8ad0794a865d333c3473d53d1d9ad6e38b8c"
EXPECTED_COUNTS = {"cardboard": 403, "glass": 501, "metal": 410, "paper": 594,
                   "plastic": 482, "trash": 137}
KNOWN_HASHES_FILE = Path(__file__).with_name("trashnet_resized.sha256")
MARKER = ".trashnet.json"
# A zip whose members claim more than this is refused before extraction (a zip bomb).
MAX_UNPACKED_BYTES = 1 << 30
_ATTEMPTS = 3


def known_hashes(path=None):
    """{"<class>/<file>": sha256} of the TrashNet photos with published byte-exact copies."""
    hashes = {}
    path = KNOWN_HASHES_FILE if path is None else Path(path)
    for line in path.read_text(encoding="ascii").splitlines():
        if line and not line.startswith("#"):
            digest, relpath = line.split(None, 1)
            hashes[relpath.strip()] = digest
    return hashes


def _is_junk(name):
    parts = PurePosixPath(name).parts
    return (not parts or parts[0] == "__MACOSX" or parts[-1].startswith("._")
            or parts[-1] == ".DS_Store")


def check_member(info):
    """Raise SmartbinError for a zip member that could write outside the target folder."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise SmartbinError("unsafe zip member %r: symbolic link" % name)
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise SmartbinError("unsafe zip member %r: absolute or Windows path" % name)
    if ".." in PurePosixPath(name).parts:
        raise SmartbinError("unsafe zip member %r: '..' in path" % name)


def safe_extract(zip_path, target_dir, progress=None):
    """Extract the class folders' images of a TrashNet-style zip into `target_dir`.

    Members are `[<top folder>/]<class>/<file>`; `__MACOSX` and other non-image files are
    skipped. Any member that could escape `target_dir` (absolute path, `..`, symlink)
    aborts the whole extraction. Returns the list of "<class>/<file>" written.
    """
    target_dir = Path(target_dir)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise SmartbinError("%s is not a readable zip file: %s" % (zip_path, error))
    with archive:
        members = archive.infolist()
        for info in members:
            check_member(info)
        wanted = [info for info in members
                  if not info.is_dir() and not _is_junk(info.filename)
                  and images.is_image_name(info.filename)]
        if sum(info.file_size for info in wanted) > MAX_UNPACKED_BYTES:
            raise SmartbinError("%s would unpack to more than %d bytes; refusing"
                                % (zip_path, MAX_UNPACKED_BYTES))
        tops = {PurePosixPath(info.filename).parts[0] for info in wanted
                if len(PurePosixPath(info.filename).parts) == 3}
        written = []
        for done, info in enumerate(wanted, 1):
            parts = PurePosixPath(info.filename).parts
            if len(parts) == 3 and len(tops) == 1:
                parts = parts[1:]
            if len(parts) != 2 or parts[0].startswith((".", "_")):
                continue
            out_path = target_dir.joinpath(*parts)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as source, open(out_path, "xb") as out:
                    shutil.copyfileobj(source, out)
            except FileExistsError:
                raise SmartbinError("zip member %r appears twice" % info.filename)
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise SmartbinError("cannot extract %r from %s: %s"
                                    % (info.filename, zip_path, error))
            written.append("/".join(parts))
            if progress:
                progress(done, len(wanted))
    return written


def verify_images(folder, expected_counts=None, hashes=None, shown_as=None):
    """Check class counts and per-file sha256 of a TrashNet folder.

    Returns {"counts", "verified_files", "count_only_files"}; raises SmartbinError naming
    the first difference. Errors call the folder `shown_as` (what the user gave: the
    source folder or zip, not the temporary folder being checked).
    """
    expected_counts = EXPECTED_COUNTS if expected_counts is None else expected_counts
    hashes = known_hashes() if hashes is None else hashes
    folder = Path(folder)
    shown_as = str(folder) if shown_as is None else str(shown_as)
    classes = images.list_class_folders(folder)
    counts = {label: len(paths) for label, paths in classes.items()}
    if counts != expected_counts:
        differences = ", ".join(
            "%s %d (expected %d)" % (label, counts.get(label, 0), expected_counts.get(label, 0))
            for label in sorted(set(counts) | set(expected_counts))
            if counts.get(label) != expected_counts.get(label))
        raise SmartbinError("%s is not the TrashNet data set: %s" % (shown_as, differences))
    for relpath, digest in sorted(hashes.items()):
        path = folder.joinpath(*relpath.split("/"))
        if not path.is_file():
            raise SmartbinError("%s is not the TrashNet data set: %s is missing"
                                % (shown_as, relpath))
        if images.file_sha256(path) != digest:
            raise SmartbinError("%s differs from the published TrashNet file (sha256), in %s"
                                % (relpath, shown_as))
    total = sum(counts.values())
    return {"counts": counts, "verified_files": len(hashes),
            "count_only_files": total - len(hashes)}


def _complete(dest, expected_counts):
    marker = Path(dest) / MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        counts = {label: len(paths)
                  for label, paths in images.list_class_folders(dest).items()}
    except SmartbinError:
        return None
    return recorded if counts == expected_counts else None


def _download_with_retries(url, part_path, progress, timeout):
    for attempt in range(_ATTEMPTS):
        try:
            return fetch.download_resumable(url, part_path, timeout=timeout, progress=progress)
        except fetch.HttpError:
            raise
        except SmartbinError:
            # A network hiccup: wait a little, then resume from the bytes we have.
            if attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.5 * 2 ** attempt)


def _download_zip(urls, sha256, part_path, progress, timeout):
    """Fetch the first URL whose content has the expected sha256; return (url, path)."""
    failures = []
    for url in urls:
        try:
            _download_with_retries(url, part_path, progress, timeout)
        except SmartbinError as error:
            failures.append(str(error))
            continue
        digest = images.file_sha256(part_path)
        if digest == sha256.lower():
            return url, part_path
        part_path.unlink()
        failures.append("%s has sha256 %s, expected %s" % (url, digest, sha256.lower()))
    raise SmartbinError("could not download TrashNet: %s (a local copy can be imported with "
                        "--from DIR)" % "; ".join(failures))


def get_trashnet(dest, source=None, url=None, sha256=None, progress=None, timeout=60.0,
                 expected_counts=None, hashes=None):
    """Put a verified TrashNet into `dest` (a folder of class folders); return a summary.

    `source`: import this local folder (hard links where possible, else copies) instead of
    downloading. `url`/`sha256` replace the default mirrors and checksum. Does nothing
    when `dest` already holds a complete TrashNet. `progress(stage, done, total)` reports
    the download ("download", bytes) and the unpacking ("unpack", files).
    """
    expected_counts = EXPECTED_COUNTS if expected_counts is None else expected_counts
    dest = Path(dest)
    recorded = _complete(dest, expected_counts)
    if recorded is not None:
        return dict(recorded, dest=str(dest), action="already complete")
    if dest.exists():
        raise SmartbinError("%s exists but is not a complete TrashNet made by this command; "
                            "remove it or choose another --dest" % dest)
    if sha256 is not None and (len(sha256) != 64
                               or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        raise SmartbinError("--sha256 must be 64 hexadecimal digits")

    def stage(name):
        return (lambda done, total: progress(name, done, total)) if progress else None

    if source is not None:
        source = Path(source)
        images.list_class_folders(source)  # clear error for a missing or empty folder
        with atomic.atomic_dir(dest) as tmp_dir:
            _import_folder(source, tmp_dir, expected_counts, stage("import"))
            summary = verify_images(tmp_dir, expected_counts, hashes, shown_as=source)
            summary.update(source=str(source), zip_sha256=None)
            atomic.write_text(tmp_dir / MARKER, json.dumps(summary, indent=2) + "\n")
        return dict(summary, dest=str(dest), action="imported")

    urls = [url] if url else list(DEFAULT_URLS)
    for candidate in urls:
        fetch.check_http_url(candidate)
    expected_sha = sha256 or DEFAULT_SHA256
    part_path = dest.with_name(dest.name + ".zip.part")
    used_url, zip_path = _download_zip(urls, expected_sha, part_path, stage("download"),
                                       timeout)
    with atomic.atomic_dir(dest) as tmp_dir:
        _make_readable(tmp_dir)
        safe_extract(zip_path, tmp_dir, stage("unpack"))
        summary = verify_images(tmp_dir, expected_counts, hashes,
                                shown_as="the zip from %s" % used_url)
        summary.update(source=used_url, zip_sha256=expected_sha.lower())
        atomic.write_text(tmp_dir / MARKER, json.dumps(summary, indent=2) + "\n")
    zip_path.unlink()
    return dict(summary, dest=str(dest), action="downloaded")


def _make_readable(folder):
    # mkdtemp makes a private folder; the data set should get ordinary permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)


def _import_folder(source, target, expected_counts, progress):
    """Hard-link (or copy) the image files of `source`'s class folders into `target`."""
    classes = images.list_class_folders(source)
    files = [(label, path) for label in sorted(classes) if label in expected_counts
             for path in classes[label]]
    for done, (label, path) in enumerate(files, 1):
        out_dir = target / label
        out_dir.mkdir(exist_ok=True)
        try:
            os.link(path, out_dir / path.name)
        except OSError:
            shutil.copy2(path, out_dir / path.name)
        if progress:
            progress(done, len(files))
    missing = sorted(set(expected_counts) - set(classes))
    if missing:
        raise SmartbinError("%s is not the TrashNet data set: no %s folder"
                            % (source, ", ".join(missing)))
