import { DECODER_ATTENTIONS, type DecoderAttention } from './attention'
import type { Encoder } from './encoder'
import { UnetOptionError } from './errors'

/** How a decoder stage doubles the resolution of its input. */
export type Upsampling = 'transpose' | 'bilinear'

/** The activation of the last 1×1 convolution. `'linear'` gives logits (for `bce_logits`, Lovasz hinge). */
export type OutputActivation = 'sigmoid' | 'linear'

/** Options of {@link createUnet}; every field has a default. */
export interface UnetOptions {
  /**
   * The encoder (`@unet/vgg-encoder`'s `vggEncoder()`, `@unet/resnet-encoder`'s `resnetEncoder('resnet34')`, …).
   * Default: the plain U-Net encoder built from `depth`, `filters` and `filterScaling`.
   */
  encoder?: Encoder
  /**
   * Filters of the decoder stages, `dec1` (full resolution) first, one per stage (`depth` of them).
   * Default: the encoder's (for the plain encoder, each level's filters).
   */
  decoderFilters?: readonly number[]
  /**
   * Seed of the weight initialisers: a model built twice with one seed starts from the same weights.
   * Default: unseeded (tfjs's global generator).
   */
  seed?: number | null
  /**
   * Encoder layers up to and including this point do not train: a stage name (`'enc2'`, `'layer3'`, `'block4'`),
   * its 1-based number, or an encoder layer name; `0`, `'none'` or `null` for nothing frozen. Default: nothing.
   */
  freezeUpTo?: string | number | null
  /** Plain encoder only: number of down-sampling steps (2×2 max-pooling), 1–8. Default 4. */
  depth?: number
  /** Plain encoder only: filters of the first level's convolutions, a positive integer. Default 16. */
  filters?: number
  /** Plain encoder only: multiplier of the filter count from one level to the next, 1–4. Default 2. */
  filterScaling?: number
  /**
   * Momentum of the batch normalisation after every convolution, in (0, 1); `null` builds the
   * network without batch normalisation (convolutions then carry a bias). Default 0.99.
   */
  batchNormMomentum?: number | null
  /**
   * Dropout rate in [0, 1): one value for every level, or one per level. Plain encoder: `depth + 1` values — one per
   * level (applied after that level's pooling and after the matching decoder's concatenation), the last one for the
   * bottleneck. Other encoders: `depth` values, one per decoder stage (after its concatenation). Default 0 (none).
   */
  dropout?: number | readonly number[]
  /** How decoders up-sample: a learned 2×2 transposed convolution, or bilinear resizing. Default `'transpose'`. */
  upsampling?: Upsampling
  /** `[height, width, channels]`; height and width divisible by `2 ** depth` (32 for VGG and ResNets). Default `[128, 128, 1]`. */
  inputShape?: readonly [number, number, number]
  /** Output channels (one per class, each a sigmoid / logit). Default 1. */
  classes?: number
  /** Activation of the output layer. Default `'sigmoid'`. */
  outputActivation?: OutputActivation
  /** Name of the model. Default `'unet'` (plain encoder), `'<encoder>_unet'` otherwise. */
  name?: string
  /**
   * Attention after each decoder stage: `'scse'` adds a concurrent spatial and channel squeeze-and-excitation block
   * (`dec<level>_scse`, see `scseBlock`). Default `'none'`.
   */
  decoderAttention?: DecoderAttention
  /**
   * Concatenate every decoder stage's output, up-sampled to full resolution, before the output layer (`hypercolumn`).
   * Default false.
   */
  hypercolumn?: boolean
  /**
   * Add outputs for deep supervision: an auxiliary mask head on decoder stages 2 … depth (`dec<level>_aux`) and an
   * image-level "has mask" classifier on the deepest features (`has_mask`). The model's outputs are then
   * `['output', 'has_mask', 'dec2_aux', …]`; train with `@unet/losses`' `deepSupervisionLoss`. Default false.
   */
  deepSupervision?: boolean
}

