import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import type { PreparedSet } from './data'

/** Options of {@link predictSet}. */
export interface PredictSetOptions {
  /** Images per forward pass. */
  batchSize: number
  /** The model outputs logits (a sigmoid is applied). */
  logits: boolean
  /** Average with the prediction of the horizontally flipped image. */
  tta: boolean
  /** Also compute the mean loss against the set's masks with this function. */
  loss?: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor
}

/**
 * Runs the model over a prepared set.
 *
 * @param model - the model
 * @param set - images at model size
 * @param options - batch size, logits, TTA, optional loss
 * @returns one `size × size` probability map per image, and the mean loss when asked
 * @example
 * ```ts
 * const { probabilities } = predictSet(model, validation, { batchSize: 16, logits: false, tta: true })
 * ```
 */
export function predictSet(model: LayersModel, set: PreparedSet, options: PredictSetOptions): { probabilities: Float32Array[]; loss: number } {
  const { size, channels } = set
  const plane = size * size
  const probabilities: Float32Array[] = []
  let lossSum = 0
  for (let start = 0; start < set.count; start += options.batchSize) {
    const n = Math.min(options.batchSize, set.count - start)
    const x = tf.tensor4d(set.images.subarray(start * plane * channels, (start + n) * plane * channels), [n, size, size, channels])
    let probs: tf.Tensor
    let loss: tf.Scalar | null = null
    try {
      probs = tf.tidy(() => {
        const raw = model.predict(x) as tf.Tensor4D
        if (options.loss && set.masks.length > 0) {
          const y = tf.tensor4d(set.masks.subarray(start * plane, (start + n) * plane), [n, size, size, 1])
          loss = tf.keep(tf.mean(options.loss(y, raw)) as tf.Scalar)
        }
        let p: tf.Tensor = options.logits ? tf.sigmoid(raw) : raw
        if (options.tta) {
          const rawFlipped = model.predict(tf.reverse(x, 2)) as tf.Tensor4D
          const pf = tf.reverse(options.logits ? tf.sigmoid(rawFlipped) : rawFlipped, 2)
          p = tf.div(tf.add(p, pf), 2)
        }
        return p
      })
    } finally {
      x.dispose()
    }
    const data = probs.dataSync() as Float32Array
    probs.dispose()
    const lossTensor = loss as tf.Scalar | null
    if (lossTensor) {
      lossSum += lossTensor.dataSync()[0]! * n
      lossTensor.dispose()
    }
    for (let i = 0; i < n; i++) probabilities.push(data.slice(i * plane, (i + 1) * plane))
  }
  return { probabilities, loss: set.count > 0 ? lossSum / set.count : NaN }
}
