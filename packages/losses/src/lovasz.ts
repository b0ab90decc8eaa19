import * as tf from '@tensorflow/tfjs-core'
import { checkOptionKeys, defineLoss, perImageRows, type LossFunction } from './math'

/**
 * Weights of the Lovasz extension of the Jaccard loss, per image, in the pixels' own order:
 * sort errors in decreasing order, take the Jaccard loss of each prefix of the sorted truth, and
 * give each pixel the increase its prefix brings (Berman et al. 2018, `lovasz_grad`). The sort runs
 * on the backend (`topk`); the prefix sums, one pass per image over typed arrays (float64 sums,
 * no gather/scatter kernels, several times faster on wasm than the same steps as tensor ops).
 */
function lovaszWeights(errors: tf.Tensor2D, labels: tf.Tensor2D): tf.Tensor2D {
  const [batch, pixels] = errors.shape
  const order = tf.tidy(() => tf.topk(errors, pixels, true).indices)
  const sorted = order.dataSync()
  order.dispose()
  const truth = labels.dataSync()
  const weights = new Float32Array(batch * pixels)
  for (let b = 0; b < batch; b++) {
    const row = b * pixels
    let salt = 0
    for (let j = 0; j < pixels; j++) salt += truth[row + j]!
    let truthSoFar = 0
    let backgroundSoFar = 0
    let previous = 0
    for (let j = 0; j < pixels; j++) {
      const pixel = row + sorted[row + j]!
      const label = truth[pixel]!
      truthSoFar += label
      backgroundSoFar += 1 - label
      // the union is never 0: either the image has salt (union ≥ salt ≥ 1) or every prefix adds a background pixel
      const jaccard = 1 - (salt - truthSoFar) / (salt + backgroundSoFar)
      weights[pixel] = jaccard - previous
      previous = jaccard
    }
  }
  return tf.tensor2d(weights, [batch, pixels])
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

/**
 * The symmetric Lovasz hinge of the TGS winners: the mean of the Lovasz hinge on the mask and on its complement
 * (`(L(y, x) + L(1 − y, −x)) / 2`), so the background is scored as an object too — an empty image is then charged
 * for every false positive pixel, not only its most confident one. Per image, on logits. Registry name
 * `'lovasz_hinge_symmetric'`.
 *
 * @param options - none
 * @returns a loss for `model.compile({ loss })` of a model built with `outputActivation: 'linear'`
 * @example
 * ```ts
 * model.compile({ optimizer: 'adam', loss: lovaszHingeSymmetricLoss() })
 * ```
 */
export function lovaszHingeSymmetricLoss(options: Record<string, never> = {}): LossFunction {
  checkOptionKeys('lovasz_hinge_symmetric', options, [])
  return defineLoss('lovasz_hinge_symmetric', { name: 'lovasz_hinge_symmetric', options: {} }, (y, x) =>
    tf.mul(0.5, tf.add(lovaszPerImage(y, x, (e) => tf.relu(e)), lovaszPerImage(tf.sub(1, y), tf.neg(x), (e) => tf.relu(e)))),
  )
}
