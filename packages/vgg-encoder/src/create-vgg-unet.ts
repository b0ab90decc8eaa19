import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { createUnet, type Encoder, type EncoderFeature } from '@unet/layers'
import { VGG16_BLOCK_FILTERS } from './architecture'
import { VggError } from './errors'
import { frozenLayerNames, type FreezeUpTo } from './freeze'
import { IMAGENET_BGR_MEANS, preprocessWeights } from './preprocess'

/** Filters of the five decoder stages `dec1` … `dec5` (dec1 is the full-resolution one). */
export type DecoderFilters = readonly [number, number, number, number, number]

/** Options of {@link createVggUnet}. */
export interface VggUnetOptions {
  /** `[height, width, channels]`; height and width multiples of 32, channels 1 (grayscale) or 3 (RGB). Default `[128, 128, 1]`. */
  inputShape?: [number, number, number]
  /** Output channels (one per class). Default 1. */
  classes?: number
  /** 'sigmoid' (default) for probabilities, 'linear' for logits (with a `*_logits` or Lovasz loss). */
  outputActivation?: 'sigmoid' | 'linear'
  /** How the decoder doubles the resolution: 'transpose' (2×2 transposed convolution, default) or 'bilinear'. */
  upsampling?: 'transpose' | 'bilinear'
  /** Momentum of the decoder's batch norm layers; `null` for none (the convolutions then get a bias). Default 0.99. */
  batchNormMomentum?: number | null
  /** Dropout rate after each decoder concatenation, one for all or one per stage (dec1…dec5); 0 (default) for none. */
  dropout?: number | readonly number[]
  /** Filters of the decoder stages dec1…dec5; the centre block uses dec5's. Default `[32, 64, 128, 256, 256]`. */
  decoderFilters?: DecoderFilters
  /** Encoder layers up to and including this one do not train; see {@link FreezeUpTo}. Default: nothing frozen. */
  freezeUpTo?: FreezeUpTo | string | number
  /**
   * 'caffe' (default): the model starts with Keras' caffe preprocessing (see `vggPreprocess`), ending in a layer
   * named `vgg_preprocess`, so it takes images as they come: for 1 channel, weightless rescalings
   * `vgg_preprocess_b/g/r` concatenated; for 3 (RGB) channels, a frozen 1×1 convolution. 'none': the model takes
   * preprocessed BGR input (a 1-channel input is still repeated to three).
   */
  preprocess?: 'caffe' | 'none'
  /** With `preprocess: 'caffe'`: 255 (default) for images in [0, 1], 1 for images in 0–255. */
  inputScale?: number
  /** Model name. Default 'vgg16_unet'. */
  name?: string
  /** Seed of the weight initialisers (the same seed, the same initial weights). Default: unseeded. */
  seed?: number | null
}

const DEFAULT_DECODER_FILTERS: DecoderFilters = [32, 64, 128, 256, 256]

function invalid(message: string): VggError {
  return new VggError('INVALID_OPTION', `createVggUnet: ${message}`)
}

