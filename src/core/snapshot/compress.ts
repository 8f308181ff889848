/** gzip through the host's CompressionStream (browsers and Node 18+ have it). */
import { concatBytes } from "../bytes.ts";
import { AppError } from "../errors.ts";
import { host } from "../host.ts";

/** Whether `head` starts as a gzip stream does (its magic number, 1f 8b). */
export function isGzip(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b;
}

export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  return pump(new host.CompressionStream("gzip"), data, Number.POSITIVE_INFINITY);
}

/**
 * gunzip, refusing to produce more than `limit` bytes: a hostile file cannot make the tab
 * allocate more than its header declared.
 */
export async function gunzip(data: Uint8Array, limit: number): Promise<Uint8Array> {
  return pump(new host.DecompressionStream("gzip"), data, limit);
}

async function pump(stream: InstanceType<typeof host.CompressionStream>, data: Uint8Array, limit: number): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  const writing = writer.write(data).then(() => writer.close());
  writing.catch(() => undefined);
  const reader = stream.readable.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value === undefined) continue;
      total += value.length;
      if (total > limit) {
        await reader.cancel();
        throw new AppError("bad-snapshot", "The snapshot holds more data than its header declares.", { details: { limit } });
      }
      parts.push(value);
    }
    await writing;
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError("bad-snapshot", "The snapshot's data is damaged (it does not decompress).", { cause: error });
  }
  return concatBytes(parts);
}
