"""`smartbin train`: options, the weights download, the backbones and what a run writes."""
import hashlib
import http.server
import json
import threading

import numpy as np
import pytest

from host_tools.model import backbones, train

from host_tools import cli
from host_tools.errors import SmartbinError
from ml_helpers import make_shapes_dataset, pipeline, tiny_options  # noqa: F401 (fixture)

# Keras 3 itself trips NumPy 2's __array__ copy-keyword deprecation.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture
def weights_server():
    """An HTTP server on 127.0.0.1 serving `server.files[name]` at /name."""
    files = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.files = files
    server.base_url = "http://127.0.0.1:%d/" % server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_training_writes_model_history_and_config(pipeline):
    train_dir = pipeline["train"]
    assert (train_dir / train.MODEL_FILE).is_file()
    history = json.loads((train_dir / train.HISTORY_FILE).read_text())
    epochs = len(history["phase"])
    assert epochs >= 1
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(history[key]) == epochs
    config = json.loads((train_dir / train.CONFIG_FILE).read_text())
    assert config["labels"] == ["disc", "square", "triangle"]
    assert config["input"] == {"width": 32, "height": 32, "channels": 3,
                               "colour_order": "RGB", "resize": "bilinear"}
    assert config["options"]["backbone"] == "scratch"


def test_tiny_model_learns_the_shapes(pipeline):
    assert pipeline["summary"]["val_accuracy"] >= 0.8


def test_class_weights_favour_the_small_class():
    weights = train.balanced_class_weights(np.array([0] * 30 + [1] * 10), 2)
    assert weights[1] == pytest.approx(3 * weights[0])
    assert weights[0] * 30 + weights[1] * 10 == pytest.approx(40)


@pytest.mark.parametrize("field, value, message", [
    ("backbone", "resnet", "unknown backbone"),
    ("colour", "BGR", "colour"),
    ("input_size", 8, "input size"),
    ("finetune_epochs", 0, "epochs"),
    ("alpha", 0.3, "alpha"),
    ("head_learning_rate", 0.0, "learning rates"),
    ("finetune_learning_rate", float("nan"), "learning rates"),
    ("finetune_learning_rate", float("inf"), "learning rates"),
    ("dropout", 1.0, "dropout"),
    ("label_smoothing", float("nan"), "label smoothing"),
    ("patience", -1, "patience"),
])
def test_bad_training_options_are_refused(field, value, message):
    options = train.TrainOptions(head_epochs=0, **{field: value})
    with pytest.raises(SmartbinError, match=message):
        options.check()


def test_grayscale_mobilenet_sums_the_rgb_first_convolution(tmp_path):
    keras = backbones.tensorflow().keras
    rgb = keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25,
                                       include_top=False, weights=None)
    weights_path = tmp_path / "rgb.weights.h5"
    rgb.save_weights(weights_path)
    gray = backbones.mobilenet_v1(32, 1, 0.25, weights_path)
    rgb_kernel = rgb.get_layer("conv1").get_weights()[0]
    gray_kernel = gray.get_layer("conv1").get_weights()[0]
    assert gray_kernel.shape == (3, 3, 1, 8)
    np.testing.assert_allclose(gray_kernel[:, :, 0, :], rgb_kernel.sum(axis=2), rtol=1e-6)
    np.testing.assert_array_equal(gray.get_layer("conv_pw_13").get_weights()[0],
                                  rgb.get_layer("conv_pw_13").get_weights()[0])


def test_classifier_normalises_pixels_inside_the_model():
    model = backbones.build_classifier("mobilenet_v1", 32, "RGB", 3, weights_path=None)
    normalise = model.get_layer("normalise")
    out = np.asarray(normalise(np.array([[[[0.0, 127.5, 255.0]]]], np.float32)))
    np.testing.assert_allclose(out.ravel(), [-1.0, 0.0, 1.0], atol=1e-6)


def test_weights_download_into_the_keras_cache_with_hash_check(weights_server, tmp_path,
                                                               monkeypatch):
    payload = b"fake weights " * 1000
    name = backbones.weights_file_name(0.25)
    weights_server.files[name] = payload
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(backbones.WEIGHTS_URL_ENV, weights_server.base_url)
    monkeypatch.setitem(backbones.KNOWN_SHA256, name, hashlib.sha256(payload).hexdigest())
    seen = []
    path = backbones.resolve_weights(0.25, progress=lambda *a: seen.append(a))
    assert path == tmp_path / "keras" / "models" / name
    assert path.read_bytes() == payload
    assert seen[-1] == ("download", len(payload), len(payload))
    # The second call finds the cached file and does not download again.
    weights_server.files.clear()
    assert backbones.resolve_weights(0.25) == path


