import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-layers'
import { createUnet } from '@unet/layers'
import { initBackend } from '@unet/runtime'
import { beforeAll, expect, it } from 'vitest'
import { resnetEncoder } from './encoder'

beforeAll(async () => {
  // the wasm backend with @unet/runtime's training kernels, as the trainer uses it
  expect((await initBackend({ backend: 'wasm' })).backend).toBe('wasm')
})

/** RGB images of a reddish disc on a noisy background, and the disc's mask: a small RGB fixture made in code. */
function discs(n: number, size: number): { xs: tf.Tensor4D; ys: tf.Tensor4D } {
  const images = new Float32Array(n * size * size * 3)
  const masks = new Float32Array(n * size * size)
  let state = 7
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32)
  for (let k = 0; k < n; k++) {
    const [cy, cx, r] = [size * (0.3 + 0.4 * random()), size * (0.3 + 0.4 * random()), size * (0.15 + 0.15 * random())]
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        const p = (k * size + y) * size + x
        masks[p] = inside ? 1 : 0
        images[p * 3] = (inside ? 0.8 : 0.3) + 0.2 * random()
        images[p * 3 + 1] = 0.3 + 0.2 * random()
        images[p * 3 + 2] = (inside ? 0.2 : 0.4) + 0.2 * random()
      }
    }
  }
  return { xs: tf.tensor4d(images, [n, size, size, 3]), ys: tf.tensor4d(masks, [n, size, size, 1]) }
}

it('a resnet34 U-Net trains on an RGB fixture: the loss falls, the frozen encoder stays bit-identical, the rest moves', async () => {
  const before = tf.memory().numTensors
  const model = createUnet({ encoder: resnetEncoder('resnet34'), inputShape: [32, 32, 3], decoderFilters: [8, 8, 16, 16, 32], freezeUpTo: 'layer2', seed: 3 })
  const { xs, ys } = discs(4, 32)
  const optimizer = tf.train.adam(3e-3)
  const snapshot = (names: string[]) => names.map((name) => model.getLayer(name).trainableWeights.map((w) => Array.from(w.read().dataSync())))
  const frozen = ['conv1', 'bn1', 'layer1_0_conv1', 'layer2_3_bn2', 'layer2_0_downsample_0']
  const trained = ['layer3_0_conv1', 'layer4_2_bn2', 'dec1_conv1', 'output']
  try {
    model.compile({ optimizer, loss: 'binaryCrossentropy' })
    const [frozenBefore, trainedBefore] = [snapshot(frozen), snapshot(trained)]
    const history = await model.fit(xs, ys, { epochs: 6, batchSize: 4, shuffle: false, verbose: 0 })
    const losses = history.history.loss as number[]
    expect(losses.every(Number.isFinite)).toBe(true)
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8)
    expect(snapshot(frozen)).toEqual(frozenBefore)
    snapshot(trained).forEach((weights, i) => expect(weights, trained[i]).not.toEqual(trainedBefore[i]))
  } finally {
    tf.dispose([xs, ys])
    model.dispose()
    optimizer.dispose()
  }
  expect(tf.memory().numTensors).toBe(before)
}, 240_000) // about 25 s on an idle 2-core machine; the rest is head-room for a shared one
