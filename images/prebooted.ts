/**
 * The pre-booted state of the default machine, so that opening the app gives a shell in about a
 * second instead of a boot: the guest booted headless in Node to its shell, the data disk
 * unmounted (the user's disk in the browser is not the blank one booted here: the page mounts
 * the user's after the restore) and caches dropped, then saved as a virtlab snapshot without
 * disk contents.
 *
 *   npx tsx images/prebooted.ts            build if an input changed (guest, v86, format, compression, this file)
 *   npx tsx images/prebooted.ts --force    build again
 *   npx tsx images/prebooted.ts --only=NAME[,NAME]   only these states (prebooted, prebooted-lab, …)
 *
 * The states are built in two processes at once (the default machine in one, the two lab machines
 * in the other), each with V8's baseline wasm compiler only (as the tests run, see
 * docs/architecture.md "Tests"): then each boot keeps to one thread, and set-up runs on two cores.
 * With V8's defaults the optimizing tier recompiled v86's generated code on more threads, for
 * about twice the CPU time of a boot. The state is the same either way.
 *
 * The states are compressed with zstd (the default machine's at level 22, ZSTD_LEVEL, ~25% smaller
 * than gzip, about a second per MiB here, once; the lab's two at level 9, see LAB_ZSTD_LEVEL): the page reads
 * them with a wasm decoder it loads for them only (snapshot/zstd.ts). Parts that are mostly code
 * go through the x86 filter first (snapshot/x86Filter.ts; the default state 8.38 → 7.99 MB).
 *
 * Writes images/out/prebooted.vlsnap and images/out/prebooted.json (size, sha256, inputs), and the
 * same for the network lab's machines (prebooted-lab.*: the guest with a virtio NIC and 128 MiB;
 * prebooted-lab-ne2k.*: the same with an NE2000), so a lab machine of either model starts in
 * seconds too.
 */
import { spawn } from "node:child_process";
import { setFlagsFromString } from "node:v8";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DEFAULT_PROFILE,
  SNAPSHOT_FORMAT_VERSION,
  V86_PACKAGE_VERSION,
  ZSTD_LEVEL,
  captureSnapshot,
  lastLineToShow,
  concatParts,
  tidyForSaveCommand,
  labProfile,
  machineFingerprint,
  type DeviceProfile,
  type PrebootedManifest,
} from "../src/core/index.ts";
import { GUEST_DIR, guestIsBuilt } from "../src/node/guest.ts";
import { closure, moduleNameFromPath, normaliseModuleName, parseModulesDep } from "./lib/modules.ts";
import { PREBOOTED_FILE, PREBOOTED_MANIFEST, PREBOOTED_NAMES, nodeSession, startSession } from "../src/node/session.ts";

export { PREBOOTED_FILE, PREBOOTED_MANIFEST };

const log = (message: string): void => console.error(`[prebooted] ${message}`);

function inputsKey(zstdLevel: number): string {
  const hash = createHash("sha256");
  hash.update(readFileSync(join(GUEST_DIR, "guest.json")));
  hash.update(`v86 ${V86_PACKAGE_VERSION} format ${SNAPSHOT_FORMAT_VERSION} compression ${COMPRESSION} level ${zstdLevel}`);
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  return hash.digest("hex");
}

/** How the states' chunks are compressed (part of the inputs: a change makes them again). */
const COMPRESSION = "zstd";

/**
 * The lab states' zstd level. Level 19 is what makes zstd pay (9.9 MB against gzip's 12.5; levels
 * 9 to 15 give 11.5-11.6) but costs about 40 s of a core per state. The default machine's state is
 * every first visit's largest download and gets the highest (ZSTD_LEVEL); the lab's two are fetched only when a class
 * opens the lab, and at level 9 (about 10 s each) the two set-up processes stay about even.
 */
const LAB_ZSTD_LEVEL = 9;

