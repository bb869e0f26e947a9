"""`smartbin data drinking-waste`: source photos fetched by path (resumable, checksummed,
mirror after mirror), the archive zip as fallback, crops cut and verified, local import;
all against a server on 127.0.0.1 serving small generated photos, never the real network."""
import hashlib
import io
import json
import zipfile
from collections import namedtuple

import pytest
from PIL import Image

from data_helpers import photo_bytes
from host_tools import cli
from host_tools.data import drinking_waste as dw
from host_tools.errors import SmartbinError

PHOTOS = {7: photo_bytes(1, "JPEG", size=(96, 72)), 8: photo_bytes(2, "JPEG", size=(72, 96)),
          9: photo_bytes(3, "JPEG", size=(80, 80))}
_Spec = namedtuple("_Spec", "file label photo square box")
# Two crops come from photo 9: they share a group, and the photo is fetched once.
SPECS = (_Spec("metal/dw_a.jpg", "metal", 7, (10, 5, 60), (64, 60, 192, 200)),
         _Spec("metal/dw_b.jpg", "metal", 8, (0, 20, 72), (30, 64, 200, 190)),
         _Spec("plastic/dw_c.jpg", "plastic", 9, (30, 10, 50), (64, 64, 192, 192)),
         _Spec("plastic/dw_d.jpg", "plastic", 9, (0, 0, 40), (10, -20, 128, 270)))


def _row(spec, **changes):
    data = PHOTOS[spec.photo]
    row = dw.Crop(spec.file, spec.label, spec.photo, hashlib.sha256(data).hexdigest(),
                  len(data), *spec.square, *spec.box, "", "")
    image = dw.cut_crop(io.BytesIO(data), row)
    row = row._replace(crop_sha256=hashlib.sha256(dw.encode_crop(image)).hexdigest(),
                       thumb=dw.thumbnail(image))
    return row._replace(**changes)


TABLE = [_row(spec) for spec in SPECS]
CROPS = {row.file: dw.encode_crop(dw.cut_crop(io.BytesIO(PHOTOS[row.repo_photo]), row))
         for row in TABLE}
TOP = "opencv_RecyclableWastes_Detection-" + dw.COMMIT


@pytest.fixture(autouse=True)
def no_retry_wait(monkeypatch):
    monkeypatch.setattr(dw, "_RETRY_DELAY", 0)


def _serve(web, prefix, photos=PHOTOS):
    for number, data in photos.items():
        web.routes["%s%s/%d.jpg" % (prefix, dw.PHOTO_FOLDER, number)] = {"body": data}
    return web.url(prefix)


