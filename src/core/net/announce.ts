/**
 * After a move, the host side tells the LAN where the guest's MAC lives now, as QEMU's
 * announce-self does: a few broadcasts on the guest's behalf, a gratuitous ARP when the guest's
 * address is known, else a RARP. Every switch on the way (this tab's, and over the tab trunk the
 * others') learns at once that the MAC is behind the new port; hosts refresh their ARP caches.
 */
import type { Clock } from "../clock.ts";
import type { Disposable } from "../events.ts";
import { gratuitousArp, rarpAnnounce, type Ipv4, type Mac } from "./frames.ts";

/** QEMU's defaults are 5 rounds, 50 ms first, 100 ms more each time; three rounds do for one LAN. */
export interface AnnouncePolicy {
  readonly rounds: number;
  readonly initialMs: number;
  readonly stepMs: number;
}

export const DEFAULT_ANNOUNCE: AnnouncePolicy = { rounds: 3, initialMs: 50, stepMs: 100 };

/** What is sent: a gratuitous ARP for `ip`, or a RARP when the address is not known. */
export function announcementFrame(mac: Mac, ip: Ipv4 | undefined): Uint8Array {
  return ip === undefined ? rarpAnnounce(mac) : gratuitousArp(mac, ip);
}

/**
 * Send the announcement now and `rounds - 1` more times, the gaps growing by `stepMs`. Disposing
 * the result stops the rounds still to come (the machine left again).
 */
export function announceSelf(send: (frame: Uint8Array) => void, mac: Mac, ip: Ipv4 | undefined, clock: Clock, policy: AnnouncePolicy = DEFAULT_ANNOUNCE): Disposable {
  let timer: Disposable | undefined;
  let stopped = false;
  const round = (n: number): void => {
    if (stopped) return;
    send(announcementFrame(mac, ip));
    if (n + 1 < policy.rounds) timer = clock.after(policy.initialMs + n * policy.stepMs, () => round(n + 1));
  };
  round(0);
  return {
    dispose: () => {
      stopped = true;
      timer?.dispose();
    },
  };
}
