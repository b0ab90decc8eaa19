import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-core/dist/register_all_gradients'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { seededRandom } from '@unet/testing'
import { beforeAll, describe, expect, it } from 'vitest'

import { ADAM_UPDATE } from './adam'
import { registerWasmTrainingKernels } from './index'

// Odd sizes (not multiples of 4), a scalar, and one variable left without a gradient.
const SHAPES = [[3, 3, 5, 7], [7], [], [11, 2]]

function fill(shape: number[], seed: number): Float32Array {
  const next = seededRandom(seed)
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1)
}

/** Five Adam steps on the active backend; returns the variables, moments and kernels of one update. */
async function runAdam(): Promise<{ values: Float32Array[]; weights: Array<{ name: string; values: Float32Array }>; kernels: string[] }> {
  // tidy frees the initial values; the variables survive it.
  const vars = tf.tidy(() => SHAPES.map((shape, i) => tf.variable(tf.tensor(fill(shape, i + 1), shape), true, `adam_test_${tf.getBackend()}_${i}`)))
  const optimizer = tf.train.adam(0.01, 0.9, 0.999, 1e-7)
  let kernels: string[] = []
  for (let step = 0; step < 5; step++) {
    const grads: tf.NamedTensorMap = Object.fromEntries(
      vars.slice(0, 3).map((v, i) => [v.name, tf.tensor(fill(v.shape, 100 * step + i), v.shape)]),
    )
    const profile = await tf.profile(() => optimizer.applyGradients(grads as never))
    kernels = profile.kernels.map((k) => k.name)
    tf.dispose(Object.values(grads))
  }
  const values = vars.map((v) => v.dataSync() as Float32Array)
  const saved = await optimizer.getWeights()
  const weights = await Promise.all(saved.map(async (w) => ({ name: w.name.replace(/adam_test_\w+?_/, ''), values: (await w.tensor.data()) as Float32Array })))
  tf.dispose(saved.filter((w) => w.name === 'iter').map((w) => w.tensor))
  optimizer.dispose()
  tf.dispose(vars)
  return { values, weights, kernels }
}

describe('fused Adam update on wasm', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels()
    await tf.setBackend('wasm')
  })

  it('matches tfjs-core Adam on the cpu backend, state included, in one kernel per variable and no leaks', async () => {
    await tf.setBackend('wasm')
    const before = tf.memory().numTensors
    const wasm = await runAdam()
    expect(tf.memory().numTensors).toBe(before)
    // Three variables with gradients: three fused updates; the stock path would run ~40 element-wise kernels.
    expect(wasm.kernels.filter((k) => k === ADAM_UPDATE)).toHaveLength(3)
    expect(wasm.kernels).not.toContain('Sqrt')
    await tf.setBackend('cpu')
    const cpu = await runAdam()
    await tf.setBackend('wasm')
    expect(cpu.kernels).not.toContain(ADAM_UPDATE)
    expect(wasm.weights.map((w) => w.name)).toEqual(cpu.weights.map((w) => w.name))
    const series = [...wasm.values.map((v, i) => [v, cpu.values[i]!]), ...wasm.weights.map((w, i) => [w.values, cpu.weights[i]!.values])]
    for (const [a, b] of series) {
      expect(a!.length).toBe(b!.length)
      for (let i = 0; i < a!.length; i++) expect(Math.abs(a![i]! - b![i]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(b![i]!)))
    }
    // The variable without a gradient is untouched.
    expect(Array.from(wasm.values[3]!)).toEqual(Array.from(fill(SHAPES[3]!, 4)))
  })
})
