import { MetricsError } from './errors'

/** Pixel counts of one prediction against its truth. Every score in this package is computed from these. */
export interface ConfusionCounts {
  /** Foreground in both prediction and truth (the intersection). */
  readonly tp: number
  /** Foreground in the prediction only. */
  readonly fp: number
  /** Foreground in the truth only. */
  readonly fn: number
  /** Background in both. */
  readonly tn: number
}

/** Options of the mask metrics. */
export interface MaskOptions {
  /**
   * Binarises the prediction: a pixel is foreground when its value is `> threshold`. When left out, any
   * non-zero value is foreground. The truth is always "non-zero is foreground".
   */
  readonly threshold?: number
}

/**
 * The IoU thresholds of the Kaggle TGS Salt score: 0.50, 0.55, …, 0.95.
 *
 * @example
 * ```ts
 * import { iou, TGS_IOU_THRESHOLDS } from '@unet/metrics'
 * const value = iou([1, 1, 1, 0], [1, 1, 0, 0])
 * const hits = TGS_IOU_THRESHOLDS.filter((t) => value > t).length // 4 (use tgsImageScore for exact boundaries)
 * ```
 */
export const TGS_IOU_THRESHOLDS: readonly number[] = Object.freeze([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])

/** @internal Checks a threshold option. */
export function checkThreshold(threshold: number | undefined): void {
  if (threshold !== undefined && (typeof threshold !== 'number' || !Number.isFinite(threshold))) {
    throw new MetricsError('INVALID_THRESHOLD', `threshold must be a finite number, got ${String(threshold)}.`)
  }
}

/** @internal Checks two masks have the same length. */
export function checkLengths(pred: ArrayLike<number>, truth: ArrayLike<number>, index?: number): void {
  const p = pred?.length
  const t = truth?.length
  if (typeof p !== 'number' || typeof t !== 'number' || p !== t) {
    const which = index === undefined ? '' : ` (image ${index})`
    throw new MetricsError(
      'LENGTH_MISMATCH',
      `Prediction${which} has ${String(p)} pixels but its truth has ${String(t)}: ` +
        `compare masks of the same size (resize or crop the prediction back to the truth's size first).`,
      index === undefined ? {} : { index },
    )
  }
}

/**
 * Counts true/false positives and negatives of a prediction against its truth, in one pass.
 *
 * @param pred - the predicted mask (any non-zero is foreground, or `> threshold` when given)
 * @param truth - the true mask, same length (non-zero is foreground)
 * @param options - `threshold` to binarise a probability map
 * @returns `{ tp, fp, fn, tn }`
 * @throws {@link MetricsError} `LENGTH_MISMATCH`, `INVALID_THRESHOLD`
 *
 * @example
 * ```ts
 * import { confusionCounts } from '@unet/metrics'
 * confusionCounts([1, 1, 0, 0], [1, 0, 1, 0]) // { tp: 1, fp: 1, fn: 1, tn: 1 }
 * confusionCounts([0.9, 0.4, 0.2, 0], [1, 0, 1, 0], { threshold: 0.5 }) // { tp: 1, fp: 0, fn: 1, tn: 2 }
 * ```
 */
export function confusionCounts(pred: ArrayLike<number>, truth: ArrayLike<number>, options: MaskOptions = {}): ConfusionCounts {
  checkLengths(pred, truth)
  checkThreshold(options.threshold)
  return countPixels(pred, truth, options.threshold)
}

/** @internal The counting loop, without argument checks. */
export function countPixels(pred: ArrayLike<number>, truth: ArrayLike<number>, threshold: number | undefined): ConfusionCounts {
  const n = pred.length
  let tp = 0
  let predicted = 0
  let actual = 0
  // Counting the two marginals and the intersection keeps the loop free of four-way branches.
  if (threshold === undefined) {
    for (let i = 0; i < n; i++) {
      const p = pred[i] !== 0
      const t = truth[i] !== 0
      if (p) {
        predicted++
        if (t) tp++
      }
      if (t) actual++
    }
  } else {
    for (let i = 0; i < n; i++) {
      const p = (pred[i] as number) > threshold
      const t = truth[i] !== 0
      if (p) {
        predicted++
        if (t) tp++
      }
      if (t) actual++
    }
  }
  const fp = predicted - tp
  const fn = actual - tp
  return { tp, fp, fn, tn: n - tp - fp - fn }
}

function checkCounts(counts: Pick<ConfusionCounts, 'tp' | 'fp' | 'fn'>): void {
  for (const key of ['tp', 'fp', 'fn'] as const) {
    const value = counts?.[key]
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new MetricsError('INVALID_COUNTS', `Confusion count ${key} must be a non-negative integer, got ${String(value)}.`)
    }
  }
}

/**
 * IoU (Jaccard index) from counts: tp / (tp + fp + fn); 1 when both masks are empty.
 *
 * @param counts - `{ tp, fp, fn }` (tn is not needed)
 * @returns the IoU in [0, 1]
 * @throws {@link MetricsError} `INVALID_COUNTS`
 *
 * @example
 * ```ts
 * import { iouFromCounts } from '@unet/metrics'
 * iouFromCounts({ tp: 3, fp: 1, fn: 0 }) // 0.75
 * ```
 */
