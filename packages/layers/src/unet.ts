import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers'
import * as tfl from '@tensorflow/tfjs-layers'
import { convBlock, decoderStage, encoderStage } from './blocks'
import { resolveUnetOptions, type UnetOptions } from './options'

/**
 * Filters of each level of a U-Net: `filters * filterScaling ** (level - 1)`, rounded, for levels
 * 1…depth, then the bottleneck's.
 *
 * @param options - the U-Net options (defaults filled in as {@link createUnet} does)
 * @returns `depth + 1` filter counts
 * @example
 * ```ts
 * unetFilters({ depth: 4, filters: 16 }) // [16, 32, 64, 128, 256]
 * ```
 */
export function unetFilters(options: UnetOptions = {}): number[] {
  const { depth, filters, filterScaling } = resolveUnetOptions(options)
  return Array.from({ length: depth + 1 }, (_, i) => Math.round(filters * filterScaling ** i))
}

/**
 * Builds a U-Net (Ronneberger et al. 2015, with 'same' padding, batch normalisation and He-normal
 * initialisation) as a tfjs-layers functional model made only of built-in layers, so the saved
 * model loads in plain TensorFlow.js.
 *
 * Layers are named after their place: `enc1_conv1` … `enc<depth>_pool`, `bottleneck_conv1`,
 * `dec<depth>_up` … `dec1_relu2`, and `output`.
 *
 * @param options - depth, filters, filterScaling, batchNormMomentum, dropout, upsampling, inputShape, classes, outputActivation, name
 * @returns an uncompiled model mapping `[batch, h, w, c]` images to `[batch, h, w, classes]`
 * @throws {UnetOptionError} when an option is out of range, or the input size is not divisible by `2 ** depth`
 * @example
 * ```ts
 * const model = createUnet({ depth: 3, filters: 8, inputShape: [64, 64, 1] })
 * model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' })
 * ```
 */
export function createUnet(options: UnetOptions = {}): LayersModel {
  const resolved = resolveUnetOptions(options)
  const { depth, batchNormMomentum, dropout, upsampling, inputShape, classes, outputActivation, name } = resolved
  const levelFilters = unetFilters(resolved)
  const input = tfl.input({ shape: [...inputShape], name: 'image' })
  const skips: SymbolicTensor[] = []
  let x: SymbolicTensor = input
  for (let level = 1; level <= depth; level++) {
    const stage = encoderStage(x, { level, filters: levelFilters[level - 1]!, batchNormMomentum, dropout: dropout[level - 1]! })
    skips.push(stage.skip)
    x = stage.output
  }
  x = convBlock(x, { filters: levelFilters[depth]!, name: 'bottleneck', batchNormMomentum })
  if (dropout[depth]! > 0) x = tfl.layers.dropout({ rate: dropout[depth]!, name: 'bottleneck_drop' }).apply(x) as SymbolicTensor
  for (let level = depth; level >= 1; level--) {
    x = decoderStage(x, skips[level - 1]!, {
      level,
      filters: levelFilters[level - 1]!,
      upsampling,
      batchNormMomentum,
      dropout: dropout[level - 1]!,
    })
  }
  const output = tfl.layers
    .conv2d({ filters: classes, kernelSize: 1, activation: outputActivation, kernelInitializer: 'heNormal', name: 'output' })
    .apply(x) as SymbolicTensor
  return tfl.model({ inputs: input, outputs: output, name })
}
