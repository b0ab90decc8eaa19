import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'

import { startBackend } from '../backend'
import { reluFusableLayers } from '../kernels/batch-norm-relu'
import { TRAINING_BATCH_NORM_RELU } from '../kernels/batch-norm-train'

import { countingAddon } from './counting-addon'
import { NATIVE_BATCH_NORM_RELU } from './native-batch-norm'
import { registerNativeConvKernels } from './native-conv-kernels'

// batchNormReluWorkspace runs once per fused forward pass: its count is the number of batch norms that fused.
const { addon, calls, counting, environment } = countingAddon('native batch norm + ReLU', ['batchNormForward', 'batchNormBackward', 'batchNormReluWorkspace'])

const init = (seed: number) => tfl.initializers.glorotUniform({ seed })
const conv = (filters: number, seed: number, name?: string) =>
  tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(seed), ...(name === undefined ? {} : { name }) })
const bn = (name?: string) =>
  tfl.layers.batchNormalization({
    betaInitializer: tfl.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 7 }),
    ...(name === undefined ? {} : { name }),
  })
const relu = () => tfl.layers.activation({ activation: 'relu' })
const head = () => tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init(9) })

/** conv → BN → ReLU → conv → BN → ReLU → 1×1 sigmoid, functional. */
function chain(): tfl.LayersModel {
  const input = tfl.input({ shape: [12, 10, 3] })
  let x = relu().apply(bn().apply(conv(8, 1).apply(input))) as tfl.SymbolicTensor
  x = relu().apply(bn().apply(conv(8, 2).apply(x))) as tfl.SymbolicTensor
  return tfl.model({ inputs: input, outputs: head().apply(x) as tfl.SymbolicTensor })
}

function data(): { xs: tf.Tensor; ys: tf.Tensor } {
  return tf.tidy(() => ({
    xs: tf.randomUniform([4, 12, 10, 3], 0, 1, 'float32', 9),
    ys: tf.cast(tf.greater(tf.randomUniform([4, 12, 10, 1], 0, 1, 'float32', 10), 0.5), 'float32'),
  }))
}

/** Trains `model` `steps` steps with trainOnBatch; its weights after, and how many batch norms fused per step. */
async function train(model: tfl.LayersModel, steps = 4): Promise<{ weights: Float32Array[]; fusedPerStep: number }> {
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'binaryCrossentropy' })
  const { xs, ys } = data()
  await model.trainOnBatch(xs, ys)
  const before = tf.memory().numTensors
  calls.batchNormReluWorkspace = 0
  for (let i = 0; i < steps; i++) await model.trainOnBatch(xs, ys)
  const fusedPerStep = calls.batchNormReluWorkspace / steps
  expect(tf.memory().numTensors).toBe(before)
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array)
  tf.dispose([xs, ys])
  model.dispose()
  return { weights, fusedPerStep }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

/** Runs `run` with the fused kernels (oneDNN's and wasm's) unregistered: every batch norm then runs alone and the ReLU layer after it. */
async function unfused<T>(run: () => Promise<T>): Promise<T> {
  const configs = [NATIVE_BATCH_NORM_RELU, TRAINING_BATCH_NORM_RELU].map((name) => tf.getKernel(name, 'wasm')!)
  for (const config of configs) tf.unregisterKernel(config.kernelName, 'wasm')
  try {
    return await run()
  } finally {
    for (const config of configs) tf.registerKernel(config)
  }
}

