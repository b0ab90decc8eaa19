import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-layers'
import { initBackend } from '@unet/runtime'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createUnet } from './unet'
import type { Upsampling } from './options'

// Initial weights and dropout masks come from Math.random; a seeded stream makes every run the same.
let state = 12345
const mathRandom = vi.spyOn(Math, 'random').mockImplementation(() => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0
  return state / 4294967296
})
beforeAll(async () => {
  // the wasm backend with @unet/runtime's training kernels, as the trainer uses it
  expect((await initBackend({ backend: 'wasm' })).backend).toBe('wasm')
})
afterAll(() => mathRandom.mockRestore())

describe('a U-Net with batch norm and dropout trains on wasm', () => {
  it.each(['transpose', 'bilinear'] as Upsampling[])('%s up-sampling: the loss falls, batch-norm statistics move, prediction is deterministic', async (upsampling) => {
    const before = tf.memory().numTensors
    const model = createUnet({ depth: 2, filters: 4, inputShape: [16, 16, 1], dropout: 0.1, batchNormMomentum: 0.5, upsampling })
    const optimizer = tf.train.adam(0.01)
    const xs = tf.tidy(() => tf.randomUniform([4, 16, 16, 1], 0, 1, 'float32', 7))
    const ys = tf.tidy(() => tf.cast(tf.greater(xs, 0.5), 'float32'))
    try {
      model.compile({ optimizer, loss: 'binaryCrossentropy' })
      const movingMean = () => Array.from(model.getLayer('enc1_bn1').getWeights()[2]!.dataSync())
      const startMean = movingMean()
      const history = await model.fit(xs, ys, { epochs: 10, batchSize: 4, shuffle: false, verbose: 0 })
      const losses = history.history.loss as number[]
      expect(losses.every(Number.isFinite)).toBe(true)
      expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9)
      expect(movingMean()).not.toEqual(startMean)
      // inference: no dropout, batch norm from its moving statistics
      const [a, b] = tf.tidy(() => [model.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor])
      expect(Array.from(a!.dataSync())).toEqual(Array.from(b!.dataSync()))
      tf.dispose([a!, b!])
    } finally {
      tf.dispose([xs, ys])
      model.dispose()
      optimizer.dispose()
    }
    expect(tf.memory().numTensors).toBe(before)
  })
})
