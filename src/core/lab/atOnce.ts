/**
 * Tasks run at most `limit` at once, started in the order given: the device lab's machines, each
 * in a Worker of its own. The first failure stops the rest: no further task starts, `onFailure`
 * runs once with it (to end the running ones), and once every started task has ended, that first
 * failure is what the whole rejects with, not what the ended tasks threw after it.
 */
export async function eachAtOnce<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
  onFailure: (error: unknown) => void = () => undefined,
): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`at least one task at once, not ${limit}`);
  let next = 0;
  let failure: { readonly error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await task(items[index] as T, index);
      } catch (error) {
        if (failure !== undefined) continue;
        failure = { error };
        onFailure(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure.error;
}
