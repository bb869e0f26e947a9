"""Runs under the unix build of the firmware's MicroPython (never under CPython): the real
application modules with the real `microlite` and viper emitter, fake hardware
from firmware/sim. The test sets MICROPYPATH to the firmware folder and reads one line per
result from stdout: "@" + JSON.

  probe.py modules                          what the binary's C modules offer
  probe.py scores MODEL_DIR FRAMES REPEAT   the app's preprocessing + classifier on each
                                            frame of FRAMES (raw RGB565, back to back),
                                            REPEAT times per frame, deep calls between
  probe.py load MODEL_FILE ARENA            microlite.interpreter() on a model file
  probe.py churn MODEL_DIR COUNT            COUNT interpreters made and dropped
  probe.py cycles FLASH_DIR FRAMES WAKES    the whole app on fake hardware, WAKES wakes
  probe.py isolate MODEL_JSON FRAMES        item isolation, native and plain: the first
                                            frame is the empty chamber, each other one an
                                            item; its box and the input bytes' sum
"""
import gc
import json
import sys

import microlite


def emit(**fields):
    print("@" + json.dumps(fields))


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def contract_of(model_dir):
    from smartbin.model_contract import ModelContract

    return ModelContract(json.loads(read_file(model_dir + "/model.json")))


def frames_of(path, frame_bytes):
    data = read_file(path)
    return [data[i:i + frame_bytes] for i in range(0, len(data), frame_bytes)]


def deep(depth):
    # Python frames on top of the C stack that TFLM's initialisation used: a resolver left
    # on that stack is overwritten here
    if depth == 0:
        return 0
    scratch = [depth, depth * 3, depth * 7, bytearray(64)]
    return deep(depth - 1) + len(scratch)


def modules():
    from smartbin.preprocess import Preprocessor

    try:
        import ulab  # noqa: F401

        has_ulab = True
    except ImportError:
        has_ulab = False
    interpreter_type = microlite.interpreter
    tensor_type = microlite.tensor
    emit(microlite=sorted(dir(microlite)), interpreter=sorted(dir(interpreter_type)),
         tensor=sorted(dir(tensor_type)), ulab=has_ulab,
         native_preprocessing=Preprocessor(contract_of(sys.argv[2])).native)


def scores(model_dir, frames_path, repeat):
    from smartbin.classifier import Classifier
    from smartbin.preprocess import Preprocessor

    contract = contract_of(model_dir)
    classifier = Classifier(microlite, bytearray(read_file(model_dir + "/model.tflite")), contract)
    preprocessor = Preprocessor(contract)
    view = classifier.input_view
    emit(native=preprocessor.native, bulk=classifier.staging is None, input_bytes=len(view))
    for frame in frames_of(frames_path, preprocessor.frame_bytes):
        runs = []
        for _ in range(repeat):
            # TFLM reuses the input tensor's memory during invoke(): the app writes the
            # input before every inference, and so does this
            preprocessor.run(frame, view)
            classifier.classify()
            runs.append(list(classifier.scores))
            deep(60)
            gc.collect()
        emit(runs=runs, best=classifier.best)


def load(model_path, arena):
    try:
        interpreter = microlite.interpreter(bytearray(read_file(model_path)), arena, None, None)
        tensor = interpreter.getInputTensor(0)
        emit(loaded=True, input_bytes=len(tensor.buffer()))
    except Exception as error:
        emit(loaded=False, error=type(error).__name__, message=str(error))


def churn(model_dir, count):
    contract = contract_of(model_dir)
    model = bytearray(read_file(model_dir + "/model.tflite"))
    used = []
    for i in range(count):
        interpreter = microlite.interpreter(model, contract.arena_bytes, None, None)
        interpreter.getInputTensor(0).buffer()[0] = i & 0xFF
        interpreter = None
        gc.collect()
        used.append(gc.mem_alloc())
    emit(mem_alloc=used)


def forget_recordings(hw):
    # the fakes record every LED blink and servo pulse for the tests; that is the test's
    # memory, not the bin's, so it is dropped before the heap is measured
    for device in [hw.camera, hw.status_led, hw.flash_led, hw.power] + list(hw.lids):
        for name in ("records", "sleeps"):
            recorded = getattr(device, name, None)
            if isinstance(recorded, list):
                del recorded[:]


def cycles(flash_dir, frames_path, wakes):
    from sim.fakes import RamStorage, build_fake_hardware
    from smartbin import app
    from smartbin import config as config_module

    storage = RamStorage()
    for name in ("config.json", "model.json", "model.tflite"):
        try:
            storage.write("/" + name, read_file(flash_dir + "/" + name))
        except OSError:
            pass  # a flash without that file
    config = config_module.load(storage, app.CONFIG_PATH)
    contract_bytes = 96 * 96 * 2
    frames = frames_of(frames_path, contract_bytes)
    hw = build_fake_hardware(config, frames=frames * (wakes // len(frames) + 1),
                             wakes=("sensor",) * wakes, storage=storage)
    smart_bin = app.SmartBin(hw, config, microlite)
    smart_bin.boot()
    used = []
    for _ in range(wakes):
        smart_bin.serve(hw.wake.reason())
        smart_bin.sleep()
        forget_recordings(hw)
        gc.collect()
        used.append(gc.mem_alloc())
    errors = storage.read(config.errors_path)
    counts = storage.read(config.counts_path)
    emit(mem_alloc=used, served=smart_bin.served, codes=smart_bin.codes,
         classifier=smart_bin.classifier is not None,
         errors=errors.decode() if errors else "",
         counts=json.loads(counts) if counts else None)


def isolate(contract_path, frames_path):
    from smartbin.model_contract import ModelContract
    from smartbin.preprocess import Preprocessor

    contract = ModelContract(json.loads(read_file(contract_path)))
    for allow_native in (True, False):
        preprocessor = Preprocessor(contract, allow_native)
        isolator = preprocessor.isolator
        frames = frames_of(frames_path, preprocessor.frame_bytes)
        isolator.remember_empty(frames[0])
        out = bytearray(contract.input_bytes)
        for frame in frames[1:]:
            gc.collect()
            before = gc.mem_alloc()
            preprocessor.run(frame, out)
            allocated = gc.mem_alloc() - before
            emit(native=isolator.native, found=isolator.found,
                 box=[isolator.left, isolator.top, isolator.width, isolator.height],
                 input_sum=sum(out), allocated=allocated, empty=list(isolator.empty))


def main():
    command = sys.argv[1]
    if command == "modules":
        modules()
    elif command == "scores":
        scores(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "load":
        load(sys.argv[2], int(sys.argv[3]))
    elif command == "churn":
        churn(sys.argv[2], int(sys.argv[3]))
    elif command == "cycles":
        cycles(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "isolate":
        isolate(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("unknown command " + command)


main()
