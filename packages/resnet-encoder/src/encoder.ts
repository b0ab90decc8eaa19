import * as tfl from '@tensorflow/tfjs-layers'
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers'
import { frozenByStage, seedStream, type Encoder } from '@unet/layers'
import { buildBackbone, stageEnds } from './architecture'
import { ResnetEncoderError } from './errors'
import { ENCODERS, encoderChannels, resnetSpec, type EncoderName } from './names'
import { buildPreactBackbone, preactStageEnds } from './preact'
import { imagenetPreprocess } from './preprocess'

/**
 * Which network a name builds: torchvision's (weights from safetensors with torchvision/timm names), or the
 * pre-activation ResNet of qubvel's classification_models (the network of its Keras `.h5` ImageNet files, which
 * segmentation_models downloads). They are different networks: a file of one does not fit the other.
 */
export type Topology = 'torchvision' | 'classification_models'

function checkTopology(name: string, topology: unknown): Topology {
  if (topology !== 'torchvision' && topology !== 'classification_models') {
    throw new ResnetEncoderError('INVALID_OPTION', `topology must be 'torchvision' or 'classification_models', got '${String(topology)}'`)
  }
  if (topology === 'classification_models' && name === 'seresnet50') {
    throw new ResnetEncoderError(
      'INVALID_OPTION',
      "classification_models' seresnet50 is a different network (a Caffe-style SENet with unnamed layers) that this package does not build; " +
        "use topology 'torchvision' with timm's seresnet50 safetensors, or seresnet18/34 with classification_models",
    )
  }
  return topology
}

/** Options of {@link resnetEncoder}. */
export interface ResnetEncoderOptions {
  /** The network the weights belong to; see {@link Topology}. Default 'torchvision'. */
  topology?: Topology
  /**
   * 'imagenet' (default): the preprocessing the weights expect, inside the model, grey repeated to 3 channels —
   * ImageNet mean/std for torchvision's, scaling to 0–255 for classification_models' (its `bn_data` normalises);
   * 'none': the model takes preprocessed 3-channel input (grey is still repeated).
   */
  preprocess?: 'imagenet' | 'none'
  /** What the input is multiplied by to reach 0–255: 255 (default) for images in [0, 1], 1 for 0–255. */
  inputScale?: number
  /** Keras momentum of the encoder's batch norms (PyTorch's momentum 0.1 is 0.9 here). Default 0.9. */
  batchNormMomentum?: number
}

/** Options of {@link createEncoder}. */
export interface CreateEncoderOptions {
  /** The network the weights belong to; see {@link Topology}. Default 'torchvision'. */
  topology?: Topology
  /** `[height, width, 3]`; height and width multiples of 32. Default `[224, 224, 3]`. */
  inputShape?: readonly [number, number, number]
  /** Seed of the initialisers. Default: unseeded. */
  seed?: number | null
  /** Keras momentum of the batch norms. Default 0.9. */
  batchNormMomentum?: number
}

function checkMomentum(value: number): number {
  if (!(value > 0 && value < 1)) {
    throw new ResnetEncoderError('INVALID_OPTION', `batchNormMomentum must be in (0, 1) (Keras' convention; PyTorch's 0.1 is 0.9), got ${String(value)}`)
  }
  return value
}

/**
 * A ResNet or SE-ResNet as an `@unet/layers` encoder, for `createUnet({ encoder })`: preprocessing (see
 * {@link ResnetEncoderOptions}), then torchvision's network (see {@link createEncoder}). The decoder gets the five
 * feature maps (strides 2 … 32) and up-samples once more without a skip; its default filters are
 * `[16, 32, 64, 128, 256]` (dec1 … dec5), as segmentation_models.pytorch's. Stages for `freezeUpTo`: `stem`,
 * `layer1` … `layer4` (1 … 5), or any encoder layer name.
 *
 * @param name - one of {@link ENCODERS}
 * @param options - preprocessing, input scale, batch-norm momentum
 * @returns the encoder
 * @throws {ResnetEncoderError} `UNKNOWN_ENCODER` listing the valid names, `INVALID_OPTION`
 * @example
 * ```ts
 * const model = createUnet({ encoder: resnetEncoder('seresnet34'), inputShape: [192, 384, 3], freezeUpTo: 'layer2', seed: 1 })
 * ```
 */
