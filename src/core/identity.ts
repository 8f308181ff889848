/**
 * Each machine's own name and NIC address. Machines started from the same saved state (the
 * pre-booted one, a kept boot) share everything in it, the NIC's MAC and the hostname included;
 * on one network that would be two hosts with one address. So the host gives each machine an
 * identity and, after the start, the guest agent applies it (`/bin/virtlab-net identity`, see
 * images/lib/network.ts): the hostname (the prompt shows it), eth0's MAC (written to the NIC: the
 * NE2000 filters frames on the address its driver writes when the link comes up; virtio-net is
 * told through its control queue), and DHCP started again with both.
 *
 * Not on the kernel command line: that is part of a state's fingerprint, so a per-machine word
 * there would keep every machine from the shared pre-booted state. (A guest booted by hand may
 * still pass `virtlab.hostname=` and `virtlab.mac=`: /init reads them.)
 */
import { AppError } from "./errors.ts";
import type { DeviceProfile } from "./profile.ts";

export interface MachineIdentity {
  /** An RFC 1123 label: letters, digits, hyphens, 1–63 characters, no leading or trailing hyphen. */
  readonly hostname: string;
  /** Six bytes, lowercase hex with colons: unicast and locally administered. */
  readonly mac: string;
}

/** The guest's network script (images/lib/network.ts renders it). */
export const NET_SCRIPT = "/bin/virtlab-net";
/** The name a guest has when nobody gives it one (images/manifest.json). */
export const DEFAULT_HOSTNAME = "virtlab";

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** The hostname a machine's name gives: lowercase letters, digits and hyphens ("Web server 1" → "web-server-1"). */
export function hostnameFor(name: string): string {
  const label = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return label === "" ? DEFAULT_HOSTNAME : label;
}

/**
 * A MAC for a machine, the same every time for the same id: QEMU's locally administered prefix
 * 52:54:00 and three bytes of a hash of the id (FNV-1a). Two ids may collide (1 in 16 million).
 */
export function macFor(id: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  const tail = [hash >>> 16, hash >>> 8, hash].map((b) => (b & 0xff).toString(16).padStart(2, "0"));
  return ["52", "54", "00", ...tail].join(":");
}

/** The identity of the machine `id` named `name` (its hostname from the name, its MAC from the id). */
export function machineIdentity(id: string, name: string = id): MachineIdentity {
  return { hostname: hostnameFor(name), mac: macFor(id) };
}

/** Why an identity cannot be applied; empty when it can. */
export function identityProblems(identity: MachineIdentity): string[] {
  const problems: string[] = [];
  if (!HOSTNAME.test(identity.hostname)) problems.push(`"${identity.hostname}" is not a hostname (letters, digits and hyphens, at most 63)`);
  if (!MAC.test(identity.mac)) problems.push(`"${identity.mac}" is not a MAC address (six lowercase hex bytes with colons)`);
  else if ((parseInt(identity.mac.slice(0, 2), 16) & 1) !== 0) problems.push(`${identity.mac} is a multicast address: a NIC needs a unicast one`);
  return problems;
}

/** The guest agent's line that applies an identity (hostname, MAC, DHCP again). */
export function identityCommand(identity: MachineIdentity): string {
  const problems = identityProblems(identity);
  if (problems.length > 0) throw new AppError("bad-profile", `This machine's identity cannot be used: ${problems.join("; ")}.`, { details: { subject: "identity", problems } });
  return `${NET_SCRIPT} identity ${identity.hostname} ${identity.mac}`;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The guest agent's line that asks for an address by DHCP again (after the network around the machine changed). */
export function dhcpCommand(): string {
  return `${NET_SCRIPT} dhcp`;
}

/**
 * The guest agent's line that waits (up to `seconds`) until eth0 carries `address`: the guest's
 * DHCP client applies a lease a moment after the server recorded it, and busybox `ping` gives up
 * at once on an interface without an address. Exits 1 if the address never comes.
 */
export function addressAppliedCommand(address: string, seconds = 20): string {
  if (CIDR.exec(`${address}/32`) === null) throw new AppError("bad-profile", `${address} is not an IPv4 address.`, { details: { subject: address } });
  const polls = Math.ceil(seconds * 20);
  return `(n=0; until ip -4 addr show eth0 | grep -q 'inet ${address}/'; do [ $n -ge ${polls} ] && exit 1; usleep 50000; n=$((n+1)); done)`;
}

/** The guest agent's line that gives eth0 a fixed address (`10.0.0.11/24`) instead of DHCP, with an optional default gateway. */
export function staticAddressCommand(address: string, gateway?: string): string {
  const cidr = CIDR.exec(address);
  const bad = (what: string): AppError => new AppError("bad-profile", `${what} is not an IPv4 address.`, { details: { subject: what } });
  if (cidr === null || cidr.slice(1, 5).some((o) => Number(o) > 255) || Number(cidr[5]) > 32) throw bad(address);
  if (gateway !== undefined && (!IPV4.test(gateway) || gateway.split(".").some((o) => Number(o) > 255))) throw bad(gateway);
  return `${NET_SCRIPT} static ${address}${gateway === undefined ? "" : ` ${gateway}`}`;
}

/**
 * A machine about to join a network must have a NIC: the one check, made before anything is wired.
 * Throws `no-nic` naming the machine.
 */
export function assertHasNic(machineName: string, profile: Pick<DeviceProfile, "nic">): void {
  if (profile.nic !== "none") return;
  throw new AppError("no-nic", `${machineName} has no network card, so it cannot join a network.`, { details: { subject: machineName } });
}
