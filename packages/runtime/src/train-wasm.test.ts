import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { initBackend } from './backend'
import { loadModel, saveModel } from './io'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'unet-runtime-train-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A U-Net in miniature: conv + batch norm, a strided conv down, a transposed conv up, a skip, a sigmoid. */
function miniUnet(): tfl.LayersModel {
  let seed = 1
  const init = () => tfl.initializers.heNormal({ seed: seed++ })
  const input = tfl.input({ shape: [16, 16, 1] })
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', kernelInitializer: init() }).apply(input) as tfl.SymbolicTensor
  x = tfl.layers.batchNormalization().apply(x) as tfl.SymbolicTensor
  const skip = tfl.layers.activation({ activation: 'relu' }).apply(x) as tfl.SymbolicTensor
  let y = tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(skip) as tfl.SymbolicTensor
  y = tfl.layers.conv2dTranspose({ filters: 8, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: init() }).apply(y) as tfl.SymbolicTensor
  const merged = tfl.layers.concatenate().apply([y, skip]) as tfl.SymbolicTensor
  const out = tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init() }).apply(merged) as tfl.SymbolicTensor
  return tfl.model({ inputs: input, outputs: out })
}

/** Images with a bright disc; the mask is the disc. */
function batch(): { xs: tf.Tensor4D; ys: tf.Tensor4D } {
  const size = 16
  const count = 4
  const xs = new Float32Array(count * size * size)
  const ys = new Float32Array(count * size * size)
  for (let n = 0; n < count; n++) {
    const cy = 4 + 2 * n
    const cx = 11 - 2 * n
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const inside = (r - cy) ** 2 + (c - cx) ** 2 <= 9
        const i = (n * size + r) * size + c
        ys[i] = inside ? 1 : 0
        xs[i] = (inside ? 0.7 : 0.3) + 0.1 * Math.sin(r * 1.3 + c * 0.7 + n)
      }
    }
  }
  return { xs: tf.tensor4d(xs, [count, size, size, 1]), ys: tf.tensor4d(ys, [count, size, size, 1]) }
}

// Starting wasm (threads, oneDNN) and 12 steps take ~1 s on a quiet machine, 10× that on a loaded 2-core one.
describe('training on wasm (no tfjs-node on this machine)', { timeout: 60_000 }, () => {
  it('trains a small conv net: the loss falls, no tensors leak, and a saved model predicts the same', async () => {
    const info = await initBackend({ backend: 'wasm' })
    expect(info.backend).toBe('wasm')
    const model = miniUnet()
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy' })
    const { xs, ys } = batch()

    const losses: number[] = []
    losses.push((await model.trainOnBatch(xs, ys)) as number)
    const tensorsAfterFirstStep = tf.memory().numTensors // weights and optimizer state now exist
    for (let step = 1; step < 12; step++) losses.push((await model.trainOnBatch(xs, ys)) as number)
    expect(tf.memory().numTensors).toBe(tensorsAfterFirstStep)
    expect(losses.every(Number.isFinite)).toBe(true)
    expect(losses[losses.length - 1]).toBeLessThan(0.5 * (losses[0] as number))

    await saveModel(model, dir)
    const loaded = await loadModel(dir)
    const a = model.predict(xs) as tf.Tensor
    const b = loaded.predict(xs) as tf.Tensor
    expect(b.dataSync()).toEqual(a.dataSync())
    tf.dispose([a, b, xs, ys])
    model.dispose()
    loaded.dispose()
  })
})
