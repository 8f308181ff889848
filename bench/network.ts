/**
 * The network lab's figures (issue 14), headless in Node: four lab machines on one bridged
 * VirtualSwitch (vm1, vm2 with virtio-net; vm3, vm4 with the NE2000), started as the page starts
 * them (createNetworkLab, each in a session of its own, DHCP from the LAN router). Measured:
 *   - ping RTT between two machines (median of busybox ping's per-echo times);
 *   - TCP throughput machine to machine per NIC model pair: busybox nc moves a file of random
 *     bytes made first in the sender's tmpfs, timed on the host clock around the sender's nc
 *     (so it includes one agent round trip); the receiver's sha256 must equal the sender's;
 *   - frames per second through the switch during each transfer (the machine ports' framesIn);
 * and the capture of the whole run is written as a .pcap beside the JSON.
 */
import { writeFileSync } from "node:fs";
import { summarize, type Summary } from "../src/core/bench/stats.ts";
import { BootCache, SnapshotStore, createNetworkLab, memoryStore, systemClock, type Machine, type NetworkLab } from "../src/core/index.ts";
import { fileLabPrebooted, nodeSessionOptions } from "../src/node/session.ts";

type Nic = "virtio" | "ne2k";

export interface NetworkPairResult {
  readonly id: string;
  readonly label: string;
  readonly from: string;
  readonly to: string;
  readonly bytes: number;
  /** MB/s (10^6 bytes per second) per run. */
  readonly throughput: Summary;
  /** Frames per second through the switch per run. */
  readonly framesPerSecond: Summary;
  readonly samples: readonly { readonly seconds: number; readonly frames: number; readonly sha256Ok: boolean }[];
  /** Every run's receiver hashed exactly what the sender sent. */
  readonly integrity: boolean;
}

export interface NetworkReport {
  readonly machines: readonly { readonly name: string; readonly nic: Nic; readonly address: string }[];
  readonly ping: { readonly from: string; readonly to: string; readonly count: number; readonly rttMs: Summary; readonly lost: number }[];
  readonly tcp: readonly NetworkPairResult[];
  readonly pcap: { readonly path: string; readonly packets: number; readonly bytes: number };
}

const NICS: readonly Nic[] = ["virtio", "virtio", "ne2k", "ne2k"];
const PAIRS: readonly { readonly id: string; readonly label: string; readonly from: string; readonly to: string }[] = [
  { id: "virtio-virtio", label: "virtio-net → virtio-net", from: "vm1", to: "vm2" },
  { id: "ne2k-ne2k", label: "NE2000 → NE2000", from: "vm3", to: "vm4" },
  { id: "virtio-ne2k", label: "virtio-net → NE2000", from: "vm1", to: "vm4" },
];
const PORT = 5001;
const PING_COUNT = 20;
const TIMEOUT = { timeoutMs: 300_000 };

async function sh(machine: Machine, command: string): Promise<string> {
  const result = await machine.housekeep(command, TIMEOUT);
  if (result.exitCode !== 0) throw new Error(`\`${command}\` failed (exit ${result.exitCode}): ${result.output}`);
  return result.output.trim();
}

