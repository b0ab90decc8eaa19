import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Augmentation } from './augment'
import { createBatcher, type Batch } from './batcher'
import { writeCarvanaLike, writeWhaleLike } from './fixtures.test-helpers'
import { prepareImage, prepareMask } from './prepare'
import { openDataset, readDataset, type Sample } from './read'
import { createAugmentation } from './registry'
import { groupedSplit } from './split'

let base: string
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'unet-data-batch-'))
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

/** Samples of varying rectangular sizes, RGB, each image a constant colour that identifies it. */
function coloured(n: number): Sample[] {
  return Array.from({ length: n }, (_, i) => {
    const width = 20 + (i % 3) * 7
    const height = 11 + (i % 2) * 6
    const image = new Float32Array(width * height * 3)
    for (let p = 0; p < width * height; p++) image.set([i / n, 1 - i / n, 0.5], p * 3)
    const mask = Uint8Array.from({ length: width * height }, (_, p) => (p % width < width / 2 ? 1 : 0))
    return { id: `s${i}`, image, mask, width, height, channels: 3, original: { width, height } }
  })
}

const spec = { width: 32, height: 16, mode: 'letterbox', pad: 'constant' } as const

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = []
  for await (const b of it) out.push(b)
  return out
}

describe('createBatcher', () => {
  it('holds every sample once per epoch, NHWC at the model size, each input matching its own mask', async () => {
    const samples = coloured(13)
    const batcher = createBatcher(samples, { batchSize: 4, prepare: spec, seed: 1 })
    expect(batcher.batchesPerEpoch).toBe(4)
    const batches = await collect(batcher.epoch(0))
    expect(batches.map((b) => b.shape)).toEqual([[4, 16, 32, 3], [4, 16, 32, 3], [4, 16, 32, 3], [1, 16, 32, 3]])
    const ids = batches.flatMap((b) => b.ids)
    expect(ids.slice().sort()).toEqual(samples.map((s) => s.id).sort())
    for (const b of batches) {
      b.indices.forEach((index, k) => {
        const s = samples[index]!
        const x = prepareImage(s.image, s, spec)
        const y = prepareMask(s.mask, s, spec)
        expect(Array.from(b.xs.subarray(k * 512 * 3, (k + 1) * 512 * 3))).toEqual(Array.from(x))
        expect(Array.from(b.ys.subarray(k * 512, (k + 1) * 512))).toEqual(Array.from(y))
      })
    }
  })

  it('batch k of epoch e is deterministic: a mid-epoch resume yields the same batches, augmentations included', async () => {
    const samples = coloured(10)
    const augment = createAugmentation([{ name: 'horizontal_flip', p: 0.5 }, { name: 'random_brightness', limit: 0.2, p: 0.5 }])
    const make = () => createBatcher(samples, { batchSize: 3, prepare: spec, seed: 7, augment })
    const straight = [...(await collect(make().epoch(0))), ...(await collect(make().epoch(1)))]
    // Another process: resume at epoch 1, step 2.
    const resumed = await collect(make().epoch(1, { fromStep: 2 }))
    expect(resumed.map((b) => [b.epoch, b.step])).toEqual([[1, 2], [1, 3]])
    for (const b of resumed) {
      const same = straight.find((s) => s.epoch === b.epoch && s.step === b.step)!
      expect(b.ids).toEqual(same.ids)
      expect(Buffer.from(b.xs.buffer).equals(Buffer.from(same.xs.buffer))).toBe(true)
    }
    expect(Buffer.from((await make().batch(0, 1)).xs.buffer).equals(Buffer.from(straight[1]!.xs.buffer))).toBe(true)
    // Epochs reshuffle; another seed shuffles differently; shuffle: false keeps the order.
    expect(straight[0]!.ids).not.toEqual(straight[4]!.ids)
    expect((await createBatcher(samples, { batchSize: 3, prepare: spec, seed: 8 }).batch(0, 0)).ids).not.toEqual(straight[0]!.ids)
    expect((await createBatcher(samples, { batchSize: 3, prepare: spec, shuffle: false }).batch(0, 0)).ids).toEqual(['s0', 's1', 's2'])
  })

  it('prepares at most `prefetch` batches ahead of the consumer', async () => {
    let prepared = 0
    const counting: Augmentation = {
      name: 'count',
      p: 1,
      transform: (s) => s,
      apply: (s) => {
        prepared++
        return s
      },
    }
    const batcher = createBatcher(coloured(40), { batchSize: 4, prepare: spec, augment: counting, prefetch: 2 })
    const it = batcher.epoch(0)
    await it.next()
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
    expect(prepared).toBeLessThanOrEqual(3 * 4)
    expect(prepared).toBeGreaterThanOrEqual(2 * 4)
    await it.return(undefined)
  })

  it('appends constant extra channels (TGS depth) and refuses mixed channel counts', async () => {
    const samples = coloured(3)
    const b = await createBatcher(samples, { batchSize: 3, prepare: spec, shuffle: false, extraChannels: { count: 1, values: (s) => [Number(s.id.slice(1)) / 10] } }).batch(0, 0)
    expect(b.shape).toEqual([3, 16, 32, 4])
    expect(b.xs[512 * 4 + 3]).toBeCloseTo(0.1, 6)
    const mixed = [...coloured(1), { ...coloured(1)[0]!, id: 'grey', image: new Float32Array(20 * 11), channels: 1 }]
    await expect(createBatcher(mixed, { batchSize: 2, prepare: spec }).batch(0, 0)).rejects.toThrow(/one channel count/)
  })

  it('streams from a dataset on disk: decoded on demand, never all in memory', async () => {
    const dir = join(base, 'carvana')
    await writeCarvanaLike(dir)
    const dataset = await openDataset(dir, { test: false })
    let loads = 0
    const source = { length: dataset.train.length, get: (i: number) => (loads++, dataset.load(dataset.train[i]!)) }
    const { train, validation } = groupedSplit(dataset.train, { groupBy: (e) => e.group!, validationFraction: 0.34, seed: 2 })
    expect(new Set(validation.map((e) => e.group)).size).toBe(1)
    expect(train.some((e) => e.group === validation[0]!.group)).toBe(false)
    const batcher = createBatcher(source, { batchSize: 4, prepare: { width: 32, height: 32, mode: 'resize' }, prefetch: 1 })
    const batches = await collect(batcher.epoch(0))
    expect(batches.length).toBe(3)
    expect(loads).toBe(12)
    await dataset.close()
  })
})

