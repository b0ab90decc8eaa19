import { generateSyntheticTgs } from '@unet/data-tgs'
import { describe, expect, it } from 'vitest'
import { resolveTrainConfig } from './config'
import { fitData, prepareSet, type RunData, type RunSample } from './data'

function rgbSamples(n: number): RunSample[] {
  return Array.from({ length: n }, (_, i) => {
    const width = 30 + i
    const height = 14
    const image = new Float32Array(width * height * 3).map((_, k) => ((k * 7 + i) % 11) / 10)
    const mask = new Uint8Array(width * height).map((_, k) => (k % width < width / 2 ? 1 : 0))
    return { id: `img_${i}`, image, mask, width, height, channels: 3 }
  })
}

function runData(samples: RunSample[], config: ReturnType<typeof resolveTrainConfig>, channels: number): RunData {
  return {
    train: prepareSet(samples, config, channels),
    validation: prepareSet(samples.slice(0, 2), config, channels),
    test: [],
    source: 'test',
  }
}

describe('fitData (over @unet/data’s batcher)', () => {
  it('rebuilds any batch of any epoch alone, augmentations included (what mid-epoch resume needs)', async () => {
    const config = resolveTrainConfig({ imageSize: 32, depth: 2, batchSize: 4, augment: ['horizontal_flip', 'shift:p=0.5', 'brightness'] })
    const samples = generateSyntheticTgs({ trainCount: 10, testCount: 0, seed: 1 }).train
    const data = fitData(runData(samples, config, 1), config)
    expect(data.train.inputShape).toEqual([32, 32, 1])
    const a = await data.train.batch(1, 2, 4)
    const b = await fitData(runData(samples, config, 1), config).train.batch(1, 2, 4)
    expect(a.count).toBe(2)
    expect(Buffer.from(a.x.buffer).equals(Buffer.from(b.x.buffer))).toBe(true)
    expect(Buffer.from(a.y.buffer).equals(Buffer.from(b.y.buffer))).toBe(true)
    const other = await data.train.batch(2, 2, 4)
    expect(Buffer.from(other.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(false)
  })

  it('keeps RGB as RGB at a rectangular size, and validation restores each image’s own size', async () => {
    const config = resolveTrainConfig({ imageSize: 32, imageHeight: 16, depth: 2, batchSize: 3, augment: [], resize: 'letterbox' })
    const samples = rgbSamples(5)
    const data = fitData(runData(samples, config, 3), config)
    expect(data.train.inputShape).toEqual([16, 32, 3])
    const batch = await data.train.batch(0, 0, 3)
    expect(batch.x.length).toBe(3 * 16 * 32 * 3)
    expect(batch.y.length).toBe(3 * 16 * 32)
    for await (const v of data.validation.batches(8)) {
      expect(v.count).toBe(2)
      const restored = v.restore(new Float32Array(16 * 32).fill(0.7), 1)
      expect(restored.length).toBe(samples[1]!.width * samples[1]!.height)
    }
    // grey images fill an RGB model by repeating the channel; RGB into a grey model is refused
    expect(prepareSet(generateSyntheticTgs({ trainCount: 2, testCount: 0, seed: 1 }).train, config, 3).channels).toBe(3)
    expect(() => prepareSet(samples, config, 1)).toThrow(/has 3 channels but the model takes 1/)
  })
})
