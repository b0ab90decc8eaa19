import * as tfl from '@tensorflow/tfjs-layers'
import { UnetOptionError } from './errors'
import type { Upsampling } from './options'

type SymbolicTensor = tfl.SymbolicTensor

/** Options of {@link convBlock}. */
export interface ConvBlockOptions {
  /** Output channels of both convolutions. */
  filters: number
  /** Prefix of the layer names: `<name>_conv1`, `<name>_bn1`, `<name>_relu1`, `<name>_conv2`, … */
  name: string
  /** Batch-norm momentum after each convolution; `null` for none. Default 0.99. */
  batchNormMomentum?: number | null
  /** Square kernel size of both convolutions. Default 3. */
  kernelSize?: number
  /** Seeds for the kernel initialisers, one drawn per convolution (see `seedStream`); unseeded when absent. */
  nextSeed?: () => number | undefined
}

/** Options of {@link encoderStage}. */
export interface EncoderStageOptions {
  /** 1-based level; layers are named `enc<level>_…`. */
  level: number
  /** Output channels of the stage's convolutions. */
  filters: number
  /** Batch-norm momentum; `null` for none. Default 0.99. */
  batchNormMomentum?: number | null
  /** Dropout rate after the pooling, in [0, 1). Default 0 (no dropout layer). */
  dropout?: number
  /** Seeds for the kernel initialisers (see `seedStream`); unseeded when absent. */
  nextSeed?: () => number | undefined
}

/** What an encoder stage hands on: the full-resolution features for the skip connection, and the pooled ones. */
export interface EncoderStageOutput {
  /** Features before pooling, concatenated into the decoder of the same level. */
  skip: SymbolicTensor
  /** Features after 2×2 max-pooling (and dropout), the input of the next level. */
  output: SymbolicTensor
}

/** Options of {@link decoderStage}. */
export interface DecoderStageOptions {
  /** 1-based level (the level of the skip connection); layers are named `dec<level>_…`. */
  level: number
  /** Output channels of the stage's convolutions (and of the transposed convolution). */
  filters: number
  /** How to double the resolution. Default `'transpose'`. */
  upsampling?: Upsampling
  /** Batch-norm momentum; `null` for none. Default 0.99. */
  batchNormMomentum?: number | null
  /** Dropout rate after the concatenation, in [0, 1). Default 0 (no dropout layer). */
  dropout?: number
  /** Seeds for the kernel initialisers (see `seedStream`); unseeded when absent. */
  nextSeed?: () => number | undefined
}

function checkPositiveInteger(option: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new UnetOptionError('INVALID_OPTION', option, `U-Net block option "${option}" is ${JSON.stringify(value)}; it must be a positive integer.`)
  }
}

function checkRate(value: number): void {
  if (!(value >= 0 && value < 1)) {
    throw new UnetOptionError('INVALID_OPTION', 'dropout', `U-Net block option "dropout" is ${JSON.stringify(value)}; it must be a rate in [0, 1).`)
  }
}

function checkMomentum(value: number | null): void {
  if (value !== null && !(value > 0 && value < 1)) {
    throw new UnetOptionError(
      'INVALID_OPTION',
      'batchNormMomentum',
      `U-Net block option "batchNormMomentum" is ${JSON.stringify(value)}; it must be between 0 and 1 (exclusive), or null for no batch normalisation.`,
    )
  }
}

/**
 * Two 'same'-padded convolutions, each followed by batch normalisation (optional) and ReLU —
 * the unit every U-Net level is made of. Kernels are He-normal; convolutions carry a bias only
 * when there is no batch normalisation to absorb it.
 *
 * @param input - a 4-D symbolic tensor `[batch, height, width, channels]`
 * @param options - filters, layer-name prefix, batch-norm momentum, kernel size
 * @returns the block's output, same height and width, `filters` channels
 * @example
 * ```ts
 * const x = tfl.input({ shape: [64, 64, 1] })
 * const y = convBlock(x, { filters: 8, name: 'stem' }) // layers stem_conv1, stem_bn1, stem_relu1, stem_conv2, …
 * ```
 */
