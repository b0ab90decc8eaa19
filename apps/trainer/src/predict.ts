import sharp from 'sharp'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { generateSyntheticTgs, readTgsTestImages } from '@unet/data-tgs'
import { encode, submissionChunks, type SubmissionRow } from '@unet/rle'
import { writeFileAtomic } from '@unet/files'
import { loadModel } from '@unet/runtime'
import { prepareSet, toOriginalSize } from './data'
import { TrainerError } from './errors'
import { predictProbabilities } from '@unet/predict'
import { modelChannels, outputsLogits } from './model'
import { openRun } from './run-dir'
import { startBackend } from './backend'
import type { BackendChoice, TrainConfig } from './config'

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
  /** Test images read, predicted and written per chunk (default 256): memory stays flat whatever the test set's size. */
  chunkSize?: number
  /** Called after each chunk with the number of images predicted so far and the total when it is known. */
  onProgress?: (done: number, total: number | null) => void
}

/** What {@link predict} returns. */
export interface PredictResult {
  out: string
  rows: number
  threshold: number
  /** Images predicted with salt. */
  nonEmpty: number
}

type TestImage = { id: string; image: Float32Array; height: number; width: number }

/** The test images of a run's data in chunks: streamed from a folder or zip, or the (small) synthetic test set. */
async function* testChunks(config: Pick<TrainConfig, 'data' | 'seed' | 'synthTest'>, chunkSize: number): AsyncGenerator<TestImage[]> {
  if (config.data === null) {
    const { test } = generateSyntheticTgs({ trainCount: 0, testCount: config.synthTest, seed: config.seed })
    for (let start = 0; start < test.length; start += chunkSize) yield test.slice(start, start + chunkSize)
    return
  }
  try {
    // predict does not use depths, so a test id missing from depths.csv is no reason to stop
    yield* readTgsTestImages(config.data, { chunkSize, missingDepths: 'nan' })
  } catch (cause) {
    const msg = cause instanceof Error ? cause.message : String(cause)
    throw new TrainerError('NO_DATA', `cannot read the test images of ${config.data}: ${msg}`, { cause })
  }
}

/** Streams the rows into `out` through the one atomic write (regular files replaced, pipes written into, `-` is stdout; gzipped when `out` ends in `.gz`). */
async function writeRows(out: string, rows: AsyncIterable<SubmissionRow>): Promise<number> {
  let count = 0
  async function* counted(): AsyncGenerator<SubmissionRow> {
    for await (const row of rows) {
      count++
      yield row
    }
  }
  await writeFileAtomic(out, submissionChunks(counted()), { mkdir: true })
  return count
}

/**
 * Predicts a test set with a run's best checkpoint, chunk by chunk, maps each
 * probability map back to the original size, thresholds it, run-length encodes
 * it (column-major, via @unet/rle) and streams the rows into the Kaggle
 * submission, written atomically. Only one chunk of test images is in memory
 * at a time, so Kaggle's 18,000 test images need no more than a few hundred.
 *
 * @param options - run folder, data, output path, threshold, TTA, chunk size
 * @returns where it wrote and how many rows
 * @example
 * ```ts
 * const r = await predict({ model: 'runs/latest', out: 'submission.csv.gz', tta: 'flip' })
 * ```
 */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  const run = await openRun(options.model)
  const config = { ...run.config, backend: options.backend ?? run.config.backend }
  const data = options.data ?? run.config.data
  const chunkSize = options.chunkSize ?? 256
  await startBackend(config)
  const threshold = options.threshold === undefined || options.threshold === 'auto' ? (run.state.best?.threshold ?? 0.5) : options.threshold
  const out = options.out ?? 'submission.csv'
  const chunks = testChunks({ ...config, data }, chunkSize)
  // read the first chunk before anything is written, so an empty test set leaves no empty submission behind
  const first = await chunks.next()
  const source = data ?? 'the synthetic data'
  if (first.done === true || first.value.length === 0) {
    throw new TrainerError('NO_DATA', `${source} has no test images (test/images/*.png); pass --data with a Kaggle-layout folder`)
  }
  const total = data === null ? config.synthTest : null
  if (options.probabilities) await mkdir(options.probabilities, { recursive: true })
  const model = await loadModel(run.bestDir)
  let nonEmpty = 0
  let done = 0
  // an error of our own (reading, predicting) is rethrown as it is, not as the writer's "could not write"
  let failure: unknown = null
  async function* rows(): AsyncGenerator<SubmissionRow> {
    try {
      for (let chunk: TestImage[] | undefined = first.value; chunk !== undefined; chunk = (await chunks.next()).value ?? undefined) {
        const set = prepareSet(chunk, config, modelChannels(config))
        const probabilities = await predictProbabilities(
          model,
          { data: set.images, count: set.count, height: set.size, width: set.size, channels: set.channels },
          { batchSize: options.batchSize ?? config.batchSize, activation: outputsLogits(config) ? 'linear' : 'sigmoid', tta: options.tta === 'flip' ? ['hflip'] : [] },
        )
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
          yield { id: t.id, rleMask: encode(mask, { height: t.height, width: t.width }) }
          if (options.probabilities) {
            const bytes = new Uint8Array(p.length)
            for (let k = 0; k < p.length; k++) bytes[k] = Math.round(Math.min(1, Math.max(0, p[k] as number)) * 255)
            await sharp(Buffer.from(bytes), { raw: { width: t.width, height: t.height, channels: 1 } }).png().toFile(join(options.probabilities, `${t.id}.png`))
          }
        }
        done += chunk.length
        options.onProgress?.(done, total)
      }
    } catch (error) {
      failure = error
      throw error
    }
  }
  let written: number
  try {
    written = await writeRows(out, rows())
  } catch (error) {
    throw failure ?? error
  } finally {
    model.dispose()
    await chunks.return(undefined)
  }
  return { out, rows: written, threshold, nonEmpty }
}
