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
          // Real guests: one at a time, with generous per-test deadlines (each test sets its own).
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
