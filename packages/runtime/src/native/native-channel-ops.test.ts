import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import { beforeAll, describe, expect, it } from 'vitest'

import { startBackend } from '../backend'

import { countingAddon } from './counting-addon'
import { registerNativeConvKernels, unregisterNativeConvKernels } from './native-conv-kernels'

const { addon, calls, counting, environment } = countingAddon('native per-channel', ['biasAdd', 'channelSums'])

interface Case {
  x: number[]
  bias: number[]
  /** The bias as the first operand of the Add. */
  swap?: boolean
}

// Odd sizes, 1 channel, channel counts that are no multiple of a vector, and the shapes tfjs-layers uses.
const cases: Case[] = [
  { x: [2, 5, 3, 7], bias: [7] },
  { x: [3, 4, 4, 16], bias: [1, 1, 1, 16] },
  { x: [1, 9, 11, 1], bias: [1] },
  { x: [5, 19], bias: [19], swap: true },
  { x: [2, 3, 5, 33], bias: [1, 33] },
]

/** x + bias and the gradients of Σ (x + bias) · r for x and bias, on the active backend. */
function run(c: Case): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.randomUniform(c.x, -2, 2, 'float32', 1)
    const bias = tf.randomUniform(c.bias, -1, 1, 'float32', 2)
    const r = tf.randomUniform(c.x, -1, 1, 'float32', 3)
    const f = (a: tf.Tensor, b: tf.Tensor) => (c.swap === true ? tf.add(b, a) : tf.add(a, b))
    const [dx, dBias] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), r)))([x, bias])
    return [f(x, bias), dx!, dBias!].map((t) => t.dataSync() as Float32Array)
  })
}

describe.skipIf(addon === null)('native per-channel bias Add and Sum on wasm', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    const info = await startBackend({ backend: 'wasm', threads: 2 }, environment)
    expect(info.native).toBe(true)
    expect(info.kernels).toEqual(expect.arrayContaining(['Add', 'Sum']))
    addon!.setThreads(1)
  }, 60_000)

  it('adds a per-channel bias bit for bit as wasm does, and sums its gradient as the cpu backend does', async () => {
    calls.biasAdd = 0
    calls.channelSums = 0
    const before = tf.memory().numTensors
    const native = cases.map(run)
    expect(tf.memory().numTensors).toBe(before)
    // One bias add per case (the one differentiated; the forward value is read from it), one bias gradient.
    expect(calls.biasAdd).toBeGreaterThanOrEqual(cases.length)
    expect(calls.channelSums).toBe(cases.length)
    unregisterNativeConvKernels()
    let stock: Float32Array[][]
    try {
      stock = cases.map(run)
    } finally {
      registerNativeConvKernels(counting!)
    }
    await tf.setBackend('cpu')
    const reference = cases.map(run)
    await tf.setBackend('wasm')
    for (const [i, c] of cases.entries()) {
      const where = JSON.stringify(c)
      expect(Array.from(native[i]![0]!), `x + bias ${where}`).toEqual(Array.from(stock[i]![0]!))
      expect(Array.from(native[i]![1]!), `dx ${where}`).toEqual(Array.from(stock[i]![1]!))
      const rows = c.x.reduce((a, b) => a * b, 1) / c.x[c.x.length - 1]!
      const dBias = native[i]![2]!
      const want = reference[i]![2]!
      expect(dBias.length).toBe(want.length)
      // float32 sums of `rows` terms in another order differ by a few ulps of the partial sums.
      for (let k = 0; k < want.length; k++) expect(Math.abs(dBias[k]! - want[k]!), `dbias[${k}] ${where}`).toBeLessThan(1e-6 * rows)
    }
  })

  it('keeps the dims when asked, and leaves other Adds and Sums to the stock kernels', () => {
    calls.biasAdd = 0
    calls.channelSums = 0
    const [kept, negative] = tf.tidy(() => {
      const x = tf.randomUniform([2, 3, 4, 5], -1, 1, 'float32', 4)
      return [tf.sum(x, [0, 1, 2], true), tf.sum(x, [-2, -4, -3])].map((t) => ({ shape: t.shape, data: Array.from(t.dataSync()) }))
    })
    expect(kept!.shape).toEqual([1, 1, 1, 5])
    expect(negative!.shape).toEqual([5])
    expect(kept!.data).toEqual(negative!.data)
    expect(calls.channelSums).toBe(2)
    tf.tidy(() => {
      const x = tf.ones([2, 3, 4, 5])
      tf.add(x, x).dataSync() // same shapes
      tf.add(x, tf.ones([4, 1])).dataSync() // not per channel
      tf.add(tf.ones([2, 3], 'int32'), tf.ones([3], 'int32')).dataSync()
      tf.sum(x, [1, 2]).dataSync()
      tf.sum(x).dataSync()
    })
    expect(calls).toEqual({ biasAdd: 0, channelSums: 2 })
  })
})