describe('an object that differs from its background only in colour', () => {
  it('survives reading and batching (RGB is not collapsed to one channel)', async () => {
    // Red object on a green background of the same grey level (Rec. 601 luma): invisible to a grey conversion.
    const dir = join(base, 'colour')
    await mkdir(join(dir, 'images'), { recursive: true })
    await mkdir(join(dir, 'masks'), { recursive: true })
    const [w, h] = [40, 24]
    const red = [200, 0, 0]
    const green = [0, Math.round((0.299 * 200) / 0.587), 0] // same luma as red
    for (let k = 0; k < 3; k++) {
      const rgb = new Uint8Array(w * h * 3)
      const mask = new Uint8Array(w * h)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const inside = x >= 10 + k && x < 25 + k && y >= 6 && y < 18
          mask[y * w + x] = inside ? 255 : 0
          rgb.set(inside ? red : green, (y * w + x) * 3)
        }
      await writeFile(join(dir, 'images', `c${k}.png`), await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer())
      await writeFile(join(dir, 'masks', `c${k}.png`), await sharp(mask, { raw: { width: w, height: h, channels: 1 } }).png().toBuffer())
    }
    const { train, dataset } = await readDataset(dir)
    await dataset.close()
    // A grey conversion of these images is flat: the object is in the colour only.
    const luma = train[0]!.image.filter((_, i) => i % 3 === 0).map((r, p) => 0.299 * r + 0.587 * train[0]!.image[p * 3 + 1]! + 0.114 * train[0]!.image[p * 3 + 2]!)
    expect(Math.max(...luma) - Math.min(...luma)).toBeLessThan(0.01)
    const batch = await createBatcher(train, { batchSize: 3, prepare: { width: 32, height: 32, mode: 'resize' }, seed: 0 }).batch(0, 0)
    expect(batch.shape[3]).toBe(3)
    for (let k = 0; k < 3; k++) {
      let inside = 0
      let outside = 0
      for (let p = 0; p < 32 * 32; p++) {
        const o = (k * 1024 + p) * 3
        const looksRed = batch.xs[o]! > batch.xs[o + 1]!
        if (batch.ys[k * 1024 + p] === 1) inside += looksRed ? 1 : 0
        else outside += looksRed ? 1 : 0
      }
      const objectPixels = batch.ys.subarray(k * 1024, (k + 1) * 1024).reduce((a, b) => a + b, 0)
      // The red channel tells object from background where the mask says so, and almost nowhere else.
      expect(inside / objectPixels).toBeGreaterThan(0.9)
      expect(outside).toBeLessThan(0.05 * 1024)
    }
  })
})

describe('whale-fluke recipe end to end', () => {
  it('reads, splits, augments and batches at a wide 2:1 model size (384 × 192, scaled down)', async () => {
    const dir = join(base, 'whales')
    await writeWhaleLike(dir)
    const { train, dataset } = await readDataset(dir, { maskThreshold: 108 })
    await dataset.close()
    const augment = createAugmentation([
      { name: 'blur', blur_limit: 2, p: 0.5 },
      { name: 'affine', shear: 5, p: 0.5 },
      { name: 'horizontal_flip', p: 0.5 },
      { name: 'rotate', limit: 5, p: 0.3 },
      { name: 'random_brightness_contrast', brightness_limit: 0.1, contrast_limit: 0.1, p: 0.2 },
    ])
    const batches = await collect(createBatcher(train, { batchSize: 4, prepare: { width: 48, height: 24, mode: 'resize' }, augment, seed: 3 }).epoch(0))
    expect(batches.map((b) => b.shape)).toEqual([[4, 24, 48, 3], [2, 24, 48, 3]])
    for (const b of batches) expect(b.ys.every((v) => v === 0 || v === 1)).toBe(true)
  })
})
