"""The application inside a real MicroPython (the pinned npm VM, no `machine`):
full cycles with the fakes, the fault paths, flat memory from cycle to cycle, an
allocation-free hot path, and the same int8 tensor as the host."""
import json

import numpy as np
import pytest

from .helpers import FIRMWARE, LABELS, contract_dict, frame_for_class
from .micropython_vm import FIRMWARE_MOUNTS, MicroPythonError, run_micropython, vm_available
from .test_preprocess_parity import host_input, random_frame



@pytest.fixture(autouse=True)
def micropython_vm_installed():
    # A missing VM must fail the run, not quietly skip the proof that the firmware runs.
    if not vm_available():
        pytest.fail("the MicroPython VM is not installed: run `make node` (make test does)")

FAKE_MODEL = b"\x1c\x00\x00\x00TFL3" + bytes(56)


def flash_files(config=None, contract=None):
    """Files for the VM's /flash folder, where the bin's real Storage will find them."""
    config_text = json.dumps(config) if config else (FIRMWARE / "config.json").read_text()
    return {
        "/flash/config.json": config_text.encode(),
        "/flash/model.json": json.dumps(contract or contract_dict()).encode(),
        "/flash/model.tflite": FAKE_MODEL,
    } | {"/frames/%d.raw" % i: frame_for_class(i) for i in range(len(LABELS))}


SETUP = """
import gc, json, micropython
from smartbin import app, config as config_module
from smartbin.storage import Storage
from sim.fakes import build_fake_hardware, RamStorage
from sim.fake_microlite import FakeMicrolite

def boot(storage, wakes=(), reset_cause="power_on", microlite=None):
    config = config_module.load(storage)
    hw = build_fake_hardware(config, wakes=wakes, reset_cause=reset_cause, storage=storage)
    smart_bin = app.SmartBin(hw, config, microlite or FakeMicrolite())
    smart_bin.boot()
    return smart_bin

def forget_recordings(hw):
    for servo in hw.lids:
        servo.records.clear()
    hw.camera.records.clear()
    hw.power.sleeps.clear()
    hw.status_led.records.clear()
    hw.flash_led.records.clear()
"""


def test_many_cycles_run_in_micropython_with_flat_memory():
    config = json.loads((FIRMWARE / "config.json").read_text())
    config["debug"]["max_frames"] = 2
    setup = SETUP + """
smart_bin = boot(Storage("/flash"))
hw = smart_bin.hw
lid_moves = []
"""
    cycle = """
gc.collect()
emit(gc.mem_alloc())
hw.camera.show("/frames/%d.raw")
smart_bin.serve("sensor")
smart_bin.sleep()
lid_moves.append(smart_bin.cycle.lid)
forget_recordings(hw)
"""
    cycles = [cycle % (i % len(LABELS)) for i in range(14)]
    finish = """
emit({"moves": lid_moves, "counts": json.loads(open("/flash/counts.json").read()),
      "debug": sorted(__import__("os").listdir("/flash/debug"))})
"""
    result = run_micropython(setup, *cycles, finish, mounts=FIRMWARE_MOUNTS,
                             files=flash_files(config))
    memory, summary = result.values[:-1], result.values[-1]
    # paper, containers, containers, paper, containers, general - over and over
    assert summary["moves"] == [[0, 1, 1, 0, 1, 2][i % 6] for i in range(14)]
    assert summary["counts"]["items"] == 14
    assert len(summary["debug"]) == 4  # two frames, each .raw + .json
    settled = memory[4:]
    assert max(settled) - min(settled) <= 256, memory


def test_capture_to_decision_allocates_nothing_in_micropython():
    script = SETUP + """
smart_bin = boot(Storage("/flash"))
frame = open("/frames/2.raw", "rb").read()

def hot_path():
    smart_bin.cycle.classify(frame)
    return smart_bin.cycle.decider.lid_for(smart_bin.cycle.label, smart_bin.cycle.score)

def under_heap_lock():
    # only locals in here: a new global would itself allocate while the heap is locked
    micropython.heap_lock()
    try:
        lid = hot_path()
        allocated = False
    except MemoryError:
        lid = -1
        allocated = True
    micropython.heap_unlock()
    return allocated, lid

hot_path()  # the first call may still intern names
allocated, lid = under_heap_lock()
emit({"allocated": allocated, "lid": lid, "label": smart_bin.cycle.label})
"""
    value = run_micropython(script, mounts=FIRMWARE_MOUNTS, files=flash_files()).values[0]
    assert value == {"allocated": False, "lid": 1, "label": 2}


