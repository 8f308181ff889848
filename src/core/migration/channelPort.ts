/**
 * A migration port over a browser channel: a MessagePort, or a BroadcastChannel shared by every
 * tab of the origin (messages carry the move's id and the sender's side, and each end ignores the
 * rest). Neither channel says when the other end's tab is gone, so both ends send a heartbeat and
 * an end that hears nothing for `silenceMs` counts the other as gone; a closing end says "bye".
 * An end whose timers are throttled (a page hidden five minutes runs chained timers about once a
 * minute in Chromium; the moves' ends run in Workers, spared that today, but a port may be on
 * any channel) still runs its message handler at once: an end that hears a heartbeat after a
 * heartbeat's time without sending anything answers it from the handler, so it is not taken for
 * a closed tab.
 */
import type { Clock } from "../clock.ts";
import { Emitter } from "../events.ts";
import type { MigrationPort } from "./protocol.ts";

/** What MessagePort and BroadcastChannel both have. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((event: { readonly data: unknown }) => void) | null;
  close(): void;
}

type Envelope = { readonly move: string; readonly from: "source" | "target" } & ({ readonly kind: "message"; readonly body: unknown } | { readonly kind: "ping" } | { readonly kind: "bye" });

export interface ChannelPortOptions {
  readonly move: string;
  readonly side: "source" | "target";
  readonly clock: Clock;
  readonly heartbeatMs?: number;
  readonly silenceMs?: number;
}

function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { move?: unknown; from?: unknown; kind?: unknown };
  return typeof v.move === "string" && (v.from === "source" || v.from === "target") && (v.kind === "message" || v.kind === "ping" || v.kind === "bye");
}

export function channelPort<In, Out>(channel: ChannelLike, options: ChannelPortOptions): MigrationPort<In, Out> & { readonly closed: boolean } {
  const { move, side, clock } = options;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const silenceMs = options.silenceMs ?? 5000;
  const messages = new Emitter<In>();
  const closed = new Emitter<void>();
  let open = true;
  let heard = clock.now();
  let said = clock.now();
  const post = (e: Envelope): void => {
    said = clock.now();
    channel.postMessage(e);
  };
  const shut = (sayBye: boolean): void => {
    if (!open) return;
    open = false;
    if (sayBye) post({ move, from: side, kind: "bye" });
    beat.dispose();
    channel.onmessage = null;
    closed.fire();
  };
  let beat = clock.after(heartbeatMs, function tick() {
    if (!open) return;
    if (clock.now() - heard > silenceMs) return shut(false);
    post({ move, from: side, kind: "ping" });
    beat = clock.after(heartbeatMs, tick);
  });
  channel.onmessage = (event) => {
    const e = event.data;
    if (!open || !isEnvelope(e) || e.move !== move || e.from === side) return;
    heard = clock.now();
    if (e.kind === "bye") shut(false);
    else if (e.kind === "message") messages.fire(e.body as In);
    else if (heard - said >= heartbeatMs) post({ move, from: side, kind: "ping" });
  };
  return {
    send: (message) => {
      if (open) post({ move, from: side, kind: "message", body: message });
    },
    onMessage: messages.event,
    onClose: closed.event,
    close: () => shut(true),
    get closed() {
      return !open;
    },
  };
}
