import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-layers'
import { initBackend } from '@unet/runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { createUnet } from './unet'
import type { Upsampling } from './options'

beforeAll(async () => {
  // the wasm backend with @unet/runtime's training kernels, as the trainer uses it
  expect((await initBackend({ backend: 'wasm' })).backend).toBe('wasm')
})

describe('a U-Net with batch norm and dropout trains on wasm', () => {
  it.each(['transpose', 'bilinear'] as Upsampling[])('%s up-sampling: the loss falls, batch-norm statistics move, prediction is deterministic', async (upsampling) => {
    const before = tf.memory().numTensors
    const model = createUnet({ depth: 2, filters: 4, inputShape: [16, 16, 1], dropout: 0.1, batchNormMomentum: 0.5, upsampling, seed: 7 })
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
