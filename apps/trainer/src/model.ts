import type * as tf from '@tensorflow/tfjs-core'
import type { LayersModel } from '@tensorflow/tfjs-layers'
import { createUnet, UnetOptionError, type Encoder } from '@unet/layers'
import { ENCODERS, loadEncoderWeights, resnetEncoder } from '@unet/resnet-encoder'
import { loadVggWeights, VggError, vggEncoder } from '@unet/vgg-encoder'
import { deepSupervisionLoss, LOSS_INPUTS, lossFor, lossNames, type LossName } from '@unet/losses'
import type { FitLoss, LossPhase, OutputsLoss } from '@unet/train'
import { TrainerError } from './errors'
import type { TrainConfig } from './config'

/** Losses that expect raw scores (logits): the model then ends without a sigmoid. Read from @unet/losses' `LOSS_INPUTS`. */
export const LOGIT_LOSSES: ReadonlySet<string> = new Set(lossNames.filter((n) => LOSS_INPUTS[n] === 'logits'))

/**
 * The loss names a run trains with, in order: its `--loss-schedule` (and `--loss` before the schedule's first epoch,
 * when that is not 0), or `--loss` alone.
 *
 * @param config - the run's loss and loss schedule
 * @returns the names used
 * @example
 * ```ts
 * lossesInUse({ loss: 'bce', lossSchedule: [{ loss: 'bce_dice', fromEpoch: 0 }, { loss: 'lovasz_hinge', fromEpoch: 6 }] }) // ['bce_dice', 'lovasz_hinge']
 * ```
 */
export function lossesInUse(config: Pick<TrainConfig, 'loss'> & Partial<Pick<TrainConfig, 'lossSchedule'>>): string[] {
  const schedule = config.lossSchedule ?? []
  if (schedule.length === 0) return [config.loss]
  return [...(schedule[0]!.fromEpoch > 0 ? [config.loss] : []), ...schedule.map((p) => p.loss)]
}

/**
 * Whether the model of a run outputs logits (so predictions need a sigmoid): when any loss it trains with takes logits
 * (the losses on probabilities then get a sigmoid first).
 *
 * @param config - the run's loss and loss schedule
 * @returns true when a logit loss is used
 * @example
 * ```ts
 * outputsLogits({ loss: 'lovasz_hinge' }) // true
 * ```
 */
export function outputsLogits(config: Pick<TrainConfig, 'loss'> & Partial<Pick<TrainConfig, 'lossSchedule'>>): boolean {
  return lossesInUse(config).some((n) => LOGIT_LOSSES.has(n))
}

/**
 * The losses `fit` trains a run with: `loss` and `lossSchedule`, each reading the model's output (logits or
 * probabilities, see {@link outputsLogits}), and for deep supervision the loss over all outputs.
 *
 * @param config - the run's loss, schedule and deep supervision
 * @returns fit's `loss`, `lossSchedule` and `outputsLoss`, and the loss of the last phase (for reports)
 * @throws {TrainerError} `BAD_CONFIG` for an unknown loss name
 * @example
 * ```ts
 * const { loss, lossSchedule } = runLosses(config)
 * ```
 */
export function runLosses(config: TrainConfig): { loss: FitLoss; lossSchedule?: LossPhase[]; outputsLoss?: OutputsLoss; last: FitLoss } {
  const logits = outputsLogits(config)
  const loss = resolveLoss(config.loss, logits)
  const lossSchedule = config.lossSchedule?.map((p) => ({ fromEpoch: p.fromEpoch, loss: resolveLoss(p.loss, logits, '--loss-schedule'), name: p.loss }))
  const outputsLoss: OutputsLoss | undefined = config.deepSupervision
    ? (segmentation) => deepSupervisionLoss({ segmentation, classifierWeight: DEEP_SUPERVISION_WEIGHTS.classifier, auxiliaryWeight: DEEP_SUPERVISION_WEIGHTS.auxiliary })
    : undefined
  return { loss, ...(lossSchedule ? { lossSchedule } : {}), ...(outputsLoss ? { outputsLoss } : {}), last: lossSchedule?.at(-1)?.loss ?? loss }
}

/**
 * Weights of the deep-supervision terms `unet train --deep-supervision` uses (segmentation 1). The classifier's is
 * higher than @unet/losses' default (0.05): a run of a few hundred steps on 2 CPU cores must teach it in that time.
 */
export const DEEP_SUPERVISION_WEIGHTS = Object.freeze({ classifier: 0.5, auxiliary: 0.1 })

/** The has-mask probability below which predict zeroes a deep-supervised run's mask, unless told otherwise (run.json). */
export const DEFAULT_EMPTY_THRESHOLD = 0.5

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
 * Looks the loss up by name, turning an unknown name into a one-line error; on a logit model a loss on
 * probabilities gets a sigmoid first (@unet/losses' `lossFor`).
 *
 * @param name - loss name
 * @param logits - the model outputs logits (default: when this loss takes them)
 * @param flag - the flag named in the error
 * @returns the loss function
 * @example
 * ```ts
 * const loss = resolveLoss('bce_dice')
 * ```
 */
export function resolveLoss(name: string, logits = LOGIT_LOSSES.has(name), flag = '--loss'): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  if (!(lossNames as readonly string[]).includes(name)) {
    throw new TrainerError('BAD_CONFIG', `${flag} ${JSON.stringify(name)} is not a known loss; use one of ${[...lossNames].join(', ')}`)
  }
  return lossFor(name as LossName, logits ? 'logits' : 'probabilities') as (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor
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
      decoderAttention: config.decoderAttention,
      hypercolumn: config.hypercolumn,
      deepSupervision: config.deepSupervision,
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
