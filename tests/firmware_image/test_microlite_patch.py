"""The microlite patch is a well-formed diff that adds the bulk buffer and the
internal-RAM arena. (Whether it applies is checked by build.sh against the pinned commit.)"""
import pytest

from .image_checks import IMAGE_DIR, ImageCheckError, check_unified_diff

PATCH = IMAGE_DIR / "patches" / "microlite-bulk-buffer-internal-arena.patch"
TARGET = "micropython-modules/microlite/tensorflow-microlite.c"


def test_patch_adds_tensor_buffer_and_places_the_arena_in_internal_ram():
    added = "\n".join(check_unified_diff(PATCH.read_text())[TARGET])
    # tensor.buffer(): a writable memoryview of bytes over the tensor's own data
    assert "MP_QSTR_buffer" in added
    assert "mp_obj_new_memoryview('B' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW, tensor->bytes" in added
    assert "tensor->data.raw" in added
    # arena: internal RAM when it fits, freed by the interpreter's finaliser
    assert "heap_caps_malloc(len, caps)" in added and "MALLOC_CAP_INTERNAL" in added
    assert "m_new_obj_with_finaliser" in added and "MP_QSTR___del__" in added
    assert "heap_caps_free" in added


def test_a_damaged_hunk_is_detected():
    lines = PATCH.read_text().splitlines()
    first_added = next(i for i, line in enumerate(lines) if line.startswith("+") and not line.startswith("+++"))
    del lines[first_added]
    with pytest.raises(ImageCheckError, match="hunk"):
        check_unified_diff("\n".join(lines) + "\n")
