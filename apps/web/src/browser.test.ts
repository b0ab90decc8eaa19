// The page in a real browser (Debian's Chromium, headless, driven by puppeteer-core) predicts what Node
// predicts with the same model, the same prepare/restore functions and the same backend.
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { predictProbabilities } from '@unet/predict'
import { encode } from '@unet/rle'
import { loadModel } from '@unet/runtime'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
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
        ]
        for (const [name, options, images] of runs) {
          const dir = join(root, name)
          await makeRun(dir, options)
          const list = []
          for (const image of images) {
            const file = join(root, `${name}_${image.name}`)
            list.push({ file, name: file.split('/').pop()!, pixels: await writePng(file, image.make(), image.width, image.height, image.channels) })
          }
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
    for (const which of ['tgs', 'rgb']) {
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

  it('moves the threshold without predicting again, and refuses colour images for a grey model', async () => {
    const tgs = fixtures.find((x) => x.name === 'tgs')!
    const rgb = fixtures.find((x) => x.name === 'rgb')!
    await segment(page, tgs.server.url, [tgs.images[0]!.file, rgb.images[0]!.file], 'cpu')
    const results = await page.evaluate(() => window.unetPage.results())
    expect(results.find((r) => r.name === rgb.images[0]!.name)).toMatchObject({ status: 'error', error: expect.stringMatching(/grey/) })
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
