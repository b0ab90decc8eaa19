import { ResnetEncoderError } from './errors'

/** How each encoder is made: torchvision's block type and blocks per stage, and whether blocks carry SE. */
export interface ResnetSpec {
  block: 'basic' | 'bottleneck'
  /** Blocks in layer1 … layer4. */
  blocks: readonly [number, number, number, number]
  /** Squeeze-and-excitation after the last batch norm of each block (reduction 16). */
  se: boolean
}

/**
 * The encoders this package builds, by name: the one list the CLI's choices, help and checks read.
 *
 * @example
 * ```ts
 * ENCODERS.includes('seresnet34') // true
 * ```
 */
export const ENCODERS = ['resnet18', 'resnet34', 'resnet50', 'seresnet18', 'seresnet34', 'seresnet50'] as const

/** A name from {@link ENCODERS}. */
export type EncoderName = (typeof ENCODERS)[number]

const SPECS: Record<EncoderName, ResnetSpec> = {
  resnet18: { block: 'basic', blocks: [2, 2, 2, 2], se: false },
  resnet34: { block: 'basic', blocks: [3, 4, 6, 3], se: false },
  resnet50: { block: 'bottleneck', blocks: [3, 4, 6, 3], se: false },
  seresnet18: { block: 'basic', blocks: [2, 2, 2, 2], se: true },
  seresnet34: { block: 'basic', blocks: [3, 4, 6, 3], se: true },
  seresnet50: { block: 'bottleneck', blocks: [3, 4, 6, 3], se: true },
}

/**
 * The spec of an encoder name.
 *
 * @param name - an encoder name
 * @returns its block type, blocks per stage and SE flag
 * @throws {ResnetEncoderError} `UNKNOWN_ENCODER`, listing the valid names
 * @example
 * ```ts
 * resnetSpec('resnet50').block // 'bottleneck'
 * ```
 */
export function resnetSpec(name: string): ResnetSpec {
  if (!(ENCODERS as readonly string[]).includes(name)) {
    throw new ResnetEncoderError('UNKNOWN_ENCODER', `'${String(name)}' is not a ResNet encoder; use one of ${ENCODERS.join(', ')}`)
  }
  return SPECS[name as EncoderName]
}

/**
 * Channels of the five feature maps of an encoder (strides 2, 4, 8, 16, 32).
 *
 * @param name - an encoder name
 * @returns five channel counts
 * @example
 * ```ts
 * encoderChannels('resnet34') // [64, 64, 128, 256, 512]
 * ```
 */
export function encoderChannels(name: string): [number, number, number, number, number] {
  const expansion = resnetSpec(name).block === 'bottleneck' ? 4 : 1
  return [64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion]
}