function machineOf(lab: NetworkLab, name: string): Machine {
  const machine = lab.machine(name);
  if (machine === undefined) throw new Error(`${name} is not running`);
  return machine;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 180_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Per-echo times of busybox ping ("... time=0.512 ms"). */
export function parsePingTimes(output: string): number[] {
  return [...output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

function machineFrames(lab: NetworkLab): number {
  return lab.network.switch.ports.filter((p) => p.kind === "machine").reduce((sum, p) => sum + p.counters.framesIn, 0);
}

async function transfer(lab: NetworkLab, from: string, to: string, address: string, kib: number): Promise<{ seconds: number; frames: number; sha256Ok: boolean }> {
  const sender = machineOf(lab, from);
  const receiver = machineOf(lab, to);
  const sent = await sh(sender, `dd if=/dev/urandom of=/tmp/netbench bs=1024 count=${kib} 2>/dev/null && sha256sum < /tmp/netbench`);
  // The listener's stdin stays open (as a terminal's would): busybox nc then quits when the sender closes.
  await sh(receiver, `rm -f /tmp/netbench-got; (sleep 600 | nc -l -p ${PORT} > /tmp/netbench-got 2>/dev/null &); n=0; while ! netstat -ltn | grep -q ':${PORT} ' && [ $n -lt 250 ]; do usleep 20000; n=$((n+1)); done; netstat -ltn | grep -q ':${PORT} '`);
  const frames0 = machineFrames(lab);
  const t0 = performance.now();
  await sh(sender, `nc ${address} ${PORT} < /tmp/netbench`);
  const seconds = (performance.now() - t0) / 1000;
  const frames = machineFrames(lab) - frames0;
  const got = await sh(receiver, "n=0; while pidof nc >/dev/null && [ $n -lt 1500 ]; do usleep 20000; n=$((n+1)); done; wc -c < /tmp/netbench-got; sha256sum < /tmp/netbench-got; rm -f /tmp/netbench-got");
  return { seconds, frames, sha256Ok: got === `${kib * 1024}\n${sent}` };
}

export async function runNetworkBench(runs: number, pcapPath: string, log: (line: string) => void, kib = 2048): Promise<NetworkReport> {
  const lab = createNetworkLab(nodeSessionOptions({ bootCache: new BootCache(new SnapshotStore(memoryStore())) }), { clock: systemClock, ownOrigin: "http://127.0.0.1:4173", prebooted: fileLabPrebooted() });
  try {
    for (const nic of NICS) {
      const machine = await lab.add(nic);
      log(`network: ${machine.name} (${nic}) started`);
    }
    await waitFor("the lab machines to run", () => {
      const failed = lab.machines.filter((m) => m.state === "failed");
      if (failed.length > 0) throw new Error(failed.map((m) => `${m.name}: ${m.problem ?? "failed"}`).join("; "));
      return lab.machines.every((m) => m.state === "running") ? true : undefined;
    });
    const addresses = await waitFor("every machine's DHCP lease", () => {
      const found = lab.network.machines.map((m) => [m.label, m.address] as const);
      return found.length === NICS.length && found.every(([, a]) => a !== undefined) ? new Map(found as (readonly [string, string])[]) : undefined;
    });
    const address = (name: string): string => addresses.get(name) ?? "";
    log(`network: addresses ${[...addresses].map(([n, a]) => `${n}=${a}`).join(" ")}`);

    const ping: NetworkReport["ping"][number][] = [];
    for (const [from, to] of [["vm1", "vm2"], ["vm3", "vm4"]] as const) {
      // One echo first so ARP is settled and not in the figures.
      await sh(machineOf(lab, from), `ping -c 1 -W 5 ${address(to)} >/dev/null`);
      const output = (await machineOf(lab, from).housekeep(`ping -c ${PING_COUNT} -i 0.2 -W 5 ${address(to)}`, TIMEOUT)).output;
      const times = parsePingTimes(output);
      if (times.length === 0) throw new Error(`ping ${from} → ${to} got no reply: ${output}`);
      ping.push({ from, to, count: PING_COUNT, rttMs: summarize(times), lost: PING_COUNT - times.length });
      log(`network: ping ${from} → ${to}: median ${summarize(times).median} ms, ${PING_COUNT - times.length} lost`);
    }

    const tcp: NetworkPairResult[] = [];
    for (const pair of PAIRS) {
      const samples: { seconds: number; frames: number; sha256Ok: boolean }[] = [];
      for (let i = 0; i < runs; i++) {
        const sample = await transfer(lab, pair.from, pair.to, address(pair.to), kib);
        samples.push(sample);
        log(`network: ${pair.id} run ${i + 1}/${runs}: ${((kib * 1024) / sample.seconds / 1e6).toFixed(2)} MB/s, ${(sample.frames / sample.seconds).toFixed(0)} frames/s, sha256 ${sample.sha256Ok ? "ok" : "MISMATCH"}`);
      }
      tcp.push({
        ...pair,
        bytes: kib * 1024,
        throughput: summarize(samples.map((s) => (kib * 1024) / s.seconds / 1e6)),
        framesPerSecond: summarize(samples.map((s) => s.frames / s.seconds)),
        samples,
        integrity: samples.every((s) => s.sha256Ok),
      });
    }

    const capture = lab.network.capture;
    const pcap = capture.toPcap({ epochMs: Date.now() });
    writeFileSync(pcapPath, pcap);
    return {
      machines: lab.machines.map((m) => ({ name: m.name, nic: m.nic, address: address(m.name) })),
      ping,
      tcp,
      pcap: { path: pcapPath, packets: capture.size, bytes: pcap.byteLength },
    };
  } finally {
    lab.dispose();
  }
}

export function formatNetworkReport(report: NetworkReport, table: (head: readonly string[], rows: readonly (readonly string[])[]) => string): string {
  const f = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
  const rows: string[][] = [
    ...report.ping.map((p) => [`ping RTT ${p.from} → ${p.to} (${p.count} echoes, ${p.lost} lost)`, "ms", String(p.rttMs.runs), f(p.rttMs.median), f(p.rttMs.min), f(p.rttMs.max), "—"]),
    ...report.tcp.flatMap((t) => [
      [`TCP ${t.label} (${t.bytes / 1024} KiB, ${t.from} → ${t.to})`, "MB/s", String(t.throughput.runs), f(t.throughput.median), f(t.throughput.min), f(t.throughput.max), t.integrity ? "sha256 ok" : "MISMATCH"],
      [`  frames through the switch meanwhile`, "frames/s", String(t.framesPerSecond.runs), f(t.framesPerSecond.median), f(t.framesPerSecond.min), f(t.framesPerSecond.max), ""],
    ]),
  ];
  return `${table(["network case", "unit", "samples", "median", "min", "max", "check"], rows)}\ncapture: ${report.pcap.packets} packets, ${report.pcap.bytes} bytes → ${report.pcap.path}`;
}
