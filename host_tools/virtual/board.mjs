// The virtual ESP32-CAM: the real MicroPython VM (npm @micropython/micropython-webassembly-pyscript)
// speaking the board's REPL on stdin/stdout, with its flash filesystem kept in a host folder.
//
// The VM's own REPL already does the raw REPL (Ctrl-A, code, Ctrl-D -> "OK"); this file answers
// the things the VM does differently from a board: it hangs on a raw-paste request
// (answered here: raw-paste is done as a board does it, or declined with --raw-paste off), it
// soft-reboots on Ctrl-D at an empty prompt (a fresh VM, flash kept), it mounts a
// filesystem whose errors use the board's errno numbers (vm_boot.py), and it has the chip's
// reset logic: the task watchdog that machine.WDT arms (no way to stop it, kept through soft
// resets, a hard reset when not fed in time, as ports/esp32/machine_wdt.c on MicroPython
// 1.27), machine.reset(), and the cause machine.reset_cause() reports.
//
// The firmware it presents: "smartbin" (the project's image: the camera driver and TFLM's
// microlite, here as the stand-ins in vm/) or "stock" (a plain MicroPython image: neither).
//
// Deep sleep is the chip's: machine.deepsleep() ends the program (a board powers down) with
// the wake sources armed since the last reset. An item at the sensor (a line "item" on the
// commands pipe, or --items N waiting from the start) wakes a board asleep with ext0 armed;
// a timed sleep wakes on its timer. The wake is a reset: DEEPSLEEP_RESET, wake_reason()
// EXT0_WAKE or TIMER_WAKE, boot.py and main.py run, RTC memory is kept. Items that come
// while the board is awake wait for its next deep sleep. The REPL still answers a sleeping
// board (as one woken by its RST button would): the host's Ctrl-C or Ctrl-A wakes it up.
//
// Side channels to the host process (file descriptors it passes; all optional):
// --events-fd: one JSON line per event: {"pwm": pin, "us": pulse or 0 when stopped,
//   "ms": board clock}, {"reset": cause, "wake": reason}, {"sleep": ms, "ext0": armed}, and
//   the requests of the microlite stand-in ({"tflm": "load" | "invoke", ...}), each answered
//   with one JSON line on --replies-fd while the VM waits (TFLM cannot run in WebAssembly;
//   the host runs the model), and, with --camera host, the camera's captures ({"camera":
//   "frame", width, height, format}, answered with the frame's bytes). --commands-fd: lines
//   from the host ("item").
//
// usage: node board.mjs --flash DIR [--capacity BYTES] [--frames DIR] [--heap BYTES]
//                       [--raw-paste on|off] [--firmware smartbin|stock] [--items N]
//                       [--camera files|host]
//                       [--events-fd FD --replies-fd FD --commands-fd FD]
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const here = path.dirname(fileURLToPath(import.meta.url));
const options = { flash: null, capacity: 4 * 1024 * 1024, frames: null, heap: 4 * 1024 * 1024,
                  "raw-paste": "on", firmware: "smartbin", items: 0, camera: "files",
                  "events-fd": -1, "replies-fd": -1, "commands-fd": -1 };
const NUMBERS = ["capacity", "heap", "items", "events-fd", "replies-fd", "commands-fd"];
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, "");
  const value = process.argv[i + 1];
  options[key] = NUMBERS.includes(key) ? parseInt(value, 10) : value;
}
if (!options.flash) {
  process.stderr.write("board.mjs: --flash DIR is required\n");
  process.exit(2);
}
if (!["files", "host"].includes(options.camera)) {
  process.stderr.write("board.mjs: --camera must be files or host\n");
  process.exit(2);
}
const flashRoot = path.resolve(options.flash);
fs.mkdirSync(flashRoot, { recursive: true });

// MicroPython errno numbers (py/mperrno.h), which is what a board reports.
const ERRNO = { ENOENT: 2, EIO: 5, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENOSPC: 28, ENOTEMPTY: 39 };

function hostPath(boardPath) {
  const parts = [];
  for (const part of boardPath.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop(); else parts.push(part);
  }
  return path.join(flashRoot, ...parts);
}

function errnoOf(error) {
  return -(ERRNO[error.code] || ERRNO.EIO);
}

