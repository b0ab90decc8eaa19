/** Test helpers (not exported from the package). */

import { expect } from 'vitest'
import { MetricsError } from './errors'

/** Runs `run`, expects it to throw a {@link MetricsError}, and returns that error for the test to inspect. */
export function failure(run: () => unknown): MetricsError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(MetricsError)
    return error as MetricsError
  }
  throw new Error('expected a MetricsError, nothing was thrown')
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export { seededRandom as random } from '@unet/testing'

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
