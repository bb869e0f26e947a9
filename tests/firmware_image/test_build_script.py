"""firmware/image/build.sh --inside, run against local stand-ins: git repositories in
place of GitHub (the microlite file rebuilt from the patch's own context, with CRLF line
endings) and a fake idf.py in place of ESP-IDF. Checks the script's own logic: each pin
fetched, the patch applied, the components declared, the board copied, one firmware.bin."""
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from .image_checks import IMAGE_DIR, MANIFEST, read_versions

BOARD = "SMARTBIN_AITHINKER_ESP32CAM"
PATCH = IMAGE_DIR / "patches" / "microlite-bulk-buffer-internal-arena.patch"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo, *args):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def _repo(path, files, tag=None):
    """A local repository with `files`; returns (file:// URL, commit)."""
    path.mkdir(parents=True)
    _git(path, "init", "-q")
    _git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "stand-in")
    if tag:
        _git(path, "tag", tag)
    return "file://%s" % path, _git(path, "rev-parse", "HEAD")


def _old_side_of_patch(patch_text):
    """The patched file as the patch expects it: its context and removed lines at their
    line numbers, filler lines between hunks."""
    lines, wanted = [], 1
    for match in re.finditer(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@.*\n((?:[ +\-\\].*\n|\n)*)",
                             patch_text, re.M):
        start = int(match.group(1))
        while wanted < start:
            lines.append("// filler %d" % wanted)
            wanted += 1
        for body in match.group(3).splitlines():
            if body.startswith((" ", "-")) or body == "":
                lines.append(body[1:])
                wanted += 1
    return "".join(line + "\r\n" for line in lines)


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
    versions["MICROPYTHON_URL"], _ = _repo(sources / "micropython", {
        "mpy-cross/Makefile": "all:\n\t@touch built\n",
        "ports/esp32/Makefile": "submodules:\n\t@echo $(BOARD) > submodules.done\n",
        "ports/esp32/makeimg.py": MAKEIMG,
        "ports/esp32/boards/sdkconfig.base": "# stand-in\n",
        "ports/esp32/main/idf_component.yml": 'dependencies:\n  idf:\n    version: ">=5.3.0"\n',
    }, tag=real["MICROPYTHON_TAG"])
    versions["ULAB_URL"], _ = _repo(sources / "ulab", {"code/micropython.cmake": "# stand-in\n"},
                                    tag=real["ULAB_TAG"])
    versions["MICROLITE_URL"], versions["MICROLITE_COMMIT"] = _repo(sources / "microlite", {
        "micropython-modules/microlite/tensorflow-microlite.c":
            _old_side_of_patch(PATCH.read_text()).encode(),
    })
    versions["CAMERA_API_URL"], versions["CAMERA_API_COMMIT"] = _repo(
        sources / "camera-api", {"src/micropython.cmake": "# stand-in\n"})
    versions["ESP32_CAMERA_URL"], _ = _repo(sources / "esp32-camera", {"CMakeLists.txt": "# stand-in\n"},
                                            tag=real["ESP32_CAMERA_TAG"])

    # a copy of the recipe with the stand-ins' URLs and commits
    project = tmp_path / "project"
    image = project / "firmware" / "image"
    shutil.copytree(IMAGE_DIR, image, ignore=shutil.ignore_patterns("build"))
    shutil.copy(MANIFEST, project / "firmware" / "manifest.py")
    (image / "versions.env").write_text("".join("%s=%s\n" % kv for kv in versions.items()))

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
    return {"image": image, "project": project, "env": env, "versions": versions,
            "log": tmp_path / "idf.log"}


def _run(stand_ins):
    return subprocess.run(["bash", str(stand_ins["image"] / "build.sh"), "--inside"],
                          env=stand_ins["env"], capture_output=True, text=True, timeout=120)


def test_build_script_fetches_patches_configures_and_leaves_one_image_every_time(stand_ins):
    done = _run(stand_ins)
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
    again = _run(stand_ins)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (port / "main" / "idf_component.yml").read_text().count("espressif/esp-tflite-micro") == 1


def test_build_script_stops_when_the_patch_does_not_apply(stand_ins):
    versions = stand_ins["versions"]
    versions["MICROLITE_URL"], versions["MICROLITE_COMMIT"] = _repo(
        stand_ins["project"].parent / "upstream" / "other-microlite",
        {"micropython-modules/microlite/tensorflow-microlite.c": "int unrelated;\r\n"})
    (stand_ins["image"] / "versions.env").write_text("".join("%s=%s\n" % kv for kv in versions.items()))
    done = _run(stand_ins)
    assert done.returncode != 0
    assert "make firmware: patch microlite-bulk-buffer-internal-arena.patch does not apply" in done.stderr
    assert not (stand_ins["image"] / "build" / "firmware.bin").exists()
