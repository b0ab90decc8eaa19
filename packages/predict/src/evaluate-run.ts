import { dirname, resolve } from 'node:path'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { loadImages, openDataset, restoreProbabilities, throwIfBadFiles, type Sample, type SampleEntry, type SkippedFile } from '@unet/data'
import { confusionCounts, diceFromCounts, iouFromCounts, ThresholdSweep, tgsImageScoreFromCounts, type SweepMetric } from '@unet/metrics'
import { ensureFolder, writeFileAtomic } from '@unet/files'
import { PredictError } from './errors'
import { loadRunModels, type ModelSet, type RunFolder } from './run-folder'
import { postProcess } from './postprocess'
import { predictProbabilities, resolveEmptyThreshold, type Models } from './probabilities'
import { prepareFor, prepareSpec } from './predict-run'
import type { TtaView } from './tta'

/** Options of {@link evaluateRun}. */
export interface EvaluateRunOptions {
  /** A labelled dataset (any layout @unet/data detects). */
  readonly data: string
  /** Threshold the per-image scores are given at: `auto` (run.json's, the default) or a probability. */
  readonly threshold?: 'auto' | number
  readonly tta?: readonly TtaView[]
  readonly minArea?: number
  readonly fillHoles?: boolean
  /** Thresholds of the sweep (default 0.05, 0.10, …, 0.95). */
  readonly thresholds?: readonly number[]
  /** Go on without unreadable or unpaired files (reported); default: stop naming them. */
  readonly skipBad?: boolean
  /** Mask threshold of 8-bit masks (e.g. 108 for JPEG whale-fluke masks); default any non-zero pixel. */
  readonly maskThreshold?: number
  /** Per-image scores CSV, worst first. */
  readonly perImage?: string
  readonly batchSize?: number
  readonly chunkSize?: number
  readonly signal?: AbortSignal
  readonly onProgress?: (done: number, total: number) => void
  /** The model, or models to average, when the caller loaded them already. */
  readonly model?: Models
  /** As {@link PredictRunOptions.emptyThreshold}: `auto` (default) = run.json's `emptyClassifier`, `null` = off. */
  readonly emptyThreshold?: 'auto' | number | null
}

/** One image's scores at the chosen threshold. */
export interface ImageScore {
  readonly id: string
  readonly dice: number
  readonly iou: number
  readonly pixelAccuracy: number
  /** The TGS image score (TGS-layout data and runs only). */
  readonly tgs?: number
  readonly truePixels: number
  readonly predictedPixels: number
}

/** Mean scores over images. */
export interface MeanScores {
  readonly dice: number
  readonly iou: number
  readonly pixelAccuracy: number
  readonly tgs?: number
}

/** What {@link evaluateRun} found. */
export interface EvaluateRunResult {
  readonly source: string
  readonly layout: string
  readonly images: number
  readonly threshold: number
  /** Means at `threshold` (after post-processing). */
  readonly scores: MeanScores
  /** Means over images at each threshold (raw masks, no post-processing), and the best by the run's monitor. */
  readonly sweep: { threshold: number; dice: number; iou: number; tgs: number }[]
  readonly best: { threshold: number; metric: SweepMetric; score: number }
  /** Per-image scores, worst first (by Dice). */
  readonly perImage: ImageScore[]
  readonly skipped: SkippedFile[]
  readonly notes: string[]
}

const DEFAULT_THRESHOLDS = Array.from({ length: 19 }, (_, i) => (i + 1) / 20)

/**
 * Scores a run's model on every labelled image of a dataset, streaming in chunks: Dice, IoU, pixel accuracy and
 * (for TGS) the TGS score per image and on average, a threshold sweep, and per-image scores (worst first).
 * Bad files stop it, naming them all, unless `skipBad`.
 *
 * @param folder - the run (from `readRun`)
 * @param options - data, threshold, TTA, post-processing, per-image CSV
 * @returns the scores
 * @example
 * ```ts
 * const r = await evaluateRun(await readRun('runs/a'), { data: '/data/whales', perImage: 'scores.csv' })
 * ```
 */
