import * as tf from '@tensorflow/tfjs-core'
import { createUnet, outputsByName } from '@unet/layers'
import { initBackend } from '@unet/runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { deepSupervisionLoss } from './deep-supervision'
import { expectNoTensorLeaks, seededRandom } from './test-utils'

beforeAll(async () => {
  // wasm with @unet/runtime's training kernels, as the trainer runs
  expect((await initBackend({ backend: 'wasm' })).backend).toBe('wasm')
})
expectNoTensorLeaks()

/** Grey 16×16 images of noise; in a fraction of them a bright disc, which is the mask. Deterministic per seed. */
function blobs(count: number, seed: number): { images: tf.Tensor4D; masks: tf.Tensor4D; empty: number } {
  const random = seededRandom(seed)
  const size = 16
  const images = new Float32Array(count * size * size)
  const maskValues = new Float32Array(count * size * size)
  let empty = 0
  for (let n = 0; n < count; n++) {
    const withBlob = random() >= 0.4
    if (!withBlob) empty++
    const [cy, cx, r] = [3 + random() * 10, 3 + random() * 10, 2 + random() * 2]
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = (n * size + y) * size + x
        const inside = withBlob && (y - cy) ** 2 + (x - cx) ** 2 <= r * r
        images[i] = inside ? 0.8 + 0.2 * random() : 0.5 * random()
        maskValues[i] = inside ? 1 : 0
      }
    }
  }
  return { images: tf.tensor4d(images, [count, size, size, 1]), masks: tf.tensor4d(maskValues, [count, size, size, 1]), empty }
}

describe('deep supervision trains', () => {
  it('the "has mask" classifier learns empty vs not on images with and without a bright blob (seeded, wasm)', () => {
    const model = createUnet({ depth: 2, filters: 4, inputShape: [16, 16, 1], deepSupervision: true, seed: 11, batchNormMomentum: 0.8 })
    const optimizer = tf.train.adam(0.01)
    const loss = deepSupervisionLoss({ segmentation: 'bce_dice', classifierWeight: 1, auxiliaryWeight: 0.1 })
    const train = blobs(32, 1)
    const test = blobs(64, 2)
    try {
      const accuracy = () =>
        tf.tidy(() => {
          const named = outputsByName(model, model.predict(test.images) as tf.Tensor[])
          const said = tf.greaterEqual(tf.reshape(named.has_mask!, [-1]), 0.5)
          const truth = tf.greater(tf.max(tf.reshape(test.masks, [64, -1]), 1), 0)
          return tf.mean(tf.cast(tf.equal(said, truth), 'float32')).dataSync()[0]!
        })
      const untrained = accuracy()
      const losses: number[] = []
      for (let step = 0; step < 40; step++) {
        const half = step % 2
        const [xs, ys] = tf.tidy(() => [tf.slice(train.images, half * 16, 16), tf.slice(train.masks, half * 16, 16)])
        const cost = optimizer.minimize(
          () => loss(ys!, outputsByName(model, model.apply(xs!, { training: true }) as tf.Tensor[])),
          true,
        )!
        losses.push(cost.dataSync()[0]!)
        tf.dispose([xs!, ys!, cost])
      }
      const majority = Math.max(test.empty, 64 - test.empty) / 64
      const learned = accuracy()
      expect(majority).toBeLessThan(0.75)
      expect(learned).toBeGreaterThanOrEqual(0.9)
      expect(learned - majority).toBeGreaterThan(0.2)
      expect(untrained).toBeLessThanOrEqual(majority) // the seeded start knows nothing: it is the training
      expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8)
    } finally {
      tf.dispose([train.images, train.masks, test.images, test.masks])
      model.dispose()
      optimizer.dispose()
    }
  })
})
