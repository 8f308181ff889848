import { describe, expect, it } from "vitest";
import { decodeAsset, fetchingLoader, verifyAsset } from "./assets.ts";
import { sha256Hex, type HostFetchInit, type HostResponse } from "./host.ts";
import { gzip } from "./snapshot/compress.ts";

/** A response whose body gives `chunks`, then fails when `breaks` (as a cut connection does). */
function response(chunks: Uint8Array[], breaks: boolean): HostResponse {
  let i = 0;
  return {
    ok: true,
    status: 200,
    statusText: "OK",
    headers: { get: () => null },
    body: {
      getReader: () => ({
        read: async (): Promise<{ done: boolean; value?: Uint8Array }> => {
          const value = chunks[i++];
          if (value !== undefined) return { done: false, value };
          if (breaks) throw new TypeError("network error");
          return { done: true };
        },
      }),
    },
    arrayBuffer: () => Promise.reject(new Error("read through the body")),
  };
}

describe("downloading a machine's file", () => {
  const ref = { name: "bzImage", url: "guest/bzImage", size: 6 };
  const part = Uint8Array.of(1, 2, 3);
  const whole = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5, 6)];

  it("a download that breaks off midway is tried once more, past the HTTP cache", async () => {
    const asked: (HostFetchInit | undefined)[] = [];
    const loader = fetchingLoader(async (_, init) => {
      asked.push(init);
      return asked.length === 1 ? response([part], true) : response(whole, false);
    });
    const progress: number[] = [];
    const pieces: [number[], number][] = [];
    const buffer = await loader.load(
      ref,
      (loaded) => progress.push(loaded),
      (chunk, offset) => pieces.push([[...chunk], offset]),
    );
    expect([...new Uint8Array(buffer)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(asked).toEqual([undefined, { cache: "no-store" }]);
    // The bar starts again with the second try, and so do the pieces (at offset 0).
    expect(progress).toEqual([3, 3, 6]);
    expect(pieces).toEqual([
      [[1, 2, 3], 0],
      [[1, 2, 3], 0],
      [[4, 5, 6], 3],
    ]);
  });

  it("breaking off twice is the named error, with the cause", async () => {
    const loader = fetchingLoader(async () => response([part], true));
    await expect(loader.load(ref, () => undefined)).rejects.toMatchObject({ code: "asset-load-failed", message: "The download of bzImage broke off.", cause: new TypeError("network error"), details: { subject: "bzImage" } });
  });

  it("a server's refusal is not tried again", async () => {
    let calls = 0;
    const loader = fetchingLoader(async () => {
      calls++;
      return { ...response([], false), ok: false, status: 404, statusText: "Not Found" };
    });
    await expect(loader.load(ref, () => undefined)).rejects.toMatchObject({ message: "Could not download bzImage: the server answered 404 Not Found." });
    expect(calls).toBe(1);
  });
});

describe("a download's bytes", () => {
  const pieces = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5), Uint8Array.of(6, 7, 8, 9)];
  const load = async (size: number | undefined, contentLength: string | null = null): Promise<{ bytes: number[]; offsets: number[]; progress: (number | undefined)[][] }> => {
    const offsets: number[] = [];
    const progress: (number | undefined)[][] = [];
    const loader = fetchingLoader(async () => ({ ...response(pieces, false), headers: { get: (name: string) => (name === "content-length" ? contentLength : null) } }));
    const buffer = await loader.load({ name: "f", url: "f", ...(size === undefined ? {} : { size }) }, (loaded, total) => progress.push([loaded, total]), (_, offset) => offsets.push(offset));
    return { bytes: [...new Uint8Array(buffer)], offsets, progress };
  };
  const all = [1, 2, 3, 4, 5, 6, 7, 8, 9];

  it("are the body's, in order, whether the size is declared, said by the server, shorter or longer than the body, or unknown", async () => {
    for (const [size, header] of [[9, null], [undefined, "9"], [20, null], [4, null], [undefined, null]] as const) {
      const { bytes, offsets, progress } = await load(size, header);
      expect(bytes).toEqual(all);
      expect(offsets).toEqual([0, 3, 5]);
      expect(progress.map(([loaded]) => loaded)).toEqual([3, 5, 9]);
    }
  });
});

describe("a file served compressed (the emulator's wasm)", () => {
  const wasm = Uint8Array.from({ length: 50_000 }, (_, i) => (i * 7) & 0xff);
  const served = async (bytes: Uint8Array): Promise<ArrayBuffer> => (await gzip(bytes)).slice().buffer;

  it("is unpacked to the bytes the machine needs, and checked as unpacked bytes", async () => {
    const ref = { name: "v86.wasm", url: "v86/v86.wasm.gz", encoding: "gzip" as const, size: wasm.length, sha256: await sha256Hex(wasm) };
    const bytes = await decodeAsset(ref, await served(wasm));
    expect(new Uint8Array(bytes)).toEqual(wasm);
    await expect(verifyAsset(ref, bytes)).resolves.toBeUndefined();
  });

  it("is passed through when it is not, or when the server's Content-Encoding had the browser unpack it", async () => {
    const plain = wasm.slice().buffer;
    expect(await decodeAsset({ name: "bios.bin", url: "guest/bios.bin" }, plain)).toBe(plain);
    expect(await decodeAsset({ name: "v86.wasm", url: "v86/v86.wasm.gz", encoding: "gzip" }, plain)).toBe(plain);
  });

  it("that does not unpack is refused, naming the file", async () => {
    const ref = { name: "v86.wasm", url: "v86/v86.wasm.gz", encoding: "gzip" as const };
    const damaged = new Uint8Array(await served(wasm));
    damaged.fill(0xff, 10, 40);
    await expect(decodeAsset(ref, damaged.buffer)).rejects.toMatchObject({ code: "asset-load-failed", message: "v86.wasm is damaged: it does not unpack.", details: { subject: "v86.wasm" } });
  });

  it("that unpacks to more than its declared size is refused before it is all unpacked", async () => {
    const ref = { name: "v86.wasm", url: "v86/v86.wasm.gz", encoding: "gzip" as const, size: 1000 };
    await expect(decodeAsset(ref, await served(wasm))).rejects.toMatchObject({ code: "asset-load-failed", message: "v86.wasm is damaged: it unpacks to more than 1000 bytes.", details: { subject: "v86.wasm" } });
  });
});
