import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DATA_SCRIPT_PATH, renderDataScript, renderEtc, renderInit, shQuote } from "./init";
import type { InitPlan } from "./init";

const plan: InitPlan = {
  kernelRelease: "6.1.0-50-686",
  hostname: "virtlab",
  prompt: "root@virtlab:\\w\\$ ",
  groups: [
    { name: "virtio-net", pci: ["1af4:1000", "1af4:1041"] },
    { name: "virtio-console", pci: ["1af4:1043"] },
    { name: "ne2k", pci: ["10ec:8029"] },
  ],
  modules: [
    { path: "kernel/drivers/virtio/virtio.ko", groups: ["virtio-net", "virtio-console"] },
    { path: "kernel/drivers/net/virtio_net.ko", groups: ["virtio-net"] },
    { path: "kernel/drivers/net/ethernet/8390/ne2k-pci.ko", groups: ["ne2k"] },
  ],
  dataDiskModules: ["kernel/lib/crc16.ko", "kernel/fs/ext4/ext4.ko"],
  netGroups: ["virtio-net", "ne2k"],
  consoleGroups: ["virtio-console"],
};

describe("renderInit", () => {
  const script = renderInit(plan);

  it("mounts the pseudo filesystems and sets the hostname before anything else", () => {
    const lines = script.split("\n");
    expect(lines[0]).toBe("#!/bin/sh");
    for (const m of ["proc /proc", "sysfs /sys", "devtmpfs /dev", "devpts /dev/pts", "tmpfs /tmp", "tmpfs /run"]) {
      expect(script).toContain(`${m}`);
    }
    expect(script.indexOf("hostname virtlab")).toBeLessThan(script.indexOf("insmod"));
    expect(script).toContain("export PS1='root@virtlab:\\w\\$ '");
    expect(script).toMatch(/^export PATH=\S+ HOME=\/root TERM=linux LANG=C\.UTF-8$/m);
  });

  it("keeps the module plan in the given order with its groups", () => {
    const loads = script.split("\n").filter((l) => l.startsWith("load "));
    expect(loads).toEqual([
      "load kernel/drivers/virtio/virtio.ko virtio-net virtio-console",
      "load kernel/drivers/net/virtio_net.ko virtio-net",
      "load kernel/drivers/net/ethernet/8390/ne2k-pci.ko ne2k",
    ]);
    expect(script).toContain("M=/lib/modules/6.1.0-50-686");
    expect(script).toContain('has_pci 1af4:1000 1af4:1041 && WANT="${WANT}virtio-net "');
  });

  it("keeps the kernel from starting modprobe while it boots, and gives it back before the shells", () => {
    const off = script.indexOf("echo >/proc/sys/kernel/modprobe");
    const back = script.indexOf('echo "$MODPROBE" >/proc/sys/kernel/modprobe');
    expect(script.indexOf("read -r MODPROBE </proc/sys/kernel/modprobe")).toBeLessThan(off);
    expect(off).toBeGreaterThan(0);
    expect(off).toBeLessThan(script.indexOf("insmod"));
    expect(back).toBeGreaterThan(script.indexOf(`${DATA_SCRIPT_PATH} boot`));
    expect(back).toBeLessThan(script.indexOf("shell_on /dev/ttyS0"));
  });

  it("loads the data disk's file system itself, in order, only when the command line names a data disk", () => {
    const line = 'case " $CMDLINE " in *" virtlab.data="*) for f in kernel/lib/crc16.ko kernel/fs/ext4/ext4.ko; do insmod "$M/$f"; done;; esac';
    expect(script).toContain(line);
    expect(script.indexOf(line)).toBeLessThan(script.indexOf(`${DATA_SCRIPT_PATH} boot`));
    // The pattern, run by sh: which command lines load the modules.
    const loads = (cmdline: string): string => {
      const r = spawnSync("sh", ["-c", `M=/m; insmod() { printf '%s ' "$1"; }; CMDLINE=${shQuote(cmdline)}; ${line}`], { encoding: "utf8" });
      return r.stdout.trim();
    };
    expect(loads("console=ttyS0 quiet virtlab.data=0:0:0:0")).toBe("/m/kernel/lib/crc16.ko /m/kernel/fs/ext4/ext4.ko");
    expect(loads("virtlab.data=0:0:0:0 quiet")).toBe("/m/kernel/lib/crc16.ko /m/kernel/fs/ext4/ext4.ko");
    expect(loads("console=ttyS0 quiet")).toBe("");
    expect(loads("console=ttyS0 novirtlab.data=1")).toBe("");
  });

  it("spawns respawning shells on ttyS0 and hvc0 with a banner, and never lets PID 1 exit", () => {
    expect(script).toContain("setsid -c sh -l");
    expect(script).toContain('echo "virtlab guest ready (kernel $(uname -r))"');
    // Each shell's tty takes its text as UTF-8, so the kernel's own line editing (keys typed while
    // a command runs) erases an accented letter whole.
    expect(script).toContain('{ stty iutf8; echo "virtlab guest ready');
    // Not as `&` jobs: sh makes those ignore SIGINT, and Ctrl+C would do nothing in that shell.
    expect(script).toMatch(/^\[ -c \/dev\/hvc0 \] && shell_on \/dev\/hvc0$/m);
    expect(script).toMatch(/^shell_on \/dev\/ttyS0$/m);
    expect(script).toContain("  setsid setsid sh -c 'while true; do");
    expect(script.trimEnd().split("\n").at(-1)).toBe("while true; do sleep 3600 & wait $!; done");
    expect(script).toContain("if want virtio-net ne2k; then ip link set lo up; /bin/virtlab-net boot wait; else /bin/virtlab-net boot; fi");
    // The name and the NIC are set before the shells start.
    expect(script.indexOf("/bin/virtlab-net boot")).toBeLessThan(script.indexOf("shell_on /dev/ttyS0"));
  });

  it.each([
    ["TERM", "reboot", "sync|reboot -f|", false],
    ["USR1", "halt", "sync|halt -f|", true],
    ["USR2", "poweroff", "sync|poweroff -f|", true],
  ])("PID 1 answers SIG%s (busybox's %s) at once, as busybox's init would (run by the host's sh)", (signal, _applet, calls, notice) => {
    // The end of the script, from the traps on, with the kernel calls and the agent's port stubbed.
    const tail = script.slice(script.indexOf("trap 'sync;")).replaceAll("/dev/ttyS1", "$NOTICE").replace("sleep 3600", "sleep 5");
    const stub = (name: string): string => `${name}() { printf "${name} $*|"; kill $! 2>/dev/null; exit 0; }`;
    const stubs = ['sync() { printf "sync|"; }', stub("reboot"), stub("halt"), stub("poweroff")].join("; ");
    const harness = `NOTICE=$(mktemp); (${stubs}; ${tail}) & pid=$!; sleep 0.3; kill -${signal} $pid; wait $pid; printf '\n'; od -An -c "$NOTICE" | tr -d ' '; rm -f "$NOTICE"`;
    const r = spawnSync("sh", ["-c", harness], { encoding: "utf8", timeout: 4000 });
    const [said, written] = r.stdout.split("\n");
    // Halting or powering off, the guest tells the host on the agent's port (before the kernel call, in the trap).
    expect({ said, written, status: r.status }).toEqual({ said: calls, written: notice ? "036O037" : "", status: 0 });
  });

  it("is valid sh syntax", () => {
    const r = spawnSync("sh", ["-n"], { input: script });
    expect(r.status, r.stderr.toString()).toBe(0);
  });

  it("selects modules from PCI ids exactly like the guest does", () => {
    // Run the detection + load part against a fake sysfs, with insmod stubbed.
    const detect = script.slice(script.indexOf('PCI=" "'), script.indexOf("# The machine's name"));
    expect(detect).not.toContain("shell_on");
    const harness = [
      "set -e; T=$(mktemp -d); trap 'rm -rf $T' EXIT",
      "mkdir -p $T/0000:00:05.0 $T/0000:00:0a.0",
      "echo 0x10ec > $T/0000:00:05.0/vendor; echo 0x8029 > $T/0000:00:05.0/device",
      "echo 0x1af4 > $T/0000:00:0a.0/vendor; echo 0x1041 > $T/0000:00:0a.0/device",
      "insmod() { echo \"insmod $1\"; }",
      "set +e",
      detect.replace("/sys/bus/pci/devices/*", "$T/*"),
    ].join("\n");
    const r = spawnSync("sh", ["-c", harness], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual([
      "insmod /lib/modules/6.1.0-50-686/kernel/drivers/virtio/virtio.ko",
      "insmod /lib/modules/6.1.0-50-686/kernel/drivers/net/virtio_net.ko",
      "insmod /lib/modules/6.1.0-50-686/kernel/drivers/net/ethernet/8390/ne2k-pci.ko",
    ]);
  });

  it("rejects unknown groups, bad PCI ids and unsafe words", () => {
    expect(() => renderInit({ ...plan, netGroups: ["nope"] })).toThrow(/unknown device group/);
    expect(() => renderInit({ ...plan, groups: [{ name: "x", pci: ["1AF4:1000"] }], modules: [], netGroups: [], consoleGroups: [] })).toThrow(/bad PCI id/);
    expect(() => renderInit({ ...plan, hostname: "a;reboot" })).toThrow(/unsafe/);
  });
});

describe("renderEtc / shQuote", () => {
  it("has root in passwd and group and the prompt in profile", () => {
    const etc = renderEtc("virtlab", "root@virtlab:\\w\\$ ", "6.1.0-50-686");
    expect(etc["etc/passwd"]).toMatch(/^root:x:0:0:root:\/root:\/bin\/sh$/m);
    expect(etc["etc/group"]).toMatch(/^root:x:0:$/m);
    expect(etc["etc/profile"]).toContain("PS1='root@virtlab:\\w\\$ '");
    expect(etc["etc/profile"]).toContain(" LANG=C.UTF-8");
  });

  it("says what the guest is in /etc/os-release, in a form sh can source", () => {
    const etc = renderEtc("virtlab", "root@virtlab:\\w\\$ ", "6.1.0-50-686");
    const r = spawnSync("sh", ["-c", 'eval "$(cat)"; printf "%s|%s|%s" "$NAME" "$ID" "$PRETTY_NAME"'], { input: etc["etc/os-release"], encoding: "utf8" });
    expect(r.stdout).toBe("virtlab guest|virtlab|virtlab guest (Debian's Linux 6.1.0-50-686 kernel, BusyBox userland, root file system in memory)");
  });

  it("quotes single quotes for sh", () => {
    const r = spawnSync("sh", ["-c", `printf %s ${shQuote("it's $HOME")}`], { encoding: "utf8" });
    expect(r.stdout).toBe("it's $HOME");
  });
});

describe("the persistent data disk (/bin/virtlab-data)", () => {
  const init = renderInit(plan);
  const script = renderDataScript();

  it("is run by /init at boot, before the shells start", () => {
    const call = init.indexOf(`${DATA_SCRIPT_PATH} boot`);
    expect(call).toBeGreaterThan(0);
    expect(init.indexOf("shell_on /dev/ttyS0")).toBeGreaterThan(call);
  });

  it("mounts the disk the host names with a 1 s write-back, and formats it only while blank", () => {
    expect(script).toContain("virtlab.data=*) DATA_ADDR=${arg#virtlab.data=}");
    expect(script).toContain("/sys/bus/scsi/devices/$DATA_ADDR/block/*");
    expect(script).toContain('mount -t ext2 "/dev/$DATA_DEV" /data');
    const writeback = script.indexOf("echo 100 > /proc/sys/vm/dirty_expire_centisecs");
    expect(writeback).toBeGreaterThan(0);
    expect(writeback).toBeLessThan(script.indexOf("mount -t ext2"));
    // A read-ahead of 1 MiB for the disk found (after any new probe), before it is mounted.
    const readAhead = script.indexOf('echo 1024 > "/sys/block/$DATA_DEV/queue/read_ahead_kb"');
    expect(readAhead).toBeGreaterThan(script.lastIndexOf('[ -n "$DATA_DEV" ] || { echo'));
    expect(readAhead).toBeLessThan(script.indexOf("mount -t ext2"));
    const format = script.indexOf("mke2fs");
    const blankCheck = script.indexOf("tr -d '\\000' | head -c 1");
    expect(blankCheck).toBeGreaterThan(0);
    expect(format).toBeGreaterThan(blankCheck);
  });

  it("after a restore (no 'boot'), drops the device's cached blocks before it mounts, and leaves a mounted /data alone", () => {
    expect(script.indexOf('[ "$1" = boot ] || blockdev --flushbufs "/dev/$DATA_DEV"')).toBeLessThan(script.indexOf("mount -t ext2"));
    const mountedCheck = script.indexOf('while read -r _ target _; do [ "$target" = /data ] && exit 0; done </proc/mounts');
    expect(mountedCheck).toBeGreaterThan(0);
    expect(mountedCheck).toBeLessThan(script.indexOf("mount -t ext2"));
    expect(spawnSync("sh", ["-n", "-c", script]).status).toBe(0);
  });

  it("reads the command line and the mount table with the shell's own read (run with the host's sh)", () => {
    // The script's first lines up to the mounted check, reading fake files in place of /proc.
    const head = script.slice(0, script.indexOf('if [ "$1" = boot ]'));
    const dir = mkdtempSync(join(tmpdir(), "virtlab-data-"));
    writeFileSync(join(dir, "cmdline"), "console=ttyS0 quiet virtlab.data=0:0:0:0 x=y\n");
    const run = (mounts: string): string => {
      writeFileSync(join(dir, "mounts"), mounts);
      const body = head.replaceAll("/proc/cmdline", join(dir, "cmdline")).replaceAll("/proc/mounts", join(dir, "mounts"));
      return spawnSync("sh", ["-c", `${body}\necho "looked at $DATA_ADDR"`], { encoding: "utf8" }).stdout;
    };
    expect(run("rootfs / rootfs rw 0 0\n/dev/sdb /mnt ext2 rw 0 0\n")).toBe("looked at 0:0:0:0\n");
    expect(run("rootfs / rootfs rw 0 0\n/dev/sda /data ext2 rw 0 0\n")).toBe("");
    expect(run("/dev/sda /data/sub ext2 rw 0 0\n")).toBe("looked at 0:0:0:0\n");
  });

  it("formats a blank disk and leaves a non-blank one alone (run with the host's sh)", () => {
    const disk = script.slice(script.indexOf('mount -t ext2 "/dev/$DATA_DEV" /data 2>/dev/null'));
    const run = (firstBytes: string): string => {
      const fake = [
        'DATA_DEV=sda; mount() { return 1; }; mke2fs() { echo FORMAT; }; mkdir() { :; }',
        `dd() { printf '${firstBytes}'; }`,
      ].join("\n");
      // Pretend /dev/sda is a block device.
      const body = disk.replace('[ -b "/dev/$DATA_DEV" ]', "true");
      const result = spawnSync("sh", ["-c", `${fake}\n${body}`], { encoding: "utf8" });
      return result.stdout + result.stderr;
    };
    expect(run("\\000\\000\\000")).toContain("FORMAT");
    const used = run("\\000\\123\\000");
    expect(used).not.toContain("FORMAT");
    expect(used).toContain("not blank: not mounted");
  });
});
