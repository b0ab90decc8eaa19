import * as tf from '@tensorflow/tfjs-core'
import { bceMap } from './bce'
import { LossError } from './errors'
import type { LossFunction } from './math'
import { getLoss, type LossName } from './registry'

/** Options of {@link deepSupervisionLoss}. */
export interface DeepSupervisionLossOptions {
  /**
   * The segmentation loss of the main and auxiliary mask outputs: a registry name, a loss of this package, or your
   * own `(yTrue, yPred) → tensor`. On probabilities or logits, as the model's `outputActivation`. Default `'bce_dice'`.
   */
  segmentation?: LossName | LossFunction | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor)
  /** Weight of the main output's segmentation loss. Default 1. */
  segmentationWeight?: number
  /** Weight of the BCE of the "has mask" classifier against "the mask is not empty". Default 0.05. */
  classifierWeight?: number
  /** Weight of each auxiliary head's segmentation loss. Default 0.1. */
  auxiliaryWeight?: number
  /** Name of the main mask output. Default `'output'`. */
  maskOutput?: string
  /** Name of the classifier output (sigmoid probabilities, `[batch, classes]`). Default `'has_mask'`. */
  classifierOutput?: string
}

/** The terms of a {@link DeepSupervisionLoss}, each already weighted (they sum to the loss). */
export interface DeepSupervisionTerms {
  /** `segmentationWeight ·` the segmentation loss of the main output on the non-empty images (0 when there are none). */
  segmentation: tf.Scalar
  /** `classifierWeight ·` BCE of the classifier against "mask not empty", over every image. */
  classifier: tf.Scalar
  /** `auxiliaryWeight ·` the sum of the auxiliary heads' segmentation losses on the non-empty images. */
  auxiliary: tf.Scalar
  /** How many images of the batch have a non-empty mask (and so count in the segmentation terms). */
  nonEmptyImages: number
}

/** The loss of a deep-supervised U-Net: called with the masks and the model's outputs by name. */
export interface DeepSupervisionLoss {
  /**
   * @param masks - the true masks, `[batch, h, w, classes]` (any numeric type; non-zero is mask)
   * @param outputs - the model's outputs by name (`output`, `has_mask`, `dec2_aux`, …; see `@unet/layers`' `outputsByName`)
   * @returns the total loss, a scalar
   */
  (masks: tf.Tensor, outputs: Record<string, tf.Tensor>): tf.Scalar
  /** The same, term by term, for logging (dispose the scalars). */
  terms(masks: tf.Tensor, outputs: Record<string, tf.Tensor>): DeepSupervisionTerms
}

function weightOption(options: Record<string, unknown>, key: string, fallback: number): number {
  const value = options[key] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new LossError('INVALID_OPTION', `deepSupervisionLoss: option "${key}" is ${JSON.stringify(value)}; it must be a finite number ≥ 0.`)
  }
  return value
}

/**
 * The TGS winners' deep-supervision loss for a U-Net built with `createUnet({ deepSupervision: true })`:
 *
 * `segmentationWeight · L(masks, output) + classifierWeight · BCE(hasMask, [mask not empty]) + auxiliaryWeight · Σ L(masks, dec<k>_aux)`
 *
 * where the segmentation loss `L` is taken **only over the images whose mask is not empty** (an image counts when any
 * class has a pixel): the empty ones are left to the classifier, so their mask predictions have neither value nor
 * gradient in `L`. The classifier's target is, per image and class, whether the mask has any pixel. Every output
 * other than the mask and the classifier is an auxiliary head at full resolution.
 *
 * It runs in a custom training step (`optimizer.minimize(() => loss(masks, outputsByName(model, model.apply(x, { training: true }))))`);
 * picking the non-empty images reads the masks back (`dataSync`), which needs no gradient.
 *
 * @param options - segmentation loss and the weights; output names
 * @returns the loss, with `.terms()` for its parts
 * @throws {LossError} `INVALID_OPTION` for a bad weight or loss; when called, `SHAPE_MISMATCH` for a missing output or masks that do not fit
 * @example
 * ```ts
 * const loss = deepSupervisionLoss({ segmentation: 'bce_dice', classifierWeight: 0.05, auxiliaryWeight: 0.1 })
 * optimizer.minimize(() => loss(masks, outputsByName(model, model.apply(images, { training: true }) as tf.Tensor[])))
 * ```
 */
