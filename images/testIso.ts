/**
 * A small bootable ISO for the e2e test "add an ISO by upload and boot it": Debian's
 * `grub-rescue-pc` ships GRUB as a bootable CD image. Fetched with apt's private state (no root),
 * the same way the guest build does, and cached in images/.cache/test-iso/ (never committed).
 *
 *   npx tsx images/testIso.ts        prints the ISO's path (downloads once)
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PrivateApt, debExtract, haveTool } from "./lib/apt.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const CACHE = join(HERE, ".cache");
const PACKAGE = "grub-rescue-pc";
const ISO_IN_PACKAGE = "usr/lib/grub-rescue/grub-rescue-cdrom.iso";
export const TEST_ISO_PATH = join(CACHE, "test-iso", "grub-rescue-cdrom.iso");

export function ensureTestIso(log: (message: string) => void = (m) => console.error(`[test-iso] ${m}`)): string {
  if (existsSync(TEST_ISO_PATH)) return TEST_ISO_PATH;
  const missing = ["apt-get", "apt-cache", "dpkg-deb"].filter((t) => !haveTool(t));
  if (missing.length > 0) {
    throw new Error(`${missing.join(", ")} not found: the test ISO comes from Debian's ${PACKAGE} package. Put ${ISO_IN_PACKAGE} from it at ${TEST_ISO_PATH} by hand.`);
  }
  const apt = new PrivateApt(CACHE, "i386", log);
  apt.update();
  const version = apt.candidate(PACKAGE);
  if (version === undefined) throw new Error(`apt knows no ${PACKAGE} package for i386.`);
  const work = join(CACHE, "test-iso", ".work");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const deb = apt.download(PACKAGE, version, work, `${PACKAGE}.deb`);
    debExtract(deb, join(work, "x"));
    const iso = join(work, "x", ISO_IN_PACKAGE);
    if (!existsSync(iso)) throw new Error(`${PACKAGE} ${version} has no ${ISO_IN_PACKAGE} (it has ${readdirSync(join(work, "x")).join(", ")}).`);
    renameSync(iso, TEST_ISO_PATH);
    log(`${PACKAGE} ${version}: ${TEST_ISO_PATH}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return TEST_ISO_PATH;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    console.log(ensureTestIso());
  } catch (error) {
    console.error(`[test-iso] ${(error as Error).message}`);
    process.exit(1);
  }
}
