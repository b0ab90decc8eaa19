import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encode as encodeRle } from '@unet/rle'
import { mapLimit } from './concurrency'
import { checkOption } from './errors'
import { encodePng } from './png'
import { type SyntheticTgsOptions, generateSyntheticTgs } from './synthetic'

/** What {@link writeSyntheticTgs} wrote. */
export interface WrittenTgs {
  /** The dataset folder. */
  dir: string
  trainCount: number
  testCount: number
  emptyMasks: number
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, text)
  await rename(tmp, path)
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
    await writeFile(join(dir, 'train', 'images', `${s.id}.png`), await encodePng(s.image, s.width, s.height, 8, channels))
    await writeFile(join(dir, 'train', 'masks', `${s.id}.png`), await encodePng(s.mask, s.width, s.height, 16))
  })
  await mapLimit(test, 8, async (s) => {
    await writeFile(join(dir, 'test', 'images', `${s.id}.png`), await encodePng(s.image, s.width, s.height, 8, channels))
  })
  const trainCsv = ['id,rle_mask', ...train.map((s) => `${s.id},${encodeRle(s.mask, { height: s.height, width: s.width })}`)]
  // Kaggle's depths.csv mixes train and test ids in no particular order; sorted is as good.
  const depths = [...train, ...test].map((s) => ({ id: s.id, z: s.depth })).sort((a, b) => (a.id < b.id ? -1 : 1))
  const depthsCsv = ['id,z', ...depths.map((d) => `${d.id},${d.z}`)]
  // Kaggle's sample submission marks pixel 1 of every test image.
  const sample = ['id,rle_mask', ...test.map((s) => `${s.id},1 1`)]
  await writeAtomic(join(dir, 'train.csv'), trainCsv.join('\n') + '\n')
  await writeAtomic(join(dir, 'depths.csv'), depthsCsv.join('\n') + '\n')
  await writeAtomic(join(dir, 'sample_submission.csv'), sample.join('\n') + '\n')
  return { dir, trainCount: train.length, testCount: test.length, emptyMasks: report.emptyMasks }
}
