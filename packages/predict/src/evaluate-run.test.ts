import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodePng } from '@unet/data'
import { saveModel } from '@unet/runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { evaluateRun } from './evaluate-run'
import { readRun } from './run-folder'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

async function brightnessRun(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'eval-run-'))
  const model = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [32, 32, 1], filters: 1, kernelSize: 1, useBias: false })] })
  model.setWeights([tf.ones([1, 1, 1, 1])])
  await saveModel(model, join(dir, 'best'))
  model.dispose()
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({
      format: 'unet-run', version: 2, model: 'best/model.json', input: { width: 32, height: 32, channels: 1 },
      prepare: { mode: 'pad', pad: 'constant', interpolation: 'bilinear' }, scale: 'unit', output: { classes: 1, activation: 'sigmoid' },
      threshold: 0.5, rle: { order: 'column', idColumn: 'id', idSuffix: '' }, layout: 'folders',
      monitor: { name: 'val_dice', mode: 'max', best: 0.9, epoch: 1 }, encoder: 'plain',
    }),
  )
  return dir
}

/** A folders-layout dataset: image brightness 0.9 on the first `on` pixels of each 10×10 image, masks given separately. */
function dataset(samples: Record<string, { on: number; truth: number }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'eval-data-'))
  mkdirSync(join(dir, 'images'))
  mkdirSync(join(dir, 'masks'))
  for (const [id, s] of Object.entries(samples)) {
    const image = Uint8Array.from({ length: 100 }, (_, i) => (i < s.on ? 230 : 20))
    const mask = Uint8Array.from({ length: 100 }, (_, i) => (i < s.truth ? 255 : 0))
    writeFileSync(join(dir, 'images', `${id}.png`), encodePng(image, { width: 10, height: 10, channels: 1 }))
    writeFileSync(join(dir, 'masks', `${id}.png`), encodePng(mask, { width: 10, height: 10, channels: 1 }))
  }
  return dir
}

describe('evaluateRun', () => {
  it('scores Dice, IoU and pixel accuracy per image, worst first, with a sweep', async () => {
    const run = await readRun(await brightnessRun())
    // perfect: predicted 40 = truth 40; half: predicted 20 of truth 40 (Dice 2·20/60, IoU 0.5, accuracy 0.8)
    const data = dataset({ perfect: { on: 40, truth: 40 }, half: { on: 20, truth: 40 }, empty: { on: 0, truth: 0 } })
    const perImage = join(mkdtempSync(join(tmpdir(), 'eval-out-')), 'scores.csv')
    const r = await evaluateRun(run, { data, perImage })
    expect(r.images).toBe(3)
    expect(r.perImage.map((p) => p.id)).toEqual(['half', 'empty', 'perfect'])
    expect(r.perImage[0]).toEqual({ id: 'half', dice: 40 / 60, iou: 0.5, pixelAccuracy: 0.8, truePixels: 40, predictedPixels: 20 })
    expect(r.scores.dice).toBeCloseTo((40 / 60 + 1 + 1) / 3, 10)
    expect(r.scores.pixelAccuracy).toBeCloseTo((0.8 + 1 + 1) / 3, 10)
    expect(r.scores.tgs).toBeUndefined()
    expect(r.best.metric).toBe('dice')
    // brightness 0.9 and 0.08: every threshold between them gives the same masks
    const at = r.sweep.find((s) => s.threshold === 0.5)!
    expect(at.dice).toBeCloseTo(r.scores.dice, 10)
    expect(r.sweep.find((s) => s.threshold === 0.95)!.dice).toBeCloseTo(1 / 3, 10) // nothing predicted: only the empty image scores
    expect(readFileSync(perImage, 'utf8').split('\n').slice(0, 2)).toEqual(['id,dice,iou,pixel_accuracy,true_pixels,predicted_pixels', 'half,0.666667,0.500000,0.800000,40,20'])
  })

  it('stops naming unpaired and unreadable files, and scores the rest with skipBad (issue 17 F1)', async () => {
    const run = await readRun(await brightnessRun())
    const data = dataset({ a: { on: 10, truth: 10 }, b: { on: 10, truth: 10 } })
    writeFileSync(join(data, 'images', 'lonely.png'), encodePng(new Uint8Array(100), { width: 10, height: 10, channels: 1 }))
    writeFileSync(join(data, 'images', 'c.png'), new Uint8Array([1, 2, 3]))
    writeFileSync(join(data, 'masks', 'c.png'), encodePng(new Uint8Array(100), { width: 10, height: 10, channels: 1 }))
    await expect(evaluateRun(run, { data })).rejects.toThrow(/lonely\.png: image lonely has no mask/)
    const r = await evaluateRun(run, { data, skipBad: true })
    expect(r.images).toBe(2)
    expect(r.skipped.map((s) => s.file.replace(data, '')).sort()).toEqual(['/images/c.png', '/images/lonely.png'])
  })
})
