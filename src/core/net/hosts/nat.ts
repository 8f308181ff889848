/**
 * The NAT gateway of a NAT-mode segment: the segment's router, DHCP and DNS server, and the one
 * way out to what the page can reach. It does not forward packets. It answers DNS for any name
 * with an address of its own (dns.ts), terminates a guest's TCP connection to port 80 of any
 * address in the page (lab/tcp.ts), reads the HTTP request and makes it again with the injected
 * `fetch` (credentials "omit", no cookies), then writes the response back and closes.
 *
 * Everything else leaving the segment is refused where the guest sees it at once: TCP to another
 * port gets a reset ("Connection refused"), UDP and ping get ICMP "administratively prohibited"
 * (iputils' ping prints "Packet filtered"; busybox's ignores it and counts the ping lost). NAT is
 * off until the user turns it on (`enabled`): then DHCP, ARP and ping of the gateway still work,
 * DNS answers the segment's machines' names (as a home router does: `ping vm2`) and refuses any
 * other (REFUSED), TCP gets a reset and the rest ICMP "network unreachable" — nothing leaves.
 * DHCP always names the gateway as router and DNS server, so turning NAT on works without a new
 * lease.
 */
import { host } from "../../host.ts";
import { describeCause, AppError } from "../../errors.ts";
import type { Disposable } from "../../events.ts";
import { formatIpv4, type Ipv4 } from "../../lab/frames.ts";
import { SYN, TcpEndpoint, parseTcp, type TcpSegment } from "../../lab/tcp.ts";
import { DNS_PORT, FakeDns, dnsAnswer, dnsFormatError, normalName, parseDnsQuery } from "./dns.ts";
import { HttpRequestReader, forwardedHeaders, header, httpResponse, httpsUnlessLoopback, refusal, textResponse, validOrigin, type HttpProblem, type HttpRequest } from "./http.ts";
import { ICMP_ECHO_REQUEST, PROTO_ICMP, PROTO_TCP, PROTO_UDP, UNREACHABLE, udpFrame, type Ipv4Packet, type UdpDatagram } from "./ip.ts";
import { Station, refuse, sendReset, type StationOptions } from "./station.ts";

export interface NatFetchInit {
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Uint8Array;
  readonly credentials: "omit";
  readonly redirect: "follow";
  readonly referrerPolicy: "no-referrer";
  readonly cache: "no-store";
}

export interface NatFetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Iterable<readonly [string, string]>;
  readonly body: Uint8Array;
  /** The URL answered at last (after redirects), when known. */
  readonly url?: string;
}

/** How the gateway reaches the outside: the page's fetch, wrapped by the UI to read the body. */
export type NatFetch = (url: string, init: NatFetchInit) => Promise<NatFetchResponse>;

export interface NatGatewayOptions extends Omit<StationOptions, "gateway" | "dns"> {
  /** NAT on (default off: only DHCP, ARP and ping of the gateway). */
  readonly enabled?: boolean;
  readonly fetch: NatFetch;
  /** virtlab's own origin, e.g. "https://virtlab.example": never fetched. */
  readonly ownOrigin: string;
  /**
   * Fetch http:// targets as https://, but for loopback hosts (a local server): in a page, virtlab's
   * CSP lets fetch reach http only on loopback, and a page served over https may not fetch http at
   * all (mixed content), while most sites answer on https too.
   */
  readonly upgradeToHttps?: boolean;
  /** Names of machines on the segment that this gateway did not lease (another tab's), for DNS. */
  readonly knownHost?: (name: string) => Ipv4 | undefined;
  /** Addresses DNS answers with (default 198.18.0.1–198.18.255.254, RFC 2544's unrouted range). */
  readonly dnsPool?: { readonly first: Ipv4; readonly last: Ipv4 };
}

/** One guest connection the gateway took over, for a UI. */
export interface NatConnection {
  /** "10.0.3.100:40012 → 198.18.0.1:80" */
  readonly flow: string;
  /** When the guest opened it (the clock's milliseconds). */
  readonly at: number;
  /** The name DNS gave the address, if it was one of ours. */
  readonly name: string | undefined;
  /** What the guest asked for, as a URL (set once its request has come in full). */
  asked: string | undefined;
  /** What the page fetched (`asked`, or its https:// form); undefined when nothing was fetched. */
  url: string | undefined;
  /** The status answered; undefined while waiting for the request or the fetch. */
  status: number | undefined;
  /** Why the gateway refused the request or could not fetch it (the guest gets it too). */
  why: string | undefined;
  closed: boolean;
}

