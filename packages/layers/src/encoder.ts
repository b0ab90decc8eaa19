import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers'
import { UnetOptionError } from './errors'

/** One feature map an encoder hands to the decoder. */
export interface EncoderFeature {
  /** The features, `[batch, height / stride, width / stride, channels]`. */
  tensor: SymbolicTensor
  /** How many times smaller than the input: 1, 2, 4, 8, 16 or 32. */
  stride: number
  /** Channels of the feature map. */
  channels: number
}

/** What an encoder's `build` receives besides the input. */
export interface EncoderBuildContext {
  /**
   * The next seed for a weight initialiser: a new integer on each call when the U-Net was given a `seed`,
   * `undefined` otherwise (tfjs then draws from its unseeded generator). Draw one per initialiser, in build order.
   */
  nextSeed: () => number | undefined
}

/**
 * A U-Net encoder: it builds its layers on the input image and returns its feature maps, shallow to deep, for the
 * decoder of {@link createUnet} to up-sample and concatenate. Preprocessing (scaling, channel order, repeating grey
 * to three channels) belongs to the encoder's `build`, so the saved model takes images as they come.
 *
 * @example
 * ```ts
 * const model = createUnet({ encoder: createResnetEncoder('resnet34'), inputShape: [128, 128, 3] })
 * ```
 */
export interface Encoder {
  /** Short name, e.g. `'plain'`, `'vgg16'`, `'resnet34'`; the default model name is `<name>_unet`. */
  readonly name: string
  /** Halvings from the input to the deepest feature map (5 for stride 32); the decoder has this many stages. */
  readonly depth: number
  /** Input channel counts it accepts; `undefined` for any. */
  readonly inputChannels?: readonly number[]
  /** Name of the model's input layer. Default `'image'`. */
  readonly inputName?: string
  /** Decoder filters when the user gives none: one per decoder stage, `dec1` (full resolution) first. */
  readonly decoderFilters: readonly number[]
  /**
   * Whether the decoder starts with a centre block (`center_conv1` …, with `dec<depth>`'s filters) on the deepest
   * features, as for an encoder that ends in pooling (VGG).
   */
  readonly center?: boolean
  /** Freeze points a user can name: stage names, in data-flow order (`freezeUpTo: 2` is the second). */
  readonly stages: readonly string[]
  /**
   * Builds the encoder's layers on the input.
   *
   * @param input - the model input `[batch, height, width, channels]`
   * @param context - seeds for the initialisers
   * @returns feature maps, shallow to deep, at strides that double from one to the next; the deepest at `2 ** depth`
   */
  build(input: SymbolicTensor, context: EncoderBuildContext): EncoderFeature[]
  /**
   * The layers a freeze point stops the training of, on a model built with this encoder.
   *
   * @param model - the built model
   * @param freezeUpTo - a stage name, a 1-based stage number (0 for none), or a layer name of the encoder
   * @returns layer names to set `trainable = false`
   * @throws {UnetOptionError} `INVALID_OPTION` for an unknown point, listing the valid ones
   */
  frozenLayers(model: LayersModel, freezeUpTo: string | number): string[]
}

/**
 * A stream of initialiser seeds derived from one seed, so a model built twice with one seed gets the same weights
 * and each layer a different draw.
 *
 * @param seed - the model seed, or `undefined` / `null` for unseeded draws
 * @returns a function giving the next seed (`undefined` when unseeded)
 * @example
 * ```ts
 * const next = seedStream(42)
 * next() !== next() // true
 * ```
 */
export function seedStream(seed: number | null | undefined): () => number | undefined {
  if (seed === undefined || seed === null) return () => undefined
  let state = (Math.trunc(seed) ^ 0x5eed1234) >>> 0
  return () => {
    // splitmix32-style mixing: well-spread integers in [0, 2^31)
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 1
  }
}

/**
 * The layer and every layer it depends on (its ancestors in the graph), as named in the model: what freezing "up
 * to and including" a layer stops.
 *
 * @param model - a built model
 * @param last - the name of the last layer to include
 * @returns names in the model's layer order
 * @example
 * ```ts
 * layersUpTo(model, 'enc2_pool') // ['image', 'enc1_conv1', …, 'enc2_pool']
 * ```
 */
export function layersUpTo(model: LayersModel, last: string): string[] {
  const seen = new Set<string>()
  const stack = [model.getLayer(last)]
  while (stack.length > 0) {
    const layer = stack.pop()!
    if (seen.has(layer.name)) continue
    seen.add(layer.name)
    for (const node of layer.inboundNodes) stack.push(...node.inboundLayers)
  }
  return model.layers.map((l) => l.name).filter((name) => seen.has(name))
}

/**
 * The usual {@link Encoder.frozenLayers}: a stage (by name or 1-based number) maps to its last layer, any other
 * string must be a layer of the encoder; the result is that layer and everything before it.
 *
 * @param model - the built model
 * @param freezeUpTo - the freeze point
 * @param stageEnds - each stage name with the name of its last layer, in order
 * @param encoderName - for the error message
 * @returns layer names to freeze
 * @throws {UnetOptionError} `INVALID_OPTION` naming the valid freeze points
 * @example
 * ```ts
 * frozenByStage(model, 2, [['layer1', 'layer1_2_relu'], ['layer2', 'layer2_1_relu']], 'resnet18')
 * ```
 */
export function frozenByStage(
  model: LayersModel,
  freezeUpTo: string | number,
  stageEnds: ReadonlyArray<readonly [string, string]>,
  encoderName: string,
): string[] {
  const text = String(freezeUpTo).trim()
  if (text === '0' || text === 'none') return []
  let last: string | undefined
  if (/^\d+$/.test(text)) last = stageEnds[Number(text) - 1]?.[1]
  else last = stageEnds.find(([stage]) => stage === text)?.[1] ?? text
  const encoderLayers = new Set(stageEnds.length > 0 ? layersUpTo(model, stageEnds[stageEnds.length - 1]![1]) : [])
  if (last === undefined || !encoderLayers.has(last)) {
    throw new UnetOptionError(
      'INVALID_OPTION',
      'freezeUpTo',
      `U-Net option "freezeUpTo" is ${JSON.stringify(freezeUpTo)}, which is not a stage or layer of the ${encoderName} encoder; ` +
        `use a stage (${stageEnds.map(([s]) => s).join(', ')}), its number 1–${stageEnds.length}, 0 or 'none', or an encoder layer name`,
    )
  }
  return layersUpTo(model, last)
}
