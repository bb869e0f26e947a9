"""The evaluation report as one self-contained HTML page: figures inline as data: URIs,
inline CSS, no script, and a gallery of the photos the model got wrong, most confident
first, so a user can find mislabelled or useless photos and fix the data.

Every text that comes from outside (file names, folder names, labels) is escaped."""
import base64
import html
import io
from pathlib import Path

from host_tools import cli  # noqa: F401 (registers the "smartbin-show-bytes" error handler)
from host_tools.errors import SmartbinError

THUMB_SIDE = 128
_THUMB_QUALITY = 80

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 70rem;
       padding: 1rem 1.5rem 3rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.headline { font-size: 1.15rem; }
table { border-collapse: collapse; margin: .6rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; }
img.figure { max-width: 100%; height: auto; display: block; margin: .6rem 0; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr));
           gap: .8rem; padding: 0; list-style: none; }
.gallery li { border: 1px solid #ddd; border-radius: 4px; padding: .4rem; font-size: .8rem; }
.gallery img { display: block; margin: 0 auto .3rem; max-width: 100%; height: auto; }
.gallery .photo { height: 128px; display: flex; align-items: center; justify-content: center;
                  background: #f6f6f6; margin-bottom: .3rem; }
.gallery .photo img { margin: 0; width: 100%; height: 128px; object-fit: contain; }
.gallery .path { font-family: ui-monospace, monospace; font-size: .72rem; color: #444;
                 overflow-wrap: anywhere; }
.wrong { color: #b00020; font-weight: 600; }
.note { color: #555; }
"""


def _text(value):
    """`value` as HTML text: escaped, undecodable bytes of file names shown as \\xNN."""
    shown = str(value).encode("utf-8", "smartbin-show-bytes").decode("utf-8")
    return html.escape(shown, quote=True)


def _data_uri(mime, data):
    return "data:%s;base64,%s" % (mime, base64.b64encode(data).decode("ascii"))


def thumbnail_jpeg(path, side=THUMB_SIDE):
    """The photo at `path` shrunk to fit `side` x `side`, as JPEG bytes."""
    from host_tools import contract

    image = contract.load_image(path)
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=_THUMB_QUALITY)
    return buffer.getvalue()


def _figure(files, name, alt):
    if name not in files:
        return ""
    return '<img class="figure" src="%s" alt="%s">' % (_data_uri("image/png", files[name]),
                                                      _text(alt))


def _table(head, rows):
    """An HTML table; every cell is escaped."""
    lines = ["<table>", "<thead><tr>%s</tr></thead>"
             % "".join("<th>%s</th>" % _text(cell) for cell in head), "<tbody>"]
    for row in rows:
        lines.append("<tr>%s</tr>" % "".join("<td>%s</td>" % _text(cell) for cell in row))
    return "\n".join(lines + ["</tbody>", "</table>"])


def _confusion_table(metrics):
    labels = metrics["labels"]
    lines = ["<table>", "<thead><tr><th>true \u2193 / predicted \u2192</th>%s</tr></thead>"
             % "".join("<th>%s</th>" % _text(label) for label in labels), "<tbody>"]
    for label, row in zip(labels, metrics["confusion"]):
        total = max(sum(row), 1)
        cells = "".join('<td style="background: rgba(31, 119, 180, %.2f)">%d</td>'
                        % (0.6 * count / total, count) for count in row)
        lines.append("<tr><th>%s</th>%s</tr>" % (_text(label), cells))
    return "\n".join(lines + ["</tbody>", "</table>"])


def _facts(metrics, model_contract, export_figures):
    model_path = Path(metrics["model"])
    where = metrics["data"] + (" (%s split)" % metrics["subset"] if metrics.get("subset")
                               else "")
    facts = [("model", "%s (%s)" % (model_path.name or str(model_path), model_path)),
             ("photos scored", "%d from %s" % (metrics["images"], where))]
    if model_contract:
        model_input = model_contract["input"]
        facts.append(("input", "%dx%d %s int8" % (model_input["width"], model_input["height"],
                                                 model_input["colour_order"])))
        for key, name in (("flatbuffer_bytes", "flatbuffer"), ("arena_bytes", "TFLM arena")):
            if key in model_contract:
                facts.append((name, "%s bytes" % format(model_contract[key], ",")))
        if "macs" in model_contract:
            facts.append(("MACs per photo", format(model_contract["macs"], ",")))
    if export_figures:
        facts.append(("quantization check at export",
                      "%s split, %d photos: float %.1f%%, int8 %.1f%% (%+.1f points)"
                      % (export_figures["subset"], export_figures["images"],
                         100 * export_figures["float_accuracy"],
                         100 * export_figures["int8_accuracy"],
                         round(export_figures["int8_minus_float_points"], 1) + 0.0)))
    return "<dl class=\"facts\">\n%s\n</dl>" % "\n".join(
        "<dt>%s</dt><dd>%s</dd>" % (_text(name), _text(value)) for name, value in facts)


def _sorting_section(metrics, files):
    from host_tools.model import report

    figures = metrics.get("sorting")
    if not figures:
        return []
    recommended = figures["recommended"]
    return ["<h2>Sorting</h2>",
            "<p>Lids: %s. %s</p>" % (_text(figures["lids"]), _text(report.SORTING_EXPLAINED)),
            "<p>Target contamination %.0f%%: %s.</p>"
            % (100 * recommended["target_contamination"], _text(recommended["statement"])),
            _table(("threshold", "to a recycling lid", "in the wrong lid",
                    "recyclables in their lid"), report.sorting_rows(figures)),
            _figure(files, "sorting.png", "sorting curve: coverage and contamination by "
                                          "threshold")]


def _calibration_section(metrics, files):
    figures = metrics.get("calibration")
    if not figures:
        return []
    return ["<h2>Confidence</h2>",
            "<p>On these photos the int8 scores have ECE %.3f (%d bins) and NLL %.3f: at ECE "
            "0, items scored 0.8 are right 80%% of the time.</p>"
            % (figures["ece"], figures["ece_bins"], figures["nll"]),
            _figure(files, "calibration.png", "reliability diagram")]


def _gallery_item(rank, mistake, photo_root):
    try:
        thumb = '<img src="%s" alt="%s">' % (
            _data_uri("image/jpeg", thumbnail_jpeg(Path(photo_root) / mistake["file"])),
            _text(mistake["file"]))
    except (SmartbinError, OSError):  # gone or unreadable since it was scored
        thumb = '<span class="note">photo cannot be read</span>'
    return ('<li><div class="photo">%s</div>'
            '<div>%d. true <b>%s</b>, predicted <span class="wrong">%s</span> %.0f%%</div>'
            '<div class="path">%s</div></li>'
            % (thumb, rank, _text(mistake["label"]), _text(mistake["predicted"]),
               100 * mistake["confidence"], _text(mistake["file"])))


def _mistakes_section(metrics, photo_root):
    shown = metrics.get("mistakes") or []
    total = metrics.get("mistakes_total", len(shown))
    lines = ["<h2 id=\"mistakes\">Photos it got wrong</h2>"]
    if not total:
        return lines + ["<p>None: every photo was classified right.</p>"]
    more = total - len(shown)
    lines.append("<p>%d of %d photos, the most confident mistakes first (a wrong label or a "
                 "photo that shows nothing useful often tops the list). Paths are relative "
                 "to %s.%s</p>"
                 % (total, metrics["images"], _text(metrics["data"]),
                    " The first %d are shown; %d more are not." % (len(shown), more)
                    if more else ""))
    lines.append('<ol class="gallery">')
    lines += [_gallery_item(rank, mistake, photo_root)
              for rank, mistake in enumerate(shown, 1)]
    return lines + ["</ol>"]


def page(metrics, model_contract=None, files=None, photo_root=None, export_figures=None):
    """The report page as HTML text. `files` holds the report's PNGs by name (see
    `report.render`); the thumbnails are read from `photo_root` (default: the data folder);
    `export_figures` is the model's export.json, when known."""
    files = files or {}
    photo_root = metrics["data"] if photo_root is None else photo_root
    name = Path(metrics["model"]).name or metrics["model"]
    wrong = metrics.get("mistakes_total", len(metrics.get("mistakes") or []))
    body = ["<h1>Model report: %s</h1>" % _text(name),
            _facts(metrics, model_contract, export_figures),
            '<p class="headline">int8 model as deployed (TensorFlow Lite Micro): '
            "<b>accuracy %.1f%%</b>, macro F1 %.3f, %s.</p>"
            % (100 * metrics["accuracy"], metrics["macro_f1"],
               '%d of %d photos wrong (<a href="#mistakes">see them</a>)'
               % (wrong, metrics["images"]) if wrong else "no photo wrong"),
            "<h2>Per class</h2>",
            _table(("class", "precision", "recall", "F1", "photos"),
                   [(label, "%.3f" % row["precision"], "%.3f" % row["recall"],
                     "%.3f" % row["f1"], row["support"])
                    for label, row in metrics["per_class"].items()]),
            "<h2>Confusion matrix</h2>",
            "<p>Rows: the true class; columns: the predicted class; shading: the share of "
            "the row.</p>",
            '<div class="figures">', _confusion_table(metrics),
            _figure(files, "confusion.png", "confusion matrix"), "</div>"]
    if "curves.png" in files:
        body += ["<h2>Training curves</h2>",
                 _figure(files, "curves.png", "loss and accuracy per epoch")]
    body += _sorting_section(metrics, files)
    body += _calibration_section(metrics, files)
    body += _mistakes_section(metrics, photo_root)
    return "\n".join(["<!DOCTYPE html>", '<html lang="en">', "<head>",
                      '<meta charset="utf-8">',
                      '<meta name="viewport" content="width=device-width, initial-scale=1">',
                      "<title>Model report: %s</title>" % _text(name),
                      "<style>%s</style>" % _STYLE, "</head>", "<body>"]
                     + body + ["</body>", "</html>", ""])
