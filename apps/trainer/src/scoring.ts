import { dice, iou, tgsImageScore } from '@unet/metrics'

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
  const perThreshold: { t: ThresholdScores; images: number[]; ious: number[] }[] = []
  for (const threshold of thresholds) {
    let s = 0
    let i = 0
    let d = 0
    const images: number[] = []
    const ious: number[] = []
    for (let k = 0; k < n; k++) {
      const truth = truths[k] as Uint8Array
      const probs = probabilities[k] as Float32Array
      const pred = new Uint8Array(probs.length)
      for (let p = 0; p < probs.length; p++) pred[p] = (probs[p] as number) > threshold ? 1 : 0
      const imageScore = tgsImageScore(truth, pred)
      const imageIou = iou(truth, pred)
      images.push(imageScore)
      ious.push(imageIou)
      s += imageScore
      i += imageIou
      d += dice(truth, pred)
    }
    perThreshold.push({ t: { threshold, score: n ? s / n : 0, iou: n ? i / n : 0, dice: n ? d / n : 0 }, images, ious })
  }
  let bestIdx = 0
  perThreshold.forEach((p, k) => {
    if (p.t.score > (perThreshold[bestIdx] as (typeof perThreshold)[number]).t.score) bestIdx = k
  })
  const best = perThreshold[bestIdx] as (typeof perThreshold)[number]
  const half = perThreshold.find((p) => Math.abs(p.t.threshold - 0.5) < 1e-9)?.t ?? scoreAt(truths, probabilities, 0.5)
  const empty = new Uint8Array(truths[0]?.length ?? 0)
  const emptyBaseline = n ? truths.reduce((acc, t) => acc + tgsImageScore(t, empty.length === t.length ? empty : new Uint8Array(t.length)), 0) / n : 0
  const classes = new Map<number, { count: number; score: number; iou: number }>()
  coverageClasses.forEach((c, k) => {
    const e = classes.get(c) ?? { count: 0, score: 0, iou: 0 }
    e.count += 1
    e.score += best.images[k] as number
    e.iou += best.ious[k] as number
    classes.set(c, e)
  })
  const byCoverageClass = [...classes.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([coverageClass, e]) => ({ coverageClass, count: e.count, score: e.score / e.count, iou: e.iou / e.count }))
  return { sweep: perThreshold.map((p) => p.t), best: best.t, atHalf: half, emptyBaseline, byCoverageClass, imageScores: best.images }
}

function scoreAt(truths: readonly Uint8Array[], probabilities: readonly Float32Array[], threshold: number): ThresholdScores {
  return scoreProbabilities(truths, probabilities, [], [threshold]).best
}
