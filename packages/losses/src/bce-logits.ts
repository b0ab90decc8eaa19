import * as tf from '@tensorflow/tfjs-core'
import { checkOptionKeys, defineLoss, type LossFunction } from './math'

/**
 * Binary cross-entropy on logits (a linear output), averaged over every pixel, in the stable form
 * `max(x, 0) − x·y + log(1 + e^−|x|)`: exact for any logit, no overflow at ±100. Registry name `'bce_logits'`.
 *
 * @param options - none
 * @returns a loss for `model.compile({ loss })` of a model built with `outputActivation: 'linear'`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: bceWithLogitsLoss() })
 * ```
 */
export function bceWithLogitsLoss(options: Record<string, never> = {}): LossFunction {
  checkOptionKeys('bce_logits', options, [])
  return defineLoss('bce_logits', { name: 'bce_logits', options: {} }, (y, x) =>
    tf.add(tf.sub(tf.relu(x), tf.mul(x, y)), tf.log1p(tf.exp(tf.neg(tf.abs(x))))),
  )
}
