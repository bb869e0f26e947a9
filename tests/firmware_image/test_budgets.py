"""The default model, config and debug frames fit the filesystem; the application fits
the app partition (stated budgets for what only an ESP-IDF build can measure)."""
import json

import pytest

from .image_checks import (APP_BASE_BUDGET, CONFIG_JSON, LFS_BLOCK, MANIFEST, PARTITIONS_CSV,
                           ImageCheckError, check_app_fits, check_filesystem_fits,
                           compile_frozen, default_model_sizes, evaluate_manifest,
                           filesystem_plan, micropython_layout, parse_partitions)


def _layout():
    return micropython_layout(parse_partitions(PARTITIONS_CSV.read_text()))


def test_default_model_config_and_debug_frames_fit_the_filesystem():
    _, vfs = _layout()
    model_bytes, json_bytes, frame_bytes, source = default_model_sizes()
    config = json.loads(CONFIG_JSON.read_text())
    plan = filesystem_plan(config, model_bytes, json_bytes, CONFIG_JSON.stat().st_size, frame_bytes)
    free_blocks = check_filesystem_fits(plan, vfs["size"])
    print("\nfilesystem %d KB, model %d KB (%s), free after everything: %d KB = %d more debug frames"
          % (vfs["size"] // 1024, model_bytes // 1024, source, free_blocks * LFS_BLOCK // 1024,
             free_blocks // max(1, -(-frame_bytes // (LFS_BLOCK - 8)))))


def test_filesystem_check_fails_when_the_model_does_not_fit():
    _, vfs = _layout()
    plan = filesystem_plan({}, vfs["size"] // 2, 2048, 2048, 96 * 96 * 2)
    with pytest.raises(ImageCheckError, match="filesystem needs"):
        check_filesystem_fits(plan, vfs["size"])


def test_frozen_application_and_c_modules_fit_the_app_partition(tmp_path):
    app, _ = _layout()
    frozen = sum(compile_frozen(evaluate_manifest(MANIFEST), tmp_path).values())
    left = check_app_fits(frozen, app["size"])
    print("\napp partition %d KB, stated base %d KB, frozen application %d KB, left %d KB"
          % (app["size"] // 1024, sum(APP_BASE_BUDGET.values()) // 1024, frozen // 1024, left // 1024))


def test_app_check_fails_when_the_image_outgrows_the_partition():
    app, _ = _layout()
    with pytest.raises(ImageCheckError, match="factory partition holds"):
        check_app_fits(app["size"] // 2, app["size"], {"core": app["size"] // 2 + 4096})
