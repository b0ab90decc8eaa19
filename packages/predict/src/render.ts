import { type Box, type Size } from './postprocess'
import { PredictError } from './errors'

/** An image as interleaved bytes: `height × width × channels` values, row-major. */
export interface ByteImage {
  readonly data: Uint8Array
  readonly width: number
  readonly height: number
  readonly channels: number
}

function check(image: ArrayLike<number>, size: Size & { channels: number }, what: string): void {
  if (image.length !== size.width * size.height * size.channels) {
    throw new PredictError('BAD_OPTION', `${what}: ${image.length} values do not make a ${size.width}×${size.height}×${size.channels} image`)
  }
}

/**
 * Values in [0, 1] as bytes 0…255 (rounded, clamped; NaN is 0): probability maps and decoded images.
 *
 * @param values - values in [0, 1]
 * @returns bytes
 * @example
 * ```ts
 * toBytes(new Float32Array([0, 0.5, 1])) // Uint8Array [0, 128, 255]
 * ```
 */
export function toBytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length)
  for (let i = 0; i < out.length; i++) {
    const v = values[i] as number
    out[i] = v > 0 ? (v >= 1 ? 255 : Math.round(v * 255)) : 0
  }
  return out
}

/**
 * A 0/1 mask as a 0/255 grey image.
 *
 * @param mask - 0/1 (non-zero is foreground)
 * @returns bytes 0 or 255
 * @example
 * ```ts
 * maskBytes(new Uint8Array([0, 1])) // Uint8Array [0, 255]
 * ```
 */
export function maskBytes(mask: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(mask.length)
  for (let i = 0; i < out.length; i++) if (mask[i] !== 0) out[i] = 255
  return out
}

/**
 * The image with the mask drawn over it: foreground tinted with `colour`, its outline in full colour.
 *
 * @param image - values in [0, 1], grey or RGB, interleaved
 * @param size - width, height, channels of the image
 * @param mask - 0/1 at the same width × height
 * @param options - `colour` (RGB bytes, default red) and `opacity` of the tint (default 0.4)
 * @returns an RGB byte image
 * @example
 * ```ts
 * const rgb = overlay(photo, { width: 1918, height: 1280, channels: 3 }, mask)
 * ```
 */
export function overlay(
  image: ArrayLike<number>,
  size: Size & { channels: number },
  mask: ArrayLike<number>,
  options: { colour?: readonly [number, number, number]; opacity?: number } = {},
): ByteImage {
  check(image, size, 'overlay')
  const { width, height, channels } = size
  if (mask.length !== width * height) throw new PredictError('BAD_OPTION', `overlay: the mask has ${mask.length} values, the image ${width}×${height} pixels`)
  const colour = options.colour ?? [255, 48, 48]
  const a = options.opacity ?? 0.4
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x
      const grey = channels < 3
      const on = mask[p] !== 0
      // an outline pixel is foreground with a background (or border) 4-neighbour
      const edge = on && (x === 0 || y === 0 || x === width - 1 || y === height - 1 || mask[p - 1] === 0 || mask[p + 1] === 0 || mask[p - width] === 0 || mask[p + width] === 0)
      for (let c = 0; c < 3; c++) {
        const v = (image[p * channels + (grey ? 0 : c)] as number) * 255
        const out = edge ? (colour[c] as number) : on ? v * (1 - a) + (colour[c] as number) * a : v
        data[p * 3 + c] = out > 0 ? (out >= 255 ? 255 : Math.round(out)) : 0
      }
    }
  }
  return { data, width, height, channels: 3 }
}

/**
 * The object cut out on white: pixels of `mask` keep the image's colour, the rest turn white, and the result is
 * cropped to `box` (the union of the components' bounding boxes, as the whale-fluke workload does).
 *
 * @param image - values in [0, 1], grey or RGB, interleaved
 * @param size - width, height, channels of the image
 * @param mask - 0/1 at the same width × height
 * @param box - the region to keep
 * @returns the cut-out, with the image's channels
 * @example
 * ```ts
 * const crop = cutOut(photo, size, mask, unionBox(findComponents(mask, size).components.map((c) => c.box))!)
 * ```
 */
export function cutOut(image: ArrayLike<number>, size: Size & { channels: number }, mask: ArrayLike<number>, box: Box): ByteImage {
  check(image, size, 'cutOut')
  const { width, channels } = size
  if (mask.length !== width * size.height) throw new PredictError('BAD_OPTION', `cutOut: the mask has ${mask.length} values, the image ${width}×${size.height} pixels`)
  const data = new Uint8Array(box.width * box.height * channels).fill(255)
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const p = (box.y + y) * width + box.x + x
      if (mask[p] === 0) continue
      for (let c = 0; c < channels; c++) {
        const v = (image[p * channels + c] as number) * 255
        data[(y * box.width + x) * channels + c] = v > 0 ? (v >= 255 ? 255 : Math.round(v)) : 0
      }
    }
  }
  return { data, width: box.width, height: box.height, channels }
}
