"""HTTP(S) downloads with the standard library: http(s) only (also after redirects),
timeouts, a size cap, and resumable downloads into a `.part` file (HTTP Range)."""
import http.client
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from host_tools import __version__
from host_tools.errors import SmartbinError

USER_AGENT = "smartbin/" + __version__
_BLOCK = 1 << 16


class TooLarge(SmartbinError):
    """The server sent (or announced) more bytes than the caller allows."""


class NotHttp(SmartbinError):
    """A URL (or a redirect's target) that is not http(s)."""


class HttpError(SmartbinError):
    """The server answered with an HTTP error status (`code`)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def check_http_url(url):
    """Raise SmartbinError unless `url` is an absolute http(s) URL with a host."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- parsing the port is what refuses "http://h:99999"
    except ValueError as error:
        raise NotHttp("malformed URL %s (%s)" % (url, error))
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise NotHttp("not an http(s) URL: %s" % url)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    # urllib also follows redirects to ftp://; a download list may only reach http(s).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_http_url(urllib.parse.urljoin(req.full_url, newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Watch(threading.local):
    """The sockets of this thread's current transfer, so that a deadline can cut them
    (a server sending its headers a byte at a time never trips a socket timeout)."""

    def __init__(self):
        self.sockets = None

    def track(self, sock):
        if self.sockets is not None:
            self.sockets.append(sock)


_WATCH = _Watch()


def _tracked(connection_class):
    class Tracked(connection_class):
        def connect(self):
            super().connect()
            _WATCH.track(self.sock)
    return Tracked


class _TrackedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_tracked(http.client.HTTPConnection), req)


class _TrackedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_tracked(http.client.HTTPSConnection), req,
                            context=self._context)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects, _TrackedHTTPHandler,
                                      _TrackedHTTPSHandler)