// The flash as littlefs v2 lays it out on an ESP32 under MicroPython 1.27 (4096-byte blocks,
// 32-byte read and program sizes, hence a 128-byte cache): every folder, the root too, is a
// metadata pair of 2 blocks; a file of at most 128 bytes lives inline in its folder's
// metadata; a longer file is a CTZ skip list, whose block n (n > 0) starts with
// ctz(n) + 1 four-byte pointers back to earlier blocks.
const BLOCK = 4096;
const INLINE_MAX = 128;
const FOLDER_BLOCKS = 2;
const totalBlocks = Math.floor(options.capacity / BLOCK);

function trailingZeros(n) {
  let count = 0;
  while ((n & 1) === 0) { n >>= 1; count++; }
  return count;
}

function fileBlocks(size) {
  if (size <= INLINE_MAX) return 0;
  let blocks = 1, room = BLOCK;
  while (room < size) { room += BLOCK - 4 * (trailingZeros(blocks) + 1); blocks++; }
  return blocks;
}

function usedBlocks(dir = flashRoot) {
  let total = FOLDER_BLOCKS;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? usedBlocks(full) : fileBlocks(fs.statSync(full).size);
  }
  return total;
}

// The flash chip, as seen from vm_boot.py's VFS. Returns JSON/hex strings or a count, or a negative errno.
globalThis.board_flash = {
  block_size: () => BLOCK,
  total_blocks: () => totalBlocks,
  used_blocks: () => usedBlocks(),
  stat(p) {
    try {
      const st = fs.statSync(hostPath(p));
      return JSON.stringify([st.isDirectory() ? 0x4000 : 0x8000, st.isDirectory() ? 0 : st.size,
                             Math.floor(st.mtimeMs / 1000)]);
    } catch (e) { return errnoOf(e); }
  },
  listdir(p) {
    try {
      const dir = hostPath(p);
      return JSON.stringify(fs.readdirSync(dir, { withFileTypes: true }).map(entry => {
        const isDir = entry.isDirectory();
        return [entry.name, isDir ? 0x4000 : 0x8000, isDir ? 0 : fs.statSync(path.join(dir, entry.name)).size];
      }));
    } catch (e) { return errnoOf(e); }
  },
  mkdir(p) {
    try {
      if (fs.existsSync(hostPath(p))) return -ERRNO.EEXIST;
      if (usedBlocks() + FOLDER_BLOCKS > totalBlocks) return -ERRNO.ENOSPC;
      fs.mkdirSync(hostPath(p)); return 0;
    } catch (e) { return errnoOf(e); }
  },
  rmdir(p) { try { fs.rmdirSync(hostPath(p)); return 0; } catch (e) { return errnoOf(e); } },
  remove(p) {
    try {
      if (fs.statSync(hostPath(p)).isDirectory()) return -ERRNO.EISDIR;
      fs.unlinkSync(hostPath(p)); return 0;
    } catch (e) { return errnoOf(e); }
  },
  rename(a, b) { try { fs.renameSync(hostPath(a), hostPath(b)); return 0; } catch (e) { return errnoOf(e); } },
  create(p, truncate) {
    try {
      const full = hostPath(p);
      if (fs.existsSync(full) && fs.statSync(full).isDirectory()) return -ERRNO.EISDIR;
      if (!fs.statSync(path.dirname(full)).isDirectory()) return -ERRNO.ENOTDIR;
      if (truncate || !fs.existsSync(full)) fs.writeFileSync(full, Buffer.alloc(0));
      return 0;
    } catch (e) { return errnoOf(e); }
  },
  read(p, offset, count) {  // -> hex of up to `count` bytes from `offset`
    try {
      const fd = fs.openSync(hostPath(p), "r");
      try {
        const buffer = Buffer.alloc(count);
        const n = fs.readSync(fd, buffer, 0, count, offset);
        return buffer.subarray(0, n).toString("hex");
      } finally { fs.closeSync(fd); }
    } catch (e) { return errnoOf(e); }
  },
  write(p, offset, hex) {  // the flash fills up like a board's: ENOSPC, nothing written
    try {
      const data = Buffer.from(hex, "hex");
      const full = hostPath(p);
      const size = fs.statSync(full).size;
      const grows = fileBlocks(Math.max(size, offset + data.length)) - fileBlocks(size);
      if (usedBlocks() + grows > totalBlocks) return -ERRNO.ENOSPC;
      const fd = fs.openSync(full, "r+");
      try { fs.writeSync(fd, data, 0, data.length, offset); } finally { fs.closeSync(fd); }
      return data.length;
    } catch (e) { return errnoOf(e); }
  },
};

