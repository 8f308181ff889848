/**
 * The in-page hosts with a real guest: busybox udhcpc leases from the NAT gateway (hostname
 * option included), the guest pings it, resolves a name through it and fetches a page through
 * its HTTP translation (the page's fetch replaced by a recording fake: this test is about the
 * guest's side of the gateway); virtlab's own origin is refused and other ports are reset. Then
 * the same guest moves behind the router of routed mode: a new lease, and traceroute shows the
 * router as the first hop.
 */
import { describe, expect, it } from "vitest";
import { NatGateway, Router, systemClock, type NatFetchInit } from "../../src/core/index.ts";
import { guestIsBuilt } from "../../src/node/guest.ts";
import { startNodeScratch } from "../../src/node/session.ts";

const built = guestIsBuilt();

const DHCP_SCRIPT = [
  "#!/bin/sh",
  'case "$1" in bound|renew)',
  "  ifconfig $interface $ip netmask $subnet up",
  "  while route del default 2>/dev/null; do :; done",
  "  route add default gw $router",
  '  echo "nameserver $dns" > /etc/resolv.conf',
  '  echo "lease ip=$ip mask=$subnet router=$router dns=$dns hostname=$hostname server=$serverid";;',
  "esac",
];

describe.skipIf(!built)("in-page network hosts", () => {
  it("lease, ping, DNS and HTTP through the NAT gateway, then a lease and traceroute through the router, from a real guest", { timeout: 300_000 }, async () => {
    const started = await startNodeScratch({ nic: "virtio" });
    const calls: { url: string; init: NatFetchInit }[] = [];
    const gateway = new NatGateway({
      mac: [0x52, 0x54, 0x00, 0x4e, 0x00, 0x01],
      ip: [10, 0, 3, 1],
      prefix: 24,
      clock: systemClock,
      enabled: true,
      ownOrigin: "http://localhost:5173",
      hostnameFor: () => "vm1",
      fetch: (url, init) => {
        calls.push({ url, init });
        return Promise.resolve({ status: 200, statusText: "OK", headers: [["Content-Type", "text/plain"]], body: new TextEncoder().encode("hello from the page\n") });
      },
    });
    const machine = started.machine;
    const wires: { dispose(): void }[] = [
      machine.onNetworkFrame((frame) => gateway.sendNetworkFrame(frame)),
      gateway.onNetworkFrame((frame) => {
        try {
          machine.sendNetworkFrame(frame);
        } catch {
          // The machine is shutting down.
        }
      }),
    ];
    try {
      await machine.waitForShell({ timeoutMs: 120_000 });
      const script = DHCP_SCRIPT.map((l) => `'${l.replace(/'/g, `'\\''`)}'`).join(" ");
      expect((await machine.run(`printf '%s\\n' ${script} > /tmp/dhcp.sh && chmod +x /tmp/dhcp.sh`)).exitCode).toBe(0);

      const lease = await machine.run("ifconfig eth0 up && udhcpc -i eth0 -f -q -n -t 5 -T 2 -s /tmp/dhcp.sh 2>&1", { timeoutMs: 60_000 });
      expect(lease.output).toContain("lease ip=10.0.3.100 mask=255.255.255.0 router=10.0.3.1 dns=10.0.3.1 hostname=vm1 server=10.0.3.1");
      expect(gateway.leases).toMatchObject([{ ip: "10.0.3.100", hostname: "vm1", state: "bound" }]);

      expect((await machine.run("ping -c 2 -W 5 10.0.3.1")).exitCode).toBe(0);

      const lookup = await machine.run("nslookup example.com 2>&1");
      expect(lookup.output).toContain("198.18.0.1");

      const page = await machine.run("wget -q -O - http://example.com/hello 2>&1", { timeoutMs: 60_000 });
      expect(page.output).toContain("hello from the page");
      expect(calls.map((c) => c.url)).toEqual(["http://example.com/hello"]);
      expect(calls[0]?.init.credentials).toBe("omit");

      // Port 80 of an outside address, asking for virtlab's origin by name (127.0.0.1 would be the guest's own loopback).
      const own = await machine.run("wget -q -O - --header 'Host: localhost:5173' http://example.com/ 2>&1; echo exit=$?", { timeoutMs: 60_000 });
      expect(own.output).toContain("403");
      expect(own.output).not.toContain("exit=0");
      expect(calls).toHaveLength(1);

      const otherPort = await machine.run("wget -q -O - http://example.com:8080/ 2>&1; echo exit=$?", { timeoutMs: 60_000 });
      expect(otherPort.output).toMatch(/refused/i);

      expect(gateway.counters).toMatchObject({ httpRequests: 1, httpRefused: 1 });
      // The guest's own udhcpc (started at boot by /bin/virtlab-net) may lease the same address too:
      // one lease in the table, one or more acknowledgements counted.
      expect(gateway.counters.dhcpLeases).toBeGreaterThanOrEqual(1);
      expect(gateway.counters.dnsQueries).toBeGreaterThanOrEqual(2);
      expect(gateway.counters.resets).toBeGreaterThanOrEqual(1);

      // The same NIC now on net1 of a router (net2 has no machine: the second hop goes nowhere).
      for (const w of wires.splice(0)) w.dispose();
      const router = new Router({
        clock: systemClock,
        hostnameFor: () => "vm1",
        interfaces: [
          { name: "net1", mac: [0x52, 0x54, 0x00, 0x4e, 0x01, 0x01], ip: [10, 0, 1, 1], prefix: 24 },
          { name: "net2", mac: [0x52, 0x54, 0x00, 0x4e, 0x02, 0x01], ip: [10, 0, 2, 1], prefix: 24 },
        ],
      });
      const net1 = router.interfaces[0];
      if (net1 === undefined) throw new Error("no net1");
      wires.push(
        machine.onNetworkFrame((frame) => net1.sendNetworkFrame(frame)),
        net1.onNetworkFrame((frame) => {
          try {
            machine.sendNetworkFrame(frame);
          } catch {
            // The machine is shutting down.
          }
        }),
        router,
      );
      const routed = await machine.run("udhcpc -i eth0 -f -q -n -t 5 -T 2 -s /tmp/dhcp.sh 2>&1", { timeoutMs: 60_000 });
      expect(routed.output).toContain("lease ip=10.0.1.100 mask=255.255.255.0 router=10.0.1.1");
      expect((await machine.run("ping -c 1 -W 5 10.0.2.1")).exitCode).toBe(0);
      const trace = await machine.run("traceroute -n -q 1 -w 5 -m 2 10.0.2.50 2>&1", { timeoutMs: 60_000 });
      expect(trace.output).toMatch(/^\s*1\s+10\.0\.1\.1\b/m);
      expect(trace.output).toMatch(/^\s*2\s+10\.0\.1\.1\b.*!H/m);
      expect(router.counters).toMatchObject({ ttlExceeded: 1, unreachable: 1 });
    } finally {
      for (const w of wires) w.dispose();
      gateway.dispose();
      started.dispose();
    }
  });
});
