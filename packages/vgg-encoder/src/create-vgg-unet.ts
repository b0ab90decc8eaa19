import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { convBlock, decoderStage } from '@unet/layers'
import { VGG16_BLOCK_FILTERS } from './architecture'
import { VggError } from './errors'
import { freezeVggEncoder, frozenLayerNames, type FreezeUpTo } from './freeze'
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
  const inputShape = options.inputShape ?? [128, 128, 1]
  const channels = inputShape[2] as 1 | 3
  const batchNormMomentum = options.batchNormMomentum === undefined ? 0.99 : options.batchNormMomentum
  const decoderFilters = options.decoderFilters ?? DEFAULT_DECODER_FILTERS
  const caffe = (options.preprocess ?? 'caffe') === 'caffe'
  const dropout = options.dropout ?? 0

  const input = tfl.input({ shape: inputShape, name: 'input' })
  let x = input
  const inputScale = options.inputScale ?? 255
  let preprocess: tfl.layers.Layer | undefined
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
    preprocess = tfl.layers.conv2d({ name: 'vgg_preprocess', filters: 3, kernelSize: 1, trainable: false })
    x = apply(preprocess, x)
  }

  const skips: tfl.SymbolicTensor[] = []
  for (let block = 1; block <= 5; block++) {
    const convs = block <= 2 ? 2 : 3
    for (let conv = 1; conv <= convs; conv++) {
      x = apply(
        tfl.layers.conv2d({
          name: `block${block}_conv${conv}`,
          filters: VGG16_BLOCK_FILTERS[block - 1] as number,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
        }),
        x,
      )
    }
    skips.push(x)
    x = apply(tfl.layers.maxPooling2d({ name: `block${block}_pool`, poolSize: 2, strides: 2 }), x)
  }

  // the decoder is @unet/layers' own, so both U-Nets name and build their decoders alike
  x = convBlock(x, { filters: decoderFilters[4], name: 'center', batchNormMomentum })
  for (let level = 5; level >= 1; level--) {
    x = decoderStage(x, skips[level - 1] as tfl.SymbolicTensor, {
      level,
      filters: decoderFilters[level - 1] as number,
      upsampling: options.upsampling ?? 'transpose',
      batchNormMomentum,
      dropout: typeof dropout === 'number' ? dropout : (dropout[level - 1] as number),
    })
  }
  const output = apply(
    tfl.layers.conv2d({
      name: 'output',
      filters: options.classes ?? 1,
      kernelSize: 1,
      activation: options.outputActivation ?? 'sigmoid',
    }),
    x,
  )
  const model = tfl.model({ inputs: input, outputs: output, name: options.name ?? 'vgg16_unet' })

  if (preprocess) {
    const { kernel, bias } = preprocessWeights(3, inputScale)
    const layer = preprocess
    tf.tidy(() => layer.setWeights([tf.tensor4d(kernel, [1, 1, 3, 3]), tf.tensor1d(bias)]))
  }
  freezeVggEncoder(model, options.freezeUpTo)
  return model
}
