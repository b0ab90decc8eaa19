import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBatcher } from './batcher'
import { writeCarvanaLike } from './fixtures.test-helpers'
import { createSampleLoader } from './loader'
import { prepareImage, prepareMask } from './prepare'
import { type Dataset, openDataset } from './read'

let base: string
let dataset: Dataset
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'unet-data-loader-'))
  await writeCarvanaLike(join(base, 'carvana'), 2)
  dataset = await openDataset(join(base, 'carvana'), { test: false })
})
afterAll(async () => {
  await dataset.close()
  await rm(base, { recursive: true, force: true })
})

const spec = { width: 32, height: 16, mode: 'resize' } as const

describe('createSampleLoader', () => {
  it('decodes on demand and prepares to the model size with the prediction maths', async () => {
    const loader = createSampleLoader(dataset, dataset.train, { prepare: spec })
    const s = await loader.get(1)
    const full = await dataset.load(dataset.train[1]!)
    expect([s.width, s.height, s.channels, s.original]).toEqual([32, 16, 3, { width: 48, height: 32 }])
    expect(Array.from(s.image)).toEqual(Array.from(prepareImage(full.image, full, spec)))
    expect(Array.from(s.mask)).toEqual(Array.from(prepareMask(full.mask, full, spec)))
    expect(loader.stats).toEqual({ decoded: 1, cached: 0 })
  })

  it('keeps resized copies on disk: a second run decodes nothing and gets the very same samples (8-bit)', async () => {
    const cache = join(base, 'cache')
    const first = createSampleLoader(dataset, dataset.train, { prepare: spec, cache })
    const a = await Promise.all(dataset.train.map((_, i) => first.get(i)))
    expect(first.stats).toEqual({ decoded: 6, cached: 0 })
    expect((await readdir(cache)).filter((f) => f.endsWith('.bin')).length).toBe(6)
    const second = createSampleLoader(dataset, dataset.train, { prepare: spec, cache })
    const b = await Promise.all(dataset.train.map((_, i) => second.get(i)))
    expect(second.stats).toEqual({ decoded: 0, cached: 6 })
    for (let i = 0; i < 6; i++) {
      expect(b[i]!.id).toBe(a[i]!.id)
      expect(b[i]!.group).toBe(a[i]!.group)
      expect(Array.from(b[i]!.mask)).toEqual(Array.from(a[i]!.mask))
      // a miss gives what a hit gives (so batches do not depend on the cache's state) …
      expect(Array.from(b[i]!.image)).toEqual(Array.from(a[i]!.image))
      // … and that is the prediction maths to within 8 bits
      const full = await dataset.load(dataset.train[i]!)
      const exact = prepareImage(full.image, full, spec)
      let worst = 0
      for (let k = 0; k < exact.length; k++) worst = Math.max(worst, Math.abs(exact[k]! - b[i]!.image[k]!))
      expect(worst).toBeGreaterThan(0)
      expect(worst).toBeLessThanOrEqual(1 / 510 + 1e-7)
    }
    // A damaged entry is rebuilt, not trusted.
    const [one] = (await readdir(cache)).filter((f) => f.endsWith('.bin')).sort()
    await writeFile(join(cache, one!), 'garbage')
    const third = createSampleLoader(dataset, dataset.train, { prepare: spec, cache })
    await Promise.all(dataset.train.map((_, i) => third.get(i)))
    expect(third.stats).toEqual({ decoded: 1, cached: 5 })
  })

  it("resizes with sharp while decoding when asked, close to the prepare path", async () => {
    const loader = createSampleLoader(dataset, dataset.train, { prepare: spec, resizeWith: 'sharp' })
    const exact = createSampleLoader(dataset, dataset.train, { prepare: spec })
    const [a, b] = await Promise.all([loader.get(0), exact.get(0)])
    expect(a.image.length).toBe(b.image.length)
    let sum = 0
    for (let k = 0; k < a.image.length; k++) sum += Math.abs(a.image[k]! - b.image[k]!)
    expect(sum / a.image.length).toBeLessThan(0.05)
    expect(a.original).toEqual({ width: 48, height: 32 })
    expect(Array.from(a.mask)).toEqual(Array.from(b.mask))
    expect(() => createSampleLoader(dataset, dataset.train, { prepare: { ...spec, mode: 'pad' }, resizeWith: 'sharp' })).toThrow(/needs prepare: \{ mode: 'resize'/)
  })

  it('feeds the batcher, which then only copies', async () => {
    const loader = createSampleLoader(dataset, dataset.train, { prepare: spec })
    const batch = await createBatcher(loader, { prepare: spec, batchSize: 6, shuffle: false }).batch(0, 0)
    const s = await loader.get(0)
    expect(Array.from(batch.xs.subarray(0, 32 * 16 * 3))).toEqual(Array.from(s.image))
  })
})
