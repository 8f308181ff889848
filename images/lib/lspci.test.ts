import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderLspci } from "./lspci";

describe("lspci (/bin/lspci)", () => {
  it("lists the PCI devices from sysfs by slot, named and marked emulated or paravirtual, others by class (run with the host's sh)", () => {
    const dir = mkdtempSync(join(tmpdir(), "virtlab-pci-"));
    const device = (slot: string, vendor: string, id: string, cls: string): void => {
      mkdirSync(join(dir, `0000:${slot}`));
      writeFileSync(join(dir, `0000:${slot}`, "vendor"), `${vendor}\n`);
      writeFileSync(join(dir, `0000:${slot}`, "device"), `${id}\n`);
      writeFileSync(join(dir, `0000:${slot}`, "class"), `${cls}\n`);
    };
    device("00:00.0", "0x8086", "0x1237", "0x060000");
    device("00:05.0", "0x10ec", "0x8029", "0x020000");
    device("00:0a.0", "0x1af4", "0x1041", "0x020000");
    device("00:0b.0", "0x1b36", "0x0001", "0x088000");
    const r = spawnSync("sh", ["-c", renderLspci()], { encoding: "utf8", env: { ...process.env, VIRTLAB_PCI_DIR: dir } });
    rmSync(dir, { recursive: true, force: true });
    expect(r.stdout.split("\n")).toEqual([
      "00:00.0 Host bridge: Intel 440FX (emulated) [8086:1237]",
      "00:05.0 Ethernet controller: Realtek RTL-8029, an NE2000 (emulated) [10ec:8029]",
      "00:0a.0 Ethernet controller: virtio network device (paravirtual) [1af4:1041]",
      "00:0b.0 Class 0880: device [1b36:0001]",
      "",
    ]);
  });
});
