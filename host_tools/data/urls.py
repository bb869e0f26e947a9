"""Grow a class folder from a list of photo URLs (`urls.txt`: one URL a line, `#` comments).

Downloads run in parallel with timeouts, retries and a size cap. A file is kept only when
it decodes as an image (Pillow's decompression-bomb guard on) and is neither an exact
(sha256) nor a near duplicate (perceptual hash) of a photo already in the data folder or
earlier in the list. `DEST/<class>/urls-manifest.json` records, for every URL, the file it
became or why it was skipped; a re-run only fetches URLs not settled yet (new ones, and
those that failed for a reason worth retrying, such as a timeout).
"""
import collections
import concurrent.futures
import hashlib
import json
import threading
from pathlib import Path

from host_tools import atomic
from host_tools.data import fetch, images
from host_tools.errors import SmartbinError, why_missing

MANIFEST_NAME = "urls-manifest.json"
URLS_FILE = "urls.txt"
# HTTP statuses worth asking again later; any other 4xx/5xx is final.
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


def read_url_list(path):
    """URLs of a urls.txt in file order, without blanks, `#` comments or repeats.

    Returns (urls, rejected) where rejected lists (line number, text) of lines that are
    not http(s) URLs.
    """
    try:
        # utf-8-sig: an editor's byte-order mark must not hide the first URL.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SmartbinError("no URL list at %s" % path)
    except (OSError, UnicodeDecodeError) as error:
        raise SmartbinError("cannot read URL list %s: %s"
                            % (path, getattr(error, "strerror", None) or error))
    urls, rejected, seen = [], [], set()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        url = line.split()[0]
        try:
            fetch.check_http_url(url)
        except SmartbinError:
            rejected.append((number, url))
            continue
        if url not in seen:
            seen.add(url)
            urls.append(url)
    return urls, rejected


def find_url_lists(source, label=None):
    """{label: path of its urls.txt} for SRC: a folder of <class>/urls.txt, or one file
    with `label`."""
    source = Path(source)
    if source.is_file():
        if not label:
            raise SmartbinError("%s is a single URL list: say which class it is with --label"
                                % source)
        return {_check_label(label): source}
    if label:
        raise SmartbinError("--label goes with a single urls.txt, but %s is a folder" % source)
    if not source.is_dir():
        raise SmartbinError("URL source %s %s" % (source, why_missing(source)))
    lists = {folder.name: folder / URLS_FILE for folder in sorted(source.iterdir())
             if folder.is_dir() and (folder / URLS_FILE).is_file()
             and not folder.name.startswith((".", "_"))}
    if not lists:
        raise SmartbinError("%s has no <class>/%s files" % (source, URLS_FILE))
    images.refuse_case_twins(lists, source)
    return lists


def _check_label(label):
    if not label or "/" in label or "\\" in label or label.startswith((".", "_")):
        raise SmartbinError("bad class name %r (a plain folder name is needed)" % label)
    return label


