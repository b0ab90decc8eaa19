import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { confusionCounts, diceFromCounts, iouFromCounts, ThresholdSweep, tgsImageScoreFromCounts, type SweepResult } from '@unet/metrics'
import { predictTensor, type TtaView } from '@unet/predict'
import type { ValidationData } from './data'

/** Thresholds swept by default: 0.05, 0.10, …, 0.95. */
export const DEFAULT_THRESHOLDS: readonly number[] = Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100)

/** Scores of one threshold. */
export interface ScoresAt {
  readonly threshold: number
  readonly tgs: number
  readonly iou: number
  readonly dice: number
  readonly pixelAccuracy: number
  /** IoU of the background class. */
  readonly backgroundIou: number
}

/** Options of {@link validate}. */
export interface ValidateOptions {
  /** Images per forward pass. */
  readonly batchSize: number
  /** The model outputs logits. */
  readonly logits: boolean
  /** The loss, for the validation loss. */
  readonly loss?: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor
  /** Test-time augmentation views (@unet/predict's). Default none. */
  readonly tta?: readonly TtaView[]
  /** Thresholds swept. Default 0.05, 0.10, …, 0.95. */
  readonly thresholds?: readonly number[]
  /** The score the threshold is chosen by. Default `tgs`. */
  readonly thresholdMetric?: 'tgs' | 'iou' | 'dice' | 'pixelAccuracy'
  /** Keep the (original-size) probabilities of these validation images (indices), e.g. for the report's strip. */
  readonly keep?: readonly number[]
  /**
   * Also score every image alone at this threshold (e.g. the best checkpoint's), into `images`: for per-image
   * and per-group tables (TGS coverage classes) without holding the set's probabilities.
   */
  readonly scoreImagesAt?: number
}

/** One image's scores at {@link ValidateOptions.scoreImagesAt}. */
export interface ImageScores {
  readonly tgs: number
  readonly iou: number
  readonly dice: number
  /** Share of the true mask's pixels that are foreground. */
  readonly coverage: number
}

/** What {@link validate} found. */
export interface ValidationResult {
  /** Images scored. */
  readonly count: number
  /** Mean loss (NaN without a loss). */
  readonly loss: number
  /** The chosen threshold and all scores there. */
  readonly chosen: ScoresAt
  /** All scores at 0.5. */
  readonly atHalf: ScoresAt
  /** The full sweep. */
  readonly sweep: SweepResult
  /** Scores of predicting an empty mask for every image, and an all-foreground mask. */
  readonly baselines: { readonly empty: { tgs: number; dice: number; pixelAccuracy: number }; readonly full: { tgs: number; dice: number; pixelAccuracy: number } }
  /** The kept probabilities, by image index. */
  readonly kept: ReadonlyMap<number, Float32Array>
  /** Each image's scores at `scoreImagesAt`, in order (empty without it). */
  readonly images: readonly ImageScores[]
}

/**
 * Predicts the validation set batch by batch, maps each probability map back to its image's own size and scores
 * it there at every threshold (one pass per image, @unet/metrics' sweep), then picks the threshold by
 * `thresholdMetric`. Memory holds one batch, not the set.
 *
 * @param model - the model
 * @param data - the validation set
 * @param options - batch size, logits, loss, TTA, thresholds
 * @returns loss, chosen threshold and scores, the sweep and baselines
 * @example
 * ```ts
 * const v = await validate(model, data.validation, { batchSize: 16, logits: false, thresholdMetric: 'dice' })
 * ```
 */