/** What is pre-booted: the default machine, and the network lab's (the same guest with a NIC, as labProfile says). */
const STATES = [
  { name: PREBOOTED_NAMES.default, profile: DEFAULT_PROFILE, label: "Pre-booted default machine", zstdLevel: ZSTD_LEVEL },
  { name: PREBOOTED_NAMES.lab, profile: labProfile("virtio"), label: "Pre-booted network lab machine (virtio-net)", zstdLevel: LAB_ZSTD_LEVEL },
  { name: PREBOOTED_NAMES.labNe2k, profile: labProfile("ne2k"), label: "Pre-booted network lab machine (NE2000)", zstdLevel: LAB_ZSTD_LEVEL },
] as const;

export async function buildPrebooted(force = false, only?: readonly string[]): Promise<void> {
  if (!guestIsBuilt()) throw new Error("The default guest is not built: run `npm run guest` first.");
  const unknown = (only ?? []).filter((n) => !STATES.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`no pre-booted state is called ${unknown.join(", ")}`);
  for (const state of STATES) if (only === undefined || only.includes(state.name)) await buildOne(state.name, state.profile, state.label, state.zstdLevel, force);
}

/** Every state, in two child processes at once: the default machine, and the lab's two. */
function buildInTwoProcesses(force: boolean): Promise<void> {
  const groups = [[PREBOOTED_NAMES.default], [PREBOOTED_NAMES.lab, PREBOOTED_NAMES.labNe2k]];
  const self = fileURLToPath(import.meta.url);
  return Promise.all(
    groups.map(
      (names) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [...process.execArgv, self, `--only=${names.join(",")}`, ...(force ? ["--force"] : [])], { stdio: "inherit" });
          child.on("error", reject);
          child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`building ${names.join(", ")} failed (exit ${code ?? "signal"})`))));
        }),
    ),
  ).then(() => undefined);
}

/** The recipe's module lists (images/manifest.json): what a running machine may still `modprobe`. */
function modulesLoadedLater(): string[] {
  const recipe = JSON.parse(readFileSync(fileURLToPath(new URL("./manifest.json", import.meta.url)), "utf8")) as { onDemandModules: string[]; dataDiskModules: string[] };
  return [...recipe.onDemandModules, ...recipe.dataDiskModules];
}

/**
 * Module files a restored machine never reads leave the in-memory root file system before the
 * state is saved, and init_on_free=1 zeroes the pages they used, so the state compresses smaller
 * (issue 12: bytes before the first prompt). Two kinds:
 * - what the kernel has loaded: it holds its own copy of each, and busybox modprobe skips what
 *   /proc/modules lists (the one thing lost: a module removed with `rmmod` cannot come back);
 * - drivers of hardware this machine does not have: its hardware is fixed (the state's fingerprint
 *   pins it; other hardware boots, or restores a boot of its own), and init loaded at boot the
 *   drivers of what it has.
 * The modules the recipe loads on demand (the data disk's file system, the lab scripts' bridge,
 * veth, dummy) and what they depend on keep their files unless loaded. A cold boot has every file.
 * Returns how many files went.
 */
async function dropUnneededModuleFiles(machine: { housekeep(command: string): Promise<{ output: string; exitCode: number }> }): Promise<number> {
  const dir = "/lib/modules/$(uname -r)";
  const listed = async (what: string, command: string): Promise<string> => {
    const result = await machine.housekeep(command);
    if (result.exitCode !== 0) throw new Error(`listing ${what} failed in the guest: ${result.output}`);
    return result.output;
  };
  const deps = parseModulesDep(await listed("modules.dep", `cat ${dir}/modules.dep`));
  const loaded = new Set((await listed("loaded modules", 'cut -d " " -f 1 /proc/modules')).split("\n").map((name) => normaliseModuleName(name.trim())));
  const files = (await listed("module files", `cd ${dir} && find . -name "*.ko" | sed "s|^\\./||"`)).split("\n").map((f) => f.trim()).filter((f) => f !== "");
  const pathOf = new Map([...deps.keys()].map((path) => [moduleNameFromPath(path), path]));
  const roots = modulesLoadedLater().map((name) => {
    const path = pathOf.get(normaliseModuleName(name));
    if (path === undefined) throw new Error(`the recipe loads ${name} on demand, but the guest's modules.dep has no such module`);
    return path;
  });
  const keep = closure(roots, deps);
  const drop = files.filter((f) => loaded.has(moduleNameFromPath(f)) || !keep.has(f));
  if (drop.length === 0) return 0;
  const removed = await machine.housekeep(`cd ${dir} && rm ${drop.join(" ")}`);
  if (removed.exitCode !== 0) throw new Error(`removing module files failed in the guest: ${removed.output}`);
  return drop.length;
}

