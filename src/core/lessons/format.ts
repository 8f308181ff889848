/**
 * Lessons are data: JSON files a teacher writes (format in docs/lessons.md), read at run time.
 * `parseLesson` checks one completely and says what is wrong in words a teacher can act on; a
 * malformed lesson is reported, never fatal, and never half-used.
 */
import { MAX_MEMORY_MIB, MIN_LINUX_MEMORY_MIB, type ConsoleModel, type CpuMode, type NicModel } from "../profile.ts";
import { PAIRS, type PairId, type SizePreset } from "../lab/devices.ts";
import type { WalkTarget } from "../microscope/steps.ts";
import { NETWORK_MODES, type NetworkMode } from "../net/network.ts";
import { MAX_LAB_MACHINES } from "../net/networkLab.ts";
import { ADDRESS_PLACEHOLDER, LAB_MACHINE_NAME, NETWORK_ACTION_TYPES, describeNetworkAction, isNetworkAction, type NetworkLessonAction } from "./network.ts";

export const LESSON_FORMAT = "virtlab-lesson/1";
export const LESSON_INDEX_FORMAT = "virtlab-lessons/1";

/** What a step does to the live machine when the user presses its button. */
export type LessonAction =
  /** Type a command into the terminal and show its output (and whether it matched `expect`). */
  | { readonly type: "command"; readonly command: string; readonly expect?: string; readonly timeoutSeconds?: number }
  /** Restart the machine with other hardware (only the fields named change). */
  | { readonly type: "devices"; readonly set: LessonDevices }
  /** Run the device lab's benchmark for these pairs and show the figures. */
  | { readonly type: "benchmark"; readonly pairs: readonly PairId[]; readonly size: SizePreset }
  /** Save a snapshot of the running machine under this name, or restore the newest one of that name. */
  | { readonly type: "snapshot-save"; readonly name: string }
  | { readonly type: "snapshot-restore"; readonly name: string }
  /** Inflate the machine's balloon to this many MiB (0 deflates it); needs `"balloon": true` in devices. */
  | { readonly type: "balloon"; readonly mib: number }
  /** Walk a guest address through the guest's page tables and check it against the guest's report. */
  | { readonly type: "address-walk"; readonly target: WalkTarget }
  /** Run a command while counting what a shadow-page-table VMM would trap (a simulation). */
  | { readonly type: "page-tables"; readonly command: string; readonly timeoutSeconds?: number }
  /** Run a command with the trap meter on: traps per device (per MB when `bytes` says what it moves), /proc/interrupts before/after. */
  | { readonly type: "traps"; readonly command: string; readonly bytes?: number; readonly timeoutSeconds?: number }
  /** Run a command with the JIT on, off and on again, on the running machine: time and MIPS each way. */
  | { readonly type: "jit-switch"; readonly command: string; readonly timeoutSeconds?: number }
  /** The network lab's steps (network.ts): reset, add a machine, mode, run on a machine, read the capture. */
  | NetworkLessonAction;

export interface LessonDevices {
  readonly nic?: NicModel;
  readonly console?: ConsoleModel;
  readonly cpu?: CpuMode;
  readonly memoryMiB?: number;
  readonly balloon?: boolean;
}

export interface LessonStep {
  readonly title: string;
  /** Paragraphs shown with the step. */
  readonly text: readonly string[];
  readonly action?: LessonAction;
}

export interface Lesson {
  readonly id: string;
  readonly title: string;
  readonly summary: string;
  /** Paragraphs of the lesson's introduction. */
  readonly text: readonly string[];
  readonly steps: readonly LessonStep[];
  /** Where the facts come from (course notes), shown under the lesson. */
  readonly sources?: readonly string[];
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: readonly string[] };