export function deepSupervisionLoss(options: DeepSupervisionLossOptions = {}): DeepSupervisionLoss {
  const record = options as Record<string, unknown>
  const known = ['segmentation', 'segmentationWeight', 'classifierWeight', 'auxiliaryWeight', 'maskOutput', 'classifierOutput']
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) {
      throw new LossError('INVALID_OPTION', `deepSupervisionLoss has no option "${key}"; its options are ${known.map((k) => `"${k}"`).join(', ')}.`)
    }
  }
  const given = options.segmentation ?? 'bce_dice'
  const segmentation = typeof given === 'string' ? getLoss(given) : given
  if (typeof segmentation !== 'function') {
    throw new LossError('INVALID_OPTION', 'deepSupervisionLoss: "segmentation" must be a registry name or a function (yTrue, yPred) → tensor.')
  }
  const segmentationWeight = weightOption(record, 'segmentationWeight', 1)
  const classifierWeight = weightOption(record, 'classifierWeight', 0.05)
  const auxiliaryWeight = weightOption(record, 'auxiliaryWeight', 0.1)
  const maskOutput = options.maskOutput ?? 'output'
  const classifierOutput = options.classifierOutput ?? 'has_mask'

  const compute = (masks: tf.Tensor, outputs: Record<string, tf.Tensor>): DeepSupervisionTerms => {
    const main = outputs[maskOutput]
    const classifier = outputs[classifierOutput]
    if (main === undefined || classifier === undefined) {
      throw new LossError(
        'SHAPE_MISMATCH',
        `deepSupervisionLoss needs the outputs "${maskOutput}" and "${classifierOutput}"; got ${Object.keys(outputs).join(', ') || 'none'}. ` +
          'Build the model with createUnet({ deepSupervision: true }) and pass outputsByName(model, outputs).',
      )
    }
    if (masks.size !== main.size || main.rank !== 4) {
      throw new LossError('SHAPE_MISMATCH', `deepSupervisionLoss: masks of shape [${masks.shape.join(', ')}] do not fit the "${maskOutput}" output [${main.shape.join(', ')}].`)
    }
    const [batch, , , classes] = main.shape as [number, number, number, number]
    if (classifier.size !== batch * classes) {
      throw new LossError('SHAPE_MISMATCH', `deepSupervisionLoss: the "${classifierOutput}" output has shape [${classifier.shape.join(', ')}]; expected [${batch}, ${classes}].`)
    }
    return tf.tidy(() => {
      const truth = tf.reshape(tf.cast(tf.notEqual(masks, 0), 'float32'), main.shape)
      const hasMask = tf.max(tf.reshape(truth, [batch, -1, classes]), 1) // [batch, classes]: 1 where the class has a pixel
      const anyClass = tf.max(hasMask, 1).dataSync()
      const kept: number[] = []
      anyClass.forEach((v, i) => v > 0 && kept.push(i))
      // slices rather than gather: gather's gradient needs UnsortedSegmentSum, which the wasm backend lacks
      const pick = (x: tf.Tensor): tf.Tensor =>
        kept.length === batch ? x : tf.concat(kept.map((i) => tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1])), 0)
      const keptTruth = kept.length === 0 ? truth : pick(truth)
      const onNonEmpty = (prediction: tf.Tensor): tf.Scalar =>
        kept.length === 0 ? tf.scalar(0) : (tf.mean(segmentation(keptTruth, pick(prediction))) as tf.Scalar)
      const auxiliaryNames = Object.keys(outputs).filter((name) => name !== maskOutput && name !== classifierOutput)
      const auxiliary = auxiliaryNames.reduce<tf.Scalar>((sum, name) => tf.add(sum, onNonEmpty(outputs[name]!)), tf.scalar(0))
      return {
        segmentation: tf.mul(segmentationWeight, onNonEmpty(main)) as tf.Scalar,
        classifier: tf.mul(classifierWeight, tf.mean(bceMap(hasMask, tf.reshape(classifier, [batch, classes])))) as tf.Scalar,
        auxiliary: tf.mul(auxiliaryWeight, auxiliary) as tf.Scalar,
        nonEmptyImages: kept.length,
      }
    }) as DeepSupervisionTerms
  }
  const loss = ((masks: tf.Tensor, outputs: Record<string, tf.Tensor>) =>
    tf.tidy(() => {
      const t = compute(masks, outputs)
      return tf.addN([t.segmentation, t.classifier, t.auxiliary]) as tf.Scalar
    })) as DeepSupervisionLoss
  Object.defineProperty(loss, 'terms', { value: compute, enumerable: false })
  return loss
}
