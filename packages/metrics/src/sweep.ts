import { checkLengths, tgsHits } from './counts'
import { MetricsError } from './errors'
import { countMismatch } from './scores'

/** What a threshold sweep averages over images at each threshold. */
export type SweepMetric = 'tgs' | 'iou' | 'dice' | 'pixelAccuracy'

/** Options of {@link sweepThresholds} and {@link ThresholdSweep}. */
export interface SweepOptions {
  /** The per-image score averaged at each threshold: `'tgs'` (the Kaggle TGS Salt score, default), `'iou'`, `'dice'` or `'pixelAccuracy'`. */
  readonly metric?: SweepMetric
}

/** What a threshold sweep found. */
export interface SweepResult {
  /** The thresholds tried, ascending, without duplicates. */
  readonly thresholds: number[]
  /** The mean score (of the chosen `metric`) over images at each threshold, aligned with `thresholds`. */
  readonly scores: number[]
  /** The mean TGS image score at each threshold, whatever the `metric`. */
  readonly tgs: number[]
  /** The mean IoU at each threshold (both masks empty counts as 1), whatever the `metric`. */
  readonly iou: number[]
  /** The mean Dice at each threshold (both masks empty counts as 1), whatever the `metric`. */
  readonly dice: number[]
  /** The mean pixel accuracy at each threshold, whatever the `metric`. */
  readonly pixelAccuracy: number[]
  /** The mean IoU of the background class at each threshold (both backgrounds empty counts as 1). */
  readonly backgroundIou: number[]
  /** The threshold with the highest score (the lowest such threshold when several tie). */
  readonly best: { readonly threshold: number; readonly score: number }
}

/**
 * The thresholds a sweep tries when none are given: 0.00, 0.01, …, 0.99 (100 values).
 *
 * @example
 * ```ts
 * import { DEFAULT_SWEEP_THRESHOLDS, ThresholdSweep } from '@unet/metrics'
 * const sweep = new ThresholdSweep(DEFAULT_SWEEP_THRESHOLDS.filter((t) => t >= 0.3 && t <= 0.7))
 * ```
 */
export const DEFAULT_SWEEP_THRESHOLDS: readonly number[] = Object.freeze(Array.from({ length: 100 }, (_, i) => i / 100))

function checkThresholds(thresholds: readonly number[]): Float64Array {
  if (thresholds === null || typeof thresholds !== 'object' || typeof thresholds.length !== 'number' || thresholds.length === 0) {
    throw new MetricsError('INVALID_THRESHOLD', 'Pass at least one threshold to sweep, e.g. [0.3, 0.4, 0.5], or leave them out for 0.00 … 0.99.')
  }
  for (let i = 0; i < thresholds.length; i++) {
    const t = thresholds[i]
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      throw new MetricsError('INVALID_THRESHOLD', `Threshold ${i} is ${String(t)}: every threshold must be a finite number.`)
    }
  }
  const sorted = Float64Array.from(thresholds).sort()
  let unique = 0
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || (sorted[i] as number) !== (sorted[unique - 1] as number)) sorted[unique++] = sorted[i] as number
  }
  return sorted.slice(0, unique)
}

/**
 * Scores many probability maps at many thresholds in one pass per image, for choosing the cut-off that turns
 * probabilities into masks. Add images one by one (e.g. a validation batch at a time), then read the result.
 *
 * Each pixel is placed once into a histogram bucket by how many thresholds its probability exceeds (a lookup
 * table and two comparisons); cumulative sums of the buckets then give the exact tp, fp, fn at
 * every threshold. A pixel counts as foreground when its probability is `> threshold`; NaN never does.
 *
 * @example
 * ```ts
 * import { ThresholdSweep } from '@unet/metrics'
 * const sweep = new ThresholdSweep([0.3, 0.5, 0.7])
 * sweep.add(new Float32Array([0.9, 0.6, 0.4, 0.1]), new Uint8Array([1, 1, 0, 0]))
 * sweep.add(new Float32Array([0.2, 0.1, 0.0, 0.0]), new Uint8Array([0, 0, 0, 0]))
 * sweep.result().best // { threshold: 0.5, score: 1 }
 * ```
 */
export class ThresholdSweep {
  /** The thresholds tried, ascending, without duplicates. */
  readonly thresholds: readonly number[]
  /** The per-image score being averaged. */
  readonly metric: SweepMetric
  private readonly sorted: Float64Array
  private readonly lut: Int32Array
  private readonly low: number
  private readonly scale: number
  /** Interleaved histogram: [2b] truth background, [2b + 1] truth foreground, for bucket b = #thresholds below p. */
  private readonly histogram: Int32Array
  /** Per threshold: summed TGS hits (integers, so the mean matches tgsScore exactly). */
  private readonly hits: Float64Array
  /** Per threshold: summed IoU and Dice. */
  private readonly iouSums: Float64Array
  private readonly diceSums: Float64Array
  private readonly accuracySums: Float64Array
  private readonly backgroundIouSums: Float64Array
  private count = 0

