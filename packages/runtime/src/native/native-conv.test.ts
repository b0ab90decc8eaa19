import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { loadNativeConv, nativeConvReason } from '@unet/runtime-native'
import { beforeAll, describe, expect, it } from 'vitest'

import { startBackend, type BackendEnvironment } from '../backend'

const addon = loadNativeConv()
if (addon === null) {
  console.warn(`[@unet/runtime native tests] skipped: ${nativeConvReason()}`)
}

/** Calls of the addon by op (0 forward, 1 input gradient, 2 filter gradient): proves the kernels ran natively. */
const calls = [0, 0, 0]
/** Forward calls with a fused bias or ReLU. */
let fusedCalls = 0
const counting = addon && {
  ...addon,
  conv: (op: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, geometry: readonly number[], bias?: Float32Array | null, relu?: boolean) => {
    calls[op]! += 1
    if (bias != null || relu === true) fusedCalls++
    addon.conv(op, a, b, out, geometry, bias, relu)
  },
  setThreads: (n: number) => addon.setThreads(n),
  threads: () => addon.threads(),
}

const environment: BackendEnvironment = {
  env: {},
  cores: 2,
  load: 0,
  importModule: async (name: string) => {
    if (name === '@unet/runtime-native') return { loadNativeConv: () => counting, nativeConvReason }
    throw Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' })
  },
}

interface Case {
  n: number
  h: number
  w: number
  ci: number
  co: number
  k: number
  s: number
  pad: 'same' | 'valid'
}

const cases: Case[] = [
  { n: 2, h: 7, w: 9, ci: 3, co: 5, k: 3, s: 1, pad: 'same' },
  { n: 1, h: 8, w: 8, ci: 4, co: 8, k: 3, s: 1, pad: 'valid' },
  { n: 2, h: 9, w: 7, ci: 3, co: 4, k: 3, s: 2, pad: 'same' },
  { n: 1, h: 9, w: 11, ci: 2, co: 3, k: 3, s: 2, pad: 'valid' },
  { n: 2, h: 6, w: 6, ci: 8, co: 4, k: 2, s: 2, pad: 'same' },
  { n: 1, h: 5, w: 5, ci: 16, co: 1, k: 1, s: 1, pad: 'same' },
]

/** Forward, input gradient and filter gradient of one case on the active backend. */
function run(c: Case): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.randomUniform([c.n, c.h, c.w, c.ci], -1, 1, 'float32', 1) as tf.Tensor4D
    const w = tf.randomUniform([c.k, c.k, c.ci, c.co], -1, 1, 'float32', 2) as tf.Tensor4D
    const y = tf.conv2d(x, w, c.s, c.pad)
    const dy = tf.randomUniform(y.shape, -1, 1, 'float32', 3) as tf.Tensor4D
    const dx = tf.conv2dTranspose(dy, w, x.shape, c.s, c.pad) // Conv2DBackpropInput
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [c.s, c.s], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: w.shape } as never) as tf.Tensor
    return [y, dx, dw].map((t) => t.dataSync() as Float32Array)
  })
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

