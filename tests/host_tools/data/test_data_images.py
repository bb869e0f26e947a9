"""Finding class folders, checking that photos decode, and spotting near-duplicates."""
import pytest
from PIL import Image

from data_helpers import make_dataset, near_copy_bytes, photo_bytes
from host_tools.data import images
from host_tools.errors import SmartbinError


def test_list_class_folders_maps_labels_to_sorted_images(tmp_path):
    make_dataset(tmp_path, {"glass": 2, "paper": 3})
    (tmp_path / "paper" / "urls-manifest.json").write_text("{}")
    (tmp_path / "paper" / ".DS_Store").write_bytes(b"x")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / ".cache").mkdir()
    classes = images.list_class_folders(tmp_path)
    assert list(classes) == ["glass", "paper"]
    assert [p.name for p in classes["paper"]] == ["paper1.png", "paper2.png", "paper3.png"]


@pytest.mark.parametrize("layout, message", [
    ("missing", "does not exist"),
    ("file", "is not a folder"),
    ("empty", "has no class folders"),
    ("empty class", "glass in"),
])
def test_list_class_folders_rejects_unusable_folders(tmp_path, layout, message):
    data_dir = tmp_path / "data"
    if layout == "file":
        data_dir.write_text("x")
    elif layout == "empty":
        data_dir.mkdir()
    elif layout == "empty class":
        make_dataset(data_dir, {"paper": 1})
        (data_dir / "glass").mkdir()
    with pytest.raises(SmartbinError, match=message):
        images.list_class_folders(data_dir)


def test_inspect_image_reports_size_of_a_good_photo(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(photo_bytes(1))
    info = images.inspect_image(path)
    assert (info["width"], info["height"]) == (32, 24)
    assert info["thumb"].shape == (32, 32)


@pytest.mark.parametrize("content", [
    b"not an image at all",
    b"",
    photo_bytes(1, "JPEG")[:200],   # truncated JPEG
    photo_bytes(1, "PNG")[:60],     # truncated PNG
])
def test_inspect_image_rejects_corrupt_files(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(SmartbinError):
        images.inspect_image(path)


def test_inspect_image_keeps_pillows_decompression_bomb_guard(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(SmartbinError, match="decompression bomb|exceeds limit"):
        images.inspect_image(photo_bytes(1))


def test_inspect_image_refuses_images_past_the_pixel_limit(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 32 * 24 - 1)
    with pytest.raises(SmartbinError, match="too large"):
        images.inspect_image(photo_bytes(1))


def test_reencoded_copy_is_a_near_duplicate_but_other_photos_are_not():
    originals = [images.inspect_image(photo_bytes(seed)) for seed in range(30)]
    copy = images.inspect_image(near_copy_bytes(7))
    assert images.near_duplicate_pairs([copy], others=originals) == [(0, 7)]
    assert images.near_duplicate_pairs(originals) == []


def test_same_hash_but_different_object_is_not_a_near_duplicate():
    # A small object on a plain board: the hash is the board's, the thumbnail tells them apart.
    base = Image.new("RGB", (64, 48), (235, 235, 230))
    first, second = base.copy(), base.copy()
    first.paste((20, 20, 20), (28, 20, 36, 28))
    second.paste((250, 120, 0), (28, 20, 36, 28))
    info_a, info_b = images.inspect_image(_png(first)), images.inspect_image(_png(second))
    assert images.hamming(info_a["phash"], info_b["phash"]) <= images.NEAR_DUPLICATE_BITS
    assert images.near_duplicate_pairs([info_a, info_b]) == []


def test_group_near_duplicates_joins_chains_of_copies():
    infos = [images.inspect_image(photo_bytes(seed)) for seed in range(5)]
    infos.append(images.inspect_image(near_copy_bytes(3)))
    infos.append(images.inspect_image(photo_bytes(3, "JPEG", quality=60)))
    groups = images.group_near_duplicates(infos)
    assert [3, 5, 6] in groups
    assert sorted(len(group) for group in groups) == [1, 1, 1, 1, 3]


def _png(image):
    import io
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_thumbnails_with_faint_objects_in_different_places_do_not_match():
    import numpy as np

    board = np.full((32, 32), 200, dtype=np.uint8)
    first, second = board.copy(), board.copy()
    first[4:10, 4:10] = 230   # within the grey-step limit, but elsewhere
    second[20:26, 20:26] = 230
    assert not images.thumbs_match(first, second)
    assert images.thumbs_match(first, np.clip(first.astype(int) + 12, 0, 255).astype(np.uint8))
    assert images.thumbs_match(board, board)


# ---- one decoder, one rule for a usable photo ------------------------------------------

def _encoded(image, fmt, **options):
    import io
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _mid_grey_16bit():
    import numpy as np
    return Image.fromarray(np.full((16, 16), 32768, np.uint16))


@pytest.mark.parametrize("make, fmt, expected", [
    (_mid_grey_16bit, "PNG", 128),                                            # I;16
    (lambda: _mid_grey_16bit().convert("I"), "TIFF", 128),                     # I (32-bit)
    (lambda: Image.new("F", (16, 16), 0.5), "TIFF", 128),                      # float 0..1
    (lambda: Image.new("CMYK", (16, 16), (0, 0, 0, 127)), "JPEG", 128),        # CMYK
    (lambda: Image.new("LA", (16, 16), (0, 0)), "PNG", 255),                   # clear -> white
    (lambda: Image.new("RGBA", (16, 16), (0, 0, 0, 0)), "PNG", 255),
])
def test_photos_that_are_not_8bit_rgb_are_converted_not_clipped(make, fmt, expected):
    import numpy as np
    image, _, _ = images.open_photo(_encoded(make(), fmt))
    pixels = np.asarray(image)
    assert image.mode == "RGB" and pixels.shape == (16, 16, 3)
    assert abs(float(pixels.mean()) - expected) <= 3


def test_a_palette_photo_with_a_transparent_colour_lies_on_white():
    import numpy as np
    picture = Image.new("P", (16, 16), 0)
    picture.putpalette([0, 0, 0] * 256)
    assert np.asarray(images.open_photo(_encoded(picture, "GIF", transparency=0))[0]).min() == 255


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "WEBP"])
def test_a_multi_picture_file_is_its_first_picture(fmt):
    import numpy as np
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((250, 250, 250), (0, 0, 0))]
    data = _encoded(frames[0], fmt, save_all=True, append_images=frames[1:], lossless=True)
    image, image_format, _ = images.open_photo(data)
    assert image_format == fmt and np.asarray(image).mean() > 200


