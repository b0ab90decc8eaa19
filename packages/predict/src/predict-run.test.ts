import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { execFileSync } from 'node:child_process'
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeImage, encodePng } from '@unet/data'
import { zipSync } from 'fflate'
import { decode, parseSubmission } from '@unet/rle'
import { saveModel } from '@unet/runtime'
import { beforeAll, describe, expect, it } from 'vitest'
import { predictRun } from './predict-run'
import { readRun } from './run-folder'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

/** A run whose model passes the (mean) intensity through: the probability of a pixel is its brightness. */
async function brightnessRun(channels: 1 | 3, extra: Record<string, unknown> = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'predict-run-'))
  const model = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [64, 64, channels], filters: 1, kernelSize: 1, useBias: false })] })
  model.setWeights([tf.fill([1, 1, channels, 1], 1 / channels)])
  await saveModel(model, join(dir, 'best'))
  model.dispose()
  const run = {
    format: 'unet-run', version: 2, model: 'best/model.json',
    input: { width: 64, height: 64, channels },
    // pad mode: prepare and restore are exact inverses, so masks can be compared pixel for pixel
    prepare: { mode: 'pad', pad: 'constant', interpolation: 'bilinear' }, scale: 'unit',
    output: { classes: 1, activation: 'sigmoid' }, threshold: 0.5,
    rle: { order: 'column', idColumn: 'id', idSuffix: '' }, layout: 'folders',
    monitor: { name: 'val_dice', mode: 'max', best: 0.9, epoch: 1 }, encoder: 'plain',
    ...extra,
  }
  writeFileSync(join(dir, 'run.json'), JSON.stringify(run))
  return dir
}

/** An image of `width × height` with a bright rectangle (value 0.9) on a dim background (0.1), and its true mask. */
function picture(width: number, height: number, rect: { x: number; y: number; w: number; h: number }, channels: 1 | 3 = 1): { png: Uint8Array; mask: Uint8Array } {
  const mask = new Uint8Array(width * height)
  const pixels = new Uint8Array(width * height * channels)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const on = x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h
      mask[y * width + x] = on ? 1 : 0
      for (let c = 0; c < channels; c++) pixels[(y * width + x) * channels + c] = on ? 230 : 25
    }
  }
  return { png: encodePng(pixels, { width, height, channels }), mask }
}

const shapes = {
  wide: { width: 40, height: 20, rect: { x: 5, y: 4, w: 20, h: 10 } },
  tall: { width: 21, height: 37, rect: { x: 2, y: 20, w: 7, h: 12 } },
  empty: { width: 30, height: 30, rect: { x: 0, y: 0, w: 0, h: 0 } },
}

function imagesFolder(channels: 1 | 3 = 1): { dir: string; masks: Record<string, Uint8Array> } {
  const dir = mkdtempSync(join(tmpdir(), 'predict-images-'))
  const masks: Record<string, Uint8Array> = {}
  for (const [id, s] of Object.entries(shapes)) {
    const p = picture(s.width, s.height, s.rect, channels)
    writeFileSync(join(dir, `${id}.png`), p.png)
    masks[id] = p.mask
  }
  writeFileSync(join(dir, 'notes.txt'), 'not an image')
  return { dir, masks }
}