export const LESSON_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;
const MAX_TEXT = 4000;
const MAX_STEPS = 40;
const MAX_COMMAND = 2000;
const MAX_TIMEOUT_S = 600;
const NICS: readonly NicModel[] = ["none", "ne2k", "virtio"];
const CONSOLES: readonly ConsoleModel[] = ["uart", "virtio"];
const CPUS: readonly CpuMode[] = ["jit", "interpreter"];
const SIZES: readonly SizePreset[] = ["quick", "standard"];
const PAIR_IDS: readonly string[] = PAIRS.map((p) => p.id);
const WALK_TARGETS: readonly WalkTarget[] = ["kernel", "process"];
const LAB_NICS: readonly ("ne2k" | "virtio")[] = ["ne2k", "virtio"];
const MODES: readonly NetworkMode[] = NETWORK_MODES.map((m) => m.mode);
const ACTION_TYPES = `command, devices, benchmark, snapshot-save, snapshot-restore, balloon, address-walk, page-tables, traps, jit-switch, ${NETWORK_ACTION_TYPES.join(", ")}`;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Collects problems with a path ("steps[2].action.command") so the teacher finds the line. */
class Checker {
  readonly problems: string[] = [];

  fail(path: string, what: string): undefined {
    this.problems.push(`${path}: ${what}`);
    return undefined;
  }

  string(obj: Json, key: string, path: string, options: { optional?: boolean; max?: number } = {}): string | undefined {
    const value = obj[key];
    if (value === undefined && options.optional === true) return undefined;
    if (typeof value !== "string" || value.trim() === "") return this.fail(`${path}${key}`, "must be a non-empty text");
    if (value.length > (options.max ?? MAX_TEXT)) return this.fail(`${path}${key}`, `is longer than ${options.max ?? MAX_TEXT} characters`);
    return value;
  }

  /** A paragraph or a list of paragraphs. */
  paragraphs(obj: Json, key: string, path: string): string[] | undefined {
    const value = obj[key];
    if (value === undefined) return [];
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list) || !list.every((p) => typeof p === "string" && p.length <= MAX_TEXT)) {
      return this.fail(`${path}${key}`, `must be a text or a list of texts (each at most ${MAX_TEXT} characters)`);
    }
    return list as string[];
  }

  oneOf<T extends string>(obj: Json, key: string, allowed: readonly T[], path: string): T | undefined {
    const value = obj[key];
    if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) return this.fail(`${path}${key}`, `must be one of ${allowed.join(", ")}`);
    return value as T;
  }

  unknownKeys(obj: Json, known: readonly string[], path: string): void {
    for (const key of Object.keys(obj)) if (!known.includes(key)) this.fail(`${path}${key}`, `is not part of the lesson format (known here: ${known.join(", ")})`);
  }
}

function parseDevices(c: Checker, value: unknown, path: string): LessonDevices | undefined {
  if (!isObject(value)) return c.fail(path, "must be an object such as {\"nic\": \"virtio\"}");
  c.unknownKeys(value, ["nic", "console", "cpu", "memoryMiB", "balloon"], `${path}.`);
  const devices: { -readonly [K in keyof LessonDevices]: LessonDevices[K] } = {};
  const nic = value["nic"] === undefined ? undefined : c.oneOf(value, "nic", NICS, `${path}.`);
  if (nic !== undefined) devices.nic = nic;
  const consoleModel = value["console"] === undefined ? undefined : c.oneOf(value, "console", CONSOLES, `${path}.`);
  if (consoleModel !== undefined) devices.console = consoleModel;
  const cpu = value["cpu"] === undefined ? undefined : c.oneOf(value, "cpu", CPUS, `${path}.`);
  if (cpu !== undefined) devices.cpu = cpu;
  if (value["memoryMiB"] !== undefined) {
    const mib = value["memoryMiB"];
    if (typeof mib !== "number" || !Number.isInteger(mib) || mib < MIN_LINUX_MEMORY_MIB || mib > MAX_MEMORY_MIB) {
      c.fail(`${path}.memoryMiB`, `must be a whole number from ${MIN_LINUX_MEMORY_MIB} to ${MAX_MEMORY_MIB}`);
    } else devices.memoryMiB = mib;
  }
  if (value["balloon"] !== undefined) {
    if (typeof value["balloon"] !== "boolean") c.fail(`${path}.balloon`, "must be true or false");
    else devices.balloon = value["balloon"];
  }
  if (Object.keys(value).length === 0) c.fail(path, "names no device to change");
  return devices;
}

