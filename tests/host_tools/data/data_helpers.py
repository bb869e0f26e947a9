"""Generated photos for the data-stage tests: small, distinct, and near-duplicate copies."""
import io

import numpy as np
from PIL import Image


def photo(seed, size=(32, 24)):
    """A distinct test photo: smooth random blobs, so copies of it survive re-encoding."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.BICUBIC)


def photo_bytes(seed, fmt="PNG", size=(32, 24), quality=90):
    buffer = io.BytesIO()
    image = photo(seed, size)
    if fmt == "JPEG":
        image.save(buffer, fmt, quality=quality)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def near_copy_bytes(seed):
    """The same picture, enlarged and re-encoded as JPEG: a near-duplicate, not an exact one."""
    return photo_bytes(seed, "JPEG", size=(48, 36), quality=80)


def make_dataset(root, counts, start_seed=0):
    """Write `counts` ({label: n}) distinct PNG photos as root/<label>/<label>N.png."""
    seed = start_seed
    for label, count in counts.items():
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, count + 1):
            (folder / ("%s%d.png" % (label, n))).write_bytes(photo_bytes(seed))
            seed += 1
    return root


class FakeWeb:
    """A threaded HTTP server on 127.0.0.1 for download tests.

    `routes[path]` is a dict: body (bytes), status (default 200), redirect (a path or URL),
    delay (seconds before the body), break_once (send only this many bytes, once, then
    drop the connection), ranges (honour `Range: bytes=N-`, default True), no_length
    (send no Content-Length: the body ends when the connection closes), drip (seconds
    between single bytes of the body; `dripped[path]` counts the bytes sent), drip_headers
    (the same for a long header, before any body).
    `requests` records (path, Range header) of every request.
    """

    def __init__(self):
        import http.server
        import threading

        web = self
        self.routes = {}
        self.requests = []
        self.dripped = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                import time

                web.requests.append((self.path, self.headers.get("Range")))
                route = web.routes.get(self.path)
                if route is not None and route.get("drip_headers"):
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    header = b"X-Slow: " + b"a" * 10_000 + b"\r\n"
                    try:
                        for index in range(len(header)):
                            self.wfile.write(header[index:index + 1])
                            self.wfile.flush()
                            web.dripped[self.path] = index + 1
                            time.sleep(route["drip_headers"])
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                if route is None:
                    self.send_error(404)
                    return
                if route.get("redirect"):
                    self.send_response(route.get("status", 302))
                    self.send_header("Location", route["redirect"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, status = route.get("body", b""), route.get("status", 200)
                start = 0
                wanted = self.headers.get("Range")
                if wanted and route.get("ranges", True) and status == 200:
                    start = int(wanted.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    status = 206
                self.send_response(status)
                if route.get("no_length"):
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body) - start))
                if status == 206:
                    self.send_header("Content-Range",
                                     "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))
                self.end_headers()
                if route.get("delay"):
                    time.sleep(route["delay"])
                payload = body[start:]
                if route.get("break_once"):
                    payload = payload[:route.pop("break_once")]
                    self.close_connection = True
                try:
                    if route.get("drip"):
                        for index in range(len(payload)):
                            self.wfile.write(payload[index:index + 1])
                            self.wfile.flush()
                            web.dripped[self.path] = index + 1
                            time.sleep(route["drip"])
                    else:
                        self.wfile.write(payload)
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # never wait for a deliberately slow reply
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.server.server_address[1], path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
