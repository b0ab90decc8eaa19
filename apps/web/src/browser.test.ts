// The page in a real browser (Debian's Chromium, headless, driven by puppeteer-core) predicts what Node
// predicts with the same model, the same prepare/restore functions and the same backend.
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { predictImages, predictProbabilities } from '@unet/predict'
import { predictRun, readRun } from '@unet/predict/node'
import { encode } from '@unet/rle'
import { loadModel } from '@unet/runtime'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, ElementHandle, Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findChromium, launch, pageDir as builtPage, segment } from '../test/browser'
import { makeRun, rgbImage, tgsLikeImage, writePng, type FixtureRunOptions } from '../test/fixture'
import { prepareImage, restoreProbabilities, type ImagePixels, type PrepareSpec } from './prepare'
import { parseRun, type RunSpec } from './run'
import { serve, type RunningServer } from './server'

const chromium = findChromium()
if (chromium.path === null) console.warn(`[@unet/web] browser test skipped: ${chromium.reason}`)

const NEAR = 1e-4

interface Fixture {
  name: string
  options: FixtureRunOptions
  dir: string
  run: RunSpec
  images: { file: string; name: string; pixels: ImagePixels }[]
  server: RunningServer
}

/** `unet predict`'s computation in Node: @unet/data's prepare → @unet/predict's predictProbabilities → restore, on the current backend. */
async function nodePredict(model: LayersModel, run: RunSpec, image: ImagePixels): Promise<Float32Array> {
  const spec: PrepareSpec = { width: run.input.width, height: run.input.height, ...run.prepare }
  const data = prepareImage(image, run.input, spec)
  const [p] = await predictProbabilities(model, { data, count: 1, ...run.input }, { activation: run.output.activation })
  return restoreProbabilities(p!, image, spec)
}

/** `unet predict` itself (@unet/predict's predictRun) over a run's images: each image's probabilities and RLE by id. */
async function unetPredict(model: LayersModel, f: Fixture): Promise<{ probabilities: Map<string, Float32Array>; rle: Map<string, string> }> {
  const probabilities = new Map<string, Float32Array>()
  const out = join(f.dir, '..', `${f.name}-submission.csv`)
  await predictRun(await readRun(f.dir), { images: join(f.dir, '..', `${f.name}-images`), out, model, onPrediction: ({ image, probabilities: p }) => void probabilities.set(image.id, p) })
  const rows = readFileSync(out, 'utf8').trim().split('\n').slice(1)
  return { probabilities, rle: new Map(rows.map((row) => [row.slice(0, row.indexOf(',')), row.slice(row.indexOf(',') + 1)])) }
}

/** The "has mask" classifier's probability of an image, as predictProbabilities computes it before zeroing. */
async function nodeHasMask(model: LayersModel, run: RunSpec, image: ImagePixels): Promise<number> {
  const data = prepareImage(image, run.input, { width: run.input.width, height: run.input.height, ...run.prepare })
  const { hasMask } = await predictImages(model, { data, count: 1, ...run.input }, { activation: run.output.activation })
  return hasMask![0]!
}

const stem = (name: string): string => name.replace(/\.png$/, '')

