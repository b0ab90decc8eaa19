import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { beforeAll, describe, expect, it } from 'vitest'
import type { ValidationData } from './data'
import { validate } from './validate'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

/** A model that outputs its input: the "probabilities" are whatever the batch holds. */
function identity(): tfl.LayersModel {
  const input = tfl.input({ shape: [2, 2, 1] })
  return tfl.model({ inputs: input, outputs: tfl.layers.activation({ activation: 'linear' }).apply(input) as tfl.SymbolicTensor })
}

// 2×2 masks: one empty truth, one half foreground; the second batch streams in later
const truths = [new Uint8Array([0, 0, 0, 0]), new Uint8Array([1, 1, 0, 0])]
const probs = [new Float32Array([0.2, 0.1, 0.3, 0.2]), new Float32Array([0.6, 0.7, 0.2, 0.1])]
const data: ValidationData = {
  count: 2,
  async *batches() {
    for (let k = 0; k < 2; k++) {
      yield { x: probs[k]!, y: Float32Array.from(truths[k]!), count: 1, truths: [truths[k]!], restore: (p) => Float32Array.from(p) }
    }
  },
}

describe('validate', () => {
  it('sweeps thresholds over streamed batches and picks the one that separates foreground from background', async () => {
    const v = await validate(identity(), data, { batchSize: 1, logits: false, thresholds: [0.1, 0.4, 0.65] })
    expect(v.count).toBe(2)
    expect(v.chosen).toMatchObject({ threshold: 0.4, tgs: 1, iou: 1, dice: 1 })
    // at 0.65 the second image keeps 1 of 2 pixels: IoU 0.5, no TGS hit (IoU must exceed 0.5)
    expect(v.sweep.tgs[2]).toBe(0.5)
    expect(v.sweep.iou[2]).toBe(0.75)
    expect(v.baselines.empty.tgs).toBe(0.5)
    expect(v.images).toEqual([])
  })

  it('scores every image alone at a given threshold, with its coverage, for per-image and per-class tables', async () => {
    const v = await validate(identity(), data, { batchSize: 1, logits: false, thresholds: [0.1, 0.4, 0.65], scoreImagesAt: 0.65, keep: [1] })
    expect(v.images).toEqual([
      { tgs: 1, iou: 1, dice: 1, coverage: 0 },
      { tgs: 0, iou: 0.5, dice: 2 / 3, coverage: 0.5 },
    ])
    expect(Array.from(v.kept.get(1)!)).toEqual(Array.from(probs[1]!))
    expect(v.kept.has(0)).toBe(false)
  })
})
