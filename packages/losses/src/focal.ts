import * as tf from '@tensorflow/tfjs-core'
import { checkOptionKeys, clipProbabilities, defineLoss, numberOption, type LossFunction } from './math'

/** Options of {@link focalLoss}. */
export interface FocalOptions {
  /** Weight of the positive class (negatives get 1 − alpha), in [0, 1]. Default 0.25. */
  alpha?: number
  /** Focusing exponent: how much easy pixels are down-weighted, ≥ 0 (0 gives alpha-weighted BCE). Default 2. */
  gamma?: number
}

/**
 * Binary focal loss on probabilities (Lin et al. 2017), averaged over every pixel:
 * `−α_t · (1 − p_t)^γ · log p_t`, with `p_t = p` on salt and `1 − p` elsewhere. Registry name `'focal'`.
 *
 * @param options - `alpha` (default 0.25), `gamma` (default 2)
 * @returns a loss for `model.compile({ loss })`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: focalLoss({ alpha: 0.5, gamma: 2 }) })
 * ```
 */
export function focalLoss(options: FocalOptions = {}): LossFunction {
  const record = options as Record<string, unknown>
  checkOptionKeys('focal', record, ['alpha', 'gamma'])
  const alpha = numberOption('focal', record, 'alpha', 0.25, 0, 1)
  const gamma = numberOption('focal', record, 'gamma', 2, 0, 10)
  return defineLoss('focal', { name: 'focal', options: { alpha, gamma } }, (y, p) => {
    const q = clipProbabilities(p)
    const notY = tf.sub(1, y)
    const pt = tf.add(tf.mul(y, q), tf.mul(notY, tf.sub(1, q)))
    const alphaT = tf.add(tf.mul(y, alpha), tf.mul(notY, 1 - alpha))
    const modulator = gamma === 0 ? tf.onesLike(pt) : tf.pow(tf.sub(1, pt), gamma)
    return tf.neg(tf.mul(tf.mul(alphaT, modulator), tf.log(pt)))
  })
}
