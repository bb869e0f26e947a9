"""firmware/image/build.sh --inside, run against local stand-ins: git repositories in
place of GitHub, or a folder of source archives (SMARTBIN_FW_SOURCES), holding microlite
files rebuilt from the patches' own context, with CRLF line endings, and a fake idf.py in
place of ESP-IDF. Checks the script's own logic: each pin fetched and checked, the patches
applied, the components declared, the board copied, one firmware.bin."""
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from .git_repos import GIT_ENV, git, repository
from .image_checks import IMAGE_DIR, MANIFEST, read_versions

BOARD = "SMARTBIN_AITHINKER_ESP32CAM"
# A one-hunk patch and the CRLF file it applies to: stands in for patches/ (the real patches
# meet the real microlite sources in make firmware-host, tests/firmware_unix).
STAND_IN_PATCH = """The stand-in patch.

--- a/micropython-modules/microlite/tensorflow-microlite.c
+++ b/micropython-modules/microlite/tensorflow-microlite.c
@@ -1,3 +1,4 @@
 int first;
+int MP_QSTR_buffer;
 int second;
 int third;
"""
MICROLITE_C = b"int first;\r\nint second;\r\nint third;\r\n"


FAKE_IDF = textwrap.dedent('''\
    #!{python}
    """Stands in for ESP-IDF's idf.py: records its arguments, writes the build outputs."""
    import os, sys
    args = sys.argv[1:]
    if args == ["--version"]:
        print("ESP-IDF {idf_version}")
        sys.exit(0)
    with open(os.environ["FAKE_IDF_LOG"], "a") as log:
        log.write(" ".join(args) + "\\n")
    out = args[args.index("-B") + 1]
    for name in ("sdkconfig", "bootloader/bootloader.bin",
                 "partition_table/partition-table.bin", "micropython.bin"):
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            f.write(name)
    ''')

MAKEIMG = textwrap.dedent('''\
    import sys
    sdkconfig, bootloader, table, app, out = sys.argv[1:6]
    with open(out, "wb") as f:
        for part in (bootloader, table, app):
            f.write(open(part, "rb").read())
    ''')


@pytest.fixture
def stand_ins(tmp_path):
    real = read_versions()
    versions = dict(real)
    sources = tmp_path / "upstream"
    stand_ins = {
        "MICROPYTHON": {
            "mpy-cross/Makefile": "all:\n\t@touch built\n",
            "ports/esp32/Makefile": "submodules:\n\t@echo $(BOARD) > submodules.done\n",
            "ports/esp32/makeimg.py": MAKEIMG,
            "ports/esp32/boards/sdkconfig.base": "# stand-in\n",
            "ports/esp32/main/idf_component.yml": 'dependencies:\n  idf:\n    version: ">=5.3.0"\n',
        },
        "MICROLITE": {"micropython-modules/microlite/tensorflow-microlite.c": MICROLITE_C},
        "CAMERA_API": {"micropython.cmake": "# stand-in\n"},
        "ESP32_CAMERA": {"CMakeLists.txt": "# stand-in\n"},
    }
    archives = tmp_path / "archives"
    archives.mkdir()
    for name, files in stand_ins.items():
        repo = sources / name.lower()
        versions[name + "_URL"], versions[name + "_COMMIT"] = repository(
            repo, files, tag=real.get(name + "_TAG"))
        # the same tree as a `git archive` tarball, as in a folder of source archives
        archive = archives / ("%s.tar.gz" % name.lower())
        git(repo, "archive", "--format=tar.gz", "--prefix=%s-x/" % name.lower(),
             "-o", str(archive), "HEAD")
        versions[name + "_ARCHIVE"] = archive.name
        versions[name + "_ARCHIVE_SHA256"] = hashlib.sha256(archive.read_bytes()).hexdigest()

    # a copy of the recipe with the stand-ins' URLs and commits
    project = tmp_path / "project"
    image = project / "firmware" / "image"
    shutil.copytree(IMAGE_DIR, image, ignore=shutil.ignore_patterns("build"))
    shutil.copy(MANIFEST, project / "firmware" / "manifest.py")
    for patch in (image / "patches").glob("*.patch"):
        patch.unlink()
    (image / "patches" / "microlite-1-stand-in.patch").write_text(STAND_IN_PATCH)

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    idf = bin_dir / "idf.py"
    idf.write_text(FAKE_IDF.format(python=sys.executable, idf_version=real["ESP_IDF_VERSION"]))
    idf.chmod(idf.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "python").symlink_to(sys.executable)
    env = dict(os.environ, **GIT_ENV)
    env["PATH"] = "%s:%s" % (bin_dir, env["PATH"])
    env["FAKE_IDF_LOG"] = str(tmp_path / "idf.log")
    env["MAKEFLAGS"] = "BUILD=somewhere-else"  # an outer make's variables must not leak in
    env.pop("SMARTBIN_FW_SOURCES", None)
    env["SMARTBIN_CACHE"] = str(tmp_path / "cache")  # where fetched sources are kept
    fixture = {"image": image, "project": project, "env": env, "versions": versions,
               "log": tmp_path / "idf.log", "archives": archives}
    _write_versions(fixture)
    return fixture


