import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { generateSyntheticTgs } from '@unet/data-tgs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveTrainConfig } from './config'
import { fitData, isStreamed, loadRawData, loadRunData, prepareSet, type RunData, type RunSample } from './data'

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

describe('streaming from disk (Carvana, folder pairs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unet-stream-'))
  const count = 24
  beforeAll(async () => {
    mkdirSync(join(dir, 'images'))
    mkdirSync(join(dir, 'masks'))
    for (let i = 0; i < count; i++) {
      const width = 40 + (i % 3) * 4
      const height = 24
      const rgb = new Uint8Array(width * height * 3).map((_, k) => (k * 13 + i * 7) % 251)
      const mask = new Uint8Array(width * height).map((_, k) => ((k % width) < 10 + i ? 255 : 0))
      writeFileSync(join(dir, 'images', `p${i}.png`), await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer())
      writeFileSync(join(dir, 'masks', `p${i}.png`), await sharp(mask, { raw: { width, height, channels: 1 } }).png().toBuffer())
    }
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const config = resolveTrainConfig({ data: dir, imageSize: 32, imageHeight: 16, depth: 2, batchSize: 4, augment: ['horizontal_flip', 'brightness'], valSplit: 0.25 })

  it('decodes no photo up front and holds a batch and the next one, never the set', async () => {
    const data = await loadRunData(config, null)
    try {
      if (!isStreamed(data.train) || !isStreamed(data.validation)) throw new Error('expected streamed sets')
      expect(data.train.count + data.validation.count).toBe(count)
      expect(data.train.streamed.decoded).toBe(0)
      const fd = fitData(data, config)
      await fd.train.batch(0, 0, 4)
      // this batch and the one decoded ahead of it: 8 of the 18 train photos
      await new Promise((r) => setTimeout(r, 50))
      expect(data.train.streamed.decoded).toBe(8)
      await fd.train.batch(0, 1, 4) // the one ahead is used, the third starts
      await new Promise((r) => setTimeout(r, 50))
      expect(data.train.streamed.decoded).toBe(12)
      for await (const v of fd.validation.batches(4)) expect(v.truths.length).toBeLessThanOrEqual(4)
      expect(data.validation.streamed.decoded).toBe(data.validation.count)
    } finally {
      await data.close?.()
    }
  })

  it('gives the very batches the in-memory path gives (so resume and old runs see the same numbers)', async () => {
    const data = await loadRunData(config, null)
    try {
      if (!isStreamed(data.train)) throw new Error('expected a streamed set')
      // loadRawData still reads a folder pair into memory (small sets: pseudo-labels)
      const read = await loadRawData(config, { test: false })
      expect(read.layout).toBe('folders')
      const byId = new Map(read.train.map((s) => [s.id, s]))
      const inMemory = (ids: string[]) => prepareSet(ids.map((id) => byId.get(id) as RunSample), config, 3)
      const memory = fitData({ ...data, train: inMemory(data.train.ids), validation: inMemory(data.validation.ids) }, config)
      const streamed = fitData(data, config)
      for (const [epoch, step] of [[0, 0], [1, 3], [2, 4]] as const) {
        const a = await memory.train.batch(epoch, step, 4)
        const b = await streamed.train.batch(epoch, step, 4)
        expect(b.count).toBe(a.count)
        expect(Buffer.from(b.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(true)
        expect(Buffer.from(b.y.buffer).equals(Buffer.from(a.y.buffer))).toBe(true)
      }
      const [va] = await collect(memory.validation.batches(8))
      const [vb] = await collect(streamed.validation.batches(8))
      expect(Buffer.from(vb!.x.buffer).equals(Buffer.from(va!.x.buffer))).toBe(true)
      expect(vb!.truths.map((t) => Array.from(t))).toEqual(va!.truths.map((t) => Array.from(t)))
    } finally {
      await data.close?.()
    }
  })
})

async function collect<T>(it: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}
