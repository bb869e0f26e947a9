"""The host half of the virtual board's `microlite`: the models the board's application
loads, run with TensorFlow Lite Micro (PyPI `tflite-micro`), the bin's own kernels.

The board sends the model's bytes once and then one int8 input tensor per inference;
each comes back as the int8 output tensor's bytes (host_tools/microlite_shim.py does
the TFLM calls, as for `smartbin simulate`)."""
from host_tools import microlite_shim


def _ignore(interpreter):
    pass  # the input is written before invoke, the output read after it


class TflmModel:
    """One model in a TFLM interpreter with the arena the board asked for."""

    def __init__(self, model_bytes, arena_bytes):
        try:
            self.interpreter = microlite_shim.interpreter(bytearray(model_bytes),
                                                          int(arena_bytes), _ignore, _ignore)
        except Exception as error:  # tflite-micro's own parser raises all kinds
            raise ValueError("TFLM cannot load this model (%d bytes, arena %d): %s"
                             % (len(model_bytes), arena_bytes, error)) from None
        self.input = self.interpreter.getInputTensor(0)
        self.output = self.interpreter.getOutputTensor(0)
        self.input_bytes = len(self.input.buffer())
        self.output_bytes = len(self.output.buffer())

    def invoke(self, input_bytes):
        """The int8 output tensor's bytes for these int8 input bytes."""
        if len(input_bytes) != self.input_bytes:
            raise ValueError("input of %d bytes, the model takes %d"
                             % (len(input_bytes), self.input_bytes))
        self.input.buffer()[:] = input_bytes
        self.interpreter.invoke()
        return bytes(self.output.buffer())


class TflmInference:
    """What `VirtualBoard` runs microlite's models with by default."""

    def load(self, model_bytes, arena_bytes):
        return TflmModel(model_bytes, arena_bytes)