def test_every_format_read_is_saved_under_a_suffix_that_data_check_lists():
    assert all(suffix in images.IMAGE_SUFFIXES for suffix in images.SUFFIX_BY_FORMAT.values())
    assert images.is_image_name("scan.tif") and images.is_image_name("scan.TIFF")


def test_a_format_that_is_not_a_photo_is_refused():
    with pytest.raises(SmartbinError, match="not an image format we read"):
        images.open_photo(_encoded(Image.new("RGB", (16, 16)), "ICO"))


def test_a_truncated_jpeg_is_refused_even_if_pillow_was_told_to_load_truncated_files(
        monkeypatch):
    from PIL import ImageFile
    data = photo_bytes(1, "JPEG", size=(64, 64))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(SmartbinError, match="does not decode"):
        images.open_photo(data[:len(data) // 2])
    with pytest.raises(SmartbinError, match="does not decode"):
        images.inspect_image(data[:len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def _camera_jpeg(progressive=False):
    # a textured picture, as a camera gives: every block carries detail
    import numpy as np
    rng = np.random.default_rng(7)
    pixels = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    return _encoded(Image.fromarray(pixels), "JPEG", quality=85, progressive=progressive)


EOI = b"\xff\xd9"


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("cut, message", [
    (lambda data: data[:len(data) // 2], "does not decode"),                   # cut in half
    (lambda data: data[:len(data) // 2] + EOI, "cut short"),                   # ... + EOI
    (lambda data: data[:len(data) // 10] + EOI, "cut short"),
    (lambda data: data[:-40] + EOI, "cut short"),                              # last blocks
    (lambda data: data[:150], "does not decode"),                              # in the header
    (lambda data: data[:150] + EOI, "does not decode|cut short"),
])
def test_a_jpeg_cut_short_is_refused_even_when_it_ends_with_an_eoi_marker(
        progressive, cut, message, tmp_path):
    data = cut(_camera_jpeg(progressive))
    with pytest.raises(SmartbinError, match=message):
        images.open_photo(data)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data)
    with pytest.raises(SmartbinError, match=message):
        images.inspect_image(path)  # the reduced-scale decode data check uses


@pytest.mark.parametrize("padding", [b"\x00" * 1500, b"\xff" * 64, b"\xff\xff\x00junk\xff\xd9"])
@pytest.mark.parametrize("progressive", [False, True])
def test_a_whole_jpeg_with_padding_after_its_eoi_is_accepted_as_is(padding, progressive):
    # the OV2640 hands over JPEG buffers with padding after the EOI marker
    import numpy as np
    whole = _camera_jpeg(progressive)
    padded, _, size = images.open_photo(whole + padding)
    assert size == (160, 120)
    assert np.array_equal(np.asarray(padded), np.asarray(images.open_photo(whole)[0]))
    images.inspect_image(whole + padding)
