"""`smartbin data urls`: photos from urls.txt lists, against a server on 127.0.0.1 that
serves good, corrupt, huge, slow, missing, redirecting and duplicate images."""
import json

import pytest

from data_helpers import make_dataset, near_copy_bytes, photo_bytes
from host_tools import cli
from host_tools.data import urls
from host_tools.errors import SmartbinError

# Generous timeout so a busy test machine never fails a good download; /slow.png waits longer.
FAST = {"workers": 4, "timeout": 1.5, "retries": 0, "max_bytes": 50_000}


def _write_list(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _entries(dest, label):
    return json.loads((dest / label / urls.MANIFEST_NAME).read_text())["urls"]


@pytest.fixture
def zoo(web):
    """One route per kind of answer a photo URL can get."""
    web.routes.update({
        "/good1.png": {"body": photo_bytes(1)},
        "/good2.jpg": {"body": photo_bytes(2, "JPEG")},
        "/same-as-good1.png": {"body": photo_bytes(1)},
        "/near-good2.jpg": {"body": near_copy_bytes(2)},
        "/corrupt.jpg": {"body": photo_bytes(3, "JPEG")[:150]},
        "/text.jpg": {"body": b"<html>not a photo</html>"},
        "/huge.png": {"body": b"\x89PNG" + b"\0" * 60_000},
        "/huge-unannounced.png": {"body": b"\x89PNG" + b"\0" * 60_000, "no_length": True},
        "/slow.png": {"body": photo_bytes(4), "delay": 5.0},
        "/moved.png": {"redirect": "/good-target.png"},
        "/good-target.png": {"body": photo_bytes(5)},
        "/to-ftp.png": {"redirect": "ftp://127.0.0.1/x.png"},
        "/busy.png": {"status": 503, "body": b"busy"},
    })
    return web


def test_collects_good_photos_and_records_why_others_were_skipped(tmp_path, zoo):
    source = tmp_path / "lists"
    names = ["good1.png", "good2.jpg", "same-as-good1.png", "near-good2.jpg", "corrupt.jpg",
             "text.jpg", "huge.png", "huge-unannounced.png", "slow.png", "missing.png",
             "moved.png", "to-ftp.png", "busy.png"]
    _write_list(source / "bottle" / "urls.txt",
                ["# bottles from the kitchen", ""] + [zoo.url("/" + n) for n in names]
                + ["ftp://example.com/a.jpg", "file:///etc/passwd", zoo.url("/good1.png")])
    dest = tmp_path / "data"
    summary = urls.collect_urls(source, dest, **FAST)

    entries = _entries(dest, "bottle")
    kind = {url.rsplit("/", 1)[1]: entry.get("skipped", "file") for url, entry in entries.items()}
    assert kind == {
        "good1.png": "file", "good2.jpg": "file", "moved.png": "file",
        "same-as-good1.png": "duplicate", "near-good2.jpg": "near-duplicate",
        "corrupt.jpg": "not an image", "text.jpg": "not an image",
        "huge.png": "too large", "huge-unannounced.png": "too large",
        "slow.png": "network error", "missing.png": "http error",
        "to-ftp.png": "not http(s)", "busy.png": "http error",
    }
    kept = sorted(p.name for p in (dest / "bottle").iterdir() if p.suffix != ".json")
    assert kept == sorted(entries[zoo.url("/" + n)]["file"]
                          for n in ("good1.png", "good2.jpg", "moved.png"))
    assert (dest / "bottle" / entries[zoo.url("/good2.jpg")]["file"]).suffix == ".jpg"
    assert summary["classes"]["bottle"]["added"] == 3
    assert len(summary["warnings"]) == 2 and "not an http(s) URL" in summary["warnings"][0]
    assert entries[zoo.url("/slow.png")]["retry"] is True
    assert entries[zoo.url("/busy.png")]["retry"] is True
    assert entries[zoo.url("/missing.png")]["retry"] is False


def test_rerun_fetches_only_urls_not_settled(tmp_path, zoo):
    source = _write_list(tmp_path / "glass.txt",
                         [zoo.url(p) for p in ("/good1.png", "/busy.png", "/missing.png")])
    dest = tmp_path / "data"
    urls.collect_urls(source, dest, label="glass", **FAST)
    zoo.requests.clear()
    zoo.routes["/busy.png"] = {"body": photo_bytes(9)}
    summary = urls.collect_urls(source, dest, label="glass", **FAST)
    assert [path for path, _ in zoo.requests] == ["/busy.png"]
    assert summary["classes"]["glass"] == {"added": 1, "already done": 2}


def test_files_of_an_interrupted_run_are_claimed_not_duplicated(tmp_path, zoo):
    source = _write_list(tmp_path / "l.txt", [zoo.url("/good1.png"), zoo.url("/good2.jpg")])
    dest = tmp_path / "data"
    urls.collect_urls(source, dest, label="can", **FAST)
    before = _entries(dest, "can")
    (dest / "can" / urls.MANIFEST_NAME).unlink()  # as if killed before saving it
    urls.collect_urls(source, dest, label="can", **FAST)
    assert _entries(dest, "can") == before
    assert len(list((dest / "can").iterdir())) == 3


def test_photos_already_in_the_data_folder_are_not_added_again(tmp_path, zoo):
    dest = make_dataset(tmp_path / "data", {"glass": 3})  # seeds 0..2: glass2 = seed 1
    source = _write_list(tmp_path / "l.txt", [zoo.url("/good1.png"), zoo.url("/near-good2.jpg"),
                                              zoo.url("/good-target.png")])
    urls.collect_urls(source, dest, label="paper", **FAST)
    entries = _entries(dest, "paper")
    assert entries[zoo.url("/good1.png")] == {
        "skipped": "duplicate", "detail": "same bytes as glass/glass2.png", "retry": False}
    assert entries[zoo.url("/near-good2.jpg")]["detail"] == "looks like glass/glass3.png"
    assert "file" in entries[zoo.url("/good-target.png")]


def test_transient_errors_are_retried(tmp_path, web):
    web.routes["/flaky.png"] = {"body": photo_bytes(1), "break_once": 10}
    source = _write_list(tmp_path / "l.txt", [web.url("/flaky.png")])
    summary = urls.collect_urls(source, tmp_path / "data", label="can",
                                **dict(FAST, retries=1))
    assert summary["classes"]["can"]["added"] == 1
    assert len(web.requests) == 2


@pytest.mark.parametrize("setup, kwargs, message", [
    ("none", {}, "does not exist"),
    ("empty folder", {}, "no <class>/urls.txt"),
    ("file", {}, "--label"),
    ("file", {"label": "../up"}, "bad class name"),
    ("folder", {"label": "glass"}, "--label goes with a single"),
    ("bad manifest", {}, "is damaged"),
])
def test_bad_url_sources_are_clear_errors(tmp_path, setup, kwargs, message):
    source = tmp_path / "src"
    if setup == "empty folder":
        source.mkdir()
    elif setup == "file":
        source = _write_list(tmp_path / "urls.txt", ["http://127.0.0.1:1/a.png"])
    elif setup in ("folder", "bad manifest"):
        _write_list(source / "glass" / "urls.txt", ["http://127.0.0.1:1/a.png"])
    if setup == "bad manifest":
        (tmp_path / "data" / "glass").mkdir(parents=True)
        (tmp_path / "data" / "glass" / urls.MANIFEST_NAME).write_text("{oops")
    with pytest.raises(SmartbinError, match=message):
        urls.collect_urls(source, tmp_path / "data", **dict(FAST, **kwargs))


def test_undecodable_url_file_is_a_one_line_cli_error(tmp_path, capsys):
    bad = tmp_path / "urls.txt"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    assert cli.main(["data", "urls", str(bad), "--label", "glass",
                     "--dest", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read URL list") and err.count("\n") == 1


def test_cli_reports_counts(tmp_path, zoo, capsys):
    source = _write_list(tmp_path / "src" / "can" / "urls.txt",
                         [zoo.url("/good1.png"), zoo.url("/text.jpg"), "gopher://x"])
    assert cli.main(["data", "urls", str(tmp_path / "src"), "--dest", str(tmp_path / "d"),
                     "--retries", "0", "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    assert "can: 1 added, 0 already done; skipped: 1 not an image" in out
    assert "warning: %s line 3" % source in out


def test_a_byte_order_mark_does_not_hide_the_first_url(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_bytes("\ufeffhttp://example.com/a.png\nhttp://example.com/b.png\n"
                     .encode("utf-8"))
    assert urls.read_url_list(path) == (["http://example.com/a.png",
                                         "http://example.com/b.png"], [])


@pytest.mark.parametrize("bad", ["http://[::1", "http://host:99999/a.png",
                                 "http://[::1]:port/a.png"])
def test_a_malformed_url_is_a_skipped_line_not_a_traceback(tmp_path, bad):
    path = _write_list(tmp_path / "urls.txt", [bad, "http://example.com/a.png"])
    assert urls.read_url_list(path) == (["http://example.com/a.png"], [(1, bad)])


def test_url_lists_for_classes_differing_only_in_case_are_refused(tmp_path):
    _write_list(tmp_path / "src" / "Glass" / "urls.txt", ["http://127.0.0.1:1/a.png"])
    _write_list(tmp_path / "src" / "glass" / "urls.txt", ["http://127.0.0.1:1/b.png"])
    with pytest.raises(SmartbinError, match="Glass and glass .* differ only in case"):
        urls.collect_urls(tmp_path / "src", tmp_path / "data", **FAST)


def test_a_server_dripping_bytes_cannot_outlast_the_download_deadline(tmp_path, web):
    body = photo_bytes(1)
    web.routes["/drip.png"] = {"body": body, "drip": 0.01}
    source = _write_list(tmp_path / "urls.txt", [web.url("/drip.png")])
    urls.collect_urls(source, tmp_path / "d", label="can",
                      **dict(FAST, timeout=0.25))
    assert web.dripped["/drip.png"] < len(body)
    assert not (tmp_path / "d" / "can").exists()


def test_a_server_dripping_its_headers_cannot_outlast_the_download_deadline(web):
    from host_tools.data import fetch
    web.routes["/drip-headers.png"] = {"drip_headers": 0.01}
    with pytest.raises(SmartbinError, match="slower than 1 s in all"):
        fetch.get_bytes(web.url("/drip-headers.png"), timeout=0.5, max_seconds=1)
    assert web.dripped["/drip-headers.png"] < 10_000


def test_ctrl_c_stops_the_downloads_and_keeps_the_manifest_of_what_finished(tmp_path, web):
    web.routes["/good1.png"] = {"body": photo_bytes(1)}
    slow = ["/slow%d.png" % n for n in range(10)]
    for path in slow:
        web.routes[path] = {"body": photo_bytes(2), "delay": 0.5}
    source = _write_list(tmp_path / "urls.txt", [web.url(p) for p in ["/good1.png"] + slow])

    def interrupt(done, total):
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        urls.collect_urls(source, tmp_path / "d", label="can", progress=interrupt,
                          **dict(FAST, workers=1))
    entries = _entries(tmp_path / "d", "can")
    assert list(entries) == [web.url("/good1.png")] and "file" in entries[web.url("/good1.png")]
    assert len(web.requests) < 1 + len(slow)


def test_a_class_whose_urls_all_fail_leaves_no_folder(tmp_path, web):
    web.routes["/good1.png"] = {"body": photo_bytes(1)}
    _write_list(tmp_path / "src" / "paper" / "urls.txt", [web.url("/good1.png")])
    _write_list(tmp_path / "src" / "glass" / "urls.txt", [web.url("/missing.png")])
    summary = urls.collect_urls(tmp_path / "src", tmp_path / "d", **FAST)
    assert not (tmp_path / "d" / "glass").exists()
    assert any("no photo of class glass" in warning for warning in summary["warnings"])
    from host_tools.data import images
    assert list(images.list_class_folders(tmp_path / "d")) == ["paper"]


def test_what_data_urls_keeps_data_check_reads_the_same_way(tmp_path, web, capsys):
    import io

    from PIL import Image

    def encoded(fmt, first_seed):
        frames = [Image.open(io.BytesIO(photo_bytes(seed))).convert("RGB")
                  for seed in (first_seed, first_seed + 1)]
        buffer = io.BytesIO()
        frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:])
        return buffer.getvalue()

    web.routes.update({"/pages.tif": {"body": encoded("TIFF", 11)},
                       "/moving.gif": {"body": encoded("GIF", 21)},
                       "/icon.ico": {"body": photo_bytes(13, "ICO")},
                       "/good1.png": {"body": photo_bytes(1)}})
    source = _write_list(tmp_path / "src" / "can" / "urls.txt",
                         [web.url(p) for p in ("/pages.tif", "/moving.gif", "/icon.ico")])
    _write_list(tmp_path / "src" / "jar" / "urls.txt", [web.url("/good1.png")])
    summary = urls.collect_urls(source.parent.parent, tmp_path / "d", **FAST)
    assert summary["classes"]["can"]["added"] == 2
    assert summary["classes"]["can"]["not an image"] == 1
    assert cli.main(["data", "check", str(tmp_path / "d")]) == 0
    assert "2 classes, 3 photos (can 2, jar 1)" in capsys.readouterr().out


def test_stopping_cuts_a_download_even_while_the_server_drips_its_headers(web):
    import threading

    from host_tools.data import fetch
    web.routes["/drip-headers.png"] = {"drip_headers": 0.01}
    stop = threading.Event()

    def stop_once_dripping():
        while not web.dripped.get("/drip-headers.png"):
            threading.Event().wait(0.01)
        stop.set()

    threading.Thread(target=stop_once_dripping, daemon=True).start()
    with pytest.raises(SmartbinError, match="stopped"):
        fetch.get_bytes(web.url("/drip-headers.png"), timeout=5, max_seconds=600, stop=stop)
    assert web.dripped["/drip-headers.png"] < 10_000
