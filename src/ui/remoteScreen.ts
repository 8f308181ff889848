/**
 * Draws a VGA screen rendered in a machine's Worker into the page's screen box: a text mode as
 * lines in `.vga-text`, a graphics mode as pixels on `canvas.vga-canvas` (the elements VgaView
 * scales). Frames are pulled, one at a time and at most FRAMES_PER_SECOND, only while the box is
 * shown: a hidden screen costs the Worker nothing. While the screen is shown, keys typed outside
 * text fields (the terminal types through its own textarea) go to the guest's PS/2 keyboard as
 * core's ScreenKeyboard sends them (as typed on a US keyboard, or by position: the toolbar's
 * choice, remembered), and the keys the guest holds are let go when the window loses the keys.
 */
import type { RemoteScreen } from "../core/remote/client.ts";
import { SCREEN_KEY_MODES, ScreenKeyboard, type ScreenKeyMode } from "../core/screenKeyboard.ts";
import { browserPreferences } from "./comfort/preferences.ts";
import { VGA_INPUT_ATTRIBUTE, VgaTouchKeys } from "./vgaTouchKeys.ts";

const FRAMES_PER_SECOND = 10;
const KEY_MODE_PREFERENCE = "virtlab.vgaKeys";

/** Keys go to the screen unless the user types in a field or is on a button (the terminal types through its own textarea). */
function typesToScreen(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return true;
  // The field a touch screen's keyboard types in (vgaTouchKeys.ts) is the screen's.
  if (target.hasAttribute(VGA_INPUT_ATTRIBUTE)) return true;
  return !(target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT", "BUTTON"].includes(target.tagName));
}

export class RemoteScreenView {
  private readonly text: HTMLElement | null;
  private readonly canvas: HTMLCanvasElement | null;
  private readonly keysHint: HTMLElement | null;
  private readonly listener: { dispose(): void };
  private readonly touchKeys: VgaTouchKeys | undefined;
  private readonly keyboard: ScreenKeyboard;
  private readonly keyMode: HTMLSelectElement | null;
  private timer: number | undefined;
  private disposed = false;
  private shownText = "";

  private readonly onKey = (event: KeyboardEvent): void => {
    if (this.keys === undefined || this.box.hidden || this.box.offsetParent === null && document.fullscreenElement !== this.box) return;
    if (!typesToScreen(event.target)) return;
    const type = event.type === "keydown" ? "keydown" : "keyup";
    const codes = this.keyboard.translate({ type, code: event.code, key: event.key, shiftKey: event.shiftKey, ctrlKey: event.ctrlKey, altKey: event.altKey, altGraph: event.getModifierState("AltGraph") });
    if (codes === undefined) return;
    event.preventDefault();
    if (codes.length > 0) this.keys(codes);
  };

  /** The page lost the keys (the window left with Alt+Tab): the guest lets go of what it held. */
  private readonly releaseKeys = (): void => {
    const codes = this.keyboard.releaseAll();
    if (codes.length > 0) this.keys?.(codes);
  };

  private readonly changeKeyMode = (): void => {
    if (this.keyMode === null) return;
    this.releaseKeys();
    this.keyboard.mode = this.keyMode.value === "position" ? "position" : "typed";
    browserPreferences.set(KEY_MODE_PREFERENCE, this.keyboard.mode);
    // Keys typed next go to the screen, not to the list.
    this.keyMode.blur();
  };

  /** Where keys go now, said in the screen's toolbar. */
  private readonly showWhereKeysGo = (): void => {
    if (this.keysHint === null) return;
    const screen = typesToScreen(document.activeElement);
    this.keysHint.textContent = screen ? "Keys go to the machine's keyboard." : "Keys go to the terminal: click the screen to type to the machine's keyboard.";
    this.keysHint.dataset["target"] = screen ? "screen" : "terminal";
  };

  constructor(
    private readonly box: HTMLElement,
    private readonly screen: RemoteScreen,
    private readonly keys: ((codes: readonly number[]) => void) | undefined,
  ) {
    this.text = box.querySelector<HTMLElement>(".vga-text");
    this.canvas = box.querySelector<HTMLCanvasElement>("canvas.vga-canvas");
    this.keysHint = keys === undefined ? null : box.querySelector<HTMLElement>(".vga-keys");
    const toolbar = box.querySelector<HTMLElement>(".vga-controls");
    this.touchKeys = keys === undefined || toolbar === null ? undefined : new VgaTouchKeys(toolbar, keys);
    const saved = browserPreferences.get(KEY_MODE_PREFERENCE);
    this.keyboard = new ScreenKeyboard(SCREEN_KEY_MODES.find((mode): mode is ScreenKeyMode => mode === saved) ?? "typed");
    this.keyMode = box.querySelector<HTMLSelectElement>("[data-vga-key-mode]");
    if (this.keyMode !== null) {
      this.keyMode.value = this.keyboard.mode;
      this.keyMode.closest("label")!.hidden = keys === undefined;
      this.keyMode.addEventListener("change", this.changeKeyMode);
    }
    window.addEventListener("blur", this.releaseKeys);
    this.listener = screen.onChange(() => this.drawText());
    document.addEventListener("keydown", this.onKey);
    document.addEventListener("keyup", this.onKey);
    document.addEventListener("focusin", this.showWhereKeysGo);
    document.addEventListener("focusout", this.showWhereKeysGo);
    this.showWhereKeysGo();
    this.drawText();
    this.schedule(0);
  }

  private graphics(): boolean {
    return this.screen.mode()?.kind === "graphics";
  }

  private drawText(): void {
    if (this.disposed || this.text === null || this.canvas === null) return;
    const graphics = this.graphics();
    this.text.style.display = graphics ? "none" : "block";
    this.canvas.style.display = graphics ? "block" : "none";
    if (graphics) return;
    const lines = this.screen.text().join("\n");
    if (lines === this.shownText) return;
    this.shownText = lines;
    this.text.textContent = lines;
  }

  private schedule(ms: number): void {
    if (this.disposed) return;
    this.timer = window.setTimeout(() => void this.pull(), ms);
  }

  private async pull(): Promise<void> {
    const visible = !this.box.hidden && this.box.offsetParent !== null;
    if (visible && this.graphics() && this.canvas !== null) {
      const canvas = this.canvas;
      const resized = canvas.dataset["mode"] !== JSON.stringify(this.screen.mode());
      try {
        const frame = await this.screen.frame(resized);
        if (frame !== undefined && !this.disposed) {
          if (canvas.width !== frame.width || canvas.height !== frame.height) {
            canvas.width = frame.width;
            canvas.height = frame.height;
          }
          canvas.dataset["mode"] = JSON.stringify(this.screen.mode());
          const image = new ImageData(new Uint8ClampedArray(frame.rgba.buffer as ArrayBuffer, frame.rgba.byteOffset, frame.rgba.byteLength), frame.width, frame.height);
          canvas.getContext("2d")?.putImageData(image, 0, 0);
        }
      } catch {
        // The machine stopped meanwhile: nothing to draw.
      }
    }
    this.schedule(1000 / FRAMES_PER_SECOND);
  }

  dispose(): void {
    this.disposed = true;
    this.listener.dispose();
    this.touchKeys?.dispose();
    this.keyMode?.removeEventListener("change", this.changeKeyMode);
    window.removeEventListener("blur", this.releaseKeys);
    document.removeEventListener("keydown", this.onKey);
    document.removeEventListener("keyup", this.onKey);
    document.removeEventListener("focusin", this.showWhereKeysGo);
    document.removeEventListener("focusout", this.showWhereKeysGo);
    if (this.keysHint !== null) this.keysHint.textContent = "";
    window.clearTimeout(this.timer);
  }
}
