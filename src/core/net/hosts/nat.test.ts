import { describe, expect, it } from "vitest";
import { ManualClock } from "../../clock.ts";
import { isAppError } from "../../errors.ts";
import { decodeText, encodeText } from "../../host.ts";
import { echoRequestFrame, type Ipv4, type Mac } from "../../lab/frames.ts";
import { RST, SYN, parseTcp, tcpFrame } from "../../lab/tcp.ts";
import { DHCP } from "./dhcp.ts";
import { parseIpv4Frame, udpFrame } from "./ip.ts";
import { sameBytes } from "../../testing/bytes.ts";
import { NatGateway, type NatFetchInit, type NatFetchResponse } from "./nat.ts";
import { dhcpClientFrame, dhcpOf, dnsQuery, ipOption, now, probe, settle, tcpExchange, udpOf } from "./testing.ts";

const gwMac: Mac = [0x52, 0x54, 0x00, 0x4e, 0x00, 0x01];
const gwIp: Ipv4 = [10, 0, 3, 1];
const vm1: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x01];
const vm1Ip: Ipv4 = [10, 0, 3, 100];

interface Call {
  readonly url: string;
  readonly init: NatFetchInit;
}

function gateway(o: { enabled?: boolean; respond?: (url: string, init: NatFetchInit) => Promise<NatFetchResponse>; upgradeToHttps?: boolean } = {}) {
  const calls: Call[] = [];
  const gw = new NatGateway({
    mac: gwMac,
    ip: gwIp,
    prefix: 24,
    clock: new ManualClock(),
    schedule: now,
    enabled: o.enabled ?? true,
    ownOrigin: "https://virtlab.example",
    hostnameFor: (mac) => (mac[5] === 1 ? "vm1" : undefined),
    ...(o.upgradeToHttps === undefined ? {} : { upgradeToHttps: o.upgradeToHttps }),
    fetch: (url, init) => {
      calls.push({ url, init });
      return o.respond?.(url, init) ?? Promise.resolve({ status: 200, statusText: "OK", headers: [["Content-Type", "text/plain"]], body: encodeText("hello from outside\n") });
    },
  });
  return { gw, out: probe(gw), calls };
}

function dns(gw: NatGateway, out: ReturnType<typeof probe>, name: string): { frame: Uint8Array | undefined; answer: number[] | undefined } {
  gw.sendNetworkFrame(udpFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: gwIp, srcPort: 50000, dstPort: 53, payload: dnsQuery(7, name) }));
  const frame = out.take()[0];
  if (frame === undefined) return { frame, answer: undefined };
  const packet = parseIpv4Frame(frame);
  if (packet?.protocol !== 17) return { frame, answer: undefined };
  const { udp } = udpOf(frame);
  return { frame, answer: [...udp.payload.subarray(udp.payload.length - 4)] };
}

const get = (path: string, hostHeader: string | undefined, extra = ""): Uint8Array => encodeText(`GET ${path} HTTP/1.1\r\n${hostHeader === undefined ? "" : `Host: ${hostHeader}\r\n`}User-Agent: Wget\r\nCookie: session=1\r\n${extra}Connection: close\r\n\r\n`);

