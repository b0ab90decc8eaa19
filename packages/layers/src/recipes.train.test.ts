import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-layers'
import { initBackend } from '@unet/runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { createUnet } from './unet'

beforeAll(async () => {
  // the wasm backend with @unet/runtime's training kernels, as the trainer uses it
  expect((await initBackend({ backend: 'wasm' })).backend).toBe('wasm')
})

describe('a U-Net with scSE attention and hypercolumns trains on wasm', () => {
  it('the loss falls and the attention and head weights move', async () => {
    const before = tf.memory().numTensors
    const model = createUnet({ depth: 2, filters: 8, inputShape: [16, 16, 1], batchNormMomentum: 0.5, decoderAttention: 'scse', hypercolumn: true, seed: 7 })
    const optimizer = tf.train.adam(0.01)
    const xs = tf.tidy(() => tf.randomUniform([4, 16, 16, 1], 0, 1, 'float32', 7))
    const ys = tf.tidy(() => tf.cast(tf.greater(xs, 0.5), 'float32'))
    const snapshot = (name: string) => Array.from(model.getLayer(name).getWeights()[0]!.dataSync())
    try {
      model.compile({ optimizer, loss: 'binaryCrossentropy' })
      const start = ['dec2_cse_reduce', 'dec2_cse_expand', 'dec1_cse_reduce', 'dec1_cse_expand', 'dec1_sse_conv', 'output'].map(snapshot)
      const history = await model.fit(xs, ys, { epochs: 10, batchSize: 4, shuffle: false, verbose: 0 })
      const losses = history.history.loss as number[]
      expect(losses.every(Number.isFinite)).toBe(true)
      expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9)
      ;['dec2_cse_reduce', 'dec2_cse_expand', 'dec1_cse_reduce', 'dec1_cse_expand', 'dec1_sse_conv', 'output'].forEach((name, i) => expect(snapshot(name), name).not.toEqual(start[i]))
    } finally {
      tf.dispose([xs, ys])
      model.dispose()
      optimizer.dispose()
    }
    expect(tf.memory().numTensors).toBe(before)
  })
})