export function resnetEncoder(name: EncoderName | string, options: ResnetEncoderOptions = {}): Encoder {
  const spec = resnetSpec(name)
  const preprocess = options.preprocess ?? 'imagenet'
  if (preprocess !== 'imagenet' && preprocess !== 'none') {
    throw new ResnetEncoderError('INVALID_OPTION', `preprocess must be 'imagenet' or 'none', got '${String(preprocess)}'`)
  }
  const inputScale = options.inputScale ?? 255
  if (!(Number.isFinite(inputScale) && inputScale > 0)) {
    throw new ResnetEncoderError('INVALID_OPTION', `inputScale must be a positive number (255 for images in [0, 1], 1 for 0–255), got ${String(inputScale)}`)
  }
  const topology = checkTopology(name, options.topology ?? 'torchvision')
  const keras = topology === 'classification_models'
  const batchNormMomentum = checkMomentum(options.batchNormMomentum ?? (keras ? 0.99 : 0.9))
  const channels = encoderChannels(name)
  const ends = keras ? preactStageEnds(spec) : stageEnds(spec)
  return {
    name,
    depth: 5,
    inputChannels: [1, 3],
    decoderFilters: [16, 32, 64, 128, 256],
    stages: ends.map(([stage]) => stage),
    build(input, { nextSeed }) {
      let x: SymbolicTensor = input
      if (preprocess === 'imagenet' && !keras) x = imagenetPreprocess(input, inputScale)
      else x = scaleInput(input, preprocess === 'imagenet' ? inputScale : 1)
      const build = keras ? buildPreactBackbone : buildBackbone
      return build(x, spec, { nextSeed, batchNormMomentum }).map((tensor, i) => ({ tensor, stride: 2 ** (i + 1), channels: channels[i]! }))
    },
    frozenLayers(model, freezeUpTo) {
      return frozenByStage(model, freezeUpTo, ends, name)
    },
  }
}

/**
 * Builds a ResNet / SE-ResNet encoder as a tfjs LayersModel, without preprocessing and without its classifier:
 * torchvision's topology (BasicBlock for 18/34, Bottleneck v1.5 for 50; SE after the last batch norm of each
 * block for the `se` variants), with explicit zero padding so features match PyTorch's. Its five outputs are the
 * feature maps at strides 2, 4, 8, 16, 32: `relu(bn1(conv1(x)))`, then `layer1` … `layer4`. With
 * `topology: 'classification_models'` it is that package's pre-activation network instead (0–255 input, layer
 * names as in its Keras files, features `relu0`, `stage2_unit1_relu1` … `relu1`). Torchvision layers are named
 * after torchvision's modules with `_` for `.` (`layer3_1_bn2`), so {@link loadEncoderWeights} matches them to
 * `layer3.1.bn2.*` keys.
 *
 * @param name - one of {@link ENCODERS}
 * @param options - inputShape (3 channels, sides multiples of 32), seed, batch-norm momentum
 * @returns the model; input normalised as its weights expect (ImageNet mean/std for torchvision's)
 * @throws {ResnetEncoderError} `UNKNOWN_ENCODER` listing the valid names, `INVALID_OPTION` for a bad shape
 * @example
 * ```ts
 * const encoder = createEncoder('resnet34', { inputShape: [64, 96, 3] })
 * encoder.outputs.map((o) => o.shape) // [null, 32, 48, 64] … [null, 2, 3, 512]
 * ```
 */
export function createEncoder(name: EncoderName | string, options: CreateEncoderOptions = {}): LayersModel {
  const spec = resnetSpec(name)
  const inputShape = options.inputShape ?? [224, 224, 3]
  const [height, width, channels] = inputShape
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0 && height % 32 === 0 && width % 32 === 0) || channels !== 3) {
    throw new ResnetEncoderError(
      'INVALID_OPTION',
      `createEncoder('${name}'): inputShape [${inputShape.join(', ')}] must be [height, width, 3] with height and width multiples of 32 ` +
        `(the encoder halves them five times; e.g. 101 → 128)`,
    )
  }
  const input = tfl.input({ shape: [height, width, 3], name: 'input' })
  const nextSeed = seedStream(options.seed)
  const keras = checkTopology(name, options.topology ?? 'torchvision') === 'classification_models'
  const build = keras ? buildPreactBackbone : buildBackbone
  const features = build(input, spec, { nextSeed, batchNormMomentum: checkMomentum(options.batchNormMomentum ?? (keras ? 0.99 : 0.9)) })
  return tfl.model({ inputs: input, outputs: features, name })
}

/** Multiplies the input by `scale` (grey repeated to three channels) with weightless layers; nothing for RGB at scale 1. */
function scaleInput(input: SymbolicTensor, scale: number): SymbolicTensor {
  if (input.shape[3] === 3) {
    return scale === 1 ? input : (tfl.layers.rescaling({ scale, offset: 0, trainable: false, name: 'input_scale' }).apply(input) as SymbolicTensor)
  }
  const grey = scale === 1 ? input : (tfl.layers.rescaling({ scale, offset: 0, trainable: false, name: 'input_scale' }).apply(input) as SymbolicTensor)
  return tfl.layers.concatenate({ axis: -1, name: 'grey_to_rgb' }).apply([grey, grey, grey]) as SymbolicTensor
}

export { ENCODERS }
