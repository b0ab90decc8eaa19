import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { encodePng, mapLimit } from '@unet/data'
import { writeFileAtomic } from '@unet/files'
import { encode as encodeRle } from '@unet/rle'
import { checkOption } from './errors'
import { type SyntheticTgsOptions, generateSyntheticTgs } from './synthetic'

/** What {@link writeSyntheticTgs} wrote. */
export interface WrittenTgs {
  /** The dataset folder. */
  dir: string
  trainCount: number
  testCount: number
  emptyMasks: number
}

/** 8-bit grey values in [0, 1] as a PNG of 1 or 3 equal channels (Kaggle's images have three). */
function imagePng(pixels: Float32Array, width: number, height: number, channels: 1 | 3): Uint8Array {
  if (channels === 1) return encodePng(pixels, { width, height, channels: 1 }, { bitDepth: 8 })
  const rgb = new Float32Array(3 * pixels.length)
  for (let i = 0; i < pixels.length; i++) rgb.fill(pixels[i]!, 3 * i, 3 * i + 3)
  return encodePng(rgb, { width, height, channels: 3 }, { bitDepth: 8 })
}

/** A 0/1 mask as a 16-bit grey PNG of 0 / 65535, like Kaggle's masks. */
function maskPng(mask: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng(Uint16Array.from(mask, (v) => (v ? 65535 : 0)), { width, height, channels: 1 })
}

/**
 * Writes a synthetic TGS-like dataset in the exact Kaggle layout, so every tool
 * that reads the real download runs on it unchanged: `train/images/<id>.png`
 * (8-bit, three equal channels), `train/masks/<id>.png` (16-bit grey, 0 / 65535), `test/images/`,
 * `train.csv` (column-major RLE via `@unet/rle`), `depths.csv`, and
 * `sample_submission.csv`. Reading the folder back with {@link readTgsDataset}
 * gives exactly {@link generateSyntheticTgs}'s data for the same options.
 *
 * @param dir - the folder to write (created if missing; existing files with the same names are replaced)
 * @param options - counts, seed and the other generator options
 * @returns the folder and counts
 * @example
 * ```ts
 * await writeSyntheticTgs('/tmp/tgs-synthetic', { trainCount: 4000, testCount: 1000, seed: 0 })
 * const { train } = await readTgsDataset('/tmp/tgs-synthetic')
 * ```
 */
export async function writeSyntheticTgs(dir: string, options: SyntheticTgsOptions = {}): Promise<WrittenTgs> {
  const { train, test, report } = generateSyntheticTgs(options)
  const channels = options.imageChannels ?? 3
  checkOption(channels === 1 || channels === 3, `imageChannels must be 1 or 3, got ${String(channels)}`)
  await mkdir(join(dir, 'train', 'images'), { recursive: true })
  await mkdir(join(dir, 'train', 'masks'), { recursive: true })
  await mkdir(join(dir, 'test', 'images'), { recursive: true })
  await mapLimit(train, 8, async (s) => {
    await writeFileAtomic(join(dir, 'train', 'images', `${s.id}.png`), imagePng(s.image, s.width, s.height, channels))
    await writeFileAtomic(join(dir, 'train', 'masks', `${s.id}.png`), maskPng(s.mask, s.width, s.height))
  })
  await mapLimit(test, 8, async (s) => {
    await writeFileAtomic(join(dir, 'test', 'images', `${s.id}.png`), imagePng(s.image, s.width, s.height, channels))
  })
  const trainCsv = ['id,rle_mask', ...train.map((s) => `${s.id},${encodeRle(s.mask, { height: s.height, width: s.width })}`)]
  // Kaggle's depths.csv mixes train and test ids in no particular order; sorted is as good.
  const depths = [...train, ...test].map((s) => ({ id: s.id, z: s.depth })).sort((a, b) => (a.id < b.id ? -1 : 1))
  const depthsCsv = ['id,z', ...depths.map((d) => `${d.id},${d.z}`)]
  // Kaggle's sample submission marks pixel 1 of every test image.
  const sample = ['id,rle_mask', ...test.map((s) => `${s.id},1 1`)]
  await writeFileAtomic(join(dir, 'train.csv'), trainCsv.join('\n') + '\n')
  await writeFileAtomic(join(dir, 'depths.csv'), depthsCsv.join('\n') + '\n')
  await writeFileAtomic(join(dir, 'sample_submission.csv'), sample.join('\n') + '\n')
  return { dir, trainCount: train.length, testCount: test.length, emptyMasks: report.emptyMasks }
}