def load_manifest(path):
    """The URL manifest of a class folder ({url: entry}); empty when there is none yet."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise SmartbinError("%s is damaged (%s); delete it to start that class afresh"
                            % (path, error))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("urls"), dict):
        raise SmartbinError("%s is not a URL manifest; delete it to start afresh" % path)
    return manifest["urls"]


def _save_manifest(path, entries):
    atomic.write_text(path, json.dumps({"schema": 1, "urls": entries}, indent=2,
                                       sort_keys=True) + "\n")


def _settled(entry, folder):
    if "file" in entry:
        return (folder / entry["file"]).is_file()
    return not entry.get("retry", False)


def _fetch_one(url, timeout, retries, max_bytes, stop):
    """Download and decode one URL. Returns ("ok", data, info) or (category, detail, retry)."""
    failure = ("network error", "cannot download %s: stopped" % url, True)
    for attempt in range(retries + 1):
        if stop.is_set():
            return failure
        try:
            data, _ = fetch.get_bytes(url, timeout=timeout, max_bytes=max_bytes,
                                      max_seconds=timeout * 4, stop=stop)
            break
        except fetch.TooLarge as error:
            return "too large", str(error), False
        except fetch.NotHttp as error:
            return "not http(s)", str(error), False
        except fetch.HttpError as error:
            if error.code not in _TRANSIENT_STATUS:
                return "http error", str(error), False
            failure = ("http error", str(error), True)
        except SmartbinError as error:
            failure = ("network error", str(error), True)
        if attempt < retries:
            stop.wait(0.25 * 2 ** attempt)
    else:
        return failure
    try:
        info = images.inspect_image(data)
    except SmartbinError as error:
        return "not an image", str(error), False
    return "ok", data, info


def collect_urls(source, dest, label=None, workers=8, timeout=15.0, retries=2,
                 max_bytes=20_000_000, progress=None):
    """Download the photos listed by SRC into `dest/<class>/`; return a summary.

    Summary: {"classes": {label: {"added", "already done", <skip reason>: count}},
    "warnings": [...], "manifests": [...]}. `progress(done, total)` counts URLs.
    """
    if workers < 1 or retries < 0 or timeout <= 0 or max_bytes <= 0:
        raise SmartbinError("workers must be >= 1, retries >= 0, timeout and size cap > 0")
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise SmartbinError("--dest %s is a file, not a data folder" % dest)
    lists = find_url_lists(source, label)
    warnings, plans = [], []
    for class_name, list_path in lists.items():
        _check_label(class_name)
        urls, rejected = read_url_list(list_path)
        for number, text in rejected:
            warnings.append("%s line %d: %r is not an http(s) URL; skipped"
                            % (list_path, number, text))
        plans.append((class_name, urls))

    known = _known_photos(dest)
    summary = {"classes": {}, "warnings": warnings, "manifests": []}
    total = sum(len(urls) for _, urls in plans)
    done = 0
    for class_name, urls in plans:
        folder = dest / class_name
        manifest_path = folder / MANIFEST_NAME
        entries = load_manifest(manifest_path)
        counts = {"added": 0, "already done": 0}
        pending = []
        for url in urls:
            if url in entries and _settled(entries[url], folder):
                counts["already done"] += 1
                done += 1
            else:
                pending.append(url)
        if progress:
            progress(done, total)
        window = save_every = max(4 * workers, 16)
        stop = threading.Event()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        queue, in_flight = iter(pending), collections.deque()
        try:
            # Results are taken in list order (which of two copies is kept never depends
            # on which download finished first), each as soon as it is there; at most
            # `window` downloads run or wait ahead, so memory stays bounded.
            index = 0
            while True:
                while len(in_flight) < window:
                    url = next(queue, None)
                    if url is None:
                        break
                    in_flight.append((url, pool.submit(_fetch_one, url, timeout, retries,
                                                       max_bytes, stop)))
                if not in_flight:
                    break
                url, future = in_flight.popleft()
                index += 1
                entry = _file_result(url, future.result(), class_name, folder, known, entries)
                entries[url] = entry
                key = "added" if "file" in entry else entry["skipped"]
                counts[key] = counts.get(key, 0) + 1
                done += 1
                if progress:
                    progress(done, total)
                if index % save_every == 0:
                    _save_manifest(manifest_path, entries)
        finally:
            # Also on Ctrl-C or an error: downloads not started are dropped, running ones
            # are cut, and the manifest keeps every URL that finished.
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            if pending or not manifest_path.exists():
                _save_manifest(manifest_path, entries)
        if not _has_photos(folder):
            # A class folder without photos would make the whole data set fail its check.
            manifest_path.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()
            warnings.append("no photo of class %s could be fetched; %s not created"
                            % (class_name, folder))
        else:
            summary["manifests"].append(str(manifest_path))
        summary["classes"][class_name] = counts
    return summary


def _has_photos(folder):
    return folder.is_dir() and any(path.is_file() and images.is_image_name(path)
                                   for path in folder.iterdir())


def _known_photos(dest):
    """Fingerprints of the photos already in `dest` (all classes), to refuse copies."""
    known = {"sha256": {}, "infos": [], "names": []}
    if not dest.is_dir():
        return known
    for folder in sorted(p for p in dest.iterdir() if p.is_dir()
                         and not p.name.startswith((".", "_"))):
        for path in sorted(p for p in folder.iterdir() if p.is_file() and images.is_image_name(p)):
            relpath = "%s/%s" % (folder.name, path.name)
            known["sha256"].setdefault(images.file_sha256(path), relpath)
            try:
                known["infos"].append(images.inspect_image(path))
                known["names"].append(relpath)
            except SmartbinError:
                pass  # `smartbin data check` reports broken files; they match nothing.
    return known


def _file_result(url, result, class_name, folder, known, entries):
    """Turn one download result into a manifest entry, writing the photo if it is new."""
    status, payload, extra = result
    if status != "ok":
        return {"skipped": status, "detail": payload, "retry": extra}
    data, info = payload, extra
    digest = hashlib.sha256(data).hexdigest()
    name = "url-%s%s" % (digest[:16], images.SUFFIX_BY_FORMAT[info["format"]])
    relpath = "%s/%s" % (class_name, name)
    existing = known["sha256"].get(digest)
    # Our own file with this name is a duplicate when another URL brought it; with no
    # URL claiming it, an interrupted run wrote it before saving the manifest.
    if existing and (existing != relpath or any(
            entry.get("file") == name for other, entry in entries.items() if other != url)):
        return {"skipped": "duplicate", "detail": "same bytes as " + existing, "retry": False}
    if existing != relpath:
        pairs = images.near_duplicate_pairs([info], others=known["infos"])
        if pairs:
            return {"skipped": "near-duplicate",
                    "detail": "looks like " + known["names"][pairs[0][1]], "retry": False}
        atomic.write_bytes(folder / name, data)
        known["sha256"][digest] = relpath
        known["infos"].append(info)
        known["names"].append(relpath)
    return {"file": name, "sha256": digest}