export function iouFromCounts(counts: Pick<ConfusionCounts, 'tp' | 'fp' | 'fn'>): number {
  checkCounts(counts)
  const union = counts.tp + counts.fp + counts.fn
  return union === 0 ? 1 : counts.tp / union
}

/**
 * Dice (F1) from counts: 2·tp / (2·tp + fp + fn); 1 when both masks are empty.
 *
 * @param counts - `{ tp, fp, fn }` (tn is not needed)
 * @returns the Dice coefficient in [0, 1]
 * @throws {@link MetricsError} `INVALID_COUNTS`
 *
 * @example
 * ```ts
 * import { diceFromCounts } from '@unet/metrics'
 * diceFromCounts({ tp: 3, fp: 1, fn: 0 }) // 6 / 7
 * ```
 */
export function diceFromCounts(counts: Pick<ConfusionCounts, 'tp' | 'fp' | 'fn'>): number {
  checkCounts(counts)
  const denominator = 2 * counts.tp + counts.fp + counts.fn
  return denominator === 0 ? 1 : (2 * counts.tp) / denominator
}

/**
 * @internal Number of TGS thresholds t = k/20 (k = 10 … 19) with IoU > t, decided on integers:
 * tp / union > k / 20 ⇔ 20·tp > k·union, so an IoU of exactly 11/20 is not a hit at 0.55.
 */
export function tgsHits(tp: number, union: number): number {
  if (union === 0) return 10
  const scaled = 20 * tp
  let hits = 0
  for (let k = 10; k < 20; k++) if (scaled > k * union) hits++
  return hits
}

/**
 * The Kaggle TGS Salt image score from counts: the fraction of thresholds t in 0.50, 0.55, …, 0.95 with
 * IoU > t (strictly), decided on integer counts so that no IoU sitting exactly on a threshold is
 * misjudged by floating-point rounding. Both masks empty → 1; exactly one empty → 0.
 *
 * @param counts - `{ tp, fp, fn }`
 * @returns 0, 0.1, …, 1
 * @throws {@link MetricsError} `INVALID_COUNTS`
 *
 * @example
 * ```ts
 * import { tgsImageScoreFromCounts } from '@unet/metrics'
 * tgsImageScoreFromCounts({ tp: 11, fp: 9, fn: 0 }) // IoU = 0.55 exactly: hits at 0.50 only → 0.1
 * ```
 */
export function tgsImageScoreFromCounts(counts: Pick<ConfusionCounts, 'tp' | 'fp' | 'fn'>): number {
  checkCounts(counts)
  return tgsHits(counts.tp, counts.tp + counts.fp + counts.fn) / 10
}

/**
 * Pixel accuracy from counts: (tp + tn) / (tp + fp + fn + tn), the share of pixels labelled right; 1 for an image
 * with no pixels.
 *
 * @param counts - `{ tp, fp, fn, tn }`
 * @returns the pixel accuracy in [0, 1]
 * @throws {@link MetricsError} `INVALID_COUNTS`
 *
 * @example
 * ```ts
 * import { pixelAccuracyFromCounts } from '@unet/metrics'
 * pixelAccuracyFromCounts({ tp: 3, fp: 1, fn: 0, tn: 4 }) // 7 / 8
 * ```
 */
export function pixelAccuracyFromCounts(counts: ConfusionCounts): number {
  checkCounts(counts)
  if (!Number.isSafeInteger(counts.tn) || counts.tn < 0) {
    throw new MetricsError('INVALID_COUNTS', `Confusion count tn must be a non-negative integer, got ${String(counts.tn)}.`)
  }
  const total = counts.tp + counts.fp + counts.fn + counts.tn
  return total === 0 ? 1 : (counts.tp + counts.tn) / total
}

/** IoU and Dice of one class. */
export interface ClassScores {
  readonly iou: number
  readonly dice: number
}

/**
 * IoU and Dice of both classes of a binary mask: the foreground (salt, car, fluke) as {@link iouFromCounts} scores
 * it, and the background, scored the same way with the roles swapped (its "tp" is `tn`). A model that predicts
 * everything as background scores well on background and 0 on foreground, which one averaged number hides.
 *
 * @param counts - `{ tp, fp, fn, tn }`
 * @returns `{ foreground: { iou, dice }, background: { iou, dice } }`
 * @throws {@link MetricsError} `INVALID_COUNTS`
 *
 * @example
 * ```ts
 * import { classScoresFromCounts } from '@unet/metrics'
 * classScoresFromCounts({ tp: 3, fp: 1, fn: 0, tn: 4 }) // foreground iou 0.75, background iou 0.8
 * ```
 */
export function classScoresFromCounts(counts: ConfusionCounts): { readonly foreground: ClassScores; readonly background: ClassScores } {
  checkCounts(counts)
  if (!Number.isSafeInteger(counts.tn) || counts.tn < 0) {
    throw new MetricsError('INVALID_COUNTS', `Confusion count tn must be a non-negative integer, got ${String(counts.tn)}.`)
  }
  const swapped = { tp: counts.tn, fp: counts.fn, fn: counts.fp }
  return {
    foreground: { iou: iouFromCounts(counts), dice: diceFromCounts(counts) },
    background: { iou: iouFromCounts(swapped), dice: diceFromCounts(swapped) },
  }
}
