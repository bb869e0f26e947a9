"""The firmware's `microlite` module (tensorflow-micropython-examples) on the host, over PyPI
`tflite-micro`: the same TFLM kernels the board runs, behind the same calls.

    interp = microlite_shim.interpreter(model_bytearray, arena_size, input_cb, output_cb)
    tensor = interp.getInputTensor(0)       # or getOutputTensor(0)
    tensor.setValue(i, v); tensor.getValue(i); tensor.getType()
    tensor.buffer()                          # writable memoryview ('B') over the tensor's bytes
    interp.invoke()                          # input_cb(interp), run, output_cb(interp); 0 = ok

`buffer()` is the bulk path our firmware image adds to microlite; like on the board,
bytes written through it are what the next invoke() reads. The board keeps tensors in its
arena; here each tensor is a numpy array handed to tflite-micro on invoke.
"""
import numpy as np

from host_tools.errors import SmartbinError

_MIN_ARENA = 1024
_TYPES = {np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8",
          np.dtype(np.float32): "float32"}


class Tensor:
    def __init__(self, details):
        self.shape = tuple(int(x) for x in details["shape"])
        self.dtype = np.dtype(details["dtype"])
        self.quantization = details.get("quantization_parameters") or {}
        self.data = np.zeros(self.shape, dtype=self.dtype)

    def getType(self):
        return _TYPES.get(self.dtype, str(self.dtype))

    def getValue(self, index):
        value = self.data.reshape(-1)[index]
        return float(value) if self.dtype == np.float32 else int(value)

    def setValue(self, index, value):
        self.data.reshape(-1)[index] = value
        return self

    def buffer(self):
        return memoryview(self.data.reshape(-1).view(np.uint8))


class Interpreter:
    def __init__(self, model, arena_size, input_callback, output_callback):
        from tflite_micro.python.tflite_micro import runtime

        if not isinstance(model, (bytearray, memoryview)):
            raise TypeError("microlite needs the model in a bytearray")
        for name, callback in (("input", input_callback), ("output", output_callback)):
            if callback is not None and not callable(callback):
                raise ValueError("Invalid %s Callback Handler" % name.title())
        if int(arena_size) < _MIN_ARENA:  # tflite-micro crashes (not raises) below this
            raise SmartbinError("TFLM arena of %d bytes is too small" % arena_size)
        try:
            self._runtime = runtime.Interpreter.from_bytes(bytes(model), arena_size=int(arena_size))
        except (RuntimeError, ValueError) as error:
            raise SmartbinError("TFLM cannot load the model (arena %d bytes): %s"
                                % (arena_size, error))
        self.input_callback = input_callback
        self.output_callback = output_callback
        self.input = Tensor(self._runtime.get_input_details(0))
        self.output = Tensor(self._runtime.get_output_details(0))
        self.inference_count = 0

    def getInputTensor(self, index):
        if index != 0:
            raise IndexError("one input tensor")
        return self.input

    def getOutputTensor(self, index):
        if index != 0:
            raise IndexError("one output tensor")
        return self.output

    def invoke(self):
        self.input_callback(self)
        self._runtime.set_input(self.input.data, 0)
        self._runtime.invoke()
        self.output.data[...] = self._runtime.get_output(0).reshape(self.output.shape)
        self.inference_count += 1
        self.output_callback(self)
        return 0


def interpreter(model, arena_size, input_callback, output_callback):
    return Interpreter(model, arena_size, input_callback, output_callback)
