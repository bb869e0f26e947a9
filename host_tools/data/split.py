"""A deterministic, stratified train/val/test split of a folder of class folders, saved as
`split.json`, with near-duplicate photos kept together so none straddles train and test.

Manifest::

    {"schema": 1, "seed": 1234, "labels": ["cardboard", ...],
     "fractions": {"test": 0.2, "val": 0.1},
     "subsets": {"train": [["cardboard/cardboard1.jpg", "cardboard"], ...],
                 "val": [...], "test": [...]},
     "near_duplicate_groups": [["glass/glass115.jpg", "metal/metal91.jpg"], ...]}

Paths are relative to the data folder with '/' separators. Fractions are of each class's
photos: by default 20% test, 10% val, 70% train.
"""
import hashlib
import json
from pathlib import Path, PurePosixPath

from host_tools import atomic
from host_tools.data import images
from host_tools.errors import SmartbinError

SCHEMA_VERSION = 1
SUBSETS = ("train", "val", "test")


def _relative(path, data_dir):
    return path.relative_to(data_dir).as_posix()


def _group_label(members):
    # A group whose copies sit in two classes (TrashNet has 3) is filed under its most
    # common label, ties broken by name, so its size counts towards one class's quota.
    counts = {}
    for _, label in members:
        counts[label] = counts.get(label, 0) + 1
    return min(counts, key=lambda label: (-counts[label], label))


def _quota(count, fraction):
    return int(round(count * fraction))


def make_split(data_dir, test_fraction=0.2, val_fraction=0.1, seed=1234, progress=None):
    """Split the photos of `data_dir` (a folder of class folders) into train/val/test.

    Per class, `test_fraction` of its photos go to test and `val_fraction` to val (each
    class keeps at least one training photo). Near-duplicate photos form one group that
    goes to a single subset. The order in which groups are drawn is a hash of the seed and
    the group's first path, so the split depends only on the files and the seed, and adding
    a photo moves few others. Photos that do not decode raise SmartbinError.
    `progress(done, total)` is called while the photos are read.
    """
    for name, value in (("test fraction", test_fraction), ("val fraction", val_fraction)):
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise SmartbinError("%s must be at least 0 and below 1, not %r" % (name, value))
    if test_fraction + val_fraction >= 1:
        raise SmartbinError("test fraction + val fraction must be below 1 (got %g + %g)"
                            % (test_fraction, val_fraction))
    data_dir = Path(data_dir)
    classes = images.list_class_folders(data_dir)
    if len(classes) < 2:
        raise SmartbinError("%s has only one class folder (%s); a classifier needs at least two"
                            % (data_dir, next(iter(classes))))
    items = [(path, label) for label, paths in classes.items() for path in paths]
    infos, failures = images.inspect_images([path for path, _ in items], progress)
    if failures:
        raise SmartbinError(describe_failures(failures, data_dir))

    groups_by_label = {label: [] for label in classes}
    near_duplicates = []
    for indices in images.group_near_duplicates([infos[path] for path, _ in items]):
        members = [(_relative(items[i][0], data_dir), items[i][1]) for i in indices]
        groups_by_label[_group_label(members)].append(members)
        if len(members) > 1:
            near_duplicates.append([relpath for relpath, _ in members])

    subsets = {name: [] for name in SUBSETS}
    for label, groups in groups_by_label.items():
        total = sum(len(group) for group in groups)
        quotas = {"test": _quota(total, test_fraction), "val": _quota(total, val_fraction)}
        # Keep at least one training photo in every class.
        while quotas["test"] + quotas["val"] >= total and (quotas["test"] or quotas["val"]):
            quotas["val" if quotas["val"] else "test"] -= 1
        groups.sort(key=lambda group: hashlib.sha256(
            # surrogateescape: a file name that is not UTF-8 still hashes (to its own bytes).
            ("%s:%s" % (seed, group[0][0])).encode("utf-8", "surrogateescape")).hexdigest())
        filled = {"test": 0, "val": 0}
        for group in groups:
            subset = "train"
            for candidate in ("test", "val"):
                if filled[candidate] < quotas[candidate]:
                    subset = candidate
                    break
            if subset != "train":
                filled[subset] += len(group)
            subsets[subset].extend([relpath, label] for relpath, label in group)
    for name in SUBSETS:
        subsets[name].sort()
    return {
        "schema": SCHEMA_VERSION,
        "seed": seed,
        "labels": sorted(classes),
        "fractions": {"test": test_fraction, "val": val_fraction},
        "subsets": subsets,
        "near_duplicate_groups": near_duplicates,
    }


