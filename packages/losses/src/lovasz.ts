import * as tf from '@tensorflow/tfjs-core'
import { checkOptionKeys, defineLoss, perImageRows, type LossFunction } from './math'

/**
 * Weights of the Lovasz extension of the Jaccard loss, per image, in the pixels' own order:
 * sort errors in decreasing order, take the Jaccard loss of each prefix of the sorted truth, and
 * give each pixel the increase its prefix brings (Berman et al. 2018, `lovasz_grad`). Computed as a
 * constant for the tape: the sort order is piecewise constant, so the loss's gradient is the
 * weights times the hinge's own.
 */
function lovaszWeights(errors: tf.Tensor2D, labels: tf.Tensor2D): tf.Tensor2D {
  const [batch, pixels] = errors.shape
  const order = tf.topk(errors, pixels, true).indices
  const rowStart = tf.reshape(tf.mul(tf.range(0, batch, 1, 'int32'), tf.scalar(pixels, 'int32')), [batch, 1])
  const flatOrder = tf.reshape(tf.add(order, rowStart), [-1])
  const sortedTruth = tf.reshape(tf.gather(tf.reshape(labels, [-1]), flatOrder), [batch, pixels])
  const salt = tf.sum(sortedTruth, 1, true)
  const intersection = tf.sub(salt, tf.cumsum(sortedTruth, 1))
  // never 0: either the image has salt (union ≥ salt ≥ 1) or every prefix adds a background pixel
  const union = tf.add(salt, tf.cumsum(tf.sub(1, sortedTruth), 1))
  const jaccard = tf.sub(1, tf.div(intersection, union))
  const increments =
    pixels > 1
      ? tf.concat([tf.slice(jaccard, [0, 0], [batch, 1]), tf.sub(tf.slice(jaccard, [0, 1], [batch, pixels - 1]), tf.slice(jaccard, [0, 0], [batch, pixels - 1]))], 1)
      : jaccard
  // back to the pixels' own order: weight[order[j]] = increments[j]
  return tf.reshape(tf.scatterND(tf.reshape(flatOrder, [-1, 1]), tf.reshape(increments, [-1]), [batch * pixels]), [batch, pixels])
}

// The weights enter the loss as a constant: computed inside customGrad (whose forward pass the tape
// does not record) with a zero gradient, so sort, gather and scatter need no gradient kernels.
const constantLovaszWeights = tf.customGrad((errors, labels, _save) => ({
  value: tf.tidy(() => lovaszWeights(errors as tf.Tensor2D, labels as tf.Tensor2D)),
  gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy), tf.zerosLike(dy)],
})) as (errors: tf.Tensor2D, labels: tf.Tensor2D) => tf.Tensor2D

function lovaszPerImage(y: tf.Tensor, logits: tf.Tensor, hinge: (errors: tf.Tensor) => tf.Tensor): tf.Tensor {
  const labels = perImageRows(y)
  const x = perImageRows(logits)
  const signs = tf.sub(tf.mul(2, labels), 1)
  const errors = tf.sub(1, tf.mul(x, signs)) as tf.Tensor2D
  const weights = constantLovaszWeights(errors, labels)
  return tf.sum(tf.mul(hinge(errors), weights), 1)
}

/**
 * Lovasz hinge loss on logits, computed per image and averaged, as in the TGS winning solutions
 * (Berman et al. 2018): hinge errors `1 − x·(2y − 1)`, sorted, weighted by the gradient of the
 * Lovasz extension of the Jaccard loss — a direct surrogate of the IoU the competition scores.
 * An image with no salt is penalised by its most confident false positive only (no NaN).
 * Registry name `'lovasz_hinge'`.
 *
 * @param options - none
 * @returns a loss for `model.compile({ loss })` of a model built with `outputActivation: 'linear'`
 * @example
 * ```ts
 * const model = createUnet({ outputActivation: 'linear' })
 * model.compile({ optimizer: 'adam', loss: lovaszHingeLoss() })
 * ```
 */
export function lovaszHingeLoss(options: Record<string, never> = {}): LossFunction {
  checkOptionKeys('lovasz_hinge', options, [])
  return defineLoss('lovasz_hinge', { name: 'lovasz_hinge', options: {} }, (y, x) => lovaszPerImage(y, x, (e) => tf.relu(e)))
}

/**
 * The Lovasz hinge with `elu(e) + 1` in place of `relu(e)` — the smooth variant TGS solutions
 * used to fine-tune: every pixel keeps a small gradient, so training does not stall once errors
 * fall below zero. Per image, on logits. Registry name `'lovasz_hinge_elu'`.
 *
 * @param options - none
 * @returns a loss for `model.compile({ loss })` of a model built with `outputActivation: 'linear'`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: lovaszHingeEluLoss() })
 * ```
 */
export function lovaszHingeEluLoss(options: Record<string, never> = {}): LossFunction {
  checkOptionKeys('lovasz_hinge_elu', options, [])
  return defineLoss('lovasz_hinge_elu', { name: 'lovasz_hinge_elu', options: {} }, (y, x) =>
    // elu(e) + 1 = relu(e) + exp(min(e, 0)): e + 1 above 0, e^e below; needs no EluGrad kernel
    lovaszPerImage(y, x, (e) => tf.add(tf.relu(e), tf.exp(tf.minimum(e, 0)))),
  )
}