export async function evaluateRun(folder: RunFolder | ModelSet, options: EvaluateRunOptions): Promise<EvaluateRunResult> {
  const { run } = folder
  const threshold = options.threshold === undefined || options.threshold === 'auto' ? run.threshold : options.threshold
  if (!(threshold >= 0 && threshold < 1)) throw new PredictError('BAD_OPTION', `threshold ${threshold} is not a probability in [0, 1)`)
  if (options.perImage !== undefined && options.perImage !== '-') await ensureFolder(dirname(resolve(options.perImage)))
  const dataset = await openDataset(options.data, { onBadFile: 'skip', test: false, ...(options.maskThreshold !== undefined ? { maskThreshold: options.maskThreshold } : {}) })
  const skipped = [...dataset.report.skipped]
  const tgs = run.layout === 'tgs' || dataset.layout === 'tgs'
  const metric: SweepMetric = /tgs|score/i.test(run.monitor.name) ? 'tgs' : /iou|jaccard/i.test(run.monitor.name) ? 'iou' : 'dice'
  const sweep = new ThresholdSweep(options.thresholds ?? DEFAULT_THRESHOLDS, { metric })
  const spec = prepareSpec(run)
  const { width: W, height: H, channels: C } = run.input
  const perImage: ImageScore[] = []
  const model: Models = options.model ?? (await loadRunModels(folder))
  const emptyThreshold = resolveEmptyThreshold(folder.run, options.emptyThreshold)
  try {
    if (dataset.train.length === 0) throw new PredictError('BAD_OPTION', `${dataset.source} has no labelled images (images with masks) to score`)
    if (options.skipBad !== true) throwIfBadFiles(skipped, dataset.source, 'pass --skip-bad to score the rest')
    type Loaded = { ok: true; sample: Sample; where: string } | { ok: false; entry: SampleEntry; reason: string; code: SkippedFile['code'] }
    const loader = {
      loadImage: async (entry: SampleEntry): Promise<Loaded> => {
        try {
          return { ok: true, sample: await dataset.load(entry), where: entry.image.where }
        } catch (error) {
          const e = error as Error & { code?: SkippedFile['code']; file?: string }
          return { ok: false, entry, reason: e.message, code: e.code ?? 'CORRUPT_IMAGE' }
        }
      },
    }
    const bad: SkippedFile[] = []
    let done = 0
    for await (const chunk of loadImages(loader as never, dataset.train, { chunkSize: options.chunkSize ?? 16 })) {
      if (options.signal?.aborted) throw options.signal.reason ?? new PredictError('BAD_OPTION', 'interrupted')
      const good: { sample: Sample; where: string }[] = []
      for (const loaded of chunk as unknown as Loaded[]) {
        if (loaded.ok) good.push(loaded)
        else bad.push({ file: loaded.entry.image.where, id: loaded.entry.id, reason: loaded.reason, code: loaded.code })
      }
      const batch = new Float32Array(good.length * W * H * C)
      good.forEach(({ sample, where }, k) => {
        batch.set(prepareFor(sample, run, where), k * W * H * C)
      })
      const maps = await predictProbabilities(model, { data: batch, count: good.length, height: H, width: W, channels: C }, { activation: run.output.activation, tta: options.tta ?? [], batchSize: options.batchSize ?? 8, emptyThreshold })
      good.forEach(({ sample }, k) => {
        const size = { width: sample.width, height: sample.height }
        const probs = restoreProbabilities(maps[k] as Float32Array, size, spec)
        sweep.add(probs, sample.mask)
        const mask = postProcess(probs, size, { threshold, minArea: options.minArea ?? 0, fillHoles: options.fillHoles === true })
        const counts = confusionCounts(mask, sample.mask)
        perImage.push({
          id: sample.id,
          dice: diceFromCounts(counts),
          iou: iouFromCounts(counts),
          pixelAccuracy: (counts.tp + counts.tn) / mask.length,
          ...(tgs ? { tgs: tgsImageScoreFromCounts(counts) } : {}),
          truePixels: counts.tp + counts.fn,
          predictedPixels: counts.tp + counts.fp,
        })
      })
      done += chunk.length
      options.onProgress?.(done, dataset.train.length)
    }
    if (bad.length > 0) {
      if (options.skipBad !== true) throwIfBadFiles(bad, dataset.source, 'pass --skip-bad to score the rest')
      skipped.push(...bad)
    }
    if (perImage.length === 0) throw new PredictError('BAD_OPTION', `${dataset.source}: no image could be scored (${skipped.length} skipped)`)
    perImage.sort((a, b) => a.dice - b.dice || a.iou - b.iou || (a.id < b.id ? -1 : 1))
    const mean = (key: 'dice' | 'iou' | 'pixelAccuracy' | 'tgs'): number => perImage.reduce((s, r) => s + (r[key] ?? 0), 0) / perImage.length
    const swept = sweep.result()
    const result: EvaluateRunResult = {
      source: dataset.source,
      layout: dataset.layout,
      images: perImage.length,
      threshold,
      scores: { dice: mean('dice'), iou: mean('iou'), pixelAccuracy: mean('pixelAccuracy'), ...(tgs ? { tgs: mean('tgs') } : {}) },
      sweep: swept.thresholds.map((t, i) => ({ threshold: t, dice: swept.dice[i] as number, iou: swept.iou[i] as number, tgs: swept.tgs[i] as number })),
      best: { threshold: swept.best.threshold, metric, score: swept.best.score },
      perImage,
      skipped,
      notes: [...dataset.report.notes],
    }
    if (options.perImage !== undefined) await writeFileAtomic(options.perImage, perImageCsv(perImage, tgs), { mkdir: true })
    return result
  } finally {
    if (options.model === undefined) for (const m of model as LayersModel[]) m.dispose()
    await dataset.close()
  }
}

/** Per-image scores as CSV (id, dice, iou, pixel_accuracy[, tgs], true_pixels, predicted_pixels), in the given order. */
export function perImageCsv(rows: readonly ImageScore[], tgs: boolean): string {
  const quote = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)
  const head = ['id', 'dice', 'iou', 'pixel_accuracy', ...(tgs ? ['tgs'] : []), 'true_pixels', 'predicted_pixels'].join(',')
  const lines = rows.map((r) =>
    [quote(r.id), r.dice.toFixed(6), r.iou.toFixed(6), r.pixelAccuracy.toFixed(6), ...(tgs ? [(r.tgs ?? 0).toFixed(2)] : []), String(r.truePixels), String(r.predictedPixels)].join(','),
  )
  return [head, ...lines].join('\n') + '\n'
}
