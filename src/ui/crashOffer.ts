/**
 * After a crash (issue 16): a reset that crashes again within seconds is said to be one, and the
 * machines that last ran fine are offered instead of another reset. The decision is the core's
 * CrashWatch; this keeps its "last ran fine" record in localStorage and renders the offer.
 */
import { CrashWatch, machinesToOffer, noteRanFine, parseRanFine, type MachineRecord, type RanFineRecord } from "../core/index.ts";
import { browserPreferences } from "./comfort/preferences.ts";
import { repeatedCrashText } from "./messages.ts";
import { actionButton, h } from "./kit/dom.ts";
import { pageClock } from "./pageClock.ts";

const RAN_FINE_KEY = "virtlab.ranFine";

export interface CrashOfferHost {
  machines(): Promise<readonly MachineRecord[]>;
  boot(record: MachineRecord): Promise<void>;
  report(error: unknown): void;
}

export class CrashOffer {
  private readonly watch = new CrashWatch(pageClock());
  private ranFine: RanFineRecord = parseRanFine(browserPreferences.get(RAN_FINE_KEY));

  constructor(
    private readonly box: HTMLElement,
    private readonly errorBox: HTMLElement,
    private readonly host: CrashOfferHost,
  ) {
    this.watch.onRanFine((id) => {
      this.ranFine = noteRanFine(this.ranFine, id, Date.now());
      browserPreferences.set(RAN_FINE_KEY, JSON.stringify(this.ranFine));
    });
  }

  /** A machine starts (first start, reset after a crash, another machine). */
  started(id: string): void {
    this.watch.started(id);
    this.hide();
  }

  shellReady(id: string): void {
    this.watch.shellReady(id);
  }

  /** The run of `id` crashed: a repeated crash gets the offer. */
  async crashed(id: string): Promise<void> {
    const verdict = this.watch.crashed(id);
    if (!verdict.repeated) return;
    let machines: readonly MachineRecord[] = [];
    try {
      machines = await this.host.machines();
    } catch (error) {
      this.host.report(error);
    }
    const offered = machinesToOffer(this.ranFine, machines, id);
    const text = repeatedCrashText(verdict.afterMs / 1000, offered.length > 0);
    const buttons = offered.map((m) => actionButton(`Boot ${m.name}`, "crash-offer-boot", () => this.host.boot(m), this.host.report, this.ranFine[m.id] === undefined ? undefined : `Last ran fine ${new Date(this.ranFine[m.id] ?? 0).toLocaleString()}`));
    this.box.replaceChildren(h("p", {}, text), ...(buttons.length === 0 ? [] : [h("p", { className: "row-actions" }, ...buttons)]));
    this.box.hidden = false;
    // The error's own hint says to reset: not true for this guest.
    this.errorBox.dataset["repeatedCrash"] = "true";
  }

  private hide(): void {
    this.box.hidden = true;
    this.box.replaceChildren();
    delete this.errorBox.dataset["repeatedCrash"];
  }

  dispose(): void {
    this.watch.dispose();
  }
}
