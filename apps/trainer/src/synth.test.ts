import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { detectLayout, openDataset } from '@unet/data'
import { afterAll, describe, expect, it } from 'vitest'
import { synth } from './synth'

describe('unet synth --layout carvana', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unet-synth-carvana-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('writes RGB photos and their masks in the Carvana layout, 16 views per car, the same for a seed', async () => {
    await synth({ out: join(dir, 'a'), count: 18, testCount: 0, seed: 5, layout: 'carvana', width: 96, height: 64 })
    expect(await detectLayout(join(dir, 'a'))).toBe('carvana')
    const data = await openDataset(join(dir, 'a'), { test: false })
    expect(data.train).toHaveLength(18)
    expect(new Set(data.train.map((e) => e.group)).size).toBe(2)
    expect(data.train.every((e) => /^[0-9a-f]{12}_\d\d$/.test(e.id))).toBe(true)
    const sample = await data.load(data.train[0]!)
    expect([sample.width, sample.height, sample.channels]).toEqual([96, 64, 3])
    const coverage = sample.mask.reduce((a, b) => a + b, 0) / sample.mask.length
    expect(coverage).toBeGreaterThan(0.05)
    expect(coverage).toBeLessThan(0.5)
    await data.close()
    await synth({ out: join(dir, 'b'), count: 18, testCount: 0, seed: 5, layout: 'carvana', width: 96, height: 64 })
    const again = await openDataset(join(dir, 'b'), { test: false })
    expect(again.train.map((e) => e.id)).toEqual(data.train.map((e) => e.id))
    await again.close()
  })
})
