/**
 * Two real guests on one wire (issue 14, the guest and machine side): machines started from one
 * saved boot share its NIC's MAC and its hostname, so each start gives the machine its own
 * (identity.ts, /bin/virtlab-net identity through the agent); then they ping each other and move
 * a file with nc, checksummed at both ends. The wire is a plain cable here (the switch is
 * src/core/net/'s). Per NIC model, both machines start from the network lab's pre-booted state for
 * that model (images/prebooted.ts makes one per NIC), as the page's lab machines do; a boot kept
 * in the boot cache and restored by the next start is test/boot/session.test.ts's.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MACHINE,
  DEFAULT_PROFILE,
  MachineSession,
  assertHasNic,
  isAppError,
  labProfile,
  lastLineToShow,
  machineIdentity,
  staticAddressCommand,
  type Disposable,
  type Machine,
  type LabNic,
  type MachineIdentity,
  type NicModel,
} from "../../src/core/index.ts";
import type { NetworkBus } from "../../src/core/lab/netPeer.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { fileLabPrebooted, nodeSession, nodeSessionOptions } from "../../src/node/session.ts";
import { frameTo, hasPrebooted, rxPackets, sessionsStoppedAfterEach } from "./sessions.ts";

const sessions = sessionsStoppedAfterEach();

/** A crossover cable: what one NIC sends reaches the other (after the sender's transmit returns). */
function cable(a: { readonly name: string; readonly nic: NicModel; readonly bus: NetworkBus }, b: { readonly name: string; readonly nic: NicModel; readonly bus: NetworkBus }): Disposable {
  assertHasNic(a.name, a);
  assertHasNic(b.name, b);
  const forward = (to: NetworkBus) => (frame: Uint8Array) => queueMicrotask(() => to.sendNetworkFrame(frame));
  const ab = a.bus.onNetworkFrame(forward(b.bus));
  const ba = b.bus.onNetworkFrame(forward(a.bus));
  return { dispose: () => (ab.dispose(), ba.dispose()) };
}

/** Start a machine with its own identity (`nic`: the lab's hardware with that NIC); resolves once it has taken it. */
async function startWith(session: MachineSession, nic: NicModel, identity: MachineIdentity): Promise<Machine> {
  const took = new Promise<MachineIdentity>((resolve) => session.onIdentity(resolve));
  const profile = nic === "none" ? { ...DEFAULT_PROFILE, nic } : labProfile(nic);
  const outcome = await session.start({ record: DEFAULT_MACHINE, profile, request: { kind: "auto" }, identity });
  if (outcome.kind !== "started") throw new Error(`the machine did not start (${outcome.kind === "failed" ? outcome.error.message : outcome.kind})`);
  expect(await took).toEqual(identity);
  const machine = session.machine;
  if (machine === undefined) throw new Error("no machine");
  return machine;
}

async function sh(machine: Machine, command: string, timeoutMs = 60_000): Promise<string> {
  const result = await machine.housekeep(command, { timeoutMs });
  expect(result.exitCode, `${command}: ${result.output}`).toBe(0);
  return result.output;
}

/** Two machines of one NIC model, both from the lab's pre-booted state for it. */
async function pair(nic: LabNic): Promise<[Machine, Machine, MachineIdentity, MachineIdentity]> {
  const id1 = machineIdentity(`${nic}-1`, "vm1");
  const id2 = machineIdentity(`${nic}-2`, "vm2");
  const s1 = new MachineSession({ ...nodeSessionOptions({ prebooted: false }), prebooted: fileLabPrebooted()[nic] });
  const s2 = new MachineSession({ ...nodeSessionOptions({ prebooted: false }), prebooted: fileLabPrebooted()[nic] });
  sessions.push(s1, s2);
  const vm1 = await startWith(s1, nic, id1);
  const vm2 = await startWith(s2, nic, id2);
  expect([s1.startedFrom, s2.startedFrom]).toEqual(["pre-booted", "pre-booted"]);
  return [vm1, vm2, id1, id2];
}

