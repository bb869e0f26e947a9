"""The train/val/test split: deterministic, stratified, near-duplicates kept together,
and a manifest that is validated when read back."""
import json

import pytest

from data_helpers import make_dataset, near_copy_bytes, photo_bytes
from host_tools.data import split
from host_tools.errors import SmartbinError

COUNTS = {"cardboard": 20, "glass": 30, "trash": 10}


@pytest.fixture
def dataset(tmp_path):
    return make_dataset(tmp_path / "data", COUNTS)


def _labels_in(manifest, subset):
    counts = {}
    for _, label in manifest["subsets"][subset]:
        counts[label] = counts.get(label, 0) + 1
    return counts


def test_split_is_deterministic_and_lists_every_photo_once(dataset):
    first = split.make_split(dataset)
    second = split.make_split(dataset)
    assert first == second
    listed = [path for name in split.SUBSETS for path, _ in first["subsets"][name]]
    assert len(listed) == len(set(listed)) == sum(COUNTS.values())
    assert first["labels"] == ["cardboard", "glass", "trash"]
    assert all(path.startswith(label + "/") for name in split.SUBSETS
               for path, label in first["subsets"][name])


def test_split_is_stratified_per_class(dataset):
    manifest = split.make_split(dataset, test_fraction=0.2, val_fraction=0.1)
    assert _labels_in(manifest, "test") == {"cardboard": 4, "glass": 6, "trash": 2}
    assert _labels_in(manifest, "val") == {"cardboard": 2, "glass": 3, "trash": 1}
    assert _labels_in(manifest, "train") == {"cardboard": 14, "glass": 21, "trash": 7}


def test_seed_changes_which_photos_are_held_out(dataset):
    a = split.make_split(dataset, seed=1)
    b = split.make_split(dataset, seed=2)
    assert a["subsets"]["test"] != b["subsets"]["test"]
    assert _labels_in(a, "test") == _labels_in(b, "test")


def test_adding_a_photo_moves_few_others(dataset):
    before = split.make_split(dataset)
    (dataset / "glass" / "glass99.png").write_bytes(photo_bytes(999))
    after = split.make_split(dataset)
    moved = {path for path, _ in before["subsets"]["train"]} - {
        path for path, _ in after["subsets"]["train"]}
    assert len(moved) <= 1


def test_near_duplicates_never_straddle_subsets(dataset):
    # Copies of 8 glass photos, some filed under another class (as TrashNet has).
    for n in range(1, 9):
        seed = COUNTS["cardboard"] + n - 1  # glass<n>.png was made from this seed
        target = "cardboard" if n % 2 else "glass"
        (dataset / target / ("copy%d.jpg" % n)).write_bytes(near_copy_bytes(seed))
    for seed in range(4):
        manifest = split.make_split(dataset, seed=seed)
        subset_of = {path: name for name in split.SUBSETS
                     for path, _ in manifest["subsets"][name]}
        groups = manifest["near_duplicate_groups"]
        assert len(groups) == 8
        for group in groups:
            assert len(group) == 2
            assert len({subset_of[path] for path in group}) == 1, group


@pytest.mark.parametrize("test_fraction, val_fraction", [(1.0, 0.1), (-0.1, 0.1), (0.6, 0.4)])
def test_bad_fractions_are_refused(dataset, test_fraction, val_fraction):
    with pytest.raises(SmartbinError, match="fraction"):
        split.make_split(dataset, test_fraction=test_fraction, val_fraction=val_fraction)


def test_every_class_keeps_a_training_photo(tmp_path):
    data_dir = make_dataset(tmp_path / "data", {"a": 1, "b": 2, "c": 3})
    manifest = split.make_split(data_dir, test_fraction=0.5, val_fraction=0.4)
    assert _labels_in(manifest, "train") == {"a": 1, "b": 1, "c": 1}


def test_split_refuses_a_corrupt_photo(dataset):
    (dataset / "glass" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(SmartbinError, match="1 image .* does not decode: glass/broken.jpg"):
        split.make_split(dataset)


def test_split_refuses_a_single_class(tmp_path):
    with pytest.raises(SmartbinError, match="only one class"):
        split.make_split(make_dataset(tmp_path / "data", {"glass": 3}))


def test_save_then_load_round_trips(dataset, tmp_path):
    manifest = split.make_split(dataset)
    out = tmp_path / "build" / "split.json"
    split.save_split(manifest, out)
    assert split.load_split(out) == manifest
    assert json.loads(out.read_text()) == manifest


def test_split_files_gives_paths_under_the_data_folder(dataset):
    manifest = split.make_split(dataset)
    pairs = split.split_files(manifest, dataset, "test")
    assert len(pairs) == 12
    for path, label in pairs:
        assert path.is_file() and path.parent.name == label


def test_split_files_refuses_missing_photos_and_unknown_subsets(dataset):
    manifest = split.make_split(dataset)
    path, _ = manifest["subsets"]["val"][0]
    (dataset / path).unlink()
    with pytest.raises(SmartbinError, match="missing from"):
        split.split_files(manifest, dataset, "val")
    with pytest.raises(SmartbinError, match="unknown subset"):
        split.split_files(manifest, dataset, "holdout")


def _good_manifest():
    return {"schema": 1, "seed": 1, "labels": ["a", "b"],
            "subsets": {"train": [["a/1.png", "a"], ["b/1.png", "b"]],
                        "val": [["a/2.png", "a"]], "test": [["b/2.png", "b"]]}}


@pytest.mark.parametrize("breakage, message", [
    (lambda m: m.update(schema=2), "unsupported schema"),
    (lambda m: m.update(labels=["b", "a"]), "sorted list"),
    (lambda m: m["subsets"].pop("val"), "train, val and test"),
    (lambda m: m["subsets"]["test"].append(["a/1.png", "a"]), "in both train and test"),
    (lambda m: m["subsets"]["test"].append(["../etc/passwd", "a"]), "bad path"),
    (lambda m: m["subsets"]["test"].append(["/abs/x.png", "a"]), "bad path"),
    (lambda m: m["subsets"]["test"].append(["c/1.png", "c"]), "unknown label"),
    (lambda m: m["subsets"]["test"].append("a/3.png"), r"\[path, label\]"),
    (lambda m: m["subsets"].update(train=[]), "train is empty"),
])
def test_load_split_rejects_malformed_manifests(tmp_path, breakage, message):
    manifest = _good_manifest()
    breakage(manifest)
    path = tmp_path / "split.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(SmartbinError, match=message):
        split.load_split(path)


def test_load_split_rejects_missing_and_non_json_files(tmp_path):
    with pytest.raises(SmartbinError, match="no split manifest"):
        split.load_split(tmp_path / "nope.json")
    (tmp_path / "split.json").write_text("{not json")
    with pytest.raises(SmartbinError, match="not valid JSON"):
        split.load_split(tmp_path / "split.json")


def test_a_deeply_nested_split_manifest_is_a_one_line_error(tmp_path):
    path = tmp_path / "split.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SmartbinError, match="not valid JSON"):
        split.load_split(path)
