import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import '@tensorflow/tfjs-backend-cpu'
import { seededRandom } from '@unet/testing'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { InferenceModelError } from './errors'
import { createInferenceModel, inferencePlan } from './inference'
import { loadModel, saveModel } from './io'

type S = tfl.SymbolicTensor

let dir: string
beforeAll(async () => {
  await tf.setBackend('cpu')
  dir = mkdtempSync(join(tmpdir(), 'unet-runtime-inference-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Gives every weight of the model seeded random values, batch-norm statistics far from 0 and 1 included. */
function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  const next = seededRandom(seed)
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[]
      const size = shape.reduce((a, b) => a * b, 1)
      const kind = w.originalName.slice(w.originalName.lastIndexOf('/') + 1)
      const data = Float32Array.from({ length: size }, () => {
        const u = next()
        if (kind === 'moving_variance') return 0.05 + 3 * u
        if (kind === 'gamma') return 0.3 + 1.5 * u
        if (kind === 'moving_mean' || kind === 'beta') return 2 * u - 1
        return (2 * u - 1) * 0.4
      })
      return tf.tensor(data, shape)
    })
    layer.setWeights(values)
    tf.dispose(values)
  }
}

function image(shape: number[], seed: number): tf.Tensor {
  const next = seededRandom(seed)
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1), shape)
}

/** Largest absolute difference between the two models' predictions on `x`, and the largest output. */
function compare(a: tfl.LayersModel, b: tfl.LayersModel, x: tf.Tensor): { diff: number; scale: number } {
  return tf.tidy(() => {
    const ya = [a.predict(x)].flat() as tf.Tensor[]
    const yb = [b.predict(x)].flat() as tf.Tensor[]
    expect(yb.map((t) => t.shape)).toEqual(ya.map((t) => t.shape))
    let diff = 0
    let scale = 0
    ya.forEach((t, i) => {
      diff = Math.max(diff, tf.max(tf.abs(tf.sub(t, yb[i]!))).dataSync()[0]!)
      scale = Math.max(scale, tf.max(tf.abs(t)).dataSync()[0]!)
    })
    return { diff, scale }
  })
}

function classNames(model: tfl.LayersModel): string[] {
  return model.layers.map((l) => l.getClassName())
}

/** The U-Net pattern: conv → BN → ReLU twice per level, pooling, a transposed conv up, a skip, a sigmoid. */
function unetWithBatchNorm(): tfl.LayersModel {
  const input = tfl.input({ shape: [12, 10, 3] })
  const block = (x: S, filters: number, name: string): S => {
    for (const i of [1, 2]) {
      x = tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, name: `${name}_conv${i}` }).apply(x) as S
      x = tfl.layers.batchNormalization({ name: `${name}_bn${i}` }).apply(x) as S
      x = tfl.layers.activation({ activation: 'relu', name: `${name}_relu${i}` }).apply(x) as S
    }
    return x
  }
  const skip = block(input, 5, 'enc1')
  let x = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(skip) as S
  x = block(x, 7, 'mid')
  x = tfl.layers.conv2dTranspose({ filters: 5, kernelSize: 2, strides: 2, padding: 'same', name: 'up' }).apply(x) as S
  x = tfl.layers.batchNormalization({ name: 'up_bn' }).apply(x) as S
  x = tfl.layers.activation({ activation: 'relu', name: 'up_relu' }).apply(x) as S
  x = tfl.layers.concatenate({ name: 'concat' }).apply([x, skip]) as S
  x = block(x, 5, 'dec1')
  const out = tfl.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'sigmoid', name: 'head' }).apply(x) as S
  return tfl.model({ inputs: input, outputs: out })
}

/**
 * A residual graph with every case that must be left alone: a conv read by two batch norms, a batch norm after
 * an `add`, a batch norm after a conv with its own activation, a conv whose output also feeds a skip; and
 * cases that fold: depthwise conv + BN, a bias-carrying conv + BN + ReLU layer, a conv + ReLU without BN.
 */
function residualGraph(): tfl.LayersModel {
  const input = tfl.input({ shape: [9, 11, 4] })
  const stem = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'stem' }).apply(input) as S
  const bnA = tfl.layers.batchNormalization({ name: 'two_bn_a' }).apply(stem) as S
  const bnB = tfl.layers.batchNormalization({ name: 'two_bn_b', center: false }).apply(stem) as S
  const added = tfl.layers.add({ name: 'add' }).apply([bnA, bnB]) as S
  const afterAdd = tfl.layers.batchNormalization({ name: 'bn_after_add' }).apply(added) as S
  let r = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'res_conv' }).apply(afterAdd) as S
  r = tfl.layers.batchNormalization({ name: 'res_bn', scale: false }).apply(r) as S
  r = tfl.layers.reLU({ name: 'res_relu' }).apply(r) as S
  const sum = tfl.layers.add({ name: 'res_add' }).apply([r, afterAdd]) as S
  const dw = tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: false, name: 'dw' }).apply(sum) as S
  const dwBn = tfl.layers.batchNormalization({ name: 'dw_bn' }).apply(dw) as S
  const act = tfl.layers.conv2d({ filters: 5, kernelSize: 1, activation: 'tanh', name: 'tanh_conv' }).apply(dwBn) as S
  const actBn = tfl.layers.batchNormalization({ name: 'bn_after_tanh' }).apply(act) as S
  const shared = tfl.layers.conv2d({ filters: 5, kernelSize: 1, name: 'shared_out' }).apply(actBn) as S
  const sharedBn = tfl.layers.batchNormalization({ name: 'bn_of_shared' }).apply(shared) as S
  const plain = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'plain' }).apply(sharedBn) as S
  const plainRelu = tfl.layers.activation({ activation: 'relu', name: 'plain_relu' }).apply(plain) as S
  const cat = tfl.layers.concatenate({ name: 'cat' }).apply([plainRelu, shared]) as S
  const head = tfl.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', name: 'head' }).apply(cat) as S
  return tfl.model({ inputs: input, outputs: [head, sum] })
}

