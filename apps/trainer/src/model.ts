import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { createUnet } from '@unet/layers'
import { createVggUnet, loadVggWeights } from '@unet/vgg-encoder'
import { getLoss, lossNames } from '@unet/losses'
import { TrainerError } from './errors'
import { createRng } from './rng'
import type { TrainConfig } from './config'

/** Losses that expect raw scores (logits): the model then ends without a sigmoid. */
export const LOGIT_LOSSES: ReadonlySet<string> = new Set(['bce_logits', 'lovasz_hinge', 'lovasz_hinge_elu'])

/**
 * Whether the model of a run outputs logits (so predictions need a sigmoid).
 *
 * @param config - the run's loss
 * @returns true for logit losses
 * @example
 * ```ts
 * outputsLogits({ loss: 'lovasz_hinge' }) // true
 * ```
 */
export function outputsLogits(config: Pick<TrainConfig, 'loss'>): boolean {
  return LOGIT_LOSSES.has(config.loss)
}

/**
 * Channels the model of a run takes (1: the gray TGS images).
 *
 * @param config - the run's model
 * @returns channels
 * @example
 * ```ts
 * modelChannels({ model: 'vgg16' }) // 1
 * ```
 */
export function modelChannels(_config: Pick<TrainConfig, 'model'>): number {
  // the VGG-16 U-Net takes grayscale too: its first layers repeat the channel and apply Keras' caffe preprocessing
  return 1
}

/**
 * Looks the loss up by name, turning an unknown name into a one-line error.
 *
 * @param name - loss name
 * @returns the loss function
 * @example
 * ```ts
 * const loss = resolveLoss('bce_dice')
 * ```
 */
export function resolveLoss(name: string): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  try {
    return getLoss(name) as (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor
  } catch (cause) {
    throw new TrainerError('BAD_CONFIG', `--loss ${JSON.stringify(name)} is not a known loss; use one of ${[...lossNames].join(', ')}`, { cause })
  }
}

/**
 * Builds the run's model (VGG-16 encoder weights loaded from `vggWeights` when given) with the other weights drawn from the run seed (tfjs draws its
 * initial weights from an unseeded generator; two runs with one seed must
 * start from the same weights for a resumed run to match an uninterrupted one).
 *
 * @param config - architecture options and seed
 * @returns an uncompiled model
 * @example
 * ```ts
 * const model = await buildModel(resolveTrainConfig({ depth: 2, filters: 4, imageSize: 32 }))
 * ```
 */
export async function buildModel(config: TrainConfig): Promise<LayersModel> {
  const activation = outputsLogits(config) ? 'linear' : 'sigmoid'
  const inputShape: [number, number, number] = [config.imageSize, config.imageSize, modelChannels(config)]
  const model =
    config.model === 'vgg16'
      ? (createVggUnet({ inputShape, outputActivation: activation, dropout: config.dropout, batchNormMomentum: config.batchNormMomentum }) as unknown as LayersModel)
      : (createUnet({
          depth: config.depth,
          filters: config.filters,
          inputShape,
          dropout: config.dropout,
          batchNormMomentum: config.batchNormMomentum,
          outputActivation: activation,
        }) as unknown as LayersModel)
  seedKernels(model, config.seed)
  if (config.model === 'vgg16' && config.vggWeights !== null) {
    try {
      await loadVggWeights(model as never, config.vggWeights)
    } catch (cause) {
      model.dispose()
      throw new TrainerError('BAD_CONFIG', `cannot load VGG-16 weights from ${config.vggWeights}: ${(cause as Error).message}`, { cause })
    }
  }
  return model
}

/**
 * Re-draws every kernel with Glorot-uniform values from a seeded generator;
 * biases and batch-norm statistics keep their (constant) initial values.
 *
 * @param model - the model to reinitialize
 * @param seed - run seed
 * @returns nothing
 * @example
 * ```ts
 * seedKernels(model, 42)
 * ```
 */
export function seedKernels(model: LayersModel, seed: number): void {
  const rng = createRng(seed ^ 0x5eed)
  for (const w of model.weights) {
    if (!/kernel/.test(w.originalName ?? w.name)) continue
    const shape = w.shape as number[]
    if (shape.length < 2) continue
    const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1)
    const fanIn = receptive * (shape[shape.length - 2] as number)
    const fanOut = receptive * (shape[shape.length - 1] as number)
    const limit = Math.sqrt(6 / (fanIn + fanOut))
    const n = shape.reduce((a, b) => a * b, 1)
    const values = new Float32Array(n)
    for (let i = 0; i < n; i++) values[i] = (rng.next() * 2 - 1) * limit
    const t = tf.tensor(values, shape)
    w.write(t)
    t.dispose()
  }
}
