import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'

import { startBackend } from '../backend'

import { countingAddon } from './counting-addon'
import { NATIVE_BATCH_NORM } from './native-batch-norm'
import { NATIVE_CONV_KERNELS, registerNativeConvKernels, unregisterNativeConvKernels } from './native-conv-kernels'
import { startNativeConv } from './start'

const { addon, calls, counting, environment } = countingAddon('native batch-norm', ['batchNormForward', 'batchNormBackward'])

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

/** The private tf.Variable behind a layer weight, for tf.variableGrads. */
const variableOf = (w: tfl.LayerVariable) => (w as unknown as { val: tf.Variable }).val

interface Run {
  y: Float32Array
  dx: Float32Array
  dGamma: Float32Array
  dBeta: Float32Array
  movingMean: Float32Array
  movingVariance: Float32Array
}

/**
 * One training-mode pass of a BatchNormalization layer (fresh, seeded weights) on the active backend: its
 * output, the gradients of Σ y · r (r fixed, random) for x, gamma and beta, and the moving averages after.
 */
function trainPass(shape: [number, number, number, number], options: Parameters<typeof tfl.layers.batchNormalization>[0] = {}): Run {
  const layer = tfl.layers.batchNormalization({
    momentum: 0.9,
    gammaInitializer: tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 3 }),
    betaInitializer: tfl.initializers.randomUniform({ minval: -1, maxval: 1, seed: 4 }),
    movingVarianceInitializer: tfl.initializers.constant({ value: 2 }),
    ...options,
  })
  // Channel means and spreads that differ, so a wrong axis or a wrong statistic shows.
  const init = tf.tidy(() => tf.add(tf.mul(tf.randomUniform(shape, -2, 2, 'float32', 1), tf.linspace(0.5, 3, shape[3])), tf.linspace(-1, 4, shape[3])))
  const x = tf.variable(init)
  init.dispose()
  const r = tf.randomUniform(shape, -1, 1, 'float32', 2)
  layer.build(shape)
  const weights = layer.trainableWeights.map(variableOf)
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, r)) as tf.Scalar, [x, ...weights])
  // A second training pass, read back: the output (and a second moving-average update, alike on both backends).
  const out = tf.tidy(() => (layer.apply(x, { training: true }) as tf.Tensor).dataSync() as Float32Array)
  const [movingMean, movingVariance] = layer.getWeights().slice(2).map((w) => w.dataSync() as Float32Array) as [Float32Array, Float32Array]
  const result: Run = {
    y: out,
    dx: grads[x.name]!.dataSync() as Float32Array,
    dGamma: (options.scale === false ? new Float32Array(0) : grads[weights[0]!.name]!.dataSync()) as Float32Array,
    dBeta: (options.center === false ? new Float32Array(0) : grads[weights[weights.length - 1]!.name]!.dataSync()) as Float32Array,
    movingMean,
    movingVariance,
  }
  tf.dispose([value, x, r, ...Object.values(grads)])
  for (const w of layer.weights) w.dispose()
  return result
}

