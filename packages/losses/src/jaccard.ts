import * as tf from '@tensorflow/tfjs-core'
import { defineLoss, perImageRows, sumRows, type LossFunction } from './math'
import { softOverlapOptions, type SoftOverlapOptions } from './dice'

/**
 * Soft Jaccard (IoU) loss on probabilities: `1 − (Σ y·p + smooth) / (Σ y + Σ p − Σ y·p + smooth)` over the
 * batch (or per image and averaged). Empty truth and prediction give 0 with `smooth > 0`. Registry name `'jaccard'`.
 *
 * @param options - `smooth` (default 1), `perImage` (default false)
 * @returns a loss for `model.compile({ loss })`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: jaccardLoss({ perImage: true }) })
 * ```
 */
export function jaccardLoss(options: SoftOverlapOptions = {}): LossFunction {
  const { smooth, perImage } = softOverlapOptions('jaccard', options)
  return defineLoss('jaccard', { name: 'jaccard', options: { smooth, perImage } }, (y, p) => {
    const yr = perImageRows(y)
    const pr = perImageRows(p)
    const intersection = sumRows(tf.mul(yr, pr), perImage)
    const union = tf.sub(tf.add(sumRows(yr, perImage), sumRows(pr, perImage)), intersection)
    return tf.sub(1, tf.div(tf.add(intersection, smooth), tf.add(union, smooth)))
  })
}
