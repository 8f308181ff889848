/** Which emulator builds a saved machine restores on. */
import { AppError } from "../errors.ts";

/**
 * A plain refusal when a snapshot comes from another emulator build: v86 restores only states of
 * its own state format, and virtlab pins the exact v86 version because even the same format can
 * mean different devices.
 */
export function notForThisEmulator(v86: string, stateVersion: number, ownV86: string, ownStateVersion: number): AppError | undefined {
  if (stateVersion !== ownStateVersion) {
    return new AppError("bad-snapshot", `This snapshot was saved by emulator v86 ${v86} in state format ${stateVersion}; this virtlab runs v86 ${ownV86} (state format ${ownStateVersion}) and cannot read it.`);
  }
  if (v86 !== ownV86) {
    return new AppError("bad-snapshot", `This snapshot was saved by emulator v86 ${v86}; this virtlab runs v86 ${ownV86}, and a saved machine only restores on the exact emulator version it was saved with.`);
  }
  return undefined;
}