// The camera sensor. With --camera host the host draws each frame at the size and pixel
// format the application configured (what the sensor sees now: an item, or the empty
// chamber); with --camera files they are the files of --frames (sorted, cycled), else a test
// pattern. Returns the frame's hex, or "" when the capture failed (the driver's None).
let frameIndex = 0;
globalThis.board_camera = {
  frame(width, height, format, byteCount) {
    if (options.camera === "host") {
      const reply = askHost({ camera: "frame", width, height, format });
      return reply.error === undefined ? reply.frame : "";
    }
    if (options.frames && fs.existsSync(options.frames)) {
      const names = fs.readdirSync(options.frames).filter(n => !n.startsWith(".")).sort();
      if (names.length) {
        const data = fs.readFileSync(path.join(options.frames, names[frameIndex++ % names.length]));
        return data.toString("hex");
      }
    }
    const data = Buffer.alloc(byteCount);
    for (let i = 0; i < byteCount; i++) data[i] = (i * 7 + frameIndex * 13) & 0xff;
    frameIndex++;
    return data.toString("hex");
  },
};

// ---- side channels to the host ----------------------------------------------------------
function sendEvent(event) {
  if (options["events-fd"] < 0) return;
  try { fs.writeSync(options["events-fd"], JSON.stringify(event) + "\n"); } catch (e) { /* host gone */ }
}

let replyBuffer = Buffer.alloc(0);
const pause = new Int32Array(new SharedArrayBuffer(4));
function askHost(request) {
  // The VM waits for the answer, as it waits for TFLM's kernels on the board.
  if (options["events-fd"] < 0 || options["replies-fd"] < 0) {
    return { error: "this virtual board has no host to run TFLM (start it from smartbin)" };
  }
  sendEvent(request);
  const chunk = Buffer.alloc(65536);
  for (;;) {
    const newline = replyBuffer.indexOf(10);
    if (newline >= 0) {
      const line = replyBuffer.subarray(0, newline).toString("utf8");
      replyBuffer = replyBuffer.subarray(newline + 1);
      return JSON.parse(line);
    }
    let count;
    try {
      count = fs.readSync(options["replies-fd"], chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === "EAGAIN") { Atomics.wait(pause, 0, 0, 2); continue; }
      return { error: "the host stopped answering" };
    }
    if (count === 0) return { error: "the host stopped answering" };
    replyBuffer = Buffer.concat([replyBuffer, chunk.subarray(0, count)]);
  }
}

// microlite's kernels, on the host (vm/microlite.py). Replies are JSON text.
globalThis.board_tflm = {
  load: (modelHex, arenaBytes) => JSON.stringify(askHost({ tflm: "load", model: modelHex, arena: arenaBytes })),
  invoke: (id, inputHex) => JSON.stringify(askHost({ tflm: "invoke", id, input: inputHex })),
};

// The servo pins' PWM, as the lids see it (vm/machine.py's PWM).
globalThis.board_pins = {
  pwm(pin, us, ms) { sendEvent({ pwm: pin, us, ms }); },
};

// The chip's reset logic (numbers as ports/esp32/modmachine.c's reset_reason_t).
const RESET = { PWRON: 1, HARD: 2, WDT: 3, DEEPSLEEP: 4, SOFT: 5 };
const RESET_NAMES = { 1: "power_on", 2: "hard", 3: "watchdog", 4: "deep_sleep", 5: "soft" };
const WAKE = { EXT0: 2, TIMER: 4 };
const WAKE_NAMES = { 0: "none", 2: "ext0", 3: "ext1", 4: "timer" };
let resetCause = RESET.PWRON;
let wakeReason = 0;       // machine.wake_reason() since the last reset
let itemsWaiting = options.items;  // items at the sensor, not yet served
let ext0Armed = false;    // esp32.wake_on_ext0() since the last reset
let asleep = null;        // {ext0, timer}: in deep sleep; null when awake
let sleepCount = 0;       // tells a stale timer from the current sleep's
let rtcMemory = "";       // RTC slow memory (hex): kept through every reset but power-on
let watchdog = null;      // {timeoutMs, fedAt}: armed by machine.WDT, cleared only by a hard reset
let resetRequested = 0;   // machine.reset() was called: reset once the current command ends
globalThis.board_machine = {
  reset_cause: () => resetCause,
  // A second WDT() changes the timeout of the one watchdog (esp_task_wdt_reconfigure).
  wdt_start(ms) { watchdog = { timeoutMs: ms, fedAt: Date.now() }; },
  wdt_feed() { if (watchdog) watchdog.fedAt = Date.now(); },
  reset() { resetRequested = RESET.HARD; },
  wake_reason: () => wakeReason,
  wake_on_ext0() { ext0Armed = true; },
  rtc_memory(hex) { if (hex !== undefined) rtcMemory = hex; return rtcMemory; },
  deep_sleep(ms) {
    watchdog = null;  // the chip powers down, its watchdog with it
    asleep = { ext0: ext0Armed, timer: ms > 0 ? ms : 0 };
    const count = ++sleepCount;
    sendEvent({ sleep: asleep.timer, ext0: asleep.ext0 });
    if (asleep.timer) {
      setTimeout(() => { if (asleep && sleepCount === count) wake(WAKE.TIMER); }, asleep.timer);
    }
    itemArrived();
  },
};

