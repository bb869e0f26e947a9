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