def test_weights_with_the_wrong_hash_are_not_kept(weights_server, tmp_path, monkeypatch):
    name = backbones.weights_file_name(0.25)
    weights_server.files[name] = b"not the real file"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(SmartbinError, match="sha256"):
        backbones.resolve_weights(0.25, url=weights_server.base_url + name)
    assert not (tmp_path / "keras" / "models" / name).exists()
    assert list((tmp_path / "keras" / "models").iterdir()) == []


def test_offline_download_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(SmartbinError, match="--weights PATH"):
        backbones.resolve_weights(0.25, url="http://127.0.0.1:9/nothing.h5")


def test_missing_weights_file_is_refused():
    with pytest.raises(SmartbinError, match="not found"):
        backbones.resolve_weights(0.25, weights="/no/such/weights.h5")


def test_train_cli_reports_a_missing_split_in_one_line(tmp_path, capsys):
    data = make_shapes_dataset(tmp_path / "photos", per_class=2)
    code = cli.main(["train", str(data), "--split", str(tmp_path / "none.json"),
                     "--out", str(tmp_path / "train")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "train").exists()


def test_train_cli_without_required_arguments_is_a_usage_error(capsys):
    assert cli.main(["train"]) == 2


def test_tiny_options_are_valid():
    tiny_options().check()


def test_mobilenet_head_then_finetune_records_both_phases(pipeline, tmp_path):
    options = tiny_options(backbone="mobilenet_v1", weights="none", head_epochs=2,
                           finetune_epochs=1, augment=0.0)
    stages = []
    summary = train.train(pipeline["data"], pipeline["manifest"], tmp_path / "train", options,
                          progress=lambda stage, done, total, info=None: stages.append(stage))
    history = json.loads((tmp_path / "train" / train.HISTORY_FILE).read_text())
    assert history["phase"] == ["head", "head", "finetune"]
    assert {"decode train", "decode val", "head", "finetune"} <= set(stages)
    assert summary["weights_file"] is None


def test_mobilenet_starts_from_imagenet_weights_unless_told_none(monkeypatch):
    asked = []
    monkeypatch.setattr(backbones, "resolve_weights",
                        lambda alpha, weights, url, progress=None: asked.append(weights) or "w.h5")
    assert train.initial_weights(train.TrainOptions()) == "w.h5"
    assert train.initial_weights(train.TrainOptions(weights="my.h5")) == "w.h5"
    assert asked == [None, "my.h5"]
    assert train.initial_weights(train.TrainOptions(weights="none")) is None
    assert train.initial_weights(train.TrainOptions(backbone="scratch")) is None


def test_training_with_composites_and_your_own_folder_records_its_sources(tmp_path):
    from host_tools.data import split as splits
    from ml_helpers import make_board_dataset

    data = make_board_dataset(tmp_path / "photos", per_class=8)
    mine = make_board_dataset(tmp_path / "mine", per_class=2, start_seed=300)
    manifest = splits.make_split(data, seed=4)
    options = tiny_options(finetune_epochs=1, composite=0.5, composite_variants=1,
                           mine=str(mine), mine_share=0.4, cache_dir=str(tmp_path / "cache"))
    summary = train.train(data, manifest, tmp_path / "train", options)
    assert summary["sources"]["trashnet"]["composite_chance"] == 0.5
    assert summary["sources"]["mine"] == {"photos": 6, "share": 0.4, "composite_chance": 0.0}
    assert summary["counts"]["train"] == len(manifest["subsets"]["train"]) + 6
    assert list((tmp_path / "cache").glob("cutouts-*.npz"))


@pytest.mark.parametrize("field, value, message", [
    ("composite", 1.5, "composite chance"), ("mine_share", -1.0, "mine share"),
    ("freeze_blocks", 12, "freeze blocks"), ("interpolate", 2.0, "interpolate"),
    ("backgrounds", "empty-bin", "composite"), ("isolated_composites", 3, "isolated composites"),
    ("isolated_composites", -1, "isolated composites")])
def test_bad_source_and_robust_fine_tuning_options_are_named(field, value, message):
    with pytest.raises(SmartbinError, match=message):
        tiny_options(backbone="mobilenet_v1", input_size=96, **{field: value}).check()
