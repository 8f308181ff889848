/** Every lesson shipped in public/lessons parses, and the index names exactly the files there. */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseLesson, parseLessonIndex } from "../core/lessons/format.ts";

const dir = new URL("../../public/lessons/", import.meta.url);
const index = parseLessonIndex(readFileSync(new URL("index.json", dir), "utf8"));

describe("shipped lessons", () => {
  it("the index parses and lists every lesson file", () => {
    expect(index).toMatchObject({ ok: true });
    const files = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "index.json").map((f) => f.replace(/\.json$/, "")).sort();
    expect(index.ok ? [...index.value].sort() : []).toEqual(files);
  });

  for (const id of index.ok ? index.value : []) {
    it(`${id}.json is a valid lesson`, () => {
      const parsed = parseLesson(readFileSync(new URL(`${id}.json`, dir), "utf8"), id);
      expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    });
  }
});
