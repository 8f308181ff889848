/**
 * Which saved states this emulator build can run: v86 restores only states of its own state
 * format, and virtlab pins the exact v86 version because even the same format can mean different
 * devices.
 */
import { AppError, isAppError } from "../errors.ts";
import { V86_PACKAGE_VERSION, V86_STATE_VERSION } from "../v86Version.ts";

/** A plain refusal when a snapshot comes from another emulator build; undefined when it fits. */
export function notForThisEmulator(v86: string, stateVersion: number, ownV86: string = V86_PACKAGE_VERSION, ownStateVersion: number = V86_STATE_VERSION): AppError | undefined {
  if (stateVersion !== ownStateVersion) {
    return new AppError("bad-snapshot", `This snapshot was saved by emulator v86 ${v86} in state format ${stateVersion}; this virtlab runs v86 ${ownV86} (state format ${ownStateVersion}) and cannot read it.`);
  }
  if (v86 !== ownV86) {
    return new AppError("bad-snapshot", `This snapshot was saved by emulator v86 ${v86}; this virtlab runs v86 ${ownV86}, and a saved machine only restores on the exact emulator version it was saved with.`);
  }
  return undefined;
}

/** A refused snapshot was saved on another build of the built-in guest (virtlab updated since): no machine here can take it. */
export function savedOnOtherGuestBuild(error: unknown): boolean {
  return isAppError(error, "snapshot-mismatch") && "otherGuestBuild" in error.details && error.details.otherGuestBuild === true;
}

/** What differs between a refused snapshot and this machine (a `snapshot-mismatch` error's details); empty for anything else. */
export function snapshotDifferences(error: unknown): readonly string[] {
  if (!isAppError(error, "snapshot-mismatch")) return [];
  return "differences" in error.details ? error.details.differences : [];
}
