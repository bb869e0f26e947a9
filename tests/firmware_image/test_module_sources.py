"""The user modules' source and definition lists are written once and read by both builds:
micropython.cmake (the ESP32 image) and micropython.mk (the unix build)."""
import re

from .image_checks import IMAGE_DIR

USER_MODULES = IMAGE_DIR / "user_modules"


def _entries(path):
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_both_builds_read_the_same_lists_and_name_no_source_themselves():
    for module, lists in (("microlite", ("sources.txt", "defines.txt")), ("ulab", ("defines.txt",))):
        cmake = (USER_MODULES / module / "micropython.cmake").read_text()
        make = (USER_MODULES / module / "micropython.mk").read_text()
        for name in lists:
            assert name in cmake and name in make, (module, name)
        # no source file or definition spelled out beside the lists
        for text in (cmake, make):
            assert not re.search(r"\w+\.(c|cc|cpp)\b", text.replace("micropython.mk", "")), module
            for define in _entries(USER_MODULES / module / "defines.txt"):
                assert define not in text, (module, define)


def test_microlite_list_names_existing_local_files_and_no_dropped_upstream_ones():
    entries = _entries(USER_MODULES / "microlite" / "sources.txt")
    assert entries and all(e.startswith(("upstream/", "local/")) for e in entries)
    for entry in entries:
        if entry.startswith("local/"):
            assert (USER_MODULES / "microlite" / entry[len("local/"):]).is_file(), entry
    # gone at the pinned commit, or needing TFLM's microfrontend (not in esp-tflite-micro 1.3)
    for dropped in ("openmv-libtf-updated.cpp", "micropython-error-reporter.cpp",
                    "audio_frontend.c", "python_ops_resolver.cc"):
        assert "upstream/" + dropped not in entries