describe("NatGateway", () => {
  it("leases addresses naming itself as router and DNS server", () => {
    const { gw, out } = gateway();
    gw.sendNetworkFrame(dhcpClientFrame({ mac: vm1, type: DHCP.discover }));
    const offer = dhcpOf(out.take()[0] ?? new Uint8Array());
    expect(offer.yiaddr).toEqual([10, 0, 3, 100]);
    expect(ipOption(offer, 3)).toBe("10.0.3.1");
    expect(ipOption(offer, 6)).toBe("10.0.3.1");
  });

  it("answers DNS with an address of its pool for any name, the same one again, and a machine's leased address for its name", () => {
    const { gw, out } = gateway();
    expect(dns(gw, out, "example.com").answer).toEqual([198, 18, 0, 1]);
    expect(dns(gw, out, "debian.org").answer).toEqual([198, 18, 0, 2]);
    expect(dns(gw, out, "EXAMPLE.com").answer).toEqual([198, 18, 0, 1]);
    gw.sendNetworkFrame(dhcpClientFrame({ mac: vm1, type: DHCP.discover }));
    gw.sendNetworkFrame(dhcpClientFrame({ mac: vm1, type: DHCP.request, requested: vm1Ip, serverId: gwIp }));
    out.take();
    expect(dns(gw, out, "vm1").answer).toEqual([...vm1Ip]);
    const { frame } = dns(gw, out, "example.com");
    const { packet, udp } = udpOf(frame ?? new Uint8Array());
    expect(packet).toMatchObject({ src: gwIp, dst: vm1Ip, dstMac: vm1, headerOk: true });
    expect(udp).toMatchObject({ srcPort: 53, dstPort: 50000, checksumOk: true });
    expect(gw.counters.dnsQueries).toBe(5);
    expect(gw.dnsEntries).toEqual([{ name: "example.com", ip: "198.18.0.1" }, { name: "debian.org", ip: "198.18.0.2" }]);
  });

  it("turns a guest's HTTP request into a fetch without credentials or cookies, and writes the response back and closes", async () => {
    const { gw, out, calls } = gateway();
    dns(gw, out, "example.com");
    const result = await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 1], port: 80, request: get("/index.html?q=1", "example.com") });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("http://example.com/index.html?q=1");
    expect(calls[0]?.init).toMatchObject({ method: "GET", credentials: "omit", redirect: "follow", referrerPolicy: "no-referrer" });
    expect(calls[0]?.init.headers).toEqual([["User-Agent", "Wget"]]);
    expect(calls[0]?.init.body).toBeUndefined();
    expect(decodeText(result.received)).toBe("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\n\r\nhello from outside\n");
    expect(result.closed).toBe(true);
    // The answers come from the address the guest connected to, and all checksums hold.
    expect(result.segments.every((s) => s.checksumsOk && s.srcPort === 80)).toBe(true);
    expect(gw.counters).toMatchObject({ httpRequests: 1, natTranslations: 1, httpRefused: 0 });
    expect(gw.connections).toEqual([{ flow: "10.0.3.100:40000 → 198.18.0.1:80", at: 0, name: "example.com", asked: "http://example.com/index.html?q=1", url: "http://example.com/index.html?q=1", status: 200, why: undefined, closed: true }]);
  });

  it("uses the name DNS gave the address when the request has no Host, passes a POST body on, and upgrades to https when asked", async () => {
    const { gw, out, calls } = gateway({ upgradeToHttps: true });
    dns(gw, out, "api.example.org");
    await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 1], port: 80, request: encodeText("POST /submit HTTP/1.0\r\nContent-Length: 4\r\n\r\ndata") });
    expect(calls[0]?.url).toBe("https://api.example.org/submit");
    expect(decodeText(calls[0]?.init.body ?? new Uint8Array())).toBe("data");
    expect(gw.connections[0]).toMatchObject({ asked: "http://api.example.org/submit", url: "https://api.example.org/submit" });
  });

  it("upgrading, keeps http for a loopback host (a page may fetch http there) and leaves https as asked", async () => {
    const { gw, out, calls } = gateway({ upgradeToHttps: true });
    const targets = ["http://localhost/a", "http://127.0.0.1:80/b", "http://[::1]/c", "https://example.org/d", "http://EXAMPLE.org/e"];
    for (const [i, target] of targets.entries()) await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 1], port: 80, srcPort: 41000 + i, request: get(target, undefined) });
    expect(calls.map((c) => c.url)).toEqual(["http://localhost/a", "http://127.0.0.1:80/b", "http://[::1]/c", "https://example.org/d", "https://EXAMPLE.org/e"]);
  });

  it("carries a large body through the guest's window byte for byte", async () => {
    const body = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff);
    const { gw, out } = gateway({ respond: () => Promise.resolve({ status: 200, statusText: "OK", headers: [], body }) });
    const result = await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [93, 184, 216, 34], port: 80, request: get("/big", "93.184.216.34") });
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n";
    expect(decodeText(result.received.subarray(0, head.length))).toBe(head);
    expect(sameBytes(result.received.subarray(head.length), body)).toBe(true);
    expect(result.closed).toBe(true);
  });

  it("refuses virtlab's own origin and other schemes with 403 and one line saying why, without fetching", async () => {
    const { gw, out, calls } = gateway();
    const own = await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 9], port: 80, request: get("/api/machines", "virtlab.example:443") });
    // The reason is in the status line too: busybox's wget prints only that line.
    expect(decodeText(own.received)).toBe("HTTP/1.1 403 Forbidden (virtlab: This is virtlab's own origin: a guest may not reach it.)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 56\r\nConnection: close\r\n\r\nThis is virtlab's own origin: a guest may not reach it.\n");
    const ftp = await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 9], port: 80, srcPort: 40001, request: get("ftp://example.com/file", undefined) });
    expect(decodeText(ftp.received)).toContain("403 Forbidden");
    expect(decodeText(ftp.received)).toContain("Only http and https can be fetched, not ftp.");
    const badHost = await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 9], port: 80, srcPort: 40002, request: get("/", "evil@virtlab.example") });
    expect(decodeText(badHost.received)).toContain("400 Bad Request");
    expect(calls).toHaveLength(0);
    expect(gw.counters.httpRefused).toBe(3);
  });

  it("answers 502 with the reason when the fetch fails, and 403 when a redirect lands on virtlab's origin", async () => {
    const { gw, out } = gateway({ respond: () => Promise.reject(new TypeError("Failed to fetch")) });
    const failed = await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 1], port: 80, request: get("/", "example.com") });
    const line = "The page could not fetch http://example.com/ (no network, or the site does not let other origins read it: CORS).";
    const body = `${line} Failed to fetch\n`;
    expect(decodeText(failed.received)).toBe(`HTTP/1.1 502 Bad Gateway (virtlab: ${line})\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(gw.counters).toMatchObject({ httpFailed: 1, httpRefused: 0 });
    expect(gw.connections[0]).toMatchObject({ asked: "http://example.com/", url: "http://example.com/", status: 502, why: line });
    const redirected = gateway({ respond: () => Promise.resolve({ status: 200, statusText: "OK", headers: [], body: encodeText("secret"), url: "https://virtlab.example/" }) });
    const landed = await tcpExchange(redirected.gw, redirected.out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 1], port: 80, request: get("/", "example.com") });
    expect(decodeText(landed.received)).toContain("403 Forbidden");
    expect(decodeText(landed.received)).not.toContain("secret");
  });

  it("refuses other outside traffic where the guest sees it: reset for TCP, ICMP prohibited for UDP and ping; answers ping to itself", () => {
    const { gw, out } = gateway();
    gw.sendNetworkFrame(tcpFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: [198, 18, 0, 1], srcPort: 40100, dstPort: 443, seq: 5, ack: 0, flags: SYN, window: 1000 }));
    expect(parseTcp(out.take()[0] ?? new Uint8Array(), vm1Ip)).toMatchObject({ flags: RST | 0x10, srcPort: 443, ack: 6, checksumsOk: true });
    gw.sendNetworkFrame(udpFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: [8, 8, 8, 8], srcPort: 40000, dstPort: 123, payload: new Uint8Array(48) }));
    const udpRefusal = out.take()[0] ?? new Uint8Array();
    expect([udpRefusal[34], udpRefusal[35]]).toEqual([3, 13]);
    gw.sendNetworkFrame(echoRequestFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: [8, 8, 8, 8], id: 1, seq: 1, payload: new Uint8Array(56) }));
    const pingRefusal = out.take()[0] ?? new Uint8Array();
    expect([pingRefusal[34], pingRefusal[35]]).toEqual([3, 13]);
    gw.sendNetworkFrame(echoRequestFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: gwIp, id: 1, seq: 2, payload: new Uint8Array(56) }));
    expect(out.take()[0]?.[34]).toBe(0);
    expect(gw.counters).toMatchObject({ resets: 1, unreachable: 2, echoReplies: 1 });
  });

  it("is off until turned on: DNS for the segment's machines only, no HTTP, ICMP network unreachable; then works without a new lease", async () => {
    const { gw, out, calls } = gateway({ enabled: false });
    // The answer's rcode and record count (the UDP payload starts at byte 42).
    const header = (frame: Uint8Array | undefined) => ({ rcode: (frame?.[45] ?? -1) & 0x0f, records: frame?.[49] });
    // REFUSED (rcode 5), no record: the resolver gives up at once.
    expect(header(dns(gw, out, "example.com").frame)).toEqual({ rcode: 5, records: 0 });
    // A machine of the segment is found by its name all the same (`ping vm2` on a LAN with no outside).
    gw.sendNetworkFrame(dhcpClientFrame({ mac: vm1, type: DHCP.discover }));
    gw.sendNetworkFrame(dhcpClientFrame({ mac: vm1, type: DHCP.request, requested: vm1Ip, serverId: gwIp }));
    out.take();
    const local = dns(gw, out, "vm1");
    expect(header(local.frame)).toEqual({ rcode: 0, records: 1 });
    expect(local.answer).toEqual([...vm1Ip]);
    const http = await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [93, 184, 216, 34], port: 80, request: get("/", "example.com") });
    expect(http.segments.map((s) => s.flags & RST)).toEqual([RST]);
    gw.sendNetworkFrame(echoRequestFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: [8, 8, 8, 8], id: 1, seq: 1, payload: new Uint8Array(8) }));
    const refusal = out.take()[0] ?? new Uint8Array();
    expect([refusal[34], refusal[35]]).toEqual([3, 0]);
    expect(calls).toHaveLength(0);
    gw.setEnabled(true);
    expect(dns(gw, out, "example.com").answer).toEqual([198, 18, 0, 1]);
    const ok = await tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 1], port: 80, srcPort: 40005, request: get("/", "example.com") });
    expect(decodeText(ok.received)).toContain("200 OK");
    expect(calls).toHaveLength(1);
  });

  it("refuses an own origin that is not a URL", () => {
    let error: unknown;
    try {
      new NatGateway({ mac: gwMac, ip: gwIp, prefix: 24, clock: new ManualClock(), ownOrigin: "not an origin", fetch: () => Promise.reject(new Error("unused")) });
    } catch (e) {
      error = e;
    }
    expect(isAppError(error, "bad-network")).toBe(true);
  });

  it("answers nothing once disposed, even a fetch still under way", async () => {
    let release: (r: NatFetchResponse) => void = () => undefined;
    const { gw, out } = gateway({ respond: () => new Promise((resolve) => (release = resolve)) });
    const exchange = tcpExchange(gw, out, { mac: vm1, ip: vm1Ip, gatewayMac: gwMac, dst: [198, 18, 0, 1], port: 80, request: get("/", "example.com") });
    await settle();
    await settle();
    gw.dispose();
    release({ status: 200, statusText: "OK", headers: [], body: encodeText("late") });
    const result = await exchange;
    expect(decodeText(result.received)).toBe("");
  });
});

describe("NatGateway connections", () => {
  it("drops a connection whose request never comes, after a minute on the clock", async () => {
    const clock = new ManualClock();
    const gw = new NatGateway({ mac: gwMac, ip: gwIp, prefix: 24, clock, schedule: now, enabled: true, ownOrigin: "https://virtlab.example", fetch: () => Promise.reject(new Error("unused")) });
    const out = probe(gw);
    gw.sendNetworkFrame(tcpFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: [198, 18, 0, 1], srcPort: 40200, dstPort: 80, seq: 1, ack: 0, flags: SYN, window: 65535, mss: 1460 }));
    const synAck = parseTcp(out.take()[0] ?? new Uint8Array(), vm1Ip);
    gw.sendNetworkFrame(tcpFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: [198, 18, 0, 1], srcPort: 40200, dstPort: 80, seq: 2, ack: ((synAck?.seq ?? 0) + 1) >>> 0, flags: 0x10, window: 65535 }));
    expect(gw.connections[0]?.closed).toBe(false);
    clock.advance(60_000);
    expect(gw.connections[0]?.closed).toBe(true);
    // The guest's next segment belongs to no connection now: reset.
    gw.sendNetworkFrame(tcpFrame({ from: vm1, to: gwMac, src: vm1Ip, dst: [198, 18, 0, 1], srcPort: 40200, dstPort: 80, seq: 2, ack: ((synAck?.seq ?? 0) + 1) >>> 0, flags: 0x10, window: 65535, payload: encodeText("GET") }));
    expect((parseTcp(out.take().at(-1) ?? new Uint8Array(), vm1Ip)?.flags ?? 0) & RST).toBe(RST);
    await settle();
  });
});
