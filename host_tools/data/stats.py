"""Inspect a data set: is it usable (`check_dataset`), and what is in it (`dataset_stats`):
per-class counts, class imbalance, exact and near-duplicate photos, and duplicates that
cross the train/val/test split."""
from pathlib import Path

from host_tools.data import images
from host_tools.data.split import SUBSETS, describe_failures, split_files
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