function wake(reason) {
  asleep = null;
  queue = queue.then(() => hardReset(RESET.DEEPSLEEP, reason));
}

function itemArrived() {
  // ext0 is level-triggered: an item waiting at the sensor wakes the bin as it sleeps.
  if (!asleep || !asleep.ext0 || itemsWaiting <= 0) return;
  itemsWaiting--;
  const count = sleepCount;
  asleep = null;  // claimed by this wake
  setTimeout(() => { if (sleepCount === count) wake(WAKE.EXT0); }, 50);
}

if (options["commands-fd"] >= 0) {
  let commands = "";
  fs.createReadStream(null, { fd: options["commands-fd"], autoClose: false }).on("data", data => {
    commands += data.toString("utf8");
    let newline;
    while ((newline = commands.indexOf("\n")) >= 0) {
      const command = commands.slice(0, newline).trim();
      commands = commands.slice(newline + 1);
      if (command === "item") { itemsWaiting++; itemArrived(); }
    }
  }).on("error", () => {});
}

// Output: one pipe write per burst, not per byte.
let pending = [];
let dropOk = 0;  // raw-paste: the VM's "OK" was already answered with \x04
function emit(bytes) {
  if (dropOk > 0) {
    const dropped = Math.min(dropOk, bytes.length);
    bytes = Buffer.from(bytes).subarray(dropped);
    dropOk -= dropped;
    if (!bytes.length) return;
  }
  pending.push(Buffer.from(bytes));
  // A line at a time, so a long-running main.py is seen as it prints.
  if (pending.length > 4096 || bytes[bytes.length - 1] === 10) flush();
}
function flush() {
  if (pending.length) {
    const data = Buffer.concat(pending);
    pending = [];
    fs.writeSync(1, data);
  }
}
let muted = false;
// Modules the virtual board has built in (as a board has `machine` and `camera` in firmware);
// a stock image has no camera driver and no microlite.
const IMAGE_ONLY = ["camera.py", "microlite.py"];
if (!["smartbin", "stock"].includes(options.firmware)) {
  process.stderr.write("board.mjs: --firmware must be smartbin or stock\n");
  process.exit(2);
}
const builtinModules = fs.readdirSync(path.join(here, "vm"))
  .filter(n => n.endsWith(".py") && (options.firmware === "smartbin" || !IMAGE_ONLY.includes(n)))
  .map(name => [name, fs.readFileSync(path.join(here, "vm", name), "utf8")]);
// time first: the other modules use the virtual clock
const builtinNames = builtinModules.map(([name]) => name.slice(0, -3))
  .sort((a, b) => (b === "time") - (a === "time")).join(", ");
const BOOT = `
import sys
sys.path.insert(0, "/vm")
import ${builtinNames}
sys.path.pop(0)
vm_boot.mount_flash()
del ${builtinNames}, sys
`;

async function startVm() {
  const vm = await loadMicroPython({
    heapsize: options.heap, linebuffer: false,
    stdout: data => { if (!muted) emit(data); }, stderr: data => { if (!muted) emit(data); },
  });
  vm.FS.mkdir("/vm");
  for (const [name, source] of builtinModules) vm.FS.writeFile("/vm/" + name, source);
  vm.runPython(BOOT);
  return vm;
}

let vm = await startVm();
vm.replInit();
flush();

// REPL state the VM does not tell us, tracked from the input.
let rawMode = false;
let lineLength = 0;   // bytes typed since the prompt
let pasteRequest = 0; // bytes of "\x05A\x01" seen
let paste = null;     // raw-paste mode: the command received so far
const PASTE_WINDOW = 256;

const BANNERS = {
  [RESET.WDT]: "rst:0x7 (TG0WDT_SYS_RESET)", [RESET.DEEPSLEEP]: "rst:0x5 (DEEPSLEEP_RESET)",
};

