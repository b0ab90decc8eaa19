// Shared maths of the losses: reshaping to one row per image, clipping, loss wrapping and specs.
import * as tf from '@tensorflow/tfjs-core'
import { LossError } from './errors'

/** A loss as `model.compile({ loss })` takes it: `(yTrue, yPred) → scalar`, with its registry name attached. */
export interface LossFunction {
  (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar
  /** Registry name, e.g. `'bce_dice'`, or `'weighted'`, or `'custom'` for a wrapped user function. */
  readonly lossName: string
  /** JSON description from which the registry rebuilds this loss; `undefined` when it holds a user function. */
  readonly spec: LossSpec | undefined
}

/** JSON-serialisable description of a loss: its registry name and options (a weighted sum lists its terms). */
export interface LossSpec {
  /** A name of {@link lossNames}, or `'weighted'`. */
  name: string
  /** The options the loss was made with (for `'weighted'`: `{ terms: [{ loss: LossSpec, weight }] }`). */
  options?: Record<string, unknown>
}

/** Probabilities are clipped to [ε, 1 − ε] before logarithms, as Keras does. */
export const EPSILON = 1e-7

/**
 * Wraps the maths of a loss into a {@link LossFunction}: checks shapes, casts the truth to float32,
 * runs inside `tf.tidy`, and attaches the name and spec as non-enumerable properties (tfjs-layers
 * reads enumerable properties of a loss as per-output names when it saves a training config).
 */
export function defineLoss(
  lossName: string,
  spec: LossSpec | undefined,
  compute: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor,
): LossFunction {
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar =>
    tf.tidy(() => {
      if (yTrue.size !== yPred.size) {
        throw new LossError(
          'SHAPE_MISMATCH',
          `Loss "${lossName}": yTrue has shape [${yTrue.shape.join(', ')}] but yPred has shape [${yPred.shape.join(', ')}]; ` +
            'pass masks with the same shape as the model output.',
        )
      }
      const truth = yTrue.dtype === 'float32' ? yTrue : tf.cast(yTrue, 'float32')
      const value = compute(tf.reshape(truth, yPred.shape), yPred)
      return tf.mean(value) as tf.Scalar
    })
  Object.defineProperty(loss, 'name', { value: lossName, enumerable: false })
  Object.defineProperty(loss, 'lossName', { value: lossName, enumerable: false })
  Object.defineProperty(loss, 'spec', { value: spec, enumerable: false })
  return loss as LossFunction
}

/** Reshapes a batch-first tensor to `[batch, pixels]` (a tensor of rank < 2 is one image). */
export function perImageRows(x: tf.Tensor): tf.Tensor2D {
  if (x.rank < 2) return tf.reshape(x, [1, -1])
  return tf.reshape(x, [x.shape[0]!, -1])
}

/** Clips probabilities to [ε, 1 − ε] so logarithms stay finite at exactly 0 and 1. */
export function clipProbabilities(p: tf.Tensor): tf.Tensor {
  return tf.clipByValue(p, EPSILON, 1 - EPSILON)
}

/** Sums a `[batch, pixels]` tensor per image (`perImage`) or over the whole batch, as `[rows]`. */
export function sumRows(x: tf.Tensor2D, perImage: boolean): tf.Tensor1D {
  return perImage ? tf.sum(x, 1) : tf.reshape(tf.sum(x), [1])
}

/** Reads an option, checking it is a finite number within [min, max]. */
export function numberOption(
  lossName: string,
  options: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[key] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new LossError(
      'INVALID_OPTION',
      `Loss "${lossName}": option "${key}" is ${JSON.stringify(value)}; it must be a number from ${min} to ${max}.`,
    )
  }
  return value
}

/** Reads a boolean option. */
export function booleanOption(lossName: string, options: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = options[key] ?? fallback
  if (typeof value !== 'boolean') {
    throw new LossError('INVALID_OPTION', `Loss "${lossName}": option "${key}" is ${JSON.stringify(value)}; it must be true or false.`)
  }
  return value
}

/** Refuses option keys a loss does not know (a typo would otherwise be silently ignored). */
export function checkOptionKeys(lossName: string, options: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new LossError(
        'INVALID_OPTION',
        `Loss "${lossName}" has no option "${key}"; its options are ${known.length ? known.map((k) => `"${k}"`).join(', ') : 'none'}.`,
      )
    }
  }
}
