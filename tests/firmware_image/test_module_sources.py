"""The user modules' source and definition lists are written once and read by both builds:
micropython.cmake (the ESP32 image) and micropython.mk (the unix build)."""
import os
import re
import subprocess

from .image_checks import IMAGE_DIR

USER_MODULES = IMAGE_DIR / "user_modules"
APP_MANIFEST = IMAGE_DIR.parent / "manifest.py"


def _entries(path):
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_both_builds_read_the_same_lists_and_name_no_source_themselves():
    for module, lists in (("microlite", ("sources.txt", "defines.txt")),):
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


CMAKE_PROBE = """cmake_minimum_required(VERSION 3.16)
project(probe NONE)
add_library(usermod INTERFACE)
include(${USER_C_MODULES})
get_property(targets DIRECTORY PROPERTY BUILDSYSTEM_TARGETS)
message(STATUS "targets=${targets}")
message(STATUS "manifest=${MICROPY_FROZEN_MANIFEST}")
foreach(target usermod_microlite)
    get_target_property(sources ${target} INTERFACE_SOURCES)
    get_target_property(definitions ${target} INTERFACE_COMPILE_DEFINITIONS)
    message(STATUS "${target} sources=${sources}")
    message(STATUS "${target} definitions=${definitions}")
endforeach()
"""

# USERMOD_DIR as MicroPython's py.mk sets it (a make variable, not a command-line one)
MAKE_PROBE = """USERMOD_DIR := {module_dir}
include $(USERMOD_DIR)/micropython.mk
print:
\t@echo "sources=$(strip $(SRC_USERMOD) $(SRC_USERMOD_C) $(SRC_USERMOD_CXX))"
\t@echo "flags=$(strip $(CFLAGS_USERMOD))"
"""


def _upstream_stand_ins(root):
    """The upstream file the image's cmake file includes, as a small stand-in that does
    what the pinned one does to the build: a target, and its own frozen manifest."""
    camera = root / "micropython-camera-API"
    camera.mkdir(parents=True)
    (camera / "micropython.cmake").write_text(
        "add_library(usermod_mp_camera INTERFACE)\n"
        "set(MICROPY_FROZEN_MANIFEST ${CMAKE_CURRENT_LIST_DIR}/manifest.py)\n")


def test_every_upstream_file_the_image_cmake_includes_is_in_its_pinned_archive():
    from pinned_sources import CAMERA_API, MICROLITE, source_paths

    archives = {"micropython-camera-API": CAMERA_API,
                "tensorflow-micropython-examples": MICROLITE}
    included = []
    for cmake in USER_MODULES.rglob("*.cmake"):
        included += re.findall(r"include\(\$\{SMARTBIN_FW_SRC\}/([^)]+)\)", cmake.read_text())
    assert included
    for path in included:
        top, rest = path.split("/", 1)
        assert rest in source_paths(archives[top]), "%s is not in %s" % (rest, archives[top])
    # what the camera binding's own cmake does to the build (see _upstream_stand_ins)
    from pinned_sources import read_source
    assert "set(MICROPY_FROZEN_MANIFEST" in read_source(CAMERA_API, "micropython.cmake")


def _cmake_targets(tmp_path, sources_root):
    (tmp_path / "cmake").mkdir()
    (tmp_path / "cmake" / "CMakeLists.txt").write_text(CMAKE_PROBE)
    done = subprocess.run(
        ["cmake", "-S", str(tmp_path / "cmake"), "-B", str(tmp_path / "cmake" / "build"),
         "-DUSER_C_MODULES=%s" % (USER_MODULES / "micropython.cmake"),
         "-DMICROPY_FROZEN_MANIFEST=%s" % APP_MANIFEST],
        capture_output=True, text=True, env=dict(os.environ, SMARTBIN_FW_SRC=str(sources_root)))
    assert done.returncode == 0, done.stdout + done.stderr
    found = dict(re.findall(r"-- (usermod_\w+ \w+|targets|manifest)=(.*)", done.stdout))
    return {key: value.split(";") for key, value in found.items()}


def _make_variables(tmp_path, module, sources_root):
    makefile = tmp_path / ("probe-%s.mk" % module)
    makefile.write_text(MAKE_PROBE.format(module_dir=USER_MODULES / module))
    done = subprocess.run(
        ["make", "-s", "-f", str(makefile), "print",
         "SMARTBIN_FW_SRC=%s" % sources_root, "SMARTBIN_TFLM=%s" % (tmp_path / "tflm")],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


def test_the_image_cmake_and_the_unix_makefile_compile_the_same_files_the_same_way(tmp_path):
    sources_root = tmp_path / "src"
    _upstream_stand_ins(sources_root)
    cmake = _cmake_targets(tmp_path, sources_root)
    binding = sources_root / "tensorflow-micropython-examples" / "micropython-modules" / "microlite"
    expected = [str(binding / e[len("upstream/"):]) if e.startswith("upstream/")
                else str(USER_MODULES / "microlite" / e[len("local/"):])
                for e in _entries(USER_MODULES / "microlite" / "sources.txt")]
    assert cmake["usermod_microlite sources"] == expected
    microlite_make = _make_variables(tmp_path, "microlite", sources_root)
    assert microlite_make["sources"].split() == [s for s in expected if s.endswith(".c")] + [
        s for s in expected if s.endswith(".cpp")]
    defines = _entries(USER_MODULES / "microlite" / "defines.txt")
    assert set(defines) <= set(cmake["usermod_microlite definitions"])
    flags = microlite_make["flags"].split()
    assert set("-D" + d for d in defines) <= set(flags)


def test_the_image_has_exactly_microlite_and_the_camera_and_the_unix_build_microlite(tmp_path):
    # no ulab: nothing in firmware/ imports it (docs/firmware-image.md)
    sources_root = tmp_path / "src"
    _upstream_stand_ins(sources_root)
    targets = _cmake_targets(tmp_path, sources_root)["targets"]
    assert sorted(targets) == ["usermod", "usermod_microlite", "usermod_mp_camera"]


def test_the_camera_binding_does_not_replace_the_applications_frozen_manifest(tmp_path):
    sources_root = tmp_path / "src"
    _upstream_stand_ins(sources_root)
    assert _cmake_targets(tmp_path, sources_root)["manifest"] == [str(APP_MANIFEST)]
    # the unix build compiles every folder of user_modules/ that has a micropython.mk
    assert sorted(p.parent.name for p in USER_MODULES.glob("*/micropython.mk")) == ["microlite"]
