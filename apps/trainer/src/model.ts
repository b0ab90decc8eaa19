import type * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { createUnet, UnetOptionError, type Encoder } from '@unet/layers'
import { ENCODERS, loadEncoderWeights, resnetEncoder } from '@unet/resnet-encoder'
import { loadVggWeights, VggError, vggEncoder } from '@unet/vgg-encoder'
import { getLoss, lossNames } from '@unet/losses'
import { TrainerError } from './errors'
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
 * @param config - the run's encoder
 * @returns channels
 * @example
 * ```ts
 * modelChannels({ encoder: 'resnet34' }) // 1
 * ```
 */
export function modelChannels(config: Pick<TrainConfig, 'encoder'> & Partial<Pick<TrainConfig, 'channels'>>): number {
  // VGG-16 and the ResNets take grayscale too: their first layers repeat the channel and apply their preprocessing
  return config.channels ?? 1
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
 * The encoders `unet train --encoder` takes, declared once: the CLI's choices, help and checks read this list.
 * `plain` is the classic U-Net (shaped by `--depth` and `--filters`), `vgg16` is @unet/vgg-encoder's, the rest
 * are @unet/resnet-encoder's.
 *
 * @example
 * ```ts
 * ENCODER_CHOICES.includes('seresnet34') // true
 * ```
 */
export const ENCODER_CHOICES = ['plain', 'vgg16', ...ENCODERS] as const

/** A name from {@link ENCODER_CHOICES}. */
export type EncoderChoice = (typeof ENCODER_CHOICES)[number]

/**
 * Halvings from the input to the encoder's deepest features: the image size must be a multiple of `2 ** depth`.
 *
 * @param config - the run's encoder and depth
 * @returns `config.depth` for the plain U-Net, 5 for VGG-16 and the ResNets
 * @example
 * ```ts
 * encoderDepth({ encoder: 'resnet34', depth: 4 }) // 5
 * ```
 */
export function encoderDepth(config: Pick<TrainConfig, 'encoder' | 'depth'>): number {
  return config.encoder === 'plain' ? config.depth : 5
}

function encoderOf(config: TrainConfig): Encoder | undefined {
  if (config.encoder === 'plain') return undefined
  if (config.encoder === 'vgg16') return vggEncoder()
  // Keras .h5 ResNet weights are classification_models' (segmentation_models' downloads): its pre-activation network
  const keras = config.encoderWeights !== null && /\.(h5|hdf5|keras)$/i.test(config.encoderWeights)
  return resnetEncoder(config.encoder, keras ? { topology: 'classification_models' } : {})
}

/**
 * Builds the run's model: the plain U-Net, or the U-Net decoder over the chosen encoder (its pretrained weights
 * loaded from `encoderWeights` when given, frozen up to `freezeUpTo`). A ResNet with `.h5` weights is built as
 * classification_models' pre-activation network, the one those files hold; with `.safetensors`, as torchvision's. Initial weights come from the run seed,
 * so two runs with one seed start from the same weights (a resumed run matches an uninterrupted one).
 *
 * @param config - architecture options and seed
 * @returns an uncompiled model
 * @throws {TrainerError} `BAD_CONFIG` for a freeze point the encoder does not have or weights that do not fit
 * @example
 * ```ts
 * const model = await buildModel(resolveTrainConfig({ encoder: 'resnet34', imageSize: 128 }))
 * ```
 */
export async function buildModel(config: TrainConfig): Promise<LayersModel> {
  const encoder = encoderOf(config)
  let model: LayersModel
  try {
    model = createUnet({
      ...(encoder ? { encoder } : { depth: config.depth, filters: config.filters }),
      inputShape: [config.imageHeight ?? config.imageSize, config.imageSize, modelChannels(config)],
      dropout: config.dropout,
      batchNormMomentum: config.batchNormMomentum,
      outputActivation: outputsLogits(config) ? 'linear' : 'sigmoid',
      seed: config.seed,
      freezeUpTo: config.freezeUpTo,
    }) as unknown as LayersModel
  } catch (cause) {
    const freezing = (cause instanceof VggError && cause.code === 'UNKNOWN_LAYER') || (cause instanceof UnetOptionError && cause.option === 'freezeUpTo')
    if (freezing) throw new TrainerError('BAD_CONFIG', `--freeze-up-to ${JSON.stringify(config.freezeUpTo)}: ${(cause as Error).message}`, { cause })
    throw cause
  }
  if (config.encoderWeights !== null) {
    try {
      if (config.encoder === 'vgg16') await loadVggWeights(model as never, config.encoderWeights)
      else await loadEncoderWeights(model as never, config.encoderWeights)
    } catch (cause) {
      model.dispose()
      throw new TrainerError('BAD_CONFIG', `--encoder-weights: cannot load ${config.encoder} weights from ${config.encoderWeights}: ${(cause as Error).message}`, { cause })
    }
  }
  return model
}