function checkOptions(options: VggUnetOptions): void {
  const [height, width, channels] = options.inputShape ?? [128, 128, 1]
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0 || height % 32 || width % 32) {
    throw invalid(
      `inputShape [${String(height)}, ${String(width)}, ${String(channels)}]: height and width must be positive multiples of 32 ` +
        '(VGG-16 halves them five times); resize or pad the images, e.g. 101 → 128',
    )
  }
  if (channels !== 1 && channels !== 3) {
    throw invalid(
      `inputShape has ${String(channels)} channels; VGG-16 takes 1 (grayscale, repeated to 3) or 3 (RGB). ` +
        'Drop extra channels such as a depth channel',
    )
  }
  const { classes = 1, dropout = 0, batchNormMomentum = 0.99, decoderFilters = DEFAULT_DECODER_FILTERS } = options
  if (!Number.isInteger(classes) || classes < 1) throw invalid(`classes must be a positive integer, got ${String(classes)}`)
  const rates = typeof dropout === 'number' ? [dropout] : dropout
  if ((typeof dropout !== 'number' && rates.length !== 5) || rates.some((rate) => !(rate >= 0 && rate < 1))) {
    throw invalid(`dropout must be a rate in [0, 1) or five of them (dec1…dec5), got ${JSON.stringify(dropout)}`)
  }
  if (batchNormMomentum !== null && !(batchNormMomentum > 0 && batchNormMomentum < 1)) {
    throw invalid(`batchNormMomentum must be in (0, 1) or null, got ${String(batchNormMomentum)}`)
  }
  if (decoderFilters.length !== 5 || decoderFilters.some((f) => !Number.isInteger(f) || f < 1)) {
    throw invalid(`decoderFilters must be five positive integers (dec1…dec5), got [${decoderFilters.join(', ')}]`)
  }
  if (options.upsampling !== undefined && options.upsampling !== 'transpose' && options.upsampling !== 'bilinear') {
    throw invalid(`upsampling must be 'transpose' or 'bilinear', got '${String(options.upsampling)}'`)
  }
  if (options.outputActivation !== undefined && options.outputActivation !== 'sigmoid' && options.outputActivation !== 'linear') {
    throw invalid(`outputActivation must be 'sigmoid' or 'linear', got '${String(options.outputActivation)}'`)
  }
  if (options.inputScale !== undefined && !(Number.isFinite(options.inputScale) && options.inputScale > 0)) {
    throw invalid(`inputScale must be a positive number (255 for images in [0, 1], 1 for 0–255), got ${String(options.inputScale)}`)
  }
  if (options.preprocess !== undefined && options.preprocess !== 'caffe' && options.preprocess !== 'none') {
    throw invalid(`preprocess must be 'caffe' or 'none', got '${String(options.preprocess)}'`)
  }
  frozenLayerNames(options.freezeUpTo)
}

