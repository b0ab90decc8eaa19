import * as tf from '@tensorflow/tfjs-core'
import { booleanOption, checkOptionKeys, defineLoss, numberOption, perImageRows, sumRows, type LossFunction } from './math'

/** Options of {@link diceLoss} and {@link jaccardLoss}. */
export interface SoftOverlapOptions {
  /** Added to numerator and denominator: keeps empty truth and prediction at loss 0 (no NaN). Default 1. */
  smooth?: number
  /** Score each image separately and average, rather than the batch as one mask. Default false. */
  perImage?: boolean
}

/** Reads and checks {@link SoftOverlapOptions}. */
export function softOverlapOptions(lossName: string, options: SoftOverlapOptions): Required<SoftOverlapOptions> {
  const record = options as Record<string, unknown>
  checkOptionKeys(lossName, record, ['smooth', 'perImage'])
  return {
    smooth: numberOption(lossName, record, 'smooth', 1, 0, Number.MAX_VALUE),
    perImage: booleanOption(lossName, record, 'perImage', false),
  }
}

/** `1 − (2·Σyp + s) / (Σy + Σp + s)` per row: the soft Dice loss (shared with BCE + Dice). */
export function diceMap(y: tf.Tensor, p: tf.Tensor, smooth: number, perImage: boolean): tf.Tensor {
  const yr = perImageRows(y)
  const pr = perImageRows(p)
  const intersection = sumRows(tf.mul(yr, pr), perImage)
  const total = tf.add(sumRows(yr, perImage), sumRows(pr, perImage))
  return tf.sub(1, tf.div(tf.add(tf.mul(2, intersection), smooth), tf.add(total, smooth)))
}

/**
 * Soft Dice loss on probabilities: `1 − (2·Σ y·p + smooth) / (Σ y + Σ p + smooth)` over the batch
 * (or per image and averaged). With `smooth > 0`, an empty truth and an empty prediction give 0, not NaN.
 * Registry name `'dice'`.
 *
 * @param options - `smooth` (default 1), `perImage` (default false)
 * @returns a loss for `model.compile({ loss })`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: diceLoss({ smooth: 1 }) })
 * ```
 */
export function diceLoss(options: SoftOverlapOptions = {}): LossFunction {
  const { smooth, perImage } = softOverlapOptions('dice', options)
  return defineLoss('dice', { name: 'dice', options: { smooth, perImage } }, (y, p) => diceMap(y, p, smooth, perImage))
}
