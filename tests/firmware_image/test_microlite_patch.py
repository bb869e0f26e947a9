"""The microlite patches are well-formed diffs that make the pinned binding fit the pinned
MicroPython and esp-tflite-micro releases and add what the bin needs. (That they apply
and compile, and what the result does, is checked on the real sources by
tests/firmware_unix.)"""
import pytest

from .image_checks import IMAGE_DIR, ImageCheckError, check_unified_diff

PATCHES = IMAGE_DIR / "patches"
BINDING = "micropython-modules/microlite/"


def _added(name):
    found = list(PATCHES.glob(name))
    assert len(found) == 1, name
    return {path: "\n".join(lines) for path, lines in check_unified_diff(found[0].read_text()).items()}


def _removed(name):
    text = next(PATCHES.glob(name)).read_text()
    return "\n".join(line[1:] for line in text.splitlines()
                     if line.startswith("-") and not line.startswith("---"))


def test_bulk_buffer_internal_arena_and_errors_that_raise():
    added = _added("microlite-1-*.patch")[BINDING + "tensorflow-microlite.c"]
    # tensor.buffer(): a writable memoryview of bytes over the tensor's own data
    assert "MP_QSTR_buffer" in added
    assert "mp_obj_new_memoryview('B' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW, tensor->bytes" in added
    # arena: internal RAM when it fits, freed by the interpreter's finaliser (1.27 API)
    assert "heap_caps_malloc(len, caps)" in added and "MALLOC_CAP_INTERNAL" in added
    assert "mp_obj_malloc_with_finaliser(" in added and "MP_QSTR___del__" in added
    assert "heap_caps_free" in added and "libtf_interpreter_deinit" in added
    # a model that cannot run raises instead of leaving a NULL interpreter
    assert "int init_error = libtf_interpreter_init(self);" in added
    assert "mp_raise_msg(&mp_type_RuntimeError" in added


def test_no_patch_uses_apis_that_micropython_1_27_removed():
    for patch in PATCHES.glob("microlite-*.patch"):
        for added in _added(patch.name).values():
            assert "m_new_obj_with_finaliser" not in added, patch.name


def test_audio_frontend_and_its_microfrontend_includes_are_dropped():
    removed = _removed("microlite-2-*.patch")
    assert '#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"' in removed
    assert "MP_QSTR_audio_frontend" in removed
    for added in _added("microlite-2-*.patch").values():
        assert "microfrontend" not in added and "audio" not in added


def test_the_image_resolver_is_static_and_cannot_be_shadowed():
    added = _added("microlite-3-*.patch")[BINDING + "openmv-libtf.cpp"]
    assert '#include "smartbin_ops_resolver.h"' in added
    assert "static smartbin::OpsResolver op_resolver;" in added
    assert "python_ops_resolver.h" not in added.replace("python_ops_resolver.h (every", "")
    assert "MicropythonErrorReporter" not in added
    assert "STATIC microlite::MicropythonErrorReporter" in _removed("microlite-3-*.patch")
    assert "tflite::VerifyModelBuffer(verifier)" in added
    assert (IMAGE_DIR / "user_modules" / "microlite" / "smartbin_ops_resolver.h").is_file()


def test_a_damaged_hunk_is_detected():
    lines = next(PATCHES.glob("microlite-1-*.patch")).read_text().splitlines()
    first_added = next(i for i, line in enumerate(lines) if line.startswith("+") and not line.startswith("+++"))
    del lines[first_added]
    with pytest.raises(ImageCheckError, match="hunk"):
        check_unified_diff("\n".join(lines) + "\n")
