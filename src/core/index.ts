/** The core's public API: what the UI, tests, benchmarks and lessons use. */
export { AppError, ERROR_CODES, describeCause, isAppError, toAppError, type AppErrorOptions, type ErrorCode, type ErrorDetailsByCode } from "./errors.ts";
export { Emitter, DisposableStore, toDisposable, type Disposable, type Event } from "./events.ts";
export { systemClock, ManualClock, type Clock } from "./clock.ts";
export { RelayedClock, VisibilityClock, serveTimers, type FromTimers, type HostTimers, type ToTimers } from "./hiddenClock.ts";
export { fetchAssetLoader, verifyAsset, type AssetLoader, type ProgressCallback } from "./assets.ts";
export type { CompiledEmulator, ConsolePort, ConsoleChunk, EmulatorBackend, BackendFactory, HypercallRecord, JitCounts, MicroscopeHooks } from "./backend.ts";
export * from "./microscope/traps.ts";
export * from "./microscope/hypercall.ts";
export * from "./microscope/sampler.ts";
export { jitSwitchStep, trapLines, trapsStep } from "./microscope/trapSteps.ts";
export { INTERRUPTED_EXIT_CODE, MarkerFilter, lastLineToShow, stripAnsi, type CommandResult } from "./console.ts";
export {
  DEFAULT_PROFILE,
  MIN_LINUX_MEMORY_MIB,
  maxBalloonMiB,
  profileProblems,
  toEmulatorConfig,
  DISK_SLOTS,
  type AssetRef,
  type AttachedDisks,
  type DiskDevice,
  type DiskSlot,
  type ConsoleModel,
  type CpuMode,
  type DeviceProfile,
  type GuestSpec,
  type LinuxGuest,
  type DiskGuest,
  type NicModel,
} from "./profile.ts";
export { Machine, NO_SHELL_MAX_MS, NO_SHELL_QUIET_MS, runIsOver, stoppedByGuest, type DownloadProgress, type MachineOptions, type MachineStage, type MachineStatus, type ShellPresence } from "./machine.ts";
// Not createV86Backend: the page imports this file, and v86 runs in the machines' Workers (import
// src/core/v86.ts where an emulator runs: the Worker, Node).
export { V86_PACKAGE_VERSION, V86_STATE_VERSION } from "./v86Version.ts";
export { DATA_DISK_BYTES, DATA_DISK_CMDLINE, DATA_DISK_SLOT, DATA_SCRIPT, afterRestoreCommand, defaultGuest, identityCmdline, mountDataCommand, promptWithHostname, tidyForSaveCommand, type GuestManifest } from "./guest.ts";
export { DEFAULT_HOSTNAME, NET_SCRIPT, assertHasNic, hostnameFor, identityCommand, identityProblems, macFor, machineIdentity, staticAddressCommand, type MachineIdentity } from "./identity.ts";
export { AGENT_PORT, GuestAgent } from "./agent.ts";
export { Sha256 } from "./sha256.ts";
export { ByteParts, openIndexedDbStore, memoryStore, isQuotaError, readRecordsInto, type KeyValueStore } from "./storage/kv.ts";
export { IMAGE_KIND_LABELS, imageDrives, sniffImage, SNIFF_BYTES, type DriveKind, type ImageKind } from "./storage/sniff.ts";
export { CHUNK_SIZE, ImageStore, ImageReader, type ImageRecord, type ImageSource, type StorageEstimate } from "./storage/images.ts";
export { DiskStore, openDiskDatabase, OverlayDisk, PAGE_SIZE, RETRY_MAX_MS, blankBase, type BlankLayout, type BlockSource, type DiskSaveState } from "./storage/disk.ts";
export { PAGE_CACHE_BYTES, PageCache } from "./storage/pageCache.ts";
export { emptyExt2, stableUuid, type Ext2Image } from "./storage/ext2.ts";
export {
  DEFAULT_MACHINE,
  DEFAULT_MACHINE_ID,
  MachineStore,
  SLOT_KINDS,
  diskIdFor,
  writableSlots,
  checkMachineImages,
  imageFitsSlot,
  machineProblems,
  imagesUsed,
  machinesUsingImage,
  missingImages,
  slotChoices,
  openMachineDisks,
  NEW_LINUX_CMDLINE,
  type BootSource,
  type DiskSource,
  type MachineRecord,
  type ImageRole,
  type ImageUse,
  type ImageUser,
  type MissingImage,
  type OpenedDisks,
  type SlotChoice,
} from "./storage/machines.ts";
export {
  FORMAT_VERSION as SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_MAGIC,
  concatParts,
  decodeSnapshot,
  openSnapshot,
  encodeSnapshot,
  readSnapshotHeader,
  type DecodedSnapshot,
  type SnapshotChunks,
  type SnapshotDisk,
  type SnapshotDiskData,
  type SnapshotCompression,
  type SnapshotHeader,
} from "./snapshot/format.ts";
export { ZSTD_LEVEL, ZSTD_MAGIC } from "./snapshot/zstd.ts";
export { FINGERPRINT_LABELS, bootWords, diskWords, fingerprintDifferences, machineFingerprint, type DiskBase, type FingerprintBoot, type FingerprintDisk, type MachineFingerprint } from "./snapshot/fingerprint.ts";
export { SnapshotStore, type SnapshotRecord, type SnapshotSource } from "./snapshot/store.ts";
export {
  LINK_HEAD_BYTES,
  checkRoom,
  downloadSnapshotLink,
  linkFetchFailed,
  linkedMachineName,
  networkAtStart,
  planSnapshotLink,
  readSnapshotLinkInfo,
  resolveSnapshotLink,
  snapshotLinkProblem,
  sourceHost,
  type LinkFetch,
  type LinkRequest,
  type LinkResponse,
  type SnapshotLink,
  type SnapshotLinkInfo,
  type SnapshotLinkPlan,
} from "./snapshot/link.ts";
export { captureSnapshot, machineDiskIdentities, restoreSnapshotDisks, type CaptureOptions } from "./snapshot/machineSnapshot.ts";
export { mayStartPrebooted, parseSetupUrl, setupQuery, shareQuery, type SetupFromUrl } from "./setupUrl.ts";
export {
  LESSON_FORMAT,
  LESSON_INDEX_FORMAT,
  describeAction,
  parseLesson,
  parseLessonIndex,
  type Lesson,
  type LessonAction,
  type LessonDevices,
  type LessonStep,
  type Parsed,
} from "./lessons/format.ts";
export { NETWORK_ACTION_TYPES, isNetworkAction, runNetworkStep, substituteAddresses, type LessonNetworkLab, type NetworkLessonAction } from "./lessons/network.ts";
export { balloonOutcome, benchmarkOutcome, commandOutcome, type StepOutcome } from "./lessons/outcome.ts";
export type { GuestMemory } from "./backend.ts";
export {
  CR0_PG,
  CR4_PAE,
  CR4_PSE,
  describeWalk,
  hex,
  nestedWalkReferences,
  pagingMode,
  walk,
  type ControlRegisters,
  type PagingMode,
  type WalkResult,
  type WalkStep,
} from "./microscope/pagewalk.ts";
export { PageTableObserver, describeShadow, walkLive, type LiveWalk, type ShadowReport } from "./microscope/live.ts";
export { PAGE_OFFSET, addressWalk, pageTableWorkload, type AddressWalkResult, type WalkTarget } from "./microscope/steps.ts";
export { describeSessionStatus, describeStatus, runDivider, type ProgressStep, type RunStart, type StatusContext, type StatusView } from "./statusText.ts";
export { CLASSIFY_BYTES, classifyFile, isSnapshotHead, v86StateRefusal, type FileClass } from "./fileKind.ts";
export { CrashWatch, REPEATED_CRASH_WINDOW_MS, machinesThatRanFine, machinesToOffer, noteRanFine, parseRanFine, type CrashVerdict, type RanFineRecord } from "./crashWatch.ts";
export { memoryAdvice, type MemoryAdvice, type MemoryAdviceInput } from "./memoryAdvice.ts";
export { MachineSession, IDLE_STATUS, type BootKept, type RunBegin, type SessionDisks, type SessionOptions, type SessionStatus, type StartOptions, type StartOutcome } from "./session/session.ts";
export { planStart, type SavedStart, type StartRequest, type StartedFrom } from "./session/request.ts";
export { choosePrebooted, eagerPrebooted, fetchPrebooted, type Prebooted, type PrebootedDescription, type PrebootedManifest, type PrebootedSource } from "./session/prebooted.ts";
export { GENERIC_PROMPT, fetchGuestManifest, guestFor, imageAsset, libraryAssetLoader } from "./session/guests.ts";
export { chooseMachine, type MachineChoice } from "./session/choose.ts";
export { notForThisEmulator, savedOnOtherGuestBuild, snapshotDifferences } from "./snapshot/compat.ts";
export { machineForSnapshot, type Match } from "./snapshot/match.ts";
export { StoreDisks } from "./session/storeDisks.ts";
export { BOOT_CACHE_LABEL, BootCache, openPageBootCaches, type BootCacheLookup } from "./session/bootCache.ts";
export { type UnpackedBoot, type UnpackedBootSource } from "./session/unpackedBoot.ts";
export { deleteMachine, type RunningMachine } from "./session/deleteMachine.ts";
export { MemoryDisks, NO_DISKS, SCRATCH_MACHINE, labSession, movableLabSession, scratchSession, startScratch, type DiskDump, type ScratchMachine } from "./session/scratch.ts";
export { defaultWarmUpRefs, type WarmUpRefs } from "./remote/warmUp.ts";
export * from "./net/index.ts";
export * from "./net/hosts/index.ts";
export * from "./migration/index.ts";
