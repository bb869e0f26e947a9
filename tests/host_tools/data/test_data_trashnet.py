"""`smartbin data trashnet`: resumable, checksummed download, safe extraction, content
verification, local import; all against a server on 127.0.0.1, never the real network."""
import hashlib
import io
import json
import stat
import zipfile

import pytest

from data_helpers import photo_bytes
from host_tools import cli
from host_tools.data import trashnet
from host_tools.errors import SmartbinError

COUNTS = {"glass": 3, "trash": 2}


def _photos():
    photos, seed = {}, 0
    for label, count in COUNTS.items():
        for n in range(1, count + 1):
            photos["%s/%s%d.jpg" % (label, label, n)] = photo_bytes(seed, "JPEG")
            seed += 1
    return photos


PHOTOS = _photos()
# As for the real set: byte-exact hashes for all classes but trash.
HASHES = {path: hashlib.sha256(data).hexdigest() for path, data in PHOTOS.items()
          if not path.startswith("trash/")}


def _zip(photos=PHOTOS, extra=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dataset-resized/", b"")
        for path, data in photos.items():
            archive.writestr("dataset-resized/" + path, data)
            archive.writestr("__MACOSX/dataset-resized/%s" % path.replace("/", "/._"), b"junk")
        archive.writestr("dataset-resized/.DS_Store", b"junk")
        for name, data, mode in extra:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _get(dest, **kwargs):
    return trashnet.get_trashnet(dest, expected_counts=COUNTS, hashes=HASHES, timeout=5,
                                 **kwargs)


@pytest.fixture
def served_zip(web):
    body = _zip()
    web.routes["/dataset-resized.zip"] = {"body": body}
    return web.url("/dataset-resized.zip"), hashlib.sha256(body).hexdigest()


def test_download_extracts_verified_class_folders_and_rerun_is_a_no_op(tmp_path, web,
                                                                        served_zip):
    url, digest = served_zip
    dest = tmp_path / "data" / "trashnet"
    summary = _get(dest, url=url, sha256=digest)
    assert summary["action"] == "downloaded"
    assert summary["verified_files"] == 3 and summary["count_only_files"] == 2
    for path, data in PHOTOS.items():
        assert (dest / path).read_bytes() == data
    assert sorted(p.name for p in dest.iterdir()) == [".trashnet.json", "glass", "trash"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["trashnet"]  # no .part, no zip
    requests = len(web.requests)
    assert _get(dest, url=url, sha256=digest)["action"] == "already complete"
    assert len(web.requests) == requests


def test_checksum_mismatch_writes_nothing(tmp_path, served_zip):
    url, _ = served_zip
    dest = tmp_path / "data" / "trashnet"
    with pytest.raises(SmartbinError, match="sha256 .*expected " + "0" * 64):
        _get(dest, url=url, sha256="0" * 64)
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize("member, mode", [
    ("../evil.jpg", stat.S_IFREG | 0o644),
    ("/tmp/evil.jpg", stat.S_IFREG | 0o644),
    ("dataset-resized/glass/../../../evil.jpg", stat.S_IFREG | 0o644),
    ("dataset-resized/glass\\..\\..\\evil.jpg", stat.S_IFREG | 0o644),
    ("dataset-resized/glass/link.jpg", stat.S_IFLNK | 0o777),
])
def test_zip_members_escaping_the_folder_abort_the_extraction(tmp_path, web, member, mode):
    body = _zip(extra=[(member, b"/etc/passwd", mode)])
    web.routes["/z.zip"] = {"body": body}
    dest = tmp_path / "data" / "trashnet"
    with pytest.raises(SmartbinError, match="unsafe zip member"):
        _get(dest, url=web.url("/z.zip"), sha256=hashlib.sha256(body).hexdigest())
    assert not dest.exists()
    assert not list(tmp_path.rglob("evil.jpg"))
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["trashnet.zip.part"]


def test_interrupted_download_is_resumed_with_a_range_request(tmp_path, web, served_zip):
    url, digest = served_zip
    web.routes["/dataset-resized.zip"]["break_once"] = 1000
    dest = tmp_path / "trashnet"
    assert _get(dest, url=url, sha256=digest)["action"] == "downloaded"
    assert web.requests == [("/dataset-resized.zip", None),
                            ("/dataset-resized.zip", "bytes=1000-")]


def test_part_file_left_by_an_earlier_run_is_continued(tmp_path, web, served_zip):
    url, digest = served_zip
    dest = tmp_path / "trashnet"
    (tmp_path / "trashnet.zip.part").write_bytes(web.routes["/dataset-resized.zip"]["body"][:700])
    assert _get(dest, url=url, sha256=digest)["action"] == "downloaded"
    assert web.requests == [("/dataset-resized.zip", "bytes=700-")]


def test_server_ignoring_range_restarts_from_zero(tmp_path, web, served_zip):
    url, digest = served_zip
    web.routes["/dataset-resized.zip"]["ranges"] = False
    (tmp_path / "trashnet.zip.part").write_bytes(b"stale bytes from elsewhere")
    assert _get(tmp_path / "trashnet", url=url, sha256=digest)["action"] == "downloaded"


def test_missing_file_is_a_one_line_error(tmp_path, web, capsys):
    dest = tmp_path / "trashnet"
    assert cli.main(["data", "trashnet", "--dest", str(dest), "--url",
                     web.url("/nope.zip"), "--sha256", "a" * 64]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 404" in err
    assert not dest.exists()


def test_second_mirror_is_used_when_the_first_is_missing(tmp_path, web, served_zip,
                                                         monkeypatch):
    url, digest = served_zip
    monkeypatch.setattr(trashnet, "DEFAULT_URLS", (web.url("/gone.zip"), url))
    monkeypatch.setattr(trashnet, "DEFAULT_SHA256", digest)
    summary = _get(tmp_path / "trashnet")
    assert summary["source"] == url and summary["zip_sha256"] == digest


def test_changed_photo_fails_the_content_check(tmp_path, web):
    photos = dict(PHOTOS, **{"glass/glass2.jpg": photo_bytes(99, "JPEG")})
    body = _zip(photos)
    web.routes["/z.zip"] = {"body": body}
    dest = tmp_path / "trashnet"
    with pytest.raises(SmartbinError, match="glass2.jpg differs from the published"):
        _get(dest, url=web.url("/z.zip"), sha256=hashlib.sha256(body).hexdigest())
    assert not dest.exists()


def test_missing_photos_fail_the_count_check(tmp_path, web):
    photos = {k: v for k, v in PHOTOS.items() if k != "trash/trash2.jpg"}
    body = _zip(photos)
    web.routes["/z.zip"] = {"body": body}
    with pytest.raises(SmartbinError, match=r"trash 1 \(expected 2\)"):
        _get(tmp_path / "t", url=web.url("/z.zip"), sha256=hashlib.sha256(body).hexdigest())


def test_import_from_a_local_folder_verifies_and_is_idempotent(tmp_path):
    source = tmp_path / "shared"
    for path, data in PHOTOS.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_bytes(data)
    (source / "SOURCE.md").write_text("notes")
    dest = tmp_path / "data" / "trashnet"
    summary = _get(dest, source=source)
    assert summary["action"] == "imported" and summary["counts"] == COUNTS
    assert (dest / "glass" / "glass1.jpg").read_bytes() == PHOTOS["glass/glass1.jpg"]
    assert json.loads((dest / ".trashnet.json").read_text())["verified_files"] == 3
    assert _get(dest, source=source)["action"] == "already complete"


def test_a_folder_that_is_not_trashnet_is_named_by_its_own_path(tmp_path):
    source = tmp_path / "my-photos"
    for path, data in PHOTOS.items():
        if path != "glass/glass3.jpg":
            (source / path).parent.mkdir(parents=True, exist_ok=True)
            (source / path).write_bytes(data)
    dest = tmp_path / "trashnet"
    with pytest.raises(SmartbinError) as failure:
        _get(dest, source=source)
    assert str(failure.value).startswith("%s is not the TrashNet data set" % source)
    assert ".part" not in str(failure.value)
    assert not dest.exists()


def test_existing_folder_not_made_by_the_command_is_left_alone(tmp_path):
    dest = tmp_path / "trashnet"
    (dest / "glass").mkdir(parents=True)
    (dest / "glass" / "mine.jpg").write_bytes(b"precious")
    with pytest.raises(SmartbinError, match="remove it or choose another --dest"):
        _get(dest, source=tmp_path)
    assert (dest / "glass" / "mine.jpg").read_bytes() == b"precious"


def test_bad_checksum_argument_and_bad_url_are_one_line_errors(tmp_path, capsys):
    assert cli.main(["data", "trashnet", "--dest", str(tmp_path / "t"),
                     "--url", "http://127.0.0.1:1/x.zip", "--sha256", "xyz"]) == 1
    assert "64 hexadecimal digits" in capsys.readouterr().err
    assert cli.main(["data", "trashnet", "--dest", str(tmp_path / "t"),
                     "--url", "file:///etc/passwd"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an http(s) URL" in err


def test_committed_hash_list_covers_every_non_trash_photo():
    hashes = trashnet.known_hashes()
    counts = {}
    for path, digest in hashes.items():
        assert len(digest) == 64 and int(digest, 16) >= 0
        counts[path.split("/")[0]] = counts.get(path.split("/")[0], 0) + 1
    expected = dict(trashnet.EXPECTED_COUNTS)
    del expected["trash"]
    assert counts == expected
