"""Item cut-out and compositing: the mask finds the item on its board, the paste keeps
size and type, and the same seed gives the same picture."""
import numpy as np
import pytest
from PIL import Image

from host_tools.data import backgrounds, camera_look, composite
from host_tools.errors import SmartbinError


def _board_with_square(side=120, colour=(40, 90, 170)):
    """An off-white board, darker towards one corner, with a coloured square in it."""
    ys, xs = np.mgrid[:side, :side]
    light = 240 - 30 * xs / side - 15 * ys / side
    pixels = np.stack([light, light - 2, light - 6], 2)
    pixels[40:80, 50:90] = colour
    return np.clip(pixels, 0, 255).astype(np.uint8)


def test_item_mask_covers_the_item_and_not_the_board():
    alpha = composite.item_mask(_board_with_square())
    assert alpha.shape == (120, 120) and alpha.dtype == np.float32
    assert alpha[45:75, 55:85].min() > 0.9
    board = np.ones_like(alpha, bool)
    board[35:85, 45:95] = False
    assert alpha[board].max() < 0.05


def test_board_model_follows_an_uneven_board_and_ignores_an_item_on_the_edge():
    pixels = _board_with_square()
    pixels[100:, :30] = (20, 20, 20)  # an item touching the edge
    board = composite.board_model(pixels)
    free = np.ones(pixels.shape[:2], bool)
    free[35:85, 45:95] = False
    free[95:, :35] = False
    assert np.abs(board[free] - pixels[free]).max() < 6


def test_cut_out_is_rgba_cropped_to_the_item():
    cut = composite.cut_out(Image.fromarray(_board_with_square()), side=120)
    assert cut.dtype == np.uint8 and cut.shape[2] == 4
    assert 38 <= cut.shape[0] <= 46 and 38 <= cut.shape[1] <= 46
    assert cut[cut.shape[0] // 2, cut.shape[1] // 2, 3] == 255


def test_cut_out_of_a_blank_board_is_none():
    blank = np.full((80, 100, 3), 230, np.uint8)
    assert composite.cut_out(Image.fromarray(blank)) is None


def test_holes_are_filled_and_specks_are_dropped():
    ring = np.zeros((30, 30), bool)
    ring[5:25, 5:25] = True
    ring[10:20, 10:20] = False
    assert composite.fill_holes(ring)[15, 15]
    mask = np.zeros((30, 30), bool)
    mask[2:12, 2:12] = True
    mask[20, 20] = True
    parts = composite.components(mask)
    assert len(parts) == 2 and parts[0].sum() == 100 and parts[1].sum() == 1


def test_paste_gives_a_uint8_picture_of_the_background_size():
    cut = composite.cut_out(Image.fromarray(_board_with_square()))
    ground = backgrounds.procedural("wood", np.random.default_rng(1), 96)
    out = composite.paste(cut, ground, np.random.default_rng(2))
    assert out.shape == (96, 96, 3) and out.dtype == np.uint8
    # The blue item is in the picture; plain wood has no such blue.
    blue = (out[..., 2].astype(int) - out[..., 0]) > 60
    assert blue.sum() > 30
    assert not ((ground[..., 2].astype(int) - ground[..., 0]) > 60).any()


def test_paste_is_deterministic_for_a_seed_and_varies_between_seeds():
    cut = composite.cut_out(Image.fromarray(_board_with_square()))
    ground = backgrounds.procedural("concrete", np.random.default_rng(1), 64)
    first = composite.paste(cut, ground, np.random.default_rng(5))
    again = composite.paste(cut, ground, np.random.default_rng(5))
    other = composite.paste(cut, ground, np.random.default_rng(6))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_paste_refuses_what_is_not_an_rgba_cut_out():
    with pytest.raises(SmartbinError, match="RGBA"):
        composite.paste(np.zeros((5, 5, 3), np.uint8), np.zeros((16, 16, 3)),
                        np.random.default_rng(0))


def test_camera_look_darkens_and_keeps_size_and_type():
    pixels = np.full((48, 48, 3), 200, np.uint8)
    out = camera_look.camera_look(pixels, np.random.default_rng(3))
    assert out.shape == pixels.shape and out.dtype == np.uint8
    assert out.mean() < 190
    again = camera_look.camera_look(pixels, np.random.default_rng(3))
    assert np.array_equal(out, again)
