"""The fakes are honest: the application only uses what the real modules have, and the
fakes only offer what the real modules have.

"Real" is read from the pinned upstream sources (their archives, see pinned_sources.py):
the method tables (`mp_rom_map_elem_t ...[]`) of the pinned MicroPython's `machine` and
`esp32` modules and their Pin/PWM/WDT/RTC/ADC types, the pinned camera API's `camera`
module and `Camera` type, and microlite's module,
interpreter and tensor types with the image's patch applied. The application
(firmware/main.py, firmware/smartbin) is read with `ast` and every attribute it takes
from those modules or their objects is looked up there; the virtual board's modules
(host_tools/virtual/vm) and firmware/sim's fakes must not offer more than the real ones.
"""
import ast
import functools
import re
from pathlib import Path

from pinned_sources import CAMERA_API, MICROLITE, MICROPYTHON, read_source

REPO_ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = REPO_ROOT / "firmware"
VM_MODULES = REPO_ROOT / "host_tools" / "virtual" / "vm"
PATCHES = FIRMWARE / "image" / "patches"

MICROLITE_C = "micropython-modules/microlite/tensorflow-microlite.c"

# Conditions of table entries that hold on the AI-Thinker ESP32-CAM but are decided by
# ESP-IDF's soc_caps.h / sdkconfig (not among the pinned sources): the ESP32 has ext0/ext1
# wake, touch sensors, and the build target is the ESP32.
_TRUE_ON_ESP32 = {
    "SOC_PM_SUPPORT_EXT0_WAKEUP", "SOC_PM_SUPPORT_EXT1_WAKEUP", "SOC_TOUCH_SENSOR_SUPPORTED",
    "CONFIG_IDF_TARGET_ESP32",
}


# ---- the pinned sources -------------------------------------------------------------------
def apply_patch(text, patch_text, path):
    """`text` with the hunks of a unified diff for `path` applied (exact context match)."""
    sections = re.split(r"^--- ", patch_text, flags=re.M)[1:]
    for section in sections:
        header, _, body = section.partition("\n")
        target = body.split("\n", 1)[0]
        if not (header.strip().endswith(path) or target.strip().endswith(path)):
            continue
        position = 0
        for hunk in re.split(r"^@@[^\n]*@@[^\n]*\n", body, flags=re.M)[1:]:
            old, new = [], []
            for line in hunk.split("\n"):
                if line.startswith("--- ") or line.startswith("diff "):
                    break
                if line.startswith(" ") or line == "":
                    old.append(line[1:])
                    new.append(line[1:])
                elif line.startswith("-"):
                    old.append(line[1:])
                elif line.startswith("+"):
                    new.append(line[1:])
            while old and old[-1] == "" and new and new[-1] == "":
                old.pop()
                new.pop()
            old_block, new_block = "\n".join(old), "\n".join(new)
            found = text.find(old_block, position)
            assert found >= 0, "the patch no longer applies to %s" % path
            text = text[:found] + new_block + text[found + len(old_block):]
            position = found + len(new_block)
    return text


@functools.lru_cache(maxsize=None)
def _port_defines():
    """Names the esp32 port's mpconfigport.h defines, over py/mpconfig.h's defaults."""
    defines = {}
    for path in ("py/mpconfig.h", "ports/esp32/mpconfigport.h"):
        header = read_source(MICROPYTHON, path)
        defines.update(re.findall(r"^\s*#define\s+(\w+)\s+\(?([^)\n]*)\)?", header, flags=re.M))
    return defines