  /**
   * @param thresholds - the thresholds to try (any order; duplicates are dropped); 0.00 … 0.99 when left out
   * @param options - `metric`: `'tgs'` (default), `'iou'` or `'dice'`
   * @throws {@link MetricsError} `INVALID_THRESHOLD` for an empty list or a non-finite threshold
   */
  constructor(thresholds: readonly number[] = DEFAULT_SWEEP_THRESHOLDS, options: SweepOptions = {}) {
    const metric = options.metric ?? 'tgs'
    if (metric !== 'tgs' && metric !== 'iou' && metric !== 'dice' && metric !== 'pixelAccuracy') {
      throw new MetricsError('INVALID_THRESHOLD', `Unknown sweep metric ${JSON.stringify(metric)}: use 'tgs', 'iou', 'dice' or 'pixelAccuracy'.`)
    }
    this.metric = metric
    this.sorted = checkThresholds(thresholds)
    this.thresholds = Object.freeze(Array.from(this.sorted))
    const m = this.sorted.length
    this.low = this.sorted[0] as number
    const high = this.sorted[m - 1] as number
    // The table only guesses a pixel's bucket; the comparisons after it make the bucket exact. With ~64 cells
    // per threshold the guess is nearly always right, so a pixel costs one lookup and one or two comparisons.
    const cells = Math.min(1 << 16, 64 * m)
    this.scale = cells / (high - this.low)
    this.lut = new Int32Array(cells)
    for (let q = 0, j = 0; q < cells; q++) {
      const edge = this.low + q / this.scale
      while (j < m && (this.sorted[j] as number) < edge) j++
      this.lut[q] = j
    }
    this.histogram = new Int32Array(2 * (m + 1))
    this.hits = new Float64Array(m)
    this.iouSums = new Float64Array(m)
    this.diceSums = new Float64Array(m)
    this.accuracySums = new Float64Array(m)
    this.backgroundIouSums = new Float64Array(m)
  }

  /** Number of images added so far. */
  get images(): number {
    return this.count
  }

  /**
   * Adds one image.
   *
   * @param probs - the predicted probabilities (foreground where `> threshold`)
   * @param truth - the true mask, same length (non-zero is foreground)
   * @returns this sweep, for chaining
   * @throws {@link MetricsError} `LENGTH_MISMATCH` with the image's `index`
   */
  add(probs: ArrayLike<number>, truth: ArrayLike<number>): this {
    checkLengths(probs, truth, this.count)
    const { sorted: t, histogram } = this
    const m = t.length
    bucketPixels(probs, truth, t, this.lut, this.low, this.scale, histogram)
    let actual = 0
    for (let b = 0; b <= m; b++) actual += histogram[(b << 1) | 1] as number
    // At threshold j, the predicted foreground is every pixel in buckets b > j.
    let tp = 0
    let fp = 0
    // All three scores cost a few operations per threshold and image, next to the pixel loop's work: compute them all.
    const { hits, iouSums, diceSums, accuracySums, backgroundIouSums } = this
    const n = probs.length
    for (let j = m - 1; j >= 0; j--) {
      tp += histogram[((j + 1) << 1) | 1] as number
      fp += histogram[(j + 1) << 1] as number
      const union = actual + fp // tp + fp + fn
      hits[j] = (hits[j] as number) + tgsHits(tp, union)
      iouSums[j] = (iouSums[j] as number) + (union === 0 ? 1 : tp / union)
      diceSums[j] = (diceSums[j] as number) + (union === 0 ? 1 : (2 * tp) / (union + tp))
      // tn = n - union; the background's union is n - tp
      accuracySums[j] = (accuracySums[j] as number) + (n === 0 ? 1 : (n - union + tp) / n)
      backgroundIouSums[j] = (backgroundIouSums[j] as number) + (n - tp === 0 ? 1 : (n - union) / (n - tp))
    }
    this.count++
    return this
  }

