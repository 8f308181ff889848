/**
 * The default guest as the image build describes it (images/out/guest.json), turned into a
 * GuestSpec whose files are fetched from `baseUrl`.
 */
import { AppError } from "./errors.ts";
import { NET_SCRIPT, identityCommand, identityProblems, type MachineIdentity } from "./identity.ts";
import type { AssetRef, ConsoleModel, LinuxGuest, NicModel } from "./profile.ts";

export interface GuestManifest {
  readonly kernelRelease: string;
  readonly cmdline: string;
  /** The guest's /init starts the agent on its second serial port (images/lib/agent.ts). */
  readonly agent?: "serial1";
  readonly files: Readonly<Record<string, { readonly size: number; readonly sha256: string }>>;
}

/**
 * The prompt the default guest's /init sets: PS1='root@\h:\w\$ ', the machine's hostname in it
 * ("virtlab" unless the machine was given one: identity.ts).
 */
export const DEFAULT_GUEST_PROMPT = "root@[A-Za-z0-9-]+:[^\\r\\n]*# $";

export const DEFAULT_GUEST_FILES = {
  bios: "bios.bin",
  vgaBios: "vgabios.bin",
  kernel: "bzImage",
  initrd: "initramfs.cpio",
} as const;

/**
 * Kernel command line word that makes the guest's /init mount the disk at this SCSI address (the
 * IDE primary master, v86's `hda`) on /data, formatting it with ext2 while it is blank. (Linux
 * finds no slave on a channel without a master, so the data disk takes the master.)
 */
export const DATA_DISK_CMDLINE = "virtlab.data=0:0:0:0";
/** Where the default machine's data disk is attached. */
export const DATA_DISK_SLOT = "hda";
export const DATA_DISK_BYTES = 64 * 1024 * 1024;

/** The guest's data-disk script (images/lib/init.ts renders it); /init runs it at boot. */
export const DATA_SCRIPT = "/bin/virtlab-data";

/**
 * The command that mounts the data disk after a start from a saved state that did not hold it
 * mounted. With the disk's size (bytes), the guest probes the disk again when the state was saved
 * with another size (the pre-booted state serves blank disks of any size).
 */
export function mountDataCommand(diskBytes?: number): string {
  return diskBytes === undefined ? DATA_SCRIPT : `${DATA_SCRIPT} ${Math.ceil(diskBytes / 512)}`;
}

export interface DefaultGuestOptions {
  /** Mount a persistent data disk (attached at hda) on /data. */
  readonly dataDisk?: boolean;
  /**
   * The machine's hostname and MAC on the kernel command line (`virtlab.hostname=`,
   * `virtlab.mac=`), for a machine that boots and is never started from a shared state: the words
   * are part of the fingerprint, so such a boot fits no other machine (see identity.ts).
   */
  readonly identity?: MachineIdentity;
}

/** Kernel command-line words that name the machine and set its NIC's MAC from the first DHCP request on. */
export function identityCmdline(identity: MachineIdentity): string {
  const problems = identityProblems(identity);
  if (problems.length > 0) throw new AppError("bad-profile", `This machine's identity cannot be used: ${problems.join("; ")}.`, { details: { subject: "identity", problems } });
  return `virtlab.hostname=${identity.hostname} virtlab.mac=${identity.mac}`;
}

export function defaultGuest(manifest: GuestManifest, baseUrl: string, options: DefaultGuestOptions = {}): LinuxGuest {
  const ref = (name: string): AssetRef => {
    const file = manifest.files[name];
    if (file === undefined) {
      throw new AppError("asset-load-failed", `The guest description lists no ${name}.`, { details: { subject: name } });
    }
    return { name, url: joinUrl(baseUrl, name), size: file.size, sha256: file.sha256 };
  };
  return {
    kind: "linux",
    bios: ref(DEFAULT_GUEST_FILES.bios),
    vgaBios: ref(DEFAULT_GUEST_FILES.vgaBios),
    kernel: ref(DEFAULT_GUEST_FILES.kernel),
    initrd: ref(DEFAULT_GUEST_FILES.initrd),
    cmdline: [manifest.cmdline, ...(options.dataDisk === true ? [DATA_DISK_CMDLINE] : []), ...(options.identity === undefined ? [] : [identityCmdline(options.identity)])].join(" "),
    prompt: DEFAULT_GUEST_PROMPT,
    kernelRelease: manifest.kernelRelease,
    ...(manifest.agent === "serial1" ? { agent: "serial1" as const } : {}),
  };
}

