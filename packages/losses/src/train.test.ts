import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-layers'
import { createUnet } from '@unet/layers'
import { initBackend } from '@unet/runtime'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { getLoss, LOSS_INPUTS, lossNames, type LossName } from './registry'
import { weightedLoss } from './weighted'
import type { LossFunction } from './math'
import { expectNoTensorLeaks, seededRandom } from './test-utils'

// Initial weights come from Math.random; a seeded stream makes every run train the same network.
const random = seededRandom(2024)
const mathRandom = vi.spyOn(Math, 'random').mockImplementation(random)
beforeAll(async () => {
  // the wasm backend with @unet/runtime's training kernels, as the trainer uses it
  const { backend } = await initBackend({ backend: 'wasm' })
  expect(backend).toBe('wasm')
})
afterAll(() => mathRandom.mockRestore())
expectNoTensorLeaks()

/**
 * Four 16×16 images: salt is where a 5×5 box blur of seeded noise is high (blobs of varied shape),
 * and shows as brighter pixels; the last image has no salt at all.
 */
function syntheticBatch(): { xs: tf.Tensor4D; ys: tf.Tensor4D } {
  const size = 16
  const count = 4
  const noise = Array.from({ length: count * size * size }, () => random())
  const images = new Float32Array(count * size * size)
  const masks = new Float32Array(count * size * size)
  for (let b = 0; b < count; b++) {
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        let sum = 0
        for (let dr = -2; dr <= 2; dr++) {
          for (let dc = -2; dc <= 2; dc++) {
            const rr = r + dr
            const cc = c + dc
            if (rr >= 0 && rr < size && cc >= 0 && cc < size) sum += noise[b * size * size + rr * size + cc]!
          }
        }
        const i = b * size * size + r * size + c
        masks[i] = b < count - 1 && sum > 12.5 ? 1 : 0
        images[i] = 0.4 * masks[i]! + 0.2 * noise[i]!
      }
    }
  }
  return { xs: tf.tensor4d(images, [count, size, size, 1]), ys: tf.tensor4d(masks, [count, size, size, 1]) }
}

/**
 * Trains a fresh small U-Net with `loss` and returns the loss after each epoch (one batch = one step).
 * With `warmUp`, a few BCE-on-logits steps come first, as the TGS solutions trained before switching
 * to the Lovasz hinge: from random weights the hinge first pulls every logit to 0, and leaves that
 * plateau slowly.
 */
async function trainedLosses(loss: LossFunction, logits: boolean, warmUp = false): Promise<number[]> {
  const model = createUnet({ depth: 2, filters: 4, inputShape: [16, 16, 1], outputActivation: logits ? 'linear' : 'sigmoid', batchNormMomentum: null })
  const optimizer = tf.train.adam(0.01)
  const { xs, ys } = syntheticBatch()
  try {
    if (warmUp) {
      model.compile({ optimizer, loss: getLoss('bce_logits') })
      await model.fit(xs, ys, { epochs: 10, batchSize: 4, shuffle: false, verbose: 0 })
    }
    model.compile({ optimizer, loss })
    const history = await model.fit(xs, ys, { epochs: 12, batchSize: 4, shuffle: false, verbose: 0 })
    return history.history.loss as number[]
  } finally {
    tf.dispose([xs, ys])
    model.dispose()
    optimizer.dispose()
  }
}

describe('a small U-Net trained for a few steps lowers each loss', () => {
  it.each(lossNames)('%s', async (name: LossName) => {
    const losses = await trainedLosses(getLoss(name), LOSS_INPUTS[name] === 'logits', name.startsWith('lovasz'))
    expect(losses.every(Number.isFinite)).toBe(true)
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.95)
  })

  it('weighted bce_logits + lovasz_hinge', async () => {
    const losses = await trainedLosses(weightedLoss([{ loss: 'bce_logits', weight: 1 }, { loss: 'lovasz_hinge', weight: 1 }]), true, true)
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.95)
  })
})