describe.skipIf(addon === null)('oneDNN batch norm + ReLU in one pass (training)', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    await startBackend({ backend: 'wasm', threads: 1 }, environment)
    registerNativeConvKernels(counting!)
    expect(tf.getKernel(NATIVE_BATCH_NORM_RELU, 'wasm')).toBeDefined()
  }, 60_000)

  it('fuses each batch norm that only a ReLU reads, and trains to the weights of the unfused layers', async () => {
    const fused = await train(chain())
    expect(fused.fusedPerStep).toBe(2)
    const plain = await unfused(() => train(chain()))
    expect(plain.fusedPerStep).toBe(0)
    for (const [i, w] of fused.weights.entries()) expect(maxDiff(w, plain.weights[i]!), `weight ${i}`).toBeLessThan(1e-6)
  })

  it('fuses in a Sequential model and in a model nested in another', async () => {
    const sequential = () => tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [12, 10, 3] }), conv(8, 1), bn(), relu(), head()] })
    const seq = await train(sequential())
    expect(seq.fusedPerStep).toBe(1)
    const seqPlain = await unfused(() => train(sequential()))
    for (const [i, w] of seq.weights.entries()) expect(maxDiff(w, seqPlain.weights[i]!), `weight ${i}`).toBeLessThan(1e-6)

    const nested = () => {
      const innerInput = tfl.input({ shape: [12, 10, 3] })
      const inner = tfl.model({ inputs: innerInput, outputs: relu().apply(bn().apply(conv(8, 1).apply(innerInput))) as tfl.SymbolicTensor })
      const input = tfl.input({ shape: [12, 10, 3] })
      return tfl.model({ inputs: input, outputs: head().apply(inner.apply(input)) as tfl.SymbolicTensor })
    }
    const nest = await train(nested())
    expect(nest.fusedPerStep).toBe(1)
    const nestPlain = await unfused(() => train(nested()))
    for (const [i, w] of nest.weights.entries()) expect(maxDiff(w, nestPlain.weights[i]!), `weight ${i}`).toBeLessThan(1e-6)
  })

  it('leaves a batch norm alone when its output is also a model output or has another reader', async () => {
    // A model output: the loss reads the batch norm's own values, negatives included.
    const input = tfl.input({ shape: [12, 10, 3] })
    const normed = bn('fetched_bn').apply(conv(4, 1).apply(input)) as tfl.SymbolicTensor
    const twoOutputs = tfl.model({ inputs: input, outputs: [head().apply(relu().apply(normed)) as tfl.SymbolicTensor, normed] })
    expect(reluFusableLayers(twoOutputs as never).size).toBe(0)
    const { xs } = data()
    calls.batchNormReluWorkspace = 0
    const out = tf.tidy(() => tf.min((twoOutputs.apply(xs, { training: true }) as tf.Tensor[])[1]!).dataSync()[0]!)
    expect(calls.batchNormReluWorkspace).toBe(0)
    expect(out).toBeLessThan(0)

    // Two readers: the ReLU and an add.
    const input2 = tfl.input({ shape: [12, 10, 3] })
    const c = conv(4, 1).apply(input2) as tfl.SymbolicTensor
    const n2 = bn().apply(c) as tfl.SymbolicTensor
    const shared = tfl.model({ inputs: input2, outputs: head().apply(tfl.layers.add().apply([relu().apply(n2) as tfl.SymbolicTensor, n2])) as tfl.SymbolicTensor })
    expect(reluFusableLayers(shared as never).size).toBe(0)
    expect((await train(shared, 1)).fusedPerStep).toBe(0)

    // A sub-model that fetches a fused model's batch norm: not fused there, fused in the model that hides it.
    const full = chain()
    const firstBn = full.layers.find((l) => l.getClassName() === 'BatchNormalization')!
    const sub = tfl.model({ inputs: full.inputs, outputs: firstBn.output as tfl.SymbolicTensor })
    expect(reluFusableLayers(full as never).has(firstBn as never)).toBe(true)
    expect(reluFusableLayers(sub as never).size).toBe(0)
    calls.batchNormReluWorkspace = 0
    const subMin = tf.tidy(() => tf.min(sub.apply(xs, { training: true }) as tf.Tensor).dataSync()[0]!)
    expect(calls.batchNormReluWorkspace).toBe(0)
    expect(subMin).toBeLessThan(0)
    tf.dispose(xs)
    full.dispose()
    twoOutputs.dispose()
  })

  it('gives the gradients of the unfused layers through model.apply(…, { training: true }) (the multi-output loop)', async () => {
    const grads = async () => {
      const model = chain()
      const { xs } = data()
      calls.batchNormReluWorkspace = 0
      const weights = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val)
      const { grads: g } = tf.variableGrads(() => tf.mean(model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar, weights)
      const fusedCount = calls.batchNormReluWorkspace
      const values = weights.map((w) => g[w.name]!.dataSync() as Float32Array)
      tf.dispose([xs, ...Object.values(g)])
      model.dispose()
      return { values, fusedCount }
    }
    const fused = await grads()
    expect(fused.fusedCount).toBe(2)
    const plain = await unfused(grads)
    expect(plain.fusedCount).toBe(0)
    for (const [i, v] of fused.values.entries()) expect(maxDiff(v, plain.values[i]!), `gradient ${i}`).toBeLessThan(1e-6)
  })

  it('runs the ReLU layer itself at inference', () => {
    const model = chain()
    const { xs } = data()
    calls.batchNormReluWorkspace = 0
    calls.batchNormForward = 0
    tf.tidy(() => model.predict(xs))
    expect(calls.batchNormReluWorkspace + calls.batchNormForward).toBe(0)
    tf.dispose(xs)
    model.dispose()
  })
})
