/** Moving a running machine (issue 15): the engine, its protocol and checks, the same-page meter. */
export { PAGE_BYTES, PageHashes, applyPages, batchBytes, collectPages, isZeroPage, pageKey, type PageBatch } from "./pages.ts";
export { DEFAULT_ROUND_POLICY, nextStep, policyProblems, type RoundDecision, type RoundPolicy, type RoundRecord, type StopReason } from "./planner.ts";
export { inProcessPair, type GuestAtPause, type MigrationMethod, type MigrationPort, type SourceMessage, type SourcePort, type TargetMessage, type TargetPort } from "./protocol.ts";
export { checkRequirements, offerFromWire, refusalError, requirementChecks, type Refusal, type RequirementCheck, type Requirements, type TargetOffer, type WireOffer } from "./requirements.ts";
export { MemoryDiskLocks, type DiskLocks, type LockState } from "./diskLock.ts";
export { migrateOut, type MigrationReport, type SourceMachine, type SourceOptions } from "./source.ts";
export { migrateIn, type ArrivalReport, type TargetMachine, type TargetOptions } from "./target.ts";
export { ZERO_PAGE_KEY, samePageKeys, samePageStats, samePageStatsOfKeys, samePageWords, type SamePageStats } from "./ksm.ts";
export { channelPort, type ChannelLike, type ChannelPortOptions } from "./channelPort.ts";
export { MigrationTabs, TAB_SILENCE_MS, type LabArrival, type MoveUpdate, type OfferWant, type ReceiveOrder, type TabCard, type TabHandlers } from "./tabs.ts";
export { MOVE_CHANNEL_PREFIX, TabMover, type MoveCheck, type MoveState, type TabMoveHost } from "./tabMove.ts";
export { MIGRATION_WORKLOADS, migrationWorkload, type MigrationWorkload, type MigrationWorkloadId } from "./workloads.ts";
export { LAB_MOVES_CHANNEL, LabMover, labHardware, type LabMoveHost, type LabMoveOutcome } from "./labMove.ts";
