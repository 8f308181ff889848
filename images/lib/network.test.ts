import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderNetScript, renderUdhcpcScript } from "./network";

/** Run a guest script with the host's sh: /run, /etc and /sys under a temp dir, commands stubbed to log. */
function runScript(script: string, args: string[], env: Record<string, string> = {}, setup: (dir: string) => void = () => undefined): { log: string[]; dir: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "virtlab-net-"));
  dirs.push(dir);
  for (const d of ["run", "etc", "sys/class/net/eth0", "proc"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "sys/class/net/eth0/address"), "00:22:15:aa:bb:cc\n");
  writeFileSync(join(dir, "proc/cmdline"), "console=ttyS0 quiet\n");
  setup(dir);
  const body = script.replaceAll("/run/", `${dir}/run/`).replaceAll("/etc/", `${dir}/etc/`).replaceAll("/sys/", `${dir}/sys/`).replaceAll("/proc/", `${dir}/proc/`);
  // The process udhcpc's pid file names ends at once (kill -0 fails); usleep is not waited for.
  const stubs = [...["ip", "hostname", "setsid", "kill"].map((c) => `${c}() { [ "$1" = -0 ] && return 1; echo "${c} $*" >> "${dir}/log"; }`), "usleep() { :; }"].join("\n");
  const r = spawnSync("sh", ["-c", `${stubs}\n${body.replace(/^#!.*\n/, "")}`, "script", ...args], { encoding: "utf8", env: { PATH: process.env["PATH"] ?? "", ...env } });
  const log = existsSync(join(dir, "log")) ? readFileSync(join(dir, "log"), "utf8").trim().split("\n") : [];
  return { log, dir, stderr: r.stderr };
}
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("/bin/virtlab-net", () => {
  const script = renderNetScript("virtlab");

  it("is valid sh", () => {
    expect(spawnSync("sh", ["-n"], { input: script }).status).toBe(0);
    expect(spawnSync("sh", ["-n"], { input: renderUdhcpcScript() }).status).toBe(0);
  });

  it("at boot takes the hostname and MAC from the kernel command line, brings eth0 up and starts udhcpc in the background", () => {
    const { log, dir } = runScript(script, ["boot"], {}, (d) => writeFileSync(join(d, "proc/cmdline"), "console=ttyS0 virtlab.hostname=vm1 virtlab.mac=52:54:00:01:02:03\n"));
    expect(log).toEqual([
      "hostname vm1",
      "ip link set eth0 down",
      "ip link set eth0 address 52:54:00:01:02:03",
      "ip link set eth0 up",
      "ip link set eth0 up",
      `setsid udhcpc -f -i eth0 -p ${dir}/run/udhcpc.eth0.pid -s /usr/share/udhcpc/default.script -x hostname:vm1`,
    ]);
    expect(readFileSync(join(dir, "etc/hosts"), "utf8")).toContain("127.0.1.1\tvm1");
  });

  it("at boot without a name on the command line keeps the image's, and without a NIC does nothing more", () => {
    const { log } = runScript(script, ["boot"], {}, (d) => rmSync(join(d, "sys/class/net/eth0"), { recursive: true }));
    expect(log).toEqual(["hostname virtlab"]);
  });

  it("identity sets the name, writes the MAC to the NIC (even the same one), and starts DHCP again unless the address is static", () => {
    const first = runScript(script, ["identity", "vm2", "52:54:00:0A:0B:0C"]);
    expect(first.log.slice(0, 5)).toEqual(["hostname vm2", "ip link set eth0 down", "ip link set eth0 address 52:54:00:0A:0B:0C", "ip link set eth0 up", "ip link set eth0 up"]);
    expect(first.log[5]).toMatch(/^setsid udhcpc .* -x hostname:vm2$/);
    const same = runScript(script, ["identity", "vm2", "00:22:15:AA:BB:CC"], {}, (d) => writeFileSync(join(d, "run/virtlab-net.static"), ""));
    expect(same.log).toEqual(["hostname vm2", "ip link set eth0 down", "ip link set eth0 address 00:22:15:AA:BB:CC", "ip link set eth0 up", "ip link set eth0 up"]);
    const bad = runScript(script, ["identity", "vm2;reboot", "52:54:00:0a:0b:0c"]);
    expect(bad.log).toEqual([]);
    expect(bad.stderr).toContain("not a hostname");
  });

  it("restored writes the MAC the guest has to the NIC again, and puts back a fixed gateway the link lost", () => {
    const { log } = runScript(script, ["restored"], {}, (d) => writeFileSync(join(d, "run/virtlab-net.static"), "10.0.0.1\n"));
    expect(log).toEqual(["ip link set eth0 down", "ip link set eth0 address 00:22:15:aa:bb:cc", "ip link set eth0 up", "ip link set eth0 up", "ip route replace default via 10.0.0.1 dev eth0"]);
    const dhcp = runScript(script, ["restored"]);
    expect(dhcp.log.at(-1)).toMatch(/^setsid udhcpc /);
  });

  it("static stops DHCP and sets the address (and gateway)", () => {
    const { log, dir } = runScript(script, ["static", "10.0.0.11/24", "10.0.0.1"], {}, (d) => writeFileSync(join(d, "run/udhcpc.eth0.pid"), "123\n"));
    expect(log).toEqual(["kill 123", "ip addr flush dev eth0", "ip link set eth0 up", "ip addr add 10.0.0.11/24 dev eth0", "ip route replace default via 10.0.0.1 dev eth0"]);
    expect(readFileSync(join(dir, "run/virtlab-net.static"), "utf8")).toBe("10.0.0.1\n");
  });
});

describe("udhcpc's script", () => {
  const script = renderUdhcpcScript();
  const lease = { interface: "eth0", ip: "10.0.0.50", mask: "24", router: "10.0.0.1 10.0.0.2", dns: "10.0.0.1 9.9.9.9", domain: "lab", hostname: "vm9" };

  it("on bound sets the address, the default route, resolv.conf and the hostname from DHCP", () => {
    const { log, dir } = runScript(script, ["bound"], lease);
    expect(log).toEqual(["ip addr add 10.0.0.50/24 dev eth0", "ip route replace default via 10.0.0.1 dev eth0", "hostname vm9"]);
    expect(readFileSync(join(dir, "etc/resolv.conf"), "utf8")).toBe("search lab\nnameserver 10.0.0.1\nnameserver 9.9.9.9\n");
  });

  it("on deconfig removes only the address it gave, so one set by hand stays", () => {
    const none = runScript(script, ["deconfig"], { interface: "eth0" });
    expect(none.log).toEqual(["ip link set eth0 up"]);
    const leased = runScript(script, ["deconfig"], { interface: "eth0" }, (d) => writeFileSync(join(d, "run/udhcpc.eth0.lease"), "10.0.0.50 24 10.0.0.1\n"));
    expect(leased.log).toEqual(["ip addr del 10.0.0.50/24 dev eth0", "ip link set eth0 up"]);
  });

  it("ignores a hostname from DHCP that is not one", () => {
    const { log } = runScript(script, ["renew"], { ...lease, hostname: "x;reboot" });
    expect(log).not.toContain("hostname x;reboot");
    expect(log.some((l) => l.startsWith("hostname"))).toBe(false);
  });
});
