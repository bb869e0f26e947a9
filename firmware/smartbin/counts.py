"""Items per class and per lid, kept in one small JSON file that survives deep sleep and
power loss: every update is written whole to a temp file and renamed over the old one."""
import json


class Counts:
    def __init__(self, storage, path):
        self.storage = storage
        self.path = path
        self.problem = None
        self.values = {"items": 0, "uncertain": 0, "errors": 0, "classes": {}, "lids": {}}
        text = storage.read(path)
        if text is not None:
            try:
                loaded = json.loads(text)
                for key in self.values:
                    if isinstance(loaded.get(key), type(self.values[key])):
                        self.values[key] = loaded[key]
            except (ValueError, AttributeError, RuntimeError, MemoryError):
                self.problem = path + ": unreadable, counting from zero"

    def add_item(self, label, lid, confident):
        values = self.values
        values["items"] += 1
        if not confident:
            values["uncertain"] += 1
        values["classes"][label] = values["classes"].get(label, 0) + 1
        values["lids"][lid] = values["lids"].get(lid, 0) + 1
        self.save()

    def add_error(self):
        self.values["errors"] += 1
        self.save()

    def save(self):
        self.storage.write(self.path, json.dumps(self.values).encode())