def _enabled(condition, file_text, macros):
    """True / False / None (unknown) for a table entry's preprocessor condition."""
    kind, _, expression = condition.partition(" ")
    expression = expression.split("//")[0].strip()
    defines = _port_defines()
    if kind == "#ifdef":
        return (expression in defines or expression in macros
                or ("#define " + expression) in file_text or None)
    if kind == "#ifndef":
        return False if expression in defines else None
    if expression in _TRUE_ON_ESP32:
        return True
    match = re.match(r"^(\w+)(?:\s*>\s*0)?$", expression)
    if match:
        name = match.group(1)
        value = defines.get(name)
        if value is None:
            local = re.search(r"#define\s+%s\s+\(?(\d+)" % name, file_text)
            value = local.group(1) if local else None
        if value is not None and value.strip().isdigit():
            return int(value) > 0
        if value is None and not name.startswith(("SOC_", "CONFIG_")):
            return False  # defined nowhere in the port or py/: the preprocessor reads 0
    return None


def table(text, name, macros=None):
    """{attribute: True | None} of a C method table: True when present on the ESP32-CAM,
    None when it depends on something this test cannot decide (SoC caps not listed)."""
    start = re.search(r"mp_rom_map_elem_t\s+%s\s*\[\]\s*=\s*\{" % re.escape(name), text)
    assert start, "no table %s" % name
    body = text[start.end():text.index("\n};", start.end())]
    entries = {}
    stack = []  # one True/False/None per open #if
    for line in body.split("\n"):
        stripped = line.strip()
        if stripped.startswith(("#if", "#ifdef", "#ifndef")):
            stack.append(_enabled(stripped, text, macros or {}))
            continue
        if stripped.startswith("#else"):
            stack[-1] = None if stack[-1] is None else not stack[-1]
            continue
        if stripped.startswith("#elif"):
            stack[-1] = None
            continue
        if stripped.startswith("#endif"):
            stack.pop()
            continue
        if False in stack:
            continue
        state = None if None in stack else True
        names = re.findall(r"MP_ROM_QSTR\(MP_QSTR_(\w+)\)", stripped)
        names += ["%s_%s" % (prefix, prop) for prop in
                  re.findall(r"ADD_PROPERTY_TO_TABLE\((\w+)\)", stripped) for prefix in ("get", "set")]
        for macro, expansion in (macros or {}).items():
            if re.fullmatch(macro + r"\s*,?", stripped):
                names += expansion
        for entry in names:
            entries[entry] = True if entries.get(entry) else state
    return entries


@functools.lru_cache(maxsize=None)
def real_api():
    """{type name: {attribute: True | None}} of everything the application may touch."""
    def mp(path):
        return read_source(MICROPYTHON, path)

    port_machine = mp("ports/esp32/modmachine.c")
    extra = re.search(r"#define MICROPY_PY_MACHINE_EXTRA_GLOBALS(.*?)\n\n", port_machine, re.S)
    machine = table(mp("extmod/modmachine.c"), "machine_module_globals_table",
                    {"MICROPY_PY_MACHINE_EXTRA_GLOBALS":
                     re.findall(r"MP_QSTR_(\w+)\)", extra.group(1))})
    camera_api = read_source(CAMERA_API, "src/modcamera_api.c")
    camera_hal = read_source(CAMERA_API, "src/modcamera.c")
    microlite = read_source(MICROLITE, MICROLITE_C)
    for patch in sorted(PATCHES.glob("*.patch")):
        microlite = apply_patch(microlite, patch.read_text(), MICROLITE_C)
    return {
        "machine": machine,
        "machine.Pin": table(mp("ports/esp32/machine_pin.c"), "machine_pin_locals_dict_table"),
        "machine.PWM": table(mp("extmod/machine_pwm.c"), "machine_pwm_locals_dict_table"),
        "machine.WDT": table(mp("extmod/machine_wdt.c"), "machine_wdt_locals_dict_table"),
        "machine.RTC": table(mp("ports/esp32/machine_rtc.c"), "machine_rtc_locals_dict_table"),
        "machine.ADC": table(mp("extmod/machine_adc.c"), "machine_adc_locals_dict_table"),
        "esp32": table(mp("ports/esp32/modesp32.c"), "esp32_module_globals_table"),
        "camera": table(camera_api, "camera_module_globals_table"),
        "camera.Camera": table(camera_api, "camera_camera_locals_table"),
        "camera.FrameSize": table(camera_hal, "mp_camera_hal_frame_size_table"),
        "camera.PixelFormat": table(camera_hal, "mp_camera_hal_pixel_format_table"),
        "camera.GrabMode": table(camera_hal, "mp_camera_hal_grab_mode_table"),
        "camera.GainCeiling": table(camera_hal, "mp_camera_hal_gainceiling_table"),
        "microlite": table(microlite, "microlite_module_globals_table"),
        "microlite.interpreter": table(microlite, "interpreter_locals_dict_table"),
        "microlite.tensor": table(microlite, "tensor_locals_dict_table"),
    }


