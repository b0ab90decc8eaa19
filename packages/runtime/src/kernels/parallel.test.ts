import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import '@tensorflow/tfjs-backend-cpu'
import { seededValues } from '@unet/testing'
import { beforeAll, describe, expect, it } from 'vitest'

import { initBackend } from '../backend'
import { gemmTuning } from './gemm'
import { parallelTuning } from './parallel'
import { fusedTuning } from './winograd'

/** Deterministic values in [-1, 1) so cpu and wasm see identical inputs. */

function conv(backend: 'cpu' | 'wasm'): Float32Array {
  tf.setBackend(backend)
  return tf.tidy(() => {
    const x = tf.tensor4d(seededValues(2 * 12 * 10 * 32, 1), [2, 12, 10, 32])
    const filter = tf.tensor4d(seededValues(9 * 32 * 16, 2), [3, 3, 32, 16])
    const bias = tf.tensor1d(seededValues(16, 3))
    return tf.fused.conv2d({ x, filter, strides: 1, pad: 'same', bias, activation: 'relu' }).dataSync() as Float32Array
  })
}

// Two threads and two training steps take ~1 s on a quiet machine, 10× that on a loaded 2-core one.
describe('SIMD loops on helper threads (threaded wasm build)', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 2, native: false })
  })

  it('splits the Winograd transforms over the helper thread and matches the cpu backend and one thread', async () => {
    const want = conv('cpu')
    // The helper starts with the first parallel batch and takes work once it is ready (tens of milliseconds).
    let got = conv('wasm')
    for (let i = 0; i < 200; i++) {
      const before = parallelTuning.batches
      got = conv('wasm')
      if (parallelTuning.batches > before) break
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    const before = parallelTuning.batches
    got = conv('wasm')
    expect(parallelTuning.batches).toBeGreaterThan(before)
    parallelTuning.enabled = false
    let alone: Float32Array
    try {
      alone = conv('wasm')
    } finally {
      parallelTuning.enabled = true
    }
    for (let i = 0; i < want.length; i++) {
      expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-4)
      // The same loops on the same data: identical to the last bit whichever thread ran them.
      expect(got[i]).toBe(alone[i])
    }
  })

  it('splits the fused Winograd loops (convolution, filter gradient) and the GEMM\'s tap loop over the helper thread, bit for bit as on one thread', () => {
    const go = (backend: 'cpu' | 'wasm') => {
      tf.setBackend(backend)
      return tf.tidy(() => {
        const x = tf.tensor4d(seededValues(3 * 16 * 12 * 16, 11), [3, 16, 12, 16])
        const filter = tf.tensor4d(seededValues(9 * 16 * 24, 12), [3, 3, 16, 24])
        const y = tf.fused.conv2d({ x, filter, strides: 1, pad: 'same', bias: tf.tensor1d(seededValues(24, 13)), activation: 'relu' })
        const dy = tf.tensor4d(seededValues(3 * 16 * 12 * 24, 14), [3, 16, 12, 24])
        const [dx, df] = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'))([x, filter], dy)
        // 'valid': the filter gradient through the GEMM's tap loop instead of Winograd.
        const dyValid = tf.tensor4d(seededValues(3 * 14 * 10 * 24, 15), [3, 14, 10, 24])
        const [dfValid] = tf.grads((f: tf.Tensor) => tf.conv2d(x, f as tf.Tensor4D, 1, 'valid'))([filter], dyValid)
        return [y, dx!, df!, dfValid!].map((t) => t.dataSync() as Float32Array)
      })
    }
    const want = go('cpu')
    fusedTuning.gradMinChannels = 16
    const fused = fusedTuning.runs
    const grads = fusedTuning.gradRuns
    const products = gemmTuning.runs
    const batches = parallelTuning.batches
    const split = go('wasm')
    expect(fusedTuning.runs).toBeGreaterThan(fused)
    expect(fusedTuning.gradRuns).toBeGreaterThan(grads)
    expect(gemmTuning.runs).toBeGreaterThan(products)
    expect(parallelTuning.batches).toBeGreaterThan(batches)
    parallelTuning.enabled = false
    let alone: Float32Array[]
    try {
      alone = go('wasm')
    } finally {
      parallelTuning.enabled = true
    }
    want.forEach((w, k) => {
      let worst = 0
      let scale = 0
      for (let i = 0; i < w.length; i++) {
        worst = Math.max(worst, Math.abs((split[k]![i] as number) - (w[i] as number)))
        scale = Math.max(scale, Math.abs(w[i] as number))
      }
      expect(worst).toBeLessThan(1e-5 * Math.max(1, scale))
      expect(Array.from(split[k]!)).toEqual(Array.from(alone[k]!))
    })
  })

  it('gives the same training step bit for bit with the batch-norm, ReLU, max-pool, concat and Adam loops split over threads', async () => {
    tf.setBackend('wasm')
    const input = tfl.input({ shape: [32, 32, 1] })
    const block = (x: tfl.SymbolicTensor) => {
      const c = tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(x) as tfl.SymbolicTensor
      const b = tfl.layers.batchNormalization().apply(c) as tfl.SymbolicTensor
      return tfl.layers.activation({ activation: 'relu' }).apply(b) as tfl.SymbolicTensor
    }
    const a = block(input)
    const down = block(tfl.layers.maxPooling2d({ poolSize: 2 }).apply(a) as tfl.SymbolicTensor)
    const up = tfl.layers.conv2dTranspose({ filters: 16, kernelSize: 2, strides: 2, padding: 'same' }).apply(down) as tfl.SymbolicTensor
    const merged = tfl.layers.concatenate().apply([up, a]) as tfl.SymbolicTensor
    const output = tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid' }).apply(block(merged)) as tfl.SymbolicTensor
    const model = tfl.model({ inputs: input, outputs: output })
    const start = model.getWeights().map((w) => w.clone())
    const xs = tf.tensor4d(seededValues(4 * 32 * 32, 7).map((v) => v * 0.5 + 0.5), [4, 32, 32, 1])
    const ys = tf.tensor4d(seededValues(4 * 32 * 32, 8).map((v) => (v > 0 ? 1 : 0)), [4, 32, 32, 1])
    const step = async (): Promise<Float32Array[]> => {
      model.setWeights(start)
      model.compile({ optimizer: tf.train.adam(1e-2), loss: 'binaryCrossentropy' })
      await model.trainOnBatch(xs, ys)
      await model.trainOnBatch(xs, ys)
      return model.getWeights().map((w) => w.dataSync() as Float32Array)
    }
    const before = parallelTuning.batches
    const split = await step()
    expect(parallelTuning.batches).toBeGreaterThan(before)
    parallelTuning.enabled = false
    let alone: Float32Array[]
    try {
      alone = await step()
    } finally {
      parallelTuning.enabled = true
    }
    expect(split.length).toBe(alone.length)
    split.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(alone[i]!)))
    tf.dispose([xs, ys, ...start])
  })
})
