import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import { createRng, deriveSeed, mapLimit } from '@unet/data'
import { writeSyntheticTgs } from '@unet/data-tgs'
import { TrainerError } from './errors'

/** Layouts `unet synth` writes: the Kaggle TGS layout (grey 101×101) or the Carvana layout (RGB photos). */
export const SYNTH_LAYOUTS = ['tgs', 'carvana'] as const
/** A layout `unet synth` writes. */
export type SynthLayout = (typeof SYNTH_LAYOUTS)[number]

/** Options of {@link synth}. */
export interface SynthOptions {
  /** Folder to write the layout into. */
  out: string
  /** Train images. */
  count: number
  /** Test images (TGS layout only). */
  testCount: number
  /** Seed. */
  seed: number
  /** `tgs` (default) or `carvana`. */
  layout?: SynthLayout
  /** Carvana layout: photo width and height (default Carvana's 1918×1280). */
  width?: number
  height?: number
}

/**
 * Writes a synthetic dataset to disk: the TGS-like set in the Kaggle layout (`train/images`, `train/masks`,
 * `test/images`, `train.csv`, `depths.csv`), or Carvana-like photos in the Carvana layout
 * (`train/<car>_<nn>.jpg`, `train_masks/<car>_<nn>_mask.png`, 16 views per car), e.g. to measure memory and speed
 * at Carvana's size.
 *
 * @param options - folder, counts, seed, layout
 * @returns the options written
 * @example
 * ```ts
 * await synth({ out: 'data/synthetic', count: 400, testCount: 100, seed: 1 })
 * await synth({ out: '/tmp/carvana-2000', count: 2000, testCount: 0, seed: 1, layout: 'carvana' })
 * ```
 */
export async function synth(options: SynthOptions): Promise<SynthOptions> {
  try {
    if ((options.layout ?? 'tgs') === 'carvana') await writeSyntheticCarvana(options.out, { count: options.count, seed: options.seed, width: options.width ?? 1918, height: options.height ?? 1280 })
    else await writeSyntheticTgs(options.out, { trainCount: options.count, testCount: options.testCount, seed: options.seed })
  } catch (cause) {
    throw new TrainerError('WRITE_FAILED', `could not write the synthetic dataset to ${options.out}: ${(cause as Error).message}`, { cause })
  }
  return options
}

/** Views per car, as in Carvana. */
const VIEWS = 16

/**
 * Carvana-like photos: a car-coloured ellipse (the mask) of seeded place, size and colour on a textured ground,
 * as JPEG (quality 90), with 0/255 PNG masks beside them. The car id is 12 hex digits, as in Carvana.
 */
async function writeSyntheticCarvana(out: string, o: { count: number; seed: number; width: number; height: number }): Promise<void> {
  await mkdir(join(out, 'train'), { recursive: true })
  await mkdir(join(out, 'train_masks'), { recursive: true })
  const { width, height } = o
  await mapLimit(
    Array.from({ length: o.count }, (_, i) => i),
    2,
    async (i) => {
      const car = Math.floor(i / VIEWS)
      const carRng = createRng(deriveSeed(o.seed, car, 0xca7))
      const carId = Array.from({ length: 12 }, () => carRng.int(16).toString(16)).join('')
      const colour = [carRng.int(200) + 40, carRng.int(200) + 40, carRng.int(200) + 40]
      const rng = createRng(deriveSeed(o.seed, i, 0x7e3))
      const cx = width * (0.35 + 0.3 * rng())
      const cy = height * (0.4 + 0.2 * rng())
      const rx = width * (0.2 + 0.12 * rng())
      const ry = height * (0.15 + 0.12 * rng())
      const shade = rng.int(40)
      const rgb = new Uint8Array(width * height * 3)
      const mask = new Uint8Array(width * height)
      for (let y = 0; y < height; y++) {
        const dy = ((y - cy) / ry) ** 2
        for (let x = 0; x < width; x++) {
          const p = y * width + x
          const texture = (x * 7 + y * 13 + i * 5) % 31
          if (((x - cx) / rx) ** 2 + dy < 1) {
            mask[p] = 255
            rgb[3 * p] = colour[0]! + (texture >> 2)
            rgb[3 * p + 1] = colour[1]! + (texture >> 2)
            rgb[3 * p + 2] = colour[2]! + (texture >> 2)
          } else {
            const g = 150 + shade + texture
            rgb[3 * p] = g
            rgb[3 * p + 1] = g
            rgb[3 * p + 2] = g - 10
          }
        }
      }
      const id = `${carId}_${String((i % VIEWS) + 1).padStart(2, '0')}`
      const [jpg, png] = await Promise.all([
        sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer(),
        sharp(mask, { raw: { width, height, channels: 1 } }).png({ compressionLevel: 1 }).toBuffer(),
      ])
      await writeFile(join(out, 'train', `${id}.jpg`), jpg)
      await writeFile(join(out, 'train_masks', `${id}_mask.png`), png)
    },
  )
}
