import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import * as tfl from '@tensorflow/tfjs-layers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { patchConvLayerInputGradient, unpatchConvLayerInputGradient } from './conv-layer'
import { registerWasmTrainingKernels } from './index'

const SIZE = 12
const BATCH = 3

/** conv (no bias, the model's input) → BN → ReLU → conv (no bias) → BN → ReLU → 1 × 1 conv with bias → sigmoid. */
function model(): tfl.LayersModel {
  const input = tfl.input({ shape: [SIZE, SIZE, 1] })
  let x = input as tfl.SymbolicTensor
  for (let i = 0; i < 2; i++) {
    x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 11 + i }) }).apply(x) as tfl.SymbolicTensor
    x = tfl.layers.batchNormalization().apply(x) as tfl.SymbolicTensor
    x = tfl.layers.activation({ activation: 'relu' }).apply(x) as tfl.SymbolicTensor
  }
  const out = tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: tfl.initializers.glorotUniform({ seed: 13 }) }).apply(x) as tfl.SymbolicTensor
  const m = tfl.model({ inputs: input, outputs: out })
  m.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy' })
  return m
}

const images = () => tf.tidy(() => tf.randomUniform([BATCH, SIZE, SIZE, 1], -1, 1, 'float32', 5))
const masks = () => tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([BATCH, SIZE, SIZE, 1], 0, 1, 'float32', 6), 0.6), 'float32'))

/** Kernels one training step runs, and the weights after three steps from the same start. */
async function train(): Promise<{ kernels: Array<{ name: string; out: number[] }>; weights: Float32Array[] }> {
  const m = model()
  const [xs, ys] = [images(), masks()]
  const profile = await tf.profile(async () => {
    await m.trainOnBatch(xs, ys)
  })
  await m.trainOnBatch(xs, ys)
  await m.trainOnBatch(xs, ys)
  const weights = m.getWeights().map((w) => w.dataSync() as Float32Array)
  m.dispose()
  tf.dispose([xs, ys])
  return { kernels: profile.kernels.map((k) => ({ name: k.name, out: (k.outputShapes[0] ?? []) as number[] })), weights }
}

/** The input gradient of a convolution's: a `Conv2DBackpropInput` whose output has the model input's shape. */
const inputGradients = (kernels: Array<{ name: string; out: number[] }>) =>
  kernels.filter((k) => k.name === 'Conv2DBackpropInput' && k.out.join() === [BATCH, SIZE, SIZE, 1].join()).length

describe("Conv2D layers on the model's input train without the input gradient nothing reads", () => {
  beforeAll(async () => {
    await tf.setBackend('wasm')
    registerWasmTrainingKernels()
  })
  afterAll(() => {
    patchConvLayerInputGradient()
  })

  it("skips dL/d(image) and trains the weights bit for bit as the layer's own call does", async () => {
    expect(patchConvLayerInputGradient()).toBe(true)
    const patched = await train()
    unpatchConvLayerInputGradient()
    const stock = await train()
    patchConvLayerInputGradient()

    expect(inputGradients(stock.kernels)).toBe(1)
    expect(inputGradients(patched.kernels)).toBe(0)
    // The first convolution ran as Conv2D, the second (whose input gradient is read) still as FusedConv2D.
    expect(patched.kernels.filter((k) => k.name === 'Conv2D').map((k) => k.out)).toEqual([[BATCH, SIZE, SIZE, 4]])
    expect(stock.kernels.filter((k) => k.name === 'Conv2D')).toEqual([])
    expect(patched.kernels.filter((k) => k.name === 'FusedConv2D').length).toBe(stock.kernels.filter((k) => k.name === 'FusedConv2D').length - 1)
    expect(patched.weights.length).toBe(stock.weights.length)
    patched.weights.forEach((w, i) => expect(w).toEqual(stock.weights[i]))
  })

  it('still computes an input gradient that is asked for, the same as before', () => {
    const m = model()
    const x = images()
    const gradient = () => tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(m.apply(v, { training: true }) as tf.Tensor))(x).dataSync() as Float32Array)
    const patched = gradient()
    unpatchConvLayerInputGradient()
    const stock = gradient()
    patchConvLayerInputGradient()
    expect(patched.some((v) => v !== 0)).toBe(true)
    expect(patched).toEqual(stock)
    m.dispose()
    x.dispose()
  })

  it("leaves inference, and other backends, to the layer's own call", async () => {
    const m = model()
    const x = images()
    const wasm = await tf.profile(() => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync()))
    expect(wasm.kernels.filter((k) => k.name === 'Conv2D')).toEqual([])
    expect(wasm.kernels.filter((k) => k.name === 'FusedConv2D').length).toBe(3)
    const weights = m.getWeights().map((w) => w.dataSync())
    await tf.setBackend('cpu')
    try {
      const c = model()
      c.setWeights(weights.map((w, i) => tf.tensor(w, m.getWeights()[i]!.shape)))
      const cx = images()
      const ys = masks()
      const cpu = await tf.profile(async () => {
        await c.trainOnBatch(cx, ys)
      })
      expect(cpu.kernels.filter((k) => k.name === 'Conv2D')).toEqual([])
      expect(inputGradients(cpu.kernels.map((k) => ({ name: k.name, out: (k.outputShapes[0] ?? []) as number[] })))).toBe(1)
      c.dispose()
      tf.dispose([cx, ys])
    } finally {
      await tf.setBackend('wasm')
    }
    m.dispose()
    x.dispose()
  })

  it('patches once, and unpatches to the inherited call', () => {
    const proto = (tf.serialization.SerializationMap.getMap().classNameMap.Conv2D as unknown as [{ prototype: object }])[0].prototype
    expect(patchConvLayerInputGradient()).toBe(true)
    const patchedCall = (proto as { call: unknown }).call
    expect(patchConvLayerInputGradient()).toBe(true)
    expect((proto as { call: unknown }).call).toBe(patchedCall)
    unpatchConvLayerInputGradient()
    expect(Object.prototype.hasOwnProperty.call(proto, 'call')).toBe(false)
    patchConvLayerInputGradient()
    expect(Object.prototype.hasOwnProperty.call(proto, 'call')).toBe(true)
  })
})
