"""The bin-like augmentation: shapes and ranges kept, each step does what it says."""
import numpy as np
import pytest

from host_tools.model import augment, backbones


@pytest.fixture(scope="module")
def tf():
    module = backbones.tensorflow()
    module.random.set_seed(5)
    return module


def _posterboard_batch(count=8, side=32):
    """White board with a dark square object in the middle."""
    images = np.full((count, side, side, 3), 230.0, np.float32)
    images[:, 10:22, 10:22] = (40.0, 90.0, 160.0)
    return images


def test_bin_augment_keeps_shape_and_pixel_range(tf):
    images = _posterboard_batch()
    out = augment.bin_augment(tf.constant(images), 2.0).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert not np.allclose(out, images)


def test_strength_zero_is_the_identity(tf):
    images = _posterboard_batch()
    assert np.array_equal(np.asarray(augment.bin_augment(tf.constant(images), 0.0)), images)


def test_grayscale_batches_are_augmented_too(tf):
    images = _posterboard_batch()[..., :1]
    out = augment.bin_augment(tf.constant(images), 1.0).numpy()
    assert out.shape == images.shape


def test_rgb565_leaves_only_values_the_sensor_can_produce(tf):
    images = tf.constant(np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)), tf.float32)
    out = augment.rgb565(tf, images).numpy()
    assert len(np.unique(out[..., 0])) <= 32 and len(np.unique(out[..., 2])) <= 32
    assert len(np.unique(out[..., 1])) <= 64
    assert np.abs(out - images.numpy()).max() <= 4.0


def test_background_recolours_the_board_and_keeps_the_object(tf):
    images = _posterboard_batch(count=64)
    out = augment.background(tf, tf.constant(images), strength=1.0, probability=1.0).numpy()
    board_change = np.abs(out[:, :4, :4] - images[:, :4, :4]).mean()
    object_change = np.abs(out[:, 13:19, 13:19] - images[:, 13:19, 13:19]).mean()
    assert board_change > 20.0
    assert object_change < 1.0


def test_flash_glare_only_brightens(tf):
    images = _posterboard_batch(count=32) * 0.3
    out = augment.flash_glare(tf, tf.constant(images), strength=1.0, probability=1.0).numpy()
    assert (out >= images - 1e-4).all()
    assert (out.max(axis=(1, 2, 3)) > images.max() + 50).all()


def test_framing_keeps_the_board_colour_when_zooming_out(tf):
    images = _posterboard_batch(count=64)
    out = augment.framing(tf, tf.constant(images), strength=1.0).numpy()
    # No black fill: a zoomed-out image continues the posterboard (darkest input is 40).
    assert out.min() > 35.0
    assert out.shape == images.shape


def test_colour_drop_turns_that_share_of_photos_grey_and_no_others(tf):
    images = _posterboard_batch(count=200)
    # Strength 0 leaves exposure, contrast and white balance alone: only the drop acts.
    grey = augment.light(tf, tf.constant(images), 0.0, colour_drop=1.0).numpy()
    assert np.allclose(grey[..., 0], grey[..., 1]) and np.allclose(grey[..., 1], grey[..., 2])
    kept = augment.light(tf, tf.constant(images), 0.0, colour_drop=0.0).numpy()
    assert np.allclose(kept, images)
    some = augment.light(tf, tf.constant(images), 0.0, colour_drop=0.3).numpy()
    turned = np.mean([np.allclose(photo[..., 0], photo[..., 2]) for photo in some])
    assert 0.15 < turned < 0.45
