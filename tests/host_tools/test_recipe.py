"""The training recipe's parts the bench chose: the backbone cut, batch-norm
re-estimation on clean photos, and option checks."""
import numpy as np
import pytest

from host_tools.model import backbones, train
from host_tools.errors import SmartbinError


@pytest.fixture(scope="module")
def keras():
    return backbones.tensorflow().keras


def test_cut_backbone_ends_after_the_asked_block(keras):
    cut = backbones.build_classifier("mobilenet_v1", 64, "RGB", 3, blocks=12)
    full = backbones.build_classifier("mobilenet_v1", 64, "RGB", 3, blocks=13)
    assert cut.get_layer("backbone").output.shape[1:] == (2, 2, 256)
    assert full.get_layer("backbone").output.shape[1:] == (2, 2, 256)
    assert cut.count_params() == full.count_params() - (9 * 256 + 4 * 256 + 256 * 256 + 4 * 256)
    assert "conv_pw_13" not in [layer.name for layer in cut.get_layer("backbone").layers]


def test_recalibration_sets_statistics_to_the_clean_photos(keras):
    inputs = keras.Input((4, 4, 3))
    norm = keras.layers.BatchNormalization(name="bn")
    model = keras.Model(inputs, norm(inputs))
    rng = np.random.default_rng(0)
    pixels = rng.normal(50.0, 10.0, size=(300, 4, 4, 3)).astype(np.float32)
    assert train.recalibrate_batchnorm(model, pixels, batch_size=64) == 1
    assert np.allclose(norm.moving_mean.numpy(), pixels.mean(axis=(0, 1, 2)), atol=0.5)
    assert np.allclose(norm.moving_variance.numpy(), pixels.var(axis=(0, 1, 2)), rtol=0.1)
    assert norm.momentum == pytest.approx(0.99)


def test_recalibration_leaves_frozen_batch_norm_alone(keras):
    inputs = keras.Input((4, 4, 3))
    norm = keras.layers.BatchNormalization(name="bn")
    model = keras.Model(inputs, norm(inputs))
    norm.trainable = False
    pixels = np.full((16, 4, 4, 3), 80.0, np.float32)
    assert train.recalibrate_batchnorm(model, pixels) == 0
    assert np.allclose(norm.moving_mean.numpy(), 0.0)


@pytest.mark.parametrize("field, value, message", [
    ("augment_style", "fancy", "augment style"),
    ("blocks", 0, "blocks"),
    ("blocks", 14, "blocks"),
])
def test_bad_recipe_options_are_refused(field, value, message):
    options = train.TrainOptions(**{field: value})
    with pytest.raises(SmartbinError, match=message):
        options.check()


def test_defaults_are_the_benchmarked_recipe():
    options = train.TrainOptions()
    assert options.augment_style == "bin" and options.blocks == 12
    assert options.freeze_batchnorm is False and options.recalibrate_batchnorm is True


def test_head_only_training_finishes_and_reports_val_accuracy(tmp_path):
    from host_tools.data import split
    from ml_helpers import make_shapes_dataset

    data_dir = make_shapes_dataset(tmp_path / "photos", per_class=6)
    manifest = split.make_split(data_dir, seed=3)
    summary = train.train(data_dir, manifest, tmp_path / "train", train.TrainOptions(
        input_size=32, head_epochs=1, finetune_epochs=0, weights="none"))
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    assert (tmp_path / "train" / train.MODEL_FILE).is_file()


def test_default_recipe_trains_on_composites_within_the_time_budget():
    options = train.TrainOptions()
    assert options.composite == 0.5 and options.composite_variants == 2
    assert options.finetune_epochs == 18  # 30 with TrashNet alone; sources add photos
    assert options.freeze_blocks == 0 and options.interpolate == 1.0


def test_freezing_blocks_keeps_the_first_blocks_and_trains_the_rest(keras):
    model = backbones.build_classifier("mobilenet_v1", 64, "RGB", 3, blocks=12)
    train._set_backbone_trainable(model, True, False, freeze_blocks=2)
    backbone = model.get_layer("backbone")
    for name in ("conv1", "conv1_bn", "conv_dw_1", "conv_pw_1_bn", "conv_dw_2", "conv_pw_2"):
        assert not backbone.get_layer(name).trainable, name
    for name in ("conv_dw_3", "conv_pw_3_bn", "conv_dw_10", "conv_pw_12"):
        assert backbone.get_layer(name).trainable, name
