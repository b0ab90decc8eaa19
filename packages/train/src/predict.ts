import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'

/** Test-time augmentations: `none`, or `flip` (average with the prediction of the mirrored image). */
export const TTA_MODES = Object.freeze(['none', 'flip'] as const)

/** A test-time augmentation name. */
export type TtaMode = (typeof TTA_MODES)[number]

/** Options of {@link predictBatch}. */
export interface PredictBatchOptions {
  /** The model outputs logits: a sigmoid is applied. */
  readonly logits: boolean
  /** Test-time augmentation. Default `none`. */
  readonly tta?: TtaMode
  /** Also return the mean loss against these masks (`count × h × w × 1`) with this loss function. */
  readonly loss?: { readonly fn: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor; readonly masks: Float32Array }
}

/**
 * Runs the model on one batch and returns probabilities (with flip TTA when asked), and the batch's mean loss.
 *
 * @param model - the model
 * @param x - images, `count × h × w × c`
 * @param shape - `[count, h, w, c]`
 * @param options - logits, TTA, loss
 * @returns `count × h × w` probabilities, and the mean loss (NaN when no loss was asked for)
 * @example
 * ```ts
 * const { probabilities } = predictBatch(model, batch.x, [batch.count, 128, 128, 1], { logits: false, tta: 'flip' })
 * ```
 */
export function predictBatch(
  model: LayersModel,
  x: Float32Array,
  shape: readonly [number, number, number, number],
  options: PredictBatchOptions,
): { probabilities: Float32Array; loss: number } {
  let loss = NaN
  const probs = tf.tidy(() => {
    const input = tf.tensor4d(x, shape as [number, number, number, number])
    const raw = model.predict(input) as tf.Tensor4D
    if (options.loss && options.loss.masks.length > 0) {
      const y = tf.tensor4d(options.loss.masks, [shape[0], shape[1], shape[2], 1])
      loss = (tf.mean(options.loss.fn(y, raw)).dataSync()[0] as number)
    }
    let p: tf.Tensor = options.logits ? tf.sigmoid(raw) : raw
    if ((options.tta ?? 'none') === 'flip') {
      const flipped = model.predict(tf.reverse(input, 2)) as tf.Tensor4D
      p = tf.div(tf.add(p, tf.reverse(options.logits ? tf.sigmoid(flipped) : flipped, 2)), 2)
    }
    return p
  })
  const probabilities = probs.dataSync() as Float32Array
  probs.dispose()
  return { probabilities, loss }
}
