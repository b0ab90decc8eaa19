import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededValues } from '@unet/testing'

import { registerWasmTrainingKernels } from './index'


const t4 = (shape: [number, number, number, number], seed: number) => tf.tensor4d(seededValues(shape.reduce((a, b) => a * b), seed), shape)

/** Each case computes something on the current backend and returns its values and shapes. */
const cases: Record<string, () => { values: number[]; shapes: number[][] }> = {
  'mean over all but channels': () => {
    const x = t4([2, 5, 3, 7], 1)
    const a = tf.mean(x, [0, 1, 2])
    const b = tf.mean(x, [0, 1, 2], true)
    return { values: [...a.dataSync(), ...b.dataSync()], shapes: [a.shape, b.shape] }
  },
  'sum over all but channels, and over other axes (stock kernel)': () => {
    const x = t4([2, 5, 3, 7], 2)
    const a = tf.sum(x, [0, 1, 2])
    const b = tf.sum(x, [1, 2], true)
    const c = tf.sum(tf.reshape(x, [10, 21]), 0)
    return { values: [...a.dataSync(), ...b.dataSync(), ...c.dataSync()], shapes: [a.shape, b.shape, c.shape] }
  },
  'gradients of mean and sum over all but channels, and over other axes': () => {
    const x = t4([2, 5, 3, 7], 14)
    const w = t4([2, 5, 3, 7], 15)
    const f = (v: tf.Tensor) =>
      tf.add(tf.add(tf.sum(tf.mul(tf.mean(tf.mul(v, w), [0, 1, 2]), tf.range(1, 8))), tf.sum(tf.square(tf.sum(v, [0, 1, 2], true)))), tf.sum(tf.mean(v, [1, 2])))
    const g = tf.grad(f)(x)
    return { values: [...g.dataSync()], shapes: [g.shape] }
  },
  'SIMD loops (channels divisible by 4): mean, sum, batch norm and the reduction gradients': () => {
    const x = t4([3, 9, 5, 8], 16)
    const mean = tf.tensor1d(seededValues(8, 17))
    const variance = tf.abs(tf.tensor1d(seededValues(8, 18)))
    const y = tf.batchNorm4d(x, mean, variance, tf.tensor1d(seededValues(8, 19)), tf.tensor1d(seededValues(8, 20)), 1e-3)
    const w = t4([3, 9, 5, 8], 21)
    const g = tf.grad((v: tf.Tensor) => tf.add(tf.sum(tf.mul(tf.mean(tf.mul(v, w), [0, 1, 2]), tf.range(1, 9))), tf.sum(tf.square(tf.sum(v, [0, 1, 2])))))(x)
    const a = tf.mean(x, [0, 1, 2])
    const b = tf.sum(x, [0, 1, 2], true)
    return { values: [...y.dataSync(), ...g.dataSync(), ...a.dataSync(), ...b.dataSync()], shapes: [y.shape, g.shape, a.shape, b.shape] }
  },
  'per-channel bias add, [C] and [1, 1, 1, C], either side; other adds (stock kernel)': () => {
    const x = t4([2, 7, 5, 12], 30)
    const bias = tf.tensor1d(seededValues(12, 31))
    const outs = [
      tf.add(x, bias),
      tf.add(tf.reshape(bias, [1, 1, 1, 12]), x),
      tf.add(tf.reshape(x, [70, 12]), bias),
      tf.add(t4([2, 7, 5, 6], 32), tf.tensor1d(seededValues(6, 33))),
      tf.add(x, t4([2, 7, 5, 12], 34)),
      tf.add(x, tf.reshape(tf.tensor1d(seededValues(84, 35)), [1, 7, 1, 12])),
    ]
    return { values: outs.flatMap((o) => [...o.dataSync()]), shapes: outs.map((o) => o.shape) }
  },
  'concat along channels, and along rows (stock kernel)': () => {
    const a = t4([2, 3, 4, 5], 3)
    const b = t4([2, 3, 4, 2], 4)
    const c = t4([2, 3, 4, 1], 5)
    const d = tf.concat([a, b, c], 3)
    const e = tf.concat([a, t4([2, 1, 4, 5], 6)], 1)
    return { values: [...d.dataSync(), ...e.dataSync()], shapes: [d.shape, e.shape] }
  },
  'concat and split along channels in groups of 4 (SIMD loops)': () => {
    const d = tf.concat([t4([2, 3, 4, 8], 22), t4([2, 3, 4, 4], 23), t4([2, 3, 4, 12], 24)], 3)
    const parts = tf.split(d, [4, 16, 4], 3)
    return { values: [...d.dataSync(), ...parts.flatMap((p) => [...p.dataSync()])], shapes: [d.shape, ...parts.map((p) => p.shape)] }
  },
  'two-way concat and split along channels in one pass (SIMD loops), and the gradient of a concat': () => {
    const a = t4([3, 5, 7, 8], 25)
    const b = t4([3, 5, 7, 12], 26)
    const d = tf.concat([a, b], 3)
    const e = tf.concat([b, a], -1)
    const [p, q] = tf.split(e, [4, 16], 3) as [tf.Tensor, tf.Tensor]
    const w = t4([3, 5, 7, 20], 27)
    const [ga, gb] = tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(tf.concat([u, v], 3), w)))([a, b]) as [tf.Tensor, tf.Tensor]
    const outs = [d, e, p, q, ga, gb]
    return { values: outs.flatMap((o) => [...o.dataSync()]), shapes: outs.map((o) => o.shape) }
  },
  'split along channels': () => {
    const parts = tf.split(t4([2, 3, 4, 8], 7), [5, 1, 2], 3)
    return { values: parts.flatMap((p) => [...p.dataSync()]), shapes: parts.map((p) => p.shape) }
  },
  'batch norm forward, with and without scale and offset': () => {
    const x = t4([2, 5, 3, 7], 9)
    const mean = tf.tensor1d(seededValues(7, 10))
    const variance = tf.abs(tf.tensor1d(seededValues(7, 11)))
    const a = tf.batchNorm4d(x, mean, variance, tf.tensor1d(seededValues(7, 12)), tf.tensor1d(seededValues(7, 13)), 1e-3)
    const b = tf.batchNorm4d(x, mean, variance)
    return { values: [...a.dataSync(), ...b.dataSync()], shapes: [a.shape, b.shape] }
  },
  'max-pool gradient with ties, valid and same padding': () => {
    // ReLU makes windows of zeros; the gradient must go where cpu sends it.
    const x = tf.relu(t4([2, 7, 9, 3], 8))
    const grads = ([[2, 2, 'valid'], [3, 2, 'same'], [2, 1, 'same']] as const).map(([size, stride, pad]) => {
      const shape = tf.maxPool(x, size, stride, pad).shape
      const weights = tf.reshape(tf.range(1, 1 + shape.reduce((a, b) => a * b)), shape)
      return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, size, stride, pad), weights)))(x)
    })
    return { values: grads.flatMap((g) => [...g.dataSync()]), shapes: grads.map((g) => g.shape) }
  },
  'max-pool 2×2 gradient in SIMD (channels in groups of 4): even and odd sizes, ties, valid and same': () => {
    // Rounded, then ReLU: many ties, among zeros and among equal positive values.
    const inputs = [t4([2, 6, 8, 8], 30), t4([1, 7, 5, 4], 31), t4([2, 4, 4, 12], 32)].map((x) => tf.relu(tf.round(tf.mul(x, 2))))
    const grads = inputs.flatMap((x) =>
      (['valid', 'same'] as const).map((pad) => {
        const shape = tf.maxPool(x as tf.Tensor4D, 2, 2, pad).shape
        const weights = tf.reshape(tf.range(1, 1 + shape.reduce((a, b) => a * b)), shape)
        return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, 2, 2, pad), weights)))(x)
      }),
    )
    return { values: grads.flatMap((g) => [...g.dataSync()]), shapes: grads.map((g) => g.shape) }
  },
}

