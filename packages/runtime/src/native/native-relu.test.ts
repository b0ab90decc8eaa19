import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import { beforeAll, describe, expect, it } from 'vitest'

import { startBackend } from '../backend'

import { countingAddon } from './counting-addon'
import { registerNativeConvKernels, unregisterNativeConvKernels } from './native-conv-kernels'

const { addon, calls, counting, environment } = countingAddon('native ReLU', ['relu', 'reluGrad'])

/** x with the awkward values (±0, ±∞, NaN, the smallest subnormals) first, then seeded random ones. */
function input(size: number): Float32Array {
  const special = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 3.5, -2.25]
  const x = tf.tidy(() => tf.randomUniform([size], -3, 3, 'float32', size).dataSync() as Float32Array)
  x.set(special.slice(0, size))
  return x
}

/** y = relu(x) and dx = d Σ(relu(x) · r)/dx on the active backend, read back. */
function reluAndGrad(x: Float32Array, r: Float32Array, shape: number[]): [Float32Array, Float32Array] {
  return tf.tidy(() => {
    const xt = tf.tensor(x, shape)
    const rt = tf.tensor(r, shape)
    const y = tf.relu(xt)
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), rt)))(xt)
    return [y.dataSync() as Float32Array, dx.dataSync() as Float32Array]
  })
}

describe.skipIf(addon === null)('native ReLU and ReLU gradient on wasm', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    const info = await startBackend({ backend: 'wasm', threads: 2 }, environment)
    expect(info.native).toBe(true)
    expect(info.kernels).toEqual(expect.arrayContaining(['Relu', 'UnetReluGrad']))
    addon!.setThreads(1)
  }, 60_000)

  it('gives bit-identical values and gradients to the wasm kernels it replaces (±0, ±∞, NaN, odd sizes)', () => {
    const shapes = [[1], [7], [2, 5, 3, 7], [4099], [3, 17, 11, 16]]
    calls.relu = 0
    calls.reluGrad = 0
    const before = tf.memory().numTensors
    const cases = shapes.map((shape) => {
      const size = shape.reduce((a, b) => a * b, 1)
      return { shape, x: input(size), r: tf.tidy(() => tf.randomUniform([size], -1, 1, 'float32', 99).dataSync() as Float32Array) }
    })
    // Every value of r finite; one ∞ in r checks that dx stays 0 where x ≤ 0.
    cases[3]!.r[1] = Infinity
    const native = cases.map((c) => reluAndGrad(c.x, c.r, c.shape))
    expect(tf.memory().numTensors).toBe(before)
    expect(calls.relu).toBe(2 * shapes.length)
    expect(calls.reluGrad).toBe(shapes.length)
    unregisterNativeConvKernels()
    try {
      const stock = cases.map((c) => reluAndGrad(c.x, c.r, c.shape))
      expect(calls.relu).toBe(2 * shapes.length)
      for (const [i, c] of cases.entries()) {
        const where = JSON.stringify(c.shape)
        // Bit patterns, so that −0 and NaN count.
        expect(new Uint32Array(native[i]![0].buffer), `relu ${where}`).toEqual(new Uint32Array(stock[i]![0].buffer))
        expect(new Uint32Array(native[i]![1].buffer), `relu gradient ${where}`).toEqual(new Uint32Array(stock[i]![1].buffer))
      }
    } finally {
      registerNativeConvKernels(counting!)
    }
  })

  it('leaves int32 to the stock kernel', () => {
    calls.relu = 0
    const y = tf.tidy(() => tf.relu(tf.tensor1d([-2, 0, 3], 'int32')).dataSync())
    expect(Array.from(y)).toEqual([0, 0, 3])
    expect(calls.relu).toBe(0)
  })
})
