import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers'
import * as tfl from '@tensorflow/tfjs-layers'
import { scseBlock } from './attention'
import { convBlock, decoderStage } from './blocks'
import { seedStream, type EncoderFeature } from './encoder'
import { UnetOptionError } from './errors'
import { auxiliaryHead, hasMaskHead, hypercolumn } from './heads'
import { resolveUnetOptions, type UnetOptions } from './options'
import { plainEncoder } from './plain'

/**
 * Filters of each level of a plain U-Net: `filters * filterScaling ** (level - 1)`, rounded, for levels
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
  return levelFilters(resolveUnetOptions(options))
}

function levelFilters({ depth, filters, filterScaling }: { depth: number; filters: number; filterScaling: number }): number[] {
  return Array.from({ length: depth + 1 }, (_, i) => Math.round(filters * filterScaling ** i))
}

/**
 * Builds a U-Net (Ronneberger et al. 2015, with 'same' padding, batch normalisation and He-normal
 * initialisation) as a tfjs-layers functional model made only of built-in layers, so the saved
 * model loads in plain TensorFlow.js.
 *
 * The encoder is the plain one (`enc1_conv1` … `enc<depth>_pool`, `bottleneck_conv1`) unless `encoder` names
 * another (VGG-16, ResNet, SE-ResNet, …). The decoder is the same for all: from the deepest feature map (after a
 * centre block `center_…` when the encoder asks for one) each stage `dec<depth>` … `dec1` doubles the resolution
 * (`dec<level>_up`), concatenates the encoder's features of that resolution when it has some
 * (`dec<level>_concat`), and applies two convolutions (`dec<level>_conv1` … `dec<level>_relu2`); a 1×1
 * convolution `output` ends it.
 *
 * The TGS winners' recipes are options, all off by default (the model is then exactly the one above):
 * `decoderAttention: 'scse'` ends each stage with an scSE block (`dec<level>_scse`), `hypercolumn: true` feeds the
 * output layer all stages up-sampled and concatenated (`hypercolumn`), and `deepSupervision: true` adds the outputs
 * `has_mask` (image-level classifier) and `dec2_aux` … `dec<depth>_aux` (auxiliary mask heads).
 *
 * @param options - encoder, decoderFilters, seed, freezeUpTo, depth, filters, filterScaling, batchNormMomentum,
 *   dropout, upsampling, inputShape, classes, outputActivation, name, decoderAttention, hypercolumn, deepSupervision
 * @returns an uncompiled model mapping `[batch, h, w, c]` images to `[batch, h, w, classes]` (with
 *   `deepSupervision`, to `[mask, hasMask [batch, classes], dec2_aux, …]`)
 * @throws {UnetOptionError} when an option is out of range, or the input size is not divisible by `2 ** depth`
 * @example
 * ```ts
 * const model = createUnet({ depth: 3, filters: 8, inputShape: [64, 64, 1], seed: 42 })
 * model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' })
 * ```
 */
export function createUnet(options: UnetOptions = {}): LayersModel {
  const resolved = resolveUnetOptions(options)
  const { depth, batchNormMomentum, dropout, upsampling, inputShape, classes, outputActivation, name, decoderFilters } = resolved
  const { decoderAttention, deepSupervision } = resolved
  const encoder =
    resolved.encoder ?? plainEncoder({ depth, levelFilters: levelFilters(resolved), batchNormMomentum, dropout })
  const decoderDropout = dropout.slice(0, depth)
  const nextSeed = seedStream(resolved.seed)

  const input = tfl.input({ shape: [...inputShape], name: encoder.inputName ?? 'image' })
  const features = encoder.build(input, { nextSeed })
  checkFeatures(features, encoder.name, depth)
  const byStride = new Map<number, EncoderFeature>(features.map((f) => [f.stride, f]))
  const deepest = features[features.length - 1]!.tensor
  let x = deepest
  const stages: SymbolicTensor[] = [] // decoder stage outputs, dec1 first
  if (encoder.center) x = convBlock(x, { filters: decoderFilters[depth - 1]!, name: 'center', batchNormMomentum, nextSeed })
  for (let level = depth; level >= 1; level--) {
    x = decoderStage(x, byStride.get(2 ** (level - 1))?.tensor ?? null, {
      level,
      filters: decoderFilters[level - 1]!,
      upsampling,
      batchNormMomentum,
      dropout: decoderDropout[level - 1]!,
      nextSeed,
    })
    if (decoderAttention === 'scse') x = scseBlock(x, { name: `dec${level}`, nextSeed })
    stages.unshift(x)
  }
  if (resolved.hypercolumn) x = hypercolumn(stages)
  const output = tfl.layers
    .conv2d({
      filters: classes,
      kernelSize: 1,
      activation: outputActivation,
      kernelInitializer: tfl.initializers.heNormal({ seed: nextSeed() }),
      name: 'output',
    })
    .apply(x) as SymbolicTensor
  const outputs = [output]
  if (deepSupervision) {
    outputs.push(hasMaskHead(deepest, { classes, nextSeed }))
    for (let level = 2; level <= depth; level++) {
      outputs.push(auxiliaryHead(stages[level - 1]!, { level, classes, activation: outputActivation, nextSeed }))
    }
  }
  const model = tfl.model({ inputs: input, outputs: outputs.length === 1 ? output : outputs, name })
  if (resolved.freezeUpTo !== null) {
    try {
      for (const layer of encoder.frozenLayers(model, resolved.freezeUpTo)) model.getLayer(layer).trainable = false
    } catch (error) {
      model.dispose()
      throw error
    }
  }
  return model
}

function checkFeatures(features: EncoderFeature[], encoder: string, depth: number): void {
  const strides = features.map((f) => f.stride)
  const ordered = strides.every((s, i) => Number.isInteger(Math.log2(s)) && (i === 0 || s === strides[i - 1]! * 2))
  if (features.length === 0 || !ordered || strides[strides.length - 1] !== 2 ** depth) {
    throw new UnetOptionError(
      'INVALID_OPTION',
      'encoder',
      `U-Net option "encoder" (${encoder}) returned features at strides [${strides.join(', ')}]; an encoder must return ` +
        `feature maps shallow to deep at doubling strides ending at 2^${depth} = ${2 ** depth}`,
    )
  }
}
