"""Start-up of the virtual board's VM: mount the flash filesystem at / like an ESP32 does.

The filesystem lives in a host folder (board.mjs's `board_flash`); errors carry the
board's errno numbers (ENOENT is 2, ENOSPC 28), which is what mpremote expects.
"""
import io
import json
import os
import sys

import js

_flash = js.board_flash
_S_IFDIR = 0x4000
_S_IFREG = 0x8000
_ENOENT = 2
_EISDIR = 21
_EINVAL = 22
_CHUNK = 4096


def _check(result):
    # board_flash returns a negative errno on failure.
    if isinstance(result, int) and result < 0:
        raise OSError(-result)
    return result


class FlashFile(io.IOBase):
    def __init__(self, path, mode):
        self._path = path
        self._text = "b" not in mode
        self._pos = 0
        if "w" in mode or "a" in mode or "x" in mode:
            _check(_flash.create(path, "w" in mode))
        else:
            mode_bits = json.loads(_check(_flash.stat(path)))[0]
            if mode_bits & _S_IFDIR:
                raise OSError(_EISDIR)
        if "a" in mode:
            self._pos = json.loads(_check(_flash.stat(path)))[1]

    def readinto(self, buf):
        data = bytes.fromhex(_check(_flash.read(self._path, self._pos, len(buf))))
        n = len(data)
        buf[:n] = data
        self._pos += n
        return n

    def read(self, size=-1):
        parts = []
        while size < 0 or size > 0:
            want = _CHUNK if size < 0 else min(size, _CHUNK)
            data = bytes.fromhex(_check(_flash.read(self._path, self._pos, want)))
            if not data:
                break
            self._pos += len(data)
            parts.append(data)
            if size > 0:
                size -= len(data)
        data = b"".join(parts)
        return data.decode() if self._text else data

    def readline(self):
        line = bytearray()
        while True:
            data = bytes.fromhex(_check(_flash.read(self._path, self._pos, 1)))
            if not data:
                break
            self._pos += 1
            line += data
            if data == b"\n":
                break
        return line.decode() if self._text else bytes(line)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        n = _check(_flash.write(self._path, self._pos, bytes(data).hex()))
        self._pos += n
        return n

    def seek(self, offset, whence=0):
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += json.loads(_check(_flash.stat(self._path)))[1]
        self._pos = offset
        return offset

    def tell(self):
        return self._pos

    def flush(self):
        pass

    def close(self):
        pass

    def ioctl(self, request, arg):
        return 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FlashVfs:
    """The VFS protocol MicroPython calls for a mounted Python object."""

    def __init__(self):
        self._cwd = "/"

    def _full(self, path):
        if not path.startswith("/"):
            path = self._cwd.rstrip("/") + "/" + path
        return path

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def open(self, path, mode):
        return FlashFile(self._full(path), mode)

    def ilistdir(self, path):
        entries = json.loads(_check(_flash.listdir(self._full(path))))
        return iter([(name, kind, 0, size) for name, kind, size in entries])

    def stat(self, path):
        mode, size, mtime = json.loads(_check(_flash.stat(self._full(path))))
        return (mode, 0, 0, 0, 0, 0, size, mtime, mtime, mtime)

    def mkdir(self, path):
        _check(_flash.mkdir(self._full(path)))

    def rmdir(self, path):
        _check(_flash.rmdir(self._full(path)))

    def remove(self, path):
        _check(_flash.remove(self._full(path)))

    def rename(self, old, new):
        _check(_flash.rename(self._full(old), self._full(new)))

    def chdir(self, path):
        path = self._full(path)
        if not json.loads(_check(_flash.stat(path)))[0] & _S_IFDIR:
            raise OSError(_ENOENT)
        self._cwd = path

    def getcwd(self):
        return self._cwd

    def statvfs(self, path):
        # as extmod/vfs_lfsx.c: f_bsize = f_frsize = the block size, f_bfree = f_bavail
        total = _flash.total_blocks()
        free = max(0, total - _flash.used_blocks())
        return (_flash.block_size(), _flash.block_size(), total, free, free, 0, 0, 0, 0, 255)


def mount_flash():
    os.umount("/")
    os.mount(FlashVfs(), "/")
    os.chdir("/")


def run_file(name):
    """Run a script from flash as the board does at boot (boot.py, main.py)."""
    try:
        os.stat(name)
    except OSError:
        return
    try:
        with open(name) as f:
            source = f.read()
        exec(compile(source, name, "exec"), {"__name__": "__main__"})
    except SystemExit:
        pass
    except BaseException as error:  # the board prints the traceback and carries on to the REPL
        sys.print_exception(error)
