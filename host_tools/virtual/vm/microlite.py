"""The firmware image's `microlite` (TFLM) on the virtual board: the binding's calls, the
kernels on the host. TFLM cannot run in the VM, so the interpreter hands the model bytes
to the host once (board.mjs's `board_tflm`) and each invoke() sends the input tensor's
bytes there and takes the int8 output back; the host runs them with PyPI tflite-micro
(host_tools/virtual/inference.py). The tensors have the image's bulk `buffer()`, so the
application's code path is the board's. Present only on a board with firmware="smartbin"."""
import json

import js


class _Tensor:
    def __init__(self, size):
        self._data = bytearray(size)

    def buffer(self):
        return memoryview(self._data)

    def getValue(self, index):
        value = self._data[index]
        return value - 256 if value > 127 else value

    def setValue(self, index, value):
        self._data[index] = value & 0xFF
        return self


class _Interpreter:
    def __init__(self, model, arena_size, input_callback, output_callback):
        if not isinstance(model, bytearray):
            raise TypeError("microlite needs the model in a bytearray")
        reply = json.loads(js.board_tflm.load(bytes(model).hex(), arena_size))
        if "error" in reply:
            raise ValueError(reply["error"])
        self._id = reply["id"]
        self.input_callback = input_callback
        self.output_callback = output_callback
        self.input = _Tensor(reply["input_bytes"])
        self.output = _Tensor(reply["output_bytes"])

    def getInputTensor(self, index):
        return self.input

    def getOutputTensor(self, index):
        return self.output

    def invoke(self):
        self.input_callback(self)
        reply = json.loads(js.board_tflm.invoke(self._id, bytes(self.input._data).hex()))
        if "error" in reply:
            return 1  # as the binding: a failed invoke is a non-zero status
        self.output._data[:] = bytes.fromhex(reply["output"])
        self.output_callback(self)
        return 0


def interpreter(model, arena_size, input_callback, output_callback):
    return _Interpreter(model, arena_size, input_callback, output_callback)
