// The ONE place where the page (and its tests' Node-side reference) brings an image to the model's size, maps
// probabilities back to the image's size, and encodes PNGs: through @unet/data's browser-safe functions, the
// ones `unet predict` uses, so the browser's prediction equals Node's. Nothing else in apps/web may resize,
// pad or crop. What this module adds is the channel rule of docs/run-format.md for images decoded in a browser.
import { DataError, encodePng as encodePngBytes, prepareImage as prepareData, restoreProbabilities as restoreData, placement, type PrepareSpec } from '@unet/data/browser'

export { placement, type PrepareSpec }

/** An image as values in [0, 1], row-major, channels interleaved (H × W × C). */
export interface ImagePixels {
  data: Float32Array
  width: number
  height: number
  channels: number
}

/** A size in pixels. */
export interface Size {
  width: number
  height: number
}

/** An image that cannot be given to the model; the message says why and what to do. */
export class PrepareError extends Error {
  override readonly name = 'PrepareError'
  readonly code: 'CHANNELS' | 'DOES_NOT_FIT'
  constructor(code: PrepareError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/**
 * Brings an image to the model's input: `channels` (grey → RGB repeats the channel; RGB → grey is refused,
 * docs/run-format.md), then `spec.width × spec.height` by @unet/data's `prepareImage` (resize, pad or letterbox).
 *
 * @param image - values in [0, 1], H × W × C
 * @param input - the model's input size and channels
 * @param spec - mode, pad, interpolation
 * @returns `input.height × input.width × input.channels` values
 * @throws {PrepareError} `CHANNELS` for RGB into a grey model, `DOES_NOT_FIT` when @unet/data refuses the geometry
 * @example
 * ```ts
 * const x = prepareImage(image, { width: 128, height: 128, channels: 1 }, { width: 128, height: 128, mode: 'pad', pad: 'reflect' })
 * ```
 */
export function prepareImage(image: ImagePixels, input: Size & { channels: number }, spec: PrepareSpec): Float32Array {
  let data = image.data
  if (image.channels !== input.channels) {
    if (image.channels !== 1 || input.channels !== 3) {
      throw new PrepareError('CHANNELS', `the model takes ${input.channels === 1 ? 'grey' : `${input.channels}-channel`} images and this one has ${image.channels} channels; give it a greyscale image`)
    }
    data = new Float32Array(image.width * image.height * 3)
    for (let i = 0, n = image.width * image.height; i < n; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = image.data[i]!
  }
  try {
    return prepareData(data, { width: image.width, height: image.height, channels: input.channels }, spec)
  } catch (cause) {
    if (cause instanceof DataError) throw new PrepareError('DOES_NOT_FIT', cause.message, { cause })
    throw cause
  }
}

/**
 * Maps a model-size probability map back to the image's size: @unet/data's `restoreProbabilities`, the
 * inverse of {@link prepareImage}'s geometry.
 *
 * @example
 * ```ts
 * const p = restoreProbabilities(modelProbs, { width: 101, height: 101 }, spec)
 * ```
 */
export function restoreProbabilities(probabilities: Float32Array, original: Size, spec: PrepareSpec): Float32Array {
  return restoreData(probabilities, original, spec)
}

/**
 * A 0/1 (or 0–255) mask as an 8-bit greyscale PNG file, through @unet/data's `encodePng`.
 *
 * @example
 * ```ts
 * const png = encodePng(maskBytes, { width: 101, height: 101 })
 * ```
 */
export function encodePng(pixels: Uint8Array, size: Size): Blob {
  const bytes = encodePngBytes(pixels, { width: size.width, height: size.height, channels: 1 })
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' })
}
