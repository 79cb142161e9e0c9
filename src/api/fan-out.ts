/**
 * Runs `fn` over `items` with at most `limit` calls in flight, results in item order. Once `stop()`
 * answers true no further item starts; those items' results are undefined. Bulk operations use it
 * so a thousand jobs cost a bounded number of concurrent Temporal calls.
 */
export async function fanOut<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  stop: () => boolean = () => false,
): Promise<(R | undefined)[]> {
  const results: (R | undefined)[] = new Array<R | undefined>(items.length).fill(undefined);
  let next = 0;
  const lane = async () => {
    while (next < items.length && !stop()) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(limit, items.length)) }, lane));
  return results;
}
