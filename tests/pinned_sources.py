"""The pinned upstream sources, read straight from their archives (nothing extracted).

The folder is SMARTBIN_FW_SOURCES, else ../shared/src beside the clone (what CI uses);
without it the tests that need it fail with a message saying how to provide it."""
import functools
import os
import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MICROPYTHON = "micropython-1.27.0.tar.gz"
CAMERA_API = "micropython-camera-API-0.6.2.tar.gz"
MICROLITE = "tensorflow-micropython-examples-bd91b47.tar.gz"


def sources_dir():
    folder = os.environ.get("SMARTBIN_FW_SOURCES") or str(REPO_ROOT.parent / "shared" / "src")
    if not Path(folder, MICROPYTHON).is_file():
        pytest.fail("the pinned upstream sources are missing: set SMARTBIN_FW_SOURCES to a "
                    "folder holding %s, %s and %s (CI: ../shared/src)"
                    % (MICROPYTHON, CAMERA_API, MICROLITE), pytrace=False)
    return Path(folder)


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
