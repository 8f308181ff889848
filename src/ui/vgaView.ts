/**
 * The VGA view's controls (issue 16): fit to width (the default: a 1024×768 screen is scaled to
 * the room it has, never scrolled), 1:1 (real pixels, scrolling when larger) and fullscreen.
 * v86 draws into the box's first <div> (text modes) and <canvas> (graphics); the controls are a
 * toolbar of buttons in the same box, so fullscreen keeps them.
 */
import { browserPreferences } from "./comfort/preferences.ts";
import { keepFocusOnClick } from "./kit/dom.ts";

export type VgaScale = "fit" | "native";
const PREFERENCE = "virtlab.vgaScale";

export class VgaView {
  private scale: VgaScale;
  private readonly text: HTMLElement | null;
  private readonly fullscreenButton: HTMLButtonElement | null;

  constructor(private readonly box: HTMLElement) {
    this.scale = browserPreferences.get(PREFERENCE) === "native" ? "native" : "fit";
    this.text = box.querySelector<HTMLElement>(".vga-text");
    this.fullscreenButton = box.querySelector<HTMLButtonElement>("[data-vga-fullscreen]");
    for (const button of box.querySelectorAll<HTMLButtonElement>("[data-vga-scale]")) {
      button.addEventListener("click", () => this.setScale(button.dataset["vgaScale"] === "native" ? "native" : "fit"));
    }
    for (const button of box.querySelectorAll<HTMLButtonElement>(".vga-controls button")) button.addEventListener("mousedown", keepFocusOnClick);
    this.fullscreenButton?.addEventListener("click", () => void this.toggleFullscreen());
    document.addEventListener("fullscreenchange", () => this.render());
    // The box changes size with the page, the text screen with the guest's video mode.
    const observer = new ResizeObserver(() => this.fitText());
    observer.observe(box);
    if (this.text !== null) observer.observe(this.text);
    this.render();
  }

  setScale(scale: VgaScale): void {
    this.scale = scale;
    browserPreferences.set(PREFERENCE, scale);
    this.render();
  }

  private async toggleFullscreen(): Promise<void> {
    if (document.fullscreenElement === this.box) await document.exitFullscreen();
    else await this.box.requestFullscreen();
  }

  private render(): void {
    this.box.dataset["scale"] = this.scale;
    for (const button of this.box.querySelectorAll<HTMLButtonElement>("[data-vga-scale]")) {
      button.setAttribute("aria-pressed", String(button.dataset["vgaScale"] === this.scale));
    }
    if (this.fullscreenButton !== null) {
      this.fullscreenButton.textContent = document.fullscreenElement === this.box ? "Exit fullscreen" : "Fullscreen";
      this.fullscreenButton.disabled = !document.fullscreenEnabled;
    }
    this.fitText();
  }

  /** A text mode is HTML text: in fit mode it is zoomed to the box's width (and height when fullscreen). */
  private fitText(): void {
    const text = this.text;
    if (text === null) return;
    text.style.zoom = "";
    if (this.scale !== "fit" || text.offsetParent === null) return;
    const width = text.scrollWidth;
    const height = text.scrollHeight;
    const style = getComputedStyle(this.box);
    const roomX = this.box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const toolbar = this.box.querySelector<HTMLElement>(".vga-controls")?.offsetHeight ?? 0;
    const roomY = this.box.clientHeight - toolbar;
    if (width <= 0 || roomX <= 0) return;
    const zoom = document.fullscreenElement === this.box && height > 0 ? Math.min(roomX / width, roomY / height) : roomX / width;
    // A hair below the exact ratio: rounding must never bring a scroll bar back.
    text.style.zoom = String(Math.floor(zoom * 1000) / 1000);
  }
}