/** {@link UnetOptions} with every default filled in and every value checked. */
export interface ResolvedUnetOptions {
  /** The encoder given, or `null` for the plain one (which `createUnet` builds from depth, filters, filterScaling). */
  encoder: Encoder | null
  /** One per decoder stage, dec1 first: `depth` values. */
  decoderFilters: number[]
  seed: number | null
  freezeUpTo: string | number | null
  depth: number
  filters: number
  filterScaling: number
  batchNormMomentum: number | null
  /** Plain encoder: one rate per level, then the bottleneck's (`depth + 1` values); others: one per decoder stage. */
  dropout: number[]
  upsampling: Upsampling
  inputShape: [number, number, number]
  classes: number
  outputActivation: OutputActivation
  name: string
  decoderAttention: DecoderAttention
  hypercolumn: boolean
  deepSupervision: boolean
}

const MAX_DEPTH = 8

function invalid(option: string, value: unknown, range: string): UnetOptionError {
  return new UnetOptionError(
    'INVALID_OPTION',
    option,
    `U-Net option "${option}" is ${JSON.stringify(value)}; it must be ${range}.`,
  )
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value)
}

/**
 * Fills in the defaults of {@link UnetOptions} and checks every value, throwing a
 * {@link UnetOptionError} that names the option and its valid range.
 *
 * @param options - the options as the user gave them
 * @returns the complete, validated options
 * @example
 * ```ts
 * const resolved = resolveUnetOptions({ depth: 3, dropout: 0.1 })
 * resolved.dropout // [0.1, 0.1, 0.1, 0.1]
 * ```
 */
export function resolveUnetOptions(options: UnetOptions = {}): ResolvedUnetOptions {
  const encoder = options.encoder ?? null
  if (encoder !== null) {
    if (typeof encoder !== 'object' || typeof encoder.build !== 'function' || !isInteger(encoder.depth)) {
      throw invalid('encoder', typeof encoder === 'object' ? encoder.name : encoder, 'an Encoder (e.g. vggEncoder() or resnetEncoder(\'resnet34\'))')
    }
    for (const plainOnly of ['depth', 'filters', 'filterScaling'] as const) {
      if (options[plainOnly] !== undefined) {
        throw new UnetOptionError(
          'INVALID_OPTION',
          plainOnly,
          `U-Net option "${plainOnly}" shapes the plain encoder; with the ${encoder.name} encoder leave it out (use "decoderFilters" for the decoder)`,
        )
      }
    }
  }
  const depth = encoder?.depth ?? options.depth ?? 4
  if (!isInteger(depth) || depth < 1 || depth > MAX_DEPTH) {
    throw invalid('depth', depth, `an integer from 1 to ${MAX_DEPTH}`)
  }
  const filters = options.filters ?? 16
  if (!isInteger(filters) || filters < 1) throw invalid('filters', filters, 'a positive integer')
  const filterScaling = options.filterScaling ?? 2
  if (typeof filterScaling !== 'number' || !(filterScaling >= 1 && filterScaling <= 4)) {
    throw invalid('filterScaling', filterScaling, 'a number from 1 to 4')
  }
  const levelFilters = Array.from({ length: depth + 1 }, (_, i) => Math.round(filters * filterScaling ** i))
  const decoderFilters = [...(options.decoderFilters ?? encoder?.decoderFilters ?? levelFilters.slice(0, depth))]
  if (decoderFilters.length !== depth || !decoderFilters.every((f) => isInteger(f) && f >= 1)) {
    throw invalid('decoderFilters', options.decoderFilters, `${depth} positive integers (one per decoder stage, dec1 first)`)
  }
  const seed = options.seed ?? null
  if (seed !== null && !(isInteger(seed) && seed >= 0)) throw invalid('seed', seed, 'a non-negative integer, or null for unseeded weights')
  const freezeUpTo = options.freezeUpTo ?? null
  if (freezeUpTo !== null && typeof freezeUpTo !== 'string' && !(isInteger(freezeUpTo) && freezeUpTo >= 0)) {
    throw invalid('freezeUpTo', freezeUpTo, 'a stage or layer name, a stage number, or null')
  }
  const batchNormMomentum = options.batchNormMomentum === undefined ? 0.99 : options.batchNormMomentum
  if (batchNormMomentum !== null && !(typeof batchNormMomentum === 'number' && batchNormMomentum > 0 && batchNormMomentum < 1)) {
    throw invalid('batchNormMomentum', batchNormMomentum, 'a number between 0 and 1 (exclusive), or null for no batch normalisation')
  }
  const dropout = resolveDropout(options.dropout ?? 0, encoder === null ? depth + 1 : depth, encoder === null ? 'one per level, then the bottleneck' : 'one per decoder stage, dec1 first')
  const upsampling = options.upsampling ?? 'transpose'
  if (upsampling !== 'transpose' && upsampling !== 'bilinear') {
    throw invalid('upsampling', upsampling, `'transpose' or 'bilinear'`)
  }
  const classes = options.classes ?? 1
  if (!isInteger(classes) || classes < 1) throw invalid('classes', classes, 'a positive integer')
  const outputActivation = options.outputActivation ?? 'sigmoid'
  if (outputActivation !== 'sigmoid' && outputActivation !== 'linear') {
    throw invalid('outputActivation', outputActivation, `'sigmoid' or 'linear' (logits)`)
  }
  const name = options.name ?? (encoder === null ? 'unet' : `${encoder.name}_unet`)
  if (typeof name !== 'string' || !/^[A-Za-z][\w.-]*$/.test(name)) {
    throw invalid('name', name, 'a string of letters, digits, "_", "." or "-" starting with a letter')
  }
  const inputShape = resolveInputShape(options.inputShape ?? [128, 128, 1], depth)
  const accepted = encoder?.inputChannels
  if (accepted && !accepted.includes(inputShape[2])) {
    throw invalid('inputShape', inputShape, `${accepted.join(' or ')} channels for the ${encoder.name} encoder`)
  }
  const decoderAttention = options.decoderAttention ?? 'none'
  if (!(DECODER_ATTENTIONS as readonly string[]).includes(decoderAttention)) throw invalid('decoderAttention', decoderAttention, DECODER_ATTENTIONS.map((a) => `'${a}'`).join(' or '))
  const hypercolumn = options.hypercolumn ?? false
  if (typeof hypercolumn !== 'boolean') throw invalid('hypercolumn', hypercolumn, 'true or false')
  const deepSupervision = options.deepSupervision ?? false
  if (typeof deepSupervision !== 'boolean') throw invalid('deepSupervision', deepSupervision, 'true or false')
  return {
    encoder, decoderFilters, seed, freezeUpTo, depth, filters, filterScaling, batchNormMomentum, dropout, upsampling, inputShape, classes, outputActivation, name,
    decoderAttention, hypercolumn, deepSupervision,
  }
}

