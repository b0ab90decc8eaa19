import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { predictTensor } from '@unet/predict'
import type { TrainConfig } from './config'
import { toOriginalSize, type RunData } from './data'
import { outputsLogits } from './model'
import { scoreProbabilities, type SetScores } from '@unet/train'

/**
 * Predicts the validation set, maps the probabilities back to the original
 * size and scores them (threshold sweep, TGS score, IoU, Dice).
 *
 * @param model - the model
 * @param data - the run's data
 * @param config - sizes and loss
 * @param lossFn - the loss, for the validation loss
 * @returns the validation loss, scores and the original-size probabilities
 * @example
 * ```ts
 * const { scores } = validate(model, data, config, resolveLoss(config.loss))
 * ```
 */
export function validate(
  model: LayersModel,
  data: RunData,
  config: TrainConfig,
  lossFn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  tta = false,
): { loss: number; scores: SetScores; probabilities: Float32Array[] } {
  const { probabilities, loss } = predictSet(model, data.validation, config.batchSize, outputsLogits(config), tta, lossFn)
  const original = probabilities.map((p, i) => toOriginalSize(p, data.validation.shapes[i] as { height: number; width: number }, config))
  const scores = scoreProbabilities(data.validation.originalMasks, original, data.validation.coverageClasses)
  return { loss, scores, probabilities: original }
}


/** The validation set's probabilities at model size and the mean loss of the plain view against its masks. */
function predictSet(
  model: LayersModel,
  set: RunData['validation'],
  batchSize: number,
  logits: boolean,
  tta: boolean,
  lossFn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
): { probabilities: Float32Array[]; loss: number } {
  const { width, height, channels } = set
  const plane = width * height
  const probabilities: Float32Array[] = []
  let lossSum = 0
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start)
    let loss: tf.Scalar | null = null
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(set.images.subarray(start * plane * channels, (start + n) * plane * channels), [n, height, width, channels])
      return predictTensor(model, x, {
        activation: logits ? 'linear' : 'sigmoid',
        tta: tta ? ['hflip'] : [],
        plainOutput: (raw) => {
          if (set.masks.length === 0) return
          const y = tf.tensor4d(set.masks.subarray(start * plane, (start + n) * plane), [n, height, width, 1])
          loss = tf.keep(tf.mean(lossFn(y, raw)) as tf.Scalar)
        },
      })
    })
    const values = probs.dataSync() as Float32Array
    probs.dispose()
    const lossTensor = loss as tf.Scalar | null
    if (lossTensor) {
      lossSum += (lossTensor.dataSync()[0] as number) * n
      lossTensor.dispose()
    }
    for (let i = 0; i < n; i++) probabilities.push(values.slice(i * plane, (i + 1) * plane))
  }
  return { probabilities, loss: set.count > 0 ? lossSum / set.count : NaN }
}
