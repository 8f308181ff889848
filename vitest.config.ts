import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
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
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