def _allowed_args(text, function):
    """Keyword names a C function parses (its `allowed_args[]`)."""
    start = re.search(r"^static [^\n]*\b%s\(" % function, text, re.M)
    assert start, "no function %s" % function
    body = text[start.end():text.index("\n}\n", start.end())]
    table = body[body.index("allowed_args[]"):]
    return set(re.findall(r"\{\s*MP_QSTR_(\w+),\s*MP_ARG", table[:table.index("};")]))


@functools.lru_cache(maxsize=None)
def real_keywords():
    """{constructor type or (type, function): keyword names it accepts}."""
    def mp(path):
        return read_source(MICROPYTHON, path)

    pin = _allowed_args(mp("ports/esp32/machine_pin.c"), "machine_pin_obj_init_helper")
    modesp32 = mp("ports/esp32/modesp32.c")
    return {
        "machine.Pin": pin, ("machine.Pin", "init"): pin,
        "machine.PWM": _allowed_args(mp("ports/esp32/machine_pwm.c"),
                                     "mp_machine_pwm_init_helper"),
        "machine.WDT": _allowed_args(mp("extmod/machine_wdt.c"), "machine_wdt_make_new"),
        "camera.Camera": _allowed_args(read_source(CAMERA_API, "src/modcamera_api.c"),
                                       "mp_camera_make_new"),
        ("esp32", "wake_on_ext0"): _allowed_args(modesp32, "esp32_wake_on_ext0"),
        ("esp32", "wake_on_ext1"): _allowed_args(modesp32, "esp32_wake_on_ext1"),
    }


# ---- what the application uses ----------------------------------------------------------
# The project's own device classes (smartbin/board.py), reached through `hw.<device>`.
_HARDWARE = {"camera": "board.BoardCamera", "wake": "board.Wake", "status_led": "board.Led",
             "flash_led": "board.Led", "clock": "board.Clock", "power": "board.Power"}
# (type, method) -> type of what the call returns
_RETURNS = {("microlite", "interpreter"): "microlite.interpreter",
            ("microlite.interpreter", "getInputTensor"): "microlite.tensor",
            ("microlite.interpreter", "getOutputTensor"): "microlite.tensor"}


