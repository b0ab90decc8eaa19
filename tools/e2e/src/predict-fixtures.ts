import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { encode } from '@unet/rle'
import { saveModel } from '@unet/runtime'

/**
 * A run folder as `unet train` leaves it for readers (docs/run-format.md): run.json and the model it names.
 * The model passes the mean brightness through (a 1×1 convolution), so a picture's bright object is its mask and
 * every test can say exactly what the prediction should be. Until `unet train` writes run.json this stands in for it.
 */
export async function brightnessRun(dir: string, run: { width: number; height: number; channels: 1 | 3; rle?: object; layout?: string; prepare?: object; threshold?: number }): Promise<string> {
  await tf.setBackend('cpu')
  mkdirSync(dir, { recursive: true })
  const model = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [run.height, run.width, run.channels], filters: 1, kernelSize: 1, useBias: false })] })
  model.setWeights([tf.fill([1, 1, run.channels, 1], 1 / run.channels)])
  await saveModel(model, join(dir, 'best'))
  model.dispose()
  const file = {
    format: 'unet-run',
    version: 2,
    model: 'best/model.json',
    input: { width: run.width, height: run.height, channels: run.channels },
    prepare: run.prepare ?? { mode: 'resize', interpolation: 'bilinear' },
    scale: 'unit',
    output: { classes: 1, activation: 'sigmoid' },
    threshold: run.threshold ?? 0.5,
    rle: run.rle ?? { order: 'column', idColumn: 'id', idSuffix: '' },
    layout: run.layout ?? 'folders',
    monitor: { name: 'val_dice', mode: 'max', best: 0.9, epoch: 3 },
    encoder: 'plain',
  }
  writeFileSync(join(dir, 'run.json'), JSON.stringify(file, null, 1))
  return dir
}

/** A bright ellipse (the object) on a dark, slightly textured background, and its true mask. */
export function ellipsePicture(width: number, height: number, seed: number): { rgb: Uint8Array; mask: Uint8Array } {
  const cx = width * (0.45 + 0.1 * ((seed * 7) % 3) / 2)
  const cy = height * 0.5
  const rx = width * 0.3
  const ry = height * 0.28
  const rgb = new Uint8Array(width * height * 3)
  const mask = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const on = ((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1
      mask[y * width + x] = on ? 1 : 0
      const noise = ((x * 31 + y * 17 + seed * 13) % 9) - 4
      const p = (y * width + x) * 3
      rgb[p] = on ? 235 + noise : 30 + noise
      rgb[p + 1] = on ? 225 + noise : 45 + noise
      rgb[p + 2] = on ? 215 + noise : 70 + noise
    }
  }
  return { rgb, mask }
}

export async function writeJpeg(path: string, rgb: Uint8Array, width: number, height: number, channels: 1 | 3 = 3): Promise<void> {
  await sharp(Buffer.from(rgb), { raw: { width, height, channels } }).jpeg({ quality: 95 }).toFile(path)
}

/** Carvana sizes, scaled down 16×: 1918×1280 → about 120×80. */
export const CARVANA_SIZES: [number, number][] = [
  [120, 80],
  [119, 80],
  [120, 79],
  [121, 81],
  [118, 78],
  [120, 80],
]

/**
 * A Carvana-layout dataset: train/ + train_masks.csv (so the layout is detected), test/<car>_<nn>.jpg at about
 * 120×80, and sample_submission.csv listing the test photos in its own (not sorted) order.
 */
export async function carvanaFixture(dir: string): Promise<{ masks: Map<string, { mask: Uint8Array; width: number; height: number }>; sampleOrder: string[] }> {
  mkdirSync(join(dir, 'train'), { recursive: true })
  mkdirSync(join(dir, 'test'), { recursive: true })
  const trainRows = ['img,rle_mask']
  for (let i = 1; i <= 2; i++) {
    const { rgb, mask } = ellipsePicture(120, 80, i)
    const id = `00087a6bd4dc_0${i}`
    await writeJpeg(join(dir, 'train', `${id}.jpg`), rgb, 120, 80)
    trainRows.push(`${id}.jpg,${encode(mask, { height: 80, width: 120 }, { order: 'row-major' })}`)
  }
  writeFileSync(join(dir, 'train_masks.csv'), trainRows.join('\n') + '\n')
  const masks = new Map<string, { mask: Uint8Array; width: number; height: number }>()
  const ids: string[] = []
  for (const [k, [width, height]] of CARVANA_SIZES.entries()) {
    const id = `${k % 2 === 0 ? '0ce66b539f52' : 'fff9b3a5373f'}_${String(k + 1).padStart(2, '0')}`
    const { rgb, mask } = ellipsePicture(width, height, k + 3)
    await writeJpeg(join(dir, 'test', `${id}.jpg`), rgb, width, height)
    masks.set(`${id}.jpg`, { mask, width, height })
    ids.push(`${id}.jpg`)
  }
  const sampleOrder = [...ids].reverse()
  writeFileSync(join(dir, 'sample_submission.csv'), ['img,rle_mask', ...sampleOrder.map((id) => `${id},1 1`)].join('\n') + '\n')
  return { masks, sampleOrder }
}

/** A whale-fluke folder: images/<name>.jpg of varying, roughly 2:1 sizes, masks/<name>.jpg grey JPEGs (fluke > 108). */
export async function whaleFixture(dir: string): Promise<Map<string, { mask: Uint8Array; width: number; height: number }>> {
  mkdirSync(join(dir, 'images'), { recursive: true })
  mkdirSync(join(dir, 'masks'), { recursive: true })
  const out = new Map<string, { mask: Uint8Array; width: number; height: number }>()
  for (const [k, [width, height]] of ([[160, 80], [130, 70], [150, 72], [96, 50]] as [number, number][]).entries()) {
    const name = `w_${k}a${k}b`
    const { rgb, mask } = ellipsePicture(width, height, k + 11)
    await writeJpeg(join(dir, 'images', `${name}.jpg`), rgb, width, height)
    await writeJpeg(join(dir, 'masks', `${name}.jpg`), mask.map((v) => (v ? 255 : 0)), width, height, 1)
    out.set(name, { mask, width, height })
  }
  return out
}

/** Intersection over union of two 0/1 masks. */
export function iou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0
  let union = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0
    const y = b[i] !== 0
    if (x && y) inter++
    if (x || y) union++
  }
  return union === 0 ? 1 : inter / union
}
