import type { LayersModel } from '@tensorflow/tfjs-layers'

interface SeededLayer {
  seed?: number
}

/** Dropout layer classes whose masks {@link seedDropout} fixes. */
const DROPOUT_CLASSES = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout', 'AlphaDropout'])

/**
 * Gives every dropout layer a seed that depends only on (run seed, global step, layer), set before each training
 * step. tfjs draws a dropout mask from the layer's `seed` when it has one, so the masks of step k are the same
 * in an uninterrupted run and in one resumed at step k — which makes dropout runs resume bit for bit.
 *
 * @param model - the model
 * @param seed - the run seed
 * @param globalStep - the optimizer step about to be taken
 * @returns the number of dropout layers seeded
 * @example
 * ```ts
 * seedDropout(model, 42, globalStep)
 * ```
 */
export function seedDropout(model: LayersModel, seed: number, globalStep: number): number {
  let n = 0
  model.layers.forEach((layer, index) => {
    if (!DROPOUT_CLASSES.has(layer.getClassName())) return
    ;(layer as unknown as SeededLayer).seed = mix(mix(mix(0x9e3779b9 ^ seed) ^ globalStep) ^ index)
    n += 1
  })
  return n
}

// one round of a 32-bit integer hash (not a random generator: it only spreads (seed, step, layer) over seeds)
function mix(x: number): number {
  let z = x | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}