describe.skipIf(!guestIsBuilt())("machines on a network, each with its own name and MAC", () => {
  it("NE2000: two machines from one saved boot take their own MAC and name, ping each other and move a file with nc", async () => {
    const [vm1, vm2, id1, id2] = await pair("ne2k");
    // Each machine its own name (the prompt shows it) and MAC, on the NIC as in the kernel.
    for (const [machine, identity] of [[vm1, id1], [vm2, id2]] as const) {
      expect(await sh(machine, "hostname; cat /sys/class/net/eth0/address")).toBe(`${identity.hostname}\n${identity.mac}`);
      expect(await machine.run("true")).toEqual({ output: "", exitCode: 0 });
      // The prompt after the command (it may come just after the command's end marker).
      await expect.poll(() => lastLineToShow(machine.recentOutput()), { timeout: 10_000 }).toBe(`root@${identity.hostname}:/# `);
    }
    // The NE2000 takes frames for its own address only (its address registers, written when the
    // link came up with the new MAC): one for the MAC the saved boot had is dropped by the card.
    const bootMac = (await sh(vm2, "dmesg | grep -o -m1 '00:22:15\\(:[0-9a-f][0-9a-f]\\)\\{3\\}'")).trim();
    expect(bootMac).toMatch(/^00:22:15(:[0-9a-f]{2}){3}$/);
    const rx = (): Promise<number> => rxPackets(vm2);
    const before = await rx();
    vm2.sendNetworkFrame(frameTo(bootMac));
    vm2.sendNetworkFrame(frameTo(id2.mac));
    // The second frame counted means the first was handled too: it was not taken.
    await expect.poll(rx, { timeout: 30_000, interval: 100 }).toBeGreaterThan(before);
    expect(await rx()).toBe(before + 1);

    const wire = cable({ name: "vm1", nic: "ne2k", bus: vm1 }, { name: "vm2", nic: "ne2k", bus: vm2 });
    try {
      await sh(vm1, staticAddressCommand("10.0.0.11/24"));
      await sh(vm2, staticAddressCommand("10.0.0.12/24"));
      const ping = await vm1.run("ping -c 3 -W 5 10.0.0.12", { timeoutMs: 60_000 });
      expect(ping.exitCode, ping.output).toBe(0);
      expect(ping.output).toContain("3 packets transmitted, 3 packets received, 0% packet loss");
      expect((await vm2.run("ping -c 1 -W 5 10.0.0.11", { timeoutMs: 60_000 })).exitCode).toBe(0);
      // ARP learnt each other's own MAC.
      expect(await sh(vm1, "ip neigh show 10.0.0.12")).toContain(`lladdr ${id2.mac}`);

      // vm1 sends 256 KiB to vm2's nc; both ends hash what they have. (busybox nc half-closes on
      // the end of its stdin, and the sender quits when the other side closes: the listener's
      // stdin stays open, as a terminal's would.)
      await sh(vm2, "(sleep 600 | nc -l -p 5000 > /tmp/got 2>/dev/null &); n=0; while ! netstat -ltn | grep -q ':5000 ' && [ $n -lt 250 ]; do usleep 20000; n=$((n+1)); done; netstat -ltn | grep -q ':5000 '");
      // The NE2000's 16 KiB receive ring overflows when the receiver gets little CPU (both machines
      // share this thread, and other boot files run beside it): TCP's retransmission back-off then
      // stretches the transfer. 18 s alone; once over 60 s in a loaded run.
      const sent = await sh(vm1, "dd if=/dev/urandom of=/tmp/f bs=1024 count=256 2>/dev/null && nc 10.0.0.12 5000 < /tmp/f && sha256sum < /tmp/f", 150_000);
      const got = await sh(vm2, "n=0; while pidof nc >/dev/null && [ $n -lt 1500 ]; do usleep 20000; n=$((n+1)); done; wc -c < /tmp/got; sha256sum < /tmp/got");
      expect(got).toBe(`262144\n${sent}`);
    } finally {
      wire.dispose();
    }
  }, 300_000);

  it("virtio-net: the same pair takes its own MACs (told to the device), one leases an address from the other's udhcpd, and they ping", async () => {
    const [vm1, vm2, id1, id2] = await pair("virtio");
    expect(await sh(vm1, "cat /sys/class/net/eth0/address")).toBe(id1.mac);
    expect(await sh(vm2, "cat /sys/class/net/eth0/address")).toBe(id2.mac);
    const wire = cable({ name: "vm1", nic: "virtio", bus: vm1 }, { name: "vm2", nic: "virtio", bus: vm2 });
    try {
      // vm1 serves DHCP (busybox udhcpd); vm2's udhcpc and its script take the lease: address,
      // default route, resolv.conf and the hostname of option 12.
      await sh(vm1, staticAddressCommand("10.0.0.11/24"));
      const conf = ["start 10.0.0.100", "end 10.0.0.100", "interface eth0", "lease_file /tmp/leases", "opt router 10.0.0.11", "opt dns 10.0.0.11", "opt subnet 255.255.255.0", "opt domain lab", "opt hostname fromdhcp"];
      await sh(vm1, `printf '%s\\n' ${conf.map((l) => `'${l}'`).join(" ")} > /tmp/udhcpd.conf && touch /tmp/leases && udhcpd /tmp/udhcpd.conf`);
      const lease = await sh(vm2, "virtlab-net dhcp; n=0; while [ ! -e /run/udhcpc.eth0.lease ] && [ $n -lt 1500 ]; do usleep 20000; n=$((n+1)); done; ip -4 -o addr show eth0 | grep -o 'inet [0-9./]*'; ip route | grep default; cat /etc/resolv.conf; hostname");
      expect(lease.split("\n").map((l) => l.trim())).toEqual(["inet 10.0.0.100/24", "default via 10.0.0.11 dev eth0", "search lab", "nameserver 10.0.0.11", "fromdhcp"]);
      const ping = await vm2.run("ping -c 3 -W 5 10.0.0.11", { timeoutMs: 60_000 });
      expect(ping.exitCode, ping.output).toBe(0);
      expect(await sh(vm2, "ip neigh show 10.0.0.11")).toContain(`lladdr ${id1.mac}`);
    } finally {
      wire.dispose();
    }
  });

  it("a machine without a NIC takes its name from the pre-booted state, and is refused a network with a typed error", async () => {
    if (!(await hasPrebooted)) return expect.fail("no pre-booted state: run npx tsx images/prebooted.ts");
    const session = nodeSession();
    sessions.push(session);
    const vm3 = await startWith(session, "none", machineIdentity("none-3", "vm3"));
    expect(session.startedFrom).toBe("pre-booted");
    expect(await sh(vm3, "hostname; ls /sys/class/net")).toBe("vm3\nlo");
    let refused: unknown;
    try {
      cable({ name: "vm3", nic: DEFAULT_PROFILE.nic, bus: vm3 }, { name: "vm3", nic: DEFAULT_PROFILE.nic, bus: vm3 });
    } catch (error) {
      refused = error;
    }
    expect(isAppError(refused, "no-nic")).toBe(true);
    expect(refused).toMatchObject({ message: "vm3 has no network card, so it cannot join a network.", details: { subject: "vm3" } });
  });
});
