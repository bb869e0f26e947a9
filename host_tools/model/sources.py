"""The photos training learns from, several sources each with its own weight.

Sources: TrashNet's train split (always); TrashNet's train items moved onto other
backgrounds (composites: every class gets the same backgrounds, so "textured background
means metal or plastic" cannot be learned); the drinking-waste crops of the photos held
for training (`ood.split_drinking_waste`); and a user's own folder of class folders
(`make model MINE=DIR`).

A source's `share` is the part of the training loss it carries (shares are relative);
inside a source every photo weighs the same. So 30 photos per class of a user's own bin
with share 0.5 count as much as 2500 TrashNet photos with share 1 count in half. Class
balance is kept on top: each class's total weight is equalised over all sources.
"""
import dataclasses
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from host_tools.data import backgrounds, composite

from host_tools import contract
from host_tools.errors import SmartbinError

_THREADS = 2


@dataclasses.dataclass
class Source:
    """One training source: uint8 pixels at the model's input size, label indices and its
    share of the loss. `variants` optionally holds other versions of each photo (shape
    V x N x H x W x C, e.g. composites): in each epoch a photo is shown as one of them,
    drawn at random, with chance `variant_chance`, else as itself."""
    name: str
    pixels: np.ndarray
    labels: np.ndarray
    share: float
    variants: np.ndarray = None
    variant_chance: float = 0.0


def sample_weights(sources, num_classes, balance_classes=True):
    """Per-photo weights (concatenated in source order), mean 1: a source's photos share
    its `share`, then (with `balance_classes`) each class's total is equalised."""
    counted = [s for s in sources if len(s.labels)]
    total_share = sum(s.share for s in counted)
    if total_share <= 0:
        raise SmartbinError("the training sources' shares add up to nothing")
    weights = np.concatenate([np.full(len(s.labels), s.share / total_share / len(s.labels))
                              if len(s.labels) else np.zeros(0) for s in sources])
    labels = np.concatenate([s.labels for s in sources])
    per_class = np.bincount(labels, weights=weights, minlength=num_classes)
    present = per_class > 0
    if balance_classes:
        balance = np.where(present, per_class.sum() / (present.sum()
                                                       * np.maximum(per_class, 1e-12)), 0.0)
        weights = weights * balance[labels]
    return (weights * len(weights) / weights.sum()).astype(np.float32)


def epoch_arrays(sources, num_classes, epoch, seed, balance_classes=True):
    """(pixels, labels, weights) of one epoch: each source's photos, each shown as one of
    its variants with the source's `variant_chance`; deterministic per (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    pixels = []
    for source in sources:
        chosen = source.pixels
        if source.variants is not None and len(source.variants) and source.variant_chance:
            count = len(source.labels)
            swap = np.flatnonzero(rng.random(count) < source.variant_chance)
            pick = rng.integers(0, len(source.variants), len(swap))
            chosen = source.pixels.copy()
            chosen[swap] = source.variants[pick, swap]
        pixels.append(chosen)
    return (np.concatenate(pixels), np.concatenate([s.labels for s in sources]),
            sample_weights(sources, num_classes, balance_classes))


def labelled_folder(folder, labels, spec, progress=None, stage="decode"):
    """(pixels, label indices) of every photo of a folder of class folders; a class the
    model does not know is an error."""
    from host_tools.data import images
    from host_tools.model.train import load_pixels

    folder = Path(folder)
    classes = images.list_class_folders(folder)
    unknown = sorted(set(classes) - set(labels))
    if unknown:
        raise SmartbinError("%s has class folder%s %s that the model does not know (it "
                            "knows %s)" % (folder, "s" if len(unknown) > 1 else "",
                                           ", ".join(unknown), ", ".join(labels)))
    files = [(path, label) for label, paths in classes.items() for path in paths]
    return (load_pixels(files, spec, progress, stage=stage),
            np.array([labels.index(label) for _, label in files], np.int64))


def folder_source(name, folder, labels, spec, share, progress=None):
    """A source made of every photo of a folder of class folders (classes the model does
    not know are an error)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SmartbinError("no %s folder at %s" % (name, folder))
    pixels, truth = labelled_folder(folder, labels, spec, progress, stage="decode " + name)
    return Source(name, pixels, truth, share)


