import type * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import type { TrainConfig } from './config'
import { toOriginalSize, type RunData } from './data'
import { predictSet } from './inference'
import { outputsLogits } from './model'
import { scoreProbabilities, type SetScores } from './scoring'

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
  const { probabilities, loss } = predictSet(model, data.validation, { batchSize: config.batchSize, logits: outputsLogits(config), tta, loss: lossFn })
  const original = probabilities.map((p, i) => toOriginalSize(p, data.validation.shapes[i] as { height: number; width: number }, config))
  const scores = scoreProbabilities(data.validation.originalMasks, original, data.validation.coverageClasses)
  return { loss, scores, probabilities: original }
}

