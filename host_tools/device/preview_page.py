"""The page of `smartbin preview`: a local web server (127.0.0.1 only, a free port, in a
thread) with one self-contained HTML page that polls the latest frame's data and pictures
and sends the flash and frame-size toggles back.

    GET  /             the page (inline HTML, CSS and JS; nothing from the network)
    GET  /state.json   the latest frame's data, the settings and the link's figures
    GET  /model.png    the model's input, blown up by whole pixels
    GET  /camera.png   the camera frame, larger, with the item's box the bin would crop
    POST /settings     {"flash": bool, "frame_size": "WxH"}: applied to the next frame
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from host_tools.errors import SmartbinError

HOST = "127.0.0.1"
MAX_SETTINGS_BYTES = 1024


class PreviewState:
    """What the page shows and what it asked for, shared between the board loop and the
    server's threads."""

    def __init__(self, frame_sizes, flash):
        self._lock = threading.Lock()
        self.frame_sizes = list(frame_sizes)  # "WxH" names; the first is the bin's
        self._settings = {"flash": bool(flash), "frame_size": self.frame_sizes[0]}
        self._data = {"seq": 0, "status": "waiting for the first frame"}
        self._images = {}

    def settings(self):
        with self._lock:
            return dict(self._settings)

    def change(self, request):
        """Apply the page's request (a dict); raise SmartbinError naming what is wrong."""
        if not isinstance(request, dict) or not request:
            raise SmartbinError("settings must be a JSON object")
        unknown = sorted(set(request) - {"flash", "frame_size"})
        if unknown:
            raise SmartbinError("unknown setting(s): %s" % ", ".join(unknown))
        if "flash" in request and not isinstance(request["flash"], bool):
            raise SmartbinError("flash must be true or false")
        if "frame_size" in request and request["frame_size"] not in self.frame_sizes:
            raise SmartbinError("frame_size must be one of %s" % ", ".join(self.frame_sizes))
        with self._lock:
            self._settings.update(request)
            return dict(self._settings)

    def publish(self, data, images):
        """The next frame's data (its "seq" counts up) and its PNGs."""
        with self._lock:
            self._data = dict(data, seq=self._data["seq"] + 1,
                              status="live; Ctrl-C in the terminal ends the preview")
            self._images = dict(images)

    def report(self, status):
        """A line for the page about the link (e.g. the board stopped answering)."""
        with self._lock:
            self._data = dict(self._data, status=status)

    def snapshot(self):
        with self._lock:
            return dict(self._data, settings=dict(self._settings),
                        frame_sizes=list(self.frame_sizes))

    def image(self, name):
        with self._lock:
            return self._images.get(name)


def _handler(state):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # the terminal is the user's, not a request log
            pass

        def _send(self, code, body, content_type):
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code, value):
            self._send(code, json.dumps(value).encode(), "application/json")

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._send(200, PAGE.encode(), "text/html; charset=utf-8")
            elif path == "/state.json":
                self._json(200, state.snapshot())
            elif path in ("/model.png", "/camera.png"):
                image = state.image(path[1:-4])
                if image is None:
                    self._json(404, {"error": "no frame yet"})
                else:
                    self._send(200, image, "image/png")
            else:
                self._json(404, {"error": "no such page"})

        def do_POST(self):
            if self.path != "/settings":
                self._json(404, {"error": "no such page"})
                return
            try:
                self._json(200, state.change(_settings_request(self.headers, self.rfile)))
            except SmartbinError as error:
                self._json(400, {"error": str(error)})

    return Handler


def _settings_request(headers, body):
    """The JSON of a POST /settings; SmartbinError, in words for the page, when the body
    is no JSON at all (the parser's own "Expecting value: line 1 column 1" says nothing)."""
    try:
        length = int(headers.get("Content-Length") or 0)
    except ValueError:
        length = -1
    if not 0 < length <= MAX_SETTINGS_BYTES:
        raise SmartbinError("settings must be a small JSON object (at most %d bytes), e.g. "
                            '{"flash": true}' % MAX_SETTINGS_BYTES)
    try:
        return json.loads(body.read(length))
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
        raise SmartbinError('settings must be a JSON object, e.g. {"flash": true} or '
                            '{"frame_size": "96x96"}') from None


