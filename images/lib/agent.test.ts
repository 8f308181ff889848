import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { renderAgentScript } from "./agent";

describe("the guest agent (/bin/virtlab-agent)", () => {
  const script = renderAgentScript();

  it("is valid sh", () => {
    expect(spawnSync("sh", ["-n", "-c", script]).status).toBe(0);
  });

  it("answers each command with its output and exit status, and nothing a command sets reaches the next (run with the host's sh)", () => {
    // The protocol loop alone, on stdin/stdout instead of the second serial port; it ends at EOF.
    const loop = script.slice(script.indexOf("while true; do")).replace("IFS= read -r line || continue", "IFS= read -r line || exit 0");
    const input = ["1 echo hi; exit 3", "x 1 not a command id", "2 x=set; cd /tmp; pwd", '3 echo "x=$x"; pwd', "4 echo $(( 6 * 7 ))", ""].join("\n");
    const result = spawnSync("sh", ["-c", loop], { input, encoding: "utf8", cwd: "/" });
    const frames = result.stdout.replaceAll("\x1e", "<").replaceAll("\x1f", ">");
    expect(frames).toBe("<S1>hi\n<E1 3><S2>/tmp\n<E2 0><S3>x=\n/\n<E3 0><S4>42\n<E4 0>");
  });
});