class _Uses(ast.NodeVisitor):
    """Collects (line, type, attribute) for attributes taken from typed expressions."""

    def __init__(self, tree):
        self.names = {"microlite": "microlite", "hw": "Hardware", "self.hw": "Hardware"}
        self.uses = []
        self.keywords = []  # (line, constructor type or (type, function), keyword)
        self.scopes = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in ("machine", "esp32", "camera", "microlite"):
                        self.names[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module in ("machine", "esp32", "camera"):
                for alias in node.names:
                    self.names[alias.asname or alias.name] = node.module + "." + alias.name
        self.scopes = [self._assignments(tree, {})]
        self.tree = tree

    def _assignments(self, scope_node, names):
        # two rounds, so `x = self.a` sees `self.a = ...` made later in the source
        for _ in range(2):
            for node in ast.walk(scope_node):
                if isinstance(node, ast.Assign):
                    kind = self.type_of(node.value, names)
                    for target in node.targets:
                        if kind and isinstance(target, (ast.Name, ast.Attribute)):
                            names[ast.unparse(target)] = kind
        return names

    def type_of(self, node, local=None):
        key = ast.unparse(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        for scope in ([local] if local is not None else []) + self.scopes[::-1] + [self.names]:
            if key in scope:
                return scope[key]
        if isinstance(node, ast.Attribute):
            owner = self.type_of(node.value, local)
            if owner == "Hardware":
                return _HARDWARE.get(node.attr)
            if owner in ("machine", "esp32", "camera") and owner + "." + node.attr in real_api():
                return owner + "." + node.attr
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                owner = self.type_of(node.func.value, local)
                if (owner, node.func.attr) in _RETURNS:
                    return _RETURNS[(owner, node.func.attr)]
            kind = self.type_of(node.func, local)
            if kind and "." in kind and kind in real_api():
                return kind  # a constructor: Pin(...), machine.WDT(...), Camera(...)
        return None

    def visit_ClassDef(self, node):
        self.scopes.append(self._assignments(node, {}))
        self.generic_visit(node)
        self.scopes.pop()

    def visit_FunctionDef(self, node):
        self.scopes.append(self._assignments(node, {}))
        self.generic_visit(node)
        self.scopes.pop()

    def visit_Attribute(self, node):
        kind = self.type_of(node.value)
        if kind and not (isinstance(node.ctx, ast.Store)):
            self.uses.append((node.lineno, kind, node.attr))
        self.generic_visit(node)

    def visit_Call(self, node):
        target = None
        if isinstance(node.func, ast.Attribute):
            owner = self.type_of(node.func.value)
            if (owner, node.func.attr) in real_keywords():
                target = (owner, node.func.attr)
        kind = self.type_of(node.func)
        if target is None and kind in real_keywords():
            target = kind
        if target is not None:
            for keyword in node.keywords:
                if keyword.arg:
                    self.keywords.append((node.lineno, target, keyword.arg))
        # getattr(x, "name", ...) and hasattr(x, "name") are uses of "name" too
        if (isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            kind = self.type_of(node.args[0])
            if kind:
                self.uses.append((node.lineno, kind, node.args[1].value))
        self.generic_visit(node)


def uses_in(source, name="<source>", keywords=False):
    """[(where, type, attribute)] for one module's source text; with keywords=True
    [(where, callee, keyword)] of the keyword arguments given to the real APIs."""
    tree = ast.parse(source, name)
    visitor = _Uses(tree)
    visitor.visit(tree)
    found = visitor.keywords if keywords else visitor.uses
    return [("%s:%d" % (name, line), kind, attr) for line, kind, attr in found]


def application_uses(keywords=False):
    files = [FIRMWARE / "main.py"] + sorted((FIRMWARE / "smartbin").glob("*.py"))
    found = []
    for path in files:
        found += uses_in(path.read_text(), str(path.relative_to(REPO_ROOT)), keywords)
    return found


def unknown_keywords(calls):
    table = real_keywords()
    return ["%s: %s takes no keyword %s" % (where, callee, keyword)
            for where, callee, keyword in calls if keyword not in table[callee]]


def _board_classes():
    """{"board.Class": set of public method names} from firmware/smartbin/board.py."""
    tree = ast.parse((FIRMWARE / "smartbin" / "board.py").read_text())
    return {"board." + node.name: {item.name for item in node.body
                                   if isinstance(item, ast.FunctionDef)
                                   and not item.name.startswith("_")}
            for node in tree.body if isinstance(node, ast.ClassDef)}


def unknown_attributes(uses):
    """The uses whose attribute the real module or object does not have (or may not have)."""
    api = real_api()
    board = _board_classes()
    problems = []
    for where, kind, attr in uses:
        if kind == "Hardware":
            continue
        if kind in board:
            if attr not in board[kind]:
                problems.append("%s: %s has no %s" % (where, kind, attr))
            continue
        members = api.get(kind, {})
        if kind in ("machine", "esp32", "camera") and kind + "." + attr in api:
            present = members.get(attr)
        else:
            present = members.get(attr, False)
        if present is False:
            problems.append("%s: %s has no attribute %s" % (where, kind, attr))
        elif present is None:
            problems.append("%s: %s.%s exists only on some chips/builds" % (where, kind, attr))
    return problems


# ---- the tests ------------------------------------------------------------------------------
def test_the_source_tables_hold_what_the_bin_relies_on():
    api = real_api()
    assert api["machine.WDT"] == {"feed": True}  # no deinit and no timeout_ms on the esp32
    assert api["camera.Camera"]["free_buffer"] and api["camera.Camera"]["capture"]
    assert "BROWNOUT_RESET" not in api["machine"] and api["machine"]["PWRON_RESET"]
    assert api["esp32"]["gpio_deep_sleep_hold"] is None  # only with some SoC caps
    assert api["microlite.tensor"]["buffer"] and api["microlite.interpreter"]["arenaInternal"]


def test_the_scanner_finds_the_applications_device_calls():
    found = {(kind, attr) for _, kind, attr in application_uses()}
    for expected in (("machine.WDT", "feed"), ("machine", "deepsleep"), ("machine.Pin", "value"),
                     ("camera.Camera", "free_buffer"), ("camera.Camera", "deinit"),
                     ("machine.PWM", "duty_ns"), ("esp32", "wake_on_ext0"),
                     ("microlite.tensor", "buffer"), ("microlite.tensor", "getValue"),
                     ("microlite.interpreter", "invoke"), ("board.BoardCamera", "capture"),
                     ("board.Power", "feed_watchdog")):
        assert expected in found, expected


def test_the_scanner_catches_an_attribute_the_real_module_lacks():
    source = ("import machine\nimport esp32\nfrom camera import Camera\n"
              "def f(microlite, model):\n"
              "    if machine.reset_cause() == machine.BROWNOUT_RESET:\n"
              "        esp32.gpio_deep_sleep_hold(True)\n"
              "    cam = Camera()\n    cam.free_buf()\n"
              "    t = microlite.interpreter(model, 1, f, f).getInputTensor(0)\n"
              "    t.readinto(model)\n    machine.WDT(timeout=5).deinit()\n")
    problems = "\n".join(unknown_attributes(uses_in(source)))
    for name in ("BROWNOUT_RESET", "gpio_deep_sleep_hold", "free_buf", "readinto", "deinit"):
        assert name in problems, name


def test_the_application_uses_only_what_the_real_modules_have():
    assert unknown_attributes(application_uses()) == []


def test_the_application_passes_only_keywords_the_real_functions_take():
    calls = application_uses(keywords=True)
    found = {(callee, keyword) for _, callee, keyword in calls}
    for expected in (("machine.Pin", "hold"), ("machine.PWM", "duty_ns"),
                     ("machine.WDT", "timeout"), ("camera.Camera", "powerdown_pin"),
                     (("esp32", "wake_on_ext0"), "level"), (("machine.Pin", "init"), "hold")):
        assert expected in found, expected
    assert unknown_keywords(calls) == []


def test_the_keyword_check_catches_a_misspelt_keyword():
    source = ("from machine import Pin, PWM\nimport esp32\n"
              "def f():\n    Pin(4, Pin.OUT, hld=True)\n    PWM(Pin(2), frequency=50)\n"
              "    esp32.wake_on_ext0(pin=Pin(13), edge=1)\n")
    problems = "\n".join(unknown_keywords(uses_in(source, keywords=True)))
    for name in ("hld", "frequency", "edge"):
        assert name in problems, name


def test_every_camera_frame_size_the_bin_asks_for_exists():
    tree = ast.parse((FIRMWARE / "smartbin" / "board.py").read_text())
    sizes = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "_FRAME_SIZES")
    real = real_api()["camera.FrameSize"]
    assert [name for name in sizes.values() if not real.get(name)] == []


# The virtual board's built-in modules stand for these real modules.
_VM_MODULES = {"machine.py": "machine", "esp32.py": "esp32", "camera.py": "camera"}


def _public_members(class_node):
    names = set()
    for item in class_node.body:
        if isinstance(item, ast.FunctionDef):
            names.add(item.name)
        elif isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
    for node in ast.walk(class_node):  # self.name = <a callable> in a method
        if (isinstance(node, ast.Assign) and isinstance(node.value, (ast.Lambda, ast.Attribute))
                and all(isinstance(t, ast.Attribute) and ast.unparse(t.value) == "self"
                        for t in node.targets)):
            if isinstance(node.value, ast.Lambda) or ast.unparse(node.value.value) == "self":
                names.update(t.attr for t in node.targets)
    return {name for name in names if not name.startswith("_") or name == "__getattr__"}


def vm_fake_extras():
    """What the virtual board's modules offer beyond the real ones."""
    api = real_api()
    extras = []
    for file_name, module in _VM_MODULES.items():
        tree = ast.parse((VM_MODULES / file_name).read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                kind = module + "." + node.name
                if not api["machine" if module == "machine" else module].get(node.name):
                    extras.append("%s: %s" % (file_name, kind))
                    continue
                for name in _public_members(node) - {n for n, v in api.get(kind, {}).items() if v}:
                    extras.append("%s: %s.%s" % (file_name, kind, name))
            elif isinstance(node, (ast.FunctionDef, ast.Assign)):
                names = [node.name] if isinstance(node, ast.FunctionDef) else [
                    t.id for t in node.targets if isinstance(t, ast.Name)]
                for name in names:
                    if not name.startswith("_") and not api[module].get(name):
                        extras.append("%s: %s.%s" % (file_name, module, name))
    return extras


def test_the_virtual_boards_modules_offer_nothing_the_real_ones_lack():
    assert vm_fake_extras() == []


def _fake_classes(path):
    tree = ast.parse(path.read_text())
    return {node.name: _public_members(node) for node in tree.body if isinstance(node, ast.ClassDef)}


def test_the_virtual_boards_microlite_offers_nothing_the_binding_lacks():
    api = real_api()
    stand_in = _fake_classes(VM_MODULES / "microlite.py")
    for name, kind in (("_Interpreter", "microlite.interpreter"), ("_Tensor", "microlite.tensor")):
        assert stand_in[name] - {n for n, v in api[kind].items() if v} == set(), name


def test_the_microlite_fake_offers_nothing_the_binding_lacks():
    api = real_api()
    fakes = _fake_classes(FIRMWARE / "sim" / "fake_microlite.py")
    for fake, kind in (("_Interpreter", "microlite.interpreter"), ("_Tensor", "microlite.tensor")):
        assert fakes[fake] - {n for n, v in api[kind].items() if v} == set(), fake
    module_calls = {n for n in fakes["FakeMicrolite"] if n != "__init__"}
    assert {"interpreter"} <= module_calls
    assert module_calls - {n for n, v in api["microlite"].items() if v} == set()


def test_the_sim_fakes_implement_each_board_device_and_add_no_device_calls():
    """Each fake device has the board class's methods; what it has beyond them are test
    controls the application never calls (checked above: the app only calls board methods)."""
    board = _board_classes()
    fakes = _fake_classes(FIRMWARE / "sim" / "fakes.py")
    pairs = {"BoardCamera": "FakeCamera", "PwmServo": "FakeServo", "Led": "FakeLed",
             "Wake": "FakeWake", "Clock": "FakeClock", "Power": "FakePower",
             "PowerLatch": "FakeLatch"}
    for board_class, fake_class in pairs.items():
        missing = board["board." + board_class] - fakes[fake_class]
        assert missing == set(), "%s lacks %s" % (fake_class, sorted(missing))
