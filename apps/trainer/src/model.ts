import * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { createUnet } from '@unet/layers'
import { createVggUnet, loadVggWeights, VggError } from '@unet/vgg-encoder'
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
 * Builds the run's model (VGG-16 encoder weights loaded from `encoderWeights` when given, frozen up to `freezeUpTo`) with the other weights drawn from the run seed (tfjs draws its
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
      ? (buildVgg(config, inputShape, activation) as unknown as LayersModel)
      : (createUnet({
          depth: config.depth,
          filters: config.filters,
          inputShape,
          dropout: config.dropout,
          batchNormMomentum: config.batchNormMomentum,
          outputActivation: activation,
        }) as unknown as LayersModel)
  seedKernels(model, config.seed)
  if (config.model === 'vgg16' && config.encoderWeights !== null) {
    try {
      await loadVggWeights(model as never, config.encoderWeights)
    } catch (cause) {
      model.dispose()
      throw new TrainerError('BAD_CONFIG', `cannot load VGG-16 weights from ${config.encoderWeights}: ${(cause as Error).message}`, { cause })
    }
  }
  return model
}

function buildVgg(config: TrainConfig, inputShape: [number, number, number], outputActivation: 'linear' | 'sigmoid') {
  try {
    return createVggUnet({
      inputShape,
      outputActivation,
      dropout: config.dropout,
      batchNormMomentum: config.batchNormMomentum,
      ...(config.freezeUpTo !== null ? { freezeUpTo: config.freezeUpTo } : {}),
    })
  } catch (cause) {
    if (cause instanceof VggError && cause.code === 'UNKNOWN_LAYER') {
      throw new TrainerError('BAD_CONFIG', `--freeze-up-to ${JSON.stringify(config.freezeUpTo)}: ${cause.message}`, { cause })
    }
    throw cause
  }
}

/**
 * Re-draws every trainable kernel from a seeded generator with the He-normal initialisation the builders
 * declare (a normal of standard deviation √(2 / fan-in), truncated at two deviations, as Keras' `he_normal`);
 * biases and batch-norm statistics keep their (constant) initial values, and frozen layers (a VGG encoder
 * below its freeze point) keep theirs.
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
  const normal = (): number => {
    // Box–Muller, redrawn outside ±2 (a truncated normal, as Keras draws he_normal)
    for (;;) {
      const u = 1 - rng.next()
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next())
      if (Math.abs(z) <= 2) return z
    }
  }
  for (const w of model.trainableWeights) {
    if (!/kernel/.test(w.originalName ?? w.name)) continue
    const shape = w.shape as number[]
    if (shape.length < 2) continue
    const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1)
    const fanIn = receptive * (shape[shape.length - 2] as number)
    // 0.8796 is the standard deviation of a unit normal truncated at ±2, so the drawn spread is √(2 / fan-in)
    const std = Math.sqrt(2 / fanIn) / 0.8796
    const n = shape.reduce((a, b) => a * b, 1)
    const values = new Float32Array(n)
    for (let i = 0; i < n; i++) values[i] = normal() * std
    const t = tf.tensor(values, shape)
    w.write(t)
    t.dispose()
  }
}
