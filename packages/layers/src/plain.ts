import * as tfl from '@tensorflow/tfjs-layers'
import type { SymbolicTensor } from '@tensorflow/tfjs-layers'
import { convBlock, encoderStage } from './blocks'
import { frozenByStage, type Encoder, type EncoderFeature } from './encoder'

/** Options of {@link plainEncoder}, already checked (see `resolveUnetOptions`). */
export interface PlainEncoderOptions {
  /** Number of 2×2 max-pooling steps. */
  depth: number
  /** Filters of each level, then of the bottleneck: `depth + 1` values (see `unetFilters`). */
  levelFilters: readonly number[]
  /** Batch-norm momentum; `null` for none. */
  batchNormMomentum: number | null
  /** Dropout after each level's pooling, then after the bottleneck: `depth + 1` rates. */
  dropout: readonly number[]
}

/**
 * The encoder of the classic U-Net (Ronneberger et al.): `depth` levels of two 3×3 convolutions with batch norm and
 * ReLU then 2×2 max-pooling (`enc1_…` … `enc<depth>_…`), and a bottleneck block (`bottleneck_…`). Its features are
 * each level's block output (strides 1 … 2^(depth-1)) and the bottleneck (stride 2^depth). It is what `createUnet`
 * builds when no encoder is given; its stages for `freezeUpTo` are `enc1` … `enc<depth>` and `bottleneck`.
 *
 * @param options - depth, filters per level, batch-norm momentum, dropout per level
 * @returns the encoder
 * @example
 * ```ts
 * const encoder = plainEncoder({ depth: 2, levelFilters: [8, 16, 32], batchNormMomentum: 0.99, dropout: [0, 0, 0] })
 * const model = createUnet({ encoder, inputShape: [64, 64, 1] })
 * ```
 */
export function plainEncoder(options: PlainEncoderOptions): Encoder {
  const { depth, levelFilters, batchNormMomentum, dropout } = options
  const stageEnds = (): Array<[string, string]> => [
    ...Array.from({ length: depth }, (_, i): [string, string] => [`enc${i + 1}`, dropout[i]! > 0 ? `enc${i + 1}_drop` : `enc${i + 1}_pool`]),
    ['bottleneck', dropout[depth]! > 0 ? 'bottleneck_drop' : 'bottleneck_relu2'],
  ]
  return {
    name: 'plain',
    depth,
    decoderFilters: levelFilters.slice(0, depth),
    stages: stageEnds().map(([stage]) => stage),
    build(input, { nextSeed }) {
      const features: EncoderFeature[] = []
      let x: SymbolicTensor = input
      for (let level = 1; level <= depth; level++) {
        const stage = encoderStage(x, { level, filters: levelFilters[level - 1]!, batchNormMomentum, dropout: dropout[level - 1]!, nextSeed })
        features.push({ tensor: stage.skip, stride: 2 ** (level - 1), channels: levelFilters[level - 1]! })
        x = stage.output
      }
      x = convBlock(x, { filters: levelFilters[depth]!, name: 'bottleneck', batchNormMomentum, nextSeed })
      if (dropout[depth]! > 0) x = tfl.layers.dropout({ rate: dropout[depth]!, name: 'bottleneck_drop' }).apply(x) as SymbolicTensor
      features.push({ tensor: x, stride: 2 ** depth, channels: levelFilters[depth]! })
      return features
    },
    frozenLayers(model, freezeUpTo) {
      return frozenByStage(model, freezeUpTo, stageEnds(), 'plain')
    },
  }
}