function parseAction(c: Checker, value: unknown, path: string): LessonAction | undefined {
  if (!isObject(value)) return c.fail(path, "must be an object with a \"type\"");
  const type = value["type"];
  const at = `${path}.`;
  switch (type) {
    case "command": {
      c.unknownKeys(value, ["type", "command", "expect", "timeoutSeconds"], at);
      const command = oneLineCommand(c, value, at);
      const expect = expectPattern(c, value, at);
      const timeout = value["timeoutSeconds"];
      if (timeout !== undefined && (typeof timeout !== "number" || !(timeout > 0 && timeout <= MAX_TIMEOUT_S))) c.fail(`${at}timeoutSeconds`, `must be a number of seconds from 1 to ${MAX_TIMEOUT_S}`);
      return command === undefined
        ? undefined
        : { type, command, ...(expect === undefined ? {} : { expect }), ...(typeof timeout === "number" ? { timeoutSeconds: timeout } : {}) };
    }
    case "devices": {
      c.unknownKeys(value, ["type", "set"], at);
      const set = parseDevices(c, value["set"], `${at}set`);
      return set === undefined ? undefined : { type, set };
    }
    case "benchmark": {
      c.unknownKeys(value, ["type", "pairs", "size"], at);
      const pairs = value["pairs"];
      if (!Array.isArray(pairs) || pairs.length === 0 || !pairs.every((p) => typeof p === "string" && PAIR_IDS.includes(p))) {
        return c.fail(`${at}pairs`, `must be a list of device pairs from ${PAIR_IDS.join(", ")}`);
      }
      const size = value["size"] === undefined ? "quick" : c.oneOf(value, "size", SIZES, at);
      return size === undefined ? undefined : { type, pairs: pairs as PairId[], size };
    }
    case "snapshot-save":
    case "snapshot-restore": {
      c.unknownKeys(value, ["type", "name"], at);
      const name = c.string(value, "name", at, { max: 120 });
      return name === undefined ? undefined : { type, name };
    }
    case "balloon": {
      c.unknownKeys(value, ["type", "mib"], at);
      const mib = value["mib"];
      if (typeof mib !== "number" || !Number.isInteger(mib) || mib < 0 || mib > MAX_MEMORY_MIB) return c.fail(`${at}mib`, `must be a whole number of MiB from 0 to ${MAX_MEMORY_MIB}`);
      return { type, mib };
    }
    case "address-walk": {
      c.unknownKeys(value, ["type", "target"], at);
      const target = c.oneOf(value, "target", WALK_TARGETS, at);
      return target === undefined ? undefined : { type, target };
    }
    case "traps":
    case "jit-switch":
    case "page-tables": {
      c.unknownKeys(value, type === "traps" ? ["type", "command", "bytes", "timeoutSeconds"] : ["type", "command", "timeoutSeconds"], at);
      const bytes = value["bytes"];
      if (type === "traps" && bytes !== undefined && (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < 1)) c.fail(`${at}bytes`, "must be a positive whole number of bytes");
      const command = oneLineCommand(c, value, at);
      const timeout = value["timeoutSeconds"];
      if (timeout !== undefined && (typeof timeout !== "number" || !(timeout > 0 && timeout <= MAX_TIMEOUT_S))) c.fail(`${at}timeoutSeconds`, `must be a number of seconds from 1 to ${MAX_TIMEOUT_S}`);
      return command === undefined ? undefined : { type, command, ...(type === "traps" && typeof bytes === "number" ? { bytes } : {}), ...(typeof timeout === "number" ? { timeoutSeconds: timeout } : {}) };
    }
    case "network-reset":
    case "network-add":
    case "network-mode":
    case "network-run":
    case "network-capture":
      return parseNetworkAction(c, value, type, at);
    default:
      return c.fail(`${at}type`, `must be one of ${ACTION_TYPES}`);
  }
}

/** A step's `command`: one line of sh (the steps run it as one). */
function oneLineCommand(c: Checker, value: Json, at: string): string | undefined {
  const command = c.string(value, "command", at, { max: MAX_COMMAND });
  if (command !== undefined && /[\r\n]/.test(command)) c.fail(`${at}command`, "must be one line (join commands with ; or &&)");
  return command;
}