def test_fault_paths_keep_the_bin_going_in_micropython():
    script = SETUP + """
def flash_copy(**changes):
    storage = RamStorage()
    for name in ("config.json", "model.json", "model.tflite"):
        storage.files["/" + name] = open("/flash/" + name, "rb").read()
    for name in changes:
        storage.files["/" + name.replace("_", ".")] = changes[name]
    return storage

def serve(smart_bin, frame_index):
    smart_bin.hw.camera.show("/frames/%d.raw" % frame_index)
    smart_bin.serve("sensor")
    smart_bin.sleep()
    return smart_bin.cycle.lid

results = {}
camera = boot(flash_copy())
camera.hw.camera.broken = True
results["camera_lid"] = serve(camera, 1)
results["camera_log"] = "camera" in camera.hw.storage.read("/errors.log").decode()

full = boot(flash_copy())
full.hw.storage.full = True
results["full_lids"] = [serve(full, 1), serve(full, 3)]

bad = boot(flash_copy(config_json=b'{"decide": {"threshold": "x"}, "lids": 5}'))
results["bad_config_problems"] = len(bad.config.problems)
results["bad_config_lid"] = serve(bad, 4)
results["bad_config_blinks"] = len([r for r in bad.hw.status_led.records if r[1]])

corrupt = boot(flash_copy(model_json=b"{broken"))
results["corrupt_model_classifier"] = corrupt.classifier is None
results["corrupt_model_lid"] = serve(corrupt, 1)

crash = boot(flash_copy())
crash.hw.lids[2].pulse_us = None
results["crash_lid_then"] = [serve(crash, 5), serve(crash, 0)]
results["crash_logged"] = "cycle: TypeError" in crash.hw.storage.read("/errors.log").decode()
emit(results)
"""
    results = run_micropython(script, mounts=FIRMWARE_MOUNTS, files=flash_files()).values[0]
    assert results == {
        "camera_lid": 2, "camera_log": True,
        "full_lids": [1, 0],
        "bad_config_problems": 2, "bad_config_lid": 1, "bad_config_blinks": 4,
        "corrupt_model_classifier": True, "corrupt_model_lid": 2,
        "crash_lid_then": [2, 0], "crash_logged": True,
    }


def test_micropython_bin_takes_the_models_threshold_unless_the_config_sets_one():
    contract = contract_dict()
    contract["sorting"] = {"threshold": 0.45, "target_contamination": 0.1}
    config = json.loads((FIRMWARE / "config.json").read_text())
    script = SETUP + """
def lid_for_unsure_glass(config_json):
    storage = RamStorage()
    for name in ("model.json", "model.tflite"):
        storage.files["/" + name] = open("/flash/" + name, "rb").read()
    storage.files["/config.json"] = config_json
    smart_bin = boot(storage, microlite=FakeMicrolite(winner_score=0))  # confidence 0.5
    smart_bin.hw.camera.show("/frames/1.raw")
    smart_bin.serve("sensor")
    return smart_bin.cycle.lid

emit({"model": lid_for_unsure_glass(open("/flash/config.json", "rb").read()),
      "config": lid_for_unsure_glass(%r)})
""" % json.dumps(dict(config, decide=dict(config["decide"], threshold=0.6))).encode()
    value = run_micropython(script, mounts=FIRMWARE_MOUNTS,
                            files=flash_files(contract=contract)).values[0]
    assert value == {"model": 1, "config": 2}


def test_micropython_preprocessing_matches_the_host_byte_for_byte():
    frame = random_frame(1, 96 * 96)
    script = """
import binascii, json
from smartbin.model_contract import ModelContract
from smartbin.preprocess import Preprocessor
contract = ModelContract(json.loads(open("/flash/model.json").read()))
pre = Preprocessor(contract)
out = bytearray(contract.input_bytes)
pre.run(open("/frame.raw", "rb").read(), out)
emit({"native": pre.native, "tensor": binascii.hexlify(out).decode()})
"""
    files = flash_files() | {"/frame.raw": frame}
    value = run_micropython(script, mounts=FIRMWARE_MOUNTS, files=files).values[0]
    assert value["native"] is False  # the VM has no viper emitter: the plain twin ran
    vm_tensor = np.frombuffer(bytes.fromhex(value["tensor"]), dtype=np.int8)
    assert np.array_equal(vm_tensor, host_input(frame, contract_dict()))


