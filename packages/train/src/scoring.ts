import { iou, sweepThresholds, tgsImageScore, tgsScore } from '@unet/metrics'

/** Scores of one threshold over a set of images. */
export interface ThresholdScores {
  /** Probability threshold. */
  threshold: number
  /** Mean TGS image score (the Kaggle metric). */
  score: number
  /** Mean IoU (empty truth and empty prediction count as 1). */
  iou: number
  /** Mean Dice (same convention). */
  dice: number
}

/** Result of {@link scoreProbabilities}. */
export interface SetScores {
  /** One entry per threshold swept. */
  sweep: ThresholdScores[]
  /** The threshold with the best TGS score (the lowest one on ties). */
  best: ThresholdScores
  /** Scores at threshold 0.5. */
  atHalf: ThresholdScores
  /** TGS score of predicting an empty mask for every image. */
  emptyBaseline: number
  /** Per coverage class (0…10) at the best threshold: image count and mean TGS score. */
  byCoverageClass: { coverageClass: number; count: number; score: number; iou: number }[]
  /** Per-image TGS score at the best threshold. */
  imageScores: number[]
}

/** Thresholds swept by default: 0.05, 0.10, …, 0.95. */
export const DEFAULT_THRESHOLDS: readonly number[] = Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100)

/**
 * Scores probability maps against true masks at many thresholds and picks the
 * threshold with the best TGS score.
 *
 * @param truths - true masks (0/1), original size
 * @param probabilities - probability maps of the same size and order
 * @param coverageClasses - coverage class of each truth
 * @param thresholds - thresholds to sweep
 * @returns the sweep, the best threshold, the empty-mask baseline and per-class scores
 * @example
 * ```ts
 * const scores = scoreProbabilities([mask], [probs], [3])
 * ```
 */
export function scoreProbabilities(
  truths: readonly Uint8Array[],
  probabilities: readonly Float32Array[],
  coverageClasses: readonly number[],
  thresholds: readonly number[] = DEFAULT_THRESHOLDS,
): SetScores {
  const n = truths.length
  if (n === 0) {
    const zero = { threshold: 0.5, score: 0, iou: 0, dice: 0 }
    return { sweep: [], best: zero, atHalf: zero, emptyBaseline: 0, byCoverageClass: [], imageScores: [] }
  }
  // one pass over all images gives the TGS score, IoU and Dice at every threshold (@unet/metrics' sweep)
  const swept = sweepThresholds(probabilities, truths, thresholds, { metric: 'tgs' })
  const sweep: ThresholdScores[] = swept.thresholds.map((threshold, k) => ({
    threshold,
    score: swept.tgs[k] as number,
    iou: swept.iou[k] as number,
    dice: swept.dice[k] as number,
  }))
  const best = sweep.find((s) => s.threshold === swept.best.threshold) as ThresholdScores
  const half = sweep.find((s) => Math.abs(s.threshold - 0.5) < 1e-9) ?? scoreProbabilities(truths, probabilities, [], [0.5]).best
  const imageScores = probabilities.map((p, k) => tgsImageScore(p, truths[k] as Uint8Array, { threshold: best.threshold }))
  const imageIous = probabilities.map((p, k) => iou(p, truths[k] as Uint8Array, { threshold: best.threshold }))
  const emptyBaseline = tgsScore(
    truths.map((t) => new Uint8Array(t.length)),
    truths,
  )
  const classes = new Map<number, { count: number; score: number; iou: number }>()
  coverageClasses.forEach((c, k) => {
    const e = classes.get(c) ?? { count: 0, score: 0, iou: 0 }
    e.count += 1
    e.score += imageScores[k] as number
    e.iou += imageIous[k] as number
    classes.set(c, e)
  })
  const byCoverageClass = [...classes.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([coverageClass, e]) => ({ coverageClass, count: e.count, score: e.score / e.count, iou: e.iou / e.count }))
  return { sweep, best, atHalf: half, emptyBaseline, byCoverageClass, imageScores }
}
