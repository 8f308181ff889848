/**
 * Decodes a snapshot file off the page's main thread (checksums and decompression of tens of MiB
 * take about half a second there, while the page is opening its storage and drawing itself; a
 * zstd file loads its wasm decoder here, src/core/snapshot/zstd.ts). One
 * request per worker: the page sends a copy of the file and gets the decoded snapshot back, its
 * bytes transferred. On any failure it answers `ok: false` and the page decodes the file itself,
 * so the error the user sees is the core's own. See src/ui/offThreadDecode.ts.
 */
import { decodeSnapshot } from "../core/snapshot/format.ts";

interface DecodeScope {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: Uint8Array }) => void, options: { once: true }): void;
}

const scope = globalThis as unknown as DecodeScope;

scope.addEventListener(
  "message",
  (event) => {
    decodeSnapshot(event.data).then(
      (decoded) => scope.postMessage({ ok: true, decoded }, [decoded.state.buffer as ArrayBuffer]),
      () => scope.postMessage({ ok: false }, []),
    );
  },
  { once: true },
);
