"""Backgrounds: every family draws a picture, the held-out families are not the training
ones, surfaces are cut outside the item's box, both box files are read."""
import numpy as np
import pytest
from PIL import Image

from host_tools.data import backgrounds
from host_tools.errors import SmartbinError


@pytest.mark.parametrize("family", sorted(backgrounds.PROCEDURAL))
def test_every_family_draws_a_uint8_square_picture(family):
    picture = backgrounds.procedural(family, np.random.default_rng(0), 40)
    assert picture.shape == (40, 40, 3) and picture.dtype == np.uint8
    assert picture.std() > 0.5


def test_training_yardstick_and_calibration_families_do_not_overlap():
    groups = [set(backgrounds.TRAIN_FAMILIES), set(backgrounds.OOD_FAMILIES),
              set(backgrounds.CALIBRATION_FAMILIES), {backgrounds.CHAMBER}]
    assert sum(len(group) for group in groups) == len(set().union(*groups))
    assert set().union(*groups) == set(backgrounds.PROCEDURAL)


def test_the_chamber_is_the_same_bin_whatever_the_seed():
    first = backgrounds.procedural(backgrounds.CHAMBER, np.random.default_rng(1), 32)
    second = backgrounds.procedural(backgrounds.CHAMBER, np.random.default_rng(2), 32)
    assert np.array_equal(first, second)


def test_unknown_family_is_an_error():
    with pytest.raises(SmartbinError, match="unknown background family"):
        backgrounds.procedural("lava", np.random.default_rng(0), 8)


def test_surface_patch_lies_outside_the_item_box():
    image = np.zeros((256, 256, 3), np.uint8)
    image[64:192, 64:192] = 255  # the item
    patch = backgrounds.surface_patch(image, (64, 64, 192, 192))
    assert patch.shape[0] == patch.shape[1] == 64
    assert patch.max() == 0
    assert backgrounds.surface_patch(image, (10, 10, 250, 250)) is None


def _write_crops(folder, header, rows):
    (folder / "metal").mkdir(parents=True)
    for row in rows:
        Image.new("RGB", (256, 256), (90, 120, 60)).save(folder / row[0])
    return header + "\n" + "\n".join(",".join(row[1:]) for row in rows) + "\n"


def test_reads_boxes_csv_and_crops_csv(tmp_path):
    boxes = tmp_path / "a"
    text = _write_crops(boxes, "file,label,group,box_left,box_top,box_right,box_bottom",
                        [("metal/x.jpg", "metal/x.jpg", "metal", "g1", "64", "70", "192", "187")])
    (boxes / "boxes.csv").write_text(text)
    crops = tmp_path / "b"
    text = _write_crops(crops, "file,original_sha256,box_in_crop_256",
                        [("metal/y.jpg", "metal/y.jpg", "g2", '"64,70,192,187"')])
    (crops / "crops.csv").write_text(text)
    assert backgrounds.read_crops_csv(boxes) == [
        {"file": "metal/x.jpg", "group": "g1", "label": "metal", "box": (64, 70, 192, 187)}]
    assert backgrounds.read_crops_csv(crops) == [
        {"file": "metal/y.jpg", "group": "g2", "label": "metal", "box": (64, 70, 192, 187)}]
    patches = backgrounds.surface_patches(crops, backgrounds.read_crops_csv(crops), 32)
    assert len(patches) == 1 and patches[0].shape == (32, 32, 3)


def test_a_missing_or_bad_box_file_is_a_one_line_error(tmp_path):
    with pytest.raises(SmartbinError, match="boxes.csv or crops.csv"):
        backgrounds.read_crops_csv(tmp_path)
    (tmp_path / "crops.csv").write_text("file,original_sha256,box_in_crop_256\nm/x.jpg,g,1-2\n")
    with pytest.raises(SmartbinError, match="line 2"):
        backgrounds.read_crops_csv(tmp_path)


def test_folder_backgrounds_are_square_and_a_bad_folder_is_named(tmp_path):
    Image.new("RGB", (60, 40), (10, 20, 30)).save(tmp_path / "empty-bin.jpg")
    found = backgrounds.folder_backgrounds(tmp_path, 24)
    assert len(found) == 1 and found[0].shape == (24, 24, 3)
    with pytest.raises(SmartbinError, match="no backgrounds folder"):
        backgrounds.folder_backgrounds(tmp_path / "nope", 24)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SmartbinError, match="no photos"):
        backgrounds.folder_backgrounds(tmp_path / "empty", 24)
