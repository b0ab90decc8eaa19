import * as tfl from '@tensorflow/tfjs-layers'
import { UnetOptionError } from './errors'

type SymbolicTensor = tfl.SymbolicTensor

/**
 * The decoder attentions `createUnet({ decoderAttention })` takes, declared once: `'none'`, or `'scse'` blocks
 * (see {@link scseBlock}). Option checks, the CLI's choices and its help read this list.
 *
 * @example
 * ```ts
 * DECODER_ATTENTIONS // ['none', 'scse']
 * ```
 */
export const DECODER_ATTENTIONS = Object.freeze(['none', 'scse'] as const)

/** How the decoder re-weights each stage's features: scSE blocks, or nothing. */
export type DecoderAttention = (typeof DECODER_ATTENTIONS)[number]

/** Options of {@link scseBlock}. */
export interface ScseBlockOptions {
  /** Prefix of the layer names: `<name>_cse_pool`, `<name>_cse_reduce`, …, `<name>_scse`. */
  name: string
  /**
   * Channel squeeze ratio of the channel branch: its hidden layer has `max(1, floor(channels / reduction))` units.
   * Default 2, as Roy et al.; at 16 (segmentation_models.pytorch's) a decoder of 16–32 channels gets one or two
   * ReLU units, often dead from the start, and its channel branch then never learns.
   */
  reduction?: number
  /** Seeds for the kernel initialisers (see `seedStream`); unseeded when absent. */
  nextSeed?: () => number | undefined
}

/**
 * Concurrent spatial and channel squeeze-and-excitation (scSE, Roy et al. 2018), the decoder attention of the TGS
 * Salt winners: `x · cSE(x) + x · sSE(x)`, where
 * - the channel branch cSE(x) = sigmoid(W2 · relu(W1 · mean_hw(x) + b1) + b2) is one weight per channel
 *   (`<name>_cse_pool` global average pooling, `<name>_cse_reshape`, `<name>_cse_reduce` and `<name>_cse_expand` 1×1
 *   convolutions, `<name>_cse_scale` the product);
 * - the spatial branch sSE(x) = sigmoid(w · x + b) is one weight per pixel (`<name>_sse_conv` a 1×1 convolution to
 *   one channel, `<name>_sse_scale` the product);
 * - `<name>_scse` adds the two.
 *
 * Only built-in layers (the products broadcast), so a saved model loads in plain TensorFlow.js.
 *
 * @param input - a 4-D symbolic tensor `[batch, h, w, channels]` with a known channel count
 * @param options - name, reduction, seeds
 * @returns the re-weighted features, the same shape as `input`
 * @throws {UnetOptionError} `INVALID_OPTION` for a reduction that is not a positive integer
 * @example
 * ```ts
 * const x = tfl.input({ shape: [32, 32, 64] })
 * const y = scseBlock(x, { name: 'dec2' }) // [null, 32, 32, 64]; the channel branch squeezes 64 → 32 → 64
 * ```
 */
export function scseBlock(input: SymbolicTensor, options: ScseBlockOptions): SymbolicTensor {
  const { name, reduction = 2, nextSeed = () => undefined } = options
  if (!Number.isInteger(reduction) || reduction < 1) {
    throw new UnetOptionError('INVALID_OPTION', 'reduction', `scSE block option "reduction" is ${JSON.stringify(reduction)}; it must be a positive integer.`)
  }
  const channels = input.shape[input.shape.length - 1]
  if (typeof channels !== 'number') {
    throw new UnetOptionError('INVALID_OPTION', 'input', `scSE block "${name}" needs an input with a known channel count; got shape [${input.shape.join(', ')}].`)
  }
  const hidden = Math.max(1, Math.floor(channels / reduction))
  const conv = (filters: number, activation: 'relu' | 'sigmoid', layerName: string) =>
    tfl.layers.conv2d({ filters, kernelSize: 1, activation, kernelInitializer: tfl.initializers.heNormal({ seed: nextSeed() }), name: layerName })
  let c = tfl.layers.globalAveragePooling2d({ name: `${name}_cse_pool` }).apply(input) as SymbolicTensor
  c = tfl.layers.reshape({ targetShape: [1, 1, channels], name: `${name}_cse_reshape` }).apply(c) as SymbolicTensor
  c = conv(hidden, 'relu', `${name}_cse_reduce`).apply(c) as SymbolicTensor
  c = conv(channels, 'sigmoid', `${name}_cse_expand`).apply(c) as SymbolicTensor
  const channelScaled = tfl.layers.multiply({ name: `${name}_cse_scale` }).apply([input, c]) as SymbolicTensor
  const s = conv(1, 'sigmoid', `${name}_sse_conv`).apply(input) as SymbolicTensor
  const spatialScaled = tfl.layers.multiply({ name: `${name}_sse_scale` }).apply([input, s]) as SymbolicTensor
  return tfl.layers.add({ name: `${name}_scse` }).apply([channelScaled, spatialScaled]) as SymbolicTensor
}
