"""Files on the board's flash: atomic writes, appends and listings that never raise on a
missing file. One object owns the filesystem, so tests can hand in a folder or a RAM fake."""
import os

_TMP_SUFFIX = ".tmp"


class Storage:
    """Files under `root` ("" on the board, a temporary folder on the host)."""

    def __init__(self, root=""):
        self.root = root.rstrip("/")

    def _path(self, path):
        return self.root + path

    def read(self, path):
        """The file's bytes, or None when it does not exist or cannot be read."""
        try:
            with open(self._path(path), "rb") as f:
                return f.read()
        except OSError:
            return None

    def readinto(self, path, buffer):
        """Fill a preallocated buffer from the file; return the byte count read."""
        with open(self._path(path), "rb") as f:
            return f.readinto(buffer)

    def write(self, path, data):
        """Replace `path` with `data` atomically: a temp file, then a rename over it."""
        tmp = self._path(path) + _TMP_SUFFIX
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, self._path(path))
        except OSError:
            self._unlink(tmp)
            raise

    def write_into(self, path, parts):
        """Write several buffers as one file (no joining copy), atomically."""
        tmp = self._path(path) + _TMP_SUFFIX
        try:
            with open(tmp, "wb") as f:
                for part in parts:
                    f.write(part)
            os.rename(tmp, self._path(path))
        except OSError:
            self._unlink(tmp)
            raise

    def append(self, path, data):
        with open(self._path(path), "ab") as f:
            f.write(data)

    def size(self, path):
        """Size in bytes, or -1 when the file does not exist."""
        try:
            return os.stat(self._path(path))[6]
        except OSError:
            return -1

    def exists(self, path):
        return self.size(path) >= 0

    def remove(self, path):
        self._unlink(self._path(path))

    def listdir(self, path):
        try:
            return sorted(os.listdir(self._path(path)))
        except OSError:
            return []

    def mkdir(self, path):
        try:
            os.mkdir(self._path(path))
        except OSError:
            pass  # already there (or the parent is missing: the writes will report it)

    @staticmethod
    def _unlink(full_path):
        try:
            os.remove(full_path)
        except OSError:
            pass