export function joinUrl(base: string, name: string): string {
  return base.endsWith("/") ? base + name : `${base}/${name}`;
}

/**
 * Before a state is saved to serve other data disks (the pre-booted state, a kept boot): the data
 * disk unmounted (when the guest has one) and caches dropped, so nothing of that disk stays in it.
 */
export function tidyForSaveCommand(options: { readonly dataDisk: boolean }): string {
  return `${options.dataDisk ? "umount /data && " : ""}sync && echo 3 > /proc/sys/vm/drop_caches`;
}

/**
 * The set-up after a start from a saved state, as one line of sh (the guest agent takes one
 * line): mount the data disk when the state did not hold it mounted (`mountData`, with the
 * disk's size when known), have a full-screen program on the console draw its screen again
 * (`redraw`), set the guest's clock, which stood still while the state was saved, and give the
 * machine its own hostname and MAC (`identity`: the state's are every machine's), or with an
 * NE2000 (`nic`) and no identity, write the state's MAC to the card again.
 */
export function afterRestoreCommand(options: {
  readonly mountData?: { readonly diskBytes?: number };
  readonly epochSeconds: number;
  readonly identity?: MachineIdentity;
  readonly nic?: NicModel;
  /** The console a program saved in full screen draws on again (`redrawConsoleCommand`). */
  readonly redraw?: ConsoleModel;
}): string {
  const steps = options.mountData === undefined ? [] : [mountDataCommand(options.mountData.diskBytes)];
  if (options.redraw !== undefined) steps.push(redrawConsoleCommand(options.redraw));
  steps.push(`date -s @${Math.floor(options.epochSeconds)} >/dev/null`);
  // Last, so its exit status is the command's: a machine that keeps the state's name and MAC fails the set-up.
  if (options.identity !== undefined) steps.push(identityCommand(options.identity));
  // Without an identity an NE2000 still needs its MAC written again: v86's comes back from a state
  // with an address of its own and takes no unicast frame until the driver writes it. v86's
  // virtio-net filters nothing, so it needs nothing: taking its link down and up (and DHCP with
  // it) held the user's first keys about 1.5 s in Chromium after a kept boot was restored.
  else if (options.nic === "ne2k") steps.push(`${NET_SCRIPT} restored`);
  return steps.join("; ");
}

/** The console's device number as `/proc/<pid>/stat` gives it (major << 8 | minor): ttyS0 4:64, hvc0 229:0. */
const CONSOLE_TTY_NR: Readonly<Record<ConsoleModel, number>> = { uart: (4 << 8) | 64, virtio: 229 << 8 };

/**
 * After a snapshot is restored, a full-screen program it was saved in (`vi`, `less`, `top` on the
 * console) draws its whole screen again: the terminal shows only the saved last line, and such a
 * program draws only what changes, so `vi` showed its status line on an empty screen. SIGWINCH,
 * as when a terminal is resized, has it redraw. It goes to the console's foreground job found in
 * `/proc` (field 8 of a process on that tty), and only when that is not the shell at its prompt
 * (the job's leader named `sh`), whose line editor would print its prompt again (the interactive
 * shell leads a process group of its own, so its session does not tell). ~0.2 s in a guest run cold.
 * A process that ends during the scan is skipped without a word (a clean-clone run once had
 * "can't open /proc/111/stat" in the set-up's output).
 */
export function redrawConsoleCommand(console: ConsoleModel): string {
  // A process may end between the glob and the read: its file is gone, which is no error here.
  return `for f in /proc/[0-9]*/stat; do { read -r l < "$f"; } 2>/dev/null || continue; set -- \${l##*\\) }; if [ "$5" = ${CONSOLE_TTY_NR[console]} ]; then [ "$6" -gt 0 ] && { read -r c < /proc/"$6"/comm; } 2>/dev/null && [ "$c" != sh ] && kill -WINCH -"$6"; break; fi; done`;
}

/**
 * A prompt line saved with a state, as the machine now named `hostname` prints it: after a start
 * from a shared state the screen shows the state's prompt (the shell prints nothing), which names
 * the machine that was saved.
 */
export function promptWithHostname(line: string, hostname: string): string {
  return line.replace(/^root@[A-Za-z0-9-]+:/, `root@${hostname}:`);
}
