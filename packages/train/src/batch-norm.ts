import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import type { Batch } from './data'

/** The part of a tfjs-layers BatchNormalization layer that {@link recalibrateBatchNorm} changes for a while. */
interface BatchNormLike {
  momentum: number
}

function batchNormLayers(model: LayersModel): BatchNormLike[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as BatchNormLike[]
}

/**
 * Sets every batch-norm layer's moving mean and variance to the plain average of the batch statistics over the
 * given batches, with the weights as they are now. During training the moving statistics are an exponential
 * average over past batches, taken while the weights were still moving; after a short run at a high learning
 * rate they lag the weights, and inference (which uses them) can predict empty masks everywhere while training
 * loss keeps falling. Only the moving statistics change: weights and optimizer state do not, so training goes on
 * exactly as it would have.
 *
 * @param model - the model; a model without batch norm is left alone
 * @param batches - un-augmented train batches (a shuffled order, so batches mix like training batches)
 * @param inputShape - height, width, channels
 * @returns the number of batch-norm layers recalibrated
 * @example
 * ```ts
 * await recalibrateBatchNorm(model, data.train.plainBatches(epoch, 16), data.train.inputShape)
 * ```
 */
export async function recalibrateBatchNorm(
  model: LayersModel,
  batches: Iterable<Batch> | AsyncIterable<Batch>,
  inputShape: readonly [number, number, number],
): Promise<number> {
  const layers = batchNormLayers(model)
  if (layers.length === 0) return 0
  const saved = layers.map((l) => l.momentum)
  const [h, w, c] = inputShape
  let full = -1
  let b = 0
  try {
    for await (const batch of batches) {
      // whole batches only: a last small batch's statistics would weigh as much as a full one's
      if (full < 0) full = batch.count
      if (batch.count < full && b > 0) break
      // momentum b/(b+1) makes the moving statistic the running mean of the batches seen so far
      for (const l of layers) l.momentum = b / (b + 1)
      tf.tidy(() => {
        model.apply(tf.tensor4d(batch.x, [batch.count, h, w, c]), { training: true })
      })
      b += 1
    }
  } finally {
    layers.forEach((l, k) => (l.momentum = saved[k] as number))
  }
  return b > 0 ? layers.length : 0
}
