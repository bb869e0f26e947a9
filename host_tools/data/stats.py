"""Inspect a data set: is it usable (`check_dataset`), and what is in it (`dataset_stats`):
per-class counts, class imbalance, exact and near-duplicate photos, and duplicates that
cross the train/val/test split."""
from pathlib import Path

from host_tools.data import images
from host_tools.data.split import SUBSETS, describe_failures
from host_tools.errors import SmartbinError

# Warn when the largest class has more than this many times the photos of the smallest.
IMBALANCE_RATIO = 3.0


def check_dataset(data_dir, progress=None):
    """Check that `data_dir` is a usable folder of class folders; return its counts.

    Needs at least two class folders, each with photos, and every photo must decode.
    Returns {"data_dir", "labels", "counts", "total"}; raises SmartbinError otherwise.
    """
    data_dir = Path(data_dir)
    classes = images.list_class_folders(data_dir)
    if len(classes) < 2:
        raise SmartbinError("%s has only one class folder (%s); a classifier needs at least two"
                            % (data_dir, next(iter(classes))))
    paths = [path for label_paths in classes.values() for path in label_paths]
    _, failures = images.inspect_images(paths, progress)
    if failures:
        raise SmartbinError(describe_failures(failures, data_dir))
    counts = {label: len(label_paths) for label, label_paths in classes.items()}
    return {"data_dir": str(data_dir), "labels": sorted(classes), "counts": counts,
            "total": sum(counts.values())}


def _relative(path, data_dir):
    return Path(path).relative_to(data_dir).as_posix()


def dataset_stats(data_dir, split_manifest=None, progress=None):
    """Describe a data set, and optionally how a split manifest divides it.

    Returns a dict: "counts" per class, "total", "imbalance" (largest / smallest class),
    "exact_duplicates" and "near_duplicates" (lists of groups of relative paths),
    "undecodable" ({path: reason}), with a split also "split" (per-subset per-class
    counts, "groups_across_subsets", "unlisted" photos, "missing" photos), and "warnings"
    (one sentence each). Does not raise for bad photos: it reports them.
    """
    data_dir = Path(data_dir)
    classes = images.list_class_folders(data_dir)
    items = [(path, label) for label, paths in classes.items() for path in paths]
    paths = [path for path, _ in items]
    infos, failures = images.inspect_images(paths, progress)
    counts = {label: len(label_paths) for label, label_paths in classes.items()}
    warnings = []

    largest = max(counts, key=lambda label: (counts[label], label))
    smallest = min(counts, key=lambda label: (counts[label], label))
    imbalance = counts[largest] / counts[smallest]
    if imbalance > IMBALANCE_RATIO:
        warnings.append("class imbalance: %s has %d photos, %s only %d (%.1fx); collect more "
                        "%s photos or rely on class weights" % (
                            largest, counts[largest], smallest, counts[smallest], imbalance,
                            smallest))

    by_digest = {}
    for path in paths:
        by_digest.setdefault(images.file_sha256(path), []).append(_relative(path, data_dir))
    exact = sorted(group for group in by_digest.values() if len(group) > 1)
    decoded = [path for path in paths if path in infos]
    near = [[_relative(decoded[i], data_dir) for i in group]
            for group in images.group_near_duplicates([infos[path] for path in decoded])
            if len(group) > 1]

    def crosses_classes(group):
        return len({relpath.split("/")[0] for relpath in group}) > 1

    cross_class = [group for group in near if crosses_classes(group)]
    if cross_class:
        warnings.append("%d photo%s filed under two classes (near-)identically, e.g. %s" % (
            len(cross_class), "s are" if len(cross_class) > 1 else " is",
            " = ".join(cross_class[0])))
    if failures:
        warnings.append(describe_failures(failures, data_dir))

    report = {
        "data_dir": str(data_dir),
        "labels": sorted(classes),
        "counts": counts,
        "total": len(paths),
        "imbalance": round(imbalance, 2),
        "exact_duplicates": exact,
        "near_duplicates": near,
        "undecodable": {_relative(path, data_dir): reason for path, reason in failures.items()},
        "warnings": warnings,
    }
    if split_manifest is not None:
        # Exact copies that decode are also near-duplicates; keep the rest (undecodable).
        groups = near + [group for group in exact
                         if not any(set(group) <= set(other) for other in near)]
        report["split"] = _split_stats(split_manifest, data_dir, paths, groups, warnings)
    return report


def _split_stats(manifest, data_dir, paths, groups, warnings):
    subset_of = {relpath: name for name in SUBSETS for relpath, _ in manifest["subsets"][name]}
    on_disk = {_relative(path, data_dir) for path in paths}
    counts = {name: {} for name in SUBSETS}
    for name in SUBSETS:
        for _, label in manifest["subsets"][name]:
            counts[name][label] = counts[name].get(label, 0) + 1
    across = []
    for group in groups:
        subsets = sorted({subset_of[relpath] for relpath in group if relpath in subset_of})
        if len(subsets) > 1:
            across.append(group)
    unlisted = sorted(on_disk - set(subset_of))
    missing = sorted(set(subset_of) - on_disk)
    if across:
        warnings.append("%d group%s of duplicate photos straddle%s the split (e.g. %s): test "
                        "scores will be optimistic; re-run `smartbin data split`" % (
                            len(across), "s" if len(across) > 1 else "",
                            "" if len(across) > 1 else "s", ", ".join(
                                "%s (%s)" % (relpath, subset_of.get(relpath, "-"))
                                for relpath in across[0])))
    if unlisted:
        warnings.append("%d photo%s not in the split (e.g. %s); re-run `smartbin data split`"
                        % (len(unlisted), "s are" if len(unlisted) > 1 else " is", unlisted[0]))
    if missing:
        warnings.append("%d photo%s in the split missing from %s (e.g. %s)"
                        % (len(missing), "s" if len(missing) > 1 else "", data_dir, missing[0]))
    return {"counts": counts,
            "sizes": {name: len(manifest["subsets"][name]) for name in SUBSETS},
            "groups_across_subsets": across, "unlisted": unlisted, "missing": missing}
