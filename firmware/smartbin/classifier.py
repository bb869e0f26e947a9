"""The model on TFLM's `microlite` module: loaded once, then `classify()` runs one inference
on whatever the preprocessor wrote into `input_view` and leaves the top class and its int8
score in `best` / `best_score` (ints: no float, no allocation in the hot path)."""


def _ignore(interpreter):
    # microlite calls these around every invoke; the input is already written in place
    pass


class ModelError(Exception):
    pass


def load_model(storage, path):
    """The .tflite file in one bytearray (microlite needs a mutable array, not bytes)."""
    size = storage.size(path)
    if size <= 0:
        raise ModelError("model file missing: " + path)
    model = bytearray(size)
    if storage.readinto(path, model) != size:
        raise ModelError("model file short read: " + path)
    return model


class Classifier:
    def __init__(self, microlite, model, contract):
        self.contract = contract
        self.model = model  # the interpreter points into it: keep it alive
        self.interpreter = microlite.interpreter(model, contract.arena_bytes, _ignore, _ignore)
        # getInputTensor allocates a wrapper per call: fetch both tensors once
        self.input = self.interpreter.getInputTensor(0)
        self.output = self.interpreter.getOutputTensor(0)
        self.count = len(contract.labels)
        scores_view = getattr(self.output, "buffer", None)
        if scores_view is not None and len(scores_view()) != self.count:
            # else the bin would sort by the wrong class names, or read past the scores
            raise ModelError("model output size does not match the labels in model.json")
        buffer = getattr(self.input, "buffer", None)
        if buffer is not None:
            self.input_view = buffer()  # bulk path: the tensor's own bytes, no copy
            self.staging = None
            if len(self.input_view) != contract.input_bytes:
                raise ModelError("model input size does not match model.json")
        else:
            self.staging = bytearray(contract.input_bytes)
            self.input_view = self.staging
        self.scores = [0] * self.count
        self.best = 0
        self.best_score = -128

    def arena_internal(self):
        """True when the arena sits in internal RAM (the firmware image's patched binding
        says so); a binding that cannot tell is taken at its word."""
        where = getattr(self.interpreter, "arenaInternal", None)
        return True if where is None else bool(where())

    def classify(self):
        if self.staging is not None:
            self._copy_in()
        if self.interpreter.invoke() != 0:
            raise ModelError("inference failed")
        output = self.output
        scores = self.scores
        best = 0
        for i in range(self.count):
            score = output.getValue(i)
            scores[i] = score
            if score > scores[best]:
                best = i
        self.best = best
        self.best_score = scores[best]

    def _copy_in(self):
        # firmware without the bulk buffer(): one setValue per byte (slow, still correct)
        tensor = self.input
        staging = self.staging
        for i in range(len(staging)):
            value = staging[i]
            tensor.setValue(i, value - 256 if value > 127 else value)
