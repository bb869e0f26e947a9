"""A bounded /errors.log: one line per fault ("<time> <what happened>"); when it would grow
past its limit the oldest half is dropped. Logging never raises: a full flash must not
stop the bin."""


class ErrorLog:
    def __init__(self, storage, path, max_bytes, clock):
        self.storage = storage
        self.path = path
        self.max_bytes = max_bytes
        self.clock = clock

    def add(self, message):
        line = ("%d %s\n" % (self.clock.time(), message)).encode()
        try:
            size = self.storage.size(self.path)
            if size + len(line) > self.max_bytes:
                self._trim(len(line))
            self.storage.append(self.path, line)
            return True
        except OSError:
            return False

    def _trim(self, room):
        text = self.storage.read(self.path) or b""
        keep = text[len(text) - max(0, self.max_bytes // 2 - room):]
        cut = keep.find(b"\n")
        self.storage.write(self.path, keep[cut + 1:] if cut >= 0 else b"")