describe('createInferenceModel', () => {
  it('folds every batch norm and ReLU of a U-Net into its convolutions, outputs within 1e-5', async () => {
    const model = unetWithBatchNorm()
    randomizeWeights(model, 3)
    const x = image([2, 12, 10, 3], 4)
    const before = tf.memory().numTensors
    const fast = await createInferenceModel(model)
    expect(classNames(fast)).not.toContain('BatchNormalization')
    expect(classNames(fast)).not.toContain('Activation')
    expect(fast.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => (l.getConfig() as { activation: string }).activation)).toEqual([
      'relu', 'relu', 'relu', 'relu', 'relu', 'relu', 'sigmoid',
    ])
    expect((fast.getLayer('up').getConfig() as { activation: string }).activation).toBe('relu')
    const { diff } = compare(model, fast, x)
    expect(diff).toBeLessThan(1e-5)
    // Not a trivially equal pair: the batch norms do change the output.
    expect(inferencePlan(model).folds).toHaveLength(7)
    fast.dispose()
    expect(tf.memory().numTensors).toBe(before)
    // The original is untouched and still works after the copy is gone.
    const y = model.predict(x) as tf.Tensor
    expect(y.shape).toEqual([2, 12, 10, 2])
    tf.dispose([x, y])
    model.dispose()
  })

  it('leaves alone batch norms it cannot fold and keeps the residual graph exact', async () => {
    const model = residualGraph()
    randomizeWeights(model, 5)
    const plan = inferencePlan(model)
    expect(plan.folds).toEqual([
      { conv: 'res_conv', batchNorm: 'res_bn', relu: 'res_relu' },
      { conv: 'dw', batchNorm: 'dw_bn' },
      { conv: 'plain', relu: 'plain_relu' },
    ])
    expect(Object.fromEntries(plan.keptBatchNorms.map((k) => [k.layer, k.reason]))).toEqual({
      two_bn_a: expect.stringContaining("'stem' is also read elsewhere"),
      two_bn_b: expect.stringContaining("'stem' is also read elsewhere"),
      bn_after_add: expect.stringContaining("'add' (Add), not a convolution"),
      bn_after_tanh: expect.stringContaining("applies 'tanh'"),
      bn_of_shared: expect.stringContaining("'shared_out' is also read elsewhere"),
    })
    const fast = await createInferenceModel(model)
    const names = fast.layers.map((l) => l.name)
    for (const gone of ['res_bn', 'res_relu', 'dw_bn', 'plain_relu']) expect(names).not.toContain(gone)
    for (const kept of ['two_bn_a', 'two_bn_b', 'bn_after_add', 'bn_after_tanh', 'bn_of_shared', 'add', 'res_add', 'cat']) expect(names).toContain(kept)
    const x = image([3, 9, 11, 4], 6)
    const { diff, scale } = compare(model, fast, x)
    expect(scale).toBeGreaterThan(0.5)
    expect(diff).toBeLessThan(1e-5 * Math.max(1, scale))
    tf.dispose(x)
    fast.dispose()
    model.dispose()
  })

  it('folds a sequential model too, separable convolutions included; a leading batch norm stays', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.batchNormalization({ inputShape: [7, 7, 2] }),
        tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }),
        tfl.layers.batchNormalization(),
        tfl.layers.activation({ activation: 'relu' }),
        // depthMultiplier stays 1: tfjs-layers 4.22 does not serialize it, so no saved SeparableConv2D can have another.
        tfl.layers.separableConv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false }),
        tfl.layers.batchNormalization(),
        tfl.layers.conv2d({ filters: 1, kernelSize: 3, activation: 'sigmoid' }),
      ],
    })
    randomizeWeights(model, 8)
    expect(inferencePlan(model).keptBatchNorms.map((k) => k.reason)).toEqual(['its input comes from the model input, not a convolution'])
    const fast = await createInferenceModel(model)
    expect(classNames(fast)).toEqual(['BatchNormalization', 'Conv2D', 'SeparableConv2D', 'Conv2D'])
    const x = image([2, 7, 7, 2], 9)
    expect(compare(model, fast, x).diff).toBeLessThan(1e-5)
    tf.dispose(x)
    fast.dispose()
    model.dispose()
  })

  it('saves in the standard layers format with standard layers only, and loads back the same', async () => {
    const model = unetWithBatchNorm()
    randomizeWeights(model, 11)
    const fast = await createInferenceModel(model)
    const target = join(dir, 'inference')
    await saveModel(fast, target)
    const json = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8')) as { modelTopology: { config: { layers: Array<{ class_name: string }> } } }
    const stored = new Set(json.modelTopology.config.layers.map((l) => l.class_name))
    expect([...stored].sort()).toEqual(['Concatenate', 'Conv2D', 'Conv2DTranspose', 'InputLayer', 'MaxPooling2D'])
    const again = await loadModel(target)
    const x = image([1, 12, 10, 3], 12)
    expect(compare(model, again, x).diff).toBeLessThan(1e-5)
    tf.dispose(x)
    for (const m of [model, fast, again]) m.dispose()
  })

  it('rejects what is not a layers model', async () => {
    await expect(createInferenceModel({} as tfl.LayersModel)).rejects.toThrow(InferenceModelError)
    expect(() => inferencePlan(null as unknown as tfl.LayersModel)).toThrow(/expected a tfjs LayersModel/)
  })
})
