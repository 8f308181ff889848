/**
 * The network lab end to end in Node (issue 14): the page's NetworkLab, with sessions like the
 * page's, puts two real guests on the virtual switch. In bridged mode both get an address from
 * the LAN router by DHCP, ping each other and move a file with nc (checksummed), and the capture
 * holds the echo request and reply (read back from its pcap, and by tshark where installed); host-only gives new addresses and nothing beyond; in NAT each
 * machine is alone behind its own router and cannot reach the other.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { BootCache, SnapshotStore, createNetworkLab, decodeFrame, memoryStore, readPcap, systemClock, type Machine, type NetworkLab } from "../../src/core/index.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { fileLabPrebooted, nodeSessionOptions } from "../../src/node/session.ts";

const WAIT = { timeout: 90_000, interval: 250 };

/**
 * Every machine's leased address, once the server recorded it and the guest applied it: the
 * guest's udhcpc script runs a moment after the server's ACK, and busybox ping gives up at once
 * (not at its deadline) when it finds eth0 without an address.
 */
async function addresses(lab: NetworkLab, pattern: RegExp): Promise<string[]> {
  const found = await vi.waitFor(() => {
    const leased = lab.network.machines.map((m) => m.address ?? "");
    expect(leased.every((a) => pattern.test(a)), JSON.stringify(leased)).toBe(true);
    return leased;
  }, WAIT);
  await vi.waitFor(async () => {
    for (const m of lab.network.machines) {
      const machine = lab.machine(m.label);
      expect(machine, m.label).toBeDefined();
      if (machine !== undefined) expect(await sh(machine, "ip -4 addr show eth0")).toContain(`inet ${m.address ?? "?"}/`);
    }
  }, WAIT);
  return found;
}

async function sh(machine: Machine, command: string): Promise<string> {
  const result = await machine.housekeep(command, { timeoutMs: 60_000 });
  expect(result.exitCode, `${command}: ${result.output}`).toBe(0);
  return result.output;
}

/**
 * Two echo replies within 20 s (ping's own deadline), or for what must not answer, one request
 * that gets none in 3 s.
 */
async function ping(machine: Machine, address: string): Promise<number> {
  return (await machine.housekeep(`ping -c 2 -w 20 ${address}`, { timeoutMs: 60_000 })).exitCode;
}

async function noAnswer(machine: Machine, address: string): Promise<boolean> {
  return (await machine.housekeep(`ping -c 1 -W 3 ${address}`, { timeoutMs: 60_000 })).exitCode !== 0;
}

describe.skipIf(!guestIsBuilt())("the network lab", () => {
  it("two machines: bridged they ping each other and the capture has it; host-only and NAT change what reaches what", { timeout: 400_000 }, async () => {
    // As the page makes it: the lab's own pre-booted states (one per NIC model), a mixed pair.
    const lab = createNetworkLab(nodeSessionOptions({ bootCache: new BootCache(new SnapshotStore(memoryStore())) }), { clock: systemClock, ownOrigin: "http://127.0.0.1:4173", prebooted: fileLabPrebooted() });
    try {
      await lab.add("virtio");
      await lab.add("ne2k");
      await vi.waitFor(() => expect(lab.machines.map((m) => m.state), JSON.stringify(lab.machines.map((m) => m.problem))).toEqual(["running", "running"]), WAIT);
      // Both restored a pre-booted state of their NIC model (no boot from scratch).
      expect(lab.machines.map((m) => m.session.startedFrom)).toEqual(["pre-booted", "pre-booted"]);
      const vm1 = lab.machine("vm1");
      const vm2 = lab.machine("vm2");
      if (vm1 === undefined || vm2 === undefined) return expect.fail("the machines are not running");
      expect((await vm1.housekeep("hostname", { timeoutMs: 30_000 })).output).toBe("vm1");

      const [, bridged2] = await addresses(lab, /^192\.168\.86\.\d+$/);
      expect(await ping(vm1, bridged2 ?? "")).toBe(0);
      // A file moved with nc through the switch arrives whole (the listener waits on a condition).
      await sh(vm2, "(sleep 600 | nc -l -p 5000 > /tmp/got 2>/dev/null &); n=0; while ! netstat -ltn | grep -q ':5000 ' && [ $n -lt 250 ]; do usleep 20000; n=$((n+1)); done; netstat -ltn | grep -q ':5000 '");
      const sent = await sh(vm1, `dd if=/dev/urandom of=/tmp/f bs=1024 count=256 2>/dev/null && nc ${bridged2 ?? ""} 5000 < /tmp/f && sha256sum < /tmp/f`);
      const got = await sh(vm2, "n=0; while pidof nc >/dev/null && [ $n -lt 1500 ]; do usleep 20000; n=$((n+1)); done; sha256sum < /tmp/got");
      expect(got.split(" ")[0]).toBe(sent.split(" ")[0]);
      const file = lab.network.capture.toPcap({ epochMs: Date.now() });
      const pcap = readPcap(file);
      const infos = pcap.records.map((r) => decodeFrame(r.frame).summary);
      expect(infos.some((i) => i.startsWith("Echo (ping) request"))).toBe(true);
      expect(infos.some((i) => i.startsWith("Echo (ping) reply"))).toBe(true);
      expect(infos.some((i) => i.startsWith("DHCP"))).toBe(true);
      // Wireshark's reader agrees, where tshark is installed (Debian's tshark package).
      const tshark = spawnSync("tshark", ["-v"]);
      if (tshark.error === undefined) {
        const path = join(mkdtempSync(join(tmpdir(), "virtlab-pcap-")), "lab.pcap");
        writeFileSync(path, file);
        const echo = spawnSync("tshark", ["-r", path, "-Y", "icmp.type == 8 || icmp.type == 0", "-T", "fields", "-e", "icmp.type"], { encoding: "utf8" });
        expect(echo.status, echo.stderr).toBe(0);
        expect(echo.stdout.split("\n").filter((l) => l !== "").sort()).toEqual(["0", "0", "8", "8"]);
      } else {
        console.log("tshark is not installed: the capture was checked with virtlab's own reader only");
      }

      await lab.setMode("host-only");
      const [, hostOnly2] = await addresses(lab, /^10\.0\.56\.\d+$/);
      expect(await ping(vm1, hostOnly2 ?? "")).toBe(0);
      // Nothing beyond the segment: no default route to anywhere.
      expect(await noAnswer(vm1, "192.168.86.1")).toBe(true);

      await lab.setMode("nat");
      await addresses(lab, /^10\.0\.2\.\d+$/);
      // Each behind its own router: the other machine's old address leads nowhere, the router answers.
      expect(await noAnswer(vm1, hostOnly2 ?? "")).toBe(true);
      expect(await ping(vm1, "10.0.2.2")).toBe(0);
      expect(lab.network.hostCounters().map((h) => h.label).sort()).toEqual(["nat-vm1", "nat-vm2"]);
    } finally {
      lab.dispose();
    }
  });
});
