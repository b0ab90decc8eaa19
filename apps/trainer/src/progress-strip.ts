import * as tf from '@tensorflow/tfjs-core'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { encodePng } from '@unet/data'
import { ensureFolder, writeFileAtomic } from '@unet/files'
import { predictTensor } from '@unet/predict'
import type { Callback } from '@unet/train'
import type { TrainConfig } from './config'
import { toOriginalSize, type RunData } from './data'
import { outputsLogits } from './model'

/** Validation images the learning strip follows. */
export const STRIP_IMAGES = 4
const TILE = 96

/** Every how many epochs the strip gets a row: every epoch up to 20 epochs, then about 20 rows in all. */
export function stripEvery(epochs: number): number {
  return Math.max(1, Math.ceil(epochs / 20))
}

function tileSize(shape: { width: number; height: number }): { width: number; height: number } {
  const f = Math.max(1, Math.max(shape.width, shape.height) / TILE)
  return { width: Math.max(1, Math.round(shape.width / f)), height: Math.max(1, Math.round(shape.height / f)) }
}

/** Nearest-pixel resample of a `channels`-plane image to `to`. */
function shrink(values: ArrayLike<number>, from: { width: number; height: number }, to: { width: number; height: number }, channels: number): Float32Array {
  const out = new Float32Array(to.width * to.height * channels)
  for (let y = 0; y < to.height; y++) {
    const sy = Math.min(from.height - 1, Math.floor(((y + 0.5) * from.height) / to.height))
    for (let x = 0; x < to.width; x++) {
      const sx = Math.min(from.width - 1, Math.floor(((x + 0.5) * from.width) / to.width))
      for (let c = 0; c < channels; c++) out[(y * to.width + x) * channels + c] = values[(sy * from.width + sx) * channels + c] as number
    }
  }
  return out
}

/** Tiles side by side, RGB, with a 2-pixel grey gap. */
function row(tiles: Float32Array[], size: { width: number; height: number }): { rgb: Float32Array; width: number; height: number } {
  const gap = 2
  const width = tiles.length * size.width + (tiles.length - 1) * gap
  const rgb = new Float32Array(width * size.height * 3).fill(0.6)
  tiles.forEach((t, k) => {
    for (let y = 0; y < size.height; y++) rgb.set(t.subarray(y * size.width * 3, (y + 1) * size.width * 3), (y * width + k * (size.width + gap)) * 3)
  })
  return { rgb, width, height: size.height }
}

const grey = (v: Float32Array): Float32Array => {
  const out = new Float32Array(v.length * 3)
  for (let i = 0; i < v.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = Math.min(1, Math.max(0, v[i] as number))
  return out
}

/**
 * A callback that follows a fixed strip of validation images as the model learns: after every `every`-th epoch it
 * predicts them and writes one row of probability maps, `RUN/progress/epoch-NNNN.png` (white = foreground). The
 * report stacks the rows under the images and their true masks, so masks can be seen sharpening over training.
 *
 * @param options - the run folder, its data and config, the validation images to follow
 * @returns the callback
 * @example
 * ```ts
 * const cb = learningStrip({ runDir, data, config, indices: [0, 5, 9, 12] })
 * ```
 */
export function learningStrip(options: { runDir: string; data: RunData; config: TrainConfig; indices: readonly number[] }): Callback {
  const { runDir, data, config, indices } = options
  const every = stripEvery(config.epochs)
  const v = data.validation
  // the few images followed, at model size, and their own sizes: read once (a streamed set decodes them here)
  let followed: Promise<{ x: Float32Array; shapes: { width: number; height: number }[] }> | null = null
  const follow = async (): Promise<{ x: Float32Array; shapes: { width: number; height: number }[] }> => ({
    x: await v.inputs(indices),
    shapes: (await v.originals(indices)).map((o) => ({ width: o.width, height: o.height })),
  })
  return {
    name: 'learningStrip',
    async onEpochEnd(logs, control) {
      if (indices.length === 0 || ((logs.epoch + 1) % every !== 0 && logs.epoch + 1 !== config.epochs)) return
      followed ??= follow()
      const { x, shapes } = await followed
      const first = tileSize(shapes[0] as { width: number; height: number })
      const p = tf.tidy(() => predictTensor(control.model, tf.tensor4d(x, [indices.length, v.height, v.width, v.channels]), { activation: outputsLogits(config) ? 'linear' : 'sigmoid' }))
      const probs = (await p.data()) as Float32Array
      p.dispose()
      const tiles = indices.map((_i, k) => {
        const shape = shapes[k] as { width: number; height: number }
        const own = toOriginalSize(probs.slice(k * v.width * v.height, (k + 1) * v.width * v.height), shape, config)
        return grey(shrink(own, shape, first, 1))
      })
      const r = row(tiles, first)
      const dir = join(runDir, 'progress')
      await ensureFolder(dir)
      await writeFileAtomic(join(dir, `epoch-${String(logs.epoch + 1).padStart(4, '0')}.png`), encodePng(r.rgb, { width: r.width, height: r.height, channels: 3 }))
    },
  }
}

/**
 * The learning strip as one picture: the images and true masks on top, then one row of predictions per recorded
 * epoch, labelled. Null when no epoch was recorded.
 *
 * @param runDir - the run folder
 * @param data - the run's data
 * @param indices - the validation images followed (the strip's columns)
 * @returns PNG bytes and the epochs shown, or null
 * @example
 * ```ts
 * const strip = await learningStripPicture(runDir, data, indices)
 * ```
 */
export async function learningStripPicture(runDir: string, data: RunData, indices: readonly number[]): Promise<{ png: Buffer; epochs: number[] } | null> {
  const dir = join(runDir, 'progress')
  if (!existsSync(dir) || indices[0] === undefined) return null
  const files = readdirSync(dir).filter((f) => /^epoch-\d+\.png$/.test(f)).sort()
  if (files.length === 0) return null
  const originals = await data.validation.originals(indices)
  const size = tileSize(originals[0] as { width: number; height: number })
  const images = row(originals.map((o) => {
    const small = shrink(o.image, o, size, o.channels)
    return o.channels === 3 ? small : grey(small)
  }), size)
  const truths = row(originals.map((o) => grey(Float32Array.from(shrink(o.mask, o, size, 1)))), size)
  const label = 70
  const rows: { input: Buffer | string; text: string }[] = [
    { input: Buffer.from(encodePng(images.rgb, { width: images.width, height: images.height, channels: 3 })), text: 'image' },
    { input: Buffer.from(encodePng(truths.rgb, { width: truths.width, height: truths.height, channels: 3 })), text: 'true mask' },
    ...files.map((f) => ({ input: join(dir, f), text: `epoch ${Number(/\d+/.exec(f)?.[0])}` })),
  ]
  const h = images.height + 4
  const width = label + images.width
  const height = rows.length * h
  const composites: sharp.OverlayOptions[] = []
  for (const [k, r] of rows.entries()) composites.push({ input: r.input, top: k * h, left: label })
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12" fill="#222"><rect width="100%" height="100%" fill="#fff"/>${rows
    .map((r, k) => `<text x="4" y="${k * h + images.height / 2 + 4}">${r.text}</text>`)
    .join('')}</svg>`
  const png = await sharp(Buffer.from(svg)).composite(composites).png().toBuffer()
  return { png, epochs: files.map((f) => Number(/\d+/.exec(f)?.[0])) }
}