def _guard(sockets, finished, deadline, stop, cut_because):
    """Until `finished`, cut the transfer's sockets at `deadline` or once `stop` is set."""
    while not finished.wait(0.05):
        if stop is not None and stop.is_set():
            cut_because.append("stopped")
        elif deadline is not None and time.monotonic() >= deadline:
            cut_because.append("deadline")
        else:
            continue
        for sock in list(sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return


def _describe(url, error):
    if isinstance(error, urllib.error.HTTPError):
        return "%s: HTTP %d %s" % (url, error.code, error.reason)
    if isinstance(error, urllib.error.URLError):
        return "%s: %s" % (url, getattr(error.reason, "strerror", None) or error.reason)
    if isinstance(error, TimeoutError):
        return "%s: timed out" % url
    return "%s: %s" % (url, error)


def open_url(url, timeout, headers=None):
    """Open an http(s) URL; raise SmartbinError (one line) for HTTP and network errors."""
    check_http_url(url)
    request = urllib.request.Request(url, headers=dict(headers or {}, **{"User-Agent": USER_AGENT}))
    try:
        return _OPENER.open(request, timeout=timeout)
    except SmartbinError:
        raise
    except urllib.error.HTTPError as error:
        raise HttpError("cannot download " + _describe(url, error), error.code)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        raise SmartbinError("cannot download " + _describe(url, error))


def get_bytes(url, timeout=15.0, max_bytes=20_000_000, max_seconds=None, stop=None):
    """Download a small file into memory; refuse anything longer than `max_bytes`.

    `timeout` bounds each wait for the server; `max_seconds` the whole transfer (a server
    trickling bytes never trips the first). `stop` (a threading.Event) abandons the
    transfer once set. Returns (bytes, final URL after redirects).
    """
    if max_seconds is None and stop is None:
        return _get_bytes(url, timeout, max_bytes, None, None)
    sockets, finished, cut_because = [], threading.Event(), []
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    guard = threading.Thread(target=_guard, args=(sockets, finished, deadline, stop,
                                                  cut_because), daemon=True)
    _WATCH.sockets = sockets
    guard.start()
    try:
        result = _get_bytes(url, timeout, max_bytes, max_seconds, stop)
    except SmartbinError:
        if not cut_because:
            raise
        result = None
    finally:
        finished.set()
        guard.join()
        _WATCH.sockets = None
    # A cut connection: whatever arrived is not the whole file.
    if cut_because == ["stopped"]:
        raise SmartbinError("cannot download %s: stopped" % url)
    if cut_because:
        raise SmartbinError("cannot download %s: slower than %g s in all" % (url, max_seconds))
    return result


def _get_bytes(url, timeout, max_bytes, max_seconds, stop):
    started = time.monotonic()
    with open_url(url, timeout) as response:
        announced = response.headers.get("Content-Length")
        if announced and announced.isdigit() and int(announced) > max_bytes:
            raise TooLarge("%s is %d bytes, over the %d byte limit"
                           % (url, int(announced), max_bytes))
        chunks, size = [], 0
        try:
            while True:
                # read1: whatever one receive brings, so a server dripping a byte at a time
                # meets the deadline check after each byte, not after _BLOCK of them.
                chunk = response.read1(_BLOCK)
                if not chunk:
                    break
                size += len(chunk)
                if stop is not None and stop.is_set():
                    raise SmartbinError("cannot download %s: stopped" % url)
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    raise SmartbinError("cannot download %s: slower than %g s in all"
                                        % (url, max_seconds))
                if size > max_bytes:
                    raise TooLarge("%s is over the %d byte limit" % (url, max_bytes))
                chunks.append(chunk)
        except (OSError, ValueError, http.client.HTTPException) as error:
            raise SmartbinError("cannot download " + _describe(url, error))
        if announced and announced.isdigit() and size < int(announced):
            # http.client returns a short body silently when the connection drops.
            raise SmartbinError("cannot download %s: connection closed after %d of %s bytes"
                                % (url, size, announced))
        return b"".join(chunks), response.geturl()


def download_resumable(url, part_path, timeout=60.0, progress=None):
    """Download `url` into `part_path`, continuing a previous partial download.

    Sends `Range: bytes=<size of part_path>-`; a 206 reply is appended, a 200 reply
    restarts from zero. Returns the number of bytes in `part_path` when the server has
    sent everything. `progress(done, total)` follows the bytes. Interrupted downloads
    leave `part_path` for the next call; raises SmartbinError on HTTP/network errors.
    """
    part_path = Path(part_path)
    part_path.parent.mkdir(parents=True, exist_ok=True)
    have = part_path.stat().st_size if part_path.exists() else 0
    headers = {"Range": "bytes=%d-" % have} if have else {}
    try:
        response = open_url(url, timeout, headers)
    except HttpError as error:
        if not have or error.code != 416:
            raise
        # 416: the part file is no prefix of this resource (or is complete); start over.
        part_path.unlink()
        return download_resumable(url, part_path, timeout, progress)
    with response:
        status = getattr(response, "status", 200)
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if status == 206 and _range_start(response.headers.get("Content-Range")) == have:
            mode, done = "ab", have
        else:
            mode, done = "wb", 0
        total = done + length if length is not None else None
        if progress:
            progress(done, total)
        with open(part_path, mode) as out:
            try:
                while True:
                    chunk = response.read(_BLOCK)
                    if not chunk:
                        break
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            except (OSError, ValueError, http.client.HTTPException) as error:
                raise SmartbinError("download interrupted (%s); run the command again to "
                                    "resume" % _describe(url, error))
            out.flush()
            os.fsync(out.fileno())
    if total is not None and done < total:
        raise SmartbinError("download of %s stopped at %d of %d bytes; run the command again "
                            "to resume" % (url, done, total))
    return done


def _range_start(content_range):
    # "bytes 100-199/200" -> 100
    try:
        unit, spec = content_range.split(" ", 1)
        return int(spec.split("-", 1)[0]) if unit == "bytes" else None
    except (AttributeError, ValueError):
        return None
