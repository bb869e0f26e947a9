"""A disk that fills up: `disk_full(monkeypatch, root, free_bytes)` makes every file opened
for writing under `root` share `free_bytes` of space. The write that crosses it writes what
still fits and raises ENOSPC, as a full disk does."""
import builtins
import errno
import io
import os
from pathlib import Path


class _Space:
    def __init__(self, free_bytes):
        self.free = free_bytes
        self.written = 0


class _FillingFile:
    """A file object whose writes draw on a shared amount of free space."""

    def __init__(self, handle, space):
        self._handle = handle
        self._space = space

    def write(self, data):
        size = len(data)
        if size > self._space.free:
            fits = self._space.free
            self._handle.write(data[:fits])
            self._space.free = 0
            self._space.written += fits
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._handle.name)
        self._space.free -= size
        self._space.written += size
        return self._handle.write(data)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._handle.close()

    def __iter__(self):
        return iter(self._handle)

    def __getattr__(self, name):
        return getattr(self._handle, name)


def _is_write_mode(mode):
    return any(flag in mode for flag in "wax+")


def disk_full(monkeypatch, root, free_bytes):
    """Patch open() so files written under `root` fail with ENOSPC once `free_bytes` are
    used; returns the shared space (its `written` counts the bytes that went to disk)."""
    root = Path(root).resolve()
    space = _Space(free_bytes)
    real_open = io.open

    def filling_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)) and _is_write_mode(mode):
            path = Path(file).resolve()
            if path == root or root in path.parents:
                return _FillingFile(handle, space)
        return handle

    monkeypatch.setattr(builtins, "open", filling_open)
    monkeypatch.setattr(io, "open", filling_open)
    return space
