import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'
import { seededValues } from '@unet/testing'

import { TRAINING_BATCH_NORM, TRAINING_BATCH_NORM_GRAD, TRAINING_BATCH_NORM_RELU, TRAINING_BATCH_NORM_RELU_GRAD } from './batch-norm-train'
import { registerWasmTrainingKernels } from './index'
import { simdTuning } from './simd'


function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length)
  let worst = 0
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i] as number))
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)) / scale)
  }
  expect(worst).toBeLessThan(tolerance)
}

/** y, the batch's mean and variance, and the gradients of Σ y · w for x, scale and offset, by the given path. */
function run(shape: [number, number, number, number], path: 'kernel' | 'stock'): Float32Array[] {
  const channels = shape[3]
  const size = shape.reduce((a, b) => a * b)
  return tf.tidy(() => {
    // A mean far from zero against its spread, where a one-pass variance would cancel.
    const x = tf.tensor4d(seededValues(size, 1, 3), shape)
    const scale = tf.tensor1d(seededValues(channels, 2, 1))
    const offset = tf.tensor1d(seededValues(channels, 3))
    const w = tf.tensor4d(seededValues(size, 4), shape)
    const forward = (xv: tf.Tensor, s: tf.Tensor, o: tf.Tensor): tf.Tensor[] => {
      if (path === 'kernel') return tf.engine().runKernel(TRAINING_BATCH_NORM, { x: xv, scale: s, offset: o }, { varianceEpsilon: 1e-3 } as never) as unknown as tf.Tensor[]
      const { mean, variance } = tf.moments(xv, [0, 1, 2])
      return [tf.batchNorm(xv, mean, variance, o, s, 1e-3), mean, variance]
    }
    const [y, mean, variance] = forward(x, scale, offset) as [tf.Tensor, tf.Tensor, tf.Tensor]
    const grads = tf.grads((xv: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(forward(xv, s, o)[0]!, w)))([x, scale, offset])
    return [y, mean, variance, ...grads].map((t) => t.dataSync() as Float32Array)
  })
}

