import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Boot test files, longest first (as measured two at a time on a clean clone), meant to keep one
 * long file from running alone at the end (the device lab's still ended last in the clean-clone
 * run of 9addd28: the gain is not shown). Files not named here come after, in the usual order.
 */
const BOOT_LONGEST_FIRST = ["lessons", "lab", "bigDisk", "boot", "traps", "session", "persist", "network", "netHosts", "migration"];

class LongestBootFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const usual = await super.sort(files);
    const rank = (file: TestSpecification): number => {
      const at = BOOT_LONGEST_FIRST.findIndex((name) => file.moduleId.endsWith(`/${name}.test.ts`));
      return at < 0 ? BOOT_LONGEST_FIRST.length : at;
    };
    return usual.map((file, i) => ({ file, i })).sort((a, b) => rank(a.file) - rank(b.file) || a.i - b.i).map((x) => x.file);
  }
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          // Both cores (Vitest's default leaves one free).
          maxWorkers: 2,
          include: ["src/**/*.test.ts", "images/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "boot",
          include: ["test/boot/**/*.test.ts"],
          environment: "node",
          // Real guests, with generous per-test deadlines (each test sets its own). Two files at a
          // time: an emulator in Node keeps one core busy, and CI has two. Each file's own tests
          // run one after another.
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { sequencer: LongestBootFilesFirst },
          // V8's baseline wasm compiler only (as in playwright.config.ts): the optimizing tier's
          // background recompiles of v86's generated modules doubled a cold boot's CPU time, and
          // two files share two cores (lab + traps, two at a time: 163 s → 122 s). The bench
          // measures Node with V8's defaults.
          execArgv: process.env["BOOT_DEFAULT_V8"] ? [] : ["--liftoff-only"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