const HTTP_PORT = 80;
const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 413: "Content Too Large", 431: "Request Header Fields Too Large", 501: "Not Implemented" };
/** A connection whose request has not come in full by then is dropped (a guest that went away). */
const REQUEST_WAIT_MS = 60_000;
const HOST_HEADER = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export class NatGateway extends Station {
  private on: boolean;
  private disposed = false;
  private readonly fake: FakeDns;
  private readonly flows = new Map<string, { endpoint: TcpEndpoint; info: NatConnection }>();
  private readonly history: NatConnection[] = [];
  private readonly waits = new Set<Disposable>();

  constructor(private readonly nat: NatGatewayOptions) {
    super({ ...nat, gateway: nat.ip, dns: nat.ip });
    if (!validOrigin(nat.ownOrigin)) throw new AppError("bad-network", `NAT gateway: "${nat.ownOrigin}" is not an origin`, { details: { subject: "NAT gateway", problems: ["virtlab's own origin is not a URL"] } });
    this.on = nat.enabled ?? false;
    this.fake = new FakeDns(nat.dnsPool ?? { first: [198, 18, 0, 1], last: [198, 18, 255, 254] });
  }

  get enabled(): boolean {
    return this.on;
  }

  /** Turn NAT on or off; connections already open run to their end. */
  setEnabled(on: boolean): void {
    this.on = on;
  }

  /** Names DNS has answered, with the address given to each. */
  get dnsEntries(): readonly { readonly name: string; readonly ip: string }[] {
    return this.fake.entries;
  }

  /** The most recent connections (up to 100), newest last. */
  get connections(): readonly NatConnection[] {
    return this.history.map((c) => ({ ...c }));
  }

  override udp(packet: Ipv4Packet, udp: UdpDatagram): boolean {
    if (udp.dstPort !== DNS_PORT) return false;
    const query = parseDnsQuery(udp.payload);
    if (query === undefined) return true;
    this.counts.dnsQueries++;
    const answer = query === "malformed" ? dnsFormatError(udp.payload) : dnsAnswer(query, (name) => this.resolve(name));
    this.iface.emit(udpFrame({ from: this.iface.mac, to: packet.srcMac, src: packet.dst, dst: packet.src, srcPort: DNS_PORT, dstPort: udp.srcPort, payload: answer }));
    return true;
  }

  /** A machine of the segment by its name (outside access or not); any other name only with NAT on. */
  private resolve(name: string): Ipv4 | "refused" {
    const n = normalName(name);
    return this.dhcp?.addressOfHost(n) ?? this.nat.knownHost?.(n) ?? (this.on ? this.fake.addressFor(n) : "refused");
  }

  protected override foreign(packet: Ipv4Packet): void {
    const counts = this.counts;
    if (packet.protocol === PROTO_TCP) {
      const segment = parseTcp(packet.frame, packet.dst);
      if (segment === undefined) return;
      if (!segment.checksumsOk) {
        counts.badChecksums++;
        return;
      }
      if (this.on && segment.dstPort === HTTP_PORT && this.http(packet, segment)) return;
      sendReset(segment, this.iface, counts, packet.dst);
      return;
    }
    const ping = packet.protocol === PROTO_ICMP && packet.frame[packet.payloadStart] === ICMP_ECHO_REQUEST;
    if (packet.protocol === PROTO_UDP || ping) {
      refuse(packet, this.iface, counts, this.on ? UNREACHABLE.prohibited : UNREACHABLE.net);
      return;
    }
    counts.dropped++;
  }

  /** A segment of a connection to port 80: the NAT's. False when it is no connection of ours (reset it). */
  private http(packet: Ipv4Packet, segment: TcpSegment): boolean {
    const flow = `${formatIpv4(packet.src)}:${segment.srcPort} → ${formatIpv4(packet.dst)}:${segment.dstPort}`;
    let entry = this.flows.get(flow);
    if (entry !== undefined && entry.endpoint.closed && (segment.flags & SYN) !== 0) {
      this.flows.delete(flow);
      entry = undefined;
    }
    if (entry === undefined) {
      if ((segment.flags & SYN) === 0) return false;
      entry = this.open(flow, packet.dst);
    }
    entry.endpoint.receive(segment);
    return true;
  }

  private open(flow: string, address: Ipv4): { endpoint: TcpEndpoint; info: NatConnection } {
    this.counts.natTranslations++;
    const info: NatConnection = { flow, at: this.options.clock.now(), name: this.fake.nameOf(address), asked: undefined, url: undefined, status: undefined, why: undefined, closed: false };
    this.history.push(info);
    if (this.history.length > 100) this.history.shift();
    const reader = new HttpRequestReader();
    let asked = false;
    const wait = this.options.clock.after(REQUEST_WAIT_MS, () => {
      stopWaiting();
      endpoint.dispose();
      info.closed = true;
      if (this.flows.get(flow)?.endpoint === endpoint) this.flows.delete(flow);
    });
    this.waits.add(wait);
    const stopWaiting = (): void => {
      wait.dispose();
      this.waits.delete(wait);
    };
    const endpoint = new TcpEndpoint({
      local: { mac: this.iface.mac, ip: address, port: HTTP_PORT },
      clock: this.options.clock,
      respondLater: true,
      send: (frame) => this.iface.emit(frame),
      onData: (bytes) => {
        if (asked) return;
        const request = reader.push(bytes);
        if (request === undefined) return;
        asked = true;
        stopWaiting();
        void this.answer(request, address, info).then((response) => {
          if (!this.disposed) endpoint.respond(response);
        });
      },
      onClosed: () => {
        stopWaiting();
        info.closed = true;
        if (this.flows.get(flow)?.endpoint === endpoint) this.flows.delete(flow);
      },
    });
    const entry = { endpoint, info };
    this.flows.set(flow, entry);
    return entry;
  }

  /**
   * The response bytes for a request (or a problem reading it). A refusal or a failed fetch says
   * why in its status line as well as its body: busybox's wget prints only the status line.
   */
  private async answer(request: HttpRequest | HttpProblem, address: Ipv4, info: NatConnection): Promise<Uint8Array> {
    const problem = (status: number, text: string, line: string, detail = ""): Uint8Array => {
      info.status = status;
      info.why = line;
      return textResponse(status, `${text} (virtlab: ${line})`, `${line}${detail}`);
    };
    const refused = (status: number, text: string, line: string): Uint8Array => {
      this.counts.httpRefused++;
      return problem(status, text, line);
    };
    if ("status" in request) return refused(request.status, STATUS_TEXT[request.status] ?? "Bad Request", request.reason);
    const asked = this.urlFor(request, address);
    if (asked === undefined) return refused(400, "Bad Request", "The request has no usable target: send a path and a Host header, or an http(s) URL.");
    info.asked = asked;
    // Checked as fetched: http://virtlab.example/ upgraded is virtlab's https origin.
    const url = this.nat.upgradeToHttps === true ? httpsUnlessLoopback(asked) : asked;
    const why = refusal(url, this.nat.ownOrigin);
    if (why !== undefined) return refused(403, "Forbidden", why);
    info.url = url;
    this.counts.httpRequests++;
    const body = request.method === "GET" || request.method === "HEAD" || request.body.length === 0 ? {} : { body: request.body };
    try {
      const response = await this.nat.fetch(url, { method: request.method, headers: forwardedHeaders(request), credentials: "omit", redirect: "follow", referrerPolicy: "no-referrer", cache: "no-store", ...body });
      const landed = response.url === undefined || response.url === "" ? undefined : refusal(response.url, this.nat.ownOrigin);
      if (landed !== undefined) return refused(403, "Forbidden", `Redirected: ${landed}`);
      info.status = response.status;
      return httpResponse({ status: response.status, statusText: response.statusText, headers: response.headers, body: response.body, headRequest: request.method === "HEAD" });
    } catch (error) {
      this.counts.httpFailed++;
      // A browser says only "Failed to fetch": the cause goes in the body, not the status line.
      return problem(502, "Bad Gateway", `The page could not fetch ${url} (no network, or the site does not let other origins read it: CORS).`, ` ${describeCause(error)}`.replace(/[\r\n]+/g, " "));
    }
  }

  private urlFor(request: HttpRequest, address: Ipv4): string | undefined {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(request.target)) return request.target;
    if (!request.target.startsWith("/")) return undefined;
    const hostName = header(request, "host") ?? this.fake.nameOf(address) ?? formatIpv4(address);
    return HOST_HEADER.test(hostName) ? `http://${hostName}${request.target}` : undefined;
  }

  override dispose(): void {
    this.disposed = true;
    for (const wait of this.waits) wait.dispose();
    for (const { endpoint } of this.flows.values()) endpoint.dispose();
    this.flows.clear();
    super.dispose();
  }
}

/**
 * The NAT's way out in the browser (and Node): the platform's fetch, never with cookies or other
 * credentials, no referrer, nothing cached; CORS and the page's CSP still apply.
 */
export const hostNatFetch: NatFetch = async (url, init) => {
  const response = await host.fetch(url, {
    method: init.method,
    headers: init.headers.map(([name, value]) => [name, value]),
    ...(init.body === undefined ? {} : { body: init.body }),
    credentials: "omit",
    redirect: "follow",
    referrerPolicy: "no-referrer",
    cache: "no-store",
  });
  const headers: [string, string][] = [];
  response.headers.forEach?.((value, name) => headers.push([name, value]));
  return { status: response.status, statusText: response.statusText, headers, body: new Uint8Array(await response.arrayBuffer()), ...(response.url === undefined ? {} : { url: response.url }) };
};
