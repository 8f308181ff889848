import { describe, expect, it } from "vitest";
import { fetchingLoader } from "./assets.ts";
import type { HostFetchInit, HostResponse } from "./host.ts";

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
    const buffer = await loader.load(ref, (loaded) => progress.push(loaded));
    expect([...new Uint8Array(buffer)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(asked).toEqual([undefined, { cache: "no-store" }]);
    // The bar starts again with the second try.
    expect(progress).toEqual([3, 3, 6]);
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