class PageServer:
    """The server in a daemon thread; `url` once started."""

    def __init__(self, state, port=0):
        try:
            self._server = ThreadingHTTPServer((HOST, port), _handler(state))
        except OSError as error:
            raise SmartbinError("cannot serve the preview page on %s:%d: %s"
                                % (HOST, port, error.strerror or error)) from None
        self._server.daemon_threads = True
        self.url = "http://%s:%d/" % (HOST, self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self.url

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>smartbin preview</title>
<link rel="icon" href="data:,">
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 12px; }
.row { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; }
figure.model { width: 288px; }
figure.camera { width: 480px; }
figcaption { font-size: 13px; color: #555; margin-top: 4px; }
img { display: block; background: #ddd; border: 1px solid #bbb; }
#model { image-rendering: pixelated; width: 288px; height: auto; min-height: 96px; }
#camera { width: 480px; min-height: 120px; }
.panel { flex: 1; min-width: 300px; max-width: 420px; }
.decision { font-size: 22px; margin: 0 0 8px; }
table { border-collapse: collapse; margin-bottom: 10px; }
td { padding: 2px 6px; }
.bar { background: #cfd8dc; width: 160px; height: 12px; }
.bar div { background: #43a047; height: 12px; }
tr.top td { font-weight: bold; }
.warning { color: #b71c1c; font-weight: bold; }
.muted { color: #666; font-size: 13px; }
fieldset { border: 1px solid #ccc; margin: 10px 0; padding: 6px 10px; }
</style>
</head>
<body>
<h1>smartbin preview</h1>
<div class="row">
  <figure class="model"><img id="model" alt="the model's input"><figcaption id="model-caption">The frame
    as the model sees it.</figcaption></figure>
  <figure class="camera"><img id="camera" alt="the camera frame"><figcaption id="camera-caption">The camera
    frame.</figcaption></figure>
  <div class="panel">
    <p class="decision" id="decision">waiting for the first frame</p>
    <table id="scores"></table>
    <p id="exposure"></p>
    <p id="warning" class="warning"></p>
    <fieldset><legend>Camera</legend>
      <label><input type="checkbox" id="flash"> flash LED</label><br>
      <label>frame size <select id="frame-size"></select></label>
    </fieldset>
    <p id="link" class="muted"></p>
    <p id="status" class="muted"></p>
  </div>
</div>
<script>
"use strict";
let shownSeq = 0;
let sizesShown = "";
const byId = id => document.getElementById(id);

function text(id, value) { byId(id).textContent = value; }

function showScores(data) {
  const table = byId("scores");
  table.replaceChildren();
  for (const entry of data.scores) {
    const row = table.insertRow();
    if (entry.label === data.label) row.className = "top";
    row.insertCell().textContent = entry.label;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = Math.round(100 * entry.score) + "%";
    bar.appendChild(fill);
    row.insertCell().appendChild(bar);
    row.insertCell().textContent = (100 * entry.score).toFixed(1) + "%";
  }
}

function showSettings(state) {
  const names = state.frame_sizes.join(",");
  const select = byId("frame-size");
  if (names !== sizesShown) {
    select.replaceChildren();
    state.frame_sizes.forEach((name, index) => {
      const option = new Option(index === 0 ? name + " (the bin's)" : name, name);
      select.appendChild(option);
    });
    sizesShown = names;
  }
  if (document.activeElement !== select) select.value = state.settings.frame_size;
}

function isolation(data) {
  // how the bin makes the model's input from its frame (model.json's "isolate" block)
  const iso = data.isolate;
  const bin = data.bin_frame.width + "x" + data.bin_frame.height;
  if (iso.found) {
    return ", the item's box (" + iso.box[2] + "x" + iso.box[3] + " at " + iso.box[0] + "," +
      iso.box[1] + " of the bin's " + bin + " frame, magenta in the camera view) resized as " +
      "the bin does";
  }
  if (!iso.reference) {
    return ", the whole " + bin + " frame resized as the bin does: the board has no picture " +
      "of its empty chamber yet (the bin takes one when it starts empty and after each item)";
  }
  if (iso.changed_cells > iso.max_cells) {
    return ", the whole " + bin + " frame resized as the bin does: " + iso.changed_cells +
      " of " + iso.cells + " cells differ from the empty chamber (the light changed or the " +
      "camera moved)";
  }
  return ", the whole " + bin + " frame resized as the bin does: no item found against the " +
    "empty chamber (" + iso.kept_cells + " changed cells, " + iso.min_cells + " needed)";
}

function showFrame(data) {
  byId("model").src = "/model.png?seq=" + data.seq;
  byId("camera").src = "/camera.png?seq=" + data.seq;
  const input = data.model_input;
  const bin = data.bin_frame.width + "x" + data.bin_frame.height;
  const frame = data.frame.width + "x" + data.frame.height;
  let caption = "The model's input: " + input.width + "x" + input.height + " " +
    input.colour_order;
  if (data.isolate) {
    caption += isolation(data) + (input.resized_here ? "; resized on this computer from the " +
      frame + " frame first (the bin itself captures at " + bin + ")" : "");
  } else {
    caption += input.resized_here ? ", resized on this computer from the " + frame +
      " frame (the bin itself captures at " + bin + ")" : ", exactly the frame the bin classifies";
  }
  text("model-caption", caption + ".");
  text("camera-caption", "The camera frame: " + frame + " " + data.frame.format +
       ", flash LED " + (data.flash ? "on" : "off") + "." +
       (data.isolate && data.isolate.found ? " Magenta: the box the bin would crop." : ""));
  text("decision", data.label + " " + (100 * data.confidence).toFixed(0) + "% \u2192 " +
       data.lid + " lid" + (data.confident ? "" : " (below the threshold of " +
       (100 * data.threshold).toFixed(0) + "%)"));
  showScores(data);
  const exposure = data.exposure;
  text("exposure", "brightness " + exposure.brightness.toFixed(0) + " of 255; clipped: " +
       (100 * exposure.dark).toFixed(1) + "% black, " + (100 * exposure.bright).toFixed(1) +
       "% white");
  text("warning", exposure.warning || "");
  const link = data.link;
  text("link", "frame " + data.seq + ": " + link.bytes_per_frame + " bytes on the serial line, " +
       link.seconds.toFixed(2) + " s here. At most " + link.fps_115200.toFixed(2) +
       " frames/s at 115200 baud, " + link.fps_921600.toFixed(2) +
       " at 921600 (computed from the bytes).");
}

async function poll() {
  try {
    const response = await fetch("/state.json", {cache: "no-store"});
    const state = await response.json();
    showSettings(state);
    if (document.activeElement !== byId("flash")) byId("flash").checked = state.settings.flash;
    if (state.seq && state.seq !== shownSeq) {
      shownSeq = state.seq;
      showFrame(state);
    }
    text("status", state.status);
  } catch (error) {
    text("status", "the preview has stopped (smartbin preview is not running)");
  }
  setTimeout(poll, 300);
}

async function send(change) {
  try {
    const response = await fetch("/settings", {method: "POST", body: JSON.stringify(change),
                                               headers: {"Content-Type": "application/json"}});
    const answer = await response.json();
    text("status", response.ok ? "sent to the board: next frame" : answer.error);
  } catch (error) {
    text("status", "the preview has stopped (smartbin preview is not running)");
  }
}

byId("flash").addEventListener("change", event => send({flash: event.target.checked}));
byId("frame-size").addEventListener("change", event => send({frame_size: event.target.value}));
poll();
</script>
</body>
</html>
"""