describe('channels-last layout kernels on wasm', () => {
  const expected = new Map<string, { values: number[]; shapes: number[][] }>()
  beforeAll(async () => {
    await tf.setBackend('cpu')
    for (const [name, run] of Object.entries(cases)) expected.set(name, tf.tidy(run))
    registerWasmTrainingKernels()
    await tf.setBackend('wasm')
  })
  afterAll(async () => {
    await tf.setBackend('cpu')
  })

  it.each(Object.keys(cases))('%s: agree with cpu', (name) => {
    const want = expected.get(name)!
    const got = tf.tidy(cases[name]!)
    expect(got.shapes).toEqual(want.shapes)
    expect(got.values.length).toBe(want.values.length)
    got.values.forEach((v, i) => expect(v, `element ${i}`).toBeCloseTo(want.values[i]!, 4))
  })

  it('add a per-channel bias bit for bit as the cpu backend does', async () => {
    const run = () => tf.tidy(() => [...tf.add(t4([3, 9, 8, 16], 40), tf.tensor1d(seededValues(16, 41))).dataSync()])
    const ours = run()
    await tf.setBackend('cpu')
    const cpu = run()
    await tf.setBackend('wasm')
    expect(ours).toEqual(cpu)
  })

  it('leak no tensors or wasm buffers', () => {
    const backend = tf.backend() as unknown as { numDataIds(): number }
    const tensors = tf.memory().numTensors
    const buffers = backend.numDataIds()
    for (const run of Object.values(cases)) tf.tidy(run)
    expect(tf.memory().numTensors).toBe(tensors)
    expect(backend.numDataIds()).toBe(buffers)
  })
})