// Generous timeouts: on a 2-core machine kept busy by other test runs, two thread pools (wasm's and OpenMP's)
// that wait for each other can take 10× their quiet time.
describe.skipIf(addon === null)('oneDNN conv kernels on wasm (threaded build: the heap is a SharedArrayBuffer)', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    const info = await startBackend({ backend: 'wasm', threads: 2 }, environment)
    expect(info.native).toBe(true)
    expect(info.reason).toContain('+ oneDNN native conv kernels (Conv2D, FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter)')
    expect(info.kernels).toEqual(expect.arrayContaining(['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput']))
    expect(info.reason).toContain('on 2 threads (as many as wasm)')
    // The shared heap needs wasm's 2 threads; oneDNN's need not spin beside them on a busy test machine.
    addon!.setThreads(1)
  }, 60_000)

  it('runs on a SharedArrayBuffer heap', () => {
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }
    // The 2-thread build started (it does on any Node ≥ 20 with SIMD); then the heap is shared.
    expect(backend.wasm.HEAPU8.buffer).toBeInstanceOf(SharedArrayBuffer)
  })

  it('agrees with the cpu backend: forward, input gradient, filter gradient; strides 1 and 2, same and valid, odd sizes', async () => {
    calls.fill(0)
    const native: Float32Array[][] = cases.map(run)
    expect(calls).toEqual([cases.length, cases.length, cases.length])
    await tf.setBackend('cpu')
    const reference = cases.map(run)
    await tf.setBackend('wasm')
    for (const [i, c] of cases.entries()) {
      for (const [op, name] of ['forward', 'input gradient', 'filter gradient'].entries()) {
        const tolerance = 1e-4 * Math.max(1, c.k * c.k * Math.max(c.ci, c.co))
        expect(maxDiff(native[i]![op]!, reference[i]![op]!), `${name} of ${JSON.stringify(c)}`).toBeLessThan(tolerance)
      }
    }
  })

  it('runs FusedConv2D with bias and ReLU as one oneDNN call, as the cpu backend computes it; other activations go to wasm', async () => {
    const fusedCases: Array<Case & { bias: boolean; activation: 'relu' | 'linear' | 'elu' }> = [
      { ...cases[0]!, bias: true, activation: 'relu' },
      { ...cases[2]!, bias: true, activation: 'linear' },
      { ...cases[3]!, bias: false, activation: 'relu' },
      { ...cases[4]!, bias: true, activation: 'relu' },
      { ...cases[1]!, bias: true, activation: 'elu' },
    ]
    const runFused = () =>
      fusedCases.map((c) =>
        tf.tidy(() => {
          const x = tf.randomUniform([c.n, c.h, c.w, c.ci], -1, 1, 'float32', 4) as tf.Tensor4D
          const filter = tf.randomUniform([c.k, c.k, c.ci, c.co], -1, 1, 'float32', 5) as tf.Tensor4D
          const bias = c.bias ? (tf.randomUniform([c.co], -1, 1, 'float32', 6) as tf.Tensor1D) : undefined
          return tf.fused.conv2d({ x, filter, bias, strides: c.s, pad: c.pad, activation: c.activation }).dataSync() as Float32Array
        }),
      )
    calls.fill(0)
    fusedCalls = 0
    const before = tf.memory().numTensors
    const onWasm = runFused()
    expect(tf.memory().numTensors).toBe(before)
    // Four natively, each with its bias or ReLU fused; elu is not a oneDNN post-op here, so wasm's kernel computes it.
    expect(calls[0]).toBe(4)
    expect(fusedCalls).toBe(4)
    await tf.setBackend('cpu')
    const onCpu = runFused()
    await tf.setBackend('wasm')
    for (const [i, c] of fusedCases.entries()) {
      expect(maxDiff(onWasm[i]!, onCpu[i]!), JSON.stringify(c)).toBeLessThan(1e-4 * c.k * c.k * c.ci)
      if (c.activation === 'relu') expect(Math.min(...onWasm[i]!)).toBe(0)
    }
  })

  it('predicts with a folded inference model (fused conv + bias + ReLU) as the original model does on cpu', async () => {
    const input = tfl.input({ shape: [10, 14, 3] })
    let x = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tfl.SymbolicTensor
    x = tfl.layers.batchNormalization({ betaInitializer: 'ones', movingMeanInitializer: tfl.initializers.constant({ value: 0.3 }), movingVarianceInitializer: tfl.initializers.constant({ value: 2 }) }).apply(x) as tfl.SymbolicTensor
    x = tfl.layers.activation({ activation: 'relu' }).apply(x) as tfl.SymbolicTensor
    x = tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tfl.SymbolicTensor
    const model = tfl.model({ inputs: input, outputs: x })
    const images = tf.randomUniform([2, 10, 14, 3], -1, 1, 'float32', 9)
    const { createInferenceModel } = await import('../inference')
    const fast = await createInferenceModel(model)
    fusedCalls = 0
    const onWasm = tf.tidy(() => (fast.predict(images) as tf.Tensor).dataSync() as Float32Array)
    expect(fusedCalls).toBe(2) // conv + bias + relu, and the sigmoid head's conv + bias
    await tf.setBackend('cpu')
    const onCpu = tf.tidy(() => (model.predict(images) as tf.Tensor).dataSync() as Float32Array)
    await tf.setBackend('wasm')
    expect(maxDiff(onWasm, onCpu)).toBeLessThan(1e-5)
    tf.dispose(images)
    fast.dispose()
    model.dispose()
  })

  it('trains a small conv net with falling loss and no tensor leaks', async () => {
    // Seeded initial weights: the same run every time.
    const init = (seed: number) => tfl.initializers.glorotUniform({ seed })
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [16, 16, 1], filters: 8, kernelSize: 3, padding: 'same', useBias: false, activation: 'relu', kernelInitializer: init(1) }),
        tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, activation: 'relu', kernelInitializer: init(2) }),
        tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 2, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(3) }),
        tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init(4) }),
      ],
    })
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy' })
    const xs = tf.randomUniform([8, 16, 16, 1], 0, 1, 'float32', 7)
    const ys = tf.tidy(() => tf.cast(tf.greater(xs, 0.5), 'float32'))
    await model.trainOnBatch(xs, ys) // optimizer state
    const before = tf.memory().numTensors
    const losses: number[] = []
    for (let i = 0; i < 15; i++) losses.push(Number(await model.trainOnBatch(xs, ys)))
    expect(tf.memory().numTensors).toBe(before)
    // Falling: each stretch of five steps ends lower than the one before, and the last well below the first.
    const means = [0, 5, 10].map((i) => losses.slice(i, i + 5).reduce((x, y) => x + y, 0) / 5)
    for (let i = 1; i < means.length; i++) expect(means[i]!, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`).toBeLessThan(means[i - 1]!)
    expect(losses[losses.length - 1]!).toBeLessThan(0.85 * losses[0]!)
    tf.dispose([xs, ys])
    model.dispose()
  })
})