def test_a_python_error_inside_the_vm_is_reported_with_its_traceback():
    with pytest.raises(MicroPythonError, match="ZeroDivisionError"):
        run_micropython("1 / 0")


def test_each_wake_boots_afresh_as_after_deep_sleep_in_micropython():
    script = SETUP + """
storage = Storage("/flash")
config = config_module.load(storage)
lids = []
for index, cause in enumerate(("power_on", "deep_sleep", "deep_sleep", "deep_sleep")):
    hw = build_fake_hardware(config, frames=["/frames/%d.raw" % index],
                             wakes=["power_on" if index == 0 else "sensor"],
                             reset_cause=cause, storage=storage)
    smart_bin = app.main(hw, config, FakeMicrolite(), wakes=1)
    lids.append([len(servo.records) > 0 for servo in hw.lids])
emit({"lids": lids, "counts": json.loads(storage.read("/counts.json"))["lids"]})
"""
    value = run_micropython(script, mounts=FIRMWARE_MOUNTS, files=flash_files()).values[0]
    # power-on closes all three lids; each later wake moves only its item's lid
    assert value["lids"] == [[True, True, True], [False, True, False],
                             [False, True, False], [True, False, False]]
    assert value["counts"] == {"containers": 2, "paper": 1}


def test_a_latch_powered_bin_switches_itself_off_and_survives_cuts_in_micropython():
    config = json.loads((FIRMWARE / "config.json").read_text())
    config["power"]["mode"] = "latch"
    script = SETUP + """
from sim.fakes import FakeSupply, PowerCut

def switch_on(supply=None):
    storage = Storage("/flash")
    config = config_module.load(storage)
    hw = build_fake_hardware(config, wakes=["power_on"], storage=storage, supply=supply)
    hw.camera.show("/frames/3.raw")
    try:
        app.main(hw, config, FakeMicrolite(), wakes=1)
    except PowerCut as cut:
        return hw, str(cut)
    return hw, None

hw, first = switch_on()
# a half-written debug pair and a temp file, as a power cut leaves them
open("/flash/debug/000001.raw", "wb").write(b"x")
open("/flash/counts.json.tmp", "wb").write(b"{")
hw, second = switch_on()
emit({"first": first, "second": second, "latch": [r[1] for r in hw.latch.records],
      "counts": json.loads(open("/flash/counts.json").read())["items"],
      "debug": sorted(__import__("os").listdir("/flash/debug")),
      "released": "released" in __import__("os").listdir("/flash")})
"""
    value = run_micropython(script, mounts=FIRMWARE_MOUNTS,
                            files=flash_files(config)).values[0]
    assert value["first"] == value["second"] == "keep-alive released"
    assert value["latch"] == ["release"] and value["counts"] == 2 and value["released"]
    # the half pair 000001 was dropped at boot and its number reused by the second item
    assert value["debug"] == ["000000.json", "000000.raw", "000001.json", "000001.raw"]


def test_hostile_json_is_a_named_problem_in_micropython_not_a_crash():
    nested = b"[" * 20_000 + b"]" * 20_000
    lying = dict(contract_dict(), labels=["glass", "glass"])
    script = """
import json
from smartbin import config as config_module, model_contract
from sim.fakes import RamStorage

def contract_problem(text):
    storage = RamStorage()
    storage.files["/model.json"] = text
    try:
        model_contract.load(storage, "/model.json")
    except model_contract.ContractError as error:
        return str(error)
    return None

storage = RamStorage()
storage.files["/config.json"] = %r
emit({"config": config_module.load(storage).problems[0],
      "nested model": contract_problem(%r), "lying model": contract_problem(%r)})
""" % (nested, nested, json.dumps(lying).encode())
    value = run_micropython(script, mounts=FIRMWARE_MOUNTS).values[0]
    # MicroPython's parser is not recursive: deep nesting parses, then fails the checks.
    assert value["config"].endswith("using defaults")
    assert value["nested model"].startswith("model.json: ")
    assert "distinct" in value["lying model"]
