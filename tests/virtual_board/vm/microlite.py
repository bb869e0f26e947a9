"""The virtual board's stand-in for the firmware image's `microlite` (TFLM) module: same
calls, no kernels (TFLM cannot run in the VM). The input tensor has no bulk `buffer()`, so
the application takes its per-element `setValue` path, which fits any input size; the
winning class is picked from the mean input byte (out of six), so a test chooses the class
by the frame it shows. Present only on a board started with firmware="smartbin"."""


class _Input:
    def __init__(self):
        self.total = 0
        self.count = 0

    def setValue(self, index, value):
        self.total += (value + 128) & 0xFF  # back to the 0..255 pixel
        self.count += 1
        return self


class _Output:
    def __init__(self):
        self.best = 0

    def getValue(self, index):
        return 127 if index == self.best else -128


class _Interpreter:
    def __init__(self, model, arena_size, input_callback, output_callback):
        if not isinstance(model, bytearray) or len(model) < 8:
            raise ValueError("not a TFLite flatbuffer")
        if arena_size <= 0:
            raise ValueError("arena size must be positive")
        self.input_callback = input_callback
        self.output_callback = output_callback
        self.input = _Input()
        self.output = _Output()

    def getInputTensor(self, index):
        return self.input

    def getOutputTensor(self, index):
        return self.output

    def invoke(self):
        self.input_callback(self)
        count = self.input.count or 1
        self.output.best = (self.input.total // count) * 6 // 256
        self.input.total = self.input.count = 0
        self.output_callback(self)
        return 0


def interpreter(model, arena_size, input_callback, output_callback):
    return _Interpreter(model, arena_size, input_callback, output_callback)