  /**
   * The mean score at each threshold over the images added so far, and the best threshold.
   *
   * @returns thresholds, scores and the best of them
   * @throws {@link MetricsError} `EMPTY_INPUT` before any image was added
   */
  result(): SweepResult {
    if (this.count === 0) throw new MetricsError('EMPTY_INPUT', 'No images added to the sweep yet: call add(probs, truth) first.')
    const images = this.count
    const tgs = Array.from(this.hits, (sum) => sum / (10 * images))
    const iou = Array.from(this.iouSums, (sum) => sum / images)
    const dice = Array.from(this.diceSums, (sum) => sum / images)
    const pixelAccuracy = Array.from(this.accuracySums, (sum) => sum / images)
    const backgroundIou = Array.from(this.backgroundIouSums, (sum) => sum / images)
    const scores = this.metric === 'tgs' ? tgs : this.metric === 'iou' ? iou : this.metric === 'dice' ? dice : pixelAccuracy
    let best = 0
    for (let j = 1; j < scores.length; j++) if ((scores[j] as number) > (scores[best] as number)) best = j
    return {
      thresholds: [...this.thresholds],
      scores: [...scores],
      tgs,
      iou,
      dice,
      pixelAccuracy,
      backgroundIou,
      best: { threshold: this.thresholds[best] as number, score: scores[best] as number },
    }
  }
}

/**
 * The hot loop, kept in a small function of its own: V8 optimises it better than the same loop inside `add`.
 * Fills `histogram` (interleaved: [2b] truth background, [2b + 1] truth foreground) with, for every pixel, the
 * number b of thresholds its probability exceeds.
 */
function bucketPixels(
  probs: ArrayLike<number>,
  truth: ArrayLike<number>,
  t: Float64Array,
  lut: Int32Array,
  low: number,
  scale: number,
  histogram: Int32Array,
): void {
  const m = t.length
  const cells = lut.length
  histogram.fill(0)
  const n = probs.length
  for (let i = 0; i < n; i++) {
    const p = probs[i] as number
    const x = (p - low) * scale
    let b = x >= 0 ? (x < cells ? (lut[x | 0] as number) : m) : 0
    // Correct the guess up or down (two comparisons when it is right, as it nearly always is). Testing "up"
    // before "down" measured ~1.6× faster than two plain loops. NaN stays in bucket 0: it is never > a threshold.
    if (b < m && p > (t[b] as number)) {
      b++
      while (b < m && p > (t[b] as number)) b++
    } else {
      while (b > 0 && !(p > (t[b - 1] as number))) b--
    }
    const k = (b << 1) | (truth[i] !== 0 ? 1 : 0)
    histogram[k] = (histogram[k] as number) + 1
  }
}

/**
 * Tries many thresholds on validation probability maps and returns the mean score at each (the Kaggle TGS
 * score by default) and the best one. One pass per image, whatever the number of thresholds; at every
 * threshold the scores equal `tgsScore(preds, truths, { threshold })` exactly.
 *
 * @param probs - predicted probability maps, one per image (foreground where `> threshold`)
 * @param truths - true masks, same count, order and lengths (non-zero is foreground)
 * @param thresholds - thresholds to try (any order; duplicates are dropped); 0.00, 0.01, …, 0.99 when left out
 * @param options - `metric` that `scores` and `best` follow: `'tgs'` (default), `'iou'` or `'dice'`
 * @returns `{ thresholds, scores, best: { threshold, score }, tgs, iou, dice }`, thresholds ascending; `scores` and
 *   `best` follow `metric`, and the mean TGS score, IoU and Dice at every threshold come from the same pass
 * @throws {@link MetricsError} `COUNT_MISMATCH`, `EMPTY_INPUT`, `LENGTH_MISMATCH` (with the image `index`), `INVALID_THRESHOLD`
 *
 * @example
 * ```ts
 * import { sweepThresholds } from '@unet/metrics'
 * const probs = [new Float32Array([0.9, 0.6, 0.4, 0.1])]
 * const truths = [new Uint8Array([1, 1, 0, 0])]
 * const { best } = sweepThresholds(probs, truths, [0.3, 0.5, 0.7]) // best: { threshold: 0.5, score: 1 }
 * ```
 */
export function sweepThresholds(
  probs: Iterable<ArrayLike<number>>,
  truths: Iterable<ArrayLike<number>>,
  thresholds: readonly number[] = DEFAULT_SWEEP_THRESHOLDS,
  options: SweepOptions = {},
): SweepResult {
  const sweep = new ThresholdSweep(thresholds, options)
  const truthIterator = truths[Symbol.iterator]()
  for (const prob of probs) {
    const next = truthIterator.next()
    if (next.done === true) throw countMismatch(sweep.images + 1, sweep.images)
    sweep.add(prob, next.value)
  }
  if (truthIterator.next().done !== true) throw countMismatch(sweep.images, sweep.images + 1)
  if (sweep.images === 0) throw new MetricsError('EMPTY_INPUT', 'sweepThresholds needs at least one image: both lists are empty.')
  return sweep.result()
}
