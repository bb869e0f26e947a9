"""firmware/image/sources.sh without SMARTBIN_FW_SOURCES: each pinned source is fetched
once (local repositories stand in for GitHub), checked against its pinned commit and kept
as a `git archive` tarball in the cache, where the builds and the tests read it."""
import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile

import pytest

from .git_repos import GIT_ENV, git, repository
from .image_checks import IMAGE_DIR


@pytest.fixture
def recipe(tmp_path):
    """sources.sh beside a versions.env of two tiny sources: one fetched by tag, one by
    commit."""
    image = tmp_path / "image"
    image.mkdir()
    shutil.copy(IMAGE_DIR / "sources.sh", image / "sources.sh")
    upstream = tmp_path / "upstream"
    versions = {}
    versions["ONE_URL"], versions["ONE_COMMIT"] = repository(
        upstream / "one", {"src/one.c": "int one;\n"}, tag="v1.0")
    versions["ONE_TAG"] = "v1.0"
    versions["ONE_ARCHIVE"] = "one-1.0.tar.gz"
    versions["ONE_ARCHIVE_SHA256"] = "0" * 64
    versions["TWO_URL"], versions["TWO_COMMIT"] = repository(
        upstream / "two", {"two.h": "#define TWO 2\n"})
    versions["TWO_ARCHIVE"] = "two-%s.tar.gz" % versions["TWO_COMMIT"][:7]
    versions["TWO_ARCHIVE_SHA256"] = "0" * 64
    env = {k: v for k, v in os.environ.items()
           if k not in ("SMARTBIN_FW_SOURCES", "SMARTBIN_IMAGE_DIR")}
    env.update(GIT_ENV, SMARTBIN_CACHE=str(tmp_path / "cache"))
    fixture = {"image": image, "versions": versions, "env": env, "upstream": upstream,
               "cache": tmp_path / "cache" / "sources"}
    _write_versions(fixture)
    return fixture


def _write_versions(recipe):
    (recipe["image"] / "versions.env").write_text(
        "".join("%s=%s\n" % kv for kv in recipe["versions"].items()))


def _archives(recipe, **env):
    return subprocess.run(["bash", str(recipe["image"] / "sources.sh"), "archives"],
                          env=dict(recipe["env"], **env), capture_output=True, text=True,
                          timeout=60)


def _messages(stderr):
    return [line for line in stderr.splitlines() if line.startswith("firmware sources:")]


def test_each_source_is_fetched_once_into_the_cache(recipe):
    done = _archives(recipe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(recipe["cache"])
    versions = recipe["versions"]
    for name, inside in (("ONE", "src/one.c"), ("TWO", "two.h")):
        archive = recipe["cache"] / versions[name + "_ARCHIVE"]
        recorded = subprocess.run(["git", "get-tar-commit-id"], input=gzip.decompress(archive.read_bytes()),
                                  capture_output=True).stdout.decode().strip()
        assert recorded == versions[name + "_COMMIT"], name
        with tarfile.open(archive) as tar:
            assert [m.name.split("/", 1)[1] for m in tar if m.isfile()] == [inside]
    assert sorted(p.name for p in recipe["cache"].iterdir()) == sorted(
        [versions["ONE_ARCHIVE"], versions["TWO_ARCHIVE"]])  # no temporary files left
    before = {p.name: p.read_bytes() for p in recipe["cache"].iterdir()}

    # the upstream repositories gone: the second run needs none of them
    shutil.rmtree(recipe["upstream"])
    again = _archives(recipe)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(recipe["cache"])
    assert "Fetching" not in again.stderr
    assert {p.name: p.read_bytes() for p in recipe["cache"].iterdir()} == before


def test_a_tag_on_another_commit_is_refused_and_nothing_is_kept(recipe):
    recipe["versions"]["ONE_COMMIT"] = "0" * 40
    _write_versions(recipe)
    done = _archives(recipe)
    assert done.returncode != 0
    messages = _messages(done.stderr)
    assert len(messages) == 1 and "is commit %s, not the ONE_COMMIT of versions.env" % (
        git(recipe["upstream"] / "one", "rev-parse", "HEAD")) in messages[0], done.stderr
    assert not (recipe["cache"] / recipe["versions"]["ONE_ARCHIVE"]).exists()
    assert [p.name for p in recipe["cache"].iterdir()] == []


def test_a_cached_archive_of_another_commit_is_made_again(recipe):
    versions = recipe["versions"]
    other = recipe["upstream"] / "other"
    repository(other, {"stale.c": "int stale;\n"})
    recipe["cache"].mkdir(parents=True)
    stale = recipe["cache"] / versions["TWO_ARCHIVE"]
    git(other, "archive", "--format=tar.gz", "--prefix=two/", "-o", str(stale), "HEAD")
    done = _archives(recipe)
    assert done.returncode == 0, done.stderr
    with tarfile.open(stale) as tar:
        assert [m.name for m in tar if m.isfile()] == ["two-%s/two.h" % versions["TWO_COMMIT"][:7]]


def test_unreachable_upstream_is_one_line_naming_the_way_out(recipe):
    recipe["versions"]["TWO_URL"] = "file:///nonexistent/two.git"
    _write_versions(recipe)
    done = _archives(recipe)
    assert done.returncode != 0
    messages = _messages(done.stderr)
    assert len(messages) == 1, done.stderr
    assert "cannot fetch TWO" in messages[0] and "SMARTBIN_FW_SOURCES" in messages[0]
    assert not [line for line in done.stderr.splitlines()
                if line.startswith(("fatal:", "error:"))], done.stderr
    assert done.stdout == ""


def test_a_supplied_folder_is_checked_by_checksum_and_never_fetched_from(recipe, tmp_path):
    made = _archives(recipe)
    assert made.returncode == 0, made.stderr
    supplied = tmp_path / "supplied"
    shutil.copytree(recipe["cache"], supplied)
    shutil.rmtree(recipe["upstream"])

    # self-made archives are not the reviewed ones versions.env names by SHA256
    done = _archives(recipe, SMARTBIN_FW_SOURCES=str(supplied))
    assert done.returncode != 0
    assert "is not the ONE_ARCHIVE_SHA256 of versions.env" in _messages(done.stderr)[0]

    for name in ("ONE", "TWO"):
        archive = supplied / recipe["versions"][name + "_ARCHIVE"]
        recipe["versions"][name + "_ARCHIVE_SHA256"] = hashlib.sha256(
            archive.read_bytes()).hexdigest()
    _write_versions(recipe)
    done = _archives(recipe, SMARTBIN_FW_SOURCES=str(supplied))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(supplied)
