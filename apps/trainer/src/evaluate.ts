import { resolve } from 'node:path'
import { loadModel } from '@unet/runtime'
import { loadRunData, prepareSet, loadRawData, type RunData } from './data'
import { modelChannels, resolveLoss } from './model'
import { openRun } from './run-dir'
import { startBackend } from './backend'
import { validate } from './validation'
import { formatTable } from './progress'
import { scoreProbabilities, type SetScores, type ThresholdScores } from '@unet/train'
import type { BackendChoice } from './config'

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Run folder (default: the newest under ./runs). */
  model?: string
  /** Dataset to score on; default the run's own validation split. */
  data?: string
  /** Threshold to report at; default the run's chosen one. */
  threshold?: number
  /** Average with horizontally flipped predictions. */
  tta?: boolean
  backend?: BackendChoice
}

/** What {@link evaluate} returns. */
export interface EvaluateResult {
  runDir: string
  /** What was scored. */
  source: string
  images: number
  /** The threshold reported at. */
  threshold: number
  /** Scores at that threshold. */
  atThreshold: ThresholdScores
  /** The full sweep, best threshold, per-class scores and empty baseline. */
  scores: SetScores
}

/**
 * Scores a run's best checkpoint: TGS score, mean IoU and Dice, per coverage
 * class, and the threshold sweep. Without `data`, on the run's own validation
 * split (rebuilt from its config and seed); with `data` pointing elsewhere, on
 * every labelled image there.
 *
 * @param options - run folder, data, threshold, TTA
 * @returns the scores
 * @example
 * ```ts
 * const result = await evaluate({ model: 'runs/latest' })
 * ```
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluateResult> {
  const run = await openRun(options.model)
  const config = { ...run.config, backend: options.backend ?? run.config.backend }
  await startBackend(config)
  let data: RunData
  const sameData = options.data === undefined || (run.config.data !== null && resolve(options.data) === resolve(run.config.data))
  if (sameData) {
    data = await loadRunData(config, modelChannels(config))
  } else {
    const raw = await loadRawData({ ...config, data: options.data as string }, { test: false })
    const all = prepareSet(raw.train, config, modelChannels(config))
    data = { train: prepareSet([], config, modelChannels(config)), validation: all, test: [], source: raw.source }
  }
  const model = await loadModel(run.bestDir)
  try {
    const v = validate(model, data, config, resolveLoss(config.loss), options.tta ?? false)
    const threshold = options.threshold ?? run.state.best?.threshold ?? v.scores.best.threshold
    const at = scoreProbabilities(data.validation.originalMasks, v.probabilities, data.validation.coverageClasses, [threshold])
    const scores: SetScores = { ...v.scores, byCoverageClass: at.byCoverageClass, imageScores: at.imageScores }
    const atThreshold = at.best
    return {
      runDir: run.runDir,
      source: sameData ? `${data.source}, validation split` : data.source,
      images: data.validation.count,
      threshold,
      atThreshold,
      scores,
    }
  } finally {
    model.dispose()
  }
}

/**
 * Formats an {@link EvaluateResult} as the tables `unet evaluate` prints.
 *
 * @param r - the result
 * @returns text
 * @example
 * ```ts
 * console.log(formatEvaluation(await evaluate({ model: 'runs/latest' })))
 * ```
 */
export function formatEvaluation(r: EvaluateResult): string {
  const a = r.atThreshold
  return [
    `run ${r.runDir} on ${r.source} (${r.images} images)`,
    `threshold ${r.threshold.toFixed(2)}: TGS score ${a.score.toFixed(4)}, mean IoU ${a.iou.toFixed(4)}, Dice ${a.dice.toFixed(4)}   (empty-mask baseline ${r.scores.emptyBaseline.toFixed(4)})`,
    '',
    'by coverage class:',
    formatTable(['class', 'images', 'TGS', 'IoU'], r.scores.byCoverageClass.map((c) => [String(c.coverageClass), String(c.count), c.score.toFixed(4), c.iou.toFixed(4)])),
    '',
    'threshold sweep:',
    formatTable(
      ['threshold', 'TGS', 'IoU', 'Dice', ''],
      r.scores.sweep.map((s) => [s.threshold.toFixed(2), s.score.toFixed(4), s.iou.toFixed(4), s.dice.toFixed(4), Math.abs(s.threshold - r.threshold) < 1e-9 ? '<' : '']),
    ),
  ].join('\n')
}
