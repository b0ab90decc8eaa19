import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import type * as tfl from '@tensorflow/tfjs-layers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEncoder } from './encoder'
import { ResnetEncoderError } from './errors'
import { loadEncoderWeights } from './load-weights'
import { pattern } from './test-helpers'

// made by fixtures/make-fixtures.py with h5py: classification_models' seresnet18 layout; array k holds pattern(k, i)
// at its first 8 elements (fewer in short arrays) and k / 1000 elsewhere, always in the last (|…| + 1 for moving variances)
const fixture = new URL('../fixtures/seresnet18-pattern-cm.h5', import.meta.url)
let model: tfl.LayersModel

beforeAll(async () => {
  await tf.setBackend('cpu')
  model = createEncoder('seresnet18', { inputShape: [32, 32, 3], topology: 'classification_models' })
})
afterAll(() => model.dispose())

/** The file index k of the array now in a weight (from its tail), after checking its head holds pattern(k, ·). */
function arrayIndex(layer: string, i: number): number {
  const weight = model.getLayer(layer).weights[i]!
  const values = weight.read().dataSync()
  const variance = weight.originalName.endsWith('moving_variance')
  const k = Math.round((variance ? values[values.length - 1]! - 1 : values[values.length - 1]!) * 1000)
  const head = Array.from(values.slice(0, Math.min(8, values.length - 1)))
  expect(head, `${layer} weight ${i}`).toEqual(head.map((_, j) => (variance ? Math.fround(Math.abs(pattern(k, j)) + 1) : pattern(k, j))))
  return k
}

async function failure(target: tfl.LayersModel): Promise<ResnetEncoderError> {
  try {
    await loadEncoderWeights(target, fixture)
  } catch (error) {
    expect(error).toBeInstanceOf(ResnetEncoderError)
    return error as ResnetEncoderError
  }
  throw new Error('loadEncoderWeights did not throw')
}

describe("loadEncoderWeights from classification_models' Keras h5", () => {
  it('fills the pre-activation network by layer name, and the unnamed SE convolutions in order', async () => {
    const result = await loadEncoderWeights(model, fixture)
    expect(result.format).toBe('keras-h5')
    // bn_data, conv0, bn0; per unit bn1 conv1 bn2 conv2; sc in the first unit of each stage; two SE convolutions per unit; bn1
    expect(result.loaded).toHaveLength(3 + 8 * 4 + 4 + 8 * 2 + 1)
    expect([0, 1, 2].map((i) => arrayIndex('bn_data', i))).toEqual([0, 1, 2]) // beta, moving mean, moving variance: no gamma
    expect(arrayIndex('conv0', 0)).toBe(3)
    const se: number[] = []
    for (const stage of [1, 2, 3, 4]) {
      for (const unit of [1, 2]) {
        for (const fc of ['fc1', 'fc2']) {
          const k = arrayIndex(`stage${stage}_unit${unit}_se_${fc}`, 0)
          expect(arrayIndex(`stage${stage}_unit${unit}_se_${fc}`, 1)).toBe(k + 1) // the bias follows its kernel
          se.push(k)
        }
      }
    }
    expect(se).toEqual([...se].sort((a, b) => a - b))
    expect(new Set(se).size).toBe(16)
    for (const layer of ['stage3_unit1_sc', 'stage4_unit2_conv2', 'stage2_unit2_bn2', 'bn1']) {
      model.getLayer(layer).weights.forEach((_, i) => arrayIndex(layer, i))
    }
  })

  it('tells a torchvision-topology model, or a network of another depth or kind, what is wrong', async () => {
    const torchvision = createEncoder('seresnet18', { inputShape: [32, 32, 3] })
    const topology = await failure(torchvision)
    expect(topology.code).toBe('BAD_FORMAT')
    expect(topology.message).toContain("build the model with { topology: 'classification_models' }")
    torchvision.dispose()
    const noSe = createEncoder('resnet18', { inputShape: [32, 32, 3], topology: 'classification_models' })
    const extra = await failure(noSe)
    expect(extra.code).toBe('EXTRA_TENSOR')
    expect(extra.message).toMatch(/16 unnamed 1×1 convolutions \(SE blocks\) but model 'resnet18' has 0/)
    noSe.dispose()
    const deeper = createEncoder('seresnet34', { inputShape: [32, 32, 3], topology: 'classification_models' })
    const missing = await failure(deeper)
    expect(missing.code).toBe('MISSING_TENSOR')
    deeper.dispose()
    expect(() => createEncoder('seresnet50', { topology: 'classification_models' })).toThrow(/Caffe-style SENet/)
  })
})