def _run(stand_ins, **env):
    return subprocess.run(["bash", str(stand_ins["image"] / "build.sh"), "--inside"],
                          env=dict(stand_ins["env"], **env), capture_output=True, text=True,
                          timeout=120)


def _write_versions(stand_ins):
    (stand_ins["image"] / "versions.env").write_text(
        "".join("%s=%s\n" % kv for kv in stand_ins["versions"].items()))


def _from_archives_only(stand_ins):
    """SMARTBIN_FW_SOURCES set, every repository URL unreachable: nothing may be fetched."""
    for key in list(stand_ins["versions"]):
        if key.endswith("_URL"):
            stand_ins["versions"][key] = "file:///nonexistent/repository.git"
    _write_versions(stand_ins)
    return {"SMARTBIN_FW_SOURCES": str(stand_ins["archives"])}


@pytest.mark.parametrize("origin", ["git", "archives"])
def test_build_script_prepares_patches_configures_and_leaves_one_image_every_time(stand_ins, origin):
    env = _from_archives_only(stand_ins) if origin == "archives" else {}
    done = _run(stand_ins, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    work = stand_ins["image"] / "build"
    assert (work / "firmware.bin").read_bytes() == (
        b"bootloader/bootloader.binpartition_table/partition-table.binmicropython.bin")

    port = work / "src" / "micropython" / "ports" / "esp32"
    patched = (work / "src" / "tensorflow-micropython-examples" / "micropython-modules"
               / "microlite" / "tensorflow-microlite.c").read_bytes()
    assert b"MP_QSTR_buffer" in patched and b"\r\n" not in patched
    components = (port / "main" / "idf_component.yml").read_text()
    versions = stand_ins["versions"]
    assert 'espressif/esp-tflite-micro:\n    version: "==%s"' % versions["ESP_TFLITE_MICRO_VERSION"] in components
    assert 'espressif/esp-nn:\n    version: "==%s"' % versions["ESP_NN_VERSION"] in components
    assert (port / "components" / "esp32-camera" / "CMakeLists.txt").is_file()
    assert (port / "boards" / BOARD / "partitions.csv").is_file()

    idf_args = stand_ins["log"].read_text()
    assert "-D MICROPY_BOARD=%s" % BOARD in idf_args
    assert "-D USER_C_MODULES=%s" % (stand_ins["image"] / "user_modules" / "micropython.cmake") in idf_args
    assert "-D MICROPY_FROZEN_MANIFEST=%s" % (stand_ins["project"] / "firmware" / "manifest.py") in idf_args

    # a second build starts again from clean sources: one patch, one component entry
    again = _run(stand_ins, **env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (port / "main" / "idf_component.yml").read_text().count("espressif/esp-tflite-micro") == 1


def test_build_script_stops_when_the_patch_does_not_apply(stand_ins):
    versions = stand_ins["versions"]
    versions["MICROLITE_URL"], versions["MICROLITE_COMMIT"] = repository(
        stand_ins["project"].parent / "upstream" / "other-microlite",
        {"micropython-modules/microlite/tensorflow-microlite.c": "int unrelated;\r\n"})
    _write_versions(stand_ins)
    done = _run(stand_ins)
    assert done.returncode != 0
    assert "make firmware: patch microlite-1-stand-in.patch does not apply" in done.stderr
    assert not (stand_ins["image"] / "build" / "firmware.bin").exists()


def test_a_tag_that_moved_is_refused(stand_ins):
    stand_ins["versions"]["CAMERA_API_COMMIT"] = "0" * 40
    _write_versions(stand_ins)
    done = _run(stand_ins)
    assert done.returncode != 0
    assert "not the CAMERA_API_COMMIT of versions.env" in done.stderr
    assert not (stand_ins["image"] / "build" / "firmware.bin").exists()


def test_an_archive_with_another_checksum_is_refused(stand_ins):
    env = _from_archives_only(stand_ins)
    stand_ins["versions"]["MICROLITE_ARCHIVE_SHA256"] = "0" * 64
    _write_versions(stand_ins)
    done = _run(stand_ins, **env)
    assert done.returncode != 0
    assert "is not the MICROLITE_ARCHIVE_SHA256 of versions.env" in done.stderr
    assert not (stand_ins["image"] / "build" / "firmware.bin").exists()


def test_a_missing_archive_is_named(stand_ins):
    env = _from_archives_only(stand_ins)
    (stand_ins["archives"] / stand_ins["versions"]["CAMERA_API_ARCHIVE"]).unlink()
    done = _run(stand_ins, **env)
    assert done.returncode != 0
    messages = [line for line in done.stderr.splitlines() if line.startswith("make firmware:")]
    assert len(messages) == 1 and stand_ins["versions"]["CAMERA_API_ARCHIVE"] in messages[0], done.stderr


def test_an_archive_of_another_commit_is_refused(stand_ins):
    env = _from_archives_only(stand_ins)
    versions = stand_ins["versions"]
    # right checksum, wrong commit: the pin and the archive do not belong together
    versions["CAMERA_API_COMMIT"] = "061c2a65777a717b01ea1a498b6b44f2eb230de7"
    _write_versions(stand_ins)
    done = _run(stand_ins, **env)
    assert done.returncode != 0
    assert "not the CAMERA_API_COMMIT of versions.env" in done.stderr
