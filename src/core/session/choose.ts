/**
 * Which saved machine a page starts: the one a link names, else the one used last, else the
 * built-in one. A storage read that fails says so (a typed error) instead of quietly starting
 * the default machine in place of the user's.
 */
import { AppError } from "../errors.ts";
import { DEFAULT_MACHINE, type MachineRecord, type MachineStore } from "../storage/machines.ts";

export interface MachineChoice {
  readonly record: MachineRecord;
  /** The link named a machine this browser does not have. */
  readonly notice?: string;
}

export async function chooseMachine(machines: Pick<MachineStore, "get">, wanted: { readonly fromLink?: string | undefined; readonly lastUsed?: string | undefined }): Promise<MachineChoice> {
  const id = wanted.fromLink ?? wanted.lastUsed;
  const read = async (key: string): Promise<MachineRecord | undefined> => {
    try {
      return await machines.get(key);
    } catch (error) {
      throw new AppError("storage-failed", `The saved machine "${key}" could not be read from this browser's storage, so nothing was started in its place.`, { cause: error, details: { subject: key } });
    }
  };
  const record = id === undefined ? undefined : await read(id);
  if (record !== undefined) return { record };
  // The built-in machine as saved (its disk size may have been edited).
  const builtIn = (await read(DEFAULT_MACHINE.id)) ?? DEFAULT_MACHINE;
  if (wanted.fromLink !== undefined) {
    return { record: builtIn, notice: `This browser has no saved machine "${wanted.fromLink}" (machines live in the browser that made them); the default machine starts instead.` };
  }
  return { record: builtIn };
}
