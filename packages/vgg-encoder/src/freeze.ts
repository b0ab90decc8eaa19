import type * as tfl from '@tensorflow/tfjs-layers'
import { VGG16_ENCODER_LAYERS, type VggLayerName } from './architecture'
import { VggError } from './errors'

/**
 * Where the frozen part of the encoder ends: an encoder layer name (`'block3_conv2'`, `'block2_pool'`),
 * a block (`3` or `'block3'`: blocks 1–3 whole, up to `block3_pool`), or `0` / `null` / `'none'` for nothing frozen.
 */
export type FreezeUpTo = VggLayerName | `block${1 | 2 | 3 | 4 | 5}` | 0 | 1 | 2 | 3 | 4 | 5 | 'none' | null

const validFreezePoints = (): string =>
  `an encoder layer name (${VGG16_ENCODER_LAYERS.join(', ')}), a block number 0–5, 'block1'…'block5' or 'none'`

/**
 * Resolves a freeze point to the encoder layers it freezes, in data-flow order.
 * Strings of digits (`'3'`, as a CLI passes them) count as block numbers.
 *
 * @param freezeUpTo - the freeze point; see {@link FreezeUpTo}
 * @returns the names of the encoder layers that do not train (empty for nothing frozen)
 * @throws VggError `UNKNOWN_LAYER` for anything else, listing the valid values
 * @example
 * ```ts
 * frozenLayerNames(1) // ['block1_conv1', 'block1_conv2', 'block1_pool']
 * frozenLayerNames('block2_conv1') // ['block1_conv1', 'block1_conv2', 'block1_pool', 'block2_conv1']
 * ```
 */
export function frozenLayerNames(freezeUpTo: FreezeUpTo | string | number | undefined): VggLayerName[] {
  if (freezeUpTo === undefined || freezeUpTo === null || freezeUpTo === 'none') return []
  let last: string | undefined
  const text = String(freezeUpTo).trim()
  const block = /^(?:block)?([0-5])$/.exec(text)
  if (block) {
    const n = Number(block[1])
    if (n === 0) return []
    last = `block${n}_pool`
  } else {
    last = text
  }
  const index = VGG16_ENCODER_LAYERS.indexOf(last as VggLayerName)
  if (index < 0) {
    throw new VggError(
      'UNKNOWN_LAYER',
      `freezeUpTo: '${String(freezeUpTo)}' is not a VGG-16 encoder layer; use ${validFreezePoints()}`,
    )
  }
  return VGG16_ENCODER_LAYERS.slice(0, index + 1)
}

/**
 * Freezes the VGG-16 encoder of a model up to and including a layer, and unfreezes the encoder layers after it
 * (so it also moves the freeze point of a model built earlier, e.g. to fine-tune everything after a warm-up).
 * The decoder is left as it is. Compile the model again afterwards: tfjs collects the trainable weights at compile time.
 *
 * @param model - a model from `createVggUnet` (any model with the Keras VGG-16 layer names)
 * @param freezeUpTo - the freeze point; see {@link FreezeUpTo}
 * @returns the names of the frozen layers
 * @throws VggError `UNKNOWN_LAYER` for an invalid freeze point or a model without the VGG-16 layers
 * @example
 * ```ts
 * const model = createVggUnet({ inputShape: [64, 64, 1], freezeUpTo: 'block4_pool' })
 * freezeVggEncoder(model, 0) // train everything now
 * model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' })
 * ```
 */
export function freezeVggEncoder(
  model: tfl.LayersModel,
  freezeUpTo: FreezeUpTo | string | number | undefined,
): VggLayerName[] {
  const frozen = new Set(frozenLayerNames(freezeUpTo))
  const present = new Set(model.layers.map((layer) => layer.name))
  const missing = VGG16_ENCODER_LAYERS.filter((name) => !present.has(name))
  if (missing.length > 0) {
    throw new VggError(
      'UNKNOWN_LAYER',
      `freezeVggEncoder: model '${model.name}' has no layer ${missing.slice(0, 3).join(', ')}` +
        `${missing.length > 3 ? ` (and ${missing.length - 3} more)` : ''}; pass a model built by createVggUnet`,
    )
  }
  for (const name of VGG16_ENCODER_LAYERS) model.getLayer(name).trainable = !frozen.has(name)
  return [...frozen]
}
