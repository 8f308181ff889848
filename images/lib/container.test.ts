import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CONTAINER_INIT_PATH, CONTAINER_SCRIPT_PATH, renderCgroupInit, renderContainerInit, renderContainerScript } from "./container";
import { renderInit } from "./init";

describe("container helper scripts", () => {
  it("are valid sh syntax", () => {
    for (const script of [renderContainerScript(), renderContainerInit()]) {
      const r = spawnSync("sh", ["-n"], { input: script });
      expect(r.status, r.stderr.toString()).toBe(0);
    }
  });

  it("refuse a bad name or option before touching anything", () => {
    for (const args of [["-n", "Bad/Name", "true"], ["-x"], ["-m"]]) {
      const r = spawnSync("sh", ["-c", renderContainerScript(), "virtlab-container", ...args], { encoding: "utf8" });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/virtlab-container/);
    }
  });

  it("new namespaces, then the second stage that moves the root and chroots into the init script", () => {
    const script = renderContainerScript();
    expect(script).toContain(`exec unshare -m -u -i -n -p -f --propagation private ${CONTAINER_SCRIPT_PATH} --inside`);
    expect(script).toContain('mount --move . /');
    expect(script).toContain(`exec chroot . ${CONTAINER_INIT_PATH}`);
    expect(script).toContain('echo "$MEM" > "$CG/memory.max"');
  });

  it("/init mounts cgroup v2 with the memory controller, in its own marked block", () => {
    const init = renderInit({ kernelRelease: "6.1.0-50-686", hostname: "virtlab", prompt: "# ", groups: [], modules: [], dataDiskModules: [], netGroups: [], consoleGroups: [] });
    expect(init).toContain(renderCgroupInit().join("\n"));
    expect(init).toContain("mount -t cgroup2 cgroup2 /sys/fs/cgroup");
  });
});
