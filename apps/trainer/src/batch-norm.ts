import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import type { PreparedSet } from './data'

/** The part of a tfjs-layers BatchNormalization layer that {@link recalibrateBatchNorm} changes for a while. */
interface BatchNormLike {
  momentum: number
}

function batchNormLayers(model: LayersModel): BatchNormLike[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as BatchNormLike[]
}

/**
 * Sets every batch-norm layer's moving mean and variance to the plain average
 * of the batch statistics over the train images, with the weights as they are
 * now. During training the moving statistics are an exponential average over
 * past batches, taken while the weights were still moving; after a short run
 * at a high learning rate they lag the weights, and inference (which uses
 * them) can predict empty masks everywhere while training loss keeps falling.
 * Only the moving statistics change: weights and optimizer state do not, so
 * training goes on exactly as it would have.
 *
 * @param model - the model; a model without batch norm is left alone
 * @param set - the train set (images at model size, no augmentation)
 * @param order - the order to visit the images in (a shuffle, so batches are mixed like training batches)
 * @param batchSize - images per forward pass, the training batch size
 * @returns the number of batch-norm layers recalibrated
 * @example
 * ```ts
 * recalibrateBatchNorm(model, data.train, epochOrder(data.train.count, seed, epoch), 16)
 * ```
 */
export function recalibrateBatchNorm(model: LayersModel, set: PreparedSet, order: readonly number[], batchSize: number): number {
  const layers = batchNormLayers(model)
  if (layers.length === 0 || set.count === 0) return 0
  const saved = layers.map((l) => l.momentum)
  const { size, channels } = set
  const pixels = size * size * channels
  // whole batches only: a last small batch's statistics would weigh as much as a full one's
  const batches = Math.max(1, Math.floor(set.count / batchSize))
  try {
    for (let b = 0; b < batches; b++) {
      const idx = order.slice(b * batchSize, (b + 1) * batchSize)
      const xs = new Float32Array(idx.length * pixels)
      idx.forEach((i, k) => xs.set(set.images.subarray(i * pixels, (i + 1) * pixels), k * pixels))
      // momentum b/(b+1) makes the moving statistic the running mean of the batches seen so far
      for (const l of layers) l.momentum = b / (b + 1)
      tf.tidy(() => {
        model.apply(tf.tensor4d(xs, [idx.length, size, size, channels]), { training: true })
      })
    }
  } finally {
    layers.forEach((l, k) => (l.momentum = saved[k] as number))
  }
  return layers.length
}
