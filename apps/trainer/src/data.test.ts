import { describe, expect, it } from 'vitest'
import { generateSyntheticTgs } from '@unet/data-tgs'
import { resolveTrainConfig } from './config'
import { buildBatch, epochOrder, prepareSet } from './data'
import { stepsPerEpoch } from '@unet/train'

describe('batches', () => {
  const config = resolveTrainConfig({ imageSize: 32, depth: 2, batchSize: 4, augment: ['flip', 'shift', 'brightness'] })
  const set = prepareSet(generateSyntheticTgs({ trainCount: 10, testCount: 0, seed: 1 }).train, config, 1)

  it('visit every image once per epoch, in an order fixed by (seed, epoch)', () => {
    const order = epochOrder(set.count, 42, 0)
    expect([...order].sort((a, b) => a - b)).toEqual([...Array(10).keys()])
    expect(epochOrder(set.count, 42, 0)).toEqual(order)
    expect(epochOrder(set.count, 42, 1)).not.toEqual(order)
    expect(stepsPerEpoch(10, 4)).toBe(3)
    expect(buildBatch(set, order, { epoch: 0, step: 2 }, config).length).toBe(2)
  })

  it('rebuild any batch alone, augmentations included', () => {
    const order = epochOrder(set.count, 42, 3)
    const a = buildBatch(set, order, { epoch: 3, step: 1 }, config)
    const b = buildBatch(set, order, { epoch: 3, step: 1 }, config)
    expect(a.xs).toEqual(b.xs)
    expect(a.ys).toEqual(b.ys)
    // augmentation changed something compared with the plain images
    const plain = buildBatch(set, order, { epoch: 3, step: 1 }, { ...config, augment: [] })
    expect(plain.xs).not.toEqual(a.xs)
    // masks stay binary
    expect(new Set(a.ys)).toEqual(new Set([0, 1]))
  })
})