describe.skipIf(chromium.path === null)('the page in Chromium', () => {
  const root = mkdtempSync(join(tmpdir(), 'unet-web-browser-'))
  let pageDir: string
  let browser: Browser
  let page: Page
  const fixtures: Fixture[] = []

  beforeAll(async () => {
    const [launched] = await Promise.all([
      launch(chromium.path!),
      (async () => {
        await tf.setBackend('cpu')
        const runs: [string, FixtureRunOptions, { name: string; make: () => Uint8Array; width: number; height: number; channels: 1 | 3 }[]][] = [
          // TGS-like: 101×101 grey, reflect-padded to 128×128, column-major RLE
          ['tgs', { width: 128, height: 128, channels: 1, mode: 'pad', pad: 'reflect', activation: 'sigmoid', threshold: 0.5, order: 'column', layout: 'tgs', seed: 11 }, [
            { name: 'a1b2c3d4e5.png', make: () => tgsLikeImage(101, 101, 1), width: 101, height: 101, channels: 1 },
            { name: 'f6e7d8c9b0.png', make: () => tgsLikeImage(101, 101, 2), width: 101, height: 101, channels: 1 },
          ]],
          // RGB rectangular images letterboxed into 64×48, a logits model, row-major RLE (Carvana's convention)
          ['rgb', { width: 64, height: 48, channels: 3, mode: 'letterbox', pad: 'constant', activation: 'linear', threshold: 0.45, order: 'row', layout: 'carvana', seed: 23 }, [
            { name: 'car_01.png', make: () => rgbImage(90, 57, 3), width: 90, height: 57, channels: 3 },
            { name: 'car_02.png', make: () => rgbImage(40, 75, 4), width: 40, height: 75, channels: 3 },
            // a grey image into an RGB model: the channel is repeated
            { name: 'grey_03.png', make: () => tgsLikeImage(70, 50, 5), width: 70, height: 50, channels: 1 },
          ]],
          // deep supervision (`unet train --deep-supervision`): a "has mask" classifier set to call the first image
          // empty and the second not, run.json's empty threshold 0.6 (not the trainer's 0.5, to see the page read it);
          // seed 22 leaves no pixel within 3e-4 of the threshold, so masks and RLE can be compared exactly
          ['deep', { width: 128, height: 128, channels: 1, mode: 'pad', pad: 'reflect', activation: 'linear', threshold: 0.45, order: 'column', layout: 'tgs', seed: 22, emptyThreshold: 0.6 }, [
            { name: 'salt_a.png', make: () => tgsLikeImage(101, 101, 31), width: 101, height: 101, channels: 1 },
            { name: 'salt_b.png', make: () => tgsLikeImage(101, 101, 32), width: 101, height: 101, channels: 1 },
          ]],
        ]
        for (const [name, options, images] of runs) {
          const dir = join(root, name)
          // one folder of images per run, as `unet predict --images` takes them
          mkdirSync(join(root, `${name}-images`))
          const list = []
          for (const image of images) {
            const file = join(root, `${name}-images`, `${name}_${image.name}`)
            list.push({ file, name: file.split('/').pop()!, pixels: await writePng(file, image.make(), image.width, image.height, image.channels) })
          }
          const spec: PrepareSpec = { width: options.width, height: options.height, mode: options.mode, ...(options.pad ? { pad: options.pad } : {}) }
          const prepared = list.map((i) => prepareImage(i.pixels, options, spec))
          await makeRun(dir, options.emptyThreshold === undefined ? options : { ...options, classifierSamples: { empty: prepared[0]!, full: prepared[1]! } })
          const { readFile } = await import('node:fs/promises')
          const run = parseRun(await readFile(join(dir, 'run.json'), 'utf8'))
          fixtures.push({ name, options, dir, run, images: list, server: undefined as unknown as RunningServer })
        }
      })(),
    ])
    pageDir = builtPage()
    browser = launched
    for (const f of fixtures) f.server = await serve({ run: f.dir, port: 0, pageDir, log: null })
    page = await browser.newPage()
    page.on('pageerror', (error) => console.error('[page error]', error))
  })

  afterAll(async () => {
    await browser?.close()
    for (const f of fixtures) await f.server?.close()
    rmSync(root, { recursive: true, force: true })
  })

  for (const backend of ['cpu', 'wasm'] as const) {
    for (const which of ['tgs', 'rgb'] as const) {
      it(`${which} run on ${backend}: probabilities within 1e-4 of Node's, masks and RLE identical away from the threshold`, async () => {
        const f = fixtures.find((x) => x.name === which)!
        await segment(page, f.server.url, f.images.map((i) => i.file), backend)
        expect(await page.evaluate(() => window.unetPage.backend())).toBe(backend)
        expect(await tf.setBackend(backend)).toBe(true)
        expect(tf.getBackend()).toBe(backend)
        const model = await loadModel(join(f.dir, 'best'))
        try {
          for (const image of f.images) {
            const result = (await page.evaluate(() => window.unetPage.results())).find((r) => r.name === image.name)!
            expect(result, image.name).toMatchObject({ status: 'done', width: image.pixels.width, height: image.pixels.height, channels: image.pixels.channels })
            const browserP = Float32Array.from(await page.evaluate((n) => window.unetPage.probabilities(n), image.name))
            const nodeP = await nodePredict(model, f.run, image.pixels)
            expect(browserP.length).toBe(nodeP.length)
            let worst = 0
            for (let i = 0; i < nodeP.length; i++) worst = Math.max(worst, Math.abs(browserP[i]! - nodeP[i]!))
            expect(worst, `${image.name}: largest difference`).toBeLessThanOrEqual(NEAR)
            // the maps are not trivial: both sides of the threshold occur
            const above = nodeP.filter((p) => p > f.run.threshold).length
            expect(above, `${image.name}: pixels above the threshold`).toBeGreaterThan(0)
            expect(above).toBeLessThan(nodeP.length)

            const browserMask = await page.evaluate((n) => window.unetPage.mask(n), image.name)
            let nearThreshold = 0
            for (let i = 0; i < nodeP.length; i++) {
              const expected = nodeP[i]! > f.run.threshold ? 1 : 0
              if (Math.abs(nodeP[i]! - f.run.threshold) <= NEAR) nearThreshold++
              else if (browserMask[i] !== expected) expect.fail(`${image.name}: mask differs at pixel ${i} (p = ${nodeP[i]})`)
            }
            if (nearThreshold === 0) {
              const nodeMask = Uint8Array.from(nodeP, (p) => (p > f.run.threshold ? 1 : 0))
              const rle = encode(nodeMask, { height: image.pixels.height, width: image.pixels.width }, { order: f.run.rle.order })
              const id = image.name.replace(/\.png$/, '') + f.run.rle.idSuffix
              expect(await page.evaluate((n) => window.unetPage.rle(n), image.name)).toBe(`${f.run.rle.idColumn},rle_mask\n${id},${rle}\n`)
            }
          }
        } finally {
          model.dispose()
        }
      })
    }
  }

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`deep-supervision run on ${backend}: unet predict's probabilities, masks and RLE, the image its classifier calls empty emptied, classifier within 1e-4`, async () => {
      const f = fixtures.find((x) => x.name === 'deep')!
      await segment(page, f.server.url, f.images.map((i) => i.file), backend)
      expect(await page.evaluate(() => window.unetPage.emptyThreshold())).toBe(0.6)
      expect(await tf.setBackend(backend)).toBe(true)
      const model = await loadModel(join(f.dir, 'best'))
      try {
        expect(model.outputNames.length, 'the saved model keeps its classifier and auxiliary outputs').toBeGreaterThan(2)
        const node = await unetPredict(model, f)
        const results = await page.evaluate(() => window.unetPage.results())
        // the first image is emptied, the second is not
        expect(f.images.map((image) => results.find((r) => r.name === image.name)!.emptied)).toEqual([true, false])
        for (const image of f.images) {
          const result = results.find((r) => r.name === image.name)!
          const hasMask = await nodeHasMask(model, f.run, image.pixels)
          expect(Math.abs(result.hasMask! - hasMask), `${image.name}: classifier probability`).toBeLessThanOrEqual(NEAR)
          expect(result.emptied).toBe(hasMask < 0.6)
          expect(await page.$eval(`.card[data-name="${image.name}"] .coverage`, (e) => e.textContent)).toContain(`has mask ${hasMask.toFixed(2)}`)
          const nodeP = node.probabilities.get(stem(image.name))!
          const browserP = await page.evaluate((n) => window.unetPage.probabilities(n), image.name)
          expect(browserP.length).toBe(nodeP.length)
          let worst = 0
          for (let i = 0; i < nodeP.length; i++) worst = Math.max(worst, Math.abs(browserP[i]! - nodeP[i]!))
          expect(worst, `${image.name}: largest difference`).toBeLessThanOrEqual(NEAR)
          const browserMask = await page.evaluate((n) => window.unetPage.mask(n), image.name)
          // the fixture has no pixel within 1e-4 of the threshold, so masks and RLE must be identical
          expect(nodeP.filter((p) => Math.abs(p - f.run.threshold) <= NEAR).length, `${image.name}: pixels at the threshold`).toBe(0)
          expect(browserMask).toEqual(Array.from(nodeP, (p) => (p > f.run.threshold ? 1 : 0)))
          expect(browserMask.some((v) => v === 1)).toBe(!result.emptied)
          expect(await page.evaluate((n) => window.unetPage.rle(n), image.name)).toBe(`id,rle_mask\n${stem(image.name)},${node.rle.get(stem(image.name))}\n`)
        }
      } finally {
        model.dispose()
      }
    })
  }

  it('moves the empty threshold of a deep-supervision run without predicting again', async () => {
    const f = fixtures.find((x) => x.name === 'deep')!
    const [empty, full] = f.images as [Fixture['images'][number], Fixture['images'][number]]
    await segment(page, f.server.url, f.images.map((i) => i.file), 'cpu')
    expect(await page.$eval('#empty-row', (e) => (e as HTMLElement).hidden)).toBe(false)
    expect(await page.$eval('#empty-threshold-out', (e) => e.textContent)).toBe('0.60')
    expect(await page.$eval(`.card[data-name="${empty.name}"] .coverage`, (e) => e.textContent)).toMatch(/emptied: has mask 0\.\d\d, below 0\.60/)
    const before = await page.evaluate(() => window.unetPage.timing().done)
    expect(await tf.setBackend('cpu')).toBe(true)
    const model = await loadModel(join(f.dir, 'best'))
    try {
      // 0 keeps every mask: the emptied image shows what its mask head predicts
      await page.evaluate(() => window.unetPage.setEmptyThreshold(0))
      await page.waitForFunction((n: string) => window.unetPage.results().find((r) => r.name === n)!.emptied === false, {}, empty.name)
      const raw = await nodePredict(model, f.run, empty.pixels)
      const shown = await page.evaluate((n) => window.unetPage.probabilities(n), empty.name)
      expect(Math.max(...shown.map((p, i) => Math.abs(p - raw[i]!)))).toBeLessThanOrEqual(NEAR)
      expect((await page.evaluate((n) => window.unetPage.mask(n), empty.name)).some((v) => v === 1)).toBe(true)
      await page.waitForFunction((n: string) => window.unetPage.results().find((r) => r.name === n)!.coverage > 0, {}, empty.name)
    } finally {
      model.dispose()
    }
    // above both classifier probabilities: both masks empty, their RLE too
    await page.evaluate(() => window.unetPage.setEmptyThreshold(0.99))
    await page.waitForFunction(() => window.unetPage.results().every((r) => r.emptied && r.coverage === 0))
    for (const image of [empty, full]) {
      expect(await page.evaluate((n) => window.unetPage.rle(n), image.name)).toBe(`id,rle_mask\n${stem(image.name)},\n`)
    }
    expect(await page.evaluate(() => window.unetPage.timing().done)).toBe(before)
  })

  it('shows an element the page hides only once it has something to say (the hidden attribute wins over the layout rules)', async () => {
    const f = fixtures.find((x) => x.name === 'tgs')!
    await page.goto(`${f.server.url}?backend=cpu`, { waitUntil: 'load' })
    const display = (selector: string) => page.$eval(selector, (e) => getComputedStyle(e).display)
    // before any image: no progress; a run without the "has mask" classifier: no empty threshold
    await page.waitForFunction(() => ['ready', 'failed', 'no-model'].includes(document.body.dataset.state ?? ''))
    expect(await page.$eval('#progress-row', (e) => (e as HTMLElement).hidden)).toBe(true)
    expect(await display('#progress-row')).toBe('none')
    expect(await display('#empty-row')).toBe('none')
    expect(await display('#model-info')).toBe('grid')
    await segment(page, f.server.url, [f.images[0]!.file], 'cpu')
    expect(await display('#progress-row')).toBe('flex')
  })

  it('moves the threshold without predicting again, and refuses colour images for a grey model', async () => {
    const tgs = fixtures.find((x) => x.name === 'tgs')!
    const rgb = fixtures.find((x) => x.name === 'rgb')!
    await segment(page, tgs.server.url, [tgs.images[0]!.file, rgb.images[0]!.file], 'cpu')
    const results = await page.evaluate(() => window.unetPage.results())
    expect(results.find((r) => r.name === rgb.images[0]!.name)).toMatchObject({ status: 'error', error: expect.stringMatching(/grey/) })
    // a run without the "has mask" classifier: no empty threshold, nothing emptied
    expect(await page.$eval('#empty-row', (e) => (e as HTMLElement).hidden)).toBe(true)
    expect(await page.evaluate(() => window.unetPage.emptyThreshold())).toBeNull()
    expect(results.find((r) => r.name === tgs.images[0]!.name)).toMatchObject({ status: 'done', hasMask: null, emptied: false })
    const name = tgs.images[0]!.name
    const probabilities = await page.evaluate((n) => window.unetPage.probabilities(n), name)
    const before = await page.evaluate(() => window.unetPage.timing().done)
    for (const t of [0.3, 0.7]) {
      await page.evaluate((x) => window.unetPage.setThreshold(x), t)
      await page.waitForFunction((x: number) => document.querySelector<HTMLOutputElement>('#threshold-out')!.textContent === x.toFixed(2), {}, t)
      const mask = await page.evaluate((n) => window.unetPage.mask(n), name)
      expect(mask).toEqual(probabilities.map((p) => (p > t ? 1 : 0)))
      const expectedCoverage = probabilities.filter((p) => p > t).length / probabilities.length
      await page.waitForFunction((n: string, c: number) => Math.abs(window.unetPage.results().find((r) => r.name === n)!.coverage - c) < 1e-9, {}, name, expectedCoverage)
    }
    // no new prediction happened
    expect(await page.evaluate(() => window.unetPage.timing().done)).toBe(before)
  })

  it('loads a run from chosen files (run.json, model.json, shards) and predicts as Node does', async () => {
    const tgs = fixtures.find((x) => x.name === 'tgs')!
    const rgb = fixtures.find((x) => x.name === 'rgb')!
    // the page served with the RGB run, given the grey run's files instead
    await page.goto(`${rgb.server.url}?backend=cpu`)
    await page.waitForFunction(() => document.body.dataset.state === 'ready')
    const runFiles = [join(tgs.dir, 'run.json'), ...readdirSync(join(tgs.dir, 'best')).map((f) => join(tgs.dir, 'best', f))]
    const input = (await page.$('#run-files')) as ElementHandle<HTMLInputElement>
    await input.uploadFile(...runFiles)
    await page.waitForFunction(() => document.body.dataset.state === 'ready' && document.getElementById('model-info')!.textContent!.includes('128×128'), { timeout: 30_000 })
    const image = tgs.images[0]!
    await ((await page.$('#image-files')) as ElementHandle<HTMLInputElement>).uploadFile(image.file)
    await page.waitForFunction(() => document.body.dataset.state === 'done', { timeout: 30_000 })
    expect(await tf.setBackend('cpu')).toBe(true)
    const model = await loadModel(join(tgs.dir, 'best'))
    try {
      const nodeP = await nodePredict(model, tgs.run, image.pixels)
      const browserP = await page.evaluate((n) => window.unetPage.probabilities(n), image.name)
      expect(Math.max(...browserP.map((p, i) => Math.abs(p - nodeP[i]!)))).toBeLessThanOrEqual(NEAR)
    } finally {
      model.dispose()
    }
  })

  it('finishes a batch whose every image fails, saying why on its card', async () => {
    const tgs = fixtures.find((x) => x.name === 'tgs')!
    const bad = join(root, 'broken.png')
    writeFileSync(bad, 'not a PNG at all')
    await segment(page, tgs.server.url, [bad], 'cpu')
    expect(await page.evaluate(() => window.unetPage.results())).toEqual([expect.objectContaining({ name: 'broken.png', status: 'error', error: expect.stringMatching(/cannot decode/) })])
    expect(await page.$eval('.card.error .coverage', (e) => e.textContent)).toMatch(/cannot decode/)
  })
})