function apply(layer: tfl.layers.Layer, input: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor {
  return layer.apply(input) as tfl.SymbolicTensor
}

/** Options of {@link vggEncoder}. */
export interface VggEncoderOptions {
  /** 'caffe' (default): Keras' caffe preprocessing inside the model; 'none': the model takes preprocessed BGR input. */
  preprocess?: 'caffe' | 'none'
  /** With `preprocess: 'caffe'`: 255 (default) for images in [0, 1], 1 for images in 0–255. */
  inputScale?: number
}

/**
 * VGG-16 as an `@unet/layers` encoder: the caffe preprocessing (`vgg_preprocess`, see {@link createVggUnet}), the
 * 13 convolutions `block1_conv1` … `block5_conv3` and the pools `block1_pool` … `block5_pool` with Keras' names and
 * shapes. Its features are the last convolution of each block (strides 1 … 16) and `block5_pool` (stride 32), on
 * which the decoder puts a centre block. Stages for `freezeUpTo`: `block1` … `block5` (or any encoder layer name).
 *
 * @param options - preprocessing and input scale
 * @returns the encoder, for `createUnet({ encoder })`
 * @example
 * ```ts
 * const model = createUnet({ encoder: vggEncoder(), inputShape: [128, 128, 3], freezeUpTo: 'block3' })
 * ```
 */
export function vggEncoder(options: VggEncoderOptions = {}): Encoder {
  const caffe = (options.preprocess ?? 'caffe') === 'caffe'
  const inputScale = options.inputScale ?? 255
  return {
    name: 'vgg16',
    depth: 5,
    inputChannels: [1, 3],
    inputName: 'input',
    decoderFilters: DEFAULT_DECODER_FILTERS,
    center: true,
    stages: ['block1', 'block2', 'block3', 'block4', 'block5'],
    build(input, { nextSeed }) {
      const channels = input.shape[3]
      let x = input
      if (channels === 1) {
        // Grayscale: three weightless rescalings (×255, minus each BGR mean), so nothing that re-initialises or
        // re-loads kernels can disturb the preprocessing
        const scale = caffe ? inputScale : 1
        const planes = IMAGENET_BGR_MEANS.map((mean, i) =>
          apply(
            tfl.layers.rescaling({ name: `vgg_preprocess_${'bgr'[i] as string}`, scale, offset: caffe ? -mean : 0, trainable: false }),
            x,
          ),
        )
        x = apply(tfl.layers.concatenate({ name: 'vgg_preprocess', axis: -1, trainable: false }), planes)
      } else if (caffe) {
        // RGB → BGR needs a channel permutation, which tfjs-layers only offers as a (frozen) 1×1 convolution
        const preprocess = tfl.layers.conv2d({ name: 'vgg_preprocess', filters: 3, kernelSize: 1, trainable: false })
        x = apply(preprocess, x)
        const { kernel, bias } = preprocessWeights(3, inputScale)
        tf.tidy(() => preprocess.setWeights([tf.tensor4d(kernel, [1, 1, 3, 3]), tf.tensor1d(bias)]))
      }
      const features: EncoderFeature[] = []
      for (let block = 1; block <= 5; block++) {
        const convs = block <= 2 ? 2 : 3
        const filters = VGG16_BLOCK_FILTERS[block - 1] as number
        for (let conv = 1; conv <= convs; conv++) {
          x = apply(
            tfl.layers.conv2d({
              name: `block${block}_conv${conv}`,
              filters,
              kernelSize: 3,
              padding: 'same',
              activation: 'relu',
              kernelInitializer: tfl.initializers.glorotUniform({ seed: nextSeed() }),
            }),
            x,
          )
        }
        features.push({ tensor: x, stride: 2 ** (block - 1), channels: filters })
        x = apply(tfl.layers.maxPooling2d({ name: `block${block}_pool`, poolSize: 2, strides: 2 }), x)
      }
      features.push({ tensor: x, stride: 32, channels: 512 })
      return features
    },
    frozenLayers(_model, freezeUpTo) {
      return frozenLayerNames(freezeUpTo)
    },
  }
}

/**
 * Builds a U-Net whose encoder is VGG-16: the 13 convolutions `block1_conv1` … `block5_conv3` and the pools
 * `block1_pool` … `block5_pool` with Keras' names and shapes (so `loadVggWeights` can fill them with the ImageNet
 * weights), a centre block after `block5_pool` (`center_conv1`, …), and five decoder stages `dec5` … `dec1`
 * (`@unet/layers`' `decoderStage`) that up-sample (`decN_up`), concatenate the last convolution of block N
 * (`decN_concat`), drop out (`decN_drop`, when asked) and apply two He-initialised 3×3 convolutions with batch norm
 * (`decN_conv1`, `decN_bn1`, `decN_relu1`, …), then a 1×1 convolution `output`.
 * The encoder starts with random (Glorot) weights: call `loadVggWeights` for pretrained ones.
 *
 * @param options - see {@link VggUnetOptions}; every field has a default
 * @returns an uncompiled `tf.LayersModel` from `[n, h, w, c]` to `[n, h, w, classes]`
 * @throws VggError `INVALID_OPTION` for a shape that is not a multiple of 32, a channel count other than 1 or 3,
 *   or another invalid option; `UNKNOWN_LAYER` for an invalid `freezeUpTo`
 * @example
 * ```ts
 * const model = createVggUnet({ inputShape: [128, 128, 1], freezeUpTo: 'block3_pool' })
 * await loadVggWeights(model, 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5')
 * model.compile({ optimizer: tf.train.adam(1e-4), loss: 'binaryCrossentropy' })
 * ```
 */
export function createVggUnet(options: VggUnetOptions = {}): tfl.LayersModel {
  checkOptions(options)
  return createUnet({
    encoder: vggEncoder({
      ...(options.preprocess !== undefined ? { preprocess: options.preprocess } : {}),
      ...(options.inputScale !== undefined ? { inputScale: options.inputScale } : {}),
    }),
    inputShape: options.inputShape ?? [128, 128, 1],
    decoderFilters: options.decoderFilters ?? DEFAULT_DECODER_FILTERS,
    batchNormMomentum: options.batchNormMomentum === undefined ? 0.99 : options.batchNormMomentum,
    dropout: options.dropout ?? 0,
    upsampling: options.upsampling ?? 'transpose',
    classes: options.classes ?? 1,
    outputActivation: options.outputActivation ?? 'sigmoid',
    name: options.name ?? 'vgg16_unet',
    seed: options.seed ?? null,
    freezeUpTo: options.freezeUpTo ?? null,
  })
}
