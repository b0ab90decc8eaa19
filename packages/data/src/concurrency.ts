/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping order.
 *
 * @param items - the inputs
 * @param limit - calls in flight at once
 * @param fn - the async work per item
 * @returns the results, in the order of `items`
 * @example
 * ```ts
 * const decoded = await mapLimit(files, 4, (f) => decodeImage(f))
 * ```
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T, i)
    }
  })
  await Promise.all(workers)
  return out
}
