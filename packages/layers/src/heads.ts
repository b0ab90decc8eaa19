import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import type { OutputActivation } from './options'
import { UnetOptionError } from './errors'

type SymbolicTensor = tfl.SymbolicTensor

/** Name of the image-level "has mask" classifier output of a U-Net built with `deepSupervision: true`. */
export const HAS_MASK_OUTPUT = 'has_mask'

/** Name of the main mask output of every U-Net. */
export const MASK_OUTPUT = 'output'

/**
 * Name of the auxiliary mask output on decoder stage `level` of a U-Net built with `deepSupervision: true`.
 *
 * @param level - the decoder stage, 2 … depth
 * @returns `'dec<level>_aux'`
 * @example
 * ```ts
 * auxiliaryOutputName(3) // 'dec3_aux'
 * ```
 */
export function auxiliaryOutputName(level: number): string {
  return `dec${level}_aux`
}

function upsample(x: SymbolicTensor, factor: number, name: string): SymbolicTensor {
  return tfl.layers.upSampling2d({ size: [factor, factor], interpolation: 'bilinear', name }).apply(x) as SymbolicTensor
}

/**
 * The hypercolumn: every decoder stage's output brought to full resolution (`dec<level>_hyper_up`, bilinear ×2^(level−1))
 * and concatenated with `dec1`'s (`hypercolumn`), so the head sees coarse and fine features at once.
 *
 * @param stages - decoder stage outputs, `dec1` (full resolution) first
 * @returns `[batch, h, w, Σ channels]`
 */
export function hypercolumn(stages: readonly SymbolicTensor[]): SymbolicTensor {
  const full = stages.map((x, i) => (i === 0 ? x : upsample(x, 2 ** i, `dec${i + 1}_hyper_up`)))
  return tfl.layers.concatenate({ axis: -1, name: 'hypercolumn' }).apply(full) as SymbolicTensor
}

/**
 * An auxiliary mask head on decoder stage `level` (≥ 2): a 1×1 convolution to `classes` channels (`dec<level>_aux_conv`),
 * bilinear up-sampling of its logits to full resolution (`dec<level>_aux_up`), then the output activation
 * (`dec<level>_aux`, the output's name).
 *
 * @param stage - the stage's output, at stride 2^(level−1)
 * @param options - level, classes, activation, seed
 * @returns `[batch, h, w, classes]`
 */
export function auxiliaryHead(
  stage: SymbolicTensor,
  options: { level: number; classes: number; activation: OutputActivation; nextSeed: () => number | undefined },
): SymbolicTensor {
  const { level, classes, activation, nextSeed } = options
  let x = tfl.layers
    .conv2d({ filters: classes, kernelSize: 1, kernelInitializer: tfl.initializers.heNormal({ seed: nextSeed() }), name: `dec${level}_aux_conv` })
    .apply(stage) as SymbolicTensor
  x = upsample(x, 2 ** (level - 1), `dec${level}_aux_up`)
  return tfl.layers.activation({ activation, name: auxiliaryOutputName(level) }).apply(x) as SymbolicTensor
}

/**
 * The image-level "has mask" classifier on the deepest features: global average pooling (`has_mask_pool`) then a
 * dense layer with a sigmoid (`has_mask`), one probability per class that the image's mask is not empty.
 *
 * @param deepest - the encoder's deepest feature map
 * @param options - classes, seed
 * @returns `[batch, classes]` probabilities
 */
export function hasMaskHead(deepest: SymbolicTensor, options: { classes: number; nextSeed: () => number | undefined }): SymbolicTensor {
  const pooled = tfl.layers.globalAveragePooling2d({ name: `${HAS_MASK_OUTPUT}_pool` }).apply(deepest) as SymbolicTensor
  return tfl.layers
    .dense({ units: options.classes, activation: 'sigmoid', kernelInitializer: tfl.initializers.glorotUniform({ seed: options.nextSeed() }), name: HAS_MASK_OUTPUT })
    .apply(pooled) as SymbolicTensor
}

/**
 * Pairs a multi-output model's results with its output names (`output`, `has_mask`, `dec2_aux`, …), as
 * `@unet/losses`' `deepSupervisionLoss` takes them.
 *
 * @param model - the model whose outputs these are
 * @param outputs - what `model.predict` / `model.apply` returned: one tensor, or one per output
 * @returns the tensors by output name
 * @throws {UnetOptionError} `INVALID_OPTION` when the count differs from the model's outputs
 * @example
 * ```ts
 * const named = outputsByName(model, model.apply(images, { training: true }) as tf.Tensor[])
 * named.has_mask // [batch, classes]
 * ```
 */
export function outputsByName(model: tfl.LayersModel, outputs: tf.Tensor | tf.Tensor[]): Record<string, tf.Tensor> {
  const list = Array.isArray(outputs) ? outputs : [outputs]
  if (list.length !== model.outputNames.length) {
    throw new UnetOptionError(
      'INVALID_OPTION',
      'outputs',
      `Model "${model.name}" has ${model.outputNames.length} outputs (${model.outputNames.join(', ')}) but ${list.length} tensors were given; pass all of what predict returned.`,
    )
  }
  return Object.fromEntries(model.outputNames.map((name, i) => [name, list[i]!]))
}

/**
 * Zeroes the masks of the images the "has mask" classifier calls empty: the TGS winners' last step at prediction.
 * Pure: returns a new tensor, disposes nothing it was given.
 *
 * @param masks - predicted masks `[batch, h, w, classes]` (probabilities or binary)
 * @param hasMask - the classifier's probabilities `[batch, classes]` (or `[batch]` for one class)
 * @param threshold - images (per class) with a probability below this get an all-zero mask. Default 0.5.
 * @returns masks of the same shape, zero where the classifier says empty
 * @throws {UnetOptionError} `INVALID_OPTION` when the shapes do not pair up or the threshold is outside [0, 1]
 * @example
 * ```ts
 * const [masks, hasMask] = model.predict(images) as tf.Tensor[]
 * const cleaned = zeroEmptyMasks(masks as tf.Tensor4D, hasMask!, 0.5)
 * ```
 */
export function zeroEmptyMasks(masks: tf.Tensor4D, hasMask: tf.Tensor, threshold = 0.5): tf.Tensor4D {
  if (!(typeof threshold === 'number' && threshold >= 0 && threshold <= 1)) {
    throw new UnetOptionError('INVALID_OPTION', 'threshold', `zeroEmptyMasks: "threshold" is ${JSON.stringify(threshold)}; it must be a number from 0 to 1.`)
  }
  const [batch, , , classes] = masks.shape
  if (masks.rank !== 4 || hasMask.size !== batch * classes || hasMask.shape[0] !== batch) {
    throw new UnetOptionError(
      'INVALID_OPTION',
      'hasMask',
      `zeroEmptyMasks: masks of shape [${masks.shape.join(', ')}] need classifier probabilities of shape [${batch}, ${classes}]; got [${hasMask.shape.join(', ')}].`,
    )
  }
  return tf.tidy(() => {
    const keep = tf.cast(tf.greaterEqual(tf.reshape(hasMask, [batch, 1, 1, classes]), threshold), masks.dtype)
    return tf.mul(masks, keep) as tf.Tensor4D
  })
}
