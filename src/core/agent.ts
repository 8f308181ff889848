/**
 * The host's side of the guest agent (images/lib/agent.ts): a control channel on the guest's
 * second serial port that the user's terminal never shows, the way libvirt talks to
 * qemu-guest-agent. Housekeeping (mount the data disk, set the clock after a restore) goes
 * through it, so nothing is typed into the user's shell. `Machine.run` stays what lessons use:
 * typing visibly is teaching.
 *
 * Protocol: the host writes `<id> <command>\n`; the agent answers `\036S<id>\037`, the output,
 * `\036E<id> <status>\037` (the frame of console.ts's marked commands, parsed by CommandCapture).
 * Unasked, the guest says `\036A\037` when the agent starts listening and `\036O\037` when it
 * powers itself off (`poweroff`, `halt`: the traps of its PID 1, images/lib/init.ts).
 */
import type { Clock } from "./clock.ts";
import { CommandCapture, type CommandResult } from "./console.ts";
import { AppError } from "./errors.ts";
import { Emitter, type Disposable, type Event } from "./events.ts";
import { encodeText } from "./host.ts";

/** Where the agent listens: v86's second 8250 UART (COM2, 0x2F8, /dev/ttyS1 in the guest). */
export const AGENT_PORT = "serial1";

const DEFAULT_TIMEOUT_MS = 30_000;

interface Pending {
  readonly capture: CommandCapture;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: AppError) => void;
  readonly timer: Disposable;
}

export class GuestAgent implements Disposable {
  private nextId = 1;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  /** The last byte of the previous chunk, for a hello cut in two. */
  private lastByte = -1;
  private listeningNow = false;

  /**
   * `send` writes to the agent's port of the current emulator (undefined: none running, or a
   * guest without an agent); the owner feeds the port's output to `push`.
   */
  constructor(
    private readonly send: (bytes: Uint8Array) => boolean,
    private readonly clock: Clock,
  ) {}

  /** Run one line of sh in the guest, unseen by the user; commands run one at a time. */
  run(command: string, options: { readonly timeoutMs?: number } = {}): Promise<CommandResult> {
    const job = this.queue.then(() => this.runNow(command, options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
    this.queue = job.catch(() => undefined);
    return job;
  }

  /**
   * The agent said it listens (`\036A\037`, once as it starts) since this emulator started.
   * A machine restored from a state has it listening already without saying so.
   */
  get listening(): boolean {
    return this.listeningNow;
  }

  /**
   * Resolves once the agent has said it listens (at once if it has). After a boot the shell's
   * prompt can come before the agent has opened its port: a command sent then is lost.
   */
  whenListening(timeoutMs: number): Promise<void> {
    if (this.listeningNow) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject, timer: this.clock.after(timeoutMs, () => {
        this.listeners.delete(waiter);
        reject(new AppError("timeout", `The guest agent did not start within ${Math.round(timeoutMs / 1000)} s.`, { details: { deadlineMs: timeoutMs } }));
      }) };
      this.listeners.add(waiter);
    });
  }
  private readonly listeners = new Set<{ resolve: () => void; reject: (error: AppError) => void; timer: Disposable }>();

  private readonly powerOffEmitter = new Emitter<void>();
  /** The guest said it powers itself off (`poweroff` or `halt` in its shell): its kernel stops next. */
  readonly onPowerOff: Event<void> = this.powerOffEmitter.event;

  /** Output of the agent's port. */
  push(bytes: Uint8Array): void {
    let poweringOff = false;
    for (let i = 0; i < bytes.length; i++) {
      // A notice is \036, one letter, \037; it may be cut at a chunk's edge.
      const previous = i === 0 ? this.lastByte : (bytes[i - 1] as number);
      if (previous !== 0x1e || (i + 1 < bytes.length && bytes[i + 1] !== 0x1f)) continue;
      if (bytes[i] === 0x41) this.listeningNow = true;
      else if (bytes[i] === 0x4f) poweringOff = true;
    }
    if (this.listeningNow && this.listeners.size > 0) {
      for (const waiter of this.listeners) {
        waiter.timer.dispose();
        waiter.resolve();
      }
      this.listeners.clear();
    }
    if (bytes.length > 0) this.lastByte = bytes[bytes.length - 1] as number;
    if (poweringOff) this.powerOffEmitter.fire();
    const pending = this.pending;
    if (pending === undefined) return;
    if (pending.capture.push(bytes) && pending.capture.result !== undefined) {
      this.pending = undefined;
      pending.timer.dispose();
      pending.resolve(pending.capture.result);
    }
  }

  /** The emulator behind the port went away (reset, reboot, crash): a command in flight fails. */
  abort(error: AppError): void {
    this.listeningNow = false;
    this.lastByte = -1;
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    pending.timer.dispose();
    pending.reject(error);
  }

  dispose(): void {
    this.disposed = true;
    this.powerOffEmitter.dispose();
    for (const waiter of this.listeners) {
      waiter.timer.dispose();
      waiter.reject(new AppError("disposed", "The machine was shut down."));
    }
    this.listeners.clear();
    this.abort(new AppError("disposed", "The machine was shut down."));
  }

  private runNow(command: string, timeoutMs: number): Promise<CommandResult> {
    if (this.disposed) return Promise.reject(new AppError("disposed", "The machine was shut down."));
    if (/[\r\n]/.test(command)) {
      return Promise.reject(new AppError("bad-profile", "The guest agent takes one line of shell: the command has a line break.", { details: { subject: command } }));
    }
    const capture = new CommandCapture(this.nextId++);
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = this.clock.after(timeoutMs, () => {
        if (this.pending?.capture !== capture) return;
        this.pending = undefined;
        reject(new AppError("timeout", `Gave up waiting for the guest agent to run "${command}" after ${Math.round(timeoutMs / 1000)} s.`, { details: { deadlineMs: timeoutMs } }));
      });
      this.pending = { capture, resolve, reject, timer };
      if (!this.send(encodeText(`${capture.id} ${command}\n`))) {
        this.pending = undefined;
        timer.dispose();
        reject(new AppError("not-running", "This machine has no guest agent (its guest does not listen on the second serial port).", { details: { subject: command } }));
      }
    });
  }
}
