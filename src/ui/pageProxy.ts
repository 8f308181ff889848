/** The test proxy (`window.virtlab`, see testProxy.ts) for this page, installed only under automation. */
import type { BootKept, MachineSession } from "../core/index.ts";
import { installTestProxy as installOn, type VirtlabTestProxy } from "./testProxy.ts";

export interface ProxySources {
  readonly session: MachineSession;
  machineId(): string;
  flushDisks(): Promise<void>;
  pageErrors(): readonly string[];
  terminalBuffer(flushFirst?: boolean): string[];
  terminalSize: VirtlabTestProxy["terminalSize"];
  runOnSecondMachine: VirtlabTestProxy["runOnSecondMachine"];
}

export function installTestProxy(sources: ProxySources): void {
  const { session } = sources;
  let bootKept: BootKept | undefined;
  session.onBootKept((outcome) => (bootKept = outcome));
  const proxy: VirtlabTestProxy = {
    status: () => session.machine?.status ?? session.status.machine,
    shellReady: () => session.machine?.shellReady ?? false,
    recentOutput: () => session.machine?.recentOutput() ?? "",
    run: (command, timeoutMs) => {
      const machine = session.machine;
      if (machine === undefined) return Promise.reject(new Error("no machine"));
      return machine.run(command, timeoutMs === undefined ? {} : { timeoutMs });
    },
    pageErrors: () => sources.pageErrors(),
    textScreen: () => session.machine?.textScreen() ?? [],
    machineId: () => sources.machineId(),
    flushDisks: () => sources.flushDisks(),
    startedFrom: () => session.startedFrom,
    bootKept: () => bootKept,
    terminalBuffer: (flushFirst) => sources.terminalBuffer(flushFirst),
    terminalSize: () => sources.terminalSize(),
    runOnSecondMachine: (command) => sources.runOnSecondMachine(command),
  };
  // Only a browser driven by automation (Playwright) gets it; a user's page has no such handle.
  installOn(proxy, window, navigator);
}
