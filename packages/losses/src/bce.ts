import * as tf from '@tensorflow/tfjs-core'
import { checkOptionKeys, clipProbabilities, defineLoss, type LossFunction } from './math'

/** Options of {@link bceLoss}: none yet (probabilities are clipped to [1e-7, 1 − 1e-7]). */
export type BceOptions = Record<string, never>

/**
 * Binary cross-entropy on probabilities (a sigmoid output), averaged over every pixel:
 * `−(y·log p + (1 − y)·log(1 − p))`. Probabilities are clipped to [1e-7, 1 − 1e-7], so exactly
 * 0 and 1 give a finite loss. Registry name `'bce'`.
 *
 * @param options - none
 * @returns a loss for `model.compile({ loss })`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: bceLoss() })
 * ```
 */
export function bceLoss(options: BceOptions = {}): LossFunction {
  checkOptionKeys('bce', options, [])
  return defineLoss('bce', { name: 'bce', options: {} }, (y, p) => bceMap(y, p))
}

/** Per-pixel binary cross-entropy on probabilities (shared with BCE + Dice and focal). */
export function bceMap(y: tf.Tensor, p: tf.Tensor): tf.Tensor {
  const q = clipProbabilities(p)
  return tf.neg(tf.add(tf.mul(y, tf.log(q)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, q)))))
}