def _archive(photos=PHOTOS):
    """A zip laid out like GitHub's archive of the repository; the photo names do not matter."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(TOP + "/", b"")
        archive.writestr(TOP + "/README.md", b"# readme")
        for number, data in photos.items():
            archive.writestr("%s/%s/renamed_%d.jpg" % (TOP, dw.PHOTO_FOLDER, number), data)
        # Same size as a wanted photo, other bytes: must not be taken for it.
        decoy = bytes(len(PHOTOS[7]))
        archive.writestr("%s/test_data/decoy.jpg" % TOP, decoy)
    return buffer.getvalue()


def _photo_requests(web):
    return [path for path, _ in web.requests if path.endswith(".jpg")]


def _get(dest, **kwargs):
    kwargs.setdefault("archive_url", "http://127.0.0.1:1/no-archive.zip")
    return dw.get_drinking_waste(dest, table=TABLE, timeout=5, **kwargs)


def _assert_complete(dest):
    for file, data in CROPS.items():
        assert (dest / file).read_bytes() == data
    assert sorted(p.name for p in dest.iterdir()) == [".drinking_waste.json", "boxes.csv",
                                                      "metal", "plastic"]


def test_download_cuts_verified_crops_records_boxes_and_rerun_is_a_no_op(tmp_path, web):
    mirror = _serve(web, "/m/")
    dest = tmp_path / "data" / "drinking_waste"
    summary = _get(dest, mirrors=[mirror])
    assert summary["action"] == "downloaded"
    assert summary["counts"] == {"metal": 2, "plastic": 2}
    assert summary["exact_crops"] == 4 and summary["similar_crops"] == 0
    assert summary["originals_checked"] == 3
    _assert_complete(dest)
    assert sorted(_photo_requests(web)) == ["/m/%s/%d.jpg" % (dw.PHOTO_FOLDER, n)
                                            for n in (7, 8, 9)]
    boxes = {row["file"]: row for row in dw.read_boxes(dest)}
    assert boxes["metal/dw_a.jpg"] == {
        "file": "metal/dw_a.jpg", "label": "metal",
        "group": hashlib.sha256(PHOTOS[7]).hexdigest(),
        "box_left": 64, "box_top": 60, "box_right": 192, "box_bottom": 200, "item_cut": 0}
    # An item reaching past the crop's edge: its box is clipped, and it says so.
    assert [boxes["plastic/dw_d.jpg"][key] for key in dw.BOXES_COLUMNS[3:]] == [
        10, 0, 128, 256, 1]
    assert boxes["plastic/dw_c.jpg"]["group"] == boxes["plastic/dw_d.jpg"]["group"]
    assert boxes["metal/dw_a.jpg"]["group"] != boxes["metal/dw_b.jpg"]["group"]
    # No cache, no part file left beside the result.
    assert [p.name for p in dest.parent.iterdir()] == ["drinking_waste"]
    requests = len(web.requests)
    assert _get(dest, mirrors=[mirror])["action"] == "already complete"
    assert len(web.requests) == requests


def test_crop_is_the_square_of_the_photo_resized_to_256():
    photo = Image.new("RGB", (120, 90), (0, 0, 255))
    photo.paste((255, 0, 0), (40, 20, 80, 60))  # the square the crop names
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    row = dw.Crop("metal/x.jpg", "metal", 1, "", 0, 40, 20, 40, 0, 0, 256, 256, "", "")
    crop = dw.cut_crop(io.BytesIO(buffer.getvalue()), row)
    assert crop.size == (256, 256)
    assert crop.getpixel((128, 128)) == (255, 0, 0)
    assert crop.getpixel((3, 3)) == (255, 0, 0) and crop.getpixel((252, 252)) == (255, 0, 0)


def test_crop_square_outside_the_photo_is_refused(tmp_path):
    path = tmp_path / "p.jpg"
    path.write_bytes(PHOTOS[7])
    row = TABLE[0]._replace(crop_left=90)
    with pytest.raises(SmartbinError, match="outside its 96x72 photo"):
        dw.cut_crop(path, row)


def test_interrupted_photo_download_is_resumed_with_a_range_request(tmp_path, web):
    mirror = _serve(web, "/m/")
    path = "/m/%s/7.jpg" % dw.PHOTO_FOLDER
    web.routes[path]["break_once"] = 500
    _get(tmp_path / "dw", mirrors=[mirror])
    assert [(p, r) for p, r in web.requests if p == path] == [(path, None),
                                                               (path, "bytes=500-")]
    _assert_complete(tmp_path / "dw")


def test_photos_left_by_an_interrupted_run_are_kept_and_continued(tmp_path, web):
    mirror = _serve(web, "/m/")
    cache = tmp_path / "dw.originals.part"
    cache.mkdir()
    digest_7 = hashlib.sha256(PHOTOS[7]).hexdigest()
    digest_8 = hashlib.sha256(PHOTOS[8]).hexdigest()
    (cache / (digest_7 + ".jpg")).write_bytes(PHOTOS[7])
    (cache / (digest_8 + ".jpg.part")).write_bytes(PHOTOS[8][:300])
    _get(tmp_path / "dw", mirrors=[mirror])
    assert sorted(web.requests) == [("/m/%s/8.jpg" % dw.PHOTO_FOLDER, "bytes=300-"),
                                    ("/m/%s/9.jpg" % dw.PHOTO_FOLDER, None)]
    _assert_complete(tmp_path / "dw")


def test_a_damaged_photo_in_the_cache_is_fetched_again(tmp_path, web):
    mirror = _serve(web, "/m/")
    cache = tmp_path / "dw.originals.part"
    cache.mkdir()
    damaged = bytearray(PHOTOS[7])
    damaged[100] ^= 0xFF
    (cache / (hashlib.sha256(PHOTOS[7]).hexdigest() + ".jpg")).write_bytes(bytes(damaged))
    _get(tmp_path / "dw", mirrors=[mirror])
    assert "/m/%s/7.jpg" % dw.PHOTO_FOLDER in _photo_requests(web)
    _assert_complete(tmp_path / "dw")


def test_missing_photo_is_taken_from_the_next_mirror(tmp_path, web):
    first = _serve(web, "/first/", {7: PHOTOS[7], 9: PHOTOS[9]})  # 8 answers 404
    second = _serve(web, "/second/")
    summary = _get(tmp_path / "dw", mirrors=[first, second])
    assert summary["action"] == "downloaded"
    assert "/second/%s/8.jpg" % dw.PHOTO_FOLDER in _photo_requests(web)
    assert not any(path.startswith("/second/") and not path.endswith("/8.jpg")
                   for path in _photo_requests(web))
    _assert_complete(tmp_path / "dw")


def test_photo_with_a_wrong_checksum_is_taken_from_the_next_mirror(tmp_path, web):
    first = _serve(web, "/first/", {**PHOTOS, 8: PHOTOS[7]})
    second = _serve(web, "/second/")
    _get(tmp_path / "dw", mirrors=[first, second])
    _assert_complete(tmp_path / "dw")


def test_wrong_checksum_everywhere_fails_and_writes_no_data_set(tmp_path, web):
    mirror = _serve(web, "/m/", {**PHOTOS, 8: PHOTOS[9]})
    dest = tmp_path / "dw"
    with pytest.raises(SmartbinError) as failure:
        _get(dest, mirrors=[mirror], archive_url="")
    message = str(failure.value)
    assert message.startswith("could not get 1 of the 3 drinking-waste photos")
    assert "8.jpg has sha256 %s, expected %s" % (
        hashlib.sha256(PHOTOS[9]).hexdigest(), hashlib.sha256(PHOTOS[8]).hexdigest()) in message
    assert not dest.exists()
    # What arrived is kept for the next run, and only that.
    cached = sorted(p.name for p in (tmp_path / "dw.originals.part").iterdir())
    assert cached == sorted(hashlib.sha256(PHOTOS[n]).hexdigest() + ".jpg" for n in (7, 9))


def test_photos_no_mirror_has_are_picked_from_the_archive_by_sha256(tmp_path, web):
    mirror = _serve(web, "/m/", {7: PHOTOS[7]})
    web.routes["/archive.zip"] = {"body": _archive()}
    dest = tmp_path / "dw"
    summary = _get(dest, mirrors=[mirror], archive_url=web.url("/archive.zip"))
    assert summary["action"] == "downloaded" and summary["exact_crops"] == 4
    _assert_complete(dest)
    assert [p.name for p in tmp_path.iterdir()] == ["dw"]  # the zip is gone too


def test_interrupted_archive_download_is_resumed(tmp_path, web):
    body = _archive()
    web.routes["/archive.zip"] = {"body": body, "break_once": len(body) // 2}
    _get(tmp_path / "dw", mirrors=[], archive_url=web.url("/archive.zip"))
    assert [r for p, r in web.requests if p == "/archive.zip"] == [
        None, "bytes=%d-" % (len(body) // 2)]
    _assert_complete(tmp_path / "dw")


def test_corrupt_archive_is_a_one_line_error_and_is_removed(tmp_path, web):
    web.routes["/archive.zip"] = {"body": b"PK\x03\x04 not really a zip" * 50}
    with pytest.raises(SmartbinError, match="is not a readable zip file.*removed, the next "
                                            "run downloads it anew"):
        _get(tmp_path / "dw", mirrors=[], archive_url=web.url("/archive.zip"))
    assert not (tmp_path / "dw.archive.zip.part").exists()
    assert not (tmp_path / "dw").exists()


def test_local_archive_zip_or_folder_replaces_the_download(tmp_path, web):
    zip_path = tmp_path / "repo.zip"
    zip_path.write_bytes(_archive())
    assert _get(tmp_path / "from-zip", archive=zip_path)["action"] == "made"
    _assert_complete(tmp_path / "from-zip")
    folder = tmp_path / "clone"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    assert _get(tmp_path / "from-folder", archive=folder)["action"] == "made"
    _assert_complete(tmp_path / "from-folder")
    assert web.requests == []


def test_archive_without_one_of_the_photos_names_what_is_missing(tmp_path):
    zip_path = tmp_path / "repo.zip"
    zip_path.write_bytes(_archive({7: PHOTOS[7], 9: PHOTOS[9]}))
    with pytest.raises(SmartbinError, match="could not get 1 of the 3 drinking-waste photos "
                                            "from %s" % zip_path):
        _get(tmp_path / "dw", archive=zip_path)


def test_offline_is_a_one_line_error_pointing_at_from(tmp_path, monkeypatch, capsys):
    table_file = tmp_path / "table.csv"
    dw.write_table(TABLE, table_file)
    monkeypatch.setattr(dw, "TABLE_FILE", table_file)
    monkeypatch.setattr(dw, "DEFAULT_MIRRORS", ("http://127.0.0.1:1/a/", "http://127.0.0.1:1/b/"))
    monkeypatch.setattr(dw, "DEFAULT_ARCHIVE_URL", "http://127.0.0.1:1/archive.zip")
    dest = tmp_path / "dw"
    assert cli.main(["data", "drinking-waste", "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "could not get 3 of the 3 drinking-waste photos" in err
    assert "refused" in err.lower() and "--from DIR" in err
    assert not dest.exists()


def test_crop_encoded_by_another_pillow_is_accepted_by_its_thumbnail(tmp_path, web):
    mirror = _serve(web, "/m/")
    table = [TABLE[0]._replace(crop_sha256="0" * 64)] + TABLE[1:]
    summary = dw.get_drinking_waste(tmp_path / "dw", table=table, mirrors=[mirror],
                                    archive_url="", timeout=5)
    assert summary["exact_crops"] == 3 and summary["similar_crops"] == 1


def test_crop_that_does_not_look_like_the_published_one_is_refused(tmp_path, web):
    mirror = _serve(web, "/m/")
    # The published thumbnail is another photo's: the cut crop cannot pass for it.
    table = [TABLE[0]._replace(crop_sha256="0" * 64, thumb=TABLE[1].thumb)] + TABLE[1:]
    dest = tmp_path / "dw"
    with pytest.raises(SmartbinError, match=r"metal/dw_a.jpg cut from photo 7.jpg does not "
                                            r"look like the published crop"):
        dw.get_drinking_waste(dest, table=table, mirrors=[mirror], archive_url="",
                              timeout=5)
    assert not dest.exists()


def _crop_folder(root, crops=CROPS):
    for file, data in crops.items():
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        (root / file).write_bytes(data)
    (root / "SOURCE.md").write_text("notes")
    return root


def test_import_from_a_local_folder_verifies_and_is_idempotent(tmp_path):
    source = _crop_folder(tmp_path / "shared")
    dest = tmp_path / "data" / "drinking_waste"
    summary = _get(dest, source=source)
    assert summary["action"] == "imported" and summary["exact_crops"] == 4
    _assert_complete(dest)
    assert len(dw.read_boxes(dest)) == 4
    assert json.loads((dest / dw.MARKER).read_text())["counts"] == {"metal": 2, "plastic": 2}
    assert _get(dest, source=source)["action"] == "already complete"


def test_import_of_a_folder_with_a_tampered_crop_fails_and_writes_nothing(tmp_path):
    tampered = bytearray(CROPS["plastic/dw_c.jpg"])
    tampered[-10] ^= 0x01
    source = _crop_folder(tmp_path / "copy", dict(CROPS, **{"plastic/dw_c.jpg": tampered}))
    dest = tmp_path / "dw"
    with pytest.raises(SmartbinError) as failure:
        _get(dest, source=source)
    assert str(failure.value) == ("plastic/dw_c.jpg differs from the published drinking-waste "
                                  "crop (sha256), in %s" % source)
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]


@pytest.mark.parametrize("change, message", [
    ({"metal/extra.jpg": photo_bytes(5, "JPEG")}, "metal/extra.jpg is not one of its crops"),
    ({"metal/dw_b.jpg": None}, "metal/dw_b.jpg is missing"),
])
def test_import_of_a_folder_with_other_crops_fails(tmp_path, change, message):
    crops = {file: data for file, data in dict(CROPS, **change).items() if data is not None}
    source = _crop_folder(tmp_path / "copy", crops)
    with pytest.raises(SmartbinError, match="%s is not the drinking-waste set: %s"
                                            % (source, message)):
        _get(tmp_path / "dw", source=source)
    assert not (tmp_path / "dw").exists()


def test_existing_folder_not_made_by_the_command_is_left_alone(tmp_path):
    dest = tmp_path / "dw"
    (dest / "metal").mkdir(parents=True)
    (dest / "metal" / "mine.jpg").write_bytes(b"precious")
    with pytest.raises(SmartbinError, match="remove it or choose another --dest"):
        _get(dest, source=_crop_folder(tmp_path / "copy"))
    assert (dest / "metal" / "mine.jpg").read_bytes() == b"precious"


def test_too_little_disk_space_is_refused_before_downloading(tmp_path, web, monkeypatch):
    mirror = _serve(web, "/m/")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(dw.shutil, "disk_usage", lambda path: usage(10 << 20, 9 << 20, 1 << 20))
    with pytest.raises(SmartbinError, match=r"not enough disk space in .*: 1 MB free, about "
                                            r"\d+ MB needed"):
        _get(tmp_path / "dw", mirrors=[mirror])
    assert web.requests == []


def test_cli_reports_the_crops_and_json(tmp_path, web, monkeypatch, capsys):
    table_file = tmp_path / "table.csv"
    dw.write_table(TABLE, table_file)
    monkeypatch.setattr(dw, "TABLE_FILE", table_file)
    monkeypatch.setattr(dw, "DEFAULT_MIRRORS", (_serve(web, "/m/"),))
    dest = tmp_path / "dw"
    assert cli.main(["data", "drinking-waste", "--dest", str(dest)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("downloaded drinking-waste crops into %s: 4 (metal 2, plastic 2); "
                          "cut from 3 source photos checked by sha256; 4 crops equal" % dest)
    assert cli.main(["data", "drinking-waste", "--dest", str(dest), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "already complete"


def test_bad_boxes_file_is_a_one_line_error(tmp_path):
    (tmp_path / "boxes.csv").write_text("file,label\nmetal/a.jpg,metal\n")
    with pytest.raises(SmartbinError, match="is not a drinking-waste boxes.csv"):
        dw.read_boxes(tmp_path)


def test_committed_table_describes_the_966_published_crops():
    table = dw.load_table()
    assert dw.expected_counts(table) == {"metal": 351, "plastic": 615}
    assert len({row.file for row in table}) == 966
    assert len({row.original_sha256 for row in table}) == 966
    assert len({row.repo_photo for row in table}) == 966
    for row in table:
        assert row.file.startswith(row.label + "/dw_" + row.original_sha256[:12])
        assert len(bytes.fromhex(row.original_sha256)) == 32
        assert len(bytes.fromhex(row.crop_sha256)) == 32
        assert len(bytes.fromhex(row.thumb)) == dw.THUMB_SIDE ** 2
        assert row.crop_left >= 0 and row.crop_top >= 0 and row.crop_side > 0
        # The item's box overlaps the crop (some long bottles reach past its edge).
        assert row.box_left < row.box_right and row.box_top < row.box_bottom
        assert row.box_left < 256 and row.box_top < 256
        assert row.box_right > 0 and row.box_bottom > 0
        assert 10_000 < row.original_bytes < 1_000_000


def test_make_data_gets_the_drinking_waste_crops_unless_told_not_to(tmp_path):
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]

    def dry_run(*variables):
        return subprocess.run(["make", "-n", "--no-print-directory", "data",
                               "VENV=%s" % (tmp_path / "venv"), *variables], cwd=repo,
                              capture_output=True, text=True, timeout=60, check=True).stdout

    assert "smartbin data drinking-waste --dest data/drinking_waste\n" in dry_run()
    assert "smartbin data drinking-waste --dest %s/dw\n" % tmp_path in dry_run(
        "DATA=mine", "DRINKING_WASTE=%s/dw" % tmp_path)
    assert "drinking-waste" not in dry_run("DRINKING_WASTE=")


def test_missing_local_copies_are_one_line_errors(tmp_path, monkeypatch, capsys):
    table_file = tmp_path / "table.csv"
    dw.write_table(TABLE, table_file)
    monkeypatch.setattr(dw, "TABLE_FILE", table_file)
    dest = tmp_path / "dw"
    assert cli.main(["data", "drinking-waste", "--dest", str(dest),
                     "--from", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere does not exist" in err
    assert cli.main(["data", "drinking-waste", "--dest", str(dest),
                     "--archive", str(tmp_path / "repo.zip")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "repo.zip does not exist" in err
    assert not dest.exists()