describe('predictRun on a folder of images', () => {
  it('writes the submission, masks, boxes, crops and overlays at each image\'s own size', async () => {
    const run = await readRun(await brightnessRun(1))
    const { dir, masks } = imagesFolder()
    const out = mkdtempSync(join(tmpdir(), 'predict-out-'))
    const r = await predictRun(run, {
      images: dir,
      out: join(out, 'sub.csv'),
      masksOut: join(out, 'masks'),
      boxes: join(out, 'boxes.jsonl'),
      cropsOut: join(out, 'crops'),
      overlaysOut: join(out, 'overlays'),
      probabilities: join(out, 'probs'),
      chunkSize: 2,
    })
    expect(r).toMatchObject({ images: 3, nonEmpty: 2, threshold: 0.5, noCrop: 1, written: { rows: 3, masks: 3, crops: 2, overlays: 3, probabilities: 3 } })
    expect(r.notes.join()).toMatch(/1 file\(s\) .* are not images/)
    const rows = parseSubmission(readFileSync(join(out, 'sub.csv'), 'utf8'))
    expect(rows.map((row) => row.id)).toEqual(['empty', 'tall', 'wide'])
    for (const row of rows) {
      const s = shapes[row.id as keyof typeof shapes]
      expect(decode(row.rleMask, { height: s.height, width: s.width }), row.id).toEqual(masks[row.id])
      const png = await decodeImage(readFileSync(join(out, 'masks', `${row.id}.png`)))
      expect({ width: png.width, height: png.height }).toEqual({ width: s.width, height: s.height })
      expect(Uint8Array.from(png.data, (v) => (v > 0.5 ? 1 : 0))).toEqual(masks[row.id])
    }
    const boxes = readFileSync(join(out, 'boxes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(boxes[2]).toEqual({ id: 'wide', width: 40, height: 20, components: [{ area: 200, x: 5, y: 4, width: 20, height: 10 }] })
    expect(boxes[0]).toEqual({ id: 'empty', width: 30, height: 30, components: [] })
    const crop = await decodeImage(readFileSync(join(out, 'crops', 'tall.png')))
    expect({ width: crop.width, height: crop.height }).toEqual({ width: 7, height: 12 })
    expect(readdirSync(join(out, 'crops'))).toEqual(['tall.png', 'wide.png'])
    const overlay = await decodeImage(readFileSync(join(out, 'overlays', 'wide.png')))
    expect({ width: overlay.width, height: overlay.height, channels: overlay.channels }).toEqual({ width: 40, height: 20, channels: 3 })
  })

  it('stops before writing anything at an unreadable image, and skips it when asked', async () => {
    const run = await readRun(await brightnessRun(1))
    const { dir } = imagesFolder()
    writeFileSync(join(dir, 'broken.png'), new Uint8Array(0))
    const out = mkdtempSync(join(tmpdir(), 'predict-out-'))
    const options = { images: dir, out: join(out, 'sub.csv'), masksOut: join(out, 'masks'), chunkSize: 1 }
    await expect(predictRun(run, options)).rejects.toThrow(
      expect.objectContaining({ code: 'UNREADABLE', message: expect.stringMatching(/broken\.png .*; nothing was written: fix or remove the file, or pass --skip-unreadable/) }),
    )
    expect(readdirSync(out).filter((n) => !n.startsWith('.'))).toEqual(['masks'])
    expect(readdirSync(join(out, 'masks'))).toEqual([])
    const r = await predictRun(run, { ...options, skipUnreadable: true })
    expect(r.images).toBe(3)
    expect(r.skipped).toEqual([expect.objectContaining({ file: join(dir, 'broken.png') })])
  })

  it('repeats grey images for a colour model, and refuses colour images for a grey one', async () => {
    const rgb = await readRun(await brightnessRun(3))
    const { dir, masks } = imagesFolder(1)
    const out = mkdtempSync(join(tmpdir(), 'predict-out-'))
    await predictRun(rgb, { images: dir, out: join(out, 'sub.csv') })
    const rows = parseSubmission(readFileSync(join(out, 'sub.csv'), 'utf8'))
    expect(decode(rows[2]!.rleMask, { height: 20, width: 40 })).toEqual(masks.wide)
    const grey = await readRun(await brightnessRun(1))
    const colour = mkdtempSync(join(tmpdir(), 'predict-colour-'))
    const pixels = new Uint8Array(8 * 8 * 3).map((_, i) => (i % 3 === 0 ? 200 : 10))
    writeFileSync(join(colour, 'red.png'), encodePng(pixels, { width: 8, height: 8, channels: 3 }))
    await expect(predictRun(grey, { images: colour, out: join(out, 'x.csv') })).rejects.toThrow(/red\.png is a colour image but the run's model takes grey images/)
    expect(existsSync(join(out, 'x.csv'))).toBe(false)
  })

  it('writes row-major Carvana ids with their suffix, and shards that add up to the whole', async () => {
    const run = await readRun(await brightnessRun(1, { rle: { order: 'row', idColumn: 'img', idSuffix: '.jpg' }, layout: 'carvana' }))
    const { dir, masks } = imagesFolder()
    const out = mkdtempSync(join(tmpdir(), 'predict-out-'))
    await predictRun(run, { images: dir, out: join(out, 'sub.csv.gz') })
    const whole = execFileSync('gunzip', ['-c', join(out, 'sub.csv.gz')]).toString()
    expect(whole.split('\n')[0]).toBe('img,rle_mask')
    const rows = parseSubmission(whole, { columns: ['img', 'rle_mask'] })
    expect(rows.map((row) => row.id)).toEqual(['empty.jpg', 'tall.jpg', 'wide.jpg'])
    expect(decode(rows[1]!.rleMask, { height: 37, width: 21 }, { order: 'row-major' })).toEqual(masks.tall)
    const parts: string[] = []
    for (let index = 0; index < 3; index++) {
      const r = await predictRun(run, { images: dir, out: join(out, 'sub.csv.gz'), shard: { index, count: 3 } })
      parts.push(...parseSubmission(execFileSync('gunzip', ['-c', r.written.submission as string]).toString(), { columns: ['img', 'rle_mask'] }).map((row) => row.id))
      expect(r.written.submission).toBe(join(out, `sub.part-${index}-of-3.csv.gz`))
    }
    expect(parts.sort()).toEqual(['empty.jpg', 'tall.jpg', 'wide.jpg'])
  })

  it('writes into a FIFO given as --out instead of replacing it (issue 17 F2)', async () => {
    const run = await readRun(await brightnessRun(1))
    const { dir } = imagesFolder()
    const fifo = join(mkdtempSync(join(tmpdir(), 'predict-fifo-')), 'pipe.csv')
    execFileSync('mkfifo', [fifo])
    const reader = new Promise<string>((resolve, reject) => {
      let text = ''
      createReadStream(fifo, 'utf8').on('data', (d) => (text += d)).on('end', () => resolve(text)).on('error', reject)
    })
    await predictRun(run, { images: dir, out: fifo })
    expect((await reader).split('\n')[0]).toBe('id,rle_mask')
    expect(parseSubmission(await reader)).toHaveLength(3)
    expect(execFileSync('stat', ['-c', '%F', fifo]).toString().trim()).toBe('fifo')
  })

  it('names the image a pad run cannot fit', async () => {
    const run = await readRun(await brightnessRun(1))
    const dir = mkdtempSync(join(tmpdir(), 'predict-big-'))
    writeFileSync(join(dir, 'big.png'), picture(80, 40, { x: 0, y: 0, w: 1, h: 1 }).png)
    await expect(predictRun(run, { images: dir, out: join(dir, 'x.csv') })).rejects.toThrow(
      expect.objectContaining({ code: 'MODEL_MISMATCH', message: expect.stringMatching(/big\.png: prepare: mode 'pad' cannot fit a 80×40 image into 64×64; use mode 'letterbox'/) }),
    )
  })

  it('says which outputs and inputs are missing', async () => {
    const run = await readRun(await brightnessRun(1))
    const { dir } = imagesFolder()
    await expect(predictRun(run, { images: dir })).rejects.toThrow(/nothing to write: give --out/)
    await expect(predictRun(run, { out: 'x.csv' })).rejects.toThrow(/exactly one of --data DIR .* or --images DIR/)
    const empty = mkdtempSync(join(tmpdir(), 'predict-empty-'))
    mkdirSync(join(empty, 'sub'))
    await expect(predictRun(run, { images: empty, out: join(empty, 'x.csv') })).rejects.toThrow(/holds no images to predict/)
    // outputs are checked before anything is predicted
    writeFileSync(join(empty, 'file'), '')
    await expect(predictRun(run, { images: dir, out: join(empty, 'file', 'x.csv') })).rejects.toMatchObject({ code: 'NO_FOLDER' })
    await expect(predictRun(run, { images: dir, boxes: join(empty, 'sub') })).rejects.toMatchObject({ code: 'IS_FOLDER' })
  })

  it('predicts Kaggle TGS zips from test.zip alone: a damaged train.zip does not matter (issue 17)', async () => {
    const run = await readRun(await brightnessRun(1))
    const dir = mkdtempSync(join(tmpdir(), 'predict-zips-'))
    const files: Record<string, Uint8Array> = {}
    for (const [id, s] of Object.entries(shapes)) files[`test/images/${id}.png`] = picture(s.width, s.height, s.rect).png
    writeFileSync(join(dir, 'test.zip'), zipSync(files))
    writeFileSync(join(dir, 'train.zip'), new Uint8Array([0x50, 0x4b, 3, 4, 1, 2, 3]))
    writeFileSync(join(dir, 'depths.csv'), 'id,z\nwide,10\n')
    const out = mkdtempSync(join(tmpdir(), 'predict-out-'))
    const r = await predictRun(run, { data: dir, out: join(out, 'sub.csv') })
    expect(r.layout).toBe('tgs')
    expect(parseSubmission(readFileSync(join(out, 'sub.csv'), 'utf8')).map((row) => row.id)).toEqual(['empty', 'tall', 'wide'])
  })
})