async function hardReset(cause, wakeCause = 0) {
  // As a chip reset: the ROM's banner, a fresh VM, boot.py and main.py, the normal REPL.
  watchdog = null;
  asleep = null;
  ext0Armed = false;
  resetCause = cause;
  wakeReason = wakeCause;
  sendEvent({ reset: RESET_NAMES[cause], wake: WAKE_NAMES[wakeCause] || "none" });
  rawMode = false; lineLength = 0; pasteRequest = 0; paste = null; dropOk = 0; muted = false;
  emit("\r\n" + (BANNERS[cause] || "rst:0xc (SW_CPU_RESET)") + ",boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n");
  flush();
  vm = await startVm();
  vm.runPython("import vm_boot\nvm_boot.run_file('boot.py')\nvm_boot.run_file('main.py')\ndel vm_boot");
  flush();
  vm.replInit();
  flush();
}

const watchdogTimer = setInterval(() => {
  if (watchdog && Date.now() - watchdog.fedAt > watchdog.timeoutMs) {
    watchdog = null;
    queue = queue.then(() => hardReset(RESET.WDT));  // between two host commands
  }
}, 20);
watchdogTimer.unref();

async function softReboot(fromRaw) {
  resetCause = RESET.SOFT;  // the wake reason is kept, as on the chip
  ext0Armed = false;
  emit(fromRaw ? "OK\r\n" : "\r\n");
  emit("MPY: soft reboot\r\n");
  flush();
  vm = await startVm();
  vm.runPython("import vm_boot\nvm_boot.run_file('boot.py')\ndel vm_boot");
  if (!fromRaw) vm.runPython("import vm_boot\nvm_boot.run_file('main.py')\ndel vm_boot");
  flush();
  if (fromRaw) {
    muted = true;
    vm.replInit();
    await vm.replProcessCharWithAsyncify(1);
    muted = false;
    emit("raw REPL; CTRL-B to exit\r\n>");
  } else {
    vm.replInit();
  }
  lineLength = 0;
  flush();
}

async function handle(byte) {
  // A host's knock (Ctrl-C, or Ctrl-A for the raw REPL) wakes a sleeping board, as its RST
  // button would for the session; other stray bytes (a closing Ctrl-B) do not.
  if (asleep && (byte === 0x03 || byte === 0x01)) { asleep = null; sleepCount++; }
  if (paste !== null) {  // raw-paste mode (micropython's pyexec.c), flow-controlled
    if (byte === 0x03) {  // Ctrl-C aborts the paste, as on a board (a host that went away)
      paste = null;
      emit("\x04\x04KeyboardInterrupt: \r\n\x04>");
      return;
    }
    if (byte !== 0x04) {
      paste.push(byte);
      if (paste.length % PASTE_WINDOW === 0) emit("\x01");
      return;
    }
    const command = paste;
    paste = null;
    emit("\x04");  // end of data acknowledged; the VM's raw REPL runs the command
    flush();
    for (const b of command) await vm.replProcessCharWithAsyncify(b);
    dropOk = 2;
    await vm.replProcessCharWithAsyncify(0x04);
    dropOk = 0;
    return;
  }
  if (rawMode && pasteRequest > 0) {  // answer the raw-paste request
    pasteRequest = byte === [0x05, 0x41, 0x01][pasteRequest] ? pasteRequest + 1 : 0;
    if (pasteRequest === 3) {
      pasteRequest = 0;
      if (options["raw-paste"] === "off") emit("R\x00");
      else { emit(Buffer.from([0x52, 0x01, PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8])); paste = []; }
    }
    return;
  }
  if (rawMode && lineLength === 0 && byte === 0x05) { pasteRequest = 1; return; }
  if (byte === 0x04 && lineLength === 0) { await softReboot(rawMode); return; }
  if (byte === 0x01) { rawMode = true; lineLength = 0; }
  else if (byte === 0x02) { rawMode = false; lineLength = 0; }
  else if (byte === 0x03 || byte === 0x04) lineLength = 0;
  else if (!rawMode && (byte === 0x0d || byte === 0x0a)) lineLength = 0;
  else lineLength++;
  const exit = await vm.replProcessCharWithAsyncify(byte);
  if (exit) { await softReboot(false); }
}

let queue = Promise.resolve();
process.stdin.on("data", data => {
  queue = queue.then(async () => {
    for (const byte of data) {
      await handle(byte);
      if (resetRequested) {
        const cause = resetRequested;
        resetRequested = 0;
        await hardReset(cause);
      }
    }
    flush();
  });
});
process.stdin.on("end", () => queue.then(() => { flush(); process.exit(0); }));
