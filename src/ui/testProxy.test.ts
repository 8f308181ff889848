import { describe, expect, it } from "vitest";
import { installTestProxy, type VirtlabTestProxy } from "./testProxy.ts";

const proxy = { machineId: () => "default" } as unknown as VirtlabTestProxy;

describe("test proxy", () => {
  it("is installed under automation (navigator.webdriver, as in Playwright's Chromium)", () => {
    const target: { virtlab?: VirtlabTestProxy } = {};
    expect(installTestProxy(proxy, target, { webdriver: true })).toBe(true);
    expect(target.virtlab).toBe(proxy);
  });

  it("is absent for a visitor: webdriver false or not there at all", () => {
    for (const nav of [{ webdriver: false }, {}]) {
      const target: { virtlab?: VirtlabTestProxy } = {};
      expect(installTestProxy(proxy, target, nav)).toBe(false);
      expect("virtlab" in target).toBe(false);
    }
  });
});
