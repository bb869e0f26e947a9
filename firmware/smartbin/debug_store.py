"""The last N camera frames with what the bin decided, for checking and for retraining.

Files in the debug folder, one pair per item, numbered upwards:
  NNNNNN.raw   the frame exactly as the sensor gave it (RGB565 big-endian or GRAY8)
  NNNNNN.json  {"seq", "time", "width", "height", "format": "RGB565"|"GRAY",
                "label", "confidence", "scores": [int8...], "labels": [...], "lid"}
Bounded in count and bytes; the oldest pair goes first. A full filesystem (ENOSPC) drops
old frames and, failing that, skips this one: it never stops the bin."""
import json


def _name(seq):
    return "%06d" % seq


class DebugStore:
    def __init__(self, storage, folder, max_frames, max_bytes):
        self.storage = storage
        self.folder = folder
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.kept = []  # [seq, bytes] oldest first
        self.dropped = 0
        if max_frames <= 0:
            return
        storage.mkdir(folder)
        names = storage.listdir(folder)
        for name in names:
            if name.endswith(".tmp"):  # a write cut short by power loss
                storage.remove(folder + "/" + name)
                continue
            stem, dot, ext = name.rpartition(".")
            if not (stem.isdigit() and ext in ("raw", "json")):
                continue
            other = stem + (".json" if ext == "raw" else ".raw")
            if other not in names:
                # half a pair: power was cut between its two files (written .raw first,
                # removed .raw first)
                storage.remove(folder + "/" + name)
                continue
            if ext == "raw":
                seq = int(stem)
                self.kept.append([seq, storage.size(self._path(seq, ".raw"))
                                  + storage.size(self._path(seq, ".json"))])
        self.kept.sort()
        self.next_seq = self.kept[-1][0] + 1 if self.kept else 0

    def _path(self, seq, ext):
        return self.folder + "/" + _name(seq) + ext

    def _used(self):
        total = 0
        for entry in self.kept:
            total += entry[1]
        return total

    def _drop_oldest(self):
        seq = self.kept.pop(0)[0]
        self.storage.remove(self._path(seq, ".raw"))
        self.storage.remove(self._path(seq, ".json"))

    def keep(self, frame, meta):
        """Store one frame and its metadata dict; True when it was written."""
        if self.max_frames <= 0:
            return False
        seq = self.next_seq
        self.next_seq += 1
        meta["seq"] = seq
        text = json.dumps(meta).encode()
        size = len(frame) + len(text)
        if size > self.max_bytes:
            self.dropped += 1
            return False
        while self.kept and (len(self.kept) >= self.max_frames
                             or self._used() + size > self.max_bytes):
            self._drop_oldest()
        for attempt in range(2):
            try:
                self.storage.write(self._path(seq, ".raw"), frame)
                self.storage.write(self._path(seq, ".json"), text)
                self.kept.append([seq, size])
                return True
            except OSError:  # typically ENOSPC: make room once, then give up on this frame
                self.storage.remove(self._path(seq, ".raw"))
                if not self.kept:
                    break
                self._drop_oldest()
        self.dropped += 1
        return False
