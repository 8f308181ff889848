import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import type { CommandResult } from "../console.ts";
import type { CapturedPacket } from "../net/capture.ts";
import type { DecodedFrame } from "../net/decode.ts";
import type { NetworkMember, NetworkMode } from "../net/network.ts";
import type { LabMachineState } from "../net/networkLab.ts";
import { describeAction, parseLesson } from "./format.ts";
import { addressAppliedCommand } from "../identity.ts";
import { runNetworkStep, substituteAddresses, type LessonNetworkLab, type NetworkLessonAction } from "./network.ts";

const lessonWith = (...actions: unknown[]): string =>
  JSON.stringify({ format: "virtlab-lesson/1", id: "net", title: "Net", summary: "S", steps: actions.map((action, i) => ({ title: `Step ${i + 1}`, action })) });

const problemsOf = (...actions: unknown[]): readonly string[] => {
  const parsed = parseLesson(lessonWith(...actions));
  return parsed.ok ? [] : parsed.problems;
};

describe("network steps in a lesson file", () => {
  it("parse with their fields, and describe themselves for the step's button", () => {
    const parsed = parseLesson(
      lessonWith(
        { type: "network-reset" },
        { type: "network-add", nic: "ne2k", count: 2, timeoutSeconds: 200 },
        { type: "network-mode", mode: "host-only" },
        { type: "network-run", machine: "vm1", command: "ping -c 1 {{vm2}}", expect: "bytes from" },
        { type: "network-capture", expect: ["Who has", "DHCP Offer"] },
      ),
    );
    if (!parsed.ok) return expect.fail(parsed.problems.join("; "));
    const actions = parsed.value.steps.map((s) => s.action);
    expect(actions).toEqual([
      { type: "network-reset" },
      { type: "network-add", nic: "ne2k", count: 2, timeoutSeconds: 200 },
      { type: "network-mode", mode: "host-only" },
      { type: "network-run", machine: "vm1", command: "ping -c 1 {{vm2}}", expect: "bytes from" },
      { type: "network-capture", expect: ["Who has", "DHCP Offer"] },
    ]);
    expect(actions.map((a) => (a === undefined ? "" : describeAction(a)))).toEqual([
      "Empty the network lab",
      "Add 2 machines with NE2000 cards to the network lab",
      "Switch the network to Host-only",
      "Run on vm1: ping -c 1 {{vm2}}",
      'Find "Who has", "DHCP Offer" in the capture',
    ]);
  });

  it("say what is wrong, with the step's path", () => {
    expect(problemsOf({ type: "network-add", nic: "none" })).toEqual(["steps[1].action.nic: must be one of ne2k, virtio"]);
    expect(problemsOf({ type: "network-add", nic: "virtio", count: 5 })).toEqual(["steps[1].action.count: must be a whole number of machines from 1 to 4"]);
    expect(problemsOf({ type: "network-mode", mode: "wifi" })).toEqual(["steps[1].action.mode: must be one of bridged, host-only, nat, routed"]);
    expect(problemsOf({ type: "network-run", machine: "vm9", command: "true" })).toEqual(["steps[1].action.machine: must name a lab machine: vm1, vm2, vm3 or vm4"]);
    expect(problemsOf({ type: "network-run", machine: "vm1", command: "ping {{router}}" })).toEqual(["steps[1].action.command: has {{router}}, but only {{vm1}} to {{vm4}} stand for an address"]);
    expect(problemsOf({ type: "network-run", machine: "vm1", command: "ls\nls", expect: "(" })).toEqual([
      "steps[1].action.command: must be one line (join commands with ; or &&)",
      "steps[1].action.expect: is not a valid regular expression",
    ]);
    expect(problemsOf({ type: "network-capture", expect: [] })[0]).toMatch(/^steps\[1\]\.action\.expect: must be a list of 1 to 20 texts/);
    expect(problemsOf({ type: "network-reset", mode: "nat" })[0]).toMatch(/^steps\[1\]\.action\.mode: is not part of the lesson format/);
    expect(problemsOf({ type: "network-wire" })[0]).toMatch(/network-reset, network-add, network-mode, network-run, network-capture$/);
  });
});

interface FakeMachine {
  name: string;
  state: LabMachineState;
  problem: string | undefined;
  address: string | undefined;
}

/** A lab that starts machines at once and leases addresses when told; commands answer from a table. */
class FakeLab implements LessonNetworkLab {
  readonly list: FakeMachine[] = [];
  readonly ran: { machine: string; command: string; timeoutMs: number | undefined }[] = [];
  readonly log: string[] = [];
  /** What went through the guest agent (unseen by the student). */
  readonly housekept: string[] = [];
  modeNow: NetworkMode = "bridged";
  packets: { summary: string; protocol: string }[] = [];
  /** What the next machine does: get an address at once, later (when `lease` is called) or fail. */
  next: "leased" | "later" | "fails" = "leased";
  answers = new Map<string, CommandResult>();