def drinking_waste_source(folder, crops, labels, spec, share, progress=None):
    """A source of drinking-waste crops (the ones given, e.g. the training groups)."""
    from host_tools.model.train import load_pixels

    files = [(Path(folder) / crop["file"], crop["label"]) for crop in crops
             if crop["label"] in labels]
    if not files:
        raise SmartbinError("no drinking-waste photos of the model's classes in %s" % folder)
    return Source("drinking-waste", load_pixels(files, spec, progress,
                                                 stage="decode drinking-waste"),
                  np.array([labels.index(label) for _, label in files], np.int64), share)


def cut_outs(paths, progress=None, stage="cut out"):
    """The item cut-out of each photo (None where no item stands out)."""
    def one(path):
        return composite.cut_out(contract.load_image(path))

    found = []
    with ThreadPoolExecutor(_THREADS) as pool:
        for index, cut in enumerate(pool.map(one, paths)):
            found.append(cut)
            if progress:
                progress(stage, index + 1, len(paths))
    return found


def cached_cut_outs(paths, cache_dir=None, progress=None):
    """`cut_outs`, kept in `cache_dir` (one .npz per set of photos, keyed by their paths,
    sizes and times) when a cache folder is given."""
    if cache_dir is None:
        return cut_outs(paths, progress)
    key = hashlib.sha256()
    for path in paths:
        stat = Path(path).stat()
        key.update(("%s|%d|%d\n" % (Path(path).resolve(), stat.st_size, stat.st_mtime_ns))
                   .encode())
    key.update(("side=%d" % composite.WORK_SIDE).encode())
    cache = Path(cache_dir) / ("cutouts-%s.npz" % key.hexdigest()[:16])
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            return [stored["c%d" % i] if "c%d" % i in stored else None
                    for i in range(len(paths))]
    found = cut_outs(paths, progress)
    from host_tools import atomic  # it makes the cache folder, or says why it cannot

    with atomic.atomic_path(cache) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{"c%d" % i: cut for i, cut in enumerate(found) if cut is not None})
    return found


def composite_variants(cutouts, originals, background_pool, size, count, seed, isolated=0):
    """count x N x size x size x 3 uint8: each photo's item on `count` random backgrounds
    from the pool (the original photo where no cut-out exists). The first `isolated`
    variants are made as the bin sees an item when it isolates it (`isolated_composite`)."""
    from host_tools import isolate

    block = isolate.DEFAULT_SETTINGS
    out = np.empty((count,) + originals.shape, np.uint8)
    for variant in range(count):
        for index, cut in enumerate(cutouts):
            if cut is None:
                out[variant, index] = originals[index]
                continue
            rng = np.random.default_rng([seed, variant, index])
            background = background_pool[int(rng.integers(len(background_pool)))]
            if variant < isolated:
                out[variant, index] = isolated_composite(cut, background, rng, block, size)
                continue
            ground = backgrounds.variant(background, rng, size)
            out[variant, index] = composite.paste(cut, ground, rng)
    return out


def isolated_composite(cut, background, rng, block, size):
    """The item on `background` in a camera frame of the isolate block's size, found by the
    bin's rule (`host_tools.isolate`) against the same scene without it (same light, no
    item, no shadow), cropped and resized to size x size as the board does. Training on
    these shows the network items at the scale and framing the bin feeds it."""
    import copy

    from host_tools import isolate

    side = block["frame_width"]
    ground = backgrounds.variant(background, rng, side)
    empty_rng = copy.deepcopy(rng)
    scene = composite.paste(cut, ground, rng)
    invisible = cut.copy()
    invisible[..., 3] = 0
    empty = composite.paste(invisible, ground, empty_rng)
    grid = block["grid"]
    box = isolate.find_box(isolate.cells_of(scene, grid), isolate.cells_of(empty, grid),
                           block, size, size)
    return isolate.crop(scene, box, size, size)


def training_backgrounds(size, seed, drinking_folder=None, drinking_crops=(), folder=None,
                         procedural_count=240):
    """The backgrounds training composites use: procedural `TRAIN_FAMILIES`, the surfaces
    around the drinking-waste training crops, and a user's folder (e.g. empty-bin frames)."""
    rng = np.random.default_rng(seed)
    pool = backgrounds.pool(backgrounds.TRAIN_FAMILIES, rng, size * 2, procedural_count)
    if drinking_folder is not None and drinking_crops:
        pool += backgrounds.surface_patches(drinking_folder, drinking_crops, size * 2)
    if folder:
        pool += backgrounds.folder_backgrounds(folder, size * 2)
    return pool