// Generous timeouts: the machine these run on is shared and busy.
describe.skipIf(addon === null)('oneDNN batch norm on wasm (training-mode BatchNormalization layers)', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    const info = await startBackend({ backend: 'wasm', threads: 2 }, environment)
    expect(info.native).toBe(true)
    expect(info.reason).toContain('+ oneDNN native conv kernels (Conv2D, FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter) and batch norm, ReLU and per-channel kernels (UnetNativeBatchNorm, UnetNativeBatchNormGrad')
    expect(info.kernels).toEqual(expect.arrayContaining(['UnetNativeBatchNorm', 'UnetNativeBatchNormGrad']))
    addon!.setThreads(1)
  }, 60_000)

  // Odd sizes; channel counts below, at and above oneDNN's 16-float vector, one not a multiple of 4.
  const shapes: Array<[number, number, number, number]> = [
    [2, 5, 3, 7],
    [3, 4, 6, 16],
    [1, 7, 5, 33],
    [4, 2, 2, 1],
  ]

  it('gives the same output, gradients (x, gamma, beta) and moving averages as the stock layer on cpu', async () => {
    calls.batchNormForward = 0
    calls.batchNormBackward = 0
    const before = tf.memory().numTensors
    const native = shapes.map((s) => trainPass(s))
    expect(tf.memory().numTensors).toBe(before)
    // Two training applies per case (the one differentiated, the one read), one backward pass.
    expect(calls).toEqual({ batchNormForward: 2 * shapes.length, batchNormBackward: shapes.length })
    await tf.setBackend('cpu')
    const reference = shapes.map((s) => trainPass(s))
    await tf.setBackend('wasm')
    for (const [i, shape] of shapes.entries()) {
      const n = native[i]!
      const ref = reference[i]!
      const where = JSON.stringify(shape)
      expect(maxDiff(n.y, ref.y), `y of ${where}`).toBeLessThan(2e-5)
      expect(maxDiff(n.dx, ref.dx), `dx of ${where}`).toBeLessThan(2e-5)
      expect(maxDiff(n.dGamma, ref.dGamma), `dgamma of ${where}`).toBeLessThan(2e-4)
      expect(maxDiff(n.dBeta, ref.dBeta), `dbeta of ${where}`).toBeLessThan(2e-4)
      expect(maxDiff(n.movingMean, ref.movingMean), `moving mean of ${where}`).toBeLessThan(1e-5)
      expect(maxDiff(n.movingVariance, ref.movingVariance), `moving variance of ${where}`).toBeLessThan(1e-5)
    }
  })

  it('leaves inference and inputs other than 4-D to the layer’s own code', () => {
    // (Without scale or center, tfjs-layers' own training path fails on its missing weight; it is left to it too.)
    calls.batchNormForward = 0
    const layer = tfl.layers.batchNormalization({})
    tf.tidy(() => {
      layer.apply(tf.ones([2, 3, 4, 5]), { training: false })
    })
    const flat = tfl.layers.batchNormalization({})
    tf.tidy(() => {
      flat.apply(tf.ones([6, 5]), { training: true })
    })
    expect(calls.batchNormForward).toBe(0)
    layer.dispose()
    flat.dispose()
  })

  it('differentiates through the batch mean and variance when a graph uses them', async () => {
    const shape: [number, number, number, number] = [2, 3, 5, 6]
    const f = (useNative: boolean) => {
      const x = tf.randomUniform(shape, -2, 2, 'float32', 5)
      const scale = tf.randomUniform([6], 0.5, 1.5, 'float32', 6)
      const offset = tf.randomUniform([6], -1, 1, 'float32', 7)
      const r = tf.randomUniform(shape, -1, 1, 'float32', 8)
      const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        let y: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor
        if (useNative) {
          ;[y, mean, variance] = tf.engine().runKernel(NATIVE_BATCH_NORM, { x: a, scale: g, offset: b }, { varianceEpsilon: 1e-3 } as never) as unknown as tf.Tensor[] as [tf.Tensor, tf.Tensor, tf.Tensor]
        } else {
          ;({ mean, variance } = tf.moments(a, [0, 1, 2]))
          y = tf.batchNorm(a, mean, variance, b, g, 1e-3)
        }
        return tf.add(tf.sum(tf.mul(y, r)), tf.add(tf.sum(tf.mul(mean, tf.linspace(1, 2, 6))), tf.sum(tf.mul(variance, tf.linspace(-1, 3, 6)))))
      }
      const grads = tf.grads((a, g, b) => loss(a!, g!, b!) as tf.Scalar)([x, scale, offset])
      return tf.tidy(() => grads.map((t) => t.dataSync() as Float32Array))
    }
    const native = f(true)
    await tf.setBackend('cpu')
    const reference = f(false)
    await tf.setBackend('wasm')
    for (const [i, name] of ['x', 'scale', 'offset'].entries()) expect(maxDiff(native[i]!, reference[i]!), name).toBeLessThan(1e-4)
  })

  it('trains a small conv + batch-norm net to the same weights as wasm without the native batch norm', async () => {
    const train = async () => {
      const init = (seed: number) => tfl.initializers.glorotUniform({ seed })
      const model = tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [12, 10, 3], filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }),
          tfl.layers.batchNormalization({}),
          tfl.layers.activation({ activation: 'relu' }),
          tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init(2) }),
        ],
      })
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'binaryCrossentropy' })
      const xs = tf.randomUniform([4, 12, 10, 3], 0, 1, 'float32', 9)
      const ys = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([4, 12, 10, 1], 0, 1, 'float32', 10), 0.5), 'float32'))
      await model.trainOnBatch(xs, ys)
      const before = tf.memory().numTensors
      for (let i = 0; i < 4; i++) await model.trainOnBatch(xs, ys)
      expect(tf.memory().numTensors).toBe(before)
      const weights = model.getWeights().map((w) => w.dataSync() as Float32Array)
      tf.dispose([xs, ys])
      model.dispose()
      return weights
    }
    calls.batchNormForward = 0
    const native = await train()
    expect(calls.batchNormForward).toBe(5)
    unregisterNativeConvKernels()
    try {
      const stock = await train()
      expect(calls.batchNormForward).toBe(5)
      for (const [i, w] of native.entries()) expect(maxDiff(w, stock[i]!), `weight ${i}`).toBeLessThan(1e-4)
    } finally {
      registerNativeConvKernels(counting!)
    }
  })

  it('registers the convolutions alone with an addon built before the batch-norm, ReLU and per-channel entry points', async () => {
    const old = { conv: addon!.conv.bind(addon), setThreads: (n: number) => addon!.setThreads(n), threads: () => addon!.threads() }
    unregisterNativeConvKernels()
    try {
      const start = await startNativeConv(async () => ({ loadNativeConv: () => old }), { OMP_NUM_THREADS: '1' }, 1)
      expect(start.kernels).toEqual([...NATIVE_CONV_KERNELS])
      expect(start.note).toMatch(/^\+ oneDNN native conv kernels \(Conv2D, FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter\) on \d+ threads? \(OMP_NUM_THREADS=1\)$/)
      expect(tf.getKernel(NATIVE_BATCH_NORM, 'wasm')).toBeUndefined()
      calls.batchNormForward = 0
      const run = trainPass([2, 3, 4, 5])
      expect(calls.batchNormForward).toBe(0) // the layer's own code, on wasm's kernels
      expect(run.y.length).toBe(120)
    } finally {
      unregisterNativeConvKernels()
      registerNativeConvKernels(counting!)
    }
    expect(tf.getKernel(NATIVE_BATCH_NORM, 'wasm')).toBeDefined()
  })
})