export async function validate(model: LayersModel, data: ValidationData, options: ValidateOptions): Promise<ValidationResult> {
  const metric = options.thresholdMetric ?? 'tgs'
  const sweep = new ThresholdSweep(options.thresholds ?? DEFAULT_THRESHOLDS, { metric })
  const half = new ThresholdSweep([0.5])
  const keep = new Set(options.keep ?? [])
  const kept = new Map<number, Float32Array>()
  const images: ImageScores[] = []
  const at = options.scoreImagesAt
  let lossSum = 0
  let n = 0
  const empty = { tgs: 0, dice: 0, pixelAccuracy: 0 }
  const full = { tgs: 0, dice: 0, pixelAccuracy: 0 }
  const shape = model.inputs[0]?.shape ?? []
  const [h, w, c] = [shape[1] as number, shape[2] as number, shape[3] as number]
  for await (const batch of data.batches(options.batchSize)) {
    let loss: tf.Scalar | null = null
    const probs = tf.tidy(() =>
      predictTensor(model, tf.tensor4d(batch.x, [batch.count, h, w, c]), {
        activation: options.logits ? 'linear' : 'sigmoid',
        tta: options.tta ?? [],
        plainOutput: (raw) => {
          if (!options.loss || batch.y.length === 0) return
          loss = tf.keep(tf.mean(options.loss(tf.tensor4d(batch.y, [batch.count, h, w, 1]), raw)) as tf.Scalar)
        },
      }),
    )
    const probabilities = (await probs.data()) as Float32Array
    probs.dispose()
    const lossTensor = loss as tf.Scalar | null
    if (lossTensor) {
      lossSum += ((await lossTensor.data())[0] as number) * batch.count
      lossTensor.dispose()
    }
    const plane = h * w
    for (let k = 0; k < batch.count; k++) {
      const probs = batch.restore(probabilities.subarray(k * plane, (k + 1) * plane), k)
      const truth = batch.truths[k] as Uint8Array
      sweep.add(probs, truth)
      half.add(probs, truth)
      if (keep.has(n)) kept.set(n, Float32Array.from(probs))
      let fg = 0
      for (let i = 0; i < truth.length; i++) if (truth[i] !== 0) fg++
      const px = truth.length
      if (at !== undefined) {
        const counts = confusionCounts(probs, truth, { threshold: at })
        images.push({ tgs: tgsImageScoreFromCounts(counts), iou: iouFromCounts(counts), dice: diceFromCounts(counts), coverage: px === 0 ? 0 : fg / px })
      }
      empty.tgs += fg === 0 ? 1 : 0
      empty.dice += fg === 0 ? 1 : 0
      empty.pixelAccuracy += px === 0 ? 1 : (px - fg) / px
      full.tgs += fg === px ? 1 : 0
      full.dice += px === 0 ? 1 : (2 * fg) / (fg + px)
      full.pixelAccuracy += px === 0 ? 1 : fg / px
      n += 1
    }
  }
  const mean = (o: { tgs: number; dice: number; pixelAccuracy: number }) => ({ tgs: o.tgs / Math.max(1, n), dice: o.dice / Math.max(1, n), pixelAccuracy: o.pixelAccuracy / Math.max(1, n) })
  const result = n > 0 ? sweep.result() : null
  const scoresAt = (r: SweepResult | null, threshold: number): ScoresAt => {
    const j = r ? r.thresholds.indexOf(threshold) : -1
    if (!r || j < 0) return { threshold, tgs: NaN, iou: NaN, dice: NaN, pixelAccuracy: NaN, backgroundIou: NaN }
    return { threshold, tgs: r.tgs[j] as number, iou: r.iou[j] as number, dice: r.dice[j] as number, pixelAccuracy: r.pixelAccuracy[j] as number, backgroundIou: r.backgroundIou[j] as number }
  }
  const emptySweep: SweepResult = { thresholds: [], scores: [], tgs: [], iou: [], dice: [], pixelAccuracy: [], backgroundIou: [], best: { threshold: 0.5, score: NaN } }
  return {
    count: n,
    loss: options.loss && n > 0 ? lossSum / n : NaN,
    chosen: scoresAt(result, result?.best.threshold ?? 0.5),
    atHalf: scoresAt(n > 0 ? half.result() : null, 0.5),
    sweep: result ?? emptySweep,
    baselines: { empty: mean(empty), full: mean(full) },
    kept,
    images,
  }
}