def describe_failures(failures, data_dir, shown=3):
    """One line naming the photos that do not decode (the first few) and why."""
    names = sorted(failures)
    listed = "; ".join("%s: %s" % (_relative(Path(path), Path(data_dir))
                                   if Path(path).is_relative_to(data_dir) else path,
                                   failures[path])
                       for path in names[:shown])
    more = " (and %d more)" % (len(names) - shown) if len(names) > shown else ""
    return "%d image%s in %s do%s not decode: %s%s" % (
        len(names), "s" if len(names) > 1 else "", data_dir,
        "" if len(names) > 1 else "es", listed, more)


def validate_split(manifest, source="split.json"):
    """Check a parsed split manifest; return it or raise SmartbinError naming the problem."""
    def need(condition, message):
        if not condition:
            raise SmartbinError("%s: %s" % (source, message))

    need(isinstance(manifest, dict), "top level must be an object")
    need(manifest.get("schema") == SCHEMA_VERSION,
         "unsupported schema %r (expected %d)" % (manifest.get("schema"), SCHEMA_VERSION))
    need(isinstance(manifest.get("seed"), int), "'seed' must be an integer")
    labels = manifest.get("labels")
    need(isinstance(labels, list) and len(labels) >= 2
         and all(isinstance(label, str) and label for label in labels)
         and labels == sorted(set(labels)),
         "'labels' must be a sorted list of at least two distinct names")
    subsets = manifest.get("subsets")
    need(isinstance(subsets, dict) and all(name in subsets for name in SUBSETS),
         "'subsets' must have train, val and test")
    seen = {}
    for name in SUBSETS:
        entries = subsets[name]
        need(isinstance(entries, list), "subsets.%s must be a list" % name)
        for entry in entries:
            need(isinstance(entry, list) and len(entry) == 2
                 and all(isinstance(part, str) for part in entry),
                 "subsets.%s entries must be [path, label] pairs" % name)
            relpath, label = entry
            need(label in labels, "subsets.%s: %s has unknown label %r" % (name, relpath, label))
            parts = PurePosixPath(relpath).parts
            need(relpath and "\\" not in relpath and not relpath.startswith("/")
                 and ".." not in parts and len(parts) >= 2,
                 "subsets.%s: bad path %r (must be <class>/<file>, relative)" % (name, relpath))
            need(relpath not in seen, "%s is in both %s and %s"
                 % (relpath, seen.get(relpath), name))
            seen[relpath] = name
    need(subsets["train"], "subsets.train is empty")
    return manifest


def save_split(manifest, path):
    """Validate and write `manifest` to `path` atomically (JSON, one entry a line)."""
    validate_split(manifest, str(path))
    lines = ["{"]
    head = ["schema", "seed", "labels", "fractions"]
    for key in head:
        if key in manifest:
            lines.append("  %s: %s," % (json.dumps(key), json.dumps(manifest[key])))
    lines.append('  "subsets": {')
    for n, name in enumerate(SUBSETS):
        entries = manifest["subsets"][name]
        body = ",\n".join("      " + json.dumps(entry) for entry in entries)
        lines.append("    %s: [%s%s%s]%s" % (json.dumps(name), "\n" if entries else "", body,
                                            "\n    " if entries else "",
                                            "," if n < len(SUBSETS) - 1 else ""))
    rest = [key for key in manifest if key not in head and key != "subsets"]
    lines.append("  }" + ("," if rest else ""))
    for n, key in enumerate(rest):
        lines.append("  %s: %s%s" % (json.dumps(key), json.dumps(manifest[key]),
                                     "," if n < len(rest) - 1 else ""))
    lines.append("}")
    atomic.write_text(path, "\n".join(lines) + "\n")


def load_split(path):
    """Read and validate a split manifest; raise SmartbinError when missing or malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SmartbinError("no split manifest at %s (run `smartbin data split` first)" % path)
    except (OSError, UnicodeDecodeError) as error:
        raise SmartbinError("cannot read %s: %s" % (path, getattr(error, "strerror", error)))
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise SmartbinError("%s is not valid JSON: %s" % (path, error))
    return validate_split(manifest, str(path))


def split_files(manifest, data_dir, subset):
    """The (path, label) pairs of one subset, as paths under `data_dir`.

    Raises SmartbinError for an unknown subset or when a listed photo is missing (the data
    folder changed since the split was made).
    """
    if subset not in SUBSETS:
        raise SmartbinError("unknown subset %r (choose from %s)" % (subset, ", ".join(SUBSETS)))
    data_dir = Path(data_dir)
    pairs = [(data_dir.joinpath(*relpath.split("/")), label)
             for relpath, label in manifest["subsets"][subset]]
    missing = [str(path) for path, _ in pairs if not path.is_file()]
    if missing:
        raise SmartbinError("%d photo%s of the %s split %s missing from %s (first: %s); "
                            "re-run `smartbin data split`"
                            % (len(missing), "s" if len(missing) > 1 else "", subset,
                               "are" if len(missing) > 1 else "is", data_dir, missing[0]))
    return pairs
