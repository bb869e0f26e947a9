"""The networks `smartbin train` can build, and the ImageNet weights they start from.

Every model takes the camera's 0..255 pixel values as float input and normalises them
itself (a Rescaling layer), so the exported int8 input is exactly ``pixel - 128``
(see `host_tools.contract`).
"""
import contextlib
import os
import warnings
from pathlib import Path

from host_tools.data import fetch
from host_tools.data.images import file_sha256
from host_tools.errors import SmartbinError

BACKBONES = ("mobilenet_v1", "scratch")
# Keras names its MobileNetV1 files by alpha; the weight shapes do not depend on input
# size, so the 224-px file serves every input size.
_ALPHA_NAMES = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}
WEIGHTS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
# Environment override of WEIGHTS_BASE_URL (a mirror, or a local server in the tests).
WEIGHTS_URL_ENV = "SMARTBIN_WEIGHTS_URL"
# Keras publishes no hashes for these files; this one was checked byte for byte.
KNOWN_SHA256 = {
    "mobilenet_2_5_224_tf_no_top.h5":
        "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf",
}
_DOWNLOAD_TIMEOUT_S = 30
# Keras's 0.99 needs thousands of steps before the inference statistics settle; a
# from-scratch network on a few hundred photos gets far fewer.
_SCRATCH_BN_MOMENTUM = 0.9


def tensorflow():
    """Import TensorFlow quietly (its C++ start-up chatter is not for the user)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


@contextlib.contextmanager
def quiet_keras():
    """Hide warnings Keras raises about itself: NumPy 2's __array__ copy keyword in its own
    code, and that shuffle=True is ignored for a tf.data input (ours is shuffled)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*shuffle=True.*", category=UserWarning)
        yield


def weights_file_name(alpha):
    """The file name Keras uses for MobileNetV1 ImageNet weights without the top."""
    if alpha not in _ALPHA_NAMES:
        raise SmartbinError("MobileNetV1 alpha must be one of %s, not %s"
                            % (", ".join(str(a) for a in _ALPHA_NAMES), alpha))
    return "mobilenet_%s_224_tf_no_top.h5" % _ALPHA_NAMES[alpha]


