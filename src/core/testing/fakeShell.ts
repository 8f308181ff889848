/** A scripted stand-in for v86 running the default guest's shell, and its files: for unit tests. */
import type { AssetLoader } from "../assets.ts";
import type { BackendFactory, BalloonDevice, ConsoleChunk, ConsolePort, EmulatorBackend } from "../backend.ts";
import { AppError } from "../errors.ts";
import { Emitter } from "../events.ts";
import { decodeText, encodeText } from "../host.ts";
import type { EmulatorConfig, LinuxGuest } from "../profile.ts";
import { V86_STATE_MAGIC } from "../snapshot/format.ts";
import { V86_STATE_VERSION } from "../v86Version.ts";

/** A state as v86 writes it (magic, format version, 8 more header bytes), then `marker`. */
export function fakeV86State(marker: string): Uint8Array {
  const text = encodeText(marker);
  const state = new Uint8Array(16 + text.length);
  const view = new DataView(state.buffer);
  view.setUint32(0, V86_STATE_MAGIC, true);
  view.setUint32(4, V86_STATE_VERSION, true);
  state.set(text, 16);
  return state;
}

/** The marker of a fakeV86State (or the whole text of anything else). */
export function fakeStateMarker(state: Uint8Array): string {
  const isV86 = state.length >= 16 && new DataView(state.buffer, state.byteOffset, state.byteLength).getUint32(0, true) === V86_STATE_MAGIC;
  return decodeText(isV86 ? state.subarray(16) : state);
}

export const PROMPT = "root@virtlab:/# ";
export const enc = encodeText;

/** A scripted stand-in for v86 running the default guest's shell. */
export class FakeShell implements EmulatorBackend {
  private readonly output = new Emitter<ConsoleChunk>();
  private readonly crash = new Emitter<unknown>();
  readonly onOutput = this.output.event;
  readonly onCrash = this.crash.event;
  private readonly reboot = new Emitter<void>();
  readonly onRebootRequest = this.reboot.event;
  disposed = false;
  running = true;
  counter = 0;
  ctrlAltDel = 0;
  written = "";
  private input = "";
  /** A balloon whose guest driver hands pages over only when the test says so. */
  readonly balloon: (BalloonDevice & { pages: number; asked: number }) | undefined;

  constructor(
    readonly config: EmulatorConfig,
    private readonly answers: Record<string, [string, number | "hang"]>,
  ) {
    if (config.virtio_balloon === true) {
      this.balloon = {
        pages: 0,
        asked: 0,
        setTarget(pages) {
          this.asked = pages;
        },
        target() {
          return this.asked;
        },
        actual() {
          return this.pages;
        },
      };
    }
  }

  print(text: string, port: ConsolePort = "serial0"): void {
    this.output.fire({ port, bytes: enc(text) });
  }

  boot(): void {
    // The guest agent says it listens on the second serial port (a machine without one ignores it).
    this.print("\x1eA\x1f", "serial1");
    this.print("Linux version 6.1.0\r\nvirtlab guest ready\r\n" + PROMPT);
  }

  /** Lines the guest agent was given (serial1), in order. */
  readonly agentCommands: string[] = [];
  private agentInput = "";

  write(port: ConsolePort, bytes: Uint8Array): void {
    const text = decodeText(bytes);
    if (port === "serial1") return this.agentWrite(text);
    this.written += text;
    this.input += text;
    // The whole marked command has arrived: the shell echoes it, runs it, prints the prompt.
    const match = /printf '\\036S(\d+)\\037'; \{\n([\s\S]*)\n\}; printf '\\036E\1 %d\\037' \$\?\n$/.exec(this.input);
    if (match === null) return;
    this.input = "";
    const [, id, command] = match;
    const [out, status] = this.answers[command ?? ""] ?? [`sh: ${command}: not found\r\n`, 127];
    // A status of "hang" is a command that runs until the test interrupts it.
    const end = status === "hang" ? "" : `\x1eE${id} ${status}\x1f${PROMPT}`;
    this.print(`${text.replace(/\n/g, "\r\n")}\x1eS${id}\x1f${out}${end}`);
  }

  /** The agent's protocol (images/lib/agent.ts): `<id> <command>\n` in, framed output back. */
  private agentWrite(text: string): void {
    this.agentInput += text;
    for (let end = this.agentInput.indexOf("\n"); end >= 0; end = this.agentInput.indexOf("\n")) {
      const line = this.agentInput.slice(0, end);
      this.agentInput = this.agentInput.slice(end + 1);
      const space = line.indexOf(" ");
      const id = line.slice(0, space);
      const command = line.slice(space + 1);
      this.agentCommands.push(command);
      const [out, status] = this.answers[command] ?? ["", 0];
      if (status !== "hang") this.print(`\x1eS${id}\x1f${out}\x1eE${id} ${status}\x1f`, "serial1");
    }
  }

  async run(): Promise<void> {
    this.running = true;
  }
  async stop(): Promise<void> {
    this.running = false;
  }
  isRunning(): boolean {
    return this.running;
  }
  instructionCounter(): number {
    return this.counter >>> 0;
  }
  sendCtrlAltDel(): void {
    this.ctrlAltDel++;
  }
  textScreen(): string[] {
    return [];
  }
  fail(error: unknown): void {
    this.crash.fire(error);
  }
  async saveState(): Promise<Uint8Array> {
    return fakeV86State(`state:${this.counter}`);
  }
  restored: string[] = [];
  async restoreState(state: Uint8Array): Promise<void> {
    this.restored.push(fakeStateMarker(state));
  }
  guestReboots(): void {
    this.running = false;
    this.reboot.fire();
  }
  dispose(): void {
    this.disposed = true;
    this.output.dispose();
  }
}

export const files: Record<string, Uint8Array> = {
  "v86.wasm": enc("wasm"),
  "bios.bin": enc("bios"),
  "vgabios.bin": enc("vga"),
  bzImage: enc("kernel"),
  "initramfs.cpio": enc("initrd"),
};

export const memoryLoader: AssetLoader = {
  async load(ref, onProgress) {
    const data = files[ref.name];
    if (data === undefined) throw new AppError("asset-load-failed", `no ${ref.name}`, { details: { subject: ref.name } });
    onProgress(data.length, data.length);
    return data.slice().buffer;
  },
};

export const guest: LinuxGuest = {
  kind: "linux",
  bios: { name: "bios.bin", url: "bios.bin", size: 4 },
  vgaBios: { name: "vgabios.bin", url: "vgabios.bin", size: 3 },
  kernel: { name: "bzImage", url: "bzImage", size: 6 },
  initrd: { name: "initramfs.cpio", url: "initramfs.cpio", size: 6 },
  cmdline: "console=ttyS0",
  prompt: "root@virtlab:[^\\r\\n]*# $",
};

/** A backend factory that makes FakeShells answering `answers`; `shells` lists them in order. */
export function fakeBackend(answers: Record<string, [string, number | "hang"]> = {}): { readonly backend: BackendFactory; readonly shells: FakeShell[] } {
  const shells: FakeShell[] = [];
  return {
    shells,
    backend: async (config) => {
      const shell = new FakeShell(config, answers);
      shells.push(shell);
      return shell;
    },
  };
}