export function convBlock(input: SymbolicTensor, options: ConvBlockOptions): SymbolicTensor {
  const { filters, name, kernelSize = 3, nextSeed = () => undefined } = options
  const batchNormMomentum = options.batchNormMomentum === undefined ? 0.99 : options.batchNormMomentum
  checkPositiveInteger('filters', filters)
  checkPositiveInteger('kernelSize', kernelSize)
  checkMomentum(batchNormMomentum)
  let x = input
  for (const i of [1, 2]) {
    x = tfl.layers
      .conv2d({
        filters,
        kernelSize,
        padding: 'same',
        kernelInitializer: tfl.initializers.heNormal({ seed: nextSeed() }),
        useBias: batchNormMomentum === null,
        name: `${name}_conv${i}`,
      })
      .apply(x) as SymbolicTensor
    if (batchNormMomentum !== null) {
      x = tfl.layers.batchNormalization({ momentum: batchNormMomentum, name: `${name}_bn${i}` }).apply(x) as SymbolicTensor
    }
    x = tfl.layers.activation({ activation: 'relu', name: `${name}_relu${i}` }).apply(x) as SymbolicTensor
  }
  return x
}

/**
 * One level of the contracting path: a {@link convBlock} named `enc<level>`, then 2×2 max-pooling
 * (`enc<level>_pool`) and, when `dropout > 0`, dropout (`enc<level>_drop`).
 *
 * @param input - a 4-D symbolic tensor whose height and width are even
 * @param options - level, filters, batch-norm momentum, dropout
 * @returns the skip features and the pooled output
 * @example
 * ```ts
 * const x = tfl.input({ shape: [64, 64, 1] })
 * const { skip, output } = encoderStage(x, { level: 1, filters: 16, dropout: 0.1 })
 * ```
 */
export function encoderStage(input: SymbolicTensor, options: EncoderStageOptions): EncoderStageOutput {
  const { level, filters, dropout = 0 } = options
  checkPositiveInteger('level', level)
  checkRate(dropout)
  const skip = convBlock(input, { filters, name: `enc${level}`, batchNormMomentum: options.batchNormMomentum, nextSeed: options.nextSeed })
  let output = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `enc${level}_pool` }).apply(skip) as SymbolicTensor
  if (dropout > 0) output = tfl.layers.dropout({ rate: dropout, name: `enc${level}_drop` }).apply(output) as SymbolicTensor
  return { skip, output }
}

/**
 * One level of the expanding path: double the resolution (`dec<level>_up`: a 2×2 stride-2
 * transposed convolution, or bilinear resizing), concatenate the skip features
 * (`dec<level>_concat`; none when `skip` is `null`, as for a ResNet's full-resolution stage), optional dropout (`dec<level>_drop`), then a {@link convBlock} named `dec<level>`.
 *
 * @param input - the deeper level's output, half the skip's height and width
 * @param skip - the encoder features of the same level, or `null` when the encoder has none at this resolution
 * @param options - level, filters, upsampling, batch-norm momentum, dropout
 * @returns features at the skip's resolution with `filters` channels
 * @example
 * ```ts
 * const x = tfl.input({ shape: [64, 64, 1] })
 * const { skip, output } = encoderStage(x, { level: 1, filters: 8 })
 * const deep = convBlock(output, { filters: 16, name: 'bottleneck' })
 * const y = decoderStage(deep, skip, { level: 1, filters: 8 }) // [null, 64, 64, 8]
 * ```
 */
export function decoderStage(input: SymbolicTensor, skip: SymbolicTensor | null, options: DecoderStageOptions): SymbolicTensor {
  const { level, filters, upsampling = 'transpose', dropout = 0, nextSeed = () => undefined } = options
  checkPositiveInteger('level', level)
  checkPositiveInteger('filters', filters)
  checkRate(dropout)
  if (upsampling !== 'transpose' && upsampling !== 'bilinear') {
    throw new UnetOptionError('INVALID_OPTION', 'upsampling', `U-Net block option "upsampling" is ${JSON.stringify(upsampling)}; it must be 'transpose' or 'bilinear'.`)
  }
  const up =
    upsampling === 'transpose'
      ? tfl.layers.conv2dTranspose({
          filters,
          kernelSize: 2,
          strides: 2,
          padding: 'same',
          kernelInitializer: tfl.initializers.heNormal({ seed: nextSeed() }),
          name: `dec${level}_up`,
        })
      : tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear', name: `dec${level}_up` })
  let x = up.apply(input) as SymbolicTensor
  if (skip !== null) x = tfl.layers.concatenate({ axis: -1, name: `dec${level}_concat` }).apply([x, skip]) as SymbolicTensor
  if (dropout > 0) x = tfl.layers.dropout({ rate: dropout, name: `dec${level}_drop` }).apply(x) as SymbolicTensor
  return convBlock(x, { filters, name: `dec${level}`, batchNormMomentum: options.batchNormMomentum, nextSeed })
}
