import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededValues } from '@unet/testing'

import { registerWasmTrainingKernels } from './index'
import { simdLoops, simdTuning } from './simd'


function expectClose(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, what).toBe(expected.length)
  let worst = 0
  let scale = 1e-3
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)))
    scale = Math.max(scale, Math.abs(expected[i] as number))
  }
  expect(worst / scale, what).toBeLessThan(1e-4)
}

// 8 channels take the SIMD loops, 6 the plain-JS ones.
let shape: [number, number, number, number] = [3, 5, 7, 6]
let size = shape.reduce((a, b) => a * b)
const channels = () => shape[3]

/** Training-mode batch norm as tfjs-layers computes it (moments, then batchNorm), weighted so no gradient is trivial. */
function trainingGrads(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(seededValues(size, 1, 0.3), shape)
    const gamma = tf.tensor1d(seededValues(channels(), 2, 1))
    const beta = tf.tensor1d(seededValues(channels(), 3))
    const w = tf.tensor4d(seededValues(size, 4), shape)
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(a, [0, 1, 2])
      const y = tf.batchNorm4d(a as tf.Tensor4D, mean as tf.Tensor1D, variance as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3)
      return tf.sum(tf.mul(tf.sigmoid(y), w))
    }
    return tf.grads(f)([x, gamma, beta]).map((g) => g.dataSync() as Float32Array)
  })
}

/** Gradients with respect to every input, including mean and variance, of an inference-style batch norm. */
function allInputGrads(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(seededValues(size, 5), shape)
    const mean = tf.tensor1d(seededValues(channels(), 6))
    const variance = tf.tensor1d(seededValues(channels(), 7, 1.5))
    const gamma = tf.tensor1d(seededValues(channels(), 8, 1))
    const beta = tf.tensor1d(seededValues(channels(), 9))
    const w = tf.tensor4d(seededValues(size, 10), shape)
    const f = (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.tanh(tf.batchNorm4d(a as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3)), w))
    return tf.grads(f)([x, mean, variance, gamma, beta]).map((g) => g.dataSync() as Float32Array)
  })
}

describe.each([
  ['plain JS', [3, 5, 7, 6], false],
  ['SIMD', [2, 5, 7, 8], true],
] as const)('batch norm gradient on wasm (%s loops)', (_, testShape, simd) => {
  let cpu: { train: Float32Array[]; all: Float32Array[] }

  beforeAll(async () => {
    shape = [...testShape]
    size = shape.reduce((a, b) => a * b)
    simdTuning.enabled = simd
    await tf.setBackend('cpu')
    cpu = { train: trainingGrads(), all: allInputGrads() }
    registerWasmTrainingKernels()
    await tf.setBackend('wasm')
  })
  afterAll(async () => {
    simdTuning.enabled = true
    await tf.setBackend('cpu')
  })
  it(`runs the ${simd ? 'SIMD' : 'plain-JS'} loops`, () => {
    expect(simdLoops(tf.backend() as never) !== null).toBe(simd)
  })

  it('matches cpu for x, gamma and beta in training mode', () => {
    trainingGrads().forEach((g, i) => expectClose(g, cpu.train[i]!, `input ${i}`))
  })

  it('matches cpu for x, mean, variance, scale and offset', () => {
    allInputGrads().forEach((g, i) => expectClose(g, cpu.all[i]!, `input ${i}`))
  })

  it('leaks no tensors and no wasm buffers', () => {
    const backend = tf.backend() as unknown as { numDataIds(): number }
    const tensors = tf.memory().numTensors
    const buffers = backend.numDataIds()
    trainingGrads()
    allInputGrads()
    expect(tf.memory().numTensors).toBe(tensors)
    expect(backend.numDataIds()).toBe(buffers)
  })
})
