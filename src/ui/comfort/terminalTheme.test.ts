import { describe, expect, it } from "vitest";
import { NOTICE_SGR, TERMINAL_THEMES, contrastRatio } from "./terminalTheme.ts";

describe("terminal colours", () => {
  it("contrast is measured as WCAG does", () => {
    expect(contrastRatio("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrastRatio("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
  });

  for (const theme of ["dark", "light"] as const) {
    const colours = TERMINAL_THEMES[theme];
    it(`${theme}: the page's notices (bold yellow) are readable (WCAG AA, 4.5:1)`, () => {
      expect(NOTICE_SGR).toBe("\x1b[1;33m");
      expect(contrastRatio(colours.brightYellow, colours.background)).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(colours.yellow, colours.background)).toBeGreaterThanOrEqual(4.5);
    });

    it(`${theme}: every colour a guest writes in stays readable (3:1 at least)`, () => {
      const { background, cursor: _cursor, selectionBackground: _selection, ...text } = colours;
      const low = Object.entries(text).filter(([, colour]) => contrastRatio(colour, background) < 3);
      expect(low).toEqual([]);
    });
  }
});
