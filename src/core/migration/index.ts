/** Moving a running machine (issue 15): the engine, its protocol and checks, the same-page meter. */
export { PAGE_BYTES, PageHashes, applyPages, batchBytes, collectPages, isZeroPage, pageKey, type PageBatch } from "./pages.ts";
export { DEFAULT_ROUND_POLICY, nextStep, policyProblems, type RoundDecision, type RoundPolicy, type RoundRecord, type StopReason } from "./planner.ts";
export { inProcessPair, type GuestAtPause, type MigrationMethod, type MigrationPort, type SourceMessage, type SourcePort, type TargetMessage, type TargetPort } from "./protocol.ts";
export { checkRequirements, refusalError, type Refusal, type Requirements, type TargetOffer } from "./requirements.ts";
export { MemoryDiskLocks, type DiskLocks, type LockState } from "./diskLock.ts";
export { migrateOut, type MigrationReport, type SourceMachine, type SourceOptions } from "./source.ts";
export { migrateIn, type ArrivalReport, type TargetMachine, type TargetOptions } from "./target.ts";
export { samePageStats, samePageWords, type SamePageStats } from "./ksm.ts";
export { channelPort, type ChannelLike, type ChannelPortOptions } from "./channelPort.ts";