def keras_cache_dir():
    """Where Keras keeps downloaded application weights (``$KERAS_HOME/models``)."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(keras_home) / "models"


def _check_hash(path, name):
    expected = KNOWN_SHA256.get(name)
    if expected and file_sha256(path) != expected:
        raise SmartbinError("%s has the wrong sha256 (expected %s); delete it and retry"
                            % (path, expected))


def download_weights(url, dest, expected_name, progress=None):
    """Fetch `url` into `dest` (resumable through `dest.part`), checking the known sha256.

    `dest` appears only once the whole file is here and its hash matches.
    """
    dest = Path(dest)
    part_path = dest.with_name(dest.name + ".part")
    try:
        fetch.download_resumable(
            url, part_path, timeout=_DOWNLOAD_TIMEOUT_S,
            progress=(lambda done, total: progress("download", done, total or 0))
            if progress else None)
    except SmartbinError as error:
        raise SmartbinError("%s; if this computer is offline, pass --weights PATH to the file %s"
                            % (error, expected_name))
    try:
        _check_hash(part_path, expected_name)
    except SmartbinError:
        part_path.unlink()
        raise
    os.replace(part_path, dest)
    return dest


def resolve_weights(alpha, weights=None, url=None, progress=None):
    """Path of the MobileNetV1 ImageNet weights: the given file, the Keras cache, or a download.

    `url` (or the SMARTBIN_WEIGHTS_URL environment variable, a base URL) replaces the
    official Keras address.
    """
    name = weights_file_name(alpha)
    if weights:
        path = Path(weights)
        if not path.is_file():
            raise SmartbinError("weights file not found: %s" % path)
        return path
    cached = keras_cache_dir() / name
    if cached.is_file():
        _check_hash(cached, name)
        return cached
    if url is None:
        base = os.environ.get(WEIGHTS_URL_ENV) or WEIGHTS_BASE_URL
        url = base.rstrip("/") + "/" + name
    return download_weights(url, cached, name, progress)


def _rescaling(keras, backbone):
    # MobileNet was trained on pixels in [-1, 1]; the scratch network takes [0, 1].
    if backbone == "mobilenet_v1":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="normalise")
    return keras.layers.Rescaling(1 / 255.0, name="normalise")


def mobilenet_v1(input_size, channels, alpha, weights_path):
    """MobileNetV1 feature extractor; ImageNet weights when `weights_path` is given.

    A grayscale backbone gets the RGB first convolution summed over its input channels,
    which is what the RGB network computes on a gray image.
    """
    keras = tensorflow().keras
    with warnings.catch_warnings():
        # Keras warns that 96 px is not one of its pretrained sizes; the weights fit any size.
        warnings.simplefilter("ignore")
        rgb = keras.applications.MobileNet(
            input_shape=(input_size, input_size, 3), alpha=alpha, include_top=False,
            weights=None)
        if weights_path is not None:
            try:
                rgb.load_weights(str(weights_path))
            except (ValueError, OSError) as error:
                raise SmartbinError("cannot load weights %s into MobileNetV1 alpha %s: %s"
                                    % (weights_path, alpha, str(error).splitlines()[0]))
        if channels == 3:
            rgb.name = "backbone"
            return rgb
        gray = keras.applications.MobileNet(
            input_shape=(input_size, input_size, 1), alpha=alpha, include_top=False,
            weights=None)
    for source, target in zip(rgb.layers, gray.layers):
        values = source.get_weights()
        if source.name == "conv1":
            values = [values[0].sum(axis=2, keepdims=True)]
        target.set_weights(values)
    gray.name = "backbone"
    return gray


def scratch_cnn(input_size, channels):
    """A small CNN trained from nothing, for boards without PSRAM (arena of a few tens of KB)."""
    keras = tensorflow().keras
    inputs = keras.Input((input_size, input_size, channels))
    x = inputs
    for filters in (8, 16, 32, 64):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=_SCRATCH_BN_MOMENTUM)(x)
        x = keras.layers.ReLU(6.0)(x)
        x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=_SCRATCH_BN_MOMENTUM)(x)
        x = keras.layers.ReLU(6.0)(x)
    return keras.Model(inputs, x, name="backbone")


MOBILENET_V1_BLOCKS = 13


def build_classifier(backbone, input_size, colour, num_classes, alpha=0.25,
                     weights_path=None, dropout=0.2, blocks=MOBILENET_V1_BLOCKS):
    """Pixels (0..255 floats) -> normalise -> backbone -> pooling -> softmax over the labels.

    `blocks` < 13 cuts MobileNetV1 after that many depthwise-separable blocks: block 13
    (3x3x256) costs 0.6 M MACs (~30 ms on the ESP32) and, measured, no accuracy.
    """
    keras = tensorflow().keras
    channels = {"RGB": 3, "GRAY": 1}[colour]
    if backbone == "mobilenet_v1":
        features = mobilenet_v1(input_size, channels, alpha, weights_path)
        if blocks < MOBILENET_V1_BLOCKS:
            features.name = "backbone_full"
            features = keras.Model(features.input,
                                   features.get_layer("conv_pw_%d_relu" % blocks).output,
                                   name="backbone")
    elif backbone == "scratch":
        features = scratch_cnn(input_size, channels)
    else:
        raise SmartbinError("unknown backbone %r (choose from %s)"
                            % (backbone, ", ".join(BACKBONES)))
    inputs = keras.Input((input_size, input_size, channels), name="pixels")
    x = _rescaling(keras, backbone)(inputs)
    x = features(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="scores")(x)
    return keras.Model(inputs, outputs, name="smartbin_" + backbone)
