/** Test helpers (not exported from the package). */

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A prediction and truth of `n` pixels with exactly the given counts (tn fills the rest), shuffled. */
export function masksWithCounts(tp: number, fp: number, fn: number, tn: number, next: () => number): [Uint8Array, Uint8Array] {
  const n = tp + fp + fn + tn
  const kinds = new Uint8Array(n)
  kinds.fill(1, 0, tp)
  kinds.fill(2, tp, tp + fp)
  kinds.fill(3, tp + fp, tp + fp + fn)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    const swap = kinds[i] as number
    kinds[i] = kinds[j] as number
    kinds[j] = swap
  }
  const pred = new Uint8Array(n)
  const truth = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const k = kinds[i]
    pred[i] = k === 1 || k === 2 ? 1 : 0
    truth[i] = k === 1 || k === 3 ? 1 : 0
  }
  return [pred, truth]
}
