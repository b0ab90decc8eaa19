import sharp from 'sharp'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { encode, formatSubmission, type SubmissionRow } from '@unet/rle'
import { writeFileAtomic } from './atomic'
import { loadCheckpoint } from './checkpoint'
import { loadRawData, prepareSet, toOriginalSize } from './data'
import { TrainerError } from './errors'
import { predictSet } from './inference'
import { modelChannels, outputsLogits } from './model'
import { openRun } from './run-dir'
import { startBackend } from './backend'
import type { BackendChoice } from './config'

/** Options of {@link predict}. */
export interface PredictOptions {
  /** Run folder (default: the newest under ./runs). */
  model?: string
  /** Kaggle-layout folder or zip whose `test/images` are predicted; default the run's data (synthetic test set when it trained on synthetic data). */
  data?: string
  /** Submission file; `.gz` is gzipped. Default `submission.csv`. */
  out?: string
  /** `'auto'` (the run's chosen threshold) or a probability. */
  threshold?: 'auto' | number
  /** Test-time augmentation. */
  tta?: 'none' | 'flip'
  /** Also write each probability map as an 8-bit PNG here. */
  probabilities?: string
  backend?: BackendChoice
  /** Images per forward pass. */
  batchSize?: number
}

/** What {@link predict} returns. */
export interface PredictResult {
  out: string
  rows: number
  threshold: number
  /** Images predicted with salt. */
  nonEmpty: number
}

const CHUNK = 256

/**
 * Predicts a test set with a run's best checkpoint, maps each probability map
 * back to the original size, thresholds it, run-length encodes it
 * (column-major, via @unet/rle) and writes the Kaggle submission atomically.
 *
 * @param options - run folder, data, output path, threshold, TTA
 * @returns where it wrote and how many rows
 * @example
 * ```ts
 * const r = await predict({ model: 'runs/latest', out: 'submission.csv.gz', tta: 'flip' })
 * ```
 */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  const run = await openRun(options.model)
  const config = { ...run.config, backend: options.backend ?? run.config.backend }
  const dataPath = options.data ?? run.config.data
  await startBackend(config)
  const raw = await loadRawData({ ...config, data: dataPath }, { train: false })
  if (raw.test.length === 0) {
    throw new TrainerError('NO_DATA', `${raw.source} has no test images (test/images/*.png); pass --data with a Kaggle-layout folder`)
  }
  const threshold = options.threshold === undefined || options.threshold === 'auto' ? (run.state.best?.threshold ?? 0.5) : options.threshold
  const out = options.out ?? 'submission.csv'
  if (options.probabilities) await mkdir(options.probabilities, { recursive: true })
  const { model } = await loadCheckpoint(run.bestDir)
  const rows: SubmissionRow[] = []
  let nonEmpty = 0
  try {
    for (let start = 0; start < raw.test.length; start += CHUNK) {
      const chunk = raw.test.slice(start, start + CHUNK)
      const set = prepareSet(chunk, config, modelChannels(config))
      const { probabilities } = predictSet(model, set, { batchSize: options.batchSize ?? config.batchSize, logits: outputsLogits(config), tta: options.tta === 'flip' })
      for (let i = 0; i < chunk.length; i++) {
        const t = chunk[i]!
        const p = toOriginalSize(probabilities[i]!, t, config)
        const mask = new Uint8Array(p.length)
        let any = false
        for (let k = 0; k < p.length; k++) {
          if ((p[k] as number) > threshold) {
            mask[k] = 1
            any = true
          }
        }
        if (any) nonEmpty++
        rows.push({ id: t.id, rleMask: encode(mask, { height: t.height, width: t.width }) })
        if (options.probabilities) {
          const bytes = new Uint8Array(p.length)
          for (let k = 0; k < p.length; k++) bytes[k] = Math.round(Math.min(1, Math.max(0, p[k] as number)) * 255)
          await sharp(Buffer.from(bytes), { raw: { width: t.width, height: t.height, channels: 1 } }).png().toFile(join(options.probabilities, `${t.id}.png`))
        }
      }
    }
  } finally {
    model.dispose()
  }
  await writeFileAtomic(out, formatSubmission(rows))
  return { out, rows: rows.length, threshold, nonEmpty }
}
