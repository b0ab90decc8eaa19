import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { seededRandom } from '@unet/testing'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { registerWasmTrainingKernels } from './index'
import { RELU_GRAD } from './relu-grad'
import { simdTuning } from './simd'

// Sizes not divisible by 4 (a JS tail after the SIMD groups), a tiny one with no SIMD group at all.
const SHAPES = [[2, 7, 5, 3], [3], [4, 9, 13, 8], [1, 1, 1, 6]]

function input(shape: number[], seed: number): Float32Array {
  const next = seededRandom(seed)
  // A quarter exact zeros: the gradient there is 0, as tfjs's step(0) = 0 gives.
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() < 0.25 ? 0 : next() * 2 - 1))
}

function reluGrads(): Float32Array[] {
  return SHAPES.map((shape, i) =>
    tf.tidy(() => {
      const x = tf.tensor(input(shape, i + 1), shape)
      const dy = tf.tensor(input(shape, i + 50), shape)
      return tf.grad((t: tf.Tensor) => tf.relu(t))(x, dy).dataSync() as Float32Array
    }),
  )
}

describe('ReLU gradient on wasm', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels()
    await tf.setBackend('cpu')
  })
  afterEach(() => {
    simdTuning.enabled = true
  })

  it('equals the cpu backend with SIMD and in plain JS, in one kernel', async () => {
    const expected = reluGrads()
    await tf.setBackend('wasm')
    for (const simd of [true, false]) {
      simdTuning.enabled = simd
      const actual = reluGrads()
      // Equal values; tfjs's dy · 0 gives −0 where ours gives +0, which no consumer can tell apart (+ 0 folds them).
      actual.forEach((a, i) => expect(Array.from(a, (v) => v + 0), `shape ${SHAPES[i]} simd ${simd}`).toEqual(Array.from(expected[i]!, (v) => v + 0)))
    }
    const { kernels } = await tf.profile(() =>
      tf.tidy(() => tf.grad((t: tf.Tensor) => tf.relu(t))(tf.ones([2, 8]))),
    )
    const names = kernels.map((k) => k.name)
    expect(names).toContain(RELU_GRAD)
    expect(names).not.toContain('Step')
    await tf.setBackend('cpu')
  })

  it('leaks no tensors and no wasm buffers', async () => {
    await tf.setBackend('wasm')
    const backend = tf.backend() as unknown as { numDataIds(): number }
    const tensors = tf.memory().numTensors
    const buffers = backend.numDataIds()
    reluGrads()
    expect(tf.memory().numTensors).toBe(tensors)
    expect(backend.numDataIds()).toBe(buffers)
    await tf.setBackend('cpu')
  })
})
