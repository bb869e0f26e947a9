"""Gentle lid moves after a suspected brownout, for a bounded number of items.

MicroPython 1.27 on the ESP32 reports a brownout as a power-on reset, so the evidence is
indirect: the board restarted from power-on while a lid was moving (the cycle's /moving
marker is still there). A pulled plug leaves the same trace, so the response is bounded:
slower, lower-current moves for the next `items` items, counted down in a small file
that survives deep sleep; another such restart starts the count again."""


class GentleMode:
    def __init__(self, storage, path, items):
        self.storage = storage
        self.path = path
        self.items = items
        self.remaining = 0
        text = storage.read(path)
        if text:
            try:
                self.remaining = max(0, min(int(text), items))
            except ValueError:
                self.remaining = 0  # unreadable: normal moves; a new brownout restarts it

    def active(self):
        return self.remaining > 0

    def start(self):
        self.remaining = self.items
        self._save()

    def item_done(self):
        """One item sorted without a restart: one step closer to normal moves."""
        if self.remaining > 0:
            self.remaining -= 1
            self._save()

    def _save(self):
        try:
            if self.remaining > 0:
                self.storage.write(self.path, str(self.remaining).encode())
            else:
                self.storage.remove(self.path)
        except OSError:
            pass  # flash full: gentle mode ends sooner or later than planned, nothing worse