/** A step's optional `expect`: a regular expression its output must match. */
function expectPattern(c: Checker, value: Json, at: string): string | undefined {
  const expect = c.string(value, "expect", at, { optional: true, max: 500 });
  if (expect === undefined) return undefined;
  try {
    new RegExp(expect);
  } catch {
    c.fail(`${at}expect`, "is not a valid regular expression");
  }
  return expect;
}

function timeoutOf(c: Checker, value: Json, at: string): { timeoutSeconds?: number } {
  const timeout = value["timeoutSeconds"];
  if (timeout === undefined) return {};
  if (typeof timeout !== "number" || !(timeout > 0 && timeout <= MAX_TIMEOUT_S)) {
    c.fail(`${at}timeoutSeconds`, `must be a number of seconds from 1 to ${MAX_TIMEOUT_S}`);
    return {};
  }
  return { timeoutSeconds: timeout };
}

function parseNetworkAction(c: Checker, value: Json, type: NetworkLessonAction["type"], at: string): NetworkLessonAction | undefined {
  switch (type) {
    case "network-reset":
      c.unknownKeys(value, ["type"], at);
      return { type };
    case "network-add": {
      c.unknownKeys(value, ["type", "nic", "count", "timeoutSeconds"], at);
      const nic = c.oneOf(value, "nic", LAB_NICS, at);
      const count = value["count"];
      if (count !== undefined && (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > MAX_LAB_MACHINES)) c.fail(`${at}count`, `must be a whole number of machines from 1 to ${MAX_LAB_MACHINES}`);
      const timeout = timeoutOf(c, value, at);
      return nic === undefined ? undefined : { type, nic, ...(typeof count === "number" ? { count } : {}), ...timeout };
    }
    case "network-mode": {
      c.unknownKeys(value, ["type", "mode", "timeoutSeconds"], at);
      const mode = c.oneOf(value, "mode", MODES, at);
      const timeout = timeoutOf(c, value, at);
      return mode === undefined ? undefined : { type, mode, ...timeout };
    }
    case "network-run": {
      c.unknownKeys(value, ["type", "machine", "command", "expect", "timeoutSeconds"], at);
      const machine = c.string(value, "machine", at, { max: 10 });
      if (machine !== undefined && !LAB_MACHINE_NAME.test(machine)) c.fail(`${at}machine`, "must name a lab machine: vm1, vm2, vm3 or vm4");
      const command = oneLineCommand(c, value, at);
      for (const [, name] of command?.matchAll(ADDRESS_PLACEHOLDER) ?? []) {
        if (!LAB_MACHINE_NAME.test(name ?? "")) c.fail(`${at}command`, `has {{${name ?? ""}}}, but only {{vm1}} to {{vm4}} stand for an address`);
      }
      const expect = expectPattern(c, value, at);
      const timeout = timeoutOf(c, value, at);
      return machine === undefined || command === undefined ? undefined : { type, machine, command, ...(expect === undefined ? {} : { expect }), ...timeout };
    }
    case "network-capture": {
      c.unknownKeys(value, ["type", "expect"], at);
      const expect = value["expect"];
      if (!Array.isArray(expect) || expect.length === 0 || expect.length > 20 || !expect.every((t) => typeof t === "string" && t.trim() !== "" && t.length <= 200)) {
        return c.fail(`${at}expect`, "must be a list of 1 to 20 texts to find in the packet list (such as \"ARP Who has\" or \"DHCP Offer\")");
      }
      return { type, expect: expect as string[] };
    }
  }
}

