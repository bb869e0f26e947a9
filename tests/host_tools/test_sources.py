"""Training sources: shares set each source's part of the loss, classes stay balanced,
epochs are reproducible and swap in composites at the asked rate."""
import numpy as np
import pytest

from host_tools.model import sources
from host_tools.errors import SmartbinError


def _source(name, labels, share, side=4, value=0):
    labels = np.asarray(labels, np.int64)
    return sources.Source(name, np.full((len(labels), side, side, 3), value, np.uint8), labels,
                          share)


def test_thirty_own_photos_per_class_carry_their_share_against_thousands():
    trashnet = _source("trashnet", [0] * 1250 + [1] * 1250, 1.0)
    mine = _source("mine", [0] * 30 + [1] * 30, 0.5)
    weights = sources.sample_weights([trashnet, mine], 2)
    assert weights.mean() == pytest.approx(1.0)
    own = weights[2500:].sum() / weights.sum()
    assert own == pytest.approx(0.5 / 1.5)
    assert weights[2500] / weights[0] == pytest.approx(0.5 / 60 / (1.0 / 2500))


def test_classes_are_balanced_over_all_sources():
    trashnet = _source("trashnet", [0] * 90 + [1] * 10, 1.0)
    drinking = _source("drinking", [1] * 50, 1.0)
    weights = sources.sample_weights([trashnet, drinking], 2)
    labels = np.array([0] * 90 + [1] * 10 + [1] * 50)
    assert weights[labels == 0].sum() == pytest.approx(weights[labels == 1].sum())
    plain = sources.sample_weights([trashnet, drinking], 2, balance_classes=False)
    assert plain[:100].sum() == pytest.approx(plain[100:].sum())


def test_zero_shares_are_an_error():
    with pytest.raises(SmartbinError, match="shares"):
        sources.sample_weights([_source("a", [0, 1], 0.0)], 2)


def test_epochs_swap_in_variants_at_the_asked_rate_and_repeat_for_a_seed():
    trashnet = _source("trashnet", [0, 1] * 500, 1.0, value=0)
    trashnet.variants = np.full((2, 1000, 4, 4, 3), 200, np.uint8)
    trashnet.variant_chance = 0.3
    pixels, labels, weights = sources.epoch_arrays([trashnet], 2, epoch=3, seed=1)
    swapped = (pixels[:, 0, 0, 0] == 200).mean()
    assert 0.25 < swapped < 0.35
    again, _, _ = sources.epoch_arrays([trashnet], 2, epoch=3, seed=1)
    other, _, _ = sources.epoch_arrays([trashnet], 2, epoch=4, seed=1)
    assert np.array_equal(pixels, again) and not np.array_equal(pixels, other)
    assert (trashnet.pixels == 0).all()  # the source itself is left alone
    assert len(labels) == len(weights) == 1000


def test_a_folder_source_with_a_class_the_model_does_not_learn_is_an_error(tmp_path):
    (tmp_path / "battery").mkdir()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "battery" / "a.jpg")
    spec = {"width": 8, "height": 8, "channels": 3, "colour_order": "RGB", "resize": "bilinear"}
    with pytest.raises(SmartbinError, match="battery"):
        sources.folder_source("mine", tmp_path, ["glass", "metal"], spec, 0.5)
    with pytest.raises(SmartbinError, match="no mine folder"):
        sources.folder_source("mine", tmp_path / "nope", ["glass"], spec, 0.5)


def test_cut_outs_are_cached_and_reused(tmp_path):
    from ml_helpers import make_board_dataset

    data = make_board_dataset(tmp_path / "photos", per_class=2, labels=("disc",))
    paths = sorted((data / "disc").iterdir())
    first = sources.cached_cut_outs(paths, tmp_path / "cache")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    again = sources.cached_cut_outs(paths, tmp_path / "cache")
    assert all(a is not None and np.array_equal(a, b) for a, b in zip(first, again))


def _red_block_cut_out(side=40):
    cut = np.zeros((side, side, 4), np.uint8)
    cut[..., 0] = 220
    cut[..., 3] = 255
    return cut


def _red_extent(pixels):
    """The longer side of the red pixels' box, as a share of the picture's side."""
    pixels = pixels.astype(np.int64)
    ys, xs = np.nonzero((pixels[..., 0] > 150) & (pixels[..., 1] < 90))
    return max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) / pixels.shape[0]


def test_isolated_composites_show_the_item_as_the_bins_crop_frames_it():
    cut = _red_block_cut_out()
    pool = [np.full((192, 192, 3), 110, np.uint8)]
    originals = np.zeros((1, 96, 96, 3), np.uint8)
    extents = {"isolated": [], "whole": []}
    for seed in range(6):
        variants = sources.composite_variants([cut], originals, pool, 96, 2, seed, isolated=1)
        extents["isolated"].append(_red_extent(variants[0, 0]))
        extents["whole"].append(_red_extent(variants[1, 0]))
    # the crop is the item's box plus a cell of margin, made square: the item spans it
    assert min(extents["isolated"]) > 0.7 and np.mean(extents["isolated"]) > 0.85
    assert np.mean(extents["whole"]) < np.mean(extents["isolated"]) - 0.1


def test_an_isolated_composite_is_the_host_rules_crop_of_the_same_scene():
    from host_tools import isolate
    from host_tools.data import backgrounds, composite

    cut = _red_block_cut_out()
    background = np.full((192, 192, 3), 110, np.uint8)
    block = isolate.DEFAULT_SETTINGS
    made = sources.isolated_composite(cut, background, np.random.default_rng(5), block, 96)

    def scene(item):  # the same random steps as isolated_composite takes
        rng = np.random.default_rng(5)
        return composite.paste(item, backgrounds.variant(background, rng, 240), rng)

    invisible = cut.copy()
    invisible[..., 3] = 0
    box = isolate.find_box(isolate.cells_of(scene(cut), 24), isolate.cells_of(
        scene(invisible), 24), block, 96, 96)
    assert box[4] and box[2] < 240
    assert np.array_equal(made, isolate.crop(scene(cut), box, 96, 96))
