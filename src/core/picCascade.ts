/**
 * A repair for v86's pair of 8259 interrupt controllers (src/rust/cpu/pic.rs), which can lose the
 * cascade for good, and with it every interrupt of IRQ 3-15: the NIC, the serial ports, the disks.
 *
 * How it happens. The slave PIC (IRQ 8-15) reaches the CPU through the master's IRQ 2, which the
 * master latches on a rising edge. Say the NE2000 (IRQ 10, level-triggered) raises its line while
 * the guest runs with interrupts off: the master latches IRQ 2. Before the guest turns interrupts
 * back on, it writes the card's interrupt mask to 0 (Linux's 8390 driver does this at the start
 * of every transmit), and the line drops; the latch stays. When the CPU then acknowledges IRQ 2,
 * the master marks IRQ 2 in service, asks the slave for its interrupt, and the slave has none. A
 * real slave answers with its spurious vector (IRQ 15), and Linux's handler for it ends IRQ 2 at
 * the master. v86 delivers nothing, so IRQ 2 stays in service at the master forever, and the
 * master holds back every interrupt of the same or lower priority: IRQ 2-7, so the whole slave.
 * The guest goes on with only its timer: TCP retransmits into a network it no longer hears, and
 * its serial console stops answering. Machines starved of CPU (two on a busy computer, a paused
 * one) hit it within minutes of network traffic.
 *
 * The repair does what Linux would have done after the spurious IRQ 15: end IRQ 2 at the master.
 * It acts only on the state the bug leaves behind, IRQ 2 in service at the master while nothing
 * is in service at the slave, seen at the end of two emulator slices in a row (between a
 * handler's end-of-interrupt to the slave and the one to the master the state is the same, but
 * only for two instructions).
 */

/** Byte offsets in v86's 13-byte Pic0 record (the layout its saved state also uses). */
const PIC_MASK = 0; // enabled IRQs (v86 stores the inverse of the guest's mask)
const PIC_ISR = 2;
const PIC_IRR = 3;
const PIC_AUTO_EOI = 9;
const PIC_IRQ_VALUE = 11;
export const PIC_RECORD_BYTES = 13;

const CASCADE = 1 << 2;

/** The two controllers' records, read afresh at each check (the Wasm memory can grow). */
export interface PicRecords {
  readonly master: Uint8Array;
  readonly slave: Uint8Array;
}

export class PicCascadeRepair {
  private suspect = false;
  private repairCount = 0;

  constructor(private readonly records: () => PicRecords | undefined) {}

  /** Times the cascade was found stuck and ended. */
  get repairs(): number {
    return this.repairCount;
  }

  /** Call at the end of each emulator slice. */
  check(): void {
    const records = this.records();
    if (records === undefined) return;
    const { master, slave } = records;
    const stuck = ((master[PIC_ISR] ?? 0) & CASCADE) !== 0 && slave[PIC_ISR] === 0 && master[PIC_AUTO_EOI] === 0;
    if (!stuck) {
      this.suspect = false;
      return;
    }
    if (!this.suspect) {
      this.suspect = true;
      return;
    }
    this.suspect = false;
    this.repairCount++;
    master[PIC_ISR] = (master[PIC_ISR] ?? 0) & ~CASCADE;
    // A slave request that came in meanwhile was held back by the stuck IRQ 2: latch it again.
    if (((slave[PIC_IRR] ?? 0) & (slave[PIC_MASK] ?? 0)) !== 0) {
      master[PIC_IRR] = (master[PIC_IRR] ?? 0) | CASCADE;
      master[PIC_IRQ_VALUE] = (master[PIC_IRQ_VALUE] ?? 0) | CASCADE;
    }
  }
}
