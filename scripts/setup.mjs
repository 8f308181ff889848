#!/usr/bin/env node
// The two commands of the README. Each installs what it needs, then does its job:
//   npm start  -> npm deps, default guest, production build, serve and print the URL
//   npm test   -> the same set-up plus Debian's chromium, then every test suite
// Plain JavaScript on purpose: it runs before `npm ci` has installed TypeScript tooling.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const mode = process.argv[2];
const started = Date.now();

function say(message) {
  console.log(`\n[virtlab] ${message}`);
}

function fail(message) {
  console.error(`\n[virtlab] ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...options.env } });
  if (result.error) fail(`${command} could not run: ${result.error.message}`);
  return result.status ?? 1;
}

function mustRun(command, args, what, options) {
  const status = run(command, args, options);
  if (status !== 0) fail(`${what} failed (exit ${status}).`);
}

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    fail(`Node ${process.versions.node} is too old: virtlab needs Node 20.19 or newer (Vite 8 requires it).`);
  }
}

function installDependencies() {
  const lock = resolve(root, "package-lock.json");
  const installed = resolve(root, "node_modules/.package-lock.json");
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  say("Installing npm dependencies (npm ci)…");
  mustRun("npm", ["ci", "--no-audit", "--no-fund"], "npm ci");
}

function buildGuest() {
  say("Building the default guest from Debian packages (cached after the first run)…");
  mustRun("npx", ["tsx", "images/build.ts"], "The guest image build");
  say("Pre-booting the default machine for instant start (cached until the guest or v86 changes)…");
  mustRun("npx", ["tsx", "images/prebooted.ts"], "The pre-booted state");
}

/** The e2e tests upload a real bootable ISO (GRUB, from Debian's grub-rescue-pc), fetched once. */
function fetchTestIso() {
  say("Fetching the e2e test ISO (Debian grub-rescue-pc, cached after the first run)…");
  mustRun("npx", ["tsx", "images/testIso.ts"], "Fetching the test ISO");
}

function buildApp() {
  say("Building the app (vite build)…");
  mustRun("npx", ["vite", "build", "--logLevel", "warn"], "vite build");
}

function chromiumPath() {
  return process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
}

/** Debian's chromium drives the e2e tests: Playwright's own browser download cannot work here. */
function ensureChromium() {
  if (existsSync(chromiumPath())) return;
  const isDebian = existsSync("/etc/debian_version");
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isDebian) {
    fail(
      `No Chromium at ${chromiumPath()}. This is not a Debian system, so it cannot be installed for you:\n` +
        "install Chromium with your package manager and set CHROMIUM_PATH=/path/to/chromium, then run npm test again.",
    );
  }
  if (!isRoot) {
    fail("The e2e tests need Debian's chromium, and installing it needs root. Run:\n  sudo apt-get update && sudo apt-get install -y chromium\nthen run npm test again.");
  }
  say("Installing Debian's chromium for the e2e tests (apt-get)…");
  mustRun("apt-get", ["update", "-qq"], "apt-get update", { env: { DEBIAN_FRONTEND: "noninteractive" } });
  mustRun("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], "apt-get install chromium", {
    env: { DEBIAN_FRONTEND: "noninteractive" },
  });
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** First line of a failure message, without colour codes, kept short. */
function firstLine(message) {
  // eslint-disable-next-line no-control-regex -- colour codes are control characters
  const text = String(message ?? "").replace(/\u001b\[[0-9;]*m/g, "").trim();
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "(no message)";
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** The failed tests of a Vitest JSON report: file, name and the first line of why. */
function failedVitest(report) {
  const out = [];
  for (const file of report?.testResults ?? []) {
    const where = relative(root, file.name ?? "");
    for (const t of file.assertionResults ?? []) {
      if (t.status === "failed") out.push({ name: `${where} › ${t.fullName ?? t.title}`, reason: firstLine(t.failureMessages?.[0]) });
    }
    // A file that failed outside any test (an import error, a hook) has no failed assertion.
    if (file.status === "failed" && !(file.assertionResults ?? []).some((t) => t.status === "failed")) {
      out.push({ name: where, reason: firstLine(file.message) });
    }
  }
  return out;
}

/** The failed (or flaky) tests of a Playwright JSON report. */
function failedPlaywright(report) {
  const out = [];
  const walk = (suite) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        if (t.status === "unexpected" || t.status === "flaky") {
          const bad = (t.results ?? []).find((r) => r.status !== "passed" && r.status !== "skipped");
          out.push({ name: `${spec.file}:${spec.line} › ${spec.title}${t.status === "flaky" ? " (flaky)" : ""}`, reason: firstLine(bad?.error?.message) });
        }
      }
    }
    for (const child of suite.suites ?? []) walk(child);
  };
  for (const suite of report?.suites ?? []) walk(suite);
  return out;
}

/** Run a command with its output kept, for steps that run side by side. */
function runCaptured(name, command, args) {
  return new Promise((done) => {
    const t0 = Date.now();
    let output = "";
    const child = spawn(command, args, { cwd: root, env: { ...process.env, FORCE_COLOR: "0" } });
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding("utf8"); // decodes a character cut between two chunks whole
      stream.on("data", (text) => (output += text));
    }
    const end = (status, extra = "") => done({ name, status, seconds: (Date.now() - t0) / 1000, output: output + extra });
    child.on("error", (error) => end(1, `${command} could not run: ${error.message}\n`));
    child.on("close", (code) => end(code ?? 1));
  });
}

async function runTests() {
  // Not test-results/: Playwright empties that folder when it starts.
  const reports = resolve(root, "test-reports");
  mkdirSync(reports, { recursive: true });
  const steps = [];
  const step = (name, command, args, options) => {
    say(`${name}…`);
    const t0 = Date.now();
    const status = run(command, args, options);
    steps.push({ name, ok: status === 0, seconds: (Date.now() - t0) / 1000 });
  };

  // The type checker and the linter at once, each printed whole when it ends: each uses one core.
  // (Not the unit tests too: they use both cores, and their 5 s deadlines are not for a shared box.)
  const together = [
    ["Type-checking (core without DOM, UI, Node tooling)", "npm", ["run", "--silent", "typecheck"]],
    ["Linting (architecture boundaries included)", "npx", ["eslint", "."]],
  ];
  say(`${together.map(([name]) => name).join("; ")}: at once…`);
  const outcomes = await Promise.all(together.map(([name, command, args]) => runCaptured(name, command, args)));
  for (const o of outcomes) {
    say(`${o.name} (${o.seconds.toFixed(0)} s)`);
    process.stdout.write(o.output);
    steps.push({ name: o.name, ok: o.status === 0, seconds: o.seconds });
  }
  const unitJson = resolve(reports, "unit.json");
  step("Unit tests (fast, no guest)", "npx", ["vitest", "run", "--project", "unit", "--reporter=default", "--reporter=json", `--outputFile=${unitJson}`]);
  const bootJson = resolve(reports, "boot.json");
  step("Boot tests (real v86, real guest, Node)", "npx", ["vitest", "run", "--project", "boot", "--reporter=default", "--reporter=json", `--outputFile=${bootJson}`]);
  buildApp();
  const e2eJson = resolve(reports, "e2e.json");
  step("End-to-end tests (Playwright, Debian chromium, production build)", "npx", ["playwright", "test", "--reporter=list,json"], {
    env: { PLAYWRIGHT_JSON_OUTPUT_NAME: e2eJson, CHROMIUM_PATH: chromiumPath() },
  });

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const file of [unitJson, bootJson]) {
    const report = readJson(file);
    if (report === undefined) continue;
    passed += report.numPassedTests ?? 0;
    failed += report.numFailedTests ?? 0;
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  }
  const e2e = readJson(e2eJson);
  if (e2e?.stats) {
    passed += e2e.stats.expected ?? 0;
    failed += (e2e.stats.unexpected ?? 0) + (e2e.stats.flaky ?? 0);
    skipped += e2e.stats.skipped ?? 0;
  }

  const failures = [...failedVitest(readJson(unitJson)), ...failedVitest(readJson(bootJson)), ...failedPlaywright(e2e)];
  console.log("\n[virtlab] Summary");
  if (failures.length > 0) {
    // Named here, at the end, because a CI log is often read from its tail only.
    console.log("  failed tests:");
    for (const f of failures.slice(0, 20)) console.log(`    ✗ ${f.name}\n      ${f.reason}`);
  }
  for (const s of steps) console.log(`  ${s.ok ? "ok  " : "FAIL"}  ${s.name} (${s.seconds.toFixed(0)} s)`);
  console.log(`  total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const stepFailures = steps.filter((s) => !s.ok).length;
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (stepFailures > 0 || failed > 0 || passed === 0) process.exit(1);
}

function serve() {
  const port = process.env.PORT ?? "4173";
  const host = process.env.HOST ?? "127.0.0.1";
  say(`Serving virtlab at http://${host === "0.0.0.0" ? "localhost" : host}:${port}/  (Ctrl-C stops it)`);
  mustRun("npx", ["vite", "preview", "--host", host, "--port", port, "--strictPort"], "vite preview");
}

checkNode();
if (mode === "start") {
  installDependencies();
  buildGuest();
  buildApp();
  serve();
} else if (mode === "test") {
  installDependencies();
  buildGuest();
  ensureChromium();
  fetchTestIso();
  await runTests();
} else {
  fail("usage: node scripts/setup.mjs start|test");
}
