import { describe, expect, it } from "vitest";
import { AppError, isAppError } from "./errors.ts";
import { afterRestoreCommand, DEFAULT_GUEST_PROMPT, defaultGuest, identityCmdline, promptWithHostname, redrawConsoleCommand } from "./guest.ts";
import { assertHasNic, hostnameFor, identityCommand, identityProblems, macFor, machineIdentity, staticAddressCommand } from "./identity.ts";
import { DEFAULT_PROFILE } from "./profile.ts";

describe("machine identity", () => {
  it("gives a machine a MAC from its id: the same every time, locally administered unicast, different for other ids", () => {
    const mac = macFor("m-1");
    expect(mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(macFor("m-1")).toBe(mac);
    const many = new Set(Array.from({ length: 200 }, (_, i) => macFor(`machine-${i}`)));
    expect(many.size).toBe(200);
    expect(identityProblems({ hostname: "vm1", mac })).toEqual([]);
  });

  it("turns a machine's name into a hostname, falling back to the guest's own", () => {
    expect(hostnameFor("vm1")).toBe("vm1");
    expect(hostnameFor("Web server #2")).toBe("web-server-2");
    expect(hostnameFor("--ünïcode--")).toBe("n-code");
    expect(hostnameFor("***")).toBe("virtlab");
    expect(hostnameFor("a".repeat(80))).toHaveLength(63);
    expect(machineIdentity("m-7", "Lab PC")).toEqual({ hostname: "lab-pc", mac: macFor("m-7") });
  });

  it("refuses a bad hostname or MAC before anything reaches the guest's shell", () => {
    expect(identityCommand({ hostname: "vm1", mac: "52:54:00:01:02:03" })).toBe("/bin/virtlab-net identity vm1 52:54:00:01:02:03");
    for (const bad of [{ hostname: "vm1;reboot", mac: "52:54:00:01:02:03" }, { hostname: "-x", mac: "52:54:00:01:02:03" }, { hostname: "vm1", mac: "52:54:00:01:02" }, { hostname: "vm1", mac: "01:00:5e:00:00:01" }]) {
      expect(() => identityCommand(bad)).toThrow(AppError);
    }
    expect(identityProblems({ hostname: "vm1", mac: "01:00:5e:00:00:01" })).toEqual(["01:00:5e:00:00:01 is a multicast address: a NIC needs a unicast one"]);
  });

  it("ends the set-up after a restore with the identity, so its exit status is the command's", () => {
    const identity = machineIdentity("m-2", "vm2");
    expect(afterRestoreCommand({ epochSeconds: 5, identity })).toBe(`date -s @5 >/dev/null; /bin/virtlab-net identity vm2 ${identity.mac}`);
    expect(afterRestoreCommand({ epochSeconds: 5 })).toBe("date -s @5 >/dev/null");
    // No identity, but an NE2000: the state's MAC is written to the card again (v86's comes back
    // deaf to it). virtio-net filters nothing: its link is left up, and nothing waits for DHCP.
    expect(afterRestoreCommand({ epochSeconds: 5, nic: "ne2k" })).toBe("date -s @5 >/dev/null; /bin/virtlab-net restored");
    expect(afterRestoreCommand({ epochSeconds: 5, nic: "virtio" })).toBe("date -s @5 >/dev/null");
    expect(afterRestoreCommand({ epochSeconds: 5, nic: "none" })).toBe("date -s @5 >/dev/null");
    expect(afterRestoreCommand({ epochSeconds: 5, nic: "ne2k", identity })).toBe(`date -s @5 >/dev/null; /bin/virtlab-net identity vm2 ${identity.mac}`);
    expect(afterRestoreCommand({ epochSeconds: 5, nic: "virtio", identity })).toBe(`date -s @5 >/dev/null; /bin/virtlab-net identity vm2 ${identity.mac}`);
  });

  it("after a snapshot, has the console's full-screen program draw again: SIGWINCH to the console's foreground job, never to its shell", () => {
    const uart = redrawConsoleCommand("uart");
    // ttyS0 is 4:64 and hvc0 229:0, as /proc/<pid>/stat numbers them (major << 8 | minor).
    expect(uart).toContain('[ "$5" = 1088 ]');
    expect(redrawConsoleCommand("virtio")).toContain('[ "$5" = 58624 ]');
    expect(uart).toContain('{ read -r c < /proc/"$6"/comm; } 2>/dev/null && [ "$c" != sh ] && kill -WINCH -"$6"');
    // A process gone between the glob and the read is skipped, its error not in the set-up's output.
    expect(uart).toContain('{ read -r l < "$f"; } 2>/dev/null || continue');
    // Before the clock and the identity: the set-up's exit status stays the last step's.
    expect(afterRestoreCommand({ epochSeconds: 5, redraw: "uart" })).toBe(`${uart}; date -s @5 >/dev/null`);
  });

  it("can name a machine that only boots on its kernel command line (after the data disk's word)", () => {
    const identity = { hostname: "vm1", mac: "52:54:00:01:02:03" };
    expect(identityCmdline(identity)).toBe("virtlab.hostname=vm1 virtlab.mac=52:54:00:01:02:03");
    const files = Object.fromEntries(["bios.bin", "vgabios.bin", "bzImage", "initramfs.cpio"].map((n) => [n, { size: 1, sha256: "x" }]));
    const guest = defaultGuest({ kernelRelease: "6.1", cmdline: "console=ttyS0", files }, "guest/", { dataDisk: true, identity });
    expect(guest.cmdline).toBe("console=ttyS0 virtlab.data=0:0:0:0 virtlab.hostname=vm1 virtlab.mac=52:54:00:01:02:03");
    expect(defaultGuest({ kernelRelease: "6.1", cmdline: "console=ttyS0", files }, "guest/").cmdline).toBe("console=ttyS0");
    expect(() => identityCmdline({ hostname: "vm 1", mac: identity.mac })).toThrow(/not a hostname/);
  });

  it("shows the saved prompt with this machine's name, and detects a prompt whatever the name", () => {
    expect(promptWithHostname("root@virtlab:/data# ", "vm2")).toBe("root@vm2:/data# ");
    expect(promptWithHostname("some output", "vm2")).toBe("some output");
    const prompt = new RegExp(DEFAULT_GUEST_PROMPT);
    for (const line of ["root@virtlab:/# ", "root@vm1:~# ", "root@web-server-2:/tmp# "]) expect(prompt.test(line)).toBe(true);
    expect(prompt.test("root@vm1:/# ls\r\n")).toBe(false);
  });

  it("builds a static address command and refuses what is not an address", () => {
    expect(staticAddressCommand("10.0.0.11/24")).toBe("/bin/virtlab-net static 10.0.0.11/24");
    expect(staticAddressCommand("10.0.0.11/24", "10.0.0.1")).toBe("/bin/virtlab-net static 10.0.0.11/24 10.0.0.1");
    for (const bad of ["10.0.0.11", "10.0.0.256/24", "10.0.0.1/33", "10.0.0.1/24; reboot"]) expect(() => staticAddressCommand(bad)).toThrow(/is not an IPv4 address/);
    expect(() => staticAddressCommand("10.0.0.11/24", "gw")).toThrow(/gw is not an IPv4 address/);
  });
});

describe("assertHasNic", () => {
  it("lets a machine with a NIC join, and refuses one without with a typed error naming it", () => {
    expect(() => assertHasNic("vm1", { nic: "ne2k" })).not.toThrow();
    expect(() => assertHasNic("vm1", { nic: "virtio" })).not.toThrow();
    let error: unknown;
    try {
      assertHasNic("vm3", DEFAULT_PROFILE);
    } catch (e) {
      error = e;
    }
    expect(isAppError(error, "no-nic")).toBe(true);
    if (!isAppError(error, "no-nic")) return;
    expect(error.details.subject).toBe("vm3");
    expect(error.message).toBe("vm3 has no network card, so it cannot join a network.");
  });
});
