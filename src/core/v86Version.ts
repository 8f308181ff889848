/**
 * Which v86 this build runs, apart from v86 itself: snapshots and kept boots depend on it, and
 * the page needs it without loading the emulator (which runs in the machines' Workers).
 */

/** The exact v86 release this build was made with; snapshots depend on it. */
export const V86_PACKAGE_VERSION = "0.5.462";
/** The state format version of that release (checked by a boot test against a real save). */
export const V86_STATE_VERSION = 6;