/** Check a lesson file's text; `expectedId` is the name it was listed under in the index. */
export function parseLesson(text: string, expectedId?: string): Parsed<Lesson> {
  const c = new Checker();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`not valid JSON: ${error instanceof Error ? error.message : String(error)}`] };
  }
  if (!isObject(data)) return { ok: false, problems: ["must be a JSON object"] };
  if (data["format"] !== LESSON_FORMAT) return { ok: false, problems: [`format: must be "${LESSON_FORMAT}"`] };
  c.unknownKeys(data, ["format", "id", "title", "summary", "text", "steps", "sources"], "");
  const id = c.string(data, "id", "", { max: 40 });
  if (id !== undefined && !LESSON_ID.test(id)) c.fail("id", "must be lower-case letters, digits and dashes (it goes into links: ?lesson=id)");
  if (id !== undefined && expectedId !== undefined && id !== expectedId) c.fail("id", `is "${id}" but the index lists this file as "${expectedId}"`);
  const title = c.string(data, "title", "", { max: 200 });
  const summary = c.string(data, "summary", "", { max: 400 });
  const intro = c.paragraphs(data, "text", "");
  const sources = c.paragraphs(data, "sources", "");
  const rawSteps = data["steps"];
  const steps: LessonStep[] = [];
  if (!Array.isArray(rawSteps) || rawSteps.length === 0) c.fail("steps", "must be a list of at least one step");
  else if (rawSteps.length > MAX_STEPS) c.fail("steps", `has more than ${MAX_STEPS} steps`);
  else {
    rawSteps.forEach((raw: unknown, index) => {
      const path = `steps[${index + 1}]`;
      if (!isObject(raw)) return c.fail(path, "must be an object with a title");
      c.unknownKeys(raw, ["title", "text", "action"], `${path}.`);
      const stepTitle = c.string(raw, "title", `${path}.`, { max: 200 });
      const stepText = c.paragraphs(raw, "text", `${path}.`);
      const action = raw["action"] === undefined ? undefined : parseAction(c, raw["action"], `${path}.action`);
      if (stepTitle !== undefined && stepText !== undefined) steps.push({ title: stepTitle, text: stepText, ...(action === undefined ? {} : { action }) });
      return undefined;
    });
  }
  if (c.problems.length > 0 || id === undefined || title === undefined || summary === undefined || intro === undefined) {
    return { ok: false, problems: c.problems };
  }
  return { ok: true, value: { id, title, summary, text: intro, steps, ...(sources !== undefined && sources.length > 0 ? { sources } : {}) } };
}

/** `lessons/index.json`: the lesson ids in the order the panel lists them. */
export function parseLessonIndex(text: string): Parsed<readonly string[]> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`not valid JSON: ${error instanceof Error ? error.message : String(error)}`] };
  }
  if (!isObject(data) || data["format"] !== LESSON_INDEX_FORMAT) return { ok: false, problems: [`must be an object with "format": "${LESSON_INDEX_FORMAT}"`] };
  const lessons = data["lessons"];
  if (!Array.isArray(lessons) || !lessons.every((id) => typeof id === "string")) return { ok: false, problems: ["lessons: must be a list of lesson ids"] };
  const problems = (lessons as string[]).filter((id) => !LESSON_ID.test(id)).map((id) => `lessons: "${id}" is not a lesson id (lower-case letters, digits, dashes)`);
  const seen = new Set<string>();
  for (const id of lessons as string[]) {
    if (seen.has(id)) problems.push(`lessons: "${id}" is listed twice`);
    seen.add(id);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: lessons as string[] };
}

/** One line for a step's button. */
export function describeAction(action: LessonAction): string {
  if (isNetworkAction(action)) return describeNetworkAction(action);
  switch (action.type) {
    case "command":
      return `Run ${action.command}`;
    case "devices":
      return `Restart with ${Object.entries(action.set).map(([k, v]) => describeDevice(k, v)).join(", ")}`;
    case "benchmark":
      return `Benchmark ${action.pairs.join(", ")} (${action.size} sizes)`;
    case "snapshot-save":
      return `Save snapshot "${action.name}"`;
    case "snapshot-restore":
      return `Restore snapshot "${action.name}"`;
    case "balloon":
      return action.mib === 0 ? "Deflate the balloon" : `Inflate the balloon to ${action.mib} MiB`;
    case "address-walk":
      return action.target === "kernel" ? "Walk a kernel address through the page tables" : "Walk a process's address through the page tables";
    case "page-tables":
      return `Count page-table traps while running ${action.command}`;
    case "traps":
      return `Run ${action.command} with the trap meter on`;
    case "jit-switch":
      return `Run ${action.command} with the JIT on, off, and on again`;
  }
}

function describeDevice(key: string, value: unknown): string {
  if (key === "memoryMiB") return `memory ${String(value)} MiB`;
  if (key === "balloon") return value === true ? "a balloon device" : "no balloon device";
  return `${key} ${String(value)}`;
}
