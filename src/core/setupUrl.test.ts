import { describe, expect, it } from "vitest";
import { DEFAULT_PROFILE } from "./profile.ts";
import { mayStartPrebooted, parseSetupUrl, setupQuery, shareQuery } from "./setupUrl.ts";

describe("shareable set-up URLs", () => {
  it("reads devices, memory, machine, lesson and step", () => {
    expect(parseSetupUrl("?nic=virtio&console=virtio&cpu=interpreter&mem=512&balloon=on&lesson=io&step=2&machine=m-abc_1")).toEqual({
      profile: { nic: "virtio", console: "virtio", cpu: "interpreter", memoryMiB: 512, balloon: true },
      machine: "m-abc_1",
      lesson: "io",
      step: 2,
      notices: [],
    });
    expect(parseSetupUrl("")).toEqual({ profile: {}, notices: [] });
  });

  it("ignores bad values with a notice each, never throws", () => {
    const parsed = parseSetupUrl("?nic=e1000&mem=64&mem=lots&console=&balloon=yes&colour=red&%E0%A4%A=1");
    expect(parsed.profile).toEqual({});
    expect(parsed.notices).toEqual([
      "nic=e1000 was ignored: use none, ne2k, virtio",
      "mem=64 was ignored: use a whole number of MiB from 128 to 2048",
      "mem=lots was ignored: use a whole number of MiB from 128 to 2048",
      "console= was ignored: use uart, virtio",
      "balloon=yes was ignored: use on, off",
      'colour=red was ignored: virtlab does not know "colour"',
      '%E0%A4%A=1 was ignored: virtlab does not know "%E0%A4%A"',
    ]);
    expect(parseSetupUrl("?lesson=../x&step=0&machine=a%20b").notices).toEqual([
      "lesson=../x was ignored: a lesson id is lower-case letters, digits and dashes",
      "step=0 was ignored: use a step number from 1",
      "machine=a b was ignored: not a machine id",
    ]);
    expect(parseSetupUrl("?step=3")).toEqual({ profile: {}, notices: ["step=3 was ignored: it needs a lesson"] });
  });

  it("writes only what differs from the default, and reads back the same profile", () => {
    expect(setupQuery(DEFAULT_PROFILE)).toBe("");
    const profile = { ...DEFAULT_PROFILE, nic: "ne2k" as const, memoryMiB: 384 };
    expect(setupQuery(profile)).toBe("?nic=ne2k&mem=384");
    expect({ ...DEFAULT_PROFILE, ...parseSetupUrl(setupQuery(profile)).profile }).toEqual(profile);
    const query = setupQuery(profile, { machine: "m-1", lesson: { id: "io", step: 3 } });
    expect(query).toBe("?machine=m-1&nic=ne2k&mem=384&lesson=io&step=3");
    expect(parseSetupUrl(query)).toMatchObject({ machine: "m-1", lesson: "io", step: 3, notices: [] });
    // A named machine's own hardware is the base: a link turning its virtio NIC off says so.
    expect(setupQuery({ ...DEFAULT_PROFILE, nic: "none" }, { machine: "m-2", base: { ...DEFAULT_PROFILE, nic: "virtio" } })).toBe("?machine=m-2&nic=none");
    const ballooned = { ...DEFAULT_PROFILE, balloon: true };
    expect(setupQuery(ballooned)).toBe("?balloon=on");
    expect({ ...DEFAULT_PROFILE, ...parseSetupUrl("?balloon=on").profile }).toEqual(ballooned);
    expect(setupQuery(DEFAULT_PROFILE, { machine: "m-3", base: ballooned })).toBe("?machine=m-3&balloon=off");
  });

  it("shares the default machine against the defaults and a saved machine against its own profile", () => {
    const running = { ...DEFAULT_PROFILE, nic: "virtio" as const };
    expect(shareQuery({ id: "default", profile: DEFAULT_PROFILE }, running)).toBe("?nic=virtio");
    // A saved machine whose own profile already has virtio: the link names it and nothing else.
    expect(shareQuery({ id: "m-7", profile: running }, running, { id: "io", step: 2 })).toBe("?machine=m-7&lesson=io&step=2");
    expect(shareQuery({ id: "m-7", profile: running }, { ...running, memoryMiB: 384 })).toBe("?machine=m-7&mem=384");
  });
});

describe("whether a link's page fetches the pre-booted state from its first moment", () => {
  it.each([
    ["", true],
    ["?lesson=devices&step=2", true],
    ["?cpu=interp", true],
    [`?nic=${DEFAULT_PROFILE.nic}`, true],
    ["?nic=virtio&console=virtio", false],
    ["?mem=192", false],
    ["?balloon=on", false],
    ["?machine=abc", false],
    ["?snapshot=https%3A%2F%2Fexample.org%2Fs.vlsnap", false],
    ["?nic=e1000", true],
  ])("%s → %s", (search, expected) => {
    expect(mayStartPrebooted(search)).toBe(expected);
  });
});
