import {
  type MaskOptions,
  checkLengths,
  checkThreshold,
  confusionCounts,
  countPixels,
  diceFromCounts,
  iouFromCounts,
  pixelAccuracyFromCounts,
  tgsHits,
} from './counts'
import { MetricsError } from './errors'

/**
 * Intersection over union (Jaccard index) of a predicted mask and its truth; 1 when both are empty.
 *
 * @param pred - the predicted mask (any non-zero is foreground, or `> threshold` when given)
 * @param truth - the true mask, same length (non-zero is foreground)
 * @param options - `threshold` to binarise a probability map
 * @returns the IoU in [0, 1]
 * @throws {@link MetricsError} `LENGTH_MISMATCH`, `INVALID_THRESHOLD`
 *
 * @example
 * ```ts
 * import { iou } from '@unet/metrics'
 * iou([1, 1, 0, 0], [1, 0, 1, 0]) // 1 / 3
 * iou([0, 0], [0, 0]) // 1
 * ```
 */
export function iou(pred: ArrayLike<number>, truth: ArrayLike<number>, options: MaskOptions = {}): number {
  return iouFromCounts(confusionCounts(pred, truth, options))
}

/**
 * Dice coefficient (F1) of a predicted mask and its truth; 1 when both are empty.
 *
 * @param pred - the predicted mask (any non-zero is foreground, or `> threshold` when given)
 * @param truth - the true mask, same length (non-zero is foreground)
 * @param options - `threshold` to binarise a probability map
 * @returns the Dice coefficient in [0, 1]
 * @throws {@link MetricsError} `LENGTH_MISMATCH`, `INVALID_THRESHOLD`
 *
 * @example
 * ```ts
 * import { dice } from '@unet/metrics'
 * dice([1, 1, 0, 0], [1, 0, 1, 0]) // 0.5
 * ```
 */
export function dice(pred: ArrayLike<number>, truth: ArrayLike<number>, options: MaskOptions = {}): number {
  return diceFromCounts(confusionCounts(pred, truth, options))
}

/**
 * Pixel accuracy of a predicted mask against its truth: the share of pixels on the right side of the threshold.
 *
 * @param pred - the predicted mask (any non-zero is foreground, or `> threshold` when given)
 * @param truth - the true mask, same length (non-zero is foreground)
 * @param options - `threshold` to binarise a probability map
 * @returns the pixel accuracy in [0, 1] (1 for masks with no pixels)
 * @throws {@link MetricsError} `LENGTH_MISMATCH`, `INVALID_THRESHOLD`
 *
 * @example
 * ```ts
 * import { pixelAccuracy } from '@unet/metrics'
 * pixelAccuracy([1, 1, 0, 0], [1, 0, 1, 0]) // 0.5
 * ```
 */
export function pixelAccuracy(pred: ArrayLike<number>, truth: ArrayLike<number>, options: MaskOptions = {}): number {
  return pixelAccuracyFromCounts(confusionCounts(pred, truth, options))
}

/**
 * The Kaggle TGS Salt score of one image: the mean over t = 0.50, 0.55, …, 0.95 of [IoU > t]. The comparison
 * is strict and exact (an IoU of exactly 0.55 is not a hit at 0.55). Both empty → 1; one empty → 0.
 *
 * @param pred - the predicted mask (any non-zero is foreground, or `> threshold` when given)
 * @param truth - the true mask, same length (non-zero is foreground)
 * @param options - `threshold` to binarise a probability map
 * @returns 0, 0.1, …, 1
 * @throws {@link MetricsError} `LENGTH_MISMATCH`, `INVALID_THRESHOLD`
 *
 * @example
 * ```ts
 * import { tgsImageScore } from '@unet/metrics'
 * tgsImageScore([1, 1, 1, 0], [1, 1, 0, 0]) // IoU 2/3 > 0.50 … 0.65 → 0.4
 * tgsImageScore([0, 0], [0, 0]) // 1
 * ```
 */
export function tgsImageScore(pred: ArrayLike<number>, truth: ArrayLike<number>, options: MaskOptions = {}): number {
  const { tp, fp, fn } = confusionCounts(pred, truth, options)
  return tgsHits(tp, tp + fp + fn) / 10
}

/**
 * The Kaggle TGS Salt dataset score: the mean of {@link tgsImageScore} over images.
 *
 * @param preds - predicted masks, one per image
 * @param truths - true masks, same count and order
 * @param options - `threshold` to binarise probability maps
 * @returns the score in [0, 1]
 * @throws {@link MetricsError} `COUNT_MISMATCH`, `EMPTY_INPUT`, `LENGTH_MISMATCH` (with the image `index`), `INVALID_THRESHOLD`
 *
 * @example
 * ```ts
 * import { tgsScore } from '@unet/metrics'
 * tgsScore([[1, 1], [0, 0]], [[1, 1], [1, 0]]) // (1 + 0) / 2 = 0.5
 * ```
 */
export function tgsScore(
  preds: Iterable<ArrayLike<number>>,
  truths: Iterable<ArrayLike<number>>,
  options: MaskOptions = {},
): number {
  checkThreshold(options.threshold)
  const truthIterator = truths[Symbol.iterator]()
  let images = 0
  // Summing integer hits and dividing once keeps the score equal to sweepThresholds' at the same threshold.
  let hits = 0
  for (const pred of preds) {
    const next = truthIterator.next()
    if (next.done === true) throw countMismatch(images + 1, images)
    checkLengths(pred, next.value, images)
    const { tp, fp, fn } = countPixels(pred, next.value, options.threshold)
    hits += tgsHits(tp, tp + fp + fn)
    images++
  }
  if (truthIterator.next().done !== true) throw countMismatch(images, images + 1)
  if (images === 0) throw new MetricsError('EMPTY_INPUT', 'tgsScore needs at least one image: both lists are empty.')
  return hits / (10 * images)
}

/** @internal */
export function countMismatch(preds: number, truths: number): MetricsError {
  const more = preds > truths ? 'predictions than truths' : 'truths than predictions'
  return new MetricsError(
    'COUNT_MISMATCH',
    `Got more ${more} (at least ${Math.max(preds, truths)} against ${Math.min(preds, truths)}): pass one truth per prediction, in the same order.`,
  )
}
