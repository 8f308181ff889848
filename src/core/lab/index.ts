/** The device lab: device pairs as data, the benchmark runner, result shaping and history. */
export * from "./devices.ts";
export { LabRunner, MAX_EXTRA_WARMUPS, describeProfile, type LabEnvironment, type LabMachine, type LabProgress, type LabRunOptions, type StartedLabMachine } from "./runner.ts";
export * from "./results.ts";
export { LabHistory, LAB_DATABASE, LAB_STORE } from "./history.ts";
export * from "./hardware.ts";