function resolveDropout(dropout: number | readonly number[], count: number, what: string): number[] {
  if (!Array.isArray(dropout) && typeof dropout !== 'number') {
    throw invalid('dropout', dropout, `a rate in [0, 1) or an array of ${count} rates (${what})`)
  }
  const rates = typeof dropout === 'number' ? new Array<number>(count).fill(dropout) : [...dropout]
  if (rates.length !== count) {
    throw invalid('dropout', dropout, `a rate in [0, 1) or an array of ${count} rates (${what})`)
  }
  for (const rate of rates) {
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
      throw invalid('dropout', dropout, 'made of rates in [0, 1)')
    }
  }
  return rates
}

/**
 * The smallest size at or above `size` that a U-Net of this depth accepts (a multiple of `2 ** depth`).
 *
 * @param size - an image height or width in pixels
 * @param depth - the number of down-sampling steps
 * @returns the padded size, e.g. 112 for 101 pixels and depth 4
 * @example
 * ```ts
 * validInputSize(101, 4) // 112
 * ```
 */
export function validInputSize(size: number, depth: number): number {
  const step = 2 ** depth
  return Math.max(step, Math.ceil(size / step) * step)
}

function resolveInputShape(shape: readonly number[], depth: number): [number, number, number] {
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((v) => isInteger(v) && v >= 1)) {
    throw invalid('inputShape', shape, '[height, width, channels] of positive integers (e.g. [128, 128, 1])')
  }
  const [height, width, channels] = shape as [number, number, number]
  const step = 2 ** depth
  for (const [label, size] of [['height', height], ['width', width]] as const) {
    if (size % step !== 0) {
      throw new UnetOptionError(
        'INPUT_NOT_DIVISIBLE',
        'inputShape',
        `U-Net inputShape ${label} ${size} is not divisible by 2^${depth} = ${step} (depth ${depth}): ` +
          `pad or resize the images to ${validInputSize(size, depth)} ` +
          `(inputShape [${validInputSize(height, depth)}, ${validInputSize(width, depth)}, ${channels}]), or lower the depth.`,
      )
    }
  }
  return [height, width, channels]
}
