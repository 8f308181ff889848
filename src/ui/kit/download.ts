/** Hand bytes to the browser as a download (snapshots, lab history, disks without a file picker). */

/** How long the object URL outlives the click: the browser must have started reading it. */
const REVOKE_AFTER_MS = 60_000;

export function download(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}

/** A file name made of a user's name for something: letters, digits, `._-` only; `fallback` when none is left. */
export function fileStem(name: string, fallback: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || fallback;
}