describe('training batch norm on wasm (UnetBatchNormTrain and its gradient)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm')
    registerWasmTrainingKernels()
  })

  for (const shape of [
    [3, 9, 5, 8],
    [2, 33, 17, 16],
    [2, 5, 3, 6],
  ] as Array<[number, number, number, number]>) {
    for (const simd of [true, false]) {
      it(`matches tfjs's moments + batchNorm on the cpu backend and its gradients: ${shape.join('×')}${simd ? '' : ', JS loops'}`, async () => {
        simdTuning.enabled = simd
        try {
          const ours = run(shape, 'kernel')
          await tf.setBackend('cpu')
          const cpu = run(shape, 'stock')
          await tf.setBackend('wasm')
          const names = ['y', 'mean', 'variance', 'dx', 'dscale', 'doffset']
          ours.forEach((o, i) => {
            expect(names[i]).toBeDefined()
            close(o, cpu[i]!, 1e-4)
          })
          // The gradient is not zero: the test would not see a kernel that returned nothing.
          expect(ours[3]!.some((v) => Math.abs(v) > 1e-3)).toBe(true)
        } finally {
          simdTuning.enabled = true
          await tf.setBackend('wasm')
        }
      })
    }
  }

  for (const shape of [
    [3, 9, 5, 8],
    [2, 5, 3, 6],
  ] as Array<[number, number, number, number]>) {
    for (const simd of [true, false]) {
      it(`applies the ReLU in the same passes, bit for bit as the batch norm then tf.relu, gradients too: ${shape.join('×')}${simd ? '' : ', JS loops'}`, () => {
        simdTuning.enabled = simd
        try {
          const size = shape.reduce((a, b) => a * b)
          const results = (['fused', 'separate'] as const).map((how) =>
            tf.tidy(() => {
              // Offsets around zero, so the ReLU zeroes part of every channel.
              const x = tf.tensor4d(seededValues(size, 11, 2), shape)
              const scale = tf.tensor1d(seededValues(shape[3], 12, 1))
              const offset = tf.tensor1d(seededValues(shape[3], 13))
              const w = tf.tensor4d(seededValues(size, 14), shape)
              const forward = (xv: tf.Tensor, s: tf.Tensor, o: tf.Tensor): tf.Tensor[] => {
                const attrs = { varianceEpsilon: 1e-3 } as never
                if (how === 'fused') return tf.engine().runKernel(TRAINING_BATCH_NORM_RELU, { x: xv, scale: s, offset: o }, attrs) as unknown as tf.Tensor[]
                const [y, mean, variance] = tf.engine().runKernel(TRAINING_BATCH_NORM, { x: xv, scale: s, offset: o }, attrs) as unknown as tf.Tensor[]
                return [tf.relu(y!), mean!, variance!]
              }
              const outs = forward(x, scale, offset)
              const grads = tf.grads((xv: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(forward(xv, s, o)[0]!, w)))([x, scale, offset])
              return [...outs, ...grads].map((t) => Array.from(t.dataSync() as Float32Array))
            }),
          )
          const [fused, separate] = results as [number[][], number[][]]
          expect(fused[0]!.some((v) => v === 0) && fused[0]!.some((v) => v > 0)).toBe(true)
          ;['y', 'mean', 'variance', 'dx', 'dscale', 'doffset'].forEach((name, i) => expect(fused[i], name).toEqual(separate[i]))
        } finally {
          simdTuning.enabled = true
        }
      })
    }
  }

  it('runs a batch norm that only a ReLU layer reads as one kernel each way, and trains as the separate layers do', async () => {
    const train = async () => {
      const init = (seed: number) => tfl.initializers.glorotUniform({ seed })
      const input = tfl.input({ shape: [10, 10, 3] })
      let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }).apply(input) as tfl.SymbolicTensor
      x = tfl.layers.batchNormalization({ betaInitializer: tfl.initializers.constant({ value: 0.1 }) }).apply(x) as tfl.SymbolicTensor
      x = tfl.layers.activation({ activation: 'relu' }).apply(x) as tfl.SymbolicTensor
      const m = tfl.model({ inputs: input, outputs: tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init(2) }).apply(x) as tfl.SymbolicTensor })
      m.compile({ optimizer: tf.train.sgd(0.1), loss: 'binaryCrossentropy' })
      const xs = tf.tensor4d(seededValues(4 * 10 * 10 * 3, 15, 1), [4, 10, 10, 3])
      const ys = tf.tidy(() => tf.cast(tf.greater(tf.tensor4d(seededValues(4 * 10 * 10, 16), [4, 10, 10, 1]), 0), 'float32'))
      await m.trainOnBatch(xs, ys)
      const before = tf.memory().numTensors
      const profile = await tf.profile(async () => {
        await m.trainOnBatch(xs, ys)
      })
      expect(tf.memory().numTensors).toBe(before)
      const weights = m.getWeights().map((w) => Array.from(w.dataSync() as Float32Array))
      m.dispose()
      tf.dispose([xs, ys])
      return { names: profile.kernels.map((k) => k.name), weights }
    }
    const fused = await train()
    const config = tf.getKernel(TRAINING_BATCH_NORM_RELU, 'wasm')!
    tf.unregisterKernel(TRAINING_BATCH_NORM_RELU, 'wasm')
    let separate: Awaited<ReturnType<typeof train>>
    try {
      separate = await train()
    } finally {
      tf.registerKernel(config)
    }
    expect(fused.names.filter((n) => n === TRAINING_BATCH_NORM_RELU)).toHaveLength(1)
    expect(fused.names.filter((n) => n === TRAINING_BATCH_NORM_RELU_GRAD)).toHaveLength(1)
    // The loss has a ReLU of its own (binary cross-entropy through logits); the layer's is gone.
    const relus = (names: string[]) => names.filter((n) => n === 'Relu').length
    expect(relus(separate.names)).toBe(relus(fused.names) + 1)
    expect(separate.names).not.toContain(TRAINING_BATCH_NORM_RELU)
    expect(fused.weights).toEqual(separate.weights)
  })

  it('keeps the variance of data whose mean is far from its spread (100 ± 1) within 1e-4 of float64', () => {
    const shape: [number, number, number, number] = [4, 32, 32, 8]
    const n = 4 * 32 * 32 * 8
    const data = seededValues(n, 9, 100)
    const [mean, variance] = tf.tidy(() => {
      const outs = tf.engine().runKernel(
        TRAINING_BATCH_NORM,
        { x: tf.tensor4d(data, shape), scale: tf.ones([8]), offset: tf.zeros([8]) },
        { varianceEpsilon: 1e-3 } as never,
      ) as unknown as tf.Tensor[]
      return [outs[1]!.dataSync() as Float32Array, outs[2]!.dataSync() as Float32Array]
    })
    for (let c = 0; c < 8; c++) {
      let sum = 0
      for (let i = c; i < n; i += 8) sum += data[i]!
      const m = sum / (n / 8)
      let squares = 0
      for (let i = c; i < n; i += 8) squares += (data[i]! - m) ** 2
      const v = squares / (n / 8)
      expect(Math.abs(mean[c]! - m)).toBeLessThan(1e-4)
      expect(Math.abs(variance[c]! - v) / v).toBeLessThan(1e-4)
    }
  })

  it("trains tfjs-layers' BatchNormalization through one kernel each way, as the layer's own code on cpu does", async () => {
    const build = () => {
      const input = tfl.input({ shape: [10, 10, 8] })
      const bn = tfl.layers.batchNormalization({ momentum: 0.9 }).apply(input) as tfl.SymbolicTensor
      const out = tfl.layers.conv2d({ filters: 1, kernelSize: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }).apply(bn) as tfl.SymbolicTensor
      const m = tfl.model({ inputs: input, outputs: out })
      m.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' })
      return m
    }
    const train = async () => {
      const m = build()
      const xs = tf.tensor4d(seededValues(4 * 10 * 10 * 8, 7, 2), [4, 10, 10, 8])
      const ys = tf.tensor4d(seededValues(4 * 10 * 10, 8), [4, 10, 10, 1])
      const profile = await tf.profile(async () => {
        await m.trainOnBatch(xs, ys)
      })
      await m.trainOnBatch(xs, ys)
      const weights = m.getWeights().map((w) => w.dataSync() as Float32Array)
      m.dispose()
      tf.dispose([xs, ys])
      return { names: profile.kernels.map((k) => k.name), weights }
    }
    const wasm = await train()
    await tf.setBackend('cpu')
    const cpu = await train()
    await tf.setBackend('wasm')
    expect(wasm.names.filter((n) => n === TRAINING_BATCH_NORM)).toHaveLength(1)
    expect(wasm.names.filter((n) => n === TRAINING_BATCH_NORM_GRAD)).toHaveLength(1)
    expect(wasm.names).not.toContain('FusedBatchNorm')
    expect(cpu.names).not.toContain(TRAINING_BATCH_NORM)
    expect(cpu.names).toContain('FusedBatchNorm')
    // gamma, beta, moving mean, moving variance, the conv's kernel and bias, after two steps.
    expect(wasm.weights).toHaveLength(cpu.weights.length)
    wasm.weights.forEach((w, i) => close(w, cpu.weights[i]!, 1e-4))
    // The moving averages moved: the test compares trained values, not the initial ones.
    expect(wasm.weights[2]!.some((v) => v !== 0)).toBe(true)
  })
})