async function buildOne(name: string, profile: DeviceProfile, label: string, zstdLevel: number, force: boolean): Promise<void> {
  const key = inputsKey(zstdLevel);
  const file_ = `${name}.vlsnap`;
  const manifestPath = join(GUEST_DIR, `${name}.json`);
  if (!force && existsSync(manifestPath) && existsSync(join(GUEST_DIR, file_))) {
    const current = JSON.parse(readFileSync(manifestPath, "utf8")) as { inputs?: string };
    if (current.inputs === key) {
      log(`${file_} up to date`);
      return;
    }
  }
  const started = performance.now();
  // The page's own session, cold: the default machine with its data disk (an overlay, as in the
  // browser: v86 embeds a plain {buffer} disk whole in its state).
  const session = nodeSession({ prebooted: false });
  try {
    await startSession(session, { kind: "cold" }, undefined, profile);
    const machine = session.machine;
    const guest = session.guest;
    if (machine === undefined || guest === undefined) throw new Error("the machine did not start");
    await machine.waitForShell({ timeoutMs: 240_000 });
    const check = (what: string, result: { output: string; exitCode: number }): void => {
      if (result.exitCode !== 0) throw new Error(`${what} failed in the guest: ${result.output}`);
    };
    await machine.agent.whenListening(30_000);
    // Nothing from this machine's own data disk may stay in the state, and caches are dropped
    // (the kernel's init_on_free=1 zeroes what they held, so the state carries no stale pages).
    // Through the guest agent: the console keeps the boot's last line, the prompt.
    log(`${file_}: ${await dropUnneededModuleFiles(machine)} module files dropped`);
    check("umount /data", await machine.housekeep(tidyForSaveCommand({ dataDisk: true })));
    const screen = lastLineToShow(machine.recentOutput());
    if (!screen.startsWith("root@virtlab:")) throw new Error(`the console does not end with the prompt: ${JSON.stringify(screen)}`);
    const { header, parts } = await captureSnapshot(machine, {
      // The data disk is unmounted and the page probes it again when its size differs: the state
      // serves a blank data disk of any size (see fingerprint.ts, anySize).
      fingerprint: machineFingerprint(profile, guest, { hda: { size: "any", base: "blank" } }),
      disks: [],
      app: "virtlab (pre-booted at set-up)",
      v86: V86_PACKAGE_VERSION,
      name: label,
      createdAt: Date.now(),
      // The page shows it again after the restore (the guest prints nothing then).
      preview: screen,
      packing: { compression: COMPRESSION, level: zstdLevel, x86Filter: true },
    });
    const file = concatParts(parts);
    const sha256 = createHash("sha256").update(file).digest("hex");
    writeFileSync(join(GUEST_DIR, `${file_}.tmp`), file);
    renameSync(join(GUEST_DIR, `${file_}.tmp`), join(GUEST_DIR, file_));
    // The hardware goes in the description too: a page on other hardware need not fetch the file.
    const manifest: PrebootedManifest & Record<string, unknown> = { file: file_, size: file.length, sha256, rawSize: header.rawSize, compression: header.compression, v86: V86_PACKAGE_VERSION, fingerprint: header.fingerprint, inputs: key };
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
    log(`${file_}: ${(header.rawSize / 1e6).toFixed(1)} MB state, ${(file.length / 1e6).toFixed(1)} MB file (${header.compression}), made in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await session.stop().catch(() => undefined);
    session.dispose();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const force = process.argv.includes("--force");
  const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
  // Before any wasm is compiled: it holds for the modules v86 makes from then on.
  setFlagsFromString("--liftoff-only");
  (only === undefined ? buildInTwoProcesses(force) : buildPrebooted(force, only)).then(
    () => process.exit(0),
    (error: unknown) => {
      log(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