  get machines(): readonly FakeMachine[] {
    return this.list.map((m) => ({ ...m }));
  }

  machine(name: string): ReturnType<LessonNetworkLab["machine"]> {
    if (!this.list.some((m) => m.name === name && m.state === "running")) return undefined;
    const run = async (command: string, options?: { readonly timeoutMs?: number }): Promise<CommandResult> => {
      this.ran.push({ machine: name, command, timeoutMs: options?.timeoutMs });
      return this.answers.get(command) ?? { output: "", exitCode: 0 };
    };
    return {
      run,
      housekeep: async (command) => {
        this.housekept.push(`${name}: ${command}`);
        return this.answers.get(command) ?? { output: "", exitCode: 0 };
      },
    };
  }

  async add(nic: "ne2k" | "virtio"): Promise<unknown> {
    const name = `vm${this.list.length + 1}`;
    this.log.push(`add ${name} ${nic}`);
    const m: FakeMachine = { name, state: "starting", problem: undefined, address: undefined };
    this.list.push(m);
    await Promise.resolve();
    if (this.next === "fails") {
      m.state = "failed";
      m.problem = "its emulator stopped";
    } else {
      m.state = "running";
      if (this.next === "leased") this.lease(name);
    }
    return m;
  }

  lease(name: string): void {
    const m = this.list.find((x) => x.name === name);
    if (m !== undefined) m.address = `${this.modeNow === "nat" ? "10.0.2" : "192.168.86"}.${100 + this.list.indexOf(m)}`;
  }

  remove(name: string): void {
    this.log.push(`remove ${name}`);
    this.list.splice(this.list.findIndex((m) => m.name === name), 1);
  }

  async setMode(mode: NetworkMode): Promise<void> {
    this.log.push(`mode ${mode}`);
    this.modeNow = mode;
    for (const m of this.list) m.address = undefined;
  }

  get network(): LessonNetworkLab["network"] {
    const members: NetworkMember[] = this.list.map((m) => ({ label: m.name, segment: "lan", mac: undefined, address: m.address }));
    return {
      mode: this.modeNow,
      machines: members,
      capture: {
        packets: () => this.packets.map((_p, i) => ({ number: i + 1, port: "vm1", direction: "in" }) as unknown as CapturedPacket),
        decode: (p: CapturedPacket) => ({ source: "a", destination: "b", ...this.packets[p.number - 1] }) as unknown as DecodedFrame,
        clear: () => {
          this.log.push("clear");
          this.packets = [];
        },
      },
    };
  }
}

const run = (lab: LessonNetworkLab, action: NetworkLessonAction, clock = new ManualClock()) => runNetworkStep(lab, action, clock);

/** Let the step's awaits run, then move the clock on, until the step settles or `ms` passed. */
async function drive<T>(clock: ManualClock, step: Promise<T>, ms: number): Promise<T> {
  let settled = false;
  const watched = step.finally(() => (settled = true));
  watched.catch(() => undefined);
  for (let t = 0; t <= ms && !settled; t += 250) {
    for (let i = 0; i < 10; i++) await Promise.resolve();
    clock.advance(250);
  }
  return watched;
}

