// Run one Python script in the pinned MicroPython VM (npm micropython-webassembly-pyscript).
// Input on stdin, JSON: {"heapsize": bytes, "mounts": [[hostDir, vmDir], ...],
//                        "files": {vmPath: base64}, "scripts": ["python source", ...]}
// Host folders are copied into the VM's in-memory filesystem (.py, .json and data files).
// The scripts run one after another in the same VM (globals persist). This port's
// gc.collect() frees garbage only from earlier runPython calls, so code that measures
// memory across cycles runs each cycle as its own script.
// Output: the scripts' stdout; a Python exception goes to stderr and exit code 1.
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const vmModule = path.join(here, "..", "..", "node_modules", "@micropython",
                           "micropython-webassembly-pyscript", "micropython.mjs");
const { loadMicroPython } = await import(vmModule);

const spec = JSON.parse(fs.readFileSync(0, "utf8"));
const mp = await loadMicroPython({
  heapsize: spec.heapsize || 4 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function makeDirs(vmPath) {
  let current = "";
  for (const part of vmPath.split("/").filter(Boolean)) {
    current += "/" + part;
    try { mp.FS.mkdir(current); } catch (error) { /* exists */ }
  }
}

function copyTree(hostDir, vmDir) {
  makeDirs(vmDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    if (entry.name === "__pycache__" || entry.name.startsWith(".")) continue;
    const hostPath = path.join(hostDir, entry.name);
    const vmPath = vmDir + "/" + entry.name;
    if (entry.isDirectory()) copyTree(hostPath, vmPath);
    else mp.FS.writeFile(vmPath, fs.readFileSync(hostPath));
  }
}

for (const [hostDir, vmDir] of spec.mounts || []) copyTree(hostDir, vmDir);
for (const [vmPath, data] of Object.entries(spec.files || {})) {
  makeDirs(path.posix.dirname(vmPath));
  mp.FS.writeFile(vmPath, Buffer.from(data, "base64"));
}

try {
  for (const script of spec.scripts) mp.runPython(script);
} catch (error) {
  if (error.name !== "PythonError") throw error;
  process.stderr.write(error.message + "\n");
  process.exitCode = 1;
}
