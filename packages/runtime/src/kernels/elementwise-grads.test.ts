import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { seededRandom } from '@unet/testing'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

import { registerWasmTrainingKernels } from './index'
import { RELU_GRAD, SQUARE_GRAD } from './elementwise-grads'
import { simdTuning } from './simd'

// Sizes not divisible by 4 (a JS tail after the SIMD groups), a tiny one with no SIMD group at all.
const SHAPES = [[2, 7, 5, 3], [3], [4, 9, 13, 8], [1, 1, 1, 6]]

function input(shape: number[], seed: number): Float32Array {
  const next = seededRandom(seed)
  // A quarter exact zeros: the gradient there is 0, as tfjs's step(0) = 0 gives.
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() < 0.25 ? 0 : next() * 2 - 1))
}

/** Gradients of relu and square, then of the whole of tf.moments (square, sub, cast, mean), per shape. */
function grads(): Float32Array[] {
  return SHAPES.flatMap((shape, i) =>
    tf.tidy(() => {
      const x = tf.tensor(input(shape, i + 1), shape)
      const dy = tf.tensor(input(shape, i + 50), shape)
      const moments = (t: tf.Tensor) => {
        const { mean, variance } = tf.moments(t, shape.map((_, a) => a).slice(0, -1))
        return tf.add(tf.sum(tf.mul(mean, 0.3)), tf.sum(variance))
      }
      return [
        tf.grad((t: tf.Tensor) => tf.relu(t))(x, dy),
        tf.grad((t: tf.Tensor) => tf.square(t))(x, dy),
        tf.grad(moments)(x),
      ].map((g) => g.dataSync() as Float32Array)
    }),
  )
}


describe('ReLU and square gradients, same-dtype Cast, on wasm', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels()
    await tf.setBackend('cpu')
  })
  afterEach(() => {
    simdTuning.enabled = true
  })

  it('equals the cpu backend with SIMD and in plain JS, in one kernel', async () => {
    const expected = grads()
    await tf.setBackend('wasm')
    for (const simd of [true, false]) {
      simdTuning.enabled = simd
      const actual = grads()
      // Equal values; tfjs's dy · 0 gives −0 where ours gives +0, which no consumer can tell apart (+ 0 folds them).
      actual.forEach((a, i) => {
        const what = `shape ${SHAPES[Math.floor(i / 3)]}, gradient ${['relu', 'square', 'moments'][i % 3]}, simd ${simd}`
        const want = Array.from(expected[i]!, (v) => v + 0)
        if (i % 3 < 2) expect(Array.from(a, (v) => v + 0), what).toEqual(want)
        // moments: means and sums accumulate in another order on wasm.
        else a.forEach((v, j) => expect(Math.abs(v - want[j]!), what).toBeLessThan(1e-5))
      })
    }
    const { kernels } = await tf.profile(() =>
      tf.tidy(() => [tf.grad((t: tf.Tensor) => tf.relu(t))(tf.ones([2, 8])), tf.grad((t: tf.Tensor) => tf.square(t))(tf.ones([2, 8]))]),
    )
    const names = kernels.map((k) => k.name)
    expect(names).toEqual(expect.arrayContaining([RELU_GRAD, SQUARE_GRAD]))
    expect(names).not.toContain('Step')
    expect(names).not.toContain('Multiply')
    await tf.setBackend('cpu')
  })

  it('casts to the same dtype without a copy, and still converts between dtypes', async () => {
    await tf.setBackend('wasm')
    const backend = tf.backend() as unknown as { numDataIds(): number }
    const x = tf.tensor([1.5, -2, 3.25], [3])
    const buffers = backend.numDataIds()
    const same = tf.cast(x, 'float32')
    expect(backend.numDataIds()).toBe(buffers)
    x.dispose()
    expect(Array.from(same.dataSync())).toEqual([1.5, -2, 3.25]) // the shared buffer outlives x
    const ints = tf.cast(same, 'int32')
    expect(ints.dtype).toBe('int32')
    expect(Array.from(ints.dataSync())).toEqual([1, -2, 3])
    tf.dispose([same, ints])
    await tf.setBackend('cpu')
  })

  it('leaks no tensors and no wasm buffers', async () => {
    await tf.setBackend('wasm')
    const backend = tf.backend() as unknown as { numDataIds(): number }
    const tensors = tf.memory().numTensors
    const buffers = backend.numDataIds()
    grads()
    expect(tf.memory().numTensors).toBe(tensors)
    expect(backend.numDataIds()).toBe(buffers)
    await tf.setBackend('cpu')
  })
})
