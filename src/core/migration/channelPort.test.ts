import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { host } from "../host.ts";
import { channelPort, type ChannelLike } from "./channelPort.ts";

/** Two ends of a shared channel, as a BroadcastChannel gives every tab: each end hears what the others post. */
function broadcast(): { join(): ChannelLike & { readonly posted: unknown[] } } {
  const ends: { onmessage: ((event: { readonly data: unknown }) => void) | null }[] = [];
  return {
    join() {
      const end = {
        posted: [] as unknown[],
        onmessage: null as ((event: { readonly data: unknown }) => void) | null,
        postMessage(message: unknown) {
          end.posted.push(message);
          for (const other of ends) if (other !== end) other.onmessage?.({ data: message });
        },
        close() {},
      };
      ends.push(end);
      return end;
    },
  };
}

describe("a migration port over a browser channel", () => {
  it("delivers each side's messages to the other, and ignores other moves and its own echo", () => {
    const clock = new ManualClock();
    const hub = broadcast();
    const source = channelPort<string, string>(hub.join(), { move: "m1", side: "source", clock });
    const target = channelPort<string, string>(hub.join(), { move: "m1", side: "target", clock });
    const stranger = channelPort<string, string>(hub.join(), { move: "m2", side: "target", clock });
    const got: string[] = [];
    const strangerGot: string[] = [];
    target.onMessage((m) => got.push(m));
    stranger.onMessage((m) => strangerGot.push(m));
    const echo: string[] = [];
    source.onMessage((m) => echo.push(m));
    source.send("hello");
    target.send("ready");
    expect(got).toEqual(["hello"]);
    expect(echo).toEqual(["ready"]);
    expect(strangerGot).toEqual([]);
  });

  it("counts the other side as gone when it falls silent (its tab closed), and at once when it says bye", () => {
    const clock = new ManualClock();
    const hub = broadcast();
    const a = channelPort(hub.join(), { move: "m", side: "source", clock, heartbeatMs: 100, silenceMs: 500 });
    const bChannel = hub.join();
    const b = channelPort(bChannel, { move: "m", side: "target", clock, heartbeatMs: 100, silenceMs: 500 });
    let aSawClose = 0;
    a.onClose(() => aSawClose++);
    clock.advance(400);
    expect(a.closed).toBe(false);
    // The target's tab dies: no bye, no more heartbeats.
    bChannel.onmessage = null;
    (b as { close(): void }).close = () => undefined;
    bChannel.postMessage = () => undefined;
    clock.advance(1000);
    expect(a.closed).toBe(true);
    expect(aSawClose).toBe(1);

    const c = channelPort(hub.join(), { move: "n", side: "source", clock });
    const d = channelPort(hub.join(), { move: "n", side: "target", clock });
    let cSawClose = false;
    c.onClose(() => (cSawClose = true));
    d.close();
    expect(cSawClose).toBe(true);
  });

  it("an end in a tab left in the background (its timers run once a minute) answers heartbeats from its handler, so it is not taken for gone", () => {
    const clock = new ManualClock();
    // The hidden tab: the same time, but its timers never come within this test.
    const throttled = { now: () => clock.now(), after: () => ({ dispose() {} }) };
    const hub = broadcast();
    const visible = channelPort(hub.join(), { move: "m", side: "source", clock, heartbeatMs: 100, silenceMs: 500 });
    const hiddenChannel = hub.join();
    const hidden = channelPort(hiddenChannel, { move: "m", side: "target", clock: throttled, heartbeatMs: 100, silenceMs: 500 });
    clock.advance(5000);
    expect(visible.closed).toBe(false);
    expect(hidden.closed).toBe(false);
    // It answered from its handler, not once per heartbeat it heard: one answer per heartbeat's time.
    const pings = hiddenChannel.posted.filter((m) => (m as { kind: string }).kind === "ping").length;
    expect(pings).toBeGreaterThanOrEqual(45);
    expect(pings).toBeLessThanOrEqual(50);
  });

  it("runs over a real MessageChannel", async () => {
    const Channel = host.MessageChannel;
    if (Channel === undefined) return expect.fail("no MessageChannel in this runtime");
    const { port1, port2 } = new Channel();
    const clock = new ManualClock();
    const source = channelPort<{ n: Uint8Array }, { n: Uint8Array }>(port1, { move: "x", side: "source", clock });
    const target = channelPort<{ n: Uint8Array }, { n: Uint8Array }>(port2, { move: "x", side: "target", clock });
    const arrived = new Promise<Uint8Array>((resolve) => target.onMessage((m) => resolve(m.n)));
    source.send({ n: Uint8Array.of(1, 2, 3) });
    expect([...(await arrived)]).toEqual([1, 2, 3]);
    source.close();
    port1.close();
    port2.close();
  });
});
