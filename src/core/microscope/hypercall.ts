/**
 * virtlab's hypercall device: four 32-bit registers on an MMIO page above the guest's RAM, which
 * the guest reaches with busybox `devmem`. Write the arguments, then the call number (that write
 * is the call); read the reply. The device logic is here, pure; v86.ts maps the page.
 */

/**
 * Physical address of the page: free in v86 (no device, above any RAM). Not 0xFEB00000: v86 maps
 * the VGA option ROM there, and a device on top of it left SeaBIOS without a VGA BIOS.
 */
export const HYPERCALL_BASE = 0xfea00000;
export const HYPERCALL_REGISTERS = { arg0: 0x0, arg1: 0x4, nr: 0x8, reply: 0xc } as const;

/** What the calls answer with. */
export const HYPERCALLS: readonly { readonly nr: number; readonly name: string; readonly what: string }[] = [
  { nr: 0, name: "ping", what: "answers 0x564c4142 (\"VLAB\"): the hypervisor is there" },
  { nr: 1, name: "add", what: "answers arg0 + arg1 (32 bits)" },
  { nr: 2, name: "instructions", what: "answers the emulator's instruction counter (low 32 bits)" },
];
export const HYPERCALL_MAGIC = 0x564c4142;
/** Reply to a number no call has. */
export const HYPERCALL_UNKNOWN = 0xffffffff;

export interface HypercallHost {
  instructionCounter(): number;
}

/** The device's registers and behaviour; `onCall` hears every completed call. */
export class HypercallDevice {
  private arg0 = 0;
  private arg1 = 0;
  private reply = 0;

  constructor(
    private readonly host: HypercallHost,
    private readonly onCall: (record: { nr: number; args: [number, number]; reply: number }) => void,
  ) {}

  read32(offset: number): number {
    switch (offset & 0xfff) {
      case HYPERCALL_REGISTERS.arg0:
        return this.arg0;
      case HYPERCALL_REGISTERS.arg1:
        return this.arg1;
      case HYPERCALL_REGISTERS.reply:
        return this.reply;
      default:
        return 0;
    }
  }

  write32(offset: number, value: number): void {
    const v = value >>> 0;
    switch (offset & 0xfff) {
      case HYPERCALL_REGISTERS.arg0:
        this.arg0 = v;
        return;
      case HYPERCALL_REGISTERS.arg1:
        this.arg1 = v;
        return;
      case HYPERCALL_REGISTERS.nr:
        this.reply = this.call(v);
        this.onCall({ nr: v, args: [this.arg0, this.arg1], reply: this.reply });
        return;
      default:
        return;
    }
  }

  private call(nr: number): number {
    switch (nr) {
      case 0:
        return HYPERCALL_MAGIC;
      case 1:
        return (this.arg0 + this.arg1) >>> 0;
      case 2:
        return this.host.instructionCounter() >>> 0;
      default:
        return HYPERCALL_UNKNOWN;
    }
  }
}
