"""A stand-in for the firmware's `microlite` module where TFLM cannot run (the MicroPython
VM): same calls, deterministic scores. The class is chosen from the mean input byte, so a
test picks the class by the frame it shows. The real kernels are exercised under CPython
through host_tools/microlite_shim.py.

  interpreter(model, arena_size, input_callback, output_callback)
  FakeMicrolite(input_bytes=27648, labels=6, with_buffer=True, winner_score=127,
                broken=False): a module-like object. with_buffer=False drops tensor.buffer()
  (the per-element setValue path); winner_score sets the top class's int8 score (low
  values make the bin unsure); broken=True makes interpreter() raise like a bad model.
"""


class _Tensor:
    def __init__(self, size, with_buffer):
        self.data = bytearray(size)
        if with_buffer:
            self.buffer = self._buffer

    def _buffer(self):
        return memoryview(self.data)

    def setValue(self, index, value):
        self.data[index] = value & 0xFF
        return self

    def getValue(self, index):
        value = self.data[index]
        return value - 256 if value > 127 else value


class _Interpreter:
    def __init__(self, model, arena_size, input_callback, output_callback, owner):
        if len(model) < 8 or model[4:8] != b"TFL3":
            raise ValueError("not a TFLite flatbuffer")
        self.owner = owner
        self.input_callback = input_callback
        self.output_callback = output_callback
        self.input = _Tensor(owner.input_bytes, owner.with_buffer)
        self.output = _Tensor(owner.labels, True)
        self.invokes = 0
        if owner.arena_internal is not None:
            # only the firmware image's patched binding has arenaInternal(), as on the board
            self.arenaInternal = lambda: owner.arena_internal

    def getInputTensor(self, index):
        return self.input

    def getOutputTensor(self, index):
        return self.output

    def invoke(self):
        self.input_callback(self)
        data = self.input.data
        total = 0
        for i in range(len(data)):
            total += data[i] ^ 0x80  # back to the 0..255 pixel
        mean = total // len(data)
        best = mean * self.owner.labels // 256
        output = self.output.data
        for i in range(self.owner.labels):
            output[i] = self.owner.winner_byte if i == best else 0x80  # others: -128
        self.invokes += 1
        self.output_callback(self)
        return 0


class FakeMicrolite:
    def __init__(self, input_bytes=96 * 96 * 3, labels=6, with_buffer=True, winner_score=127,
                 broken=False, arena_internal=True):
        self.input_bytes = input_bytes
        self.labels = labels
        self.with_buffer = with_buffer
        self.winner_byte = winner_score & 0xFF
        self.broken = broken
        self.arena_internal = arena_internal  # None: a binding without arenaInternal()
        self.interpreters = []

    def interpreter(self, model, arena_size, input_callback, output_callback):
        if self.broken:
            raise RuntimeError("AllocateTensors() failed")
        interp = _Interpreter(model, arena_size, input_callback, output_callback, self)
        self.interpreters.append(interp)
        return interp