describe("network steps against a lab", () => {
  it("reset stops every machine, goes back to bridged and empties the capture", async () => {
    const lab = new FakeLab();
    await lab.add("virtio");
    lab.modeNow = "nat";
    lab.packets = [{ protocol: "ARP", summary: "Who has 10.0.2.2? Tell 10.0.2.15" }];
    const outcome = await run(lab, { type: "network-reset" });
    expect(lab.log).toEqual(["add vm1 virtio", "remove vm1", "mode bridged", "clear"]);
    expect(outcome).toEqual({ ok: true, lines: ["The network lab is empty (stopped vm1), bridged, with an empty capture."] });
  });

  it("add starts the machines one after the other and ends when each has an address", async () => {
    const lab = new FakeLab();
    const outcome = await run(lab, { type: "network-add", nic: "ne2k", count: 2 });
    expect(lab.log).toEqual(["add vm1 ne2k", "add vm2 ne2k"]);
    expect(outcome.lines).toEqual(["vm1 (NE2000) is on the bridged network with the address 192.168.86.100.", "vm2 (NE2000) is on the bridged network with the address 192.168.86.101."]);
  });

  it("add waits on the clock for the lease, and gives up with the addresses it has", async () => {
    const lab = new FakeLab();
    lab.next = "later";
    const clock = new ManualClock();
    const leased = runNetworkStep(lab, { type: "network-add", nic: "virtio" }, clock);
    await drive(clock, Promise.resolve(), 1000);
    lab.lease("vm1");
    await expect(drive(clock, leased, 1000)).resolves.toMatchObject({ ok: true, lines: ["vm1 (virtio-net) is on the bridged network with the address 192.168.86.100."] });
    // Done only once the guest itself carries the address (asked through the agent, unseen).
    expect(lab.housekept).toEqual([`vm1: ${addressAppliedCommand("192.168.86.100")}`]);

    const never = runNetworkStep(lab, { type: "network-add", nic: "virtio", timeoutSeconds: 5 }, clock);
    await expect(drive(clock, never, 10_000)).rejects.toMatchObject({ code: "lesson-failed", message: "vm2 did not get an address within 5 s (it is running; vm1 192.168.86.100, vm2 (no address))." });
    // Half-way it asked the guest's DHCP client once more.
    expect(lab.ran).toEqual([{ machine: "vm2", command: "/bin/virtlab-net dhcp", timeoutMs: 30_000 }]);
  });

  it("add fails when the guest was leased an address but never put it on eth0", async () => {
    const lab = new FakeLab();
    lab.answers.set(addressAppliedCommand("192.168.86.100"), { output: "", exitCode: 1 });
    await expect(run(lab, { type: "network-add", nic: "virtio" })).rejects.toMatchObject({ code: "lesson-failed", message: "vm1 was leased 192.168.86.100 but did not put it on eth0 within 20 s." });
  });

  it("add says why a machine did not start", async () => {
    const lab = new FakeLab();
    lab.next = "fails";
    await expect(run(lab, { type: "network-add", nic: "virtio" })).rejects.toMatchObject({ code: "lesson-failed", message: "vm1 did not start: its emulator stopped." });
  });

  it("mode switches and ends when every running machine has a new address", async () => {
    const lab = new FakeLab();
    await run(lab, { type: "network-add", nic: "virtio", count: 2 });
    lab.next = "later";
    const clock = new ManualClock();
    const switching = runNetworkStep(lab, { type: "network-mode", mode: "nat" }, clock);
    await drive(clock, Promise.resolve(), 500);
    lab.lease("vm1");
    lab.lease("vm2");
    const outcome = await drive(clock, switching, 1000);
    expect(lab.log.at(-1)).toBe("mode nat");
    expect(outcome.lines.at(-1)).toBe("Addresses now: vm1 10.0.2.100, vm2 10.0.2.101.");
    expect(outcome.lines[0]).toMatch(/^Each machine alone behind its own router/);
  });

  it("run puts the other machine's address in the command and checks the output", async () => {
    const lab = new FakeLab();
    await run(lab, { type: "network-add", nic: "virtio", count: 2 });
    lab.answers.set("ping -c 1 192.168.86.101", { output: "64 bytes from 192.168.86.101: seq=0", exitCode: 0 });
    const good = await run(lab, { type: "network-run", machine: "vm1", command: "ping -c 1 {{vm2}}", expect: "bytes from" });
    expect(good).toEqual({ ok: true, lines: ["On vm1: ping -c 1 192.168.86.101", "The output shows what the lesson expects."], output: "64 bytes from 192.168.86.101: seq=0" });
    expect(lab.ran).toEqual([{ machine: "vm1", command: "ping -c 1 192.168.86.101", timeoutMs: 60_000 }]);
    const bad = await run(lab, { type: "network-run", machine: "vm2", command: "ping -c 1 {{vm1}}", expect: "bytes from", timeoutSeconds: 9 });
    expect(bad.ok).toBe(false);
    expect(lab.ran.at(-1)?.timeoutMs).toBe(9000);
  });

  it("run refuses a machine that is not there, or an address nobody has", async () => {
    const lab = new FakeLab();
    await expect(run(lab, { type: "network-run", machine: "vm1", command: "true" })).rejects.toMatchObject({ code: "lesson-failed", message: "vm1 is not running in the network lab (an earlier step of the lesson adds it)." });
    lab.next = "later";
    await lab.add("virtio");
    expect(() => substituteAddresses(lab, "ping {{vm1}}")).toThrow("The step needs vm1's address, and vm1 has none yet.");
    expect(() => substituteAddresses(lab, "ping {{vm3}}")).toThrow("vm3 is not in the network lab");
    expect(lab.ran).toEqual([]);
  });

  it("capture finds each text in some packet's line, and says which it did not find", async () => {
    const lab = new FakeLab();
    lab.packets = [
      { protocol: "DHCP", summary: "DHCP Discover - Transaction ID 0x1" },
      { protocol: "ARP", summary: "Who has 192.168.86.101? Tell 192.168.86.100" },
    ];
    const found = await run(lab, { type: "network-capture", expect: ["DHCP Discover", "ARP Who has 192.168.86."] });
    expect(found.ok).toBe(true);
    expect(found.lines).toEqual([
      "The capture holds 2 packets.",
      '"DHCP Discover": 1 packets, e.g. 1 vm1 in a → b DHCP DHCP Discover - Transaction ID 0x1',
      '"ARP Who has 192.168.86.": 1 packets, e.g. 2 vm1 in a → b ARP Who has 192.168.86.101? Tell 192.168.86.100',
    ]);
    const missing = await run(lab, { type: "network-capture", expect: ["is at"] });
    expect(missing).toEqual({ ok: false, lines: ["The capture holds 2 packets.", 'No packet shows "is at".'] });
  });
});
