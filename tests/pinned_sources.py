"""The pinned upstream sources, read straight from their archives (nothing extracted).

The archives' folder comes from `firmware/image/sources.sh archives`, as the image builds
take them: SMARTBIN_FW_SOURCES when set (each archive's SHA256 and commit checked), else
fetched from GitHub once into the cache. When it cannot provide them, the tests that need
them fail with its one-line message."""
import functools
import subprocess
import tarfile
from pathlib import Path

import pytest

from firmware_image.image_checks import IMAGE_DIR, read_versions

_VERSIONS = read_versions()
MICROPYTHON = _VERSIONS["MICROPYTHON_ARCHIVE"]
CAMERA_API = _VERSIONS["CAMERA_API_ARCHIVE"]
MICROLITE = _VERSIONS["MICROLITE_ARCHIVE"]


@functools.lru_cache(maxsize=None)
def sources_dir():
    done = subprocess.run(["bash", str(IMAGE_DIR / "sources.sh"), "archives"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["exit code %d" % done.returncode]
        pytest.fail("the pinned upstream sources are missing: %s" % lines[-1], pytrace=False)
    return Path(done.stdout.strip().splitlines()[-1])


_TEXT_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".cmake", ".txt", ".py", ".mk", ".csv")


@functools.lru_cache(maxsize=None)
def _files(archive):
    """{path below the archive's top folder: bytes} of an archive's source files, read in
    one pass (a gzip archive cannot seek cheaply); other files map to None."""
    files = {}
    with tarfile.open(sources_dir() / archive) as tar:
        for member in tar:
            if not member.isfile():
                continue
            path = member.name.split("/", 1)[-1]
            name = path.rsplit("/", 1)[-1]
            wanted = name.endswith(_TEXT_SUFFIXES) or name.startswith("sdkconfig")
            files[path] = tar.extractfile(member).read() if wanted else None
    return files


def source_paths(archive):
    return sorted(_files(archive))


@functools.lru_cache(maxsize=None)
def read_source(archive, path):
    """The text of `path` (relative to the archive's top folder) inside a source archive,
    with LF line endings (as the image build converts them)."""
    data = _files(archive).get(path)
    assert data is not None, "%s has no source file %s" % (archive, path)
    return data.decode("utf-8", "replace").replace("\r\n", "\n")
