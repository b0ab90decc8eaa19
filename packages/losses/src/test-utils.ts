// Helpers shared by this package's tests (not exported from the package).
import * as tf from '@tensorflow/tfjs-core'
// tfjs-core registers gradients only through this module (tfjs-layers imports it too)
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import { afterEach, beforeEach, expect } from 'vitest'

/** Asserts each test leaves tf.memory().numTensors where it found it. */
export function expectNoTensorLeaks(): void {
  let before = 0
  beforeEach(() => {
    before = tf.memory().numTensors
  })
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(before)
  })
}

/** Evaluates a loss on plain arrays, returning a number (no tensor left behind). */
export function lossValue(
  loss: (y: tf.Tensor, p: tf.Tensor) => tf.Tensor,
  y: number[],
  p: number[],
  shape: number[] = [1, y.length],
): number {
  return tf.tidy(() => loss(tf.tensor(y, shape), tf.tensor(p, shape)).dataSync()[0]!)
}

/** A deterministic pseudo-random stream (mulberry32), so test inputs are the same on every run. */
export { seededRandom } from '@unet/testing'

/** Shuffles a copy of `values` with `random`. */
export function shuffled<T>(values: readonly T[], random: () => number): T[] {
  const out = [...values]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
